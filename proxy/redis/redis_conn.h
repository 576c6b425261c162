/* redis_conn.h - one Redis connection's life: resolve, connect, handshake,
 * lose it, reconnect with backoff, close. The shared throttle
 * (throttle_redis.h) and the outbox's Redis store (outbox_store.h) each own
 * one and send their own commands on it.
 *
 * A connection goes DOWN -> CONNECTING -> UP, and back to DOWN on any
 * failure. CONNECTING resolves the host through evdns (or takes the unix
 * socket), connects, sends SELECT db (when db is not 0) and SCRIPT LOAD of
 * the user's script, all under one deadline (connect_timeout_us). SCRIPT
 * LOAD's answer (the script's sha) makes it UP and calls `up`. DOWN calls
 * `down` once per failure, closes the connection (hiredis then calls back
 * every command still in flight with a NULL reply) and reconnects after a
 * backoff (100 ms doubling to 5 s; redis_conn_reset_backoff starts over
 * once the user sees Redis work).
 *
 * The user keeps its own commands: their callbacks, what is in flight and
 * how long an answer may take. It tells the connection what it saw: an
 * answer it cannot use or no answer in time (redis_conn_drop), a NULL reply
 * (redis_conn_gone). A command's callback tells the live connection from an
 * old one going away with redis_conn_owns().
 *
 * Ownership: the user owns struct redis_conn (redis_conn_new,
 * redis_conn_free). It borrows the event_base, the evdns_base and the
 * script text, which outlive it, and copies the addresses. It owns the
 * redisAsyncContext: users send on it (redis_conn_ac) but never free it or
 * touch its data and callbacks.
 *
 * Threading: the event loop's thread only. Callbacks run from the loop, or
 * from redis_conn_start, redis_conn_drop and redis_conn_gone; the user may
 * free the connection from any of them (and from its commands' callbacks).
 *
 * Never: blocks the loop (evdns, never getaddrinfo(3); hiredis runs
 * non-blocking on the libevent adapter; every wait is a timer). */
#ifndef SP_REDIS_CONN_H
#define SP_REDIS_CONN_H

#include <stdint.h>

#include "signer/check.h"

struct event_base;
struct evdns_base;
struct redisAsyncContext;
struct redis_conn;

/* UP: the handshake is done; sha is the script's (40 hex digits). */
typedef void (*redis_conn_up_fn)(void *arg, const char *sha);
/* DOWN: reason is valid only during the call; was_up says whether it was
 * UP. The connection is detached already: commands still in flight get
 * their NULL reply after this returns. */
typedef void (*redis_conn_down_fn)(void *arg, const char *reason, int was_up);

struct redis_conn_cfg {
    struct event_base *base;
    struct evdns_base *dns;
    const char *host; /* resolved through evdns, with port; or */
    int port;
    const char *unix_path;       /* a unix socket (wins over host) */
    int db;                      /* SELECT db first when not 0 */
    const char *script;          /* SCRIPT LOAD'ed on each connection */
    uint64_t connect_timeout_us; /* resolve + connect + handshake */
    redis_conn_up_fn up;
    redis_conn_down_fn down;
    void *arg;
};

/* Does not connect yet (redis_conn_start). NULL with err on out of memory
 * or no address. */
struct redis_conn *redis_conn_new(const struct redis_conn_cfg *cfg, struct sp_err *err);
/* Starts the first connection (never blocks; `down` may run from here). */
void redis_conn_start(struct redis_conn *c);
/* Closes the connection (commands in flight get their NULL reply from
 * here, `down` does not run), cancels a lookup. NULL is a no-op. */
void redis_conn_free(struct redis_conn *c);

/* The connection while UP, else NULL: for the user's commands. */
struct redisAsyncContext *redis_conn_ac(const struct redis_conn *c);
int redis_conn_is_up(const struct redis_conn *c);
/* 1 when ac is c's live connection, 0 for an old one going away. Reads
 * only ac, so it is safe in a callback that runs after c was freed. */
int redis_conn_owns(const struct redis_conn *c, const struct redisAsyncContext *ac);
/* "host:port/db" or "unix:path", for logs. */
const char *redis_conn_addr(const struct redis_conn *c);

/* The user cannot go on with this connection (an error answer, no answer
 * in time): DOWN with reason, closed, reconnect later. A no-op when DOWN.
 * Safe from the connection's own callbacks (hiredis frees it after). */
void redis_conn_drop(struct redis_conn *c, const char *reason);
/* A command's callback had a NULL reply: hiredis is freeing ac. When ac
 * is the live connection: DOWN with ac's error ("connection lost" when it
 * has none), not freed here. */
void redis_conn_gone(struct redis_conn *c, const struct redisAsyncContext *ac);
/* Redis works: the next failure retries after the shortest backoff. */
void redis_conn_reset_backoff(struct redis_conn *c);

/* The reconnect backoff after `ms` (0 = first failure): 100 ms doubling to
 * 5 s. */
unsigned redis_conn_next_backoff(unsigned ms);

#endif
