"""botocore as the oracle for the SES v2 wire protocol (api/restjson*.c).

For every SES v2 operation and several seeds (tests/integ/sesv2gen.py builds
the calls and answers from botocore's model), through restjson_cli
($SP_BUILD_DIR/tests/restjson_cli):

  (a) restjson_serialize of the JSON parameters equals botocore 1.29's
      RestJSONSerializer.serialize_to_request, prepared as its AWSRequest
      does (prepare_request_dict): method, URL path, query string, every
      header the serializer sets, and the body byte for byte;
  (b) restjson_inbound_parse of botocore's request gives the parameters back
      as the wire carries them (sesv2gen.wire_params), and validate_params
      accepts them; serializing those again gives botocore's request again;
  (c) restjson_answer_parse of an answer SES could send (timestamps as
      integers, fractions and exponents) equals botocore's RestJSONParser,
      datetimes in the proxy's ISO 8601 form;
  (d) error answers in every form botocore reads give its Code, Message and
      RequestId.

The synthetic service of tests/unit/api/restjson_model/service-2.json runs
through the same checks for what SES v2 lacks (header members and maps,
jsonvalue, status codes, payloads, greedy labels, fixed query parts, query
maps, timestamp formats), and invalid requests are refused.

Run: SP_BUILD_DIR=build /usr/bin/python3 -m pytest -q tests/integ/test_restjson_oracle.py
"""

import base64
import copy
import json
import os
import subprocess
import sys
import urllib.parse

import pytest

botocore = pytest.importorskip("botocore")
from botocore.awsrequest import HeadersDict, prepare_request_dict  # noqa: E402
from botocore.model import ServiceModel  # noqa: E402
from botocore.parsers import RestJSONParser  # noqa: E402
from botocore.serialize import RestJSONSerializer  # noqa: E402
from botocore.validate import ParamValidator  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import botocore_models  # noqa: E402
import sesv2gen  # noqa: E402

SEEDS = range(10)
MODEL = botocore_models.service_model("sesv2")
OPS = sorted(MODEL.operation_names)
ENDPOINT = "https://email.us-east-1.amazonaws.com"

with open(os.path.join(os.path.dirname(HERE), "unit", "api", "restjson_model",
                       "service-2.json"), encoding="utf-8") as _f:
    TEST_MODEL = ServiceModel(json.load(_f), service_name="restjsontest")
# Operations of the synthetic model that botocore releases serialize
# differently; the proxy refuses them (checked below).
REFUSED_TEST_OPS = {"BoolHeaderOp", "ListHeaderOp", "BoolLabelOp", "BoolListQueryOp"}
TEST_OPS = sorted(set(TEST_MODEL.operation_names) - REFUSED_TEST_OPS)


class Cli:
    """One restjson_cli process; one JSON line per command."""

    def __init__(self):
        build = os.environ.get("SP_BUILD_DIR")
        if not build:
            pytest.skip("SP_BUILD_DIR is not set")
        path = os.path.join(build, "tests", "restjson_cli")
        if not os.access(path, os.X_OK):
            pytest.skip("restjson_cli not built in %s" % build)
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd).encode("utf-8") + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "restjson_cli died on %r" % (cmd,)
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def cli():
    c = Cli()
    yield c
    c.close()


def b64(data):
    return base64.b64encode(data).decode("ascii")


def model_name(model):
    return "sesv2" if model is MODEL else "test"


# ---- (a) serialization ------------------------------------------------------------

def botocore_request(model, op_name, params):
    """(method, path, query, {header: value}, body) botocore puts on the wire."""
    op = model.operation_model(op_name)
    req = RestJSONSerializer().serialize_to_request(params, op)
    prepare_request_dict(req, ENDPOINT)
    url = urllib.parse.urlsplit(req["url"])
    body = req["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    return req["method"], url.path, url.query, dict(req["headers"]), body


def ours(cli, model, op_name, params, validate=True):
    return cli.run(cmd="serialize", model=model_name(model), action=op_name, params=params,
                   validate=validate)


def same_request(got, want):
    method, path, query, headers, body = want
    got_body = base64.b64decode(got["body"]) if got["body"] is not None else b""
    return (got["method"] == method and got["path"] == path and got["query"] == query.rstrip("&")
            and dict(got["headers"]) == headers and got_body == body
            and (got["body"] is None) == (body == b""))


def check_serialize(cli, model, ops, seeds, validate):
    failures, counts = {}, {}
    for op_name in ops:
        for seed in seeds:
            bc, js = sesv2gen.params(model, op_name, seed)
            shape = model.operation_model(op_name).input_shape
            if shape is not None:
                assert not ParamValidator().validate(bc, shape).has_errors(), (op_name, seed)
            want = botocore_request(model, op_name, copy.deepcopy(bc))
            got = ours(cli, model, op_name, js, validate)
            counts[op_name] = counts.get(op_name, 0) + 1
            if not got["ok"] or not same_request(got, want):
                failures.setdefault(op_name, "seed %d:\n ours     %s\n botocore %r\n params %r"
                                    % (seed, got, want, js))
    return counts, failures


def test_operation_count():
    assert len(OPS) == 110


def test_serialize_matches_botocore(cli):
    counts, failures = check_serialize(cli, MODEL, OPS, SEEDS, True)
    print("\n(a) serialize: %d/%d operations as botocore, byte for byte; calls per operation: %s"
          % (len(OPS) - len(failures), len(OPS), ", ".join("%s %d" % kv for kv in
                                                            sorted(counts.items()))))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


def test_serialize_synthetic_matches_botocore(cli):
    # validate_params reads a jsonvalue header member as a string; botocore
    # takes any JSON value there: the synthetic calls skip the validator.
    counts, failures = check_serialize(cli, TEST_MODEL, TEST_OPS, range(40), False)
    print("\n(a) synthetic: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


def test_every_member_exercised():
    """The generator reaches every member of every input shape."""
    seen, total = set(), set()

    def walk(shape, prefix, value):
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                total.add(prefix + "." + name)
                if isinstance(value, dict) and name in value:
                    seen.add(prefix + "." + name)
                    walk(member, prefix + "." + name, value[name])
        elif shape.type_name == "list" and isinstance(value, list):
            for item in value:
                walk(shape.member, prefix, item)
        elif shape.type_name == "map" and isinstance(value, dict):
            for item in value.values():
                walk(shape.value, prefix, item)

    for op_name in OPS:
        shape = MODEL.operation_model(op_name).input_shape
        for seed in range(40):
            walk(shape, op_name, sesv2gen.params(MODEL, op_name, seed)[0])
    missing = sorted(total - seen)
    print("\n%d/%d input members exercised" % (len(seen), len(total)))
    assert not missing, missing[:20]


# ---- (b) requests read back -------------------------------------------------------

NOISE = [["Host", "email.us-east-1.amazonaws.com"], ["User-Agent", "Boto3/1.26"],
         ["X-Amz-Date", "20240101T000000Z"], ["Authorization", "AWS4-HMAC-SHA256 Credential=x"],
         ["Accept-Encoding", "identity"]]


def parse_request(cli, model, want, validate=True, extra_headers=()):
    method, path, query, headers, body = want
    target = path + ("?" + query if query else "")
    fields = [[k, v] for k, v in headers.items()] + NOISE + list(extra_headers)
    if body:
        fields.append(["Content-Length", str(len(body))])
    return cli.run(cmd="parse-request", model=model_name(model), method=method, target=target,
                   headers=fields, body=b64(body), validate=validate)


def check_parse_request(cli, model, ops, seeds, validate):
    failures, counts = {}, {}
    for op_name in ops:
        op = model.operation_model(op_name)
        for seed in seeds:
            bc, js = sesv2gen.params(model, op_name, seed)
            want = botocore_request(model, op_name, copy.deepcopy(bc))
            got = parse_request(cli, model, want, validate)
            expected = sesv2gen.wire_params(op, bc)
            counts[op_name] = counts.get(op_name, 0) + 1
            ok = got["ok"] and got["action"] == op_name and got["params"] == expected
            if ok:
                # and the parameters read serialize to botocore's request again
                again = ours(cli, model, op_name, got["params"], validate)
                ok = again["ok"] and same_request(again, want)
                got = again if not ok else got
            if not ok:
                failures.setdefault(op_name, "seed %d:\n ours %s\n want %r\n wire %r"
                                    % (seed, got, expected, want))
    return counts, failures


def test_parse_request_round_trips(cli):
    counts, failures = check_parse_request(cli, MODEL, OPS, SEEDS, True)
    print("\n(b) parse-request: %d/%d operations read back; calls per operation: %s"
          % (len(OPS) - len(failures), len(OPS), ", ".join("%s %d" % kv for kv in
                                                            sorted(counts.items()))))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


def test_parse_request_synthetic_round_trips(cli):
    counts, failures = check_parse_request(cli, TEST_MODEL, TEST_OPS, range(40), False)
    print("\n(b) synthetic: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


# ---- (c) answers ------------------------------------------------------------------

def botocore_answer(model, op_name, status, headers, body):
    op = model.operation_model(op_name)
    # urllib3 joins a repeated field with ", "; HeadersDict is case-insensitive
    joined = HeadersDict()
    for name, value in headers:
        joined[name] = joined[name] + ", " + value if name in joined else value
    response = {"status_code": status, "headers": joined, "body": body}
    return sesv2gen.to_proxy(RestJSONParser().parse(response, op.output_shape))


def parse_answer(cli, model, op_name, status, headers, body):
    return cli.run(cmd="parse-answer", model=model_name(model), action=op_name, status=status,
                   headers=headers, body=b64(body))


def check_answers(cli, model, ops, seeds):
    failures, counts = {}, {}
    for op_name in ops:
        for seed in seeds:
            body, headers = sesv2gen.answer(model, op_name, seed)
            status = model.operation_model(op_name).http.get("responseCode", 200)
            want = botocore_answer(model, op_name, status, headers, body)
            got = parse_answer(cli, model, op_name, status, headers, body)
            counts[op_name] = counts.get(op_name, 0) + 1
            if not got["ok"] or got["is_error"] or got["result"] != want:
                failures.setdefault(op_name, "seed %d:\n ours     %s\n botocore %s\n body %r"
                                    % (seed, got, want, body))
    return counts, failures


def test_answers_match_botocore(cli):
    counts, failures = check_answers(cli, MODEL, OPS, SEEDS)
    print("\n(c) parse-answer: %d/%d operations as botocore; answers per operation: %s"
          % (len(OPS) - len(failures), len(OPS), ", ".join("%s %d" % kv for kv in
                                                            sorted(counts.items()))))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


def test_answers_synthetic_match_botocore(cli):
    counts, failures = check_answers(cli, TEST_MODEL, TEST_OPS, range(40))
    print("\n(c) synthetic: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


# ---- (d) errors -------------------------------------------------------------------

def test_errors_match_botocore(cli):
    forms = 0
    for seed in range(300):
        status, headers, body = sesv2gen.error_answer(seed)
        op_name = OPS[seed % len(OPS)]
        want = botocore_answer(MODEL, op_name, status, headers, body)
        got = parse_answer(cli, MODEL, op_name, status, headers, body)
        assert got["ok"] and got["is_error"], (seed, got)
        assert got["result"] == want, (seed, got["result"], want, headers, body)
        forms += 1
    print("\n(d) errors: %d answers, Code/Message/RequestId as botocore" % forms)


def test_error_edge_cases(cli):
    cases = [
        (400, [["x-amzn-ErrorType", "A#B:c"]], b'{"message": "m"}'),
        (400, [], b'{"__type": "a#b#C", "message": 5}'),
        (400, [], b'{"__type": 5}'),
        (400, [["x-amzn-ErrorType", "E"]], b'{"__type": ["a"]}'),
        (400, [["x-amzn-ErrorType", "E"]], b'{"__type": ["#"]}'),
        (400, [], b'{"__type": {"x": 1}, "Code": "C"}'),
        (400, [], b'{"__type": {"#": 1}, "Code": "C"}'),
        (400, [], b'{"__type": true}'),
        (400, [], b'{"code": ["x"]}'),
        (400, [], b'["not", "an", "object"]'),
        (400, [], b'\xff\xfe'),
        (400, [["x-amzn-query-error", ";Sender"]], b'{"__type": "Q"}'),
        (400, [["x-amzn-query-error", "A;B;C"]], b'{"__type": "Q"}'),
        (400, [], b'{"__type": null, "message": "m"}'),
        (300, [], b"{}"),
        (301, [], b"{}"),
        (599, [], b" "),
        (500, [["x-amzn-RequestId", "r"]], b"<html>"),
        (500, [], b"<HTML>"),
        (400, [["x-amzn-RequestId", "a"], ["X-Amzn-RequestId", "b"]], b"{}"),
    ]
    for status, headers, body in cases:
        try:
            want = botocore_answer(MODEL, "GetAccount", status, headers, body)
        except Exception as e:  # botocore raises: the proxy must refuse
            want = e
        got = parse_answer(cli, MODEL, "GetAccount", status, headers, body)
        if isinstance(want, Exception):
            assert not got["ok"] and got["code"] == "BadGateway", (status, headers, body, got)
        elif not got["ok"]:
            # refused where botocore passes a value that is not a string
            err = want.get("Error", {})
            assert not all(isinstance(err.get(k), str) for k in ("Code", "Message")), (body, got)
            assert got["code"] == "BadGateway"
        else:
            assert got["result"] == want, (status, headers, body, got, want)


def test_answer_refusals(cli):
    for body in [b"not json", b"[1]", b"null", b"\"x\"", b"{\"a\": 1,}", b"{\"MaxSendRate\": }",
                 b"\xc3\x28", b" "]:
        got = parse_answer(cli, MODEL, "GetAccount", 200, [], body)
        assert not got["ok"] and got["code"] == "BadGateway", (body, got)
    bad_values = [
        ("GetAccount", b'{"SendQuota": []}'),
        ("GetAccount", b'{"SendQuota": {"Max24HourSend": 1}, "Details": "x"}'),
        ("ListEmailIdentities", b'{"EmailIdentities": {"a": 1}}'),
        ("GetDomainStatisticsReport", b'{"DailyVolumes": [{"StartDate": "soon"}]}'),
        ("GetDomainStatisticsReport", b'{"DailyVolumes": [{"StartDate": 1e300}]}'),
        ("GetDedicatedIp", b'{"DedicatedIp": {"WarmupPercentage": "many"}}'),
    ]
    for op_name, body in bad_values:
        with pytest.raises(Exception):
            botocore_answer(MODEL, op_name, 200, [], body)
        got = parse_answer(cli, MODEL, op_name, 200, [], body)
        assert not got["ok"] and got["code"] == "BadGateway", (op_name, body, got)
    # botocore reads these, the proxy cannot carry them exactly: refused too
    for op_name, body in [
        ("GetDedicatedIp", b'{"DedicatedIp": {"WarmupPercentage": 1e30}}'),
        ("GetDedicatedIp", b'{"DedicatedIp": {"WarmupPercentage": 99999999999999999999}}'),
        ("GetAccount", b'{"SendQuota": {"MaxSendRate": NaN}}'),
    ]:
        botocore_answer(MODEL, op_name, 200, [], body)
        got = parse_answer(cli, MODEL, op_name, 200, [], body)
        assert not got["ok"] and got["code"] == "BadGateway", (op_name, body, got)
    # what botocore reads leniently, the proxy reads the same way
    lenient = [
        ("GetDedicatedIp", b'{"DedicatedIp": {"Ip": 5, "WarmupPercentage": "12", '
                           b'"WarmupStatus": null}}'),
        ("GetDedicatedIp", b'{"DedicatedIp": {"WarmupPercentage": 12.9}}'),
        ("GetDedicatedIp", b'{"DedicatedIp": {"WarmupPercentage": true}}'),
        ("GetAccount", b'{"SendQuota": {"MaxSendRate": "fast"}, "ProductionAccessEnabled": 1}'),
        ("GetDomainStatisticsReport", b'{"DailyVolumes": [{"StartDate": "1700000000.5"}, '
                                      b'{"StartDate": "2024-01-02T03:04:05.5+01:00"}]}'),
        ("ListEmailIdentities", b'{"EmailIdentities": [null, {"IdentityName": null}]}'),
        ("GetDomainStatisticsReport", b'{"DailyVolumes": [null]}'),
        ("GetAccount", b'{"SendQuota": {"MaxSendRate": 1}, "SendQuota": {"MaxSendRate": 2}}'),
    ]
    for op_name, body in lenient:
        want = botocore_answer(MODEL, op_name, 200, [], body)
        got = parse_answer(cli, MODEL, op_name, 200, [], body)
        assert got["ok"] and got["result"] == want, (op_name, body, got, want)


# ---- what is refused --------------------------------------------------------------

def test_invalid_requests_refused(cli):
    def req(method, target, body=b"", headers=()):
        return cli.run(cmd="parse-request", method=method, target=target, body=b64(body),
                       headers=[list(h) for h in headers])

    cases = [
        # unknown query key; repeated scalar key; '+' raw; a bad escape; an empty item
        ("GET", "/v2/email/dedicated-ips?PageSize=5&Bogus=1", b"", "ValidationError"),
        ("GET", "/v2/email/dedicated-ips?PageSize=5&PageSize=6", b"", "ValidationError"),
        ("GET", "/v2/email/dedicated-ips?PoolName=a+b", b"", "MalformedRequest"),
        ("GET", "/v2/email/dedicated-ips?PoolName=a%2", b"", "MalformedRequest"),
        ("GET", "/v2/email/dedicated-ips?PageSize=5&&NextToken=x", b"", "MalformedRequest"),
        ("GET", "/v2/email/dedicated-ips?PageSize", b"", "MalformedRequest"),
        ("GET", "/v2/email/dedicated-ips?PageSize=05", b"", "ValidationError"),
        ("GET", "/v2/email/dedicated-ips?PageSize=x", b"", "ValidationError"),
        ("GET", "/v2/email/dedicated-ips?PoolName=%00", b"", "MalformedRequest"),
        ("GET", "/v2/email/dedicated-ips?PoolName=%ff", b"", "MalformedRequest"),
        ("GET", "/v2/email/dedicated-ips?PoolName=a=b", b"", "MalformedRequest"),
        # a member in the body that belongs to the URI or the query string
        ("POST", "/v2/email/identities/x/policies/p",
         b'{"Policy": "{}", "EmailIdentity": "y"}', "ValidationError"),
        ("GET", "/v2/email/dedicated-ips", b'{"PageSize": 5}', "ValidationError"),
        # unknown body member, duplicate keys, not JSON, not an object, trailing data
        ("POST", "/v2/email/identities", b'{"EmailIdentity": "a", "Bogus": 1}',
         "ValidationError"),
        ("POST", "/v2/email/identities", b'{"EmailIdentity": "a", "EmailIdentity": "b"}',
         "MalformedRequest"),
        ("POST", "/v2/email/identities", b'{"EmailIdentity": "a", "Tags": [{"Key": "k", '
         b'"Key": "j", "Value": "v"}]}', "MalformedRequest"),
        ("POST", "/v2/email/identities", b'{"EmailIdentity": ', "MalformedRequest"),
        ("POST", "/v2/email/identities", b'["EmailIdentity"]', "MalformedRequest"),
        ("POST", "/v2/email/identities", b'{"EmailIdentity": "a"} {}', "MalformedRequest"),
        ("POST", "/v2/email/identities", b'\xef\xbb\xbf{"EmailIdentity": "a"}',
         "MalformedRequest"),
        # wrong types, reported with their paths by the validator
        ("POST", "/v2/email/identities", b'{"EmailIdentity": 5}', "ValidationError"),
        ("POST", "/v2/email/identities", b'{"EmailIdentity": "a", "Tags": {"Key": "k"}}',
         "ValidationError"),
        # a body timestamp as text: SDKs send numbers
        ("POST", "/v2/email/metrics/batch", json.dumps({"Queries": [{
            "Id": "q", "Namespace": "VDM", "Metric": "SEND", "StartDate": "2024-01-01T00:00:00Z",
            "EndDate": 1704067200}]}).encode(), "ValidationError"),
        # labels that would move the path
        ("DELETE", "/v2/email/identities/..", b"", "ValidationError"),
        ("DELETE", "/v2/email/identities/%2E", b"", "ValidationError"),
        # no such route
        ("GET", "/v2/email/identities/a/b/c/d", b"", "InvalidAction"),
    ]
    for method, target, body, code in cases:
        got = req(method, target, body)
        assert not got["ok"] and got["code"] == code, (method, target, body, got)

    # a header member given twice (synthetic model)
    got = cli.run(cmd="parse-request", model="test", method="POST",
                  target="/things/n?x-id=HeaderOp&flag",
                  headers=[["X-Count", "1"], ["x-count", "2"]], body="", validate=False)
    assert not got["ok"] and got["code"] == "ValidationError", got
    # the template's fixed item twice
    got = cli.run(cmd="parse-request", model="test", method="POST",
                  target="/things/n?x-id=HeaderOp&flag&flag", headers=[], body="",
                  validate=False)
    assert not got["ok"] and got["code"] == "MalformedRequest", got


def test_invalid_params_refused(cli):
    cases = [
        ("GetEmailIdentity", {"EmailIdentity": ""}),
        ("GetEmailIdentity", {"EmailIdentity": ".."}),
        ("GetEmailIdentity", {"EmailIdentity": "a", "Bogus": 1}),
        ("GetEmailIdentity", {"EmailIdentity": 5}),
        ("CreateEmailIdentity", {"EmailIdentity": "a", "Tags": "x"}),
        ("ListSuppressedDestinations", {"Reasons": ["BOUNCE", 5]}),
        ("GetDedicatedIps", {"PageSize": "5"}),
    ]
    for op_name, params in cases:
        got = ours(cli, MODEL, op_name, params, validate=False)
        assert not got["ok"] and got["code"] == "ValidationError", (op_name, params, got)
    for op_name, params in [("BoolHeaderOp", {"Flag": True}), ("ListHeaderOp", {"Tags": ["a"]}),
                            ("BoolLabelOp", {"Flag": True}), ("BoolListQueryOp",
                                                              {"Flags": [True]})]:
        got = cli.run(cmd="serialize", model="test", action=op_name, params=params,
                      validate=False)
        assert not got["ok"] and got["code"] == "InternalError", (op_name, got)
    # header values that would not reach SES as given
    for note in ["caf\u00e9", " lead", "trail\t", "a\r\nX-Injected: 1", "nul\u0000"]:
        got = cli.run(cmd="serialize", model="test", action="HeaderOp",
                      params={"Name": "n", "Note": note}, validate=False)
        assert not got["ok"] and got["code"] == "ValidationError", (note, got)
    got = cli.run(cmd="serialize", model="test", action="HeaderOp",
                  params={"Name": "n", "Meta": {"bad key": "v"}}, validate=False)
    assert not got["ok"] and got["code"] == "ValidationError", got
    got = cli.run(cmd="serialize", model="test", action="MapQueryOp",
                  params={"Id": "i", "Mode": "a", "Extra": {"mode": "b"}}, validate=False)
    assert not got["ok"] and got["code"] == "ValidationError", got
    for key in ["", "a//b", "./a", "a/..", "/a"]:
        got = cli.run(cmd="serialize", model="test", action="QueryOp", params={"Key": key},
                      validate=False)
        assert not got["ok"] and got["code"] == "ValidationError", (key, got)
