"""The demo path end to end: ses-proxy in front of aws-ses-v2-local.

aws-ses-v2-local (npm, pinned in scripts/demo/package-lock.json) is the local
SES that scripts/demo.sh starts. Here it is started the same way on a free
port, ses-proxy is pointed at it with throwaway credentials, and a SendEmail
sent through the proxy (SES v1, and SES v2's in JSON mode) must be answered
200 with a MessageId and show up in the emulator's store (GET /store) with
its subject, sender and recipients. Then scripts/demo.sh itself runs (with
the built binary, DEMO_PROXY_BIN) and its two mails, one v1 and one v2, must
be in its emulator's store; Ctrl-C stops it, the proxy and the emulator.

Needs Node.js and scripts/demo/node_modules; when they are missing the
module tries `npm ci --prefix scripts/demo` once, and skips, saying why, if
that cannot be done (no Node.js, no registry).
"""

import base64
import json
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

import proxyproc

REPO = pathlib.Path(os.environ.get("SP_SOURCE_DIR")
                    or pathlib.Path(__file__).resolve().parents[2])
DEMO = REPO / "scripts" / "demo"
EMULATOR = DEMO / "node_modules" / "aws-ses-v2-local"

# Started through the package's library entry, as scripts/demo.sh does: its
# CLI's argument parser needs Node.js >= 20.19, Debian 12 ships 18.
LAUNCH = """
const [pkg, port] = process.argv.slice(1);
require(pkg).default({host: "127.0.0.1", port: Number(port)})
  .then(() => console.log("listening " + port))
  .catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def emulator_pkg():
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js (node) on PATH: scripts/install-deps.sh --test installs it")
    if not (EMULATOR / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("scripts/demo/node_modules is missing and there is no npm")
        try:
            r = subprocess.run([npm, "ci", "--prefix", str(DEMO), "--no-audit",
                                "--no-fund", "--loglevel=error"],
                               capture_output=True, timeout=240,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci --prefix scripts/demo took over 240 s")
        if r.returncode != 0 or not (EMULATOR / "package.json").exists():
            pytest.skip("npm ci --prefix scripts/demo failed (%d): %s"
                        % (r.returncode, r.stderr.decode(errors="replace")[-500:]))
    pinned = json.loads((DEMO / "package.json").read_text())["dependencies"]["aws-ses-v2-local"]
    installed = json.loads((EMULATOR / "package.json").read_text())["version"]
    assert installed == pinned, "node_modules holds aws-ses-v2-local %s, package.json pins %s" \
        % (installed, pinned)
    return node, str(EMULATOR)


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


@pytest.fixture
def local_ses(emulator_pkg, tmp_path):
    """aws-ses-v2-local on a free loopback port; yields its base URL."""
    node, pkg = emulator_pkg
    port = proxyproc.free_port()
    log = open(tmp_path / "ses.log", "wb")
    proc = subprocess.Popen([node, "-e", LAUNCH, pkg, str(port)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail("aws-ses-v2-local exited with %s:\n%s"
                            % (proc.returncode, (tmp_path / "ses.log").read_text()))
            try:
                if http_get(url + "/health-check", 1)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "aws-ses-v2-local did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def store(url):
    status, raw = http_get(url + "/store")
    assert status == 200
    return json.loads(raw)


def test_send_email_reaches_local_ses(start_proxy, local_ses):
    # A numeric send rate (the default harness config has one):
    # aws-ses-v2-local does not implement GetSendQuota.
    p = start_proxy({"throttle": {"send_rate": 14}}, endpoint=local_ses)
    subject = "ses-proxy demo %d" % os.getpid()
    mail = {"Action": "SendEmail",
            "Source": "sender@example.com",
            "Destination": {"ToAddresses": ["to@example.com"],
                            "CcAddresses": ["cc@example.com"]},
            "Message": {"Subject": {"Data": subject},
                        "Body": {"Text": {"Data": "plain text"},
                                 "Html": {"Data": "<p>html</p>"}}}}
    assert store(local_ses)["emails"] == []
    r = p.call(mail, headers={"X-Request-Id": "demo-1"})
    assert r.status == 200, r
    assert r.header("Content-Type", "").startswith("application/json")
    assert r.header("X-Request-Id") == "demo-1"
    message_id = r.json.get("MessageId")
    assert message_id, r
    meta = r.json["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200 and meta["RetryAttempts"] == 0, r
    emails = store(local_ses)["emails"]
    assert len(emails) == 1, emails
    e = emails[0]
    assert e["messageId"] == message_id
    assert e["subject"] == subject
    assert e["from"] == "sender@example.com"
    assert e["destination"]["to"] == ["to@example.com"]
    assert e["destination"]["cc"] == ["cc@example.com"]
    assert e["body"]["text"] == "plain text" and e["body"]["html"] == "<p>html</p>"
    # The emulator's web page, which the demo points at, is up.
    status, page = http_get(local_ses + "/")
    assert status == 200 and b"<html" in page.lower()


def test_send_raw_email_reaches_local_ses(start_proxy, local_ses):
    p = start_proxy({"throttle": {"send_rate": 14}}, endpoint=local_ses)
    raw = ("From: sender@example.com\r\nTo: raw@example.com\r\n"
           "Subject: raw through ses-proxy\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
    r = p.call({"Action": "SendRawEmail",
                "RawMessage": {"Data": base64.b64encode(raw.encode()).decode()}})
    assert r.status == 200, r
    assert r.json.get("MessageId"), r
    subjects = [e["subject"] for e in store(local_ses)["emails"]]
    assert "raw through ses-proxy" in subjects, subjects


def test_send_email_v2_reaches_local_ses(start_proxy, local_ses):
    p = start_proxy({"throttle": {"send_rate": 14}}, endpoint=local_ses)
    subject = "ses-proxy demo v2 \u00e9 %d" % os.getpid()
    mail = {"FromEmailAddress": "Sender <sender@example.com>",
            "Destination": {"ToAddresses": ["to@example.com"], "CcAddresses": ["cc@example.com"]},
            "ReplyToAddresses": ["reply@example.com"],
            "Content": {"Simple": {"Subject": {"Data": subject},
                                   "Body": {"Text": {"Data": "plain text"},
                                            "Html": {"Data": "<p>html</p>"}},
                                   "Headers": [{"Name": "X-Demo", "Value": "v2"}]}}}
    r = p.call(mail, path="/v2/SendEmail", headers={"X-Request-Id": "demo-v2"})
    assert r.status == 200, r
    assert r.header("X-Request-Id") == "demo-v2"
    meta = r.json["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200 and meta["RetryAttempts"] == 0, r
    emails = store(local_ses)["emails"]
    assert len(emails) == 1, emails
    e = emails[0]
    assert e["messageId"] == r.json["MessageId"]
    assert e["subject"] == subject
    assert e["from"] == "Sender <sender@example.com>"
    assert e["replyTo"] == ["reply@example.com"]
    assert e["destination"] == {"to": ["to@example.com"], "cc": ["cc@example.com"], "bcc": []}
    assert e["body"]["text"] == "plain text" and e["body"]["html"] == "<p>html</p>"
    assert {"name": "X-Demo", "value": "v2"} in e["headers"]


def test_demo_script_sends_v1_and_v2(emulator_pkg, proxy_bin, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("no curl: scripts/install-deps.sh --demo installs it")
    listen_port, ses_port = proxyproc.free_port(), proxyproc.free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "TMPDIR": str(tmp_path), "DEMO_LISTEN": "127.0.0.1:%d" % listen_port,
           "DEMO_SES_PORT": str(ses_port), "DEMO_PROXY_BIN": str(proxy_bin)}
    proc = subprocess.Popen([str(REPO / "scripts" / "demo.sh")], env=env, cwd=str(tmp_path),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines, ready = [], threading.Event()

    def read():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            if "keeps running" in line:
                ready.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for _ in range(600):
            if ready.wait(0.1) or proc.poll() is not None:
                break
        assert ready.is_set(), "".join(lines[-40:])
        ses_url = "http://127.0.0.1:%d" % ses_port
        emails = store(ses_url)["emails"]
        assert sorted(e["subject"] for e in emails) == [
            "Hello from ses-proxy", "Hello from ses-proxy (SES v2)"], emails
        for e in emails:
            assert e["from"] == "sender@example.com", e
            assert e["destination"]["to"] == ["recipient@example.com"], e
            assert "went through ses-proxy" in e["body"]["text"], e
        # the proxy's access log: one v1 and one v2 call, both sent by the demo
        logged = [json.loads(x) for x in lines if x.startswith("{") and '"msg":"request"' in x]
        assert sorted((o["action"], o["status"]) for o in logged) == [
            ("SendEmail", 200), ("v2:SendEmail", 200)], logged
        assert "".join(lines).count("the proxy answered HTTP 200") == 2
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)   # Ctrl-C: the script stops both
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(5)
        reader.join(5)
    assert rc == 130, "".join(lines[-40:])
    # the proxy and the emulator stopped with it
    for port in (listen_port, ses_port):
        with pytest.raises(OSError):
            http_get("http://127.0.0.1:%d/healthz" % port, 1)
