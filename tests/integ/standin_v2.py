"""SES v2 (REST-JSON, 2019-09-27) for the stand-in SES (standin_ses.py).

The stand-in hands every request whose path starts with /v2/ to this
module's pure functions; the server itself stays in standin_ses.py. Every
model is the newest sesv2 model kept in tests/data/botocore (through
botocore_models), the same one the proxy is generated from.

Requests:

    router = Router(model)
    op_name, labels = router.match("GET", "/v2/email/identities/a%40b")
    params, notes = parse_request(model, op_name, labels, raw_query, headers, body)
    want = botocore_request(model, op_name, params)
    differences = compare_request(want, method, raw_path, raw_query, headers, body)

``match`` routes by method and the model's URI templates (a literal segment
wins over a label: POST .../contacts/list is ListContacts, GET
.../contacts/list is GetContact of "list"). ``parse_request`` reads the
request back into the parameters botocore would have had to be given to
send it: labels, query, headers and the JSON body by the model, timestamps
as aware UTC datetimes, blobs as bytes. What SES would ignore (an unknown
query key or body member, a null, a repeated scalar) is ignored and named
in ``notes``; what cannot be read (JSON that is not JSON, a value of the
wrong type, a label that is not UTF-8) raises V2Error. ``botocore_request``
is botocore's RestJSONSerializer of those parameters, prepared as its
AWSRequest does; ``compare_request`` lists what differs in method, path,
query string, body (byte for byte) and whether a Content-Type is sent.

Answers:

    status, headers, body = default_answer(model, "GetAccount", seed)
    parsed = botocore_parse(model, "GetAccount", status, headers, body)
    want = expected_json(model, "GetAccount", status, headers, body)

``default_answer`` is a random valid answer for the output shape
(sesv2gen.answer: timestamps as integers, fractions and exponents, as SES
writes them) with Content-Type application/json; SendEmail and
SendBulkEmail answers carry the MessageIds the stand-in stores instead.
``expected_json`` is botocore's RestJSONParser's parse in the proxy's JSON
form (datetimes as YYYY-MM-DDTHH:MM:SS[.ffffff]Z in UTC, blobs as base64,
ResponseMetadata without HTTPStatusCode and HTTPHeaders).

Errors are SES v2's shape: the code in x-amzn-ErrorType, the body
{"message": "..."}, application/json (``error_answer``).

Sending: ``sent_messages`` turns an accepted SendEmail or SendBulkEmail into
SentMessage records (one per bulk entry) that a test reads back: sender,
destination, content and the message as MIME.

Only the standard library, botocore and the helpers beside this file.
"""

import base64
import binascii
import copy
import datetime
import email.message
import email.parser
import email.policy
import email.utils
import functools
import json
import random
import re
import urllib.parse
import uuid

import botocore.awsrequest
import botocore.parsers
import botocore.serialize
import botocore.utils
import botocore.validate

import botocore_models
import sesv2gen

UTC = datetime.timezone.utc
JSON_TYPE = "application/json"
SEND_OPS = ("SendEmail", "SendBulkEmail")
# The suffix Coral-hosted services put after an error type; botocore reads
# only what comes before the ':'.
CORAL_SUFFIX = ":http://internal.amazon.com/coral/com.amazonaws.sesv2/"
# A host botocore's request is rendered for: only the path and query of the
# URL are compared, so the host is any.
_ENDPOINT = "http://standin.invalid"
_INT = re.compile(r"-?[0-9]+\Z")


def service_model():
    """botocore's sesv2 model (the newest in tests/data/botocore)."""
    return botocore_models.service_model("sesv2")


@functools.lru_cache(maxsize=None)
def router():
    """The Router of service_model() (built once)."""
    return Router(service_model())


class V2Request:
    """What the stand-in made of one SES v2 request (Recorded.v2).

    operation    the operation routed to (None: no route)
    labels       {label: decoded value} from the path
    params       the parameters botocore would have been given (None when
                 the request could not be read)
    notes        what was ignored in reading it (list of str)
    error        the V2Error it was refused with, or None
    botocore     botocore's request for params (botocore_request), or None
    differences  how the request differs from it (list of str)
    same_as_botocore  True/False (None when there are no params)
    sigv4a_expected   whether botocore signs this call with SigV4a
    """

    def __init__(self):
        self.operation = None
        self.labels = {}
        self.params = None
        self.notes = []
        self.error = None
        self.botocore = None
        self.differences = []
        self.same_as_botocore = None
        self.sigv4a_expected = False

    def __repr__(self):
        return "<V2Request %s same=%s error=%s diff=%s notes=%s>" % (
            self.operation, self.same_as_botocore, self.error, self.differences, self.notes)


class V2Error(Exception):
    """A request SES v2 would refuse: code (x-amzn-ErrorType), message, status."""

    def __init__(self, code, message, status=400):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message, self.status = code, message, status


# ---- routing -----------------------------------------------------------------------

class Route:
    def __init__(self, op_name, method, request_uri):
        self.op_name = op_name
        self.method = method
        path, _, fixed = request_uri.partition("?")
        self.fixed_query = [tuple(p.partition("=")[::2]) for p in fixed.split("&") if p]
        # each segment: ("literal", text) or ("label", name) or ("greedy", name)
        self.segments = []
        for seg in path.split("/"):
            m = re.fullmatch(r"\{([^}+]+)(\+?)\}", seg)
            if m:
                self.segments.append(("greedy" if m.group(2) else "label", m.group(1)))
            else:
                self.segments.append(("literal", seg))
        self.literals = sum(1 for kind, _ in self.segments if kind == "literal")

    def match(self, raw_segments):
        """{label: raw text} when the raw path's segments fit, else None."""
        labels = {}
        segs = self.segments
        greedy = [i for i, (kind, _) in enumerate(segs) if kind == "greedy"]
        if greedy:
            g = greedy[0]
            tail = len(segs) - g - 1
            if len(raw_segments) < len(segs):
                return None
            head_raw = raw_segments[:g]
            tail_raw = raw_segments[len(raw_segments) - tail:] if tail else []
            middle = raw_segments[g:len(raw_segments) - tail]
            if not "".join(middle):
                return None
            pairs = list(zip(segs[:g], head_raw)) + list(zip(segs[g + 1:], tail_raw))
            labels[segs[g][1]] = "/".join(middle)
        else:
            if len(raw_segments) != len(segs):
                return None
            pairs = list(zip(segs, raw_segments))
        for (kind, text), raw in pairs:
            if kind == "literal":
                if raw != text:
                    return None
            else:
                if raw == "":
                    return None
                labels[text] = raw
        return labels


class Router:
    """The model's operations by method and URI template."""

    def __init__(self, model):
        self.model = model
        self.routes = [Route(name, model.operation_model(name).http["method"],
                             model.operation_model(name).http["requestUri"])
                       for name in model.operation_names]

    def match(self, method, raw_path, raw_query=""):
        """(operation name, {label: decoded value}); raises V2Error 404
        UnknownOperationException when no operation has this method and
        path (and the template's fixed query items), 400
        BadRequestException when a label is not UTF-8 once decoded."""
        op_name, raw_labels = self.route(method, raw_path, raw_query)
        return op_name, decode_labels(raw_labels)

    def route(self, method, raw_path, raw_query=""):
        """(operation name, {label: raw text}), as match() but the labels
        as sent."""
        raw_segments = raw_path.split("/")
        query_items = [tuple(p.partition("=")[::2]) for p in raw_query.split("&") if p]
        best = None
        for route in self.routes:
            if route.method != method:
                continue
            labels = route.match(raw_segments)
            if labels is None:
                continue
            if any(item not in query_items for item in route.fixed_query):
                continue
            if best is None or route.literals > best[0].literals:
                best = (route, labels)
        if best is None:
            raise V2Error("UnknownOperationException", "Unknown operation %s %s"
                          % (method, raw_path), 404)
        return best[0].op_name, best[1]


def decode_labels(raw_labels):
    """{label: decoded value} of route()'s labels (percent-decoded, UTF-8)."""
    return {name: _unquote(raw, "the path label %s" % name) for name, raw in raw_labels.items()}


def _unquote(raw, what):
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise V2Error("BadRequestException", "%s is not UTF-8 once decoded" % what)


# ---- reading a request back ----------------------------------------------------------

def _wire_name(member_name, member):
    return member.serialization.get("name", member_name)


def _scalar_from_text(shape, text, where, fmt_default):
    """A query or header value of a scalar shape, as botocore takes it."""
    kind = shape.type_name
    if kind == "string":
        if shape.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text, validate=True).decode("utf-8"))
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise V2Error("BadRequestException", "%s is not base64 JSON" % where)
        return text
    if kind in ("integer", "long"):
        if not _INT.match(text):
            raise V2Error("BadRequestException", "%s is not an integer: %r" % (where, text))
        return int(text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise V2Error("BadRequestException", "%s is not a number: %r" % (where, text))
    if kind == "boolean":
        if text not in ("true", "false"):
            raise V2Error("BadRequestException", "%s is not true or false: %r" % (where, text))
        return text == "true"
    if kind == "timestamp":
        fmt = (shape.serialization.get("timestampFormat") or fmt_default).lower()
        try:
            if fmt == "unixtimestamp":
                return datetime.datetime.fromtimestamp(float(text), UTC)
            if fmt == "rfc822":
                dt = email.utils.parsedate_to_datetime(text)
            else:
                dt = botocore.utils.parse_timestamp(text)
        except (ValueError, TypeError, OverflowError):
            raise V2Error("BadRequestException", "%s is not a timestamp: %r" % (where, text))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise V2Error("BadRequestException", "%s is not base64" % where)
    raise V2Error("BadRequestException", "%s: a %s cannot be read here" % (where, kind))


def _query_pairs(raw_query):
    """(key, value, raw item) of each non-empty item, decoded."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((_unquote(key, "a query key"), _unquote(value, "a query value"), part))
    return pairs


def _parse_query(shape, raw_query, fixed, params, notes):
    by_wire, query_map = {}, None
    for name, member in shape.members.items():
        if member.serialization.get("location") != "querystring":
            continue
        if member.type_name == "map":
            query_map = name
        else:
            by_wire[_wire_name(name, member)] = name
    for key, value, part in _query_pairs(raw_query):
        if (key, value) in fixed:
            continue
        if "=" not in part:
            notes.append("query item %r has no '='" % part)
        name = by_wire.get(key)
        if name is None:
            if query_map is not None:
                mshape = shape.members[query_map]
                target = params.setdefault(query_map, {})
                if mshape.value.type_name == "list":
                    target.setdefault(key, []).append(value)
                else:
                    target.setdefault(key, value)
                continue
            notes.append("unknown query key %r ignored" % key)
            continue
        member = shape.members[name]
        where = "query %s" % key
        if member.type_name == "list":
            params.setdefault(name, []).append(
                _scalar_from_text(member.member, value, where, "iso8601"))
        elif name in params:
            notes.append("query key %r repeated: the first is kept" % key)
        else:
            params[name] = _scalar_from_text(member, value, where, "iso8601")


def _parse_headers(shape, headers, params, notes):
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = _wire_name(name, member).lower()
        if loc == "header":
            values = [v for k, v in headers if k.lower() == wire]
            if not values:
                continue
            if len(values) > 1:
                notes.append("header %s repeated: the values are joined" % wire)
            text = ",".join(values)
            if member.type_name == "list":
                params[name] = [_scalar_from_text(member.member, v.strip(), "header " + wire,
                                                  "rfc822") for v in text.split(",")]
            else:
                params[name] = _scalar_from_text(member, text, "header " + wire, "rfc822")
        elif loc == "headers":
            got = {}
            for k, v in headers:
                if k.lower().startswith(wire):
                    got[k[len(wire):]] = v
            if got:
                params[name] = got


def _from_json(shape, value, path, notes):
    """A JSON value of shape as botocore would have been given it."""
    kind = shape.type_name

    def wrong(what):
        raise V2Error("SerializationException", "%s: expected %s, got %s"
                      % (path or "body", what, type(value).__name__))

    if kind == "structure":
        if not isinstance(value, dict):
            wrong("an object")
        by_wire = {_wire_name(n, m): n for n, m in shape.members.items()
                   if not m.serialization.get("location")}
        out = {}
        for key, v in value.items():
            name = by_wire.get(key)
            sub = "%s.%s" % (path, key) if path else key
            if name is None:
                notes.append("unknown member %s ignored" % sub)
                continue
            if v is None:
                notes.append("%s is null: taken as absent" % sub)
                continue
            out[name] = _from_json(shape.members[name], v, sub, notes)
        return out
    if kind == "list":
        if not isinstance(value, list):
            wrong("an array")
        return [None if v is None else _from_json(shape.member, v, "%s[%d]" % (path, i), notes)
                for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            wrong("an object")
        return {k: None if v is None else _from_json(shape.value, v, "%s.%s" % (path, k), notes)
                for k, v in value.items()}
    if kind == "string":
        if not isinstance(value, str):
            wrong("a string")
        return value
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            wrong("an integer")
        return value
    if kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            wrong("a number")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            wrong("a boolean")
        return value
    if kind == "blob":
        if not isinstance(value, str):
            wrong("base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise V2Error("SerializationException", "%s: not base64" % path)
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        if fmt.lower() != "unixtimestamp":
            if not isinstance(value, str):
                wrong("a %s timestamp" % fmt)
            try:
                return _scalar_from_text(shape, value, path, fmt)
            except V2Error as e:
                raise V2Error("SerializationException", e.message)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            wrong("epoch seconds")
        try:
            return datetime.datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            raise V2Error("SerializationException", "%s: %r is no time" % (path, value))
    raise V2Error("SerializationException", "%s: a %s cannot be read" % (path, kind))


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise V2Error("SerializationException", "member %r given twice" % k)
        out[k] = v
    return out


def _bad_constant(name):
    raise V2Error("SerializationException", "%s is not JSON" % name)


def load_json(body):
    """A JSON body as SES reads it: UTF-8, one value, no duplicate keys."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise V2Error("SerializationException", "the body is not UTF-8")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_bad_constant)
    except ValueError as e:
        raise V2Error("SerializationException", "the body is not JSON: %s" % e)


def parse_request(model, op_name, labels, raw_query, headers, body):
    """(params, notes): what botocore would have been given to send this."""
    op = model.operation_model(op_name)
    shape = op.input_shape
    notes = []
    params = {}
    if shape is None:
        if body:
            notes.append("a body where the operation takes none")
        return params, notes
    for name, member in shape.members.items():
        if member.serialization.get("location") == "uri":
            wire = _wire_name(name, member)
            if wire in labels:
                params[name] = _scalar_from_text(member, labels[wire], "label " + wire,
                                                 "iso8601")
    fixed = [(urllib.parse.unquote(k), urllib.parse.unquote(v)) for k, v in
             Route(op_name, op.http["method"], op.http["requestUri"]).fixed_query]
    _parse_query(shape, raw_query, fixed, params, notes)
    _parse_headers(shape, headers, params, notes)
    payload = shape.serialization.get("payload")
    has_body_members = any(not m.serialization.get("location") for m in shape.members.values())
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "blob":
            if body:
                params[payload] = body
        elif member.type_name == "string":
            if body:
                params[payload] = body.decode("utf-8", "replace")
        elif body:
            params[payload] = _from_json(member, load_json(body), payload, notes)
    elif body:
        doc = load_json(body)
        if has_body_members:
            params.update(_from_json(shape, doc, "", notes))
        else:
            notes.append("a body where the operation takes none")
    return params, notes


def validate(model, op_name, params):
    """None, or botocore's report of what breaks the model (as SES refuses
    with BadRequestException)."""
    shape = model.operation_model(op_name).input_shape
    if shape is None:
        return None
    report = botocore.validate.ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else None


# ---- botocore's own request -----------------------------------------------------------

def botocore_request(model, op_name, params):
    """What botocore puts on the wire for params: a dict of method, path,
    query (raw, without '?'), headers (the serializer's) and body (bytes)."""
    op = model.operation_model(op_name)
    req = botocore.serialize.RestJSONSerializer().serialize_to_request(
        copy.deepcopy(params), op)
    botocore.awsrequest.prepare_request_dict(req, _ENDPOINT)
    url = urllib.parse.urlsplit(req["url"])
    body = req["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    return {"method": req["method"], "path": url.path, "query": url.query,
            "headers": dict(req["headers"]), "body": body or b""}


def _header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def compare_request(want, method, raw_path, raw_query, headers, body):
    """What differs between the request received and botocore's (want):
    a list of sentences, empty when they are the same."""
    out = []
    if method != want["method"]:
        out.append("method %s, botocore's %s" % (method, want["method"]))
    if raw_path != want["path"]:
        out.append("path %r, botocore's %r" % (raw_path, want["path"]))
    if raw_query != want["query"]:
        out.append("query %r, botocore's %r" % (raw_query, want["query"]))
    if body != want["body"]:
        out.append("body %r, botocore's %r" % (body[:400], want["body"][:400]))
    sent_ct = _header(headers, "Content-Type")
    want_ct = {k.lower(): v for k, v in want["headers"].items()}.get("content-type")
    if (sent_ct is None) != (want_ct is None):
        out.append("Content-Type %r, botocore's %r" % (sent_ct, want_ct))
    return out


def sigv4a_expected(params, op_name):
    """Whether botocore signs this call with SigV4a: SendEmail and
    SendBulkEmail with an EndpointId (the endpoint rules' multi-region
    branch, a custom endpoint or not)."""
    return op_name in SEND_OPS and params.get("EndpointId") is not None


# ---- answers -------------------------------------------------------------------------

def error_status(model, code, default=400):
    """The HTTP status the model gives error code, or default."""
    try:
        shape = model.shape_for(code)
    except Exception:
        return default
    return (shape.metadata.get("error") or {}).get("httpStatusCode", default)


def error_doc(model, code):
    """The model's documentation of error code as one line, or None."""
    try:
        doc = model.shape_for(code).documentation or ""
    except Exception:
        return None
    text = re.sub(r"<[^>]+>", "", doc).strip()
    return re.sub(r"\s+", " ", text) or None


def error_answer(code, message, status=400, suffix=""):
    """(status, headers, body) of an SES v2 error."""
    return (status, [("x-amzn-ErrorType", code + suffix)],
            json.dumps({"message": message}).encode("utf-8"))


def new_message_id(rng=None):
    """An id in the form SES gives messages."""
    rng = rng or random
    return "%016x-%08x-%04x-%04x-%04x-%012x-000000" % (
        rng.getrandbits(64) & 0x0000ffffffffffff | 0x0100000000000000, rng.getrandbits(32),
        rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48))


def default_answer(model, op_name, seed):
    """(status, headers, body, request_id): a random valid answer for the
    operation (sesv2gen.answer), Content-Type application/json."""
    body, headers = sesv2gen.answer(model, op_name, seed)
    request_id = None
    kept = []
    for k, v in headers:
        if k.lower() == "x-amzn-requestid":
            request_id = v
        elif k.lower() != "content-type":
            kept.append((k, v))
    status = model.operation_model(op_name).http.get("responseCode", 200)
    return status, kept, body, request_id or str(uuid.uuid4())


def send_answer(op_name, message_ids):
    """The body SES answers an accepted send with."""
    if op_name == "SendEmail":
        return json.dumps({"MessageId": message_ids[0]}).encode()
    return json.dumps({"BulkEmailEntryResults": [
        {"Status": "SUCCESS", "MessageId": mid} for mid in message_ids]}).encode()


def message_ids_in(op_name, body):
    """The MessageIds a (scripted) success answer to a send gives, in order
    (None where an entry has none)."""
    try:
        doc = json.loads(body.decode("utf-8")) if body else {}
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(doc, dict):
        return []
    if op_name == "SendEmail":
        return [doc.get("MessageId")]
    results = doc.get("BulkEmailEntryResults")
    if not isinstance(results, list):
        return []
    return [r.get("MessageId") if isinstance(r, dict) and r.get("Status", "SUCCESS") == "SUCCESS"
            else None for r in results]


def _joined_headers(headers):
    # urllib3 joins a repeated field with ", "; botocore's dict is
    # case-insensitive
    joined = botocore.awsrequest.HeadersDict()
    for name, value in headers:
        joined[name] = joined[name] + ", " + value if name in joined else value
    return joined


def botocore_parse(model, op_name, status, headers, body):
    """botocore's RestJSONParser's parse of an answer, as boto3 returns it
    (with ResponseMetadata; an error answer gives Error). op_name None: an
    answer to no operation (an error's parse is the same for all)."""
    shape = model.operation_model(op_name).output_shape if op_name else None
    response = {"status_code": status, "headers": _joined_headers(headers),
                "body": body, "context": {"operation_name": op_name}}
    return botocore.parsers.RestJSONParser().parse(response, shape)


def expected_json(model, op_name, status, headers, body):
    """botocore's parse in the proxy's JSON form: datetimes as
    YYYY-MM-DDTHH:MM:SS[.ffffff]Z (UTC, microseconds only when not zero),
    blobs as base64 text, ResponseMetadata without HTTPStatusCode and
    HTTPHeaders."""
    return sesv2gen.to_proxy(botocore_parse(model, op_name, status, headers, body))


# ---- what was sent -------------------------------------------------------------------

class SentMessage:
    """One message SES v2 accepted (one per SendBulkEmail entry).

    message_id, operation ("SendEmail"/"SendBulkEmail"), entry (the bulk
    entry's index, None for SendEmail), kind ("Simple", "Raw" or
    "Template"), from_address (FromEmailAddress as given, else the MIME
    From), destination ({"ToAddresses": [...], ...} as given, or None),
    reply_to, subject/text/html (Simple: as given; Template: rendered when
    the template is known, else None), template (TemplateName or
    TemplateArn), template_data (the JSON text used), tags (EmailTags or
    the bulk entry's tags, as [{Name, Value}]), configuration_set,
    endpoint_id, raw (bytes: the Raw message as sent, else the stand-in's
    own MIME rendering), params (the call's parameters), record (the
    standin_ses.Recorded request).
    """

    def __init__(self, **kw):
        self.message_id = None
        self.operation = None
        self.entry = None
        self.kind = None
        self.from_address = None
        self.destination = None
        self.reply_to = []
        self.subject = self.text = self.html = None
        self.headers = []
        self.attachments = []
        self.template = None
        self.template_data = None
        self.tags = []
        self.configuration_set = None
        self.endpoint_id = None
        self.raw = None
        self.params = None
        self.record = None
        self.__dict__.update(kw)

    @property
    def mime(self):
        """raw parsed as an email.message.EmailMessage (None without raw)."""
        if self.raw is None:
            return None
        return email.parser.BytesParser(policy=email.policy.default).parsebytes(self.raw)

    @property
    def recipients(self):
        """Every address the message goes to: the Destination's, or for a
        Raw message without one, its To, Cc and Bcc headers'."""
        if self.destination:
            return [a for key in ("ToAddresses", "CcAddresses", "BccAddresses")
                    for a in self.destination.get(key) or []]
        msg = self.mime
        if msg is None:
            return []
        pairs = email.utils.getaddresses([str(v) for key in ("To", "Cc", "Bcc")
                                          for v in msg.get_all(key, [])])
        return [addr for _, addr in pairs if addr]

    def __repr__(self):
        return "<SentMessage %s %s %s from=%r to=%r>" % (
            self.message_id, self.operation, self.kind, self.from_address, self.recipients)


_TAG = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def render_template(text, data):
    """{{name}} and {{a.b}} replaced from data (a dict); missing -> ''.
    Enough for tests; not SES's Handlebars."""
    if text is None:
        return None

    def value(m):
        v = data
        for part in m.group(1).split("."):
            v = v.get(part) if isinstance(v, dict) else None
        return "" if v is None else str(v)

    return _TAG.sub(value, text)


def _one_line(text):
    return re.sub(r"[\r\n]+", " ", text or "")


def render_mime(message_id, from_address, destination, reply_to, subject, text, html,
                headers=(), attachments=()):
    """The stand-in's MIME rendering of a Simple or Template message (bytes)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    fields = [("From", from_address)]
    destination = destination or {}
    fields += [("To", ", ".join(destination.get("ToAddresses") or [])),
               ("Cc", ", ".join(destination.get("CcAddresses") or [])),
               ("Reply-To", ", ".join(reply_to or [])),
               ("Subject", subject),
               ("Message-ID", "<%s@email.amazonses.com>" % message_id),
               ("Date", email.utils.formatdate(usegmt=True))]
    fields += [(h.get("Name"), h.get("Value")) for h in headers or []]
    for name, value in fields:
        if not value or not name:
            continue
        # The email package parses address fields and raises on some that SES
        # takes as text (ValueError, or AttributeError for a group where a
        # mailbox is expected): such a field is left out of the rendering.
        for v in (_one_line(value), _one_line(value).encode("ascii", "replace").decode()):
            try:
                msg[_one_line(name)] = v
                break
            except (ValueError, TypeError, AttributeError, IndexError):
                continue
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for att in attachments or []:
        ctype = (att.get("ContentType") or "application/octet-stream").split("/", 1)
        if len(ctype) != 2 or not all(ctype):
            ctype = ["application", "octet-stream"]
        try:
            msg.add_attachment(att.get("RawContent") or b"", maintype=ctype[0],
                               subtype=ctype[1], filename=_one_line(att.get("FileName")))
        except (ValueError, TypeError):
            pass
    try:
        return msg.as_bytes()
    except (ValueError, TypeError, UnicodeError):
        return msg.as_string().encode("utf-8", "replace")


def _template_parts(template, templates):
    """(subject, text, html) of a Template content, or Nones when the
    stand-in does not know the template."""
    inline = template.get("TemplateContent")
    if inline:
        return inline.get("Subject"), inline.get("Text"), inline.get("Html")
    name = template.get("TemplateName")
    if name is None and template.get("TemplateArn"):
        name = template["TemplateArn"].rsplit("/", 1)[-1]
    known = templates.get(name) if name is not None else None
    if not known:
        return None, None, None
    return known.get("Subject"), known.get("Text"), known.get("Html")


def _json_data(text):
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _from_header(raw):
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    value = msg.get("From")
    return str(value) if value is not None else None


def sent_messages(op_name, params, message_ids, templates=None, record=None):
    """SentMessage records of an accepted send (message_ids: one per
    message, None where the stand-in is to make one up)."""
    templates = templates or {}
    common = dict(operation=op_name, from_address=params.get("FromEmailAddress"),
                  reply_to=list(params.get("ReplyToAddresses") or []),
                  configuration_set=params.get("ConfigurationSetName"),
                  endpoint_id=params.get("EndpointId"), params=params, record=record)
    out = []
    if op_name == "SendEmail":
        mid = (message_ids[:1] or [None])[0] or new_message_id()
        content = params.get("Content") or {}
        m = SentMessage(message_id=mid, destination=params.get("Destination"),
                        tags=list(params.get("EmailTags") or []), **common)
        if "Raw" in content:
            m.kind = "Raw"
            m.raw = (content["Raw"] or {}).get("Data")
            if m.from_address is None and m.raw is not None:
                m.from_address = _from_header(m.raw)
        elif "Template" in content:
            t = content["Template"] or {}
            m.kind = "Template"
            m.template = t.get("TemplateName") or t.get("TemplateArn")
            m.template_data = t.get("TemplateData")
            m.headers = list(t.get("Headers") or [])
            m.attachments = list(t.get("Attachments") or [])
            subject, text, html = _template_parts(t, templates)
            data = _json_data(m.template_data)
            m.subject, m.text, m.html = (render_template(x, data) for x in (subject, text, html))
        else:
            s = content.get("Simple") or {}
            m.kind = "Simple"
            m.subject = (s.get("Subject") or {}).get("Data")
            m.text = ((s.get("Body") or {}).get("Text") or {}).get("Data")
            m.html = ((s.get("Body") or {}).get("Html") or {}).get("Data")
            m.headers = list(s.get("Headers") or [])
            m.attachments = list(s.get("Attachments") or [])
        if m.raw is None:
            m.raw = render_mime(mid, m.from_address, m.destination, m.reply_to, m.subject,
                                m.text, m.html, m.headers, m.attachments)
        out.append(m)
        return out
    t = (params.get("DefaultContent") or {}).get("Template") or {}
    subject, text, html = _template_parts(t, templates)
    for i, entry in enumerate(params.get("BulkEmailEntries") or []):
        mid = (message_ids[i] if i < len(message_ids) else None) or new_message_id()
        replacement = ((entry.get("ReplacementEmailContent") or {})
                       .get("ReplacementTemplate") or {}).get("ReplacementTemplateData")
        data_text = replacement if replacement is not None else t.get("TemplateData")
        data = _json_data(data_text)
        m = SentMessage(message_id=mid, entry=i, kind="Template",
                        destination=entry.get("Destination"),
                        template=t.get("TemplateName") or t.get("TemplateArn"),
                        template_data=data_text,
                        tags=list(entry.get("ReplacementTags") or params.get("DefaultEmailTags")
                                  or []),
                        headers=list(entry.get("ReplacementHeaders") or t.get("Headers") or []),
                        attachments=list(t.get("Attachments") or []), **common)
        m.subject, m.text, m.html = (render_template(x, data) for x in (subject, text, html))
        m.raw = render_mime(mid, m.from_address, m.destination, m.reply_to, m.subject, m.text,
                            m.html, m.headers, m.attachments)
        out.append(m)
    return out

