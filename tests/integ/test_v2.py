"""SES v2 (sesv2, REST-JSON) through the proxy, held to botocore.

Every one of the 110 operations, with random valid parameters from
sesv2gen (non-ASCII, reserved characters, shuffled member order, timestamps
in every form, MIME messages for raw content), goes through the proxy to
the stand-in SES (standin_ses.py, standin_v2.py) in both modes:

  JSON mode    POST /v2/{Operation} and POST /v2/ with "Action", each with
               the SES name and boto3's snake name: the request SES gets is
               byte for byte botocore's RestJSONSerializer's for the same
               parameters (method, path, query, body, Content-Type), its
               signature verifies (SigV4a for SendEmail and SendBulkEmail with
               an EndpointId, else SigV4), and the JSON answer is botocore's
               parse of SES's answer (v2_expected_json) with ResponseMetadata
               {RequestId, HTTPStatusCode, RetryAttempts};
  pass-through boto3's sesv2 client at the proxy with throwaway credentials:
               the same request at SES (re-signed with the proxy's own
               credentials, the throwaway session token gone), and the answer
               boto3 receives is SES's status, bytes, Content-Type and request
               id as the stand-in sent them, parsed by boto3 as botocore parses
               the stand-in's answer.

Then what must be refused with nothing sent, in each mode and in the
caller's shape (JSON; REST-JSON with x-amzn-ErrorType, parsed by boto3 as
the right code): unknown members, wrong types, a member twice or in two
places, bad percent-encoding, a path no operation has, an EndpointId that
is not a host label. SES's error answers in every form botocore reads,
through both modes. And the multi-region endpoints (SigV4a with region set
"*", EndpointId kept in the body, a session token signed too).

botocore needed no special treatment beyond what standin_v2 does for it: an
EndpointId must be a host label for its endpoint rules (gen() sets one), its
URL handling re-encodes a '%' that starts no escape (so malformed escapes
are sent raw, signed_raw), and boto3 cannot be made to send an unknown
member or a key twice (tamper() edits its request before signing).
"""

import http.client
import json

import proxyproc
import sesv2gen
import standin_ses
import standin_v2
from v2_helpers import (ENDPOINT_ID, MODEL, OPS, SIGV4, SIGV4A, THROWAWAY_KEY, capture,
                        client_error, error_of, gen, rest_json_error, sesv2_client, tamper,
                        xform)

JSON_SEEDS = (0, 1)
SDK_SEEDS = (2, 3)


def test_operation_count():
    assert len(OPS) == 110


def _want_algorithm(op_name, params):
    return SIGV4A if op_name in ("SendEmail", "SendBulkEmail") and \
        params.get("EndpointId") is not None else SIGV4


def _request_problems(standin, op_name, bc):
    """What is wrong with the one request SES got for a call of op_name
    with botocore parameters bc (expect_v2 was set)."""
    recs = standin.snapshot()
    if len(recs) != 1:
        return ["%d requests at SES" % len(recs)], None
    rec = standin.wait_for(1)[0]
    problems = []
    if rec.operation != op_name:
        problems.append("routed to %s" % rec.operation)
    if rec.auth is None or not rec.auth.ok:
        problems.append("signature refused: %r" % rec.auth)
    elif rec.auth.access_key == THROWAWAY_KEY:
        problems.append("the client's throwaway key reached SES")
    if rec.header("X-Amz-Security-Token") is not None:
        problems.append("a session token reached SES")
    if rec.algorithm != _want_algorithm(op_name, bc):
        problems.append("signed with %s" % rec.algorithm)
    if rec.algorithm == SIGV4A and rec.auth is not None and rec.auth.region_set != "*":
        problems.append("region set %r" % rec.auth.region_set)
    if standin.mismatches:
        problems.append("not botocore's request: %s" % standin.mismatches)
    if rec.v2.error is not None or rec.v2.notes or not rec.v2.same_as_botocore:
        problems.append("read as %r" % rec.v2)
    return problems, rec


def _json_forms(i, seed):
    """(path, Action or None) for op i's seed: every operation is called with
    the name in the path and with "Action", the SES name and boto3's
    alternating between operations."""
    snake = (i + seed) % 2 == 1
    return ("path" if seed == JSON_SEEDS[0] else "action"), snake


def test_every_operation_json_mode(proxy, standin):
    failures = {}
    forms = {}
    for i, op_name in enumerate(OPS):
        for seed in JSON_SEEDS:
            standin.clear()
            bc, js = gen(op_name, seed)
            standin.expect_v2(op_name, bc)
            where, snake = _json_forms(i, seed)
            name = xform(op_name) if snake else op_name
            forms[(where, snake)] = forms.get((where, snake), 0) + 1
            if where == "path":
                r = proxy.call(js, path="/v2/" + name)
            else:
                r = proxy.call(dict(js, Action=name), path="/v2/")
            problems, rec = _request_problems(standin, op_name, bc)
            if rec is not None:
                want = standin_ses.v2_expected_json(rec)
                want["ResponseMetadata"].update(HTTPStatusCode=rec.answer.status,
                                                RetryAttempts=0)
                if r.status != rec.answer.status or r.json != want:
                    problems.append("answered %s %r, botocore parsed %r" % (r.status, r.raw[:300],
                                                                          want))
                if r.header("x-amzn-RequestId") != rec.request_id:
                    problems.append("x-amzn-RequestId %r" % r.header("x-amzn-RequestId"))
            else:
                problems.append("answered %r" % r)
            if problems:
                failures.setdefault(op_name, "%s seed %d: %s" % (where, seed,
                                                                 "; ".join(problems)))
    print("\nv2 JSON mode: %d/%d operations (%s)" % (
        len(OPS) - len(failures), len(OPS),
        ", ".join("%s %s name: %d" % (w, "boto3" if s else "SES", n)
                  for (w, s), n in sorted(forms.items()))))
    assert not failures, "\n".join("%s: %s" % kv for kv in sorted(failures.items()))


def test_every_operation_passthrough(proxy, standin):
    client = sesv2_client(proxy)
    failures = {}
    algorithms = {}
    for op_name in OPS:
        for seed in SDK_SEEDS:
            standin.clear()
            bc, _ = gen(op_name, seed)
            standin.expect_v2(op_name, bc)
            with capture(client) as seen:
                got = getattr(client, xform(op_name))(**bc)
            problems, rec = _request_problems(standin, op_name, bc)
            if rec is None:
                failures.setdefault(op_name, "seed %d: %s" % (seed, problems))
                continue
            algorithms[rec.algorithm] = algorithms.get(rec.algorithm, 0) + 1
            http = seen.last
            a = rec.answer
            if (http.status_code, http.content) != (a.status, a.body):
                problems.append("boto3 got %s %r, SES sent %s %r" % (
                    http.status_code, http.content[:200], a.status, a.body[:200]))
            for name, value in a.sent_headers():
                if http.headers.get(name) != value:
                    problems.append("header %s %r, SES sent %r" % (name, http.headers.get(name),
                                                                   value))
            want = sesv2gen.to_proxy(standin_ses.v2_parse(rec))
            mine = sesv2gen.to_proxy(got)
            if mine["ResponseMetadata"].pop("RetryAttempts") != 0 or mine != want:
                problems.append("boto3 parsed %r, botocore parses SES's answer as %r"
                                % (mine, want))
            if problems:
                failures.setdefault(op_name, "seed %d: %s" % (seed, "; ".join(problems)))
    print("\nv2 pass-through: %d/%d operations (boto3 sesv2; signatures at SES: %s)" % (
        len(OPS) - len(failures), len(OPS), algorithms))
    assert not failures, "\n".join("%s: %s" % kv for kv in sorted(failures.items()))
    assert algorithms.get(SIGV4A, 0) >= 1


# ---- refused, nothing sent ---------------------------------------------------------

SIMPLE = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
SEND = {"FromEmailAddress": "sender@example.com",
        "Destination": {"ToAddresses": ["to@example.com"]}, "Content": SIMPLE}

# (what, path, body: a dict sent as JSON or bytes as they are, status, code)
JSON_REFUSALS = [
    ("unknown member", "/v2/CreateEmailIdentity",
     {"EmailIdentity": "example.com", "Colour": "blue"}, 400, "ValidationError"),
    ("unknown nested member", "/v2/CreateEmailIdentity",
     {"EmailIdentity": "example.com", "Tags": [{"Key": "k", "Value": "v", "Colour": 1}]}, 400,
     "ValidationError"),
    ("string for an integer", "/v2/ListEmailIdentities", {"PageSize": "5"}, 400,
     "ValidationError"),
    ("number for a string", "/v2/CreateEmailIdentity", {"EmailIdentity": 5}, 400,
     "ValidationError"),
    ("string for a boolean", "/v2/PutAccountSendingAttributes", {"SendingEnabled": "true"}, 400,
     "ValidationError"),
    ("object for a list", "/v2/SendEmail", dict(SEND, Destination={"ToAddresses": {"a": "b"}}),
     400, "ValidationError"),
    ("blob that is not base64", "/v2/SendEmail", dict(SEND, Content={"Raw": {"Data": "no!"}}), 400,
     "ValidationError"),
    ("timestamp that is none", "/v2/GetDomainStatisticsReport",
     {"Domain": "example.com", "StartDate": "yesterday", "EndDate": 1700000000}, 400,
     "ValidationError"),
    ("enum value it does not have", "/v2/PutSuppressedDestination",
     {"EmailAddress": "a@example.com", "Reason": "BORED"}, 400, "ValidationError"),
    ("required member missing", "/v2/CreateEmailIdentity", {}, 400, "ValidationError"),
    ("member twice", "/v2/CreateEmailIdentity",
     b'{"EmailIdentity": "example.com", "EmailIdentity": "evil.com"}', 400, "MalformedRequest"),
    ("nested member twice", "/v2/SendEmail",
     json.dumps(SEND)[:-1].encode() + b', "Destination": {"ToAddresses": ["x@evil.com"]}}', 400,
     "MalformedRequest"),
    ("path and Action differ", "/v2/GetAccount", {"Action": "DeleteEmailIdentity",
                                                  "EmailIdentity": "example.com"}, 400,
     "InvalidAction"),
    ("no such operation", "/v2/NoSuchOperation", {}, 400, "InvalidAction"),
    ("a v1 operation", "/v2/SendRawEmail", {}, 400, "InvalidAction"),
    ("percent-encoded name", "/v2/Get%41ccount", {}, 400, "InvalidAction"),
    ("bad percent-encoding", "/v2/Get%ZZAccount", {}, 400, "InvalidAction"),
    ("no Action", "/v2/", {"EmailIdentity": "example.com"}, 400, "InvalidAction"),
    ("path with two segments", "/v2/GetAccount/x", {}, 404, "NotFound"),
    ("a label that is '..'", "/v2/GetEmailIdentity", {"EmailIdentity": ".."}, 400,
     "ValidationError"),
    ("EndpointId with '_'", "/v2/SendEmail", dict(SEND, EndpointId="abc_1.def"), 400,
     "ValidationError"),
    ("EndpointId with an empty label", "/v2/SendEmail", dict(SEND, EndpointId="abc..def"), 400,
     "ValidationError"),
    ("EndpointId ending in '-'", "/v2/SendBulkEmail", {
        "FromEmailAddress": "a@example.com", "EndpointId": "abc-",
        "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": "{}"}},
        "BulkEmailEntries": [{"Destination": {"ToAddresses": ["b@example.com"]}}]}, 400,
     "ValidationError"),
    ("EndpointId that is a URL", "/v2/SendEmail", dict(SEND, EndpointId="evil.com/x?"), 400,
     "ValidationError"),
]


def test_json_mode_refusals(proxy, standin):
    got = {}
    for what, path, body, status, code in JSON_REFUSALS:
        headers = {"Content-Type": "application/json"} if isinstance(body, bytes) else None
        r = proxy.call(body, path=path, headers=headers)
        got[what] = error_of(r)
        assert got[what] == (status, code), (what, r)
        assert standin.count == 0, (what, standin.snapshot())
    print("\nv2 JSON mode: %d invalid calls refused, nothing sent" % len(got))


def _add_to_body(extra):
    def fn(request):
        doc = json.loads(request.data or b"{}")
        doc.update(extra)
        request.data = json.dumps(doc).encode()
    return fn


def _set_body(data):
    def fn(request):
        request.data = data
    return fn


def _add_query(item):
    def fn(request):
        request.url += ("&" if "?" in request.url else "?") + item
    return fn


def _replace_in_url(old, new):
    def fn(request):
        assert old in request.url, request.url
        request.url = request.url.replace(old, new)
    return fn


def _replace_in_body(old, new):
    def fn(request):
        data = request.data.encode() if isinstance(request.data, str) else request.data
        assert old in data, data
        request.data = data.replace(old, new)
    return fn


# (what, operation, boto3 parameters, how its request is changed, status, code)
SDK_REFUSALS = [
    ("unknown body member", "CreateEmailIdentity", {"EmailIdentity": "example.com"},
     _add_to_body({"Colour": "blue"}), 400, "ValidationError"),
    ("unknown query key", "ListEmailIdentities", {"PageSize": 5}, _add_query("Colour=blue"), 400,
     "ValidationError"),
    ("number for a string in the body", "CreateEmailIdentity", {"EmailIdentity": "example.com"},
     _set_body(b'{"EmailIdentity": 5}'), 400, "ValidationError"),
    ("text for an integer in the query", "ListEmailIdentities", {"PageSize": 5},
     _replace_in_url("PageSize=5", "PageSize=five"), 400, "ValidationError"),
    ("body key twice", "CreateEmailIdentity", {"EmailIdentity": "example.com"},
     _set_body(b'{"EmailIdentity": "example.com", "EmailIdentity": "evil.com"}'), 400,
     "MalformedRequest"),
    ("query key repeated", "ListEmailIdentities", {"PageSize": 5}, _add_query("PageSize=6"), 400,
     "ValidationError"),
    ("body key that is the path's label", "PutEmailIdentityDkimAttributes",
     {"EmailIdentity": "example.com", "SigningEnabled": True},
     _add_to_body({"EmailIdentity": "evil.com"}), 400, "ValidationError"),
    ("query key that is the path's label", "GetEmailIdentity", {"EmailIdentity": "example.com"},
     _add_query("EmailIdentity=evil.com"), 400, "ValidationError"),
    ("body key that is the path's label, nested call", "CreateContact",
     {"ContactListName": "app-list", "EmailAddress": "a@example.com"},
     _add_to_body({"ContactListName": "other"}), 400, "ValidationError"),
    ("a label that is not UTF-8", "GetEmailIdentity", {"EmailIdentity": "example.com"},
     _replace_in_url("example.com", "example%FF.com"), 400, "MalformedRequest"),
    ("a path no operation has", "GetAccount", {},
     _replace_in_url("/v2/email/account", "/v2/email/accounts"), 400,
     "UnknownOperationException"),
    ("a method the path does not take", "GetAccount", {},
     lambda req: setattr(req, "method", "DELETE"), 400, "UnknownOperationException"),
    ("EndpointId that is not a host label", "SendEmail", dict(SEND, EndpointId=ENDPOINT_ID),
     _replace_in_body(ENDPOINT_ID.encode(), b"abc_1.def"), 400, "ValidationError"),
    ("required body member missing", "CreateEmailIdentity", {"EmailIdentity": "example.com"},
     _set_body(b"{}"), 400, "ValidationError"),
]


def test_passthrough_refusals(proxy, standin):
    client = sesv2_client(proxy)
    for what, op_name, params, change, status, code in SDK_REFUSALS:
        with tamper(client, op_name, change), capture(client) as seen:
            err = client_error(client, lambda: getattr(client, xform(op_name))(**params))
        http = seen.last
        assert err[:2] == (status, code), (what, err, http.content)
        # SES v2's error shape, with the proxy's own request id
        assert http.headers["x-amzn-ErrorType"] == code, (what, http.headers)
        assert http.headers["Content-Type"].startswith("application/json"), what
        assert list(json.loads(http.content)) == ["message"], (what, http.content)
        assert err[2] == http.headers["X-Request-Id"], (what, err, http.headers)
        if code in ("MalformedRequest", "ValidationError"):
            assert hasattr(client.exceptions, "BadRequestException")  # SES's own would be that
        assert standin.count == 0, (what, standin.snapshot())
    print("\nv2 pass-through: %d invalid requests refused, nothing sent" % len(SDK_REFUSALS))


def signed_raw(p, method, target, body=b""):
    """One request as an SDK signs it (throwaway credentials), sent as it
    is: what boto3's URL handling would not let through (it re-encodes a
    '%' that starts no escape). -> (proxyproc.Response, botocore's parse)."""
    headers, body = standin_ses.sign_v2_request(
        standin_ses.Credentials(THROWAWAY_KEY, "x"), "us-east-1", method, p.url + target, body,
        {"Content-Type": "application/json"} if body else None)
    c = http.client.HTTPConnection(p.host, p.port, timeout=10)
    try:
        c.request(method, target, body=body, headers=headers)
        resp = c.getresponse()
        r = proxyproc.Response(resp.status, resp.reason, resp.getheaders(), resp.read())
    finally:
        c.close()
    return r, standin_v2.botocore_parse(MODEL, None, r.status, r.headers, r.raw)


RAW_REFUSALS = [
    ("bad percent-encoding in a label", "GET", "/v2/email/identities/exa%ZZmple.com", 400,
     "MalformedRequest"),
    ("a cut escape in a label", "GET", "/v2/email/identities/example.com%4", 400,
     "MalformedRequest"),
    ("bad percent-encoding in the query", "GET", "/v2/email/identities?NextToken=a%G1c", 400,
     "MalformedRequest"),
    ("a NUL in the query", "GET", "/v2/email/identities?NextToken=a%00c", 400,
     "MalformedRequest"),
    ("a raw '+' in the query", "GET", "/v2/email/identities?NextToken=a+c", 400,
     "MalformedRequest"),
    ("a path no operation has", "GET", "/v2/email/nothing-here?x=1", 400,
     "UnknownOperationException"),
    ("a method the path does not take", "POST", "/v2/email/account", 400,
     "UnknownOperationException"),
    ("a newer SDK's path", "POST", "/v2/email/identities/list", 400,
     "UnknownOperationException"),
]


def test_passthrough_refusals_raw(proxy, standin):
    for what, method, target, status, code in RAW_REFUSALS:
        r, parsed = signed_raw(proxy, method, target, b"{}" if method == "POST" else b"")
        assert rest_json_error(r) == (status, code), (what, r)
        # as boto3 reads it
        assert parsed["Error"]["Code"] == code, (what, parsed)
        assert parsed["ResponseMetadata"]["RequestId"] == r.header("X-Request-Id")
        if code == "UnknownOperationException":
            message = json.loads(r.raw)["message"]
            assert "%s %s " % (method, target.split("?")[0]) in message, message
            assert "2019-09-27" in message and "botocore 1.43" in message, message
        assert standin.count == 0, (what, standin.snapshot())


# ---- multi-region endpoints ----------------------------------------------------------

BULK = {"FromEmailAddress": "bulk@example.com",
        "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": '{"a": 1}'}},
        "BulkEmailEntries": [{"Destination": {"ToAddresses": ["one@example.com"]}},
                             {"Destination": {"ToAddresses": ["two@example.com"]}}]}


def _check_sent(standin, op_name, params, algorithm):
    rec = standin.last
    assert rec.operation == op_name and rec.auth.ok, rec.auth
    assert rec.algorithm == algorithm, rec.headers
    assert standin.mismatches == [], standin.mismatches
    assert rec.v2.same_as_botocore and not rec.v2.notes, rec.v2
    if algorithm == SIGV4A:
        assert rec.header("X-Amz-Region-Set") == "*" and rec.auth.region_set == "*"
        assert rec.auth.scope.endswith("/ses/aws4_request"), rec.auth.scope
        # kept in the body, as botocore keeps it
        assert json.loads(rec.body)["EndpointId"] == params["EndpointId"]
        assert all(m.endpoint_id == params["EndpointId"] for m in rec.messages)
    else:
        assert rec.header("X-Amz-Region-Set") is None
        assert rec.auth.scope.endswith("/us-east-1/ses/aws4_request"), rec.auth.scope
        assert "EndpointId" not in json.loads(rec.body)
    return rec


def test_multi_region_sends_are_sigv4a(proxy, standin):
    client = sesv2_client(proxy)
    seen = []
    for op_name, base in (("SendEmail", SEND), ("SendBulkEmail", BULK)):
        for params in (dict(base, EndpointId=ENDPOINT_ID), dict(base)):
            algorithm = SIGV4A if "EndpointId" in params else SIGV4
            # JSON mode
            standin.clear()
            standin.expect_v2(op_name, params)
            r = proxy.call(params, path="/v2/" + op_name)
            assert r.status == 200, r
            rec = _check_sent(standin, op_name, params, algorithm)
            assert r.json == dict(standin_ses.v2_expected_json(rec), ResponseMetadata={
                "RequestId": rec.request_id, "HTTPStatusCode": 200, "RetryAttempts": 0})
            # boto3, which signs its own request to the proxy with SigV4a too
            standin.clear()
            standin.expect_v2(op_name, params)
            got = getattr(client, xform(op_name))(**params)
            rec = _check_sent(standin, op_name, params, algorithm)
            ids = [m.message_id for m in rec.messages]
            assert ids == ([got["MessageId"]] if op_name == "SendEmail" else
                           [e["MessageId"] for e in got["BulkEmailEntryResults"]])
            seen.append((op_name, "EndpointId" in params, algorithm))
    print("\nv2 multi-region: %s" % seen)


# ---- SES's errors, every form botocore reads ---------------------------------------

ERROR_SEEDS = range(40)


def test_error_answers_both_modes(start_proxy, standin):
    """SES v2's errors in every form botocore reads (sesv2gen.error_answer:
    x-amzn-ErrorType with or without the Coral suffix, __type with a
    namespace, code, x-amzn-query-error, bare 5xx, bodies that are not JSON):
    in JSON mode the proxy's answer is botocore's parse (plus SES's request
    id where botocore's generic 5xx parse keeps none, README "Request ids");
    through boto3 the answer is SES's, status and bytes, and boto3 parses it
    as botocore parses what SES sent (not retried: one attempt each)."""
    p = start_proxy({"retry": {"max_attempts": 1}})
    client = sesv2_client(p)
    forms = set()
    for seed in ERROR_SEEDS:
        status, fields, body = sesv2gen.error_answer(seed)
        fields = dict(fields)
        forms.add(tuple(sorted(k.lower() for k in fields)))
        # JSON mode
        standin.clear()
        standin.push(standin_ses.Scripted.v2(status, body, headers=fields))
        r = p.call({}, path="/v2/GetAccount")
        rec = standin.last
        want = standin_ses.v2_expected_json(rec)
        want["ResponseMetadata"].setdefault("RequestId", rec.request_id)
        want["ResponseMetadata"].update(HTTPStatusCode=status, RetryAttempts=0)
        assert (r.status, r.json) == (status, want), (seed, fields, body, r)
        assert r.header("x-amzn-RequestId") == rec.request_id
        assert standin.count == 1
        # boto3
        standin.clear()
        standin.push(standin_ses.Scripted.v2(status, body, headers=fields))
        with capture(client) as seen:
            got = client_error(client, client.get_account)
        rec = standin.last
        assert (seen.last.status_code, seen.last.content) == (status, body), seed
        want = standin_ses.v2_parse(rec)
        assert got[:2] == (status, want["Error"]["Code"]), (seed, fields, body, got, want)
        assert got[2] == want["ResponseMetadata"].get("RequestId"), (seed, got, want)
        assert got[3] == want["Error"]["Message"], (seed, got, want)
        assert standin.count == 1
    print("\nv2 error answers: %d, header sets %s" % (len(ERROR_SEEDS), sorted(forms)))


def test_multi_region_with_a_session_token(start_proxy, standin, creds_token):
    """Temporary credentials: the session token is sent and signed under
    SigV4a as under SigV4 (the stand-in checks both)."""
    standin.credentials = creds_token
    p = start_proxy()
    for params, algorithm in ((dict(SEND, EndpointId=ENDPOINT_ID), SIGV4A), (SEND, SIGV4)):
        r = p.call(params, path="/v2/SendEmail")
        assert r.status == 200, r
        rec = standin.last
        assert rec.algorithm == algorithm and rec.auth.ok, rec.auth
        assert rec.header("X-Amz-Security-Token") == creds_token.token
        assert "x-amz-security-token" in rec.auth.signed_headers
