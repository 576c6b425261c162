/* outbox_store_redis.c - the outbox's Redis store: a stream with a consumer
 * group in the throttle's Redis, shared by every replica (see
 * outbox_store.h; the keys and the script: outbox_redis_script.h).
 *
 * Every replica is a consumer of the group "ses-proxy" under a name of its
 * own (host, pid, random). A replica reads new entries (XREADGROUP) only as
 * fast as it delivers, so the others get theirs; an entry it reads is in
 * its pending list until the message is finished (XACK and XDEL, in one
 * script with the status). While it holds an entry (an attempt under way,
 * or a retry waiting), it keeps the claim fresh every claim_after_ms / 3
 * (XCLAIM to itself, only if the entry is still its own), so no other
 * replica takes it. A replica that dies stops refreshing: after
 * outbox.claim_after_ms another one takes its entries (XAUTOCLAIM) and
 * sends them, again if the dead one's attempt had reached SES
 * (at-least-once).
 *
 * Durability is Redis's: a put is answered once Redis answered the script,
 * which with appendonly yes and appendfsync always is after the AOF's
 * fsync (README says so). With Redis down, slow (no answer within
 * max(2 s, throttle.redis_timeout_ms)) or answering errors, the store is
 * unavailable: puts get 503 and nothing is promised; the connection is
 * dropped and made again with backoff (100 ms doubling to 5 s). State
 * changes that could not be written are kept and written once Redis is
 * back, in order.
 *
 * Never: blocks the loop (host names resolve through evdns; hiredis runs
 * on the libevent adapter), logs a message body. */
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "proxy/clock.h"
#include "proxy/config.h"
#include "proxy/log.h"
#include "proxy/outbox/outbox_quota.h"
#include "proxy/outbox/outbox_redis_script.h"
#include "proxy/outbox/outbox_store.h"
#include "proxy/redis/redis_conn.h"

#define GROUP "ses-proxy"
#define TIMEOUT_MIN_US 2000000u
/* Entries one replica holds at most (in flight or waiting for a retry);
 * beyond that it reads no new ones. */
#define OWN_MAX 256
#define MAX_ARGS (16 + OWN_MAX)

/* The store's own state: CONNECTING is the connection up (redis_conn.h)
 * with the init command's answer awaited. */
enum rstate { RS_DOWN, RS_CONNECTING, RS_UP };

struct redis_store;

/* One command sent; its reply goes to on_reply with the command's arg. */
struct rcmd {
    struct redis_store *rs;
    void (*on_reply)(struct redis_store *rs, void *arg, const redisReply *reply, const char *why);
    void *arg;
    uint64_t sent_us;
    TAILQ_ENTRY(rcmd) link;
};

/* A put or get waiting for Redis, or answered from the loop. */
struct outbox_wait {
    struct redis_store *rs;
    int is_put;
    outbox_put_fn put_cb;
    outbox_get_fn get_cb;
    outbox_quota_fn quota_cb;
    void *arg;
    int cancelled;
    char key[256]; /* put with an Idempotency-Key: being stored */
    double n;      /* quota reserve */
    int deferred;  /* answered from the loop with `answer` */
    struct outbox_put_answer answer;
    int get_found;
    char get_why[200];
    TAILQ_ENTRY(outbox_wait) link;
};
TAILQ_HEAD(wait_list, outbox_wait);

/* An entry of our pending list. */
struct owned {
    char sid[48];
    char id[OUTBOX_ID_LEN + 1];
    int64_t due_ms;
    int handed; /* the engine has it */
    TAILQ_ENTRY(owned) link;
};

/* A state change not written yet (Redis was down). */
struct redo {
    int finish;
    char sid[48];
    char id[OUTBOX_ID_LEN + 1];
    char *status;
    enum outbox_state state;
    TAILQ_ENTRY(redo) link;
};

struct redis_store {
    struct outbox_store base;
    struct redis_conn *conn;
    char prefix[200]; /* <redis_key_prefix>{<region>}:outbox: */
    char consumer[128];
    uint64_t timeout_us;
    enum rstate state;
    char sha[41];
    int announced;
    struct event *io_timer, *deferred_ev;
    TAILQ_HEAD(, rcmd) flight;
    struct wait_list waits;    /* puts and gets sent to Redis */
    struct wait_list deferred; /* answered from the loop */
    TAILQ_HEAD(, owned) owned;
    size_t n_owned;
    TAILQ_HEAD(, redo) redo;
    /* take */
    outbox_take_fn take_cb;
    void *take_arg;
    char cursor[48];
    int64_t next_claim_ms, next_refresh_ms;
    /* what the last stats and quota answers said */
    struct outbox_store_stats stats;
    struct outbox_quota_view qview;
    int have_view;
    struct outbox_quota own; /* this replica's own count */
    int stats_pending;
    char why[400];
};

static struct redis_store *rs_of(struct outbox_store *s) { return (struct redis_store *)(void *)s; }

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm_us(struct event *ev, uint64_t us) {
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    evtimer_add(ev, &tv);
}

/* ------------------------------------------------------- the connection */

static void flush_redo(struct redis_store *rs);

/* The connection went (any failure); it reconnects with backoff. The
 * commands in flight are called back with NULL right after this. */
static void on_down(void *arg, const char *reason, int conn_was_up) {
    struct redis_store *rs = arg;
    (void)conn_was_up; /* UP here is after init's answer */
    int was_up = rs->state == RS_UP;
    const char *addr = redis_conn_addr(rs->conn);
    rs->state = RS_DOWN;
    snprintf(rs->why, sizeof(rs->why), "Redis (%s) is unavailable: %s", addr, reason);
    if (was_up || rs->announced != 0) {
        log_event(LOG_WARN, "outbox: Redis store down; asynchronous calls get 503", "redis", addr,
                  "reason", reason, NULL);
        rs->announced = 0;
    }
    evtimer_del(rs->io_timer);
}

static void rearm_io(struct redis_store *rs) {
    evtimer_del(rs->io_timer);
    struct rcmd *c = TAILQ_FIRST(&rs->flight);
    if (c == NULL) {
        return;
    }
    uint64_t now = clock_monotonic_us();
    uint64_t due = c->sent_us + rs->timeout_us;
    arm_us(rs->io_timer, due > now ? due - now : 0);
}

static void on_io_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct redis_store *rs = arg;
    char why[64];
    if (rs->state == RS_CONNECTING) { /* init's answer */
        snprintf(why, sizeof(why), "not connected within %llu ms",
                 (unsigned long long)(rs->timeout_us / 1000u));
        redis_conn_drop(rs->conn, why);
        return;
    }
    struct rcmd *c = TAILQ_FIRST(&rs->flight);
    if (c == NULL) {
        return;
    }
    if (clock_monotonic_us() - c->sent_us < rs->timeout_us) {
        rearm_io(rs);
        return;
    }
    snprintf(why, sizeof(why), "no answer within %llu ms",
             (unsigned long long)(rs->timeout_us / 1000u));
    redis_conn_drop(rs->conn, why);
}

static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    struct rcmd *c = privdata;
    struct redis_store *rs = c->rs;
    TAILQ_REMOVE(&rs->flight, c, link);
    const redisReply *rep = reply;
    int live = redis_conn_owns(rs->conn, ac);
    if (live) {
        rearm_io(rs);
    }
    const char *why = NULL;
    char buf[240];
    if (rep == NULL) {
        snprintf(buf, sizeof(buf), "%s", ac->errstr[0] != '\0' ? ac->errstr : "connection lost");
        why = buf;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(buf, sizeof(buf), "Redis answered: %.200s", rep->str);
        why = buf;
    }
    c->on_reply(rs, c->arg, why == NULL ? rep : NULL, why);
    free(c);
    if (why != NULL && rep != NULL && live && redis_conn_owns(rs->conn, ac)) {
        /* An error answer (NOSCRIPT after a failover, OOM, a read-only
         * replica): start over with a fresh connection. */
        redis_conn_drop(rs->conn, why);
    } else if (rep == NULL && live) {
        redis_conn_gone(rs->conn, ac);
    }
}

/* Sends one EVALSHA of the script: args after the script's own (command
 * and prefix are added here). -1 when it cannot be sent (the callback
 * does not run). */
static int send_script(struct redis_store *rs, int n_keys, const char *const *keys,
                       const char *const *args, const size_t *lens, int n_args,
                       void (*on_reply)(struct redis_store *, void *, const redisReply *,
                                        const char *),
                       void *arg) {
    redisAsyncContext *ac = redis_conn_ac(rs->conn);
    if (rs->state != RS_UP || ac == NULL || n_args > MAX_ARGS) {
        return -1;
    }
    const char *argv[MAX_ARGS + 8];
    size_t argvlen[MAX_ARGS + 8];
    int argc = 0;
    char nk[8];
    snprintf(nk, sizeof(nk), "%d", n_keys);
    argv[argc] = "EVALSHA";
    argvlen[argc++] = 7;
    argv[argc] = rs->sha;
    argvlen[argc++] = 40;
    argv[argc] = nk;
    argvlen[argc++] = strlen(nk);
    for (int i = 0; i < n_keys; i++) {
        argv[argc] = keys[i];
        argvlen[argc++] = strlen(keys[i]);
    }
    for (int i = 0; i < n_args; i++) {
        argv[argc] = args[i];
        argvlen[argc++] = lens != NULL && lens[i] != (size_t)-1 ? lens[i] : strlen(args[i]);
    }
    struct rcmd *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -1;
    }
    c->rs = rs;
    c->on_reply = on_reply;
    c->arg = arg;
    c->sent_us = clock_monotonic_us();
    if (redisAsyncCommandArgv(ac, on_cmd_reply, c, argc, argv, argvlen) != REDIS_OK) {
        free(c);
        return -1;
    }
    TAILQ_INSERT_TAIL(&rs->flight, c, link);
    if (TAILQ_FIRST(&rs->flight) == c) {
        rearm_io(rs);
    }
    return 0;
}

static void on_init(struct redis_store *rs, void *arg, const redisReply *rep, const char *why) {
    (void)arg;
    if (rep == NULL) {
        (void)why; /* on_cmd_reply drops the connection */
        return;
    }
    rs->state = RS_UP;
    redis_conn_reset_backoff(rs->conn);
    evtimer_del(rs->io_timer);
    if (rs->announced != 1) {
        log_event(LOG_INFO, "outbox: Redis store up", "redis", redis_conn_addr(rs->conn),
                  "consumer", rs->consumer, NULL);
        rs->announced = 1;
    }
    flush_redo(rs);
    if (rs->base.wake != NULL) {
        rs->base.wake(rs->base.wake_arg);
    }
}

/* The connection is up (SELECT, SCRIPT LOAD): the init command (the
 * stream and its group) makes the store UP. */
static void on_up(void *arg, const char *sha) {
    struct redis_store *rs = arg;
    memcpy(rs->sha, sha, sizeof(rs->sha));
    /* UP for this one command; init's answer makes it UP for good. */
    rs->state = RS_UP;
    const char *keys[] = {""};
    const char *args[] = {"init", rs->prefix};
    if (send_script(rs, 0, keys, args, NULL, 2, on_init, NULL) < 0) {
        redis_conn_drop(rs->conn, "cannot send the init command");
        return;
    }
    rs->state = RS_CONNECTING;
}

/* ------------------------------------------------------ deferred answers */

static void defer(struct redis_store *rs, struct outbox_wait *w) {
    w->deferred = 1;
    TAILQ_INSERT_TAIL(&rs->deferred, w, link);
    event_active(rs->deferred_ev, EV_TIMEOUT, 0);
}

static void answer_wait(struct outbox_wait *w) {
    if (w->cancelled) {
        return;
    }
    if (w->is_put) {
        w->put_cb(w->arg, &w->answer);
    } else {
        w->get_cb(w->arg, w->get_found, NULL, w->get_why);
    }
}

static void on_deferred(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct redis_store *rs = arg;
    struct outbox_wait *w;
    while ((w = TAILQ_FIRST(&rs->deferred)) != NULL) {
        TAILQ_REMOVE(&rs->deferred, w, link);
        answer_wait(w);
        free(w);
    }
}

static void rs_cancel(struct outbox_store *s, struct outbox_wait *w) {
    (void)s;
    if (w != NULL) {
        w->cancelled = 1; /* freed when its answer arrives */
    }
}

/* ------------------------------------------------------------------ puts */

static int key_busy(struct redis_store *rs, const char *key) {
    struct outbox_wait *w;
    TAILQ_FOREACH(w, &rs->waits, link) {
        if (w->is_put && w->key[0] != '\0' && strcmp(w->key, key) == 0) {
            return 1;
        }
    }
    return 0;
}

static void on_put_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                         const char *why) {
    struct outbox_wait *w = arg;
    TAILQ_REMOVE(&rs->waits, w, link);
    struct outbox_put_answer *a = &w->answer;
    const char *kind = rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
                               rep->element[0]->type == REDIS_REPLY_STRING
                           ? rep->element[0]->str
                           : NULL;
    struct sp_err err;
    sp_err_clear(&err);
    if (kind != NULL && strcmp(kind, "stored") == 0) {
        a->result = OUTBOX_PUT_STORED;
    } else if (kind != NULL && strcmp(kind, "existing") == 0 && rep->elements == 3 &&
               rep->element[1]->type == REDIS_REPLY_STRING &&
               rep->element[2]->type == REDIS_REPLY_STRING &&
               rep->element[1]->len == OUTBOX_ID_LEN &&
               outbox_status_decode(rep->element[2]->str, rep->element[2]->len, &a->st, &err) ==
                   0) {
        a->result = OUTBOX_PUT_EXISTING;
        memcpy(a->id, rep->element[1]->str, OUTBOX_ID_LEN + 1);
    } else if (kind != NULL && strcmp(kind, "reused") == 0) {
        a->result = OUTBOX_PUT_KEY_REUSED;
    } else if (kind != NULL && strcmp(kind, "full") == 0 && rep->elements == 3) {
        a->result = OUTBOX_PUT_FULL;
        snprintf(a->why, sizeof(a->why),
                 "the outbox is full (%s messages, %s bytes held; outbox.max_messages %lld, "
                 "outbox.max_bytes %lld)",
                 rep->element[1]->str, rep->element[2]->str,
                 (long long)rs->base.limits.max_messages, (long long)rs->base.limits.max_bytes);
    } else {
        a->result = OUTBOX_PUT_UNAVAILABLE;
        snprintf(a->why, sizeof(a->why), "%.190s",
                 why != NULL        ? why
                 : err.code != NULL ? err.msg
                                    : "unexpected answer from Redis");
    }
    answer_wait(w);
    int stored = a->result == OUTBOX_PUT_STORED;
    outbox_status_clear(&a->st);
    free(w);
    if (stored && rs->base.wake != NULL) {
        rs->base.wake(rs->base.wake_arg);
    }
}

static void sha256_hex(const uint8_t h[32], char out[65]) {
    for (int i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[h[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[h[i] & 15];
    }
    out[64] = '\0';
}

static void rs_put(struct outbox_store *s, const struct outbox_new *m, outbox_put_fn cb, void *arg,
                   struct outbox_wait **wp) {
    struct redis_store *rs = rs_of(s);
    struct outbox_wait *w = calloc(1, sizeof(*w));
    *wp = w;
    if (w == NULL) {
        return;
    }
    w->rs = rs;
    w->is_put = 1;
    w->put_cb = cb;
    w->arg = arg;
    memcpy(w->answer.id, m->id, sizeof(w->answer.id));
    if (m->idem_key != NULL && key_busy(rs, m->idem_key)) {
        w->answer.result = OUTBOX_PUT_KEY_BUSY;
        defer(rs, w);
        return;
    }
    char *status = outbox_status_encode(&m->st);
    char bytes[24], maxm[24], maxb[24], ttl[24], hash[65];
    snprintf(bytes, sizeof(bytes), "%zu", m->record_len);
    snprintf(maxm, sizeof(maxm), "%lld", (long long)rs->base.limits.max_messages);
    snprintf(maxb, sizeof(maxb), "%lld", (long long)rs->base.limits.max_bytes);
    snprintf(ttl, sizeof(ttl), "%lld",
             (long long)((rs->base.limits.max_age_ms + rs->base.limits.retention_ms) / 1000));
    sha256_hex(m->idem_hash, hash);
    const char *args[] = {"put",
                          rs->prefix,
                          m->id,
                          (const char *)m->record,
                          status != NULL ? status : "",
                          bytes,
                          maxm,
                          maxb,
                          m->idem_key != NULL ? m->idem_key : "",
                          hash,
                          ttl};
    size_t lens[] = {(size_t)-1, (size_t)-1, (size_t)-1, m->record_len, (size_t)-1, (size_t)-1,
                     (size_t)-1, (size_t)-1, (size_t)-1, (size_t)-1,    (size_t)-1};
    const char *keys[] = {""};
    if (m->idem_key != NULL) {
        snprintf(w->key, sizeof(w->key), "%s", m->idem_key);
    }
    TAILQ_INSERT_TAIL(&rs->waits, w, link);
    if (status == NULL || send_script(rs, 0, keys, args, lens, 11, on_put_reply, w) < 0) {
        TAILQ_REMOVE(&rs->waits, w, link);
        w->key[0] = '\0';
        w->answer.result = OUTBOX_PUT_UNAVAILABLE;
        snprintf(w->answer.why, sizeof(w->answer.why), "%.190s",
                 status == NULL ? "out of memory" : rs->why);
        defer(rs, w);
    }
    free(status);
}

/* ------------------------------------------------------------------ reads */

static void on_get_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                         const char *why) {
    struct outbox_wait *w = arg;
    TAILQ_REMOVE(&rs->waits, w, link);
    if (!w->cancelled) {
        if (rep == NULL) {
            w->get_cb(w->arg, -1, NULL, why);
        } else if (rep->type != REDIS_REPLY_STRING) {
            w->get_cb(w->arg, 0, NULL, NULL);
        } else {
            struct outbox_status st;
            struct sp_err err;
            sp_err_clear(&err);
            if (outbox_status_decode(rep->str, rep->len, &st, &err) < 0) {
                w->get_cb(w->arg, -1, NULL, err.msg);
            } else {
                w->get_cb(w->arg, 1, &st, NULL);
                outbox_status_clear(&st);
            }
        }
    }
    free(w);
}

static void rs_get(struct outbox_store *s, const char *id, outbox_get_fn cb, void *arg,
                   struct outbox_wait **wp) {
    struct redis_store *rs = rs_of(s);
    struct outbox_wait *w = calloc(1, sizeof(*w));
    *wp = w;
    if (w == NULL) {
        cb(arg, -1, NULL, "out of memory");
        return;
    }
    w->rs = rs;
    w->get_cb = cb;
    w->arg = arg;
    char key[300];
    snprintf(key, sizeof(key), "%sm:%s", rs->prefix, id);
    struct rcmd *c = calloc(1, sizeof(*c));
    redisAsyncContext *ac = redis_conn_ac(rs->conn);
    if (rs->state != RS_UP || ac == NULL || c == NULL ||
        redisAsyncCommand(ac, on_cmd_reply, c, "HGET %s st", key) != REDIS_OK) {
        free(c);
        w->get_found = -1;
        snprintf(w->get_why, sizeof(w->get_why), "%.190s", rs->why);
        defer(rs, w);
        return;
    }
    c->rs = rs;
    c->on_reply = on_get_reply;
    c->arg = w;
    c->sent_us = clock_monotonic_us();
    TAILQ_INSERT_TAIL(&rs->flight, c, link);
    if (TAILQ_FIRST(&rs->flight) == c) {
        rearm_io(rs);
    }
    TAILQ_INSERT_TAIL(&rs->waits, w, link);
}

/* ------------------------------------------------------------------ take */

static struct owned *find_owned(struct redis_store *rs, const char *sid) {
    struct owned *o;
    TAILQ_FOREACH(o, &rs->owned, link) {
        if (strcmp(o->sid, sid) == 0) {
            return o;
        }
    }
    return NULL;
}

static void drop_owned(struct redis_store *rs, struct owned *o) {
    TAILQ_REMOVE(&rs->owned, o, link);
    rs->n_owned--;
    free(o);
}

static int str_elem(const redisReply *r, size_t i) {
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING;
}

static void finish_entry(struct redis_store *rs, const char *sid, const char *id,
                         const char *status, enum outbox_state state);

/* One {sid, id, record, status} of take's answer. */
static void take_one(struct redis_store *rs, const redisReply *e, struct outbox_msg_list *list) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 4 || !str_elem(e, 0) || !str_elem(e, 1) ||
        !str_elem(e, 2) || !str_elem(e, 3) || e->element[0]->len >= 48) {
        return;
    }
    const char *sid = e->element[0]->str;
    struct owned *o = find_owned(rs, sid);
    if (o != NULL && o->handed) {
        return; /* came back twice in one answer (due, and claimed) */
    }
    if (e->element[1]->len == 0) { /* gone: finished by another replica */
        if (o != NULL) {
            drop_owned(rs, o);
        }
        return;
    }
    struct sp_err err;
    sp_err_clear(&err);
    char id[OUTBOX_ID_LEN + 1];
    snprintf(id, sizeof(id), "%.*s", (int)e->element[1]->len, e->element[1]->str);
    struct outbox_msg *m = outbox_msg_load(id, e->element[2]->str, e->element[2]->len,
                                           e->element[3]->str, e->element[3]->len, &err);
    if (m == NULL) {
        /* Nothing can send it: failed, so that it stops coming back. */
        log_event(LOG_ERROR, "outbox store: a stored message cannot be read; failed", "outbox_id",
                  id, "error", err.msg, NULL);
        struct outbox_status st;
        outbox_status_init(&st);
        st.state = OUTBOX_FAILED;
        st.created_ms = st.updated_ms = wall_ms();
        snprintf(st.error.code, sizeof(st.error.code), "CorruptRecord");
        snprintf(st.error.message, sizeof(st.error.message), "%.500s", err.msg);
        char *text = outbox_status_encode(&st);
        finish_entry(rs, sid, id, text != NULL ? text : "", OUTBOX_FAILED);
        free(text);
        if (o != NULL) {
            drop_owned(rs, o);
        }
        return;
    }
    snprintf(m->sid, sizeof(m->sid), "%s", sid);
    if (o == NULL && (o = calloc(1, sizeof(*o))) != NULL) {
        snprintf(o->sid, sizeof(o->sid), "%s", sid);
        memcpy(o->id, m->id, sizeof(o->id));
        TAILQ_INSERT_TAIL(&rs->owned, o, link);
        rs->n_owned++;
    }
    if (o != NULL) {
        o->handed = 1;
    }
    TAILQ_INSERT_TAIL(list, m, link);
}

static void on_take_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                          const char *why) {
    (void)arg;
    (void)why;
    struct outbox_msg_list list;
    TAILQ_INIT(&list);
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && str_elem(rep, 0) &&
        rep->element[1]->type == REDIS_REPLY_ARRAY) {
        snprintf(rs->cursor, sizeof(rs->cursor), "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            take_one(rs, rep->element[1]->element[i], &list);
        }
    }
    outbox_take_fn cb = rs->take_cb;
    rs->take_cb = NULL;
    if (cb == NULL) { /* the store is closing */
        struct outbox_msg *m;
        while ((m = TAILQ_FIRST(&list)) != NULL) {
            TAILQ_REMOVE(&list, m, link);
            outbox_msg_free(m);
        }
        return;
    }
    cb(rs->take_arg, &list);
}

static void rs_take(struct outbox_store *s, size_t n, int64_t now_ms, outbox_take_fn cb,
                    void *arg) {
    struct redis_store *rs = rs_of(s);
    const char *args[MAX_ARGS];
    size_t nargs = 0;
    char n_new[16], idle[24], claim_n[16];
    args[nargs++] = "take";
    args[nargs++] = rs->prefix;
    args[nargs++] = GROUP;
    args[nargs++] = rs->consumer;
    args[nargs++] = n_new;
    args[nargs++] = idle;
    args[nargs++] = claim_n;
    args[nargs++] = rs->cursor;
    size_t due = 0;
    struct owned *o;
    TAILQ_FOREACH(o, &rs->owned, link) {
        if (due < n && !o->handed && o->due_ms <= now_ms) {
            args[nargs++] = o->sid;
            due++;
        }
    }
    size_t room = rs->n_owned < OWN_MAX ? OWN_MAX - rs->n_owned : 0;
    size_t want = n > due ? n - due : 0;
    snprintf(n_new, sizeof(n_new), "%zu", want < room ? want : room);
    int claim = now_ms >= rs->next_claim_ms && room > 0;
    if (claim) {
        rs->next_claim_ms = now_ms + rs->base.limits.claim_after_ms / 2;
    }
    snprintf(idle, sizeof(idle), "%lld", claim ? (long long)rs->base.limits.claim_after_ms : 0LL);
    snprintf(claim_n, sizeof(claim_n), "%zu", want < room ? (want > 0 ? want : 1) : room);
    rs->take_cb = cb;
    rs->take_arg = arg;
    const char *keys[] = {""};
    if (send_script(rs, 0, keys, args, NULL, (int)nargs, on_take_reply, NULL) < 0) {
        struct outbox_msg_list empty;
        TAILQ_INIT(&empty);
        rs->take_cb = NULL;
        cb(arg, &empty);
    }
}

/* --------------------------------------------------------- state changes */

static void on_write_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                           const char *why) {
    struct redo *r = arg;
    if (rep != NULL) {
        free(r->status);
        free(r);
        return;
    }
    /* Not written: again once Redis is back, before anything newer. */
    (void)why;
    TAILQ_INSERT_HEAD(&rs->redo, r, link);
}

static int send_redo(struct redis_store *rs, struct redo *r) {
    const char *keys[] = {""};
    if (r->finish) {
        char ret[24];
        snprintf(ret, sizeof(ret), "%lld", (long long)(rs->base.limits.retention_ms / 1000));
        const char *args[] = {"finish",
                              rs->prefix,
                              GROUP,
                              r->sid,
                              r->id,
                              r->status,
                              r->state == OUTBOX_SENT ? "sent" : "failed",
                              ret};
        return send_script(rs, 0, keys, args, NULL, 8, on_write_reply, r);
    }
    const char *args[] = {"save", rs->prefix, r->id, r->status,
                          r->state == OUTBOX_SENDING ? "s" : "q"};
    return send_script(rs, 0, keys, args, NULL, 5, on_write_reply, r);
}

static void write_change(struct redis_store *rs, int finish, const char *sid, const char *id,
                         const char *status, enum outbox_state state) {
    struct redo *r = calloc(1, sizeof(*r));
    char *copy = strdup(status);
    if (r == NULL || copy == NULL) {
        free(r);
        free(copy);
        log_event(LOG_ERROR, "outbox store: out of memory; a state change is lost", "outbox_id", id,
                  NULL);
        return;
    }
    r->finish = finish;
    snprintf(r->sid, sizeof(r->sid), "%s", sid);
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->status = copy;
    r->state = state;
    if (!TAILQ_EMPTY(&rs->redo) || send_redo(rs, r) < 0) {
        TAILQ_INSERT_TAIL(&rs->redo, r, link);
    }
}

static void flush_redo(struct redis_store *rs) {
    struct redo *r;
    while ((r = TAILQ_FIRST(&rs->redo)) != NULL) {
        TAILQ_REMOVE(&rs->redo, r, link);
        if (send_redo(rs, r) < 0) {
            TAILQ_INSERT_HEAD(&rs->redo, r, link);
            return;
        }
    }
}

static void finish_entry(struct redis_store *rs, const char *sid, const char *id,
                         const char *status, enum outbox_state state) {
    write_change(rs, 1, sid, id, status, state);
}

static void write_msg(struct redis_store *rs, struct outbox_msg *m, int finish) {
    char *status = outbox_status_encode(&m->st);
    if (status == NULL) {
        log_event(LOG_ERROR, "outbox store: out of memory; a state change is lost", "outbox_id",
                  m->id, NULL);
        return;
    }
    write_change(rs, finish, m->sid, m->id, status, m->st.state);
    free(status);
}

static void rs_save(struct outbox_store *s, struct outbox_msg *m) { write_msg(rs_of(s), m, 0); }

static void rs_release(struct outbox_store *s, struct outbox_msg *m) {
    struct redis_store *rs = rs_of(s);
    write_msg(rs, m, 0);
    struct owned *o = find_owned(rs, m->sid);
    if (o != NULL) {
        o->handed = 0;
        o->due_ms = m->st.next_ms;
    }
}

static void rs_finish(struct outbox_store *s, struct outbox_msg *m) {
    struct redis_store *rs = rs_of(s);
    write_msg(rs, m, 1);
    struct owned *o = find_owned(rs, m->sid);
    if (o != NULL) {
        drop_owned(rs, o);
    }
}

/* ---- claims kept fresh ---- */

static void on_refresh_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                             const char *why) {
    (void)arg;
    (void)why;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        return;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        if (!str_elem(rep, i)) {
            continue;
        }
        struct owned *o = find_owned(rs, rep->element[i]->str);
        if (o == NULL) {
            continue;
        }
        log_event(LOG_WARN, "outbox: another replica claimed a message this one held", "outbox_id",
                  o->id, NULL);
        if (!o->handed) {
            drop_owned(rs, o);
        }
    }
}

static void refresh_claims(struct redis_store *rs) {
    const char *args[MAX_ARGS];
    int n = 0;
    args[n++] = "refresh";
    args[n++] = rs->prefix;
    args[n++] = GROUP;
    args[n++] = rs->consumer;
    struct owned *o;
    TAILQ_FOREACH(o, &rs->owned, link) {
        if (n < MAX_ARGS) {
            args[n++] = o->sid;
        }
    }
    const char *keys[] = {""};
    if (n > 4) {
        (void)send_script(rs, 0, keys, args, NULL, n, on_refresh_reply, NULL);
    }
}

/* ------------------------------------------------------------------ quota */

/* Reads the quota's {ok, have, max, used, left, total} into the view. */
static int read_quota(struct redis_store *rs, const redisReply *rep) {
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 6) {
        return -1;
    }
    for (size_t i = 0; i < 6; i++) {
        if (!str_elem(rep, i)) {
            return -1;
        }
    }
    rs->qview.known = strcmp(rep->element[1]->str, "1") == 0;
    rs->qview.max = strtod(rep->element[2]->str, NULL);
    rs->qview.used = strtod(rep->element[3]->str, NULL);
    rs->qview.left = strtod(rep->element[4]->str, NULL);
    rs->have_view = 1;
    return atoi(rep->element[0]->str);
}

static void on_quota_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                           const char *why) {
    (void)why;
    struct outbox_wait *w = arg;
    int ok = read_quota(rs, rep);
    if (w != NULL) {
        if (ok > 0) {
            outbox_quota_add(&rs->own, wall_ms(), w->n);
        }
        if (!w->cancelled) {
            w->quota_cb(w->arg, ok > 0);
        }
        free(w);
    }
}

static int send_quota(struct redis_store *rs, const char *op, double a, double b,
                      struct outbox_wait *w) {
    char x[40], y[40];
    snprintf(x, sizeof(x), "%.17g", a);
    snprintf(y, sizeof(y), "%.17g", b);
    const char *args[] = {"quota", rs->prefix, op, x, y};
    const char *keys[] = {""};
    return send_script(rs, 0, keys, args, NULL, 5, on_quota_reply, w);
}

static void rs_quota_reserve(struct outbox_store *s, double n, int64_t now_ms, outbox_quota_fn cb,
                             void *arg, struct outbox_wait **wp) {
    (void)now_ms;
    struct redis_store *rs = rs_of(s);
    struct outbox_wait *w = calloc(1, sizeof(*w));
    *wp = NULL;
    if (w == NULL) {
        cb(arg, 0);
        return;
    }
    w->rs = rs;
    w->quota_cb = cb;
    w->arg = arg;
    w->n = n;
    if (send_quota(rs, "reserve", n, 0, w) < 0) {
        free(w);
        cb(arg, 0); /* Redis is down: nothing is delivered anyway */
        return;
    }
    *wp = w;
}

static void rs_quota_add(struct outbox_store *s, double n, int64_t now_ms) {
    struct redis_store *rs = rs_of(s);
    outbox_quota_add(&rs->own, now_ms, n);
    if (send_quota(rs, "add", n, 0, NULL) < 0) {
        log_event(LOG_WARN, "outbox: the daily quota's count could not be updated in Redis",
                  "reason", rs->why, NULL);
    }
}

static void rs_quota_set_ses(struct outbox_store *s, double max24, double sent24) {
    (void)send_quota(rs_of(s), "ses", max24, sent24, NULL);
}

static void rs_quota_exceeded(struct outbox_store *s) {
    struct redis_store *rs = rs_of(s);
    rs->qview.left = 0;
    (void)send_quota(rs, "exceeded", 0, 0, NULL);
}

static void rs_quota_view(struct outbox_store *s, int64_t now_ms, struct outbox_quota_view *v) {
    struct redis_store *rs = rs_of(s);
    *v = rs->qview;
    if (!rs->have_view) {
        v->left = -1;
        v->max = -1;
    }
    v->own_used = outbox_quota_own(&rs->own, now_ms);
}

/* ------------------------------------------------------- stats and upkeep */

static void on_stats_reply(struct redis_store *rs, void *arg, const redisReply *rep,
                           const char *why) {
    (void)arg;
    (void)why;
    rs->stats_pending = 0;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 7) {
        return;
    }
    for (size_t i = 0; i < 7; i++) {
        if (!str_elem(rep, i)) {
            return;
        }
    }
    rs->stats.messages[OUTBOX_QUEUED] = strtod(rep->element[2]->str, NULL);
    rs->stats.messages[OUTBOX_SENDING] = strtod(rep->element[3]->str, NULL);
    rs->stats.messages[OUTBOX_SENT] = strtod(rep->element[5]->str, NULL);
    rs->stats.messages[OUTBOX_FAILED] = strtod(rep->element[6]->str, NULL);
    /* A stream entry id is "<ms>-<seq>": the oldest unfinished message's
     * arrival time on Redis's clock. */
    long long first = rep->element[4]->len > 0 ? atoll(rep->element[4]->str) : 0;
    int64_t now = wall_ms();
    rs->stats.oldest_age_s = first > 0 && now > first ? (double)(now - first) / 1000.0 : 0;
}

static void rs_stats(struct outbox_store *s, int64_t now_ms, struct outbox_store_stats *out) {
    (void)now_ms;
    *out = rs_of(s)->stats;
}

static int rs_ready(struct outbox_store *s, const char **why) {
    struct redis_store *rs = rs_of(s);
    if (rs->state != RS_UP) {
        *why = rs->why[0] != '\0' ? rs->why : "the outbox's Redis is not connected yet";
        return 0;
    }
    return 1;
}

/* Commands Redis has not answered yet, and changes not sent yet, while
 * Redis is up (down, nothing can be waited for). */
static size_t rs_pending(struct outbox_store *s) {
    struct redis_store *rs = rs_of(s);
    if (rs->state != RS_UP) {
        return 0;
    }
    size_t n = 0;
    struct rcmd *c;
    TAILQ_FOREACH(c, &rs->flight, link) { n++; }
    struct redo *r;
    TAILQ_FOREACH(r, &rs->redo, link) { n++; }
    return n;
}

static void rs_tick(struct outbox_store *s, int64_t now_ms) {
    struct redis_store *rs = rs_of(s);
    if (rs->state != RS_UP) {
        return;
    }
    if (now_ms >= rs->next_refresh_ms) {
        rs->next_refresh_ms = now_ms + rs->base.limits.claim_after_ms / 3;
        refresh_claims(rs);
    }
    if (!rs->stats_pending) {
        char ret[24];
        snprintf(ret, sizeof(ret), "%lld", (long long)(rs->base.limits.retention_ms / 1000));
        const char *args[] = {"stats", rs->prefix, ret};
        const char *keys[] = {""};
        rs->stats_pending = send_script(rs, 0, keys, args, NULL, 3, on_stats_reply, NULL) == 0;
        (void)send_quota(rs, "view", 0, 0, NULL);
    }
}

/* -------------------------------------------------------------- lifecycle */

static void rs_free(struct outbox_store *s) {
    struct redis_store *rs = rs_of(s);
    if (rs == NULL) {
        return;
    }
    rs->state = RS_DOWN;
    rs->take_cb = NULL;
    struct outbox_wait *w;
    TAILQ_FOREACH(w, &rs->waits, link) { w->cancelled = 1; }
    redis_conn_free(rs->conn); /* every command's callback runs, with NULL */
    rs->conn = NULL;
    while ((w = TAILQ_FIRST(&rs->deferred)) != NULL) {
        TAILQ_REMOVE(&rs->deferred, w, link);
        free(w);
    }
    struct owned *o;
    while ((o = TAILQ_FIRST(&rs->owned)) != NULL) {
        drop_owned(rs, o);
    }
    struct redo *r;
    while ((r = TAILQ_FIRST(&rs->redo)) != NULL) {
        TAILQ_REMOVE(&rs->redo, r, link);
        if (r->finish) { /* it will be sent again by whoever claims it */
            log_event(LOG_WARN,
                      "outbox: a finished message was not recorded in Redis before "
                      "stopping",
                      "outbox_id", r->id, NULL);
        }
        free(r->status);
        free(r);
    }
    struct event *evs[] = {rs->io_timer, rs->deferred_ev};
    for (size_t i = 0; i < 2; i++) {
        if (evs[i] != NULL) {
            event_free(evs[i]);
        }
    }
    free(rs);
}

static const struct outbox_store_ops redis_ops = {
    .put = rs_put,
    .get = rs_get,
    .cancel = rs_cancel,
    .take = rs_take,
    .save = rs_save,
    .release = rs_release,
    .finish = rs_finish,
    .quota_reserve = rs_quota_reserve,
    .quota_add = rs_quota_add,
    .quota_set_ses = rs_quota_set_ses,
    .quota_exceeded = rs_quota_exceeded,
    .quota_view = rs_quota_view,
    .stats = rs_stats,
    .ready = rs_ready,
    .pending = rs_pending,
    .tick = rs_tick,
    .free = rs_free,
};

struct outbox_store *outbox_store_redis_open(struct event_base *base, struct evdns_base *dns,
                                             const struct config *cfg, struct sp_err *err) {
    const char *prefix =
        cfg->throttle.redis_key_prefix != NULL ? cfg->throttle.redis_key_prefix : "ses-proxy:";
    struct redis_store *rs = calloc(1, sizeof(*rs));
    if (rs == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    rs->base.ops = &redis_ops;
    uint64_t t = (uint64_t)cfg->throttle.redis_timeout_ms * 1000u;
    rs->timeout_us = t > TIMEOUT_MIN_US ? t : TIMEOUT_MIN_US;
    rs->announced = -1;
    TAILQ_INIT(&rs->flight);
    TAILQ_INIT(&rs->waits);
    TAILQ_INIT(&rs->deferred);
    TAILQ_INIT(&rs->owned);
    TAILQ_INIT(&rs->redo);
    outbox_quota_init(&rs->own);
    rs->qview.left = rs->qview.max = -1;
    snprintf(rs->cursor, sizeof(rs->cursor), "0-0");
    snprintf(rs->prefix, sizeof(rs->prefix), "%s{%s}:outbox:", prefix, cfg->region);
    char host[64] = "host";
    (void)gethostname(host, sizeof(host) - 1);
    uint32_t rnd = arc4random();
    snprintf(rs->consumer, sizeof(rs->consumer), "%.60s-%ld-%08x", host, (long)getpid(), rnd);
    struct redis_conn_cfg cc = {
        .base = base,
        .dns = dns,
        .host = cfg->throttle.redis_host,
        .port = cfg->throttle.redis_port,
        .unix_path = cfg->throttle.redis_unix,
        .db = cfg->throttle.redis_db,
        .script = outbox_redis_script,
        .connect_timeout_us = rs->timeout_us,
        .up = on_up,
        .down = on_down,
        .arg = rs,
    };
    rs->conn = redis_conn_new(&cc, err);
    if (rs->conn == NULL) {
        rs_free(&rs->base);
        return NULL;
    }
    const char *addr = redis_conn_addr(rs->conn);
    snprintf(rs->why, sizeof(rs->why), "the outbox's Redis (%s) is not connected yet", addr);
    rs->io_timer = evtimer_new(base, on_io_timer, rs);
    rs->deferred_ev = event_new(base, -1, 0, on_deferred, rs);
    if (rs->io_timer == NULL || rs->deferred_ev == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        rs_free(&rs->base);
        return NULL;
    }
    log_event(LOG_INFO, "outbox: Redis store", "redis", addr, "keys", rs->prefix, NULL);
    redis_conn_start(rs->conn);
    return &rs->base;
}
