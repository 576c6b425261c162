/* throttle_redis.h - the shared throttle backend: the same buckets for every
 * replica, kept in Redis (throttle.backend "redis").
 *
 * While Redis answers, it decides every call. One Lua script (EVALSHA),
 * atomic in Redis, reserves a call's tokens in all of its buckets at once
 * (the operation's and the send rate's: all or nothing) with GCRA: each
 * bucket is one key holding its "theoretical arrival time" in microseconds
 * of Redis's own clock (TIME), so every replica reads one clock. The script
 * answers "go after wait_us" (the reservation is made) or "refused, could
 * go after retry_us" (nothing changed) when the wait would pass
 * throttle.max_wait_ms. The proxy waits out the reservation on a local
 * timer, then grants the ticket through throttle_remote_done(). The calls
 * waiting so are this replica's queue: when throttle.max_queue of them wait
 * on one of a new call's buckets, it is refused at once, without asking
 * Redis, as the local buckets do.
 *
 * While Redis is down, slow (no answer within throttle.redis_timeout_ms) or
 * answering errors, the local buckets decide, each replica at its share of
 * the rate (1/throttle.replicas; throttle_redis_set_limit). The backend
 * reconnects with backoff (100 ms doubling to 5 s) and says so: one log
 * line per transition, and stats (up, fallback_total) for /metrics. On the
 * way down, calls waiting for Redis's answer go to the local buckets; on the
 * way back up, calls queued in the local buckets are handed to Redis in
 * their queue order (one that Redis cannot serve by its deadline goes back
 * to the local queue), so no queued call is lost either way.
 *
 * Ownership: struct throttle_redis is owned by struct proxy (proxy_new,
 * proxy_reload, proxy_free). It borrows px's event_base, evdns_base,
 * throttle and buckets, which outlive it, and reads px->cfg. Tickets are
 * the requests' memory: the backend holds one from its acquire until it
 * calls throttle_remote_done() or the ticket is cancelled, never after.
 *
 * Never: blocks the loop (host names resolve through evdns, hiredis runs
 * non-blocking on the libevent adapter, every wait is a timer); holds a call
 * hostage to Redis (see above); stores anything but bucket names and times
 * in Redis (no secret, no address, no message). */
#ifndef SP_THROTTLE_REDIS_H
#define SP_THROTTLE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/throttle/throttle.h"
#include "signer/check.h"

struct proxy;
struct config;
struct throttle_redis;

struct throttle_redis_stats {
    int up;                  /* 1 while Redis decides (gauge) */
    uint64_t fallback_total; /* calls the local buckets decided instead of Redis */
    uint64_t down_total;     /* transitions from up to down */
    uint64_t granted_total;  /* calls Redis granted (at once or after a wait) */
    uint64_t refused_total;  /* calls Redis refused (wait past the deadline) */
};

/* Starts connecting (never blocks) and installs itself as px->throttle's
 * remote backend. cfg is the snapshot it is built for (its redis_* keys,
 * region and replicas); px->op_buckets and px->send_bucket are read on each
 * return to Redis. NULL with err on out of memory or a key prefix too long. */
struct throttle_redis *throttle_redis_new(struct proxy *px, const struct config *cfg,
                                          struct sp_err *err);
/* Hands every ticket it holds to the local buckets (their callbacks may run
 * from here), detaches from the throttle, closes the connection. NULL is a
 * no-op. */
void throttle_redis_free(struct throttle_redis *r);
/* 1 when cfg would build the same backend (address, db, key prefix,
 * region, timeout), so a reload may keep the connection. */
int throttle_redis_same(const struct throttle_redis *r, const struct config *cfg);
/* The replica count changed (a reload that keeps the connection); call it
 * right after the buckets were split for the new count. */
void throttle_redis_set_share(struct throttle_redis *r, double share);
const struct throttle_redis_stats *throttle_redis_stats(const struct throttle_redis *r);
/* Calls of this replica waiting for a slot Redis reserved in bucket b (its
 * share of ses_proxy_throttle_queue_depth). */
size_t throttle_redis_waiting(const struct throttle_redis *r, const struct throttle_bucket *b);

/* ---- Limits: the account's vs this replica's share (pure). ---- */

/* The divisor of the local buckets: throttle.replicas with backend "redis",
 * else 1. */
double throttle_redis_share(const struct config *cfg);
/* Sets b to an account-wide limit: shared_rate/shared_burst = rate/burst
 * (what Redis enforces for all replicas), the local bucket at rate/share and
 * burst/share (never under 1 token). */
void throttle_redis_set_limit(struct throttle_bucket *b, double rate, double burst, double share,
                              uint64_t now);
/* A bucket whose local rate was set with throttle_bucket_set_rate alone
 * (quota.c's GetSendQuota, which knows only one rate) no longer matches
 * shared_rate/share: take that rate as the new account-wide limit and
 * split it. Returns 1 when it did. */
int throttle_redis_adopt(struct throttle_bucket *b, double share, uint64_t now);

/* ---- The script's arguments and answers (pure, for tests). ---- */

#define THROTTLE_REDIS_KEY_MAX 320
#define THROTTLE_REDIS_MAX_ARGS (6 + 4 * THROTTLE_MAX_STAGES)

/* The Lua script (GCRA over several keys; see throttle_redis.c). */
extern const char throttle_redis_script[];

/* One EVALSHA (or EVAL) of the script: argv points into the struct. */
struct throttle_redis_call {
    int argc;
    const char *argv[THROTTLE_REDIS_MAX_ARGS];
    size_t argvlen[THROTTLE_REDIS_MAX_ARGS];
    int n_keys;
    char keys[THROTTLE_MAX_STAGES][THROTTLE_REDIS_KEY_MAX];
    double back_us[THROTTLE_MAX_STAGES]; /* what each key advanced: cost * interval */
    char nums[3 + 3 * THROTTLE_MAX_STAGES][32];
};

/* "take" for tk's stages from tk->stage on, each bucket at its shared
 * limit (slowed like the local bucket after an SES Throttling answer):
 * interval = ceil(1e6 / rate) us, burst, cost = tokens. sha NULL = EVAL
 * with the script text. now_us 0 = Redis's TIME (tests pass a clock).
 * Buckets without a shared limit are left out; returns the number of keys
 * (0: nothing to ask). */
int throttle_redis_build_take(struct throttle_redis_call *c, const char *sha,
                              const char *key_prefix, const struct throttle_ticket *tk,
                              uint64_t max_wait_us, uint64_t now_us);
/* "give": hands back a reservation that is still the last one of its keys
 * (a caller gone before its turn). tats[i] as the take answered them. */
void throttle_redis_build_give(struct throttle_redis_call *c, const char *sha,
                               const struct throttle_redis_call *take, const char (*tats)[24]);

struct throttle_redis_verdict {
    int granted;      /* 1: reserved, go after wait_us; 0: refused */
    uint64_t wait_us; /* the wait (granted) or the wait it would need (refused) */
    int64_t now_us;   /* the script's clock (Redis's TIME) */
    int n_tats;
    char tats[THROTTLE_MAX_STAGES][24]; /* new arrival time per key (granted) */
};

struct redisReply;
/* Reads the script's answer: {1, wait, now, tat...} or {0, retry, now}. -1
 * with err for anything else (an error reply included; NOSCRIPT is the
 * caller's). */
int throttle_redis_parse_verdict(const struct redisReply *reply, int n_keys,
                                 struct throttle_redis_verdict *v,
                                 struct sp_err *err) SP_WARN_UNUSED;

/* The reconnect backoff after `ms` (0 = first failure): 100 ms doubling to
 * 5 s. */
unsigned throttle_redis_next_backoff(unsigned ms);

#endif
