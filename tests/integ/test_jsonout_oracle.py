"""Python as the oracle for api/jsonout.c: numbers as SES wrote them.

jansson's json_dumps prints a real with %.17g (862.03899999999999 for the
862.039 SES sent); the proxy prints the shortest text that reads back as
the same double, which is what Python's repr() and json.dumps give, and so
what boto3's caller sees. jsonout_cli ($SP_BUILD_DIR/tests/jsonout_cli)
prints jsonout's text for many doubles and documents; each line must equal
Python's. Then the same end to end: a JSON-mode answer carries SES's
numbers as boto3 parses them.

Run: SP_BUILD_DIR=build /usr/bin/python3 -m pytest -q tests/integ/test_jsonout_oracle.py
Skips when SP_BUILD_DIR is not set or jsonout_cli was not built.
"""

import json
import math
import os
import random
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import botocore_models  # noqa: E402
import xmlgen  # noqa: E402
from standin_ses import Scripted  # noqa: E402


def _cli():
    build = os.environ.get("SP_BUILD_DIR")
    if not build:
        pytest.skip("SP_BUILD_DIR is not set")
    for path in (os.path.join(build, "tests", "jsonout_cli"), os.path.join(build, "jsonout_cli")):
        if os.access(path, os.X_OK):
            return path
    pytest.skip("jsonout_cli not built in %s" % build)


def run_cli(mode, lines):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    proc = subprocess.run([_cli(), mode], input=data, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8").split("\n")
    assert out[-1] == ""
    return out[:-1]


def bits(d):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", d))[0]


def doubles(rng):
    """Finite doubles of every kind: random bit patterns (every exponent,
    subnormals), short decimals as SES writes them, integers, powers and
    their neighbours."""
    out = []
    while len(out) < 60000:
        d = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(d):
            out.append(d)
    for _ in range(40000):
        digits = rng.randint(1, 17)
        mantissa = rng.randrange(10 ** (digits - 1), 10 ** digits)
        out.append(float("%de%d" % (mantissa, rng.randint(-330, 310))))
    for _ in range(20000):
        # SES's counters and rates: a few decimals (SentLast24Hours 862.039)
        out.append(round(rng.uniform(0, 10 ** rng.randint(0, 9)), rng.randint(0, 4)))
    for _ in range(10000):
        out.append(float(rng.randrange(-2 ** 63, 2 ** 63)))
    for e in range(-1074, 1024):
        p = 2.0 ** e
        out += [p, math.nextafter(p, math.inf), math.nextafter(p, 0.0), -p]
    for e in range(-323, 309):
        p = float("1e%d" % e)
        out += [p, math.nextafter(p, math.inf), math.nextafter(p, -math.inf)]
    out += [0.0, -0.0, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308,
            0.1 + 0.2, 862.039, 200.0, 1e16, 1e-5, 9007199254740993.0]
    return [d for d in out if math.isfinite(d)]   # "9e309" reads as inf


def test_reals_print_as_python_repr():
    rng = random.Random(20240517)
    ds = doubles(rng)
    got = run_cli("reals", [bits(d) for d in ds])
    assert len(got) == len(ds)
    wrong = [(d, repr(d), g) for d, g in zip(ds, got) if g != repr(d)]
    print("\n%d doubles, %d differ from repr()" % (len(ds), len(wrong)))
    assert not wrong, wrong[:20]


def random_string(rng):
    alphabet = ("abcXYZ019 _-./\\\"'<>&\n\t\r\b\f\x7f"
                "\u00e9\u00df\u4e2d\u2028\U0001f4e7")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_doc(rng, depth=0):
    kind = rng.randrange(8 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-2 ** 63, 2 ** 63)
    if kind in (2, 3):
        return rng.choice(doubles_pool)
    if kind in (4, 5):
        return random_string(rng)
    if kind == 6:
        return [random_doc(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {random_string(rng): random_doc(rng, depth + 1) for _ in range(rng.randint(0, 5))}


doubles_pool = doubles(random.Random(7))[::97]


def test_documents_print_as_python_json_dumps():
    # Control characters other than \b \f \n \r \t are left out: jansson
    # (and so jsonout) writes \u001F, Python \u001f; both read back alike.
    rng = random.Random(99)
    docs = [random_doc(rng) for _ in range(5000)]
    got = run_cli("docs", [json.dumps(d) for d in docs])
    want = [json.dumps(d, separators=(",", ":"), ensure_ascii=False) for d in docs]
    wrong = [(w, g) for w, g in zip(want, got) if w != g]
    assert not wrong, wrong[:5]


def test_refused_inputs():
    assert run_cli("reals", [bits(math.inf), bits(math.nan), "xyz"]) == ["!", "!", "!"]
    assert run_cli("docs", ["[1,", "{\"a\":1.5}"]) == ["!", "{\"a\":1.5}"]


# ---- end to end: the numbers SES sent, as boto3 parses them ----------------

MODEL = botocore_models.service_model("ses")


def test_json_answer_numbers_as_ses_wrote_them(proxy, standin):
    quota = ("<Max24HourSend>50000.0</Max24HourSend><MaxSendRate>14.0</MaxSendRate>"
             "<SentLast24Hours>862.039</SentLast24Hours>")
    standin.push(Scripted.success("GetSendQuota", quota))
    r = proxy.call({"Action": "GetSendQuota"})
    assert r.status == 200, r
    text = r.raw.decode()
    assert '"Max24HourSend":50000.0,"MaxSendRate":14.0,"SentLast24Hours":862.039' in text, text
    assert "862.03899" not in text
    body = xmlgen.success_xml(MODEL, "GetSendQuota", 1)
    standin.push(Scripted(200, body))
    r = proxy.call({"Action": "GetSendQuota"})
    want = xmlgen.botocore_parse(MODEL, "GetSendQuota", body)
    for k in ("Max24HourSend", "MaxSendRate", "SentLast24Hours"):
        if k in want:
            # the same text as json.dumps of boto3's value
            assert '"%s":%s' % (k, json.dumps(want[k])) in r.raw.decode(), (k, r.raw)


def test_json_answer_integers_stay_integers(proxy, standin):
    stats = ("<SendDataPoints><member><Timestamp>2024-05-01T10:15:00Z</Timestamp>"
             "<DeliveryAttempts>7</DeliveryAttempts><Bounces>0</Bounces>"
             "<Complaints>1</Complaints><Rejects>0</Rejects></member></SendDataPoints>")
    standin.push(Scripted.success("GetSendStatistics", stats))
    r = proxy.call({"Action": "GetSendStatistics"})
    assert r.status == 200, r
    assert ('{"Timestamp":"2024-05-01T10:15:00Z","DeliveryAttempts":7,"Bounces":0,'
            '"Complaints":1,"Rejects":0}') in r.raw.decode(), r.raw
