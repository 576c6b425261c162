/* policy.c - matching calls against the policy: clients, actions, and
 * what a call may name (see policy.h). */
#include "proxy/policy.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/mailbox.h"
#include "api/model.h"
#include "api/rawmsg.h"
#include "api/roles.h"
#include "proxy/config.h"

static int prefix_match(const uint8_t *a, const uint8_t *b, int bits) {
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int policy_client_allowed(const struct config *cfg, const struct sockaddr *sa) {
    uint8_t addr[16];
    int family = sa->sa_family;
    if (family == AF_UNIX) {
        return 1;
    }
    if (family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(addr, &s6->sin6_addr, 16);
        /* An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d. */
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, v4mapped, 12) == 0) {
            memmove(addr, addr + 12, 4);
            family = AF_INET;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < cfg->policy.n_allow_clients; i++) {
        const struct config_cidr *c = &cfg->policy.allow_clients[i];
        if (c->family == family && prefix_match(c->addr, addr, c->prefix)) {
            return 1;
        }
    }
    return 0;
}

int policy_action_allowed(const struct config *cfg, const char *op) {
    for (size_t i = 0; i < cfg->policy.n_deny_actions; i++) {
        if (fnmatch(cfg->policy.deny_actions[i], op, 0) == 0) {
            return 0;
        }
    }
    for (size_t i = 0; i < cfg->policy.n_allow_actions; i++) {
        if (fnmatch(cfg->policy.allow_actions[i], op, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- rules ------------------------------------------------------------- */

const struct config_rule *policy_rule(const struct config_rules *rules, const char *op) {
    for (size_t i = 0; i < rules->n_rules; i++) {
        if (fnmatch(rules->rules[i].action, op, 0) == 0) {
            return &rules->rules[i];
        }
    }
    return NULL;
}

/* A domain (canonical: lowercase A-labels) against one identity pattern:
 * "example.com" that domain, "*.example.com" its subdomains, any other
 * glob (fnmatch, after lowercasing ASCII) the domains it matches. */
static int domain_matches(const char *pattern, const char *domain) {
    char canon[MAILBOX_DOMAIN_MAX + 1];
    struct sp_err e;
    if (strncmp(pattern, "*.", 2) == 0 && strpbrk(pattern + 2, "*?[") == NULL) {
        if (mailbox_domain_normalise(pattern + 2, strlen(pattern + 2), canon, sizeof(canon), &e) <
            0) {
            return 0;
        }
        size_t n = strlen(canon), d = strlen(domain);
        return d > n + 1 && domain[d - n - 1] == '.' && strcmp(domain + d - n, canon) == 0;
    }
    if (strpbrk(pattern, "*?[") != NULL) {
        return fnmatch(pattern, domain, FNM_CASEFOLD) == 0;
    }
    return mailbox_domain_normalise(pattern, strlen(pattern), canon, sizeof(canon), &e) == 0 &&
           strcmp(canon, domain) == 0;
}

/* An address (local NULL: a domain identity) against the rule's patterns:
 * an address pattern allows that address only (case-insensitive), a domain
 * pattern the domain and every address at it. */
static int identity_allowed(const struct config_rule *rule, const char *local, const char *domain) {
    for (size_t i = 0; i < rule->n_patterns; i++) {
        const char *p = rule->patterns[i];
        const char *at = strrchr(p, '@');
        if (at == NULL) {
            if (domain_matches(p, domain)) {
                return 1;
            }
            continue;
        }
        if (local == NULL) {
            continue;
        }
        struct mailbox pm;
        struct sp_err e;
        if (mailbox_parse_one(p, strlen(p), &pm, &e) == 0 && strcasecmp(pm.local, local) == 0 &&
            strcmp(pm.domain, domain) == 0) {
            return 1;
        }
    }
    return 0;
}

static int name_allowed(const struct config_rule *rule, const char *name) {
    for (size_t i = 0; i < rule->n_patterns; i++) {
        if (fnmatch(rule->patterns[i], name, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- a call ------------------------------------------------------------ */

/* Up to 160 bytes of v for a message, as printable ASCII ('"', '\\' and
 * every other byte as \xHH): values come from the client and the message
 * goes into JSON and XML answers and the log. */
static void shown(const char *v, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0, i = 0;
    for (; v[i] != '\0' && i < 160 && n + 5 < cap; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    if (v[i] != '\0' && n + 4 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

struct check {
    const struct config *cfg;
    const struct policy_account *acct;
    /* the rules that apply to this operation, NULL where unconstrained */
    const struct config_rule *identities, *configuration_sets, *templates, *contact_lists, *tenants;
    const struct rawmsg *raw;
    int status;
    struct sp_err *err;
};

static int deny(struct check *c, const char *path, const char *kind, const char *value) {
    c->status = 403;
    char text[700];
    shown(value, text, sizeof(text));
    return sp_fail(c->err, "AccessDenied", "%s: %s \"%s\" is not allowed by %s", path, kind, text,
                   kind[0] == 'i' ? "policy.identities" : "the policy");
}

static int unreadable(struct check *c, const char *path, const struct sp_err *why) {
    c->status = 400;
    return sp_fail(c->err, why->code != NULL ? why->code : "InvalidParameterValue", "%s: %s", path,
                   why->msg);
}

/* An identity named bare: an address (no display name) or a domain. */
static int check_identity(struct check *c, const char *path, const char *v, size_t len) {
    struct sp_err e;
    sp_err_clear(&e);
    if (memchr(v, '@', len) != NULL) {
        struct mailbox m;
        if (mailbox_parse_one(v, len, &m, &e) < 0) {
            return unreadable(c, path, &e);
        }
        if (m.has_display_name) {
            c->status = 400;
            return sp_fail(c->err, "InvalidParameterValue",
                           "%s: an identity is a bare address, without a display name", path);
        }
        return identity_allowed(c->identities, m.local, m.domain) ? 0
                                                                  : deny(c, path, "identity", v);
    }
    char domain[MAILBOX_DOMAIN_MAX + 1];
    if (mailbox_domain_normalise(v, len, domain, sizeof(domain), &e) < 0) {
        return unreadable(c, path, &e);
    }
    return identity_allowed(c->identities, NULL, domain) ? 0 : deny(c, path, "identity", v);
}

/* An address mail is sent as: one mailbox, a display name allowed. */
static int check_mailbox(struct check *c, const char *path, const char *v, size_t len) {
    struct mailbox m;
    struct sp_err e;
    sp_err_clear(&e);
    if (mailbox_parse_one(v, len, &m, &e) < 0) {
        return unreadable(c, path, &e);
    }
    return identity_allowed(c->identities, m.local, m.domain) ? 0 : deny(c, path, "identity", v);
}

static int check_parsed_mailbox(struct check *c, const char *path, const struct mailbox *m) {
    if (identity_allowed(c->identities, m->local, m->domain)) {
        return 0;
    }
    char addr[MAILBOX_FORMAT_MAX];
    size_t n;
    struct sp_err e;
    if (mailbox_format(m, addr, sizeof(addr), &n, &e) < 0) {
        snprintf(addr, sizeof(addr), "(an address)");
    }
    return deny(c, path, "identity", addr);
}

static const char *partition_of(const char *region) {
    if (strncmp(region, "cn-", 3) == 0) {
        return "aws-cn";
    }
    if (strncmp(region, "us-gov-", 7) == 0) {
        return "aws-us-gov";
    }
    if (strncmp(region, "us-isob-", 8) == 0) {
        return "aws-iso-b";
    }
    if (strncmp(region, "us-iso-", 7) == 0) {
        return "aws-iso";
    }
    return "aws";
}

/* arn:<partition>:ses:<region>:<account>:<type>/<name>: the partition,
 * region and account must be the proxy's own; *type and *name point into
 * v. */
static int check_arn(struct check *c, const char *path, const char *v, const char **type,
                     size_t *type_len, const char **name) {
    char prefix[160];
    if (c->acct == NULL || c->acct->account_id == NULL) {
        c->status = 503;
        return sp_fail(c->err, "ServiceUnavailable",
                       "%s: the proxy does not know its AWS account yet to check an ARN "
                       "(set policy.account_id, or wait for STS GetCallerIdentity)",
                       path);
    }
    int n = snprintf(prefix, sizeof(prefix), "arn:%s:ses:%s:%s:", partition_of(c->cfg->region),
                     c->cfg->region, c->acct->account_id);
    if (n < 0 || (size_t)n >= sizeof(prefix) || strncmp(v, prefix, (size_t)n) != 0) {
        c->status = 403;
        char text[700];
        shown(v, text, sizeof(text));
        return sp_fail(c->err, "AccessDenied",
                       "%s: \"%s\" is not an SES ARN of this proxy's account and region (%s)", path,
                       text, prefix);
    }
    const char *res = v + n;
    const char *slash = strchr(res, '/');
    if (slash == NULL || slash == res || slash[1] == '\0') {
        c->status = 400;
        return sp_fail(c->err, "InvalidParameterValue", "%s: not an ARN of a resource", path);
    }
    *type = res;
    *type_len = (size_t)(slash - res);
    *name = slash + 1;
    return 0;
}

static int type_is(const char *type, size_t len, const char *want) {
    return len == strlen(want) && memcmp(type, want, len) == 0;
}

static int check_named(struct check *c, const struct config_rule *rule, const char *path,
                       const char *kind, const char *name) {
    if (rule == NULL || name_allowed(rule, name)) {
        return 0;
    }
    c->status = 403;
    char text[700];
    shown(name, text, sizeof(text));
    return sp_fail(c->err, "AccessDenied", "%s: %s \"%s\" is not allowed by policy.%s", path, kind,
                   text, kind);
}

/* Any SES resource's ARN: the proxy's own account and region, then the
 * rule for its type (identity, configuration set, template, contact list,
 * tenant). */
static int check_resource_arn(struct check *c, const char *path, const char *v, int identity_only) {
    int constrained = c->identities != NULL ||
                      (!identity_only && (c->configuration_sets != NULL || c->templates != NULL ||
                                          c->contact_lists != NULL || c->tenants != NULL));
    if (!constrained) {
        return 0;
    }
    const char *type, *name;
    size_t tlen;
    GUARD(check_arn(c, path, v, &type, &tlen, &name));
    if (type_is(type, tlen, "identity")) {
        return c->identities != NULL ? check_identity(c, path, name, strlen(name)) : 0;
    }
    if (identity_only) {
        c->status = 400;
        return sp_fail(c->err, "InvalidParameterValue", "%s: not an identity ARN", path);
    }
    if (type_is(type, tlen, "configuration-set")) {
        return check_named(c, c->configuration_sets, path, "configuration_sets", name);
    }
    if (type_is(type, tlen, "template")) {
        return check_named(c, c->templates, path, "templates", name);
    }
    if (type_is(type, tlen, "contact-list")) {
        return check_named(c, c->contact_lists, path, "contact_lists", name);
    }
    if (type_is(type, tlen, "tenant")) {
        /* tenant/<name>/<id> */
        char tenant[256];
        size_t k = strcspn(name, "/");
        snprintf(tenant, sizeof(tenant), "%.*s", (int)(k < 255 ? k : 255), name);
        return check_named(c, c->tenants, path, "tenants", tenant);
    }
    return 0;
}

/* The fields of a raw message SES honours as it honours the parameters:
 * checked even when Source is given. */
static int check_raw(struct check *c, const char *path) {
    const struct rawmsg *r = c->raw;
    char sub[600];
    if (r == NULL) {
        return 0;
    }
    if (c->identities != NULL) {
        if (r->n_from == 0) {
            /* SES needs a From field to send a raw message; without one
             * there is no sender the policy could have checked. */
            c->status = 403;
            return sp_fail(c->err, "AccessDenied",
                           "%s: the raw message has no From field, and policy.identities applies",
                           path);
        }
        for (size_t i = 0; i < r->n_from; i++) {
            snprintf(sub, sizeof(sub), "%s (From:)", path);
            GUARD(check_parsed_mailbox(c, sub, &r->from[i]));
        }
        if (r->has_sender) {
            snprintf(sub, sizeof(sub), "%s (Sender:)", path);
            GUARD(check_parsed_mailbox(c, sub, &r->sender));
        }
        if (r->has_return_path && !r->return_path_null) {
            snprintf(sub, sizeof(sub), "%s (Return-Path:)", path);
            GUARD(check_parsed_mailbox(c, sub, &r->return_path));
        }
    }
    const struct rawmsg_value *arns[] = {&r->from_arn, &r->source_arn, &r->return_path_arn};
    const char *names[] = {"X-SES-FROM-ARN", "X-SES-SOURCE-ARN", "X-SES-RETURN-PATH-ARN"};
    for (size_t i = 0; i < 3; i++) {
        if (arns[i]->present) {
            snprintf(sub, sizeof(sub), "%s (%s:)", path, names[i]);
            GUARD(check_resource_arn(c, sub, arns[i]->text, 1));
        }
    }
    if (r->configuration_set.present) {
        snprintf(sub, sizeof(sub), "%s (X-SES-CONFIGURATION-SET:)", path);
        GUARD(check_named(c, c->configuration_sets, sub, "configuration_sets",
                          r->configuration_set.text));
    }
    return 0;
}

/* SES v2's added headers ({Name, Value}): those SES reads as the message's
 * sender or its X-SES instructions are checked as the raw message's are. */
static int check_headers(struct check *c, const char *path, const json_t *list) {
    size_t i;
    const json_t *h;
    char sub[600];
    json_array_foreach(list, i, h) {
        const char *name = json_string_value(json_object_get(h, "Name"));
        const json_t *value = json_object_get(h, "Value");
        const char *v = json_string_value(value);
        if (name == NULL || v == NULL) {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s[%zu] (%s:)", path, i, name);
        if (strcasecmp(name, "From") == 0 || strcasecmp(name, "Sender") == 0 ||
            strcasecmp(name, "Return-Path") == 0 || strcasecmp(name, "Resent-From") == 0 ||
            strcasecmp(name, "Resent-Sender") == 0) {
            if (c->identities != NULL) {
                struct mailbox_cursor cur;
                struct mailbox m;
                struct sp_err e;
                sp_err_clear(&e);
                mailbox_cursor_init(&cur, v, json_string_length(value), MAILBOX_LIST);
                int rc;
                while ((rc = mailbox_next(&cur, &m, &e)) == 1) {
                    GUARD(check_parsed_mailbox(c, sub, &m));
                }
                if (rc < 0) {
                    return unreadable(c, sub, &e);
                }
            }
        } else if (strcasecmp(name, "X-SES-FROM-ARN") == 0 ||
                   strcasecmp(name, "X-SES-SOURCE-ARN") == 0 ||
                   strcasecmp(name, "X-SES-RETURN-PATH-ARN") == 0) {
            GUARD(check_resource_arn(c, sub, v, 1));
        } else if (strcasecmp(name, "X-SES-CONFIGURATION-SET") == 0) {
            GUARD(check_named(c, c->configuration_sets, sub, "configuration_sets", v));
        }
    }
    return 0;
}

/* Each value of a list-or-string member. */
static int each_string(struct check *c, const char *path, const json_t *v,
                       int (*fn)(struct check *, const char *, const char *, size_t)) {
    if (json_is_string(v)) {
        return fn(c, path, json_string_value(v), json_string_length(v));
    }
    size_t i;
    const json_t *e;
    char sub[600];
    json_array_foreach(v, i, e) {
        if (json_is_string(e)) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            GUARD(fn(c, sub, json_string_value(e), json_string_length(e)));
        }
    }
    return 0;
}

static int on_role(void *ctx, enum model_role role, const struct model_member *member,
                   const json_t *v, const json_t *parent, const char *path) {
    (void)member;
    (void)parent;
    struct check *c = ctx;
    const char *s = json_string_value(v);
    switch (role) {
    case MODEL_ROLE_IDENTITY:
        return c->identities != NULL ? each_string(c, path, v, check_identity) : 0;
    case MODEL_ROLE_MAILBOX:
        return c->identities != NULL ? each_string(c, path, v, check_mailbox) : 0;
    case MODEL_ROLE_IDENTITY_ARN:
        return s != NULL ? check_resource_arn(c, path, s, 1) : 0;
    case MODEL_ROLE_RESOURCE_ARN:
        return s != NULL ? check_resource_arn(c, path, s, 0) : 0;
    case MODEL_ROLE_RAW_MESSAGE:
        return check_raw(c, path);
    case MODEL_ROLE_HEADERS:
        return check_headers(c, path, v);
    case MODEL_ROLE_CONFIGURATION_SET:
        return s != NULL ? check_named(c, c->configuration_sets, path, "configuration_sets", s) : 0;
    case MODEL_ROLE_TEMPLATE:
    case MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE:
        return s != NULL ? check_named(c, c->templates, path, "templates", s) : 0;
    case MODEL_ROLE_TEMPLATE_ARN:
        if (s == NULL || c->templates == NULL) {
            return 0;
        }
        {
            const char *type, *name;
            size_t tlen;
            GUARD(check_arn(c, path, s, &type, &tlen, &name));
            if (!type_is(type, tlen, "template")) {
                c->status = 400;
                return sp_fail(c->err, "InvalidParameterValue", "%s: not a template ARN", path);
            }
            return check_named(c, c->templates, path, "templates", name);
        }
    case MODEL_ROLE_CONTACT_LIST:
        return s != NULL ? check_named(c, c->contact_lists, path, "contact_lists", s) : 0;
    case MODEL_ROLE_TENANT:
        return s != NULL ? check_named(c, c->tenants, path, "tenants", s) : 0;
    default:
        return 0;
    }
}

/* The roles the policy reads; MAIL_FROM_DOMAIN, REPLY_TO, RECIPIENTS and
 * RECEIPT_RECIPIENTS name no identity SES authorises against (policy.h). */
#define POLICY_ROLES                                                                               \
    (ROLES_BIT(MODEL_ROLE_IDENTITY) | ROLES_BIT(MODEL_ROLE_MAILBOX) |                              \
     ROLES_BIT(MODEL_ROLE_IDENTITY_ARN) | ROLES_BIT(MODEL_ROLE_RESOURCE_ARN) |                     \
     ROLES_BIT(MODEL_ROLE_RAW_MESSAGE) | ROLES_BIT(MODEL_ROLE_HEADERS) |                           \
     ROLES_BIT(MODEL_ROLE_CONFIGURATION_SET) | ROLES_BIT(MODEL_ROLE_TEMPLATE) |                    \
     ROLES_BIT(MODEL_ROLE_TEMPLATE_ARN) | ROLES_BIT(MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE) |     \
     ROLES_BIT(MODEL_ROLE_CONTACT_LIST) | ROLES_BIT(MODEL_ROLE_TENANT))

int policy_check_call(const struct config *cfg, const struct policy_account *acct,
                      const struct model_service *svc, const struct model_op *op,
                      const char *op_name, const json_t *params, const struct rawmsg *raw,
                      int *status, struct sp_err *err) {
    struct check c = {
        .cfg = cfg,
        .acct = acct,
        .identities = policy_rule(&cfg->policy.identities, op_name),
        .configuration_sets = policy_rule(&cfg->policy.configuration_sets, op_name),
        .templates = policy_rule(&cfg->policy.templates, op_name),
        .contact_lists = policy_rule(&cfg->policy.contact_lists, op_name),
        .tenants = policy_rule(&cfg->policy.tenants, op_name),
        .raw = raw,
        .status = 403,
        .err = err,
    };
    *status = 0;
    if (c.identities == NULL && c.configuration_sets == NULL && c.templates == NULL &&
        c.contact_lists == NULL && c.tenants == NULL) {
        return 0;
    }
    if (roles_walk(svc, op, params, POLICY_ROLES, on_role, &c) < 0) {
        *status = c.status;
        return -1;
    }
    return 0;
}

/* ---- rules that miss SES v2 -------------------------------------------- */

/* The policy lists and the roles each one reads (policy_check_call). */
static const struct {
    const char *key;
    size_t offset; /* of the struct config_rules in struct config */
    uint32_t roles;
} rule_lists[] = {
    {"identities", offsetof(struct config, policy.identities),
     ROLES_BIT(MODEL_ROLE_IDENTITY) | ROLES_BIT(MODEL_ROLE_MAILBOX) |
         ROLES_BIT(MODEL_ROLE_IDENTITY_ARN) | ROLES_BIT(MODEL_ROLE_RESOURCE_ARN) |
         ROLES_BIT(MODEL_ROLE_RAW_MESSAGE) | ROLES_BIT(MODEL_ROLE_HEADERS)},
    {"configuration_sets", offsetof(struct config, policy.configuration_sets),
     ROLES_BIT(MODEL_ROLE_CONFIGURATION_SET) | ROLES_BIT(MODEL_ROLE_RESOURCE_ARN) |
         ROLES_BIT(MODEL_ROLE_RAW_MESSAGE) | ROLES_BIT(MODEL_ROLE_HEADERS)},
    {"templates", offsetof(struct config, policy.templates),
     ROLES_BIT(MODEL_ROLE_TEMPLATE) | ROLES_BIT(MODEL_ROLE_TEMPLATE_ARN) |
         ROLES_BIT(MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE) | ROLES_BIT(MODEL_ROLE_RESOURCE_ARN)},
    {"contact_lists", offsetof(struct config, policy.contact_lists),
     ROLES_BIT(MODEL_ROLE_CONTACT_LIST) | ROLES_BIT(MODEL_ROLE_RESOURCE_ARN)},
    {"tenants", offsetof(struct config, policy.tenants),
     ROLES_BIT(MODEL_ROLE_TENANT) | ROLES_BIT(MODEL_ROLE_RESOURCE_ARN)},
};

int policy_check_v2_rules(const struct config *cfg, const struct model_service *v2,
                          struct sp_err *err) {
    for (size_t k = 0; k < sizeof(rule_lists) / sizeof(rule_lists[0]); k++) {
        const struct config_rules *rules =
            (const struct config_rules *)((const char *)cfg + rule_lists[k].offset);
        for (size_t i = 0; i < v2->n_ops && rules->n_rules > 0; i++) {
            const struct model_op *op = &v2->ops[i];
            const struct model_shape *in = model_shape_at(v2, op->input);
            char name[96];
            snprintf(name, sizeof(name), "v2:%s", op->name);
            if (in == NULL || (in->roles & rule_lists[k].roles) == 0 ||
                !policy_action_allowed(cfg, name)) {
                continue;
            }
            const struct config_rule *bare = policy_rule(rules, op->name);
            const struct config_rule *got = policy_rule(rules, name);
            if (bare == NULL || got == bare ||
                (got != NULL && strncmp(got->action, "v2:", 3) == 0)) {
                continue;
            }
            char falls[128];
            if (got != NULL) {
                snprintf(falls, sizeof(falls), "falls to \"%s\"", got->action);
            } else {
                snprintf(falls, sizeof(falls), "is unconstrained");
            }
            return sp_fail(err, "InvalidConfig",
                           "policy.%s: \"%s\" rules SES v1 names only, and SES v2's %s, which "
                           "allow_actions allows, %s; rule SES v2 explicitly (e.g. \"v2:%s\" "
                           "before it)",
                           rule_lists[k].key, bare->action, name, falls, bare->action);
        }
    }
    return 0;
}
