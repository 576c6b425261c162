"""Verify an incoming SigV4a (AWS4-ECDSA-P256-SHA256) request, as SES would.

For stand-in servers: ``verify_sigv4a(method, path, query, headers, body,
creds)`` returns None when the request's Authorization header is a valid
SigV4a signature by ``creds``, or a short string saying why it is not.

It shares nothing with the proxy's C signer: the ECDSA P-256 key is derived
here from the access key id and secret (the NIST SP 800-108 counter-mode
HMAC-SHA256 KDF as aws-c-auth's source/key_derivation.c runs it), the
canonical request is built here from the AWS SigV4 rules (as aws-c-auth
applies them, and as tests/data/sigv4/README.md describes), and the signature
is checked with python3-cryptography.

Only the standard library and cryptography (Debian's python3-cryptography)
are used.
"""

import datetime
import fnmatch
import functools
import hashlib
import hmac
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "AWS4-ECDSA-P256-SHA256"
TIME_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW_S = 300
# The order of P-256 (SEC 2, secp256r1).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SPACE_RUN = re.compile(r"[ \t\r\n\v\f]+")
_HEX = re.compile(r"[0-9a-fA-F]{2}")


def derive_private_key(access_key_id, secret_access_key):
    """The SigV4a private scalar (an int in [1, n-1]) for a key pair.

    HMAC-SHA256 keyed with "AWS4A"+secret over
    [1]_32 || "AWS4-ECDSA-P256-SHA256" || 0x00 || access key id || counter
    || [256]_32; a candidate above n-2 moves to the next counter, and the
    key is candidate + 1.
    """
    key = b"AWS4A" + secret_access_key.encode("utf-8")
    for counter in range(1, 255):
        fixed = (b"\x00\x00\x00\x01" + ALGORITHM.encode("ascii") + b"\x00"
                 + access_key_id.encode("utf-8") + bytes([counter])
                 + b"\x00\x00\x01\x00")
        candidate = int.from_bytes(
            hmac.new(key, fixed, hashlib.sha256).digest(), "big")
        if candidate <= P256_N - 2:
            return candidate + 1
    raise ValueError("no SigV4a key within 254 counters")


@functools.lru_cache(maxsize=64)
def public_key(access_key_id, secret_access_key):
    """The SigV4a public key (cryptography's EllipticCurvePublicKey)."""
    d = derive_private_key(access_key_id, secret_access_key)
    return ec.derive_private_key(d, ec.SECP256R1()).public_key()


def public_key_xy(access_key_id, secret_access_key):
    """(X, Y) of the public key as 64-digit lowercase hex strings."""
    nums = public_key(access_key_id, secret_access_key).public_numbers()
    return "%064x" % nums.x, "%064x" % nums.y


# ---- the canonical request ----

def _encode(raw):
    """Percent-encode bytes with the RFC 3986 unreserved set, %XX uppercase."""
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b for b in raw)


def _decode(text):
    """Bytes of a raw query part: valid %XX escapes decoded, everything
    else (a '+', a stray '%') standing for itself."""
    raw = _bytes(text)
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i:i + 1] == b"%" and _HEX.fullmatch(raw[i + 1:i + 3].decode("latin-1")):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def _bytes(text):
    return text if isinstance(text, bytes) else (text or "").encode("utf-8")


def canonical_uri(path, normalize=True):
    """Path as sent (str as UTF-8, or bytes), not decoded first, so '%'
    becomes %25; optionally with empty and '.' segments dropped and '..'
    removing the previous one (a trailing '/' stays)."""
    path = _bytes(path)
    if not path:
        return "/"
    if normalize:
        segments = []
        for seg in path.split(b"/"):
            if seg in (b"", b"."):
                continue
            if seg == b"..":
                if segments:
                    segments.pop()
                continue
            segments.append(seg)
        trailing = b"/" if segments and path.endswith(b"/") else b""
        path = b"/" + b"/".join(segments) + trailing
    return "/".join(_encode(seg) for seg in path.split(b"/"))


def canonical_query(query):
    pairs = []
    for part in _bytes(query).split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        pairs.append((_encode(_decode(key)), _encode(_decode(value))))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_request(method, path, query, headers, signed_headers,
                      payload_hash, normalize=True):
    """The canonical request over the headers named in signed_headers.

    headers: (name, value) pairs in arrival order; repeated names are joined
    with ',' in that order, values trimmed with inner whitespace collapsed.
    """
    values = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(
            _SPACE_RUN.sub(" ", value).strip(" "))
    lines = ["%s:%s" % (name, ",".join(values[name])) for name in signed_headers]
    return "\n".join([
        method,
        canonical_uri(path, normalize),
        canonical_query(query),
        "\n".join(lines) + "\n",
        ";".join(signed_headers),
        payload_hash,
    ])


def string_to_sign(amz_date, scope, canonical):
    return "\n".join([ALGORITHM, amz_date, scope,
                      hashlib.sha256(canonical.encode("utf-8")).hexdigest()])


# ---- the verdict ----

def _parse_authorization(value):
    algo, _, rest = value.strip().partition(" ")
    if algo != ALGORITHM:
        return None
    parts = {}
    for item in rest.split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    if not all(parts.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
        return None
    return parts


def _region_covered(region, region_set):
    return any(fnmatch.fnmatchcase(region, pattern)
               for pattern in region_set.split(","))


def verify_sigv4a(method, path, query, headers, body, creds, service="ses",
                  region=None, now=None, max_skew_s=MAX_SKEW_S,
                  normalize=True, token_must_be_signed=True):
    """None if the request carries a valid SigV4a signature, else why not.

    method, path (as sent, without '?'; str or bytes), query (raw, without
    '?', or None; str or bytes),
    headers: (name, value) pairs in arrival order, body: bytes.
    creds: an object with access_key, secret_key and token (None for none),
    like botocore's Credentials. service: the signing name the scope must
    have. region: when given, the region set must cover it ("*", a list,
    wildcard parts). now: a naive UTC datetime for the clock-skew check
    (default: the wall clock); max_skew_s None skips the check.
    normalize: False for S3-style paths. token_must_be_signed: SES refuses a
    token that is sent but not signed; False accepts one (as STS does).
    """
    by_name = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)

    def one(name):
        vals = by_name.get(name)
        return vals[0] if vals else None

    auth = by_name.get("authorization")
    if not auth:
        return "no Authorization header"
    if len(auth) > 1:
        return "more than one Authorization header"
    parts = _parse_authorization(auth[0])
    if parts is None:
        return "Authorization is not %s with Credential, SignedHeaders and Signature" % ALGORITHM
    cred = parts["Credential"].split("/")
    if len(cred) != 4 or cred[3] != "aws4_request":
        return "Credential is not <key id>/<date>/<service>/aws4_request"
    akid, sdate, sservice, _ = cred
    if akid != creds.access_key:
        return "unknown access key id"
    if sservice != service:
        return "scope names service %r, not %r" % (sservice, service)

    amz_date = one("x-amz-date")
    if amz_date is None:
        return "no X-Amz-Date header"
    try:
        when = datetime.datetime.strptime(amz_date, TIME_FORMAT)
    except ValueError:
        return "X-Amz-Date is not YYYYMMDDTHHMMSSZ"
    if sdate != amz_date[:8]:
        return "scope date is not X-Amz-Date's"
    if max_skew_s is not None:
        now = now or datetime.datetime.utcnow()
        if abs((when - now).total_seconds()) > max_skew_s:
            return "X-Amz-Date is more than %d s from now" % max_skew_s

    region_set = one("x-amz-region-set")
    if region_set is None:
        return "no X-Amz-Region-Set header"
    if region is not None and not _region_covered(region, region_set):
        return "region set %r does not cover %s" % (region_set, region)

    token = one("x-amz-security-token")
    if (token or None) != (creds.token or None):
        return "security token is not the expected one"

    signed = parts["SignedHeaders"].split(";")
    if signed != sorted(set(h.lower() for h in signed)):
        return "SignedHeaders is not sorted, unique and lowercase"
    must = ["host", "x-amz-date", "x-amz-region-set"]
    if token is not None and token_must_be_signed:
        must.append("x-amz-security-token")
    content_sha = one("x-amz-content-sha256")
    body_sha = hashlib.sha256(body or b"").hexdigest()
    if content_sha is not None:
        must.append("x-amz-content-sha256")
        if content_sha != body_sha:
            return "x-amz-content-sha256 is not the body's SHA-256"
    for name in must:
        if name not in signed:
            return "%s is not signed" % name
    for name in signed:
        if name not in by_name:
            return "signed header %s is missing" % name

    cr = canonical_request(method, path, query, headers, signed,
                           content_sha or body_sha, normalize)
    sts = string_to_sign(amz_date, "/".join(cred[1:]), cr)
    try:
        der = bytes.fromhex(parts["Signature"])
    except ValueError:
        return "Signature is not hex"
    try:
        public_key(creds.access_key, creds.secret_key).verify(
            der, sts.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "signature does not match"
    return None
