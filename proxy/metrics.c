/* metrics.c - Prometheus text exposition (see metrics.h). */
#include "proxy/metrics.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"

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

void metrics_count_request(struct metrics *m, const struct model_op *op, int status) {
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
    m->series[m->n_series++] = (struct metrics_series){op, status, 1};
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

void metrics_text_counter(struct evbuffer *out, const char *name, const char *help, uint64_t v) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                        (unsigned long long)v);
}

/* The shortest decimal form that reads back as v (0.1, not 0.10000000000000001). */
/* Integers as integers (a count of 384400 is not "3.844e+05"), anything
 * else in the shortest form that reads back the same. */
static void put_double(struct evbuffer *out, double v) {
    char buf[40];
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(long long)v) {
        snprintf(buf, sizeof(buf), "%lld", (long long)v);
        evbuffer_add(out, buf, strlen(buf));
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    evbuffer_add(out, buf, strlen(buf));
}

void metrics_text_gauge(struct evbuffer *out, const char *name, const char *help, double v) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s ", name, help, name, name);
    put_double(out, v);
    evbuffer_add(out, "\n", 1);
}

void metrics_text_family(struct evbuffer *out, const char *name, const char *help,
                         const char *type) {
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_text_sample(struct evbuffer *out, const char *name, const char *label,
                         const char *label_value, double v) {
    evbuffer_add_printf(out, "%s{%s=\"", name, label);
    /* Label values escape backslash, double quote and line feed. */
    for (const char *p = label_value; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"') {
            evbuffer_add_printf(out, "\\%c", *p);
        } else if (*p == '\n') {
            evbuffer_add(out, "\\n", 2);
        } else {
            evbuffer_add(out, p, 1);
        }
    }
    evbuffer_add_printf(out, "\"} ");
    put_double(out, v);
    evbuffer_add(out, "\n", 1);
}

void metrics_write(const struct metrics *m, struct evbuffer *out) {
    evbuffer_add_printf(out, "# HELP ses_proxy_requests_total Calls answered, by action and "
                             "HTTP status.\n# TYPE ses_proxy_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++) {
        const struct metrics_series *s = &m->series[i];
        evbuffer_add_printf(out, "ses_proxy_requests_total{action=\"%s%s\",status=\"%d\"} %llu\n",
                            s->op != NULL ? model_op_prefix(s->op) : "",
                            s->op != NULL ? s->op->name : "", s->status,
                            (unsigned long long)s->count);
    }
    histogram(out, "ses_proxy_request_duration_seconds",
              "Time from a complete request to its answer.", &m->request_seconds);
    histogram(out, "ses_proxy_upstream_duration_seconds",
              "Time for one upstream exchange with SES.", &m->upstream_seconds);
    histogram(out, "ses_proxy_throttle_wait_seconds", "Time calls waited for a throttle token.",
              &m->throttle_wait_seconds);
    evbuffer_add_printf(out,
                        "# HELP ses_proxy_config_reloads_total Configuration reloads (SIGHUP).\n"
                        "# TYPE ses_proxy_config_reloads_total counter\n"
                        "ses_proxy_config_reloads_total{result=\"ok\"} %llu\n"
                        "ses_proxy_config_reloads_total{result=\"failed\"} %llu\n",
                        (unsigned long long)m->config_reloads_ok,
                        (unsigned long long)m->config_reloads_failed);
}
