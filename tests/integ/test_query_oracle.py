"""botocore as the oracle for api/query.c and api/validate.c.

For every SES operation and several seeds, tests/integ/sesgen.py builds valid
parameters; the form body printed by query_cli ($SP_BUILD_DIR/tests/query_cli,
validate_params + query_serialize) must equal, byte for byte, what botocore's
QuerySerializer produces, urlencoded as botocore's AWSRequest prepares it.
Invalid variants that botocore's ParamValidator refuses must be refused by
query_cli too, naming the same parameter.

Run: SP_BUILD_DIR=build /usr/bin/python3 -m pytest -q tests/integ/test_query_oracle.py
Skips when SP_BUILD_DIR is not set or query_cli was not built.
"""

import json
import os
import subprocess
import sys

import pytest

botocore = pytest.importorskip("botocore")
from botocore import xform_name  # noqa: E402
from botocore.serialize import QuerySerializer  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.validate import ParamValidator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import botocore_models  # noqa: E402
import sesgen  # noqa: E402

SEEDS = range(8)
MODEL = botocore_models.service_model("ses")
OPS = sorted(MODEL.operation_names)


def _cli():
    build = os.environ.get("SP_BUILD_DIR")
    if not build:
        pytest.skip("SP_BUILD_DIR is not set")
    for path in (os.path.join(build, "tests", "query_cli"), os.path.join(build, "query_cli")):
        if os.access(path, os.X_OK):
            return path
    pytest.skip("query_cli not built in %s" % build)


def run_cli(action, params, ascii_json=True):
    """(exit code, stdout) of query_cli for {"Action": action, **params}."""
    doc = dict(Action=action)
    doc.update(params)
    data = json.dumps(doc, ensure_ascii=ascii_json).encode("utf-8")
    proc = subprocess.run([_cli()], input=data, capture_output=True, timeout=30)
    return proc.returncode, proc.stdout.decode("utf-8")


def botocore_body(op_name, params):
    """The body boto3 puts on the wire: the serializer's dict, urlencoded as
    botocore's AWSRequest prepares it (a space as '+')."""
    op = MODEL.operation_model(op_name)
    request = QuerySerializer().serialize_to_request(params, op)
    return AWSRequest(method="POST", url="https://email.us-east-1.amazonaws.com/",
                      data=request["body"]).prepare().body


def botocore_rejects(op_name, params):
    shape = MODEL.operation_model(op_name).input_shape
    if shape is None:
        return False  # botocore ignores parameters of an operation without input
    return ParamValidator().validate(params, shape).has_errors()


def test_operation_count():
    assert len(OPS) == 71


def test_every_operation_matches_botocore():
    _cli()
    failures = {}
    for op_name in OPS:
        for seed in SEEDS:
            for_botocore, for_json = sesgen.generate(MODEL, op_name, seed)
            assert not botocore_rejects(op_name, for_botocore), (op_name, seed)
            # Alternate the SES and boto3 names, and ASCII-escaped vs raw UTF-8 JSON.
            action = op_name if seed % 2 == 0 else xform_name(op_name)
            rc, out = run_cli(action, for_json, ascii_json=seed % 3 != 0)
            want = botocore_body(op_name, for_botocore)
            if rc != 0 or out != want:
                failures.setdefault(op_name, "seed %d (rc %d):\n proxy    %s\n botocore %s"
                                    % (seed, rc, out, want))
    print("%d/%d operations match botocore byte for byte (%d seeds each)"
          % (len(OPS) - len(failures), len(OPS), len(SEEDS)))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


def test_every_optional_member_covered():
    """The generator reaches every member of every input shape at least once."""
    seen, total = set(), set()

    def walk(shape, prefix, params):
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                total.add(prefix + "." + name)
                if isinstance(params, dict) and name in params:
                    seen.add(prefix + "." + name)
                    walk(member, prefix + "." + name, params[name])
        elif shape.type_name == "list" and isinstance(params, list):
            for item in params:
                walk(shape.member, prefix, item)

    for op_name in OPS:
        shape = MODEL.operation_model(op_name).input_shape
        if shape is None:
            continue
        for seed in range(32):
            walk(shape, op_name, sesgen.generate(MODEL, op_name, seed)[0])
    missing = sorted(total - seen)
    print("%d/%d input members exercised" % (len(seen), len(total)))
    assert not missing, missing[:20]


def test_invalid_calls_rejected_like_botocore():
    _cli()
    counts = {}
    for op_name in OPS:
        for seed in range(3):
            for m in sesgen.mutations(MODEL, op_name, seed):
                rc, out = run_cli(op_name, m.for_json)
                counts[m.kind] = counts.get(m.kind, 0) + 1
                if m.kind == "enum" or MODEL.operation_model(op_name).input_shape is None:
                    # botocore never checks enums, and ignores parameters of an
                    # operation without input; the proxy refuses both, as SES would.
                    assert not botocore_rejects(op_name, m.for_botocore), m
                else:
                    assert botocore_rejects(op_name, m.for_botocore), (op_name, m)
                assert rc == 1, (op_name, m, out)
                assert out.startswith("ValidationError: "), out
                if m.kind == "missing":
                    assert "Missing required parameter %s" % m.path in out, (m, out)
                elif m.kind == "unknown":
                    assert "Unknown parameter %s" % m.path in out, (m, out)
                elif m.kind == "type":
                    assert "Invalid type for parameter %s," % m.path in out, (m, out)
                else:
                    assert "Invalid value for parameter %s, value: NotAnEnumValue" % m.path in out
    print("rejected like botocore: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    assert counts.get("missing") and counts.get("type") and counts.get("enum")


# Timestamps: what the proxy accepts must serialize as botocore does; what it
# refuses may be something dateutil would have guessed at.
TIMESTAMPS = [
    "2020-01-01", "2020-01-01T10:00:00Z", "2020-01-01T10:00:00+02:00",
    "2020-01-01T10:00:00.1234567Z", "2020-01-01T10:00:00.5Z", "2020", "1700000000",
    "1700000000.5", 1700000000, 1.5, 5e-07, 1.5e-06, -1.5, 0.1, 1234567890.1234567,
    "0005-01-01", "0099-01-01", "0999-12-31T23:59:59Z", "2020-01-01 10:00",
    "2020-01-01T10:00:00.000000Z", "2020-01-01T10:00Z", "2020-01-01T10:00:00-0530",
    "2020-01-01T10:00:00+05", "2020-01-01t10:00:00z", "1e3", "2020-01-01T10:00:00,5Z",
    -62135596800, 253402300799, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "2020-02-29T23:59:59.999999999-01:30", "-1.25", "+5", ".5", "5.", "00000000012",
    "2020-01-01T10:00:00.000001+14:00", "1969-12-31T23:59:59.9999995Z",
    "2020-01-01T10:00:00.12345678901234567890Z", 1e-7, 0.0000005, 2.5e-06, 3.5e-06,
    "2020-1-1", "2020-01-01T10Z", "20200101T100000Z", "Jan 5 2020", "2020-W01",
    "2020-01-01T24:00:00Z", "2016-12-31T23:59:60Z", "nan", "2020-02-30", "",
]


def test_timestamps_match_botocore():
    _cli()
    accepted = refused = 0
    for i, ts in enumerate(TIMESTAMPS):
        params = {
            "OriginalMessageId": "m", "BounceSender": "b@example.com",
            "MessageDsn": {"ReportingMta": "mta", "ArrivalDate": ts},
            "BouncedRecipientInfoList": [],
        }
        rc, out = run_cli("SendBounce", params)
        if rc == 0:
            accepted += 1
            assert out == botocore_body("SendBounce", params), (ts, out)
        else:
            refused += 1
            assert rc == 1 and "MessageDsn.ArrivalDate" in out, (ts, out)
    print("timestamps: %d accepted (all as botocore), %d refused" % (accepted, refused))
    assert accepted >= 40


def run_form(op_name, body):
    """(exit code, stdout) of `query_cli --form OP` for an SDK's form body."""
    proc = subprocess.run([_cli(), "--form", op_name], input=body.encode("latin-1"),
                          capture_output=True, timeout=30)
    return proc.returncode, proc.stdout.decode("utf-8")


def test_sdk_forms_read_back_to_the_same_body():
    """Pass-through mode: what boto3 puts on the wire, read against the model
    and serialized again by the proxy, is the same body byte for byte (the
    proxy forwards its own serialization, never the client's bytes)."""
    _cli()
    failures = {}
    for op_name in OPS:
        for seed in SEEDS:
            for_botocore, _ = sesgen.generate(MODEL, op_name, seed)
            wire = botocore_body(op_name, for_botocore)
            rc, out = run_form(op_name, wire)
            if rc != 0 or out != wire:
                failures.setdefault(op_name, "seed %d (rc %d):\n proxy %s\n sdk   %s"
                                    % (seed, rc, out, wire))
    print("pass-through: %d/%d operations read back byte for byte (%d seeds each)"
          % (len(OPS) - len(failures), len(OPS), len(SEEDS)))
    assert not failures, "\n".join("%s %s" % kv for kv in list(failures.items())[:5])


def test_sdk_forms_other_encodings_are_canonicalized():
    """%20 for a space, lowercase hex, escaped unreserved characters: SES
    reads them as boto3's bytes, so the proxy sends boto3's bytes."""
    _cli()
    for_botocore, _ = sesgen.generate(MODEL, "SendEmail", 3)
    wire = botocore_body("SendEmail", for_botocore)
    variant = wire.replace("+", "%20").replace("%40", "%40").replace("Source=", "%53ource=")
    variant = variant.replace("%2F", "%2f")
    rc, out = run_form("SendEmail", variant)
    assert rc == 0 and out == wire, (out, wire)


HOSTILE_FORMS = [
    # (operation, body, code, words the message must contain)
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Action=SendEmail", "InvalidAction",
     "more than once"),
    ("SendEmail", "Action=SendEmail&Action=DeleteIdentity&Version=2010-12-01", "InvalidAction",
     "more than once"),
    ("SendEmail", "Action=DeleteIdentity&Version=2010-12-01", "InvalidAction", "SendEmail"),
    ("SendRawEmail", "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=YQ%3D%3D"
     "&RawMessage.Data=Yg%3D%3D", "ValidationError", "RawMessage.Data: given more than once"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Source=a%40b.c&Source=x%40y.z",
     "ValidationError", "Source: given more than once"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&%53ource=a%40b.c&Source=x%40y.z",
     "ValidationError", "Source: given more than once"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Destination.ToAddresses.member.1=a"
     "&Destination.ToAddresses.member.1=b", "ValidationError", "more than once"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Destination.ToAddresses.member.01=a",
     "ValidationError", "list index"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Destination.ToAddresses.member.2=a",
     "ValidationError", "1 is missing"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Destination.ToAddresses="
     "&Destination.ToAddresses.member.1=a", "ValidationError", "conflicts"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Destination=x", "ValidationError",
     "names a structure"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Bogus=1", "ValidationError",
     "not a parameter"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Destination.Bogus=1", "ValidationError",
     "not a parameter"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Source.x=1", "ValidationError", ""),
    ("SendEmail", "Action=SendEmail&Version=2011-01-01", "ValidationError", "Version must be"),
    ("SendEmail", "Action=SendEmail", "ValidationError", "no Version"),
    ("SendEmail", "Version=2010-12-01", "InvalidAction", "no Action"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Version=2010-12-01", "ValidationError",
     "Version is given more than once"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&AWSAccessKeyId=AKID", "ValidationError",
     "authentication"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Signature=x", "ValidationError",
     "authentication"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&SignatureVersion=2", "ValidationError",
     "authentication"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Timestamp=2020", "ValidationError",
     "authentication"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&x-amz-security-token=t", "ValidationError",
     "authentication"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&SecurityToken=t", "ValidationError",
     "authentication"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Source=%ff%fe", "ValidationError",
     "UTF-8"),
    ("SendEmail", "Action=SendEmail&Version=2010-12-01&Source=%zz", "MalformedRequest", ""),
    ("ListIdentities", "Action=ListIdentities&Version=2010-12-01&MaxItems=1e3",
     "ValidationError", "integer"),
    ("ListIdentities", "Action=ListIdentities&Version=2010-12-01&MaxItems=+5", "ValidationError",
     "integer"),
    ("ListIdentities", "Action=ListIdentities&Version=2010-12-01&MaxItems=99999999999999999999",
     "ValidationError", "integer"),
    ("ListIdentities", "Action=ListIdentities&Version=2010-12-01&IdentityType=Nope",
     "ValidationError", "valid values"),
    ("SetIdentityDkimEnabled", "Action=SetIdentityDkimEnabled&Version=2010-12-01"
     "&Identity=example.com&DkimEnabled=True", "ValidationError", "boolean"),
    ("SendRawEmail", "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=YQ", "ValidationError",
     "base64"),
    ("GetSendQuota", "Action=GetSendQuota&Version=2010-12-01&Anything=1", "ValidationError",
     "takes no parameters"),
]


def test_hostile_sdk_forms_are_refused():
    _cli()
    for op_name, body, code, words in HOSTILE_FORMS:
        rc, out = run_form(op_name, body)
        assert rc == 1, (body, out)
        assert out.startswith(code + ": "), (body, out)
        assert words in out, (body, out)
    print("%d hostile forms refused" % len(HOSTILE_FORMS))
