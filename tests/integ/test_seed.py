"""The seed operation end to end: SetIdentityMailFromDomain.

JSON in, through validation, the Query serializer, the throttle and SigV4,
to a stand-in SES that checks the signature with botocore and the body
against botocore's serializer, and JSON (boto3's shape) back out. Plus the
proxy's own errors (DESIGN.md's table), upstream failures, secrets kept out
of the logs, and --check-config.

The first tests check the stand-in itself, without the proxy, so that a green
run cannot come from a stand-in that accepts anything.
"""

import datetime
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse

import pytest

import proxyproc
import standin_ses
from standin_ses import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN
from standin_ses import Credentials, Scripted

OP = "SetIdentityMailFromDomain"
PARAMS = {"Identity": "user@example.com",
          "MailFromDomain": "bounces.example.com",
          "BehaviorOnMXFailure": "UseDefaultValue"}
BODY = ("Action=SetIdentityMailFromDomain&Version=2010-12-01"
        "&Identity=user%40example.com&MailFromDomain=bounces.example.com"
        "&BehaviorOnMXFailure=UseDefaultValue")
BODY_NO_MAILFROM = ("Action=SetIdentityMailFromDomain&Version=2010-12-01"
                    "&Identity=user%40example.com"
                    "&BehaviorOnMXFailure=UseDefaultValue")
SCOPE_RE = re.compile(r"^(\d{8})/us-east-1/ses/aws4_request$")


def call_json(**extra):
    return dict({"Action": OP}, **PARAMS, **extra)


# --------------------------------------------------------------------------
# The stand-in on its own: botocore's signature passes, anything else fails.
# --------------------------------------------------------------------------

def _post_signed(standin, creds, body=BODY, region="us-east-1",
                 service="ses", amz_date=None, tamper=None):
    headers, data = standin_ses.sign_request(creds, region, standin.url + "/",
                                             body, amz_date, service)
    if tamper:
        headers, data = tamper(headers, data)
    return proxyproc.http_call("127.0.0.1", standin.port, data, "/", headers,
                               "POST", timeout=10)


def _xml_code(resp):
    m = re.search(rb"<Code>([^<]*)</Code>", resp.raw)
    return m.group(1).decode() if m else None


def test_standin_accepts_botocore_signature(standin, creds):
    r = _post_signed(standin, creds)
    assert r.status == 200, r
    rec = standin.last
    assert rec.auth.ok, rec.auth
    assert rec.request_id and rec.request_id.encode() in r.raw
    assert r.raw.startswith(b"<SetIdentityMailFromDomainResponse")
    assert b"<SetIdentityMailFromDomainResult/>" in r.raw


def test_standin_answers_ops_without_result_wrapper_without_result(standin, creds):
    r = _post_signed(standin, creds,
                     body="Action=VerifyEmailAddress&Version=2010-12-01"
                          "&EmailAddress=a%40example.com")
    assert r.status == 200, r
    assert b"Result" not in r.raw and b"<RequestId>" in r.raw


def test_standin_accepts_session_token(standin, creds_token):
    standin.credentials = creds_token
    r = _post_signed(standin, creds_token)
    assert r.status == 200, r
    assert "x-amz-security-token" in standin.last.auth.signed_headers


MISMATCH = (403, "SignatureDoesNotMatch")
REJECTS = {
    "tampered body": MISMATCH,
    "wrong secret": MISMATCH,
    "header changed after signing": MISMATCH,
    "wrong region": MISMATCH,
    "wrong service": MISMATCH,
    "expired": MISMATCH,
    "future": MISMATCH,
    "wrong key id": (403, "InvalidClientTokenId"),
    "token missing": (403, "InvalidClientTokenId"),
    "token unexpected": (403, "InvalidClientTokenId"),
    "no x-amz-date": (400, "IncompleteSignature"),
    "no authorization": (403, "MissingAuthenticationToken"),
}


@pytest.mark.parametrize("case", sorted(REJECTS))
def test_standin_rejects(standin, creds, creds_token, case):
    now = datetime.datetime.utcnow()
    kw = {}
    sign_creds = creds
    if case == "tampered body":
        kw["tamper"] = lambda h, d: (h, d.replace(b"bounces", b"bouncez"))
    elif case == "wrong secret":
        sign_creds = Credentials(ACCESS_KEY, SECRET_KEY[:-1] + "X")
    elif case == "wrong key id":
        sign_creds = Credentials("AKIDOTHER", SECRET_KEY)
    elif case == "wrong region":
        kw["region"] = "eu-west-1"
    elif case == "wrong service":
        kw["service"] = "email"
    elif case == "expired":
        kw["amz_date"] = (now - datetime.timedelta(minutes=6)).strftime("%Y%m%dT%H%M%SZ")
    elif case == "future":
        kw["amz_date"] = (now + datetime.timedelta(minutes=6)).strftime("%Y%m%dT%H%M%SZ")
    elif case == "no x-amz-date":
        kw["tamper"] = lambda h, d: ({k: v for k, v in h.items()
                                      if k.lower() != "x-amz-date"}, d)
    elif case == "no authorization":
        kw["tamper"] = lambda h, d: ({k: v for k, v in h.items()
                                      if k.lower() != "authorization"}, d)
    elif case == "token missing":
        standin.credentials = creds_token
    elif case == "token unexpected":
        sign_creds = creds_token
    elif case == "header changed after signing":
        kw["tamper"] = lambda h, d: (dict(h, **{"Content-Type": "text/plain"}), d)
    r = _post_signed(standin, sign_creds, **kw)
    assert (r.status, _xml_code(r)) == REJECTS[case], r
    assert not standin.last.auth.ok
    if case in ("tampered body", "wrong secret", "header changed after signing"):
        assert standin_ses.SIG_MISMATCH_MSG.encode() in r.raw


def test_standin_signs_at_a_chosen_time(standin, creds):
    """Signing 4 minutes ago still verifies: botocore signs at X-Amz-Date."""
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=4)
    r = _post_signed(standin, creds, amz_date=when.strftime("%Y%m%dT%H%M%SZ"))
    assert r.status == 200, r


def test_standin_compares_body_with_botocore(standin, creds):
    standin.expect(OP, PARAMS)
    assert standin_ses.botocore_body(OP, PARAMS) == BODY
    _post_signed(standin, creds)
    assert standin.mismatches == []
    _post_signed(standin, creds, body=BODY_NO_MAILFROM)
    assert len(standin.mismatches) == 1


def test_standin_scripted_answers(standin, creds):
    standin.push(Scripted.error("InvalidParameterValue", "bad domain"),
                 Scripted(200, b"not xml", content_type="text/plain"))
    r1, r2, r3 = (_post_signed(standin, creds) for _ in range(3))
    assert (r1.status, _xml_code(r1)) == (400, "InvalidParameterValue")
    assert (r2.status, r2.raw) == (200, b"not xml")
    assert r3.status == 200 and b"<RequestId>" in r3.raw


# --------------------------------------------------------------------------
# The proxy: success paths.
# --------------------------------------------------------------------------

def assert_forwarded(standin, resp, body=BODY, token=None):
    """One request reached SES, correctly signed and serialized, and the
    client got boto3's answer for it."""
    assert resp.status == 200, resp
    recs = standin.wait_for(1)
    assert len(recs) == 1, recs
    rec = recs[0]
    assert rec.auth.ok, (rec.auth, rec.auth.canonical_request)
    assert rec.method == "POST" and rec.path == "/", rec
    ctype = rec.header("Content-Type", "")
    assert re.match(r"^application/x-www-form-urlencoded\s*(;|$)", ctype), ctype
    assert rec.body.decode() == body
    m = SCOPE_RE.match(rec.auth.scope)
    assert m, rec.auth.scope
    assert m.group(1) == rec.header("X-Amz-Date")[:8]
    assert rec.auth.access_key == ACCESS_KEY
    for h in ("host", "x-amz-date", "content-type"):
        assert h in rec.auth.signed_headers, rec.auth.signed_headers
    assert rec.header("X-Amz-Security-Token") == token
    assert standin.mismatches == []
    assert resp.json == {"ResponseMetadata": {"RequestId": rec.request_id,
                                              "HTTPStatusCode": 200,
                                              "RetryAttempts": 0}}, resp
    ctype = resp.header("Content-Type", "")
    assert ctype.startswith("application/json"), ctype
    return rec


def test_success(proxy, standin):
    standin.expect(OP, PARAMS, strict_order=True)
    r = proxy.call(call_json())
    assert_forwarded(standin, r)


@pytest.mark.parametrize("path,body", [
    ("/SetIdentityMailFromDomain", PARAMS),
    ("/set_identity_mail_from_domain", PARAMS),
    ("/", dict(PARAMS, Action="set_identity_mail_from_domain")),
], ids=["path-ses-name", "path-boto3-name", "action-boto3-name"])
def test_success_other_spellings(proxy, standin, path, body):
    standin.expect(OP, PARAMS)
    r = proxy.call(body, path=path)
    assert_forwarded(standin, r)


@pytest.mark.parametrize("mail_from", ["absent", "null"])
def test_optional_member_absent_or_null_not_sent(proxy, standin, mail_from):
    body = call_json()
    if mail_from == "absent":
        del body["MailFromDomain"]
    else:
        body["MailFromDomain"] = None
    r = proxy.call(body)
    assert_forwarded(standin, r, body=BODY_NO_MAILFROM)


def test_session_token_sent_and_signed(start_proxy, standin, creds_token):
    standin.credentials = creds_token
    p = start_proxy(creds=creds_token)
    r = p.call(call_json())
    rec = assert_forwarded(standin, r, token=SESSION_TOKEN)
    assert "x-amz-security-token" in rec.auth.signed_headers


def test_credentials_from_config_file(start_proxy, standin):
    p = start_proxy(creds_via="config")
    assert "AWS_SECRET_ACCESS_KEY" not in p.env
    assert "AWS_ACCESS_KEY_ID" not in p.env
    r = p.call(call_json())
    assert_forwarded(standin, r)


def test_healthz(proxy):
    r = proxy.get("/healthz")
    assert r.status == 200, r


# --------------------------------------------------------------------------
# SES's errors come back as boto3 shapes them.
# --------------------------------------------------------------------------

def test_ses_error_passed_through(proxy, standin):
    msg = "Invalid MAIL FROM domain: bounces..example.com"
    standin.push(Scripted.error("InvalidParameterValue", msg, status=400))
    r = proxy.call(call_json())
    rec = standin.wait_for(1)[0]
    assert r.status == 400, r
    assert r.json == {
        "Error": {"Type": "Sender", "Code": "InvalidParameterValue",
                  "Message": msg},
        "ResponseMetadata": {"RequestId": rec.request_id,
                             "HTTPStatusCode": 400, "RetryAttempts": 0},
    }, r
    assert standin.count == 1   # a client error is not retried


def test_wrong_secret_is_refused_by_standin(start_proxy, standin):
    """Proves the stand-in's check is live: a wrong key must not pass."""
    p = start_proxy(creds=Credentials(ACCESS_KEY, "WRONG" + SECRET_KEY[5:]))
    r = p.call(call_json())
    assert r.status == 403, r
    assert r.error_code == "SignatureDoesNotMatch", r
    assert r.json["Error"]["Message"] == standin_ses.SIG_MISMATCH_MSG
    assert r.json["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert not standin.snapshot()[0].auth.ok


# --------------------------------------------------------------------------
# The proxy's own errors: nothing reaches SES.
# --------------------------------------------------------------------------

BAD_INPUTS = [
    # id, path, method, body, status, codes, names in the message
    ("not-json", "/", "POST", b"this is not json", 400, {"MalformedRequest"}, []),
    ("json-array", "/", "POST", b'[{"Action": "SetIdentityMailFromDomain"}]',
     400, {"MalformedRequest"}, []),
    ("json-string", "/", "POST", b'"SetIdentityMailFromDomain"', 400,
     {"MalformedRequest"}, []),
    ("json-number", "/", "POST", b"42", 400, {"MalformedRequest"}, []),
    ("truncated-json", "/", "POST", b'{"Action": "SetIdentityMailFromDomain",',
     400, {"MalformedRequest"}, []),
    ("invalid-utf8", "/", "POST",
     b'{"Action": "SetIdentityMailFromDomain", "Identity": "us\xffer@example.com",'
     b' "BehaviorOnMXFailure": "UseDefaultValue"}', 400, {"MalformedRequest"}, []),
    ("missing-identity", "/", "POST",
     {"Action": OP, "MailFromDomain": "bounces.example.com",
      "BehaviorOnMXFailure": "UseDefaultValue"}, 400, {"ValidationError"},
     ["Identity"]),
    ("identity-number", "/", "POST", dict(call_json(), Identity=5), 400,
     {"ValidationError"}, ["Identity"]),
    ("bad-enum", "/", "POST", dict(call_json(), BehaviorOnMXFailure="Sometimes"),
     400, {"ValidationError"}, ["BehaviorOnMXFailure"]),
    ("unknown-member", "/", "POST", dict(call_json(), Foo="bar"), 400,
     {"ValidationError"}, ["Foo"]),
    ("several-problems", "/", "POST",
     {"Action": OP, "MailFromDomain": 7, "BehaviorOnMXFailure": "Sometimes",
      "Foo": 1}, 400, {"ValidationError"},
     ["Identity", "MailFromDomain", "BehaviorOnMXFailure", "Foo"]),
    ("unknown-action", "/", "POST", {"Action": "NoSuchThing"}, 400,
     {"InvalidAction"}, []),
    ("unknown-action-path", "/NoSuchThing", "POST", PARAMS, 400,
     {"InvalidAction"}, []),
    ("no-action", "/", "POST", PARAMS, 400,
     {"InvalidAction", "MalformedRequest"}, []),
    ("too-large", "/", "POST",
     dict(call_json(), MailFromDomain="b" * 2000 + ".example.com"), 413,
     {"RequestEntityTooLarge"}, []),
    ("get-root", "/", "GET", None, None, None, []),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_rejected_locally(start_proxy, standin, case):
    _id, path, method, body, status, codes, names = case
    p = start_proxy({"limits": {"max_body_bytes": 1024}})
    headers = {"Content-Type": "application/json"} if isinstance(body, bytes) else None
    r = p.call(body, path=path, method=method, headers=headers)
    if status is None:
        assert 400 <= r.status < 500, r
    else:
        assert r.status == status, r
    assert isinstance(r.json, dict) and isinstance(r.json.get("Error"), dict), r
    err = r.json["Error"]
    assert isinstance(err.get("Code"), str) and err["Code"], r
    assert isinstance(err.get("Message"), str) and err["Message"], r
    if codes is not None:
        assert err["Code"] in codes, r
    for name in names:
        assert name in err["Message"], (name, err["Message"])
    meta = r.json.get("ResponseMetadata")
    assert isinstance(meta, dict) and meta.get("HTTPStatusCode") == r.status, r
    assert r.header("Content-Type", "").startswith("application/json"), r.headers
    assert standin.count == 0, standin.snapshot()
    # the proxy is still up and well after it
    assert p.get("/healthz").status == 200


# --------------------------------------------------------------------------
# Throttling: 1 call/s for the operation, a 2.5 s deadline.
# --------------------------------------------------------------------------

def test_throttle_spaces_calls_and_refuses_early(start_proxy, standin):
    p = start_proxy({"throttle": {"max_wait_ms": 2500,
                                  "operations": {"*": {"rate": 1, "burst": 1}}}})
    n = 6
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        barrier.wait()
        t0 = time.monotonic()
        r = p.call(call_json(), timeout=20)
        results[i] = (r, t0, time.monotonic())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results), results
    statuses = sorted(r.status for r, _, _ in results)
    assert set(statuses) <= {200, 429}, [r for r, _, _ in results]
    ok = [x for x in results if x[0].status == 200]
    refused = [x for x in results if x[0].status == 429]
    # at 1/s with a 2.5 s deadline: t=0, 1, 2 pass, t=3, 4, 5 cannot
    assert 2 <= len(ok) <= 4 and len(refused) >= 2, statuses
    for r, t0, t1 in refused:
        assert r.error_code == "Throttling", r
        ra = r.header("Retry-After")
        assert ra is not None and re.match(r"^\d+$", ra.strip()), r.headers
        assert t1 - t0 < 1.0, "429 after %.2fs, not at once" % (t1 - t0)
    recs = standin.wait_for(len(ok))
    assert len(recs) == len(ok)
    arrivals = sorted(rec.t_arrival for rec in recs)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(g >= 0.9 for g in gaps), gaps
    assert all(rec.auth.ok for rec in recs)


# --------------------------------------------------------------------------
# Upstream failures.
# --------------------------------------------------------------------------

def test_upstream_unreachable_is_502(start_proxy):
    closed = proxyproc.free_port()
    p = start_proxy(endpoint="http://127.0.0.1:%d" % closed)
    r = p.call(call_json(), timeout=60)
    assert r.status == 502, r
    assert r.error_code == "BadGateway", r


def test_upstream_garbage_is_502(start_proxy, standin):
    p = start_proxy()
    standin.push(*[Scripted(200, b"this is not XML at all",
                            content_type="text/plain")] * 3)
    r = p.call(call_json())
    assert r.status == 502, r
    assert r.error_code == "BadGateway", r
    assert standin.count >= 1


def test_upstream_stall_is_504(start_proxy, standin):
    p = start_proxy({"upstream": {"timeout_ms": 1000},
                     "retry": {"max_attempts": 1}})
    standin.push(Scripted.success(OP, delay=3.0))
    t0 = time.monotonic()
    r = p.call(call_json())
    elapsed = time.monotonic() - t0
    assert r.status == 504, r
    assert r.error_code == "GatewayTimeout", r
    assert 0.9 <= elapsed < 2.9, elapsed


# --------------------------------------------------------------------------
# Secrets never reach the logs.
# --------------------------------------------------------------------------

def _derived_keys(secret, date, region="us-east-1", service="ses"):
    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    k_date = h(("AWS4" + secret).encode(), date)
    k_region = h(k_date, region)
    k_service = h(k_region, service)
    k_signing = h(k_service, "aws4_request")
    return [k.hex() for k in (k_date, k_region, k_service, k_signing)]


def _spellings(s):
    return {s, urllib.parse.quote(s, safe=""), json.dumps(s)[1:-1],
            s.replace("/", "\\/")}


def test_secrets_never_logged(start_proxy, standin, creds, creds_token):
    wrong = "WRONG" + SECRET_KEY[5:]
    # the secret and a session token from the environment
    standin.credentials = creds_token
    p1 = start_proxy(creds=creds_token)
    assert p1.call(call_json()).status == 200
    standin.push(Scripted.error("InvalidParameterValue", "no"))
    assert p1.call(call_json()).status == 400
    assert p1.call({"Action": OP}).status == 400
    # the secret from a file
    standin.credentials = creds
    p2 = start_proxy(creds=creds, creds_via="config")
    assert p2.call(call_json()).status == 200
    # a secret SES refuses
    p3 = start_proxy(creds=Credentials(ACCESS_KEY, wrong))
    assert p3.call(call_json()).status == 403
    secrets = set()
    for s in (SECRET_KEY, wrong, SESSION_TOKEN):
        secrets |= _spellings(s)
    for rec in standin.snapshot():
        for s in (SECRET_KEY, wrong):
            secrets |= set(_derived_keys(s, rec.header("X-Amz-Date")[:8]))
    for proc in (p1, p2, p3):
        assert proc.stop() == 0
        out = proc.output
        assert out.strip(), "nothing logged at level debug"
        for s in secrets:
            assert s not in out, "secret %r found in the proxy's output" % s


# --------------------------------------------------------------------------
# --check-config
# --------------------------------------------------------------------------

DESIGN_EXAMPLE = {
    "listen": ["127.0.0.1:8080"],
    "region": "us-east-1",
    "endpoint": None,
    "credentials": {"source": "chain", "profile": None,
                    "access_key_id": None, "secret_access_key_file": None},
    "upstream": {"connect_timeout_ms": 3000, "timeout_ms": 30000,
                 "max_idle_connections": 64, "ca_file": None},
    "retry": {"max_attempts": 3},
    "throttle": {"backend": "local", "redis_url": None,
                 "max_wait_ms": 10000, "max_queue": 1000,
                 "send_rate": "auto",
                 "operations": {"*": {"rate": 1, "burst": 1}}},
    "policy": {"allow_clients": ["127.0.0.0/8", "::1/128"],
               "allow_actions": ["*"], "deny_actions": []},
    "limits": {"max_body_bytes": 16777216, "max_connections": 4096,
               "header_timeout_ms": 10000, "idle_timeout_ms": 60000},
    "log": {"level": "info", "format": "json"},
    "drain_timeout_ms": 20000,
}


@pytest.mark.parametrize("cfg", [DESIGN_EXAMPLE, proxyproc.DEFAULT_CONFIG, {}],
                         ids=["design-example", "harness-default", "empty"])
def test_check_config_good(proxy_bin, proxy_env, tmp_path, creds, cfg):
    f = tmp_path / "good.json"
    f.write_text(json.dumps(cfg, indent=2))
    r = proxyproc.run_binary(proxy_bin, ["--config", str(f), "--check-config"],
                             proxy_env(creds))
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("text,key,line", [
    ('{\n  "region": 5\n}\n', "region", None),
    ('{\n  "log": {"level": "info"},\n  "limits": {"max_body_bytes": "big"}\n}\n',
     "max_body_bytes", None),
    ('{\n  "region": "us-east-1",\n  "log": {"level": "info",,}\n}\n', None, 3),
], ids=["region-number", "nested-type", "json-syntax"])
def test_check_config_bad(proxy_bin, proxy_env, tmp_path, creds, text, key, line):
    f = tmp_path / "bad.json"
    f.write_text(text)
    r = proxyproc.run_binary(proxy_bin, ["--config", str(f), "--check-config"],
                             proxy_env(creds))
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0, (r.returncode, r.stdout, err)
    assert str(f) in err or f.name in err, err
    if key:
        assert key in err, err
    if line:
        assert re.search(r"(?<![0-9])%d(?![0-9])" % line, err), err
