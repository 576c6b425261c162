"""SES v2's retries and throttle, as SES would see them.

Retries: in JSON mode TooManyRequestsException (with or without the Coral
suffix on its type) and 5xx are retried in botocore's standard mode and
ResponseMetadata.RetryAttempts counts them; LimitExceededException (a quota
reached) and the daily quota are not. SDK calls are not retried by the
proxy (their SDK does), unless retry.sdk_max_attempts says so.

Throttle: one account, one send rate in recipients per second for v1 and v2
(a v1 SendEmail and a v2 SendEmail take from the same bucket), v2
SendBulkEmail counting the sum over its BulkEmailEntries, v2 raw content its
header recipients; a v2 operation SES documents at 1/s has its own bucket
(v2:<Operation>); and the same through Redis shared by two proxies.

The stand-in SES stamps each arrival; gaps are checked against 0.9 s for a
1 s spacing (its handler threads jitter by milliseconds), never against an
upper bound tighter than a few seconds.
"""

import base64
import threading
import time

import pytest

import proxyproc
import redis_helpers
import standin_v2
from standin_ses import Scripted
from v2_helpers import client_error, sesv2_client

MIN_GAP = 0.9


def send_v2(n_to, n_cc=0, **kw):
    d = {"ToAddresses": ["to%d@example.com" % i for i in range(n_to)]}
    if n_cc:
        d["CcAddresses"] = ["cc%d@example.com" % i for i in range(n_cc)]
    return dict({"FromEmailAddress": "sender@example.com", "Destination": d,
                 "Content": {"Simple": {"Subject": {"Data": "s"},
                                        "Body": {"Text": {"Data": "b"}}}}}, **kw)


def send_v1(n_to):
    return {"Action": "SendEmail", "Source": "sender@example.com",
            "Destination": {"ToAddresses": ["v1-%d@example.com" % i for i in range(n_to)]},
            "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}


def bulk_v2(*sizes):
    """A SendBulkEmail whose entries have sizes[i] recipients each (To + Cc)."""
    entries = []
    for i, n in enumerate(sizes):
        to = ["e%d-%d@example.com" % (i, k) for k in range(n)]
        entries.append({"Destination": {"ToAddresses": to[:1], "CcAddresses": to[1:]}})
    return {"FromEmailAddress": "bulk@example.com", "BulkEmailEntries": entries,
            "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": "{}"}}}


def raw_v2(to, cc=(), bcc=()):
    lines = ["From: sender@example.com", "To: " + ", ".join(to)]
    if cc:
        lines.append("Cc: " + ", ".join(cc))
    if bcc:
        lines.append("Bcc: " + ", ".join(bcc))
    msg = "\r\n".join(lines + ["Subject: raw", "", "body", ""]).encode()
    return {"Content": {"Raw": {"Data": base64.b64encode(msg).decode()}}}


def together(calls, timeout=40):
    """Runs the callables at once (a barrier releases them); their results
    (or the exceptions they raised) in order."""
    out = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i):
        barrier.wait()
        try:
            out[i] = calls[i]()
        except Exception as e:  # reported by the caller
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return out


def arrivals(standin, n, op_name=None, timeout=30):
    recs = standin.wait_for(n, timeout=timeout)
    return sorted(r.t_arrival for r in recs if op_name is None or r.action == op_name)


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


# ---- retries -----------------------------------------------------------------------

def test_json_mode_retries(start_proxy, standin):
    p = start_proxy({"retry": {"max_attempts": 3}})
    # SES v2's rate limit, twice (once with the Coral suffix botocore drops)
    standin.push(Scripted.v2_throttling(),
                 Scripted.v2_throttling(suffix=standin_v2.CORAL_SUFFIX))
    r = p.call(send_v2(1), path="/v2/SendEmail", timeout=30)
    assert r.status == 200, r
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 2
    assert standin.count == 3 and len(standin.sent_messages()) == 1
    assert r.json["MessageId"] == standin.sent_messages()[0].message_id
    # 5xx, bare and with a body
    standin.clear()
    standin.push(Scripted.v2_server_error(503),
                 Scripted.v2_error("InternalServiceErrorException", status=500))
    r = p.call({}, path="/v2/GetAccount", timeout=30)
    assert r.status == 200 and r.json["ResponseMetadata"]["RetryAttempts"] == 2, r
    assert standin.count == 3
    # all attempts spent: SES's last answer, RetryAttempts 2
    standin.clear()
    standin.push(*[Scripted.v2_throttling() for _ in range(3)])
    r = p.call({}, path="/v2/GetAccount", timeout=30)
    assert r.status == 429 and r.json["Error"]["Code"] == "TooManyRequestsException", r
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 2
    assert standin.count == 3


@pytest.mark.parametrize("case", ["LimitExceededException", "daily quota", "MessageRejected"])
def test_json_mode_not_retried(start_proxy, standin, case):
    p = start_proxy({"retry": {"max_attempts": 3}})
    answer = {"LimitExceededException": Scripted.v2_error("LimitExceededException"),
              "daily quota": Scripted.v2_daily_quota(),
              "MessageRejected": Scripted.v2_error("MessageRejected", "not verified")}[case]
    standin.push(answer)
    r = p.call(send_v2(1), path="/v2/SendEmail")
    assert r.status == answer.status, r
    code = "TooManyRequestsException" if case == "daily quota" else case
    assert r.json["Error"]["Code"] == code, r
    assert r.json["ResponseMetadata"] == {"RequestId": answer.request_id,
                                          "HTTPStatusCode": answer.status, "RetryAttempts": 0}
    time.sleep(0.3)
    assert standin.count == 1


def test_passthrough_not_retried_by_default(start_proxy, standin):
    p = start_proxy({"retry": {"max_attempts": 3}})
    client = sesv2_client(p)
    for answer, code in ((Scripted.v2_throttling(), "TooManyRequestsException"),
                         (Scripted.v2_server_error(500), "500"),
                         (Scripted.v2_error("InternalServiceErrorException", status=500),
                          "InternalServiceErrorException")):
        standin.clear()
        standin.push(answer)
        status, got, rid, _ = client_error(client, lambda: client.send_email(**send_v2(1)))
        assert (status, got) == (answer.status, code)
        if answer.body:
            assert rid == answer.request_id
        time.sleep(0.3)
        assert standin.count == 1, code


def test_passthrough_retried_with_sdk_max_attempts(start_proxy, standin):
    p = start_proxy({"retry": {"sdk_max_attempts": 3}})
    client = sesv2_client(p)
    standin.push(Scripted.v2_throttling(), Scripted.v2_server_error(503))
    got = client.send_email(**send_v2(1))
    assert standin.count == 3 and len(standin.sent_messages()) == 1
    assert got["MessageId"] == standin.sent_messages()[0].message_id
    # LimitExceededException is a quota, not a rate: still one attempt
    standin.clear()
    standin.push(Scripted.v2_error("LimitExceededException"))
    assert client_error(client, lambda: client.get_account())[1] == "LimitExceededException"
    time.sleep(0.3)
    assert standin.count == 1


# ---- one send rate -------------------------------------------------------------------

def test_v1_and_v2_share_the_send_rate(start_proxy, standin):
    """2 recipients per second (burst 2): a v1 SendEmail, a v2 SendEmail
    in JSON mode and one from boto3, 2 recipients each, sent together,
    reach SES a second apart; with a bucket each they would all arrive at
    once."""
    p = start_proxy({"throttle": {"send_rate": 2, "max_wait_ms": 10000}})
    client = sesv2_client(p)
    res = together([lambda: p.call(send_v1(2)),
                    lambda: p.call(send_v2(1, 1), path="/v2/SendEmail"),
                    lambda: client.send_email(**send_v2(2))])
    assert res[0].status == 200 and res[1].status == 200, res
    assert res[2]["MessageId"], res
    recs = standin.wait_for(3)
    assert sorted(r.api for r in recs) == ["v1", "v2", "v2"]
    t = arrivals(standin, 3)
    assert all(g >= MIN_GAP for g in gaps(t)), gaps(t)


def test_bulk_counts_every_entrys_recipients(start_proxy, standin):
    """A SendBulkEmail of two entries with 2 recipients each takes 4
    tokens: at 2/s the 1-recipient SendEmail after it waits 1.5 s (0.5 s if
    the entries counted 2, none if the call counted 1)."""
    p = start_proxy({"throttle": {"send_rate": 2, "max_wait_ms": 10000}})
    r = p.call(bulk_v2(2, 2), path="/v2/SendBulkEmail")
    assert r.status == 200, r
    assert len(r.json["BulkEmailEntryResults"]) == 2
    r = p.call(send_v2(1), path="/v2/SendEmail")
    assert r.status == 200, r
    t = arrivals(standin, 2)
    assert 1.35 <= t[1] - t[0] < 5, t


def test_bulk_entry_over_50_refused(start_proxy, standin):
    p = start_proxy({"throttle": {"send_rate": 100}})
    r = p.call(bulk_v2(1, 51), path="/v2/SendBulkEmail")
    assert r.status == 400 and r.json["Error"]["Code"] == "InvalidParameterValue", r
    assert "50" in r.json["Error"]["Message"]
    assert p.call(bulk_v2(1, 50), path="/v2/SendBulkEmail").status == 200
    assert standin.count == 1


def test_raw_content_counts_its_header_recipients(start_proxy, standin):
    """Raw content without a Destination goes to its To, Cc and Bcc: 4
    recipients; at 2/s the second such mail waits 2 s (JSON mode, then an
    SDK)."""
    p = start_proxy({"throttle": {"send_rate": 2, "max_wait_ms": 10000}})
    call = raw_v2(['"Doe, J" <j@example.com>', "k@example.com"], ["c@example.com"],
                  ["d@example.com"])
    assert p.call(call, path="/v2/SendEmail").status == 200
    client = sesv2_client(p)
    client.send_email(Content={"Raw": {"Data": base64.b64decode(call["Content"]["Raw"]["Data"])}})
    t = arrivals(standin, 2)
    assert t[1] - t[0] >= 1.8, t
    assert [m.recipients for m in standin.sent_messages()] == [
        ["j@example.com", "k@example.com", "c@example.com", "d@example.com"]] * 2


def test_v2_operation_bucket(start_proxy, standin):
    """ListEmailTemplates is documented at 1/s (the default limits, not the
    harness's wide ones): three calls together reach SES a second apart;
    throttle.operations "v2:GetAccount" sets another."""
    p = start_proxy({"throttle": {"max_wait_ms": 10000, "operations": proxyproc.Replace(
        {"v2:GetAccount": {"rate": 2, "burst": 1}})}})
    res = together([lambda: p.call({}, path="/v2/ListEmailTemplates") for _ in range(3)])
    assert [r.status for r in res] == [200] * 3, res
    t = arrivals(standin, 3, "ListEmailTemplates")
    assert all(g >= MIN_GAP for g in gaps(t)), gaps(t)
    standin.clear()
    res = together([lambda: p.call({}, path="/v2/GetAccount") for _ in range(3)])
    assert [r.status for r in res] == [200] * 3, res
    t = arrivals(standin, 3, "GetAccount")
    assert all(g >= 0.45 for g in gaps(t)), gaps(t)
    metrics = p.get("/metrics").raw.decode()
    assert 'bucket="v2:ListEmailTemplates"' in metrics and 'bucket="v2:GetAccount"' in metrics


def test_ses_rate_limit_slows_the_v2_bucket(start_proxy, standin):
    """Configured 4/s; SES v2 says TooManyRequestsException once: the
    bucket's rate halves, so the next calls are spaced wider than 0.25 s."""
    p = start_proxy({"throttle": {"operations": proxyproc.Replace(
        {"v2:GetAccount": {"rate": 4, "burst": 1}}), "max_wait_ms": 10000},
        "retry": {"max_attempts": 1}})
    standin.push(Scripted.v2_throttling())
    assert p.call({}, path="/v2/GetAccount").status == 429
    res = together([lambda: p.call({}, path="/v2/GetAccount") for _ in range(3)])
    assert [r.status for r in res] == [200] * 3, res
    t = arrivals(standin, 4, "GetAccount")
    assert gaps(t)[0] >= 0.4, gaps(t)


# ---- Redis ------------------------------------------------------------------------

needs_redis = pytest.mark.skipif(redis_helpers.redis_server_binary() is None,
                                 reason="redis-server is not installed")


@needs_redis
def test_redis_shares_v1_v2_send_rate_and_v2_buckets(start_proxy, standin, tmp_path):
    """Two proxies on one Redis: a v1 SendEmail through one and v2
    SendEmails through the other draw on one send rate (1 recipient/s);
    a v2 1/s operation called through both is spaced a second apart."""
    redis = redis_helpers.RedisServer(tmp_path / "redis").start()
    try:
        cfg = {"throttle": {"backend": "redis", "redis_url": redis.url, "replicas": 2,
                            "send_rate": 1, "max_wait_ms": 15000,
                            "operations": proxyproc.Replace({})}}
        a, b = start_proxy(cfg), start_proxy(cfg)
        for p in (a, b):
            deadline = time.monotonic() + 10
            while "throttle backend up" not in p.stdout:
                assert time.monotonic() < deadline, p.describe()
                time.sleep(0.02)
        client = sesv2_client(b)
        res = together([lambda: a.call(send_v1(1)),
                        lambda: b.call(send_v2(1), path="/v2/SendEmail"),
                        lambda: client.send_email(**send_v2(1))])
        assert res[0].status == 200 and res[1].status == 200 and res[2]["MessageId"], res
        # one send-rate key, no per-API one (read while the bucket is in debt: a
        # full bucket's key expires)
        assert [k for k in redis.call("KEYS", "*") if "send" in k.lower()] == [
            "ses-proxy:{us-east-1}:send_rate"]
        t = arrivals(standin, 3)
        assert all(g >= MIN_GAP for g in gaps(t)), gaps(t)
        standin.clear()
        res = together([lambda p=p: p.call({}, path="/v2/ListEmailTemplates")
                        for p in (a, b, a, b)])
        assert [r.status for r in res] == [200] * 4, res
        t = arrivals(standin, 4, "ListEmailTemplates")
        assert all(g >= MIN_GAP for g in gaps(t)), gaps(t)
        assert "ses-proxy:{us-east-1}:v2:ListEmailTemplates" in redis.call("KEYS", "*")
        for p in (a, b):
            assert "throttle backend down" not in p.stdout
    finally:
        redis.stop()
