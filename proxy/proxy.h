/* proxy.h - struct proxy: the one object all of the daemon's state hangs off.
 *
 * Only the type lives here (no functions), so that every module may reach
 * the shared state without depending on the code that builds it: daemon.c
 * builds it from a config snapshot, reloads and tears it down; main() owns
 * it. The config snapshot is the only shared, refcounted, immutable thing:
 * SIGHUP swaps px->cfg, in-flight requests keep their own. */
#ifndef SP_PROXY_H
#define SP_PROXY_H

#include <stdint.h>

#include "api/model.h"
#include "proxy/metrics.h"
#include "signer/check.h"
#include "signer/sigv4a.h"

struct event_base;
struct evdns_base;
struct config;
struct server;
struct upstream;
struct throttle;
struct throttle_bucket;
struct creds_store;
struct creds_account;
struct quota;
struct throttle_redis;
struct xmljson;
struct outbox;

/* Counters for /metrics that belong to no single module (the per-action
 * request counts and histograms live in struct metrics). */
struct proxy_stats {
    uint64_t upstream_requests_total;
    uint64_t retries_total;
    uint64_t throttled_total;
};

enum proxy_api_id { PROXY_SES_V1, PROXY_SES_V2, PROXY_N_APIS };

struct proxy_api {
    const struct model_service *svc;
    struct throttle_bucket **op_buckets; /* svc->n_ops entries */
};

/* Connection pools for SES v2's multi-region endpoints, made when a call
 * first names one. */
#define PROXY_MULTI_REGION_MAX 32
struct proxy_endpoint {
    char host[300];
    struct upstream *upstream;
};

struct proxy {
    struct event_base *base;
    struct evdns_base *dns;
    struct config *cfg; /* current snapshot (one reference) */
    /* The snapshot at start (one reference): what the listeners and the
     * upstream pool were built from, which SIGHUP does not change. */
    struct config *start_cfg;
    /* The APIs the proxy speaks, each with its model and one bucket per
     * operation (NULL = unthrottled): [PROXY_SES_V1] SES v1 (Query),
     * [PROXY_SES_V2] SES v2 (REST-JSON). */
    struct proxy_api apis[PROXY_N_APIS];
    struct server *server;
    struct upstream *upstream;
    struct proxy_endpoint multi_region[PROXY_MULTI_REGION_MAX];
    size_t n_multi_region;
    struct throttle *throttle;
    struct throttle_bucket *send_bucket; /* recipients per second, or NULL */
    /* The shared throttle with backend "redis", else NULL. */
    struct throttle_redis *throttle_redis;
    struct creds_store *creds;
    struct quota *quota; /* send_rate "auto", else NULL */
    /* STS GetCallerIdentity, while the policy has ARNs to check and the
     * config gives no policy.account_id; else NULL. */
    struct creds_account *account;
    struct sigv4a_key_cache keys;
    struct xmljson *spare_xml; /* a parser kept for the next SES answer, or NULL */
    struct outbox *outbox;     /* asynchronous sends, when configured; else NULL */
    struct proxy_stats stats;
    struct metrics metrics;
    int draining;
};

/* The API op belongs to. */
static inline const struct proxy_api *proxy_api_of(const struct proxy *px,
                                                   const struct model_op *op) {
    return &px->apis[model_op_service(op) == &model_sesv2 ? PROXY_SES_V2 : PROXY_SES_V1];
}

/* op's own bucket, or NULL when it is not throttled per operation. */
static inline struct throttle_bucket *proxy_op_bucket(const struct proxy *px,
                                                      const struct model_op *op) {
    const struct proxy_api *api = proxy_api_of(px, op);
    return api->op_buckets[op - api->svc->ops];
}

#endif
