"""sesgen - deterministic, valid SES parameters generated from botocore's model.

Used by the query oracle test (tests/integ/test_query_oracle.py) and by the
end-to-end tests through the proxy. Given botocore's loaded SES service model,
an operation name and a seed, it builds parameters that botocore's
ParamValidator and ses-proxy's validator both accept, in two forms:

    import botocore_models, sesgen
    model = botocore_models.service_model('ses')
    for_botocore, for_json = sesgen.generate(model, 'SendEmail', seed=7)

``for_botocore`` is what you pass to a boto3 client or botocore's serializer;
``for_json`` is what you send the proxy (json.dumps-able). They differ only
where JSON cannot carry the Python value, and always so that botocore
serializes both identically:

* blobs: ``bytes`` for botocore, the base64 text (``base64.b64encode``) for JSON;
* timestamps: a ``datetime`` for botocore; for JSON an ISO 8601 string
  (``Z``, a ``+HH:MM`` offset, microseconds or not) or whole epoch seconds.

Every required member is always present; each optional member with
probability ``p_optional``. Members are inserted in a shuffled order, since
the Query body follows the caller's order, not the shape's. Strings mix ASCII,
reserved characters (space & = + / % ~ * and the rest of printable ASCII, tab,
newline) and non-ASCII (e, 日本, an emoji); enums, min/max lengths, integer
ranges and list sizes are respected (lengths counted in code points, as
botocore does). Same (model, operation, seed) -> same parameters.

``mutations(model, op_name, seed)`` derives invalid variants from a valid
call (a required member removed, a value of the wrong JSON type, a bad enum,
an unknown member), for negative tests.
"""

import base64
import copy
import datetime
import random

__all__ = ["generate", "mutations", "Mutation", "STRING_POOL"]

# One entry is one code point, so len() of a generated string is its length.
STRING_POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" &=+/%~*-._")  # the characters the Query encoding must get right
    + list("!\"#$'(),:;<>?@[\\]^`{|}")
    + ["\t", "\n"]
    + ["\u00e9", "\u65e5", "\u672c", "\U0001F600", "\u00a0"]  # é 日 本 😀 nbsp
)

# Longest generated string / list unless the shape's minimum needs more.
MAX_STRING = 24
MAX_LIST = 3


class _Gen:
    def __init__(self, rng, p_optional):
        self.rng = rng
        self.p_optional = p_optional

    def value(self, shape, depth=0):
        """(botocore value, JSON value) for shape."""
        kind = shape.type_name
        return getattr(self, "_" + kind)(shape, depth)

    def _structure(self, shape, depth):
        required = set(shape.metadata.get("required", []))
        names = list(shape.members)
        self.rng.shuffle(names)
        bc, js = {}, {}
        for name in names:
            # Depth guard for recursive models (SES has none).
            p = self.p_optional if depth < 8 else 0.0
            if name in required or self.rng.random() < p:
                bc[name], js[name] = self.value(shape.members[name], depth + 1)
        return bc, js

    def _list(self, shape, depth):
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + MAX_LIST), lo + MAX_LIST)
        n = self.rng.randint(lo, hi)
        pairs = [self.value(shape.member, depth + 1) for _ in range(n)]
        return [b for b, _ in pairs], [j for _, j in pairs]

    def _map(self, shape, depth):
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + MAX_LIST), lo + MAX_LIST)
        bc, js = {}, {}
        for _ in range(self.rng.randint(lo, hi)):
            key, _ = self.value(shape.key, depth + 1)
            bc[key], js[key] = self.value(shape.value, depth + 1)
        return bc, js

    def _string(self, shape, depth):
        if shape.enum:
            v = self.rng.choice(shape.enum)
            return v, v
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + MAX_STRING), lo + MAX_STRING)
        n = self.rng.randint(lo, hi)
        v = "".join(self.rng.choice(STRING_POOL) for _ in range(n))
        return v, v

    def _integer(self, shape, depth):
        lo = shape.metadata.get("min", 0)
        hi = shape.metadata.get("max", lo + 1000)
        v = self.rng.randint(lo, hi)
        return v, v

    _long = _integer

    def _double(self, shape, depth):
        lo = shape.metadata.get("min", -1e6)
        hi = shape.metadata.get("max", 1e6)
        v = self.rng.uniform(lo, hi)
        return v, v

    _float = _double

    def _boolean(self, shape, depth):
        v = self.rng.random() < 0.5
        return v, v

    def _blob(self, shape, depth):
        if shape.name == "RawMessageData":
            # A raw message the proxy can read: it checks the header section
            # (sender fields, recipients) of every raw message.
            n = self.rng.randint(0, 3)
            to = ", ".join("r%d@example.net" % self.rng.randint(0, 99) for _ in range(n))
            head = "From: Sender <s%d@example.com>\r\n" % self.rng.randint(0, 99)
            head += ("To: %s\r\n" % to) if to else ""
            body = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 32)))
            data = (head + "Subject: t\r\n\r\n").encode("ascii") + body
            return data, base64.b64encode(data).decode("ascii")
        lo = shape.metadata.get("min", 0)
        hi = min(shape.metadata.get("max", lo + 48), lo + 48)
        data = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(lo, hi)))
        return data, base64.b64encode(data).decode("ascii")

    def _timestamp(self, shape, depth):
        utc = datetime.timezone.utc
        secs = self.rng.randint(0, 4102444800)  # 1970 .. 2100
        micro = self.rng.choice([0, 0, self.rng.randint(1, 999999)])
        dt = datetime.datetime.fromtimestamp(secs, utc).replace(microsecond=micro)
        form = self.rng.choice(["z", "offset", "epoch", "naive"])
        if form == "epoch" and micro == 0:
            return dt, secs
        if form == "offset":
            minutes = self.rng.choice([-570, -300, 60, 330, 840])
            tz = datetime.timezone(datetime.timedelta(minutes=minutes))
            local = dt.astimezone(tz)
            return local, local.isoformat()  # 2020-01-01T10:00:00[.ffffff]+05:30
        if form == "naive":
            # botocore assumes UTC for a naive datetime, the proxy for no offset.
            naive = dt.replace(tzinfo=None)
            return naive, naive.isoformat()
        return dt, dt.strftime("%Y-%m-%dT%H:%M:%S") + (".%06d" % micro if micro else "") + "Z"


def generate(model, op_name, seed, p_optional=0.6):
    """Valid parameters for op_name: (params_for_botocore, params_for_json).

    model: botocore.model.ServiceModel for 'ses' (any query service works);
    op_name: the SES operation name ('SendEmail'); seed: any int. An
    operation without an input shape gets ({}, {}).
    """
    op = model.operation_model(op_name)
    if op.input_shape is None:
        return {}, {}
    rng = random.Random("%s/%s" % (op_name, seed))
    return _Gen(rng, p_optional).value(op.input_shape)


class Mutation:
    """One invalid variant of a valid call.

    kind: 'missing', 'type', 'enum' or 'unknown'; path: the parameter's path
    as ses-proxy names it ('Destination.ToAddresses[2]'); for_botocore /
    for_json: the invalid parameters in both forms.
    """

    def __init__(self, kind, path, for_botocore, for_json):
        self.kind = kind
        self.path = path
        self.for_botocore = for_botocore
        self.for_json = for_json

    def __repr__(self):
        return "Mutation(%s, %s)" % (self.kind, self.path)


def _walk(shape, bc, js, path):
    """Yields (shape, parent_bc, parent_js, key, path) for every present value."""
    if shape.type_name == "structure":
        for name in list(js):
            sub = path + ("." if path else "") + name
            yield shape.members[name], bc, js, name, sub
            yield from _walk(shape.members[name], bc[name], js[name], sub)
    elif shape.type_name == "list":
        for i in range(len(js)):
            sub = "%s[%d]" % (path, i)
            yield shape.member, bc, js, i, sub
            yield from _walk(shape.member, bc[i], js[i], sub)
    elif shape.type_name == "map":
        for k in list(js):
            sub = "%s.%s" % (path, k)
            yield shape.value, bc, js, k, sub
            yield from _walk(shape.value, bc[k], js[k], sub)


def _wrong_value(shape):
    """A JSON value of the wrong type for shape, that botocore also refuses."""
    kind = shape.type_name
    if kind in ("string", "blob"):
        return 12345
    if kind in ("integer", "long", "boolean"):
        return "7"
    if kind == "timestamp":
        return [1]
    if kind in ("structure", "map"):
        return ["not", "an", "object"]
    if kind == "list":
        return "not a list"
    return None


def mutations(model, op_name, seed):
    """Invalid variants of generate(model, op_name, seed): a list of Mutation.

    One of each kind where the operation allows it: a required member
    removed (path of that member), a value of the wrong type, an enum value
    that is not in the enum, an unknown member at the top level. botocore's
    ParamValidator refuses all but 'enum' (it never checks enums).
    """
    bc, js = generate(model, op_name, seed, p_optional=1.0)
    op = model.operation_model(op_name)
    rng = random.Random("mutations/%s/%s" % (op_name, seed))
    out = []
    shape = op.input_shape
    if shape is None:
        out.append(Mutation("unknown", "Bogus", {"Bogus": 1}, {"Bogus": 1}))
        return out
    sites = list(_walk(shape, bc, js, ""))

    # (parent path, member) of every required member present in the call.
    required = [("", name) for name in shape.metadata.get("required", [])]
    for sub_shape, _, _, _, path in sites:
        if sub_shape.type_name == "structure":
            required += [(path, name) for name in sub_shape.metadata.get("required", [])]
    if required:
        parent_path, name = rng.choice(required)
        mbc, mjs = copy.deepcopy(bc), copy.deepcopy(js)
        _container(shape, mbc, parent_path).pop(name)
        _container(shape, mjs, parent_path).pop(name)
        full = parent_path + ("." if parent_path else "") + name
        out.append(Mutation("missing", full, mbc, mjs))

    typed = [s for s in sites if _wrong_value(s[0]) is not None]
    if typed:
        sub_shape, _, _, key, path = rng.choice(typed)
        mbc, mjs = copy.deepcopy(bc), copy.deepcopy(js)
        bad = _wrong_value(sub_shape)
        parent = _parent(path, key)
        _container(shape, mbc, parent)[key] = copy.deepcopy(bad)
        _container(shape, mjs, parent)[key] = copy.deepcopy(bad)
        out.append(Mutation("type", path, mbc, mjs))

    enums = [s for s in sites if s[0].type_name == "string" and s[0].enum]
    if enums:
        _, _, _, key, path = rng.choice(enums)
        mbc, mjs = copy.deepcopy(bc), copy.deepcopy(js)
        parent = _parent(path, key)
        _container(shape, mbc, parent)[key] = "NotAnEnumValue"
        _container(shape, mjs, parent)[key] = "NotAnEnumValue"
        out.append(Mutation("enum", path, mbc, mjs))

    mbc, mjs = copy.deepcopy(bc), copy.deepcopy(js)
    mbc["BogusMember"] = "x"
    mjs["BogusMember"] = "x"
    out.append(Mutation("unknown", "BogusMember", mbc, mjs))
    return out


def _parent(path, key):
    """Path of the container holding key (an index for lists) at path."""
    if isinstance(key, int):
        return path[: path.rfind("[")]
    return path[: max(path.rfind("."), 0)]


def _container(shape, params, path):
    """The dict or list at path ('' = params itself) inside params."""
    cur = params
    if not path:
        return cur
    i = 0
    while i < len(path):
        if path[i] == "[":
            j = path.index("]", i)
            cur = cur[int(path[i + 1 : j])]
            i = j + 1
        else:
            if path[i] == ".":
                i += 1
            j = i
            while j < len(path) and path[j] not in ".[":
                j += 1
            cur = cur[path[i:j]]
            i = j
    return cur
