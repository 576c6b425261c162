/* config.c - the JSON configuration file and the AWS environment (config.h).
 *
 * Every key is a row of keys[] below, as nginx's ngx_command_t: its path,
 * its type (which setter reads it), offsetof the field it fills, bounds,
 * the default as JSON text, and whether SIGHUP applies it. load_object()
 * walks the file's members in file order and hands each to its row; a member
 * with no row is an unknown key, and a member that is a prefix of rows
 * ("throttle") is a section walked the same way. The defaults go through the
 * same setters before the file. What spans keys (an access key without its
 * secret file; backend "redis" without a URL) is checked once the file is
 * read (finish), and the AWS environment goes on top (apply_env).
 *
 * jansson gives line numbers only for syntax errors, so for a bad value we
 * find the key's line ourselves by searching the raw text for each quoted
 * component of its path in turn ("throttle" then "max_wait_ms"): good enough
 * to point an operator at the right line, and never wrong about the key. */
#include "proxy/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy/log.h"

struct config_loader {
    const char *file; /* for messages */
    const char *text; /* raw file, for line lookups; NULL for the defaults */
    struct sp_err *err;
};

static int key_line(const struct config_loader *l, const char *keypath) {
    if (l->text == NULL) {
        return 0;
    }
    const char *pos = l->text;
    char comp[128];
    const char *p = keypath;
    while (*p != '\0') {
        size_t n = strcspn(p, ".[");
        if (n == 0) {
            p++;
            continue;
        }
        if (n > sizeof(comp) - 3) {
            break;
        }
        comp[0] = '"';
        memcpy(comp + 1, p, n);
        comp[n + 1] = '"';
        comp[n + 2] = '\0';
        const char *hit = strstr(pos, comp);
        if (hit != NULL) {
            pos = hit;
        }
        p += n;
        /* skip list indexes like [2] */
        while (*p == '[' || *p == '.' || (*p >= '0' && *p <= '9') || *p == ']') {
            p++;
        }
    }
    int line = 1;
    for (const char *q = l->text; q < pos; q++) {
        line += *q == '\n';
    }
    return line;
}

static int bad(const struct config_loader *l, const char *keypath, const char *what) {
    int line = key_line(l, keypath);
    if (line > 0) {
        return sp_fail(l->err, "ConfigError", "%s:%d: %s: %s", l->file, line, keypath, what);
    }
    return sp_fail(l->err, "ConfigError", "%s: %s: %s", l->file, keypath, what);
}

/* Appends s to the NUL-terminated text in buf (cap bytes), truncating. */
static void append(char *buf, size_t cap, const char *s) {
    size_t len = strlen(buf);
    if (len + 1 < cap) {
        snprintf(buf + len, cap - len, "%s", s);
    }
}

/* The field a row describes. */
static void *field(struct config *cfg, size_t offset) { return (char *)cfg + offset; }

static const void *field_of(const struct config *cfg, size_t offset) {
    return (const char *)cfg + offset;
}

static void free_list(char **l, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(l[i]);
    }
    free(l);
}

/* ---- typed setters: v is the member's value (never NULL) ---------------- */

static int set_string(const struct config_loader *l, const struct config_key *k, json_t *v,
                      struct config *cfg) {
    if (json_is_null(v)) {
        return 0; /* null keeps the default */
    }
    if (!json_is_string(v)) {
        return bad(l, k->path, "must be a string or null");
    }
    if (k->max > 0 && json_string_length(v) > (size_t)k->max) {
        char msg[64];
        snprintf(msg, sizeof(msg), "must be at most %lld bytes", k->max);
        return bad(l, k->path, msg);
    }
    char **out = field(cfg, k->offset);
    free(*out);
    *out = strdup(json_string_value(v));
    ENSURE_REF(*out, l->err);
    return 0;
}

static int set_enum(const struct config_loader *l, const struct config_key *k, json_t *v,
                    struct config *cfg) {
    GUARD(set_string(l, k, v, cfg));
    const char *s = *(char **)field(cfg, k->offset);
    if (s == NULL) {
        return 0; /* null, and no default */
    }
    for (size_t i = 0; k->names[i] != NULL; i++) {
        if (strcmp(k->names[i], s) == 0) {
            return 0;
        }
    }
    if (k->msg != NULL) {
        return bad(l, k->path, k->msg);
    }
    char msg[256] = "must be one of ";
    for (size_t i = 0; k->names[i] != NULL; i++) {
        append(msg, sizeof(msg), i > 0 ? ", " : "");
        append(msg, sizeof(msg), k->names[i]);
    }
    return bad(l, k->path, msg);
}

/* CONFIG_INT and CONFIG_SIZE. */
static int set_integer(const struct config_loader *l, const struct config_key *k, json_t *v,
                       struct config *cfg) {
    if (!json_is_integer(v)) {
        return bad(l, k->path, "must be an integer");
    }
    long long x = json_integer_value(v);
    if (x < k->min || x > k->max) {
        char msg[128];
        snprintf(msg, sizeof(msg), "must be between %lld and %lld", k->min, k->max);
        return bad(l, k->path, msg);
    }
    if (k->type == CONFIG_SIZE) {
        *(size_t *)field(cfg, k->offset) = (size_t)x;
    } else {
        *(int *)field(cfg, k->offset) = (int)x;
    }
    return 0;
}

/* A list of strings at path into *out (replacing it) and *n; an empty list
 * leaves *out NULL. */
static int read_strings(const struct config_loader *l, const char *path, json_t *v, char ***out,
                        size_t *n) {
    if (!json_is_array(v)) {
        return bad(l, path, "must be a list of strings");
    }
    free_list(*out, *n);
    *out = NULL;
    *n = 0;
    size_t len = json_array_size(v);
    if (len == 0) {
        return 0;
    }
    *out = calloc(len, sizeof(char *));
    ENSURE_REF(*out, l->err);
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            return bad(l, path, "must be a list of strings");
        }
        (*out)[i] = strdup(json_string_value(s));
        ENSURE_REF((*out)[i], l->err);
        (*n)++;
    }
    return 0;
}

/* Parses "a.b.c.d/n" or "x::y/n" (see config.h). */
int config_parse_cidr(const char *s, struct config_cidr *out) {
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(s) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash != NULL) {
        *slash = '\0';
        /* Digits only: strtol would also take " 8" and "+8". */
        const char *d = slash + 1;
        size_t nd = strspn(d, "0123456789");
        if (nd == 0 || nd > 3 || d[nd] != '\0') {
            return -1;
        }
        prefix = atoi(d);
        if (prefix > 128) {
            return -1;
        }
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        if (prefix > 32) {
            return -1;
        }
        out->prefix = prefix < 0 ? 32 : prefix;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = prefix < 0 ? 128 : prefix;
    } else {
        return -1;
    }
    return 0;
}

static int set_strings(const struct config_loader *l, const struct config_key *k, json_t *v,
                       struct config *cfg) {
    return read_strings(l, k->path, v, field(cfg, k->offset), field(cfg, k->count_offset));
}

static int set_cidrs(const struct config_loader *l, const struct config_key *k, json_t *v,
                     struct config *cfg) {
    if (!json_is_array(v)) {
        return bad(l, k->path, "must be a list of strings");
    }
    struct config_cidr **out = field(cfg, k->offset);
    size_t *n = field(cfg, k->count_offset);
    free(*out);
    *n = 0;
    *out = calloc(json_array_size(v) + 1, sizeof(**out));
    ENSURE_REF(*out, l->err);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) {
            return bad(l, k->path, "must be a list of strings");
        }
        if (config_parse_cidr(json_string_value(s), &(*out)[i]) < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "\"%.200s\" is not an address or CIDR",
                     json_string_value(s));
            return bad(l, k->path, msg);
        }
        (*n)++;
    }
    return 0;
}

/* "host:port" or "unix:/path" strings, a single string taken as a list of
 * one; at least k->min, at most k->max. */
static int set_addresses(const struct config_loader *l, const struct config_key *k, json_t *v,
                         struct config *cfg) {
    json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    ENSURE_REF(list, l->err);
    if (!json_is_array(list) || json_array_size(list) < (size_t)k->min ||
        json_array_size(list) > (size_t)k->max) {
        json_decref(list);
        char msg[128];
        if (k->min == 0) {
            snprintf(msg, sizeof(msg),
                     "must be a list of at most %lld \"host:port\" or \"unix:/path\"", k->max);
        } else {
            snprintf(msg, sizeof(msg),
                     "must be a non-empty list of \"host:port\" or \"unix:/path\"");
        }
        return bad(l, k->path, msg);
    }
    char **out = field(cfg, k->offset);
    size_t *n = field(cfg, k->count_offset);
    for (size_t i = 0; i < *n; i++) {
        free(out[i]);
    }
    *n = 0;
    size_t i;
    json_t *s;
    int rc = 0;
    json_array_foreach(list, i, s) {
        if (!json_is_string(s)) {
            rc = bad(l, k->path, "must be a list of strings");
            break;
        }
        if ((out[*n] = strdup(json_string_value(s))) == NULL) {
            rc = sp_fail(l->err, "InternalError", "out of memory");
            break;
        }
        (*n)++;
    }
    json_decref(list);
    return rc;
}

/* ---- the irregular keys (CONFIG_CUSTOM) --------------------------------- */

/* "redis://host[:port][/db]" ("[v6]" literals too) or "unix:/path".
 * Credentials in the URL are refused: the snapshot holds no secret. */
static int parse_redis_url(struct config *cfg, const char *u) {
    free(cfg->throttle.redis_host);
    free(cfg->throttle.redis_unix);
    cfg->throttle.redis_host = cfg->throttle.redis_unix = NULL;
    cfg->throttle.redis_port = 6379;
    cfg->throttle.redis_db = 0;
    if (strncmp(u, "unix:", 5) == 0) {
        const char *path = u + 5;
        if (strncmp(path, "//", 2) == 0) {
            path += 2;
        }
        if (*path != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            return -1;
        }
        cfg->throttle.redis_unix = strdup(path);
        return cfg->throttle.redis_unix != NULL ? 0 : -1;
    }
    if (strncmp(u, "redis://", 8) != 0) {
        return -1;
    }
    const char *rest = u + 8;
    size_t hostlen = strcspn(rest, ":/@[");
    const char *after = rest + hostlen;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL) {
            return -1;
        }
        rest++;
        hostlen = (size_t)(close - rest);
        after = close + 1;
    }
    if (*after == '@' || hostlen == 0 || hostlen > 253 || memchr(rest, '@', hostlen) != NULL) {
        return -1;
    }
    if (*after == ':') {
        char *end;
        long port = strtol(after + 1, &end, 10);
        if (end == after + 1 || port <= 0 || port > 65535 || (*end != '\0' && *end != '/')) {
            return -1;
        }
        cfg->throttle.redis_port = (int)port;
        after = end;
    }
    if (*after == '/' && after[1] != '\0') {
        char *end;
        long db = strtol(after + 1, &end, 10);
        if (end == after + 1 || db < 0 || db > 1000000 || *end != '\0') {
            return -1;
        }
        cfg->throttle.redis_db = (int)db;
    } else if (*after != '\0' && strcmp(after, "/") != 0) {
        return -1;
    }
    cfg->throttle.redis_host = strndup(rest, hostlen);
    return cfg->throttle.redis_host != NULL ? 0 : -1;
}

static int set_redis_url(const struct config_loader *l, const struct config_key *k, json_t *v,
                         struct config *cfg) {
    GUARD(set_string(l, k, v, cfg));
    if (cfg->throttle.redis_url != NULL && parse_redis_url(cfg, cfg->throttle.redis_url) < 0) {
        return bad(l, k->path,
                   "must be \"redis://host[:port][/db]\" or \"unix:/path\" (no credentials)");
    }
    return 0;
}

static int set_send_rate(const struct config_loader *l, const struct config_key *k, json_t *v,
                         struct config *cfg) {
    if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
        cfg->throttle.send_rate_auto = 1;
        cfg->throttle.send_rate = 0;
    } else if (json_is_number(v) && json_number_value(v) > 0) {
        cfg->throttle.send_rate_auto = 0;
        cfg->throttle.send_rate = json_number_value(v);
    } else {
        return bad(l, k->path, "must be \"auto\" or a number > 0");
    }
    return 0;
}

/* Checks that obj has no member outside allowed[] (NULL-terminated). */
static int only_keys(const struct config_loader *l, const char *prefix, json_t *obj,
                     const char *const *allowed) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            ok |= strcmp(allowed[i], key) == 0;
        }
        if (!ok) {
            char path[300];
            snprintf(path, sizeof(path), "%s.%s", prefix, key);
            return bad(l, path, "unknown key");
        }
    }
    return 0;
}

static int number_at_least(const struct config_loader *l, json_t *v, const char *path, double lo,
                           double *out) {
    if (!json_is_number(v) || json_number_value(v) < lo) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be a number >= %g", lo);
        return bad(l, path, msg);
    }
    *out = json_number_value(v);
    return 0;
}

/* throttle.operations: operation name (or "*") -> {"rate": N, "burst": N};
 * the burst defaults to the rate, and is at least 1. */
static int set_operations(const struct config_loader *l, const struct config_key *k, json_t *v,
                          struct config *cfg) {
    if (!json_is_object(v)) {
        return bad(l, k->path, "must be an object of {\"rate\", \"burst\"}");
    }
    for (size_t i = 0; i < cfg->throttle.n_ops; i++) {
        free(cfg->throttle.ops[i].name);
    }
    free(cfg->throttle.ops);
    cfg->throttle.n_ops = 0;
    cfg->throttle.ops = calloc(json_object_size(v) + 1, sizeof(*cfg->throttle.ops));
    ENSURE_REF(cfg->throttle.ops, l->err);
    const char *name;
    json_t *lim;
    json_object_foreach(v, name, lim) {
        char path[256];
        snprintf(path, sizeof(path), "%s.%s", k->path, name);
        if (!json_is_object(lim)) {
            return bad(l, path, "must be an object {\"rate\": N, \"burst\": N}");
        }
        static const char *const keys[] = {"rate", "burst", NULL};
        GUARD(only_keys(l, path, lim, keys));
        struct config_op_limit *op = &cfg->throttle.ops[cfg->throttle.n_ops];
        op->name = strdup(name);
        ENSURE_REF(op->name, l->err);
        cfg->throttle.n_ops++;
        json_t *rate = json_object_get(lim, "rate");
        json_t *burst = json_object_get(lim, "burst");
        char sub[300];
        if (rate == NULL) {
            return bad(l, path, "needs \"rate\"");
        }
        snprintf(sub, sizeof(sub), "%s.rate", path);
        GUARD(number_at_least(l, rate, sub, 0, &op->rate));
        op->burst = op->rate < 1 ? 1 : op->rate;
        if (burst != NULL) {
            snprintf(sub, sizeof(sub), "%s.burst", path);
            GUARD(number_at_least(l, burst, sub, 1, &op->burst));
        }
    }
    return 0;
}

static void free_rules(struct config_rules *rs) {
    for (size_t i = 0; i < rs->n_rules; i++) {
        free(rs->rules[i].action);
        free_list(rs->rules[i].patterns, rs->rules[i].n_patterns);
    }
    free(rs->rules);
    rs->rules = NULL;
    rs->n_rules = 0;
}

/* policy.identities, .configuration_sets, .templates, .contact_lists,
 * .tenants: null (no constraint), a list (for every action), or an object
 * mapping action globs to lists, in file order. */
static int set_rules(const struct config_loader *l, const struct config_key *k, json_t *v,
                     struct config *cfg) {
    struct config_rules *rs = (struct config_rules *)(void *)((char *)cfg + k->offset);
    int identities = strcmp(k->path, "policy.identities") == 0;
    const char *what = identities ? "domains/addresses" : "names";
    free_rules(rs);
    if (json_is_null(v)) {
        return 0;
    }
    json_t *rules = json_is_array(v) ? json_pack("{sO}", "*", v) : json_incref(v);
    ENSURE_REF(rules, l->err);
    if (!json_is_object(rules)) {
        json_decref(rules);
        char msg[120];
        snprintf(msg, sizeof(msg), "must be a list of %s, or an object of action -> list", what);
        return bad(l, k->path, msg);
    }
    rs->rules = calloc(json_object_size(rules) + 1, sizeof(*rs->rules));
    int rc = rs->rules != NULL ? 0 : sp_fail(l->err, "InternalError", "out of memory");
    const char *action;
    json_t *list;
    json_object_foreach(rules, action, list) {
        if (rc < 0) {
            break;
        }
        struct config_rule *r = &rs->rules[rs->n_rules++];
        char path[300];
        snprintf(path, sizeof(path), "%s.%s", k->path, action);
        r->action = strdup(action);
        rc = r->action != NULL ? read_strings(l, path, list, &r->patterns, &r->n_patterns)
                               : sp_fail(l->err, "InternalError", "out of memory");
        if (rc == 0 && r->n_patterns == 0) {
            rc = bad(l, path,
                     identities ? "must list at least one domain or address"
                                : "must list at least one name or pattern");
        }
    }
    json_decref(rules);
    return rc;
}

static int set_log_level(const struct config_loader *l, const struct config_key *k, json_t *v,
                         struct config *cfg) {
    int level = json_is_string(v) ? log_level_parse(json_string_value(v)) : -1;
    if (level < 0) {
        return bad(l, k->path, "must be one of debug, info, warn, error");
    }
    cfg->log.level = level;
    return 0;
}

static int set_log_format(const struct config_loader *l, const struct config_key *k, json_t *v,
                          struct config *cfg) {
    if (!json_is_string(v) || strcmp(json_string_value(v), "json") != 0) {
        return bad(l, k->path, "must be \"json\" (the only format)");
    }
    cfg->log.json = 1;
    return 0;
}

/* "/ses" or "/a/b": a path of plain segments, no trailing '/'. Not one the
 * proxy serves itself (its probes, SES v2's /v2), which the prefix would
 * hide from SDK-looking calls. */
static int set_sdk_path_prefix(const struct config_loader *l, const struct config_key *k, json_t *v,
                               struct config *cfg) {
    free(cfg->sdk_path_prefix);
    cfg->sdk_path_prefix = NULL;
    if (json_is_null(v)) {
        return 0;
    }
    const char *why = "must be null or a path such as \"/ses\": '/' and segments of "
                      "A-Z a-z 0-9 - . _ ~, no trailing '/', at most 128 bytes";
    if (!json_is_string(v)) {
        return bad(l, k->path, why);
    }
    const char *p = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 2 || n > 128 || p[0] != '/' || p[n - 1] == '/' || strstr(p, "//") != NULL ||
        strspn(p, "/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != n) {
        return bad(l, k->path, why);
    }
    static const char *const taken[] = {"/v2", "/healthz", "/readyz", "/metrics", "/outbox"};
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        size_t t = strlen(taken[i]);
        if (strncmp(p, taken[i], t) == 0 && (p[t] == '\0' || p[t] == '/')) {
            return bad(l, k->path,
                       "must not be a path the proxy serves itself "
                       "(/v2, /healthz, /readyz, /metrics, /outbox)");
        }
    }
    cfg->sdk_path_prefix = strdup(p);
    ENSURE_REF(cfg->sdk_path_prefix, l->err);
    return 0;
}

/* ---- the table ---------------------------------------------------------- */

#define OFF(f) offsetof(struct config, f)
#define RELOAD 1  /* SIGHUP applies it */
#define RESTART 0 /* it takes effect after a restart */

#define STRING(p, f, maxlen, d, r)                                                                 \
    { .path = p, .type = CONFIG_STRING, .offset = OFF(f), .max = maxlen, .def = d, .reloadable = r }
#define ENUM(p, f, list, why, d, r)                                                                \
    {                                                                                              \
        .path = p, .type = CONFIG_ENUM, .offset = OFF(f), .names = list, .msg = why, .def = d,     \
        .reloadable = r                                                                            \
    }
#define INT(p, f, lo, hi, d, r)                                                                    \
    {                                                                                              \
        .path = p, .type = CONFIG_INT, .offset = OFF(f), .min = lo, .max = hi, .def = d,           \
        .reloadable = r                                                                            \
    }
#define SIZE(p, f, lo, hi, d, r)                                                                   \
    {                                                                                              \
        .path = p, .type = CONFIG_SIZE, .offset = OFF(f), .min = lo, .max = hi, .def = d,          \
        .reloadable = r                                                                            \
    }
#define LIST(p, t, f, nf, d, r)                                                                    \
    { .path = p, .type = t, .offset = OFF(f), .count_offset = OFF(nf), .def = d, .reloadable = r }
#define ADDRESSES(p, f, nf, fewest, d, r)                                                          \
    {                                                                                              \
        .path = p, .type = CONFIG_ADDRESSES, .offset = OFF(f), .count_offset = OFF(nf),            \
        .min = fewest, .max = CONFIG_MAX_LISTEN, .def = d, .reloadable = r                         \
    }
#define CUSTOM(p, f, setter, d, r)                                                                 \
    { .path = p, .type = CONFIG_CUSTOM, .offset = OFF(f), .set = setter, .def = d, .reloadable = r }

static const char *const outbox_stores[] = {"file", "redis", NULL};
static const char *const outbox_readers[] = {"creator", "any", NULL};
static const char *const credential_sources[] = {"chain",   "static",    "env",  "web_identity",
                                                 "profile", "container", "imds", NULL};
static const char *const throttle_backends[] = {"local", "redis", NULL};

/* SIGHUP swaps the snapshot that requests, limits, the throttle and the
 * credentials read; the listeners are opened and the upstream pool (its
 * endpoint, timeouts and TLS context) is built once, at start. */
static const struct config_key keys[] = {
    ADDRESSES("listen", listen, n_listen, 1, "[\"127.0.0.1:8080\"]", RESTART),
    ADDRESSES("admin_listen", admin_listen, n_admin_listen, 0, "[]", RESTART),
    STRING("region", region, 0, "\"us-east-1\"", RELOAD),
    STRING("endpoint", endpoint, 0, "null", RESTART),
    ENUM("credentials.source", credentials.source, credential_sources, NULL, "\"chain\"", RELOAD),
    STRING("credentials.profile", credentials.profile, 0, "null", RELOAD),
    STRING("credentials.access_key_id", credentials.access_key_id, 0, "null", RELOAD),
    STRING("credentials.secret_access_key_file", credentials.secret_access_key_file, 0, "null",
           RELOAD),
    STRING("credentials.session_token_file", credentials.session_token_file, 0, "null", RELOAD),
    INT("upstream.connect_timeout_ms", upstream.connect_timeout_ms, 1, 600000, "3000", RESTART),
    INT("upstream.timeout_ms", upstream.timeout_ms, 1, 3600000, "30000", RESTART),
    INT("upstream.max_idle_connections", upstream.max_idle_connections, 0, 100000, "64", RESTART),
    STRING("upstream.ca_file", upstream.ca_file, 0, "null", RESTART),
    INT("retry.max_attempts", retry_max_attempts, 1, 20, "3", RELOAD),
    INT("retry.sdk_max_attempts", retry_sdk_max_attempts, 1, 20, "1", RELOAD),
    ENUM("throttle.backend", throttle.backend, throttle_backends, "must be \"local\" or \"redis\"",
         "\"local\"", RELOAD),
    CUSTOM("throttle.redis_url", throttle.redis_url, set_redis_url, "null", RELOAD),
    INT("throttle.replicas", throttle.replicas, 1, 10000, "1", RELOAD),
    INT("throttle.redis_timeout_ms", throttle.redis_timeout_ms, 1, 60000, "250", RELOAD),
    STRING("throttle.redis_key_prefix", throttle.redis_key_prefix, 64, "\"ses-proxy:\"", RELOAD),
    INT("throttle.max_wait_ms", throttle.max_wait_ms, 0, 3600000, "10000", RELOAD),
    INT("throttle.max_queue", throttle.max_queue, 0, 10000000, "1000", RELOAD),
    CUSTOM("throttle.send_rate", throttle.send_rate, set_send_rate, "\"auto\"", RELOAD),
    /* None: the limits the model documents per operation. */
    CUSTOM("throttle.operations", throttle.ops, set_operations, "{}", RELOAD),
    LIST("policy.allow_clients", CONFIG_CIDRS, policy.allow_clients, policy.n_allow_clients,
         "[\"127.0.0.0/8\", \"::1/128\"]", RELOAD),
    LIST("policy.allow_actions", CONFIG_STRINGS, policy.allow_actions, policy.n_allow_actions,
         "[\"*\"]", RELOAD),
    LIST("policy.deny_actions", CONFIG_STRINGS, policy.deny_actions, policy.n_deny_actions, "[]",
         RELOAD),
    CUSTOM("policy.identities", policy.identities, set_rules, "null", RELOAD),
    CUSTOM("policy.configuration_sets", policy.configuration_sets, set_rules, "null", RELOAD),
    CUSTOM("policy.templates", policy.templates, set_rules, "null", RELOAD),
    CUSTOM("policy.contact_lists", policy.contact_lists, set_rules, "null", RELOAD),
    CUSTOM("policy.tenants", policy.tenants, set_rules, "null", RELOAD),
    STRING("policy.account_id", policy.account_id, 12, "null", RELOAD),
    SIZE("limits.max_body_bytes", limits.max_body_bytes, 1, 1LL << 32, "16777216", RELOAD),
    /* 24 MiB: what keeps the Kubernetes example (10 MiB bodies, 128 MiB
     * of memory) well inside its limit; README's "Limits" has the
     * arithmetic. */
    SIZE("limits.max_inflight_bytes", limits.max_inflight_bytes, 1, 1LL << 40, "25165824", RELOAD),
    INT("limits.max_connections", limits.max_connections, 1, 10000000, "4096", RELOAD),
    INT("limits.header_timeout_ms", limits.header_timeout_ms, 1, 3600000, "10000", RELOAD),
    INT("limits.idle_timeout_ms", limits.idle_timeout_ms, 1, 86400000, "60000", RELOAD),
    SIZE("limits.max_header_bytes", limits.max_header_bytes, 256, 1 << 20, "16384", RELOAD),
    CUSTOM("log.level", log.level, set_log_level, "\"info\"", RELOAD),
    CUSTOM("log.format", log.json, set_log_format, "\"json\"", RELOAD),
    INT("drain_timeout_ms", drain_timeout_ms, 0, 3600000, "20000", RELOAD),
    CUSTOM("sdk_path_prefix", sdk_path_prefix, set_sdk_path_prefix, "null", RELOAD),
    ENUM("outbox.store", outbox.store, outbox_stores, "must be \"file\" or \"redis\"", "\"file\"",
         RESTART),
    STRING("outbox.path", outbox.path, 0, "\"/var/lib/ses-proxy/outbox\"", RESTART),
    INT("outbox.retention_s", outbox.retention_s, 60, 31536000, "604800", RELOAD),
    INT("outbox.max_age_s", outbox.max_age_s, 1, 31536000, "259200", RELOAD),
    INT("outbox.claim_after_ms", outbox.claim_after_ms, 100, 86400000, "60000", RELOAD),
    INT("outbox.max_messages", outbox.max_messages, 1, 100000000, "100000", RELOAD),
    SIZE("outbox.max_bytes", outbox.max_bytes, 1, 1LL << 40, "1073741824", RELOAD),
    ENUM("outbox.status_readers", outbox.status_readers, outbox_readers,
         "must be \"creator\" or \"any\"", "\"creator\"", RELOAD),
    INT("outbox.quota_refresh_s", outbox.quota_refresh_s, 1, 86400, "300", RELOAD),
};

#undef OFF
#undef RELOAD
#undef RESTART
#undef STRING
#undef ENUM
#undef INT
#undef SIZE
#undef LIST
#undef ADDRESSES
#undef CUSTOM

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* Keys refused with a reason rather than as merely unknown. */
static const struct {
    const char *path;
    const char *why;
} refused_keys[] = {
    {"credentials.secret_access_key", "secrets are not taken inline; use secret_access_key_file"},
};

const struct config_key *config_keys(size_t *n) {
    *n = N_KEYS;
    return keys;
}

static const struct config_key *find_key(const char *path) {
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].path, path) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

/* 1 when path is a section: some key's path starts with path + ".". */
static int is_section(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.') {
            return 1;
        }
    }
    return 0;
}

static int set_value(const struct config_loader *l, const struct config_key *k, json_t *v,
                     struct config *cfg) {
    switch (k->type) {
    case CONFIG_STRING:
        return set_string(l, k, v, cfg);
    case CONFIG_ENUM:
        return set_enum(l, k, v, cfg);
    case CONFIG_INT:
    case CONFIG_SIZE:
        return set_integer(l, k, v, cfg);
    case CONFIG_STRINGS:
        return set_strings(l, k, v, cfg);
    case CONFIG_CIDRS:
        return set_cidrs(l, k, v, cfg);
    case CONFIG_ADDRESSES:
        return set_addresses(l, k, v, cfg);
    case CONFIG_CUSTOM:
        return k->set(l, k, v, cfg);
    }
    return sp_fail(l->err, "InternalError", "%s: no setter for its type", k->path);
}

/* The members of obj (the section prefix, "" at the top), in file order. */
static int load_object(const struct config_loader *l, json_t *obj, const char *prefix,
                       struct config *cfg) {
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        char path[256];
        int n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
        /* A dot inside a member's name would pose as a section path. */
        int plain = strchr(name, '.') == NULL && (size_t)n < sizeof(path);
        const struct config_key *k = plain ? find_key(path) : NULL;
        if (k != NULL) {
            GUARD(set_value(l, k, v, cfg));
            continue;
        }
        for (size_t i = 0; plain && i < sizeof(refused_keys) / sizeof(refused_keys[0]); i++) {
            if (strcmp(refused_keys[i].path, path) == 0) {
                return bad(l, path, refused_keys[i].why);
            }
        }
        if (!plain || !is_section(path)) {
            return bad(l, path, "unknown key");
        }
        /* "credentials": null has always meant the chain, nothing pinned;
         * "outbox": null is no outbox, as when the section is left out. */
        if (json_is_null(v) && (strcmp(path, "credentials") == 0 || strcmp(path, "outbox") == 0)) {
            continue;
        }
        if (!json_is_object(v)) {
            return bad(l, path, "must be an object");
        }
        if (strcmp(path, "outbox") == 0) {
            cfg->outbox.enabled = 1;
        }
        GUARD(load_object(l, v, path, cfg));
    }
    return 0;
}

/* Every key's default, through its own setter. */
static int set_defaults(struct config *cfg, struct sp_err *err) {
    const struct config_loader l = {"(defaults)", NULL, err};
    for (size_t i = 0; i < N_KEYS; i++) {
        json_t *v = json_loads(keys[i].def, JSON_DECODE_ANY, NULL);
        ENSURE(v != NULL, err, "InternalError", "%s: the default is not JSON", keys[i].path);
        int rc = set_value(&l, &keys[i], v, cfg);
        json_decref(v);
        GUARD(rc);
    }
    return 0;
}

/* What spans keys, once the file is read. */
static int finish(const struct config_loader *l, struct config *cfg) {
    if ((cfg->credentials.access_key_id == NULL) !=
        (cfg->credentials.secret_access_key_file == NULL)) {
        return bad(l, "credentials.access_key_id",
                   "access_key_id and secret_access_key_file go together");
    }
    if (cfg->outbox.enabled && cfg->outbox.path[0] != '/') {
        return bad(l, "outbox.path", "must be an absolute path");
    }
    if (cfg->policy.account_id != NULL && (strlen(cfg->policy.account_id) != 12 ||
                                           strspn(cfg->policy.account_id, "0123456789") != 12)) {
        return bad(l, "policy.account_id", "must be the 12 digits of an AWS account id");
    }
    if (cfg->limits.max_inflight_bytes < cfg->limits.max_body_bytes) {
        return bad(l, "limits.max_inflight_bytes",
                   "must be at least limits.max_body_bytes (a body of the largest size must fit)");
    }
    /* The outbox's Redis store uses the throttle's Redis. */
    int wants_redis = strcmp(cfg->throttle.backend, "redis") == 0 ||
                      (cfg->outbox.enabled && strcmp(cfg->outbox.store, "redis") == 0);
    if (wants_redis && cfg->throttle.redis_host == NULL && cfg->throttle.redis_unix == NULL &&
        parse_redis_url(cfg, "redis://127.0.0.1:6379") < 0) {
        return sp_fail(l->err, "InternalError", "out of memory");
    }
    return 0;
}

/* ---- what SIGHUP cannot change ------------------------------------------ */

static int same_str(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static size_t count_of(const struct config *cfg, const struct config_key *k) {
    return *(const size_t *)field_of(cfg, k->count_offset);
}

static int same_value(const struct config_key *k, const struct config *a, const struct config *b) {
    const void *fa = field_of(a, k->offset);
    const void *fb = field_of(b, k->offset);
    switch (k->type) {
    case CONFIG_STRING:
    case CONFIG_ENUM:
        return same_str(*(char *const *)fa, *(char *const *)fb);
    case CONFIG_INT:
        return *(const int *)fa == *(const int *)fb;
    case CONFIG_SIZE:
        return *(const size_t *)fa == *(const size_t *)fb;
    case CONFIG_STRINGS:
    case CONFIG_ADDRESSES: {
        /* A char ** to an array, or the array of char * itself. */
        char *const *la = k->type == CONFIG_STRINGS ? *(char **const *)fa : (char *const *)fa;
        char *const *lb = k->type == CONFIG_STRINGS ? *(char **const *)fb : (char *const *)fb;
        size_t n = count_of(a, k);
        if (n != count_of(b, k)) {
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (!same_str(la[i], lb[i])) {
                return 0;
            }
        }
        return 1;
    }
    case CONFIG_CIDRS: {
        const struct config_cidr *ca = *(struct config_cidr *const *)fa;
        const struct config_cidr *cb = *(struct config_cidr *const *)fb;
        size_t n = count_of(a, k);
        if (n != count_of(b, k)) {
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (ca[i].family != cb[i].family || ca[i].prefix != cb[i].prefix ||
                memcmp(ca[i].addr, cb[i].addr, sizeof(ca[i].addr)) != 0) {
                return 0;
            }
        }
        return 1;
    }
    case CONFIG_CUSTOM:
        break;
    }
    /* Not comparable: no key that needs a restart is custom (config.h;
     * config_test checks), and one that were would always be named. */
    return 0;
}

size_t config_restart_keys(const struct config *old, const struct config *cur, char *buf,
                           size_t cap) {
    size_t n = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].reloadable || same_value(&keys[i], old, cur)) {
            continue;
        }
        if (cap > 0) {
            append(buf, cap, n > 0 ? ", " : "");
            append(buf, cap, keys[i].path);
        }
        n++;
    }
    return n;
}

/* ---- loading ------------------------------------------------------------ */

/* Splits an endpoint URL into scheme, host and port. Only http and https;
 * a path other than "/" is refused since SES's Query API lives at "/". */
static int parse_endpoint(struct config *cfg, const char *source, struct sp_err *err) {
    const char *u = cfg->endpoint;
    const char *rest;
    if (strncmp(u, "https://", 8) == 0) {
        cfg->endpoint_tls = 1;
        cfg->endpoint_port = 443;
        rest = u + 8;
    } else if (strncmp(u, "http://", 7) == 0) {
        cfg->endpoint_tls = 0;
        cfg->endpoint_port = 80;
        rest = u + 7;
    } else {
        return sp_fail(err, "ConfigError",
                       "%s: endpoint \"%.200s\" must start with https:// or http://", source, u);
    }
    /* No userinfo, query or fragment: "https://user@host" or "host?x" would
     * otherwise end up in the host name. */
    ENSURE(strpbrk(rest, "@?#") == NULL, err, "ConfigError",
           "%s: endpoint must be scheme://host[:port] (no user, query or fragment)", source);
    size_t hostlen = strcspn(rest, ":/");
    const char *after = rest + hostlen;
    if (*rest == '[') { /* IPv6 literal */
        const char *close = strchr(rest, ']');
        ENSURE(close != NULL, err, "ConfigError", "%s: bad IPv6 literal in endpoint", source);
        hostlen = (size_t)(close - rest - 1);
        rest++;
        after = close + 1;
    }
    ENSURE(hostlen > 0 && hostlen < 256, err, "ConfigError", "%s: endpoint has no host", source);
    free(cfg->endpoint_host);
    cfg->endpoint_host = strndup(rest, hostlen);
    ENSURE_REF(cfg->endpoint_host, err);
    if (*after == ':') {
        char *end;
        long port = strtol(after + 1, &end, 10);
        ENSURE(end != after + 1 && port > 0 && port < 65536 && (*end == '\0' || *end == '/'), err,
               "ConfigError", "%s: bad port in endpoint", source);
        cfg->endpoint_port = (int)port;
        after = end;
    }
    ENSURE(*after == '\0' || strcmp(after, "/") == 0, err, "ConfigError",
           "%s: endpoint must have no path (SES's Query API is at /)", source);
    return 0;
}

/* The AWS conventions on top of the file. */
static int apply_env(struct config *cfg, struct sp_err *err) {
    const char *region = getenv("AWS_REGION");
    if (region == NULL || *region == '\0') {
        region = getenv("AWS_DEFAULT_REGION");
    }
    if (region != NULL && *region != '\0') {
        free(cfg->region);
        cfg->region = strdup(region);
        ENSURE_REF(cfg->region, err);
    }
    for (const char *p = cfg->region; *p; p++) {
        ENSURE((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-', err,
               "ConfigError", "region \"%.64s\" is not a region name", cfg->region);
    }
    ENSURE(*cfg->region != '\0', err, "ConfigError", "region is empty");
    const char *source = "endpoint";
    const char *env = getenv("AWS_ENDPOINT_URL_SES");
    if (env != NULL && *env != '\0') {
        source = "AWS_ENDPOINT_URL_SES";
    } else if ((env = getenv("AWS_ENDPOINT_URL")) != NULL && *env != '\0') {
        source = "AWS_ENDPOINT_URL";
    } else {
        env = NULL;
    }
    if (env != NULL) {
        free(cfg->endpoint);
        cfg->endpoint = strdup(env);
        ENSURE_REF(cfg->endpoint, err);
    }
    /* Named by the operator: SES v2's multi-region calls go there too
     * (signed with SigV4a), as botocore's endpoint rules send them. */
    cfg->endpoint_custom = cfg->endpoint != NULL;
    if (cfg->endpoint == NULL) {
        char buf[300];
        snprintf(buf, sizeof(buf), "https://email.%s.amazonaws.com", cfg->region);
        cfg->endpoint = strdup(buf);
        ENSURE_REF(cfg->endpoint, err);
    }
    return parse_endpoint(cfg, source, err);
}

static char *read_text(const char *path, struct sp_err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        sp_fail(err, "ConfigError", "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
        if (len + 1 == cap) {
            if (cap > (64u << 20)) {
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        sp_fail(err, "ConfigError", "%s: too large or out of memory", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Defaults, then text (NULL = none) parsed as the file called name, then the
 * environment. text must be NUL-terminated; it is borrowed. */
static struct config *load(const char *path, const char *name, const char *text,
                           struct sp_err *err) {
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    cfg->refs = 1;
    struct config_loader l = {name, text, err};
    json_t *root = NULL;
    if (set_defaults(cfg, err) < 0) {
        goto fail;
    }
    if (path != NULL) {
        cfg->path = strdup(path);
    }
    if (text != NULL) {
        json_error_t jerr;
        root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (root == NULL) {
            sp_fail(err, "ConfigError", "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
            goto fail;
        }
        if (!json_is_object(root)) {
            sp_fail(err, "ConfigError", "%s:1: the configuration must be a JSON object", name);
            goto fail;
        }
        if (load_object(&l, root, "", cfg) < 0) {
            goto fail;
        }
    }
    if (finish(&l, cfg) < 0 || apply_env(cfg, err) < 0) {
        goto fail;
    }
    json_decref(root);
    return cfg;
fail:
    json_decref(root);
    config_unref(cfg);
    return NULL;
}

struct config *config_load(const char *path, struct sp_err *err) {
    if (path == NULL) {
        return load(NULL, "(defaults)", NULL, err);
    }
    char *text = read_text(path, err);
    if (text == NULL) {
        return NULL;
    }
    struct config *cfg = load(path, path, text, err);
    free(text);
    return cfg;
}

struct config *config_load_text(const char *text, size_t len, const char *name,
                                struct sp_err *err) {
    /* A NUL-terminated copy: the same text config_load would hand jansson
     * (which stops at a NUL byte, as it does for a file). */
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    if (len > 0) {
        memcpy(copy, text, len);
    }
    copy[len] = '\0';
    struct config *cfg = load(NULL, name != NULL ? name : "(text)", copy, err);
    free(copy);
    return cfg;
}

int config_set_listen(struct config *cfg, char *const *listen, size_t n, struct sp_err *err) {
    ENSURE(n > 0 && n <= CONFIG_MAX_LISTEN, err, "ConfigError", "too many --listen addresses");
    for (size_t i = 0; i < cfg->n_listen; i++) {
        free(cfg->listen[i]);
    }
    cfg->n_listen = 0;
    for (size_t i = 0; i < n; i++) {
        cfg->listen[i] = strdup(listen[i]);
        ENSURE_REF(cfg->listen[i], err);
        cfg->n_listen++;
    }
    return 0;
}

struct config *config_ref(struct config *cfg) {
    cfg->refs++;
    return cfg;
}

void config_unref(struct config *cfg) {
    if (cfg == NULL || --cfg->refs > 0) {
        return;
    }
    free(cfg->path);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        free(cfg->listen[i]);
    }
    for (size_t i = 0; i < cfg->n_admin_listen; i++) {
        free(cfg->admin_listen[i]);
    }
    free(cfg->region);
    free(cfg->endpoint);
    free(cfg->endpoint_host);
    free(cfg->credentials.source);
    free(cfg->credentials.profile);
    free(cfg->credentials.access_key_id);
    free(cfg->credentials.secret_access_key_file);
    free(cfg->credentials.session_token_file);
    free(cfg->upstream.ca_file);
    free(cfg->sdk_path_prefix);
    free(cfg->throttle.backend);
    free(cfg->throttle.redis_url);
    free(cfg->throttle.redis_host);
    free(cfg->throttle.redis_unix);
    free(cfg->throttle.redis_key_prefix);
    for (size_t i = 0; i < cfg->throttle.n_ops; i++) {
        free(cfg->throttle.ops[i].name);
    }
    free(cfg->throttle.ops);
    free(cfg->policy.allow_clients);
    free_list(cfg->policy.allow_actions, cfg->policy.n_allow_actions);
    free_list(cfg->policy.deny_actions, cfg->policy.n_deny_actions);
    free_rules(&cfg->policy.identities);
    free_rules(&cfg->policy.configuration_sets);
    free_rules(&cfg->policy.templates);
    free_rules(&cfg->policy.contact_lists);
    free_rules(&cfg->policy.tenants);
    free(cfg->policy.account_id);
    free(cfg->outbox.store);
    free(cfg->outbox.path);
    free(cfg->outbox.status_readers);
    free(cfg);
}

void config_op_limit(const struct config *cfg, const char *op, unsigned documented_rate,
                     double *rate, double *burst) {
    const struct config_op_limit *star = NULL;
    for (size_t i = 0; i < cfg->throttle.n_ops; i++) {
        if (strcmp(cfg->throttle.ops[i].name, op) == 0) {
            *rate = cfg->throttle.ops[i].rate;
            *burst = cfg->throttle.ops[i].burst;
            return;
        }
        if (strcmp(cfg->throttle.ops[i].name, "*") == 0) {
            star = &cfg->throttle.ops[i];
        }
    }
    /* "*" applies to the operations SES documents a limit for; the others
     * (sending, a few legacy calls) are not throttled per operation. */
    if (star != NULL && documented_rate > 0) {
        *rate = star->rate;
        *burst = star->burst;
        return;
    }
    *rate = documented_rate;
    *burst = documented_rate > 0 ? documented_rate : 0;
}
