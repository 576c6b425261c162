"""Stand-ins on loopback for where credentials come from: EC2 instance
metadata (IMDSv2), the container credentials endpoint (ECS / EKS Pod
Identity) and STS (AssumeRoleWithWebIdentity, AssumeRole), plus an SES
stand-in that accepts every set they handed out.

Each checks what the real one checks before it answers, so that a proxy that
passes here would pass there:

* IMDS: PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds
  (1..21600; 400 otherwise) and is refused with X-Forwarded-For (403); every
  GET needs a token it issued that has not expired (401 otherwise); the role
  name, then /latest/meta-data/iam/security-credentials/<role> as IMDS's JSON.
* container: the path, and the Authorization header equal to the token,
  which is read again from its file at every request when a file is given
  (EKS Pod Identity rotates it); 401 / 404 otherwise; ECS's JSON shape.
* STS: a POST form with Version 2011-06-15; AssumeRoleWithWebIdentity is
  unsigned and needs WebIdentityToken equal to the token (file re-read at
  every request), the expected RoleArn and a valid RoleSessionName;
  AssumeRole is verified as SigV4 (service "sts") with botocore against the
  source credentials, like the SES stand-in does. Answers and errors are
  STS's XML.

Credential sets come from an Issuer, which remembers each one (key id,
secret, token, expiry) so the SES stand-in can accept any set still valid
and tests can grep the proxy's output for every secret handed out.

Only the standard library and botocore (via standin_ses) are used.
"""

import datetime
import http.server
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
import uuid

import standin_ses
from standin_ses import Credentials

STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Issued:
    """One set handed out."""

    def __init__(self, creds, expiration, by):
        self.creds = creds              # standin_ses.Credentials
        self.expiration = expiration    # aware UTC datetime
        self.by = by                    # which stand-in issued it

    @property
    def access_key(self):
        return self.creds.access_key


class Issuer:
    """Hands out credential sets and remembers them (thread-safe).

    lifetime: seconds each set is valid (a float is fine); the refresh
    window of the proxy is 15 minutes, so 900 + a few seconds makes it
    refresh within those few seconds.
    """

    def __init__(self, prefix="ASIA", lifetime=3600):
        self.prefix = prefix
        self.lifetime = lifetime
        self.lock = threading.Lock()
        self.issued = []

    def issue(self, by="?", token=True):
        with self.lock:
            n = len(self.issued) + 1
            akid = "%s%s%04d" % (self.prefix, secrets.token_hex(4).upper(), n)
            secret = "sk/%s+%d" % (secrets.token_urlsafe(24), n)
            tok = ("tok/%s+%d==" % (secrets.token_urlsafe(48), n)) if token else None
            exp = utcnow() + datetime.timedelta(seconds=self.lifetime)
            it = Issued(Credentials(akid, secret, tok), exp, by)
            self.issued.append(it)
            return it

    def find(self, akid):
        with self.lock:
            for it in self.issued:
                if it.access_key == akid:
                    return it
        return None

    @property
    def count(self):
        with self.lock:
            return len(self.issued)

    def last(self):
        with self.lock:
            return self.issued[-1] if self.issued else None

    def secrets(self):
        """Every secret and token handed out (for the leak test)."""
        with self.lock:
            out = []
            for it in self.issued:
                out.append(it.creds.secret_key)
                if it.creds.token:
                    out.append(it.creds.token)
            return out


class MultiCredsSES(standin_ses.StandinSES):
    """The SES stand-in, accepting any set an Issuer handed out that has not
    expired (and, when set, the fixed `credentials` too).

    The base class checks one set, self.credentials; here that attribute is
    looked up per request from the Authorization header's key id (each
    request is handled on its own thread). Requests signed with a set that
    has expired are refused (the key id is found but the token cannot match)
    and counted in `expired_uses`.
    """

    def __init__(self, issuers, region="us-east-1"):
        self._issuers = list(issuers)
        self._tl = threading.local()
        self._fixed = None
        self.expired_uses = 0
        super().__init__(Credentials("AKIDNOTHINGYET", "none"), region)

    @property
    def credentials(self):
        akid = getattr(self._tl, "akid", None)
        if akid:
            for iss in self._issuers:
                it = iss.find(akid)
                if it is not None:
                    if it.expiration > utcnow():
                        return it.creds
                    with self.lock:
                        self.expired_uses += 1
                    return Credentials(akid, "expired", "expired")
        return self._fixed or Credentials("AKIDNOSUCHKEY", "none")

    @credentials.setter
    def credentials(self, value):
        self._fixed = value

    def add_issuer(self, issuer):
        self._issuers.append(issuer)

    def _handle(self, h, method):
        m = re.search(r"Credential=([^/,\s]+)/", h.headers.get("Authorization") or "")
        self._tl.akid = m.group(1) if m else None
        try:
            super()._handle(h, method)
        finally:
            self._tl.akid = None

    def used_keys(self):
        """Key ids of the requests the stand-in accepted, in order."""
        out = []
        for rec in self.snapshot():
            if rec.auth is not None and rec.auth.ok:
                out.append(rec.auth.access_key)
        return out


# --------------------------------------------------------------------------
# A small threaded HTTP server the three stand-ins share.
# --------------------------------------------------------------------------

class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers          # list of (name, value)
        self.body = body
        self.status = None
        self.t = time.monotonic()

    def header(self, name, default=None):
        return standin_ses.header_value(self.headers, name, default)

    def __repr__(self):
        return "<%s %s -> %s>" % (self.method, self.path, self.status)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def _go(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        req = Request(self.command, self.path, list(self.headers.items()), body)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(req)
        if owner.delay:
            time.sleep(owner.delay)
        try:
            status, headers, out = owner.handle(req)
        except Exception as e:          # a bug in a stand-in: say so loudly
            status, headers, out = 599, {}, ("stand-in error: %r" % e).encode()
        req.status = status
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT = do_POST = do_DELETE = _go


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class StandinHTTP:
    """Base: start()/stop() (and start again on the same port: an endpoint
    that is down, then up), requests recorded in .requests."""

    name = "standin"

    def __init__(self, port=None):
        self.port = port or _free_port()
        self.lock = threading.Lock()
        self.requests = []
        self.delay = 0.0
        self.fail_status = None         # answer every request with this
        self._server = None
        self._thread = None

    def start(self):
        deadline = time.monotonic() + 5
        while True:
            try:
                self._server = _Server(("127.0.0.1", self.port), _Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    @property
    def running(self):
        return self._server is not None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def count(self, pred=None):
        return len([r for r in self.snapshot() if pred is None or pred(r)])

    def handle(self, req):
        raise NotImplementedError


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json(status, obj):
    return status, {"Content-Type": "application/json"}, json.dumps(obj, indent=2).encode()


def _text(status, text, ctype="text/plain"):
    return status, {"Content-Type": ctype}, text.encode()


# --------------------------------------------------------------------------
# EC2 instance metadata, IMDSv2
# --------------------------------------------------------------------------

class StandinIMDS(StandinHTTP):
    name = "standin-imds"
    TOKEN_PATH = "/latest/api/token"
    CREDS_PATH = "/latest/meta-data/iam/security-credentials/"

    def __init__(self, issuer, role="ses-proxy-role", port=None):
        super().__init__(port)
        self.issuer = issuer
        self.role = role
        self.tokens = {}                # token -> monotonic expiry
        self.rotate = True              # a new set at every credentials GET
        self._current = None

    def tokens_issued(self):
        with self.lock:
            return list(self.tokens)

    def handle(self, req):
        if req.header("X-Forwarded-For") is not None:
            return _text(403, "Forbidden")
        if req.method == "PUT" and req.path == self.TOKEN_PATH:
            ttl = req.header("X-aws-ec2-metadata-token-ttl-seconds")
            if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return _text(400, "Bad Request")
            tok = "imds-" + secrets.token_urlsafe(32)
            with self.lock:
                self.tokens[tok] = time.monotonic() + int(ttl)
            return 200, {"Content-Type": "text/plain",
                         "X-aws-ec2-metadata-token-ttl-seconds": ttl}, tok.encode()
        if req.method == "PUT":
            return _text(405, "Method Not Allowed")
        tok = req.header("X-aws-ec2-metadata-token")
        with self.lock:
            ok = tok is not None and self.tokens.get(tok, 0) > time.monotonic()
        if not ok:
            return _text(401, "Unauthorized")
        if req.method != "GET":
            return _text(405, "Method Not Allowed")
        if self.fail_status:
            return _text(self.fail_status, "failing on purpose")
        if req.path == self.CREDS_PATH:
            return _text(200, self.role)
        if req.path == self.CREDS_PATH + self.role:
            if self.rotate or self._current is None:
                self._current = self.issuer.issue("imds")
            it = self._current
            return _json(200, {
                "Code": "Success", "LastUpdated": iso(utcnow()), "Type": "AWS-HMAC",
                "AccessKeyId": it.creds.access_key,
                "SecretAccessKey": it.creds.secret_key,
                "Token": it.creds.token, "Expiration": iso(it.expiration)})
        return _text(404, "Not Found")


# --------------------------------------------------------------------------
# Container credentials (ECS task roles, EKS Pod Identity)
# --------------------------------------------------------------------------

class StandinContainer(StandinHTTP):
    name = "standin-container"

    def __init__(self, issuer, path="/v1/credentials", token=None, token_file=None,
                 port=None):
        super().__init__(port)
        self.issuer = issuer
        self.path = path
        self.token = token
        self.token_file = token_file
        self.tokens_seen = []

    def expected_token(self):
        if self.token_file is not None:
            with open(self.token_file) as f:      # re-read: it rotates
                return f.read()
        return self.token

    def handle(self, req):
        auth = req.header("Authorization")
        with self.lock:
            self.tokens_seen.append(auth)
        want = self.expected_token()
        if want is not None and auth != want:
            return _json(401, {"code": "AccessDeniedException",
                               "message": "Authorization token is invalid"})
        if req.method != "GET" or urllib.parse.urlsplit(req.path).path != self.path:
            return _json(404, {"code": "NotFound", "message": "no such path"})
        if self.fail_status:
            return _json(self.fail_status, {"code": "ServiceUnavailable",
                                            "message": "failing on purpose"})
        it = self.issuer.issue("container")
        return _json(200, {
            "AccessKeyId": it.creds.access_key,
            "SecretAccessKey": it.creds.secret_key,
            "Token": it.creds.token,
            "AccountId": "123456789012",
            "Expiration": iso(it.expiration),
            "RoleArn": "arn:aws:iam::123456789012:role/ses-proxy"})


# --------------------------------------------------------------------------
# STS
# --------------------------------------------------------------------------

def sts_error_xml(code, message, err_type="Sender"):
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
            '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
            '  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
            % (STS_XMLNS, err_type, code, standin_ses._xml_escape(message),
               uuid.uuid4())).encode()


def sts_credentials_xml(action, it, extra=""):
    c = it.creds
    return ('<%sResponse xmlns="%s">\n  <%sResult>\n%s'
            '    <AssumedRoleUser>\n'
            '      <AssumedRoleId>AROAEXAMPLE:session</AssumedRoleId>\n'
            '      <Arn>arn:aws:sts::123456789012:assumed-role/r/session</Arn>\n'
            '    </AssumedRoleUser>\n'
            '    <Credentials>\n'
            '      <AccessKeyId>%s</AccessKeyId>\n'
            '      <SecretAccessKey>%s</SecretAccessKey>\n'
            '      <SessionToken>%s</SessionToken>\n'
            '      <Expiration>%s</Expiration>\n'
            '    </Credentials>\n  </%sResult>\n'
            '  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
            '  </ResponseMetadata>\n</%sResponse>\n'
            % (action, STS_XMLNS, action, extra,
               standin_ses._xml_escape(c.access_key),
               standin_ses._xml_escape(c.secret_key),
               standin_ses._xml_escape(c.token), iso(it.expiration), action,
               uuid.uuid4(), action)).encode()


def _access_key_of(headers):
    """The access key id in a request's SigV4 Authorization header, or None."""
    auth = standin_ses.header_value(headers, "Authorization") or ""
    m = re.search(r"Credential=([^/,\s]+)/", auth)
    return m.group(1) if m else None


def caller_identity_xml(akid, account):
    return ("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            "  <GetCallerIdentityResult>\n"
            "    <Arn>arn:aws:iam::%s:user/ses-proxy</Arn>\n"
            "    <UserId>%s</UserId>\n"
            "    <Account>%s</Account>\n"
            "  </GetCallerIdentityResult>\n"
            "  <ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>\n"
            "</GetCallerIdentityResponse>\n" % (account, akid, account, uuid.uuid4())).encode()


class StandinSTS(StandinHTTP):
    """STS on loopback.

    role_arn: the role AssumeRoleWithWebIdentity must name.
    web_token / web_token_file: the token it must carry (the file re-read at
      every request).
    roles: {role_arn: (source Credentials, {param: expected value})} for
      AssumeRole: the request must verify as SigV4 with the source set.
    """

    name = "standin-sts"

    def __init__(self, issuer, region="us-east-1", role_arn=None, web_token=None,
                 web_token_file=None, port=None):
        super().__init__(port)
        self.issuer = issuer
        self.region = region
        self.role_arn = role_arn
        self.web_token = web_token
        self.web_token_file = web_token_file
        self.roles = {}
        self.callers = {}               # access key id: (Credentials, account) for GetCallerIdentity
        self.calls = []                 # (action, params dict, verdict)

    def expected_web_token(self):
        if self.web_token_file is not None:
            with open(self.web_token_file) as f:
                return f.read().strip()
        return self.web_token

    def _fail(self, status, code, message):
        return status, {"Content-Type": "text/xml"}, sts_error_xml(code, message)

    def handle(self, req):
        if req.method != "POST":
            return self._fail(400, "InvalidAction", "Could not find operation")
        params = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"),
                                             keep_blank_values=True))
        action = params.get("Action")
        verdict = self._check(req, action, params)
        with self.lock:
            self.calls.append((action, params, verdict))
        if verdict is not None:
            return verdict
        if action == "GetCallerIdentity":
            akid = _access_key_of(req.headers)
            _, account = self.callers[akid]
            return 200, {"Content-Type": "text/xml"}, caller_identity_xml(akid, account)
        if self.fail_status:
            return self._fail(self.fail_status, "InternalFailure",
                              "failing on purpose")
        it = self.issuer.issue("sts:" + action)
        extra = ""
        if action == "AssumeRoleWithWebIdentity":
            extra = ("    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa"
                     "</SubjectFromWebIdentityToken>\n"
                     "    <Audience>sts.amazonaws.com</Audience>\n"
                     "    <Provider>arn:aws:iam::123456789012:oidc-provider/example"
                     "</Provider>\n")
        return 200, {"Content-Type": "text/xml"}, sts_credentials_xml(action, it, extra)

    def _check(self, req, action, params):
        if params.get("Version") != "2011-06-15":
            return self._fail(400, "InvalidAction", "Could not find operation")
        if action == "GetCallerIdentity":
            # Needs no permission, but a valid signature of a known key.
            caller = self.callers.get(_access_key_of(req.headers))
            if caller is None:
                return self._fail(403, "InvalidClientTokenId",
                                  "The security token included in the request is invalid.")
            auth = standin_ses.verify_sigv4(req.method, req.path, req.headers, req.body,
                                            caller[0], self.region, service="sts")
            if not auth.ok:
                return self._fail(auth.status, auth.code, auth.message)
            if set(params) != {"Action", "Version"}:
                return self._fail(400, "ValidationError", "unexpected parameters")
            return None
        if not SESSION_NAME_RE.match(params.get("RoleSessionName") or ""):
            return self._fail(400, "ValidationError",
                              "1 validation error detected: Value at "
                              "'roleSessionName' failed to satisfy constraint")
        if action == "AssumeRoleWithWebIdentity":
            if req.header("Authorization") is not None:
                # The SDKs send it unsigned; a signature would mean the proxy
                # used credentials it should not have.
                return self._fail(400, "InvalidRequest", "unexpected signature")
            if params.get("RoleArn") != self.role_arn:
                return self._fail(403, "AccessDenied",
                                  "Not authorized to perform "
                                  "sts:AssumeRoleWithWebIdentity")
            if params.get("WebIdentityToken") != self.expected_web_token():
                return self._fail(400, "InvalidIdentityToken",
                                  "Couldn't retrieve verification key from your "
                                  "identity provider")
            return None
        if action == "AssumeRole":
            role = self.roles.get(params.get("RoleArn"))
            if role is None:
                return self._fail(403, "AccessDenied",
                                  "User is not authorized to perform: sts:AssumeRole")
            source, expect = role
            auth = standin_ses.verify_sigv4(req.method, req.path, req.headers,
                                            req.body, source, self.region,
                                            service="sts")
            if not auth.ok:
                return self._fail(auth.status, auth.code, auth.message)
            for k, v in expect.items():
                if params.get(k) != v:
                    return self._fail(400, "ValidationError",
                                      "%s: expected %r" % (k, v))
            return None
        return self._fail(400, "InvalidAction", "Could not find operation %s" % action)
