"""botocore's SigV4a (through awscrt) as the oracle for signer/sigv4a.c.

Both directions, over requests shaped like SES v2's multi-region calls:

* requests signed by botocore.crt.auth.CrtSigV4AsymAuth verify with the C
  code (sigv4a_cli verify, which rebuilds the canonical request with
  sigv4a_canonical_request and checks the signature with sigv4a_verify),
  and the canonical request the C code rebuilds is byte for byte the one
  tests/integ/sigv4a_verify.py builds;
* requests signed by the C code (sigv4a_cli sign, sigv4a_sign) verify with
  sigv4a_verify.py, which derives the key and checks the ECDSA signature in
  Python (python3-cryptography), independently of the C code.

sigv4a_verify.py itself is checked against the aws-c-auth vectors in
tests/data/sigv4/v4a (every complete case's canonical request, public key
and signed request) and against botocore, and it must refuse tampered
requests (a header, the body, the region set, the date, the token, the
signature) and the wrong credentials.

Run: SP_BUILD_DIR=build /usr/bin/python3 -m pytest -q tests/integ/test_sigv4a_oracle.py
The tests that need sigv4a_cli skip when SP_BUILD_DIR is not set or it was
not built.
"""

import datetime
import hashlib
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

botocore = pytest.importorskip("botocore")
pytest.importorskip("awscrt")
import botocore.auth  # noqa: E402,F401  (before botocore.crt.auth: import cycle)
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.crt.auth import CrtSigV4AsymAuth  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sigv4a_verify as sv  # noqa: E402

VECTORS = os.path.join(os.path.dirname(HERE), "data", "sigv4", "v4a")
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN//////////wEaCXVzLWVhc3Qt+token/value="
CREDS = Credentials(AKID, SECRET)
TEMP_CREDS = Credentials(AKID, SECRET, TOKEN)
HOST = "abcd1234.efgh.endpoints.email.amazonaws.com"
SEND_BODY = json.dumps({
    "FromEmailAddress": "sender@example.com",
    "Destination": {"ToAddresses": ["recipient@example.com"]},
    "Content": {"Simple": {"Subject": {"Data": "Hello"},
                           "Body": {"Text": {"Data": "Hello from ses-proxy"}}}},
    "EndpointId": "abcd1234.efgh",
}).encode("utf-8")

# (method, path and query as sent, body, extra headers)
REQUESTS = [
    ("POST", "/v2/email/outbound-emails", SEND_BODY,
     {"Content-Type": "application/json"}),
    ("POST", "/v2/email/outbound-bulk-emails", b"{}",
     {"Content-Type": "application/json", "X-Custom": "  a   b  "}),
    ("GET", "/v2/email/identities?PageSize=10&NextToken=a%2Fb%2Bc", b"", {}),
    ("GET", "/v2/email/identities/user%40example.com", b"", {}),
    ("PUT", "/v2/email/identities/example.com/dkim?b=2&a=1&a=0", b'{"SigningEnabled":true}',
     {"Content-Type": "application/json"}),
    ("DELETE", "/v2/email/contact-lists/list%20one/contacts/a%2Bb%40example.com", b"", {}),
]


# ---- helpers ----

def _cli():
    build = os.environ.get("SP_BUILD_DIR")
    if not build:
        pytest.skip("SP_BUILD_DIR is not set")
    for path in (os.path.join(build, "tests", "sigv4a_cli"), os.path.join(build, "sigv4a_cli")):
        if os.access(path, os.X_OK):
            return path
    pytest.skip("sigv4a_cli not built in %s" % build)


def _env(creds):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "AWS_ACCESS_KEY_ID": creds.access_key,
           "AWS_SECRET_ACCESS_KEY": creds.secret_key}
    if creds.token:
        env["AWS_SESSION_TOKEN"] = creds.token
    return env


def raw_request(method, target, headers, body):
    """The request as sigv4a_cli reads it: CRLF lines, then the body."""
    head = "%s %s HTTP/1.1\r\n" % (method, target)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers)
    return head.encode("utf-8") + b"\r\n" + body


def cli_sign(creds, method, target, headers, body, *args):
    """The headers sigv4a_cli adds, as (name, value) pairs."""
    proc = subprocess.run([_cli(), "sign"] + list(args),
                          input=raw_request(method, target, headers, body),
                          capture_output=True, env=_env(creds), timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    added = []
    for line in proc.stdout.decode().splitlines():
        name, _, value = line.partition(": ")
        added.append((name, value))
    return added


def cli_verify(creds, method, target, headers, body, *args):
    """(exit code, first stdout line, stderr) of sigv4a_cli verify."""
    proc = subprocess.run([_cli(), "verify"] + list(args),
                          input=raw_request(method, target, headers, body),
                          capture_output=True, env=_env(creds), timeout=30)
    return proc.returncode, proc.stdout.decode().strip(), proc.stderr.decode()


def botocore_sign(creds, method, target, body, headers, region_set="*"):
    """(target, headers as pairs, body) of a request CrtSigV4AsymAuth signed."""
    req = AWSRequest(method, "https://%s%s" % (HOST, target), data=body,
                     headers=dict(headers))
    CrtSigV4AsymAuth(creds, "ses", region_set).add_auth(req)
    prepared = req.prepare()
    url = urlsplit(prepared.url)
    sent = url.path + ("?" + url.query if url.query else "")
    return sent, list(prepared.headers.items()), prepared.body or b""


def py_verify(creds, method, target, headers, body, **kw):
    path, _, query = target.partition("?")
    return sv.verify_sigv4a(method, path, query, headers, body, creds, **kw)


def replace_header(headers, name, value):
    return [(k, value if k.lower() == name.lower() else v) for k, v in headers]


def header(headers, name):
    return next(v for k, v in headers if k.lower() == name.lower())


def other_digits(authorization):
    """The same Authorization with the signature's last byte changed."""
    return authorization[:-2] + ("11" if authorization[-2:] == "00" else "00")


def other_second(amz_date):
    """The same X-Amz-Date with another last digit of the seconds."""
    return amz_date[:-2] + ("1" if amz_date[-2] == "0" else "0") + "Z"


# ---- sigv4a_verify.py against the aws-c-auth vectors ----

def _complete_cases():
    return sorted(c for c in os.listdir(VECTORS)
                  if os.path.exists(os.path.join(VECTORS, c, "header-canonical-request.txt")))


def _read(case, name, mode="r"):
    with open(os.path.join(VECTORS, case, name), mode) as f:
        data = f.read()
    return data.replace(b"\r", b"") if mode == "rb" else data.replace("\r", "")


def _parse_signed_request(raw):
    """tests/data/sigv4/README.md's format: the target keeps raw spaces,
    folded lines continue a header, the body follows the first empty line."""
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest[:-len(" HTTP/1.1")]
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            name, value = headers.pop()
            headers.append((name, value + "\n" + line))
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return method, target, headers, body


def test_vectors_complete():
    assert len(_complete_cases()) == 38


def test_python_public_key_is_the_vectors():
    want = json.loads(_read("get-vanilla", "public-key.json"))
    assert sv.public_key_xy(AKID, SECRET) == (want["X"].lower(), want["Y"].lower())


@pytest.mark.parametrize("case", _complete_cases())
def test_python_verifier_on_vectors(case):
    ctx = json.loads(_read(case, "context.json"))
    cr_creds = ctx["credentials"]
    creds = Credentials(cr_creds["access_key_id"], cr_creds["secret_access_key"],
                        cr_creds.get("token"))
    method, target, headers, body = _parse_signed_request(
        _read(case, "header-signed-request.txt", "rb"))
    path, _, query = target.partition("?")
    when = datetime.datetime.strptime(ctx["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    signed = header(headers, "Authorization").split("SignedHeaders=")[1].split(",")[0].split(";")
    content_sha = [v for k, v in headers if k.lower() == "x-amz-content-sha256"]
    payload = content_sha[0] if content_sha else hashlib.sha256(
        body if ctx["sign_body"] else b"").hexdigest()
    assert sv.canonical_request(method, path, query, headers, signed, payload,
                                ctx["normalize"]) == _read(case, "header-canonical-request.txt")
    # Without sign_body aws-c-auth hashes "" even for a body (README).
    verdict = sv.verify_sigv4a(
        method, path, query, headers, body if ctx["sign_body"] else b"", creds,
        service=ctx["service"], region=ctx["region"], now=when,
        normalize=ctx["normalize"],
        token_must_be_signed=not ctx.get("omit_session_token", False))
    assert verdict is None
    assert sv.string_to_sign(header(headers, "X-Amz-Date"), "20150830/service/aws4_request",
                             _read(case, "header-canonical-request.txt")) == \
        _read(case, "header-string-to-sign.txt")


# ---- botocore -> C ----

@pytest.mark.parametrize("creds", [CREDS, TEMP_CREDS], ids=["plain", "token"])
@pytest.mark.parametrize("shape", range(len(REQUESTS)))
def test_botocore_signed_verifies_in_c(creds, shape):
    method, target, body, extra = REQUESTS[shape]
    sent, headers, body = botocore_sign(creds, method, target, body, extra.items())
    assert header(headers, "X-Amz-Region-Set") == "*"
    assert header(headers, "Authorization").startswith("AWS4-ECDSA-P256-SHA256 Credential=")
    rc, out, err = cli_verify(creds, method, sent, headers, body)
    assert (rc, out) == (0, "ok"), err
    # The C code rebuilt the same canonical request as the Python verifier.
    c_canonical = err.split("\n--\n")[0]
    path, _, query = sent.partition("?")
    signed = header(headers, "Authorization").split("SignedHeaders=")[1].split(",")[0].split(";")
    content_sha = [v for k, v in headers if k.lower() == "x-amz-content-sha256"]
    payload = content_sha[0] if content_sha else hashlib.sha256(body).hexdigest()
    assert c_canonical == sv.canonical_request(method, path, query, headers, signed, payload)
    # And the Python verifier accepts botocore's request too.
    assert py_verify(creds, method, sent, headers, body) is None


@pytest.mark.parametrize("region_set", ["us-east-1", "us-east-1,eu-west-1"])
def test_botocore_region_sets_verify_in_c(region_set):
    method, target, body, extra = REQUESTS[0]
    sent, headers, body = botocore_sign(CREDS, method, target, body, extra.items(), region_set)
    assert header(headers, "X-Amz-Region-Set") == region_set
    assert cli_verify(CREDS, method, sent, headers, body)[:2] == (0, "ok")
    assert py_verify(CREDS, method, sent, headers, body, region="us-east-1") is None


def test_c_refuses_tampered_botocore_requests():
    method, target, body, extra = REQUESTS[0]
    sent, headers, body = botocore_sign(TEMP_CREDS, method, target, body, extra.items())
    cases = {
        "body": (sent, headers, body + b" "),
        "content-type": (sent, replace_header(headers, "Content-Type", "text/plain"), body),
        "region set": (sent, replace_header(headers, "X-Amz-Region-Set", "us-east-1"), body),
        "date": (sent, replace_header(headers, "X-Amz-Date",
                                      other_second(header(headers, "X-Amz-Date"))), body),
        "path": (sent + "x", headers, body),
        "signature": (sent, replace_header(headers, "Authorization",
                                           other_digits(header(headers, "Authorization"))), body),
    }
    for what, (t, h, b) in cases.items():
        rc, out, _ = cli_verify(TEMP_CREDS, method, t, h, b)
        assert rc == 1 and out != "ok", what
    other = Credentials(AKID, SECRET[:-1] + "X", TOKEN)
    rc, out, _ = cli_verify(other, method, sent, headers, body)
    assert rc == 1 and out.startswith("SignatureDoesNotMatch"), out


# ---- C -> Python ----

SIGN_OPTIONS = [
    ((), CREDS),
    (("--sign-body",), CREDS),
    (("--sign-body",), TEMP_CREDS),
    (("--omit-token",), TEMP_CREDS),
    (("--region-set", "us-east-1,eu-west-1"), CREDS),
]


def _c_signed(creds, shape, *args):
    method, target, body, extra = REQUESTS[shape]
    headers = [("Host", HOST)] + list(extra.items())
    return method, target, headers + cli_sign(creds, method, target, headers, body, *args), body


@pytest.mark.parametrize("option", range(len(SIGN_OPTIONS)))
@pytest.mark.parametrize("shape", range(len(REQUESTS)))
def test_c_signed_verifies_in_python(shape, option):
    args, creds = SIGN_OPTIONS[option]
    method, target, headers, body = _c_signed(creds, shape, *args)
    auth = header(headers, "Authorization")
    assert auth.startswith("AWS4-ECDSA-P256-SHA256 Credential=%s/" % AKID)
    assert "/ses/aws4_request, SignedHeaders=" in auth
    assert py_verify(creds, method, target, headers, body,
                     token_must_be_signed="--omit-token" not in args) is None
    # The C verifier agrees (it signs once, verifies in a separate process).
    assert cli_verify(creds, method, target, headers, body)[:2] == (0, "ok")


def test_python_verifier_refuses_tampering():
    method, target, headers, body = _c_signed(TEMP_CREDS, 0, "--sign-body")
    assert py_verify(TEMP_CREDS, method, target, headers, body) is None
    date = header(headers, "X-Amz-Date")
    auth = header(headers, "Authorization")
    bad = {
        "a signed header": (target, replace_header(headers, "Content-Type", "text/plain"), body),
        "the body": (target, headers, body + b" "),
        "the region set": (target, replace_header(headers, "X-Amz-Region-Set", "us-east-1"), body),
        "the date": (target, replace_header(headers, "X-Amz-Date", other_second(date)), body),
        "the token": (target, replace_header(headers, "X-Amz-Security-Token", TOKEN + "x"), body),
        "the path": (target + "/x", headers, body),
        "the signature": (target, replace_header(headers, "Authorization", other_digits(auth)),
                          body),
        "an unsigned region set": (target, replace_header(
            headers, "Authorization", auth.replace(";x-amz-region-set", "")), body),
        "no signature": (target, [(k, v) for k, v in headers if k != "Authorization"], body),
    }
    for what, (t, h, b) in bad.items():
        verdict = py_verify(TEMP_CREDS, method, t, h, b)
        assert verdict is not None, what
    # The content hash check names the body; the others the signature.
    assert "x-amz-content-sha256" in py_verify(TEMP_CREDS, method, target, headers, body + b" ")
    # Without a signed content hash, a changed body breaks the signature.
    m2, t2, h2, b2 = _c_signed(CREDS, 0)
    assert py_verify(CREDS, m2, t2, h2, b2 + b" ") == "signature does not match"
    # Wrong credentials.
    assert py_verify(Credentials(AKID, SECRET[:-1] + "X", TOKEN), method, target, headers,
                     body) == "signature does not match"
    assert py_verify(Credentials("AKIAOTHER", SECRET, TOKEN), method, target, headers,
                     body) == "unknown access key id"
    assert py_verify(CREDS, method, target, headers, body) == \
        "security token is not the expected one"
    # The clock.
    late = datetime.datetime.strptime(date, sv.TIME_FORMAT) + datetime.timedelta(minutes=6)
    assert "from now" in py_verify(TEMP_CREDS, method, target, headers, body, now=late)


def test_python_region_set_coverage():
    method, target, headers, body = _c_signed(CREDS, 0, "--region-set", "us-*,eu-west-1")
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        assert py_verify(CREDS, method, target, headers, body, region=region) is None
    assert "does not cover" in py_verify(CREDS, method, target, headers, body,
                                         region="eu-central-1")


def test_signatures_are_fresh():
    """ECDSA with a random nonce: the same request signed twice at the same
    second gives two different signatures, both valid."""
    method, target, body, extra = REQUESTS[0]
    headers = [("Host", HOST)] + list(extra.items())
    a = cli_sign(CREDS, method, target, headers, body, "--time", "1714566896")
    b = cli_sign(CREDS, method, target, headers, body, "--time", "1714566896")
    assert header(a, "X-Amz-Date") == header(b, "X-Amz-Date") == "20240501T123456Z"
    assert header(a, "Authorization") != header(b, "Authorization")
    when = datetime.datetime(2024, 5, 1, 12, 34, 56)
    for added in (a, b):
        assert py_verify(CREDS, method, target, headers + added, body, now=when) is None
