/* throttle.h - token buckets with FIFO queues and a deadline.
 *
 * Each bucket has a rate (tokens per second) and a burst. A call takes
 * `tokens` from each bucket named in its request in turn (an operation's
 * own bucket, then the account's send-rate bucket, counted in recipients).
 * A call without tokens waits in the bucket's FIFO queue; when the queue is
 * full, or when the time it would wait passes max_wait_ms, it is refused at
 * once with the wait it would have needed (for Retry-After).
 *
 * A call wanting more tokens than the burst waits for a full bucket and then
 * takes all it asked for: the bucket goes negative, so the long-run rate is
 * still the configured one.
 *
 * The bucket arithmetic takes `now` in monotonic microseconds and is pure
 * (throttle_bucket_*), so tests drive it with an injected clock; struct
 * throttle adds the queues and one libevent timer per bucket. */
#ifndef SP_THROTTLE_H
#define SP_THROTTLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "proxy/clock.h"
#include "signer/check.h"

struct event_base;
struct event;
struct throttle_ticket;

/* The bucket clock (monotonic microseconds, proxy/clock.h); injectable for
 * tests. */
typedef clock_fn throttle_clock_fn;

struct throttle_bucket {
    char name[64];
    double rate;            /* tokens per second now; <= 0 means unlimited */
    double configured_rate; /* what the config or GetSendQuota says */
    /* The account-wide limit a shared backend enforces for all replicas
     * (rate and burst above are this replica's local share). */
    double shared_rate, shared_burst;
    double burst; /* capacity */
    double tokens;
    uint64_t last_us;
    /* queue */
    TAILQ_HEAD(, throttle_ticket) queue;
    size_t queued;
    double queued_tokens;
    struct event *timer;
    struct throttle *owner;
};

/* Pure arithmetic. */
void throttle_bucket_init(struct throttle_bucket *b, const char *name, double rate, double burst,
                          uint64_t now);
void throttle_bucket_refill(struct throttle_bucket *b, uint64_t now);
/* Microseconds until `tokens` more could be served after everything queued
 * (0 = now). */
uint64_t throttle_bucket_wait_us(struct throttle_bucket *b, double tokens, uint64_t now);
/* Takes tokens if available now (and nothing is queued); 1 taken, 0 not. */
int throttle_bucket_try_take(struct throttle_bucket *b, double tokens, uint64_t now);
void throttle_bucket_set_rate(struct throttle_bucket *b, double rate, double burst, uint64_t now);
/* 0 when a call for `tokens` would leave b in debt (tokens beyond the
 * burst) for longer than max_wait_us at its configured rate, locally or
 * account-wide (shared_rate): such a call would make every later call wait
 * past the deadline, so it is refused at once, whatever the queue holds.
 * 1 when it fits; unlimited buckets always fit. Pure. */
int throttle_bucket_fits(const struct throttle_bucket *b, double tokens, uint64_t max_wait_us);

/* SES answered Throttling although the bucket let the call through: the
 * real limit is lower than configured (another client of the account, a
 * lowered quota). Halve the rate (not below a tenth of the configured one);
 * refills climb back to the configured rate at 5% of it per second, as
 * botocore's adaptive mode backs off and recovers. */
void throttle_bucket_penalize(struct throttle_bucket *b, uint64_t now);

/* Called once for a QUEUED ticket: granted = 1 when every stage granted its
 * tokens, 0 when a shared backend refused it later (retry_after_us then
 * says when trying again could succeed). Never called after cancel. */
typedef void (*throttle_granted_fn)(void *arg, int granted, uint64_t retry_after_us);

#define THROTTLE_MAX_STAGES 2

struct throttle_ticket {
    struct throttle_bucket *stages[THROTTLE_MAX_STAGES];
    double tokens[THROTTLE_MAX_STAGES];
    int n_stages;
    int stage;            /* stage being waited on */
    uint64_t deadline_us; /* absolute monotonic */
    throttle_granted_fn cb;
    void *arg;
    int queued;
    /* Only tokens free now, and only if no call waits in any of its
     * buckets: never queued, never a reservation ahead of a caller (the
     * outbox's deliveries yield to synchronous calls). REFUSED otherwise,
     * with the time until it could be served. */
    int now_only;
    int remote; /* decided by the shared backend (see throttle_remote_ops) */
    void *remote_state;
    TAILQ_ENTRY(throttle_ticket) link;
};

/* A shared backend (Redis) that decides for every replica while it is
 * healthy; the local buckets decide when it is not (each replica at its
 * share of the rate). */
struct throttle_remote_ops {
    /* Takes tk: 0 = it will call throttle_remote_done() later (from the
     * event loop); 1 = refused now, *retry_after_us set (this replica
     * already has max_queue calls waiting on one of tk's buckets); -1 =
     * unavailable now, the local buckets decide. */
    int (*acquire)(void *ctx, struct throttle_ticket *tk, uint64_t *retry_after_us);
    /* Forgets tk (client gone); no throttle_remote_done afterwards. */
    void (*cancel)(void *ctx, struct throttle_ticket *tk);
};

struct throttle {
    struct event_base *base;
    throttle_clock_fn now;
    size_t max_queue;
    uint64_t max_wait_us;
    uint64_t waits_total, rejected_total; /* metrics */
    const struct throttle_remote_ops *remote;
    void *remote_ctx;
};

void throttle_set_remote(struct throttle *t, const struct throttle_remote_ops *ops, void *ctx);
/* The shared backend's verdict on a ticket it took. */
void throttle_remote_done(struct throttle_ticket *tk, int granted, uint64_t retry_after_us);

struct throttle *throttle_new(struct event_base *base, throttle_clock_fn clock, size_t max_queue,
                              uint64_t max_wait_us);
void throttle_free(struct throttle *t);
void throttle_set_limits(struct throttle *t, size_t max_queue, uint64_t max_wait_us);

/* A bucket owned by t (the caller keeps the pointer; freed with
 * throttle_bucket_free before throttle_free). */
struct throttle_bucket *throttle_bucket_new(struct throttle *t, const char *name, double rate,
                                            double burst);
/* Frees a bucket; only when nothing waits in its queue. */
void throttle_bucket_free(struct throttle_bucket *b);

enum throttle_result { THROTTLE_GRANTED = 0, THROTTLE_QUEUED = 1, THROTTLE_REFUSED = 2 };

/* Starts a ticket (caller-owned memory, filled by throttle_ticket_add).
 * GRANTED: all tokens taken now, cb not called. QUEUED: cb runs later from
 * the event loop. REFUSED: nothing taken; *retry_after_us says when trying
 * again could succeed. */
void throttle_ticket_init(struct throttle_ticket *tk, throttle_granted_fn cb, void *arg);
void throttle_ticket_add(struct throttle_ticket *tk, struct throttle_bucket *b, double tokens);
enum throttle_result throttle_acquire(struct throttle *t, struct throttle_ticket *tk,
                                      uint64_t *retry_after_us);
/* Gives a queued ticket's place back (client gone, drain). Safe on a ticket
 * that is not queued. */
void throttle_cancel(struct throttle_ticket *tk);

#endif
