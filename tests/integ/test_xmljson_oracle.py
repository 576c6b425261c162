"""api/xmljson against botocore: the JSON the proxy makes of an SES XML body
must equal boto3's parse of the same body (botocore.parsers.QueryParser),
converted to the proxy's documented form by xmlgen.to_proxy_json
(timestamps as SES's text, blobs as base64, ResponseMetadata without the
HTTP details).

Drives $SP_BUILD_DIR/tests/xmljson_cli (tests/tools/xmljson_cli.c); skipped
when SP_BUILD_DIR is not set. Run with /usr/bin/python3 -m pytest.
"""

import json
import os
import subprocess

import pytest

import xmlgen

SEEDS = range(16)
ERROR_SEEDS = range(60)


@pytest.fixture(scope="module")
def cli():
    build = os.environ.get("SP_BUILD_DIR")
    if not build:
        pytest.skip("SP_BUILD_DIR is not set (needs tests/xmljson_cli)")
    path = os.path.join(build, "tests", "xmljson_cli")
    if not os.access(path, os.X_OK):
        pytest.fail("%s is not built" % path)
    return path


@pytest.fixture(scope="module")
def model():
    return xmlgen.service_model()


def run_cli(cli, op, body, chunk=None):
    args = [cli, op or "-"] + ([str(chunk)] if chunk else [])
    return subprocess.run(args, input=body, capture_output=True, timeout=60)


def parse_with_cli(cli, op, body, chunk=None):
    """(json-or-None, is_error, stdout text) from the CLI."""
    r = run_cli(cli, op, body, chunk)
    text = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        return None, None, text + r.stderr.decode("utf-8", "replace")
    return json.loads(text), b"is_error" in r.stderr, text


def test_every_operation_matches_botocore(cli, model, capsys):
    ops = list(model.operation_names)
    assert len(ops) == 71
    failures = []
    matched = 0
    checked = 0
    for op in ops:
        ok = True
        for seed in SEEDS:
            body = xmlgen.success_xml(model, op, seed)
            want = xmlgen.expected_json(model, op, body)
            # Seeds 0 and 1 also go through byte by byte and in odd chunks,
            # as a network would deliver them.
            for chunk in [None] + ([1] if seed == 0 else [7] if seed == 1 else []):
                got, is_error, text = parse_with_cli(cli, op, body, chunk)
                checked += 1
                if got is None or is_error or \
                        xmlgen.canonical(got) != xmlgen.canonical(want):
                    ok = False
                    failures.append("%s seed %s chunk %s:\n  body %r\n  want %s\n  got  %s"
                                    % (op, seed, chunk, body, xmlgen.canonical(want), text))
        matched += ok
    with capsys.disabled():
        print("\nxmljson oracle: %d/%d operations match botocore (%d bodies, %d parses)"
              % (matched, len(ops), len(ops) * len(SEEDS), checked))
    assert not failures, "\n".join(failures[:5])
    assert matched == len(ops)


def test_error_documents_match_botocore(cli, model, capsys):
    failures = []
    for seed in ERROR_SEEDS:
        body = xmlgen.error_xml(seed=seed)
        for status in (400, 500):
            want = xmlgen.expected_json(model, "SendEmail", body, status=status)
            for op in ("SendEmail", None):
                got, is_error, text = parse_with_cli(cli, op, body)
                if got is None or not is_error or \
                        xmlgen.canonical(got) != xmlgen.canonical(want):
                    failures.append("seed %s op %s: body %r\n  want %s\n  got  %s"
                                    % (seed, op, body, xmlgen.canonical(want), text))
    with capsys.disabled():
        print("\nxmljson oracle: %d/%d error documents match botocore"
              % (len(ERROR_SEEDS) - len({f.split(" op")[0] for f in failures}),
                 len(ERROR_SEEDS)))
    assert not failures, "\n".join(failures[:5])


# Hand-written bodies for the corners of botocore's parser. Each must give
# exactly botocore's answer.
NS = 'xmlns="%s"' % xmlgen.SES_XMLNS
CORNERS = [
    # empty elements: string -> "", list -> [], map -> {}, structure -> {}
    ("ListIdentities", "<ListIdentitiesResponse %s><ListIdentitiesResult><Identities/>"
     "<NextToken/></ListIdentitiesResult><ResponseMetadata><RequestId>r</RequestId>"
     "</ResponseMetadata></ListIdentitiesResponse>" % NS),
    ("GetIdentityPolicies", "<GetIdentityPoliciesResponse %s><GetIdentityPoliciesResult>"
     "<Policies></Policies></GetIdentityPoliciesResult></GetIdentityPoliciesResponse>" % NS),
    ("DescribeActiveReceiptRuleSet", "<DescribeActiveReceiptRuleSetResponse %s>"
     "<DescribeActiveReceiptRuleSetResult><Metadata/><Rules><member/></Rules>"
     "</DescribeActiveReceiptRuleSetResult></DescribeActiveReceiptRuleSetResponse>" % NS),
    # entities, character references, CDATA, comments and PIs inside text
    ("GetTemplate", "<GetTemplateResponse %s><GetTemplateResult><Template>"
     "<TemplateName>a&amp;b&lt;c&gt;&quot;&apos;&#233;&#x1F4E7;</TemplateName>"
     "<SubjectPart><![CDATA[<b>bold</b> & ]]>tail</SubjectPart>"
     "<TextPart>x<!-- note -->y<?pi data?>z</TextPart>"
     "<HtmlPart>\n  keep  \r\n spaces \n</HtmlPart>"
     "</Template></GetTemplateResult></GetTemplateResponse>" % NS),
    # a scalar's text stops at its first child element (ElementTree .text)
    ("ListIdentities", "<ListIdentitiesResponse %s><ListIdentitiesResult>"
     "<NextToken>ab<x>no</x>cd</NextToken><Identities>text<member>a</member>"
     "<other>b</other></Identities></ListIdentitiesResult></ListIdentitiesResponse>" % NS),
    # numbers with whitespace, odd booleans, unknown elements everywhere
    ("GetSendQuota", "<GetSendQuotaResponse %s><Unknown/><GetSendQuotaResult>"
     "<Max24HourSend> 200 </Max24HourSend><MaxSendRate>\n1.5e1\n</MaxSendRate>"
     "<SentLast24Hours>-0.0</SentLast24Hours><Extra><Max24HourSend>9</Max24HourSend></Extra>"
     "</GetSendQuotaResult><ResponseMetadata><RequestId/><Other>o</Other>"
     "</ResponseMetadata></GetSendQuotaResponse>" % NS),
    ("GetAccountSendingEnabled", "<GetAccountSendingEnabledResponse %s>"
     "<GetAccountSendingEnabledResult><Enabled>True</Enabled></GetAccountSendingEnabledResult>"
     "</GetAccountSendingEnabledResponse>" % NS),
    ("GetAccountSendingEnabled", "<GetAccountSendingEnabledResponse %s>"
     "<GetAccountSendingEnabledResult><Enabled/></GetAccountSendingEnabledResult>"
     "</GetAccountSendingEnabledResponse>" % NS),
    # the first result wrapper wins, as botocore reads it
    ("GetAccountSendingEnabled", "<GetAccountSendingEnabledResponse %s>"
     "<GetAccountSendingEnabledResult><Enabled>true</Enabled></GetAccountSendingEnabledResult>"
     "<GetAccountSendingEnabledResult><Enabled>false</Enabled></GetAccountSendingEnabledResult>"
     "</GetAccountSendingEnabledResponse>" % NS),
    # namespace prefixes, an XML declaration naming another encoding (both
    # parsers force UTF-8), a byte-order mark
    ("VerifyDomainIdentity", '<?xml version="1.0" encoding="ISO-8859-1"?>'
     '<s:VerifyDomainIdentityResponse xmlns:s="%s"><s:VerifyDomainIdentityResult>'
     "<s:VerificationToken>t\u00e9</s:VerificationToken></s:VerifyDomainIdentityResult>"
     "</s:VerifyDomainIdentityResponse>" % xmlgen.SES_XMLNS),
    ("VerifyDomainIdentity", "\ufeff<VerifyDomainIdentityResponse><VerifyDomainIdentityResult>"
     "<VerificationToken>t</VerificationToken></VerifyDomainIdentityResult>"
     "</VerifyDomainIdentityResponse>"),
    # an operation without an output shape, with and without a Result element
    ("UpdateAccountSendingEnabled", "<UpdateAccountSendingEnabledResponse %s>"
     "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
     "</UpdateAccountSendingEnabledResponse>" % NS),
    ("VerifyEmailAddress", "<VerifyEmailAddressResponse %s><VerifyEmailAddressResult/>"
     "</VerifyEmailAddressResponse>" % NS),
    # a map's later duplicate key wins
    ("GetIdentityPolicies", "<GetIdentityPoliciesResponse %s><GetIdentityPoliciesResult>"
     "<Policies><entry><key>k</key><value>1</value></entry><entry><value>2</value>"
     "<key>k</key></entry></Policies></GetIdentityPoliciesResult>"
     "</GetIdentityPoliciesResponse>" % NS),
]

ERROR_CORNERS = [
    # empty leaves are None in botocore's error parse; unknown children kept
    "<ErrorResponse %s><Error><Type>Sender</Type><Code>X</Code><Message/><Detail/>"
    "</Error><RequestId>r</RequestId></ErrorResponse>" % NS,
    # no RequestId at all; nested unknown structure
    "<ErrorResponse %s><Error><Code>X</Code><More><A>1</A><B/></More></Error>"
    "</ErrorResponse>" % NS,
    # <Errors> is merged up; ResponseMetadata sent as such
    "<ErrorResponse %s><Errors><Error><Code>Y</Code></Error></Errors>"
    "<ResponseMetadata><RequestId>q</RequestId></ResponseMetadata></ErrorResponse>" % NS,
    # whitespace and CDATA in the message
    "<ErrorResponse %s>\n  <Error>\n    <Code>Throttling</Code>\n    <Message><![CDATA[a<b]]>"
    " &amp; c</Message>\n  </Error>\n  <RequestId>r</RequestId>\n</ErrorResponse>" % NS,
]


@pytest.mark.parametrize("case", range(len(CORNERS)))
def test_corner_cases_match_botocore(cli, model, case):
    op, text = CORNERS[case]
    body = text.encode("utf-8")
    want = xmlgen.expected_json(model, op, body)
    got, is_error, out = parse_with_cli(cli, op, body)
    assert got is not None, out
    assert not is_error
    assert xmlgen.canonical(got) == xmlgen.canonical(want)


@pytest.mark.parametrize("case", range(len(ERROR_CORNERS)))
def test_error_corner_cases_match_botocore(cli, model, case):
    body = ERROR_CORNERS[case].encode("utf-8")
    want = xmlgen.expected_json(model, "GetSendQuota", body, status=400)
    got, is_error, out = parse_with_cli(cli, "GetSendQuota", body)
    assert got is not None, out
    assert is_error
    assert xmlgen.canonical(got) == xmlgen.canonical(want)


# Bodies botocore also refuses (ResponseParserError, or a crash on a missing
# result element): the proxy answers 502 BadGateway.
REFUSED = [
    ("GetSendQuota", b""),
    ("GetSendQuota", b"<GetSendQuotaResponse><GetSendQuotaResult>"),
    ("GetSendQuota", b"<GetSendQuotaResponse></GetSendQuotaResult>"),
    ("GetSendQuota", b"not xml at all"),
    ("GetSendQuota", b"<GetSendQuotaResponse/><second/>"),
    ("GetSendQuota", b"<GetSendQuotaResponse><ResponseMetadata/></GetSendQuotaResponse>"),
    ("GetSendQuota", b"<GetSendQuotaResponse>&undefined;</GetSendQuotaResponse>"),
    ("GetSendQuota", b"<GetSendQuotaResponse><GetSendQuotaResult><Max24HourSend>lots"
                     b"</Max24HourSend></GetSendQuotaResult></GetSendQuotaResponse>"),
    ("GetSendQuota", b"<GetSendQuotaResponse><GetSendQuotaResult><Max24HourSend/>"
                     b"</GetSendQuotaResult></GetSendQuotaResponse>"),
    ("GetIdentityPolicies", b"<GetIdentityPoliciesResponse><GetIdentityPoliciesResult>"
                            b"<Policies><entry><key>k</key><bad>v</bad></entry></Policies>"
                            b"</GetIdentityPoliciesResult></GetIdentityPoliciesResponse>"),
]


@pytest.mark.parametrize("case", range(len(REFUSED)))
def test_refused_like_botocore(cli, model, case):
    op, body = REFUSED[case]
    with pytest.raises(Exception):
        xmlgen.botocore_parse(model, op, body)
    r = run_cli(cli, op, body)
    assert r.returncode == 1
    assert r.stdout.startswith(b"BadGateway: ")


# Refused on purpose although botocore reads them: another operation's
# answer (botocore never checks the root) and any DOCTYPE (no DTD, no
# entity expansion, ever).
STRICTER = [
    ("GetSendQuota", b"<ListIdentitiesResponse><ListIdentitiesResult/>"
                     b"</ListIdentitiesResponse>"),
    ("GetSendQuota", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><GetSendQuotaResponse>'
                     b"<GetSendQuotaResult/></GetSendQuotaResponse>"),
    (None, b"<GetSendQuotaResponse><GetSendQuotaResult/></GetSendQuotaResponse>"),
]


@pytest.mark.parametrize("case", range(len(STRICTER)))
def test_stricter_than_botocore(cli, case):
    op, body = STRICTER[case]
    r = run_cli(cli, op, body)
    assert r.returncode == 1
    assert r.stdout.startswith(b"BadGateway: ")
