/* config.h - the configuration: one JSON file, every key optional, the AWS
 * environment conventions on top, turned into an immutable snapshot.
 *
 * A snapshot is refcounted: the proxy holds the current one, each request
 * holds the one it started under, and SIGHUP swaps in a new one without
 * touching requests in flight. Nothing in a snapshot changes after
 * config_load() returns. Errors name the file, the line and the key.
 *
 * The snapshot holds no secret: only the *paths* of secret files. */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "signer/check.h"

#define CONFIG_MAX_LISTEN 16

struct config_op_limit {
    char *name; /* operation name, or "*" */
    double rate;
    double burst;
};

/* One rule of a per-operation pattern list (policy.identities,
 * policy.configuration_sets, ...): the operations it applies to and what
 * their calls may name. */
struct config_rule {
    char *action;    /* glob over operation names */
    char **patterns; /* "example.com", "*.example.com", "alerts@example.com"; "app-*" */
    size_t n_patterns;
};

/* A policy list: rules in file order; none (n_rules 0) = no constraint. */
struct config_rules {
    struct config_rule *rules;
    size_t n_rules;
};

struct config_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix;
};

struct config {
    int refs;
    char *path; /* NULL when built from defaults only */

    char *listen[CONFIG_MAX_LISTEN];
    size_t n_listen;
    /* Listeners that serve only GET /healthz, /readyz and /metrics, to any
     * client (policy.allow_clients does not apply), and stay open while
     * draining: for probes and scrapers outside a loopback-only sidecar. */
    char *admin_listen[CONFIG_MAX_LISTEN];
    size_t n_admin_listen;
    char *region;
    /* Resolved endpoint: AWS_ENDPOINT_URL_SES, AWS_ENDPOINT_URL, "endpoint",
     * else https://email.<region>.amazonaws.com. */
    char *endpoint;
    int endpoint_tls;
    char *endpoint_host;
    int endpoint_port;
    int endpoint_custom; /* 1 when set by the file or the environment */

    struct {
        char *source; /* "chain", "static", "env", ... */
        char *profile;
        char *access_key_id;
        char *secret_access_key_file;
        char *session_token_file;
    } credentials;

    struct {
        int connect_timeout_ms;
        int timeout_ms;
        int max_idle_connections;
        char *ca_file;
    } upstream;

    int retry_max_attempts;     /* JSON mode: attempts per call in all */
    int retry_sdk_max_attempts; /* SDK callers, who retry on their own */

    /* A path an SDK's endpoint may carry (http://host:port/ses): stripped
     * from SDK calls' paths. NULL: none. */
    char *sdk_path_prefix;

    struct {
        char *backend; /* "local" | "redis" */
        char *redis_url;
        /* redis_url parsed: "redis://host[:port][/db]" (TCP, redis_unix
         * NULL) or "unix:/path" (redis_host NULL). With backend "redis" and
         * no redis_url: redis://127.0.0.1:6379. */
        char *redis_host;
        int redis_port;
        char *redis_unix;
        int redis_db;
        /* Keys are <redis_key_prefix>{<region>}:<bucket> (one Redis Cluster
         * slot per region). */
        char *redis_key_prefix;
        int redis_timeout_ms; /* a slower answer counts as Redis down */
        /* Replicas sharing the account: while Redis is down each one runs
         * its local buckets at 1/replicas of the configured rates. */
        int replicas;
        int max_wait_ms;
        int max_queue;
        double send_rate; /* recipients per second; 0 with send_rate_auto */
        int send_rate_auto;
        struct config_op_limit *ops;
        size_t n_ops;
    } throttle;

    struct {
        struct config_cidr *allow_clients;
        size_t n_allow_clients;
        char **allow_actions;
        size_t n_allow_actions;
        char **deny_actions;
        size_t n_deny_actions;
        /* What a call may name, per action glob ("*" for all), in file
         * order; none = no constraint: the identities (addresses and
         * domains it sends as or manages), configuration sets, templates,
         * contact lists and tenants. */
        struct config_rules identities;
        struct config_rules configuration_sets;
        struct config_rules templates;
        struct config_rules contact_lists;
        struct config_rules tenants;
        /* The account identity ARNs must name; NULL: learnt with STS
         * GetCallerIdentity once credentials are held. */
        char *account_id;
    } policy;

    struct {
        size_t max_body_bytes;
        /* The sum of the request bodies being received or held by calls
         * in progress; a body that would pass it gets 503 before it is
         * read. At least max_body_bytes. */
        size_t max_inflight_bytes;
        int max_connections;
        int header_timeout_ms;
        int idle_timeout_ms;
        size_t max_header_bytes;
    } limits;

    struct {
        int level; /* enum log_level */
        int json;
    } log;

    int drain_timeout_ms;

    /* Asynchronous sends (proxy/outbox/outbox.h): on when the file has an
     * "outbox" section (an object; null or none: off). */
    struct {
        int enabled;
        char *store; /* "file" | "redis" (throttle.redis_url's Redis) */
        char *path;  /* the file store's directory */
        int retention_s;
        int max_age_s;
        int claim_after_ms;
        int max_messages;
        size_t max_bytes;
        char *status_readers; /* "creator" | "any" */
        int quota_refresh_s;
    } outbox;
};

/* Loads path (NULL = defaults only), applies the environment (envp-style
 * lookup through getenv) and validates. Returns a snapshot with refs = 1, or
 * NULL with err naming file:line:key. */
struct config *config_load(const char *path, struct sp_err *err);

/* The same from text already in memory (len bytes, borrowed, need not be
 * NUL-terminated; like a file, it ends at a NUL byte). name stands for the
 * file in messages; the snapshot's path is NULL. For tests and fuzzing. */
struct config *config_load_text(const char *text, size_t len, const char *name, struct sp_err *err);

/* Replaces the listeners (command line --listen). */
int config_set_listen(struct config *cfg, char *const *listen, size_t n,
                      struct sp_err *err) SP_WARN_UNUSED;

struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);

/* Limit for an operation: its own entry, else "*", else the model's
 * documented rate (burst 1). Returns 0 and rate 0 when not throttled. */
void config_op_limit(const struct config *cfg, const char *op, unsigned documented_rate,
                     double *rate, double *burst);

/* The keys, as data.
 *
 * Every key of the file is one row (nginx's ngx_command_t): its path, how
 * its value is read and where it is stored (offsetof into struct config),
 * its bounds, its default, and whether SIGHUP applies it. The loader walks
 * the file's members in file order and hands each to its row; a member
 * without a row is an "unknown key". The defaults go through the same
 * setters before the file does, so the default column is the only place a
 * default is written down; conf/ses-proxy.json and README.md show the same
 * values, and tests/unit/proxy/config_test.c fails when they drift.
 *
 * To add a key: a field in struct config (freed in config_unref when it
 * owns memory), a row in keys[] in config.c (RESTART when only a restart
 * applies it: then not CONFIG_CUSTOM, so that it can be compared), the key
 * with its default in conf/ses-proxy.json, and its row in README.md's table
 * of keys. A new type: an enum value, its setter in set_value() and its
 * comparison in same_value(). */
enum config_type {
    CONFIG_STRING,    /* string or null (null keeps the default); max: longest length, 0 = any */
    CONFIG_ENUM,      /* a CONFIG_STRING that must be one of names[] */
    CONFIG_INT,       /* integer in [min, max], stored as int */
    CONFIG_SIZE,      /* byte count in [min, max], stored as size_t */
    CONFIG_STRINGS,   /* list of strings: char ** at offset, size_t count at count_offset */
    CONFIG_CIDRS,     /* list of "addr[/prefix]": struct config_cidr * and its count */
    CONFIG_ADDRESSES, /* "host:port" or "unix:/path", or a list of them: char *[CONFIG_MAX_LISTEN]
                         and its count; min: the fewest allowed (0 or 1) */
    CONFIG_CUSTOM,    /* irregular: set() reads the value and knows its own fields */
};

struct config_loader; /* config.c's state while loading: file name, text, err */
struct json_t;

struct config_key {
    const char *path; /* "throttle.max_wait_ms": sections and key, joined by '.' */
    enum config_type type;
    size_t offset;            /* offsetof(struct config, ...); CONFIG_CUSTOM: its first field */
    size_t count_offset;      /* lists: offsetof the size_t count */
    long long min, max;       /* bounds (see enum config_type) */
    const char *def;          /* the default, as JSON text, as conf/ses-proxy.json shows it */
    int reloadable;           /* 1: SIGHUP applies it; 0: it takes effect after a restart */
    const char *const *names; /* CONFIG_ENUM: the allowed values, NULL-terminated */
    const char *msg;          /* CONFIG_ENUM: the refusal, when not "must be one of ..." */
    /* CONFIG_CUSTOM: reads v (never NULL; may be JSON null) into cfg. */
    int (*set)(const struct config_loader *l, const struct config_key *k, struct json_t *v,
               struct config *cfg);
};

/* The table: *n rows. */
const struct config_key *config_keys(size_t *n);

/* The keys a restart would change: those the table marks as not reloadable
 * whose values differ between the snapshots old and cur (the endpoint as
 * resolved, environment included), written to buf as "listen, endpoint"
 * (truncated to cap, always NUL-terminated). Returns how many. Every such key
 * has a comparable type: none is CONFIG_CUSTOM. */
size_t config_restart_keys(const struct config *old, const struct config *cur, char *buf,
                           size_t cap);

/* Parses "a.b.c.d/n" or "x::y/n" (no prefix: the host alone). 0, or -1
 * when it is not exactly that. */
int config_parse_cidr(const char *s, struct config_cidr *out) SP_WARN_UNUSED;

#endif
