#!/usr/bin/python3
"""hold_conns.py HOST PORT N - open N idle TCP connections and hold them.

Prints "held N" once all are connected, then waits for SIGTERM or SIGINT
(at most 600 s), and exits. Raises its own RLIMIT_NOFILE soft limit to the hard
limit. Used by bench.sh to measure the proxy's memory with idle clients."""
import resource
import signal
import socket
import sys
import time


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *a: sys.exit(0))
    socks = []
    deadline = time.monotonic() + 60
    while len(socks) < n and time.monotonic() < deadline:
        for _ in range(min(500, n - len(socks))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect((host, port))
            socks.append(s)
        time.sleep(0.01)
    print("held %d" % len(socks), flush=True)
    try:
        time.sleep(600)
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
