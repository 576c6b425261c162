"""What the SES v2 tests through the proxy share (test_v2*.py).

    client = sesv2_client(proxy)              boto3 sesv2 at the proxy, throwaway
                                              credentials, one attempt per call
    with capture(client) as seen: ...         the raw HTTP answers boto3 got
    with tamper(client, op, fn): ...          boto3 sends fn(AWSRequest) instead of
                                              its own request (before signing)
    gen(op, seed)                             sesv2gen.params with a usable EndpointId
    error_of(resp)                            (status, code) of a JSON-mode error
    rest_json_error(resp)                     (status, code) of an SDK-shaped one
"""

import contextlib
import json

import botocore
import botocore.config

import botocore_models
import sesv2gen

MODEL = botocore_models.service_model("sesv2")
OPS = sorted(MODEL.operation_names)
SIGV4 = "AWS4-HMAC-SHA256"
SIGV4A = "AWS4-ECDSA-P256-SHA256"
# A host label, as botocore's endpoint rules require of an EndpointId.
ENDPOINT_ID = "abcd1234.efgh"
THROWAWAY_KEY = "AKIDV2THROWAWAY"


def gen(op_name, seed, **kw):
    """sesv2gen.params, an EndpointId replaced by ENDPOINT_ID."""
    bc, js = sesv2gen.params(MODEL, op_name, seed, **kw)
    if bc.get("EndpointId") is not None:
        bc["EndpointId"] = js["EndpointId"] = ENDPOINT_ID
    return bc, js


def sesv2_client(p, validate=True, attempts=1, session_token="throwaway-token"):
    """boto3's sesv2 client pointed at proxy p with throwaway credentials."""
    return botocore_models.boto3_session().client(
        "sesv2", region_name="us-east-1", endpoint_url=p.url,
        aws_access_key_id=THROWAWAY_KEY, aws_secret_access_key="v2-throwaway-secret",
        aws_session_token=session_token,
        config=botocore.config.Config(retries={"total_max_attempts": attempts},
                                      parameter_validation=validate))


class Seen:
    """The last HTTP answer boto3 received (botocore's AWSResponse)."""

    def __init__(self):
        self.responses = []

    def __call__(self, http_response=None, **kw):
        self.responses.append(http_response)

    @property
    def last(self):
        return self.responses[-1]


@contextlib.contextmanager
def capture(client):
    seen = Seen()
    client.meta.events.register("after-call.sesv2", seen)
    try:
        yield seen
    finally:
        client.meta.events.unregister("after-call.sesv2", seen)


@contextlib.contextmanager
def tamper(client, op_name, fn):
    """Within the block, boto3's request for op_name goes through fn(request)
    (an AWSRequest: .method, .url, .data, .headers) before it is signed."""
    def handler(request=None, **kw):
        fn(request)
    event = "before-sign.sesv2.%s" % op_name
    client.meta.events.register(event, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event, handler)


def client_error(client, call):
    """call() must raise botocore's ClientError: (status, code, request id,
    message) as boto3 parsed them."""
    try:
        call()
    except client.exceptions.ClientError as e:
        meta = e.response["ResponseMetadata"]
        return (meta.get("HTTPStatusCode"), e.response["Error"]["Code"], meta.get("RequestId"),
                e.response["Error"].get("Message"))
    raise AssertionError("the call succeeded")


def error_of(r):
    """(status, code) of one of the proxy's JSON-mode errors; asserts its shape."""
    assert isinstance(r.json, dict) and set(r.json) == {"Error", "ResponseMetadata"}, r
    assert r.header("Content-Type", "").startswith("application/json"), r.headers
    assert r.header("x-amzn-ErrorType") is None, r.headers
    meta = r.json["ResponseMetadata"]
    assert meta["RequestId"] == r.header("X-Request-Id") == r.header("x-amzn-RequestId"), r
    assert meta["HTTPStatusCode"] == r.status, r
    assert isinstance(r.json["Error"]["Message"], str) and r.json["Error"]["Message"], r
    return r.status, r.json["Error"]["Code"]


def rest_json_error(r):
    """(status, code) of one of the proxy's errors in SES v2's shape (what
    an SDK reads): x-amzn-ErrorType, {"message"}, application/json."""
    assert r.header("Content-Type", "").startswith("application/json"), r.headers
    body = json.loads(r.raw)
    assert set(body) == {"message"} and body["message"], body
    assert r.header("x-amzn-RequestId") == r.header("X-Request-Id"), r.headers
    return r.status, r.header("x-amzn-ErrorType")


def xform(op_name):
    return botocore.xform_name(op_name)
