"""The policy through the proxy: a service may only name the identities,
configuration sets and templates its rules list, in JSON mode and through
an unmodified SDK (pass-through), and no call can talk its way around it:
the SDK's form is read against the model, every identity-bearing member is
checked, addresses are read by one strict reader, raw messages' sender
fields are checked even with Source, and ARNs must name the proxy's own
account and region. Each case asserts that nothing reached SES."""

import base64
import json

import boto3
import botocore
import botocore.config
import pytest

import botocore_models

# SES v2's sends are ruled explicitly (a "Send*" rule names v1's only).
POLICY = {"policy": {"identities": {"Send*": ["alerts@example.com", "*.example.com"],
                                    "v2:Send*": ["alerts@example.com", "*.example.com"],
                                    "*": ["example.com"]}}}


def client_for(p):
    return boto3.client("ses", region_name="us-east-1", endpoint_url=p.url,
                        aws_access_key_id="AKIDTHROWAWAY", aws_secret_access_key="x",
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def test_identity_rules_json(start_proxy, standin):
    p = start_proxy(POLICY)
    ok = p.call({"Action": "SetIdentityMailFromDomain", "Identity": "example.com"})
    assert ok.status == 200, ok
    bad = p.call({"Action": "SetIdentityMailFromDomain", "Identity": "victim.com"})
    assert bad.status == 403 and bad.error_code == "AccessDenied", bad
    assert "Identity" in bad.json["Error"]["Message"]
    send = {"Action": "SendEmail", "Destination": {"ToAddresses": ["x@y.com"]},
            "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    assert p.call(dict(send, Source="Alerts <alerts@example.com>")).status == 200
    assert p.call(dict(send, Source="news@mail.example.com")).status == 200
    r = p.call(dict(send, Source="ceo@example.com"))  # only alerts@ at the apex
    assert r.status == 403 and r.error_code == "AccessDenied", r
    assert standin.count == 3


def test_identity_rules_sdk(start_proxy, standin):
    p = start_proxy(POLICY)
    c = client_for(p)
    c.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="m.example.com")
    with pytest.raises(c.exceptions.ClientError) as e:
        c.set_identity_mail_from_domain(Identity="victim.com")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    raw = b"From: intruder@evil.com\r\nTo: x@y.com\r\nSubject: s\r\n\r\nhi"
    with pytest.raises(c.exceptions.ClientError) as e:
        c.send_raw_email(RawMessage={"Data": raw})
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    c.send_raw_email(RawMessage={"Data": raw.replace(b"intruder@evil.com",
                                                     b"alerts@example.com")})
    assert standin.count == 2


def test_bad_identities_config(proxy_bin, proxy_env, tmp_path):
    import proxyproc
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"policy": {"identities": {"Send*": []}}}')
    r = proxyproc.run_binary(proxy_bin, ["--check-config", "--config", str(cfg)], proxy_env())
    assert r.returncode != 0
    assert b"policy.identities.Send*" in r.stderr, r.stderr


@pytest.mark.parametrize("policy,escapes", [
    ({"identities": {"Send*": ["alerts@example.com"], "*": ["example.com"]}},
     b'SES v2\'s v2:SendBulkEmail, which allow_actions allows, falls to "*"'),
    ({"allow_actions": ["Send*", "v2:*"], "templates": {"CreateEmailTemplate": ["app-*"]}},
     b'SES v2\'s v2:CreateEmailTemplate, which allow_actions allows, is unconstrained'),
])
def test_rule_that_misses_ses_v2_is_refused(proxy_bin, proxy_env, tmp_path, policy, escapes):
    """A rule keyed "Send*" rules SES v1's sends only (a glob that starts
    with "*" matches "v2:..." too): with SES v2's allowed, v2's SendEmail
    would escape it, so such a policy does not load."""
    import proxyproc
    cfg = tmp_path / "escape.json"
    cfg.write_text(json.dumps({"policy": policy}))
    r = proxyproc.run_binary(proxy_bin, ["--check-config", "--config", str(cfg)], proxy_env())
    assert r.returncode != 0 and escapes in r.stderr, r.stderr
    policy = dict(policy, deny_actions=["v2:*"])
    cfg.write_text(json.dumps({"policy": policy}))
    r = proxyproc.run_binary(proxy_bin, ["--check-config", "--config", str(cfg)], proxy_env())
    assert r.returncode == 0, r.stderr


ACCOUNT = "123456789012"
STRICT = {"policy": {"identities": ["example.com", "*.example.org", "alerts@other.net"],
                     "configuration_sets": ["app-*"], "templates": ["app-*"],
                     "account_id": ACCOUNT}}

MSG = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}


def send(**kw):
    return dict({"Action": "SendEmail", "Destination": {"ToAddresses": ["x@y.com"]},
                 "Message": MSG}, **kw)


def raw(text, **kw):
    data = base64.b64encode(text.encode()).decode()
    return dict({"Action": "SendRawEmail", "RawMessage": {"Data": data}}, **kw)


def arn(identity, account=ACCOUNT, region="us-east-1", kind="identity"):
    return "arn:aws:ses:%s:%s:%s/%s" % (region, account, kind, identity)


# (what, the call as JSON, the status the proxy answers)
CASES = [
    ("allowed sender", send(Source="Me <me@example.com>"), 200),
    ("subdomain pattern", send(Source="n@mail.example.org"), 200),
    ("address pattern", send(Source="ALERTS@other.net"), 200),
    ("other domain", send(Source="me@evil.com"), 403),
    ("other address at an address pattern's domain", send(Source="bob@other.net"), 403),
    ("display name holding an allowed address", send(Source='"me@example.com" <x@evil.com>'), 400),
    ("comment holding an allowed address", send(Source="x@evil.com (me@example.com)"), 400),
    ("two mailboxes where one is expected", send(Source="me@example.com, x@evil.com"), 400),
    ("a group", send(Source="g: me@example.com;"), 400),
    ("obs-route", send(Source="<@example.com:x@evil.com>"), 400),
    ("quoted local part with an @", send(Source='"x@evil.com"@example.com'), 400),
    ("encoded word that looks like an address",
     send(Source="=?utf-8?q?me@example.com?= <x@evil.com>"), 400),
    ("header injection", send(Source="me@example.com\r\nBcc: x@evil.com"), 400),
    ("domain literal", send(Source="me@[127.0.0.1]"), 400),
    ("trailing dot", send(Source="me@example.com."), 400),
    ("Unicode spelling of an allowed A-label", send(Source="me@mail.EXAMPLE.org"), 200),
    ("homograph", send(Source="me@ex\u0430mple.com"), 403),
    ("ReturnPath", send(Source="me@example.com", ReturnPath="b@evil.com"), 403),
    ("SourceArn of another identity", send(Source="me@example.com", SourceArn=arn("evil.com")),
     403),
    ("SourceArn of another account",
     send(Source="me@example.com", SourceArn=arn("example.com", account="999999999999")), 403),
    ("SourceArn of another region",
     send(Source="me@example.com", SourceArn=arn("example.com", region="eu-west-1")), 403),
    ("SourceArn allowed", send(Source="me@example.com", SourceArn=arn("example.com")), 200),
    ("configuration set", send(Source="me@example.com", ConfigurationSetName="other"), 403),
    ("configuration set allowed", send(Source="me@example.com", ConfigurationSetName="app-1"),
     200),
    ("raw From", raw("From: x@evil.com\r\nTo: a@b.c\r\n\r\nhi"), 403),
    ("raw From with an allowed Source", raw("From: x@evil.com\r\n\r\nhi",
                                            Source="me@example.com"), 403),
    ("raw two From fields", raw("From: me@example.com\r\nFrom: x@evil.com\r\n\r\nhi"), 400),
    ("raw Sender", raw("From: me@example.com\r\nSender: x@evil.com\r\n\r\nhi"), 403),
    ("raw Return-Path", raw("From: me@example.com\r\nReturn-Path: <x@evil.com>\r\n\r\nhi"),
     403),
    ("raw X-SES-FROM-ARN",
     raw("From: me@example.com\r\nX-SES-FROM-ARN: %s\r\n\r\nhi" % arn("evil.com")), 403),
    ("raw X-SES-SOURCE-ARN of another account",
     raw("From: me@example.com\r\nX-SES-SOURCE-ARN: %s\r\n\r\nhi"
         % arn("example.com", account="999999999999")), 403),
    ("raw X-SES-CONFIGURATION-SET",
     raw("From: me@example.com\r\nX-SES-CONFIGURATION-SET: other\r\n\r\nhi"), 403),
    ("raw header section never ends", raw("From: me@example.com\r\nSubject: x"), 400),
    ("raw allowed", raw("From: Me <me@example.com>\r\nTo: a@b.c\r\n\r\nhi"), 200),
    ("BounceSender", {"Action": "SendBounce", "OriginalMessageId": "m",
                      "BounceSender": "b@evil.com",
                      "BouncedRecipientInfoList": [{"Recipient": "r@example.com"}]}, 403),
    ("BounceSenderArn", {"Action": "SendBounce", "OriginalMessageId": "m",
                         "BounceSender": "b@example.com", "BounceSenderArn": arn("evil.com"),
                         "BouncedRecipientInfoList": [{"Recipient": "r@example.com"}]}, 403),
    ("custom verification FromEmailAddress",
     {"Action": "CreateCustomVerificationEmailTemplate", "TemplateName": "app-v",
      "FromEmailAddress": "x@evil.com", "TemplateSubject": "s", "TemplateContent": "c",
      "SuccessRedirectionURL": "https://a", "FailureRedirectionURL": "https://b"}, 403),
    ("receipt rule bounce Sender",
     {"Action": "CreateReceiptRule", "RuleSetName": "r", "Rule": {"Name": "n", "Actions": [
         {"BounceAction": {"SmtpReplyCode": "550", "Message": "m", "Sender": "x@evil.com"}}]}},
     403),
    ("identity operation", {"Action": "DeleteIdentity", "Identity": "victim.com"}, 403),
    ("identity list", {"Action": "GetIdentityDkimAttributes",
                       "Identities": ["example.com", "victim.com"]}, 403),
    ("template", {"Action": "DeleteTemplate", "TemplateName": "other"}, 403),
    ("template allowed", {"Action": "DeleteTemplate", "TemplateName": "app-welcome"}, 200),
    ("templated send", {"Action": "SendTemplatedEmail", "Source": "me@example.com",
                        "Destination": {"ToAddresses": ["a@b.c"]}, "Template": "other",
                        "TemplateData": "{}"}, 403),
    ("configuration set operation", {"Action": "DeleteConfigurationSet",
                                     "ConfigurationSetName": "prod"}, 403),
]


def test_policy_cases_json(start_proxy, standin):
    p = start_proxy(STRICT)
    sent = 0
    for what, call, status in CASES:
        r = p.call(call)
        assert r.status == status, (what, r)
        if status != 200:
            assert r.json["Error"]["Code"] == {403: "AccessDenied",
                                               400: "InvalidParameterValue"}[status], (what, r)
            assert r.json["Error"]["Message"], what
        else:
            sent += 1
        assert standin.count == sent, what
    print("JSON mode: %d policy cases" % len(CASES))


def _for_boto3(call):
    """The JSON call as boto3 keyword arguments (blobs as bytes)."""
    kw = {k: v for k, v in call.items() if k != "Action"}
    if "RawMessage" in kw:
        kw["RawMessage"] = {"Data": base64.b64decode(kw["RawMessage"]["Data"])}
    return kw


def test_policy_cases_sdk(start_proxy, standin):
    """The same calls from boto3 (pass-through): the same verdicts, as SES
    errors the SDK parses."""
    p = start_proxy(STRICT)
    c = botocore_models.boto3_session().client(
        "ses", region_name="us-east-1", endpoint_url=p.url,
        aws_access_key_id="AKIDTHROWAWAY", aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 1}))
    sent = 0
    for what, call, status in CASES:
        op = botocore.xform_name(call["Action"])
        try:
            getattr(c, op)(**_for_boto3(call))
            got = 200
        except c.exceptions.ClientError as e:
            got = e.response["ResponseMetadata"]["HTTPStatusCode"]
            assert e.response["Error"]["Code"] == {403: "AccessDenied",
                                                   400: "InvalidParameterValue"}[got], what
        assert got == status, what
        sent += status == 200
        assert standin.count == sent, what
    print("SDK mode: %d policy cases" % len(CASES))


def test_account_learnt_or_503(start_proxy, standin):
    """Without policy.account_id (and before STS answers) an ARN cannot be
    checked: 503, never a guess; nothing is sent."""
    cfg = json.loads(json.dumps(STRICT))
    del cfg["policy"]["account_id"]
    p = start_proxy(cfg, env={"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"})
    r = p.call(send(Source="me@example.com", SourceArn=arn("example.com")))
    assert r.status == 503 and r.error_code == "ServiceUnavailable", r
    assert p.call(send(Source="me@example.com")).status == 200  # no ARN: checked as usual
    assert standin.count == 1


def test_account_learnt_with_sts(start_proxy, standin, creds):
    """Without policy.account_id the proxy asks STS GetCallerIdentity (the
    stand-in verifies its signature) and then checks ARNs against that
    account: its own is allowed, another account's denied."""
    import time

    import standin_creds
    sts = standin_creds.StandinSTS(standin_creds.Issuer()).start()
    sts.callers[creds.access_key] = (creds, "210987654321")
    try:
        cfg = json.loads(json.dumps(STRICT))
        del cfg["policy"]["account_id"]
        p = start_proxy(cfg, env={"AWS_ENDPOINT_URL_STS": sts.url})
        deadline = time.monotonic() + 10
        while not any(c[0] == "GetCallerIdentity" for c in sts.calls):
            assert time.monotonic() < deadline, "no GetCallerIdentity"
            time.sleep(0.05)
        ok = send(Source="me@example.com", SourceArn=arn("example.com", account="210987654321"))
        r = p.call(ok)
        while r.status == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
            r = p.call(ok)
        assert r.status == 200, r
        r = p.call(send(Source="me@example.com", SourceArn=arn("example.com")))
        assert r.status == 403 and "210987654321" in r.error_message, r
        assert [c[2] for c in sts.calls] == [None]  # asked once, and it verified
        assert "account learnt" in p.stdout
    finally:
        sts.stop()
