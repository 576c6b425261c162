/* throttle_redis.c - shared buckets in Redis, local fallback (see
 * throttle_redis.h).
 *
 * The connection (redis_conn.h) goes DOWN -> CONNECTING (resolve, connect,
 * SELECT, SCRIPT LOAD, all under one deadline) -> UP, and back to DOWN on
 * any failure: a connect error, a closed connection, an error answer, or an
 * answer slower than redis_timeout_ms (this file keeps that deadline). DOWN
 * reconnects with backoff. A slow Redis is dropped rather than waited for:
 * its late answers could only grant calls the local buckets have decided
 * already, and a fresh connection (connect + SCRIPT LOAD under a deadline)
 * is the health check.
 *
 * Every call Redis decides is one struct pending: FLIGHT (sent, in
 * r->flight, which is Redis's answer order) then, when the answer is "go
 * after wait", WAIT (in r->waiting, on its own timer). hiredis calls each
 * command's callback exactly once, with NULL when the connection goes, so a
 * FLIGHT pending is freed only in its callback; a cancelled one just loses
 * its ticket (tk = NULL). */
#include "proxy/throttle/throttle_redis.h"

#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "proxy/config.h"
#include "proxy/log.h"
#include "proxy/proxy.h"
#include "proxy/redis/redis_conn.h"
#include "proxy/throttle/redis_script.h"

/* Connect + SELECT + SCRIPT LOAD: at least this long, whatever the
 * per-answer timeout (a TCP handshake to another host can take a while). */
#define CONNECT_TIMEOUT_MIN_US 1000000u

enum pstate { PS_FLIGHT, PS_WAIT };

struct pending {
    struct throttle_redis *r;
    struct throttle_ticket *tk; /* NULL once cancelled or handed to the local buckets */
    enum pstate state;
    int migrated; /* came from a local queue: a refusal sends it back there */
    int resent;   /* NOSCRIPT was answered once already */
    uint64_t max_wait_us;
    uint64_t sent_us;
    uint64_t due_us;     /* WAIT: when the reservation starts (our clock) */
    struct event *timer; /* WAIT */
    struct redis_script_call call;
    char tats[THROTTLE_MAX_STAGES][24]; /* the reservation (WAIT), for a give-back */
    TAILQ_ENTRY(pending) link;          /* r->flight (FLIGHT) or r->waiting (WAIT) */
};

TAILQ_HEAD(pending_list, pending);

struct throttle_redis {
    struct proxy *px;
    struct throttle *t;
    struct event_base *base;
    /* What it was built for (throttle_redis_same). */
    char *host;
    int port;
    char *unix_path;
    int db;
    char *cfg_prefix;
    char *region;
    uint64_t timeout_us;
    double share;
    char prefix[REDIS_SCRIPT_KEY_MAX / 2]; /* <cfg_prefix>{<region>}: */

    struct redis_conn *conn;
    char sha[41];
    /* Redis's clock on ours: off_us = our time - Redis's for the fastest
     * answer seen (see answer_lag), allowed to drift 1 ms per second. */
    int off_valid;
    int64_t off_us;
    uint64_t off_at_us;
    struct event *io_timer; /* the oldest answer's deadline */
    int announced;          /* -1 never, 0 down, 1 up: one log line per transition */
    int local_only;         /* handing tickets to the local buckets: acquire says no */
    struct pending_list flight;
    struct pending_list waiting;
    struct throttle_redis_stats stats;
};

/* ------------------------------------------------------------------ pure */

double throttle_redis_share(const struct config *cfg) {
    if (cfg == NULL || cfg->throttle.backend == NULL ||
        strcmp(cfg->throttle.backend, "redis") != 0 || cfg->throttle.replicas < 1) {
        return 1;
    }
    return cfg->throttle.replicas;
}

void throttle_redis_set_limit(struct throttle_bucket *b, double rate, double burst, double share,
                              uint64_t now) {
    if (share < 1) {
        share = 1;
    }
    double local_burst = burst / share < 1 ? 1 : burst / share;
    throttle_bucket_set_rate(b, rate > 0 ? rate / share : rate, local_burst, now);
    b->shared_rate = rate;
    b->shared_burst = burst < 1 ? 1 : burst;
}

int throttle_redis_adopt(struct throttle_bucket *b, double share, uint64_t now) {
    if (share < 1) {
        share = 1;
    }
    double expect = b->shared_rate > 0 ? b->shared_rate / share : b->shared_rate;
    double diff = fabs(b->configured_rate - expect);
    if (diff <= 1e-9 * (fabs(expect) + 1)) {
        return 0;
    }
    throttle_redis_set_limit(b, b->configured_rate, b->burst, share, now);
    return 1;
}

unsigned throttle_redis_next_backoff(unsigned ms) { return redis_conn_next_backoff(ms); }

/* ------------------------------------------------------------ the backend */

static void arm_us(struct event *ev, uint64_t us) {
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    evtimer_add(ev, &tv);
}

static uint64_t now_us(const struct throttle_redis *r) { return r->t->now(); }

/* reason: why it is down; handed: calls moved from the local queues to
 * Redis on the way up. */
static void announce(struct throttle_redis *r, int up, const char *reason, size_t handed) {
    if (r->announced == up) {
        return;
    }
    r->announced = up;
    if (up) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", handed);
        log_event(LOG_INFO, "throttle backend up: Redis decides for every replica", "redis",
                  redis_conn_addr(r->conn), "script_sha", r->sha, "handed_to_redis", n, NULL);
        return;
    }
    char share[32];
    snprintf(share, sizeof(share), "1/%g", r->share);
    log_event(LOG_WARN, "throttle backend down: the local buckets decide at this replica's share",
              "redis", redis_conn_addr(r->conn), "reason", reason, "share", share, NULL);
}

static void free_pending(struct pending *p) {
    if (p->timer != NULL) {
        event_free(p->timer);
    }
    free(p);
}

/* The local buckets decide tk (Redis down, slow, or refusing a call that
 * came from a local queue). Callbacks may run from here. */
static void fallback(struct throttle_redis *r, struct throttle_ticket *tk) {
    tk->remote = 0;
    tk->remote_state = NULL;
    r->stats.fallback_total++;
    int saved = r->local_only;
    r->local_only = 1;
    uint64_t wait = 0;
    enum throttle_result res = throttle_acquire(r->t, tk, &wait);
    r->local_only = saved;
    if (res == THROTTLE_GRANTED) {
        throttle_remote_done(tk, 1, 0);
    } else if (res == THROTTLE_REFUSED) {
        throttle_remote_done(tk, 0, wait);
    }
    /* QUEUED: the local bucket calls back. */
}

/* The connection went DOWN (any failure), logged once; it reconnects
 * later. The tickets in flight go to the local buckets from their
 * callbacks, which hiredis runs with NULL as the connection goes (right
 * after this, or when the current callback returns). */
static void on_down(void *arg, const char *reason, int was_up) {
    struct throttle_redis *r = arg;
    r->stats.up = 0;
    if (was_up) {
        r->stats.down_total++;
    }
    evtimer_del(r->io_timer);
    announce(r, 0, reason, 0);
    if (!was_up) {
        log_event(LOG_DEBUG, "Redis connection failed", "redis", redis_conn_addr(r->conn), "reason",
                  reason, NULL);
    }
}

/* Aims the io timer at the oldest unanswered call's deadline. */
static void rearm_io(struct throttle_redis *r) {
    if (!redis_conn_is_up(r->conn)) {
        return;
    }
    evtimer_del(r->io_timer);
    struct pending *head = TAILQ_FIRST(&r->flight);
    if (head == NULL) {
        return;
    }
    uint64_t now = now_us(r);
    uint64_t due = head->sent_us + r->timeout_us;
    arm_us(r->io_timer, due > now ? due - now : 0);
}

static void on_take_reply(redisAsyncContext *ac, void *reply, void *arg);

static int send_call(struct throttle_redis *r, struct pending *p) {
    redisAsyncContext *ac = redis_conn_ac(r->conn);
    if (ac == NULL || redisAsyncCommandArgv(ac, on_take_reply, p, p->call.argc, p->call.argv,
                                            p->call.argvlen) != REDIS_OK) {
        return -1;
    }
    p->sent_us = now_us(r);
    p->state = PS_FLIGHT;
    TAILQ_INSERT_TAIL(&r->flight, p, link);
    if (TAILQ_FIRST(&r->flight) == p) {
        rearm_io(r);
    }
    return 0;
}

/* Asks Redis for tk. 0: tk is held (tk->remote_state); -1: not sent. */
static int submit(struct throttle_redis *r, struct throttle_ticket *tk, uint64_t max_wait_us,
                  int migrated) {
    struct pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    p->r = r;
    p->tk = tk;
    p->migrated = migrated;
    p->max_wait_us = max_wait_us;
    if (redis_script_take(&p->call, r->sha, r->prefix, tk, max_wait_us, 0) == 0 ||
        send_call(r, p) < 0) {
        free(p);
        return -1;
    }
    tk->remote_state = p;
    return 0;
}

/* A caller gone after Redis reserved its place: if nobody reserved after
 * it, the place goes back; otherwise it is spent, which only ever errs on
 * the slow side. Fire and forget. */
static void give_back(struct throttle_redis *r, struct pending *p, const char (*tats)[24]) {
    redisAsyncContext *ac = redis_conn_ac(r->conn);
    if (ac == NULL || p->call.n_keys == 0) {
        return;
    }
    struct redis_script_call give;
    redis_script_give(&give, r->sha, &p->call, tats);
    (void)redisAsyncCommandArgv(ac, NULL, NULL, give.argc, give.argv, give.argvlen);
}

static void on_wait_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct pending *p = arg;
    /* libevent's timers run on CLOCK_MONOTONIC_COARSE and may fire a few
     * milliseconds early: never grant before the reserved time. */
    uint64_t now = now_us(p->r);
    if (now < p->due_us) {
        arm_us(p->timer, p->due_us - now);
        return;
    }
    struct throttle_ticket *tk = p->tk;
    TAILQ_REMOVE(&p->r->waiting, p, link);
    free_pending(p);
    if (tk != NULL) {
        throttle_remote_done(tk, 1, 0);
    }
}

/* How much later than the fastest answer seen this one arrived, so that a
 * reservation counts from Redis's clock rather than from when its answer
 * happened to be read: replicas then send at Redis's `go` plus the same
 * small constant, and an answer delayed on the network or by a busy loop
 * does not squeeze the next replica's call closer to this one. Never more
 * than the round trip (so never before Redis's `go`, even if Redis's
 * wall clock steps). */
static uint64_t answer_lag(struct throttle_redis *r, const struct pending *p, uint64_t recv,
                           int64_t redis_now) {
    int64_t sample = (int64_t)recv - redis_now;
    if (!r->off_valid) {
        r->off_valid = 1;
        r->off_us = sample;
        r->off_at_us = recv;
        return 0;
    }
    int64_t drifted = r->off_us + (int64_t)((recv - r->off_at_us) / 1000u);
    r->off_us = sample < drifted ? sample : drifted;
    r->off_at_us = recv;
    int64_t lag = sample - r->off_us;
    uint64_t rtt = recv > p->sent_us ? recv - p->sent_us : 0;
    if (lag <= 0) {
        return 0;
    }
    return (uint64_t)lag < rtt ? (uint64_t)lag : rtt;
}

/* Do tk and another ticket draw on a common bucket? */
static int share_bucket(const struct throttle_ticket *a, const struct throttle_ticket *b) {
    for (int i = 0; i < a->n_stages; i++) {
        for (int j = 0; j < b->n_stages; j++) {
            if (a->stages[i] == b->stages[j]) {
                return 1;
            }
        }
    }
    return 0;
}

/* throttle.max_queue as in the local buckets: the calls of this replica
 * that wait for a reserved slot (WAIT) on one of tk's buckets are its
 * queue. When it is full, a call that would wait is refused, to retry when
 * the first of them goes (1 when it is full, 0 when there is room). Checked
 * before asking Redis (no question when the queue is already full) and
 * again when Redis answers "wait" (calls asked together). */
static int queue_full(struct throttle_redis *r, const struct throttle_ticket *tk, uint64_t now,
                      uint64_t *retry_after_us) {
    size_t n = 0;
    uint64_t first = UINT64_MAX;
    struct pending *p;
    TAILQ_FOREACH(p, &r->waiting, link) {
        if (p->tk != NULL && share_bucket(tk, p->tk)) {
            n++;
            first = p->due_us < first ? p->due_us : first;
        }
    }
    if (n < r->t->max_queue) {
        return 0;
    }
    *retry_after_us = first > now + 1000 ? first - now : 1000;
    return 1;
}

/* Redis granted: go now, or after the reservation's wait. */
static void granted(struct throttle_redis *r, struct pending *p,
                    const struct redis_script_verdict *v) {
    struct throttle_ticket *tk = p->tk;
    uint64_t retry;
    if (v->wait_us > 0 && !p->migrated && queue_full(r, tk, now_us(r), &retry)) {
        /* It would wait, and this replica's queue filled up while Redis
         * decided (calls asked together): refused, the slot given back. */
        give_back(r, p, v->tats);
        free_pending(p);
        r->t->rejected_total++;
        throttle_remote_done(tk, 0, retry);
        return;
    }
    r->stats.granted_total++;
    if (v->wait_us > 0) {
        p->timer = evtimer_new(r->base, on_wait_done, p);
        if (p->timer != NULL) {
            memcpy(p->tats, v->tats, sizeof(p->tats));
            /* The wait counts from Redis's TIME in the script, which was
             * before this answer arrived (by at least the fastest answer's
             * trip, which we keep as a margin on the slow side). */
            uint64_t recv = now_us(r);
            uint64_t lag = answer_lag(r, p, recv, v->now_us);
            p->due_us = recv + (v->wait_us > lag ? v->wait_us - lag : 0);
            p->state = PS_WAIT;
            TAILQ_INSERT_TAIL(&r->waiting, p, link);
            arm_us(p->timer, p->due_us - recv);
            return;
        }
        /* Out of memory for a timer: the local buckets decide. */
        free_pending(p);
        fallback(r, tk);
        return;
    }
    free_pending(p);
    throttle_remote_done(tk, 1, 0);
}

/* Redis's verdict on a call it was asked about. */
static void decided(struct throttle_redis *r, struct pending *p,
                    const struct redis_script_verdict *v) {
    struct throttle_ticket *tk = p->tk;
    redis_conn_reset_backoff(r->conn); /* Redis works: a later failure starts over */
    if (!v->granted || v->wait_us == 0) {
        (void)answer_lag(r, p, now_us(r), v->now_us); /* a sample for the map */
    }
    if (tk == NULL) { /* cancelled while Redis decided */
        if (v->granted) {
            give_back(r, p, v->tats);
        }
        free_pending(p);
    } else if (v->granted) {
        granted(r, p, v);
    } else if (p->migrated) {
        /* Came from a local queue and Redis cannot serve it by its
         * deadline: back to the local queue rather than refused. */
        free_pending(p);
        fallback(r, tk);
    } else {
        r->stats.refused_total += !tk->now_only; /* the outbox's polls are not refusals */
        free_pending(p);
        throttle_remote_done(tk, 0, v->wait_us);
    }
}

static int is_noscript(const redisReply *rep) {
    return rep != NULL && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

static void on_take_reply(redisAsyncContext *ac, void *reply, void *arg) {
    struct pending *p = arg;
    struct throttle_redis *r = p->r;
    const redisReply *rep = reply;
    int live = redis_conn_owns(r->conn, ac);
    TAILQ_REMOVE(&r->flight, p, link);
    rearm_io(r);
    if (rep == NULL) { /* the connection is going: hiredis frees it */
        redis_conn_gone(r->conn, ac);
    } else if (is_noscript(rep)) {
        /* Flushed, or a failover to a node that never saw it: EVAL sends
         * the text (and Redis caches it again). Once per call. */
        if (p->tk != NULL && !p->resent && live) {
            p->resent = 1;
            if (redis_script_take(&p->call, NULL, r->prefix, p->tk, p->max_wait_us, 0) > 0 &&
                send_call(r, p) == 0) {
                return;
            }
        }
    } else {
        struct redis_script_verdict v;
        struct sp_err err;
        sp_err_clear(&err);
        if (redis_script_verdict(rep, p->call.n_keys, &v, &err) == 0) {
            decided(r, p, &v);
            return;
        }
        if (live) {
            redis_conn_drop(r->conn, err.msg);
        }
    }
    struct throttle_ticket *tk = p->tk;
    free_pending(p);
    if (tk != NULL) {
        fallback(r, tk);
    }
}

/* Back up: the calls queued in the local buckets meanwhile go to Redis, in
 * their queue order, so the account's limit is counted in one place again.
 * A ticket keeps what is left of its deadline. */
static int migrate_bucket(struct throttle_redis *r, struct throttle_bucket *b, size_t *handed) {
    struct throttle_ticket *tk;
    while (b != NULL && (tk = TAILQ_FIRST(&b->queue)) != NULL) {
        uint64_t now = now_us(r);
        uint64_t left = tk->deadline_us > now ? tk->deadline_us - now : 0;
        throttle_cancel(tk); /* out of the local queue */
        if (submit(r, tk, left, 1) < 0) {
            /* Redis is gone again: back to a local queue, and stop. */
            fallback(r, tk);
            return -1;
        }
        tk->remote = 1;
        (*handed)++;
    }
    return 0;
}

static size_t migrate(struct throttle_redis *r) {
    struct proxy *px = r->px;
    size_t handed = 0;
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        for (size_t i = 0; i < px->apis[a].svc->n_ops; i++) {
            if (migrate_bucket(r, px->apis[a].op_buckets[i], &handed) < 0) {
                return handed;
            }
        }
    }
    (void)migrate_bucket(r, px->send_bucket, &handed);
    return handed;
}

/* The handshake is done: Redis decides from now on. */
static void on_up(void *arg, const char *sha) {
    struct throttle_redis *r = arg;
    memcpy(r->sha, sha, sizeof(r->sha));
    r->off_valid = 0; /* another path, another trip */
    r->stats.up = 1;
    size_t handed = migrate(r);
    announce(r, 1, NULL, handed);
}

static void on_io_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct throttle_redis *r = arg;
    struct pending *head = TAILQ_FIRST(&r->flight);
    if (!redis_conn_is_up(r->conn) || head == NULL) {
        return;
    }
    if (now_us(r) - head->sent_us < r->timeout_us) {
        rearm_io(r); /* woke early (see on_wait_done) */
        return;
    }
    char why[96];
    snprintf(why, sizeof(why), "no answer within %llu ms",
             (unsigned long long)(r->timeout_us / 1000u));
    redis_conn_drop(r->conn, why);
}

/* ---- the throttle's view (struct throttle_remote_ops) ---- */

static int on_acquire(void *ctx, struct throttle_ticket *tk, uint64_t *retry_after_us) {
    struct throttle_redis *r = ctx;
    if (r->local_only) {
        return -1;
    }
    uint64_t now = now_us(r);
    if (redis_conn_is_up(r->conn) && !tk->now_only && queue_full(r, tk, now, retry_after_us)) {
        return 1; /* counted by the throttle (rejected_total) */
    }
    for (int i = tk->stage; i < tk->n_stages; i++) {
        /* GetSendQuota's rate arrives as a local rate (quota.c). */
        (void)throttle_redis_adopt(tk->stages[i], r->share, now);
        /* Lets a penalised bucket climb back (its rate scales ours). */
        throttle_bucket_refill(tk->stages[i], now);
    }
    /* now_only: a reservation that must start now, so that nothing
     * reserved by any replica's callers is overtaken. */
    if (redis_conn_is_up(r->conn) && submit(r, tk, tk->now_only ? 0 : r->t->max_wait_us, 0) == 0) {
        return 0;
    }
    r->stats.fallback_total++;
    return -1;
}

static void on_cancel(void *ctx, struct throttle_ticket *tk) {
    (void)ctx;
    struct pending *p = tk->remote_state;
    tk->remote_state = NULL;
    if (p == NULL) {
        return;
    }
    p->tk = NULL;
    if (p->state == PS_WAIT) {
        give_back(p->r, p, p->tats);
        TAILQ_REMOVE(&p->r->waiting, p, link);
        free_pending(p);
    }
    /* FLIGHT: the answer's callback frees p, giving back what it got. */
}

static const struct throttle_remote_ops remote_ops = {on_acquire, on_cancel};

/* ------------------------------------------------------------- lifecycle */

static int same_str(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int throttle_redis_same(const struct throttle_redis *r, const struct config *cfg) {
    return same_str(r->host, cfg->throttle.redis_host) && r->port == cfg->throttle.redis_port &&
           same_str(r->unix_path, cfg->throttle.redis_unix) && r->db == cfg->throttle.redis_db &&
           same_str(r->cfg_prefix, cfg->throttle.redis_key_prefix) &&
           same_str(r->region, cfg->region) &&
           r->timeout_us == (uint64_t)cfg->throttle.redis_timeout_ms * 1000u;
}

void throttle_redis_set_share(struct throttle_redis *r, double share) {
    r->share = share < 1 ? 1 : share;
}

const struct throttle_redis_stats *throttle_redis_stats(const struct throttle_redis *r) {
    return &r->stats;
}

size_t throttle_redis_waiting(const struct throttle_redis *r, const struct throttle_bucket *b) {
    size_t n = 0;
    const struct pending *p;
    TAILQ_FOREACH(p, &r->waiting, link) {
        for (int i = 0; p->tk != NULL && i < p->tk->n_stages; i++) {
            n += p->tk->stages[i] == b;
        }
    }
    return n;
}

static char *dup_or_null(const char *s, int *failed) {
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    *failed |= d == NULL;
    return d;
}

struct throttle_redis *throttle_redis_new(struct proxy *px, const struct config *cfg,
                                          struct sp_err *err) {
    const char *prefix =
        cfg->throttle.redis_key_prefix != NULL ? cfg->throttle.redis_key_prefix : "ses-proxy:";
    if (strlen(prefix) + strlen(cfg->region) + 4 > REDIS_SCRIPT_KEY_MAX / 2) {
        sp_fail(err, "ConfigError", "throttle.redis_key_prefix is too long (at most %d bytes)",
                REDIS_SCRIPT_KEY_MAX / 2 - 68);
        return NULL;
    }
    if (cfg->throttle.redis_host == NULL && cfg->throttle.redis_unix == NULL) {
        sp_fail(err, "ConfigError", "throttle.redis_url is not set");
        return NULL;
    }
    struct throttle_redis *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    r->px = px;
    r->t = px->throttle;
    r->base = px->base;
    r->port = cfg->throttle.redis_port;
    r->db = cfg->throttle.redis_db;
    r->timeout_us = (uint64_t)cfg->throttle.redis_timeout_ms * 1000u;
    r->share = throttle_redis_share(cfg);
    r->announced = -1;
    TAILQ_INIT(&r->flight);
    TAILQ_INIT(&r->waiting);
    int failed = 0;
    r->host = dup_or_null(cfg->throttle.redis_host, &failed);
    r->unix_path = dup_or_null(cfg->throttle.redis_unix, &failed);
    r->cfg_prefix = dup_or_null(cfg->throttle.redis_key_prefix, &failed);
    r->region = dup_or_null(cfg->region, &failed);
    snprintf(r->prefix, sizeof(r->prefix), "%s{%s}:", prefix, cfg->region);
    r->io_timer = evtimer_new(r->base, on_io_timer, r);
    if (failed || r->io_timer == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        throttle_redis_free(r);
        return NULL;
    }
    /* Connect + SELECT + SCRIPT LOAD: at least CONNECT_TIMEOUT_MIN_US. */
    struct redis_conn_cfg cc = {
        .base = px->base,
        .dns = px->dns,
        .host = r->host,
        .port = r->port,
        .unix_path = r->unix_path,
        .db = r->db,
        .script = redis_script_text,
        .connect_timeout_us =
            r->timeout_us > CONNECT_TIMEOUT_MIN_US ? r->timeout_us : CONNECT_TIMEOUT_MIN_US,
        .up = on_up,
        .down = on_down,
        .arg = r,
    };
    r->conn = redis_conn_new(&cc, err);
    if (r->conn == NULL) {
        throttle_redis_free(r);
        return NULL;
    }
    throttle_set_remote(r->t, &remote_ops, r);
    redis_conn_start(r->conn);
    return r;
}

void throttle_redis_free(struct throttle_redis *r) {
    if (r == NULL) {
        return;
    }
    r->local_only = 1; /* still the remote: cancels reach on_cancel */
    struct pending *p;
    /* Reserved in Redis but not yet due: nobody will keep the time for
     * them once we are gone, so the local buckets decide. */
    while ((p = TAILQ_FIRST(&r->waiting)) != NULL) {
        struct throttle_ticket *tk = p->tk;
        TAILQ_REMOVE(&r->waiting, p, link);
        free_pending(p);
        if (tk != NULL) {
            fallback(r, tk);
        }
    }
    /* Awaiting an answer: the same. The pendings stay until hiredis calls
     * back with NULL below. */
    TAILQ_FOREACH(p, &r->flight, link) {
        if (p->tk != NULL) {
            struct throttle_ticket *tk = p->tk;
            p->tk = NULL;
            fallback(r, tk);
        }
    }
    if (r->t != NULL && r->t->remote_ctx == r) {
        throttle_set_remote(r->t, NULL, NULL);
    }
    redis_conn_free(r->conn); /* calls back every FLIGHT pending, which frees it */
    if (r->io_timer != NULL) {
        event_free(r->io_timer);
    }
    free(r->host);
    free(r->unix_path);
    free(r->cfg_prefix);
    free(r->region);
    free(r);
}
