/* policy.c - matching calls against the policy: clients, actions,
 * identities (see policy.h). */
#include "proxy/policy.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/form.h"
#include "api/model.h"
#include "api/recipients.h"
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

const struct config_rule *policy_identity_rule(const struct config *cfg, const char *op) {
    for (size_t i = 0; i < cfg->policy.identities.n_rules; i++) {
        if (fnmatch(cfg->policy.identities.rules[i].action, op, 0) == 0) {
            return &cfg->policy.identities.rules[i];
        }
    }
    return NULL;
}

/* "Name <a@b>" -> "a@b"; "arn:aws:ses:r:acct:identity/x" -> "x". */
static const char *bare(const char *value, char *buf, size_t cap) {
    const char *lt = strrchr(value, '<');
    if (lt != NULL) {
        const char *gt = strchr(lt, '>');
        size_t n = gt != NULL ? (size_t)(gt - lt - 1) : 0;
        if (n == 0 || n >= cap) {
            return "";
        }
        memcpy(buf, lt + 1, n);
        buf[n] = '\0';
        return buf;
    }
    if (strncmp(value, "arn:", 4) == 0) {
        const char *id = strstr(value, ":identity/");
        return id != NULL ? id + 10 : "";
    }
    return value;
}

int policy_identity_allowed(const struct config_rule *rule, const char *value) {
    char buf[512];
    const char *v = bare(value, buf, sizeof(buf));
    if (*v == '\0') {
        return 0;
    }
    const char *at = strrchr(v, '@');
    const char *domain = at != NULL ? at + 1 : v;
    for (size_t i = 0; i < rule->n_patterns; i++) {
        const char *p = rule->patterns[i];
        if (strchr(p, '@') != NULL) {
            if (at != NULL && strcasecmp(p, v) == 0) {
                return 1;
            }
        } else if (fnmatch(p, domain, FNM_CASEFOLD) == 0) {
            return 1;
        }
    }
    return 0;
}

static int is_identity_member(const char *name) {
    static const char *const names[] = {"Identity",  "EmailAddress", "Domain",        "Source",
                                        "SourceArn", "FromArn",      "ReturnPathArn", NULL};
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static int refuse(struct sp_err *err, const char *member, const char *value) {
    return sp_fail(err, "AccessDenied", "%s \"%.200s\" is not allowed by policy.identities", member,
                   value);
}

/* SendRawEmail without Source: the From: of the message itself (b64, NULL
 * when absent; percent_encoded as in a form body) must be allowed. */
static int check_raw_from(const struct config_rule *rule, const char *b64, size_t len,
                          int percent_encoded, struct sp_err *err) {
    char from[512];
    if (b64 == NULL || recipients_from_b64(b64, len, percent_encoded, from, sizeof(from)) < 0) {
        return sp_fail(err, "AccessDenied",
                       "SendRawEmail without Source needs a From address in the message "
                       "when policy.identities applies");
    }
    if (!policy_identity_allowed(rule, from)) {
        return refuse(err, "From", from);
    }
    return 0;
}

int policy_check_json(const struct config_rule *rule, const struct model_op *op,
                      const json_t *params, struct sp_err *err) {
    if (rule == NULL) {
        return 0;
    }
    const char *key;
    json_t *v;
    int has_source = 0;
    json_object_foreach((json_t *)(uintptr_t)params, key, v) {
        if (strcmp(key, "Identities") == 0) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (json_is_string(e) && !policy_identity_allowed(rule, json_string_value(e))) {
                    return refuse(err, "Identities", json_string_value(e));
                }
            }
        } else if (json_is_string(v) && is_identity_member(key)) {
            has_source |= strcmp(key, "Source") == 0;
            if (!policy_identity_allowed(rule, json_string_value(v))) {
                return refuse(err, key, json_string_value(v));
            }
        }
    }
    if (!has_source && strcmp(op->name, "SendRawEmail") == 0) {
        json_t *data = json_object_get(json_object_get(params, "RawMessage"), "Data");
        return check_raw_from(rule, json_string_value(data), json_string_length(data), 0, err);
    }
    return 0;
}

int policy_check_form(const struct config_rule *rule, const struct model_op *op, const char *body,
                      size_t len, struct sp_err *err) {
    if (rule == NULL) {
        return 0;
    }
    struct form_cursor cur;
    struct form_pair pair;
    form_cursor_init(&cur, body, len);
    int has_source = 0;
    const char *raw = NULL;
    size_t raw_len = 0;
    while (form_next(&cur, &pair) == 1) {
        char key[128], value[512];
        size_t klen, vlen;
        struct sp_err e;
        if (form_decode(pair.key, pair.key_len, key, sizeof(key), &klen, &e) < 0) {
            continue; /* longer than any identity member name */
        }
        if (strcmp(key, "RawMessage.Data") == 0) {
            raw = pair.value;
            raw_len = pair.value_len;
            continue;
        }
        int listed = strncmp(key, "Identities.member.", 18) == 0;
        if (!listed && !is_identity_member(key)) {
            continue;
        }
        if (form_decode(pair.value, pair.value_len, value, sizeof(value), &vlen, &e) < 0) {
            return refuse(err, listed ? "Identities" : key, "(too long)");
        }
        has_source |= strcmp(key, "Source") == 0;
        if (!policy_identity_allowed(rule, value)) {
            return refuse(err, listed ? "Identities" : key, value);
        }
    }
    if (!has_source && strcmp(op->name, "SendRawEmail") == 0) {
        return check_raw_from(rule, raw, raw_len, 1, err);
    }
    return 0;
}
