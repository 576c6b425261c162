/* metrics.h - counters and histograms, written as Prometheus text.
 *
 * All state is plain numbers in struct metrics, embedded in struct proxy;
 * nothing allocates after metrics_init(). metrics_write() renders what this
 * module counts in the exposition format (text/plain; version=0.0.4); the
 * metrics_text_* helpers write the samples other modules own (gauges read at
 * scrape time by the admin endpoint), so this module depends on none of
 * them. */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct model_op;

#define METRICS_N_BUCKETS 14

struct metrics_histogram {
    uint64_t counts[METRICS_N_BUCKETS + 1]; /* last = +Inf */
    double sum;
    uint64_t count;
};

/* Requests by action and status class are kept per (op, status) pair. */
#define METRICS_MAX_SERIES 512

struct metrics_series {
    const struct model_op *op; /* NULL = no operation */
    int status;
    uint64_t count;
};

struct metrics {
    struct metrics_series series[METRICS_MAX_SERIES];
    size_t n_series;
    uint64_t series_dropped;
    struct metrics_histogram request_seconds;
    struct metrics_histogram upstream_seconds;
    struct metrics_histogram throttle_wait_seconds;
    uint64_t config_reloads_ok, config_reloads_failed;
};

void metrics_init(struct metrics *m);
void metrics_observe(struct metrics_histogram *h, double seconds);
/* One answered call (op may be NULL). */
void metrics_count_request(struct metrics *m, const struct model_op *op, int status);

/* Renders what struct metrics holds: requests_total, the histograms and
 * config_reloads_total. */
void metrics_write(const struct metrics *m, struct evbuffer *out);

/* One whole metric family of a single sample. */
void metrics_text_counter(struct evbuffer *out, const char *name, const char *help, uint64_t v);
void metrics_text_gauge(struct evbuffer *out, const char *name, const char *help, double v);
/* A family's HELP and TYPE lines ("counter", "gauge"), then samples with
 * one label each (label_value is escaped as the format requires). */
void metrics_text_family(struct evbuffer *out, const char *name, const char *help,
                         const char *type);
void metrics_text_sample(struct evbuffer *out, const char *name, const char *label,
                         const char *label_value, double v);

#endif
