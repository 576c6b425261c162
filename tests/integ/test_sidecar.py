"""The sidecar as an operator runs it: probes, metrics, logs, policy, limits,
reload, drain and the Unix socket.

Everything talks to a real ses-proxy process and the stand-in SES. Metrics
are read with a small, strict parser of the Prometheus text exposition
format (0.0.4) written here, so that a malformed line fails a test rather
than a scrape in production. Log lines are parsed as JSON, every one of
them, and searched for every secret the run used.

Timeouts are set low (hundreds of milliseconds) so that the whole file runs
in well under a minute.
"""

import http.client
import json
import math
import os
import pathlib
import re
import shutil
import signal
import socket
import tempfile
import threading
import time

import pytest

import proxyproc
import standin_ses
from proxyproc import Replace
from standin_ses import ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, Scripted

OP = "SetIdentityMailFromDomain"
PARAMS = {"Identity": "user@example.com",
          "MailFromDomain": "bounces.example.com",
          "BehaviorOnMXFailure": "UseDefaultValue"}
CALL = dict({"Action": OP}, **PARAMS)
QUOTA = {"Action": "GetSendQuota"}
LIST_IDS = {"Action": "ListIdentities"}
GENERATED_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$")


# ==========================================================================
# Helpers
# ==========================================================================

def log_lines(p):
    """Every stdout line of the proxy, parsed; fails on one that is not JSON."""
    out = []
    for n, line in enumerate(p.stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise AssertionError("stdout line %d is not JSON (%s): %r" % (n, e, line))
        assert isinstance(obj, dict), (n, line)
        out.append(obj)
    return out


def request_lines(p):
    return [o for o in log_lines(p) if o.get("msg") == "request"]


def wait_log(p, pred, timeout=5.0, what="a log line"):
    """Waits for a parsed stdout line matching pred; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for o in log_lines(p):
            if pred(o):
                return o
        time.sleep(0.02)
    raise AssertionError("no %s after %.1fs\n%s" % (what, timeout, p.stdout[-3000:]))


def wait_request_line(p, request_id, timeout=5.0):
    return wait_log(p, lambda o: o.get("msg") == "request"
                    and o.get("request_id") == request_id, timeout,
                    "access-log line for %s" % request_id)


def connect(p, timeout=5.0):
    s = socket.create_connection((p.host, p.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(sock, timeout=5.0):
    """One HTTP response from a raw socket: (status, headers dict, body)."""
    sock.settimeout(timeout)
    r = http.client.HTTPResponse(sock)
    r.begin()
    body = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def read_until_eof(sock, timeout):
    """Reads until the peer closes; returns (bytes, closed) where closed is
    False when the timeout passed first."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return buf, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return buf, False
        except ConnectionResetError:
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk


def http_request(method, path, body=b"", headers=None):
    """Bytes of a simple HTTP/1.1 request."""
    h = {"Host": "proxy"}
    if body or method == "POST":
        h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    head += "".join("%s: %s\r\n" % kv for kv in h.items())
    return head.encode() + b"\r\n" + body


def json_body(obj):
    return json.dumps(obj).encode()


def parse_status_line(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=10.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def unix_call(path, body=None, url="/", method=None, headers=None):
    conn = UnixHTTPConnection(path)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method or ("POST" if body is not None else "GET"), url,
                     body=data, headers=hdrs)
        r = conn.getresponse()
        return proxyproc.Response(r.status, r.reason, r.getheaders(), r.read())
    finally:
        conn.close()


def in_thread(fn, *args, **kw):
    """Runs fn in a thread; returns a callable that joins and gives its
    result (or raises its exception)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kw)
        except BaseException as e:  # handed to the test thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def result(timeout=15.0):
        t.join(timeout)
        assert not t.is_alive(), "call still running after %.1fs" % timeout
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def rewrite_config(p, overrides=None, raw=None):
    """Writes a new config file for p (deep-merged into the one it started
    with, or raw text); returns the dict written."""
    if raw is not None:
        with open(p.config_path, "w") as f:
            f.write(raw)
        return None
    cfg = proxyproc.deep_merge(p.config, overrides)
    tmp = p.config_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2)
    os.replace(tmp, p.config_path)
    return cfg


def reload(p, marker, timeout=5.0):
    """SIGHUP, then waits for the outcome line ("configuration reloaded" or
    "reload failed ...") that came after `marker` lines; returns it."""
    before = len(log_lines(p))
    p.signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for o in log_lines(p)[before:]:
            if o.get("msg") == marker:
                return o
            if o.get("msg", "").startswith(("configuration reloaded", "reload failed")):
                raise AssertionError("reload: wanted %r, got %r" % (marker, o))
        time.sleep(0.02)
    raise AssertionError("no %r after SIGHUP\n%s" % (marker, p.stdout[-3000:]))


class AnyAnswerProxy(proxyproc.ProxyProcess):
    """A proxy that counts as ready once it answers HTTP at all (a policy
    that refuses loopback clients answers /healthz with 403)."""

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise proxyproc.ProxyFailed("ses-proxy exited with %s\n%s"
                                            % (self.returncode, self.describe()))
            try:
                r = proxyproc.http_call(self.host, self.port, path="/healthz",
                                        timeout=1.0)
                if r.status:
                    return
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        self.kill()
        raise proxyproc.ProxyFailed("no answer after %.1fs (%r)\n%s"
                                    % (timeout, last, self.describe()))


@pytest.fixture
def start_any(request, proxy_bin, proxy_env, tmp_path, standin):
    """start_any(config, extra_args=()) -> an AnyAnswerProxy pointing at the
    stand-in; stopped with SIGTERM at teardown, exit status 0 required."""
    started = []
    shown = getattr(request.node, "_sp_proxies", None)
    if shown is None:
        shown = request.node._sp_proxies = []

    def start(config=None, extra_args=()):
        workdir = tmp_path / ("any%d" % len(started))
        workdir.mkdir()
        cfg = proxyproc.deep_merge(proxyproc.DEFAULT_CONFIG, config)
        env = proxy_env(standin.credentials, standin.url)
        p = AnyAnswerProxy(proxy_bin, workdir, cfg, env, extra_args=extra_args)
        started.append(p)
        shown.append(p)
        p.start()
        return p

    yield start
    bad = []
    for p in started:
        rc = p.stop()
        if rc not in (0, None):
            bad.append("exit %s\n%s" % (rc, p.describe()))
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)


@pytest.fixture
def short_dir():
    """A short directory for Unix socket paths (sun_path holds 108 bytes)."""
    d = tempfile.mkdtemp(prefix="sp-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ==========================================================================
# A strict parser for the Prometheus text exposition format 0.0.4
# ==========================================================================

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
FLOAT = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN"
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % METRIC_NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % METRIC_NAME)
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (%s)(?: (-?[0-9]+))?$" % (METRIC_NAME, FLOAT))
LABEL_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL_NAME)


class PromError(AssertionError):
    pass


def parse_labels(text, where):
    """'{a="b",c="d"}' -> dict, strictly (escapes \\\\ \\" \\n only)."""
    inner = text[1:-1]
    labels = {}
    pos = 0
    while pos < len(inner):
        m = LABEL_RE.match(inner, pos)
        if not m:
            raise PromError("%s: bad label at %r" % (where, inner[pos:]))
        name = m.group(1)
        if name in labels:
            raise PromError("%s: label %s twice" % (where, name))
        if name.startswith("__"):
            raise PromError("%s: reserved label name %s" % (where, name))
        labels[name] = re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e.group(1), e.group(1)),
                              m.group(2))
        pos = m.end()
        if pos < len(inner):
            if inner[pos] != ",":
                raise PromError("%s: expected ',' at %r" % (where, inner[pos:]))
            pos += 1
    return labels


def prom_float(s):
    return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(s) or float(s)


def family_of(sample_name, types):
    if sample_name in types:
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[:-len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                return base
    return None


def parse_prometheus(text):
    """Parses an exposition; returns {family: {"type", "help", "samples":
    [(name, labels, value)]}}. Raises PromError on anything the format (or
    the conventions below) does not allow:
      - every line is a HELP, a TYPE, another comment, or a sample;
      - HELP and TYPE at most once per family, before its samples; every
        sample belongs to a family with a TYPE (our own rule: no untyped);
      - a family's samples are contiguous; no series appears twice;
      - the text ends with a newline."""
    if not text.endswith("\n"):
        raise PromError("exposition does not end with a newline")
    fams = {}
    types = {}
    done = set()          # families whose block has ended
    current = None
    series = set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (n, line)
        if line == "":
            continue
        if line.startswith("#"):
            m = HELP_RE.match(line)
            if m:
                name = m.group(1)
                f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if f["help"] is not None:
                    raise PromError("%s: second HELP" % where)
                if f["samples"]:
                    raise PromError("%s: HELP after samples" % where)
                if re.search(r"\\[^\\n]", m.group(2)):
                    raise PromError("%s: bad escape in HELP" % where)
                f["help"] = m.group(2)
                continue
            m = TYPE_RE.match(line)
            if m:
                name = m.group(1)
                f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if f["type"] is not None:
                    raise PromError("%s: second TYPE" % where)
                if f["samples"]:
                    raise PromError("%s: TYPE after samples" % where)
                f["type"] = types[name] = m.group(2)
                continue
            if line.startswith(("# HELP", "# TYPE")):
                raise PromError("%s: malformed HELP/TYPE" % where)
            continue  # a plain comment
        m = SAMPLE_RE.match(line)
        if not m:
            raise PromError("%s: not a sample line" % where)
        name, label_text, value = m.group(1), m.group(2), m.group(3)
        labels = parse_labels(label_text, where) if label_text else {}
        fam = family_of(name, types)
        if fam is None:
            raise PromError("%s: sample without a TYPE for its family" % where)
        if fam != current:
            if fam in done:
                raise PromError("%s: family %s is not contiguous" % (where, fam))
            if current is not None:
                done.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            raise PromError("%s: duplicate series" % where)
        series.add(key)
        fams[fam]["samples"].append((name, labels, prom_float(value)))
    return fams


def check_conventions(fams):
    """Prometheus naming and histogram rules."""
    for name, f in fams.items():
        assert f["type"] is not None, "%s has HELP but no TYPE" % name
        assert f["help"], "%s has no HELP" % name
        assert name.startswith("ses_proxy_"), name
        assert re.match(r"^[a-z_][a-z0-9_]*$", name), "%s: use snake_case" % name
        if f["type"] == "counter":
            assert name.endswith("_total"), "counter %s should end in _total" % name
            for _, _, v in f["samples"]:
                assert v >= 0 and not math.isnan(v), (name, v)
        else:
            assert not name.endswith("_total"), "non-counter %s ends in _total" % name
        if f["type"] == "histogram" and ("duration" in name or "wait" in name):
            assert name.endswith("_seconds"), "%s: base unit seconds" % name
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])


def check_histogram(name, samples):
    """Buckets by label set (without le): increasing le ending at +Inf,
    cumulative counts never decreasing, +Inf == _count, a _sum."""
    groups = {}
    for sname, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            assert "le" in labels, (name, labels)
            g["buckets"].append((prom_float(labels["le"]), v))
        elif sname == name + "_sum":
            g["sum"] = v
        elif sname == name + "_count":
            g["count"] = v
        else:
            raise PromError("%s: unexpected sample %s" % (name, sname))
    assert groups, "histogram %s has no samples" % name
    for rest, g in groups.items():
        les = [le for le, _ in g["buckets"]]
        counts = [c for _, c in g["buckets"]]
        assert les and les[-1] == math.inf, (name, rest, les)
        assert all(a < b for a, b in zip(les, les[1:])), (name, "le not increasing", les)
        assert all(a <= b for a, b in zip(counts, counts[1:])), (name, "not cumulative", counts)
        assert g["count"] is not None and g["sum"] is not None, (name, rest)
        assert counts[-1] == g["count"], (name, "+Inf %s != _count %s" % (counts[-1], g["count"]))
        assert g["sum"] >= 0, (name, g["sum"])


def scrape(p):
    r = p.get("/metrics")
    assert r.status == 200, r
    ctype = r.header("Content-Type", "")
    assert ctype.startswith("text/plain"), ctype
    assert "version=0.0.4" in ctype, ctype
    fams = parse_prometheus(r.raw.decode("utf-8"))
    check_conventions(fams)
    return fams


def value(fams, family, sample=None, **labels):
    """The value of one series (0 when absent)."""
    f = fams.get(family)
    if f is None:
        return 0
    want = sample or family
    for name, lab, v in f["samples"]:
        if name == want and all(lab.get(k) == str(x) for k, x in labels.items()):
            return v
    return 0


# ---- the parser itself, on known-good and known-bad text ----

GOOD_TEXT = """# HELP ses_proxy_x_total A counter.
# TYPE ses_proxy_x_total counter
ses_proxy_x_total{a="b",c="q\\"uote\\\\"} 3
ses_proxy_x_total{a="c",} 1 1700000000000
# a comment
# HELP ses_proxy_h_seconds A histogram.
# TYPE ses_proxy_h_seconds histogram
ses_proxy_h_seconds_bucket{le="0.5"} 1
ses_proxy_h_seconds_bucket{le="+Inf"} 2
ses_proxy_h_seconds_sum 1.25e0
ses_proxy_h_seconds_count 2
"""


def test_prometheus_parser_accepts_valid_text():
    fams = parse_prometheus(GOOD_TEXT)
    check_conventions(fams)
    assert value(fams, "ses_proxy_x_total", a="b") == 3
    assert fams["ses_proxy_x_total"]["samples"][0][1]["c"] == 'q"uote\\'


@pytest.mark.parametrize("bad", [
    "ses_proxy_a 1\n",                                              # no TYPE
    "# TYPE ses_proxy_a gauge\nses_proxy_a 1",                      # no final newline
    "# TYPE ses_proxy_a gauge\nses_proxy_a{b=\"c} 1\n",             # open quote
    "# TYPE ses_proxy_a gauge\nses_proxy_a{b=c} 1\n",               # unquoted
    "# TYPE ses_proxy_a gauge\nses_proxy_a one\n",                  # value
    "# TYPE ses_proxy_a gauge\nses_proxy_a inf\n",                  # Go spelling only
    "# TYPE ses_proxy_a gauge\nses_proxy_a 1\nses_proxy_a 2\n",     # duplicate
    "# TYPE 1bad gauge\n1bad 1\n",                                  # name
    "# TYPE ses_proxy_a gauge\n# TYPE ses_proxy_a gauge\n",         # TYPE twice
    "# TYPE ses_proxy_a gauge\n# TYPE ses_proxy_b gauge\nses_proxy_a 1\n"
    "ses_proxy_b 1\nses_proxy_a{x=\"y\"} 1\n",                      # interleaved
    "# TYPE ses_proxy_a gauge\nses_proxy_a{b=\"\\x\"} 1\n",         # escape
    "# TYPE ses_proxy_a gauge\nses_proxy_a  1\n",                   # two spaces
])
def test_prometheus_parser_rejects(bad):
    with pytest.raises(PromError):
        parse_prometheus(bad)


@pytest.mark.parametrize("bad", [
    # +Inf bucket differs from _count
    "# HELP ses_proxy_h_seconds h\n# TYPE ses_proxy_h_seconds histogram\n"
    "ses_proxy_h_seconds_bucket{le=\"1\"} 1\nses_proxy_h_seconds_bucket{le=\"+Inf\"} 2\n"
    "ses_proxy_h_seconds_sum 1\nses_proxy_h_seconds_count 3\n",
    # buckets not cumulative
    "# HELP ses_proxy_h_seconds h\n# TYPE ses_proxy_h_seconds histogram\n"
    "ses_proxy_h_seconds_bucket{le=\"1\"} 2\nses_proxy_h_seconds_bucket{le=\"+Inf\"} 1\n"
    "ses_proxy_h_seconds_sum 1\nses_proxy_h_seconds_count 1\n",
    # no +Inf bucket
    "# HELP ses_proxy_h_seconds h\n# TYPE ses_proxy_h_seconds histogram\n"
    "ses_proxy_h_seconds_bucket{le=\"1\"} 1\n"
    "ses_proxy_h_seconds_sum 1\nses_proxy_h_seconds_count 1\n",
    # a counter without _total
    "# HELP ses_proxy_calls c\n# TYPE ses_proxy_calls counter\nses_proxy_calls 1\n",
])
def test_prometheus_conventions_reject(bad):
    with pytest.raises(AssertionError):
        check_conventions(parse_prometheus(bad))


# ==========================================================================
# Probes
# ==========================================================================

def test_healthz_and_readyz(proxy):
    for path, want in (("/healthz", "ok"), ("/readyz", "ready")):
        r = proxy.get(path)
        assert r.status == 200, (path, r)
        assert r.header("Content-Type", "").startswith("application/json")
        assert r.json["status"] == want, r
        assert GENERATED_ID.match(r.header("X-Request-Id", "")), r.headers


def test_readyz_without_credentials(start_proxy, standin):
    p = start_proxy(creds_via="none")
    assert p.get("/healthz").status == 200   # alive all the same
    r = p.get("/readyz")
    assert r.status == 503, r
    assert r.json["status"] == "unavailable" and r.json.get("reason"), r
    r = p.call(CALL)
    assert (r.status, r.error_code) == (503, "CredentialsUnavailable"), r
    assert standin.count == 0
    fams = scrape(p)
    assert value(fams, "ses_proxy_credentials_usable") == 0


def test_probes_head_and_unknown_path(proxy):
    r = proxy.get("/nope")
    assert (r.status, r.error_code) == (404, "NotFound"), r
    r = proxy.call(None, path="/healthz", method="HEAD")
    assert r.status == 200


# ==========================================================================
# Metrics
# ==========================================================================

EXPECTED_FAMILIES = {
    "ses_proxy_requests_total": "counter",
    "ses_proxy_request_duration_seconds": "histogram",
    "ses_proxy_upstream_duration_seconds": "histogram",
    "ses_proxy_throttle_wait_seconds": "histogram",
    "ses_proxy_throttle_queue_depth": "gauge",
    "ses_proxy_throttled_total": "counter",
    "ses_proxy_retries_total": "counter",
    "ses_proxy_upstream_connections": "gauge",
    "ses_proxy_client_connections": "gauge",
    "ses_proxy_credentials_expiry_timestamp_seconds": "gauge",
    "ses_proxy_config_reloads_total": "counter",
}


def test_metrics_exposition_is_valid(proxy):
    fams = scrape(proxy)
    for name, typ in EXPECTED_FAMILIES.items():
        assert name in fams, "missing metric family %s" % name
        assert fams[name]["type"] == typ, (name, fams[name]["type"])
    # Per-bucket queue depth: one series per throttled operation plus send_rate.
    buckets = {lab.get("bucket") for _, lab, _ in
               fams["ses_proxy_throttle_queue_depth"]["samples"]}
    assert "send_rate" in buckets and OP in buckets, sorted(buckets)[:10]
    # The scrape itself is an open client connection.
    assert value(fams, "ses_proxy_client_connections") >= 1
    # Static credentials do not expire.
    assert value(fams, "ses_proxy_credentials_expiry_timestamp_seconds") == 0


def test_metrics_move_after_a_call(proxy, standin):
    before = scrape(proxy)
    r = proxy.call(CALL)
    assert r.status == 200, r
    after = scrape(proxy)
    key = dict(action=OP, status=200)
    assert value(after, "ses_proxy_requests_total", **key) - \
        value(before, "ses_proxy_requests_total", **key) == 1
    for h in ("ses_proxy_request_duration_seconds", "ses_proxy_upstream_duration_seconds"):
        assert value(after, h, h + "_count") - value(before, h, h + "_count") == 1, h
        assert value(after, h, h + "_bucket", le="+Inf") == value(after, h, h + "_count")
    assert value(after, "ses_proxy_upstream_requests_total") - \
        value(before, "ses_proxy_upstream_requests_total") == 1
    # Another status gets its own series.
    proxy.call(dict(CALL, Identity=7))
    again = scrape(proxy)
    assert value(again, "ses_proxy_requests_total", action=OP, status=400) == 1
    assert value(again, "ses_proxy_requests_total", **key) == \
        value(after, "ses_proxy_requests_total", **key)


def test_metrics_retries_and_throttled(start_proxy, standin):
    p = start_proxy({"throttle": {"max_wait_ms": 0, "operations": {
        "ListIdentities": {"rate": 1, "burst": 1}}}})
    standin.push(Scripted.throttling())
    before = scrape(p)
    r = p.call(QUOTA)       # SES throttles once, the retry succeeds
    assert r.status == 200 and r.json["ResponseMetadata"]["RetryAttempts"] == 1, r
    assert p.call(LIST_IDS).status == 200
    r2 = p.call(LIST_IDS)   # the bucket is empty and no wait is allowed
    assert (r2.status, r2.error_code) == (429, "Throttling"), r2
    after = scrape(p)
    assert value(after, "ses_proxy_retries_total") - value(before, "ses_proxy_retries_total") == 1
    assert value(after, "ses_proxy_throttled_total") - \
        value(before, "ses_proxy_throttled_total") == 1
    assert value(after, "ses_proxy_requests_total", action="ListIdentities", status=429) == 1
    assert value(after, "ses_proxy_upstream_requests_total") - \
        value(before, "ses_proxy_upstream_requests_total") == 3


def test_metrics_throttled_counts_a_refused_retry(start_proxy, standin):
    """A retry that the throttle refuses ends the call with 429 Throttling
    from the throttle: ses_proxy_throttled_total counts it like any other."""
    p = start_proxy({"throttle": {"max_wait_ms": 0, "operations": Replace(
        {"*": {"rate": 1, "burst": 1}})}})
    standin.push(Scripted.throttling())
    before = scrape(p)
    r = p.call(QUOTA)       # SES throttles; the retry finds the bucket empty
    assert (r.status, r.error_code) == (429, "Throttling"), r
    assert standin.count == 1
    after = scrape(p)
    assert value(after, "ses_proxy_throttled_total") - \
        value(before, "ses_proxy_throttled_total") == 1


# ==========================================================================
# Logs and X-Request-Id
# ==========================================================================

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_access_log_line(proxy, standin):
    r = proxy.call(CALL, headers={"X-Request-Id": "trace-abc_123.4:5"})
    assert r.status == 200, r
    assert r.header("X-Request-Id") == "trace-abc_123.4:5"
    line = wait_request_line(proxy, "trace-abc_123.4:5")
    for k in ("time", "level", "request_id", "client", "action", "status", "attempts",
              "throttle_wait_ms", "duration_ms", "ses_request_id"):
        assert k in line, (k, line)
    assert ISO_TIME.match(line["time"]), line
    assert line["level"] == "info"
    assert line["action"] == OP and line["status"] == 200 and line["attempts"] == 1
    assert re.match(r"^127\.0\.0\.1:\d+$", line["client"]), line
    assert line["ses_request_id"] == standin.last.request_id
    assert line["ses_request_id"] == r.json["ResponseMetadata"]["RequestId"]
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert 0 <= line["throttle_wait_ms"] <= line["duration_ms"]


def test_request_id_generated_and_replaced(proxy):
    seen = set()
    for hdrs in ({}, {"X-Request-Id": "x" * 65}, {"X-Request-Id": "has/slash"},
                 {"X-Request-Id": "sp ace"}):
        r = proxy.call(CALL, headers=hdrs)
        rid = r.header("X-Request-Id")
        assert rid and GENERATED_ID.match(rid), (hdrs, rid)
        assert rid not in seen
        seen.add(rid)
        assert wait_request_line(proxy, rid)["status"] == 200
    # Echoed on the proxy's own errors too, and on probes.
    r = proxy.call({"Action": "NoSuchThing"}, headers={"X-Request-Id": "e-1"})
    assert (r.status, r.header("X-Request-Id")) == (400, "e-1"), r
    assert proxy.call(None, path="/healthz",
                      headers={"X-Request-Id": "probe-1"}).header("X-Request-Id") == "probe-1"
    r = proxy.call(None, path="/", method="PUT", headers={"X-Request-Id": "put-1"})
    assert (r.status, r.header("X-Request-Id")) == (405, "put-1"), r


def test_retries_reported_alike_in_answer_and_log(start_proxy, standin):
    """After retries, the proxy's own error (here 502: SES hung up twice)
    reports the retries made in ResponseMetadata.RetryAttempts, as the
    access log's attempts and a success answer do."""
    p = start_proxy({"retry": {"max_attempts": 2}})
    standin.push(Scripted(action="close"), Scripted(action="close"))
    r = p.call(QUOTA, headers={"X-Request-Id": "two-tries"})
    assert (r.status, r.error_code) == (502, "BadGateway"), r
    assert standin.count == 2
    line = wait_request_line(p, "two-tries")
    assert line["attempts"] == 2, line
    assert r.json["ResponseMetadata"]["RetryAttempts"] == 1, r


def test_every_log_line_is_json_and_holds_no_secret(start_proxy, standin, creds_token):
    """Level debug, a session token, JSON and SDK calls, successes and
    errors: no line may hold the secret key, the token, a signature
    (the proxy's upstream ones or the client's own), or message text."""
    standin.credentials = creds_token
    p = start_proxy()
    marker_subject = "SUBJECT-8c1f0e"
    marker_body = "BODY-TEXT-5d2a97"
    send = {"Action": "SendEmail", "Source": "s@example.com",
            "Destination": {"ToAddresses": ["t@example.com"]},
            "Message": {"Subject": {"Data": marker_subject},
                        "Body": {"Text": {"Data": marker_body}}}}
    assert p.call(send).status == 200
    assert p.call(CALL).status == 200
    standin.push(Scripted.error("MessageRejected", "Email address is not verified. "
                                "REJECT-TEXT-7e", status=400))
    r = p.call(send)
    assert (r.status, r.error_code) == (400, "MessageRejected"), r
    r = p.call(dict(send, Message={"Subject": {"Data": marker_subject}}))
    assert r.status == 400, r               # no Body: a validation error
    # SDK pass-through signed by the client with its own throwaway keys.
    client = standin_ses.Credentials("AKIDCLIENTONLY", "client/SECRET+key0123456789")
    headers, data = standin_ses.sign_request(
        client, "us-east-1", p.url + "/",
        "Action=SendEmail&Version=2010-12-01&Source=s%40example.com"
        "&Destination.ToAddresses.member.1=t%40example.com"
        "&Message.Subject.Data=" + marker_subject + "&Message.Body.Text.Data=" + marker_body)
    client_sig = headers["Authorization"].rsplit("Signature=", 1)[1]
    r = p.call(data, headers=headers)
    assert r.status == 200, r
    standin.wait_for(4)
    sigs = [rec.auth.signature for rec in standin.snapshot()]
    assert all(sigs) and len(sigs) == 4
    lines = log_lines(p)                   # every stdout line is JSON
    assert lines
    for o in lines:
        assert ISO_TIME.match(o.get("time", "")), o
        assert o.get("level") in ("debug", "info", "warn", "error"), o
        assert isinstance(o.get("msg"), str), o
    text = p.stdout + p.stderr
    forbidden = [SECRET_KEY, SESSION_TOKEN, ACCESS_KEY, client.secret_key, client_sig,
                 marker_subject, marker_body,
                 "AWS4-HMAC-SHA256 Credential"] + sigs
    # Also the parts of the token and secret (a line cut or escaped
    # differently would still show them).
    forbidden += [SECRET_KEY[:16], SESSION_TOKEN[:24], SESSION_TOKEN[-24:]]
    for f in forbidden:
        assert f not in text, "log holds %r" % f
        assert json.dumps(f)[1:-1] not in text, "log holds %r (escaped)" % f
    reqs = [o for o in lines if o.get("msg") == "request"]
    assert len(reqs) >= 5, reqs
    assert {o["status"] for o in reqs} >= {200, 400}


def test_log_level_filters(start_proxy, standin):
    p = start_proxy({"log": {"level": "warn"}})
    assert p.call(CALL).status == 200
    r = p.call(CALL, headers={"X-Pad": "x"}, path="/a/b")
    assert r.status == 404
    rewrite_config(p, {"policy": {"deny_action": "typo"}})   # an error event
    p.signal(signal.SIGHUP)
    wait_log(p, lambda o: o.get("msg", "").startswith("reload failed"))
    levels = {o["level"] for o in log_lines(p)}
    assert levels <= {"warn", "error"}, levels
    assert not request_lines(p)


def test_every_call_gets_one_access_line(start_proxy, standin):
    """One access-log line per answered call, including the ones the server
    refuses before the pipeline (405, 413, 431, 404) and policy refusals."""
    p = start_proxy({"limits": {"max_body_bytes": 1000, "max_header_bytes": 1024},
                     "policy": {"deny_actions": ["ListIdentities"]}})
    cases = [("ok", CALL, {}, "/", "POST", 200),
             ("deny", LIST_IDS, {}, "/", "POST", 403),
             ("invalid", {"Action": "Nope"}, {}, "/", "POST", 400),
             ("notfound", None, {}, "/a/b", "POST", 404),
             ("method", None, {}, "/", "PUT", 405),
             ("big", b"x" * 2000, {"Content-Type": "application/json"}, "/", "POST", 413),
             ("head", CALL, {"X-Pad": "p" * 1500}, "/", "POST", 431)]
    for rid, body, hdrs, path, method, status in cases:
        hdrs = dict(hdrs, **{"X-Request-Id": "line-" + rid})
        r = p.call(body, path=path, method=method, headers=hdrs)
        assert r.status == status, (rid, r)
    time.sleep(0.2)
    got = {}
    for o in request_lines(p):
        got.setdefault(o["request_id"], []).append(o["status"])
    statuses = [st for v in got.values() for st in v]
    missing = []
    for rid, _, _, _, _, status in cases:
        # 431 is answered before the head (and so X-Request-Id) could be
        # read: its line carries an id the proxy made.
        if "line-" + rid not in got and not (status == 431 and 431 in statuses):
            missing.append("%d (%s)" % (status, rid))
    assert not missing, "no access-log line for: %s; lines seen: %s" % (
        ", ".join(missing), sorted(got.items()))
    for rid, statuses in got.items():
        assert len(statuses) == 1, (rid, statuses)


# ==========================================================================
# Policy
# ==========================================================================

def test_allow_clients_refuses_before_reading(start_any, standin):
    p = start_any({"policy": {"allow_clients": Replace(["10.0.0.0/8"])}})
    # The answer comes right after accept, before the client sends a byte.
    s = connect(p)
    try:
        status, headers, body = read_response(s, timeout=3)
        assert status == 403, (status, body)
        j = json.loads(body)
        assert j["Error"]["Code"] == "AccessDenied", j
        assert headers["content-type"].startswith("application/json")
        assert headers.get("connection", "").lower() == "close"
    finally:
        s.close()
    r = p.call(CALL)
    assert (r.status, r.error_code) == (403, "AccessDenied"), r
    assert p.get("/healthz").status == 403
    assert standin.count == 0
    assert wait_log(p, lambda o: "allow_clients" in o.get("msg", ""))["client"].startswith(
        "127.0.0.1:")


def test_allow_clients_allows_listed(start_proxy, standin):
    p = start_proxy({"policy": {"allow_clients": Replace(["10.0.0.0/8", "127.0.0.1/32"])}})
    assert p.call(CALL).status == 200


def test_allow_clients_ipv6(start_any, standin):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    port = proxyproc.free_port()
    try:
        with socket.socket(socket.AF_INET6) as t:
            t.bind(("::1", port))
    except OSError:
        pytest.skip("no ::1 on this host")
    p = start_any({"policy": {"allow_clients": Replace(["127.0.0.0/8"])}},
                  extra_args=["--listen", "[::1]:%d" % port])
    assert p.call(CALL).status == 200                       # 127.0.0.1 allowed
    r = proxyproc.http_call("::1", port, CALL)
    assert (r.status, r.error_code) == (403, "AccessDenied"), r
    port2 = proxyproc.free_port()
    p2 = start_any({"policy": {"allow_clients": Replace(["::1/128"])}},
                   extra_args=["--listen", "[::1]:%d" % port2])
    r = proxyproc.http_call("::1", port2, CALL)
    assert r.status == 200, r
    assert p2.call(CALL).status == 403                      # 127.0.0.1 is not ::1


def test_admin_listener_serves_probes_and_metrics_to_anyone(start_any, standin):
    """admin_listen: probes and metrics for clients outside allow_clients
    (the kubelet, Prometheus), and nothing else; the main listener still
    refuses them."""
    admin = proxyproc.free_port()
    p = start_any({"policy": {"allow_clients": Replace(["10.0.0.0/8"])},
                   "admin_listen": ["127.0.0.1:%d" % admin]})
    r = p.call(CALL)
    assert (r.status, r.error_code) == (403, "AccessDenied"), r

    def get(path, method="GET"):
        return proxyproc.http_call("127.0.0.1", admin, None, path, method=method)

    h = get("/healthz")
    assert (h.status, h.json) == (200, {"status": "ok"}), h
    ready = get("/readyz")
    assert (ready.status, ready.json) == (200, {"status": "ready"}), ready
    m = get("/metrics")
    assert m.status == 200 and m.header("Content-Type").startswith("text/plain"), m
    fams = parse_prometheus(m.raw.decode())
    assert "ses_proxy_requests_total" in fams
    assert get("/healthz", method="HEAD").status == 200
    # No SES call, no other path, whatever the method.
    for method, path, body in (("POST", "/", CALL), ("POST", "/GetSendQuota", None),
                               ("GET", "/", None), ("PUT", "/metrics", None)):
        r = proxyproc.http_call("127.0.0.1", admin, body, path, method=method)
        assert (r.status, r.error_code) == (404, "NotFound"), (method, path, r)
        assert "admin listener" in r.error_message, r
    # A body is refused before it is read: the answer comes to the head alone.
    with socket.create_connection(("127.0.0.1", admin), timeout=5) as sock:
        sock.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000\r\n\r\n")
        status, _, body = read_response(sock, timeout=3)
        assert status == 404 and b"admin listener" in body, (status, body)
    assert standin.count == 0
    assert any(o.get("msg") == "listening (admin)" for o in log_lines(p))


def test_admin_listener_says_draining(start_proxy, standin):
    """While draining, the main listener is closed at once but the admin one
    stays: /readyz answers 503 "draining" until the process exits."""
    admin = proxyproc.free_port()
    p = start_proxy({"drain_timeout_ms": 5000, "admin_listen": ["127.0.0.1:%d" % admin]})
    standin.push(Scripted.success(OP, delay=1.5))
    pending = in_thread(p.call, CALL, timeout=10)
    wait_upstream(standin, 1)
    p.signal(signal.SIGTERM)
    assert refused_soon(p)
    r = proxyproc.http_call("127.0.0.1", admin, None, "/readyz", method="GET")
    assert (r.status, r.json) == (503, {"status": "draining"}), r
    m = proxyproc.http_call("127.0.0.1", admin, None, "/metrics", method="GET")
    assert value(parse_prometheus(m.raw.decode()), "ses_proxy_draining") == 1
    assert pending().status == 200
    assert p.proc.wait(5) == 0, p.describe()


def test_allow_actions_patterns(start_proxy, standin):
    p = start_proxy({"policy": {"allow_actions": Replace(["Get*", OP])}})
    assert p.call(QUOTA).status == 200
    assert p.call(CALL).status == 200
    assert p.call(dict(PARAMS, Action="set_identity_mail_from_domain")).status == 200
    n = standin.count
    for body in (LIST_IDS, {"Action": "list_identities"}, {"Action": "DeleteIdentity",
                                                          "Identity": "x@example.com"}):
        r = p.call(body)
        assert (r.status, r.error_code) == (403, "AccessDenied"), (body, r)
        assert r.json["Error"]["Type"] == "Sender"
    r = p.call(None, path="/ListIdentities", method="POST")
    assert (r.status, r.error_code) == (403, "AccessDenied"), r
    assert standin.count == n, "a refused call reached SES"


def test_deny_actions_patterns_win_over_allow(start_proxy, standin):
    p = start_proxy({"policy": {"allow_actions": Replace(["*"]),
                                "deny_actions": Replace(["*Identit*", "Delete*"])}})
    for body in (CALL, LIST_IDS, {"Action": "DeleteTemplate", "TemplateName": "t"}):
        r = p.call(body)
        assert (r.status, r.error_code) == (403, "AccessDenied"), (body, r)
    assert standin.count == 0
    assert p.call(QUOTA).status == 200
    assert standin.count == 1


def test_deny_actions_in_sdk_mode(start_proxy, standin, creds):
    p = start_proxy({"policy": {"deny_actions": ["ListIdentities"]}})
    headers, data = standin_ses.sign_request(creds, "us-east-1", p.url + "/",
                                             "Action=ListIdentities&Version=2010-12-01")
    r = p.call(data, headers=headers)
    assert r.status == 403, r
    assert b"<Code>AccessDenied</Code>" in r.raw, r
    headers, data = standin_ses.sign_request(creds, "us-east-1", p.url + "/",
                                             "Action=GetSendQuota&Version=2010-12-01")
    assert p.call(data, headers=headers).status == 200
    assert [rec.action for rec in standin.snapshot()] == ["GetSendQuota"]


# ==========================================================================
# Limits
# ==========================================================================

def test_max_connections(start_proxy, standin):
    p = start_proxy({"limits": {"max_connections": 2, "idle_timeout_ms": 20000}})
    time.sleep(0.3)     # the readiness probe's connection is gone
    c1, c2 = connect(p), connect(p)
    c3 = None
    try:
        time.sleep(0.2)
        # Both held connections are served.
        c1.sendall(http_request("GET", "/healthz"))
        assert read_response(c1)[0] == 200
        # A third is not served while two are open: left unaccepted in the
        # kernel's backlog (or, if it raced in, closed at once).
        c3 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c3.settimeout(2)
        c3_open = True
        try:
            c3.connect((p.host, p.port))
            c3.sendall(http_request("GET", "/healthz"))
            data, closed = read_until_eof(c3, 1.0)
            assert parse_status_line(data) is None, data
            c3_open = not closed
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
            c3_open = False
        c2.sendall(http_request("GET", "/healthz"))
        assert read_response(c2)[0] == 200
        # One closes: the waiting connection is served now.
        c1.close()
        if c3_open:
            status, _, _ = read_response(c3, 3)
            assert status == 200
            c3.close()
        deadline = time.monotonic() + 3
        while True:
            try:
                if p.get("/healthz", timeout=1).status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "not serving after a slot was freed"
            time.sleep(0.05)
    finally:
        for s in (c1, c2, c3):
            if s is not None:
                s.close()


def test_max_header_bytes(start_proxy, standin):
    p = start_proxy({"limits": {"max_header_bytes": 1024}})
    r = p.call(CALL, headers={"X-Pad": "a" * 600})
    assert r.status == 200, r
    r = p.call(CALL, headers={"X-Pad": "a" * 2000})
    assert (r.status, r.error_code) == (431, "RequestHeaderFieldsTooLarge"), r
    # Many small headers count too.
    r = p.call(CALL, headers={"X-H%d" % i: "v" * 20 for i in range(60)})
    assert r.status == 431, r
    assert standin.count == 1


def test_header_timeout_half_a_head(start_proxy, standin):
    p = start_proxy({"limits": {"header_timeout_ms": 500, "idle_timeout_ms": 20000}})
    s = connect(p)
    try:
        t0 = time.monotonic()
        s.sendall(b"POST / HTTP/1.1\r\nHost: proxy\r\nContent-Type: appl")
        data, closed = read_until_eof(s, 4)
        dt = time.monotonic() - t0
        assert parse_status_line(data) == 408, data
        assert json.loads(body_of(data))["Error"]["Code"] == "RequestTimeout"
        assert closed, "connection still open after the 408"
        assert 0.4 <= dt < 3.5, dt
    finally:
        s.close()


def test_header_timeout_is_not_extended_by_dripping(start_proxy, standin):
    """A client that sends its head a byte at a time gets 408 when the head
    timeout (from its first byte) passes, however steadily it drips."""
    p = start_proxy({"limits": {"header_timeout_ms": 600, "idle_timeout_ms": 20000}})
    s = connect(p)
    head = http_request("POST", "/", json_body(CALL))
    got = b""
    t0 = time.monotonic()
    try:
        s.settimeout(0.1)
        for i in range(len(head)):
            try:
                s.send(head[i:i + 1])
            except OSError:
                break
            try:
                got += s.recv(4096)
            except socket.timeout:
                pass
            if got or time.monotonic() - t0 > 5:
                break
        data, _ = read_until_eof(s, 3)
        got += data
    finally:
        s.close()
    assert parse_status_line(got) == 408, got
    assert time.monotonic() - t0 < 2.5
    assert standin.count == 0


def test_body_timeout_slow_body(start_proxy, standin):
    p = start_proxy({"limits": {"header_timeout_ms": 500, "idle_timeout_ms": 20000}})
    body = json_body(CALL)
    s = connect(p)
    try:
        req = http_request("POST", "/", body)
        # Content-Length says len(body); send the head and only a part of it.
        s.sendall(req[:len(req) - len(body) + 10])
        t0 = time.monotonic()
        data, closed = read_until_eof(s, 4)
        assert parse_status_line(data) == 408, data
        assert closed
        assert 0.4 <= time.monotonic() - t0 < 3.5
    finally:
        s.close()
    assert standin.count == 0


def test_body_progress_within_the_deadline(start_proxy, standin):
    """A body arriving in pieces is read to the end while the whole upload
    stays within its deadline (header_timeout_ms plus time for its size)."""
    p = start_proxy({"limits": {"header_timeout_ms": 2000, "idle_timeout_ms": 20000}})
    body = json_body(CALL)
    req = http_request("POST", "/", body)
    head_len = len(req) - len(body)
    s = connect(p)
    try:
        s.sendall(req[:head_len])
        pieces = [body[i:i + len(body) // 4 + 1] for i in range(0, len(body), len(body) // 4 + 1)]
        for piece in pieces:
            time.sleep(0.3)
            s.sendall(piece)
        status, _, raw = read_response(s, 5)
        assert status == 200, raw
    finally:
        s.close()


def test_trickled_body_cannot_hold_the_connection(start_proxy, standin):
    """Progress alone does not keep a connection: a body trickled one byte
    every 0.3 s (each gap well inside header_timeout_ms) gets 408 once the
    whole-body deadline passes, and nothing is forwarded."""
    p = start_proxy({"limits": {"header_timeout_ms": 1000, "idle_timeout_ms": 20000}})
    body = json_body(CALL)
    req = http_request("POST", "/", body)
    head_len = len(req) - len(body)
    s = connect(p)
    t0 = time.monotonic()
    try:
        s.sendall(req[:head_len])
        status = None
        for i in range(len(body) - 1):
            time.sleep(0.3)
            try:
                s.sendall(body[i:i + 1])
            except OSError:
                break
            if time.monotonic() - t0 > 3:
                break
        status, _, raw = read_response(s, 5)
        assert status == 408, raw
        assert time.monotonic() - t0 < 4
    finally:
        s.close()
    assert standin.count == 0


def test_idle_keepalive_timeout(start_proxy, standin):
    p = start_proxy({"limits": {"idle_timeout_ms": 500, "header_timeout_ms": 5000}})
    s = connect(p)
    try:
        s.sendall(http_request("GET", "/healthz"))
        status, headers, _ = read_response(s)
        assert status == 200 and headers.get("connection", "").lower() != "close"
        # Still usable at once (keep-alive) ...
        s.sendall(http_request("GET", "/healthz"))
        assert read_response(s)[0] == 200
        t0 = time.monotonic()
        # ... and closed without an answer once idle too long.
        data, closed = read_until_eof(s, 4)
        assert closed and data == b"", data
        assert 0.4 <= time.monotonic() - t0 < 3.0
    finally:
        s.close()
    # A connection that never sends a byte is closed the same way.
    s = connect(p)
    try:
        data, closed = read_until_eof(s, 4)
        assert closed and data == b"", data
    finally:
        s.close()


def test_max_body_bytes_answered_before_the_body(start_proxy, standin):
    p = start_proxy({"limits": {"max_body_bytes": 1000}})
    s = connect(p)
    try:
        s.sendall(b"POST / HTTP/1.1\r\nHost: p\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        status, _, raw = read_response(s, 3)   # no body byte was sent
        assert status == 413, raw
        assert json.loads(raw)["Error"]["Code"] == "RequestEntityTooLarge"
    finally:
        s.close()
    assert standin.count == 0


def nested(depth, leaf="x@example.com", kind="list"):
    v = leaf
    for _ in range(depth):
        v = [v] if kind == "list" else {"a": v}
    return v


@pytest.mark.parametrize("where", ["param", "list_member", "unknown", "object"])
def test_json_nesting_depth(proxy, standin, where):
    if where == "param":
        body = dict(CALL, Identity=nested(100))
    elif where == "list_member":
        body = {"Action": "SendEmail", "Source": "s@example.com",
                "Destination": {"ToAddresses": nested(100)},
                "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    elif where == "unknown":
        body = dict(CALL, Extra=nested(100))
    else:
        body = dict(CALL, Identity=nested(100, kind="object"))
    r = proxy.call(body)
    assert r.status == 400 and r.error_code in ("ValidationError", "MalformedRequest"), r
    assert standin.count == 0


def test_json_nesting_far_too_deep(proxy, standin):
    """Nesting far past any parser's limit is refused without harm."""
    for depth in (5000, 200000):
        raw = b'{"Action":"GetSendQuota","X":' + b"[" * depth + b"]" * depth + b"}"
        r = proxy.call(raw, headers={"Content-Type": "application/json"})
        assert r.status == 400 and r.error_code in ("ValidationError", "MalformedRequest"), r
        raw = b'{"Action":"GetSendQuota","X":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
        r = proxy.call(raw, headers={"Content-Type": "application/json"})
        assert r.status == 400 and r.error_code in ("ValidationError", "MalformedRequest"), r
    assert standin.count == 0
    assert proxy.get("/healthz").status == 200


# ==========================================================================
# Reload (SIGHUP)
# ==========================================================================

def test_reload_applies_new_policy(proxy, standin):
    assert proxy.call(CALL).status == 200
    before = scrape(proxy)
    rewrite_config(proxy, {"policy": {"deny_actions": [OP]}})
    reload(proxy, "configuration reloaded")
    r = proxy.call(CALL)
    assert (r.status, r.error_code) == (403, "AccessDenied"), r
    assert proxy.call(QUOTA).status == 200
    after = scrape(proxy)
    assert value(after, "ses_proxy_config_reloads_total", result="ok") - \
        value(before, "ses_proxy_config_reloads_total", result="ok") == 1
    assert value(after, "ses_proxy_config_reloads_total", result="failed") == 0
    # And back again.
    rewrite_config(proxy, {"policy": {"deny_actions": Replace([])}})
    reload(proxy, "configuration reloaded")
    assert proxy.call(CALL).status == 200


def test_reload_applies_new_limits(proxy, standin):
    assert proxy.call(CALL).status == 200
    rewrite_config(proxy, {"limits": {"max_body_bytes": 64}})
    reload(proxy, "configuration reloaded")
    r = proxy.call(CALL)
    assert (r.status, r.error_code) == (413, "RequestEntityTooLarge"), r


@pytest.mark.parametrize("broken,says", [
    ('{"policy": {"deny_actions": ["x"]', "ses-proxy.json"),     # not JSON
    ('{"policy": {"deny_action": ["x"]}}', "deny_action"),        # unknown key
    ('{"limits": {"max_connections": -1}}', "max_connections"),   # out of range
])
def test_reload_broken_file_keeps_old_config(proxy, standin, broken, says):
    rewrite_config(proxy, {"policy": {"deny_actions": ["ListIdentities"]}})
    reload(proxy, "configuration reloaded")
    before = scrape(proxy)
    rewrite_config(proxy, raw=broken)
    line = reload(proxy, "reload failed; keeping the running configuration")
    assert line["level"] == "error", line
    assert says in line.get("error", ""), line
    # The running configuration is the one before the broken file.
    assert proxy.call(CALL).status == 200
    r = proxy.call(LIST_IDS)
    assert (r.status, r.error_code) == (403, "AccessDenied"), r
    after = scrape(proxy)
    assert value(after, "ses_proxy_config_reloads_total", result="failed") - \
        value(before, "ses_proxy_config_reloads_total", result="failed") == 1
    assert value(after, "ses_proxy_config_reloads_total", result="ok") == \
        value(before, "ses_proxy_config_reloads_total", result="ok")
    assert proxy.running


def test_reload_in_flight_call_finishes_under_old_config(proxy, standin):
    standin.push(Scripted.success(OP, delay=1.0))
    pending = in_thread(proxy.call, CALL, timeout=10)
    standin_deadline = time.monotonic() + 5
    while standin.count == 0:
        assert time.monotonic() < standin_deadline
        time.sleep(0.01)
    rewrite_config(proxy, {"policy": {"deny_actions": [OP]},
                           "retry": {"max_attempts": 1}})
    reload(proxy, "configuration reloaded")
    r = proxy.call(CALL)
    assert r.status == 403, r
    r = pending()
    assert r.status == 200, r


# ==========================================================================
# Drain (SIGTERM / SIGINT)
# ==========================================================================

def wait_upstream(standin, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while standin.count < n:
        assert time.monotonic() < deadline, "stand-in saw %d, want %d" % (standin.count, n)
        time.sleep(0.01)


def refused_soon(p, timeout=1.0):
    """True once a new TCP connection is refused (within timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection((p.host, p.port), timeout=0.5)
        except (ConnectionRefusedError, ConnectionResetError):
            # Reset: it reached the backlog as the listener closed.
            return True
        s.close()
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_drain_finishes_in_flight_call(start_proxy, standin, sig):
    p = start_proxy({"drain_timeout_ms": 5000})
    standin.push(Scripted.success(OP, delay=1.5))
    t0 = time.monotonic()
    pending = in_thread(p.call, CALL, timeout=10)
    wait_upstream(standin, 1)
    p.signal(sig)
    assert refused_soon(p), "new connections still accepted after %s" % sig.name
    r = pending()
    assert r.status == 200, r
    assert r.header("Connection", "").lower() == "close"
    assert r.json["ResponseMetadata"]["RequestId"] == standin.last.request_id
    assert time.monotonic() - t0 >= 1.4
    rc = p.proc.wait(5)
    assert rc == 0, p.describe()
    msgs = [o.get("msg") for o in log_lines(p)]
    assert "draining" in msgs and msgs[-1] == "stopped", msgs[-5:]


def test_drain_finishes_queued_calls(start_proxy, standin):
    """A call waiting for a throttle token when SIGTERM arrives is still
    sent and answered."""
    p = start_proxy({"drain_timeout_ms": 5000,
                     "throttle": {"operations": Replace({OP: {"rate": 1, "burst": 1}})}})
    standin.push(Scripted.success(OP, delay=0.3))
    first = in_thread(p.call, CALL, timeout=10)
    wait_upstream(standin, 1)
    second = in_thread(p.call, CALL, timeout=10)
    deadline = time.monotonic() + 3
    while True:             # the second is queued in its bucket
        fams = scrape(p)
        if value(fams, "ses_proxy_throttle_queue_depth", bucket=OP) == 1:
            break
        assert time.monotonic() < deadline, "second call never queued"
        time.sleep(0.02)
    p.signal(signal.SIGTERM)
    assert first().status == 200
    r = second()
    assert r.status == 200, r
    assert standin.count == 2
    assert p.proc.wait(5) == 0


def test_drain_timeout_answers_503(start_proxy, standin):
    """In flight (upstream) and queued (throttle) calls still unanswered when
    drain_timeout_ms passes get 503 ServiceUnavailable; exit status 0."""
    p = start_proxy({"drain_timeout_ms": 300,
                     "throttle": {"operations": Replace({OP: {"rate": 0.5, "burst": 1}})}})
    standin.push(Scripted.success(OP, delay=3))
    pending = in_thread(p.call, CALL, headers={"X-Request-Id": "late-1"}, timeout=10)
    wait_upstream(standin, 1)
    queued = in_thread(p.call, CALL, headers={"X-Request-Id": "late-2"}, timeout=10)
    deadline = time.monotonic() + 3
    while value(scrape(p), "ses_proxy_throttle_queue_depth", bucket=OP) != 1:
        assert time.monotonic() < deadline, "second call never queued"
        time.sleep(0.02)
    t0 = time.monotonic()
    p.signal(signal.SIGTERM)
    r = pending()
    assert (r.status, r.error_code) == (503, "ServiceUnavailable"), r
    assert r.header("X-Request-Id") == "late-1"
    assert r.json["ResponseMetadata"]["RequestId"] == "late-1"
    r = queued()
    assert (r.status, r.error_code) == (503, "ServiceUnavailable"), r
    assert r.header("X-Request-Id") == "late-2"
    assert standin.count == 1
    rc = p.proc.wait(5)
    assert rc == 0, p.describe()
    assert time.monotonic() - t0 < 2.0
    assert any(o.get("msg", "").startswith("drain timeout") for o in log_lines(p))


def test_drain_with_nothing_in_flight_exits_at_once(start_proxy, standin):
    p = start_proxy({"drain_timeout_ms": 10000})
    s = connect(p)             # an idle keep-alive client does not hold it up
    try:
        s.sendall(http_request("GET", "/healthz"))
        assert read_response(s)[0] == 200
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        assert p.proc.wait(5) == 0
        assert time.monotonic() - t0 < 1.5
    finally:
        s.close()


# ==========================================================================
# Unix domain socket
# ==========================================================================

def test_unix_socket_listener(start_proxy, standin, short_dir):
    path = os.path.join(short_dir, "s.sock")
    # A stale socket file from an earlier run is replaced.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    p = start_proxy(extra_args=["--listen", "unix:" + path])
    assert os.path.exists(path)
    r = unix_call(path, url="/healthz")
    assert r.status == 200, r
    r = unix_call(path, CALL, headers={"X-Request-Id": "via-unix"})
    assert r.status == 200, r
    assert r.json["ResponseMetadata"]["RequestId"] == standin.last.request_id
    assert standin.last.auth.ok
    line = wait_request_line(p, "via-unix")
    assert line["action"] == OP and line["status"] == 200
    assert p.call(CALL).status == 200          # TCP alongside
    assert p.stop() == 0
    assert not os.path.exists(path), "socket file left behind"


def test_unix_socket_keepalive_and_metrics(start_proxy, standin, short_dir):
    path = os.path.join(short_dir, "m.sock")
    p = start_proxy(extra_args=["--listen", "unix:" + path])
    conn = UnixHTTPConnection(path)
    try:
        for _ in range(3):     # several calls on one kept-alive connection
            conn.request("POST", "/", body=json_body(CALL),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200, r.read()
            r.read()
    finally:
        conn.close()
    fams = parse_prometheus(unix_call(path, url="/metrics").raw.decode())
    assert value(fams, "ses_proxy_requests_total", action=OP, status=200) == 3
    assert [o["client"] for o in request_lines(p)] == ["unix"] * 3


def test_unix_socket_not_subject_to_allow_clients(start_any, standin, short_dir):
    """allow_clients is about network addresses; a Unix socket client is
    guarded by the socket file's permissions instead."""
    path = os.path.join(short_dir, "p.sock")
    p = start_any({"policy": {"allow_clients": Replace(["10.0.0.0/8"])}},
                  extra_args=["--listen", "unix:" + path])
    assert p.call(CALL).status == 403
    r = unix_call(path, CALL)
    assert r.status == 200, r


# ==========================================================================
# The Kubernetes example (conf/k8s-sidecar.yaml)
# ==========================================================================

REPO = pathlib.Path(os.environ.get("SP_SOURCE_DIR")
                    or pathlib.Path(__file__).resolve().parents[2])
MANIFEST = REPO / "conf" / "k8s-sidecar.yaml"


def manifest():
    """(docs by kind, the proxy container, the pod spec, the proxy config)."""
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    kinds = {d["kind"]: d for d in docs if d}
    spec = kinds["Deployment"]["spec"]["template"]["spec"]
    proxies = [c for c in spec.get("initContainers", []) + spec["containers"]
               if c["name"] == "ses-proxy"]
    assert len(proxies) == 1
    cfg = json.loads(kinds["ConfigMap"]["data"]["ses-proxy.json"])
    return kinds, proxies[0], spec, cfg


def probe_get(probe, port):
    """What the kubelet's httpGet probe sees from a proxy whose admin
    listener is on 127.0.0.1:port: True for a 2xx/3xx answer."""
    get = probe["httpGet"]
    assert get["port"] == "admin", get
    r = proxyproc.http_call("127.0.0.1", port, None, get["path"], method="GET", timeout=5)
    return 200 <= r.status < 400


def test_k8s_manifest_shape():
    kinds, px, spec, cfg = manifest()
    assert set(kinds) >= {"ServiceAccount", "ConfigMap", "Deployment"}
    sa = kinds["ServiceAccount"]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    assert px["image"] == "ses-proxy:latest"
    if px in spec.get("initContainers", []):
        assert px.get("restartPolicy") == "Always", "an init container must be a native sidecar"
    # The app talks to the proxy on the pod's loopback; the app itself holds
    # no AWS credentials.
    assert cfg["listen"] == ["127.0.0.1:8080"]
    apps = [c for c in spec["containers"] if c["name"] != "ses-proxy"]
    assert apps
    skipped = kinds["Deployment"]["spec"]["template"]["metadata"]["annotations"][
        "eks.amazonaws.com/skip-containers"].split(",")
    for app in apps:
        assert app["name"] in skipped
        assert not [e for e in app.get("env", []) if e["name"].startswith("AWS_")]
    # Config from the ConfigMap, at the path the proxy is told.
    mount = [m for m in px["volumeMounts"] if m["mountPath"] == "/etc/ses-proxy"]
    assert mount and mount[0].get("readOnly") is True
    vol = [v for v in spec["volumes"] if v["name"] == mount[0]["name"]][0]
    assert vol["configMap"]["name"] == kinds["ConfigMap"]["metadata"]["name"]
    assert px["args"] == ["--config", "/etc/ses-proxy/ses-proxy.json"]
    # Probes and scraping on the admin listener (the pod IP), drain,
    # resources, hardening.
    assert cfg["admin_listen"] == ["0.0.0.0:9901"]
    ports = {p["name"]: p["containerPort"] for p in px["ports"]}
    assert ports == {"ses-proxy": 8080, "admin": 9901}, ports
    assert px["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert px["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert px["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    ann = kinds["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/port"] == "9901" and ann["prometheus.io/path"] == "/metrics"
    assert spec["terminationGracePeriodSeconds"] * 1000 > cfg["drain_timeout_ms"]
    assert px["resources"]["requests"] and px["resources"]["limits"]["memory"]
    sc = px["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]


def test_k8s_manifest_config_and_probes(start_proxy, standin, proxy_bin, proxy_env, tmp_path):
    _, px, _, cfg = manifest()
    path = tmp_path / "k8s.json"
    path.write_text(json.dumps(cfg))
    r = proxyproc.run_binary(proxy_bin, ["--check-config", "--config", str(path)],
                             proxy_env())
    assert r.returncode == 0, r.stderr
    # The manifest's own config (send_rate "auto" asks the stand-in's
    # GetSendQuota); --listen puts it on the test's port, the admin listener
    # moves to a free loopback port.
    admin = proxyproc.free_port()
    local = proxyproc.deep_merge(cfg, {"listen": proxyproc.DELETE,
                                       "admin_listen": ["127.0.0.1:%d" % admin]})
    p = start_proxy(local)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe_get(px[probe], admin), probe
    assert "ses_proxy_requests_total" in proxyproc.http_call(
        "127.0.0.1", admin, None, "/metrics", method="GET").raw.decode()
    send = {"Action": "SendEmail", "Source": "s@example.com",
            "Destination": {"ToAddresses": ["t@example.com"]},
            "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    assert p.call(send).status == 200
    assert p.call(LIST_IDS).status == 403      # the manifest allows sending only
    # Without credentials: alive, not ready.
    admin2 = proxyproc.free_port()
    start_proxy(proxyproc.deep_merge(cfg, {"listen": proxyproc.DELETE,
                                           "admin_listen": ["127.0.0.1:%d" % admin2]}),
                creds_via="none")
    assert probe_get(px["livenessProbe"], admin2)
    assert not probe_get(px["readinessProbe"], admin2)
