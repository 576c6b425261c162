"""SDK-shaped errors, request ids and the retry budget, on the wire.

A request that looks like an AWS SDK's call (a SigV4 Authorization header,
or a form body with Action) gets SES-shaped XML errors whatever its path and
whatever went wrong: the server's own refusals (404, 405, 408, 411, 413,
431, a malformed head) as much as policy and throttle refusals and upstream
failures. Under /v2/email/ it gets SES v2's REST-JSON errors. Every error
document is parsed here with botocore's own parsers (QueryParser,
RestJSONParser), and its request id must be the X-Request-Id, the
x-amzn-RequestId header and the access log's request_id at once. JSON-mode
callers keep their JSON errors, with the same ids.

Then the retry budget: an SDK's call is sent to SES once (SES's answer goes
back as it is) unless retry.sdk_max_attempts says otherwise; JSON mode keeps
retry.max_attempts; the keep-alive race still gets its one resend; a call
whose client has gone is not retried; and how long a call against a stalled
SES takes in each mode.
"""

import http.client
import json
import socket
import threading
import time

import botocore.parsers
import pytest

import faulty_upstream
from standin_ses import Scripted

SIGNED = ("AWS4-HMAC-SHA256 Credential=AKIDTHROWAWAY/20240101/us-east-1/ses/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64)
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"


class Answer:
    def __init__(self, resp, body):
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<Answer %s %r %r>" % (self.status, self.headers, self.body[:300])


def raw(p, data, pause=None, timeout=10):
    """Sends data (bytes) on a new connection, then reads one answer; with
    pause, nothing more is sent for that long first (a stalled client)."""
    s = socket.create_connection((p.host, p.port), timeout=timeout)
    try:
        s.sendall(data)
        if pause:
            time.sleep(pause)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        return Answer(resp, resp.read())
    finally:
        s.close()


def request(method, path, body=b"", headers=None, content_length=None):
    h = {"Host": "127.0.0.1"}
    h.update(headers or {})
    if content_length is None:
        content_length = len(body)
    if content_length or method == "POST":
        h["Content-Length"] = str(content_length)
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join(
        "%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    return head.encode() + body


def log_lines(p, request_id, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        for line in p.stdout.splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("msg") == "request" and o.get("request_id") == request_id:
                lines.append(o)
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def same_ids(p, a, rid, status):
    """rid (from the body) is the X-Request-Id, the x-amzn-RequestId and
    the access log's request_id, logged with status."""
    assert rid and rid == a.header("X-Request-Id") == a.header("x-amzn-RequestId"), a
    lines = log_lines(p, rid)
    assert len(lines) == 1 and lines[0]["status"] == status, lines


def botocore_error(protocol, a):
    parser = botocore.parsers.create_parser(protocol)
    return parser.parse({"status_code": a.status, "headers": a.headers, "body": a.body}, None)


def sdk_xml_error(p, a, status, code):
    assert a.status == status, a
    assert a.header("Content-Type").startswith("text/xml"), a
    parsed = botocore_error("query", a)
    assert parsed["Error"]["Code"] == code, parsed
    assert parsed["Error"]["Message"], parsed
    same_ids(p, a, parsed["ResponseMetadata"]["RequestId"], status)
    return parsed


def rest_json_error(p, a, status, code):
    assert a.status == status, a
    assert a.header("Content-Type").startswith("application/json"), a
    assert a.header("x-amzn-ErrorType") == code, a
    body = json.loads(a.body)
    assert list(body) == ["message"] and body["message"], body
    parsed = botocore_error("rest-json", a)
    assert parsed["Error"]["Code"] == code and parsed["Error"]["Message"] == body["message"]
    same_ids(p, a, parsed["ResponseMetadata"]["RequestId"], status)
    return parsed


def json_error(p, a, status, code):
    assert a.status == status, a
    assert a.header("Content-Type").startswith("application/json"), a
    doc = json.loads(a.body)
    assert doc["Error"]["Code"] == code, doc
    same_ids(p, a, doc["ResponseMetadata"]["RequestId"], status)


CONFIG = {"limits": {"max_body_bytes": 4096, "max_header_bytes": 4096,
                     "header_timeout_ms": 600},
          "policy": {"deny_actions": ["DeleteIdentity"]},
          "throttle": {"max_wait_ms": 0,
                       "operations": {"ListTemplates": {"rate": 0.001, "burst": 1}}},
          "sdk_path_prefix": "/ses"}

SDK_CASES = {
    "GET /": (request("GET", "/", headers={"Authorization": SIGNED}), None, 404, "NotFound"),
    "DELETE /": (request("DELETE", "/", headers={"Authorization": SIGNED}), None, 405,
                 "MethodNotAllowed"),
    "POST /elsewhere": (request("POST", "/elsewhere", b"Action=ListIdentities&Version=2010-12-01",
                                {"Authorization": SIGNED, "Content-Type": FORM_CT}), None, 404,
                        "NotFound"),
    "GET under the prefix": (request("GET", "/ses", headers={"Authorization": SIGNED}), None, 404,
                             "NotFound"),
    "413 before the body": (request("POST", "/", headers={"Authorization": SIGNED,
                                                          "Content-Type": FORM_CT},
                                    content_length=100000), None, 413, "RequestEntityTooLarge"),
    "431 head too large": (b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + SIGNED.encode() +
                           b"\r\nX-Pad: " + b"a" * 8000, None, 431,
                           "RequestHeaderFieldsTooLarge"),
    "408 head not finished": (b"POST / HTTP/1.1\r\nAuthorization: " + SIGNED.encode() + b"\r\n",
                              1.5, 408, "RequestTimeout"),
    "408 body not finished": (request("POST", "/", b"Action=List",
                                      {"Authorization": SIGNED, "Content-Type": FORM_CT},
                                      content_length=100), 1.5, 408, "RequestTimeout"),
    "411 chunked": (b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + SIGNED.encode() +
                    b"\r\nTransfer-Encoding: chunked\r\n\r\n", None, 411, "LengthRequired"),
    "400 malformed head": (b"POST / HTTP/1.1\r\nAuthorization: " + SIGNED.encode() +
                           b"\r\nthis line has no colon\r\n\r\n", None, 400, "MalformedRequest"),
    # an unsigned form with Action is an SDK's too (botocore with UNSIGNED)
    "policy, unsigned form": (request("POST", "/", b"Action=DeleteIdentity&Identity=example.com"
                                      b"&Version=2010-12-01", {"Content-Type": FORM_CT}), None,
                              403, "AccessDenied"),
    "bad form, signed": (request("POST", "/", b"Action=NoSuchThing&Version=2010-12-01",
                                 {"Authorization": SIGNED, "Content-Type": FORM_CT}), None, 400,
                         "InvalidAction"),
}


@pytest.mark.parametrize("case", sorted(SDK_CASES))
def test_sdk_call_gets_ses_xml_errors(start_proxy, standin, case):
    p = start_proxy(CONFIG)
    data, pause, status, code = SDK_CASES[case]
    sdk_xml_error(p, raw(p, data, pause), status, code)
    assert standin.count == 0


def test_throttle_refusal_is_ses_xml_with_retry_after(start_proxy, standin):
    p = start_proxy(CONFIG)
    form = request("POST", "/", b"Action=ListTemplates&Version=2010-12-01",
                   {"Content-Type": FORM_CT, "Authorization": SIGNED})
    first = raw(p, form)
    assert first.status == 200, first
    a = raw(p, form)
    sdk_xml_error(p, a, 429, "Throttling")
    assert int(a.header("Retry-After")) >= 1
    assert standin.count == 1


V2_CASES = {
    # a SendEmail without its required Content: the proxy's validation
    "POST /v2/email/outbound-emails": (request("POST", "/v2/email/outbound-emails", b"{}",
                                               {"Authorization": SIGNED,
                                                "Content-Type": "application/json"}), 400,
                                       "ValidationError"),
    # no SES v2 operation is DELETE /v2/email/account: never forwarded
    "DELETE /v2/email/account": (request("DELETE", "/v2/email/account",
                                         headers={"Authorization": SIGNED}), 400,
                                 "UnknownOperationException"),
    # a path newer SDKs use that the model does not know
    "POST /v2/email/identities/list": (request("POST", "/v2/email/identities/list", b"{}",
                                               {"Authorization": SIGNED}), 400,
                                       "UnknownOperationException"),
    "413 for v2": (request("POST", "/v2/email/outbound-emails", headers={
        "Authorization": SIGNED, "Content-Type": "application/json"}, content_length=100000),
        413, "RequestEntityTooLarge"),
    "v2 under the prefix": (request("POST", "/ses/v2/email/outbound-emails", b"{}",
                                    {"Authorization": SIGNED}), 400, "ValidationError"),
}


@pytest.mark.parametrize("case", sorted(V2_CASES))
def test_sesv2_sdk_call_gets_rest_json_errors(start_proxy, standin, case):
    p = start_proxy(CONFIG)
    data, status, code = V2_CASES[case]
    rest_json_error(p, raw(p, data), status, code)


JSON_CASES = {
    "GET /": (request("GET", "/"), None, 404, "NotFound"),
    "413": (request("POST", "/", headers={"Content-Type": "application/json"},
                    content_length=100000), None, 413, "RequestEntityTooLarge"),
    "431": (b"POST / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 8000, None, 431,
            "RequestHeaderFieldsTooLarge"),
    "408": (b"POST / HTTP/1.1\r\n", 1.5, 408, "RequestTimeout"),
    "policy": (request("POST", "/", b'{"Action": "DeleteIdentity", "Identity": "example.com"}',
                       {"Content-Type": "application/json"}), None, 403, "AccessDenied"),
    # the prefix is for SDK endpoints: a JSON-mode path under it is no call
    "JSON under the prefix": (request("POST", "/ses/ListIdentities", b"{}",
                                      {"Content-Type": "application/json"}), None, 404,
                              "NotFound"),
    # curl's default form type with a JSON body is JSON mode, not an SDK
    "JSON as curl's form": (request("POST", "/", b'{"Action": "NoSuchThing"}',
                                    {"Content-Type": "application/x-www-form-urlencoded"}), None,
                            400, "InvalidAction"),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_json_mode_keeps_json_errors_with_request_ids(start_proxy, standin, case):
    p = start_proxy(CONFIG)
    data, pause, status, code = JSON_CASES[case]
    json_error(p, raw(p, data, pause), status, code)


def test_keep_alive_reuse_does_not_leak_the_last_requests_shape(start_proxy, standin):
    """A refusal of an unparsed head on a kept-alive connection takes its own
    request's shape and id, not those of the request before it."""
    p = start_proxy(CONFIG)
    s = socket.create_connection((p.host, p.port), timeout=10)
    try:
        s.sendall(request("POST", "/", b"Action=ListIdentities&Version=2010-12-01",
                          {"Authorization": SIGNED, "Content-Type": FORM_CT}))
        r = http.client.HTTPResponse(s)
        r.begin()
        first = Answer(r, r.read())
        assert first.status == 200, first
        s.sendall(b"POST / HTTP/1.1\r\nX-Pad: " + b"a" * 8000)
        r = http.client.HTTPResponse(s)
        r.begin()
        a = Answer(r, r.read())
    finally:
        s.close()
    json_error(p, a, 431, "RequestHeaderFieldsTooLarge")
    assert a.header("X-Request-Id") != first.header("X-Request-Id")


# ---------------------------------------------------------------- success ids

LIST = b"Action=ListIdentities&Version=2010-12-01"


@pytest.mark.parametrize("path", ["/", "/ses", "/ses/"])
def test_sdk_success_carries_ses_request_id(start_proxy, standin, path):
    p = start_proxy(CONFIG)
    standin.push(Scripted.success("ListIdentities", "<Identities/>", request_id="ses-rid-1",
                                  headers={"x-amz-id-2": "ses-id-2"}))
    a = raw(p, request("POST", path, LIST, {"Authorization": SIGNED, "Content-Type": FORM_CT}))
    assert a.status == 200, a
    assert a.header("x-amzn-RequestId") == "ses-rid-1" and a.header("x-amz-id-2") == "ses-id-2"
    assert b"<RequestId>ses-rid-1</RequestId>" in a.body   # SES's bytes, untouched
    lines = log_lines(p, a.header("X-Request-Id"))
    assert lines[0]["ses_request_id"] == "ses-rid-1" and lines[0]["mode"] == "sdk", lines


def test_json_success_carries_ses_request_id(proxy, standin):
    standin.push(Scripted.success("ListIdentities", "<Identities/>", request_id="ses-rid-2"))
    r = proxy.call({"Action": "ListIdentities"})
    assert r.status == 200 and r.json["ResponseMetadata"]["RequestId"] == "ses-rid-2", r
    assert r.header("x-amzn-RequestId") == "ses-rid-2"


def test_proxy_gateway_errors_carry_the_proxys_id(start_proxy, upstreams_local):
    up = upstreams_local()
    p = start_proxy({"upstream": {"timeout_ms": 400}}, endpoint=up.url)
    up.set_mode("stall_head")
    a = raw(p, request("POST", "/", LIST, {"Authorization": SIGNED, "Content-Type": FORM_CT}))
    sdk_xml_error(p, a, 504, "GatewayTimeout")
    up.set_mode("plain_503")   # a load balancer's page, not SES XML
    a = raw(p, request("POST", "/", LIST, {"Authorization": SIGNED, "Content-Type": FORM_CT}))
    sdk_xml_error(p, a, 502, "BadGateway")


# ---------------------------------------------------------------- retries

@pytest.fixture
def upstreams_local():
    started = []

    def make(**kw):
        u = faulty_upstream.FaultyUpstream(None, **kw).start()
        started.append(u)
        return u
    yield make
    for u in started:
        u.stop()


def sdk_call(p, body=LIST, timeout=30):
    return raw(p, request("POST", "/", body, {"Authorization": SIGNED, "Content-Type": FORM_CT}),
               timeout=timeout)


def ses_500():
    return Scripted.error("InternalFailure", "The request processing has failed.", status=500,
                          err_type="Receiver")


def test_sdk_call_is_not_retried_by_default(start_proxy, standin):
    p = start_proxy()
    standin.push(ses_500(), ses_500(), ses_500())
    a = sdk_call(p)
    assert a.status == 500 and b"<Code>InternalFailure</Code>" in a.body, a
    time.sleep(1.2)   # past any backoff a retry would have waited
    assert standin.count == 1
    assert log_lines(p, a.header("X-Request-Id"))[0]["attempts"] == 1


def test_sdk_max_attempts_lets_the_proxy_retry(start_proxy, standin):
    p = start_proxy({"retry": {"sdk_max_attempts": 3}})
    standin.push(ses_500(), Scripted.throttling(), Scripted.success("ListIdentities",
                                                                    "<Identities/>"))
    a = sdk_call(p)
    assert a.status == 200, a
    assert standin.count == 3
    assert log_lines(p, a.header("X-Request-Id"))[0]["attempts"] == 3


def test_json_mode_keeps_the_proxys_retries(proxy, standin):
    standin.push(ses_500(), ses_500(), ses_500())
    r = proxy.call({"Action": "ListIdentities"})
    assert r.status == 500 and r.json["ResponseMetadata"]["RetryAttempts"] == 2, r
    assert standin.count == 3


def test_sdk_call_resent_once_after_the_keep_alive_race(start_proxy, upstreams_local):
    """SES closed the kept-alive connection as the call went out on it: sent
    once more on a new connection, which is no attempt of SES's."""
    up = upstreams_local()
    p = start_proxy({"upstream": {"timeout_ms": 3000}}, endpoint=up.url)
    assert sdk_call(p).status == 200      # leaves a kept-alive connection
    up.push("close_before", "ok")
    a = sdk_call(p)
    assert a.status == 200, a
    assert up.stats["requests"] == 3, up.stats
    assert log_lines(p, a.header("X-Request-Id"))[0]["attempts"] == 1


def test_call_whose_client_left_is_not_retried(start_proxy, standin):
    p = start_proxy()
    standin.push(Scripted.error("InternalFailure", "slow failure", status=500, delay=0.8),
                 ses_500(), ses_500())
    s = socket.create_connection((p.host, p.port), timeout=10)
    s.sendall(request("POST", "/", b'{"Action": "ListIdentities"}',
                      {"Content-Type": "application/json", "X-Request-Id": "client-leaves"}))
    time.sleep(0.3)
    s.close()    # the client's own deadline: it gives up while SES works
    time.sleep(2.5)  # the answer (0.8 s) and any backoff (at most 1 s) are over
    assert standin.count == 1
    lines = log_lines(p, "client-leaves")
    assert lines and lines[0]["status"] == 499, lines


def test_sdk_call_still_waits_for_throttle_tokens(start_proxy, standin):
    p = start_proxy({"throttle": {"operations": {"ListIdentities": {"rate": 2, "burst": 1}}}})
    out = []

    def one():
        t0 = time.monotonic()
        out.append((sdk_call(p).status, time.monotonic() - t0))
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(s for s, _ in out) == [200, 200], out
    assert max(t for _, t in out) >= 0.4, out   # the second waited for its token


def test_stalled_ses_one_timeout_for_sdk_three_for_json(start_proxy, upstreams_local):
    """SES never answers, upstream.timeout_ms 1000: an SDK's call ends after
    one timeout (its SDK then decides), a JSON-mode call after three plus
    the backoffs between them (at most 1 s and 2 s)."""
    up = upstreams_local()
    p = start_proxy({"upstream": {"timeout_ms": 1000}}, endpoint=up.url)
    up.set_mode("stall_head")
    t0 = time.monotonic()
    a = sdk_call(p)
    sdk_s = time.monotonic() - t0
    assert a.status == 504, a
    assert up.stats["requests"] == 1, up.stats
    t0 = time.monotonic()
    r = p.call({"Action": "ListIdentities"})
    json_s = time.monotonic() - t0
    assert r.status == 504, r
    assert up.stats["requests"] == 4, up.stats
    print("\nstalled SES, timeout_ms 1000: SDK call %.2f s, JSON call %.2f s" % (sdk_s, json_s))
    assert 0.9 <= sdk_s < 2.0, sdk_s
    assert 2.9 <= json_s < 6.5, json_s
