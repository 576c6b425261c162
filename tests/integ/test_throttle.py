"""Throttling as SES counts it: send rate in recipients, GetSendQuota,
retries in botocore's standard mode, adaptive slow-down.

The stand-in SES records every arrival time; the assertions are about what
SES would have seen."""

import base64
import time

import proxyproc
from standin_ses import Scripted

SEND = {"Action": "SendEmail", "Source": "sender@example.com",
        "Message": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}


def send_email(n_to, n_cc=0):
    d = {"ToAddresses": ["to%d@example.com" % i for i in range(n_to)]}
    if n_cc:
        d["CcAddresses"] = ["cc%d@example.com" % i for i in range(n_cc)]
    return dict(SEND, Destination=d)


def concurrent(p, bodies, timeout=30):
    """The bodies sent to p together. -> [(resp, t0, t1)]"""
    return proxyproc.concurrent([(p, b) for b in bodies], timeout)


def test_send_rate_counts_recipients(start_proxy, standin):
    # 2 recipients per second, burst 2: three mails of 2 recipients each
    # must reach SES at t=0, >=1 s, >=2 s.
    p = start_proxy({"throttle": {"send_rate": 2, "max_wait_ms": 10000}})
    res = concurrent(p, [send_email(1, 1) for _ in range(3)])
    assert [r.status for r, _, _ in res] == [200] * 3, res
    t = proxyproc.arrivals(standin, 3, "SendEmail")
    assert len(t) == 3
    assert t[-1] - t[0] >= 1.9, t
    assert all(b - a >= 0.9 for a, b in zip(t, t[1:])), t


def test_raw_email_recipients_from_headers(start_proxy, standin):
    # No Destinations: SES counts To/Cc/Bcc of the message itself (here 4).
    # At 2 recipients/s the second such mail must wait ~2 s.
    msg = ("From: a@example.com\r\nTo: \"Doe, J\" <j@example.com>, k@example.com\r\n"
           "Cc: c@example.com\r\nBcc: d@example.com\r\nSubject: x\r\n\r\nbody\r\n")
    raw = {"Action": "SendRawEmail",
           "RawMessage": {"Data": base64.b64encode(msg.encode()).decode()}}
    p = start_proxy({"throttle": {"send_rate": 2, "max_wait_ms": 10000}})
    t0 = time.monotonic()
    assert p.call(raw).status == 200
    assert p.call(raw).status == 200
    t = proxyproc.arrivals(standin, 2, "SendRawEmail")
    # 4 recipients at 2/s: the first drains the 2-token bucket to -2, so the
    # second waits until it is back at 2: 2 s.
    assert t[1] - t[0] >= 1.8, (t, time.monotonic() - t0)


def test_raw_email_destinations_win(start_proxy, standin):
    msg = "To: a@example.com, b@example.com, c@example.com\r\n\r\nx"
    raw = {"Action": "SendRawEmail", "Destinations": ["only@example.com"],
           "RawMessage": {"Data": base64.b64encode(msg.encode()).decode()}}
    p = start_proxy({"throttle": {"send_rate": 1, "max_wait_ms": 10000}})
    assert p.call(raw).status == 200
    assert p.call(raw).status == 200
    t = proxyproc.arrivals(standin, 2, "SendRawEmail")
    assert 0.9 <= t[1] - t[0] < 2.5, t


def test_big_message_takes_full_bucket_then_refuses_at_once(start_proxy, standin):
    # More recipients than the burst: the call waits for a full bucket and
    # takes all it needs (the bucket goes 2 into debt: as long as
    # max_wait_ms allows, no longer), so the long-run rate holds: the next
    # mail would wait ~3 s, past the 2 s deadline, and gets 429 at once
    # with Retry-After.
    p = start_proxy({"throttle": {"send_rate": 1, "max_wait_ms": 2000}})
    assert p.call(send_email(3)).status == 200
    t0 = time.monotonic()
    r = p.call(send_email(1))
    assert r.status == 429, r
    assert time.monotonic() - t0 < 1.0
    assert int(r.header("Retry-After")) >= 2, r.headers
    assert r.error_code == "Throttling"
    assert standin.count == 1


def test_send_rate_auto_reads_get_send_quota(start_proxy, standin):
    quota = ("<Max24HourSend>200.0</Max24HourSend><MaxSendRate>4.0</MaxSendRate>"
             "<SentLast24Hours>0.0</SentLast24Hours>")

    def responder(rec):
        if rec.action == "GetSendQuota":
            return Scripted.success("GetSendQuota", quota)
        return None

    standin.responder = responder
    p = start_proxy({"throttle": {"send_rate": "auto", "max_wait_ms": 10000}})
    # the proxy asks at start
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(r.action == "GetSendQuota" for r in standin.snapshot()):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no GetSendQuota at start")
    assert all(r.auth.ok for r in standin.snapshot())
    time.sleep(0.3)
    # at 4/s (not the 1/s start rate), 8 single-recipient mails take ~1 s
    res = concurrent(p, [send_email(1) for _ in range(8)])
    assert all(r.status == 200 for r, _, _ in res)
    t = proxyproc.arrivals(standin, 9, "SendEmail")
    assert len(t) == 8
    assert 0.7 <= t[-1] - t[0] <= 2.5, t


def test_retries_throttling_then_success(start_proxy, standin):
    p = start_proxy({"retry": {"max_attempts": 3}})
    standin.push(Scripted.throttling(), Scripted.throttling())
    r = p.call({"Action": "GetSendQuota"}, timeout=30)
    assert r.status == 200, r
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 2
    assert standin.count == 3


def test_retries_give_up_after_max_attempts(start_proxy, standin):
    p = start_proxy({"retry": {"max_attempts": 2}})
    standin.push(Scripted.throttling(), Scripted.throttling(), Scripted.throttling())
    r = p.call({"Action": "GetSendQuota"}, timeout=30)
    assert r.status == 400 and r.error_code == "Throttling", r
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 1
    assert standin.count == 2


def test_daily_quota_is_not_retried(start_proxy, standin):
    p = start_proxy({"retry": {"max_attempts": 3}})
    standin.push(Scripted.throttling("Daily message quota exceeded."))
    r = p.call(send_email(1))
    assert r.status == 400 and r.error_code == "Throttling", r
    assert "Daily message quota" in r.json["Error"]["Message"]
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 0
    time.sleep(0.5)
    assert standin.count == 1


def test_5xx_is_retried(start_proxy, standin):
    p = start_proxy({"retry": {"max_attempts": 3}})
    standin.push(Scripted.error("InternalFailure", "oops", status=500, err_type="Receiver"))
    r = p.call({"Action": "GetSendQuota"}, timeout=30)
    assert r.status == 200, r
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 1


def test_send_not_retried_after_written_and_broken(start_proxy, standin):
    # SES may have sent the mail: a broken connection after the request was
    # written is not retried for a sending call...
    p = start_proxy({"retry": {"max_attempts": 3}})
    standin.push(Scripted(action="close"))
    r = p.call(send_email(1), timeout=30)
    assert r.status == 502, r
    time.sleep(0.5)
    assert standin.count == 1
    # ...but it is for a call that sends nothing.
    standin.push(Scripted(action="close"))
    r = p.call({"Action": "GetSendQuota"}, timeout=30)
    assert r.status == 200, r
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 1


def test_ses_throttling_slows_the_bucket(start_proxy, standin):
    # Configured 4/s; SES says Throttling once: the next calls are spaced
    # wider than 0.25 s for a while (the rate halves and climbs back).
    p = start_proxy({"throttle": {"operations": {"GetSendQuota": {"rate": 4, "burst": 1}},
                                  "max_wait_ms": 10000},
                     "retry": {"max_attempts": 1}})
    standin.push(Scripted.throttling())
    assert p.call({"Action": "GetSendQuota"}).status == 400
    res = concurrent(p, [{"Action": "GetSendQuota"} for _ in range(4)])
    assert all(r.status == 200 for r, _, _ in res)
    t = proxyproc.arrivals(standin, 5, "GetSendQuota")
    gaps = [b - a for a, b in zip(t, t[1:])]
    # at the configured 4/s the gaps would be 0.25 s; halved they are ~0.5 s
    assert gaps[0] >= 0.4, gaps


def _recipient_limit_cases():
    bulk = {"Action": "SendBulkTemplatedEmail", "Source": "sender@example.com",
            "Template": "t", "DefaultTemplateData": "{}",
            "Destinations": [{"Destination": {"ToAddresses": ["a@example.com"]}},
                             {"Destination": {"ToAddresses": ["t%d@example.com" % i
                                                              for i in range(30)],
                                              "BccAddresses": ["b%d@example.com" % i
                                                               for i in range(21)]}}]}
    many = ", ".join("r%d@example.com" % i for i in range(51))
    msg = "From: a@example.com\r\nTo: %s\r\n\r\nx" % many
    raw = {"Action": "SendRawEmail",
           "RawMessage": {"Data": base64.b64encode(msg.encode()).decode()}}
    raw_dest = {"Action": "SendRawEmail", "Destinations": ["d%d@example.com" % i
                                                           for i in range(51)],
                "RawMessage": {"Data": base64.b64encode(b"From: a@example.com\r\n\r\nx")
                               .decode()}}
    return [("SendEmail 30 To + 21 Cc", send_email(30, 21)), ("bulk destination of 51", bulk),
            ("raw message with 51 in To", raw), ("raw Destinations of 51", raw_dest)]


def test_more_recipients_than_ses_takes_refused(start_proxy, standin):
    """More than 50 recipients in one message: 400 before any token is
    taken (the bucket is untouched: a 50-recipient mail goes out at once
    afterwards), in JSON mode and from an SDK."""
    import boto3
    import botocore.config
    p = start_proxy({"throttle": {"send_rate": 50, "max_wait_ms": 10000}})
    for what, call in _recipient_limit_cases():
        r = p.call(call)
        assert r.status == 400 and r.error_code == "InvalidParameterValue", (what, r)
        assert "50" in r.error_message, r
    sdk = boto3.client("ses", region_name="us-east-1", endpoint_url=p.url,
                       aws_access_key_id="AKIDTHROWAWAY", aws_secret_access_key="x",
                       config=botocore.config.Config(retries={"max_attempts": 1}))
    try:
        sdk.send_email(Source="sender@example.com",
                       Destination={"ToAddresses": ["t%d@example.com" % i for i in range(51)]},
                       Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
        raise AssertionError("51 recipients went through the SDK")
    except sdk.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidParameterValue"
    assert standin.count == 0
    t0 = time.monotonic()
    assert p.call(send_email(50)).status == 200
    assert time.monotonic() - t0 < 5  # the refused calls took no tokens


def test_no_call_puts_the_bucket_in_debt_past_max_wait(start_proxy, standin):
    """A call whose recipients beyond the burst would keep the send rate in
    debt longer than max_wait_ms is refused at once; one that fits waits."""
    p = start_proxy({"throttle": {"send_rate": 2, "max_wait_ms": 1000}})
    r = p.call(send_email(10))  # (10 - 2) / 2 = 4 s of debt
    assert r.status == 400 and "max_wait_ms" in r.error_message, r
    assert standin.count == 0
    assert p.call(send_email(4)).status == 200  # (4 - 2) / 2 = 1 s: fits
    assert standin.count == 1
