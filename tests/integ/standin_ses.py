"""A stand-in for Amazon SES on loopback: the Query API (2010-12-01), and
SES v2 (REST-JSON, 2019-09-27) for paths under /v2/.

It checks what the real SES would check before it answers, so that a test
passing against it means the proxy's request would pass against SES:

* SigV4: the signature is recomputed with botocore (SigV4Auth, service "ses")
  over the headers the request names in SignedHeaders, at the request's own
  X-Amz-Date; the access key, session token, credential scope (date, region,
  service, terminator) and clock skew (5 minutes) are checked too. A failure
  is answered the way SES answers it (403 ErrorResponse, SES's codes and
  message texts).
* the form body: when a test sets expected parameters, the body is compared
  with botocore's query serializer for the same operation and parameters.

Every request is recorded (method, path, headers, body, monotonic arrival
time, the verdict) for the test to read. Answers are SES-shaped success XML
for the body's Action by default, or scripted by the test (status, body,
delay, or hanging up).

SES v2 (standin_v2.py holds the pure parts): a request whose path starts
with /v2/ is routed by method and URI template to its operation in the
newest sesv2 model, its signature verified (SigV4 for service "ses" and the
stand-in's region, or SigV4a, AWS4-ECDSA-P256-SHA256, through
sigv4a_verify.py, its region set "*" by default: v2_region_set), and it is
read back into the parameters botocore would have been given to send it.
The record (Recorded.v2, a standin_v2.V2Request) holds the operation, those
parameters and whether the request is byte for byte botocore's own
serialization of them (method, path, query, body, a Content-Type exactly
when botocore sends one). Refusals are SES v2's errors (x-amzn-ErrorType,
{"message"}, application/json). By default the answer is a random valid one
for the operation's output shape (sesv2gen); SendEmail and SendBulkEmail
are accepted into .sent (standin_v2.SentMessage, with MessageIds). A test
scripts v2 answers with Scripted.v2, v2_success, v2_error and friends, and
compares the proxy's JSON with v2_expected_json(record).

Only the standard library and botocore (Debian's python3-botocore, run with
/usr/bin/python3) are used, and for SES v2 python3-cryptography too. The
server listens on 127.0.0.1 only.
"""

import collections
import copy
import datetime
import hashlib
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.serialize
import botocore.utils

import botocore_models
import standin_v2

SES_XMLNS = "http://ses.amazonaws.com/doc/2010-12-01/"
SES_SIGNING_NAME = "ses"
MAX_SKEW_S = 300
SIG_MISMATCH_MSG = (
    "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. Consult "
    "the service documentation for details."
)
INVALID_TOKEN_MSG = "The security token included in the request is invalid."

# The test credentials: AWS documentation's example keys, obviously fake and
# unusual enough that grepping the proxy's logs for them finds real leaks only.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN//////////wEaCXVzLWVhc3Qt"
                 "MSJHMEUCIQDexample+token/value=")

Credentials = collections.namedtuple("Credentials", "access_key secret_key token")
Credentials.__new__.__defaults__ = (None,)

_model_lock = threading.Lock()
_model = None


def ses_model():
    """botocore's SES service model (loaded once)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = botocore_models.service_model("ses")
        return _model


def operation_model(name):
    return ses_model().operation_model(name)


def botocore_body(op_name, params):
    """The form body boto3 puts on the wire (str): the query serializer's
    dict, urlencoded as botocore's AWSRequest prepares it (a space as '+')."""
    ser = botocore.serialize.create_serializer("query")
    req = ser.serialize_to_request(params, operation_model(op_name))
    return botocore.awsrequest.AWSRequest(
        method="POST", url="https://email.us-east-1.amazonaws.com/",
        data=req["body"]).prepare().body


def form_pairs(body):
    """A form body split into raw (still percent-encoded) key/value pairs."""
    if isinstance(body, bytes):
        body = body.decode("latin-1")
    if not body:
        return []
    return [tuple(p.partition("=")[::2]) for p in body.split("&")]


def form_params(body):
    """A form body decoded into a dict (last value wins)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


def header_value(headers, name, default=None):
    """The first value of header name (any case) in a list of (name, value)."""
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return default


def ses_error_xml(code, message, err_type="Sender", request_id=None):
    """SES's ErrorResponse document (RequestId is a sibling of Error)."""
    request_id = request_id or str(uuid.uuid4())
    return (
        '<ErrorResponse xmlns="%s">\n'
        "  <Error>\n"
        "    <Type>%s</Type>\n"
        "    <Code>%s</Code>\n"
        "    <Message>%s</Message>\n"
        "  </Error>\n"
        "  <RequestId>%s</RequestId>\n"
        "</ErrorResponse>\n"
        % (SES_XMLNS, _xml_escape(err_type), _xml_escape(code),
           _xml_escape(message), request_id)
    ).encode()


def ses_success_xml(action, result_xml="", request_id=None):
    """SES's success document for an action.

    result_xml is the inner XML of <{Action}Result>; operations whose model
    has no result wrapper (no output shape) get no Result element.
    """
    request_id = request_id or str(uuid.uuid4())
    wrapper = None
    try:
        out = operation_model(action).output_shape
        if out is not None:
            wrapper = out.serialization.get("resultWrapper")
    except Exception:  # unknown action: answer with a wrapper anyway
        wrapper = action + "Result"
    if wrapper is None:
        result = ""
    elif result_xml:
        result = "  <%s>%s</%s>\n" % (wrapper, result_xml, wrapper)
    else:
        result = "  <%s/>\n" % wrapper
    return (
        '<%sResponse xmlns="%s">\n%s'
        "  <ResponseMetadata>\n"
        "    <RequestId>%s</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</%sResponse>\n" % (action, SES_XMLNS, result, request_id, action)
    ).encode()


def _xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


class Scripted:
    """One scripted answer.

    status/body/headers: what to send (body bytes or str).
    delay: seconds to wait before answering (the stand-in's stop cuts it short).
    action: "respond" (default), "close" (hang up without answering, after
    the delay), or "half" (send the status line and headers, then hang up).
    request_id: put into x-amzn-RequestId; taken from the body when it holds
    a <RequestId> and this is None.
    """

    def __init__(self, status=200, body=b"", headers=None, delay=0.0,
                 action="respond", content_type="text/xml", request_id=None):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.delay = delay
        self.action = action
        self.content_type = content_type
        if request_id is None:
            m = re.search(rb"<RequestId>([^<]*)</RequestId>", self.body or b"")
            request_id = m.group(1).decode() if m else None
        self.request_id = request_id

    @classmethod
    def error(cls, code, message, status=400, err_type="Sender", **kw):
        rid = kw.pop("request_id", None) or str(uuid.uuid4())
        return cls(status, ses_error_xml(code, message, err_type, rid),
                   request_id=rid, **kw)

    @classmethod
    def throttling(cls, message="Rate exceeded", **kw):
        return cls.error("Throttling", message, status=400, **kw)

    @classmethod
    def success(cls, action, result_xml="", **kw):
        rid = kw.pop("request_id", None) or str(uuid.uuid4())
        return cls(200, ses_success_xml(action, result_xml, rid),
                   request_id=rid, **kw)

    # -- SES v2 (REST-JSON) ------------------------------------------------
    @classmethod
    def v2(cls, status=200, body=b"", headers=None, content_type=standin_v2.JSON_TYPE,
           request_id=None, **kw):
        """An SES v2 answer as given: body bytes or str, or a dict or list
        sent as JSON. An x-amzn-RequestId in headers becomes request_id."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        headers = dict(headers or {})
        for k in list(headers):
            if k.lower() == "x-amzn-requestid":
                request_id = request_id or headers.pop(k)
        return cls(status, body, headers=headers, content_type=content_type,
                   request_id=request_id or str(uuid.uuid4()), **kw)

    @classmethod
    def v2_success(cls, result=None, status=200, **kw):
        """A success whose JSON body is result (default {})."""
        return cls.v2(status, json.dumps({} if result is None else result), **kw)

    @classmethod
    def v2_error(cls, code, message=None, status=None, suffix="", **kw):
        """SES v2's error: x-amzn-ErrorType code (+ suffix, e.g.
        standin_v2.CORAL_SUFFIX), body {"message": message}; status and
        message default to the model's for a modelled code (400 and the
        code otherwise)."""
        model = standin_v2.service_model()
        if status is None:
            status = standin_v2.error_status(model, code)
        if message is None:
            message = standin_v2.error_doc(model, code) or code
        status, fields, body = standin_v2.error_answer(code, message, status, suffix)
        headers = dict(fields)
        headers.update(kw.pop("headers", None) or {})
        return cls.v2(status, body, headers=headers, **kw)

    @classmethod
    def v2_throttling(cls, message="Maximum sending rate exceeded.", **kw):
        """429 TooManyRequestsException, SES v2's rate limit."""
        return cls.v2_error("TooManyRequestsException", message, 429, **kw)

    @classmethod
    def v2_daily_quota(cls, message="Daily message quota exceeded.",
                       code="TooManyRequestsException", **kw):
        """The daily sending quota spent: v1's Throttling text under v2's
        rate-limit code (LimitExceededException with code=...)."""
        return cls.v2_error(code, message, **kw)

    @classmethod
    def v2_sending_paused(cls, message=None, **kw):
        """400 SendingPausedException (the account's sending is paused)."""
        return cls.v2_error("SendingPausedException", message, **kw)

    @classmethod
    def v2_server_error(cls, status=500, **kw):
        """A bare 5xx: empty body, no Content-Type, no x-amzn-ErrorType."""
        kw.setdefault("content_type", None)
        return cls.v2(status, b"", **kw)

    def sent_headers(self):
        """The header fields sent with this answer, as (name, value) in
        order (Content-Length aside)."""
        out = [("x-amzn-RequestId", self.request_id)] if self.request_id else []
        if self.content_type:
            out.append(("Content-Type", self.content_type))
        return out + list(self.headers.items())


class AuthResult:
    """The verdict on one request's SigV4 signature."""

    def __init__(self):
        self.ok = False
        self.status = 403
        self.code = None
        self.message = None
        self.access_key = None
        self.scope = None            # "<date>/<region>/<service>/aws4_request"
        self.signed_headers = None   # list, as the request named them
        self.signature = None        # as the request sent it
        self.expected_signature = None
        self.canonical_request = None
        self.string_to_sign = None
        self.algorithm = "AWS4-HMAC-SHA256"
        self.region_set = None       # SigV4a's X-Amz-Region-Set
        self.detail = None           # why a SigV4a signature was refused

    def fail(self, code, message, status=403):
        self.ok = False
        self.code, self.message, self.status = code, message, status
        return self

    def __repr__(self):
        if self.ok:
            return "<AuthResult ok scope=%s signed=%s>" % (
                self.scope, ";".join(self.signed_headers or []))
        return "<AuthResult %s %s: %s>" % (self.status, self.code, self.message)


class _ExactHeadersSigV4(botocore.auth.SigV4Auth):
    """botocore's SigV4 over exactly the headers the request says it signed.

    botocore's own headers_to_sign() drops a blacklist (user-agent, ...) and
    adds Host; SES instead canonicalises what SignedHeaders names, so this
    override does that and leaves everything else (canonical URI, query,
    header trimming, payload hash, string to sign, key derivation) to botocore.
    """

    def __init__(self, credentials, service, region, header_map):
        super().__init__(credentials, service, region)
        self._header_map = header_map

    def headers_to_sign(self, request):
        return self._header_map


def _fmt_ts(dt):
    return dt.strftime(botocore.auth.SIGV4_TIMESTAMP)


def verify_sigv4(method, path, headers, body, creds, region,
                 service=SES_SIGNING_NAME, now=None, max_skew_s=MAX_SKEW_S,
                 require_signed=("host", "x-amz-date")):
    """Check a request's SigV4 Authorization header the way SES does.

    headers: list of (name, value) in arrival order. creds: Credentials the
    server expects. now: a UTC datetime (default: the wall clock).
    Returns an AuthResult.
    """
    res = AuthResult()
    hdrs = collections.OrderedDict()
    for name, value in headers:
        hdrs.setdefault(name.lower(), []).append(value)

    def one(name):
        vals = hdrs.get(name)
        return vals[0] if vals else None

    auth = one("authorization")
    if not auth:
        return res.fail("MissingAuthenticationToken",
                        "Request is missing Authentication Token")
    algo, _, rest = auth.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        return res.fail("IncompleteSignature",
                        "Unsupported AWS 'algorithm': '%s'" % algo, 400)
    parts = {}
    for item in rest.split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(k):
            return res.fail("IncompleteSignature",
                            "Authorization header requires '%s' parameter. "
                            "Authorization=%s" % (k, auth), 400)
    cred = parts["Credential"].split("/")
    if len(cred) != 5:
        return res.fail("IncompleteSignature",
                        "Credential must have exactly 5 slash-delimited "
                        "elements, e.g. keyid/date/region/service/term, got "
                        "'%s'" % parts["Credential"], 400)
    akid, sdate, sregion, sservice, sterm = cred
    res.access_key = akid
    res.scope = "/".join(cred[1:])
    res.signed_headers = parts["SignedHeaders"].split(";")
    res.signature = parts["Signature"]

    amz_date = one("x-amz-date")
    if not amz_date:
        return res.fail("IncompleteSignature",
                        "Authorization header requires existence of either a "
                        "'X-Amz-Date' or a 'Date' header. Authorization=%s"
                        % auth, 400)
    try:
        t = datetime.datetime.strptime(amz_date, botocore.auth.SIGV4_TIMESTAMP)
    except ValueError:
        return res.fail("IncompleteSignature",
                        "Date must be in ISO-8601 'basic format'. Got '%s'. "
                        "See http://en.wikipedia.org/wiki/ISO_8601" % amz_date,
                        400)
    now = now or datetime.datetime.utcnow()
    skew = datetime.timedelta(seconds=max_skew_s)
    if t < now - skew:
        return res.fail("SignatureDoesNotMatch",
                        "Signature expired: %s is now earlier than %s (%s - 5 "
                        "min.)" % (amz_date, _fmt_ts(now - skew), _fmt_ts(now)))
    if t > now + skew:
        return res.fail("SignatureDoesNotMatch",
                        "Signature not yet current: %s is still later than %s "
                        "(%s + 5 min.)" % (amz_date, _fmt_ts(now + skew),
                                           _fmt_ts(now)))
    if akid != creds.access_key:
        return res.fail("InvalidClientTokenId", INVALID_TOKEN_MSG)
    token = one("x-amz-security-token")
    if (token or None) != (creds.token or None):
        return res.fail("InvalidClientTokenId", INVALID_TOKEN_MSG)
    if sdate != amz_date[:8]:
        return res.fail("SignatureDoesNotMatch",
                        "Date in Credential scope does not match YYYYMMDD from "
                        "ISO-8601 version of date from HTTP: '%s' != '%s', from "
                        "'%s'." % (sdate, amz_date[:8], amz_date))
    if sregion != region:
        return res.fail("SignatureDoesNotMatch",
                        "Credential should be scoped to a valid region, not "
                        "'%s'. " % sregion)
    if sservice != service:
        return res.fail("SignatureDoesNotMatch",
                        "Credential should be scoped to correct service: "
                        "'%s'. " % service)
    if sterm != "aws4_request":
        return res.fail("SignatureDoesNotMatch",
                        "Credential should be scoped with a valid terminator: "
                        "'aws4_request', not '%s'. " % sterm)

    signed = res.signed_headers
    if signed != sorted(set(h.lower() for h in signed)):
        return res.fail("SignatureDoesNotMatch", SIG_MISMATCH_MSG)
    must = list(require_signed)
    if token is not None:
        must.append("x-amz-security-token")
    if "x-amz-content-sha256" in hdrs:
        must.append("x-amz-content-sha256")
    for name in must:
        if name not in signed:
            return res.fail("SignatureDoesNotMatch",
                            "'%s' must be a 'SignedHeader' in the AWS "
                            "Authorization." % name)
    header_map = botocore.awsrequest.HTTPHeaders()
    for name in signed:
        if name not in hdrs:
            return res.fail("SignatureDoesNotMatch", SIG_MISMATCH_MSG)
        for v in hdrs[name]:
            header_map[name] = v
    content_sha = one("x-amz-content-sha256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        return res.fail("XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not "
                        "match what was computed.", 400)

    host = one("host") or "localhost"
    req = botocore.awsrequest.AWSRequest(
        method=method, url="http://%s%s" % (host, path), data=body,
        headers={k: v[0] for k, v in hdrs.items() if k in signed})
    req.context["timestamp"] = amz_date
    signer = _ExactHeadersSigV4(
        botocore.credentials.Credentials(creds.access_key, creds.secret_key,
                                         creds.token),
        sservice, sregion, header_map)
    # add_auth() would stamp utcnow(); call its stages at the request's time.
    cr = signer.canonical_request(req)
    sts = signer.string_to_sign(req, cr)
    res.canonical_request, res.string_to_sign = cr, sts
    res.expected_signature = signer.signature(sts, req)
    if res.expected_signature != res.signature:
        return res.fail("SignatureDoesNotMatch", SIG_MISMATCH_MSG)
    res.ok, res.status, res.code, res.message = True, 200, None, None
    return res


class Recorded:
    """One request the stand-in received, and what it did about it."""

    def __init__(self, method, path, headers, body, t_arrival, chunked):
        self.method = method
        self.path = path
        self.headers = headers          # list of (name, value)
        self.body = body                # bytes
        self.t_arrival = t_arrival      # time.monotonic()
        self.chunked = chunked
        self.auth = None                # AuthResult
        self.action = None
        self.params = {}                # decoded form fields; v2: the
                                        # parameters botocore would take
        self.body_mismatch = None       # str, when expected params differ
        self.status = None              # what the stand-in answered
        self.request_id = None
        self.scripted = False
        self.answer = None              # the Scripted answered with
        self.api = "v1"                 # "v2" for a path under /v2/
        self.operation = None           # v2: the operation routed to
        self.v2 = None                  # v2: standin_v2.V2Request
        self.messages = []              # v2: the SentMessages it sent

    def header(self, name, default=None):
        return header_value(self.headers, name, default)

    @property
    def algorithm(self):
        """The Authorization header's algorithm (AWS4-HMAC-SHA256,
        AWS4-ECDSA-P256-SHA256), or None without one."""
        auth = self.header("Authorization")
        return auth.strip().split(" ", 1)[0] if auth and auth.strip() else None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Recorded %s %s %r auth=%r status=%s>" % (
            self.method, self.path, self.body[:200], self.auth, self.status)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body of an answer are two writes: without TCP_NODELAY
    # the second waits for the client's delayed ACK (40 ms a call).
    disable_nagle_algorithm = True
    server_version = "standin-ses"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; the records tell the story
        pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out), True
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(n) if n else b""), False

    def do_POST(self):
        self.server.standin._handle(self, "POST")

    def do_GET(self):
        self.server.standin._handle(self, "GET")

    def do_PUT(self):
        self.server.standin._handle(self, "PUT")

    def do_DELETE(self):
        self.server.standin._handle(self, "DELETE")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False          # kept-alive proxy connections idle forever
    allow_reuse_address = True


class StandinSES:
    """The stand-in server. Use start()/stop() or a `with` block.

    Attributes a test reads or sets:
      credentials  Credentials the signature must verify with
      region       the region the credential scope must name
      requests     list of Recorded (read under .lock, or use .snapshot())
      mismatches   list of str: body vs expected params differences
      url          "http://127.0.0.1:PORT"
    SES v2:
      sent         list of standin_v2.SentMessage: what SendEmail and
                   SendBulkEmail sent (read with sent_messages())
      templates    {name: {"Subject", "Text", "Html"}}: templates for
                   rendering Template content; kept from CreateEmailTemplate
                   and UpdateEmailTemplate calls answered with success
      v2_region_set  the X-Amz-Region-Set a SigV4a request must carry ("*";
                   None: any set that covers region, as SES checks)
      v2_seed      varies the default answers (deterministic per seed)
    """

    def __init__(self, credentials, region="us-east-1", host="127.0.0.1"):
        self.credentials = credentials
        self.region = region
        self.host = host
        self.lock = threading.Lock()
        self.requests = []
        self.mismatches = []
        self._script = collections.deque()
        self._expect = None          # (op, params, strict_order)
        self.responder = None        # callable(Recorded) -> Scripted or None
        self.verify_signatures = True
        self.clock = None            # callable() -> utc datetime, for skew tests
        self.sent = []
        self.templates = {}
        self.v2_region_set = "*"
        self.v2_seed = 0
        self._v2_seq = 0
        self._expect_v2 = None       # (op, params)
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self.port = None

    # -- lifecycle --------------------------------------------------------
    def start(self):
        self._server = _Server((self.host, 0), _Handler)
        self._server.standin = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="standin-ses", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # -- what the test scripts --------------------------------------------
    def push(self, *answers):
        """Queue scripted answers (Scripted), used in order, one per request."""
        with self.lock:
            self._script.extend(answers)

    def push_error(self, code, message, status=400, **kw):
        self.push(Scripted.error(code, message, status=status, **kw))

    def push_v2_error(self, code, message=None, status=None, **kw):
        """Queue an SES v2 error (Scripted.v2_error)."""
        self.push(Scripted.v2_error(code, message, status=status, **kw))

    def expect_v2(self, op_name, params):
        """Compare every later v2 request with botocore's request for
        op_name and params (method, path, query, body, Content-Type);
        differences go to .mismatches and the record's body_mismatch."""
        with self.lock:
            self._expect_v2 = (op_name, copy.deepcopy(params))

    def expect(self, op_name, params, strict_order=False):
        """Compare every later request's body with botocore's serialization."""
        with self.lock:
            self._expect = (op_name, dict(params), strict_order)

    def clear(self):
        with self.lock:
            self.requests.clear()
            self.mismatches.clear()
            self._script.clear()
            self._expect = None
            self._expect_v2 = None
            self.sent.clear()

    # -- what the test reads ---------------------------------------------
    def snapshot(self):
        with self.lock:
            return list(self.requests)

    @property
    def count(self):
        with self.lock:
            return len(self.requests)

    @property
    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def sent_messages(self):
        """A copy of .sent (SES v2 messages accepted, in order)."""
        with self.lock:
            return list(self.sent)

    def message(self, message_id):
        """The SentMessage with that MessageId (KeyError when none)."""
        with self.lock:
            for m in self.sent:
                if m.message_id == message_id:
                    return m
        raise KeyError(message_id)

    def wait_for(self, n, timeout=10.0):
        """Wait until n requests have been answered; return the records."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n and all(
                        r.status is not None for r in self.requests[:n]):
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError("stand-in saw %d requests, wanted %d: %r"
                             % (self.count, n, self.snapshot()))

    # -- the server side --------------------------------------------------
    def _handle(self, h, method):
        t = time.monotonic()
        try:
            body, chunked = h._read_body()
        except (ValueError, OSError):
            h.close_connection = True
            return
        rec = Recorded(method, h.path, list(h.headers.items()), body, t, chunked)
        with self.lock:
            self.requests.append(rec)
            expect = self._expect
            expect_v2 = self._expect_v2
        if h.path.startswith("/v2/"):
            self._handle_v2(h, rec, expect_v2)
            return
        rec.params = form_params(body) if method == "POST" else {}
        rec.action = rec.params.get("Action")

        if self.verify_signatures:
            now = self.clock() if self.clock else None
            rec.auth = verify_sigv4(method, h.path, rec.headers, body,
                                    self.credentials, self.region, now=now)
        if expect is not None:
            self._compare_body(rec, expect)

        answer = None
        if rec.auth is not None and not rec.auth.ok:
            answer = Scripted.error(rec.auth.code, rec.auth.message,
                                    status=rec.auth.status)
        else:
            with self.lock:
                if self._script:
                    answer = self._script.popleft()
                    rec.scripted = True
            if answer is None and self.responder is not None:
                answer = self.responder(rec)
                rec.scripted = answer is not None
            if answer is None:
                if method != "POST":
                    answer = Scripted.error("InvalidAction",
                                            "Only POST is supported here",
                                            status=400)
                elif not rec.action:
                    answer = Scripted.error(
                        "MissingAction", "Could not find operation", 400)
                else:
                    answer = Scripted.success(rec.action)
        rec.request_id = answer.request_id
        rec.answer = answer
        self._answer(h, rec, answer)

    # -- SES v2 -----------------------------------------------------------
    def _handle_v2(self, h, rec, expect):
        model = standin_v2.service_model()
        rec.api = "v2"
        info = rec.v2 = standin_v2.V2Request()
        raw_path, _, raw_query = rec.path.partition("?")
        try:
            op_name, raw_labels = standin_v2.router().route(rec.method, raw_path, raw_query)
            info.operation = rec.operation = rec.action = op_name
            info.labels = labels = standin_v2.decode_labels(raw_labels)
            params, info.notes = standin_v2.parse_request(model, op_name, labels, raw_query,
                                                          rec.headers, rec.body)
            info.params = rec.params = params
            info.sigv4a_expected = standin_v2.sigv4a_expected(params, op_name)
            info.botocore = standin_v2.botocore_request(model, op_name, params)
            info.differences = standin_v2.compare_request(
                info.botocore, rec.method, raw_path, raw_query, rec.headers, rec.body)
            info.same_as_botocore = not info.differences
            problem = standin_v2.validate(model, op_name, params)
            if problem:
                raise standin_v2.V2Error("BadRequestException", problem)
        except standin_v2.V2Error as e:
            info.error = e
        if expect is not None:
            self._compare_v2(rec, expect, raw_path, raw_query)
        if self.verify_signatures:
            rec.auth = self._verify_v2(rec, raw_path, raw_query)

        answer = None
        if rec.auth is not None and not rec.auth.ok:
            answer = Scripted.v2_error(rec.auth.code, rec.auth.message, rec.auth.status)
        else:
            with self.lock:
                if self._script:
                    answer = self._script.popleft()
                    rec.scripted = True
            if answer is None and self.responder is not None:
                answer = self.responder(rec)
                rec.scripted = answer is not None
            if answer is None:
                if info.error is not None:
                    answer = Scripted.v2_error(info.error.code, info.error.message,
                                               info.error.status)
                else:
                    answer = self._default_v2(model, rec)
        if answer.request_id is None:
            answer = copy.copy(answer)
            answer.request_id = str(uuid.uuid4())
        if (answer.action == "respond" and 200 <= answer.status < 300
                and info.params is not None and info.error is None):
            self._accepted_v2(rec, answer)
        rec.request_id = answer.request_id
        rec.answer = answer
        self._answer(h, rec, answer)

    def _default_v2(self, model, rec):
        op_name = rec.operation
        if op_name in standin_v2.SEND_OPS:
            n = 1 if op_name == "SendEmail" else len(rec.params.get("BulkEmailEntries") or [])
            ids = [standin_v2.new_message_id() for _ in range(n)]
            return Scripted.v2(200, standin_v2.send_answer(op_name, ids))
        with self.lock:
            seq = self._v2_seq
            self._v2_seq += 1
        status, headers, body, rid = standin_v2.default_answer(
            model, op_name, "%s/%d" % (self.v2_seed, seq))
        return Scripted.v2(status, body, headers=dict(headers), request_id=rid)

    def _accepted_v2(self, rec, answer):
        """Keep what an accepted call changes: messages sent, templates."""
        op_name, params = rec.operation, rec.params
        if op_name in standin_v2.SEND_OPS:
            ids = standin_v2.message_ids_in(op_name, answer.body)
            with self.lock:
                templates = dict(self.templates)
            msgs = standin_v2.sent_messages(op_name, params, ids, templates, rec)
            rec.messages = msgs
            with self.lock:
                self.sent.extend(msgs)
        elif op_name in ("CreateEmailTemplate", "UpdateEmailTemplate"):
            with self.lock:
                self.templates[params["TemplateName"]] = dict(
                    params.get("TemplateContent") or {})
        elif op_name == "DeleteEmailTemplate":
            with self.lock:
                self.templates.pop(params["TemplateName"], None)

    def _compare_v2(self, rec, expect, raw_path, raw_query):
        op_name, params = expect
        problems = []
        if rec.operation != op_name:
            problems.append("routed to %s" % rec.operation)
        want = standin_v2.botocore_request(standin_v2.service_model(), op_name, params)
        problems += standin_v2.compare_request(want, rec.method, raw_path, raw_query,
                                               rec.headers, rec.body)
        if problems:
            msg = "%s: %s" % (op_name, "; ".join(problems))
            with self.lock:
                self.mismatches.append(msg)
            rec.body_mismatch = msg

    def _verify_v2(self, rec, raw_path, raw_query):
        import sigv4a_verify  # python3-cryptography: needed for v2 only
        now = self.clock() if self.clock else None
        if rec.algorithm == sigv4a_verify.ALGORITHM:
            return self._verify_sigv4a(rec, raw_path, raw_query, now)
        # SES canonicalises the query it receives (decoded, then encoded
        # again); botocore's SigV4Auth takes the URL's query as it is.
        target = raw_path
        if raw_query:
            target += "?" + sigv4a_verify.canonical_query(raw_query.encode("latin-1"))
        return verify_sigv4(rec.method, target, rec.headers, rec.body, self.credentials,
                            self.region, now=now)

    def _verify_sigv4a(self, rec, raw_path, raw_query, now):
        import sigv4a_verify
        res = AuthResult()
        res.algorithm = sigv4a_verify.ALGORITHM
        res.region_set = rec.header("X-Amz-Region-Set")
        parts = {}
        for item in rec.header("Authorization").strip().partition(" ")[2].split(","):
            k, _, v = item.strip().partition("=")
            parts[k] = v
        cred = parts.get("Credential", "").split("/")
        res.access_key = cred[0] or None
        res.scope = "/".join(cred[1:]) or None
        res.signed_headers = parts.get("SignedHeaders", "").split(";")
        res.signature = parts.get("Signature")
        reason = sigv4a_verify.verify_sigv4a(
            rec.method, raw_path.encode("latin-1"),
            raw_query.encode("latin-1") if raw_query else None, rec.headers, rec.body,
            self.credentials, service=SES_SIGNING_NAME, region=self.region, now=now)
        if reason is None and self.v2_region_set is not None \
                and res.region_set != self.v2_region_set:
            reason = "region set %r, not %r" % (res.region_set, self.v2_region_set)
        if reason is None:
            res.ok, res.status = True, 200
            return res
        res.detail = reason
        if reason in ("unknown access key id", "security token is not the expected one"):
            return res.fail("InvalidClientTokenId", INVALID_TOKEN_MSG)
        if reason.startswith(("Authorization is not", "Credential is not", "no X-Amz-Date",
                              "X-Amz-Date is not", "no X-Amz-Region-Set",
                              "more than one Authorization")):
            return res.fail("IncompleteSignature", reason, 400)
        if reason.startswith("X-Amz-Date is more than"):
            return res.fail("SignatureDoesNotMatch", "Signature expired: %s is more than 5 min. "
                            "from the server's time %s" % (
                                rec.header("X-Amz-Date"),
                                _fmt_ts(now or datetime.datetime.utcnow())))
        return res.fail("SignatureDoesNotMatch", SIG_MISMATCH_MSG)

    def _compare_body(self, rec, expect):
        op, params, strict = expect
        want = botocore_body(op, params)
        got = rec.body.decode("latin-1")
        if strict:
            bad = got != want
        else:
            bad = sorted(form_pairs(got)) != sorted(form_pairs(want))
        if bad:
            msg = "body %r != botocore's %r" % (got, want)
            with self.lock:
                self.mismatches.append(msg)
            rec.body_mismatch = msg

    def _answer(self, h, rec, a):
        if a.delay and self._stopping.wait(a.delay):
            h.close_connection = True
            rec.status = -1
            return
        if a.action == "close":
            rec.status = 0
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            h.send_response(a.status)
            h.send_header("x-amzn-RequestId", a.request_id or str(uuid.uuid4()))
            if a.content_type:
                h.send_header("Content-Type", a.content_type)
            for k, v in a.headers.items():
                h.send_header(k, v)
            if a.action == "half":
                h.send_header("Content-Length", str(len(a.body) + 100))
                h.end_headers()
                h.wfile.flush()
                rec.status = a.status
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            h.send_header("Content-Length", str(len(a.body)))
            h.end_headers()
            h.wfile.write(a.body)
            h.wfile.flush()
        except OSError:
            h.close_connection = True
        rec.status = a.status


def v2_parse(answer, op_name=None):
    """botocore's RestJSONParser's parse of an answer the stand-in sent, as
    boto3 returns it. answer: a Recorded (its .answer and .operation), or a
    Scripted with op_name."""
    if isinstance(answer, Recorded):
        op_name = op_name or answer.operation
        answer = answer.answer
    return standin_v2.botocore_parse(standin_v2.service_model(), op_name, answer.status,
                                     answer.sent_headers(), answer.body)


def v2_expected_json(answer, op_name=None):
    """What the proxy's JSON mode should answer for an answer the stand-in
    sent (v2_parse in the proxy's form: ISO 8601 UTC datetimes, base64
    blobs, ResponseMetadata without HTTPStatusCode and HTTPHeaders)."""
    return standin_v2.sesv2gen.to_proxy(v2_parse(answer, op_name))


def sign_request(creds, region, url, body, amz_date=None, service="ses",
                 extra_headers=None):
    """Sign a Query API POST with botocore, as an SDK would (for self-tests).

    Returns (headers dict, body bytes). amz_date: 'YYYYMMDDTHHMMSSZ' to sign
    at a chosen time (default now).
    """
    if isinstance(body, str):
        body = body.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    headers.update(extra_headers or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body,
                                         headers=headers)
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds.access_key, creds.secret_key,
                                         creds.token), service, region)
    if amz_date is None:
        signer.add_auth(req)
    else:
        req.context["timestamp"] = amz_date
        signer._modify_request_before_signing(req)
        cr = signer.canonical_request(req)
        sts = signer.string_to_sign(req, cr)
        signer._inject_signature_to_request(req, signer.signature(sts, req))
    out = dict(req.headers.items())
    out["Host"] = urllib.parse.urlsplit(url).netloc
    return out, body


def sign_v2_request(creds, region, method, url, body=b"", headers=None, sigv4a=False,
                    region_set="*"):
    """Sign an SES v2 request as botocore does (for self-tests): SigV4 for
    service "ses" in region, or with sigv4a=True SigV4a for region_set
    (botocore.crt.auth.CrtSigV4AsymAuth, which needs python3-awscrt).

    Returns (headers dict, body bytes); the Host header is url's.
    """
    if isinstance(body, str):
        body = body.encode()
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                         headers=dict(headers or {}))
    bcreds = botocore.credentials.Credentials(creds.access_key, creds.secret_key, creds.token)
    if sigv4a:
        from botocore.crt import auth as crt_auth  # python3-awscrt
        crt_auth.CrtSigV4AsymAuth(bcreds, "ses", region_set).add_auth(req)
    else:
        botocore.auth.SigV4Auth(bcreds, "ses", region).add_auth(req)
    # the CRT signer adds a "host" field of its own: one Host is sent
    out = {k: v for k, v in req.headers.items() if k.lower() != "host"}
    out["Host"] = urllib.parse.urlsplit(url).netloc
    return out, body
