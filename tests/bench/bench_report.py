#!/usr/bin/python3
"""bench_report.py OUTDIR ROUNDS - the benchmark table from wrk's outputs.

Reads OUTDIR/{nginx,ses-proxy}-R.txt (wrk --latency output, R = 1..ROUNDS)
and prints requests/s, p50 and p99 per round, the CPU per call of the
process serving the calls (OUTDIR/NAME-R.txt.cpu: user and system clock
ticks before and after, OUTDIR/clk_tck), the medians, and the ratios
ses-proxy / nginx (targets: throughput >= 1.0, p99 <= 1.5).

bench_report.py --outbox OUTDIR ROUNDS NAME... - the same table for the
outbox's runs (OUTDIR/outbox-NAME-R.txt): a synchronous SendEmail beside
the asynchronous ones (202) with each store."""
import os
import re
import statistics
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def parse(path):
    with open(path) as f:
        t = f.read()
    out = {"rps": float("nan"), "p50": float("nan"), "p99": float("nan"),
           "non2xx": 0, "errors": 0, "requests": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", t)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, t, re.M)
        if m:
            out[key] = ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    if m:
        out["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"(\d+) requests in", t)
    if m:
        out["requests"] = int(m.group(1))
    out["user"] = out["sys"] = float("nan")
    cpu, tck = path + ".cpu", os.path.join(os.path.dirname(path), "clk_tck")
    if os.path.exists(cpu) and os.path.exists(tck) and out["requests"] > 0:
        with open(tck) as f:
            hz = float(f.read())
        with open(cpu) as f:
            u0, s0, u1, s1 = (int(x) for x in f.read().split())
        out["user"] = (u1 - u0) / hz * 1e6 / out["requests"]
        out["sys"] = (s1 - s0) / hz * 1e6 / out["requests"]
    return out


def outbox_main(outdir, rounds, names):
    res = {n: [parse(os.path.join(outdir, "outbox-%s-%d.txt" % (n, r)))
               for r in range(1, rounds + 1)] for n in names}
    head = "%-14s %-9s" % ("", "") + "".join("%12s" % ("round %d" % r)
                                              for r in range(1, rounds + 1)) + "%12s" % "median"
    print(head)
    print("-" * len(head))
    for n in names:
        for key, label, fmt in (("rps", "req/s", "%12.0f"), ("p50", "p50 ms", "%12.3f"),
                                ("p99", "p99 ms", "%12.3f")):
            row = "%-14s %-9s" % (n if key == "rps" else "", label)
            row += "".join(fmt % x[key] for x in res[n])
            row += fmt % statistics.median(x[key] for x in res[n])
            print(row)
    print("-" * len(head))
    for n in names:
        bad = sum(x["non2xx"] for x in res[n])
        err = sum(x["errors"] for x in res[n])
        if bad or err:
            print("WARNING: %s: %d non-2xx answers, %d socket errors over the rounds"
                  % (n, bad, err))


def main():
    if sys.argv[1] == "--outbox":
        outbox_main(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
        return
    outdir, rounds = sys.argv[1], int(sys.argv[2])
    names = ["nginx", "ses-proxy"]
    res = {n: [parse(os.path.join(outdir, "%s-%d.txt" % (n, r)))
               for r in range(1, rounds + 1)] for n in names}
    med = {n: {k: statistics.median(x[k] for x in res[n])
               for k in ("rps", "p50", "p99", "user", "sys")}
           for n in names}
    head = "%-10s %-9s" % ("", "") + "".join("%12s" % ("round %d" % r)
                                              for r in range(1, rounds + 1)) + "%12s" % "median"
    print(head)
    print("-" * len(head))
    for n in names:
        for key, label, fmt in (("rps", "req/s", "%12.0f"), ("p50", "p50 ms", "%12.3f"),
                                ("p99", "p99 ms", "%12.3f"), ("user", "user us", "%12.1f"),
                                ("sys", "kernel us", "%12.1f")):
            row = "%-10s %-9s" % (n if key == "rps" else "", label)
            row += "".join(fmt % x[key] for x in res[n]) + fmt % med[n][key]
            print(row)
    print("-" * len(head))
    thr = med["ses-proxy"]["rps"] / med["nginx"]["rps"]
    p99 = med["ses-proxy"]["p99"] / med["nginx"]["p99"]
    p50 = med["ses-proxy"]["p50"] / med["nginx"]["p50"]
    print("ratio ses-proxy/nginx: throughput %.2f (target >= 1.00), p50 %.2f, "
          "p99 %.2f (target <= 1.50)" % (thr, p50, p99))
    print("CPU per call (user + kernel us, the serving process): nginx %.1f + %.1f, "
          "ses-proxy %.1f + %.1f" % (med["nginx"]["user"], med["nginx"]["sys"],
                                     med["ses-proxy"]["user"], med["ses-proxy"]["sys"]))
    for n in names:
        bad = sum(x["non2xx"] for x in res[n])
        err = sum(x["errors"] for x in res[n])
        if bad or err:
            print("WARNING: %s: %d non-2xx answers, %d socket errors over the rounds"
                  % (n, bad, err))


if __name__ == "__main__":
    main()
