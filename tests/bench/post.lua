-- post.lua - the one call both proxies are driven with (wrk -s post.lua).
-- ses-proxy validates, serializes, signs and forwards it; nginx passes the
-- same bytes through to the same stand-in SES.
wrk.method = "POST"
wrk.path = "/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"Action":"SetIdentityMailFromDomain","Identity":"user@example.com",' ..
           '"MailFromDomain":"bounces.example.com","BehaviorOnMXFailure":"UseDefaultValue"}'
