/* throttle.c - token buckets, FIFO queues, deadlines (see throttle.h). */
#include "proxy/throttle/throttle.h"

#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void throttle_bucket_init(struct throttle_bucket *b, const char *name, double rate, double burst,
                          uint64_t now) {
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->rate = rate;
    b->configured_rate = rate;
    b->burst = burst < 1 ? 1 : burst;
    b->shared_rate = rate;
    b->shared_burst = b->burst;
    b->tokens = b->burst;
    b->last_us = now;
    TAILQ_INIT(&b->queue);
}

static int fits(double rate, double burst, double tokens, uint64_t max_wait_us) {
    return rate <= 0 || tokens <= burst || (tokens - burst) / rate * 1e6 <= (double)max_wait_us;
}

int throttle_bucket_fits(const struct throttle_bucket *b, double tokens, uint64_t max_wait_us) {
    return fits(b->configured_rate, b->burst, tokens, max_wait_us) &&
           fits(b->shared_rate, b->shared_burst, tokens, max_wait_us);
}

void throttle_bucket_refill(struct throttle_bucket *b, uint64_t now) {
    if (now <= b->last_us) {
        return;
    }
    double dt = (double)(now - b->last_us) / 1e6;
    if (b->rate > 0) {
        b->tokens += b->rate * dt;
        if (b->tokens > b->burst) {
            b->tokens = b->burst;
        }
        if (b->rate < b->configured_rate) { /* recovering after a penalty */
            b->rate += b->configured_rate * 0.05 * dt;
            if (b->rate > b->configured_rate) {
                b->rate = b->configured_rate;
            }
        }
    }
    b->last_us = now;
}

/* What a call must see in the bucket before it may take its tokens. */
static double needed(const struct throttle_bucket *b, double tokens) {
    return tokens < b->burst ? tokens : b->burst;
}

uint64_t throttle_bucket_wait_us(struct throttle_bucket *b, double tokens, uint64_t now) {
    if (b->rate <= 0) {
        return 0;
    }
    throttle_bucket_refill(b, now);
    double deficit = b->queued_tokens + needed(b, tokens) - b->tokens;
    if (deficit <= 0) {
        return 0;
    }
    return (uint64_t)ceil(deficit / b->rate * 1e6);
}

int throttle_bucket_try_take(struct throttle_bucket *b, double tokens, uint64_t now) {
    if (b->rate <= 0) {
        return 1;
    }
    throttle_bucket_refill(b, now);
    /* 1e-9: float slack so that a timer aimed exactly at the refill moment
     * does not miss by a rounding error. */
    if (b->queued == 0 && b->tokens + 1e-9 >= needed(b, tokens)) {
        b->tokens -= tokens;
        return 1;
    }
    return 0;
}

static void arm(struct throttle_bucket *b, uint64_t now);

void throttle_bucket_set_rate(struct throttle_bucket *b, double rate, double burst, uint64_t now) {
    throttle_bucket_refill(b, now);
    b->rate = rate;
    b->configured_rate = rate;
    b->burst = burst < 1 ? 1 : burst;
    if (b->tokens > b->burst) {
        b->tokens = b->burst;
    }
    /* Waiters follow the new rate now, not when the old schedule's timer
     * would have fired (a raised send rate, or unlimited after a reload). */
    if (b->timer != NULL && !TAILQ_EMPTY(&b->queue)) {
        evtimer_del(b->timer);
        arm(b, now);
    }
}

void throttle_bucket_penalize(struct throttle_bucket *b, uint64_t now) {
    if (b == NULL || b->configured_rate <= 0) {
        return;
    }
    throttle_bucket_refill(b, now);
    double floor_rate = b->configured_rate * 0.1;
    b->rate = b->rate * 0.5 < floor_rate ? floor_rate : b->rate * 0.5;
    /* Nothing saved up either: the next call waits a full interval. */
    if (b->tokens > 0) {
        b->tokens = 0;
    }
}

struct throttle *throttle_new(struct event_base *base, throttle_clock_fn clock, size_t max_queue,
                              uint64_t max_wait_us) {
    struct throttle *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->base = base;
    t->now = clock != NULL ? clock : clock_monotonic_us;
    t->max_queue = max_queue;
    t->max_wait_us = max_wait_us;
    return t;
}

void throttle_free(struct throttle *t) { free(t); }

void throttle_set_limits(struct throttle *t, size_t max_queue, uint64_t max_wait_us) {
    t->max_queue = max_queue;
    t->max_wait_us = max_wait_us;
}

static void on_bucket_timer(evutil_socket_t fd, short what, void *arg);

struct throttle_bucket *throttle_bucket_new(struct throttle *t, const char *name, double rate,
                                            double burst) {
    struct throttle_bucket *b = malloc(sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    throttle_bucket_init(b, name, rate, burst, t->now());
    b->owner = t;
    if (t->base != NULL) {
        b->timer = evtimer_new(t->base, on_bucket_timer, b);
        if (b->timer == NULL) {
            free(b);
            return NULL;
        }
    }
    return b;
}

void throttle_bucket_free(struct throttle_bucket *b) {
    if (b == NULL) {
        return;
    }
    if (b->timer != NULL) {
        event_free(b->timer);
    }
    free(b);
}

void throttle_ticket_init(struct throttle_ticket *tk, throttle_granted_fn cb, void *arg) {
    memset(tk, 0, sizeof(*tk));
    tk->cb = cb;
    tk->arg = arg;
}

void throttle_ticket_add(struct throttle_ticket *tk, struct throttle_bucket *b, double tokens) {
    if (b != NULL && b->rate > 0 && tk->n_stages < THROTTLE_MAX_STAGES) {
        tk->stages[tk->n_stages] = b;
        tk->tokens[tk->n_stages] = tokens;
        tk->n_stages++;
    }
}

/* A queued call is refused once it has waited this much past its deadline:
 * the admission estimate was exact when made, so only a rate dropped since
 * (SES Throttling, a reload, a lower MaxSendRate) gets a call here, and the
 * margin keeps timer jitter from refusing a call that is about to be served. */
#define DEADLINE_GRACE_US 250000u

/* Aims b's timer at the moment its queue head can be served, or its
 * deadline, whichever comes first. */
static void arm(struct throttle_bucket *b, uint64_t now) {
    struct throttle_ticket *head = TAILQ_FIRST(&b->queue);
    if (head == NULL || b->timer == NULL) {
        return;
    }
    throttle_bucket_refill(b, now);
    double deficit = needed(b, head->tokens[head->stage]) - b->tokens;
    /* rate <= 0 (made unlimited while tickets wait): serve them now. */
    uint64_t us = deficit > 0 && b->rate > 0 ? (uint64_t)ceil(deficit / b->rate * 1e6) : 0;
    uint64_t expire = head->deadline_us + DEADLINE_GRACE_US;
    if (expire > now && expire - now < us) {
        us = expire - now;
    } else if (expire <= now) {
        us = 0;
    }
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    evtimer_add(b->timer, &tv);
}

static void enqueue(struct throttle_bucket *b, struct throttle_ticket *tk, uint64_t now) {
    TAILQ_INSERT_TAIL(&b->queue, tk, link);
    b->queued++;
    b->queued_tokens += tk->tokens[tk->stage];
    tk->queued = 1;
    if (b->queued == 1) {
        arm(b, now);
    }
}

static void dequeue(struct throttle_bucket *b, struct throttle_ticket *tk) {
    TAILQ_REMOVE(&b->queue, tk, link);
    b->queued--;
    b->queued_tokens -= tk->tokens[tk->stage];
    if (b->queued == 0) {
        b->queued_tokens = 0; /* no float drift while idle */
    }
    tk->queued = 0;
}

/* Runs the stages from tk->stage on. Returns GRANTED or QUEUED. */
static enum throttle_result advance(struct throttle_ticket *tk, uint64_t now) {
    while (tk->stage < tk->n_stages) {
        struct throttle_bucket *b = tk->stages[tk->stage];
        if (!throttle_bucket_try_take(b, tk->tokens[tk->stage], now)) {
            enqueue(b, tk, now);
            return THROTTLE_QUEUED;
        }
        tk->stage++;
    }
    return THROTTLE_GRANTED;
}

void throttle_set_remote(struct throttle *t, const struct throttle_remote_ops *ops, void *ctx) {
    t->remote = ops;
    t->remote_ctx = ctx;
}

void throttle_remote_done(struct throttle_ticket *tk, int granted, uint64_t retry_after_us) {
    tk->remote = 0;
    tk->remote_state = NULL;
    tk->cb(tk->arg, granted, retry_after_us);
}

/* A now_only ticket on the local buckets: all its tokens at once, or
 * nothing. */
static enum throttle_result acquire_now(struct throttle *t, struct throttle_ticket *tk,
                                        uint64_t *retry_after_us) {
    uint64_t now = t->now();
    uint64_t wait = 0;
    for (int i = 0; i < tk->n_stages; i++) {
        struct throttle_bucket *b = tk->stages[i];
        uint64_t w = throttle_bucket_wait_us(b, tk->tokens[i], now);
        wait = w > wait ? w : wait;
        if (b->queued > 0 && wait == 0) {
            wait = 1000; /* someone waits: look again soon */
        }
    }
    if (wait > 0) {
        *retry_after_us = wait;
        return THROTTLE_REFUSED;
    }
    for (int i = 0; i < tk->n_stages; i++) {
        (void)throttle_bucket_try_take(tk->stages[i], tk->tokens[i], now);
    }
    tk->stage = tk->n_stages;
    return THROTTLE_GRANTED;
}

enum throttle_result throttle_acquire(struct throttle *t, struct throttle_ticket *tk,
                                      uint64_t *retry_after_us) {
    if (tk->n_stages == 0) {
        return THROTTLE_GRANTED;
    }
    if (t->remote != NULL) {
        int rc = t->remote->acquire(t->remote_ctx, tk, retry_after_us);
        if (rc == 0) {
            tk->remote = 1;
            t->waits_total++;
            return THROTTLE_QUEUED;
        }
        if (rc == 1) {
            t->rejected_total++;
            return THROTTLE_REFUSED;
        }
    }
    if (tk->now_only) {
        return acquire_now(t, tk, retry_after_us);
    }
    uint64_t now = t->now();
    /* The whole wait is the sum over stages (each starts after the last). */
    uint64_t wait = 0;
    for (int i = 0; i < tk->n_stages; i++) {
        struct throttle_bucket *b = tk->stages[i];
        uint64_t w = throttle_bucket_wait_us(b, tk->tokens[i], now);
        if (w > 0 && b->queued >= t->max_queue) {
            *retry_after_us = w;
            t->rejected_total++;
            return THROTTLE_REFUSED;
        }
        wait += w;
    }
    if (wait > t->max_wait_us) {
        *retry_after_us = wait;
        t->rejected_total++;
        return THROTTLE_REFUSED;
    }
    tk->deadline_us = now + t->max_wait_us;
    enum throttle_result r = advance(tk, now);
    if (r == THROTTLE_QUEUED) {
        t->waits_total++;
    }
    return r;
}

static void on_bucket_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct throttle_bucket *b = arg;
    uint64_t now = b->owner->now();
    throttle_bucket_refill(b, now);
    struct throttle_ticket *tk;
    while ((tk = TAILQ_FIRST(&b->queue)) != NULL) {
        double want = tk->tokens[tk->stage];
        if (b->rate > 0 && b->tokens + 1e-9 < needed(b, want)) {
            if (now < tk->deadline_us + DEADLINE_GRACE_US) {
                break;
            }
            /* Past its deadline: refuse it now rather than let it hang. */
            dequeue(b, tk);
            b->owner->rejected_total++;
            tk->cb(tk->arg, 0, throttle_bucket_wait_us(b, want, now));
            continue;
        }
        dequeue(b, tk);
        b->tokens -= want;
        tk->stage++;
        if (advance(tk, now) == THROTTLE_GRANTED) {
            /* The callback may cancel or start other tickets, but never
             * frees this bucket. */
            tk->cb(tk->arg, 1, 0);
        }
    }
    arm(b, now);
}

void throttle_cancel(struct throttle_ticket *tk) {
    if (tk->remote) {
        struct throttle *t = tk->stages[0]->owner;
        tk->remote = 0;
        t->remote->cancel(t->remote_ctx, tk);
        return;
    }
    if (!tk->queued) {
        return;
    }
    struct throttle_bucket *b = tk->stages[tk->stage];
    int was_head = TAILQ_FIRST(&b->queue) == tk;
    dequeue(b, tk);
    if (was_head && b->timer != NULL) {
        evtimer_del(b->timer);
        arm(b, b->owner->now());
    }
}
