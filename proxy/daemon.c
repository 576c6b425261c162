/* daemon.c - building, reloading and tearing down the proxy (see daemon.h). */
#include "proxy/daemon.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/xmljson.h"
#include "proxy/config.h"
#include "proxy/creds/creds_account.h"
#include "proxy/creds/creds_provider.h"
#include "proxy/creds/creds_store.h"
#include "proxy/http/server.h"
#include "proxy/http/upstream.h"
#include "proxy/hygiene.h"
#include "proxy/log.h"
#include "proxy/outbox/outbox.h"
#include "proxy/pipeline/dispatch.h"
#include "proxy/pipeline/request.h"
#include "proxy/proxy.h"
#include "proxy/throttle/quota.h"
#include "proxy/throttle/throttle.h"
#include "proxy/throttle/throttle_redis.h"

/* (Re)sets every operation's bucket and the send-rate bucket from cfg.
 * The configured rates are the account's; with backend "redis" the local
 * buckets (which decide while Redis is down) get 1/throttle.replicas of
 * them (throttle_redis_set_limit). px->cfg is the snapshot in force so far. */
/* (Re)sets one API's operation buckets; named as policy and
 * throttle.operations name the operations ("SendEmail", "v2:SendEmail"). */
static int apply_op_buckets(struct proxy *px, struct proxy_api *api, const struct config *cfg,
                            double share, uint64_t now, struct sp_err *err) {
    const struct model_service *svc = api->svc;
    for (size_t i = 0; i < svc->n_ops; i++) {
        const struct model_op *op = &svc->ops[i];
        char name[64];
        snprintf(name, sizeof(name), "%s%s", model_op_prefix(op), op->name);
        double rate, burst;
        config_op_limit(cfg, name, op->rate_per_second, &rate, &burst);
        struct throttle_bucket *b = api->op_buckets[i];
        if (b != NULL) {
            /* A bucket with waiters keeps existing even if now unlimited:
             * rate <= 0 lets the queue through on the next timer. */
            throttle_redis_set_limit(b, rate, burst, share, now);
        } else if (rate > 0) {
            b = throttle_bucket_new(px->throttle, name, rate, burst);
            ENSURE_REF(b, err);
            api->op_buckets[i] = b;
            throttle_redis_set_limit(b, rate, burst, share, now);
        }
    }
    return 0;
}

static int apply_throttle(struct proxy *px, const struct config *cfg, struct sp_err *err) {
    throttle_set_limits(px->throttle, (size_t)cfg->throttle.max_queue,
                        (uint64_t)cfg->throttle.max_wait_ms * 1000u);
    uint64_t now = px->throttle->now();
    double share = throttle_redis_share(cfg);
    double old_share = throttle_redis_share(px->cfg);
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        GUARD(apply_op_buckets(px, &px->apis[a], cfg, share, now, err));
    }
    /* "auto" starts at SES's sandbox rate until GetSendQuota answers
     * (quota.c), then follows MaxSendRate. */
    if (!cfg->throttle.send_rate_auto || px->send_bucket == NULL) {
        double rate = cfg->throttle.send_rate_auto ? 1 : cfg->throttle.send_rate;
        if (px->send_bucket == NULL) {
            px->send_bucket = throttle_bucket_new(px->throttle, "send_rate", rate, rate);
            ENSURE_REF(px->send_bucket, err);
        }
        throttle_redis_set_limit(px->send_bucket, rate, rate, share, now);
    } else {
        /* Keep GetSendQuota's rate (quota.c sets it as a local rate), but
         * split it anew when the replica count changed. */
        struct throttle_bucket *b = px->send_bucket;
        (void)throttle_redis_adopt(b, old_share, now);
        if (share != old_share) {
            throttle_redis_set_limit(b, b->shared_rate, b->shared_burst, share, now);
        }
    }
    return 0;
}

/* The policy checks ARNs against the account when any of its lists
 * constrains calls; learn it with STS unless the config names it. */
static int apply_account(struct proxy *px, const struct config *cfg, struct sp_err *err) {
    const struct config_rules *lists[] = {&cfg->policy.identities, &cfg->policy.configuration_sets,
                                          &cfg->policy.templates, &cfg->policy.contact_lists,
                                          &cfg->policy.tenants};
    int needed = 0;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        needed |= lists[i]->n_rules > 0;
    }
    if (!needed || cfg->policy.account_id != NULL) {
        creds_account_free(px->account);
        px->account = NULL;
        return 0;
    }
    if (px->account == NULL) {
        struct creds_provider_ctx ctx = {px->base, px->dns, "", NULL};
        snprintf(ctx.region, sizeof(ctx.region), "%s", cfg->region);
        px->account = creds_account_start(&ctx, px->creds, err);
        if (px->account == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Starts, keeps or stops the shared backend for cfg (after apply_throttle:
 * tickets it hands back land in buckets already split for cfg). */
static int apply_backend(struct proxy *px, const struct config *cfg, struct sp_err *err) {
    int redis = strcmp(cfg->throttle.backend, "redis") == 0;
    if (redis && px->throttle_redis != NULL && throttle_redis_same(px->throttle_redis, cfg)) {
        throttle_redis_set_share(px->throttle_redis, throttle_redis_share(cfg));
        return 0;
    }
    throttle_redis_free(px->throttle_redis);
    px->throttle_redis = NULL;
    if (redis) {
        px->throttle_redis = throttle_redis_new(px, cfg, err);
        if (px->throttle_redis == NULL) {
            return -1;
        }
    }
    return 0;
}

/* limits.max_connections held to what the descriptor limit leaves room
 * for (hygiene_conn_room, counted with the listeners and the upstream pool
 * built at start), and said so when cfg asks for more. */
static void hold_to_fd_room(struct proxy *px, const struct config *cfg) {
    unsigned long long nofile = hygiene_nofile();
    size_t room = hygiene_conn_room(nofile, px->start_cfg != NULL ? px->start_cfg : cfg,
                                    SERVER_ADMIN_MAX_CONNS);
    server_set_conn_room(px->server, room);
    if ((size_t)cfg->limits.max_connections > room) {
        char want[24], allowed[24], limit[24];
        snprintf(want, sizeof(want), "%d", cfg->limits.max_connections);
        snprintf(allowed, sizeof(allowed), "%zu", room);
        snprintf(limit, sizeof(limit), "%llu", nofile);
        log_event(LOG_WARN,
                  "limits.max_connections is more than RLIMIT_NOFILE leaves room for; "
                  "holding it lower",
                  "max_connections", want, "allowed", allowed, "nofile", limit, NULL);
    }
}

/* The outbox's deliveries go through the pipeline (outbox.h). */
static void *send_detached(struct proxy *px, struct prepared *call, const char *request_id,
                           outbox_done_fn done, void *arg) {
    return request_send_detached(px, call, request_id, done, arg);
}

static void abort_detached(void *call) { request_abort(call); }

static const struct outbox_sender pipeline_sender = {send_detached, abort_detached};

/* GetSendQuota's daily quota goes to the outbox. */
static void on_daily_quota(void *arg, double max24, double sent24) {
    struct proxy *px = arg;
    outbox_note_send_quota(px->outbox, max24, sent24);
}

static int start_quota(struct proxy *px) {
    px->quota = quota_start(px);
    if (px->quota != NULL && px->outbox != NULL) {
        quota_on_daily(px->quota, on_daily_quota, px);
    }
    return px->quota != NULL ? 0 : -1;
}

/* GetSendQuota runs for send_rate "auto" (MaxSendRate) and for the
 * outbox (Max24HourSend, SentLast24Hours). */
static int wants_quota(const struct proxy *px, const struct config *cfg) {
    return cfg->throttle.send_rate_auto || px->outbox != NULL;
}

struct proxy *daemon_new(struct event_base *base, struct config *cfg, struct sp_err *err) {
    struct proxy *px = calloc(1, sizeof(*px));
    if (px == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    px->base = base;
    px->cfg = cfg;
    px->apis[PROXY_SES_V1].svc = &model_ses;
    px->apis[PROXY_SES_V2].svc = &model_sesv2;
    sigv4a_key_cache_init(&px->keys);
    log_set_level((enum log_level)cfg->log.level);
    px->dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (px->dns == NULL) {
        /* No resolv.conf (a scratch container): numeric endpoints still
         * work; names fail per request with BadGateway. */
        log_event(LOG_WARN, "no DNS configuration; only numeric upstream hosts will resolve", NULL);
        px->dns = evdns_base_new(base, 0);
    }
    int oom = 0;
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        px->apis[a].op_buckets = calloc(px->apis[a].svc->n_ops, sizeof(struct throttle_bucket *));
        oom |= px->apis[a].op_buckets == NULL;
    }
    px->throttle = throttle_new(base, NULL, (size_t)cfg->throttle.max_queue,
                                (uint64_t)cfg->throttle.max_wait_ms * 1000u);
    px->creds = creds_store_new_opts(base, &(struct creds_store_opts){.dns = px->dns});
    if (px->dns == NULL || oom || px->throttle == NULL || px->creds == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        goto fail;
    }
    if (apply_throttle(px, cfg, err) < 0 || apply_backend(px, cfg, err) < 0) {
        goto fail;
    }
    struct sp_err cerr;
    sp_err_clear(&cerr);
    if (creds_store_load(px->creds, cfg, &cerr) < 0) {
        /* Not fatal: readyz says why, calls get 503 until a reload. */
        log_event(LOG_ERROR, "no credentials", "reason", cerr.msg, NULL);
    }
    px->upstream = upstream_new(base, px->dns, cfg, err);
    if (px->upstream == NULL) {
        goto fail;
    }
    if (cfg->outbox.enabled && (px->outbox = outbox_new(px, cfg, &pipeline_sender, err)) == NULL) {
        goto fail;
    }
    px->server = server_new(base, cfg, &dispatch_handler, px, err);
    if (px->server == NULL || apply_account(px, cfg, err) < 0) {
        goto fail;
    }
    hold_to_fd_room(px, cfg);
    if (wants_quota(px, cfg) && start_quota(px) < 0) {
        sp_fail(err, "InternalError", "out of memory");
        goto fail;
    }
    px->start_cfg = config_ref(cfg);
    log_event(LOG_INFO, "ses-proxy started", "version", SP_VERSION, "region", cfg->region,
              "endpoint", cfg->endpoint, NULL);
    return px;
fail:
    px->cfg = NULL; /* the caller still owns cfg on failure */
    daemon_free(px);
    return NULL;
}

void daemon_free(struct proxy *px) {
    if (px == NULL) {
        return;
    }
    server_free(px->server); /* aborts requests: frees tickets and upstream reqs */
    outbox_free(px->outbox); /* after the server: no client waits on it any more */
    quota_free(px->quota);
    creds_account_free(px->account);
    upstream_free(px->upstream);
    for (size_t i = 0; i < px->n_multi_region; i++) {
        upstream_free(px->multi_region[i].upstream);
    }
    throttle_redis_free(px->throttle_redis); /* before the buckets it reads */
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        if (px->apis[a].op_buckets != NULL) {
            for (size_t i = 0; i < px->apis[a].svc->n_ops; i++) {
                throttle_bucket_free(px->apis[a].op_buckets[i]);
            }
            free(px->apis[a].op_buckets);
        }
    }
    throttle_bucket_free(px->send_bucket);
    throttle_free(px->throttle);
    creds_store_free(px->creds);
    sigv4a_key_cache_clear(&px->keys);
    xmljson_free(px->spare_xml);
    if (px->dns != NULL) {
        evdns_base_free(px->dns, 0);
    }
    config_unref(px->cfg);
    config_unref(px->start_cfg);
    free(px);
}

/* What SIGHUP leaves as it was, from the config table's reloadable column:
 * "listen, endpoint changed: take effect after a restart", or "". Compared
 * with the snapshot at start, which those keys still follow, so a file put
 * back as it was needs no restart. */
static void restart_note(const struct config *old, const struct config *cur, char *buf,
                         size_t cap) {
    char keys[256];
    size_t n = config_restart_keys(old, cur, keys, sizeof(keys));
    if (old->outbox.enabled != cur->outbox.enabled) {
        /* Adding or removing the section: a key of no row of its own. */
        size_t len = strlen(keys);
        snprintf(keys + len, sizeof(keys) - len, "%soutbox", n > 0 ? ", " : "");
        n++;
    }
    if (cap > 0) {
        buf[0] = '\0';
    }
    if (n > 0 && cap > 0) {
        snprintf(buf, cap, "%s changed: %s effect after a restart", keys,
                 n == 1 ? "takes" : "take");
    }
}

int daemon_reload(struct proxy *px, struct config *cfg, char *restart, size_t cap,
                  struct sp_err *err) {
    restart_note(px->start_cfg, cfg, restart, cap);
    if (apply_throttle(px, cfg, err) < 0 || apply_backend(px, cfg, err) < 0 ||
        apply_account(px, cfg, err) < 0) {
        config_unref(cfg);
        return -1;
    }
    outbox_set_config(px->outbox, cfg);
    if (wants_quota(px, cfg) && px->quota == NULL) {
        (void)start_quota(px); /* out of memory: the next reload tries again */
    } else if (!wants_quota(px, cfg) && px->quota != NULL) {
        quota_free(px->quota);
        px->quota = NULL;
    }
    struct sp_err cerr;
    sp_err_clear(&cerr);
    if (creds_store_load(px->creds, cfg, &cerr) < 0) {
        log_event(LOG_WARN, "reload: credentials not reloaded; keeping the current ones", "reason",
                  cerr.msg, NULL);
    }
    log_set_level((enum log_level)cfg->log.level);
    server_set_config(px->server, cfg);
    hold_to_fd_room(px, cfg);
    config_unref(px->cfg);
    px->cfg = cfg;
    return 0;
}
