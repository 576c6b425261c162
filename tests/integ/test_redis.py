"""The shared throttle: several proxies, one redis-server.

Each test starts its own redis-server on a free loopback port
(redis_helpers.RedisServer) and proxies with throttle.backend "redis"
pointing at it, all in front of one stand-in SES that records arrival
times: the assertions are about what SES would have seen.

GetSendQuota is the "once per second" operation: the model documents 1/s
and the tests keep that limit (throttle.operations replaced by {}).

Gaps are checked against 0.95 s, not 1.0: the stand-in stamps an arrival
when its Python handler thread runs, which jitters by a few milliseconds
(the local-bucket tests allow 0.9 for the same reason).

SP_LONG_TESTS=1 adds the 20-second rate measurements (local and Redis).
"""

import json
import os
import threading
import time

import pytest

import proxyproc
import redis_helpers

pytestmark = pytest.mark.skipif(redis_helpers.redis_server_binary() is None,
                                reason="redis-server is not installed")

QUOTA = {"Action": "GetSendQuota"}
UP = "throttle backend up"
DOWN = "throttle backend down"
MIN_GAP = 0.95


@pytest.fixture
def redis_server(tmp_path):
    r = redis_helpers.RedisServer(tmp_path / "redis").start()
    yield r
    r.stop()


def redis_config(redis_server, replicas=3, **throttle):
    t = {"backend": "redis", "redis_url": redis_server.url,
         "replicas": replicas, "max_wait_ms": 15000,
         "operations": proxyproc.Replace({})}
    t.update(throttle)
    return {"throttle": t}


def log_lines(p, needle):
    out = []
    for line in p.stdout.splitlines():
        if needle in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_log(p, needle, count=1, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log_lines(p, needle)
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError("no %d x %r in the log after %.0fs\n%s"
                         % (count, needle, timeout, p.describe()))


def gaps(times):
    times = sorted(times)
    return [b - a for a, b in zip(times, times[1:])]


def arrivals(standin, n, action="GetSendQuota"):
    return proxyproc.arrivals(standin, n, action)


def test_three_proxies_share_one_bucket(start_proxy, standin, redis_server):
    """Nine concurrent calls of a 1/s operation over three proxies: at SES
    never two inside one second, and nobody refused (15 s deadline)."""
    ps = [start_proxy(redis_config(redis_server)) for _ in range(3)]
    for p in ps:
        wait_log(p, UP)
    res = proxyproc.concurrent([(ps[i % 3], QUOTA) for i in range(9)])
    assert [r.status for r, _, _ in res] == [200] * 9, res
    t = arrivals(standin, 9)
    assert len(t) == 9
    assert min(gaps(t)) >= MIN_GAP, gaps(t)
    assert t[-1] - t[0] >= 8 * MIN_GAP, t
    # one bucket, one key, on Redis's clock
    assert redis_server.call("KEYS", "*") == ["ses-proxy:{us-east-1}:GetSendQuota"]
    for p in ps:
        assert not log_lines(p, DOWN), p.describe()


def test_redis_stopped_then_started(start_proxy, standin, redis_server):
    """Redis stops: calls are still served, by the local buckets at a third
    of the rate each. Redis starts again: the proxies reconnect, the calls
    queued locally meanwhile are handed to Redis (none lost), and Redis
    spaces them again."""
    ps = [start_proxy(redis_config(redis_server)) for _ in range(3)]
    for p in ps:
        wait_log(p, UP)
    # Through Redis.
    res = proxyproc.concurrent([(p, QUOTA) for p in ps])
    assert [r.status for r, _, _ in res] == [200] * 3, res
    assert min(gaps(arrivals(standin, 3))) >= MIN_GAP

    redis_server.stop()
    for p in ps:
        down = wait_log(p, DOWN)
        assert down[0]["share"] == "1/3", down
    standin.clear()
    # Three calls per proxy: each proxy's local bucket (1/3 per second,
    # burst 1) serves one at once and queues two (3 s and 6 s away).
    box = {}

    def burst():
        box["res"] = proxyproc.concurrent([(ps[i % 3], QUOTA) for i in range(9)])

    th = threading.Thread(target=burst)
    th.start()
    standin.wait_for(3, timeout=5)   # the three served at once, locally
    time.sleep(0.3)                  # the six others queued in the proxies
    t_restart = time.monotonic()
    redis_server.start()
    for p in ps:
        wait_log(p, UP, count=2, timeout=8)
    th.join(60)
    res = box["res"]
    assert [r.status for r, _, _ in res] == [200] * 9, res
    handed = sum(int(log_lines(p, UP)[1]["handed_to_redis"]) for p in ps)
    t = arrivals(standin, 9)
    assert len(t) == 9
    # The three local grants came before Redis was back; the six queued
    # calls went to Redis, which spaces them a second apart again.
    assert len([x for x in t if x < t_restart]) == 3, (t, t_restart)
    later = [x for x in t if x >= t_restart]
    assert handed == 6, [log_lines(p, UP) for p in ps]
    assert min(gaps(later)) >= MIN_GAP, gaps(later)
    assert redis_server.call("EXISTS", "ses-proxy:{us-east-1}:GetSendQuota") == 1


def test_redis_slow_falls_back_and_returns(start_proxy, standin, redis_server):
    """Redis paused (SIGSTOP: the socket stays open, nothing answers): a
    call waits at most redis_timeout_ms for Redis, then the local bucket
    serves it. Resumed: the proxy uses Redis again."""
    p = start_proxy(redis_config(redis_server, replicas=1, redis_timeout_ms=200))
    wait_log(p, UP)
    assert p.call(QUOTA).status == 200
    redis_server.pause()
    try:
        t0 = time.monotonic()
        r = p.call(QUOTA, timeout=10)
        took = time.monotonic() - t0
        assert r.status == 200, r
        # 200 ms for Redis, then up to 1 s for the local bucket's token
        assert took < 1.6, took
        down = wait_log(p, DOWN)
        assert "no answer within 200 ms" in down[0]["reason"], down
        # still served while Redis stays paused (reconnects time out)
        time.sleep(1.2)
        assert p.call(QUOTA).status == 200
    finally:
        redis_server.resume()
    redis_server.call("FLUSHALL")
    wait_log(p, UP, count=2, timeout=10)
    assert p.call(QUOTA).status == 200
    assert redis_server.call("EXISTS", "ses-proxy:{us-east-1}:GetSendQuota") == 1
    assert len(log_lines(p, DOWN)) == 1   # once per transition, not per retry


def test_redis_unreachable_at_start(start_proxy, standin):
    """No Redis at all: the proxy starts, says so once, serves locally at
    its share (1/2 per second here)."""
    closed = proxyproc.free_port()
    p = start_proxy({"throttle": {"backend": "redis", "replicas": 2,
                                  "redis_url": "redis://127.0.0.1:%d/0" % closed,
                                  "operations": proxyproc.Replace({})}})
    down = wait_log(p, DOWN)
    assert down[0]["share"] == "1/2"
    res = proxyproc.concurrent([(p, QUOTA), (p, QUOTA)])
    assert [r.status for r, _, _ in res] == [200, 200], res
    t = arrivals(standin, 2)
    assert t[1] - t[0] >= 2 * MIN_GAP, t   # 1/s shared by 2 replicas
    time.sleep(0.5)   # a few reconnect attempts
    assert len(log_lines(p, DOWN)) == 1


def test_script_flushed_is_reloaded(start_proxy, standin, redis_server):
    """SCRIPT FLUSH (or a failover to a node without the script): NOSCRIPT
    is answered by EVAL with the text, no fallback."""
    p = start_proxy(redis_config(redis_server, replicas=1))
    wait_log(p, UP)
    redis_server.call("SCRIPT", "FLUSH")
    assert p.call(QUOTA).status == 200
    assert redis_server.call("EXISTS", "ses-proxy:{us-east-1}:GetSendQuota") == 1
    sha = log_lines(p, UP)[0]["script_sha"]
    assert redis_server.call("SCRIPT", "EXISTS", sha) == [1]
    assert not log_lines(p, DOWN)


def test_max_queue_applies_to_redis_waits(start_proxy, standin, redis_server):
    """throttle.max_queue 1: of three calls of a 1/s operation sent together,
    one goes at once, one waits for its reserved slot in Redis, and the
    third is refused with 429 at once (Retry-After) without reaching SES,
    as the local buckets would do."""
    p = start_proxy(redis_config(redis_server, replicas=1, max_queue=1))
    wait_log(p, UP)
    depths = []

    def scrape_while_waiting():
        time.sleep(0.4)   # the first has gone, the second waits its slot
        text = p.get("/metrics").raw.decode()
        depths.extend(line for line in text.splitlines() if line.startswith(
            'ses_proxy_throttle_queue_depth{bucket="GetSendQuota"}'))

    scraper = threading.Thread(target=scrape_while_waiting)
    scraper.start()
    res = proxyproc.concurrent([(p, QUOTA) for _ in range(3)])
    scraper.join()
    assert depths == ['ses_proxy_throttle_queue_depth{bucket="GetSendQuota"} 1'], depths
    statuses = sorted(r.status for r, _, _ in res)
    assert statuses == [200, 200, 429], res
    refused = [(r, t0, t1) for r, t0, t1 in res if r.status == 429][0]
    r, t0, t1 = refused
    assert r.error_code == "Throttling", r.body
    assert int(r.header("Retry-After")) >= 1
    assert t1 - t0 < 0.5, "refused after %.2fs, not at once" % (t1 - t0)
    t = arrivals(standin, 2)
    assert len(t) == 2 and t[1] - t[0] >= MIN_GAP, t
    time.sleep(0.3)
    assert len([r for r in standin.snapshot() if r.action == "GetSendQuota"]) == 2


def test_send_takes_both_buckets_in_one_step(start_proxy, standin, redis_server):
    """A SendEmail takes its operation's bucket and the send rate (in
    recipients) in one script call: 2 recipients/s shared, three mails of
    two recipients from two proxies reach SES a second apart."""
    send = {"Action": "SendEmail", "Source": "s@example.com",
            "Destination": {"ToAddresses": ["a@example.com", "b@example.com"]},
            "Message": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "y"}}}}
    cfg = redis_config(redis_server, replicas=2, send_rate=2,
                       operations=proxyproc.Replace({"*": {"rate": 100, "burst": 100},
                                                     "SendEmail": {"rate": 100}}))
    ps = [start_proxy(cfg) for _ in range(2)]
    for p in ps:
        wait_log(p, UP)
    res = proxyproc.concurrent([(ps[i % 2], send) for i in range(3)])
    assert [r.status for r, _, _ in res] == [200] * 3, res
    t = arrivals(standin, 3, "SendEmail")
    assert min(gaps(t)) >= MIN_GAP, gaps(t)
    keys = sorted(redis_server.call("KEYS", "*"))
    assert keys == ["ses-proxy:{us-east-1}:SendEmail", "ses-proxy:{us-east-1}:send_rate"]


def test_send_rate_auto_is_the_accounts(start_proxy, standin, redis_server):
    """send_rate "auto": GetSendQuota's MaxSendRate (4/s) is the account's
    rate in Redis, whatever the replica count (the local buckets get 2/s
    each): eight mails from two proxies take about two seconds, not eight."""
    from standin_ses import Scripted
    quota = ("<Max24HourSend>200.0</Max24HourSend><MaxSendRate>4.0</MaxSendRate>"
             "<SentLast24Hours>0.0</SentLast24Hours>")

    def responder(rec):
        if rec.action == "GetSendQuota":
            return Scripted.success("GetSendQuota", quota)
        return None

    standin.responder = responder
    send = {"Action": "SendEmail", "Source": "s@example.com",
            "Destination": {"ToAddresses": ["a@example.com"]},
            "Message": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "y"}}}}
    ps = [start_proxy(redis_config(redis_server, replicas=2, send_rate="auto"))
          for _ in range(2)]
    for p in ps:
        wait_log(p, UP)
    deadline = time.monotonic() + 5
    while sum(r.action == "GetSendQuota" for r in standin.snapshot()) < 2:
        assert time.monotonic() < deadline, "no GetSendQuota at start"
        time.sleep(0.05)
    time.sleep(0.3)
    res = proxyproc.concurrent([(ps[i % 2], send) for i in range(8)])
    assert [r.status for r, _, _ in res] == [200] * 8, res
    t = arrivals(standin, 10, "SendEmail")
    assert len(t) == 8
    # 4/s, burst 4: four at once, then one every 0.25 s
    assert 0.9 <= t[-1] - t[0] <= 2.5, t
    assert min(gaps(t[4:])) >= 0.25 * MIN_GAP, gaps(t)


def test_reload_switches_backend(start_proxy, standin, redis_server):
    """SIGHUP from local to redis and back: the backend follows the file."""
    import signal
    p = start_proxy({"throttle": {"operations": proxyproc.Replace({})}})
    assert p.call(QUOTA).status == 200

    def reload(throttle):
        cfg = proxyproc.deep_merge(p.config, {"throttle": throttle})
        with open(p.config_path, "w") as f:
            json.dump(cfg, f)
        n = len(log_lines(p, "configuration reloaded"))
        p.signal(signal.SIGHUP)
        wait_log(p, "configuration reloaded", count=n + 1)

    reload({"backend": "redis", "redis_url": redis_server.url, "replicas": 2})
    wait_log(p, UP)
    time.sleep(1.0)
    assert p.call(QUOTA).status == 200
    assert redis_server.call("EXISTS", "ses-proxy:{us-east-1}:GetSendQuota") == 1
    reload({"backend": "local"})
    redis_server.call("FLUSHALL")
    time.sleep(1.0)
    assert p.call(QUOTA).status == 200
    assert redis_server.call("DBSIZE") == 0   # decided locally again
    assert not log_lines(p, DOWN)


def test_gcra_script_maths(start_proxy, standin, redis_server):
    """The script on its own, on an injected clock (ARGV[2]), through the
    SHA the proxy loaded: bursts, waits, refusals that change nothing,
    several keys all or nothing, a cost above the burst, give-back."""
    p = start_proxy(redis_config(redis_server, replicas=1))
    sha = wait_log(p, UP)[0]["script_sha"]
    S = 1000000
    now = 1700000000 * S

    def take(keys, max_wait, *specs, at=now):
        args = ["EVALSHA", sha, len(keys)] + list(keys) + ["take", str(at), max_wait]
        for iv, burst, cost in specs:
            args += [iv, burst, cost]
        return redis_server.call(*args)

    def give(keys, *specs, at=now):
        args = ["EVALSHA", sha, len(keys)] + list(keys) + ["give", str(at), 0]
        for tat, back in specs:
            args += [tat, back, 0]
        return redis_server.call(*args)

    T = str(now)      # answers carry the script's clock
    one = (S, 1, 1)   # 1/s, burst 1, one token
    assert take(["a"], 5 * S, one) == [1, 0, T, str(now + S)]
    assert take(["a"], 5 * S, one) == [1, S, T, str(now + 2 * S)]
    # would wait 2 s > 1.5 s: refused with the wait, nothing changed
    assert take(["a"], 1.5 * S, one) == [0, 2 * S, T]
    assert redis_server.call("GET", "a") == str(now + 2 * S)
    assert 0 < redis_server.call("PTTL", "a") <= 3000 + 1000
    # later, the bucket has refilled
    assert take(["a"], 0, one, at=now + 2 * S)[:2] == [1, 0]

    # burst 3: three at once, the fourth a third of a second later
    third = (S // 3 + 1, 3, 1)
    assert [take(["b"], 5 * S, third)[1] for _ in range(4)] == [0, 0, 0, S // 3 + 1]

    # a cost above the burst waits for a full bucket, then takes it all
    assert take(["c"], 10 * S, (S, 2, 5))[:2] == [1, 0]
    assert take(["c"], 10 * S, (S, 2, 1))[:2] == [1, 4 * S]

    # two keys: all or nothing, at the later of the two
    take(["d1"], 5 * S, one)                       # d1 busy for 1 s
    assert take(["d1", "d2"], S // 2, one, one) == [0, S, T]
    assert redis_server.call("EXISTS", "d2") == 0  # untouched
    r = take(["d1", "d2"], 5 * S, one, one)
    assert r == [1, S, T, str(now + 2 * S), str(now + 2 * S)], r

    # give-back: only while it is still the last reservation
    r = take(["e"], 5 * S, one)
    r2 = take(["e"], 5 * S, one)
    assert give(["e"], (r[3], S)) == 0             # not the last one
    assert give(["e"], (r2[3], S)) == 1
    assert redis_server.call("GET", "e") == r[3]
    assert give(["e"], (r[3], S)) == 1             # back to full: key gone
    assert redis_server.call("EXISTS", "e") == 0

    # without ARGV[2] the script reads Redis's TIME
    r = redis_server.call("EVALSHA", sha, 1, "f", "take", "", 0, S, 1, 1)
    sec, usec = redis_server.call("TIME")
    assert r[:2] == [1, 0] and int(r[3]) == int(r[2]) + S
    assert 0 <= int(sec) * S + int(usec) - int(r[2]) < 5 * S


# --------------------------------------------------------------------------
# The 20-second measurements (SP_LONG_TESTS=1).
# --------------------------------------------------------------------------

long_test = pytest.mark.skipif(os.environ.get("SP_LONG_TESTS") != "1",
                               reason="set SP_LONG_TESTS=1 for the 20 s measurements")


def measure(ps, standin, rate, seconds=20.0, clients_per_proxy=4):
    """Keeps every proxy busy with GetSendQuota for `seconds` (clients that
    get 429 sleep for its Retry-After); returns the arrivals at SES, their
    rate over the span (n - 1 intervals between the first and the last) and
    the smallest gap."""
    stop = time.monotonic() + seconds
    statuses = []

    def client(p):
        while time.monotonic() < stop:
            r = p.call(QUOTA, timeout=30)
            statuses.append(r.status)
            if r.status == 429:
                time.sleep(float(r.header("Retry-After") or 1))

    threads = [threading.Thread(target=client, args=(p,))
               for p in ps for _ in range(clients_per_proxy)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    t = sorted(r.t_arrival for r in standin.snapshot() if r.action == "GetSendQuota")
    measured = (len(t) - 1) / (t[-1] - t[0])
    gap = min(gaps(t))
    # calls in any window of one second (less 20 ms: arrivals spaced
    # exactly 1/rate apart would otherwise count rate + 1 on jitter alone)
    window = max(sum(1 for y in t if x <= y < x + 0.98) for x in t)
    print("\n%d proxies at %.1f/s configured: %d calls in %.2f s -> %.3f/s "
          "(%+.2f%%), smallest gap %.3f s (1/rate = %.3f s), at most %d in any "
          "1 s window, statuses %s"
          % (len(ps), rate, len(t), t[-1] - t[0], measured,
             100.0 * (measured - rate) / rate, gap, 1.0 / rate, window,
             {s: statuses.count(s) for s in set(statuses)}))
    return t, measured, gap, window


def check_measure(rate, measured, gap, window):
    assert abs(measured - rate) / rate < 0.03, measured   # never faster
    assert measured <= rate * 1.001, measured
    assert gap >= 0.95 / rate, gap
    assert window <= rate, window


@long_test
@pytest.mark.parametrize("rate", [2, 4])
def test_measured_rate_local(start_proxy, standin, rate):
    p = start_proxy({"throttle": {"max_wait_ms": 15000, "operations": proxyproc.Replace(
        {"GetSendQuota": {"rate": rate, "burst": 1}})}})
    t, measured, gap, window = measure([p], standin, rate)
    check_measure(rate, measured, gap, window)


@long_test
@pytest.mark.parametrize("rate", [2, 4])
def test_measured_rate_redis(start_proxy, standin, redis_server, rate):
    cfg = redis_config(redis_server, max_wait_ms=15000, operations=proxyproc.Replace(
        {"GetSendQuota": {"rate": rate, "burst": 1}}))
    ps = [start_proxy(cfg) for _ in range(3)]
    for p in ps:
        wait_log(p, UP)
    t, measured, gap, window = measure(ps, standin, rate)
    check_measure(rate, measured, gap, window)
    for p in ps:
        assert not log_lines(p, DOWN)


def test_recipient_limits_hold_with_redis(start_proxy, standin, redis_server):
    """The same refusals with the shared throttle: over 50 recipients, and
    a debt past max_wait_ms of the account-wide rate; nothing reaches SES or
    Redis's send-rate bucket."""
    p = start_proxy(redis_config(redis_server, replicas=2, send_rate=2, max_wait_ms=1000))
    send = {"Action": "SendEmail", "Source": "a@example.com",
            "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    r = p.call(dict(send, Destination={"ToAddresses": ["t%d@x.com" % i for i in range(51)]}))
    assert r.status == 400 and r.error_code == "InvalidParameterValue", r
    r = p.call(dict(send, Destination={"ToAddresses": ["t%d@x.com" % i for i in range(10)]}))
    assert r.status == 400 and "max_wait_ms" in r.error_message, r
    assert standin.count == 0
    assert redis_server.call("EXISTS", "ses-proxy:{us-east-1}:send_rate") == 0
    r = p.call(dict(send, Destination={"ToAddresses": ["t%d@x.com" % i for i in range(2)]}))
    assert r.status == 200, r
