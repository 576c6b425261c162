"""The configuration file as a running proxy applies it on SIGHUP: what the
reload cannot change (the keys the config table marks as needing a restart)
is named in the "configuration reloaded" line, and the rest takes effect.

(The table against conf/ses-proxy.json and README.md, and every load error:
tests/unit/proxy/config_test.c.)
"""

import json
import os
import signal
import time

import proxyproc
from proxyproc import log_lines

OP = "SetIdentityMailFromDomain"
CALL = {"Action": OP, "Identity": "user@example.com",
        "MailFromDomain": "bounces.example.com",
        "BehaviorOnMXFailure": "UseDefaultValue"}


def rewrite(p, overrides):
    """Writes p's starting config with overrides deep-merged into it."""
    tmp = p.config_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(proxyproc.deep_merge(p.config, overrides), f, indent=2)
    os.replace(tmp, p.config_path)


def reload(p, timeout=5.0):
    """SIGHUP; returns the "configuration reloaded" line that follows."""
    before = len(log_lines(p))
    p.signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for o in log_lines(p)[before:]:
            if o.get("msg") == "configuration reloaded":
                return o
            assert not o.get("msg", "").startswith("reload failed"), o
        time.sleep(0.02)
    raise AssertionError("no reload after SIGHUP\n%s" % p.describe())


def refused(port):
    try:
        proxyproc.http_call("127.0.0.1", port, path="/healthz", method="GET",
                            timeout=2.0)
    except OSError:
        return True
    return False


def test_reload_names_the_keys_that_need_a_restart(start_proxy, standin):
    p = start_proxy()
    admin_port = proxyproc.free_port()

    # Reloadable keys only: no "restart" field at all.
    rewrite(p, {"policy": {"deny_actions": [OP]}, "retry": {"max_attempts": 2}})
    line = reload(p)
    assert "restart" not in line, line
    assert line["file"] == p.config_path, line
    assert p.call(CALL).status == 403

    # Keys that need a restart are named, and keep their old values; the
    # file's "listen" is replaced by --listen, so it has not changed.
    rewrite(p, {"listen": ["127.0.0.1:1"],
                "admin_listen": ["127.0.0.1:%d" % admin_port],
                "upstream": {"timeout_ms": 5000}})
    line = reload(p)
    assert line["restart"] == ("admin_listen, upstream.timeout_ms changed: "
                               "take effect after a restart"), line
    assert refused(admin_port)
    assert p.call(CALL).status == 200   # the reloadable part did apply

    # Compared with what the proxy started with, not with the last reload.
    rewrite(p, {"admin_listen": ["127.0.0.1:%d" % admin_port]})
    line = reload(p)
    assert line["restart"] == ("admin_listen changed: "
                               "takes effect after a restart"), line
    rewrite(p, {})
    line = reload(p)
    assert "restart" not in line, line
