/* policy_test.c - policy.identities: which identities a call may name. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/model.h"
#include "proxy/policy.h"

#include "proxy/config.h"

#include "tests/unit/unit_check.h"

static char *pats[] = {"example.com", "*.example.org", "alerts@other.net"};
static struct config_identity_rule rule = {"*", pats, 3};

static int json_ok(const char *op_name, const char *params_text) {
    const struct model_op *op = model_find_op(&model_ses, op_name, strlen(op_name));
    json_t *p = json_loads(params_text, 0, NULL);
    struct sp_err err;
    sp_err_clear(&err);
    int rc = policy_check_json(&rule, op, p, &err);
    json_decref(p);
    if (rc < 0 && strcmp(err.code, "AccessDenied") != 0) {
        return -2;
    }
    return rc;
}

static int form_ok(const char *op_name, const char *body) {
    const struct model_op *op = model_find_op(&model_ses, op_name, strlen(op_name));
    struct sp_err err;
    sp_err_clear(&err);
    return policy_check_form(&rule, op, body, strlen(body), &err);
}

int main(void) {
    /* matching */
    CHECK(policy_identity_allowed(&rule, "example.com"));
    CHECK(policy_identity_allowed(&rule, "EXAMPLE.com"));
    CHECK(policy_identity_allowed(&rule, "user@example.com"));
    CHECK(policy_identity_allowed(&rule, "Some One <user@Example.COM>"));
    CHECK(!policy_identity_allowed(&rule, "sub.example.com"));
    CHECK(!policy_identity_allowed(&rule, "user@evil.com"));
    CHECK(!policy_identity_allowed(&rule, "example.com.evil.com"));
    CHECK(!policy_identity_allowed(&rule, "user@example.com@evil.com"));
    CHECK(policy_identity_allowed(&rule, "mail.example.org"));
    CHECK(policy_identity_allowed(&rule, "x@mail.example.org"));
    CHECK(!policy_identity_allowed(&rule, "example.org"));
    CHECK(policy_identity_allowed(&rule, "alerts@other.net"));
    CHECK(!policy_identity_allowed(&rule, "other.net"));
    CHECK(!policy_identity_allowed(&rule, "bob@other.net"));
    CHECK(
        policy_identity_allowed(&rule, "arn:aws:ses:us-east-1:123456789012:identity/example.com"));
    CHECK(!policy_identity_allowed(&rule, "arn:aws:ses:us-east-1:123456789012:identity/evil.com"));
    CHECK(!policy_identity_allowed(&rule, "Name <>"));
    CHECK(!policy_identity_allowed(&rule, ""));

    /* JSON calls */
    CHECK(json_ok("SetIdentityMailFromDomain", "{\"Identity\": \"example.com\"}") == 0);
    CHECK(json_ok("SetIdentityMailFromDomain", "{\"Identity\": \"evil.com\"}") == -1);
    CHECK(json_ok("GetIdentityVerificationAttributes",
                  "{\"Identities\": [\"example.com\", \"a@example.com\"]}") == 0);
    CHECK(json_ok("GetIdentityVerificationAttributes",
                  "{\"Identities\": [\"example.com\", \"evil.com\"]}") == -1);
    CHECK(json_ok("SendEmail", "{\"Source\": \"Me <me@example.com>\"}") == 0);
    CHECK(json_ok("SendEmail", "{\"Source\": \"me@evil.com\"}") == -1);
    CHECK(json_ok("SendEmail", "{\"Source\": \"me@example.com\", \"SourceArn\": "
                               "\"arn:aws:ses:us-east-1:1:identity/evil.com\"}") == -1);
    CHECK(json_ok("VerifyEmailIdentity", "{\"EmailAddress\": \"x@evil.com\"}") == -1);
    CHECK(json_ok("VerifyDomainIdentity", "{\"Domain\": \"mail.example.org\"}") == 0);
    /* raw mail: Source wins, else the message's From */
    /* "From: a@example.com\r\nTo: b@x.com\r\n\r\nhi" and the same From evil.com */
    CHECK(json_ok("SendRawEmail",
                  "{\"RawMessage\": {\"Data\": "
                  "\"RnJvbTogYUBleGFtcGxlLmNvbQ0KVG86IGJAeC5jb20NCg0KaGk=\"}}") == 0);
    CHECK(json_ok("SendRawEmail", "{\"RawMessage\": {\"Data\": "
                                  "\"RnJvbTogYUBldmlsLmNvbQ0KVG86IGJAeC5jb20NCg0KaGk=\"}}") == -1);
    CHECK(json_ok("SendRawEmail", "{\"Source\": \"a@example.com\", \"RawMessage\": {\"Data\": "
                                  "\"RnJvbTogYUBldmlsLmNvbQ0KVG86IGJAeC5jb20NCg0KaGk=\"}}") == 0);
    CHECK(json_ok("SendRawEmail", "{\"RawMessage\": {\"Data\": \"VG86IGJAeC5jb20NCg0KaGk=\"}}") ==
          -1); /* no From at all */
    CHECK(json_ok("ListIdentities", "{}") == 0);

    /* SDK forms */
    CHECK(form_ok("SetIdentityMailFromDomain",
                  "Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=example.com") == 0);
    CHECK(form_ok("SetIdentityMailFromDomain",
                  "Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=evil.com") == -1);
    CHECK(form_ok("GetIdentityDkimAttributes",
                  "Action=GetIdentityDkimAttributes&Identities."
                  "member.1=example.com&Identities.member.2=evil.com") == -1);
    CHECK(form_ok("SendEmail", "Action=SendEmail&Source=Me%20%3Cme%40example.com%3E") == 0);
    CHECK(form_ok("SendEmail", "Action=SendEmail&Source=me%40evil.com") == -1);
    CHECK(form_ok("SendRawEmail", "Action=SendRawEmail&RawMessage.Data="
                                  "RnJvbTogYUBleGFtcGxlLmNvbQ0KVG86IGJAeC5jb20NCg0KaGk%3D") == 0);
    CHECK(form_ok("SendRawEmail", "Action=SendRawEmail&RawMessage.Data="
                                  "RnJvbTogYUBldmlsLmNvbQ0KVG86IGJAeC5jb20NCg0KaGk%3D") == -1);

    /* no rule: no constraint */
    const struct model_op *op = model_find_op(&model_ses, "SendEmail", 9);
    json_t *p = json_pack("{s:s}", "Source", "x@anything.com");
    struct sp_err err;
    CHECK(policy_check_json(NULL, op, p, &err) == 0);
    json_decref(p);

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
