/* metrics.c - Prometheus text exposition (see metrics.h). */
#include "proxy/metrics.h"

#include <event2/buffer.h>
#include <string.h>
#include <time.h>

#include "proxy/creds/creds_store.h"
#include "proxy/proxy.h"
#include "proxy/server.h"
#include "proxy/throttle.h"
#include "proxy/throttle_redis.h"
#include "proxy/upstream.h"

static const double bounds[METRICS_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                 0.25,  0.5,    1,     2.5,  5,     10,   30};

void metrics_init(struct metrics *m) { memset(m, 0, sizeof(*m)); }

void metrics_observe(struct metrics_histogram *h, double seconds) {
    size_t i = 0;
    while (i < METRICS_N_BUCKETS && seconds > bounds[i]) {
        i++;
    }
    h->counts[i]++;
    h->sum += seconds;
    h->count++;
}

void metrics_count_request(struct metrics *m, int op, int status) {
    for (size_t i = 0; i < m->n_series; i++) {
        if (m->series[i].op == op && m->series[i].status == status) {
            m->series[i].count++;
            return;
        }
    }
    if (m->n_series == METRICS_MAX_SERIES) {
        m->series_dropped++;
        return;
    }
    m->series[m->n_series++] = (struct metrics_series){(int16_t)op, (int16_t)status, 1};
}

static void histogram(struct evbuffer *out, const char *name, const char *help,
                      const struct metrics_histogram *h) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < METRICS_N_BUCKETS; i++) {
        cum += h->counts[i];
        evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i],
                            (unsigned long long)cum);
    }
    cum += h->counts[METRICS_N_BUCKETS];
    evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                        (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}

static void counter(struct evbuffer *out, const char *name, const char *help, uint64_t v) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                        (unsigned long long)v);
}

static void gauge(struct evbuffer *out, const char *name, const char *help, double v) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name,
                        v);
}

/* Waiting in the local queue, or for a slot reserved in Redis. */
static size_t depth(struct proxy *px, const struct throttle_bucket *b) {
    return b->queued +
           (px->throttle_redis != NULL ? throttle_redis_waiting(px->throttle_redis, b) : 0);
}

static void buckets(struct proxy *px, struct evbuffer *out) {
    evbuffer_add_printf(out, "# HELP ses_proxy_throttle_queue_depth Calls waiting in a bucket.\n"
                             "# TYPE ses_proxy_throttle_queue_depth gauge\n");
    for (size_t i = 0; i < px->svc->n_ops; i++) {
        const struct throttle_bucket *b = px->op_buckets[i];
        if (b != NULL) {
            evbuffer_add_printf(out, "ses_proxy_throttle_queue_depth{bucket=\"%s\"} %zu\n", b->name,
                                depth(px, b));
        }
    }
    if (px->send_bucket != NULL) {
        evbuffer_add_printf(out, "ses_proxy_throttle_queue_depth{bucket=\"send_rate\"} %zu\n",
                            depth(px, px->send_bucket));
    }
    evbuffer_add_printf(out, "# HELP ses_proxy_throttle_rate Tokens per second a bucket allows now "
                             "(after any slow-down).\n# TYPE ses_proxy_throttle_rate gauge\n");
    for (size_t i = 0; i < px->svc->n_ops; i++) {
        const struct throttle_bucket *b = px->op_buckets[i];
        if (b != NULL) {
            evbuffer_add_printf(out, "ses_proxy_throttle_rate{bucket=\"%s\"} %g\n", b->name,
                                b->rate);
        }
    }
    if (px->send_bucket != NULL) {
        evbuffer_add_printf(out, "ses_proxy_throttle_rate{bucket=\"send_rate\"} %g\n",
                            px->send_bucket->rate);
    }
}

void metrics_write(struct proxy *px, struct evbuffer *out) {
    const struct metrics *m = &px->metrics;
    evbuffer_add_printf(out, "# HELP ses_proxy_requests_total Calls answered, by action and "
                             "HTTP status.\n# TYPE ses_proxy_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++) {
        const struct metrics_series *s = &m->series[i];
        evbuffer_add_printf(out, "ses_proxy_requests_total{action=\"%s\",status=\"%d\"} %llu\n",
                            s->op >= 0 ? px->svc->ops[s->op].name : "", s->status,
                            (unsigned long long)s->count);
    }
    histogram(out, "ses_proxy_request_duration_seconds",
              "Time from a complete request to its answer.", &m->request_seconds);
    histogram(out, "ses_proxy_upstream_duration_seconds",
              "Time for one upstream exchange with SES.", &m->upstream_seconds);
    histogram(out, "ses_proxy_throttle_wait_seconds", "Time calls waited for a throttle token.",
              &m->throttle_wait_seconds);
    counter(out, "ses_proxy_upstream_requests_total", "Requests sent to SES, retries included.",
            px->stats.upstream_requests_total);
    counter(out, "ses_proxy_retries_total", "Upstream retries.", px->stats.retries_total);
    counter(out, "ses_proxy_throttled_total", "Calls refused with 429 by the throttle.",
            px->stats.throttled_total);
    counter(out, "ses_proxy_throttle_waits_total", "Calls that waited in a throttle queue.",
            px->throttle->waits_total);
    buckets(px, out);
    evbuffer_add_printf(out,
                        "# HELP ses_proxy_upstream_connections Connections to SES.\n"
                        "# TYPE ses_proxy_upstream_connections gauge\n"
                        "ses_proxy_upstream_connections{state=\"idle\"} %zu\n"
                        "ses_proxy_upstream_connections{state=\"busy\"} %zu\n",
                        upstream_idle_count(px->upstream), upstream_busy_count(px->upstream));
    gauge(out, "ses_proxy_client_connections", "Open client connections.",
          (double)server_conn_count(px->server));
    const char *why = NULL;
    const struct creds *c = creds_store_current(px->creds, time(NULL), &why);
    gauge(out, "ses_proxy_credentials_expiry_timestamp_seconds",
          "When the current credentials expire (unix time; 0 = they do not or none held).",
          c != NULL ? (double)c->expiration : 0);
    gauge(out, "ses_proxy_credentials_usable", "1 while usable credentials are held.",
          c != NULL ? 1 : 0);
    evbuffer_add_printf(out,
                        "# HELP ses_proxy_config_reloads_total Configuration reloads (SIGHUP).\n"
                        "# TYPE ses_proxy_config_reloads_total counter\n"
                        "ses_proxy_config_reloads_total{result=\"ok\"} %llu\n"
                        "ses_proxy_config_reloads_total{result=\"failed\"} %llu\n",
                        (unsigned long long)m->config_reloads_ok,
                        (unsigned long long)m->config_reloads_failed);
    gauge(out, "ses_proxy_draining", "1 while shutting down.", px->draining);
    if (px->throttle_redis != NULL) {
        const struct throttle_redis_stats *rs = throttle_redis_stats(px->throttle_redis);
        gauge(out, "ses_proxy_throttle_backend_up",
              "1 while the shared (Redis) throttle decides, 0 while the local fallback does.",
              rs->up);
        counter(out, "ses_proxy_throttle_fallback_total",
                "Calls the local buckets decided because Redis was down or slow.",
                rs->fallback_total);
        counter(out, "ses_proxy_throttle_backend_down_total",
                "Times the shared throttle backend went down.", rs->down_total);
    }
}
