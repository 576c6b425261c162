/* metrics.h - counters and histograms, written as Prometheus text.
 *
 * All state is plain numbers in struct metrics, embedded in struct proxy;
 * nothing allocates after metrics_init(). metrics_write() renders the
 * exposition format (text/plain; version=0.0.4) with the gauges read from
 * the other modules at scrape time. */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct proxy;
struct evbuffer;

#define METRICS_N_BUCKETS 14

struct metrics_histogram {
    uint64_t counts[METRICS_N_BUCKETS + 1]; /* last = +Inf */
    double sum;
    uint64_t count;
};

/* Requests by action and status class are kept per (op, status) pair. */
#define METRICS_MAX_SERIES 512

struct metrics_series {
    int16_t op; /* index into the model's ops, -1 = no operation */
    int16_t status;
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
/* One answered call (op may be -1). */
void metrics_count_request(struct metrics *m, int op, int status);
/* Renders everything, gauges included. */
void metrics_write(struct proxy *px, struct evbuffer *out);

#endif
