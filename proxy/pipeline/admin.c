/* admin.c - probes and metrics (see admin.h). */
#include "proxy/pipeline/admin.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/jsonout.h"
#include "proxy/creds/creds_store.h"
#include "proxy/http/server.h"
#include "proxy/http/upstream.h"
#include "proxy/metrics.h"
#include "proxy/outbox/outbox.h"
#include "proxy/pipeline/reply.h"
#include "proxy/proxy.h"
#include "proxy/throttle/throttle.h"
#include "proxy/throttle/throttle_redis.h"

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

int admin_serves(const struct server_request *sr) {
    return (strcmp(sr->method, "GET") == 0 || strcmp(sr->method, "HEAD") == 0) &&
           (strcmp(sr->path, "/healthz") == 0 || strcmp(sr->path, "/readyz") == 0 ||
            strcmp(sr->path, "/metrics") == 0);
}

/* Probes and scrapes are not calls: no access-log line, no request count
 * (a kubelet probing every few seconds would drown both). */
static void answer_text(struct server_conn *conn, int status, const char *text) {
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        return;
    }
    evbuffer_add(b, text, strlen(text));
    reply_send(conn, status, REPLY_CT_JSON, b, NULL);
    evbuffer_free(b);
}

static void readyz(struct proxy *px, struct server_conn *conn) {
    const char *why = NULL;
    if (px->draining) {
        answer_text(conn, 503, "{\"status\":\"draining\"}");
    } else if (creds_store_current(px->creds, time(NULL), &why) == NULL ||
               (px->outbox != NULL && !outbox_ready(px->outbox, &why))) {
        json_t *o = json_pack("{s:s, s:s}", "status", "unavailable", "reason", why);
        char *s = o != NULL ? jsonout_dumps(o) : NULL;
        answer_text(conn, 503, s != NULL ? s : "{\"status\":\"unavailable\"}");
        free(s);
        json_decref(o);
    } else {
        answer_text(conn, 200, "{\"status\":\"ready\"}");
    }
}

/* Waiting in the local queue, or for a slot reserved in Redis. */
static size_t depth(const struct proxy *px, const struct throttle_bucket *b) {
    return b->queued +
           (px->throttle_redis != NULL ? throttle_redis_waiting(px->throttle_redis, b) : 0);
}

/* Every bucket in force: the operations' (those with a limit) and the
 * send rate's. */
static void buckets(const struct proxy *px, struct evbuffer *out, int rates) {
    const char *name = rates ? "ses_proxy_throttle_rate" : "ses_proxy_throttle_queue_depth";
    metrics_text_family(out, name,
                        rates ? "Tokens per second a bucket allows now (after any slow-down)."
                              : "Calls waiting in a bucket.",
                        "gauge");
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        for (size_t i = 0; i < px->apis[a].svc->n_ops; i++) {
            const struct throttle_bucket *b = px->apis[a].op_buckets[i];
            if (b != NULL) {
                metrics_text_sample(out, name, "bucket", b->name,
                                    rates ? b->rate : (double)depth(px, b));
            }
        }
    }
    const struct throttle_bucket *b = px->send_bucket;
    if (b != NULL) {
        metrics_text_sample(out, name, "bucket", b->name, rates ? b->rate : (double)depth(px, b));
    }
}

static void write_metrics(struct proxy *px, struct evbuffer *out) {
    metrics_write(&px->metrics, out);
    metrics_text_counter(out, "ses_proxy_upstream_requests_total",
                         "Requests sent to SES, retries included.",
                         px->stats.upstream_requests_total);
    metrics_text_counter(out, "ses_proxy_retries_total", "Upstream retries.",
                         px->stats.retries_total);
    metrics_text_counter(out, "ses_proxy_throttled_total",
                         "Calls refused with 429 by the throttle.", px->stats.throttled_total);
    metrics_text_counter(out, "ses_proxy_throttle_waits_total",
                         "Calls that waited in a throttle queue.", px->throttle->waits_total);
    buckets(px, out, 0);
    buckets(px, out, 1);
    metrics_text_family(out, "ses_proxy_upstream_connections", "Connections to SES.", "gauge");
    metrics_text_sample(out, "ses_proxy_upstream_connections", "state", "idle",
                        (double)upstream_idle_count(px->upstream));
    metrics_text_sample(out, "ses_proxy_upstream_connections", "state", "busy",
                        (double)upstream_busy_count(px->upstream));
    metrics_text_gauge(out, "ses_proxy_client_connections", "Open client connections.",
                       (double)server_conn_count(px->server));
    metrics_text_counter(out, "ses_proxy_clients_refused_total",
                         "Clients refused by policy.allow_clients (closed at once).",
                         server_refused_count(px->server));
    metrics_text_gauge(
        out, "ses_proxy_inflight_body_bytes",
        "Request bodies being received or held by calls (limits.max_inflight_bytes).",
        (double)server_inflight_bytes(px->server));
    const char *why = NULL;
    const struct creds *c = creds_store_current(px->creds, time(NULL), &why);
    metrics_text_gauge(
        out, "ses_proxy_credentials_expiry_timestamp_seconds",
        "When the current credentials expire (unix time; 0 = they do not or none held).",
        c != NULL ? (double)c->expiration : 0);
    metrics_text_gauge(out, "ses_proxy_credentials_usable", "1 while usable credentials are held.",
                       c != NULL ? 1 : 0);
    metrics_text_gauge(out, "ses_proxy_draining", "1 while shutting down.", px->draining);
    if (px->throttle_redis != NULL) {
        const struct throttle_redis_stats *rs = throttle_redis_stats(px->throttle_redis);
        metrics_text_gauge(
            out, "ses_proxy_throttle_backend_up",
            "1 while the shared (Redis) throttle decides, 0 while the local fallback does.",
            rs->up);
        metrics_text_counter(out, "ses_proxy_throttle_fallback_total",
                             "Calls the local buckets decided because Redis was down or slow.",
                             rs->fallback_total);
        metrics_text_counter(out, "ses_proxy_throttle_backend_down_total",
                             "Times the shared throttle backend went down.", rs->down_total);
    }
    if (px->outbox != NULL) {
        outbox_metrics(px->outbox, out);
    }
}

void admin_handle(struct proxy *px, struct server_conn *conn, const struct server_request *sr) {
    if (strcmp(sr->path, "/healthz") == 0) {
        answer_text(conn, 200, "{\"status\":\"ok\"}");
    } else if (strcmp(sr->path, "/readyz") == 0) {
        readyz(px, conn);
    } else {
        struct evbuffer *b = evbuffer_new();
        if (b == NULL) {
            return;
        }
        write_metrics(px, b);
        reply_send(conn, 200, CT_METRICS, b, NULL);
        evbuffer_free(b);
    }
}
