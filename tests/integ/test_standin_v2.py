"""The stand-in SES's SES v2 side (standin_ses.py, standin_v2.py), on its own.

No proxy: boto3's sesv2 client (botocore 1.29 over the newest models, from
botocore_models) talks straight to the stand-in with the stand-in's
credentials, and hand-signed requests probe what boto3 would never send.

* every one of the 110 operations, twice, with sesv2gen's parameters: routed
  to its operation, signature verified (SigV4, or SigV4a where the endpoint
  rules pick it: SendEmail and SendBulkEmail with an EndpointId), read back
  into boto3's parameters, recorded as equal to botocore's own serialization,
  and the random answer parsed by boto3 as v2_parse says;
* what differs from botocore's serialization is recorded (and a request that
  equals it is not); what SES v2 cannot read is refused in SES v2's shape;
* wrong credentials, a skewed clock and tampered SigV4a requests refused,
  the region set checked;
* scripted errors reach boto3 as the right exception codes and statuses;
* SendEmail (Simple, Raw, Template) and SendBulkEmail land in the store;
* the JSON-mode oracle (v2_expected_json) writes datetimes and blobs in the
  proxy's form.

Run: /usr/bin/python3 -m pytest -q tests/integ/test_standin_v2.py
"""

import datetime
import email.message
import email.policy
import http.client
import json
import os

import pytest

botocore = pytest.importorskip("botocore")
pytest.importorskip("boto3")
import botocore.config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from botocore.model import ServiceModel  # noqa: E402

import botocore_models  # noqa: E402
import sesv2gen  # noqa: E402
import standin_ses  # noqa: E402
import standin_v2  # noqa: E402
from standin_ses import Scripted  # noqa: E402

MODEL = botocore_models.service_model("sesv2")
OPS = sorted(MODEL.operation_names)
SEEDS = (0, 1)
SIGV4 = "AWS4-HMAC-SHA256"
SIGV4A = "AWS4-ECDSA-P256-SHA256"
ENDPOINT_ID = "abcd1234.efgh"
HERE = os.path.dirname(os.path.abspath(__file__))


def client(standin, access_key=None, secret=None, token=None, region=None):
    creds = standin.credentials
    return botocore_models.boto3_session().client(
        "sesv2", region_name=region or standin.region, endpoint_url=standin.url,
        aws_access_key_id=access_key or creds.access_key,
        aws_secret_access_key=secret or creds.secret_key,
        aws_session_token=token or creds.token,
        config=botocore.config.Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def sesv2(standin):
    return client(standin)


class Answer:
    def __init__(self, resp, rec):
        self.status = resp.status
        self.headers = resp.getheaders()
        self.body = resp.read()
        self.rec = rec

    def header(self, name):
        return standin_ses.header_value(self.headers, name)

    @property
    def error_type(self):
        return self.header("x-amzn-ErrorType")


def call(standin, method, target, body=b"", headers=None, sign="sigv4", creds=None,
         region_set="*", tamper=None, signed_target=None):
    """Send one request, signed as botocore signs (sign: "sigv4", "sigv4a"
    or None), over signed_target when given (botocore signs the query as
    it is: a canonical one there stands for a signer that canonicalises);
    tamper(headers, body) -> (headers, body) after signing."""
    headers = dict(headers or {})
    if sign:
        headers, body = standin_ses.sign_v2_request(
            creds or standin.credentials, standin.region, method,
            standin.url + (signed_target or target), body, headers,
            sigv4a=sign == "sigv4a", region_set=region_set)
    if tamper:
        headers, body = tamper(headers, body)
    before = standin.count
    conn = http.client.HTTPConnection(standin.host, standin.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        recs = standin.wait_for(before + 1)
        return Answer(resp, recs[before])
    finally:
        conn.close()


def last(standin):
    """The last request's record, once its answer is written."""
    return standin.wait_for(standin.count)[-1]


def botocore_call(op_name, params):
    """(method, target, body, headers) of botocore's request for params."""
    want = standin_v2.botocore_request(MODEL, op_name, params)
    target = want["path"] + ("?" + want["query"] if want["query"] else "")
    return want["method"], target, want["body"], want["headers"]


def same_result(got, rec):
    """boto3's result equals v2_parse of what the stand-in sent."""
    want = sesv2gen.to_proxy(standin_ses.v2_parse(rec))
    got = sesv2gen.to_proxy(got)
    got["ResponseMetadata"].pop("RetryAttempts", None)
    return got == want


# ---- every operation ---------------------------------------------------------------

def test_operation_count():
    assert len(OPS) == 110
    assert sorted(r.op_name for r in standin_v2.router().routes) == OPS


def test_every_operation_through_boto3(standin, sesv2):
    failures, algorithms, calls = {}, {}, 0
    for op_name in OPS:
        op = MODEL.operation_model(op_name)
        for seed in SEEDS:
            bc, _ = sesv2gen.params(MODEL, op_name, seed)
            if bc.get("EndpointId") is not None:
                bc["EndpointId"] = ENDPOINT_ID  # a host label, as the endpoint rules need
            got = getattr(sesv2, botocore.xform_name(op_name))(**bc)
            calls += 1
            rec = last(standin)
            algorithms[rec.algorithm] = algorithms.get(rec.algorithm, 0) + 1
            problems = []
            if rec.operation != op_name:
                problems.append("routed to %s" % rec.operation)
            if not rec.auth.ok:
                problems.append("refused: %r" % rec.auth)
            if rec.v2.error is not None or rec.v2.notes:
                problems.append("read with %s, notes %s" % (rec.v2.error, rec.v2.notes))
            elif not rec.v2.same_as_botocore:
                problems.append("not botocore's: %s" % rec.v2.differences)
            elif sesv2gen.wire_params(op, rec.params) != sesv2gen.wire_params(op, bc):
                problems.append("read back %r, sent %r" % (rec.params, bc))
            if rec.algorithm != (SIGV4A if rec.v2.sigv4a_expected else SIGV4):
                problems.append("signed with %s" % rec.algorithm)
            if rec.status != op.http.get("responseCode", 200) or not same_result(got, rec):
                problems.append("answer %s parsed as %r" % (rec.status, got))
            if rec.answer.content_type != "application/json" or \
                    got["ResponseMetadata"]["RequestId"] != rec.request_id:
                problems.append("answer head %r" % rec.answer.sent_headers())
            if problems:
                failures.setdefault(op_name, "seed %d: %s" % (seed, "; ".join(problems)))
    print("\nboto3 sesv2 -> stand-in: %d calls, %d/%d operations routed, verified, read back "
          "as botocore's serialization and answered; signatures %s"
          % (calls, len(OPS) - len(failures), len(OPS), algorithms))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])
    assert algorithms.get(SIGV4A, 0) >= 1 and algorithms.get(SIGV4, 0) >= 200


def test_synthetic_model_reads_back():
    """The request reader is the model's, not SES v2's alone: over the
    synthetic REST-JSON model's header members and maps, greedy labels,
    payloads, fixed query items and body timestamp formats, botocore's
    request reads back into parameters botocore serializes the same."""
    with open(os.path.join(os.path.dirname(HERE), "unit", "api", "restjson_model",
                           "service-2.json"), encoding="utf-8") as f:
        model = ServiceModel(json.load(f), service_name="restjsontest")
    # botocore releases differ on these; the proxy refuses them
    ops = sorted(set(model.operation_names) - {"BoolHeaderOp", "ListHeaderOp", "BoolLabelOp",
                                               "BoolListQueryOp"})
    router = standin_v2.Router(model)
    n = 0
    for op_name in ops:
        for seed in range(40):
            bc, _ = sesv2gen.params(model, op_name, seed)
            want = standin_v2.botocore_request(model, op_name, bc)
            headers = list(want["headers"].items())
            name, labels = router.match(want["method"], want["path"], want["query"])
            assert name == op_name, (op_name, want)
            params, notes = standin_v2.parse_request(model, op_name, labels, want["query"],
                                                     headers, want["body"])
            again = standin_v2.botocore_request(model, op_name, params)
            assert not notes, (op_name, seed, notes)
            assert again["headers"] == want["headers"], (op_name, seed, again, want)
            assert not standin_v2.compare_request(again, want["method"], want["path"],
                                                  want["query"], headers, want["body"]), \
                (op_name, seed, again, want)
            n += 1
    print("\nsynthetic model: %d requests read back" % n)


# ---- routing -----------------------------------------------------------------------

@pytest.mark.parametrize("method,path,op_name,labels", [
    ("GET", "/v2/email/contact-lists/l/contacts/list", "GetContact",
     {"ContactListName": "l", "EmailAddress": "list"}),
    ("POST", "/v2/email/contact-lists/l/contacts/list", "ListContacts", {"ContactListName": "l"}),
    ("GET", "/v2/email/identities/a%2Fb%40c%20d", "GetEmailIdentity",
     {"EmailIdentity": "a/b@c d"}),
    ("GET", "/v2/email/insights/m-1/", "GetMessageInsights", {"MessageId": "m-1"}),
    ("POST", "/v2/email/email-address-insights/", "GetEmailAddressInsights", {}),
    ("DELETE", "/v2/email/tags", "UntagResource", {}),
    ("GET", "/v2/email/reputation/entities/RESOURCE/a%3Ab", "GetReputationEntity",
     {"ReputationEntityType": "RESOURCE", "ReputationEntityReference": "a:b"}),
])
def test_routes(method, path, op_name, labels):
    assert standin_v2.router().match(method, path) == (op_name, labels)


@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/email/insights/m-1"),          # the template's trailing '/' is needed
    ("GET", "/v2/email/identities/"),           # an empty label
    ("POST", "/v2/email/account"),              # GET only
    ("GET", "/v2/email/identities/a/b"),
    ("GET", "/v2/email"),
])
def test_no_route(method, path):
    with pytest.raises(standin_v2.V2Error) as e:
        standin_v2.router().match(method, path)
    assert (e.value.code, e.value.status) == ("UnknownOperationException", 404)


def test_unknown_operation_answered_as_ses_v2(standin):
    a = call(standin, "GET", "/v2/email/nothing-here")
    assert a.status == 404 and a.error_type == "UnknownOperationException"
    assert a.header("Content-Type") == "application/json"
    assert "message" in json.loads(a.body)
    assert a.rec.api == "v2" and a.rec.operation is None and a.rec.auth.ok


# ---- what botocore would have sent -------------------------------------------------

def test_botocores_own_request_is_recorded_as_such(standin):
    params = {"EmailIdentity": "example.com", "Tags": [{"Key": "k", "Value": "v é"}]}
    method, target, body, headers = botocore_call("CreateEmailIdentity", params)
    a = call(standin, method, target, body, headers)
    assert a.status == 200, a.body
    assert a.rec.v2.same_as_botocore and a.rec.v2.differences == []
    assert a.rec.params == params


@pytest.mark.parametrize("case", [
    "compact JSON", "no Content-Type", "a body on a GET", "a list split in the query",
    "a raw '@' in a label", "'+' for a space in the query", "a fractional body timestamp",
    "an unknown body member", "a null member", "a lowercase escape in the query",
])
def test_differences_from_botocore_are_recorded(standin, case):
    ct = {"Content-Type": "application/json"}
    method, target, body, headers = {
        "compact JSON": ("POST", "/v2/email/identities", b'{"EmailIdentity":"example.com"}',
                         ct),
        "no Content-Type": ("POST", "/v2/email/identities", b'{"EmailIdentity": "a.com"}', {}),
        "a body on a GET": ("GET", "/v2/email/identities/a.com", b"{}", ct),
        "a list split in the query": (
            "GET", "/v2/email/suppression/addresses?Reasons=BOUNCE&PageSize=5&Reasons=COMPLAINT",
            b"", {}),
        "a raw '@' in a label": ("GET", "/v2/email/identities/a@b.com", b"", {}),
        "'+' for a space in the query": ("GET", "/v2/email/identities?NextToken=a+b", b"", {}),
        "a lowercase escape in the query": ("GET", "/v2/email/identities?NextToken=a%2fb", b"",
                                            {}),
        "a fractional body timestamp": ("POST", "/v2/email/metrics/batch", json.dumps({
            "Queries": [{"Id": "q", "Namespace": "VDM", "Metric": "SEND",
                         "StartDate": 1700000000.5, "EndDate": 1700000100}]}).encode(), ct),
        "an unknown body member": ("POST", "/v2/email/identities",
                                   b'{"EmailIdentity": "a.com", "Colour": "blue"}', ct),
        "a null member": ("POST", "/v2/email/identities",
                          b'{"EmailIdentity": "a.com", "Tags": null}', ct),
    }[case]
    # the signer canonicalises the query, as SES does
    signed = target.replace("a+b", "a%2Bb").replace("%2f", "%2F")
    a = call(standin, method, target, body, headers, signed_target=signed)
    # SES reads all of these; the record says botocore would not send them
    assert a.status == 200, (a.status, a.body)
    assert a.rec.v2.same_as_botocore is False and a.rec.v2.differences, a.rec.v2
    if case in ("an unknown body member", "a null member"):
        assert a.rec.v2.notes


def test_query_signed_canonically(standin):
    """SES canonicalises the query it receives (decoded, encoded again):
    a signature over the query as sent, when that is not canonical, fails."""
    a = call(standin, "GET", "/v2/email/identities?NextToken=a%2fb")
    assert a.status == 403 and a.error_type == "SignatureDoesNotMatch"
    a = call(standin, "GET", "/v2/email/identities?NextToken=a%2fb",
             signed_target="/v2/email/identities?NextToken=a%2Fb")
    assert a.status == 200 and a.rec.params == {"NextToken": "a/b"}


def test_expect_v2(standin):
    params = {"EmailIdentity": "example.com"}
    method, target, body, headers = botocore_call("CreateEmailIdentity", params)
    standin.expect_v2("CreateEmailIdentity", {"EmailIdentity": "other.com"})
    call(standin, method, target, body, headers)
    assert len(standin.mismatches) == 1 and "body" in standin.mismatches[0]
    standin.clear()
    standin.expect_v2("CreateEmailIdentity", params)
    a = call(standin, method, target, body, headers)
    assert standin.mismatches == [] and a.rec.body_mismatch is None
    standin.expect_v2("DeleteEmailIdentity", params)
    call(standin, method, target, body, headers)
    assert "routed to CreateEmailIdentity" in standin.mismatches[0]


@pytest.mark.parametrize("method,target,body,code", [
    ("POST", "/v2/email/identities", b'{"EmailIdentity": ', "SerializationException"),
    ("POST", "/v2/email/identities", b'{"EmailIdentity": 5}', "SerializationException"),
    ("POST", "/v2/email/identities", b'{"EmailIdentity": "a", "EmailIdentity": "b"}',
     "SerializationException"),
    ("POST", "/v2/email/identities", b'\xff{}', "SerializationException"),
    ("POST", "/v2/email/identities", b'{}', "BadRequestException"),
    ("GET", "/v2/email/identities?PageSize=x", b"", "BadRequestException"),
    ("GET", "/v2/email/identities/%FF", b"", "BadRequestException"),
])
def test_unreadable_requests_refused_as_ses_v2(standin, method, target, body, code):
    a = call(standin, method, target, body, {"Content-Type": "application/json"})
    assert a.status == 400 and a.error_type == code, (a.status, a.headers, a.body)
    assert a.header("Content-Type") == "application/json"
    assert isinstance(json.loads(a.body)["message"], str)
    assert a.rec.v2.error.code == code
    assert standin_ses.v2_parse(a.rec)["Error"]["Code"] == code


# ---- signatures --------------------------------------------------------------------

@pytest.mark.parametrize("case,code", [
    ("wrong secret", "SignatureDoesNotMatch"),
    ("wrong region", "SignatureDoesNotMatch"),
    ("unknown access key", "InvalidClientTokenId"),
    ("unexpected session token", "InvalidClientTokenId"),
])
def test_wrong_credentials_refused(standin, case, code):
    kw = {"wrong secret": {"secret": "not-the-secret"},
          "wrong region": {"region": "eu-west-1"},
          "unknown access key": {"access_key": "AKIDUNKNOWN"},
          "unexpected session token": {"token": "some-token"}}[case]
    c = client(standin, **kw)
    with pytest.raises(ClientError) as e:
        c.get_account()
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, 403)
    assert last(standin).auth.code == code and last(standin).scripted is False


def test_unsigned_request_refused(standin):
    a = call(standin, "GET", "/v2/email/account", sign=None)
    assert a.status == 403 and a.error_type == "MissingAuthenticationToken"


def test_session_token_verified(standin, creds_token):
    standin.credentials = creds_token
    assert client(standin).get_account()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert last(standin).header("X-Amz-Security-Token") == creds_token.token


def test_clock_skew_refused(standin, sesv2):
    standin.clock = lambda: datetime.datetime.utcnow() + datetime.timedelta(minutes=10)
    with pytest.raises(ClientError) as e:
        sesv2.get_account()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "expired" in e.value.response["Error"]["Message"]
    pytest.importorskip("awscrt")
    method, target, body, headers = botocore_call("SendEmail", send_params(EndpointId="x.y"))
    a = call(standin, method, target, body, headers, sign="sigv4a")
    assert a.status == 403 and a.error_type == "SignatureDoesNotMatch"
    assert "expired" in json.loads(a.body)["message"]


def send_params(**kw):
    params = {"FromEmailAddress": "sender@example.com",
              "Destination": {"ToAddresses": ["to@example.com"]},
              "Content": {"Simple": {"Subject": {"Data": "Hello"},
                                     "Body": {"Text": {"Data": "Hello there"}}}}}
    params.update(kw)
    return params


def test_sigv4a_accepted(standin):
    pytest.importorskip("awscrt")
    method, target, body, headers = botocore_call("SendEmail",
                                                  send_params(EndpointId=ENDPOINT_ID))
    a = call(standin, method, target, body, headers, sign="sigv4a")
    assert a.status == 200, a.body
    rec = a.rec
    assert rec.algorithm == SIGV4A and rec.auth.ok and rec.auth.algorithm == SIGV4A
    assert rec.auth.region_set == "*" and rec.auth.scope.endswith("/ses/aws4_request")
    assert rec.v2.sigv4a_expected and rec.v2.same_as_botocore
    assert [m.message_id for m in rec.messages] == [json.loads(a.body)["MessageId"]]


@pytest.mark.parametrize("case", ["body", "signed header", "region set", "signature",
                                  "wrong secret"])
def test_sigv4a_tampered_refused(standin, case):
    pytest.importorskip("awscrt")
    method, target, body, headers = botocore_call("SendEmail",
                                                  send_params(EndpointId=ENDPOINT_ID))

    def tamper(h, b):
        h = dict(h)
        if case == "body":
            b = b.replace(b"Hello there", b"Hello thEre")
        elif case == "signed header":
            h["Content-Type"] = "application/json; charset=utf-8"
        elif case == "region set":
            h["X-Amz-Region-Set"] = "us-east-1"
        elif case == "signature":
            auth = h["Authorization"]
            h["Authorization"] = auth[:-4] + ("0000" if not auth.endswith("0000") else "1111")
        return h, b

    creds = standin.credentials
    if case == "wrong secret":
        creds = standin_ses.Credentials(creds.access_key, "not-the-secret")
    a = call(standin, method, target, body, headers, sign="sigv4a", creds=creds,
             tamper=None if case == "wrong secret" else tamper)
    assert a.status == 403 and a.error_type == "SignatureDoesNotMatch", (a.status, a.body)
    assert a.rec.algorithm == SIGV4A and not a.rec.auth.ok and a.rec.auth.detail
    assert standin.sent_messages() == []


def test_sigv4a_region_set(standin):
    pytest.importorskip("awscrt")
    method, target, body, headers = botocore_call("SendEmail",
                                                  send_params(EndpointId=ENDPOINT_ID))
    # botocore's "*" is required by default ...
    a = call(standin, method, target, body, headers, sign="sigv4a", region_set="us-*")
    assert a.status == 403 and "region set" in a.rec.auth.detail
    # ... any set covering the region passes when it is not
    standin.v2_region_set = None
    a = call(standin, method, target, body, headers, sign="sigv4a", region_set="us-*")
    assert a.status == 200 and a.rec.auth.region_set == "us-*"
    a = call(standin, method, target, body, headers, sign="sigv4a", region_set="eu-*")
    assert a.status == 403 and "does not cover" in a.rec.auth.detail


def test_boto3_multi_region_send_is_sigv4a(standin, sesv2):
    pytest.importorskip("awscrt")
    got = sesv2.send_email(**send_params(EndpointId=ENDPOINT_ID))
    rec = last(standin)
    assert rec.algorithm == SIGV4A and rec.auth.ok and rec.auth.region_set == "*"
    # the endpoint rules keep the custom endpoint: the Host is the stand-in's
    assert rec.header("Host") == "%s:%d" % (standin.host, standin.port)
    assert standin.message(got["MessageId"]).endpoint_id == ENDPOINT_ID
    sesv2.send_email(**send_params())
    assert last(standin).algorithm == SIGV4 and not last(standin).v2.sigv4a_expected


# ---- scripted answers --------------------------------------------------------------

ERRORS = {
    "throttling": (lambda: Scripted.v2_throttling(), "TooManyRequestsException", 429,
                   "Maximum sending rate exceeded."),
    "daily quota": (lambda: Scripted.v2_daily_quota(), "TooManyRequestsException", 429,
                    "Daily message quota exceeded."),
    "daily quota as a limit": (lambda: Scripted.v2_daily_quota(code="LimitExceededException"),
                               "LimitExceededException", 400, "Daily message quota exceeded."),
    "limit": (lambda: Scripted.v2_error("LimitExceededException"), "LimitExceededException",
              400, "There are too many instances of the specified resource type."),
    "rejected": (lambda: Scripted.v2_error("MessageRejected", "Email address is not verified."),
                 "MessageRejected", 400, "Email address is not verified."),
    "not found": (lambda: Scripted.v2_error("NotFoundException"), "NotFoundException", 404,
                  "The resource you attempted to access doesn't exist."),
    "paused": (lambda: Scripted.v2_sending_paused(), "SendingPausedException", 400,
               "The message can't be sent because the account's ability to send email is "
               "currently paused."),
    "suffixed type": (lambda: Scripted.v2_error("AccountSuspendedException", "suspended",
                                                suffix=standin_v2.CORAL_SUFFIX),
                      "AccountSuspendedException", 400, "suspended"),
    "bare 500": (lambda: Scripted.v2_server_error(), "500", 500, "Internal Server Error"),
    "bare 503": (lambda: Scripted.v2_server_error(503), "503", 503, "Service Unavailable"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_scripted_errors_reach_boto3(standin, sesv2, case):
    make, code, status, message = ERRORS[case]
    answer = make()
    standin.push(answer)
    with pytest.raises(ClientError) as e:
        sesv2.send_email(**send_params())
    err = e.value.response
    assert err["Error"]["Code"] == code and err["Error"]["Message"] == message, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    if status < 500 or answer.body:
        assert err["ResponseMetadata"]["RequestId"] == answer.request_id
    else:
        # botocore's generic 5xx parse keeps no request id
        assert "RequestId" not in err["ResponseMetadata"]
    if hasattr(sesv2.exceptions, code):
        assert isinstance(e.value, getattr(sesv2.exceptions, code))
    rec = last(standin)
    assert rec.scripted and rec.auth.ok and rec.status == status
    # the oracle reads the same error as boto3
    want = standin_ses.v2_parse(rec)
    assert want["Error"] == err["Error"]
    assert standin.sent_messages() == []


def test_scripted_success_and_responder(standin, sesv2):
    standin.push(Scripted.v2_success({"MessageId": "scripted-1"}))
    assert sesv2.send_email(**send_params())["MessageId"] == "scripted-1"
    assert standin.message("scripted-1").operation == "SendEmail"
    standin.responder = lambda rec: (Scripted.v2_error("NotFoundException", "no such identity")
                                     if rec.operation == "GetEmailIdentity" else None)
    with pytest.raises(sesv2.exceptions.NotFoundException):
        sesv2.get_email_identity(EmailIdentity="example.com")
    assert sesv2.get_account()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert not last(standin).scripted


def test_default_answers(standin, sesv2, creds):
    bodies = set()
    for _ in range(3):
        got = sesv2.get_account()
        rec = last(standin)
        assert rec.answer.content_type == "application/json"
        assert got["ResponseMetadata"]["RequestId"] == rec.request_id
        assert got["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == rec.request_id
        bodies.add(rec.answer.body)
    assert len(bodies) == 3
    # the same seed answers the same
    with standin_ses.StandinSES(creds) as other:
        client(other).get_account()
        first = last(other).answer.body
    with standin_ses.StandinSES(creds) as again:
        client(again).get_account()
        assert last(again).answer.body == first
        again.v2_seed = 7
        client(again).get_account()
        assert last(again).answer.body != first


def test_expected_json_writes_the_proxys_form(standin, sesv2):
    body = (b'{"OverallVolume": {"VolumeStatistics": {"InboxRawCount": 7}},'
            b' "DailyVolumes": [{"StartDate": 1700000000}, {"StartDate": 1.7000000005e9},'
            b' {"StartDate": 1700000000123e-3}, {"StartDate": 1700000000.000001}]}')
    standin.push(Scripted.v2(200, body, request_id="rid-1"))
    got = sesv2.get_domain_statistics_report(
        Domain="example.com", StartDate=datetime.datetime(2023, 11, 1),
        EndDate=datetime.datetime(2023, 11, 20))
    want = standin_ses.v2_expected_json(last(standin))
    assert [v["StartDate"] for v in want["DailyVolumes"]] == [
        "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.500000Z", "2023-11-14T22:13:20.123000Z",
        "2023-11-14T22:13:20.000001Z"]
    assert want["ResponseMetadata"] == {"RequestId": "rid-1"}
    assert want["OverallVolume"] == {"VolumeStatistics": {"InboxRawCount": 7}}
    # boto3's datetimes are the same instants
    assert [sesv2gen.iso(v["StartDate"]) for v in got["DailyVolumes"]] == \
        [v["StartDate"] for v in want["DailyVolumes"]]
    # blobs come out as base64 text (the synthetic model has a blob answer)
    with open(os.path.join(os.path.dirname(HERE), "unit", "api", "restjson_model",
                           "service-2.json"), encoding="utf-8") as f:
        model = ServiceModel(json.load(f), service_name="restjsontest")
    parsed = standin_v2.expected_json(model, "BodyOp", 200, [("x-amzn-RequestId", "r")],
                                      b'{"Data": "aGk=", "When": 0}')
    assert parsed["Data"] == "aGk=" and parsed["When"] == "1970-01-01T00:00:00Z", parsed


# ---- sending -----------------------------------------------------------------------

def test_send_email_simple_is_stored(standin, sesv2):
    got = sesv2.send_email(
        FromEmailAddress="Sender <sender@example.com>",
        Destination={"ToAddresses": ["to@example.com"], "CcAddresses": ["cc@example.com"],
                     "BccAddresses": ["bcc@example.com"]},
        ReplyToAddresses=["reply@example.com"],
        Content={"Simple": {"Subject": {"Data": "Héllo"},
                            "Body": {"Text": {"Data": "plain text"},
                                     "Html": {"Data": "<p>html</p>"}},
                            "Attachments": [{"RawContent": b"\x00\x01", "FileName": "a.bin"}]}},
        EmailTags=[{"Name": "t", "Value": "v"}], ConfigurationSetName="cs")
    m = standin.message(got["MessageId"])
    assert (m.operation, m.kind, m.entry) == ("SendEmail", "Simple", None)
    assert m.from_address == "Sender <sender@example.com>"
    assert m.destination["CcAddresses"] == ["cc@example.com"]
    assert m.recipients == ["to@example.com", "cc@example.com", "bcc@example.com"]
    assert (m.subject, m.text, m.html) == ("Héllo", "plain text", "<p>html</p>")
    assert m.tags == [{"Name": "t", "Value": "v"}] and m.configuration_set == "cs"
    assert m.record is last(standin) and last(standin).messages == [m]
    mime = m.mime
    assert mime["Subject"] == "Héllo" and mime["To"] == "to@example.com"
    assert mime["Reply-To"] == "reply@example.com" and mime["Bcc"] is None
    assert got["MessageId"] in mime["Message-ID"]
    assert mime.get_body(("plain",)).get_content().strip() == "plain text"
    assert mime.get_body(("html",)).get_content().strip() == "<p>html</p>"
    att = next(mime.iter_attachments())
    assert att.get_filename() == "a.bin" and att.get_content() == b"\x00\x01"


def test_send_email_raw_is_stored(standin, sesv2):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "raw@example.com"
    msg["To"] = "a@example.com, b@example.com"
    msg["Subject"] = "raw"
    msg.set_content("raw body")
    raw = msg.as_bytes()
    got = sesv2.send_email(Content={"Raw": {"Data": raw}})
    m = standin.message(got["MessageId"])
    assert m.kind == "Raw" and m.raw == raw and m.destination is None
    assert m.from_address == "raw@example.com"
    assert m.recipients == ["a@example.com", "b@example.com"]
    assert m.mime["Subject"] == "raw"


def test_send_email_template_is_stored(standin, sesv2):
    sesv2.create_email_template(TemplateName="welcome", TemplateContent={
        "Subject": "Hi {{name}}", "Text": "Dear {{ name }}, {{who.what}}", "Html": "<b>{{name}}"})
    data = json.dumps({"name": "Ann", "who": {"what": "x"}})
    got = sesv2.send_email(FromEmailAddress="s@example.com",
                           Destination={"ToAddresses": ["t@example.com"]},
                           Content={"Template": {"TemplateName": "welcome", "TemplateData": data}})
    m = standin.message(got["MessageId"])
    assert (m.kind, m.template) == ("Template", "welcome")
    assert (m.subject, m.text, m.html) == ("Hi Ann", "Dear Ann, x", "<b>Ann")
    assert m.mime["Subject"] == "Hi Ann"
    # inline content needs no stored template
    got = sesv2.send_email(FromEmailAddress="s@example.com",
                           Destination={"ToAddresses": ["t@example.com"]},
                           Content={"Template": {"TemplateContent": {"Subject": "S {{a}}"},
                                                 "TemplateData": '{"a": 1}'}})
    assert standin.message(got["MessageId"]).subject == "S 1"
    # an unknown template is recorded, not rendered
    got = sesv2.send_email(FromEmailAddress="s@example.com",
                           Destination={"ToAddresses": ["t@example.com"]},
                           Content={"Template": {"TemplateName": "unknown", "TemplateData": "{}"}})
    assert standin.message(got["MessageId"]).subject is None


def test_send_bulk_email_is_stored(standin, sesv2):
    standin.templates["bulk"] = {"Subject": "For {{name}}", "Text": "t {{name}}"}
    got = sesv2.send_bulk_email(
        FromEmailAddress="bulk@example.com",
        DefaultContent={"Template": {"TemplateName": "bulk", "TemplateData": '{"name": "all"}'}},
        BulkEmailEntries=[
            {"Destination": {"ToAddresses": ["one@example.com"]}},
            {"Destination": {"ToAddresses": ["two@example.com"]},
             "ReplacementEmailContent": {"ReplacementTemplate": {
                 "ReplacementTemplateData": '{"name": "Two"}'}}}])
    results = got["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == ["SUCCESS", "SUCCESS"]
    sent = standin.sent_messages()
    assert [m.message_id for m in sent] == [r["MessageId"] for r in results]
    assert [(m.entry, m.recipients, m.subject) for m in sent] == [
        (0, ["one@example.com"], "For all"), (1, ["two@example.com"], "For Two")]
    assert all(m.from_address == "bulk@example.com" and m.operation == "SendBulkEmail"
               for m in sent)


# ---- SES v1 is still SES v1 --------------------------------------------------------

def test_v1_still_answered(standin):
    headers, body = standin_ses.sign_request(standin.credentials, standin.region,
                                             standin.url + "/",
                                             "Action=ListIdentities&Version=2010-12-01")
    conn = http.client.HTTPConnection(standin.host, standin.port, timeout=10)
    conn.request("POST", "/", body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 200 and b"<ListIdentitiesResponse" in data
    assert resp.getheader("Content-Type") == "text/xml"
    rec = last(standin)
    assert rec.api == "v1" and rec.v2 is None and rec.action == "ListIdentities"
    assert rec.auth.ok and rec.algorithm == SIGV4
