"""A throwaway redis-server for the shared-throttle tests, and a tiny client.

RedisServer runs Debian's redis-server on a free loopback port (below the
ephemeral range) in a temp dir, with nothing persisted:
  redis-server --port P --bind 127.0.0.1 --save "" --appendonly no --dir TMP
It can be stopped and started again on the same port (Redis down, Redis
back), or paused with SIGSTOP (Redis slow: connections are accepted by the
kernel but nothing answers) and resumed.

RespClient speaks just enough RESP2 to send commands and read answers, so
the tests need no Python Redis package. Only the standard library.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import time

import proxyproc


def free_port_outside_ephemeral():
    """A free loopback port below the ephemeral range. Redis is stopped and
    started again on its port: a port from the ephemeral range could be
    taken meanwhile as some connection's source port (or a reconnecting
    client could connect to itself), and the restart would fail."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), max(2048, low - 1))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return proxyproc.free_port()


def redis_server_binary():
    """The redis-server path, or None when it is not installed."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)


class RedisError(Exception):
    """An error answer (-ERR ...) from Redis."""


class RespClient:
    """One connection; call("SET", "k", "v") -> the decoded answer."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RedisError("unexpected RESP line %r" % line)


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, data in workdir, nothing saved."""

    def __init__(self, workdir, port=None):
        self.binary = redis_server_binary()
        if self.binary is None:
            raise RuntimeError("redis-server is not installed")
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = port or free_port_outside_ephemeral()
        self.proc = None
        self.log_path = os.path.join(self.workdir, "redis.log")

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.workdir,
             "--daemonize", "no", "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited with %s:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                with self.client(timeout=0.5) as c:
                    if c.call("PING") == "PONG":
                        return self
            except (OSError, RedisError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server not ready on port %d:\n%s"
                           % (self.port, self.log()))

    def stop(self, timeout=10.0):
        """Stops it (SIGTERM, SIGKILL after timeout); its data is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)   # in case it was paused
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pause(self):
        """SIGSTOP: connections still open, nothing answers (Redis slow)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def client(self, timeout=5.0):
        return RespClient("127.0.0.1", self.port, timeout)

    def call(self, *args):
        with self.client() as c:
            return c.call(*args)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except FileNotFoundError:
            return ""
