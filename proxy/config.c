/* config.c - the JSON configuration file and the AWS environment (config.h).
 *
 * jansson gives line numbers only for syntax errors, so for a bad value we
 * find the key's line ourselves by searching the raw text for each quoted
 * component of its path in turn ("throttle" then "max_wait_ms"): good enough
 * to point an operator at the right line, and never wrong about the key. */
#include "proxy/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy/log.h"
#include "proxy/policy.h"

struct cctx {
    const char *file; /* for messages */
    char *text;       /* raw file, for line lookups; may be NULL */
    struct sp_err *err;
};

static int key_line(const struct cctx *c, const char *keypath) {
    if (c->text == NULL) {
        return 0;
    }
    const char *pos = c->text;
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
    for (const char *q = c->text; q < pos; q++) {
        line += *q == '\n';
    }
    return line;
}

static int bad(const struct cctx *c, const char *keypath, const char *what) {
    int line = key_line(c, keypath);
    if (line > 0) {
        return sp_fail(c->err, "ConfigError", "%s:%d: %s: %s", c->file, line, keypath, what);
    }
    return sp_fail(c->err, "ConfigError", "%s: %s: %s", c->file, keypath, what);
}

/* Checks that obj has no member outside allowed[] (NULL-terminated). */
static int only_keys(const struct cctx *c, const char *prefix, json_t *obj,
                     const char *const *allowed) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            ok |= strcmp(allowed[i], key) == 0;
        }
        if (!ok) {
            char path[256];
            snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
            return bad(c, path, "unknown key");
        }
    }
    return 0;
}

static int get_string(const struct cctx *c, json_t *obj, const char *prefix, const char *key,
                      char **out) {
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
    if (!json_is_string(v)) {
        return bad(c, path, "must be a string or null");
    }
    free(*out);
    *out = strdup(json_string_value(v));
    ENSURE_REF(*out, c->err);
    return 0;
}

static int get_int(const struct cctx *c, json_t *obj, const char *prefix, const char *key,
                   long long lo, long long hi, long long *out) {
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return 0;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
    if (!json_is_integer(v)) {
        return bad(c, path, "must be an integer");
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        char msg[128];
        snprintf(msg, sizeof(msg), "must be between %lld and %lld", lo, hi);
        return bad(c, path, msg);
    }
    *out = x;
    return 0;
}

static int get_int_field(const struct cctx *c, json_t *obj, const char *prefix, const char *key,
                         long long lo, long long hi, int *field) {
    long long x = *field;
    GUARD(get_int(c, obj, prefix, key, lo, hi, &x));
    *field = (int)x;
    return 0;
}

static int get_string_list(const struct cctx *c, json_t *obj, const char *prefix, const char *key,
                           char ***out, size_t *n) {
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return 0;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
    if (!json_is_array(v)) {
        return bad(c, path, "must be a list of strings");
    }
    for (size_t i = 0; i < *n; i++) {
        free((*out)[i]);
    }
    free(*out);
    *out = NULL;
    *n = 0;
    size_t len = json_array_size(v);
    if (len == 0) {
        return 0;
    }
    *out = calloc(len, sizeof(char *));
    ENSURE_REF(*out, c->err);
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            return bad(c, path, "must be a list of strings");
        }
        (*out)[i] = strdup(json_string_value(s));
        ENSURE_REF((*out)[i], c->err);
        (*n)++;
    }
    return 0;
}

/* "listen" (a non-empty list) or "admin_listen" (may be empty): "host:port"
 * or "unix:/path" strings, a single string taken as a list of one. */
static int parse_addresses(const struct cctx *c, json_t *root, const char *key, int may_be_empty,
                           char **out, size_t *n_out) {
    json_t *v = json_object_get(root, key);
    if (v == NULL) {
        return 0;
    }
    if (json_is_string(v)) {
        v = json_pack("[O]", v);
    } else {
        json_incref(v);
    }
    if (!json_is_array(v) || (json_array_size(v) == 0 && !may_be_empty) ||
        json_array_size(v) > CONFIG_MAX_LISTEN) {
        json_decref(v);
        return bad(c, key,
                   may_be_empty ? "must be a list of at most 16 \"host:port\" or \"unix:/path\""
                                : "must be a non-empty list of \"host:port\" or \"unix:/path\"");
    }
    for (size_t i = 0; i < *n_out; i++) {
        free(out[i]);
    }
    *n_out = 0;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) {
            json_decref(v);
            return bad(c, key, "must be a list of strings");
        }
        out[*n_out] = strdup(json_string_value(s));
        if (out[*n_out] == NULL) {
            json_decref(v);
            return sp_fail(c->err, "InternalError", "out of memory");
        }
        (*n_out)++;
    }
    json_decref(v);
    return 0;
}

static int parse_credentials(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "credentials");
    if (o == NULL || json_is_null(o)) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "credentials", "must be an object");
    }
    static const char *const keys[] = {
        "source", "profile", "access_key_id", "secret_access_key_file", "session_token_file", NULL};
    /* Before only_keys, which would call it merely unknown. */
    if (json_object_get(o, "secret_access_key") != NULL) {
        return bad(c, "credentials.secret_access_key",
                   "secrets are not taken inline; use secret_access_key_file");
    }
    GUARD(only_keys(c, "credentials", o, keys));
    GUARD(get_string(c, o, "credentials", "source", &cfg->credentials.source));
    GUARD(get_string(c, o, "credentials", "profile", &cfg->credentials.profile));
    GUARD(get_string(c, o, "credentials", "access_key_id", &cfg->credentials.access_key_id));
    GUARD(get_string(c, o, "credentials", "secret_access_key_file",
                     &cfg->credentials.secret_access_key_file));
    GUARD(get_string(c, o, "credentials", "session_token_file",
                     &cfg->credentials.session_token_file));
    static const char *const sources[] = {"chain",   "static",    "env",  "web_identity",
                                          "profile", "container", "imds", NULL};
    int ok = 0;
    for (size_t i = 0; sources[i] != NULL; i++) {
        ok |= strcmp(sources[i], cfg->credentials.source) == 0;
    }
    if (!ok) {
        return bad(c, "credentials.source",
                   "must be one of chain, static, env, web_identity, profile, container, imds");
    }
    if ((cfg->credentials.access_key_id == NULL) !=
        (cfg->credentials.secret_access_key_file == NULL)) {
        return bad(c, "credentials.access_key_id",
                   "access_key_id and secret_access_key_file go together");
    }
    return 0;
}

static int parse_upstream(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "upstream");
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "upstream", "must be an object");
    }
    static const char *const keys[] = {"connect_timeout_ms", "timeout_ms", "max_idle_connections",
                                       "ca_file", NULL};
    GUARD(only_keys(c, "upstream", o, keys));
    GUARD(get_int_field(c, o, "upstream", "connect_timeout_ms", 1, 600000,
                        &cfg->upstream.connect_timeout_ms));
    GUARD(get_int_field(c, o, "upstream", "timeout_ms", 1, 3600000, &cfg->upstream.timeout_ms));
    GUARD(get_int_field(c, o, "upstream", "max_idle_connections", 0, 100000,
                        &cfg->upstream.max_idle_connections));
    GUARD(get_string(c, o, "upstream", "ca_file", &cfg->upstream.ca_file));
    return 0;
}

static int get_number(const struct cctx *c, json_t *v, const char *path, double lo, double *out) {
    if (!json_is_number(v) || json_number_value(v) < lo) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be a number >= %g", lo);
        return bad(c, path, msg);
    }
    *out = json_number_value(v);
    return 0;
}

static int parse_throttle_ops(const struct cctx *c, json_t *o, struct config *cfg) {
    json_t *ops = json_object_get(o, "operations");
    if (ops == NULL) {
        return 0;
    }
    if (!json_is_object(ops)) {
        return bad(c, "throttle.operations", "must be an object of {\"rate\", \"burst\"}");
    }
    for (size_t i = 0; i < cfg->throttle.n_ops; i++) {
        free(cfg->throttle.ops[i].name);
    }
    free(cfg->throttle.ops);
    cfg->throttle.n_ops = 0;
    cfg->throttle.ops = calloc(json_object_size(ops) + 1, sizeof(*cfg->throttle.ops));
    ENSURE_REF(cfg->throttle.ops, c->err);
    const char *name;
    json_t *lim;
    json_object_foreach(ops, name, lim) {
        char path[256];
        snprintf(path, sizeof(path), "throttle.operations.%s", name);
        if (!json_is_object(lim)) {
            return bad(c, path, "must be an object {\"rate\": N, \"burst\": N}");
        }
        static const char *const keys[] = {"rate", "burst", NULL};
        GUARD(only_keys(c, path, lim, keys));
        struct config_op_limit *l = &cfg->throttle.ops[cfg->throttle.n_ops];
        l->name = strdup(name);
        ENSURE_REF(l->name, c->err);
        cfg->throttle.n_ops++;
        json_t *rate = json_object_get(lim, "rate");
        json_t *burst = json_object_get(lim, "burst");
        char sub[300];
        if (rate == NULL) {
            return bad(c, path, "needs \"rate\"");
        }
        snprintf(sub, sizeof(sub), "%s.rate", path);
        GUARD(get_number(c, rate, sub, 0, &l->rate));
        l->burst = l->rate < 1 ? 1 : l->rate;
        if (burst != NULL) {
            snprintf(sub, sizeof(sub), "%s.burst", path);
            GUARD(get_number(c, burst, sub, 1, &l->burst));
        }
    }
    return 0;
}

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

static int parse_throttle(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "throttle");
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "throttle", "must be an object");
    }
    static const char *const keys[] = {
        "backend",    "redis_url", "max_wait_ms",      "max_queue",        "send_rate",
        "operations", "replicas",  "redis_timeout_ms", "redis_key_prefix", NULL};
    GUARD(only_keys(c, "throttle", o, keys));
    GUARD(get_string(c, o, "throttle", "backend", &cfg->throttle.backend));
    if (strcmp(cfg->throttle.backend, "local") != 0 && strcmp(cfg->throttle.backend, "redis")) {
        return bad(c, "throttle.backend", "must be \"local\" or \"redis\"");
    }
    GUARD(get_string(c, o, "throttle", "redis_url", &cfg->throttle.redis_url));
    GUARD(get_string(c, o, "throttle", "redis_key_prefix", &cfg->throttle.redis_key_prefix));
    if (strlen(cfg->throttle.redis_key_prefix) > 64) {
        return bad(c, "throttle.redis_key_prefix", "must be at most 64 bytes");
    }
    GUARD(get_int_field(c, o, "throttle", "redis_timeout_ms", 1, 60000,
                        &cfg->throttle.redis_timeout_ms));
    GUARD(get_int_field(c, o, "throttle", "replicas", 1, 10000, &cfg->throttle.replicas));
    if (cfg->throttle.redis_url != NULL && parse_redis_url(cfg, cfg->throttle.redis_url) < 0) {
        return bad(c, "throttle.redis_url",
                   "must be \"redis://host[:port][/db]\" or \"unix:/path\" (no credentials)");
    }
    GUARD(get_int_field(c, o, "throttle", "max_wait_ms", 0, 3600000, &cfg->throttle.max_wait_ms));
    GUARD(get_int_field(c, o, "throttle", "max_queue", 0, 10000000, &cfg->throttle.max_queue));
    json_t *sr = json_object_get(o, "send_rate");
    if (sr != NULL) {
        if (json_is_string(sr) && strcmp(json_string_value(sr), "auto") == 0) {
            cfg->throttle.send_rate_auto = 1;
        } else if (json_is_number(sr) && json_number_value(sr) > 0) {
            cfg->throttle.send_rate_auto = 0;
            cfg->throttle.send_rate = json_number_value(sr);
        } else {
            return bad(c, "throttle.send_rate", "must be \"auto\" or a number > 0");
        }
    }
    GUARD(parse_throttle_ops(c, o, cfg));
    if (strcmp(cfg->throttle.backend, "redis") == 0 && cfg->throttle.redis_host == NULL &&
        cfg->throttle.redis_unix == NULL && parse_redis_url(cfg, "redis://127.0.0.1:6379") < 0) {
        return sp_fail(c->err, "InternalError", "out of memory");
    }
    return 0;
}

/* policy.identities: a list (for every action) or an object mapping action
 * globs to lists. */
static int parse_identities(const struct cctx *c, json_t *o, struct config *cfg) {
    json_t *v = json_object_get(o, "identities");
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    json_t *rules = json_is_array(v) ? json_pack("{sO}", "*", v) : json_incref(v);
    if (!json_is_object(rules)) {
        json_decref(rules);
        return bad(c, "policy.identities",
                   "must be a list of domains/addresses, or an object of action -> list");
    }
    cfg->policy.identity_rules =
        calloc(json_object_size(rules) + 1, sizeof(*cfg->policy.identity_rules));
    int rc =
        cfg->policy.identity_rules != NULL ? 0 : sp_fail(c->err, "InternalError", "out of memory");
    const char *action;
    json_t *list;
    json_object_foreach(rules, action, list) {
        if (rc < 0) {
            break;
        }
        struct config_identity_rule *r =
            &cfg->policy.identity_rules[cfg->policy.n_identity_rules++];
        r->action = strdup(action);
        json_t *wrap = json_pack("{sO}", "l", list);
        rc = r->action != NULL && wrap != NULL
                 ? get_string_list(c, wrap, "policy.identities", "l", &r->patterns, &r->n_patterns)
                 : sp_fail(c->err, "InternalError", "out of memory");
        json_decref(wrap);
        if (rc == 0 && r->n_patterns == 0) {
            char path[300];
            snprintf(path, sizeof(path), "policy.identities.%s", action);
            rc = bad(c, path, "must list at least one domain or address");
        }
    }
    json_decref(rules);
    return rc;
}

static int parse_policy(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "policy");
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "policy", "must be an object");
    }
    static const char *const keys[] = {"allow_clients", "allow_actions", "deny_actions",
                                       "identities", NULL};
    GUARD(only_keys(c, "policy", o, keys));
    char **clients = NULL;
    size_t n = 0;
    int rc = get_string_list(c, o, "policy", "allow_clients", &clients, &n);
    if (rc == 0 && json_object_get(o, "allow_clients") != NULL) {
        free(cfg->policy.allow_clients);
        cfg->policy.allow_clients = calloc(n + 1, sizeof(struct config_cidr));
        cfg->policy.n_allow_clients = 0;
        if (cfg->policy.allow_clients == NULL) {
            rc = sp_fail(c->err, "InternalError", "out of memory");
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (policy_parse_cidr(clients[i], &cfg->policy.allow_clients[i]) < 0) {
                char msg[300];
                snprintf(msg, sizeof(msg), "\"%.200s\" is not an address or CIDR", clients[i]);
                rc = bad(c, "policy.allow_clients", msg);
            } else {
                cfg->policy.n_allow_clients++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(clients[i]);
    }
    free(clients);
    GUARD(rc);
    GUARD(get_string_list(c, o, "policy", "allow_actions", &cfg->policy.allow_actions,
                          &cfg->policy.n_allow_actions));
    GUARD(get_string_list(c, o, "policy", "deny_actions", &cfg->policy.deny_actions,
                          &cfg->policy.n_deny_actions));
    return parse_identities(c, o, cfg);
}

static int parse_limits(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "limits");
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "limits", "must be an object");
    }
    static const char *const keys[] = {"max_body_bytes",  "max_connections",  "header_timeout_ms",
                                       "idle_timeout_ms", "max_header_bytes", NULL};
    GUARD(only_keys(c, "limits", o, keys));
    long long body = (long long)cfg->limits.max_body_bytes;
    GUARD(get_int(c, o, "limits", "max_body_bytes", 1, 1LL << 32, &body));
    cfg->limits.max_body_bytes = (size_t)body;
    long long head = (long long)cfg->limits.max_header_bytes;
    GUARD(get_int(c, o, "limits", "max_header_bytes", 256, 1 << 20, &head));
    cfg->limits.max_header_bytes = (size_t)head;
    GUARD(get_int_field(c, o, "limits", "max_connections", 1, 10000000,
                        &cfg->limits.max_connections));
    GUARD(get_int_field(c, o, "limits", "header_timeout_ms", 1, 3600000,
                        &cfg->limits.header_timeout_ms));
    GUARD(get_int_field(c, o, "limits", "idle_timeout_ms", 1, 86400000,
                        &cfg->limits.idle_timeout_ms));
    return 0;
}

static int parse_log(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "log");
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "log", "must be an object");
    }
    static const char *const keys[] = {"level", "format", NULL};
    GUARD(only_keys(c, "log", o, keys));
    json_t *lv = json_object_get(o, "level");
    if (lv != NULL) {
        int l = json_is_string(lv) ? log_level_parse(json_string_value(lv)) : -1;
        if (l < 0) {
            return bad(c, "log.level", "must be one of debug, info, warn, error");
        }
        cfg->log.level = l;
    }
    json_t *fmt = json_object_get(o, "format");
    if (fmt != NULL) {
        if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "json") != 0) {
            return bad(c, "log.format", "must be \"json\" (the only format)");
        }
    }
    return 0;
}

static int parse_retry(const struct cctx *c, json_t *root, struct config *cfg) {
    json_t *o = json_object_get(root, "retry");
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o)) {
        return bad(c, "retry", "must be an object");
    }
    static const char *const keys[] = {"max_attempts", NULL};
    GUARD(only_keys(c, "retry", o, keys));
    return get_int_field(c, o, "retry", "max_attempts", 1, 20, &cfg->retry_max_attempts);
}

static int set_defaults(struct config *cfg, struct sp_err *err) {
    cfg->refs = 1;
    cfg->listen[0] = strdup("127.0.0.1:8080");
    cfg->n_listen = 1;
    cfg->region = strdup("us-east-1");
    cfg->credentials.source = strdup("chain");
    cfg->upstream.connect_timeout_ms = 3000;
    cfg->upstream.timeout_ms = 30000;
    cfg->upstream.max_idle_connections = 64;
    cfg->retry_max_attempts = 3;
    cfg->throttle.backend = strdup("local");
    cfg->throttle.max_wait_ms = 10000;
    cfg->throttle.max_queue = 1000;
    cfg->throttle.send_rate_auto = 1;
    cfg->throttle.redis_key_prefix = strdup("ses-proxy:");
    cfg->throttle.redis_timeout_ms = 250;
    cfg->throttle.replicas = 1;
    cfg->policy.allow_clients = calloc(2, sizeof(struct config_cidr));
    cfg->policy.allow_actions = calloc(1, sizeof(char *));
    cfg->limits.max_body_bytes = 16777216;
    cfg->limits.max_connections = 4096;
    cfg->limits.header_timeout_ms = 10000;
    cfg->limits.idle_timeout_ms = 60000;
    cfg->limits.max_header_bytes = 16384;
    cfg->log.level = LOG_INFO;
    cfg->log.json = 1;
    cfg->drain_timeout_ms = 20000;
    ENSURE(cfg->listen[0] && cfg->region && cfg->credentials.source && cfg->throttle.backend &&
               cfg->throttle.redis_key_prefix && cfg->policy.allow_clients &&
               cfg->policy.allow_actions,
           err, "InternalError", "out of memory");
    ENSURE(policy_parse_cidr("127.0.0.0/8", &cfg->policy.allow_clients[0]) == 0 &&
               policy_parse_cidr("::1/128", &cfg->policy.allow_clients[1]) == 0,
           err, "InternalError", "bad default CIDR");
    cfg->policy.n_allow_clients = 2;
    cfg->policy.allow_actions[0] = strdup("*");
    ENSURE_REF(cfg->policy.allow_actions[0], err);
    cfg->policy.n_allow_actions = 1;
    return 0;
}

static int parse_root(const struct cctx *c, json_t *root, struct config *cfg) {
    if (!json_is_object(root)) {
        return sp_fail(c->err, "ConfigError", "%s:1: the configuration must be a JSON object",
                       c->file);
    }
    static const char *const keys[] = {
        "listen",           "admin_listen", "region",   "endpoint", "credentials",
        "upstream",         "retry",        "throttle", "policy",   "limits",
        "drain_timeout_ms", "log",          NULL};
    GUARD(only_keys(c, "", root, keys));
    GUARD(parse_addresses(c, root, "listen", 0, cfg->listen, &cfg->n_listen));
    GUARD(parse_addresses(c, root, "admin_listen", 1, cfg->admin_listen, &cfg->n_admin_listen));
    GUARD(get_string(c, root, "", "region", &cfg->region));
    GUARD(get_string(c, root, "", "endpoint", &cfg->endpoint));
    GUARD(parse_credentials(c, root, cfg));
    GUARD(parse_upstream(c, root, cfg));
    GUARD(parse_retry(c, root, cfg));
    GUARD(parse_throttle(c, root, cfg));
    GUARD(parse_policy(c, root, cfg));
    GUARD(parse_limits(c, root, cfg));
    GUARD(parse_log(c, root, cfg));
    GUARD(get_int_field(c, root, "", "drain_timeout_ms", 0, 3600000, &cfg->drain_timeout_ms));
    return 0;
}

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
static struct config *load(const char *path, const char *name, char *text, struct sp_err *err) {
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    struct cctx c = {name, text, err};
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
        if (parse_root(&c, root, cfg) < 0) {
            goto fail;
        }
    }
    if (apply_env(cfg, err) < 0) {
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

static void free_list(char **l, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(l[i]);
    }
    free(l);
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
    for (size_t i = 0; i < cfg->policy.n_identity_rules; i++) {
        free(cfg->policy.identity_rules[i].action);
        free_list(cfg->policy.identity_rules[i].patterns, cfg->policy.identity_rules[i].n_patterns);
    }
    free(cfg->policy.identity_rules);
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
