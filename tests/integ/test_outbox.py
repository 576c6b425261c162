"""The outbox: asynchronous sends (Prefer: respond-async), stored durably,
delivered at SES's pace, none lost.

Every test runs a real proxy against the stand-in SES (which verifies each
signature and records each request); the Redis tests run a real
redis-server. The kill-and-restart runs SIGKILL the proxy at random points
and count, at the stand-in, every message that was answered 202: none may
be missing, and only those in flight at a kill may arrive twice.
"""

import base64
import http.client
import json
import os
import random
import signal
import sqlite3
import stat
import threading
import time
import urllib.parse

import pytest

import proxyproc
from proxyproc import log_lines
import redis_helpers
from standin_ses import Scripted

ASYNC = {"Prefer": "respond-async"}
QUOTA_ANSWER = ("<Max24HourSend>{max}</Max24HourSend><MaxSendRate>{rate}</MaxSendRate>"
                "<SentLast24Hours>{sent}</SentLast24Hours>")


def mail(tag, n_to=1, text="hello"):
    return {"Action": "SendEmail", "Source": "sender@example.com",
            "Destination": {"ToAddresses": ["to%d@example.com" % i for i in range(n_to)]},
            "Message": {"Subject": {"Data": tag}, "Body": {"Text": {"Data": text}}}}


def tag_of(rec):
    return rec.params.get("Message.Subject.Data")


class Ses:
    """A responder for the stand-in: SES's answers with MessageIds, a
    GetSendQuota that tests change, and faults scripted per subject."""

    def __init__(self, standin, max24=-1, sent24=0, rate=1000):
        self.lock = threading.Lock()
        self.max24, self.sent24, self.rate = max24, sent24, rate
        self.faults = {}          # tag -> list of Scripted (used in order)
        self.delay = {}           # tag -> seconds
        self.daily_exceeded = False
        self.down = False         # every send answered 503
        self.count = 0
        standin.responder = self.answer

    def answer(self, rec):
        if rec.api == "v2":
            return None          # the stand-in's own SES v2 answers
        if rec.action == "GetSendQuota":
            with self.lock:
                xml = QUOTA_ANSWER.format(max=self.max24, rate=self.rate, sent=self.sent24)
            return Scripted.success("GetSendQuota", xml)
        tag = tag_of(rec)
        with self.lock:
            queue = self.faults.get(tag)
            fault = queue.pop(0) if queue else None
            delay = self.delay.get(tag, self.delay.get("*", 0))
            exceeded = self.daily_exceeded
        if fault is not None:
            return fault
        if self.down and rec.action and rec.action.startswith("Send"):
            return Scripted.error("ServiceUnavailable", "down", status=503)
        if exceeded and rec.action and rec.action.startswith("Send"):
            return Scripted.throttling("Daily message quota exceeded.")
        if delay:
            time.sleep(delay)
        with self.lock:
            self.count += 1
            n = self.count
        if rec.action == "SendBulkTemplatedEmail":
            xml = ("<Status><member><Status>Success</Status><MessageId>bulk-%d-1</MessageId>"
                   "</member><member><Status>MessageRejected</Status><Error>Email address is "
                   "not verified.</Error></member></Status>" % n)
            return Scripted.success(rec.action, xml)
        if rec.action and rec.action.startswith("Send"):
            return Scripted.success(rec.action, "<MessageId>mid-%d</MessageId>" % n)
        return None


def outbox_cfg(tmp_path, **over):
    ob = {"path": str(tmp_path / "outbox")}
    ob.update(over)
    return {"outbox": ob}


def post_async(p, body, key=None, headers=None, timeout=30):
    h = dict(ASYNC)
    if key is not None:
        h["Idempotency-Key"] = key
    h.update(headers or {})
    return p.call(body, headers=h, timeout=timeout)


def status(p, oid, timeout=10):
    return p.get("/outbox/" + oid, timeout=timeout)


def wait_status(p, oid, want, timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = status(p, oid)
        if last.status == 200 and last.json["Status"] in want:
            return last.json
        time.sleep(0.05)
    raise AssertionError("%s never became %s: %r\n%s" % (oid, want, last, p.describe()))


def sends(standin, action="SendEmail"):
    return [r for r in standin.snapshot() if r.action == action and r.status == 200]


def metric(p, name, **labels):
    text = p.get("/metrics").raw.decode()
    want = name + ("{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
                   if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    raise AssertionError("no %s in the metrics" % want)


def wait_metric(p, value, name, timeout=10, **labels):
    """The metric reaches value (gauges read from Redis lag by a second)."""
    deadline = time.monotonic() + timeout
    while metric(p, name, **labels) != value:
        assert time.monotonic() < deadline, (name, labels, metric(p, name, **labels))
        time.sleep(0.1)


def call_from(host, p, path, timeout=10):
    """GET from another loopback source address."""
    conn = http.client.HTTPConnection(p.host, p.port, timeout=timeout,
                                      source_address=(host, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return proxyproc.Response(r.status, r.reason, r.getheaders(), r.read())
    finally:
        conn.close()


# ------------------------------------------------------------ accepting

def test_accept_202_then_sent(start_proxy, standin, tmp_path):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path))
    r = post_async(p, mail("secret-subject-x1", text="secret-body-x1"),
                   headers={"X-Request-Id": "caller-1"})
    assert r.status == 202, r
    assert r.header("Preference-Applied") == "respond-async"
    oid = r.json["OutboxId"]
    assert len(oid) == 32 and int(oid, 16) >= 0
    assert r.header("Location") == "/outbox/" + oid
    assert r.json["Status"] == "queued"
    assert r.json["ResponseMetadata"]["HTTPStatusCode"] == 202
    st = wait_status(p, oid, {"sent"})
    assert st["Attempts"] == 1 and st["MessageId"].startswith("mid-"), st
    assert st["Operation"] == "SendEmail"
    for k in ("CreatedAt", "UpdatedAt"):
        assert len(st[k]) == 24 and st[k].endswith("Z") and st[k][19] == ".", st
    assert "Error" not in st and "LastError" not in st and "HeldFor" not in st
    sent = sends(standin)
    assert len(sent) == 1 and sent[0].auth.ok
    assert tag_of(sent[0]) == "secret-subject-x1"
    # One log line per state change, with the OutboxId and the caller's id;
    # never the message.
    changes = [o for o in log_lines(p) if o.get("outbox_id") == oid]
    assert [o["status"] for o in changes] == ["queued", "sending", "sent"], changes
    assert all(o["request_id"] == "caller-1" for o in changes)
    assert "secret-subject-x1" not in p.output and "secret-body-x1" not in p.output
    # 128 random bits: two ids share nothing predictable.
    r2 = post_async(p, mail("x2"))
    assert r2.json["OutboxId"] != oid
    # Files: the directory 0700, every file 0600.
    d = tmp_path / "outbox"
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for f in os.listdir(d):
        assert stat.S_IMODE(os.stat(d / f).st_mode) == 0o600, f


def test_without_outbox_prefer_is_ignored(start_proxy, standin):
    Ses(standin)
    p = start_proxy()
    r = post_async(p, mail("sync"))
    assert r.status == 200 and r.json["MessageId"].startswith("mid-"), r
    assert r.header("Preference-Applied") is None
    assert status(p, "0" * 32).status == 404


def test_bad_calls_are_answered_at_once_and_not_stored(start_proxy, standin, tmp_path):
    Ses(standin)
    cfg = outbox_cfg(tmp_path)
    cfg["policy"] = {"identities": ["example.com"], "account_id": "123456789012"}
    p = start_proxy(cfg)
    bad = mail("v")
    del bad["Source"]
    r = post_async(p, bad)
    assert r.status == 400 and r.error_code == "ValidationError", r
    other = mail("p")
    other["Source"] = "someone@evil.example"
    r = post_async(p, other)
    assert r.status == 403 and r.error_code == "AccessDenied", r
    r = post_async(p, mail("k"), key="caf\u00e9".encode().decode("latin-1"))
    assert r.status == 400 and r.error_code == "InvalidIdempotencyKey", r
    r = post_async(p, mail("k"), key="x" * 256)
    assert r.status == 400 and r.error_code == "InvalidIdempotencyKey", r
    # Not a sending call, or not JSON mode: answered synchronously.
    r = post_async(p, {"Action": "GetSendQuota"})
    assert r.status == 200 and r.header("Preference-Applied") is None, r
    form = urllib.parse.urlencode({"Action": "GetSendQuota", "Version": "2010-12-01"})
    r = p.call(form.encode(), headers=dict(ASYNC, **{
        "Content-Type": "application/x-www-form-urlencoded"}))
    assert r.status == 200 and b"GetSendQuotaResponse" in r.raw, r
    assert sends(standin) == []
    assert metric(p, "ses_proxy_outbox_messages", status="queued") == 0
    assert metric(p, "ses_proxy_outbox_messages", status="sent") == 0


def test_idempotency_key(start_proxy, standin, tmp_path):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path))
    a = post_async(p, mail("idem"), key="order-42")
    assert a.status == 202
    oid = a.json["OutboxId"]
    wait_status(p, oid, {"sent"})
    b = post_async(p, mail("idem"), key='"order-42"')   # the sf-string form
    assert b.status == 202 and b.json["OutboxId"] == oid, b
    assert b.json["Status"] == "sent" and b.header("Location") == "/outbox/" + oid
    # The same key with another body, or another operation: 422.
    c = post_async(p, mail("idem2"), key="order-42")
    assert c.status == 422 and c.error_code == "IdempotencyKeyReused", c
    raw = {"Action": "SendRawEmail", "RawMessage": {"Data": base64.b64encode(
        b"From: sender@example.com\r\nTo: a@example.com\r\n\r\nx").decode()}}
    d = post_async(p, raw, key="order-42")
    assert d.status == 422, d
    time.sleep(0.3)
    assert len(sends(standin)) == 1


def test_status_is_the_creators(start_proxy, standin, tmp_path):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path))
    oid = post_async(p, mail("mine")).json["OutboxId"]
    wait_status(p, oid, {"sent"})
    assert status(p, "f" * 32).status == 404
    assert status(p, "not-an-id").status == 404
    r = call_from("127.0.0.2", p, "/outbox/" + oid)
    assert r.status == 404 and r.error_code == "NotFound", r
    assert call_from("127.0.0.1", p, "/outbox/" + oid).status == 200


def test_status_any_reader(start_proxy, standin, tmp_path):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path, status_readers="any"))
    oid = post_async(p, mail("anyone")).json["OutboxId"]
    assert call_from("127.0.0.2", p, "/outbox/" + oid).status == 200


# ------------------------------------------------------------ delivering

def test_transient_then_sent(start_proxy, standin, tmp_path):
    ses = Ses(standin)
    ses.faults["flaky"] = [Scripted.error("ServiceUnavailable", "try later", status=503),
                           Scripted.throttling("Maximum sending rate exceeded.")]
    p = start_proxy(outbox_cfg(tmp_path))
    oid = post_async(p, mail("flaky")).json["OutboxId"]
    st = wait_status(p, oid, {"queued"})
    deadline = time.monotonic() + 10
    while "LastError" not in st and time.monotonic() < deadline:
        st = status(p, oid).json
        time.sleep(0.02)
    assert st["LastError"]["Code"] in ("ServiceUnavailable", "Throttling"), st
    assert "NextAttemptAt" in st and st["Attempts"] >= 1, st
    st = wait_status(p, oid, {"sent"}, timeout=20)
    assert st["Attempts"] == 3 and "LastError" not in st, st
    assert metric(p, "ses_proxy_outbox_deliveries_total", result="retry") == 2


def test_permanent_failure_and_purged_body(start_proxy, standin, tmp_path):
    ses = Ses(standin)
    ses.faults["rejected"] = [Scripted.error("MessageRejected", "Email address is not verified.")]
    p = start_proxy(outbox_cfg(tmp_path))
    oid = post_async(p, mail("rejected")).json["OutboxId"]
    sent = post_async(p, mail("fine")).json["OutboxId"]
    st = wait_status(p, oid, {"failed"})
    assert st["Error"] == {"Code": "MessageRejected",
                           "Message": "Email address is not verified."}, st
    assert st["Attempts"] == 1
    wait_status(p, sent, {"sent"})
    assert metric(p, "ses_proxy_outbox_messages", status="failed") == 1
    assert metric(p, "ses_proxy_outbox_messages", status="sent") == 1
    # At rest: the status records stay, the bodies are gone.
    db = sqlite3.connect("file:%s?mode=ro" % (tmp_path / "outbox" / "outbox.db"), uri=True)
    rows = db.execute("SELECT id, state, request IS NULL, bytes FROM message").fetchall()
    db.close()
    assert sorted(rows) == sorted([(oid, 3, 1, 0), (sent, 2, 1, 0)]), rows


def test_expired(start_proxy, standin, tmp_path):
    ses = Ses(standin)
    ses.faults["late"] = [Scripted.error("InternalFailure", "x", status=500)] * 50
    p = start_proxy(outbox_cfg(tmp_path, max_age_s=2))
    oid = post_async(p, mail("late")).json["OutboxId"]
    st = wait_status(p, oid, {"failed"}, timeout=15)
    assert st["Error"]["Code"] == "Expired", st
    assert "outbox.max_age_s" in st["Error"]["Message"]


def test_bulk_results(start_proxy, standin, tmp_path):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path))
    bulk = {"Action": "SendBulkTemplatedEmail", "Source": "sender@example.com",
            "Template": "t", "DefaultTemplateData": "{}",
            "Destinations": [{"Destination": {"ToAddresses": ["a@example.com"]}},
                             {"Destination": {"ToAddresses": ["b@example.com"]}}]}
    oid = post_async(p, bulk).json["OutboxId"]
    st = wait_status(p, oid, {"sent"})
    assert st["Results"][0]["Status"] == "Success", st
    assert st["Results"][1] == {"Status": "MessageRejected",
                                "Error": "Email address is not verified."}, st
    assert "MessageId" not in st


def test_v2_sends(start_proxy, standin, tmp_path):
    """SES v2's SendEmail and SendBulkEmail queue like v1's: the stored call
    is replayed to /v2/email/outbound-emails, signed, and its answer read
    (MessageId; the bulk's BulkEmailEntryResults). An idempotency key names
    the API too: v1's SendEmail and v2's are not the same call."""
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path))
    simple = {"FromEmailAddress": "sender@example.com",
              "Destination": {"ToAddresses": ["a@example.com"]},
              "Content": {"Simple": {"Subject": {"Data": "v2-subject"},
                                     "Body": {"Text": {"Data": "v2-body"}}}}}
    r = p.call(simple, path="/v2/SendEmail",
               headers=dict(ASYNC, **{"Idempotency-Key": "v2-order"}))
    assert r.status == 202, r
    oid = r.json["OutboxId"]
    st = wait_status(p, oid, {"sent"})
    assert st["Operation"] == "v2:SendEmail" and st["Attempts"] == 1, st
    got = standin.sent_messages()
    assert [m.subject for m in got] == ["v2-subject"], got
    assert got[0].message_id == st["MessageId"] and got[0].record.auth.ok
    # The same key again: the same call, not a second message.
    again = p.call(simple, path="/v2/SendEmail",
                   headers=dict(ASYNC, **{"Idempotency-Key": "v2-order"}))
    assert again.status == 202 and again.json["OutboxId"] == oid, again
    # The same key on v1's SendEmail: another operation.
    v1 = post_async(p, mail("v1"), key="v2-order")
    assert v1.status == 422 and v1.error_code == "IdempotencyKeyReused", v1
    bulk = {"FromEmailAddress": "sender@example.com",
            "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": "{}"}},
            "BulkEmailEntries": [
                {"Destination": {"ToAddresses": ["b@example.com"]}},
                {"Destination": {"ToAddresses": ["c@example.com"]}}]}
    r = p.call(bulk, path="/v2/SendBulkEmail", headers=ASYNC)
    assert r.status == 202, r
    st = wait_status(p, r.json["OutboxId"], {"sent"})
    assert st["Operation"] == "v2:SendBulkEmail", st
    assert [x["Status"] for x in st["Results"]] == ["SUCCESS", "SUCCESS"], st
    ids = [m.message_id for m in standin.sent_messages() if m.operation == "SendBulkEmail"]
    assert [x["MessageId"] for x in st["Results"]] == ids, (st, ids)
    assert "v2-body" not in p.output


def test_synchronous_calls_go_first(start_proxy, standin, tmp_path):
    """A backlog of 30 messages at 2 recipients/s (15 s of sending) and
    synchronous calls with a 2 s deadline: had the outbox queued its
    messages in the bucket, every synchronous call would wait past its
    deadline (429). It takes only free tokens, so each synchronous call
    waits at most for one token, gets 200, and the backlog is still there
    when the synchronous calls are done."""
    Ses(standin)
    p = start_proxy(dict(outbox_cfg(tmp_path), throttle={"send_rate": 2, "max_wait_ms": 2000}))
    ids = [post_async(p, mail("bulk-%d" % i)).json["OutboxId"] for i in range(30)]
    time.sleep(1.0)
    for i in range(4):
        r = p.call(mail("sync-%d" % i), timeout=20)
        assert r.status == 200, r
    done = sum(1 for oid in ids if status(p, oid).json["Status"] == "sent")
    assert done < 30, done
    assert metric(p, "ses_proxy_outbox_messages", status="queued") > 0


def test_before_credentials(start_proxy, standin, tmp_path, creds):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path), creds_via="none")
    r = post_async(p, mail("early"))
    assert r.status == 202, r
    oid = r.json["OutboxId"]
    st = status(p, oid).json
    assert st["Status"] == "queued" and st["HeldFor"] == "Credentials", st
    assert p.get("/readyz").status == 503
    # Credentials arrive (a reload with static keys): it goes out.
    secret = tmp_path / "secret"
    secret.write_text(creds.secret_key)
    secret.chmod(0o600)
    cfg = proxyproc.deep_merge(p.config, {"credentials": {
        "access_key_id": creds.access_key, "secret_access_key_file": str(secret)}})
    with open(p.config_path, "w") as f:
        json.dump(cfg, f)
    p.signal(signal.SIGHUP)
    wait_status(p, oid, {"sent"})
    assert p.get("/readyz").status == 200


def test_daily_quota_hold(start_proxy, standin, tmp_path):
    ses = Ses(standin, max24=3, sent24=0)
    p = start_proxy(outbox_cfg(tmp_path, quota_refresh_s=1))
    deadline = time.monotonic() + 10
    while metric(p, "ses_proxy_outbox_quota_left") != 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    # A synchronous send counts against the quota too.
    assert p.call(mail("sync")).status == 200
    ids = [post_async(p, mail("q%d" % i)).json["OutboxId"] for i in range(4)]
    time.sleep(2.0)
    states = [status(p, oid).json for oid in ids]
    assert sum(s["Status"] == "sent" for s in states) == 2, states
    held = [s for s in states if s["Status"] == "queued"]
    assert len(held) == 2 and all(s["HeldFor"] == "DailyQuota" for s in held), held
    assert metric(p, "ses_proxy_outbox_quota_left") == 0
    assert metric(p, "ses_proxy_outbox_quota_used", scope="replica") == 3
    assert len(sends(standin)) == 3
    # The quota grows (GetSendQuota, asked every quota_refresh_s): the rest go.
    with ses.lock:
        ses.max24 = 100
    for oid in ids:
        wait_status(p, oid, {"sent"})
    assert len(sends(standin)) == 5


def test_daily_quota_exceeded_answer(start_proxy, standin, tmp_path):
    """SES says the quota is spent although GetSendQuota showed room (other
    senders of the account): the message is held, not failed, and goes once
    SES takes mail again."""
    ses = Ses(standin, max24=1000, sent24=0)
    ses.daily_exceeded = True
    p = start_proxy(outbox_cfg(tmp_path, quota_refresh_s=1))
    oid = post_async(p, mail("over")).json["OutboxId"]
    deadline = time.monotonic() + 10
    st = status(p, oid).json
    while st.get("LastError") is None and time.monotonic() < deadline:
        time.sleep(0.05)
        st = status(p, oid).json
    assert st["Status"] == "queued", st
    assert "Daily message quota exceeded" in st["LastError"]["Message"], st
    with ses.lock:
        ses.daily_exceeded = False
    st = wait_status(p, oid, {"sent"}, timeout=15)
    assert metric(p, "ses_proxy_outbox_deliveries_total", result="held") >= 1


def test_bounds(start_proxy, standin, tmp_path):
    Ses(standin)
    p = start_proxy(outbox_cfg(tmp_path, max_messages=3), creds_via="none")
    for i in range(3):
        assert post_async(p, mail("b%d" % i)).status == 202
    r = post_async(p, mail("b3"))
    assert r.status == 503 and r.error_code == "OutboxFull", r
    assert int(r.header("Retry-After")) > 0
    assert metric(p, "ses_proxy_outbox_messages", status="queued") == 3
    assert metric(p, "ses_proxy_outbox_oldest_age_seconds") >= 0
    p2 = start_proxy(outbox_cfg(tmp_path / "b", max_bytes=2000), creds_via="none")
    assert post_async(p2, mail("small")).status == 202
    r = post_async(p2, mail("big", text="x" * 3000))
    assert r.status == 503 and r.error_code == "OutboxFull", r


def test_store_is_locked(start_proxy, standin, tmp_path, proxy_bin, proxy_env):
    Ses(standin)
    start_proxy(outbox_cfg(tmp_path))
    cfg = proxyproc.deep_merge(proxyproc.DEFAULT_CONFIG, outbox_cfg(tmp_path))
    path = tmp_path / "second.json"
    path.write_text(json.dumps(cfg))
    r = proxyproc.run_binary(proxy_bin, ["--config", str(path), "--listen",
                                         "127.0.0.1:%d" % proxyproc.free_port()],
                             proxy_env(), timeout=10)
    assert r.returncode != 0
    assert b"in use by another process" in r.stdout + r.stderr, r


def test_disk_full(start_proxy, standin, tmp_path):
    """A file-size limit (RLIMIT_FSIZE, as a full disk would) stops the
    store's writes: new messages get 503 and nothing of them is stored, the
    ones stored stay, /readyz says not ready; after a restart without the
    limit every accepted message is delivered. While the store cannot
    record a delivery's progress, nothing is taken for delivery (a message
    whose "sending" was not written would read as queued and go out again
    and again)."""
    ses = Ses(standin)
    ses.down = True   # nothing goes out while the store fills
    # Each message is written about five times its size (stored, then
    # sending and queued again, each rewriting its row): a dozen fit.
    p = start_proxy(outbox_cfg(tmp_path), wrapper=["prlimit", "--fsize=1500000", "--"],
                    check_exit=False)
    accepted, refused = [], 0
    for i in range(200):
        r = post_async(p, mail("full-%d" % i, text="y" * 20000))
        if r.status == 202:
            accepted.append(r.json["OutboxId"])
            continue
        assert r.status == 503 and r.error_code == "OutboxFull", r
        refused += 1
        if refused >= 3:
            break
    assert refused >= 3 and len(accepted) >= 3, (len(accepted), refused)
    ready = p.get("/readyz")
    assert ready.status == 503 and "cannot write" in ready.json["reason"], ready
    tries = len([r for r in standin.snapshot() if r.action == "SendEmail"])
    time.sleep(2.5)   # past the first retries and two of the store's ticks
    again = len([r for r in standin.snapshot() if r.action == "SendEmail"]) - tries
    # When only a new message's write failed, the state changes still go
    # in and the retries (1 s, then 2 s) go out as usual: at most three per
    # message in 2.5 s. A message re-taken because its state was not
    # written goes out at once, again and again (thousands).
    assert again <= 3 * len(accepted), (again, len(accepted))
    for oid in accepted:
        assert status(p, oid).json["Status"] in ("queued", "sending")
    p.stop()
    assert ses.count == 0
    ses.down = False
    p2 = start_proxy(outbox_cfg(tmp_path))
    for oid in accepted:
        wait_status(p2, oid, {"sent"}, timeout=30)
    assert len(sends(standin)) == len(accepted)


def test_drain_finishes_deliveries_keeps_queue(start_proxy, standin, tmp_path):
    ses = Ses(standin)
    ses.delay["slow"] = 1.5
    p = start_proxy(dict(outbox_cfg(tmp_path), throttle={"send_rate": 1},
                         drain_timeout_ms=10000))
    slow = post_async(p, mail("slow")).json["OutboxId"]
    deadline = time.monotonic() + 5
    while not standin.snapshot() or not any(tag_of(r) == "slow" for r in standin.snapshot()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    rest = [post_async(p, mail("later-%d" % i)).json["OutboxId"] for i in range(5)]
    p.signal(signal.SIGTERM)
    assert p.proc.wait(15) == 0
    finished = [o for o in log_lines(p) if o.get("outbox_id") == slow]
    assert finished[-1]["status"] == "sent", finished
    later = len(sends(standin))
    assert later < 6, later   # the queue stayed behind
    p2 = start_proxy(outbox_cfg(tmp_path))
    for oid in rest:
        wait_status(p2, oid, {"sent"})
    assert status(p2, slow).json["Status"] == "sent"


# ------------------------------------------------------- kill and restart

class Sender:
    """Posts numbered messages asynchronously, back to back, to whatever
    proxy is current; remembers which ones got 202."""

    def __init__(self, port_of, prefix):
        self.port_of = port_of
        self.prefix = prefix
        self.accepted = {}
        self.n = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.n += 1
            tag = "%s-%d" % (self.prefix, self.n)
            try:
                r = proxyproc.http_call("127.0.0.1", self.port_of(), mail(tag),
                                        headers=ASYNC, timeout=5)
            except OSError:
                time.sleep(0.01)
                continue
            if r.status == 202:
                self.accepted[tag] = r.json["OutboxId"]
            else:
                time.sleep(0.01)


def kill_run(start_one, standin, kills, prefix, between=None):
    """kills SIGKILLs at random moments while a Sender posts; returns
    (accepted tags, [proxies])."""
    rnd = random.Random(1234)
    procs = [start_one()]
    sender = Sender(lambda: procs[-1].port, prefix)
    sender.thread.start()
    for k in range(kills):
        time.sleep(rnd.uniform(0.3, 1.2))
        procs[-1].kill()
        if between is not None:
            between(k)
        procs.append(start_one())
    time.sleep(1.0)
    sender.stop.set()
    sender.thread.join(10)
    return sender.accepted, procs


def count_arrivals(standin, prefix):
    seen = {}
    for r in standin.snapshot():
        t = tag_of(r)
        if r.action == "SendEmail" and r.status == 200 and t and t.startswith(prefix + "-"):
            seen[t] = seen.get(t, 0) + 1
    return seen


def wait_delivered(standin, accepted, prefix, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = count_arrivals(standin, prefix)
        if all(t in seen for t in accepted):
            return seen
        time.sleep(0.2)
    seen = count_arrivals(standin, prefix)
    missing = [t for t in accepted if t not in seen]
    raise AssertionError("%d of %d accepted messages never reached SES: %s"
                         % (len(missing), len(accepted), missing[:20]))


def in_flight_at_kills(procs, unfinished=None):
    """The OutboxIds each killed proxy had logged "sending" for and
    nothing after: its deliveries under way when it died. With
    unfinished (per kill, the ids its store had not recorded as finished
    right after it died): also those it had logged as sent or failed that
    the store had not recorded yet (a change to Redis is written on the
    loop's next turn, after the line)."""
    ids = set()
    for k, p in enumerate(procs[:-1]):
        last = {}
        for o in log_lines(p):
            if "outbox_id" in o and "status" in o:
                last[o["outbox_id"]] = o["status"]
        ids |= {i for i, st in last.items() if st == "sending"}
        if unfinished is not None:
            ids |= {i for i, st in last.items() if st in ("sent", "failed") and i in unfinished[k]}
    return ids


def check_duplicates(kind, accepted, seen, procs, unfinished=None):
    """Only what was in flight at a kill went out twice. Returns the count."""
    dup = sum(n - 1 for n in seen.values() if n > 1)
    print("\n%s kill test: %d kills, %d accepted (202), %d delivered, %d duplicated"
          % (kind, len(procs) - 1, len(accepted), sum(1 for t in accepted if t in seen), dup))
    flying = in_flight_at_kills(procs, unfinished)
    twice = {accepted[t] for t, n in seen.items() if n > 1 and t in accepted}
    assert twice <= flying, sorted(twice - flying)
    return dup


def test_kill_and_restart_file(start_proxy, standin, tmp_path):
    ses = Ses(standin)
    ses.delay["*"] = 0.02   # a window between sending and recording
    cfg = dict(outbox_cfg(tmp_path), throttle={"send_rate": 200})
    accepted, procs = kill_run(lambda: start_proxy(cfg, check_exit=False), standin, 10, "fk")
    assert len(accepted) >= 200, len(accepted)
    seen = wait_delivered(standin, accepted, "fk")
    dup = check_duplicates("file store", accepted, seen, procs)
    assert dup <= 16 * 10, dup   # at most MAX_IN_FLIGHT per kill
    p = procs[-1]
    for oid in list(accepted.values())[:: max(1, len(accepted) // 20)]:
        assert wait_status(p, oid, {"sent"})["Attempts"] >= 1


# ------------------------------------------------------------------ Redis

needs_redis = pytest.mark.skipif(redis_helpers.redis_server_binary() is None,
                                 reason="redis-server is not installed")


class AofRedis(redis_helpers.RedisServer):
    """redis-server as the outbox needs it: appendonly yes, appendfsync
    always (README), so a 202 survives Redis's own restart."""

    def start(self, timeout=10.0):
        log = open(self.log_path, "ab")
        self.proc = __import__("subprocess").Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--dir", self.workdir, "--daemonize", "no", "--loglevel", "warning"],
            stdin=__import__("subprocess").DEVNULL, stdout=log, stderr=log, cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with self.client(timeout=0.5) as c:
                    if c.call("PING") == "PONG":
                        return self
            except (OSError, redis_helpers.RedisError):
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server not ready\n" + self.log())

    def crash(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None


@pytest.fixture
def aof_redis(tmp_path):
    r = AofRedis(tmp_path / "redis").start()
    yield r
    r.stop()


def redis_cfg(redis, **over):
    ob = {"store": "redis", "claim_after_ms": 1500}
    ob.update(over)
    return {"outbox": ob, "throttle": {"backend": "redis", "redis_url": redis.url}}


def wait_up(p, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.get("/readyz").status == 200:
            return
        time.sleep(0.05)
    raise AssertionError("not ready\n" + p.describe())


@needs_redis
def test_redis_shared_status_and_delivery(start_proxy, standin, aof_redis):
    Ses(standin)
    a = start_proxy(redis_cfg(aof_redis, status_readers="any"))
    b = start_proxy(redis_cfg(aof_redis, status_readers="any"))
    wait_up(a)
    wait_up(b)
    ids = [post_async(a if i % 2 else b, mail("r%d" % i), key="k%d" % i).json["OutboxId"]
           for i in range(10)]
    for i, oid in enumerate(ids):
        st = wait_status(b if i % 2 else a, oid, {"sent"})   # the other replica answers
        assert st["MessageId"].startswith("mid-")
    assert len(sends(standin)) == 10
    # Keys are shared: a repeat on the other replica is the same message.
    r = post_async(a, mail("r0"), key="k0")
    assert r.status == 202 and r.json["OutboxId"] == ids[0] and r.json["Status"] == "sent"
    assert post_async(a, mail("other"), key="k0").status == 422
    # Trimmed: nothing left in the stream, statuses kept.
    keys = aof_redis.call("KEYS", "*")
    stream = [k for k in keys if k.endswith("outbox:stream")]
    assert stream and aof_redis.call("XLEN", stream[0]) == 0, keys
    wait_metric(a, 10, "ses_proxy_outbox_messages", status="sent")
    wait_metric(a, 0, "ses_proxy_outbox_messages", status="queued")
    wait_metric(a, 0, "ses_proxy_outbox_messages", status="sending")


@needs_redis
def test_redis_down_is_503_and_409_while_storing(start_proxy, standin, aof_redis):
    Ses(standin)
    p = start_proxy(redis_cfg(aof_redis))
    wait_up(p)
    # Redis slow (paused): the first request waits, a second with the same
    # key is being stored meanwhile: 409.
    aof_redis.pause()
    results = {}

    def first():
        results["a"] = post_async(p, mail("busy"), key="same", timeout=20)

    t = threading.Thread(target=first)
    t.start()
    time.sleep(0.3)
    results["b"] = post_async(p, mail("busy"), key="same")
    aof_redis.resume()
    t.join(20)
    assert results["b"].status == 409 and results["b"].error_code == "IdempotencyKeyInUse", results
    assert results["a"].status == 202, results
    # Redis down: 503, nothing promised; ready again once it is back.
    aof_redis.crash()
    r = post_async(p, mail("down"))
    assert r.status == 503 and r.error_code == "OutboxUnavailable", r
    assert p.get("/readyz").status == 503
    aof_redis.start()
    wait_up(p)
    assert post_async(p, mail("back")).status == 202


@needs_redis
def test_redis_claims_from_a_dead_replica_not_from_a_live_one(start_proxy, standin, aof_redis):
    ses = Ses(standin)
    ses.delay["long"] = 4.0       # longer than claim_after_ms (1.5 s): kept fresh
    ses.delay["orphan"] = 30.0    # its sender dies with it in flight
    a = start_proxy(redis_cfg(aof_redis, status_readers="any"), check_exit=False)
    wait_up(a)
    long_id = post_async(a, mail("long")).json["OutboxId"]
    b = start_proxy(redis_cfg(aof_redis, status_readers="any"))
    wait_up(b)
    wait_status(b, long_id, {"sent"}, timeout=20)
    assert sum(1 for r in standin.snapshot() if tag_of(r) == "long") == 1
    # Now a replica dies with a message in flight: another sends it.
    b.stop()
    orphan = post_async(a, mail("orphan")).json["OutboxId"]
    deadline = time.monotonic() + 5
    while not any(tag_of(r) == "orphan" for r in standin.snapshot()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    a.kill()
    with ses.lock:
        ses.delay["orphan"] = 0
    c = start_proxy(redis_cfg(aof_redis, status_readers="any"))
    st = wait_status(c, orphan, {"sent"}, timeout=20)
    assert st["Attempts"] == 2, st


# The keys of the messages not finished (finish drops their 'b' and 's').
UNFINISHED = """
local out, cur = {}, '0'
repeat
  local r = redis.call('SCAN', cur, 'MATCH', ARGV[1], 'COUNT', 1000)
  cur = r[1]
  for _, k in ipairs(r[2]) do
    if redis.call('HEXISTS', k, 'b') == 1 then out[#out + 1] = k end
  end
until cur == '0'
return out
"""


@needs_redis
def test_kill_and_restart_redis(start_proxy, standin, aof_redis, tmp_path):
    ses = Ses(standin)
    ses.delay["*"] = 0.02
    cfg = redis_cfg(aof_redis, claim_after_ms=1000)
    cfg["throttle"]["send_rate"] = 200

    unfinished = []

    def between(k):
        # What the store holds as not finished once the proxy is dead (an
        # answer from Redis comes after its writes are fsync'd).
        unfinished.append(set(
            key.rsplit(":m:", 1)[1]
            for key in aof_redis.call("EVAL", UNFINISHED, "0", "*:outbox:m:*")))
        if k in (3, 7):   # Redis (the throttle's and the outbox's) fails over
            aof_redis.crash()
            time.sleep(0.3)
            aof_redis.start()

    accepted, procs = kill_run(lambda: start_proxy(cfg, check_exit=False), standin, 10, "rk",
                               between)
    assert len(accepted) >= 200, len(accepted)
    seen = wait_delivered(standin, accepted, "rk")
    dup = check_duplicates("Redis store", accepted, seen, procs, unfinished)
    assert dup <= 16 * 10, dup


@needs_redis
def test_redis_daily_quota_is_shared(start_proxy, standin, aof_redis):
    """Two replicas, a quota of 3 recipients left: together they send 3,
    not 3 each; the rest wait (HeldFor) until the quota grows."""
    ses = Ses(standin, max24=3, sent24=0)
    cfg = redis_cfg(aof_redis, quota_refresh_s=1, status_readers="any")
    a, b = start_proxy(cfg), start_proxy(cfg)
    wait_up(a)
    wait_up(b)
    wait_metric(a, 3, "ses_proxy_outbox_quota_left")
    wait_metric(b, 3, "ses_proxy_outbox_quota_left")
    ids = [post_async(a if i % 2 else b, mail("shared-%d" % i)).json["OutboxId"]
           for i in range(6)]
    time.sleep(2.5)
    states = [status(a, oid).json for oid in ids]
    assert sum(s["Status"] == "sent" for s in states) == 3, states
    assert all(s.get("HeldFor") == "DailyQuota" for s in states if s["Status"] == "queued")
    assert len(sends(standin)) == 3
    wait_metric(a, 3, "ses_proxy_outbox_quota_used", scope="account")
    with ses.lock:
        ses.max24 = 50
    for oid in ids:
        wait_status(a, oid, {"sent"})
    assert len(sends(standin)) == 6
