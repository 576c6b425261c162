"""The policy over SES v2, through the proxy, in JSON mode and from boto3's
sesv2 (pass-through): the sender (FromEmailAddress, its identity ARN), the
feedback forwarding address and its ARN, EmailIdentity path labels, a raw
message's From and X-SES fields, added headers, configuration sets,
templates (by name and ARN), contact lists and tenants, each under the
policy's globs; and v2 operations named "v2:<Operation>" in allow_actions
and deny_actions, so that a rule for v1's SendEmail never allows v2's and
the other way round. Every refused call is asserted to have sent nothing.
"""

import base64

import pytest

from v2_helpers import client_error, error_of, sesv2_client, xform

ACCOUNT = "123456789012"
STRICT = {"policy": {"identities": ["example.com", "*.example.org", "alerts@other.net"],
                     "configuration_sets": ["app-*"], "templates": ["app-*"],
                     "contact_lists": ["app-*"], "tenants": ["app-*"], "account_id": ACCOUNT}}
SIMPLE = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
TO = {"ToAddresses": ["x@y.com"]}


def arn(name, kind="identity", account=ACCOUNT, region="us-east-1"):
    return "arn:aws:ses:%s:%s:%s/%s" % (region, account, kind, name)


def send(**kw):
    return dict({"FromEmailAddress": "me@example.com", "Destination": TO, "Content": SIMPLE},
                **kw)


def simple_with_headers(*headers):
    return {"Simple": dict(SIMPLE["Simple"], Headers=[{"Name": n, "Value": v}
                                                      for n, v in headers])}


def raw(text, **kw):
    return dict({"Content": {"Raw": {"Data": text.encode()}}}, **kw)


def template(**t):
    return {"Template": dict({"TemplateData": "{}"}, **t)}


def bulk(**kw):
    return dict({"FromEmailAddress": "me@example.com",
                 "DefaultContent": template(TemplateName="app-t"),
                 "BulkEmailEntries": [{"Destination": TO}]}, **kw)


# (what, operation, boto3's parameters, the status the proxy answers)
CASES = [
    ("sender allowed", "SendEmail", send(FromEmailAddress="Me <me@example.com>"), 200),
    ("sender at a subdomain pattern", "SendEmail", send(FromEmailAddress="n@mail.example.org"),
     200),
    ("sender at an address pattern", "SendEmail", send(FromEmailAddress="ALERTS@other.net"), 200),
    ("sender elsewhere", "SendEmail", send(FromEmailAddress="me@evil.com"), 403),
    ("another address at an address pattern's domain", "SendEmail",
     send(FromEmailAddress="bob@other.net"), 403),
    ("homograph", "SendEmail", send(FromEmailAddress="me@ex\u0430mple.com"), 403),
    ("display name holding an allowed address", "SendEmail",
     send(FromEmailAddress='"me@example.com" <x@evil.com>'), 400),
    ("two mailboxes", "SendEmail", send(FromEmailAddress="me@example.com, x@evil.com"), 400),
    ("header injection", "SendEmail", send(FromEmailAddress="me@example.com\r\nBcc: x@evil.com"),
     400),
    ("sender ARN of another identity", "SendEmail",
     send(FromEmailAddressIdentityArn=arn("evil.com")), 403),
    ("sender ARN of another account", "SendEmail",
     send(FromEmailAddressIdentityArn=arn("example.com", account="999999999999")), 403),
    ("sender ARN of another region", "SendEmail",
     send(FromEmailAddressIdentityArn=arn("example.com", region="eu-west-1")), 403),
    ("sender ARN allowed", "SendEmail", send(FromEmailAddressIdentityArn=arn("example.com")), 200),
    ("feedback address elsewhere", "SendEmail",
     send(FeedbackForwardingEmailAddress="bounce@evil.com"), 403),
    ("feedback address allowed", "SendEmail",
     send(FeedbackForwardingEmailAddress="bounce@example.com"), 200),
    ("feedback ARN of another identity", "SendEmail",
     send(FeedbackForwardingEmailAddressIdentityArn=arn("evil.com")), 403),
    ("bulk sender elsewhere", "SendBulkEmail", bulk(FromEmailAddress="me@evil.com"), 403),
    ("bulk feedback ARN of another account", "SendBulkEmail",
     bulk(FeedbackForwardingEmailAddressIdentityArn=arn("example.com", account="999999999999")),
     403),
    ("bulk allowed", "SendBulkEmail", bulk(), 200),
    ("raw From elsewhere", "SendEmail", {"Content": {"Raw": {"Data": b"From: x@evil.com\r\n"
                                                               b"To: a@b.c\r\n\r\nhi"}}}, 403),
    ("raw From elsewhere, FromEmailAddress allowed", "SendEmail",
     raw("From: x@evil.com\r\n\r\nhi", FromEmailAddress="me@example.com"), 403),
    ("raw two From fields", "SendEmail",
     raw("From: me@example.com\r\nFrom: x@evil.com\r\n\r\nhi"), 400),
    ("raw Sender elsewhere", "SendEmail",
     raw("From: me@example.com\r\nSender: x@evil.com\r\n\r\nhi"), 403),
    ("raw X-SES-FROM-ARN elsewhere", "SendEmail",
     raw("From: me@example.com\r\nX-SES-FROM-ARN: %s\r\n\r\nhi" % arn("evil.com")), 403),
    ("raw X-SES-CONFIGURATION-SET not allowed", "SendEmail",
     raw("From: me@example.com\r\nX-SES-CONFIGURATION-SET: prod\r\n\r\nhi"), 403),
    ("raw without From", "SendEmail", raw("To: a@b.c\r\n\r\nhi"), 403),
    ("raw allowed", "SendEmail", raw("From: Me <me@example.com>\r\nTo: a@b.c\r\n\r\nhi"), 200),
    ("added From header elsewhere", "SendEmail",
     send(Content=simple_with_headers(("From", "x@evil.com"))), 403),
    ("added Reply-To elsewhere (not checked: SES authorises nothing by it)", "SendEmail",
     send(Content=simple_with_headers(("Reply-To", "x@evil.com"))), 200),
    ("added X-SES-SOURCE-ARN of another account", "SendEmail",
     send(Content=simple_with_headers(("x-ses-source-arn",
                                       arn("example.com", account="999999999999")))), 403),
    ("added X-SES-CONFIGURATION-SET not allowed", "SendEmail",
     send(Content=simple_with_headers(("X-SES-CONFIGURATION-SET", "prod"))), 403),
    ("template's added Sender elsewhere", "SendEmail",
     send(Content={"Template": {"TemplateName": "app-t", "TemplateData": "{}",
                                "Headers": [{"Name": "Sender", "Value": "x@evil.com"}]}}), 403),
    ("bulk entry's replacement From elsewhere", "SendBulkEmail",
     bulk(BulkEmailEntries=[{"Destination": TO, "ReplacementHeaders": [
         {"Name": "From", "Value": "x@evil.com"}]}]), 403),
    ("configuration set not allowed", "SendEmail", send(ConfigurationSetName="prod"), 403),
    ("configuration set allowed", "SendEmail", send(ConfigurationSetName="app-1"), 200),
    ("configuration set in the path", "DeleteConfigurationSet", {"ConfigurationSetName": "prod"},
     403),
    ("configuration set in the path, allowed", "GetConfigurationSet",
     {"ConfigurationSetName": "app-x"}, 200),
    ("identity's configuration set", "CreateEmailIdentity",
     {"EmailIdentity": "example.com", "ConfigurationSetName": "prod"}, 403),
    ("template not allowed", "SendEmail", send(Content=template(TemplateName="other")), 403),
    ("template ARN of another account", "SendEmail",
     send(Content=template(TemplateArn=arn("app-t", "template", account="999999999999"))), 403),
    ("template ARN allowed", "SendEmail", send(Content=template(TemplateArn=arn("app-t",
                                                                                "template"))),
     200),
    ("bulk template not allowed", "SendBulkEmail",
     bulk(DefaultContent=template(TemplateName="other")), 403),
    ("template in the path", "GetEmailTemplate", {"TemplateName": "other"}, 403),
    ("template created", "CreateEmailTemplate",
     {"TemplateName": "other", "TemplateContent": {"Subject": "s"}}, 403),
    ("template allowed", "DeleteEmailTemplate", {"TemplateName": "app-old"}, 200),
    ("custom verification template not allowed", "SendCustomVerificationEmail",
     {"EmailAddress": "me@example.com", "TemplateName": "other"}, 403),
    ("custom verification FromEmailAddress elsewhere", "CreateCustomVerificationEmailTemplate",
     {"TemplateName": "app-v", "FromEmailAddress": "x@evil.com", "TemplateSubject": "s",
      "TemplateContent": "c", "SuccessRedirectionURL": "https://a",
      "FailureRedirectionURL": "https://b"}, 403),
    ("contact list not allowed", "SendEmail",
     send(ListManagementOptions={"ContactListName": "other"}), 403),
    ("contact list allowed", "SendEmail",
     send(ListManagementOptions={"ContactListName": "app-news"}), 200),
    ("contact list created", "CreateContactList", {"ContactListName": "other"}, 403),
    ("contact list in the path", "GetContact",
     {"ContactListName": "other", "EmailAddress": "a@b.c"}, 403),
    ("contact list in the path, allowed", "DeleteContact",
     {"ContactListName": "app-news", "EmailAddress": "a@b.c"}, 200),
    ("tenant not allowed", "SendEmail", send(TenantName="other"), 403),
    ("tenant allowed", "SendEmail", send(TenantName="app-one"), 200),
    ("bulk tenant not allowed", "SendBulkEmail", bulk(TenantName="other"), 403),
    ("tenant created", "CreateTenant", {"TenantName": "other"}, 403),
    ("tenant read", "GetTenant", {"TenantName": "other"}, 403),
    ("tenant association", "CreateTenantResourceAssociation",
     {"TenantName": "app-one", "ResourceArn": arn("prod", "configuration-set",
                                                  account="999999999999")}, 403),
    ("identity in the path", "GetEmailIdentity", {"EmailIdentity": "victim.com"}, 403),
    ("identity in the path, percent-encoded", "DeleteEmailIdentity",
     {"EmailIdentity": "user@victim.com"}, 403),
    ("identity in the path, allowed", "PutEmailIdentityDkimAttributes",
     {"EmailIdentity": "example.com", "SigningEnabled": True}, 200),
    ("identity address in the path, allowed", "GetEmailIdentity",
     {"EmailIdentity": "someone@mail.example.org"}, 200),
    ("identity created", "CreateEmailIdentity", {"EmailIdentity": "victim.com"}, 403),
    ("identity's policy", "CreateEmailIdentityPolicy",
     {"EmailIdentity": "victim.com", "PolicyName": "p", "Policy": "{}"}, 403),
    ("custom verification email to another identity", "SendCustomVerificationEmail",
     {"EmailAddress": "x@evil.com", "TemplateName": "app-v"}, 403),
    ("domain statistics of another domain", "GetDomainStatisticsReport",
     {"Domain": "evil.com", "StartDate": 1700000000, "EndDate": 1700086400}, 403),
    ("tags of another account's resource", "TagResource",
     {"ResourceArn": arn("app-1", "configuration-set", account="999999999999"),
      "Tags": [{"Key": "k", "Value": "v"}]}, 403),
]


def _json(v):
    """boto3 parameters as the proxy's JSON takes them (blobs as base64)."""
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json(x) for x in v]
    return v


CODES = {403: "AccessDenied", 400: "InvalidParameterValue"}


def test_policy_cases_json(start_proxy, standin):
    p = start_proxy(STRICT)
    sent = 0
    for what, op_name, params, status in CASES:
        r = p.call(_json(params), path="/v2/" + op_name)
        if status == 200:
            assert r.status == 200, (what, r)
            sent += 1
        else:
            assert error_of(r) == (status, CODES[status]), (what, r)
        assert standin.count == sent, what
    print("\nv2 JSON mode: %d policy cases, %d refused" % (len(CASES), len(CASES) - sent))


def test_policy_cases_passthrough(start_proxy, standin):
    p = start_proxy(STRICT)
    client = sesv2_client(p)
    sent = 0
    for what, op_name, params, status in CASES:
        call = getattr(client, xform(op_name))
        if status == 200:
            call(**params)
            sent += 1
        else:
            got = client_error(client, lambda: call(**params))
            assert got[:2] == (status, CODES[status]), (what, got)
            assert got[3], what
        assert standin.count == sent, what
    print("\nv2 pass-through: %d policy cases, %d refused" % (len(CASES), len(CASES) - sent))


SEND_V1 = {"Source": "me@example.com", "Destination": TO,
           "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}


@pytest.mark.parametrize("rules,v1_ok,v2_ok", [
    ({"allow_actions": ["SendEmail"]}, True, False),
    ({"allow_actions": ["v2:SendEmail"]}, False, True),
    ({"allow_actions": ["Send*", "v2:Send*"]}, True, True),
    ({"deny_actions": ["SendEmail"]}, False, True),
    ({"deny_actions": ["v2:SendEmail"]}, True, False),
    ({"allow_actions": ["*"], "deny_actions": ["v2:*"]}, True, False),
])
def test_v1_and_v2_actions_are_distinct(start_proxy, standin, rules, v1_ok, v2_ok):
    import botocore_models
    p = start_proxy({"policy": rules})
    v1 = botocore_models.boto3_session().client(
        "ses", region_name="us-east-1", endpoint_url=p.url, aws_access_key_id="AKIDTHROWAWAY",
        aws_secret_access_key="x")
    v2 = sesv2_client(p)
    sent = 0
    for ok, json_call, sdk_call in (
            (v1_ok, lambda: p.call(dict(SEND_V1, Action="SendEmail")),
             lambda: v1.send_email(**SEND_V1)),
            (v2_ok, lambda: p.call(send(), path="/v2/SendEmail"),
             lambda: v2.send_email(**send()))):
        r = json_call()
        if ok:
            assert r.status == 200, (rules, r)
            sdk_call()
            sent += 2
        else:
            assert error_of(r) == (403, "AccessDenied"), (rules, r)
            status, code, _, _ = client_error(v2, sdk_call)
            assert (status, code) == (403, "AccessDenied"), rules
        assert standin.count == sent, rules
    # the access log names the v2 call v2:SendEmail, whatever the verdict
    assert '"action":"v2:SendEmail"' in p.stdout


def test_rules_keyed_by_v2_names(start_proxy, standin):
    """An object's operation globs name v2 operations as v2:<Operation>:
    {"v2:Send*": [...]} is the rule for v2's sending calls, in both modes."""
    p = start_proxy({"policy": {
        "identities": {"v2:Send*": ["alerts@example.com"], "*": ["example.com"]},
        "templates": {"v2:*Template*": ["app-*"]}}})
    client = sesv2_client(p)
    sent = 0
    for sender, status in (("alerts@example.com", 200), ("ceo@example.com", 403)):
        for via in ("json", "sdk"):
            if via == "json":
                r = p.call(send(FromEmailAddress=sender), path="/v2/SendEmail")
                got = r.status if r.status == 200 else error_of(r)[0]
            else:
                try:
                    client.send_email(**send(FromEmailAddress=sender))
                    got = 200
                except client.exceptions.ClientError as e:
                    got = e.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got == status, (sender, via)
            sent += status == 200
            assert standin.count == sent
    # the "*" rule for everything else: an identity operation
    assert error_of(p.call({"EmailIdentity": "victim.com"}, path="/v2/GetEmailIdentity"))[0] == 403
    assert p.call({"EmailIdentity": "example.com"}, path="/v2/GetEmailIdentity").status == 200
    # the template rule by its v2 glob
    assert error_of(p.call({"TemplateName": "other"}, path="/v2/GetEmailTemplate"))[0] == 403
    assert p.call({"TemplateName": "app-x"}, path="/v2/GetEmailTemplate").status == 200
    assert standin.count == sent + 2
