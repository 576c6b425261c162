/* redis_script.h - the shared throttle's Lua script, the commands that run
 * it and the reading of its answers: the pure half of the Redis backend
 * (throttle_redis.h owns the connection and the waiting calls).
 *
 * The script reserves a call's tokens in all of its buckets at once with
 * GCRA (redis_script.c says how); these functions build its EVALSHA (or
 * EVAL) arguments from a throttle ticket and read its answer. Nothing here
 * does I/O or keeps state: tests drive it with a fake Redis. */
#ifndef SP_REDIS_SCRIPT_H
#define SP_REDIS_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/throttle/throttle.h"
#include "signer/check.h"

#define REDIS_SCRIPT_KEY_MAX 320
#define REDIS_SCRIPT_MAX_ARGS (6 + 4 * THROTTLE_MAX_STAGES)

/* The Lua script (GCRA over several keys; see throttle_redis.c). */
extern const char redis_script_text[];

/* One EVALSHA (or EVAL) of the script: argv points into the struct. */
struct redis_script_call {
    int argc;
    const char *argv[REDIS_SCRIPT_MAX_ARGS];
    size_t argvlen[REDIS_SCRIPT_MAX_ARGS];
    int n_keys;
    char keys[THROTTLE_MAX_STAGES][REDIS_SCRIPT_KEY_MAX];
    double back_us[THROTTLE_MAX_STAGES]; /* what each key advanced: cost * interval */
    char nums[3 + 3 * THROTTLE_MAX_STAGES][32];
};

/* "take" for tk's stages from tk->stage on, each bucket at its shared
 * limit (slowed like the local bucket after an SES Throttling answer):
 * interval = ceil(1e6 / rate) us, burst, cost = tokens. sha NULL = EVAL
 * with the script text. now_us 0 = Redis's TIME (tests pass a clock).
 * Buckets without a shared limit are left out; returns the number of keys
 * (0: nothing to ask). */
int redis_script_take(struct redis_script_call *c, const char *sha, const char *key_prefix,
                      const struct throttle_ticket *tk, uint64_t max_wait_us, uint64_t now_us);
/* "give": hands back a reservation that is still the last one of its keys
 * (a caller gone before its turn). tats[i] as the take answered them. */
void redis_script_give(struct redis_script_call *c, const char *sha,
                       const struct redis_script_call *take, const char (*tats)[24]);

struct redis_script_verdict {
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
int redis_script_verdict(const struct redisReply *reply, int n_keys, struct redis_script_verdict *v,
                         struct sp_err *err) SP_WARN_UNUSED;

#endif
