/* policy_test.c - matching against the policy: client CIDRs
 * (policy.allow_clients), action globs (allow_actions, deny_actions), and
 * which identities a call may name (policy.identities). Policies are loaded
 * from text with config_load_text, as the proxy loads them. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "api/model.h"
#include "proxy/policy.h"

#include "proxy/config.h"

#include "tests/unit/unit_check.h"

static char *pats[] = {"example.com", "*.example.org", "alerts@other.net"};
static struct config_rule rule = {"*", pats, 3};

static struct config *load_text(const char *text) {
    struct sp_err err;
    sp_err_clear(&err);
    struct config *cfg = config_load_text(text, strlen(text), "test.json", &err);
    if (cfg == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
    }
    return cfg;
}

static int cidr_is(const struct config_cidr *c, int family, const char *addr, int prefix) {
    uint8_t want[16] = {0};
    if (inet_pton(family, addr, want) != 1) {
        return 0;
    }
    return c->family == family && c->prefix == prefix &&
           memcmp(c->addr, want, family == AF_INET ? 4 : 16) == 0;
}

static struct sockaddr_storage ss;

static const struct sockaddr *v4(const char *a) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof(ss));
    s->sin_family = AF_INET;
    if (inet_pton(AF_INET, a, &s->sin_addr) != 1) {
        abort();
    }
    return (const struct sockaddr *)&ss;
}

static const struct sockaddr *v6(const char *a) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    memset(&ss, 0, sizeof(ss));
    s->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, a, &s->sin6_addr) != 1) {
        abort();
    }
    return (const struct sockaddr *)&ss;
}

static void test_cidr(void) {
    struct config_cidr c;
    CHECK(config_parse_cidr("10.0.0.0/8", &c) == 0 && cidr_is(&c, AF_INET, "10.0.0.0", 8));
    CHECK(config_parse_cidr("10.1.2.3", &c) == 0 && cidr_is(&c, AF_INET, "10.1.2.3", 32));
    CHECK(config_parse_cidr("0.0.0.0/0", &c) == 0 && c.prefix == 0);
    CHECK(config_parse_cidr("1.2.3.4/32", &c) == 0 && c.prefix == 32);
    CHECK(config_parse_cidr("::1", &c) == 0 && cidr_is(&c, AF_INET6, "::1", 128));
    /* Digits only after the slash. */
    CHECK(config_parse_cidr("10.0.0.0/ 8", &c) < 0);
    CHECK(config_parse_cidr("10.0.0.0/+8", &c) < 0);
    CHECK(config_parse_cidr("10.0.0.0/", &c) < 0);
    CHECK(config_parse_cidr("::/0", &c) == 0 && c.family == AF_INET6 && c.prefix == 0);
    CHECK(config_parse_cidr("2001:db8::/32", &c) == 0 && cidr_is(&c, AF_INET6, "2001:db8::", 32));
    CHECK(config_parse_cidr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", &c) == 0);
    CHECK(config_parse_cidr("10.0.0.0/33", &c) == -1);
    CHECK(config_parse_cidr("::/129", &c) == -1);
    CHECK(config_parse_cidr("10.0.0.0/", &c) == -1);
    CHECK(config_parse_cidr("10.0.0.0/-1", &c) == -1);
    CHECK(config_parse_cidr("10.0.0.0/8x", &c) == -1);
    CHECK(config_parse_cidr("10.0.0.0/x", &c) == -1);
    CHECK(config_parse_cidr("10.0.0.0/8/8", &c) == -1);
    CHECK(config_parse_cidr("10.0.0/8", &c) == -1);
    CHECK(config_parse_cidr("256.0.0.0/8", &c) == -1);
    CHECK(config_parse_cidr("/8", &c) == -1);
    CHECK(config_parse_cidr("", &c) == -1);
    CHECK(config_parse_cidr("localhost", &c) == -1);
    CHECK(config_parse_cidr("10.0.0.0/99999999999999999999", &c) == -1);
    char longs[300];
    memset(longs, '1', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    CHECK(config_parse_cidr(longs, &c) == -1);

    struct config *cfg = load_text("{\"policy\": {\"allow_clients\": [\"10.0.0.0/7\", "
                                   "\"192.168.1.77/24\", \"2001:db8::/32\", \"172.16.5.4\"]}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    /* /7 covers 10.x and 11.x only. */
    CHECK(policy_client_allowed(cfg, v4("10.1.2.3")));
    CHECK(policy_client_allowed(cfg, v4("11.255.255.255")));
    CHECK(!policy_client_allowed(cfg, v4("12.0.0.0")));
    CHECK(!policy_client_allowed(cfg, v4("9.255.255.255")));
    /* Host bits in the rule are ignored. */
    CHECK(policy_client_allowed(cfg, v4("192.168.1.1")));
    CHECK(!policy_client_allowed(cfg, v4("192.168.2.1")));
    CHECK(policy_client_allowed(cfg, v4("172.16.5.4")));
    CHECK(!policy_client_allowed(cfg, v4("172.16.5.5")));
    CHECK(!policy_client_allowed(cfg, v4("127.0.0.1"))); /* the list replaces the default */
    /* IPv4-mapped IPv6 is matched as IPv4. */
    CHECK(policy_client_allowed(cfg, v6("::ffff:10.9.8.7")));
    CHECK(policy_client_allowed(cfg, v6("::ffff:172.16.5.4")));
    CHECK(!policy_client_allowed(cfg, v6("::ffff:12.0.0.1")));
    CHECK(!policy_client_allowed(cfg, v6("::10.9.8.7"))); /* IPv4-compatible is not mapped */
    CHECK(policy_client_allowed(cfg, v6("2001:db8:ffff::1")));
    CHECK(!policy_client_allowed(cfg, v6("2001:db9::1")));
    CHECK(!policy_client_allowed(cfg, v6("::1")));
    /* Unix sockets always; other families never. */
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    CHECK(policy_client_allowed(cfg, (const struct sockaddr *)&un));
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_APPLETALK;
    CHECK(!policy_client_allowed(cfg, (const struct sockaddr *)&ss));
    config_unref(cfg);

    /* /0 and the defaults. */
    cfg = load_text("{\"policy\": {\"allow_clients\": [\"0.0.0.0/0\"]}}");
    CHECK(cfg != NULL && policy_client_allowed(cfg, v4("203.0.113.9")) &&
          policy_client_allowed(cfg, v6("::ffff:203.0.113.9")) &&
          !policy_client_allowed(cfg, v6("2001:db8::1")));
    config_unref(cfg);
    cfg = load_text("{\"policy\": {\"allow_clients\": [\"::/0\"]}}");
    CHECK(cfg != NULL && policy_client_allowed(cfg, v6("2001:db8::1")) &&
          !policy_client_allowed(cfg, v4("203.0.113.9")));
    config_unref(cfg);
    cfg = load_text("{\"policy\": {\"allow_clients\": []}}");
    CHECK(cfg != NULL && cfg->policy.n_allow_clients == 0 &&
          !policy_client_allowed(cfg, v4("127.0.0.1")));
    config_unref(cfg);
    cfg = load_text("{}");
    CHECK(cfg != NULL && policy_client_allowed(cfg, v4("127.0.0.1")) &&
          policy_client_allowed(cfg, v4("127.255.0.1")) && policy_client_allowed(cfg, v6("::1")) &&
          policy_client_allowed(cfg, v6("::ffff:127.0.0.1")) &&
          !policy_client_allowed(cfg, v4("10.0.0.1")) && !policy_client_allowed(cfg, v6("::2")));
    config_unref(cfg);
}

static void test_actions(void) {
    struct config *cfg = load_text("{\"policy\": {\"allow_actions\": [\"Get*\", \"List*\", "
                                   "\"SendEmail\", \"Send?awEmail\"], \"deny_actions\": "
                                   "[\"GetAccount*\", \"SendEmail\", \"List[IV]*\"]}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    CHECK(policy_action_allowed(cfg, "GetSendQuota"));
    CHECK(!policy_action_allowed(cfg, "GetAccountSendingEnabled")); /* deny glob wins */
    CHECK(!policy_action_allowed(cfg, "SendEmail"));                /* deny wins over allow */
    CHECK(policy_action_allowed(cfg, "SendRawEmail"));              /* ? glob */
    CHECK(!policy_action_allowed(cfg, "SendBulkTemplatedEmail"));   /* not allowed */
    CHECK(policy_action_allowed(cfg, "ListConfigurationSets"));
    CHECK(!policy_action_allowed(cfg, "ListIdentities"));
    CHECK(!policy_action_allowed(cfg, "ListVerifiedEmailAddresses"));
    CHECK(!policy_action_allowed(cfg, "getSendQuota")); /* case matters */
    CHECK(!policy_action_allowed(cfg, ""));
    config_unref(cfg);
    cfg = load_text("{}");
    CHECK(cfg != NULL && policy_action_allowed(cfg, "DeleteIdentity") &&
          policy_action_allowed(cfg, "SendEmail"));
    config_unref(cfg);
    cfg = load_text("{\"policy\": {\"allow_actions\": []}}");
    CHECK(cfg != NULL && !policy_action_allowed(cfg, "GetSendQuota"));
    config_unref(cfg);
    cfg = load_text("{\"policy\": {\"deny_actions\": [\"Delete*\"]}}");
    CHECK(cfg != NULL && !policy_action_allowed(cfg, "DeleteIdentity") &&
          policy_action_allowed(cfg, "VerifyEmailIdentity"));
    config_unref(cfg);
}

static void test_identity_rule(void) {
    /* First glob in file order wins; unmatched operations are free. */
    struct config *cfg =
        load_text("{\"policy\": {\"identities\": {\"Send*\": [\"a@example.com\"], "
                  "\"SendRawEmail\": [\"other.net\"], \"Get*\": [\"example.com\"]}}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    const struct config_rule *r = policy_identity_rule(cfg, "SendRawEmail");
    CHECK(r != NULL && strcmp(r->action, "Send*") == 0 && r->n_patterns == 1 &&
          strcmp(r->patterns[0], "a@example.com") == 0);
    r = policy_identity_rule(cfg, "GetIdentityPolicies");
    CHECK(r != NULL && strcmp(r->action, "Get*") == 0);
    CHECK(policy_identity_rule(cfg, "DeleteIdentity") == NULL);
    CHECK(policy_identity_rule(cfg, "sendEmail") == NULL); /* case matters */
    config_unref(cfg);
    /* A list applies to every operation; none constrains nothing. */
    cfg = load_text("{\"policy\": {\"identities\": [\"example.com\", \"*.example.org\"]}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    r = policy_identity_rule(cfg, "DeleteIdentity");
    CHECK(r != NULL && strcmp(r->action, "*") == 0 && r->n_patterns == 2);
    CHECK(r != NULL && policy_identity_allowed(r, "x@mail.example.org") &&
          !policy_identity_allowed(r, "x@evil.com"));
    config_unref(cfg);
    cfg = load_text("{}");
    CHECK(cfg != NULL && policy_identity_rule(cfg, "SendEmail") == NULL);
    config_unref(cfg);
}

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

static void test_identities(void) {
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
}

int main(void) {
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ENDPOINT_URL_SES");
    unsetenv("AWS_ENDPOINT_URL");
    test_cidr();
    test_actions();
    test_identity_rule();
    test_identities();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
