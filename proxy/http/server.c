/* server.c - inbound HTTP/1.1 connections and their limits (see server.h).
 *
 * Why not evhttp: it answers an oversized body with its own HTML page
 * (DESIGN wants a JSON 413 before the body is read), has one timeout for
 * every phase, and offers no hook to refuse a client by address before
 * reading. Owning the loop here costs one small, fuzzed head parser
 * (http1.c) and gives each phase its own deadline.
 *
 * A connection is IDLE (waiting for a request, idle timeout), HEAD (first
 * byte seen, head timeout), BODY (reading Content-Length bytes; the same
 * timeout, re-armed on progress), BUSY (request handed off; reading stays
 * on so that a hang-up is noticed and aborts the request), WRITING, and
 * then IDLE again or closed. */
#include "proxy/http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/errdoc.h"
#include "proxy/clock.h"
#include "proxy/config.h"
#include "proxy/heap.h"
#include "proxy/http/hdrbuf.h"
#include "proxy/http/http1.h"
#include "proxy/http/prefer.h"
#include "proxy/log.h"
#include "proxy/policy.h"
#include "proxy/ratelog.h"

enum conn_state { S_IDLE, S_HEAD, S_BODY, S_BUSY, S_WRITING, S_LINGER };

struct server_conn {
    struct server *s;
    struct bufferevent *bev;
    struct event *timer;
    enum conn_state state;
    int keep_alive;
    int close_after_write;
    int head_only;     /* a HEAD request: the answer goes without its body */
    int http11;        /* the request was HTTP/1.1 (1xx answers allowed) */
    int peer_eof;      /* the client shut down its sending side */
    int retry_after_s; /* > 0: the server's own answer carries Retry-After */
    uint64_t body_len;
    uint64_t charged;          /* of body_len, counted in s->inflight until the answer */
    uint64_t body_deadline_us; /* the whole body must be in by then */
    int peer_family;           /* the client's address (admin: the per-address cap) */
    unsigned char peer[16];
    struct server_request sr;
    void *call; /* the handler's state for the request in progress, or NULL */
    LIST_ENTRY(server_conn) link;
};

struct server {
    struct event_base *base;
    const struct config *cfg; /* the snapshot in force (borrowed; server_set_config) */
    const struct server_handler *handler;
    void *handler_ctx;
    int draining;             /* server_stop_listening was called */
    struct evbuffer *scratch; /* a reply being built (see server_respond) */
    struct evconnlistener *listeners[CONFIG_MAX_LISTEN];
    char *unix_paths[CONFIG_MAX_LISTEN];
    size_t n_listeners;
    /* admin_listen: paused only while an accept() failure is waited out,
     * closed only by server_free */
    struct evconnlistener *admin_listeners[CONFIG_MAX_LISTEN];
    char *admin_unix_paths[CONFIG_MAX_LISTEN];
    size_t n_admin_listeners;
    int main_on, admin_on; /* the listeners are enabled (update_listeners) */
    int accept_paused;     /* waiting out an accept() failure */
    int accept_pause_ms;   /* the current pause; 0 after an accept() that worked */
    struct event *accept_retry;
    struct ratelog accept_log; /* accept() failures: a line a second */
    struct event *accept_note;
    size_t conn_room;           /* client connections the descriptor limit leaves room for */
    uint64_t refused_total;     /* clients refused by policy.allow_clients */
    struct ratelog refused_log; /* ... a line a second */
    struct event *refused_note;
    char refused_last[64]; /* the last client refused, for the count's line */
    LIST_HEAD(, server_conn) conns;
    LIST_HEAD(, server_conn) admin_conns;
    size_t n_conns; /* client connections (limits.max_connections) */
    size_t n_admin; /* admin connections, not counted in n_conns */
    size_t n_busy;
    uint64_t seq;
    uint64_t inflight;  /* request bodies being received or held by calls */
    struct event *trim; /* gives the heap back after large bodies (heap.h) */
    size_t trim_bytes;  /* released since the trim was armed */
};

static void conn_free(struct server_conn *c);
static void inflight_release(struct server_conn *c);
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

const char *server_reason(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static void arm_ms(struct server_conn *c, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static const struct config *cfg_of(const struct server_conn *c) { return c->s->cfg; }

/* Writes v's low `digits` hex digits (lowercase, zero-padded); returns the
 * end. */
static char *hex_digits(char *p, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    return p + digits;
}

static void make_request_id(struct server *s, char out[65]) {
    /* Unique per process and start: a random prefix taken once plus a
     * counter, shaped like the UUIDs SES uses. */
    static uint32_t prefix;
    if (prefix == 0) {
        prefix = (uint32_t)arc4random() | 1u;
    }
    uint64_t n = ++s->seq;
    /* "%08x-%04x-4%03x-a%03x-%012llx" of prefix, then n's bits 48-63,
     * 36-47, 24-35 and 0-47, without printf (once per call). */
    char *p = hex_digits(out, prefix, 8);
    *p++ = '-';
    p = hex_digits(p, (n >> 48) & 0xffff, 4);
    *p++ = '-';
    *p++ = '4';
    p = hex_digits(p, (n >> 36) & 0xfff, 3);
    *p++ = '-';
    *p++ = 'a';
    p = hex_digits(p, (n >> 24) & 0xfff, 3);
    *p++ = '-';
    p = hex_digits(p, n & 0xffffffffffffULL, 12);
    *p = '\0';
}

/* X-Request-Id from a client is echoed only when it is short and plain. */
static int request_id_ok(const char *v, size_t len) {
    if (len == 0 || len > 64) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':')) {
            return 0;
        }
    }
    return 1;
}

/* ---- accepting ------------------------------------------------------------
 *
 * The main listeners accept while the proxy is not draining, has room under
 * limits.max_connections (held to what the descriptor limit leaves room
 * for: server_set_conn_room) and is not waiting out an accept() failure;
 * the admin listeners whenever it is not waiting out a failure. */

/* Probes and scrapers need few connections: at most SERVER_ADMIN_MAX_CONNS
 * at once and this many from one address, so that a client flooding the
 * admin port leaves room for the kubelet's probes. A probe sends its
 * request at once and a scraper comes back every few seconds: the admin
 * phases are short whatever limits.* say. */
#define ADMIN_MAX_PER_ADDRESS 8
#define ADMIN_HEAD_TIMEOUT_MS 2000
#define ADMIN_IDLE_TIMEOUT_MS 5000

/* After accept() fails for other than a passing reason (above all EMFILE or
 * ENFILE: out of descriptors), the listeners rest, 10 ms at first, doubling
 * to 1 s while it keeps failing; the connections wait in the kernel's
 * backlog meanwhile. Retrying at once would spin the loop on the same
 * failure, and libevent would log each one. */
#define ACCEPT_PAUSE_MIN_MS 10
#define ACCEPT_PAUSE_MAX_MS 1000

static size_t max_conns(const struct server *s) {
    size_t m = (size_t)s->cfg->limits.max_connections;
    return s->conn_room < m ? s->conn_room : m;
}

static void enable_all(struct evconnlistener **ls, size_t n, int on) {
    for (size_t i = 0; i < n; i++) {
        if (ls[i] != NULL) {
            if (on) {
                evconnlistener_enable(ls[i]);
            } else {
                evconnlistener_disable(ls[i]);
            }
        }
    }
}

static void update_listeners(struct server *s) {
    int main_on = !s->draining && !s->accept_paused && s->n_conns < max_conns(s);
    int admin_on = !s->accept_paused;
    if (main_on != s->main_on) {
        enable_all(s->listeners, s->n_listeners, main_on);
        s->main_on = main_on;
    }
    if (admin_on != s->admin_on) {
        enable_all(s->admin_listeners, s->n_admin_listeners, admin_on);
        s->admin_on = admin_on;
    }
}

static void arm_window(struct event *ev) {
    struct timeval tv = {RATELOG_WINDOW_MS / 1000, (RATELOG_WINDOW_MS % 1000) * 1000};
    evtimer_add(ev, &tv);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct server *s = arg;
    s->accept_paused = 0;
    update_listeners(s);
}

static void on_accept_note(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct server *s = arg;
    uint64_t n = ratelog_flush(&s->accept_log);
    if (n > 0) {
        char count[24];
        snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
        log_event(LOG_WARN, "accept failed; the listeners pause", "suppressed", count, NULL);
        arm_window(s->accept_note);
    }
}

static void on_accept_error(struct evconnlistener *l, void *arg) {
    (void)l;
    struct server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    int ms = s->accept_pause_ms * 2;
    s->accept_pause_ms = ms < ACCEPT_PAUSE_MIN_MS   ? ACCEPT_PAUSE_MIN_MS
                         : ms > ACCEPT_PAUSE_MAX_MS ? ACCEPT_PAUSE_MAX_MS
                                                    : ms;
    s->accept_paused = 1;
    update_listeners(s);
    struct timeval tv = {s->accept_pause_ms / 1000, (s->accept_pause_ms % 1000) * 1000};
    evtimer_add(s->accept_retry, &tv);
    if (ratelog_hit(&s->accept_log)) {
        char pause[16];
        snprintf(pause, sizeof(pause), "%d", s->accept_pause_ms);
        log_event(LOG_WARN, "accept failed; the listeners pause", "error", strerror(err),
                  "pause_ms", pause, NULL);
        arm_window(s->accept_note);
    }
}

static void conn_free(struct server_conn *c) {
    struct server *s = c->s;
    if (c->call != NULL) {
        void *call = c->call;
        c->call = NULL;
        s->handler->on_abort(s->handler_ctx, call);
    }
    if (c->state == S_BUSY) {
        s->n_busy--;
    }
    inflight_release(c);
    LIST_REMOVE(c, link);
    if (c->sr.admin) {
        s->n_admin--;
    } else {
        s->n_conns--;
    }
    bufferevent_free(c->bev);
    event_free(c->timer);
    evbuffer_free(c->sr.body);
    free(c->sr.query);
    free(c);
    update_listeners(s);
}

/* A reply produced by the server itself, before any request module state. */
static void reply_error(struct server_conn *c, int status, const char *code, const char *msg) {
    c->keep_alive = 0;
    if (c->sr.request_id[0] == '\0') {
        make_request_id(c->s, c->sr.request_id);
    }
    c->s->handler->on_refuse(c->s->handler_ctx, c, &c->sr, status, code, msg);
}

/* ---- bodies in flight (limits.max_inflight_bytes) -----------------------
 *
 * A request's body counts from its head, before a byte of it is read, until
 * its answer: being received, or held by the call as it was or as the form
 * made of it, it is the proxy's memory. A body that would take the sum past
 * the limit gets 503 with Retry-After, unread. */

static void on_trim(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct server *s = arg;
    heap_trim_after(s->trim_bytes);
    s->trim_bytes = 0;
}

static int inflight_admit(struct server_conn *c) {
    struct server *s = c->s;
    if (c->body_len == 0) {
        return 0;
    }
    if (s->inflight + c->body_len > cfg_of(c)->limits.max_inflight_bytes) {
        c->retry_after_s = 1;
        reply_error(c, 503, "ServiceUnavailable",
                    "the proxy holds as many request bodies as limits.max_inflight_bytes "
                    "allows; retry shortly");
        return -1;
    }
    s->inflight += c->body_len;
    c->charged = c->body_len;
    return 0;
}

/* The request is over (answered, or its connection gone): what is left of
 * its body goes, and its bytes leave the sum. After a large body the heap
 * is trimmed at the next loop turn, once the call that held the body has
 * freed its part too (request.c frees it right after answering). */
static void inflight_release(struct server_conn *c) {
    struct server *s = c->s;
    if (c->charged == 0) {
        return;
    }
    evbuffer_drain(c->sr.body, evbuffer_get_length(c->sr.body));
    s->inflight -= c->charged;
    if (c->charged >= HEAP_TRIM_AFTER_BYTES) {
        static const struct timeval next_turn = {0, 0};
        if (s->trim_bytes == 0) {
            evtimer_add(s->trim, &next_turn);
        }
        s->trim_bytes += c->charged;
    }
    c->charged = 0;
}

static void peer_string(const struct sockaddr *sa, char *out, size_t cap) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, cap, "%s:%d", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "unix");
    }
}

/* The address part of a peer (no port), for the per-address cap. */
static int peer_key(const struct sockaddr *sa, unsigned char out[16]) {
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return AF_INET6;
    }
    return 0; /* a Unix socket: its file's permissions govern */
}

static size_t admin_conns_from(const struct server *s, const struct sockaddr *sa) {
    unsigned char key[16];
    int family = peer_key(sa, key);
    size_t n = 0;
    if (family == 0) {
        return 0;
    }
    const struct server_conn *c;
    LIST_FOREACH(c, &s->admin_conns, link) {
        n += c->peer_family == family && memcmp(c->peer, key, family == AF_INET ? 4 : 16) == 0;
    }
    return n;
}

struct fixed_buf {
    char *p;
    size_t len, cap;
};

static int sink_fixed(void *ctx, const void *data, size_t len) {
    struct fixed_buf *b = ctx;
    if (len > b->cap - b->len) {
        return -1;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

static void on_refused_note(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct server *s = arg;
    uint64_t n = ratelog_flush(&s->refused_log);
    if (n > 0) {
        char count[24];
        snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
        log_event(LOG_WARN, "client refused by policy.allow_clients", "suppressed", count, "client",
                  s->refused_last, NULL);
        arm_window(s->refused_note);
    }
}

/* A client outside policy.allow_clients: answered 403 with one send() on
 * the new socket and closed at once, before a byte of its request is read.
 * It gets no connection state, takes no place under limits.max_connections
 * and makes no access-log line: a flood of such clients costs an accept, a
 * write and a close each, and one log line a second with the count of the
 * others. The answer is JSON: nothing tells yet what the caller speaks. */
static void refuse_client(struct server *s, evutil_socket_t fd, const struct sockaddr *sa) {
    char client[64], rid[65], body[512], out[1024];
    peer_string(sa, client, sizeof(client));
    s->refused_total++;
    if (ratelog_hit(&s->refused_log)) {
        log_event(LOG_WARN, "client refused by policy.allow_clients", "client", client, NULL);
        arm_window(s->refused_note);
    } else {
        snprintf(s->refused_last, sizeof(s->refused_last), "%s", client);
    }
    make_request_id(s, rid);
    struct fixed_buf b = {body, 0, sizeof(body)};
    int n = -1;
    if (errdoc_json(403, "AccessDenied", "client address is not in policy.allow_clients", rid, 0,
                    sink_fixed, &b) == 0) {
        n = snprintf(out, sizeof(out),
                     "HTTP/1.1 403 %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n%.*s",
                     server_reason(403), b.len, rid, (int)b.len, body);
    }
    if (n > 0 && (size_t)n < sizeof(out)) {
        (void)send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    /* FIN after the answer; what the client already sent is read and
     * dropped, so that closing does not become a reset that could destroy
     * the answer on its way. */
    shutdown(fd, SHUT_WR);
    char drop[4096];
    for (int i = 0; i < 4 && recv(fd, drop, sizeof(drop), MSG_DONTWAIT) > 0; i++) {
    }
    evutil_closesocket(fd);
}

/* How long a connection may idle, or take over its request head: the
 * configured limits, shorter on the admin listener. */
static int idle_ms(const struct server_conn *c) {
    int ms = cfg_of(c)->limits.idle_timeout_ms;
    return c->sr.admin && ms > ADMIN_IDLE_TIMEOUT_MS ? ADMIN_IDLE_TIMEOUT_MS : ms;
}

static int head_ms(const struct server_conn *c) {
    int ms = cfg_of(c)->limits.header_timeout_ms;
    return c->sr.admin && ms > ADMIN_HEAD_TIMEOUT_MS ? ADMIN_HEAD_TIMEOUT_MS : ms;
}

static void accept_conn(struct server *s, evutil_socket_t fd, struct sockaddr *sa, int admin) {
    const struct config *cfg = s->cfg;
    s->accept_pause_ms = 0; /* accept() works (again) */
    if (!admin && !policy_client_allowed(cfg, sa)) {
        refuse_client(s, fd, sa);
        return;
    }
    if (admin ? s->n_admin >= SERVER_ADMIN_MAX_CONNS ||
                    admin_conns_from(s, sa) >= ADMIN_MAX_PER_ADDRESS
              : s->n_conns >= max_conns(s) || s->draining) {
        /* At the limit the main listener is paused; a connection that raced
         * in, or one over the admin caps, is closed at once rather than
         * queued without bound. */
        evutil_closesocket(fd);
        update_listeners(s);
        return;
    }
    struct server_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->s = s;
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(s->base, on_timer, c);
    c->sr.body = evbuffer_new();
    if (c->bev == NULL || c->timer == NULL || c->sr.body == NULL) {
        if (c->bev != NULL) {
            bufferevent_free(c->bev); /* closes fd */
        } else {
            evutil_closesocket(fd);
        }
        if (c->timer != NULL) {
            event_free(c->timer);
        }
        if (c->sr.body != NULL) {
            evbuffer_free(c->sr.body);
        }
        free(c);
        return;
    }
    c->sr.admin = admin;
    if (admin) {
        LIST_INSERT_HEAD(&s->admin_conns, c, link);
        s->n_admin++;
        c->peer_family = peer_key(sa, c->peer);
    } else {
        LIST_INSERT_HEAD(&s->conns, c, link);
        s->n_conns++;
    }
    peer_string(sa, c->sr.client, sizeof(c->sr.client));
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    update_listeners(s);
    c->state = S_IDLE;
    arm_ms(c, idle_ms(c));
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg) {
    (void)l;
    (void)socklen;
    accept_conn(arg, fd, sa, 0);
}

static void on_accept_admin(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int socklen, void *arg) {
    (void)l;
    (void)socklen;
    accept_conn(arg, fd, sa, 1);
}

/* Does p[0..n) start with lit, ignoring ASCII case? */
static int starts_ci(const char *p, size_t n, const char *lit) {
    size_t k = strlen(lit);
    if (n < k) {
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        char a = p[i], b = lit[i];
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (a != b) {
            return 0;
        }
    }
    return 1;
}

/* The first token of an Authorization value (v[0..n), not NUL-terminated)
 * into sr->auth_scheme, cut to its size. */
static void take_auth_scheme(struct server_request *sr, const char *v, size_t n) {
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    size_t len = 0;
    while (len < n && len + 1 < sizeof(sr->auth_scheme) && v[len] > ' ' && v[len] < 0x7f) {
        len++;
    }
    memcpy(sr->auth_scheme, v, len);
    sr->auth_scheme[len] = '\0';
}

/* A head that never parsed (over max_header_bytes, malformed, or not all
 * there in time): the method, path and Authorization scheme read from the
 * bytes that did arrive, so that the refusal can still take the caller's
 * shape (an SDK parses only its own protocol's errors). Best effort: what
 * cannot be read stays empty. */
static void sniff_head(struct server_request *sr, const char *buf, size_t len) {
    const char *sp = memchr(buf, ' ', len);
    if (sp != NULL && sp > buf && (size_t)(sp - buf) < sizeof(sr->method)) {
        memcpy(sr->method, buf, (size_t)(sp - buf));
        sr->method[sp - buf] = '\0';
        const char *t = sp + 1;
        size_t rest = len - (size_t)(t - buf), tl = 0;
        while (tl < rest && t[tl] > ' ' && t[tl] != '?' && t[tl] < 0x7f) {
            tl++;
        }
        if (tl > 0 && t[0] == '/' && tl < sizeof(sr->path) && tl < rest) {
            memcpy(sr->path, t, tl);
            sr->path[tl] = '\0';
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' && starts_ci(buf + i + 1, len - i - 1, "authorization:")) {
            size_t at = i + 1 + strlen("authorization:");
            take_auth_scheme(sr, buf + at, len - at);
            return;
        }
    }
}

/* Prefer (any of its fields) and Idempotency-Key, for the outbox. */
static void take_async_headers(struct server_request *sr, const struct http1_head *h) {
    sr->prefer_async = 0;
    sr->idempotency_key_bad = 0;
    sr->idempotency_key[0] = '\0';
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http1_header *f = &h->headers[i];
        if (http1_token_eq(f->name, f->name_len, "prefer")) {
            sr->prefer_async |= prefer_has(f->value, f->value_len, "respond-async");
        } else if (http1_token_eq(f->name, f->name_len, "idempotency-key")) {
            /* A second one is as bad as a malformed one: which would win? */
            sr->idempotency_key_bad |=
                sr->idempotency_key[0] != '\0' ||
                prefer_idempotency_key(f->value, f->value_len, sr->idempotency_key) < 0;
        }
    }
}

/* The request's fields start empty for each head (keep-alive reuses them). */
static void clear_head(struct server_request *sr) {
    sr->method[0] = '\0';
    sr->path[0] = '\0';
    sr->auth_scheme[0] = '\0';
    sr->body_kind = BODY_NONE;
    sr->request_id[0] = '\0';
    free(sr->query);
    sr->query = NULL;
    evbuffer_drain(sr->body, evbuffer_get_length(sr->body));
}

/* Copies what the request module needs out of the parsed head. */
static int take_head(struct server_conn *c, const struct http1_head *h) {
    struct server_request *sr = &c->sr;
    const struct http1_header *auth = http1_find(h, "authorization");
    if (auth != NULL) {
        take_auth_scheme(sr, auth->value, auth->value_len);
    }
    if (h->method_len >= sizeof(sr->method)) {
        reply_error(c, 405, "MethodNotAllowed", "method not allowed");
        return -1;
    }
    memcpy(sr->method, h->method, h->method_len);
    sr->method[h->method_len] = '\0';
    c->head_only = strcmp(sr->method, "HEAD") == 0;
    size_t plen = h->target_len;
    const char *q = memchr(h->target, '?', plen);
    if (q != NULL) {
        plen = (size_t)(q - h->target);
    }
    if (plen >= sizeof(sr->path)) {
        reply_error(c, 400, "MalformedRequest", "request path too long");
        return -1;
    }
    memcpy(sr->path, h->target, plen);
    sr->path[plen] = '\0';
    if (q != NULL) {
        /* Only SES v2's routes read a query; kept aside (most requests have
         * none, so an idle connection does not carry a buffer for it). */
        size_t qlen = h->target_len - plen - 1;
        if (qlen > SERVER_QUERY_MAX) {
            reply_error(c, 400, "MalformedRequest", "request query too long");
            return -1;
        }
        free(sr->query);
        sr->query = strndup(q + 1, qlen);
        if (sr->query == NULL) {
            reply_error(c, 500, "InternalError", "out of memory");
            return -1;
        }
    }
    const struct http1_header *rid = http1_find(h, "x-request-id");
    if (rid != NULL && request_id_ok(rid->value, rid->value_len)) {
        memcpy(sr->request_id, rid->value, rid->value_len);
        sr->request_id[rid->value_len] = '\0';
    } else {
        make_request_id(c->s, sr->request_id);
    }
    const struct http1_header *ct = http1_find(h, "content-type");
    sr->body_kind = BODY_NONE;
    if (ct != NULL) {
        /* The value is not NUL-terminated: it points into the head. */
        const char *semi = memchr(ct->value, ';', ct->value_len);
        size_t n = semi != NULL ? (size_t)(semi - ct->value) : ct->value_len;
        while (n > 0 && (ct->value[n - 1] == ' ' || ct->value[n - 1] == '\t')) {
            n--;
        }
        if (http1_token_eq(ct->value, n, "application/x-www-form-urlencoded")) {
            sr->body_kind = BODY_FORM;
        } else if (http1_token_eq(ct->value, n, "application/json") ||
                   http1_token_eq(ct->value, n, "text/plain") ||
                   http1_token_eq(ct->value, n, "application/x-amz-json-1.0")) {
            sr->body_kind = BODY_JSON;
        } else {
            sr->body_kind = BODY_OTHER;
        }
    }
    take_async_headers(sr, h);
    c->keep_alive = h->keep_alive;
    c->http11 = h->minor_version >= 1;
    if (h->chunked) {
        reply_error(c, 411, "LengthRequired",
                    "chunked request bodies are not accepted; send Content-Length");
        return -1;
    }
    c->body_len = h->has_content_length ? h->content_length : 0;
    if (c->sr.admin && c->body_len > 0) {
        /* Nothing on the admin listener takes a body: refused before it is
         * read, so that no client there can make the proxy hold one. */
        reply_error(c, 404, "NotFound", SERVER_ADMIN_ONLY);
        return -1;
    }
    if (c->body_len > cfg_of(c)->limits.max_body_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body of %llu bytes is over the limit of %zu bytes",
                 (unsigned long long)c->body_len, cfg_of(c)->limits.max_body_bytes);
        reply_error(c, 413, "RequestEntityTooLarge", msg);
        return -1;
    }
    if (inflight_admit(c) < 0) {
        return -1;
    }
    if (h->expect_continue && c->body_len > 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        bufferevent_write(c->bev, cont, sizeof(cont) - 1);
    }
    return 0;
}

static void dispatch(struct server_conn *c) {
    struct server *s = c->s;
    c->state = S_BUSY;
    s->n_busy++;
    evtimer_del(c->timer);
    void *call = s->handler->on_request(s->handler_ctx, c, &c->sr);
    /* The handler may already have answered (state left BUSY) */
    if (c->state == S_BUSY || c->state == S_WRITING) {
        c->call = c->state == S_BUSY ? call : NULL;
    }
}

/* Slowest body upload accepted on average: 16 MiB then may take ~4 min. */
#define MIN_BODY_BYTES_PER_S 65536u

static void arm_body(struct server_conn *c, const struct config *cfg) {
    uint64_t now = clock_monotonic_us();
    uint64_t left_ms = c->body_deadline_us > now ? (c->body_deadline_us - now) / 1000u : 0;
    uint64_t gap_ms = (uint64_t)cfg->limits.header_timeout_ms;
    arm_ms(c, (int)(left_ms < gap_ms ? left_ms : gap_ms));
}

/* Parses as much as the input allows. */
static void process(struct server_conn *c) {
    struct evbuffer *in = bufferevent_get_input(c->bev);
    const struct config *cfg = cfg_of(c);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (c->state == S_IDLE) {
            if (avail == 0) {
                return;
            }
            c->state = S_HEAD;
            clear_head(&c->sr);
            c->head_only = 0;
            arm_ms(c, head_ms(c));
        }
        if (c->state == S_HEAD) {
            size_t look =
                avail < cfg->limits.max_header_bytes ? avail : cfg->limits.max_header_bytes;
            const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
            struct http1_head h;
            const char *why = "malformed request";
            long n = http1_parse_request(buf, look, &h, &why);
            if (n == HTTP1_INCOMPLETE) {
                if (avail >= cfg->limits.max_header_bytes) {
                    sniff_head(&c->sr, buf, look);
                    reply_error(c, 431, "RequestHeaderFieldsTooLarge",
                                "request head is over limits.max_header_bytes");
                }
                return;
            }
            if (n < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "malformed HTTP request: %s", why);
                sniff_head(&c->sr, buf, look);
                reply_error(c, 400, "MalformedRequest", msg);
                return;
            }
            int ok = take_head(c, &h);
            evbuffer_drain(in, (size_t)n);
            if (ok < 0) {
                return;
            }
            c->state = S_BODY;
            /* A slow client must not hold the connection: the body gets the
             * head's timeout plus time for its size at a floor rate, and
             * must also keep moving (no gap longer than the head timeout). */
            c->body_deadline_us = clock_monotonic_us() +
                                  (uint64_t)cfg->limits.header_timeout_ms * 1000u +
                                  c->body_len * 1000000u / MIN_BODY_BYTES_PER_S;
            arm_body(c, cfg);
            avail = evbuffer_get_length(in);
        }
        if (c->state == S_BODY) {
            size_t have = evbuffer_get_length(c->sr.body);
            size_t want = (size_t)c->body_len - have;
            size_t take = avail < want ? avail : want;
            if (take > 0) {
                evbuffer_remove_buffer(in, c->sr.body, take);
                arm_body(c, cfg); /* progress */
            }
            if (take < want) {
                return;
            }
            dispatch(c);
            if (c->state != S_IDLE) {
                return;
            }
            continue;
        }
        /* BUSY or WRITING: pipelined bytes wait; a flood stops reading. */
        if (avail > cfg->limits.max_header_bytes * 4) {
            bufferevent_disable(c->bev, EV_READ);
        }
        return;
    }
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct server_conn *c = arg;
    if (c->state == S_LINGER) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    process(c);
}

/* Closing right after a reply while the client may still be sending (an
 * oversized body we refused) would make the kernel answer its bytes with a
 * reset, which can destroy our reply before the client reads it. So: send
 * FIN, read and discard for a short while, then close (lingering close, as
 * nginx and Apache do). */
#define LINGER_MS 2000

static void linger(struct server_conn *c) {
    c->state = S_LINGER;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    bufferevent_enable(c->bev, EV_READ);
    arm_ms(c, LINGER_MS);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct server_conn *c = arg;
    if (c->state != S_WRITING || evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        return;
    }
    if (c->close_after_write || !c->keep_alive || c->s->draining) {
        linger(c);
        return;
    }
    c->state = S_IDLE;
    bufferevent_enable(c->bev, EV_READ);
    arm_ms(c, idle_ms(c));
    process(c);
}

/* How often a half-closed client's call checks that it is still there. */
#define PEER_CHECK_MS 100

/* The client shut down its sending side (FIN). After a complete request
 * that may be a half-close (a client that still reads its answer: `nc -N`,
 * `printf ... | client`) or a hang-up; the two look alike until something
 * is sent. An HTTP/1.1 client gets an interim "100 Continue", which every
 * client must accept unasked (RFC 9110 15.2): a half-closed one reads past
 * it, a closed socket answers it with a reset, which check_peer() sees, and
 * the call is aborted as for any hang-up (its queue place given back).
 * HTTP/1.0 has no 1xx, so there an EOF ends the call as before. An answer
 * already being written is finished either way. Returns 1 when the
 * connection stays. */
static int keep_after_eof(struct server_conn *c) {
    static const char probe[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->peer_eof = 1;
    if (c->state == S_WRITING) {
        return 1;
    }
    if (c->state != S_BUSY || !c->http11) {
        return 0;
    }
    if (bufferevent_write(c->bev, probe, sizeof(probe) - 1) < 0) {
        return 0;
    }
    arm_ms(c, PEER_CHECK_MS);
    return 1;
}

/* A half-closed client's socket, polled: only its read side is shut while
 * the client is half-closed; a hang-up (POLLHUP) once the probe met a
 * closed socket (TCP: the reset; a Unix socket: the peer's close). recv()
 * cannot tell: after a FIN it reports EOF even once a reset came. */
static void check_peer(struct server_conn *c) {
    struct pollfd pfd = {bufferevent_getfd(c->bev), 0, 0};
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)) != 0) {
        conn_free(c);
        return;
    }
    arm_ms(c, PEER_CHECK_MS);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct server_conn *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && keep_after_eof(c)) {
        return;
    }
    /* An error, or EOF where no answer is owed: the client is gone. A
     * request in progress is aborted (its queue place given back); nothing
     * more can be written. */
    conn_free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct server_conn *c = arg;
    if (c->state == S_BUSY && c->peer_eof) {
        check_peer(c);
        return;
    }
    if (c->state == S_HEAD || c->state == S_BODY) {
        if (c->state == S_HEAD) {
            struct evbuffer *in = bufferevent_get_input(c->bev);
            size_t look = evbuffer_get_length(in);
            if (look > cfg_of(c)->limits.max_header_bytes) {
                look = cfg_of(c)->limits.max_header_bytes;
            }
            if (look > 0) {
                sniff_head(&c->sr, (const char *)evbuffer_pullup(in, (ev_ssize_t)look), look);
            }
        }
        reply_error(c, 408, "RequestTimeout", "the request was not received in time");
        return;
    }
    conn_free(c); /* idle too long, or a reply the client does not read */
}

void server_respond(struct server_conn *c, int status, const char *content_type,
                    struct evbuffer *body, const struct server_header *extra, size_t n_extra) {
    struct server *s = c->s;
    if (c->state == S_BUSY) {
        s->n_busy--;
    }
    c->call = NULL;
    c->state = S_WRITING;
    inflight_release(c);
    /* When nothing is queued for the client, the reply is built aside and
     * written at once; only what the socket does not take goes to the
     * bufferevent (saves arming and disarming the write event: two
     * epoll_ctl calls and a loop turn per request). */
    struct evbuffer *queued = bufferevent_get_output(c->bev);
    int direct = evbuffer_get_length(queued) == 0;
    struct evbuffer *out = direct ? s->scratch : queued;
    int close = !c->keep_alive || s->draining;
    struct hdrbuf h;
    hdrbuf_init(&h, out);
    hdrbuf_lit(&h, "HTTP/1.1 ");
    hdrbuf_u64(&h, (uint64_t)status);
    hdrbuf_lit(&h, " ");
    hdrbuf_str(&h, server_reason(status));
    hdrbuf_lit(&h, "\r\nContent-Type: ");
    hdrbuf_str(&h, content_type);
    hdrbuf_lit(&h, "\r\nContent-Length: ");
    hdrbuf_u64(&h, evbuffer_get_length(body));
    hdrbuf_lit(&h, "\r\nX-Request-Id: ");
    hdrbuf_str(&h, c->sr.request_id);
    hdrbuf_lit(&h, "\r\n");
    for (size_t i = 0; i < n_extra; i++) {
        hdrbuf_str(&h, extra[i].name);
        hdrbuf_lit(&h, ": ");
        hdrbuf_str(&h, extra[i].value);
        hdrbuf_lit(&h, "\r\n");
    }
    if (c->retry_after_s > 0) {
        hdrbuf_lit(&h, "Retry-After: ");
        hdrbuf_u64(&h, (uint64_t)c->retry_after_s);
        hdrbuf_lit(&h, "\r\n");
        c->retry_after_s = 0;
    }
    if (close) {
        hdrbuf_lit(&h, "Connection: close\r\n\r\n");
    } else {
        hdrbuf_lit(&h, "\r\n");
    }
    (void)hdrbuf_finish(&h); /* out of memory: the client gets a short answer and EOF */
    if (c->head_only) {
        /* HEAD: the GET answer's head, Content-Length included, alone. */
        evbuffer_drain(body, evbuffer_get_length(body));
    } else {
        evbuffer_add_buffer(out, body);
    }
    c->close_after_write = close;
    if (direct) {
        (void)evbuffer_write(out, bufferevent_getfd(c->bev));
        if (evbuffer_get_length(out) == 0) {
            /* All written: run on_write from the loop, as the bufferevent
             * would have. */
            bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
        } else {
            evbuffer_add_buffer(queued, out); /* moves the rest; EV_WRITE is armed */
        }
    }
    /* Give the client as long to read the reply as to send a request. */
    arm_ms(c, idle_ms(c));
}

size_t server_conn_count(const struct server *s) { return s->n_conns; }
const char *server_conn_client(const struct server_conn *c) { return c->sr.client; }
size_t server_busy_count(const struct server *s) { return s->n_busy; }

static struct evconnlistener *listen_unix(struct server *s, const char *path, evconnlistener_cb cb,
                                          struct sp_err *err) {
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        sp_fail(err, "ConfigError", "listen: unix socket path too long: %s", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path); /* a stale socket from an earlier run */
    }
    struct evconnlistener *l = evconnlistener_new_bind(s->base, cb, s, LEV_OPT_CLOSE_ON_FREE, 1024,
                                                       (struct sockaddr *)&sun, (int)sizeof(sun));
    if (l == NULL) {
        sp_fail(err, "ConfigError", "listen: cannot bind unix:%s: %s", path, strerror(errno));
    }
    return l;
}

static struct evconnlistener *listen_tcp(struct server *s, const char *addr, evconnlistener_cb cb,
                                         struct sp_err *err) {
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host)) {
            sp_fail(err, "ConfigError", "listen: \"%s\" is not [v6addr]:port", addr);
            return NULL;
        }
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
            sp_fail(err, "ConfigError", "listen: \"%s\" is not host:port", addr);
            return NULL;
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        sp_fail(err, "ConfigError", "listen: %s: %s", addr, gai_strerror(rc));
        return NULL;
    }
    struct evconnlistener *l =
        evconnlistener_new_bind(s->base, cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                res->ai_addr, (int)res->ai_addrlen);
    if (l == NULL) {
        sp_fail(err, "ConfigError", "listen: cannot bind %s: %s", addr, strerror(errno));
    }
    freeaddrinfo(res);
    return l;
}

/* Binds every address of addrs (listen or admin_listen) with callback cb. */
static int open_listeners(struct server *s, char *const *addrs, size_t n, evconnlistener_cb cb,
                          struct evconnlistener **ls, char **unix_paths, size_t *n_ls,
                          struct sp_err *err) {
    for (size_t i = 0; i < n; i++) {
        const char *a = addrs[i];
        struct evconnlistener *l;
        if (strncmp(a, "unix:", 5) == 0) {
            l = listen_unix(s, a + 5, cb, err);
            if (l != NULL) {
                unix_paths[*n_ls] = strdup(a + 5);
            }
        } else {
            l = listen_tcp(s, a, cb, err);
        }
        if (l == NULL) {
            return -1;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        ls[(*n_ls)++] = l;
        log_event(LOG_INFO, cb == on_accept ? "listening" : "listening (admin)", "address", a,
                  NULL);
    }
    return 0;
}

struct server *server_new(struct event_base *base, const struct config *cfg,
                          const struct server_handler *handler, void *ctx, struct sp_err *err) {
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    s->base = base;
    s->cfg = cfg;
    s->handler = handler;
    s->handler_ctx = ctx;
    LIST_INIT(&s->conns);
    LIST_INIT(&s->admin_conns);
    s->conn_room = SIZE_MAX;
    s->main_on = s->admin_on = 1; /* listeners start enabled */
    s->scratch = evbuffer_new();
    s->trim = evtimer_new(base, on_trim, s);
    s->accept_retry = evtimer_new(base, on_accept_retry, s);
    s->accept_note = evtimer_new(base, on_accept_note, s);
    s->refused_note = evtimer_new(base, on_refused_note, s);
    if (s->scratch == NULL || s->trim == NULL || s->accept_retry == NULL ||
        s->accept_note == NULL || s->refused_note == NULL) {
        server_free(s);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    if (open_listeners(s, cfg->listen, cfg->n_listen, on_accept, s->listeners, s->unix_paths,
                       &s->n_listeners, err) < 0 ||
        open_listeners(s, cfg->admin_listen, cfg->n_admin_listen, on_accept_admin,
                       s->admin_listeners, s->admin_unix_paths, &s->n_admin_listeners, err) < 0) {
        server_free(s);
        return NULL;
    }
    return s;
}

void server_set_config(struct server *s, const struct config *cfg) {
    s->cfg = cfg;
    update_listeners(s); /* max_connections may have changed */
}

void server_set_conn_room(struct server *s, size_t room) {
    s->conn_room = room > 0 ? room : 1;
    update_listeners(s);
}

uint64_t server_refused_count(const struct server *s) { return s->refused_total; }
uint64_t server_inflight_bytes(const struct server *s) { return s->inflight; }

static void close_listeners(struct evconnlistener **ls, char **unix_paths, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (ls[i] != NULL) {
            evconnlistener_free(ls[i]);
            ls[i] = NULL;
        }
        if (unix_paths[i] != NULL) {
            unlink(unix_paths[i]);
            free(unix_paths[i]);
            unix_paths[i] = NULL;
        }
    }
}

void server_stop_listening(struct server *s) {
    s->draining = 1;
    close_listeners(s->listeners, s->unix_paths, s->n_listeners);
    /* Idle keep-alive connections would only wait; close them now. Busy ones
     * close after their reply (s->draining). Admin ones stay. */
    struct server_conn *c, *next;
    for (c = LIST_FIRST(&s->conns); c != NULL; c = next) {
        next = LIST_NEXT(c, link);
        if (c->state == S_IDLE && !c->sr.admin) {
            conn_free(c);
        }
    }
}

void server_free(struct server *s) {
    if (s == NULL) {
        return;
    }
    server_stop_listening(s);
    close_listeners(s->admin_listeners, s->admin_unix_paths, s->n_admin_listeners);
    struct server_conn *c;
    while ((c = LIST_FIRST(&s->conns)) != NULL || (c = LIST_FIRST(&s->admin_conns)) != NULL) {
        conn_free(c);
    }
    if (s->scratch != NULL) {
        evbuffer_free(s->scratch);
    }
    struct event *timers[] = {s->trim, s->accept_retry, s->accept_note, s->refused_note};
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
        if (timers[i] != NULL) {
            event_free(timers[i]);
        }
    }
    free(s);
}

void server_abort_busy(struct server *s) {
    struct server_conn *c, *next;
    for (c = LIST_FIRST(&s->conns); c != NULL; c = next) {
        next = LIST_NEXT(c, link);
        if (c->state == S_BUSY && c->call != NULL) {
            void *call = c->call;
            c->call = NULL;
            s->handler->on_abort(s->handler_ctx, call);
            c->keep_alive = 0;
            s->handler->on_refuse(s->handler_ctx, c, &c->sr, 503, "ServiceUnavailable",
                                  "the proxy shut down before this call could finish");
        }
    }
}
