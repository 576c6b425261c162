"""A scriptable, misbehaving upstream for ses-proxy's fault-injection tests.

FaultyUpstream listens on 127.0.0.1, in plain HTTP or in TLS (Python's ssl
module, with certificates that make_pki() creates with the openssl CLI), and
treats every request according to a *mode*:

  HTTP-level modes (plain or TLS; chosen per request)
    ok                a SES success document for the request's Action
                      (optionally after checking its SigV4 signature with
                      standin_ses.verify_sigv4)
    reset_before      read the request, then reset (RST), no response
    close_before      read the request, then close (FIN), no response
    reset_after_head  send the status line and headers (Content-Length 512),
                      then reset
    close_after_head  the same, then close
    stall_head        read the request and never answer (until the peer leaves)
    stall_body        send the head and 64 of 2048 announced body bytes, then
                      nothing
    garbage           200 text/xml with 4 KiB of binary noise
    garbage_head      bytes that are not an HTTP response at all, then close
    truncated_xml     200 whose (correctly framed) body is half a SES document
    ses_400           400 ErrorResponse MessageRejected (SES's own error)
    ses_500           500 ErrorResponse InternalFailure
    ses_503           503 ErrorResponse ServiceUnavailable
    plain_503         503 text/plain, as a load balancer says it
    throttling_daily  400 Throttling "Daily message quota exceeded."
    huge_announced    200 with Content-Length 100 MB; streams until the peer
                      leaves
    huge_chunked      200 chunked; streams up to 100 MB
    huge_close        200 with no length (ends at close); streams up to 100 MB
    close_delimited   a valid SES document with no length, ended by a clean
                      close (TLS: close_notify first)
    dirty_close       the same, but the TCP connection is closed without
                      close_notify (on plain HTTP this equals close_delimited)
    ok_then_close     the success document with Content-Length and no
                      "Connection: close", and the connection closed right
                      after it (a keep-alive the server ends at once)
    ok_then_bytes     the success document followed, in the same write, by
                      bytes nobody asked for; the connection stays open
    huge_head         a response head of 128 KiB (one long header line after
                      another), then silence
    bad_length        200 with "Content-Length: -5"
    continue_then_ok  "100 Continue", then the SES success document
    ok_chunked        the SES success document in 7-byte chunks with a chunk
                      extension and a trailer field
    ok_chunked_split  the same in 64-byte chunks, each written alone after a
                      pause, so that the peer often has read exactly up to
                      a chunk boundary

  TLS-level modes (TLS listener only; chosen per connection)
    tls_plain         answer the ClientHello with plain HTTP bytes
    tls_abort         reset the connection once the ClientHello arrived
    tls_stall         accept, read the ClientHello, never answer it
    tls_untrusted     a self-signed certificate (not from the test CA)
    tls_wrong_host    a certificate from the test CA, for another host name

Which mode applies: scripted modes first (push(), one per request, or per
connection for TLS-level ones), then a round-robin cycle (cycle()), then the
current mode (set_mode()). A TLS-level mode met on an established connection
closes it without an answer.

Every connection is served by its own thread; stop() (or drop_connections())
shuts all of them down. Counters are in .stats (a Counter: "connections",
"requests", one entry per mode applied, "handshake_failed", "auth_failed").

Blackhole is a port whose accept queue is full, so a connection attempt hangs
(a connect timeout without firewall rules); closed_port() is one where nobody
listens (connection refused).

Standard library only (plus standin_ses for SES documents and SigV4).
"""

import collections
import os
import select
import socket
import ssl
import struct
import subprocess
import threading
import time

import standin_ses

HTTP_MODES = (
    "ok", "reset_before", "close_before", "reset_after_head", "close_after_head",
    "stall_head", "stall_body", "garbage", "garbage_head", "truncated_xml",
    "ses_400", "ses_500", "ses_503", "plain_503", "throttling_daily",
    "huge_announced", "huge_chunked", "huge_close", "close_delimited",
    "dirty_close", "huge_head", "bad_length", "continue_then_ok", "ok_chunked",
    "ok_chunked_split", "ok_then_close", "ok_then_bytes",
)
TLS_MODES = ("tls_plain", "tls_abort", "tls_stall", "tls_untrusted",
             "tls_wrong_host")
ALL_MODES = HTTP_MODES + TLS_MODES

HUGE_BYTES = 100 * 1024 * 1024
_PIECE = 1024 * 1024

# ---------------------------------------------------------------- certificates


class Pki:
    """Paths of the test PKI (all PEM)."""

    def __init__(self, d):
        self.dir = str(d)
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        self.ca = p("ca.pem")
        self.ca_key = p("ca.key")
        self.server_cert, self.server_key = p("server.pem"), p("server.key")
        self.untrusted_cert, self.untrusted_key = p("untrusted.pem"), p("untrusted.key")
        self.other_cert, self.other_key = p("other.pem"), p("other.key")


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args),
                                                      r.stderr.decode(errors="replace")))


def make_pki(d):
    """Create a test CA, a server certificate for 127.0.0.1/localhost signed by
    it, a self-signed (untrusted) one for the same names, and one from the CA
    for another host name (other.example). EC P-256 keys: quick handshakes."""
    os.makedirs(str(d), exist_ok=True)
    pki = Pki(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", "-new", *ec, "-keyout", pki.ca_key, "-out", pki.ca,
             "-days", "3", "-subj", "/CN=ses-proxy test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaf_ext = os.path.join(pki.dir, "leaf-%s.cnf")

    def leaf(cert, key, cn, san, self_signed=False):
        if self_signed:
            _openssl("req", "-x509", "-new", *ec, "-keyout", key, "-out", cert,
                     "-days", "3", "-subj", "/CN=" + cn,
                     "-addext", "subjectAltName=" + san,
                     "-addext", "basicConstraints=critical,CA:FALSE",
                     "-addext", "extendedKeyUsage=serverAuth")
            return
        csr = cert + ".csr"
        ext = leaf_ext % cn
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=%s\n" % san)
        _openssl("req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        _openssl("x509", "-req", "-in", csr, "-CA", pki.ca, "-CAkey", pki.ca_key,
                 "-CAcreateserial", "-out", cert, "-days", "3", "-extfile", ext)

    leaf(pki.server_cert, pki.server_key, "127.0.0.1",
         "IP:127.0.0.1,DNS:localhost")
    leaf(pki.untrusted_cert, pki.untrusted_key, "127.0.0.1",
         "IP:127.0.0.1,DNS:localhost", self_signed=True)
    leaf(pki.other_cert, pki.other_key, "other.example", "DNS:other.example")
    return pki


def _server_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------- helpers

class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers      # list of (name, value)
        self.body = body
        params = standin_ses.form_params(body) if body else {}
        self.action = params.get("Action")


class _Gone(Exception):
    """The peer left (or the server stops)."""


def closed_port(host="127.0.0.1"):
    """(socket, port): a port bound but not listening, so connecting to it is
    refused. Keep the socket open while the port is in use; close it after."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    return s, s.getsockname()[1]


class Blackhole:
    """A listening port that never accepts and whose accept queue is full:
    further connection attempts get no SYN-ACK and hang until the client's
    connect timeout."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        # backlog 0 holds one queued connection (Linux: backlog + 1); a few
        # more attempts make sure the queue is full.
        for _ in range(4):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect((host, self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.2)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def close(self):
        for c in self.fillers:
            c.close()
        self.sock.close()


# ---------------------------------------------------------------- the server

class FaultyUpstream:
    """See the module docstring.

    pki: a Pki for a TLS listener (None: plain HTTP).
    verify_creds: standin_ses.Credentials; when given, "ok" answers only
      requests whose SigV4 signature verifies (else SES's 403).
    """

    def __init__(self, pki=None, host="127.0.0.1", verify_creds=None,
                 region="us-east-1", stall_max_s=60.0):
        self.pki = pki
        self.host = host
        self.verify_creds = verify_creds
        self.region = region
        self.stall_max_s = stall_max_s
        self.lock = threading.Lock()
        self.stats = collections.Counter()
        self.auth_failures = []
        self.sni = collections.Counter()   # server names clients sent (None: none)
        self._mode = "ok"
        self._script = collections.deque()
        self._cycle = None
        self._ci = 0
        self._conns = set()
        self._stop = threading.Event()
        self._sock = None
        self._thread = None
        self.port = None
        if pki is not None:
            self._ctx_good = _server_ctx(pki.server_cert, pki.server_key)
            self._ctx_untrusted = _server_ctx(pki.untrusted_cert, pki.untrusted_key)
            self._ctx_other = _server_ctx(pki.other_cert, pki.other_key)
            for ctx in (self._ctx_good, self._ctx_untrusted, self._ctx_other):
                ctx.sni_callback = self._on_sni

    def _on_sni(self, sslobj, name, ctx):
        with self.lock:
            self.sni[name] += 1
        return None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, 0))
        s.listen(1024)
        s.settimeout(0.2)
        self._sock = s
        self.port = s.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop,
                                        name="faulty-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
        self.drop_connections()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.pki else "http", self.host, self.port)

    # -- what a test scripts ------------------------------------------------
    def _check(self, modes):
        for m in modes:
            if m not in ALL_MODES:
                raise ValueError("unknown mode %r" % m)
            if m in TLS_MODES and self.pki is None:
                raise ValueError("%s needs a TLS listener" % m)

    def set_mode(self, mode, drop=True):
        """The mode for every later request; drop=True closes the connections
        open now, so that kept-alive ones do not carry the old mode's state."""
        self._check([mode])
        with self.lock:
            self._mode = mode
            self._cycle = None
            self._script.clear()
        if drop:
            self.drop_connections()

    def push(self, *modes):
        """Modes for the next requests (or connections, TLS-level), in order."""
        self._check(modes)
        with self.lock:
            self._script.extend(modes)

    def cycle(self, modes, drop=True):
        """Round-robin over modes, one per request (or connection)."""
        self._check(modes)
        with self.lock:
            self._cycle = list(modes)
            self._ci = 0
            self._script.clear()
        if drop:
            self.drop_connections()

    def drop_connections(self):
        with self.lock:
            conns = list(self._conns)
        for holder in conns:
            _hard_close(holder[0], shutdown=True)

    @property
    def open_connections(self):
        with self.lock:
            return len(self._conns)

    def _take(self, at_accept):
        """The mode for this connection (at_accept: TLS-level only, else None)
        or request."""
        with self.lock:
            if self._script:
                m = self._script[0]
                if at_accept and m not in TLS_MODES:
                    return None
                return self._script.popleft()
            if self._cycle:
                m = self._cycle[self._ci % len(self._cycle)]
                if at_accept and m not in TLS_MODES:
                    return None
                self._ci += 1
                return m
            m = self._mode
            if at_accept and m not in TLS_MODES:
                return None
            return m

    def _count(self, key):
        with self.lock:
            self.stats[key] += 1

    # -- serving -------------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.01)
                continue
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            holder = [raw]
            with self.lock:
                self._conns.add(_Holder(holder))
            t = threading.Thread(target=self._serve, args=(holder,), daemon=True)
            t.start()

    def _serve(self, holder):
        self._count("connections")
        try:
            self._serve_conn(holder)
        except (_Gone, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            _hard_close(holder[0], shutdown=False)
            with self.lock:
                self._conns.discard(_Holder(holder))

    def _serve_conn(self, holder):
        raw = holder[0]
        raw.settimeout(0.25)
        if self.pki is not None:
            m = self._take(at_accept=True)
            if m is not None:
                self._count(m)
                self._tls_fault(holder, m)
                return
            holder[0] = self._handshake(raw, self._ctx_good)
            if holder[0] is None:
                return
        sock = holder[0]
        buf = b""
        while not self._stop.is_set():
            req, buf = self._read_request(sock, buf)
            self._count("requests")
            m = self._take(at_accept=False)
            if m in TLS_MODES:   # cannot apply on an established connection
                self._count("tls_mode_on_open_connection")
                return
            self._count(m)
            if not self._respond(holder, m, req):
                return

    def _handshake(self, raw, ctx):
        try:
            s = ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        except (OSError, ssl.SSLError):
            self._count("handshake_failed")
            return None
        deadline = time.monotonic() + 10
        while True:
            try:
                s.do_handshake()
                return s
            except socket.timeout:
                if self._stop.is_set() or time.monotonic() > deadline:
                    self._count("handshake_failed")
                    _hard_close(s, shutdown=False)
                    return None
            except (OSError, ssl.SSLError):
                self._count("handshake_failed")
                _hard_close(s, shutdown=False)
                return None

    def _recv(self, sock, n=65536, deadline=None):
        """recv that wakes up for stop() and at deadline (monotonic); raises
        _Gone at EOF, error, stop or deadline."""
        while True:
            if self._stop.is_set():
                raise _Gone()
            try:
                data = sock.recv(n)
            except socket.timeout:
                if deadline is not None and time.monotonic() > deadline:
                    raise _Gone()
                continue
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError):
                raise _Gone()
            if not data:
                raise _Gone()
            return data

    def _read_request(self, sock, buf):
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536:
                raise _Gone()
            buf += self._recv(sock)
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = []
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(rest) < length:
            rest += self._recv(sock)
        return Request(method, path, headers, rest[:length]), rest[length:]

    def _wait_gone(self, sock):
        """Hold the connection, discarding input, until the peer leaves."""
        deadline = time.monotonic() + self.stall_max_s
        while True:
            self._recv(sock, deadline=deadline)

    def _send(self, sock, data):
        try:
            sock.settimeout(10)
            sock.sendall(data)
            sock.settimeout(0.25)
        except (OSError, ssl.SSLError):
            raise _Gone()

    def _stream(self, sock, total, chunked):
        piece = (b"<member>" + b"x" * (_PIECE - 17) + b"</member>")[:_PIECE]
        sent = 0
        while sent < total and not self._stop.is_set():
            if chunked:
                self._send(sock, b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self._send(sock, piece)
            sent += len(piece)

    def _tls_fault(self, holder, m):
        raw = holder[0]
        if m == "tls_untrusted" or m == "tls_wrong_host":
            ctx = self._ctx_untrusted if m == "tls_untrusted" else self._ctx_other
            s = self._handshake(raw, ctx)
            if s is None:
                return
            holder[0] = s
            # The proxy accepted a certificate it must refuse: serve it, so
            # that the test sees a 200 and fails loudly.
            self._count("handshake_succeeded_with_bad_cert")
            buf = b""
            while True:
                req, buf = self._read_request(s, buf)
                self._respond(holder, "ok", req)
        self._recv(raw, deadline=time.monotonic() + 10)   # the ClientHello
        if m == "tls_plain":
            self._send(raw, b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                            b"Content-Length: 11\r\nConnection: close\r\n\r\nBad Request")
            _hard_close(raw, shutdown=True)
        elif m == "tls_abort":
            _reset(raw)
        elif m == "tls_stall":
            self._wait_gone(raw)

    def _respond(self, holder, m, req):
        """Acts out mode m for req; True to keep the connection for more."""
        sock = holder[0]
        action = req.action or "SetIdentityMailFromDomain"
        if m == "ok":
            if self.verify_creds is not None:
                auth = standin_ses.verify_sigv4(req.method, req.path, req.headers,
                                                req.body, self.verify_creds, self.region)
                if not auth.ok:
                    self._count("auth_failed")
                    with self.lock:
                        self.auth_failures.append(repr(auth))
                    self._send(sock, _http(auth.status, standin_ses.ses_error_xml(
                        auth.code, auth.message)))
                    return True
            self._send(sock, _http(200, standin_ses.ses_success_xml(action)))
            return True
        if m in ("reset_before", "close_before"):
            if m == "reset_before":
                _reset(sock)
            else:
                _hard_close(sock, shutdown=True)
            return False
        if m in ("reset_after_head", "close_after_head"):
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Content-Length: 512\r\n\r\n")
            time.sleep(0.01)
            if m == "reset_after_head":
                _reset(sock)
            else:
                _hard_close(sock, shutdown=True)
            return False
        if m == "stall_head":
            self._wait_gone(sock)
        if m == "stall_body":
            doc = standin_ses.ses_success_xml(action)
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Content-Length: 2048\r\n\r\n" + doc[:64])
            self._wait_gone(sock)
        if m == "garbage":
            noise = bytes((i * 197 + 89) % 256 for i in range(4096))
            self._send(sock, _http(200, noise))
            return True
        if m == "garbage_head":
            self._send(sock, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x01\x02 not http\r\n\r\n")
            _hard_close(sock, shutdown=True)
            return False
        if m == "truncated_xml":
            doc = standin_ses.ses_success_xml(action)
            self._send(sock, _http(200, doc[:len(doc) // 2]))
            return True
        if m == "ses_400":
            self._send(sock, _http(400, standin_ses.ses_error_xml(
                "MessageRejected", "Email address is not verified.")))
            return True
        if m == "ses_500":
            self._send(sock, _http(500, standin_ses.ses_error_xml(
                "InternalFailure", "The request processing has failed because of an "
                "unknown error, exception or failure.", "Receiver")))
            return True
        if m == "ses_503":
            self._send(sock, _http(503, standin_ses.ses_error_xml(
                "ServiceUnavailable", "Service is unavailable.", "Receiver")))
            return True
        if m == "plain_503":
            self._send(sock, _http(503, b"Service Unavailable", "text/plain"))
            return True
        if m == "throttling_daily":
            self._send(sock, _http(400, standin_ses.ses_error_xml(
                "Throttling", "Daily message quota exceeded.")))
            return True
        if m == "huge_announced":
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Content-Length: %d\r\n\r\n" % HUGE_BYTES)
            self._stream(sock, HUGE_BYTES, chunked=False)
            _hard_close(sock, shutdown=True)
            return False
        if m == "huge_chunked":
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
            self._stream(sock, HUGE_BYTES, chunked=True)
            self._send(sock, b"0\r\n\r\n")
            return True
        if m == "huge_close":
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Connection: close\r\n\r\n")
            self._stream(sock, HUGE_BYTES, chunked=False)
            _hard_close(sock, shutdown=True)
            return False
        if m in ("close_delimited", "dirty_close"):
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Connection: close\r\n\r\n"
                       + standin_ses.ses_success_xml(action))
            if m == "close_delimited" and isinstance(sock, ssl.SSLSocket):
                try:
                    sock.settimeout(2)
                    holder[0] = sock.unwrap()   # sends close_notify
                except (OSError, ssl.SSLError):
                    pass
            time.sleep(0.01)
            _hard_close(holder[0], shutdown=True)
            return False
        if m == "ok_then_close":
            self._send(sock, _http(200, standin_ses.ses_success_xml(action)))
            _hard_close(holder[0], shutdown=True)
            return False
        if m == "ok_then_bytes":
            self._send(sock, _http(200, standin_ses.ses_success_xml(action))
                       + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            self._wait_gone(sock)
            return False
        if m == "huge_head":
            line = b"X-Filler: " + b"f" * 1000 + b"\r\n"
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                       + line * 128)
            self._wait_gone(sock)
        if m == "bad_length":
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Content-Length: -5\r\n\r\n"
                       + standin_ses.ses_success_xml(action))
            _hard_close(sock, shutdown=True)
            return False
        if m == "continue_then_ok":
            self._send(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
            time.sleep(0.005)
            self._send(sock, _http(200, standin_ses.ses_success_xml(action)))
            return True
        if m == "ok_chunked_split":
            doc = standin_ses.ses_success_xml(action)
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(doc), 64):
                time.sleep(0.003)
                piece = doc[i:i + 64]
                self._send(sock, b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.003)
            self._send(sock, b"0\r\n\r\n")
            return True
        if m == "ok_chunked":
            doc = standin_ses.ses_success_xml(action)
            out = [b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                   b"Transfer-Encoding: chunked\r\nx-amzn-RequestId: faulty-chunked\r\n\r\n"]
            for i in range(0, len(doc), 7):
                piece = doc[i:i + 7]
                out.append(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            out.append(b"0\r\nX-Trailer: yes\r\n\r\n")
            self._send(sock, b"".join(out))
            return True
        raise ValueError(m)


class _Holder:
    """Hashable wrapper of a one-item list holding a connection's socket."""

    __slots__ = ("h",)

    def __init__(self, h):
        self.h = h

    def __getitem__(self, i):
        return self.h[i]

    def __hash__(self):
        return id(self.h)

    def __eq__(self, other):
        return isinstance(other, _Holder) and other.h is self.h


def _http(status, body, ctype="text/xml"):
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "X")
    return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"x-amzn-RequestId: faulty-%d\r\n\r\n"
            % (status, reason.encode(), ctype.encode(), len(body), status)) + body


def _reset(sock):
    """Close with RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _hard_close(sock, shutdown):
    """Close without TLS close_notify (the raw TCP connection ends)."""
    if sock is None:
        return
    try:
        if shutdown:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wait_idle(sock, timeout):
    """True when sock becomes readable within timeout (for tests)."""
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)
