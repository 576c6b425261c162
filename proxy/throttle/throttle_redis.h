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
 * region and replicas); px->apis[].op_buckets and px->send_bucket are read on each
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

/* The reconnect backoff after `ms` (0 = first failure): 100 ms doubling to
 * 5 s. */
unsigned throttle_redis_next_backoff(unsigned ms);

#endif
