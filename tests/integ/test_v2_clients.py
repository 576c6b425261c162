"""Real SES v2 clients through the pass-through, unmodified, with throwaway
credentials: boto3's sesv2, the AWS CLI's `aws sesv2`, the JS SDK v3's
@aws-sdk/client-sesv2 (js/sesv2_calls.js), the JS SDK v2's AWS.SESV2, and
the current nodemailer with its documented SES transport (SESv2Client and
SendEmailCommand, js/nodemailer_send.js).

For each client the same operations run against one proxy in front of the
stand-in SES (which verifies the proxy's signature and reads each request
back): the call succeeds, exactly one request reaches SES for it, re-signed
with the proxy's credentials, carrying the client's parameters (as the wire
carries them: sesv2gen.wire_params) in botocore's own serialization, and the
request id the client reports is SES's (x-amzn-RequestId passed on). Then
errors: SES's own (MessageRejected: SES's code and request id), SES's rate
limit (TooManyRequestsException: the requests at SES are exactly the
client's own attempts, the proxy adds none), and the proxy's own (policy:
AccessDenied with the proxy's request id, the one in its access log).

A JS SDK newer than the proxy's model sends some calls to paths the model
does not have (README, SES v2): those must be refused with
UnknownOperationException and the proxy's request id, nothing sent, and
only those: the path the SDK sent is checked against the model's routes.

nodemailer sends a mail with Cc, Bcc and a binary attachment through the
proxy into aws-ses-v2-local (scripts/demo, which implements SES v2's
sending), read back intact from its /store; a sender the policy refuses
gets AccessDenied with the proxy's request id.

The results print as a client x operation table (and go to
$SP_BUILD_DIR/sesv2-clients.txt).
"""

import base64
import collections
import concurrent.futures
import datetime
import json
import os
import subprocess

import pytest

import botocore_models
import sesv2gen
import standin_v2
import test_demo
from standin_ses import Scripted
import test_js_sdks
from test_js_sdks import Recorder, access_log, run_cli, run_node
from v2_helpers import MODEL, THROWAWAY_KEY, xform

# test_js_sdks' fixtures: Node.js with the pinned JS clients, aws-ses-v2-local
node = test_js_sdks.node
local_ses = test_js_sdks.local_ses

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
T1 = datetime.datetime(2024, 1, 9, tzinfo=UTC)
RAW = (b"From: sender@example.com\r\nTo: raw@example.com\r\nSubject: raw through v2\r\n"
       b"Content-Type: text/plain\r\n\r\nhello through ses-proxy\r\n")
SIMPLE = {"Simple": {"Subject": {"Data": "h\u00e9llo & more"},
                     "Body": {"Text": {"Data": "text"}, "Html": {"Data": "<p>html</p>"}}}}


def send(sender="Sender <sender@example.com>", **kw):
    return dict({"FromEmailAddress": sender,
                 "Destination": {"ToAddresses": ["to@example.com"],
                                 "CcAddresses": ["cc@example.com"],
                                 "BccAddresses": ["bcc@example.com"]},
                 "Content": SIMPLE}, **kw)


OPERATIONS = [
    ("SendEmail", send(EmailTags=[{"Name": "campaign", "Value": "v2"}])),
    ("SendEmail", {"Content": {"Raw": {"Data": RAW}}}),
    ("SendBulkEmail", {"FromEmailAddress": "bulk@example.com",
                       "DefaultContent": {"Template": {"TemplateName": "app-t",
                                                       "TemplateData": '{"n": 1}'}},
                       "BulkEmailEntries": [
                           {"Destination": {"ToAddresses": ["one@example.com"]}},
                           {"Destination": {"ToAddresses": ["two@example.com"]},
                            "ReplacementEmailContent": {"ReplacementTemplate": {
                                "ReplacementTemplateData": '{"n": 2}'}}}]}),
    ("GetAccount", {}),
    ("GetEmailIdentity", {"EmailIdentity": "user+tag@example.com"}),
    ("CreateEmailIdentity", {"EmailIdentity": "example.com",
                             "Tags": [{"Key": "team", "Value": "mail \u00e9"}]}),
    ("PutEmailIdentityDkimAttributes", {"EmailIdentity": "example.com", "SigningEnabled": True}),
    ("DeleteEmailIdentity", {"EmailIdentity": "old.example.com"}),
    ("ListSuppressedDestinations", {"Reasons": ["BOUNCE", "COMPLAINT"], "StartDate": T0,
                                    "EndDate": T1, "PageSize": 10}),
    ("GetDomainStatisticsReport", {"Domain": "example.com", "StartDate": T0, "EndDate": T1}),
    ("BatchGetMetricData", {"Queries": [{"Id": "q1", "Namespace": "VDM", "Metric": "SEND",
                                         "StartDate": T0, "EndDate": T1}]}),
    ("ListContacts", {"ContactListName": "app-news", "PageSize": 5}),
    ("UntagResource", {"ResourceArn": "arn:aws:ses:us-east-1:123456789012:configuration-set/c",
                       "TagKeys": ["a", "b c"]}),
    ("GetMessageInsights", {"MessageId": "0100-abc"}),
    ("GetEmailAddressInsights", {"EmailAddress": "someone@example.com"}),
    ("ListEmailIdentities", {"PageSize": 5}),
]
ROW_NAMES = {1: "SendEmail (raw)"}
ERRORS = [
    ("SES error: code, SES's request id", "SendEmail", send("rejected@example.com")),
    ("SES TooManyRequests: SDK attempts", "SendEmail", send("throttled@example.com")),
    ("policy: AccessDenied, proxy's id", "DeleteEmailTemplate", {"TemplateName": "app-t"}),
]
SCENARIOS = [(ROW_NAMES.get(i, op), op, params) for i, (op, params) in enumerate(OPERATIONS)] \
    + ERRORS
GET_ACCOUNT = {"SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0,
                             "SentLast24Hours": 862.039},
               "SendingEnabled": True, "ProductionAccessEnabled": False}
# The AWS CLI is botocore, as boto3 is, and takes seconds a call: it runs what
# its own layer could change (blobs and timestamps from --cli-input-json,
# labels, query lists, each method) and the errors.
CLI_ROWS = ("SendEmail", "SendEmail (raw)", "GetAccount", "GetEmailIdentity",
            "PutEmailIdentityDkimAttributes", "DeleteEmailIdentity", "ListSuppressedDestinations",
            "BatchGetMetricData") + tuple(row for row, _, _ in ERRORS)
# aws-sdk v2 is in maintenance mode: its SESV2 has no GetEmailAddressInsights.
JS_V2_ROWS = tuple(row for row, _, _ in SCENARIOS if row != "GetEmailAddressInsights")
# Attempts each client makes for one call by default: boto3 and the CLI in
# "standard" mode and the JS SDK v3 make 3, the JS SDK v2 4 (maxRetries 3).
SDK_ATTEMPTS = {"boto3": 3, "aws-cli": 3, "js-v3": 3, "js-v2": 4}
CLIENTS = ("boto3", "aws-cli", "js-v3", "js-v2", "nodemailer")

TABLE = collections.OrderedDict()


def record(row, client, problem=None, note=""):
    TABLE.setdefault(row, {})[client] = ("ok" + note) if problem is None else "FAIL"
    return problem


def table_text():
    rows = list(TABLE)
    width = max(len(r) for r in rows)
    lines = ["%-*s  %s" % (width, "operation \\ client", "  ".join("%-10s" % c for c in CLIENTS))]
    for r in rows:
        lines.append("%-*s  %s" % (width, r, "  ".join("%-10s" % TABLE[r].get(c, "-")
                                                       for c in CLIENTS)))
    lines.append("(ok N: N requests reached SES for the one call, the client's own attempts; "
                 "ok refused: the client's path is not in the proxy's model, refused unsent; "
                 "-: not run with that client)")
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def client_table(request):
    yield TABLE
    if not TABLE:
        return
    text = "SES v2 clients through ses-proxy's pass-through:\n" + table_text()
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("\n" + text)
    if os.environ.get("SP_BUILD_DIR"):
        with open(os.path.join(os.environ["SP_BUILD_DIR"], "sesv2-clients.txt"), "w") as f:
            f.write(text + "\n")


def responder(rec):
    if rec.api != "v2" or rec.params is None or rec.v2.error is not None:
        return None
    sender = rec.params.get("FromEmailAddress") or ""
    if sender.startswith("rejected@"):
        return Scripted.v2_error("MessageRejected", "Email address is not verified.")
    if sender.startswith("throttled@"):
        return Scripted.v2_throttling()
    if rec.operation in standin_v2.SEND_OPS:
        return None  # the stand-in accepts it and keeps the messages
    return Scripted.v2_success(GET_ACCOUNT if rec.operation == "GetAccount" else {})


@pytest.fixture
def v2_proxy(start_proxy, standin):
    standin.responder = responder
    return start_proxy({"policy": {"deny_actions": ["v2:DeleteEmailTemplate"]}})


def wire(op_name, params):
    return sesv2gen.wire_params(MODEL.operation_model(op_name), params)


def _whole_seconds(v):
    if isinstance(v, datetime.datetime):
        return v.replace(microsecond=0)
    if isinstance(v, dict):
        return {k: _whole_seconds(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_whole_seconds(x) for x in v]
    return v


def records_for(standin, op_name, params, client=None):
    """The requests SES saw with the call's parameters. aws-sdk v2 writes
    timestamps without their milliseconds (AWS.util.date.iso8601): what it
    sends is the whole second."""
    if client == "js-v2":
        params = _whole_seconds(params)
    want = wire(op_name, params)
    return [r for r in standin.snapshot() if r.api == "v2" and r.operation == op_name
            and r.params is not None and wire(op_name, r.params) == want]


def routable(method, path):
    try:
        standin_v2.router().route(method, path)
        return True
    except standin_v2.V2Error:
        return False


def check(row, client, result, p, standin, op_name, params):
    """None when the client's outcome is as it must be, else what is wrong.
    result: {"ok", "code", "status", "requestId", "attempts", "data",
    "sent": (method, path) or None}."""
    recs = records_for(standin, op_name, params, client)
    if row.startswith("SES error"):
        if result["ok"] or result["code"] != "MessageRejected" or len(recs) != 1:
            return "got %r with %d requests" % (result, len(recs))
        if result["requestId"] != recs[0].request_id:
            return "request id %r, SES sent %r" % (result["requestId"], recs[0].request_id)
        return None
    if row.startswith("SES TooManyRequests"):
        if result["ok"] or result["code"] != "TooManyRequestsException":
            return "got %r" % (result,)
        if len(recs) != SDK_ATTEMPTS[client]:
            return "%d requests at SES for one call; the client makes %d attempts" % (
                len(recs), SDK_ATTEMPTS[client])
        if result["requestId"] != recs[-1].request_id:
            return "request id %r, SES's last was %r" % (result["requestId"], recs[-1].request_id)
        return None
    if row.startswith("policy"):
        if result["ok"] or (result["code"], result["status"]) != ("AccessDenied", 403) or recs:
            return "got %r; %d requests at SES" % (result, len(recs))
        return proxy_id_problem(p, result["requestId"], 403)
    if not result["ok"] and result["code"] == "UnknownOperationException" and result["sent"]:
        # a path from an SDK newer than the model: refused, unsent, named
        method, path = result["sent"]
        if routable(method, path) or recs:
            return "%s %s is the model's, yet refused (%d requests)" % (method, path, len(recs))
        if "%s %s " % (method, path) not in (result["message"] or ""):
            return "the refusal does not name %s %s: %r" % (method, path, result["message"])
        return proxy_id_problem(p, result["requestId"], 400)
    if not result["ok"]:
        return "failed: %r" % (result,)
    if len(recs) != 1:
        return "%d requests at SES with the call's parameters (of %d %s)" % (
            len(recs), len([r for r in standin.snapshot() if r.operation == op_name]), op_name)
    rec = recs[0]
    if not rec.auth.ok or rec.auth.access_key.endswith("THROWAWAY"):
        return "not re-signed: %r" % rec.auth
    if not rec.v2.same_as_botocore or rec.v2.notes:
        return "not botocore's serialization: %r" % rec.v2
    if result["requestId"] != rec.request_id:
        return "request id %r, SES sent %r" % (result["requestId"], rec.request_id)
    if op_name == "GetAccount":
        quota = (result["data"] or {}).get("SendQuota", {})
        if quota.get("SentLast24Hours") != 862.039 or quota.get("MaxSendRate") != 14.0:
            return "SendQuota %r" % quota
    if op_name in standin_v2.SEND_OPS:
        ids = [m.message_id for m in rec.messages]
        got = ([result["data"].get("MessageId")] if op_name == "SendEmail" else
               [e.get("MessageId") for e in result["data"].get("BulkEmailEntryResults", [])])
        if got != ids:
            return "MessageIds %r, SES gave %r" % (got, ids)
    return None


def proxy_id_problem(p, request_id, status):
    lines = access_log(p, request_id)
    if len(lines) != 1 or lines[0]["status"] != status:
        return "request id %r: access log %r" % (request_id, lines)
    return None


def run_scenarios(client, p, standin, call_all, rows=None):
    standin.clear()
    scenarios = [s for s in SCENARIOS if rows is None or s[0] in rows]
    results = call_all(scenarios)
    problems = []
    for (row, op_name, params), result in zip(scenarios, results):
        problem = check(row, client, result, p, standin, op_name, params)
        note = ""
        if problem is None and row.startswith("SES TooManyRequests"):
            note = " %d" % len(records_for(standin, op_name, params, client))
        elif problem is None and result.get("code") == "UnknownOperationException":
            note = " refused"
        if record(row, client, problem, note):
            problems.append("%s: %s" % (row, problem))
    return problems


# ---------------------------------------------------------------- the clients

def test_boto3(v2_proxy, standin):
    p = v2_proxy
    client = botocore_models.boto3_session().client(
        "sesv2", region_name="us-east-1", endpoint_url=p.url,
        aws_access_key_id=THROWAWAY_KEY, aws_secret_access_key="py-throwaway",
        config=__import__("botocore.config").config.Config(retries={"mode": "standard"}))

    def call_all(scenarios):
        out = []
        for _, op_name, params in scenarios:
            try:
                data = getattr(client, xform(op_name))(**params)
                meta = data.pop("ResponseMetadata")
                out.append({"ok": True, "requestId": meta["RequestId"], "data": data,
                            "status": meta["HTTPStatusCode"], "code": None, "message": None,
                            "sent": None})
            except client.exceptions.ClientError as e:
                meta = e.response["ResponseMetadata"]
                out.append({"ok": False, "code": e.response["Error"]["Code"],
                            "message": e.response["Error"].get("Message"),
                            "status": meta.get("HTTPStatusCode"),
                            "requestId": meta.get("RequestId"), "data": None, "sent": None})
        return out
    problems = run_scenarios("boto3", p, standin, call_all)
    assert not problems, "\n".join(problems)


def _cli_params(v, blobs_base64):
    """--cli-input-json's form: timestamps as ISO 8601; a blob as its text
    for the CLI v1, as base64 for the v2 (its cli_binary_format default)."""
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode() if blobs_base64 else v.decode()
    if isinstance(v, dict):
        return {k: _cli_params(x, blobs_base64) for k, x in v.items()}
    if isinstance(v, list):
        return [_cli_params(x, blobs_base64) for x in v]
    return v


def test_aws_cli(v2_proxy, standin, tmp_path):
    p = v2_proxy
    v2_cli = test_js_sdks.cli_is_v2(tmp_path)

    def one(scenario):
        _, op_name, params = scenario
        return dict(run_cli("sesv2", op_name, _cli_params(params, v2_cli), p.url, tmp_path),
                    sent=None)

    def call_all(scenarios):
        # A CLI call is mostly its Python start-up (one to three seconds
        # here): two at a time (every call's parameters are its own, so the
        # requests at SES still tell them apart).
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return list(pool.map(one, scenarios))
    problems = run_scenarios("aws-cli", p, standin, call_all, CLI_ROWS)
    assert not problems, "\n".join(problems)


def _js_params(v, dates_as_text=False):
    """Parameters in the JS scripts' form: bytes as {"$bytes"}, datetimes as
    {"$date"} (sesv2_calls.js makes a Date of it) or ISO 8601 text (which
    aws-sdk v2 takes as it is)."""
    if isinstance(v, datetime.datetime):
        text = v.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return text if dates_as_text else {"$date": text}
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {k: _js_params(x, dates_as_text) for k, x in v.items()}
    if isinstance(v, list):
        return [_js_params(x, dates_as_text) for x in v]
    return v


def _js_result(r):
    sent = r.get("sent")
    path = None
    if sent:
        path = sent["path"]
    return {"ok": r["ok"], "code": r.get("code"), "status": r.get("httpStatusCode"),
            "requestId": r.get("requestId"), "message": r.get("message"),
            "attempts": r.get("attempts"), "data": r.get("data"),
            "sent": (sent["method"], path) if sent else None, "received": r.get("received")}


def test_js_sdk_v3(node, v2_proxy, standin):
    p = v2_proxy

    def call_all(scenarios):
        calls = [{"name": row, "op": op_name, "params": _js_params(params)}
                 for row, op_name, params in scenarios]
        out = run_node(node, "sesv2_calls.js", {"endpoint": p.url, "calls": calls})
        return [_js_result(r) for r in out]
    problems = run_scenarios("js-v3", p, standin, call_all)
    # What the SDK received is SES's answer: its status and request id, and
    # SES's x-amzn-ErrorType on an error.
    results = call_all([s for s in SCENARIOS if s[0] in ("GetAccount",
                                                         "SES error: code, SES's request id")])
    for r in results:
        got = r["received"]
        assert got["headers"]["x-amzn-requestid"] == r["requestId"], got
        assert got["headers"]["content-type"] == "application/json", got
        if not r["ok"]:
            assert got["headers"]["x-amzn-errortype"] == "MessageRejected", got
            assert got["statusCode"] == 400
    assert not problems, "\n".join(problems)


def test_js_sdk_v2(node, v2_proxy, standin):
    p = v2_proxy

    def call_all(scenarios):
        calls = [{"name": row, "op": op_name, "params": _js_params(params, True)}
                 for row, op_name, params in scenarios]
        out = run_node(node, "sdk_calls.js", {"client": "v2-sesv2", "endpoint": p.url,
                                              "calls": calls})
        return [{"ok": r["ok"], "code": r.get("code"), "status": r.get("httpStatusCode"),
                 "requestId": r.get("requestId"), "message": r.get("message"),
                 "data": r.get("data"), "sent": None} for r in out]
    problems = run_scenarios("js-v2", p, standin, call_all, JS_V2_ROWS)
    assert not problems, "\n".join(problems)


# ------------------------------------------------- nodemailer into a local SES

NODEMAILER_ROW = "nodemailer: Cc, Bcc, attachment"
NODEMAILER_DENIED = "nodemailer: policy, proxy's id"


def test_nodemailer_ses_transport_into_local_ses(node, start_proxy, local_ses):
    relay = Recorder(local_ses)
    try:
        p = start_proxy({"throttle": {"send_rate": 100},
                         "policy": {"identities": ["example.com"]}}, endpoint=relay.url)
        attachment = bytes(range(256)) * 40   # every byte value: binary, not text
        mail = {"from": "Sender <sender@example.com>", "to": "to@example.com",
                "cc": "cc@example.com", "bcc": "bcc@example.com",
                "subject": "nodemailer through ses-proxy v2 \u00e9", "text": "plain text body",
                "attachments": [{"filename": "data.bin", "contentType": "application/octet-stream",
                                 "content": base64.b64encode(attachment).decode()}]}
        out = run_node(node, "nodemailer_send.js", {"endpoint": p.url, "mail": mail})
        denied = run_node(node, "nodemailer_send.js", {"endpoint": p.url, "mail": dict(
            mail, **{"from": "Intruder <x@evil.com>"})})
    finally:
        relay.stop()
    problem = None if out["ok"] else "failed: %r" % (out,)
    try:
        assert out["ok"], out
        # What reached SES: one SES v2 SendEmail carrying nodemailer's message
        # untouched, every envelope recipient in the Destination (Bcc travels
        # only there), the sender as nodemailer named it.
        assert len(relay.bodies) == 1, relay.bodies
        call = json.loads(relay.bodies[0])
        raw = base64.b64decode(out["raw"])
        assert base64.b64decode(call["Content"]["Raw"]["Data"]) == raw
        assert sorted(call["Destination"]["ToAddresses"]) == [
            "bcc@example.com", "cc@example.com", "to@example.com"], call
        assert call["FromEmailAddress"] == "Sender <sender@example.com>", call
        assert b"\nBcc:" not in raw
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
    except AssertionError as e:
        problem = problem or str(e)[:300]
        raise
    finally:
        record(NODEMAILER_ROW, "nodemailer", problem)
    # A sender the policy refuses: the proxy's AccessDenied, its request id.
    problem = None
    if denied["ok"] or (denied["code"], denied["httpStatusCode"]) != ("AccessDenied", 403):
        problem = "got %r" % (denied,)
    else:
        problem = proxy_id_problem(p, denied["requestId"], 403)
    record(NODEMAILER_DENIED, "nodemailer", problem)
    assert problem is None, problem
    assert len(test_demo.store(local_ses)["emails"]) == 1

