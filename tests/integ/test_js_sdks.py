"""Real SDK clients through the pass-through: boto3, the AWS CLI, the JS SDK
v3 (@aws-sdk/client-ses) and the JS SDK v2 (aws-sdk), unmodified, pointed at
the proxy with throwaway credentials.

For each client, the same scenarios run against one proxy in front of the
stand-in SES (which verifies the proxy's signature):

  - operations: the call succeeds, reaches SES re-signed, its form decodes to
    what botocore serializes for the same parameters, and the request id the
    SDK reports is SES's (x-amzn-RequestId is passed on; so is x-amz-id-2,
    the SDKs' extended request id); the AWS CLI prints no request id, so
    for it the one in the answer's headers (--debug) is compared;
  - SES's own error: the SDK reports SES's code and SES's request id;
  - the proxy's own error (policy): AccessDenied with a request id that is
    the proxy's, the one in its access-log line;
  - SES answering 500, Throttling, or "Daily message quota exceeded": the
    requests reaching SES for one SDK call are exactly the SDK's own
    attempts (the proxy adds none by default), and the SDK sees SES's answer;
  - a body over limits.max_body_bytes: RequestEntityTooLarge (413);
  - an endpoint with a path (http://host:port/ses, sdk_path_prefix "/ses")
    works; one with a path the proxy does not serve gets an error the SDK
    parses (NotFound), not "XML parse error";
  - SES v2's clients (@aws-sdk/client-sesv2, aws-sdk's SESV2, botocore's
    sesv2, the CLI's sesv2) parse the proxy's REST-JSON error.

Then nodemailer 6 (npm alias nodemailer6) with its SES transport over
@aws-sdk/client-ses sends a mail with Cc, Bcc and an attachment through the
proxy into aws-ses-v2-local (scripts/demo), and the mail is read back from
its /store intact.

The results print as a client x scenario table (and go to
$SP_BUILD_DIR/sdk-clients.txt). The JS packages are pinned in
tests/integ/js/package-lock.json and installed by
`scripts/install-deps.sh --test` (npm ci). When they are missing this module
runs `npm ci` once; if that fails it fails under CI (CI=true) and skips,
saying why, elsewhere.
"""

import base64
import collections
import json
import os
import pathlib
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
import http.client
import http.server

import botocore.config
import pytest

import botocore_models
import proxyproc
import test_demo
import xmlgen
from standin_ses import Scripted, botocore_body

REPO = pathlib.Path(os.environ.get("SP_SOURCE_DIR")
                    or pathlib.Path(__file__).resolve().parents[2])
JS = REPO / "tests" / "integ" / "js"
MODEL = botocore_models.service_model("ses")

CLIENTS = ("boto3", "aws-cli", "js-v3", "js-v2")
# Attempts each SDK makes for one call with its default retry settings
# (boto3 and the CLI in "standard" mode: AWS's recommended mode, 3
# attempts; the JS SDK v3: 3; the JS SDK v2: maxRetries 3, so 4).
SDK_ATTEMPTS = {"boto3": 3, "aws-cli": 3, "js-v3": 3, "js-v2": 4}

RAW = (b"From: sender@example.com\r\nTo: raw@example.com\r\nSubject: raw\r\n"
       b"Content-Type: text/plain\r\n\r\nhello through ses-proxy\r\n")
SEND = {"Source": "sender@example.com",
        "Destination": {"ToAddresses": ["to@example.com"], "CcAddresses": ["cc@example.com"],
                        "BccAddresses": ["bcc@example.com"]},
        "Message": {"Subject": {"Data": "h\u00e9llo & more"},
                    "Body": {"Text": {"Data": "text"}, "Html": {"Data": "<p>html</p>"}}}}
OPERATIONS = (
    ("SendEmail", SEND),
    ("SendRawEmail", {"RawMessage": {"Data": RAW}}),
    ("GetSendQuota", {}),
    ("GetSendStatistics", {}),
    ("ListIdentities", {"IdentityType": "Domain", "MaxItems": 10}),
    ("GetIdentityVerificationAttributes", {"Identities": ["example.com", "a@example.com"]}),
    ("SetIdentityMailFromDomain", {"Identity": "example.com",
                                   "MailFromDomain": "bounce.example.com",
                                   "BehaviorOnMXFailure": "UseDefaultValue"}),
    ("VerifyDomainIdentity", {"Domain": "example.com"}),
)
QUOTA_XML = ("<Max24HourSend>50000.0</Max24HourSend><MaxSendRate>14.0</MaxSendRate>"
             "<SentLast24Hours>862.039</SentLast24Hours>")


def send_from(source):
    return dict(SEND, Source=source)


# (row, operation, parameters, where the call goes: "" = the proxy's root)
SCENARIOS = [("op " + op, op, params, "") for op, params in OPERATIONS] + [
    ("SES error: code, SES's request id", "SendEmail", send_from("rejected@example.com"), ""),
    ("policy: AccessDenied, proxy's request id", "DeleteIdentity", {"Identity": "example.com"}, ""),
    ("SES 500: requests at SES = SDK attempts", "SendEmail", send_from("s500@example.com"), ""),
    ("SES Throttling: requests = SDK attempts", "SendEmail", send_from("throttled@example.com"),
     ""),
    ("daily quota: SES's answer, SDK attempts", "SendEmail", send_from("quota@example.com"), ""),
    ("size: RequestEntityTooLarge (413)", "SendRawEmail",
     {"RawMessage": {"Data": RAW + b"x" * 70000}}, ""),
    ("endpoint http://host:port/ses", "ListIdentities", {"IdentityType": "EmailAddress"}, "/ses"),
    ("endpoint with a path not served: NotFound", "ListTemplates", {}, "/elsewhere"),
]
V2_ROW = "sesv2 (REST-JSON): 413 parsed"
V2_CALL = ("SendEmail", {"FromEmailAddress": "sender@example.com",
                         "Destination": {"ToAddresses": ["to@example.com"]},
                         "Content": {"Raw": {"Data": RAW + b"y" * 70000}}})

TABLE = collections.OrderedDict()


def record(row, client, problem=None, note=""):
    TABLE.setdefault(row, {})[client] = ("ok" + note) if problem is None else "FAIL"
    return problem


def table_text():
    rows = list(TABLE)
    width = max(len(r) for r in rows) if rows else 10
    lines = ["%-*s  %s" % (width, "scenario \\ client", "  ".join("%-7s" % c for c in CLIENTS))]
    for r in rows:
        lines.append("%-*s  %s" % (width, r, "  ".join("%-7s" % TABLE[r].get(c, "-")
                                                       for c in CLIENTS)))
    lines.append("(ok N: N requests reached SES for the one call: the SDK's own attempts)")
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def client_table(request):
    yield TABLE
    if not TABLE:
        return
    text = "SDK clients through ses-proxy's pass-through:\n" + table_text()
    # Printed past pytest's capture (as capsys.disabled() does), so that it
    # shows in every run, -q and ctest's log included.
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("\n" + text)
    if os.environ.get("SP_BUILD_DIR"):
        with open(os.path.join(os.environ["SP_BUILD_DIR"], "sdk-clients.txt"), "w") as f:
            f.write(text + "\n")


# ---------------------------------------------------------------- the JS SDKs

def _missing(why):
    if os.environ.get("CI"):
        pytest.fail("%s (CI installs tests/integ/js with scripts/install-deps.sh --test)" % why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def node():
    node = shutil.which("node")
    if node is None:
        _missing("no Node.js (node) on PATH: scripts/install-deps.sh --test installs it")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        # @aws-sdk/* and nodemailer (current) declare "engines": {"node": ">=20"}
        _missing("Node.js %s is older than the JS SDKs need (>= 20)" % version)
    wanted = ("@aws-sdk/client-ses", "@aws-sdk/client-sesv2", "aws-sdk", "nodemailer",
              "nodemailer6")
    if not all((JS / "node_modules" / p / "package.json").exists() for p in wanted):
        npm = shutil.which("npm")
        if npm is None:
            _missing("tests/integ/js/node_modules is missing and there is no npm")
        try:
            r = subprocess.run([npm, "ci", "--prefix", str(JS), "--no-audit", "--no-fund",
                                "--loglevel=error"], capture_output=True, timeout=300,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            _missing("npm ci --prefix tests/integ/js took over 300 s")
        if r.returncode != 0:
            _missing("npm ci --prefix tests/integ/js failed (%d): %s"
                     % (r.returncode, r.stderr.decode(errors="replace")[-500:]))
    pins = json.loads((JS / "package.json").read_text())["dependencies"]
    for name, pin in pins.items():
        got = json.loads((JS / "node_modules" / name / "package.json").read_text())["version"]
        assert pin.endswith(got), "node_modules holds %s %s, package.json pins %s" % (name, got,
                                                                                     pin)
    return node


def run_node(node, script, spec, timeout=180):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
           "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1",
           "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
    r = subprocess.run([node, str(JS / script)], input=json.dumps(spec).encode(), env=env,
                       capture_output=True, timeout=timeout, cwd=str(JS))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return json.loads(r.stdout)


def js_bytes(v):
    """Parameters with bytes as {"$bytes": base64} (sdk_calls.js's form)."""
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {k: js_bytes(x) for k, x in v.items()}
    if isinstance(v, list):
        return [js_bytes(x) for x in v]
    return v


# ------------------------------------------------------------- the stand-in

def responder(rec):
    source = rec.params.get("Source", "")
    if source == "rejected@example.com":
        return Scripted.error("MessageRejected", "Email address is not verified.")
    if source == "s500@example.com":
        return Scripted.error("InternalFailure", "The request processing has failed.",
                              status=500, err_type="Receiver")
    if source == "throttled@example.com":
        return Scripted.throttling("Rate exceeded")
    if source == "quota@example.com":
        return Scripted.throttling("Daily message quota exceeded.")
    if rec.action == "GetSendQuota":
        # with an extended request id, as S3 sends and SES may
        rid = str(uuid.uuid4())
        return Scripted.success("GetSendQuota", QUOTA_XML, request_id=rid,
                                headers={"x-amz-id-2": "id2/" + rid})
    if rec.action in MODEL.operation_names:
        rid = str(uuid.uuid4())
        return Scripted(200, xmlgen.success_xml(MODEL, rec.action, 5, request_id=rid),
                        request_id=rid)
    return None


@pytest.fixture
def sdk_proxy(start_proxy, standin):
    standin.responder = responder
    return start_proxy({"policy": {"deny_actions": ["DeleteIdentity"]},
                        "limits": {"max_body_bytes": 65536},
                        "sdk_path_prefix": "/ses"})


def request_lines(p):
    """The proxy's access-log lines ("msg": "request"), parsed."""
    out = []
    for line in p.stdout.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("msg") == "request":
            out.append(o)
    return out


def access_log(p, request_id):
    """The proxy's access-log lines for request_id."""
    return [o for o in request_lines(p) if o.get("request_id") == request_id]


def sent_pairs(op, params):
    return sorted(urllib.parse.parse_qsl(botocore_body(op, params), keep_blank_values=True))


def records_for(standin, op, params):
    """The requests SES saw for this call: those whose form decodes to what
    botocore serializes for op and params (every scenario's differ)."""
    want = sent_pairs(op, params)
    return [r for r in standin.snapshot() if r.action == op and sorted(
        urllib.parse.parse_qsl(r.body.decode(), keep_blank_values=True)) == want]


def check(row, client, result, p, standin, op, params):
    """The verdict on one scenario's outcome for one client; result is
    {"ok", "code", "status", "requestId", "message", "attempts", "data"}.
    Returns None when it is as it must be, else what is wrong."""
    sdk_attempts = SDK_ATTEMPTS[client]
    recs = records_for(standin, op, params)
    if row.startswith("op ") or row.startswith("endpoint http"):
        if not result["ok"]:
            return "failed: %r" % (result,)
        if len(recs) != 1:
            return "%d requests at SES with botocore's form for the call (%d of %s)" % (
                len(recs), len([r for r in standin.snapshot() if r.action == op]), op)
        rec = recs[0]
        if not rec.auth.ok or rec.auth.access_key.endswith("THROWAWAY"):
            return "not re-signed: %r" % rec.auth
        if result["requestId"] != rec.request_id:
            return "request id %r, SES sent %r" % (result["requestId"], rec.request_id)
        if op == "GetSendQuota":
            if result["data"].get("SentLast24Hours") != 862.039:
                return "SentLast24Hours %r" % result["data"].get("SentLast24Hours")
            if result["extendedRequestId"] != "id2/" + rec.request_id:
                return "x-amz-id-2 %r not passed on" % result["extendedRequestId"]
        return None
    if row.startswith("SES error"):
        if result["ok"] or result["code"] != "MessageRejected" or len(recs) != 1:
            return "got %r with %d requests" % (result, len(recs))
        if result["requestId"] != recs[0].request_id:
            return "request id %r, SES sent %r" % (result["requestId"], recs[0].request_id)
        return None
    if row.startswith("policy") or row.startswith("size") or row.startswith("endpoint with"):
        want = {"policy": ("AccessDenied", 403), "size": ("RequestEntityTooLarge", 413),
                "endpoint": ("NotFound", 404)}[row.split()[0].rstrip(":")]
        if result["ok"] or (result["code"], result["status"]) != want or recs:
            return "got %r; %d requests at SES" % (result, len(recs))
        return proxy_request_id_problem(p, result["requestId"], want[1], client)
    # SES answers 500, Throttling or the daily quota
    want = {"SES 500": "InternalFailure", "SES Throttling": "Throttling",
            "daily quota": "Throttling"}[row.split(":")[0]]
    if result["ok"] or result["code"] != want:
        return "got %r" % (result,)
    if row.startswith("daily") and "Daily message quota exceeded" not in (result["message"] or ""):
        return "SES's message lost: %r" % (result,)
    if len(recs) != sdk_attempts:
        return "%d requests at SES for one call; the SDK makes %d attempts" % (len(recs),
                                                                             sdk_attempts)
    if result["attempts"] is not None and result["attempts"] != len(recs):
        return "the SDK counted %s attempts, SES saw %d" % (result["attempts"], len(recs))
    if result["requestId"] != recs[-1].request_id:
        return "request id %r, SES's last was %r" % (result["requestId"], recs[-1].request_id)
    logged = request_lines(p)
    for rec in recs:
        lines = [o for o in logged if o.get("ses_request_id") == rec.request_id]
        if len(lines) != 1 or lines[0]["attempts"] != 1:
            return "the proxy's log for SES request %s: %r" % (rec.request_id, lines)
    return None


def proxy_request_id_problem(p, request_id, status, client):
    """The id an SDK reports for one of the proxy's own errors must be the
    proxy's: the one its access log names with that status."""
    if client == "aws-cli" and request_id is None:
        return "no x-amzn-RequestId in the answer"
    lines = access_log(p, request_id)
    if len(lines) != 1 or lines[0]["status"] != status:
        return "request id %r: access log %r" % (request_id, lines)
    return None


def run_scenarios(client, p, standin, call_all):
    """call_all(list of (row, op, params, path)) -> list of result dicts.
    Fills the table; returns the problems."""
    results = call_all(SCENARIOS)
    problems = []
    for (row, op, params, _), result in zip(SCENARIOS, results):
        # the retry rows show how many requests reached SES
        note = (" %d" % len(records_for(standin, op, params))
                if row.split(":")[0] in ("SES 500", "SES Throttling", "daily quota") else "")
        problem = record(row, client, check(row, client, result, p, standin, op, params), note)
        if problem:
            problems.append("%s: %s" % (row, problem))
    return problems


# ---------------------------------------------------------------- the tests

def test_js_sdk_v3(node, sdk_proxy, standin):
    _js_client("js-v3", "v3", node, sdk_proxy, standin)


def test_js_sdk_v2(node, sdk_proxy, standin):
    _js_client("js-v2", "v2", node, sdk_proxy, standin)


def _js_client(column, client, node, p, standin):
    def call_all(scenarios):
        calls = [{"name": row, "op": op, "params": js_bytes(params),
                  "endpoint": p.url + path} for row, op, params, path in scenarios]
        out = run_node(node, "sdk_calls.js", {"client": client, "endpoint": p.url,
                                              "calls": calls})
        return [{"ok": r["ok"], "code": r.get("code"), "status": r.get("httpStatusCode"),
                 "requestId": r.get("requestId"), "message": r.get("message"),
                 "attempts": r.get("attempts"), "data": r.get("data"),
                 "extendedRequestId": r.get("extendedRequestId")} for r in out]
    problems = run_scenarios(column, p, standin, call_all)
    assert not problems, "\n".join(problems)


def boto3_client(url, service="ses"):
    return botocore_models.boto3_session().client(
        service, region_name="us-east-1", endpoint_url=url,
        aws_access_key_id="AKIDPYTHROWAWAY", aws_secret_access_key="py-throwaway",
        config=botocore.config.Config(retries={"mode": "standard"}))


def extended_id(meta):
    """x-amz-id-2 as boto3 shows it: HostId (REST-XML services), else the
    raw header in ResponseMetadata.HTTPHeaders (the Query protocol)."""
    return meta.get("HostId") or meta.get("HTTPHeaders", {}).get("x-amz-id-2")


def test_boto3(sdk_proxy, standin):
    p = sdk_proxy

    def call_all(scenarios):
        out = []
        for _, op, params, path in scenarios:
            client = boto3_client(p.url + path)
            try:
                data = getattr(client, botocore.xform_name(op))(**params)
                meta = data.pop("ResponseMetadata")
                out.append({"ok": True, "requestId": meta["RequestId"], "data": data,
                            "status": meta["HTTPStatusCode"], "code": None, "message": None,
                            "attempts": meta["RetryAttempts"] + 1,
                            "extendedRequestId": extended_id(meta)})
            except client.exceptions.ClientError as e:
                meta = e.response["ResponseMetadata"]
                out.append({"ok": False, "code": e.response["Error"]["Code"],
                            "message": e.response["Error"].get("Message"),
                            "status": meta.get("HTTPStatusCode"),
                            "requestId": meta.get("RequestId"),
                            "attempts": meta.get("RetryAttempts", 0) + 1, "data": None,
                            "extendedRequestId": extended_id(meta)})
        return out
    problems = run_scenarios("boto3", p, standin, call_all)
    assert not problems, "\n".join(problems)


CLI_ERROR = re.compile(r"An error occurred \(([^)]*)\)(?: \(reached max retries: \d+\))? when "
                       r"calling the \w+ operation(?: \(reached max retries: \d+\))?: (.*)")
CLI_REQUEST_ID = re.compile(r"'x-amzn-RequestId': '([^']*)'")
CLI_ID_2 = re.compile(r"'x-amz-id-2': '([^']*)'")
CLI_STATUS = re.compile(r'HTTP/1\.1" (\d{3}) ')


def cli_env(tmp_path):
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "AWS_ACCESS_KEY_ID": "AKIDCLITHROWAWAY", "AWS_SECRET_ACCESS_KEY": "cli-throwaway",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_RETRY_MODE": "standard",
            "AWS_EC2_METADATA_DISABLED": "true"}


_CLI_V2 = []


def cli_is_v2(tmp_path):
    """Whether the aws first on PATH is the CLI v2 (Debian's), whose
    cli_binary_format default reads a blob in --cli-input-json as base64."""
    if not _CLI_V2:
        r = subprocess.run(["aws", "--version"], capture_output=True, text=True, timeout=60,
                           env=cli_env(tmp_path))
        _CLI_V2.append((r.stdout + r.stderr).startswith("aws-cli/2."))
    return _CLI_V2[0]


def cli_json(v, blobs_base64):
    """--cli-input-json's form: a blob as its text for the CLI v1, as base64
    for the v2."""
    if isinstance(v, bytes):
        return base64.b64encode(v).decode() if blobs_base64 else v.decode()
    if isinstance(v, dict):
        return {k: cli_json(x, blobs_base64) for k, x in v.items()}
    if isinstance(v, list):
        return [cli_json(x, blobs_base64) for x in v]
    return v


def run_cli(service, op, params, url, tmp_path):
    """One AWS CLI call with --debug; the result in run_scenarios' form."""
    cmd = ["aws", service, botocore.xform_name(op, "-"), "--endpoint-url", url,
           "--output", "json", "--no-paginate", "--debug"]
    if params:
        cmd += ["--cli-input-json", json.dumps(cli_json(params, cli_is_v2(tmp_path)))]
    r = subprocess.run(cmd, env=cli_env(tmp_path), capture_output=True, text=True, timeout=120)
    ids = CLI_REQUEST_ID.findall(r.stderr)
    statuses = CLI_STATUS.findall(r.stderr)
    status = int(statuses[-1]) if statuses else None
    ids_2 = CLI_ID_2.findall(r.stderr)
    if r.returncode == 0:
        return {"ok": True, "data": json.loads(r.stdout) if r.stdout.strip() else {},
                "requestId": ids[-1] if ids else None, "status": status, "code": None,
                "message": None, "attempts": None,
                "extendedRequestId": ids_2[-1] if ids_2 else None}
    m = CLI_ERROR.search(r.stderr)
    return {"ok": False, "code": m.group(1) if m else "(unparsed) " + r.stderr[-300:],
            "message": m.group(2) if m else None, "status": status,
            "requestId": ids[-1] if ids else None, "attempts": None, "data": None,
            "extendedRequestId": None}


def test_aws_cli(sdk_proxy, standin, tmp_path):
    p = sdk_proxy

    def call_all(scenarios):
        return [run_cli("ses", op, params, p.url + path, tmp_path)
                for _, op, params, path in scenarios]
    problems = run_scenarios("aws-cli", p, standin, call_all)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- SES v2

def test_sesv2_clients_parse_rest_json_errors(node, sdk_proxy, standin, tmp_path):
    """A v2 SDK call gets the proxy's own refusals in SES v2's REST-JSON
    shape: a body over the limit is RequestEntityTooLarge to every v2
    client, with the proxy's request id."""
    p = sdk_proxy
    op, params = V2_CALL
    results = {}
    out = run_node(node, "sdk_calls.js", {"client": "v3-sesv2", "endpoint": p.url, "calls": [
        {"name": V2_ROW, "op": op, "params": js_bytes(params)}]})
    results["js-v3"] = (out[0].get("code"), out[0].get("httpStatusCode"), out[0].get("requestId"),
                        out[0].get("message"))
    out = run_node(node, "sdk_calls.js", {"client": "v2-sesv2", "endpoint": p.url, "calls": [
        {"name": V2_ROW, "op": op, "params": js_bytes(params)}]})
    results["js-v2"] = (out[0].get("code"), out[0].get("httpStatusCode"), out[0].get("requestId"),
                        out[0].get("message"))
    client = boto3_client(p.url, "sesv2")
    with pytest.raises(client.exceptions.ClientError) as e:
        client.send_email(**params)
    meta = e.value.response["ResponseMetadata"]
    results["boto3"] = (e.value.response["Error"]["Code"], meta["HTTPStatusCode"],
                        meta.get("RequestId"), e.value.response["Error"]["Message"])
    r = run_cli("sesv2", op, params, p.url, tmp_path)
    results["aws-cli"] = (r["code"], r["status"], r["requestId"], r["message"])
    problems = []
    for client_name, (code, status, rid, message) in results.items():
        problem = None
        # aws-sdk v2 puts its own text on this code ("Request body must be
        # less than 1 MB", lib/protocol/json.js); the others keep the proxy's.
        said = "less than 1 MB" if client_name == "js-v2" else "over the limit"
        if (code, status) != ("RequestEntityTooLarge", 413) or said not in (message or ""):
            problem = "got %r" % ((code, status, rid, message),)
        else:
            problem = proxy_request_id_problem(p, rid, 413, client_name)
        if record(V2_ROW, client_name, problem):
            problems.append("%s: %s" % (client_name, problem))
    assert standin.count == 0
    assert not problems, "\n".join(problems)


# ------------------------------------------------- nodemailer 6 into a local SES

class Recorder:
    """A loopback HTTP relay that records each request body and passes it on
    to target (aws-ses-v2-local), answering with target's answer."""

    def __init__(self, target):
        self.target = urllib.parse.urlsplit(target)
        self.bodies = []
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                relay.bodies.append(body)
                c = http.client.HTTPConnection(relay.target.hostname, relay.target.port,
                                               timeout=30)
                hop = ("host", "connection", "keep-alive", "transfer-encoding",
                       "content-length")
                c.request("POST", self.path, body=body,
                          headers={k: v for k, v in self.headers.items()
                                   if k.lower() not in hop})
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                self.send_header("Content-Type", r.getheader("Content-Type", "text/xml"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_ses(node, tmp_path):
    """aws-ses-v2-local (scripts/demo) on a free port; its URL."""
    emulator = REPO / "scripts" / "demo" / "node_modules" / "aws-ses-v2-local"
    if not (emulator / "package.json").exists():
        npm = shutil.which("npm")
        r = subprocess.run([npm, "ci", "--prefix", str(REPO / "scripts" / "demo"),
                            "--no-audit", "--no-fund", "--loglevel=error"],
                           capture_output=True, timeout=300, stdin=subprocess.DEVNULL) \
            if npm else None
        if r is None or r.returncode != 0:
            _missing("scripts/demo/node_modules (aws-ses-v2-local) could not be installed")
    port = proxyproc.free_port()
    log = open(tmp_path / "ses.log", "wb")
    proc = subprocess.Popen([node, "-e", test_demo.LAUNCH, str(emulator), str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "ses.log").read_text()
            try:
                if test_demo.http_get(url + "/health-check", 1)[0] == 200:
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


def test_nodemailer6_ses_transport_into_local_ses(node, start_proxy, local_ses):
    relay = Recorder(local_ses)
    try:
        p = start_proxy({"throttle": {"send_rate": 100}}, endpoint=relay.url)
        attachment = bytes(range(256)) * 40   # every byte value: binary, not text
        mail = {"from": "Sender <sender@example.com>", "to": "to@example.com",
                "cc": "cc@example.com", "bcc": "bcc@example.com",
                "subject": "nodemailer 6 through ses-proxy \u00e9", "text": "plain text body",
                "attachments": [{"filename": "data.bin", "contentType": "application/octet-stream",
                                 "content": base64.b64encode(attachment).decode()}]}
        out = run_node(node, "nodemailer6_send.js", {"endpoint": p.url, "mail": mail})
    finally:
        relay.stop()
    assert out["ok"], out
    # What reached SES: nodemailer's message, untouched, and every envelope
    # recipient (Bcc travels only there: SES sends to Destinations).
    assert len(relay.bodies) == 1
    form = dict(urllib.parse.parse_qsl(relay.bodies[0].decode(), keep_blank_values=True))
    assert form["Action"] == "SendRawEmail"
    assert base64.b64decode(form["RawMessage.Data"]) == base64.b64decode(out["raw"])
    dests = [v for k, v in sorted(form.items()) if k.startswith("Destinations.member.")]
    assert sorted(dests) == ["bcc@example.com", "cc@example.com", "to@example.com"], form
    assert b"\nBcc:" not in base64.b64decode(out["raw"])
    # What the local SES stored, read back from /store.
    emails = test_demo.store(local_ses)["emails"]
    assert len(emails) == 1, emails
    e = emails[0]
    assert out["response"] == e["messageId"]
    assert e["subject"] == mail["subject"]
    assert "sender@example.com" in e["from"]
    assert e["destination"]["to"] == ["to@example.com"]
    assert e["destination"]["cc"] == ["cc@example.com"]
    assert e["body"]["text"].strip() == "plain text body"
    assert len(e["attachments"]) == 1
    a = e["attachments"][0]
    assert a["filename"] == "data.bin" and a["contentType"] == "application/octet-stream"
    assert base64.b64decode(a["content"]) == attachment
