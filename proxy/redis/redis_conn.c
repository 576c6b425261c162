/* redis_conn.c - one Redis connection's life (see redis_conn.h).
 *
 * ac->data is c while ac is the live connection and NULL once it goes:
 * every hiredis callback checks it first, so an old connection's late
 * callbacks (hiredis calls each command back with NULL as it frees the
 * connection) do nothing, and never read c, which may be freed by then.
 *
 * lost() is the one way down. Whether it frees the redisAsyncContext
 * depends on who is freeing it: not from hiredis's callbacks with a NULL
 * reply or its connect and disconnect callbacks (hiredis is freeing it
 * itself), else yes (a free from inside a callback with a reply is
 * deferred by hiredis until the callback returns). The user hears of it
 * last, since it may free c: nothing reads c after `up` or `down`. */
#include "proxy/redis/redis_conn.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u

enum rc_state { RC_DOWN, RC_CONNECTING, RC_UP };

struct redis_conn {
    struct event_base *base;
    struct evdns_base *dns;
    char *host;
    int port;
    char *unix_path;
    int db;
    const char *script;
    uint64_t connect_timeout_us;
    redis_conn_up_fn up;
    redis_conn_down_fn down;
    void *arg;
    char addr[300]; /* for logs */

    enum rc_state state;
    redisAsyncContext *ac; /* ac->data == this while it is the live one */
    struct evdns_getaddrinfo_request *dns_req;
    int resolving;
    int starting; /* in connect_start's evdns_getaddrinfo */
    int freed;    /* redis_conn_free ran meanwhile: connect_start frees */
    char sha[41];
    unsigned backoff_ms;
    struct event *connect_timer;
    struct event *retry_timer;
};

unsigned redis_conn_next_backoff(unsigned ms) {
    if (ms < BACKOFF_MIN_MS) {
        return BACKOFF_MIN_MS;
    }
    return ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : ms * 2;
}

static void arm_us(struct event *ev, uint64_t us) {
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    evtimer_add(ev, &tv);
}

static void cancel_lookup(struct redis_conn *c) {
    if (c->dns_req != NULL) {
        struct evdns_getaddrinfo_request *req = c->dns_req;
        c->dns_req = NULL;
        c->resolving = 0;
        evdns_getaddrinfo_cancel(req); /* on_resolved runs with CANCEL */
    }
}

/* Any failure: DOWN, reconnect later, then the user hears of it. free_ac =
 * 0 when hiredis is freeing the connection itself. */
static void lost(struct redis_conn *c, const char *reason, int free_ac) {
    int was_up = c->state == RC_UP;
    c->state = RC_DOWN;
    evtimer_del(c->connect_timer);
    cancel_lookup(c);
    c->backoff_ms = redis_conn_next_backoff(c->backoff_ms);
    arm_us(c->retry_timer, (uint64_t)c->backoff_ms * 1000u);
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL;
    }
    c->down(c->arg, reason, was_up); /* reason may live in ac: before freeing it */
    if (ac != NULL && free_ac) {
        redisAsyncFree(ac); /* every command's callback runs with NULL */
    }
}

static const char *ac_error(const redisAsyncContext *ac, const char *none) {
    return ac->errstr[0] != '\0' ? ac->errstr : none;
}

static void on_loaded(redisAsyncContext *ac, void *reply, void *arg) {
    struct redis_conn *c = arg;
    const redisReply *rep = reply;
    if (ac->data != c) {
        return; /* an old connection going away */
    }
    if (rep == NULL) {
        lost(c, ac_error(ac, "connection lost"), 0);
        return;
    }
    if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
        char why[256];
        snprintf(why, sizeof(why), "SCRIPT LOAD failed: %.200s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected answer");
        lost(c, why, 1);
        return;
    }
    memcpy(c->sha, rep->str, 40);
    c->sha[40] = '\0';
    c->state = RC_UP;
    evtimer_del(c->connect_timer);
    c->up(c->arg, c->sha);
}

static void on_selected(redisAsyncContext *ac, void *reply, void *arg) {
    struct redis_conn *c = arg;
    const redisReply *rep = reply;
    if (ac->data != c) {
        return;
    }
    if (rep == NULL) {
        lost(c, ac_error(ac, "connection lost"), 0);
    } else if (rep->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof(why), "SELECT %d failed: %.200s", c->db, rep->str);
        lost(c, why, 1);
    }
}

static void on_connect(const redisAsyncContext *ac, int status) {
    struct redis_conn *c = ac->data;
    if (c == NULL || status == REDIS_OK) {
        return; /* connected: SCRIPT LOAD's answer says UP */
    }
    lost(c, ac_error(ac, "connect failed"), 0);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    struct redis_conn *c = ac->data;
    if (c == NULL) {
        return; /* we closed it */
    }
    lost(c, status == REDIS_OK ? "connection closed" : ac_error(ac, "connection closed"), 0);
}

static void connect_to(struct redis_conn *c, const char *ip) {
    redisAsyncContext *ac =
        ip != NULL ? redisAsyncConnect(ip, c->port) : redisAsyncConnectUnix(c->unix_path);
    if (ac == NULL) {
        lost(c, "out of memory", 0);
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        lost(c, why, 0);
        return;
    }
    ac->data = c;
    c->ac = ac;
    if (redisLibeventAttach(ac, c->base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK) {
        lost(c, "cannot attach the connection to the event loop", 1);
        return;
    }
    /* Sent as soon as the connection is up; answered in this order. */
    if ((c->db != 0 && redisAsyncCommand(ac, on_selected, c, "SELECT %d", c->db) != REDIS_OK) ||
        redisAsyncCommand(ac, on_loaded, c, "SCRIPT LOAD %s", c->script) != REDIS_OK) {
        lost(c, "cannot queue the handshake", 1);
    }
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg) {
    if (result == EVUTIL_EAI_CANCEL) {
        return; /* lost() or free cancelled it and forgot the request */
    }
    struct redis_conn *c = arg;
    c->dns_req = NULL;
    c->resolving = 0;
    if (result != 0 || res == NULL) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host,
                 result != 0 ? evutil_gai_strerror(result) : "no address");
        if (res != NULL) {
            evutil_freeaddrinfo(res);
        }
        lost(c, why, 0);
        return;
    }
    char ip[64];
    const void *a = res->ai_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)res->ai_addr)->sin_addr;
    const char *s = evutil_inet_ntop(res->ai_family, a, ip, sizeof(ip));
    evutil_freeaddrinfo(res);
    if (s == NULL) {
        lost(c, "cannot print the resolved address", 0);
        return;
    }
    connect_to(c, ip);
}

static void connect_start(struct redis_conn *c) {
    c->state = RC_CONNECTING;
    arm_us(c->connect_timer, c->connect_timeout_us);
    if (c->unix_path != NULL) {
        connect_to(c, NULL);
        return;
    }
    /* evdns, not getaddrinfo(3): a name must never block the loop. Numeric
     * addresses are answered at once, from inside this call, and the user
     * may free c from there. */
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    c->resolving = 1;
    c->starting = 1;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(c->dns, c->host, NULL, &hints, on_resolved, c);
    c->starting = 0;
    if (c->freed) {
        free(c);
        return;
    }
    if (c->resolving) {
        c->dns_req = req;
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    connect_start(arg);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct redis_conn *c = arg;
    if (c->state != RC_CONNECTING) {
        return;
    }
    char why[96];
    snprintf(why, sizeof(why), "not connected within %llu ms",
             (unsigned long long)(c->connect_timeout_us / 1000u));
    lost(c, why, 1);
}

/* ------------------------------------------------------------------ API */

static char *dup_or_null(const char *s, int *failed) {
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    *failed |= d == NULL;
    return d;
}

struct redis_conn *redis_conn_new(const struct redis_conn_cfg *cfg, struct sp_err *err) {
    if (cfg->host == NULL && cfg->unix_path == NULL) {
        sp_fail(err, "ConfigError", "no Redis address (host or unix socket)");
        return NULL;
    }
    struct redis_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    c->base = cfg->base;
    c->dns = cfg->dns;
    c->port = cfg->port;
    c->db = cfg->db;
    c->script = cfg->script;
    c->connect_timeout_us = cfg->connect_timeout_us;
    c->up = cfg->up;
    c->down = cfg->down;
    c->arg = cfg->arg;
    int failed = 0;
    c->host = dup_or_null(cfg->host, &failed);
    c->unix_path = dup_or_null(cfg->unix_path, &failed);
    if (c->unix_path != NULL) {
        snprintf(c->addr, sizeof(c->addr), "unix:%s", c->unix_path);
    } else {
        snprintf(c->addr, sizeof(c->addr), "%s:%d/%d", c->host != NULL ? c->host : "?", c->port,
                 c->db);
    }
    c->connect_timer = evtimer_new(c->base, on_connect_timeout, c);
    c->retry_timer = evtimer_new(c->base, on_retry, c);
    if (failed || c->connect_timer == NULL || c->retry_timer == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        redis_conn_free(c);
        return NULL;
    }
    return c;
}

void redis_conn_start(struct redis_conn *c) { connect_start(c); }

void redis_conn_free(struct redis_conn *c) {
    if (c == NULL) {
        return;
    }
    c->state = RC_DOWN;
    cancel_lookup(c);
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL;
        redisAsyncFree(ac); /* every command's callback runs with NULL */
    }
    if (c->connect_timer != NULL) {
        event_free(c->connect_timer);
        c->connect_timer = NULL;
    }
    if (c->retry_timer != NULL) {
        event_free(c->retry_timer);
        c->retry_timer = NULL;
    }
    free(c->host);
    c->host = NULL;
    free(c->unix_path);
    c->unix_path = NULL;
    if (c->starting) {
        c->freed = 1; /* connect_start frees it when evdns returns */
        return;
    }
    free(c);
}

struct redisAsyncContext *redis_conn_ac(const struct redis_conn *c) {
    return c->state == RC_UP ? c->ac : NULL;
}

int redis_conn_is_up(const struct redis_conn *c) { return c->state == RC_UP; }

int redis_conn_owns(const struct redis_conn *c, const struct redisAsyncContext *ac) {
    return c != NULL && ac->data == c;
}

const char *redis_conn_addr(const struct redis_conn *c) { return c->addr; }

void redis_conn_drop(struct redis_conn *c, const char *reason) {
    if (c->state != RC_DOWN) {
        lost(c, reason, 1);
    }
}

void redis_conn_gone(struct redis_conn *c, const struct redisAsyncContext *ac) {
    if (redis_conn_owns(c, ac)) {
        lost(c, ac_error(ac, "connection lost"), 0);
    }
}

void redis_conn_reset_backoff(struct redis_conn *c) { c->backoff_ms = 0; }
