/* throttle_test - token buckets and their FIFO queues.
 *
 * The arithmetic runs on an injected clock only. The queues run on a real
 * event_base whose timers fire in real time, but the buckets read the
 * injected clock: a test moves the clock, then turns the loop once
 * (EVLOOP_ONCE waits for the bucket's timer, a few milliseconds at the rates
 * used here), so what is granted depends only on the clock the test set.
 * One test at the end uses the real clock and checks only lower bounds. */
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/clock.h"
#include "proxy/throttle/throttle.h"

#include "tests/unit/unit_check.h"

#define MS 1000u
#define SEC 1000000u

static uint64_t fake_now = 1000 * SEC;

static uint64_t fake_clock(void) { return fake_now; }

static int near(double a, double b) { return fabs(a - b) < 1e-6; }

/* ---- pure arithmetic ---- */

static void test_bucket_init_refill(void) {
    struct throttle_bucket b;
    uint64_t t0 = 5 * SEC;
    throttle_bucket_init(&b, "GetSendQuota", 10, 5, t0);
    CHECK(strcmp(b.name, "GetSendQuota") == 0);
    CHECK(near(b.tokens, 5) && near(b.burst, 5) && b.last_us == t0);
    CHECK(b.queued == 0 && TAILQ_EMPTY(&b.queue) && b.timer == NULL);

    /* Starts full; 5 takes empty it. */
    int took = 0;
    for (int i = 0; i < 7; i++) {
        took += throttle_bucket_try_take(&b, 1, t0);
    }
    CHECK(took == 5 && near(b.tokens, 0));
    /* 10/s: 100 ms per token. */
    throttle_bucket_refill(&b, t0 + 250 * MS);
    CHECK(near(b.tokens, 2.5));
    /* A clock that steps back changes nothing. */
    throttle_bucket_refill(&b, t0 + 100 * MS);
    CHECK(near(b.tokens, 2.5) && b.last_us == t0 + 250 * MS);
    /* Refill is capped at the burst, however long the idle time. */
    throttle_bucket_refill(&b, t0 + 3600ull * SEC);
    CHECK(near(b.tokens, 5));

    /* Burst below 1 is raised to 1 (a call must always fit eventually). */
    throttle_bucket_init(&b, "x", 0.5, 0, 0);
    CHECK(near(b.burst, 1) && near(b.tokens, 1));
    /* A long name is cut, not overflowed. */
    char name[200];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    throttle_bucket_init(&b, name, 1, 1, 0);
    CHECK(strlen(b.name) == sizeof(b.name) - 1);
}

static void test_bucket_wait_take(void) {
    struct throttle_bucket b;
    uint64_t t0 = 0;
    throttle_bucket_init(&b, "op", 10, 2, t0);
    CHECK(throttle_bucket_wait_us(&b, 1, t0) == 0);
    CHECK(throttle_bucket_wait_us(&b, 2, t0) == 0);
    CHECK(throttle_bucket_try_take(&b, 2, t0) == 1);
    CHECK(throttle_bucket_try_take(&b, 1, t0) == 0);
    CHECK(near(b.tokens, 0)); /* a refused take takes nothing */
    CHECK(throttle_bucket_wait_us(&b, 1, t0) == 100 * MS);
    CHECK(throttle_bucket_wait_us(&b, 2, t0) == 200 * MS);
    CHECK(throttle_bucket_wait_us(&b, 1, t0 + 40 * MS) == 60 * MS);
    CHECK(throttle_bucket_try_take(&b, 1, t0 + 99 * MS) == 0);
    CHECK(throttle_bucket_try_take(&b, 1, t0 + 100 * MS) == 1);

    /* Queued demand counts: with 3 tokens' worth queued ahead, one more
     * waits for 4 tokens, and try_take refuses even when the bucket could
     * pay, so nobody overtakes the queue. */
    throttle_bucket_init(&b, "op", 10, 5, t0);
    b.queued = 2;
    b.queued_tokens = 3;
    CHECK(throttle_bucket_wait_us(&b, 1, t0) == 0); /* 5 tokens cover 3 + 1 */
    CHECK(throttle_bucket_try_take(&b, 1, t0) == 0);
    CHECK(near(b.tokens, 5));
    b.queued_tokens = 7;
    CHECK(throttle_bucket_wait_us(&b, 1, t0) == 300 * MS);
    b.queued = 0;
    b.queued_tokens = 0;
    CHECK(throttle_bucket_try_take(&b, 1, t0) == 1);

    /* rate <= 0 is unlimited. */
    throttle_bucket_init(&b, "free", 0, 1, t0);
    int took = 0;
    for (int i = 0; i < 100; i++) {
        took += throttle_bucket_try_take(&b, 1000, t0);
    }
    CHECK(took == 100 && throttle_bucket_wait_us(&b, 1e9, t0) == 0);
    throttle_bucket_init(&b, "neg", -1, 1, t0);
    CHECK(throttle_bucket_try_take(&b, 5, t0) == 1 && throttle_bucket_wait_us(&b, 5, t0) == 0);
}

static void test_bucket_over_burst(void) {
    struct throttle_bucket b;
    uint64_t t = 0;
    throttle_bucket_init(&b, "send_rate", 5, 5, t);
    /* 12 recipients, burst 5: not possible on a partial bucket ... */
    CHECK(throttle_bucket_try_take(&b, 1, t) == 1);
    CHECK(throttle_bucket_try_take(&b, 12, t) == 0);
    /* ... it waits for a full bucket (1 token at 5/s = 200 ms) ... */
    CHECK(throttle_bucket_wait_us(&b, 12, t) == 200 * MS);
    t += 200 * MS;
    CHECK(throttle_bucket_try_take(&b, 12, t) == 1);
    /* ... and takes them all: the bucket goes 7 below zero. */
    CHECK(near(b.tokens, -7));
    /* The next single token is 8 tokens away: 1.6 s. */
    CHECK(throttle_bucket_wait_us(&b, 1, t) == 1600 * MS);
    CHECK(throttle_bucket_try_take(&b, 1, t + 1599 * MS) == 0);
    CHECK(throttle_bucket_try_take(&b, 1, t + 1600 * MS) == 1);

    /* The long-run rate holds: 50 messages of 12 recipients each, every
     * one sent as soon as it may, take 600 recipients at 5/s = 120 s
     * (less the first full bucket). */
    throttle_bucket_init(&b, "send_rate", 5, 5, 0);
    t = 0;
    double sent = 0;
    for (int i = 0; i < 50; i++) {
        t += throttle_bucket_wait_us(&b, 12, t);
        if (!throttle_bucket_try_take(&b, 12, t)) {
            break;
        }
        sent += 12;
    }
    CHECK(near(sent, 600));
    double elapsed = (double)t / 1e6;
    CHECK(elapsed >= (sent - 12 - 5) / 5 - 0.01 && elapsed <= sent / 5);
}

static void test_bucket_set_rate(void) {
    struct throttle_bucket b;
    throttle_bucket_init(&b, "send_rate", 1, 1, 0);
    CHECK(throttle_bucket_try_take(&b, 1, 0) == 1);
    /* Half a second at the old rate is kept, then the new rate applies. */
    throttle_bucket_set_rate(&b, 14, 14, 500 * MS);
    CHECK(near(b.tokens, 0.5) && near(b.rate, 14) && near(b.burst, 14));
    throttle_bucket_refill(&b, 1500 * MS);
    CHECK(near(b.tokens, 14)); /* 0.5 + 14, capped at the new burst */
    /* A smaller burst caps what is held. */
    throttle_bucket_set_rate(&b, 2, 3, 1500 * MS);
    CHECK(near(b.tokens, 3) && near(b.burst, 3));
    CHECK(throttle_bucket_wait_us(&b, 4, 1500 * MS) == 0);
    throttle_bucket_set_rate(&b, 2, 0, 1500 * MS);
    CHECK(near(b.burst, 1) && near(b.tokens, 1));
    /* Unlimited from now on. */
    throttle_bucket_set_rate(&b, 0, 1, 1500 * MS);
    CHECK(throttle_bucket_try_take(&b, 100, 1500 * MS) == 1);
}

/* ---- queues on an event loop ---- */

#define MAX_GRANTS 64

struct waiter {
    int id;
    struct throttle_ticket tk;
    struct waiter *cancel_on_grant; /* re-entrancy: cancel another in cb */
};

static int grants[MAX_GRANTS];
static int n_grants;
static int n_refused_late;

static void on_granted(void *arg, int granted, uint64_t retry_after_us) {
    struct waiter *w = arg;
    /* The local buckets only ever grant (refusals are for a shared
     * backend's late verdict). */
    if (!granted || retry_after_us != 0) {
        n_refused_late++;
    }
    if (n_grants < MAX_GRANTS) {
        grants[n_grants] = w->id;
    }
    n_grants++;
    if (w->cancel_on_grant != NULL) {
        throttle_cancel(&w->cancel_on_grant->tk);
    }
}

static void reset_grants(void) {
    n_grants = 0;
    memset(grants, 0, sizeof(grants));
}

static int granted_are(const int *ids, int n) {
    if (n_grants != n) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (grants[i] != ids[i]) {
            return 0;
        }
    }
    return 1;
}

/* One ticket on one bucket. */
static enum throttle_result start(struct throttle *t, struct waiter *w, int id,
                                  struct throttle_bucket *b, double tokens, uint64_t *retry) {
    w->id = id;
    w->cancel_on_grant = NULL;
    throttle_ticket_init(&w->tk, on_granted, w);
    throttle_ticket_add(&w->tk, b, tokens);
    *retry = 0;
    return throttle_acquire(t, &w->tk, retry);
}

/* Moves the clock, then lets the loop fire what is due (the timers were
 * aimed from the clock, so each fires within the milliseconds this
 * advances). */
static void advance(struct event_base *base, uint64_t us) {
    fake_now += us;
    event_base_loop(base, EVLOOP_ONCE);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_queue_fifo(struct event_base *base) {
    struct throttle *t = throttle_new(base, fake_clock, 100, 10 * SEC);
    CHECK(t != NULL && t->now == fake_clock);
    struct throttle_bucket *b = throttle_bucket_new(t, "op", 100, 1); /* 10 ms a token */
    CHECK(b != NULL && b->timer != NULL && b->owner == t && b->last_us == fake_now);
    struct waiter w[5];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    CHECK(n_grants == 0); /* granted at once: no callback */
    for (int i = 1; i < 5; i++) {
        CHECK(start(t, &w[i], i, b, 1, &retry) == THROTTLE_QUEUED);
        CHECK(w[i].tk.queued == 1);
    }
    CHECK(b->queued == 4 && near(b->queued_tokens, 4) && t->waits_total == 4);
    /* Nothing before the clock moves. */
    advance(base, 0);
    CHECK(n_grants == 0);
    advance(base, 9 * MS);
    CHECK(n_grants == 0);
    advance(base, 1 * MS);
    CHECK(granted_are((int[]){1}, 1));
    CHECK(w[1].tk.queued == 0 && b->queued == 3);
    /* Burst 1: a long idle serves only one at a time. */
    advance(base, 50 * MS);
    CHECK(granted_are((int[]){1, 2}, 2));
    advance(base, 10 * MS);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){1, 2, 3, 4}, 4));
    CHECK(b->queued == 0 && near(b->queued_tokens, 0));
    /* Idle again: the next call is granted at once. */
    fake_now += 10 * MS;
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);

    /* A big ticket at the head is not overtaken by a small one behind. */
    reset_grants();
    throttle_bucket_set_rate(b, 100, 5, fake_now);
    fake_now += 1 * SEC;
    CHECK(start(t, &w[0], 0, b, 5, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 3, &retry) == THROTTLE_QUEUED);
    CHECK(start(t, &w[2], 2, b, 1, &retry) == THROTTLE_QUEUED);
    advance(base, 10 * MS); /* 1 token: enough for #2, but #1 is first */
    CHECK(n_grants == 0);
    advance(base, 20 * MS);
    CHECK(granted_are((int[]){1}, 1));
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){1, 2}, 2));

    /* More than the burst waits for a full bucket, then takes it all. */
    reset_grants();
    fake_now += 1 * SEC;
    CHECK(start(t, &w[0], 0, b, 2, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 12, &retry) == THROTTLE_QUEUED);
    CHECK(start(t, &w[2], 2, b, 1, &retry) == THROTTLE_QUEUED);
    advance(base, 10 * MS); /* 4 of 5 */
    CHECK(n_grants == 0);
    advance(base, 10 * MS); /* full */
    CHECK(granted_are((int[]){1}, 1));
    CHECK(near(b->tokens, -7));
    advance(base, 70 * MS); /* back to 0: #2 still waits */
    CHECK(n_grants == 1);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){1, 2}, 2));

    throttle_bucket_free(b);
    throttle_free(t);
}

static void test_queue_refused(struct event_base *base) {
    /* Queue full. */
    struct throttle *t = throttle_new(base, fake_clock, 2, 10 * SEC);
    struct throttle_bucket *b = throttle_bucket_new(t, "op", 100, 1);
    struct waiter w[8];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 1, &retry) == THROTTLE_QUEUED);
    CHECK(start(t, &w[2], 2, b, 1, &retry) == THROTTLE_QUEUED);
    CHECK(start(t, &w[3], 3, b, 1, &retry) == THROTTLE_REFUSED);
    CHECK(retry == 30 * MS || retry == 30 * MS + 1); /* after the two queued */
    CHECK(w[3].tk.queued == 0 && b->queued == 2 && near(b->queued_tokens, 2));
    CHECK(t->rejected_total == 1);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){1}, 1));
    /* A place is free again. */
    CHECK(start(t, &w[3], 3, b, 1, &retry) == THROTTLE_QUEUED);
    advance(base, 10 * MS);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){1, 2, 3}, 3));
    /* max_queue 0: never queue, but grant what is there. */
    throttle_set_limits(t, 0, 10 * SEC);
    fake_now += 1 * SEC;
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 1, &retry) == THROTTLE_REFUSED && retry >= 10 * MS);

    /* Deadline: at 100/s, with max_wait 50 ms, the 5th waiter (50 ms) is
     * queued and the 6th (60 ms) refused with its wait as retry_after. */
    throttle_set_limits(t, 100, 50 * MS);
    fake_now += 1 * SEC;
    reset_grants();
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    for (int i = 1; i <= 5; i++) {
        CHECK(start(t, &w[i], i, b, 1, &retry) == THROTTLE_QUEUED);
    }
    CHECK(w[5].tk.deadline_us == fake_now + 50 * MS);
    uint64_t rejected = t->rejected_total;
    CHECK(start(t, &w[6], 6, b, 1, &retry) == THROTTLE_REFUSED);
    CHECK(retry >= 60 * MS && retry <= 60 * MS + 1);
    CHECK(t->rejected_total == rejected + 1 && b->queued == 5 && !w[6].tk.queued);
    for (int i = 0; i < 5; i++) {
        advance(base, 10 * MS);
    }
    CHECK(granted_are((int[]){1, 2, 3, 4, 5}, 5));
    /* A wait too long on its own is refused with nothing queued. */
    throttle_set_limits(t, 100, 5 * MS);
    CHECK(b->queued == 0 && near(b->tokens, 0));
    CHECK(start(t, &w[7], 7, b, 1, &retry) == THROTTLE_REFUSED);
    CHECK(retry >= 10 * MS && retry <= 10 * MS + 1 && b->queued == 0);
    /* max_wait 0: only what can be granted now. */
    throttle_set_limits(t, 100, 0);
    fake_now += 10 * MS;
    CHECK(start(t, &w[7], 7, b, 1, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[7], 7, b, 1, &retry) == THROTTLE_REFUSED);
    throttle_bucket_free(b);
    throttle_free(t);
}

static void test_queue_cancel(struct event_base *base) {
    struct throttle *t = throttle_new(base, fake_clock, 100, 10 * SEC);
    struct throttle_bucket *b = throttle_bucket_new(t, "op", 100, 1);
    struct waiter w[6];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    for (int i = 1; i <= 4; i++) {
        CHECK(start(t, &w[i], i, b, 1, &retry) == THROTTLE_QUEUED);
    }
    /* Cancelling the head hands its slot to the next one. */
    throttle_cancel(&w[1].tk);
    CHECK(!w[1].tk.queued && b->queued == 3 && near(b->queued_tokens, 3));
    /* Cancelling twice, or a ticket never queued, is harmless. */
    throttle_cancel(&w[1].tk);
    throttle_cancel(&w[0].tk);
    CHECK(b->queued == 3);
    /* Cancelling from the middle shortens the wait of those behind. */
    throttle_cancel(&w[3].tk);
    CHECK(b->queued == 2);
    CHECK(throttle_bucket_wait_us(b, 1, fake_now) == 30 * MS);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){2}, 1));
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){2, 4}, 2));
    CHECK(b->queued == 0);

    /* The head wanted 50 tokens (500 ms), the next wants 1 (10 ms): once
     * the head is cancelled the next is served at 10 ms, not when the
     * head's timer would have fired. Seen in real time, with a wide margin. */
    reset_grants();
    throttle_bucket_set_rate(b, 100, 50, fake_now);
    fake_now += 1 * SEC;
    CHECK(start(t, &w[0], 0, b, 50, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 50, &retry) == THROTTLE_QUEUED);
    CHECK(start(t, &w[2], 2, b, 1, &retry) == THROTTLE_QUEUED);
    throttle_cancel(&w[1].tk);
    fake_now += 10 * MS;
    sleep_ms(60);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(granted_are((int[]){2}, 1));
    throttle_cancel(&w[2].tk); /* only if the check above failed */

    /* A callback may cancel the next waiter: it is skipped in the same
     * timer run, and the one after it is served. */
    reset_grants();
    throttle_bucket_set_rate(b, 100, 3, fake_now);
    fake_now += 1 * SEC;
    CHECK(start(t, &w[0], 0, b, 3, &retry) == THROTTLE_GRANTED);
    for (int i = 1; i <= 3; i++) {
        CHECK(start(t, &w[i], i, b, 1, &retry) == THROTTLE_QUEUED);
    }
    w[1].cancel_on_grant = &w[2];
    advance(base, 30 * MS);
    CHECK(granted_are((int[]){1, 3}, 2));
    CHECK(b->queued == 0 && !w[2].tk.queued);

    /* All cancelled: the timer finds nothing and grants nothing. */
    reset_grants();
    fake_now += 1 * SEC;
    CHECK(start(t, &w[0], 0, b, 3, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 1, &retry) == THROTTLE_QUEUED);
    CHECK(start(t, &w[2], 2, b, 1, &retry) == THROTTLE_QUEUED);
    throttle_cancel(&w[2].tk);
    throttle_cancel(&w[1].tk);
    fake_now += 1 * SEC;
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(n_grants == 0 && b->queued == 0 && near(b->queued_tokens, 0));
    CHECK(start(t, &w[3], 3, b, 3, &retry) == THROTTLE_GRANTED);
    throttle_bucket_free(b);
    throttle_free(t);
}

static void test_queue_two_stages(struct event_base *base) {
    struct throttle *t = throttle_new(base, fake_clock, 100, 10 * SEC);
    struct throttle_bucket *op = throttle_bucket_new(t, "SendEmail", 100, 1);
    struct throttle_bucket *send = throttle_bucket_new(t, "send_rate", 100, 5);
    struct throttle_bucket *free_b = throttle_bucket_new(t, "free", 0, 1);
    struct waiter w[4];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();

    /* An unlimited bucket is not a stage at all. */
    throttle_ticket_init(&w[0].tk, on_granted, &w[0]);
    throttle_ticket_add(&w[0].tk, free_b, 1);
    CHECK(w[0].tk.n_stages == 0);
    throttle_ticket_add(&w[0].tk, NULL, 1);
    CHECK(w[0].tk.n_stages == 0);
    CHECK(throttle_acquire(t, &w[0].tk, &retry) == THROTTLE_GRANTED);
    /* No more than THROTTLE_MAX_STAGES stages. */
    throttle_ticket_add(&w[0].tk, op, 1);
    throttle_ticket_add(&w[0].tk, send, 1);
    throttle_ticket_add(&w[0].tk, send, 1);
    CHECK(w[0].tk.n_stages == THROTTLE_MAX_STAGES);

    /* Both have tokens: granted at once from both. */
    w[0].id = 0;
    throttle_ticket_init(&w[0].tk, on_granted, &w[0]);
    throttle_ticket_add(&w[0].tk, op, 1);
    throttle_ticket_add(&w[0].tk, send, 3);
    CHECK(throttle_acquire(t, &w[0].tk, &retry) == THROTTLE_GRANTED);
    CHECK(near(op->tokens, 0) && near(send->tokens, 2));

    /* The first stage waits 10 ms; then the second has enough at once:
     * granted from the first bucket's timer. */
    w[1].id = 1;
    throttle_ticket_init(&w[1].tk, on_granted, &w[1]);
    throttle_ticket_add(&w[1].tk, op, 1);
    throttle_ticket_add(&w[1].tk, send, 2);
    CHECK(throttle_acquire(t, &w[1].tk, &retry) == THROTTLE_QUEUED);
    CHECK(w[1].tk.stage == 0 && op->queued == 1 && send->queued == 0);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){1}, 1));
    CHECK(near(op->tokens, 0) && near(send->tokens, 1));

    /* The first stage passes at once, the second waits 40 ms; meanwhile
     * the op bucket's token is spent, never given back. */
    reset_grants();
    fake_now += 1 * SEC;
    CHECK(throttle_bucket_try_take(send, 5, fake_now) == 1);
    w[2].id = 2;
    throttle_ticket_init(&w[2].tk, on_granted, &w[2]);
    throttle_ticket_add(&w[2].tk, op, 1);
    throttle_ticket_add(&w[2].tk, send, 4);
    CHECK(throttle_acquire(t, &w[2].tk, &retry) == THROTTLE_QUEUED);
    CHECK(w[2].tk.stage == 1 && op->queued == 0 && send->queued == 1);
    CHECK(near(op->tokens, 0));
    advance(base, 30 * MS);
    CHECK(n_grants == 0);
    advance(base, 10 * MS);
    CHECK(granted_are((int[]){2}, 1));

    /* Cancelling a ticket waiting in its second stage. */
    reset_grants();
    fake_now += 1 * SEC;
    CHECK(throttle_bucket_try_take(send, 5, fake_now) == 1);
    w[3].id = 3;
    throttle_ticket_init(&w[3].tk, on_granted, &w[3]);
    throttle_ticket_add(&w[3].tk, op, 1);
    throttle_ticket_add(&w[3].tk, send, 1);
    CHECK(throttle_acquire(t, &w[3].tk, &retry) == THROTTLE_QUEUED && w[3].tk.stage == 1);
    throttle_cancel(&w[3].tk);
    CHECK(send->queued == 0 && !w[3].tk.queued);
    fake_now += 1 * SEC;
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(n_grants == 0);

    /* The deadline counts both stages' waits: 40 ms + 50 ms > 60 ms. */
    throttle_set_limits(t, 100, 60 * MS);
    fake_now += 1 * SEC;
    CHECK(throttle_bucket_try_take(op, 1, fake_now) == 1);
    CHECK(throttle_bucket_try_take(send, 5, fake_now) == 1);
    w[0].id = 0;
    throttle_ticket_init(&w[0].tk, on_granted, &w[0]);
    throttle_ticket_add(&w[0].tk, op, 1);   /* 10 ms */
    throttle_ticket_add(&w[0].tk, send, 5); /* 50 ms */
    CHECK(throttle_acquire(t, &w[0].tk, &retry) == THROTTLE_QUEUED);
    throttle_ticket_init(&w[1].tk, on_granted, &w[1]);
    throttle_ticket_add(&w[1].tk, op, 1);   /* 20 ms behind #0 */
    throttle_ticket_add(&w[1].tk, send, 5); /* 50 ms */
    CHECK(throttle_acquire(t, &w[1].tk, &retry) == THROTTLE_REFUSED);
    CHECK(retry >= 70 * MS && retry <= 70 * MS + 2);
    throttle_cancel(&w[0].tk);
    CHECK(op->queued == 0);

    throttle_bucket_free(op);
    throttle_bucket_free(send);
    throttle_bucket_free(free_b);
    throttle_free(t);
}

/* A queued ticket follows a rate change at once: raised, it is served on
 * the new schedule rather than the old one's; made unlimited, the queue
 * drains on the next loop turn, even after its head was cancelled. */
static void test_queue_set_rate(struct event_base *base) {
    struct throttle *t = throttle_new(base, fake_clock, 100, 100 * SEC);
    struct throttle_bucket *b = throttle_bucket_new(t, "send_rate", 1, 1); /* 1 s a token */
    struct waiter w[4];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 1, &retry) == THROTTLE_QUEUED);
    /* GetSendQuota answered: 1000/s. One token is 1 ms away now. */
    throttle_bucket_set_rate(b, 1000, 1000, fake_now);
    fake_now += 1 * MS;
    sleep_ms(50);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(granted_are((int[]){1}, 1));
    throttle_cancel(&w[1].tk); /* only if the check above failed */

    /* Unlimited, then the head goes away. */
    reset_grants();
    throttle_bucket_set_rate(b, 1, 1, fake_now);
    fake_now += 10 * SEC;
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    for (int i = 1; i <= 3; i++) {
        CHECK(start(t, &w[i], i, b, 1, &retry) == THROTTLE_QUEUED);
    }
    throttle_bucket_set_rate(b, 0, 1, fake_now);
    throttle_cancel(&w[1].tk);
    sleep_ms(20);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(granted_are((int[]){2, 3}, 2));
    CHECK(b->queued == 0);
    throttle_bucket_free(b);
    throttle_free(t);
}

/* The real clock: 3 waiters at 50/s are granted no sooner than 20, 40 and
 * 60 ms after the first call. Upper bounds are left to the fake clock. */
static void test_queue_real_clock(struct event_base *base) {
    struct throttle *t = throttle_new(base, NULL, 100, 10 * SEC);
    CHECK(t != NULL && t->now == clock_monotonic_us);
    struct throttle_bucket *b = throttle_bucket_new(t, "op", 50, 1);
    struct waiter w[4];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();
    uint64_t t0 = clock_monotonic_us();
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    for (int i = 1; i <= 3; i++) {
        CHECK(start(t, &w[i], i, b, 1, &retry) == THROTTLE_QUEUED);
    }
    uint64_t at[4] = {0};
    for (int guard = 0; n_grants < 3 && guard < 1000; guard++) {
        int before = n_grants;
        event_base_loop(base, EVLOOP_ONCE);
        if (n_grants > before) {
            at[n_grants] = clock_monotonic_us() - t0;
        }
    }
    CHECK(granted_are((int[]){1, 2, 3}, 3));
    CHECK(at[1] >= 20 * MS - 100 && at[3] >= 60 * MS - 100);
    CHECK(at[3] < 5 * SEC);
    throttle_bucket_free(b);
    throttle_free(t);
}

/* A rate dropped after admission (SES Throttling, a reload): a queued call
 * whose deadline passes is refused then, not left waiting. */
static void test_queue_deadline(struct event_base *base) {
    struct throttle *t = throttle_new(base, fake_clock, 100, 100 * MS);
    struct throttle_bucket *b = throttle_bucket_new(t, "op", 20, 1);
    struct waiter w[2];
    memset(w, 0, sizeof(w));
    uint64_t retry;
    reset_grants();
    int refused_before = n_refused_late;
    fake_now += 10 * SEC;
    CHECK(start(t, &w[0], 0, b, 1, &retry) == THROTTLE_GRANTED);
    CHECK(start(t, &w[1], 1, b, 1, &retry) == THROTTLE_QUEUED); /* 50 ms */
    throttle_bucket_set_rate(b, 0.1, 1, fake_now);              /* now 10 s */
    fake_now += 400 * MS; /* past deadline (100 ms) + grace (250 ms) */
    event_base_loop(base, EVLOOP_ONCE);
    CHECK(n_grants == 1 && grants[0] == 1);
    CHECK(n_refused_late == refused_before + 1); /* the callback said "refused" */
    CHECK(b->queued == 0 && !w[1].tk.queued);
    CHECK(t->rejected_total == 1);
    n_refused_late = refused_before;
    throttle_bucket_free(b);
    throttle_free(t);
}

/* No single call may leave a bucket in debt for longer than max_wait. */
static void test_bucket_fits(void) {
    struct throttle_bucket b;
    throttle_bucket_init(&b, "send_rate", 2, 2, 0);
    const uint64_t ten_s = 10 * 1000000u;
    CHECK(throttle_bucket_fits(&b, 1, ten_s));
    CHECK(throttle_bucket_fits(&b, 2, ten_s));
    CHECK(throttle_bucket_fits(&b, 22, ten_s));  /* 20 beyond the burst: 10 s at 2/s */
    CHECK(!throttle_bucket_fits(&b, 23, ten_s)); /* 10.5 s */
    CHECK(!throttle_bucket_fits(&b, 3, 0));
    CHECK(throttle_bucket_fits(&b, 2, 0));
    /* account-wide (Redis) limits count too: a replica's share is smaller */
    b.shared_rate = 1;
    b.shared_burst = 1;
    CHECK(!throttle_bucket_fits(&b, 12, ten_s));
    CHECK(throttle_bucket_fits(&b, 11, ten_s));
    /* unlimited */
    throttle_bucket_init(&b, "free", 0, 1, 0);
    CHECK(throttle_bucket_fits(&b, 1e9, 0));
}

int main(void) {
    test_bucket_init_refill();
    test_bucket_fits();
    test_bucket_wait_take();
    test_bucket_over_burst();
    test_bucket_set_rate();
    struct event_base *base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "event_base_new failed\n");
        return 1;
    }
    test_queue_fifo(base);
    test_queue_refused(base);
    test_queue_cancel(base);
    test_queue_two_stages(base);
    test_queue_set_rate(base);
    test_queue_real_clock(base);
    test_queue_deadline(base);
    CHECK(n_refused_late == 0);
    event_base_free(base);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
