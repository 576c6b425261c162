/* outbox_store.h - where the outbox keeps its messages: the interface that
 * the file store (SQLite, outbox_store_file.c) and the Redis store (a
 * stream with a consumer group, outbox_store_redis.c) implement, and that
 * only outbox.c and outbox_http.c call.
 *
 * A store answers for durability (a put is answered only once the message
 * is on disk and fsync'd, or acknowledged by Redis), for idempotency keys,
 * for the bounds (outbox.max_messages, outbox.max_bytes), for the order of
 * delivery (oldest first) and for the daily quota's count (local, or in
 * Redis for every replica). It never sends anything: outbox.c delivers.
 *
 * The life of a message in a store: put (queued) -> take (handed to the
 * delivery engine) -> save (sending, attempts) -> release (queued again,
 * with a retry time or held by the quota) or finish (sent or failed: the
 * body is purged, the status is kept for outbox.retention_s).
 *
 * Callbacks: put's always runs later, from the event loop; get's and
 * quota_reserve's may run before the call returns (the file store answers
 * at once), in which case no wait handle is given. A cancelled wait never
 * calls back. Messages handed by take are the engine's (it frees them);
 * release and finish only write. */
#ifndef SP_OUTBOX_STORE_H
#define SP_OUTBOX_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "proxy/outbox/outbox_record.h"
#include "signer/check.h"

struct config;
struct event_base;
struct evdns_base;
struct outbox_store;
struct outbox_wait;

/* A message the engine holds. */
struct outbox_msg {
    char id[OUTBOX_ID_LEN + 1];
    struct outbox_status st;
    enum outbox_state stored; /* the state the store holds (st.state may be ahead) */
    uint8_t *record;          /* the encoded request (owned) */
    size_t record_len;
    struct outbox_request req; /* decoded from record (points into it) */
    int64_t seq;               /* the file store's row */
    char sid[48];              /* the Redis store's stream entry */
    TAILQ_ENTRY(outbox_msg) link;
};
TAILQ_HEAD(outbox_msg_list, outbox_msg);

/* Frees m (its record and status). */
void outbox_msg_free(struct outbox_msg *m);
/* A message read back from a store: the record copied and decoded, the
 * status decoded. NULL with err when either is corrupt. */
struct outbox_msg *outbox_msg_load(const char *id, const void *record, size_t record_len,
                                   const char *status, size_t status_len, struct sp_err *err);

/* A new message. */
struct outbox_new {
    char id[OUTBOX_ID_LEN + 1];
    struct outbox_status st; /* queued, created now */
    const uint8_t *record;   /* borrowed for the call */
    size_t record_len;
    const char *idem_key; /* NULL: none */
    uint8_t idem_hash[32];
};

enum outbox_put_result {
    OUTBOX_PUT_STORED,      /* stored: answer 202 */
    OUTBOX_PUT_EXISTING,    /* the same key, operation and body: that message (202) */
    OUTBOX_PUT_KEY_REUSED,  /* the same key with another body (422) */
    OUTBOX_PUT_KEY_BUSY,    /* the same key is being stored right now (409) */
    OUTBOX_PUT_FULL,        /* max_messages, max_bytes or the disk (503, Retry-After) */
    OUTBOX_PUT_UNAVAILABLE, /* the store cannot take it now (503) */
};

struct outbox_put_answer {
    enum outbox_put_result result;
    char id[OUTBOX_ID_LEN + 1]; /* STORED, EXISTING */
    struct outbox_status st;    /* EXISTING: its status now (borrowed for the call) */
    char why[200];              /* FULL, UNAVAILABLE */
};

typedef void (*outbox_put_fn)(void *arg, const struct outbox_put_answer *a);
/* found: 1 with st (borrowed for the call), 0 unknown id, -1 the store
 * could not be asked (why says so). */
typedef void (*outbox_get_fn)(void *arg, int found, const struct outbox_status *st,
                              const char *why);
/* Messages moved to the engine (the list is emptied), oldest first. */
typedef void (*outbox_take_fn)(void *arg, struct outbox_msg_list *msgs);
/* ok: 1 the recipients were counted, 0 they do not fit the quota. */
typedef void (*outbox_quota_fn)(void *arg, int ok);

/* The quota as the store counts it (for HeldFor and the metrics). */
struct outbox_quota_view {
    int known;       /* GetSendQuota answered (here or, with Redis, anywhere) */
    double max;      /* Max24HourSend; < 0 unlimited */
    double used;     /* account: max(counted, SentLast24Hours + since) */
    double left;     /* -1 unlimited or unknown */
    double own_used; /* this replica's own count over 24 h */
};

struct outbox_store_stats {
    double messages[OUTBOX_N_STATES]; /* by state (Redis: sent/failed within retention) */
    double oldest_age_s;              /* the oldest unfinished message; 0 = none */
};

struct outbox_store_ops {
    /* Stores m (or finds its idempotent twin). *w: a handle to cancel the
     * answer (the client left; the message stays stored); NULL when out of
     * memory, and then cb is never called. */
    void (*put)(struct outbox_store *s, const struct outbox_new *m, outbox_put_fn cb, void *arg,
                struct outbox_wait **w);
    void (*get)(struct outbox_store *s, const char *id, outbox_get_fn cb, void *arg,
                struct outbox_wait **w);
    void (*cancel)(struct outbox_store *s, struct outbox_wait *w);
    /* Up to n messages due now (queued, next_ms passed), oldest first;
     * cb may get an empty list. At most one take at a time. */
    void (*take)(struct outbox_store *s, size_t n, int64_t now_ms, outbox_take_fn cb, void *arg);
    /* m's status changed (sending, attempts); the engine keeps m. */
    void (*save)(struct outbox_store *s, struct outbox_msg *m);
    /* m goes back to the queue with its status: due at m->st.next_ms. */
    void (*release)(struct outbox_store *s, struct outbox_msg *m);
    /* m is sent or failed: its status saved, its body purged. */
    void (*finish)(struct outbox_store *s, struct outbox_msg *m);
    /* The quota: counts n recipients now when they fit. */
    void (*quota_reserve)(struct outbox_store *s, double n, int64_t now_ms, outbox_quota_fn cb,
                          void *arg, struct outbox_wait **w);
    /* Counts n (negative: gives back) without asking (synchronous sends,
     * deliveries SES did not take). */
    void (*quota_add)(struct outbox_store *s, double n, int64_t now_ms);
    void (*quota_set_ses)(struct outbox_store *s, double max24, double sent24);
    void (*quota_exceeded)(struct outbox_store *s);
    void (*quota_view)(struct outbox_store *s, int64_t now_ms, struct outbox_quota_view *v);
    void (*stats)(struct outbox_store *s, int64_t now_ms, struct outbox_store_stats *out);
    /* 1 when a put could be stored now; else 0 and *why. */
    int (*ready)(struct outbox_store *s, const char **why);
    /* Writes sent and not yet acknowledged (the drain waits for them). */
    size_t (*pending)(struct outbox_store *s);
    /* Called every second: retention, expiry of idempotency keys, claims. */
    void (*tick)(struct outbox_store *s, int64_t now_ms);
    void (*free)(struct outbox_store *s);
};

/* The limits a store reads at each use (outbox.c sets them; a reload
 * changes them). */
struct outbox_limits {
    int64_t max_messages;
    int64_t max_bytes;
    int64_t max_age_ms;
    int64_t retention_ms;
    int64_t claim_after_ms;
};

struct outbox_store {
    const struct outbox_store_ops *ops;
    struct outbox_limits limits;
    /* Called when messages may have become due (a put made durable, a
     * claim): the engine looks for work. Set by outbox.c. */
    void (*wake)(void *arg);
    void *wake_arg;
};

/* Opens the file store in cfg->outbox.path (created 0700, locked). NULL
 * with err when it cannot be opened (in use, not writable, corrupt). */
struct outbox_store *outbox_store_file_open(struct event_base *base, const struct config *cfg,
                                            struct sp_err *err);

/* Starts the Redis store on cfg's throttle.redis_url (never blocks: it
 * connects in the background and is unavailable until then). */
struct outbox_store *outbox_store_redis_open(struct event_base *base, struct evdns_base *dns,
                                             const struct config *cfg, struct sp_err *err);

#endif
