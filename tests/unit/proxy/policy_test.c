/* policy_test.c - matching against the policy: client CIDRs
 * (policy.allow_clients), action globs (allow_actions, deny_actions), and
 * which identities a call may name (policy.identities). Policies are loaded
 * from text with config_load_text, as the proxy loads them; calls are
 * validated first, as the pipeline does. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "api/model.h"
#include "api/rawmsg.h"
#include "api/validate.h"
#include "proxy/policy.h"

#include "proxy/config.h"

#include "tests/unit/unit_check.h"

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

static void test_rules(void) {
    /* First glob in file order wins; unmatched operations are free. */
    struct config *cfg =
        load_text("{\"policy\": {\"identities\": {\"Send*\": [\"a@example.com\"], "
                  "\"SendRawEmail\": [\"other.net\"], \"Get*\": [\"example.com\"]}}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    const struct config_rule *r = policy_rule(&cfg->policy.identities, "SendRawEmail");
    CHECK(r != NULL && strcmp(r->action, "Send*") == 0 && r->n_patterns == 1 &&
          strcmp(r->patterns[0], "a@example.com") == 0);
    r = policy_rule(&cfg->policy.identities, "GetIdentityPolicies");
    CHECK(r != NULL && strcmp(r->action, "Get*") == 0);
    CHECK(policy_rule(&cfg->policy.identities, "DeleteIdentity") == NULL);
    CHECK(policy_rule(&cfg->policy.identities, "sendEmail") == NULL); /* case matters */
    config_unref(cfg);
    /* A list applies to every operation; none constrains nothing. */
    cfg = load_text("{\"policy\": {\"identities\": [\"example.com\", \"*.example.org\"]}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    r = policy_rule(&cfg->policy.identities, "DeleteIdentity");
    CHECK(r != NULL && strcmp(r->action, "*") == 0 && r->n_patterns == 2);
    config_unref(cfg);
    cfg = load_text("{}");
    CHECK(cfg != NULL && policy_rule(&cfg->policy.identities, "SendEmail") == NULL);
    config_unref(cfg);
}

/* A policy for the call tests: identities for every operation, configuration
 * sets and templates by glob, the account known. */
static struct config *policy_cfg;
static const char *account = "123456789012";

/* Verdict of the policy on op with params (JSON text): 0 allowed, else the
 * status (403, 400, 503). raw_b64: a raw message to read first, or NULL. */
static int verdict_with(const char *acct, const char *op_name, const char *params_text) {
    const struct model_op *op = model_find_op(&model_ses, op_name, strlen(op_name));
    json_error_t jerr;
    json_t *p = json_loads(params_text, 0, &jerr);
    if (op == NULL || p == NULL) {
        fprintf(stderr, "bad test input: %s %s (%s)\n", op_name, params_text, jerr.text);
        abort();
    }
    struct sp_err err;
    sp_err_clear(&err);
    if (validate_params(&model_ses, op, p, &err) < 0) {
        fprintf(stderr, "invalid test params: %s: %s\n", op_name, err.msg);
        abort();
    }
    struct rawmsg *raw = NULL;
    json_t *data = json_object_get(json_object_get(p, "RawMessage"), "Data");
    if (json_is_string(data)) {
        raw = malloc(sizeof(*raw));
        if (raw == NULL || rawmsg_read(json_string_value(data), json_string_length(data),
                                       RAWMSG_BASE64, raw, &err) < 0) {
            free(raw);
            json_decref(p);
            return 400;
        }
    }
    struct policy_account a = {acct};
    int status = 0;
    int rc = policy_check_call(policy_cfg, &a, &model_ses, op, op->name, p, raw, &status, &err);
    free(raw);
    json_decref(p);
    if (rc < 0 && (status == 0 || err.code == NULL)) {
        return -1; /* a refusal must say why */
    }
    return rc < 0 ? status : 0;
}

static int verdict(const char *op_name, const char *params_text) {
    return verdict_with(account, op_name, params_text);
}

/* base64 of a message text, for RawMessage.Data. */
static const char *b64(const char *text) {
    static char out[4096];
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(text), o = 0;
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)t[i] << 16 | (i + 1 < n ? (unsigned)t[i + 1] << 8 : 0) |
                     (i + 2 < n ? t[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int raw_verdict(const char *source, const char *message) {
    char params[6000];
    if (source != NULL) {
        snprintf(params, sizeof(params), "{\"Source\": \"%s\", \"RawMessage\": {\"Data\": \"%s\"}}",
                 source, b64(message));
    } else {
        snprintf(params, sizeof(params), "{\"RawMessage\": {\"Data\": \"%s\"}}", b64(message));
    }
    return verdict("SendRawEmail", params);
}

static int source_verdict(const char *source) {
    char params[1000];
    json_t *s = json_string(source);
    char *quoted = json_dumps(s, JSON_ENCODE_ANY);
    snprintf(params, sizeof(params),
             "{\"Source\": %s, \"Destination\": {\"ToAddresses\": [\"x@y.com\"]}, \"Message\": "
             "{\"Subject\": {\"Data\": \"s\"}, \"Body\": {\"Text\": {\"Data\": \"b\"}}}}",
             quoted);
    free(quoted);
    json_decref(s);
    return verdict("SendEmail", params);
}

static void test_identity_matching(void) {
    /* patterns: example.com, *.example.org, alerts@other.net, bücher.de */
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"example.com\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"EXAMPLE.com\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"user@example.com\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"sub.example.com\"}") == 403);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"evil.com\"}") == 403);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"example.com.evil.com\"}") == 403);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"mail.example.org\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"example.org\"}") == 403);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"evilexample.org\"}") == 403);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"alerts@other.net\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"ALERTS@Other.NET\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"bob@other.net\"}") == 403);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"other.net\"}") == 403);
    /* internationalised: the U-label and the A-label are the same identity */
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"b\\u00fccher.de\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"xn--bcher-kva.de\"}") == 0);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"a@XN--BCHER-KVA.DE\"}") == 0);
    /* a Cyrillic a is another domain */
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"ex\\u0430mple.com\"}") == 403);
    /* not host names: refused before any glob sees them */
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"example.com.\"}") == 400);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"a@[127.0.0.1]\"}") == 400);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"exa mple.com\"}") == 400);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"example.com\\u0001x\"}") == 400);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"1.2.3.4\"}") == 400);
    CHECK(verdict("SetIdentityMailFromDomain", "{\"Identity\": \"Me <a@example.com>\"}") == 400);
    /* every element of a list */
    CHECK(verdict("GetIdentityVerificationAttributes",
                  "{\"Identities\": [\"example.com\", \"a@example.com\"]}") == 0);
    CHECK(verdict("GetIdentityVerificationAttributes",
                  "{\"Identities\": [\"example.com\", \"evil.com\"]}") == 403);
    CHECK(verdict("VerifyEmailIdentity", "{\"EmailAddress\": \"x@evil.com\"}") == 403);
    CHECK(verdict("VerifyDomainIdentity", "{\"Domain\": \"mail.example.org\"}") == 0);
    CHECK(verdict("DeleteIdentity", "{\"Identity\": \"evil.com\"}") == 403);
    CHECK(verdict("ListIdentities", "{}") == 0);
}

static void test_mailbox_tricks(void) {
    CHECK(source_verdict("me@example.com") == 0);
    CHECK(source_verdict("Me <me@example.com>") == 0);
    CHECK(source_verdict("\"Me, Myself\" <me@example.com>") == 0);
    CHECK(source_verdict("=?utf-8?q?Caf=C3=A9?= <me@example.com>") == 0);
    /* an encoded word is never an address: one that looks like one is refused */
    CHECK(source_verdict("=?utf-8?q?a@evil.com?= <me@example.com>") == 400);
    CHECK(source_verdict("me@evil.com") == 403);
    CHECK(source_verdict("Me <me@evil.com>") == 403);
    /* what another reader would take for the address is refused outright */
    CHECK(source_verdict("\"me@example.com\" <x@evil.com>") == 400);
    CHECK(source_verdict("x@evil.com (me@example.com)") == 400);
    CHECK(source_verdict("me@example.com <x@evil.com>") == 400);
    CHECK(source_verdict("<@example.com:x@evil.com>") == 400);
    CHECK(source_verdict("\"x@evil.com\"@example.com") == 400);
    CHECK(source_verdict("me@example.com, x@evil.com") == 400);
    CHECK(source_verdict("team: me@example.com;") == 400);
    CHECK(source_verdict("me@example.com\r\nBcc: x@evil.com") == 400);
    CHECK(source_verdict("me@example.com x@evil.com") == 400);
    CHECK(source_verdict("=?utf-8?q?x?=@example.com") == 400);
    CHECK(source_verdict("") == 400);
    /* every sender member, not only Source */
    CHECK(verdict("SendEmail", "{\"Source\": \"me@example.com\", \"ReturnPath\": \"b@evil.com\", "
                               "\"Destination\": {}, \"Message\": {\"Subject\": {\"Data\": \"s\"}, "
                               "\"Body\": {}}}") == 403);
    CHECK(verdict("SendBounce",
                  "{\"OriginalMessageId\": \"m\", \"BounceSender\": \"b@evil.com\", "
                  "\"BouncedRecipientInfoList\": [{\"Recipient\": \"r@example.com\"}]}") == 403);
    CHECK(verdict("SendBounce",
                  "{\"OriginalMessageId\": \"m\", \"BounceSender\": \"b@example.com\", "
                  "\"BouncedRecipientInfoList\": [{\"Recipient\": \"r@example.com\"}]}") == 0);
    CHECK(verdict("CreateCustomVerificationEmailTemplate",
                  "{\"TemplateName\": \"app-verify\", \"FromEmailAddress\": \"x@evil.com\", "
                  "\"TemplateSubject\": \"s\", \"TemplateContent\": \"c\", "
                  "\"SuccessRedirectionURL\": \"https://a\", \"FailureRedirectionURL\": "
                  "\"https://b\"}") == 403);
    CHECK(verdict("CreateReceiptRule",
                  "{\"RuleSetName\": \"r\", \"Rule\": {\"Name\": \"n\", \"Actions\": "
                  "[{\"BounceAction\": {\"SmtpReplyCode\": \"550\", \"Message\": \"m\", "
                  "\"Sender\": \"x@evil.com\"}}]}}") == 403);
    CHECK(verdict("CreateReceiptRule",
                  "{\"RuleSetName\": \"r\", \"Rule\": {\"Name\": \"n\", \"Actions\": "
                  "[{\"BounceAction\": {\"SmtpReplyCode\": \"550\", \"Message\": \"m\", "
                  "\"Sender\": \"x@example.com\"}}]}}") == 0);
}

static void test_arns(void) {
    const char *ok = "arn:aws:ses:us-east-1:123456789012:identity/example.com";
    char p[600];
    snprintf(p, sizeof(p),
             "{\"Source\": \"me@example.com\", \"SourceArn\": \"%s\", \"Destination\": {}, "
             "\"Message\": {\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}}",
             ok);
    CHECK(verdict("SendEmail", p) == 0);
    static const char *const bad[] = {
        "arn:aws:ses:us-east-1:123456789012:identity/evil.com",
        "arn:aws:ses:us-east-1:999999999999:identity/example.com",
        "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
        "arn:aws-cn:ses:us-east-1:123456789012:identity/example.com",
        "arn:aws:sns:us-east-1:123456789012:identity/example.com",
        "arn:aws:ses:us-east-1:123456789012:identity/a@evil.com",
        "example.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(p, sizeof(p),
                 "{\"Source\": \"me@example.com\", \"ReturnPathArn\": \"%s\", \"Destination\": {}, "
                 "\"Message\": {\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}}",
                 bad[i]);
        CHECK(verdict("SendEmail", p) == 403);
    }
    snprintf(p, sizeof(p),
             "{\"Source\": \"me@example.com\", \"FromArn\": "
             "\"arn:aws:ses:us-east-1:123456789012:template/x\", \"RawMessage\": {\"Data\": "
             "\"%s\"}}",
             b64("From: me@example.com\r\n\r\nhi"));
    CHECK(verdict("SendRawEmail", p) == 400); /* not an identity ARN */
    snprintf(p, sizeof(p),
             "{\"OriginalMessageId\": \"m\", \"BounceSender\": \"b@example.com\", "
             "\"BounceSenderArn\": \"arn:aws:ses:us-east-1:123456789012:identity/evil.com\", "
             "\"BouncedRecipientInfoList\": [{\"Recipient\": \"r@example.com\"}]}");
    CHECK(verdict("SendBounce", p) == 403);
    /* the account not known yet: 503, never a guess */
    snprintf(p, sizeof(p),
             "{\"Source\": \"me@example.com\", \"SourceArn\": \"%s\", \"Destination\": {}, "
             "\"Message\": {\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}}",
             ok);
    CHECK(verdict_with(NULL, "SendEmail", p) == 503);
    /* tags: a resource ARN of another account */
    CHECK(verdict("ListIdentityPolicies", "{\"Identity\": \"example.com\"}") == 0);
}

static void test_raw_messages(void) {
    const char *good = "From: Me <me@example.com>\r\nTo: b@x.com\r\n\r\nhi";
    const char *evil = "From: me@evil.com\r\nTo: b@x.com\r\n\r\nhi";
    CHECK(raw_verdict(NULL, good) == 0);
    CHECK(raw_verdict(NULL, evil) == 403);
    /* the message's From is checked even when Source is given */
    CHECK(raw_verdict("me@example.com", evil) == 403);
    CHECK(raw_verdict("me@example.com", good) == 0);
    CHECK(raw_verdict(NULL, "To: b@x.com\r\n\r\nhi") == 403); /* no From at all */
    CHECK(raw_verdict(NULL, "From: me@example.com\r\nFrom: x@evil.com\r\n\r\nhi") == 400);
    CHECK(raw_verdict(
              NULL, "From: me@example.com, x@evil.com\r\nSender: me@example.com\r\n\r\nhi") == 403);
    CHECK(raw_verdict(NULL, "From: me@example.com\r\nSender: x@evil.com\r\n\r\nhi") == 403);
    CHECK(raw_verdict(NULL, "From: me@example.com\r\nReturn-Path: <x@evil.com>\r\n\r\nhi") == 403);
    CHECK(raw_verdict(NULL, "From: me@example.com\r\nReturn-Path: <>\r\n\r\nhi") == 0);
    CHECK(raw_verdict(NULL,
                      "From: me@example.com\r\nX-SES-FROM-ARN: "
                      "arn:aws:ses:us-east-1:123456789012:identity/evil.com\r\n\r\nhi") == 403);
    CHECK(raw_verdict(NULL,
                      "From: me@example.com\r\nx-ses-source-arn: "
                      "arn:aws:ses:us-east-1:999999999999:identity/example.com\r\n\r\nhi") == 403);
    CHECK(raw_verdict(NULL,
                      "From: me@example.com\r\nX-SES-RETURN-PATH-ARN: "
                      "arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n\r\nhi") == 0);
    CHECK(raw_verdict(NULL, "From: me@example.com\r\nX-SES-CONFIGURATION-SET: other\r\n\r\nhi") ==
          403);
    CHECK(raw_verdict(NULL,
                      "From: me@example.com\r\nX-SES-CONFIGURATION-SET: app-mail\r\n\r\nhi") == 0);
    /* folded, and a From hidden by folding */
    CHECK(raw_verdict(NULL, "From: Me\r\n <me@example.com>\r\n\r\nhi") == 0);
    CHECK(raw_verdict(NULL, "Subject: x\r\n From: x@evil.com\r\nFrom: me@example.com\r\n\r\nhi") ==
          0);
    CHECK(raw_verdict(NULL, "From: \"me@example.com\" <x@evil.com>\r\n\r\nhi") == 400);
    CHECK(raw_verdict(NULL, "From: me@example.com\r\n") == 400); /* the section never ends */
}

static void test_names(void) {
    /* configuration_sets: ["app-*"]; templates: ["app-*"] */
    CHECK(verdict("SendEmail", "{\"Source\": \"me@example.com\", \"ConfigurationSetName\": "
                               "\"app-mail\", \"Destination\": {}, \"Message\": {\"Subject\": "
                               "{\"Data\": \"s\"}, \"Body\": {}}}") == 0);
    CHECK(verdict("SendEmail", "{\"Source\": \"me@example.com\", \"ConfigurationSetName\": "
                               "\"other\", \"Destination\": {}, \"Message\": {\"Subject\": "
                               "{\"Data\": \"s\"}, \"Body\": {}}}") == 403);
    CHECK(verdict("DeleteConfigurationSet", "{\"ConfigurationSetName\": \"other\"}") == 403);
    CHECK(verdict("DeleteConfigurationSet", "{\"ConfigurationSetName\": \"app-x\"}") == 0);
    CHECK(verdict("SendTemplatedEmail",
                  "{\"Source\": \"me@example.com\", \"Destination\": {}, \"Template\": "
                  "\"other\", \"TemplateData\": \"{}\"}") == 403);
    CHECK(verdict("SendTemplatedEmail",
                  "{\"Source\": \"me@example.com\", \"Destination\": {}, \"Template\": "
                  "\"app-welcome\", \"TemplateData\": \"{}\"}") == 0);
    CHECK(verdict("SendTemplatedEmail",
                  "{\"Source\": \"me@example.com\", \"Destination\": {}, \"Template\": "
                  "\"app-welcome\", \"TemplateArn\": "
                  "\"arn:aws:ses:us-east-1:123456789012:template/other\", \"TemplateData\": "
                  "\"{}\"}") == 403);
    CHECK(verdict("DeleteTemplate", "{\"TemplateName\": \"other\"}") == 403);
    CHECK(verdict("UpdateTemplate", "{\"Template\": {\"TemplateName\": \"other\"}}") == 403);
    CHECK(verdict("GetCustomVerificationEmailTemplate", "{\"TemplateName\": \"other\"}") == 403);
    CHECK(verdict("SendBulkTemplatedEmail",
                  "{\"Source\": \"me@example.com\", \"Template\": \"app-t\", "
                  "\"DefaultTemplateData\": \"{}\", \"ConfigurationSetName\": \"nope\", "
                  "\"Destinations\": [{\"Destination\": {\"ToAddresses\": [\"a@b.c\"]}}]}") == 403);
}

/* SES v2: the same rules through v2's members (FromEmailAddress, the
 * raw content, added headers, contact lists, tenants), named "v2:...". */
static int v2_verdict(const char *op_name, const char *params_text) {
    const struct model_op *op = model_find_op(&model_sesv2, op_name, strlen(op_name));
    json_error_t jerr;
    json_t *p = json_loads(params_text, 0, &jerr);
    if (op == NULL || p == NULL) {
        fprintf(stderr, "bad test input: %s %s (%s)\n", op_name, params_text, jerr.text);
        abort();
    }
    struct sp_err err;
    sp_err_clear(&err);
    if (validate_params(&model_sesv2, op, p, &err) < 0) {
        fprintf(stderr, "invalid test params: %s: %s\n", op_name, err.msg);
        abort();
    }
    struct rawmsg *raw = NULL;
    json_t *data = json_object_get(json_object_get(json_object_get(p, "Content"), "Raw"), "Data");
    if (json_is_string(data)) {
        raw = malloc(sizeof(*raw));
        if (raw == NULL || rawmsg_read(json_string_value(data), json_string_length(data),
                                       RAWMSG_BASE64, raw, &err) < 0) {
            free(raw);
            json_decref(p);
            return 400;
        }
    }
    char name[80];
    snprintf(name, sizeof(name), "v2:%s", op->name);
    struct policy_account a = {account};
    int status = 0;
    int rc = policy_check_call(policy_cfg, &a, &model_sesv2, op, name, p, raw, &status, &err);
    free(raw);
    json_decref(p);
    return rc < 0 ? status : 0;
}

static void test_v2(void) {
    const char *simple = "\"Content\": {\"Simple\": {\"Subject\": {\"Data\": \"s\"}, "
                         "\"Body\": {\"Text\": {\"Data\": \"b\"}}}}";
    char p[4000];
    snprintf(p, sizeof(p), "{\"FromEmailAddress\": \"Me <me@example.com>\", %s}", simple);
    CHECK(v2_verdict("SendEmail", p) == 0);
    snprintf(p, sizeof(p), "{\"FromEmailAddress\": \"me@evil.com\", %s}", simple);
    CHECK(v2_verdict("SendEmail", p) == 403);
    snprintf(p, sizeof(p), "{\"FromEmailAddress\": \"\\\"me@example.com\\\" <x@evil.com>\", %s}",
             simple);
    CHECK(v2_verdict("SendEmail", p) == 400);
    snprintf(p, sizeof(p),
             "{\"FromEmailAddress\": \"me@example.com\", \"FeedbackForwardingEmailAddress\": "
             "\"f@evil.com\", %s}",
             simple);
    CHECK(v2_verdict("SendEmail", p) == 403);
    snprintf(p, sizeof(p),
             "{\"FromEmailAddress\": \"me@example.com\", \"FromEmailAddressIdentityArn\": "
             "\"arn:aws:ses:us-east-1:999999999999:identity/example.com\", %s}",
             simple);
    CHECK(v2_verdict("SendEmail", p) == 403);
    snprintf(p, sizeof(p),
             "{\"FromEmailAddress\": \"me@example.com\", \"ConfigurationSetName\": \"other\", %s}",
             simple);
    CHECK(v2_verdict("SendEmail", p) == 403);
    /* raw content: its From even without FromEmailAddress */
    snprintf(p, sizeof(p), "{\"Content\": {\"Raw\": {\"Data\": \"%s\"}}}",
             b64("From: x@evil.com\r\nTo: a@b.c\r\n\r\nhi"));
    CHECK(v2_verdict("SendEmail", p) == 403);
    snprintf(p, sizeof(p), "{\"Content\": {\"Raw\": {\"Data\": \"%s\"}}}",
             b64("From: me@example.com\r\nTo: a@b.c\r\n\r\nhi"));
    CHECK(v2_verdict("SendEmail", p) == 0);
    /* headers added to a simple message */
    snprintf(p, sizeof(p),
             "{\"FromEmailAddress\": \"me@example.com\", \"Content\": {\"Simple\": {\"Subject\": "
             "{\"Data\": \"s\"}, \"Body\": {\"Text\": {\"Data\": \"b\"}}, \"Headers\": "
             "[{\"Name\": \"X-SES-CONFIGURATION-SET\", \"Value\": \"other\"}]}}}");
    CHECK(v2_verdict("SendEmail", p) == 403);
    snprintf(p, sizeof(p),
             "{\"FromEmailAddress\": \"me@example.com\", \"Content\": {\"Simple\": {\"Subject\": "
             "{\"Data\": \"s\"}, \"Body\": {\"Text\": {\"Data\": \"b\"}}, \"Headers\": "
             "[{\"Name\": \"sender\", \"Value\": \"x@evil.com\"}]}}}");
    CHECK(v2_verdict("SendEmail", p) == 403);
    snprintf(p, sizeof(p),
             "{\"FromEmailAddress\": \"me@example.com\", \"Content\": {\"Simple\": {\"Subject\": "
             "{\"Data\": \"s\"}, \"Body\": {\"Text\": {\"Data\": \"b\"}}, \"Headers\": "
             "[{\"Name\": \"X-Tag\", \"Value\": \"x@evil.com\"}]}}}");
    CHECK(v2_verdict("SendEmail", p) == 0);
    /* identity operations by path label */
    CHECK(v2_verdict("DeleteEmailIdentity", "{\"EmailIdentity\": \"victim.com\"}") == 403);
    CHECK(v2_verdict("DeleteEmailIdentity", "{\"EmailIdentity\": \"example.com\"}") == 0);
    CHECK(v2_verdict("GetEmailTemplate", "{\"TemplateName\": \"other\"}") == 403);
    CHECK(v2_verdict("GetEmailTemplate", "{\"TemplateName\": \"app-x\"}") == 0);
}

/* A rule keyed without "v2:" rules SES v1 only; a policy where it would
 * leave an allowed same-named SES v2 call to a broader rule, or to none, is
 * refused at load. */
static int v2_rules_ok(const char *text, const char *want_in_msg) {
    struct config *cfg = load_text(text);
    if (cfg == NULL) {
        return -2;
    }
    struct sp_err err;
    sp_err_clear(&err);
    int rc = policy_check_v2_rules(cfg, &model_sesv2, &err);
    if (rc < 0 && want_in_msg != NULL && strstr(err.msg, want_in_msg) == NULL) {
        fprintf(stderr, "  unexpected message: %s\n", err.msg);
        rc = -3;
    }
    config_unref(cfg);
    return rc;
}

static void test_v2_rules(void) {
    /* v2:SendEmail falls to "*" or to nothing while "Send*" rules v1's. */
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"identities\": "
                      "{\"Send*\": [\"a@example.com\"], \"*\": [\"example.com\"]}}}",
                      "policy.identities: \"Send*\" rules SES v1 names only, and SES v2's "
                      "v2:SendBulkEmail, which allow_actions allows, falls to \"*\"") == -1);
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"identities\": "
                      "{\"SendEmail\": [\"a@example.com\"]}}}",
                      "v2:SendEmail, which allow_actions allows, is unconstrained") == -1);
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"templates\": "
                      "{\"Create*\": [\"app-*\"]}}}",
                      "policy.templates: \"Create*\"") == -1);
    /* A glob that starts with "*" matches "v2:..." too: one rule for both. */
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"templates\": "
                      "{\"*Template*\": [\"app-*\"]}}}",
                      NULL) == 0);
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"configuration_sets\": "
                      "{\"Send*\": [\"app-*\"]}}}",
                      "policy.configuration_sets") == -1);
    /* Ruled explicitly: a v2: glob before the catch-all, or the same rule. */
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"identities\": "
                      "{\"v2:Send*\": [\"b@example.com\"], \"Send*\": [\"a@example.com\"], "
                      "\"*\": [\"example.com\"]}}}",
                      NULL) == 0);
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"identities\": "
                      "{\"Send*\": [\"a@example.com\"], \"v2:*\": [\"example.com\"]}}}",
                      NULL) == 0);
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"identities\": "
                      "[\"example.com\"], \"templates\": {\"*\": [\"app-*\"]}}}",
                      NULL) == 0);
    /* SES v2 not allowed, or the same-named call denied: nothing escapes. */
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"Send*\"], \"identities\": "
                      "{\"Send*\": [\"a@example.com\"]}}}",
                      NULL) == 0);
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"deny_actions\": "
                      "[\"v2:*\"], \"identities\": {\"Send*\": [\"a@example.com\"]}}}",
                      NULL) == 0);
    /* A rule whose glob matches no v2 operation with such a value. */
    CHECK(v2_rules_ok("{\"policy\": {\"allow_actions\": [\"*\"], \"identities\": "
                      "{\"SendRawEmail\": [\"a@example.com\"]}}}",
                      NULL) == 0);
}

int main(void) {
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ENDPOINT_URL_SES");
    unsetenv("AWS_ENDPOINT_URL");
    test_cidr();
    test_actions();
    test_rules();
    test_v2_rules();
    policy_cfg = load_text(
        "{\"policy\": {\"identities\": [\"example.com\", \"*.example.org\", "
        "\"alerts@other.net\", \"b\\u00fccher.de\"], \"configuration_sets\": [\"app-*\"], "
        "\"templates\": [\"app-*\"]}}");
    CHECK(policy_cfg != NULL);
    if (policy_cfg != NULL) {
        test_identity_matching();
        test_mailbox_tricks();
        test_arns();
        test_raw_messages();
        test_names();
        test_v2();
    }
    config_unref(policy_cfg);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
