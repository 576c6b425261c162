"""sesv2gen - deterministic SES v2 (REST-JSON) calls and answers from botocore's model.

Used by tests/integ/test_restjson_oracle.py, which holds api/restjson*.c to
botocore. Everything here is driven by a botocore ServiceModel ('sesv2' from
botocore_models, or the synthetic REST-JSON service of
tests/unit/api/restjson_model/service-2.json) and a seed; nothing runs at
import time. Same (model, operation, seed) -> same output.

Calls:

    bc, js = sesv2gen.params(model, "SendEmail", seed=3)

``bc`` is what botocore's serializer takes, ``js`` what the proxy takes as
JSON; they differ only where JSON cannot carry the Python value, always so
that botocore serializes both the same: blobs are bytes / base64 text;
timestamps are a datetime / an ISO 8601 string (Z, an offset, no offset,
microseconds or not) or epoch seconds (an integer, or a float whose datetime
is the one botocore gets). Required members are always there, optional ones
with probability p_optional, inserted in a shuffled order (REST-JSON bodies
and query strings follow the caller's order). Strings mix ASCII, reserved
characters, non-ASCII and astral characters, within min/max (in code
points); URI labels are never empty, "." or ".."; header values are
printable ASCII without edge blanks; numbers include negatives, floats with
long and short reprs and exponents, whole floats (5.0) and ints for doubles.
A raw message (Content.Raw.Data) is a MIME message (raw_message), as SES and
the proxy, which reads every raw message's header section, require.

    want = sesv2gen.wire_params(op_model, bc)

is the call as the wire carries it back (what the proxy's request parser
must read from botocore's request): timestamps in the normal form of
api/restjson_time.h (body ones as whole epoch seconds, header ones cut to
seconds), blobs as base64, empty query lists gone.

Answers:

    body, headers = sesv2gen.answer(model, "GetAccount", seed=3)

is a JSON document SES could send for the output shape (bytes, with
numbers written by hand so timestamps come as integers, fractions and
exponents, e.g. 1.7e9 or 1700000000.125), with header fields for the
synthetic model's located members and an x-amzn-RequestId.

    status, headers, body = sesv2gen.error_answer(seed)

is an error answer in one of the forms SES and botocore know (an
x-amzn-ErrorType field, a "__type" with a namespace, "code"/"Code", a
generic 5xx, a body that is not JSON, an x-amzn-query-error field).

    sesv2gen.to_proxy(parsed)

turns botocore's parse into the proxy's JSON: datetimes as
"YYYY-MM-DDTHH:MM:SS[.ffffff]Z", bytes as base64, ResponseMetadata without
HTTPStatusCode and HTTPHeaders.
"""

import base64
import calendar
import datetime
import json
import random
import string

__all__ = ["params", "wire_params", "answer", "error_answer", "to_proxy", "iso", "raw_message",
           "STRING_POOL"]

UTC = datetime.timezone.utc

# One entry is one code point.
STRING_POOL = (
    list(string.ascii_letters + string.digits)
    + list(" &=+/%~*-._?#[]@!$'(),;:")
    + list("\"\\<>^`{|}")
    + ["\t", "\n", "\x01", "\x7f"]
    + ["\u00e9", "\u65e5", "\u672c", "\U0001F600", "\u00a0", "\u2028"]
)
# What a header value may hold (api/restjson.h): printable ASCII.
HEADER_POOL = list(string.ascii_letters + string.digits + " !#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"")
TOKEN_POOL = list(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")

MAX_STRING = 20
MAX_LIST = 3

# Blob shapes that hold a whole MIME message (SendEmail's Content.Raw.Data):
# SES reads them as mail, and so does the proxy (every raw message's header
# section, for the policy and the recipients), so random bytes will not do.
RAW_MESSAGE_SHAPES = ("RawMessageData",)
_ATOM = string.ascii_lowercase + string.digits + "_+-"


def _address(rng):
    """A dot-atom address: atoms joined by single dots."""
    local = ".".join("".join(rng.choice(_ATOM) for _ in range(rng.randint(1, 5)))
                     for _ in range(rng.randint(1, 3)))
    domain = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 8)))
    return "%s@%s.%s" % (local, domain, rng.choice(["com", "example", "org"]))


def raw_message(rng):
    """A MIME message as bytes: one From, 1 to 3 To, maybe Cc and Bcc
    (at most 9 recipients), a Subject in ASCII or as an RFC 2047 encoded
    word, a text/plain or multipart/mixed body with a binary attachment;
    line endings all CRLF or all LF."""
    eol = rng.choice([b"\r\n", b"\n"])
    name = rng.choice(["", "Sender ", '"Doe, J" '])
    fields = [("From", "%s<%s>" % (name, _address(rng)) if name else _address(rng)),
              ("To", ", ".join(_address(rng) for _ in range(rng.randint(1, 3))))]
    for key in ("Cc", "Bcc"):
        if rng.random() < 0.5:
            fields.append((key, ", ".join(_address(rng) for _ in range(rng.randint(1, 3)))))
    text = "".join(rng.choice(STRING_POOL[:62] + [" ", "\u00e9", "\u65e5"])
                   for _ in range(rng.randint(0, 30)))
    if rng.random() < 0.5:
        subject = "=?utf-8?b?%s?=" % base64.b64encode(text.encode("utf-8")).decode("ascii")
    else:
        subject = text.encode("ascii", "ignore").decode("ascii").strip() or "s"
    fields += [("Subject", subject), ("MIME-Version", "1.0")]
    body_text = base64.encodebytes(text.encode("utf-8"))
    if rng.random() < 0.5:
        fields.append(("Content-Type", "text/plain; charset=utf-8"))
        fields.append(("Content-Transfer-Encoding", "base64"))
        body = body_text
    else:
        boundary = "b%08x" % rng.getrandbits(32)
        fields.append(("Content-Type", 'multipart/mixed; boundary="%s"' % boundary))
        attachment = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60)))
        body = b"".join([
            b"--%s\n" % boundary.encode(),
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n",
            body_text,
            b"--%s\n" % boundary.encode(),
            b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            b'Content-Disposition: attachment; filename="a.bin"\n\n',
            base64.encodebytes(attachment),
            b"--%s--\n" % boundary.encode()])
    rng.shuffle(fields)
    head = b"".join(b"%s: %s\n" % (k.encode("ascii"), v.encode("ascii")) for k, v in fields)
    return (head + b"\n" + body).replace(b"\n", eol)


def iso(dt):
    """The proxy's normal form of an aware datetime (api/restjson_time.h)."""
    dt = dt.astimezone(UTC)
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % (dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                             dt.second)
    if dt.microsecond:
        text += ".%06d" % dt.microsecond
    return text + "Z"


class _Gen:
    def __init__(self, rng, p_optional):
        self.rng = rng
        self.p_optional = p_optional

    def value(self, shape, depth=0, where="body"):
        """(botocore value, JSON value) for shape; where is body, uri,
        greedy, query, header or headers (a header map's value)."""
        return getattr(self, "_" + shape.type_name)(shape, depth, where)

    def _structure(self, shape, depth, where):
        required = set(shape.metadata.get("required", []))
        names = list(shape.members)
        self.rng.shuffle(names)
        bc, js = {}, {}
        for name in names:
            member = shape.members[name]
            p = self.p_optional if depth < 10 else 0.0
            if name in required or self.rng.random() < p:
                loc = member.serialization.get("location") if depth == 0 else None
                where = {"uri": "uri", "querystring": "query", "header": "header",
                         "headers": "headers"}.get(loc, "body")
                if where == "uri" and self._greedy(shape, name):
                    where = "greedy"
                if where == "query" and name in required and member.type_name == "list":
                    # botocore writes nothing for an empty list: a required
                    # one would not come back
                    where = "query-required"
                if member.serialization.get("jsonvalue"):
                    doc = self.rng.choice([{"a": [1, 2.5, None], "é": "😀"}, "text", 7, [True]])
                    bc[name], js[name] = doc, doc
                    continue
                bc[name], js[name] = self.value(member, depth + 1, where)
        return bc, js

    def _greedy(self, shape, name):
        uri = getattr(self, "request_uri", "")
        label = shape.members[name].serialization.get("name", name)
        return "{%s+}" % label in uri

    def _list(self, shape, depth, where):
        lo = shape.metadata.get("min", 0)
        if where == "query-required":
            lo, where = max(lo, 1), "query"
        if where == "query" and lo == 0:
            lo = self.rng.choice([0, 1, 1])
        hi = min(shape.metadata.get("max", lo + MAX_LIST), lo + MAX_LIST)
        n = self.rng.randint(lo, hi)
        item_where = "query" if where == "query" else "body"
        pairs = [self.value(shape.member, depth + 1, item_where) for _ in range(n)]
        return [b for b, _ in pairs], [j for _, j in pairs]

    def _map(self, shape, depth, where):
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + MAX_LIST), lo + MAX_LIST)
        bc, js = {}, {}
        seen = set()
        for _ in range(self.rng.randint(lo, hi)):
            if where == "headers":
                key = "".join(self.rng.choice(TOKEN_POOL) for _ in range(self.rng.randint(1, 8)))
                if key.lower() in seen:
                    continue
                seen.add(key.lower())
                bc[key], js[key] = self.value(shape.value, depth + 1, "header")
                continue
            key, _ = self.value(shape.key, depth + 1, "body")
            if where == "query":
                # a query map's key must not be another query member's
                key = "m." + key
            bc[key], js[key] = self.value(shape.value, depth + 1,
                                          "query" if where == "query" else "body")
        return bc, js

    def _text(self, pool, lo, hi):
        n = self.rng.randint(lo, hi)
        return "".join(self.rng.choice(pool) for _ in range(n))

    def _string(self, shape, depth, where):
        if shape.enum:
            v = self.rng.choice(shape.enum)
            return v, v
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + MAX_STRING), lo + MAX_STRING)
        if where in ("uri", "greedy"):
            lo = max(lo, 1)
            while True:
                v = self._text(STRING_POOL, lo, max(hi, lo))
                if where == "greedy":
                    ok = all(seg not in ("", ".", "..") for seg in v.split("/"))
                else:
                    ok = v not in (".", "..")
                if ok:
                    return v, v
        if where in ("header", "headers"):
            while True:
                v = self._text(HEADER_POOL, lo, hi)
                if v == v.strip(" "):
                    return v, v
        v = self._text(STRING_POOL, lo, hi)
        return v, v

    def _integer(self, shape, depth, where):
        lo = shape.metadata.get("min", -1000)
        hi = shape.metadata.get("max", lo + 100000)
        v = self.rng.choice([lo, hi, self.rng.randint(lo, hi), self.rng.randint(lo, hi)])
        return v, v

    def _long(self, shape, depth, where):
        lo = shape.metadata.get("min", -(2 ** 62))
        hi = shape.metadata.get("max", 2 ** 62)
        small = self.rng.randint(max(lo, 0), min(hi, 10 ** 6)) if hi >= 0 else hi
        v = self.rng.choice([lo, hi, self.rng.randint(lo, hi), small])
        return v, v

    def _double(self, shape, depth, where):
        lo = shape.metadata.get("min", -1e6)
        hi = shape.metadata.get("max", 1e6)
        form = self.rng.choice(["uniform", "short", "whole", "int", "tiny", "huge"])
        if form == "short":
            v = round(self.rng.uniform(lo, hi), 3)  # 862.039
        elif form == "whole":
            v = float(self.rng.randint(int(lo), int(hi)))  # 5.0
        elif form == "int":
            v = self.rng.randint(int(lo), int(hi))  # a JSON integer for a double
        elif form == "tiny" and lo <= 0 <= hi:
            v = self.rng.uniform(-1e-5, 1e-5) * 10 ** -self.rng.randint(0, 300)
        elif form == "huge" and "max" not in shape.metadata:
            v = self.rng.uniform(1, 10) * 10 ** self.rng.randint(16, 300)
        else:
            v = self.rng.uniform(lo, hi)
        return v, v

    _float = _double

    def _boolean(self, shape, depth, where):
        v = self.rng.random() < 0.5
        return v, v

    def _blob(self, shape, depth, where):
        if shape.name in RAW_MESSAGE_SHAPES:
            data = raw_message(self.rng)
            return data, base64.b64encode(data).decode("ascii")
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + 40), lo + 40)
        data = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(lo, hi)))
        return data, base64.b64encode(data).decode("ascii")

    def _timestamp(self, shape, depth, where):
        secs = self.rng.randint(0, 4102444800)  # 1970 .. 2100
        micro = self.rng.choice([0, 0, self.rng.randint(1, 999999)])
        dt = datetime.datetime.fromtimestamp(secs, UTC).replace(microsecond=micro)
        form = self.rng.choice(["z", "offset", "epoch", "epochf", "naive"])
        if form == "epoch" or (form == "epochf" and micro == 0):
            return dt.replace(microsecond=0), secs
        if form == "epochf":
            f = secs + micro / 1e6
            # the datetime botocore makes of that float, whatever it rounded to
            return datetime.datetime.fromtimestamp(f, UTC), f
        if form == "offset":
            minutes = self.rng.choice([-570, -300, 60, 330, 840])
            local = dt.astimezone(datetime.timezone(datetime.timedelta(minutes=minutes)))
            return local, local.isoformat()
        if form == "naive":
            naive = dt.replace(tzinfo=None)
            return naive, naive.isoformat()
        return dt, dt.strftime("%Y-%m-%dT%H:%M:%S") + (".%06d" % micro if micro else "") + "Z"


def params(model, op_name, seed, p_optional=0.6):
    """Valid parameters for op_name: (for botocore, for JSON)."""
    op = model.operation_model(op_name)
    if op.input_shape is None:
        return {}, {}
    gen = _Gen(random.Random("v2/%s/%s" % (op_name, seed)), p_optional)
    gen.request_uri = op.http.get("requestUri", "")
    return gen.value(op.input_shape)


# ---- the wire's view of a call -------------------------------------------------

def _aware(value):
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _wire_value(shape, value, where):
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        out = {}
        for name, v in value.items():
            w = _wire_value(shape.members[name], v, "body")
            if w is not None:
                out[name] = w
        return out
    if kind == "list":
        return [_wire_value(shape.member, v, where) for v in value]
    if kind == "map":
        return {k: _wire_value(shape.value, v, where) for k, v in value.items()}
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    if kind == "timestamp":
        dt = _aware(value)
        fmt = shape.serialization.get("timestampFormat")
        if fmt is None:
            fmt = {"body": "unixTimestamp", "query": "iso8601", "header": "rfc822"}[where]
        if fmt == "unixTimestamp":
            return calendar.timegm(dt.timetuple())
        if where == "header" or fmt == "rfc822":
            dt = dt.replace(microsecond=0)
        return iso(dt)
    return value


def wire_params(op_model, bc):
    """What the proxy's request parser must read back from botocore's
    request for bc (see the module's docstring)."""
    shape = op_model.input_shape
    if shape is None:
        return {}
    out = {}
    for name, v in bc.items():
        member = shape.members[name]
        loc = member.serialization.get("location")
        where = {"querystring": "query", "header": "header"}.get(loc, "body")
        if loc == "querystring" and member.type_name == "list" and not v:
            continue  # botocore writes nothing for an empty list
        if loc == "querystring" and member.type_name == "map":
            v = {k: x for k, x in v.items() if not (isinstance(x, list) and not x)}
            if not v:
                continue
        if loc == "headers" and not v:
            continue
        if shape.serialization.get("payload") == name and not v:
            continue  # "{}" is the body of an absent payload too
        out[name] = _wire_value(member, v, where)
    return out


# ---- answers ---------------------------------------------------------------------

class _Raw:
    """A number written as given (the notation is what is tested)."""

    def __init__(self, text):
        self.text = text


def _dump(value, rng):
    """JSON text of value with _Raw numbers, separators varying."""
    sep, colon = rng.choice([(",", ":"), (", ", ": "), (",\n  ", " : ")])
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + sep.join(json.dumps(k) + colon + _dump(v, rng) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + sep.join(_dump(v, rng) for v in value) + "]"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _epoch_text(rng):
    secs = rng.randint(0, 4102444800)
    form = rng.choice(["int", "frac", "frac3", "exp", "expfrac", "negexp"])
    if form == "int":
        return str(secs)
    if form == "frac":
        return "%d.%06d" % (secs, rng.randint(0, 999999))
    if form == "frac3":
        return "%d.%03d" % (secs, rng.randint(0, 999))
    if form == "exp":
        return "%.9e" % secs  # 1.700000000e+09
    if form == "expfrac":
        return ("%.12E" % (secs + rng.randint(0, 999) / 1000)).replace("E+", "E")
    return "%de-3" % (secs * 1000 + rng.randint(0, 999))  # 1700000000123e-3


def _number_text(shape, rng):
    kind = shape.type_name
    lo = shape.metadata.get("min")
    hi = shape.metadata.get("max")
    if kind in ("integer", "long"):
        lo = -1000 if lo is None else lo
        hi = (2 ** 31 - 1 if kind == "integer" else 2 ** 62) if hi is None else hi
        return str(rng.choice([lo, hi, rng.randint(lo, hi), 0]))
    lo = -1e6 if lo is None else lo
    hi = 1e6 if hi is None else hi
    form = rng.choice(["repr", "short", "int", "exp", "whole"])
    v = rng.uniform(lo, hi)
    if form == "short":
        return "%.3f" % v
    if form == "int":
        return str(int(v))
    if form == "exp":
        return "%.6e" % v
    if form == "whole":
        return "%d.0" % int(v)
    return repr(v)


class _Answer:
    def __init__(self, rng):
        self.rng = rng

    def value(self, shape, depth):
        kind = shape.type_name
        rng = self.rng
        if kind == "structure":
            out = {}
            names = list(shape.members)
            rng.shuffle(names)
            for name in names:
                member = shape.members[name]
                if member.serialization.get("location"):
                    continue
                if depth < 4 and rng.random() < 0.7:
                    key = member.serialization.get("name", name)
                    out[key] = self.value(member, depth + 1)
                elif rng.random() < 0.1:
                    out[member.serialization.get("name", name)] = None  # absent to botocore
            if rng.random() < 0.2:
                out["SomethingNewer"] = {"x": [1, "two"]}  # unknown: ignored
            return out
        if kind == "list":
            return [self.value(shape.member, depth + 1) for _ in range(rng.randint(0, MAX_LIST))]
        if kind == "map":
            return {"k%d%s" % (i, rng.choice(["", "é", " x"])): self.value(shape.value, depth + 1)
                    for i in range(rng.randint(0, MAX_LIST))}
        if kind == "string":
            if shape.enum:
                return rng.choice(shape.enum)
            return "".join(rng.choice(STRING_POOL) for _ in range(rng.randint(0, MAX_STRING)))
        if kind == "boolean":
            return rng.random() < 0.5
        if kind in ("integer", "long", "double", "float"):
            return _Raw(_number_text(shape, rng))
        if kind == "timestamp":
            return _Raw(_epoch_text(rng))
        if kind == "blob":
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 30)))
            return base64.b64encode(data).decode("ascii")
        raise ValueError(kind)


def _http_date(secs):
    return datetime.datetime.fromtimestamp(secs, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def answer(model, op_name, seed):
    """(body bytes, [[name, value], ...]) of a success answer to op_name."""
    rng = random.Random("v2answer/%s/%s" % (op_name, seed))
    op = model.operation_model(op_name)
    shape = op.output_shape
    headers = [["x-amzn-RequestId", "%08x-%04x" % (rng.getrandbits(32), rng.getrandbits(16))]]
    if rng.random() < 0.3:
        headers.append(["Content-Type", "application/json"])
    if shape is None:
        return b"", headers
    gen = _Answer(rng)
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc == "header" and rng.random() < 0.8:
            kind = member.type_name
            if member.serialization.get("jsonvalue"):
                doc = rng.choice([{"a": [1, 2.5, None]}, "text", 7, ["é", {"b": True}]])
                raw = json.dumps(doc).encode("utf-8")
                headers.append([wire, base64.b64encode(raw).decode("ascii")])
            elif kind == "timestamp":
                secs = rng.randint(0, 4102444800)
                fmt = member.serialization.get("timestampFormat", "rfc822")
                headers.append([wire, str(secs) if fmt == "unixTimestamp" else _http_date(secs)])
            elif kind in ("integer", "long"):
                headers.append([wire, str(rng.randint(-10 ** 6, 10 ** 6))])
            else:
                headers.append([wire, "".join(rng.choice(HEADER_POOL)
                                              for _ in range(rng.randint(0, 12))).strip()])
        elif loc == "headers":
            for i in range(rng.randint(0, 3)):
                headers.append([wire + rng.choice(["k", "Key", "x-%d" % i]) + str(i),
                                "v%d" % rng.randint(0, 99)])
    if payload is not None:
        body = gen.value(shape.members[payload], 1)
    else:
        body = gen.value(shape, 0)
    text = "" if not body and rng.random() < 0.3 else _dump(body, rng)
    return text.encode("utf-8"), headers


_ERROR_CODES = ["BadRequestException", "NotFoundException", "TooManyRequestsException",
                "LimitExceededException", "AccountSuspendedException", "MessageRejected",
                "SendingPausedException", "InternalServiceErrorException",
                "ConcurrentModificationException"]


def error_answer(seed):
    """(status, [[name, value], ...], body bytes) of an error answer."""
    rng = random.Random("v2error/%s" % seed)
    code = rng.choice(_ERROR_CODES)
    status = rng.choice([400, 403, 404, 409, 429, 500, 503])
    message = "".join(rng.choice(STRING_POOL) for _ in range(rng.randint(0, 30)))
    headers = [["x-amzn-RequestId", "req-%d" % rng.randint(0, 10 ** 9)]]
    form = rng.choice(["errortype", "type", "type-plain", "code", "Code", "generic-empty",
                       "generic-html", "not-json", "query-error", "empty", "errortype-type",
                       "Message", "no-message"])
    body = {}
    if form == "errortype":
        headers.append(["x-amzn-ErrorType", code + ":http://internal.amazon.com/coral/"
                        "com.amazonaws.sesv2/"])
        body = {"message": message}
    elif form == "errortype-type":
        headers.append(["X-Amzn-Errortype", code])
        body = {"__type": "com.amazonaws.sesv2#Other", "message": message, "code": "Ignored"}
    elif form == "type":
        body = {"__type": "com.amazonaws.sesv2.v20190927#" + code, "message": message}
    elif form == "type-plain":
        body = {"__type": code, "Message": message}
    elif form == "code":
        body = {"code": code, "message": message, "__type": "x#Shadowed"}
    elif form == "Code":
        body = {"Code": code, "message": message}
    elif form == "Message":
        body = {"__type": code, "Message": message, "message": message + "!"}
    elif form == "no-message":
        body = {"__type": code}
    elif form == "query-error":
        headers.append(["x-amzn-query-error", code + ";Sender"])
        body = {"__type": "x#Other", "message": message}
    if form == "generic-empty":
        status = rng.choice([500, 502, 503, 504, 599])
        return status, headers, rng.choice([b"", b"  \n"])
    if form == "generic-html":
        status = rng.choice([500, 502, 503])
        return status, headers, b"\n<html><body>Service Unavailable</body></html>"
    if form == "not-json":
        return rng.choice([400, 403, 502]), headers, ("oops: " + message).encode("utf-8")
    if form == "empty":
        return status, headers, b""
    return status, headers, _dump(body, rng).encode("utf-8")


# ---- botocore's parse as the proxy writes it ------------------------------------

def to_proxy(value):
    """botocore's parsed answer in the proxy's JSON form."""
    if isinstance(value, dict):
        out = {k: to_proxy(v) for k, v in value.items()}
        meta = out.get("ResponseMetadata")
        if isinstance(meta, dict):
            meta.pop("HTTPStatusCode", None)
            meta.pop("HTTPHeaders", None)
        return out
    if isinstance(value, list):
        return [to_proxy(v) for v in value]
    if isinstance(value, datetime.datetime):
        return iso(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
