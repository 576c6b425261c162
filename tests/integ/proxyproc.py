"""Start, talk to and stop a ses-proxy process for integration tests.

ProxyProcess runs `$SES_PROXY_BIN --config <tmp json> --listen 127.0.0.1:<port>`
with a controlled environment (nothing AWS_* inherited, HOME in the test's
tmp dir, IMDS disabled), waits for GET /healthz to answer 200, captures
stdout/stderr to files, and stops it with SIGTERM (SIGKILL after a timeout).

call() is a small http.client helper that answers a Response with the
status, the headers and the JSON body (or the raw bytes when it is not JSON).

Config keys are DESIGN.md's; a test passes overrides that are deep-merged into
the harness defaults (wrap a value in Replace(...) to set it without merging).
"""

import copy
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import threading
import time

# Kept from the caller's environment: what a build or a sanitizer run needs.
PASS_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "ASAN_OPTIONS",
            "UBSAN_OPTIONS", "LSAN_OPTIONS", "MSAN_OPTIONS", "TSAN_OPTIONS",
            "ASAN_SYMBOLIZER_PATH", "LLVM_SYMBOLIZER_PATH")

# Harness defaults: quick to start and stop, loud logs (the secrets test greps
# them), no GetSendQuota at start (send_rate is a number), and per-operation
# buckets wide enough that tests which are not about throttling never wait.
DEFAULT_CONFIG = {
    "throttle": {"send_rate": 1000, "max_wait_ms": 10000,
                 "operations": {"*": {"rate": 1000, "burst": 1000}}},
    "upstream": {"connect_timeout_ms": 2000, "timeout_ms": 10000},
    "log": {"level": "debug"},
    "drain_timeout_ms": 2000,
}


class Replace:
    """An override value that replaces the default instead of merging into it."""

    def __init__(self, value):
        self.value = value


DELETE = object()   # an override value that removes the key


def deep_merge(base, over):
    """A copy of base with over merged in (dicts recursively)."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if v is DELETE:
            out.pop(k, None)
        elif isinstance(v, Replace):
            out[k] = copy.deepcopy(v.value)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = _unwrap(v)
    return out


def _unwrap(v):
    if isinstance(v, Replace):
        return copy.deepcopy(v.value)
    if isinstance(v, dict):
        return {k: _unwrap(x) for k, x in v.items() if x is not DELETE}
    return copy.deepcopy(v)


def free_port(host="127.0.0.1"):
    """A loopback port nobody listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, reason, headers, raw):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name, value)
        self.raw = raw              # bytes
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def body(self):
        """The parsed JSON, or the raw bytes when the body is not JSON."""
        return self.json if self.json is not None else self.raw

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    @property
    def error_code(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("Error"), dict):
            return self.json["Error"].get("Code")
        return None

    @property
    def error_message(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("Error"), dict):
            return self.json["Error"].get("Message")
        return None

    def __iter__(self):   # status, headers, body = resp
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "<Response %s %r>" % (self.status, self.raw[:500])


def http_call(host, port, body=None, path="/", headers=None, method=None,
              timeout=30.0):
    """One HTTP request on a new connection.

    body: a dict/list/str/number is sent as JSON (application/json), bytes
    as they are (Content-Type only when the caller gives one), None as no
    body. method defaults to POST with a body, GET without.
    """
    hdrs = {}
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    if method is None:
        method = "GET" if body is None else "POST"
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # A server may answer (413, say) and close before it has read
            # the whole body; its answer can still be read.
            if conn.sock is None:
                raise
        r = conn.getresponse()
        raw = r.read()
        return Response(r.status, r.reason, r.getheaders(), raw)
    finally:
        conn.close()


def concurrent(calls, timeout=40):
    """calls: list of (proxy, body), all sent together (a barrier releases
    them at once). -> [(response or the exception raised, t0, t1)] in the
    order of calls."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def worker(i):
        p, body = calls[i]
        barrier.wait()
        t0 = time.monotonic()
        try:
            r = p.call(body, timeout=timeout)
        except Exception as e:   # reported below, not lost in the thread
            r = e
        results[i] = (r, t0, time.monotonic())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    assert all(results), results
    return results


def arrivals(standin, n, action, timeout=30):
    """Sorted arrival times at the stand-in SES of the first n requests'
    calls of action (waits for n requests)."""
    return sorted(r.t_arrival for r in standin.wait_for(n, timeout=timeout)
                  if r.action == action)


class ProxyFailed(Exception):
    pass


class ProxyProcess:
    """One ses-proxy process.

    binary: path to ses-proxy. workdir: a private directory (pytest tmp_path).
    config: the full config dict (written to workdir/ses-proxy.json).
    env: the full environment for the process.
    """

    def __init__(self, binary, workdir, config, env, host="127.0.0.1",
                 port=None, extra_args=()):
        self.binary = str(binary)
        self.workdir = str(workdir)
        self.config = config
        self.env = env
        self.host = host
        self.port = port or free_port(host)
        self.extra_args = list(extra_args)
        self.config_path = os.path.join(self.workdir, "ses-proxy.json")
        self.stdout_path = os.path.join(self.workdir, "proxy.stdout")
        self.stderr_path = os.path.join(self.workdir, "proxy.stderr")
        self.proc = None
        self.returncode = None
        wrapper = os.environ.get("SES_PROXY_WRAPPER", "")
        self.wrapper = shlex.split(wrapper) if wrapper else []

    # -- lifecycle --------------------------------------------------------
    def argv(self):
        return (self.wrapper + [self.binary, "--config", self.config_path,
                                "--listen", "%s:%d" % (self.host, self.port)]
                + self.extra_args)

    def start(self, ready_timeout=10.0):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     env=self.env, cwd=self.workdir)
        if self.wrapper:
            ready_timeout *= 6
        self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise ProxyFailed("ses-proxy exited with %s before it was ready"
                                  "\n%s" % (rc, self.describe()))
            try:
                r = http_call(self.host, self.port, path="/healthz", timeout=1.0)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            time.sleep(0.05)
        self.kill()
        raise ProxyFailed("ses-proxy not ready after %.1fs (last: %r)\n%s"
                          % (timeout, last, self.describe()))

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM, wait, SIGKILL after timeout. Returns the exit status."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc is not None:
            self.returncode = self.proc.returncode
        self._close_files()

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.close()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- talking to it ----------------------------------------------------
    def call(self, body=None, path="/", headers=None, method=None, timeout=30.0):
        """Send one request; returns a Response (status, headers, json/raw)."""
        return http_call(self.host, self.port, body, path, headers, method,
                         timeout)

    def get(self, path, timeout=10.0):
        return self.call(None, path=path, method="GET", timeout=timeout)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # -- its output -------------------------------------------------------
    def _read(self, path):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.flush()
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @property
    def stdout(self):
        return self._read(self.stdout_path)

    @property
    def stderr(self):
        return self._read(self.stderr_path)

    @property
    def output(self):
        return self.stdout + self.stderr

    def describe(self, tail=4000):
        return ("argv: %s\nconfig: %s\n--- stdout (tail) ---\n%s\n"
                "--- stderr (tail) ---\n%s" % (
                    " ".join(shlex.quote(a) for a in self.argv()),
                    json.dumps(self.config), self.stdout[-tail:],
                    self.stderr[-tail:]))


def log_lines(p):
    """The proxy's JSON log lines so far, parsed (other lines skipped)."""
    out = []
    for line in p.stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def base_env(home):
    """The environment a proxy gets before credentials and endpoint are set."""
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["HOME"] = str(home)
    # Keep the credential chain away from the network and the user's files.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(str(home), "no-credentials")
    env["AWS_CONFIG_FILE"] = os.path.join(str(home), "no-config")
    return env


def run_binary(binary, args, env, timeout=20.0, cwd=None):
    """Run ses-proxy to completion (e.g. --check-config); CompletedProcess."""
    return subprocess.run([str(binary)] + list(args), env=env, cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)
