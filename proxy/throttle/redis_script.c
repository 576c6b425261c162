/* redis_script.c - the shared throttle's script and its commands (see
 * redis_script.h). */
#include "proxy/throttle/redis_script.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* KEYS: one per bucket. ARGV[1]: "take" | "give". ARGV[2]: now in us, or ""
 * for Redis's TIME (one clock for every replica; tests pass their own).
 * ARGV[3]: take: the longest wait in us the caller accepts. Then three per
 * key; take: interval in us (1e6 / rate), burst, cost in tokens; give: the
 * arrival time that take set, the us to hand back, unused.
 *
 * GCRA: a key holds its bucket's theoretical arrival time (tat). The bucket
 * is full when tat <= now, else it holds burst - (tat - now) / interval
 * tokens. A call may go once each of its buckets holds min(cost, burst) (a
 * call wanting more than the burst waits for a full bucket and takes it all,
 * as the local buckets do), at `go`, the latest such moment over its keys;
 * each key then moves to max(tat, go) + cost * interval. Refused: nothing
 * changes. Times are whole microseconds (exact in Lua's doubles); a key
 * expires a second after its bucket is full again. The reservation is all
 * or nothing across keys because the script runs atomically.
 *
 * Answer: {1, wait, now, tat per key} or {0, wait it would need, now}, now
 * being the script's clock (it lets a replica map Redis's time onto its own
 * clock, see struct clock_map).
 *
 * Before Redis 5 a script must ask for effects replication to write after
 * TIME; later versions do that anyway. */
const char redis_script_text[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local now = tonumber(ARGV[2])\n"
    "if not now then\n"
    "  local t = redis.call('TIME')\n"
    "  now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "end\n"
    "local n = #KEYS\n"
    "if ARGV[1] == 'give' then\n"
    "  local given = 0\n"
    "  for i = 1, n do\n"
    "    local b = 3 * i\n"
    "    local cur = tonumber(redis.call('GET', KEYS[i]))\n"
    "    if cur and cur == tonumber(ARGV[b + 1]) then\n"
    "      local back = cur - tonumber(ARGV[b + 2])\n"
    "      if back > now then\n"
    "        redis.call('SET', KEYS[i], string.format('%.0f', back), 'PX',\n"
    "                   math.ceil((back - now) / 1000) + 1000)\n"
    "      else\n"
    "        redis.call('DEL', KEYS[i])\n"
    "      end\n"
    "      given = given + 1\n"
    "    end\n"
    "  end\n"
    "  return given\n"
    "end\n"
    "local go = now\n"
    "local old = {}\n"
    "for i = 1, n do\n"
    "  local b = 3 * i\n"
    "  local iv = tonumber(ARGV[b + 1])\n"
    "  local burst = tonumber(ARGV[b + 2])\n"
    "  local cost = tonumber(ARGV[b + 3])\n"
    "  local tat = tonumber(redis.call('GET', KEYS[i])) or 0\n"
    "  old[i] = tat\n"
    "  local at = math.max(tat, now) - (burst - math.min(cost, burst)) * iv\n"
    "  if at > go then go = at end\n"
    "end\n"
    "local wait = math.ceil(go - now)\n"
    "local t = string.format('%.0f', now)\n"
    "if wait > tonumber(ARGV[3]) then return {0, wait, t} end\n"
    "local out = {1, wait, t}\n"
    "for i = 1, n do\n"
    "  local b = 3 * i\n"
    "  local tat = math.max(old[i], go) + tonumber(ARGV[b + 3]) * tonumber(ARGV[b + 1])\n"
    "  local s = string.format('%.0f', tat)\n"
    "  redis.call('SET', KEYS[i], s, 'PX', math.ceil((tat - now) / 1000) + 1000)\n"
    "  out[3 + i] = s\n"
    "end\n"
    "return out\n";

static void put_arg(struct redis_script_call *c, const char *s) {
    c->argv[c->argc] = s;
    c->argvlen[c->argc] = strlen(s);
    c->argc++;
}

/* The head of every call: EVALSHA sha N keys... (or EVAL script). */
static void put_head(struct redis_script_call *c, const char *sha) {
    c->argc = 0;
    put_arg(c, sha != NULL ? "EVALSHA" : "EVAL");
    put_arg(c, sha != NULL ? sha : redis_script_text);
    snprintf(c->nums[0], sizeof(c->nums[0]), "%d", c->n_keys);
    put_arg(c, c->nums[0]);
    for (int i = 0; i < c->n_keys; i++) {
        put_arg(c, c->keys[i]);
    }
}

int redis_script_take(struct redis_script_call *c, const char *sha, const char *key_prefix,
                      const struct throttle_ticket *tk, uint64_t max_wait_us, uint64_t now_us) {
    double iv[THROTTLE_MAX_STAGES], burst[THROTTLE_MAX_STAGES], cost[THROTTLE_MAX_STAGES];
    c->n_keys = 0;
    for (int i = tk->stage; i < tk->n_stages; i++) {
        const struct throttle_bucket *b = tk->stages[i];
        double rate = b->shared_rate;
        if (rate <= 0) {
            continue; /* unlimited now (a reload): nothing to reserve */
        }
        /* SES said Throttling to this replica: its local bucket runs
         * slower for a while (throttle_bucket_penalize); so do its
         * reservations. */
        if (b->configured_rate > 0 && b->rate > 0 && b->rate < b->configured_rate) {
            rate *= b->rate / b->configured_rate;
        }
        int k = c->n_keys++;
        snprintf(c->keys[k], sizeof(c->keys[k]), "%s%s", key_prefix, b->name);
        iv[k] = ceil(1e6 / rate); /* whole us, rounded to the slow side */
        burst[k] = b->shared_burst < 1 ? 1 : b->shared_burst;
        cost[k] = tk->tokens[i];
        c->back_us[k] = cost[k] * iv[k];
    }
    put_head(c, sha);
    put_arg(c, "take");
    if (now_us != 0) {
        snprintf(c->nums[1], sizeof(c->nums[1]), "%llu", (unsigned long long)now_us);
    } else {
        c->nums[1][0] = '\0';
    }
    put_arg(c, c->nums[1]);
    snprintf(c->nums[2], sizeof(c->nums[2]), "%llu", (unsigned long long)max_wait_us);
    put_arg(c, c->nums[2]);
    for (int k = 0; k < c->n_keys; k++) {
        char *n = c->nums[3 + 3 * k];
        snprintf(n, 32, "%.0f", iv[k]);
        snprintf(n + 32, 32, "%.17g", burst[k]);
        snprintf(n + 64, 32, "%.17g", cost[k]);
        put_arg(c, n);
        put_arg(c, n + 32);
        put_arg(c, n + 64);
    }
    return c->n_keys;
}

void redis_script_give(struct redis_script_call *c, const char *sha,
                       const struct redis_script_call *take, const char (*tats)[24]) {
    c->n_keys = take->n_keys;
    for (int k = 0; k < c->n_keys; k++) {
        memcpy(c->keys[k], take->keys[k], sizeof(c->keys[k]));
        c->back_us[k] = take->back_us[k];
    }
    put_head(c, sha);
    put_arg(c, "give");
    put_arg(c, "");
    put_arg(c, "0");
    for (int k = 0; k < c->n_keys; k++) {
        char *n = c->nums[3 + 3 * k];
        snprintf(n, 32, "%s", tats[k]);
        snprintf(n + 32, 32, "%.0f", c->back_us[k]);
        put_arg(c, n);
        put_arg(c, n + 32);
        put_arg(c, "0");
    }
}

static int reply_int(const redisReply *e, long long *out) {
    if (e->type == REDIS_REPLY_INTEGER) {
        *out = e->integer;
        return 0;
    }
    if (e->type == REDIS_REPLY_STRING && e->len > 0 && e->len < 24) {
        char buf[24], *end;
        memcpy(buf, e->str, e->len);
        buf[e->len] = '\0';
        *out = strtoll(buf, &end, 10);
        return *end == '\0' ? 0 : -1;
    }
    return -1;
}

int redis_script_verdict(const struct redisReply *reply, int n_keys, struct redis_script_verdict *v,
                         struct sp_err *err) {
    memset(v, 0, sizeof(*v));
    ENSURE(reply != NULL, err, "RedisError", "no answer");
    if (reply->type == REDIS_REPLY_ERROR) {
        return sp_fail(err, "RedisError", "Redis answered: %.200s", reply->str);
    }
    ENSURE(reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3, err, "RedisError",
           "the script's answer is not {verdict, wait, now, ...}");
    long long granted, wait, now;
    ENSURE(
        reply_int(reply->element[0], &granted) == 0 && reply_int(reply->element[1], &wait) == 0 &&
            reply_int(reply->element[2], &now) == 0 && (granted == 0 || granted == 1) && wait >= 0,
        err, "RedisError", "the script's answer has no verdict, wait and time");
    v->granted = (int)granted;
    v->wait_us = (uint64_t)wait;
    v->now_us = now;
    if (!v->granted) {
        return 0;
    }
    ENSURE(reply->elements == (size_t)n_keys + 3 && n_keys <= THROTTLE_MAX_STAGES, err,
           "RedisError", "the script granted %zu keys, not %d", reply->elements - 3, n_keys);
    for (int k = 0; k < n_keys; k++) {
        long long tat;
        ENSURE(reply_int(reply->element[3 + k], &tat) == 0, err, "RedisError",
               "the script's arrival time %d is not a number", k + 1);
        snprintf(v->tats[k], sizeof(v->tats[k]), "%lld", tat);
    }
    v->n_tats = n_keys;
    return 0;
}
