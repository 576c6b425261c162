"""The credential provider chain end to end.

For every provider, a proxy with no keys in its environment gets its
credentials from a stand-in (STS, the container endpoint, instance metadata,
the shared files, a credential_process) and signs with them: the SES
stand-in accepts a call only if its SigV4 signature verifies with a set the
provider handed out. Then: refresh before expiry without a failed call, an
endpoint that is down at start and comes up, a refresh that fails while the
old set still works, readiness and the expiry metric, and a grep of the
proxy's most verbose output for every secret and token it was given.

The first tests check the stand-ins alone, so that a green run cannot come
from a stand-in that accepts anything.
"""

import datetime
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.parsers
import botocore.session
import pytest

import proxyproc
from proxyproc import log_lines
import standin_creds
from standin_creds import Issuer, MultiCredsSES
from standin_ses import Credentials

OP_BODY = {"Action": "SetIdentityMailFromDomain", "Identity": "user@example.com",
           "MailFromDomain": "bounces.example.com"}
ROLE_ARN = "arn:aws:iam::123456789012:role/ses-proxy"
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.WEBIDENTITYTOKEN-c2VjcmV0.c2lnbmF0dXJl"
CONTAINER_TOKEN = "CONTAINERAUTHTOKEN-9f8e7d6c5b4a"
SOURCE = Credentials("AKIDSOURCEPROFILE", "SourceSecret/K7MDENG+bPxRfiCYSOURCE", None)

# A set that enters the proxy's 15-minute refresh window a few seconds
# after it is handed out.
SHORT = 900 + 3


# --------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------

@pytest.fixture
def issuer():
    return Issuer()


@pytest.fixture
def ses(issuer):
    s = MultiCredsSES([issuer]).start()
    yield s
    s.stop()


@pytest.fixture
def stopper():
    """Stand-ins to stop at teardown."""
    started = []
    yield started.append
    for s in started:
        s.stop()


def start(start_proxy, ses, env=None, config=None, ready=True):
    p = start_proxy(config=config, env=env or {}, creds_via="none", endpoint=ses.url)
    if ready:
        wait_ready(p)
    return p


def wait_ready(p, timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = p.get("/readyz")
        if last.status == 200:
            return last
        time.sleep(0.05)
    raise AssertionError("readyz never 200: %r\n%s" % (last, p.describe()))


def call_ok(p, ses, issuer):
    """One call through the proxy; it must be signed with a set `issuer` handed out."""
    n = ses.count
    r = p.call(OP_BODY)
    assert r.status == 200, (r, p.describe())
    rec = ses.wait_for(n + 1)[n]
    assert rec.auth.ok, rec.auth
    it = issuer.find(rec.auth.access_key)
    assert it is not None, "signed with a key no provider handed out: %s" % rec.auth.access_key
    assert rec.header("X-Amz-Security-Token") == it.creds.token
    return it


def write(path, text, mode=0o600):
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def loaded_events(p):
    return [e for e in log_lines(p) if e.get("msg") == "credentials loaded"]


def logged_reason(p, msg):
    """The reasons of the log lines `msg` so far, joined (the detail a
    client's answer leaves out)."""
    return " | ".join(e.get("reason", "") for e in log_lines(p) if e.get("msg") == msg)


def public_reason(p):
    """/readyz's reason, checked to name no endpoint, host or file: that is
    for the log only."""
    r = p.get("/readyz")
    reason = (r.json or {}).get("reason", "")
    assert not re.search(r"\d+\.\d+\.\d+\.\d+|localhost|amazonaws|https?:|/", reason), reason
    return r.status, reason


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def sts_env(sts):
    return {"AWS_ENDPOINT_URL_STS": sts.url}


# --------------------------------------------------------------------------
# The stand-ins alone
# --------------------------------------------------------------------------

def _http(url, method="GET", path="/", headers=None, body=None):
    u = urllib.parse.urlsplit(url)
    return proxyproc.http_call(u.hostname, u.port, body, path, headers, method, timeout=5)


def test_standin_imds_requires_v2_token(issuer, stopper):
    imds = standin_creds.StandinIMDS(issuer).start()
    stopper(imds)
    creds_path = imds.CREDS_PATH
    assert _http(imds.url, "GET", creds_path).status == 401          # IMDSv1
    assert _http(imds.url, "PUT", imds.TOKEN_PATH, body=b"").status == 400
    assert _http(imds.url, "PUT", imds.TOKEN_PATH, body=b"", headers={
        "X-aws-ec2-metadata-token-ttl-seconds": "99999"}).status == 400
    assert _http(imds.url, "PUT", imds.TOKEN_PATH, body=b"", headers={
        "X-aws-ec2-metadata-token-ttl-seconds": "60",
        "X-Forwarded-For": "1.2.3.4"}).status == 403
    r = _http(imds.url, "PUT", imds.TOKEN_PATH, body=b"",
              headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert r.status == 200
    tok = r.raw.decode()
    assert _http(imds.url, "GET", creds_path,
                 headers={"X-aws-ec2-metadata-token": "forged"}).status == 401
    r = _http(imds.url, "GET", creds_path, headers={"X-aws-ec2-metadata-token": tok})
    assert r.status == 200 and r.raw.decode() == imds.role
    r = _http(imds.url, "GET", creds_path + imds.role,
              headers={"X-aws-ec2-metadata-token": tok})
    assert r.status == 200 and r.json["Code"] == "Success"
    assert issuer.find(r.json["AccessKeyId"]).creds.token == r.json["Token"]


def test_standin_container_checks_token_file(issuer, stopper, tmp_path):
    tf = tmp_path / "token"
    write(tf, "first-token")
    c = standin_creds.StandinContainer(issuer, token_file=str(tf)).start()
    stopper(c)
    assert _http(c.url, "GET", c.path).status == 401
    assert _http(c.url, "GET", c.path, headers={"Authorization": "wrong"}).status == 401
    assert _http(c.url, "GET", c.path, headers={"Authorization": "first-token"}).status == 200
    write(tf, "second-token")             # rotated: the file is read again
    assert _http(c.url, "GET", c.path, headers={"Authorization": "first-token"}).status == 401
    r = _http(c.url, "GET", c.path, headers={"Authorization": "second-token"})
    assert r.status == 200 and set(r.json) >= {"AccessKeyId", "SecretAccessKey", "Token",
                                               "Expiration"}


def _sts_parse(action, raw):
    model = botocore.session.get_session().get_service_model("sts")
    return botocore.parsers.create_parser("query").parse(
        {"status_code": 200, "headers": {}, "body": raw},
        model.operation_model(action).output_shape)


def test_standin_sts_checks_token_and_signature(issuer, stopper):
    sts = standin_creds.StandinSTS(issuer, role_arn=ROLE_ARN, web_token=WEB_TOKEN).start()
    sts.roles["arn:aws:iam::1:role/r"] = (SOURCE, {"ExternalId": "ext"})
    stopper(sts)
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
            "RoleArn": ROLE_ARN, "RoleSessionName": "s1", "WebIdentityToken": "nope"}
    ct = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    r = _http(sts.url, "POST", "/", ct, urllib.parse.urlencode(form).encode())
    assert r.status == 400 and b"InvalidIdentityToken" in r.raw
    form["WebIdentityToken"] = WEB_TOKEN
    r = _http(sts.url, "POST", "/", ct, urllib.parse.urlencode(form).encode())
    assert r.status == 200
    # botocore reads the answer as STS's own
    parsed = _sts_parse("AssumeRoleWithWebIdentity", r.raw)
    akid = parsed["Credentials"]["AccessKeyId"]
    assert issuer.find(akid).creds.secret_key == parsed["Credentials"]["SecretAccessKey"]
    # AssumeRole: botocore's signature with the source keys passes, others fail
    body = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15",
                                   "RoleArn": "arn:aws:iam::1:role/r",
                                   "RoleSessionName": "s2", "ExternalId": "ext"})

    def signed(creds):
        req = botocore.awsrequest.AWSRequest("POST", sts.url + "/", data=body, headers=ct)
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(
            creds.access_key, creds.secret_key, creds.token), "sts", "us-east-1").add_auth(req)
        hdrs = dict(req.headers.items())
        hdrs["Host"] = "127.0.0.1:%d" % sts.port
        return _http(sts.url, "POST", "/", hdrs, body.encode())

    r = signed(Credentials(SOURCE.access_key, "wrong-secret"))
    assert r.status == 403 and b"SignatureDoesNotMatch" in r.raw
    r = signed(SOURCE)
    assert r.status == 200, r
    assert _sts_parse("AssumeRole", r.raw)["Credentials"]["SessionToken"]


def test_standin_ses_accepts_only_live_issued_sets(issuer, ses):
    import standin_ses
    good = issuer.issue("test")
    old = Issuer(lifetime=-10)
    ses.add_issuer(old)
    expired = old.issue("test")
    for creds, want in ((good.creds, 200), (expired.creds, 403),
                        (Credentials("ASIAUNKNOWN", "x", "y"), 403)):
        headers, data = standin_ses.sign_request(creds, "us-east-1", ses.url + "/",
                                                 "Action=GetSendQuota&Version=2010-12-01")
        r = proxyproc.http_call("127.0.0.1", ses.port, data, "/", headers, "POST")
        assert r.status == want, (creds, r)
    assert ses.expired_uses == 1


# --------------------------------------------------------------------------
# Each provider signs
# --------------------------------------------------------------------------

def test_static_config_and_env(start_proxy, ses, issuer, tmp_path):
    it = issuer.issue("test")
    secret = write(tmp_path / "secret", it.creds.secret_key + "\n")
    token = write(tmp_path / "token", it.creds.token + "\n")
    p = start(start_proxy, ses, config={"credentials": {
        "source": "static", "access_key_id": it.creds.access_key,
        "secret_access_key_file": secret, "session_token_file": token}})
    assert call_ok(p, ses, issuer) is it
    it2 = issuer.issue("test")
    p2 = start(start_proxy, ses, env={"AWS_ACCESS_KEY_ID": it2.creds.access_key,
                                      "AWS_SECRET_ACCESS_KEY": it2.creds.secret_key,
                                      "AWS_SESSION_TOKEN": it2.creds.token})
    assert call_ok(p2, ses, issuer) is it2
    assert loaded_events(p2)[0]["provider"] == "env"


def web_identity_proxy(start_proxy, ses, stopper, tmp_path, issuer, token=WEB_TOKEN,
                       file_name="token", **env):
    """A stand-in STS that takes the token in tmp_path/file_name, and a
    proxy that gets its credentials there by web identity. -> (p, sts, tf)"""
    tf = tmp_path / file_name
    write(tf, token)
    sts = standin_creds.StandinSTS(issuer, role_arn=ROLE_ARN, web_token_file=str(tf)).start()
    stopper(sts)
    p = start(start_proxy, ses, env=dict(sts_env(sts), AWS_WEB_IDENTITY_TOKEN_FILE=str(tf),
                                         AWS_ROLE_ARN=ROLE_ARN, **env))
    return p, sts, tf


def test_web_identity(start_proxy, ses, issuer, stopper, tmp_path):
    p, sts, _ = web_identity_proxy(start_proxy, ses, stopper, tmp_path, issuer,
                                   token=WEB_TOKEN + "\n", file_name="web-identity-token",
                                   AWS_ROLE_SESSION_NAME="ses-proxy-test")
    it = call_ok(p, ses, issuer)
    assert it.by == "sts:AssumeRoleWithWebIdentity"
    [(action, params, verdict)] = sts.calls
    assert verdict is None and params["RoleSessionName"] == "ses-proxy-test"
    ev = loaded_events(p)[-1]
    assert ev["provider"] == "web_identity"
    assert ev["expires"] == standin_creds.iso(it.expiration)
    assert ev["access_key_id"].startswith(it.access_key[:4]) and "*" in ev["access_key_id"]


def test_web_identity_token_file_reread_at_refresh(start_proxy, ses, stopper, tmp_path):
    issuer = Issuer(lifetime=SHORT)
    ses.add_issuer(issuer)
    p, sts, tf = web_identity_proxy(start_proxy, ses, stopper, tmp_path, issuer)
    first = call_ok(p, ses, issuer)
    write(tf, WEB_TOKEN + "-rotated")     # the kubelet rotates the token
    wait_until(lambda: issuer.count >= 2, 10, "a refresh with the rotated token")
    tokens = [params["WebIdentityToken"] for _, params, _ in sts.calls]
    assert tokens[0] == WEB_TOKEN and tokens[1] == WEB_TOKEN + "-rotated"
    assert all(v is None for _, _, v in sts.calls)
    wait_until(lambda: call_ok(p, ses, issuer) is not first, 5, "the new set in use")


def test_profile_static_keys(start_proxy, ses, issuer, tmp_path):
    it = issuer.issue("test")
    cf = write(tmp_path / "credentials",
               "[default]\naws_access_key_id = AKIDWRONGPROFILE\n"
               "aws_secret_access_key = wrong\n\n"
               "[ses]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
               "aws_session_token = %s\n" % (it.creds.access_key, it.creds.secret_key,
                                             it.creds.token))
    p = start(start_proxy, ses, env={"AWS_SHARED_CREDENTIALS_FILE": cf, "AWS_PROFILE": "ses"})
    assert call_ok(p, ses, issuer) is it
    assert loaded_events(p)[-1]["provider"] == "profile"
    # the same profile named by the config file's credentials.profile
    p2 = start(start_proxy, ses, env={"AWS_SHARED_CREDENTIALS_FILE": cf},
               config={"credentials": {"profile": "ses"}})
    assert call_ok(p2, ses, issuer) is it


def test_profile_files_found_without_home_env(start_proxy, ses, issuer, tmp_path):
    """~/.aws found from the password database when HOME is unset
    (aws-sigv4-proxy #266): only checks that an unset HOME is no crash and
    the chain says where it looked."""
    p = start(start_proxy, ses, ready=False,
              env={"HOME": None, "AWS_SHARED_CREDENTIALS_FILE": None, "AWS_CONFIG_FILE": None,
                   "AWS_PROFILE": "surely-not-a-profile-here"})
    status, reason = public_reason(p)
    assert status == 503 and "no credential source could be used" in reason, reason
    tried = logged_reason(p, "no credentials")
    assert "surely-not-a-profile-here" in tried and "/.aws/credentials" in tried, tried


def test_profile_credential_process(start_proxy, ses, issuer, tmp_path):
    it = issuer.issue("process", token=True)
    helper = tmp_path / "helper.py"
    write(helper, "import json, sys\n"
                  "assert sys.argv[1:] == ['--role', 'ses proxy'], sys.argv\n"
                  "print(json.dumps({'Version': 1, 'AccessKeyId': %r, 'SecretAccessKey': %r,\n"
                  "                  'SessionToken': %r, 'Expiration': %r}))\n"
          % (it.creds.access_key, it.creds.secret_key, it.creds.token,
             standin_creds.iso(it.expiration)), mode=0o700)
    cfg = write(tmp_path / "config",
                "[profile proc]\ncredential_process = /usr/bin/python3 %s --role 'ses proxy'\n"
                % helper)
    p = start(start_proxy, ses, env={"AWS_CONFIG_FILE": cfg, "AWS_PROFILE": "proc"})
    assert call_ok(p, ses, issuer) is it
    assert loaded_events(p)[-1]["provider"] == "process"


def test_profile_assume_role(start_proxy, ses, issuer, stopper, tmp_path):
    sts = standin_creds.StandinSTS(issuer).start()
    stopper(sts)
    role = "arn:aws:iam::123456789012:role/sender"
    sts.roles[role] = (SOURCE, {"ExternalId": "ext-1234", "DurationSeconds": "1800",
                                "RoleSessionName": "proxy-session"})
    cf = write(tmp_path / "credentials", "[base]\naws_access_key_id = %s\n"
               "aws_secret_access_key = %s\n" % (SOURCE.access_key, SOURCE.secret_key))
    cfg = write(tmp_path / "config",
                "[profile sender]\nrole_arn = %s\nsource_profile = base\n"
                "external_id = ext-1234\nduration_seconds = 1800\n"
                "role_session_name = proxy-session\n" % role)
    p = start(start_proxy, ses, env=dict(sts_env(sts), AWS_SHARED_CREDENTIALS_FILE=cf,
                                         AWS_CONFIG_FILE=cfg, AWS_PROFILE="sender"))
    it = call_ok(p, ses, issuer)
    assert it.by == "sts:AssumeRole"
    [(action, params, verdict)] = sts.calls
    assert action == "AssumeRole" and verdict is None
    assert loaded_events(p)[-1]["provider"] == "assume_role"


def test_profile_assume_role_bad_source_secret_is_refused(start_proxy, ses, issuer, stopper,
                                                          tmp_path):
    sts = standin_creds.StandinSTS(issuer).start()
    stopper(sts)
    sts.roles[ROLE_ARN] = (SOURCE, {})
    cfg = write(tmp_path / "config",
                "[profile r]\nrole_arn = %s\nsource_profile = r\n"
                "aws_access_key_id = %s\naws_secret_access_key = not-the-secret\n"
                % (ROLE_ARN, SOURCE.access_key))
    p = start(start_proxy, ses, ready=False,
              env=dict(sts_env(sts), AWS_CONFIG_FILE=cfg, AWS_PROFILE="r"))
    wait_until(lambda: len(sts.calls) >= 1, 10, "AssumeRole")
    wait_until(lambda: "SignatureDoesNotMatch" in logged_reason(p, "credentials fetch failed"),
               10, "the reason in the log")
    status, reason = public_reason(p)
    assert status == 503 and "provider failed" in reason and "Signature" not in reason, reason
    r = p.call(OP_BODY)
    assert r.status == 503 and r.error_code == "CredentialsUnavailable"
    assert issuer.count == 0


def test_container_full_uri_with_token_file(start_proxy, ses, stopper, tmp_path):
    issuer = Issuer(lifetime=SHORT)
    ses.add_issuer(issuer)
    tf = tmp_path / "eks-pod-identity-token"
    write(tf, CONTAINER_TOKEN)
    c = standin_creds.StandinContainer(issuer, path="/v1/credentials",
                                       token_file=str(tf)).start()
    stopper(c)
    p = start(start_proxy, ses, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.url + "/v1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(tf)})
    call_ok(p, ses, issuer)
    assert loaded_events(p)[-1]["provider"] == "container"
    # EKS rotates the token file: the next fetch reads it again
    write(tf, CONTAINER_TOKEN + "-rotated")
    wait_until(lambda: issuer.count >= 2, 10, "a refresh with the rotated token")
    assert c.tokens_seen[:2] == [CONTAINER_TOKEN, CONTAINER_TOKEN + "-rotated"]


def test_container_token_from_env(start_proxy, ses, issuer, stopper):
    c = standin_creds.StandinContainer(issuer, path="/creds", token=CONTAINER_TOKEN).start()
    stopper(c)
    p = start(start_proxy, ses, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://localhost:%d/creds" % c.port,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN})
    call_ok(p, ses, issuer)


def test_container_full_uri_host_not_allowed(start_proxy, ses):
    p = start(start_proxy, ses, ready=False, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.10/creds"})
    status, reason = public_reason(p)
    assert status == 503 and "192.0.2.10" not in reason, reason
    assert "192.0.2.10" in logged_reason(p, "no credentials")


def test_imds(start_proxy, ses, issuer, stopper):
    imds = standin_creds.StandinIMDS(issuer).start()
    stopper(imds)
    p = start(start_proxy, ses, env={"AWS_EC2_METADATA_DISABLED": None,
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url + "/"})
    it = call_ok(p, ses, issuer)
    assert it.by == "imds"
    reqs = imds.snapshot()
    assert [(r.method, r.status) for r in reqs] == [("PUT", 200), ("GET", 200), ("GET", 200)]
    assert all(r.header("X-aws-ec2-metadata-token") in imds.tokens for r in reqs[1:])
    assert loaded_events(p)[-1]["provider"] == "imds"


def test_imds_disabled_and_nothing_else(start_proxy, ses):
    p = start(start_proxy, ses, ready=False)
    status, reason = public_reason(p)
    assert status == 503 and "no credential source could be used" in reason, reason
    assert "AWS_EC2_METADATA_DISABLED" in logged_reason(p, "no credentials")
    r = p.call(OP_BODY)
    assert r.status == 503 and r.error_code == "CredentialsUnavailable"


def test_pinned_source_ignores_the_rest(start_proxy, ses, issuer, stopper):
    """credentials.source "imds" skips keys in the environment."""
    imds = standin_creds.StandinIMDS(issuer).start()
    stopper(imds)
    p = start(start_proxy, ses, config={"credentials": {"source": "imds"}},
              env={"AWS_EC2_METADATA_DISABLED": None,
                   "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                   "AWS_ACCESS_KEY_ID": "AKIDNOTTHISONE", "AWS_SECRET_ACCESS_KEY": "x"})
    assert call_ok(p, ses, issuer).by == "imds"


# --------------------------------------------------------------------------
# Refresh, failure, readiness
# --------------------------------------------------------------------------

def test_refresh_before_expiry_without_failed_calls(start_proxy, ses, stopper, tmp_path):
    issuer = Issuer(lifetime=SHORT)
    ses.add_issuer(issuer)
    p, _, _ = web_identity_proxy(start_proxy, ses, stopper, tmp_path, issuer)
    results = []
    stop = threading.Event()

    def caller():
        while not stop.is_set():
            results.append(p.call(OP_BODY).status)

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: issuer.count >= 4, 20, "three refreshes")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert results and all(s == 200 for s in results), sorted(set(results))
    keys = ses.used_keys()
    assert len(set(keys)) >= 3, "calls did not move to the new sets"
    assert ses.expired_uses == 0
    # each set was replaced before it expired: before its 15-minute window
    # plus at most a few seconds of scheduling, never after expiry
    events = loaded_events(p)
    assert len(events) >= 4
    exps = [datetime.datetime.strptime(e["expires"], "%Y-%m-%dT%H:%M:%SZ") for e in events]
    for e, nxt in zip(events, events[1:]):
        t_next = datetime.datetime.strptime(nxt["time"][:19], "%Y-%m-%dT%H:%M:%S")
        exp = datetime.datetime.strptime(e["expires"], "%Y-%m-%dT%H:%M:%SZ")
        assert (exp - t_next).total_seconds() >= 895, (e, nxt)
    assert exps == sorted(exps)


def test_endpoint_down_at_start_then_up(start_proxy, ses, issuer, stopper):
    c = standin_creds.StandinContainer(issuer, path="/creds", token=CONTAINER_TOKEN)
    p = start(start_proxy, ses, ready=False, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN})
    wait_until(lambda: "cannot connect" in logged_reason(p, "credentials fetch failed"),
               10, "the log to say the endpoint is down")
    assert "127.0.0.1:%d" % c.port in logged_reason(p, "credentials fetch failed")
    status, reason = public_reason(p)
    assert status == 503 and "the container provider failed" in reason, reason
    r = p.call(OP_BODY)
    assert r.status == 503 and r.error_code == "CredentialsUnavailable", r
    assert "127.0.0.1" not in r.error_message and str(c.port) not in r.error_message, r
    assert ses.count == 0
    c.start()
    stopper(c)
    wait_ready(p, timeout=20)
    call_ok(p, ses, issuer)
    assert any(e.get("msg") == "credentials fetch failed" for e in log_lines(p))


def test_refresh_failure_keeps_old_credentials(start_proxy, ses, stopper):
    issuer = Issuer(lifetime=SHORT)
    ses.add_issuer(issuer)
    c = standin_creds.StandinContainer(issuer, path="/creds", token=CONTAINER_TOKEN).start()
    stopper(c)
    p = start(start_proxy, ses, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN})
    first = call_ok(p, ses, issuer)
    c.fail_status = 503
    wait_until(lambda: c.count(lambda r: r.status == 503) >= 2, 15, "failed refreshes")
    # the old set still works, and readyz says ready
    assert call_ok(p, ses, issuer) is first
    assert p.get("/readyz").status == 200
    warn = [e for e in log_lines(p) if e.get("msg", "").startswith("credentials refresh failed")]
    assert warn and "HTTP 503" in warn[0]["reason"]
    c.fail_status = None
    wait_until(lambda: issuer.count >= 2, 20, "a refresh once the endpoint recovers")
    wait_until(lambda: call_ok(p, ses, issuer) is not first, 5, "the new set in use")


def test_calls_wait_for_the_first_credentials(start_proxy, ses, issuer, stopper):
    """A call that arrives while the first fetch is in flight waits for it
    (needs request.c to use creds_store_wait)."""
    c = standin_creds.StandinContainer(issuer, path="/creds", token=CONTAINER_TOKEN).start()
    c.delay = 1.0
    stopper(c)
    p = start(start_proxy, ses, ready=False, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN})
    status, reason = public_reason(p)
    assert status == 503 and "waiting" in reason, reason
    call_ok(p, ses, issuer)


def test_readyz_and_expiry_metric(start_proxy, ses, issuer, stopper):
    c = standin_creds.StandinContainer(issuer, path="/creds", token=CONTAINER_TOKEN).start()
    stopper(c)
    p = start(start_proxy, ses, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN})
    assert p.get("/readyz").status == 200
    it = issuer.last()
    m = p.get("/metrics").raw.decode()
    got = re.search(r"^ses_proxy_credentials_expiry_timestamp_seconds (\S+)$", m, re.M)
    assert got, m
    assert float(got.group(1)) == it.expiration.timestamp()


# --------------------------------------------------------------------------
# Secrets never reach the output
# --------------------------------------------------------------------------

def _derived_keys(secret, date, region="us-east-1", service="ses"):
    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    k = h(("AWS4" + secret).encode(), date)
    out = [k]
    for part in (region, service, "aws4_request"):
        k = h(k, part)
        out.append(k)
    return [x.hex() for x in out]


def _spellings(s):
    return {s, urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s),
            json.dumps(s)[1:-1], s.replace("/", "\\/")}


def test_secrets_never_logged(start_proxy, ses, stopper, tmp_path):
    issuer = Issuer(lifetime=SHORT)
    ses.add_issuer(issuer)
    procs = []
    # web identity (and a refresh)
    tf = tmp_path / "wi-token"
    write(tf, WEB_TOKEN)
    sts = standin_creds.StandinSTS(issuer, role_arn=ROLE_ARN, web_token_file=str(tf)).start()
    stopper(sts)
    procs.append(start(start_proxy, ses, env=dict(
        sts_env(sts), AWS_WEB_IDENTITY_TOKEN_FILE=str(tf), AWS_ROLE_ARN=ROLE_ARN)))
    # container with a token file; IMDS
    ctf = tmp_path / "ctoken"
    write(ctf, CONTAINER_TOKEN)
    c = standin_creds.StandinContainer(issuer, path="/creds", token_file=str(ctf)).start()
    stopper(c)
    procs.append(start(start_proxy, ses, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.url + "/creds",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(ctf)}))
    imds = standin_creds.StandinIMDS(issuer).start()
    stopper(imds)
    procs.append(start(start_proxy, ses, env={
        "AWS_EC2_METADATA_DISABLED": None, "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}))
    # assume role from a profile's keys, then a credential_process
    sts.roles[ROLE_ARN] = (SOURCE, {})
    cfg = write(tmp_path / "config",
                "[profile r]\nrole_arn = %s\nsource_profile = base\n"
                "[profile base]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                % (ROLE_ARN, SOURCE.access_key, SOURCE.secret_key))
    procs.append(start(start_proxy, ses, env=dict(sts_env(sts), AWS_CONFIG_FILE=cfg,
                                                  AWS_PROFILE="r")))
    pit = issuer.issue("process")
    helper = write(tmp_path / "helper.sh",
                   "#!/bin/sh\nprintf '%%s' '{\"Version\":1,\"AccessKeyId\":\"%s\","
                   "\"SecretAccessKey\":\"%s\",\"SessionToken\":\"%s\"}'\n"
                   % (pit.creds.access_key, pit.creds.secret_key, pit.creds.token), mode=0o700)
    pcfg = write(tmp_path / "pconfig", "[default]\ncredential_process = %s\n" % helper)
    procs.append(start(start_proxy, ses, env={"AWS_CONFIG_FILE": pcfg}))
    # a source profile STS refuses, and a web identity token STS refuses
    bad = write(tmp_path / "badconfig",
                "[profile r]\nrole_arn = %s\nsource_profile = r\n"
                "aws_access_key_id = %s\naws_secret_access_key = WRONG%s\n"
                % (ROLE_ARN, SOURCE.access_key, SOURCE.secret_key))
    procs.append(start(start_proxy, ses, ready=False, env=dict(
        sts_env(sts), AWS_CONFIG_FILE=bad, AWS_PROFILE="r")))
    btf = tmp_path / "bad-wi-token"
    write(btf, WEB_TOKEN + "-REFUSED")
    procs.append(start(start_proxy, ses, ready=False, env=dict(
        sts_env(sts), AWS_WEB_IDENTITY_TOKEN_FILE=str(btf), AWS_ROLE_ARN=ROLE_ARN)))

    for p in procs[:5]:
        call_ok(p, ses, issuer)
    wait_until(lambda: issuer.count >= 8, 15, "refreshes")   # SHORT sets refresh
    wait_until(lambda: sum(1 for _, _, v in sts.calls if v is not None) >= 2, 10,
               "the refused STS calls")

    secrets = set()
    for s in issuer.secrets() + [WEB_TOKEN, WEB_TOKEN + "-REFUSED", CONTAINER_TOKEN,
                                 SOURCE.secret_key, "WRONG" + SOURCE.secret_key] + \
            imds.tokens_issued():
        secrets |= _spellings(s)
    today = datetime.datetime.utcnow().strftime("%Y%m%d")
    for s in issuer.secrets()[::2] + [SOURCE.secret_key]:
        secrets |= set(_derived_keys(s, today))
        secrets |= set(_derived_keys(s, today, service="sts"))
    for p in procs:
        assert p.stop() == 0
        out = p.output
        assert '"level":"debug"' in out, "not at the most verbose level"
        for s in secrets:
            assert s not in out, "secret %r found in the proxy's output:\n%s" % (s, out)
