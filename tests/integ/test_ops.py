"""Every SES operation end to end, JSON and SDK pass-through.

For each of the 71 operations, parameters generated from botocore's model
(sesgen: non-ASCII, reserved characters, shuffled member order) go through
the proxy to the stand-in SES, which checks that the form body is byte for
byte botocore's serialization and that the SigV4 signature verifies under
botocore. The stand-in answers XML generated from the output shape (xmlgen),
and the JSON the client gets must equal botocore's parse of that XML.
The same operations then go through boto3 itself, pointed at the proxy with
throwaway credentials: the proxy re-signs them with its own."""

import base64
import os
import re
import subprocess

import botocore.config
import pytest

import botocore_models
import sesgen
import xmlgen
from standin_ses import Scripted, botocore_body

MODEL = botocore_models.service_model("ses")
OPS = sorted(MODEL.operation_names)
SEEDS = (1, 2)


def strip_meta(j):
    j = dict(j)
    meta = dict(j.get("ResponseMetadata", {}))
    meta.pop("HTTPStatusCode", None)
    meta.pop("RetryAttempts", None)
    j["ResponseMetadata"] = meta
    return j


def answer_with(standin, op, seed):
    body = xmlgen.success_xml(MODEL, op, seed)
    standin.responder = lambda rec: Scripted(200, body)
    return body


def test_every_operation_json(proxy, standin):
    assert len(OPS) == 71
    ok = []
    for op in OPS:
        for seed in SEEDS:
            standin.clear()
            bc, js = sesgen.generate(MODEL, op, seed)
            standin.expect(op, bc, strict_order=True)
            body = answer_with(standin, op, seed)
            r = proxy.call(dict({"Action": op}, **js))
            assert r.status == 200, (op, seed, r)
            rec = standin.last
            assert rec.auth.ok, (op, rec.auth)
            assert standin.mismatches == [], (op, seed, standin.mismatches)
            want = xmlgen.expected_json(MODEL, op, body)
            assert xmlgen.canonical(strip_meta(r.json)) == xmlgen.canonical(want), (op, seed)
            assert r.json["ResponseMetadata"]["HTTPStatusCode"] == 200
        ok.append(op)
    print("\nJSON mode: %d/%d operations" % (len(ok), len(OPS)))
    assert len(ok) == 71


def test_every_operation_boto3_name_in_path(proxy, standin):
    # boto3's snake_case names work in the path too
    for op in OPS:
        standin.clear()
        bc, js = sesgen.generate(MODEL, op, 3)
        standin.expect(op, bc, strict_order=True)
        answer_with(standin, op, 3)
        name = botocore.xform_name(op)
        r = proxy.call(js, path="/" + name)
        assert r.status == 200, (op, r)
        assert standin.mismatches == [], (op, standin.mismatches)


def boto3_client(proxy, **kw):
    return botocore_models.boto3_session().client(
        "ses", region_name="us-east-1", endpoint_url="http://%s:%d" % (proxy.host, proxy.port),
        aws_access_key_id="AKIDTHROWAWAY", aws_secret_access_key="throwaway-secret",
        aws_session_token="throwaway-token",
        config=botocore.config.Config(retries={"max_attempts": 1}, **kw))


def test_every_operation_boto3_passthrough(proxy, standin):
    client = boto3_client(proxy)
    ok = 0
    for op in OPS:
        standin.clear()
        bc, _ = sesgen.generate(MODEL, op, 4)
        body = answer_with(standin, op, 4)
        got = getattr(client, botocore.xform_name(op))(**bc)
        rec = standin.last
        # the stand-in verified the proxy's signature, not the throwaway one
        assert rec.auth.ok and rec.auth.access_key != "AKIDTHROWAWAY", (op, rec.auth)
        assert rec.header("X-Amz-Security-Token") is None
        # the proxy read the SDK's form against the model and sent its own
        # serialization of it: byte for byte what boto3 wrote
        assert rec.body.decode() == botocore_body(op, bc), op
        want = xmlgen.botocore_parse(MODEL, op, body)
        got.pop("ResponseMetadata")
        want.pop("ResponseMetadata")
        assert got == want, op
        ok += 1
    print("\npass-through (boto3): %d/%d operations" % (ok, len(OPS)))
    assert ok == 71


def test_passthrough_errors_are_ses_xml(proxy, standin):
    client = boto3_client(proxy)
    # SES's own error reaches the SDK as SES sent it
    standin.push(Scripted.error("MessageRejected", "Email address is not verified."))
    with pytest.raises(client.exceptions.MessageRejected) as e:
        client.send_email(Source="a@example.com", Destination={"ToAddresses": ["b@example.com"]},
                          Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
    assert "not verified" in str(e.value)
    # the proxy's own error is XML an SDK parses
    n = standin.count
    http = __import__("http.client").client.HTTPConnection(proxy.host, proxy.port, timeout=10)
    http.request("POST", "/", body="Action=NoSuchThing&Version=2010-12-01",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = http.getresponse()
    text = resp.read().decode()
    assert resp.status == 400
    assert resp.getheader("Content-Type").startswith("text/xml")
    assert "<Code>InvalidAction</Code>" in text and "<ErrorResponse" in text
    assert standin.count == n


def test_passthrough_policy_applies(start_proxy, standin):
    p = start_proxy({"policy": {"deny_actions": ["Delete*"]}})
    client = boto3_client(p)
    with pytest.raises(client.exceptions.ClientError) as e:
        client.delete_identity(Identity="example.com")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert standin.count == 0
    client.list_identities()
    assert standin.count == 1


def test_aws_cli_passthrough(proxy, standin, tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "AWS_ACCESS_KEY_ID": "AKIDCLITHROWAWAY", "AWS_SECRET_ACCESS_KEY": "cli-throwaway",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "",
           "AWS_EC2_METADATA_DISABLED": "true"}
    url = "http://%s:%d" % (proxy.host, proxy.port)
    quota = ("<Max24HourSend>200.0</Max24HourSend><MaxSendRate>1.0</MaxSendRate>"
             "<SentLast24Hours>3.0</SentLast24Hours>")
    standin.push(Scripted.success("GetSendQuota", quota))
    out = subprocess.run(["aws", "ses", "get-send-quota", "--endpoint-url", url, "--output",
                          "json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"MaxSendRate": 1.0' in out.stdout
    standin.push(Scripted.success("SendEmail", "<MessageId>cli-msg-1</MessageId>"))
    out = subprocess.run(["aws", "ses", "send-email", "--endpoint-url", url,
                          "--from", "sender@example.com", "--to", "rcpt@example.com",
                          "--subject", "héllo & more", "--text", "body text"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "cli-msg-1" in out.stdout
    for rec in standin.snapshot():
        assert rec.auth.ok and rec.auth.access_key != "AKIDCLITHROWAWAY", rec.auth
    send = standin.last
    assert send.params["Message.Subject.Data"] == "héllo & more"


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1))


def test_large_raw_email(start_proxy, standin):
    # A 10 MB message through JSON and through boto3; the proxy's peak RSS
    # shows it holds only a few copies at once (base64 JSON ~13.4 MB in, a
    # percent-encoded form ~14 MB out).
    p = start_proxy({"limits": {"max_body_bytes": 32 * 1024 * 1024,
                                "max_inflight_bytes": 32 * 1024 * 1024}})
    before = vm_hwm_kb(p.proc.pid)
    msg = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n" +
           os.urandom(10 * 1024 * 1024))
    data = base64.b64encode(msg).decode()
    r = p.call({"Action": "SendRawEmail", "RawMessage": {"Data": data}}, timeout=120)
    assert r.status == 200, r
    rec = standin.last
    assert rec.auth.ok
    sent = rec.params["RawMessage.Data"]
    assert base64.b64decode(sent) == msg
    after_json = vm_hwm_kb(p.proc.pid)
    client = boto3_client(p)
    client.send_raw_email(RawMessage={"Data": msg})
    assert base64.b64decode(standin.last.params["RawMessage.Data"]) == msg
    after_sdk = vm_hwm_kb(p.proc.pid)
    report = ("peak RSS: start %.1f MB, after 10 MB JSON SendRawEmail %.1f MB, "
              "after 10 MB SDK SendRawEmail %.1f MB" % (before / 1024, after_json / 1024,
                                                         after_sdk / 1024))
    print("\n" + report)
    if os.environ.get("SP_BUILD_DIR"):
        with open(os.path.join(os.environ["SP_BUILD_DIR"], "large-message-rss.txt"), "w") as f:
            f.write(report + "\n")
    # a few copies of ~14 MB, not dozens (ASan's quarantine keeps freed
    # memory around, so the figure means nothing under the sanitizers)
    if os.environ.get("SP_SANITIZED") != "1":
        assert after_sdk - before < 100 * 1024, report


def test_body_over_limit_is_413_in_both_modes(start_proxy, standin):
    p = start_proxy({"limits": {"max_body_bytes": 4096}})
    r = p.call({"Action": "SendRawEmail", "RawMessage": {"Data": "QUJD" * 2000}})
    assert r.status == 413 and r.error_code == "RequestEntityTooLarge", r
    client = boto3_client(p)
    with pytest.raises(client.exceptions.ClientError) as e:
        client.send_raw_email(RawMessage={"Data": b"x" * 10000})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert standin.count == 0
