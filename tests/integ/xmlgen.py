"""Realistic SES XML answers, and the JSON ses-proxy should turn them into.

Run with Debian's /usr/bin/python3 (python3-botocore). Importable from any
test in tests/integ (pytest puts this folder on sys.path); nothing runs at
import time, and everything is deterministic for a given seed.

Generating answers (botocore's SES model drives the shapes):

    model = xmlgen.service_model()           # botocore's 'ses', cached
    body = xmlgen.success_xml(model, "ListIdentities", seed=3)   # bytes
    body = xmlgen.error_xml(seed=3)           # a random <ErrorResponse>
    body = xmlgen.error_xml(code="MessageRejected", message="Email address "
                            "is not verified.", type="Sender")

success_xml() writes <OpResponse xmlns=SES><OpResult>...</OpResult>
<ResponseMetadata><RequestId>uuid</RequestId></ResponseMetadata></OpResponse>
the way SES does, filling the operation's output shape from
random.Random(seed): required members always and the others with some
probability, strings with non-ASCII and the XML-special & < > " ' (escaped as
entities, character references or CDATA), enum values from the model, lists
of <member> that are sometimes empty (<Foo/>), maps of <entry><key>
<value>, timestamps in SES's form (2024-05-01T12:34:56.789Z), doubles such
as 1.0, 14.0, 0.5, longs, booleans; sometimes pretty-printed, sometimes with
an XML declaration, sometimes with elements the model does not know (which
both botocore and the proxy ignore). request_id= fixes the RequestId.

Computing what the proxy should answer (botocore is the oracle):

    want = xmlgen.expected_json(model, "ListIdentities", body)        # 200
    want = xmlgen.expected_json(model, "SendEmail", err_body, status=400)
    xmlgen.canonical(got) == xmlgen.canonical(want)

expected_json() parses the body with botocore.parsers.QueryParser exactly as
boto3 does, then converts it with to_proxy_json() into the proxy's
documented JSON: timestamps become the string SES sent (boto3 gives a
datetime; the string comes from a second botocore parse whose timestamp
parser is the identity, and is checked to mean the same datetime), blobs
are base64 text, and ResponseMetadata keeps what SES sent (RequestId) but
drops what botocore adds from the HTTP exchange (HTTPStatusCode,
HTTPHeaders, RetryAttempts). An end-to-end test through the proxy should
compare after removing the proxy's own HTTPStatusCode/RetryAttempts too.
canonical() is a string form that tells 1 from 1.0 from true, for strict
comparison.
"""

import base64
import functools
import json
import random
import uuid

import botocore.parsers

import botocore_models

SES_XMLNS = "http://ses.amazonaws.com/doc/2010-12-01/"

# Fragments for generated strings: plain text, non-ASCII in several
# scripts and planes, and every character XML escapes.
_PIECES = [
    "example.com", "hello", "Ünïcödé", "日本語のテキスト", "emoji 📧✉️", "Ω≈ç√∫",
    "a & b", "<tag>", '"quoted"', "it's", "x]]>y", "1 < 2 > 0", "tab\there",
    "line\nbreak", "  padded  ", "{\"json\": [1, 2]}", "&amp; literal", "José Müller",
    "Привет", "مرحبا", "\u00a0nbsp", "%20+%2B",
]
_DOUBLES = ["1.0", "14.0", "0.5", "200.0", "50000.0", "0.0", "123.456", "3", "1.5E3"]
_ERROR_CODES_EXTRA = ["Throttling", "InvalidParameterValue", "AccessDenied",
                      "SignatureDoesNotMatch", "ServiceUnavailable", "InternalFailure"]
_OMIT = object()


@functools.lru_cache(maxsize=1)
def service_model():
    """botocore's SES (2010-12-01) service model."""
    return botocore_models.service_model("ses")


def _request_id(rnd):
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _escape(rnd, text):
    """XML character data for text, escaped in one of the ways SES or any
    XML writer might: entities, numeric references, or a CDATA section."""
    if text and "]]>" not in text and rnd.random() < 0.15:
        return "<![CDATA[%s]]>" % text
    out = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            # A raw '>' is fine in text, except closing a "]]>".
            raw_ok = not (out and out[-1] == "]" and len(out) > 1 and out[-2] == "]")
            out.append(">" if raw_ok and rnd.random() < 0.5 else "&gt;")
        elif ch == '"':
            out.append(rnd.choice(['"', "&quot;", "&#34;"]))
        elif ch == "'":
            out.append(rnd.choice(["'", "&apos;", "&#x27;"]))
        elif ord(ch) > 0x7F and rnd.random() < 0.1:
            out.append(rnd.choice(["&#%d;" % ord(ch), "&#x%X;" % ord(ch)]))
        else:
            out.append(ch)
    return "".join(out)


def _string(rnd, shape, name):
    if shape.enum:
        return rnd.choice(shape.enum)
    r = rnd.random()
    if r < 0.08:
        return ""
    if "Arn" in name:
        return "arn:aws:sns:us-east-1:123456789012:topic-%d" % rnd.randrange(1000)
    if r < 0.3:
        return rnd.choice(["user%d@example.com" % rnd.randrange(100), "example.org",
                           "token-%08x" % rnd.getrandbits(32)])
    return " ".join(rnd.choice(_PIECES) for _ in range(rnd.randint(1, 3)))


def _timestamp(rnd):
    t = "%04d-%02d-%02dT%02d:%02d:%02d" % (
        rnd.randint(2015, 2030), rnd.randint(1, 12), rnd.randint(1, 28),
        rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59))
    return t + rnd.choice([".%03dZ" % rnd.randrange(1000), "Z"])


class _Writer:
    """Builds the document as a list of strings, optionally pretty-printed."""

    def __init__(self, rnd, pretty):
        self.rnd = rnd
        self.pretty = pretty
        self.parts = []

    def _nl(self, depth):
        if self.pretty:
            self.parts.append("\n" + "  " * depth)

    def leaf(self, tag, text, depth):
        self._nl(depth)
        if text == "":
            self.parts.append(self.rnd.choice(["<%s/>" % tag, "<%s></%s>" % (tag, tag)]))
        else:
            self.parts.append("<%s>%s</%s>" % (tag, _escape(self.rnd, text), tag))

    def open(self, tag, depth):
        self._nl(depth)
        self.parts.append("<%s>" % tag)

    def close(self, tag, depth):
        self._nl(depth)
        self.parts.append("</%s>" % tag)

    def empty(self, tag, depth):
        self._nl(depth)
        self.parts.append(self.rnd.choice(["<%s/>" % tag, "<%s></%s>" % (tag, tag)]))

    def raw(self, text, depth):
        self._nl(depth)
        self.parts.append(text)


def _unknown_element(rnd):
    """An element a newer SES might send: ignored by botocore and the proxy."""
    return rnd.choice([
        "<FutureMember>some &amp; value</FutureMember>",
        "<FutureList><member>a</member><member>b</member></FutureList>",
        "<FutureStruct><Inner><Deeper>x</Deeper></Inner></FutureStruct>",
        "<FutureEmpty/>",
    ])


def _value(w, shape, tag, depth, name):
    """Writes <tag> holding a value of shape."""
    rnd = w.rnd
    t = shape.type_name
    if t == "structure":
        _structure(w, shape, tag, depth)
    elif t == "list":
        n = rnd.choice([0, 0, 1, 2, 3, 4])
        if n == 0:
            w.empty(tag, depth)
            return
        w.open(tag, depth)
        for _ in range(n):
            _value(w, shape.member, shape.member.serialization.get("name", "member"),
                   depth + 1, name)
        w.close(tag, depth)
    elif t == "map":
        n = rnd.choice([0, 1, 2, 3])
        if n == 0:
            w.empty(tag, depth)
            return
        w.open(tag, depth)
        keys = set()
        for _ in range(n):
            key = rnd.choice(["example.com", "user@example.com", "ünïcode.example",
                              "a&b.example", "policy-%d" % rnd.randrange(10)])
            if key in keys and rnd.random() < 0.7:
                continue
            keys.add(key)
            w.open("entry", depth + 1)
            w.leaf(shape.key.serialization.get("name", "key"), key, depth + 2)
            _value(w, shape.value, shape.value.serialization.get("name", "value"),
                   depth + 2, name)
            w.close("entry", depth + 1)
        w.close(tag, depth)
    elif t == "string":
        w.leaf(tag, _string(rnd, shape, name), depth)
    elif t == "timestamp":
        w.leaf(tag, _timestamp(rnd), depth)
    elif t in ("double", "float"):
        w.leaf(tag, rnd.choice(_DOUBLES), depth)
    elif t in ("long", "integer"):
        v = rnd.choice([0, 1, 42, rnd.randrange(1, 2**31), rnd.randrange(1, 2**40)])
        w.leaf(tag, str(v) if t == "long" else str(v % 2**31), depth)
    elif t == "boolean":
        w.leaf(tag, rnd.choice(["true", "false"]), depth)
    elif t == "blob":
        w.leaf(tag, base64.b64encode(rnd.randbytes(rnd.randrange(0, 12))).decode(), depth)
    else:
        raise ValueError("xmlgen: no generator for %s" % t)


def _structure(w, shape, tag, depth):
    rnd = w.rnd
    members = list(shape.members.items())
    if not members and rnd.random() < 0.7:
        w.empty(tag, depth)
        return
    w.open(tag, depth)
    required = set(shape.required_members)
    if rnd.random() < 0.2:
        rnd.shuffle(members)  # order does not matter to either parser
    for name, ms in members:
        if depth > 10 and name not in required:
            continue  # SES's shapes are not recursive; be safe anyway
        if name in required or rnd.random() < 0.75:
            _value(w, ms, ms.serialization.get("name", name), depth + 1, name)
        if rnd.random() < 0.05:
            w.raw(_unknown_element(rnd), depth + 1)
    w.close(tag, depth)


def success_xml(model, op_name, seed, request_id=None, pretty=None, declaration=None):
    """A realistic SES success answer to op_name, as UTF-8 bytes."""
    rnd = random.Random("%s:%s" % (op_name, seed))
    op = model.operation_model(op_name)
    if pretty is None:
        pretty = rnd.random() < 0.5
    if declaration is None:
        declaration = rnd.random() < 0.3
    w = _Writer(rnd, pretty)
    if declaration:
        w.parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    w.parts.append('<%sResponse xmlns="%s">' % (op_name, SES_XMLNS))
    shape = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            _structure(w, shape, wrapper, 1)
        else:  # no SES operation takes this path; kept for other Query models
            for name, ms in shape.members.items():
                _value(w, ms, ms.serialization.get("name", name), 1, name)
    elif rnd.random() < 0.3:
        w.empty("%sResult" % op_name, 1)  # ignored by both parsers
    if rnd.random() < 0.05:
        w.raw(_unknown_element(rnd), 1)
    w.open("ResponseMetadata", 1)
    w.leaf("RequestId", request_id or _request_id(rnd), 2)
    w.close("ResponseMetadata", 1)
    w.close("%sResponse" % op_name, 0)
    return "".join(w.parts).encode("utf-8")


def error_codes(model=None):
    """The error codes SES's model names, plus common Query-protocol ones."""
    model = model or service_model()
    codes = set(_ERROR_CODES_EXTRA)
    for name in model.shape_names:
        s = model.shape_for(name)
        if s.metadata.get("exception"):
            codes.add(s.metadata.get("error", {}).get("code", name))
    return sorted(codes)


def error_xml(seed=None, code=_OMIT, message=_OMIT, type=_OMIT, request_id=_OMIT,
              detail=None, pretty=None):
    """An SES <ErrorResponse> as UTF-8 bytes.

    With a seed, whatever is not given is chosen at random, including
    leaving Type, Message or RequestId out, an empty <Message/> (which
    botocore reads as None) or an extra <Detail/>. Without a seed, what is
    not given is left out. None for any field also leaves it out."""
    rnd = random.Random("error:%s" % seed)
    pick = seed is not None

    def choose(value, gen):
        if value is not _OMIT:
            return value
        return gen() if pick else None

    code = choose(code, lambda: rnd.choice(error_codes()) if rnd.random() < 0.95 else None)
    message = choose(message, lambda: rnd.choice([
        None, "", "Email address is not verified. The following identities failed "
        "the check in region US-EAST-1: user@example.com",
        "Rate exceeded", " ".join(rnd.choice(_PIECES) for _ in range(3))]))
    type = choose(type, lambda: rnd.choice(["Sender", "Sender", "Receiver", None]))
    request_id = choose(request_id, lambda: _request_id(rnd) if rnd.random() < 0.9 else None)
    if detail is None:
        detail = pick and rnd.random() < 0.2
    if pretty is None:
        pretty = pick and rnd.random() < 0.5
    w = _Writer(rnd, pretty)
    w.parts.append('<ErrorResponse xmlns="%s">' % SES_XMLNS)
    w.open("Error", 1)
    for tag, value in (("Type", type), ("Code", code), ("Message", message)):
        if value is not None:
            w.leaf(tag, value, 2)
    if detail:
        w.empty("Detail", 2)
    w.close("Error", 1)
    if request_id is not None:
        w.leaf("RequestId", request_id, 1)
    w.close("ErrorResponse", 0)
    return "".join(w.parts).encode("utf-8")


def botocore_parse(model, op_name, xml, status=200, timestamp_parser=None):
    """What boto3 would return for this body (QueryParser.parse)."""
    shape = model.operation_model(op_name).output_shape if op_name else None
    parser = botocore.parsers.QueryParser(timestamp_parser=timestamp_parser)
    return parser.parse({"body": xml, "headers": {}, "status_code": status}, shape)


_HTTP_METADATA = ("HTTPStatusCode", "HTTPHeaders", "RetryAttempts", "MaxAttemptsReached")


def _convert(value, shape, raw):
    if shape is None or value is None:
        return value
    t = shape.type_name
    if t == "structure":
        return {k: _convert(v, shape.members[k], None if raw is None else raw.get(k))
                for k, v in value.items() if k in shape.members}
    if t == "list":
        return [_convert(v, shape.member, None if raw is None else raw[i])
                for i, v in enumerate(value)]
    if t == "map":
        return {k: _convert(v, shape.value, None if raw is None else raw[k])
                for k, v in value.items()}
    if t == "timestamp":
        if raw is None:
            raise ValueError("xmlgen: a timestamp needs the raw parse to recover SES's text")
        # The text must mean the datetime boto3 gives, or the raw parse
        # was not of the same body.
        assert botocore.parsers.DEFAULT_TIMESTAMP_PARSER(raw) == value, (raw, value)
        return raw
    if t == "blob":
        return base64.b64encode(value).decode("ascii")
    return value


def to_proxy_json(parsed, shape, raw=None):
    """botocore's parsed output -> the JSON ses-proxy gives for it.

    parsed: QueryParser().parse(...) of the body; shape: the op's output
    shape (None for an error document or an op without output); raw: the
    same body parsed with timestamp_parser=lambda s: s (needed only when
    the shape has timestamps)."""
    if shape is None:
        out = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    else:
        out = _convert({k: v for k, v in parsed.items() if k != "ResponseMetadata"},
                       shape, raw)
    meta = parsed.get("ResponseMetadata", {})
    out["ResponseMetadata"] = {k: v for k, v in meta.items() if k not in _HTTP_METADATA}
    return out


def expected_json(model, op_name, xml, status=200):
    """The JSON ses-proxy should give for this SES body (see module doc)."""
    parsed = botocore_parse(model, op_name, xml, status)
    if status >= 300:
        return to_proxy_json(parsed, None)
    raw = botocore_parse(model, op_name, xml, status, timestamp_parser=lambda s: s)
    return to_proxy_json(parsed, model.operation_model(op_name).output_shape, raw)


def canonical(obj):
    """A string form for strict comparison: 1, 1.0 and true all differ."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)
