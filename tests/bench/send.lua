-- send.lua - a SendEmail (wrk -s send.lua): synchronous as it is, and
-- stored in the outbox with ASYNC=1 in the environment (Prefer:
-- respond-async), so both are driven with the same bytes.
wrk.method = "POST"
wrk.path = "/"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("ASYNC") == "1" then
    wrk.headers["Prefer"] = "respond-async"
end
wrk.body = '{"Action":"SendEmail","Source":"sender@example.com",' ..
           '"Destination":{"ToAddresses":["user@example.com"]},' ..
           '"Message":{"Subject":{"Data":"Your weekly digest"},' ..
           '"Body":{"Text":{"Data":"Hello, this is the digest of the week: nothing happened."}}}}'
