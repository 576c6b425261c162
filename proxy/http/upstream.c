/* upstream.c - HTTP/1.1 keep-alive client to SES (see upstream.h).
 *
 * A connection moves CONNECTING -> (request written) -> HEAD -> BODY ->
 * IDLE (back in the pool) or closed. One timer per connection is re-aimed
 * at each phase (h2o's http1client): the connect timeout while connecting,
 * the request deadline while a request is out, the idle limit in the pool.
 * Completion is always reported through a deferred event so that a caller
 * is never re-entered from inside upstream_send(). */
#include "proxy/http/upstream.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "proxy/clock.h"
#include "proxy/config.h"
#include "proxy/heap.h"
#include "proxy/http/http1.h"
#include "proxy/log.h"

const char upstream_err_connect[] = "cannot connect to the upstream";
const char upstream_err_connect_timeout[] = "connecting to the upstream timed out";
const char upstream_err_timeout[] = "the upstream did not answer in time";
const char upstream_err_tls[] = "TLS handshake with the upstream failed (certificate or protocol)";
const char upstream_err_reset[] = "the upstream closed the connection before the response ended";
const char upstream_err_protocol[] = "the upstream sent a malformed HTTP response";
const char upstream_err_too_large[] = "the upstream response is too large";

/* SES's answers are small (the largest, GetSendStatistics or a full
 * ListIdentities page, are a few hundred KiB); these only stop a broken or
 * hostile peer from making the proxy buffer without bound. */
#define MAX_RESPONSE_HEAD 65536
#define MAX_RESPONSE_BODY (4u << 20)
/* Below the idle limits of AWS's load balancers, so a pooled connection is
 * not usually closed under us just as we reuse it. */
#define IDLE_KEEP_MS 20000

/* Frees a response body. After a large one (a broken or hostile peer; SES
 * answers are small) the freed heap is handed back to the system (heap.h). */
void upstream_release_body(struct evbuffer *body) {
    size_t n = evbuffer_get_length(body);
    evbuffer_free(body);
    heap_trim_after(n);
}

int upstream_error_status(const char *error) {
    if (error == upstream_err_timeout || error == upstream_err_connect_timeout) {
        return 504;
    }
    return 502;
}

const char *upstream_error_code(const char *error) {
    return upstream_error_status(error) == 504 ? "GatewayTimeout" : "BadGateway";
}

enum conn_state {
    C_CONNECTING,
    C_HEAD,
    C_BODY,
    C_CHUNK_SIZE,
    C_CHUNK_DATA,
    C_CHUNK_TRAILER,
    C_IDLE,
    C_DONE
};

struct upstream_conn {
    struct upstream *u;
    struct bufferevent *bev;
    struct event *timer;
    struct event *done_ev; /* deferred completion */
    enum conn_state state;
    int connected;
    int keep_alive;
    int close_delimited;
    uint64_t body_left; /* Content-Length or current chunk */
    struct upstream_req *req;
    LIST_ENTRY(upstream_conn) link;
};

LIST_HEAD(conn_list, upstream_conn);

struct upstream {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *ssl_ctx; /* NULL for plain http */
    char *host;
    int port;
    char host_header[300];
    int connect_timeout_ms;
    int timeout_ms;
    size_t max_idle;
    struct conn_list idle;
    struct conn_list busy;
    size_t n_idle, n_busy;
};

static void conn_free(struct upstream_conn *c);
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_done(evutil_socket_t fd, short what, void *arg);

static void arm_ms(struct upstream_conn *c, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static SSL_CTX *make_ssl_ctx(const char *ca_file, struct sp_err *err) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        sp_fail(err, "InternalError", "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                             : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        sp_fail(err, "ConfigError", "cannot load CA certificates%s%s", ca_file ? " from " : "",
                ca_file ? ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

struct upstream *upstream_new_endpoint(struct event_base *base, struct evdns_base *dns,
                                       const struct upstream_endpoint *ep, struct sp_err *err) {
    struct upstream *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    u->base = base;
    u->dns = dns;
    u->host = strdup(ep->host);
    u->port = ep->port;
    u->connect_timeout_ms = ep->connect_timeout_ms;
    u->timeout_ms = ep->timeout_ms;
    u->max_idle = ep->max_idle;
    LIST_INIT(&u->idle);
    LIST_INIT(&u->busy);
    if (u->host == NULL) {
        free(u);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    int default_port = ep->tls ? 443 : 80;
    int v6 = strchr(u->host, ':') != NULL;
    if (u->port == default_port) {
        snprintf(u->host_header, sizeof(u->host_header), v6 ? "[%s]" : "%s", u->host);
    } else {
        snprintf(u->host_header, sizeof(u->host_header), v6 ? "[%s]:%d" : "%s:%d", u->host,
                 u->port);
    }
    if (ep->tls && (u->ssl_ctx = make_ssl_ctx(ep->ca_file, err)) == NULL) {
        free(u->host);
        free(u);
        return NULL;
    }
    return u;
}

struct upstream *upstream_new(struct event_base *base, struct evdns_base *dns,
                              const struct config *cfg, struct sp_err *err) {
    struct upstream_endpoint ep = {cfg->endpoint_host,
                                   cfg->endpoint_port,
                                   cfg->endpoint_tls,
                                   cfg->upstream.ca_file,
                                   cfg->upstream.connect_timeout_ms,
                                   cfg->upstream.timeout_ms,
                                   (size_t)cfg->upstream.max_idle_connections};
    return upstream_new_endpoint(base, dns, &ep, err);
}

void upstream_free(struct upstream *u) {
    if (u == NULL) {
        return;
    }
    struct upstream_conn *c;
    while ((c = LIST_FIRST(&u->idle)) != NULL) {
        conn_free(c);
    }
    while ((c = LIST_FIRST(&u->busy)) != NULL) {
        if (c->req != NULL) {
            struct upstream_req *r = c->req;
            c->req = NULL;
            evbuffer_free(r->body);
            free(r);
        }
        conn_free(c);
    }
    SSL_CTX_free(u->ssl_ctx);
    free(u->host);
    free(u);
}

const char *upstream_host_header(const struct upstream *u) { return u->host_header; }

size_t upstream_idle_count(const struct upstream *u) { return u->n_idle; }
size_t upstream_busy_count(const struct upstream *u) { return u->n_busy; }

static void conn_unlink(struct upstream_conn *c) {
    if (c->state == C_IDLE) {
        c->u->n_idle--;
    } else {
        c->u->n_busy--;
    }
    LIST_REMOVE(c, link);
}

static void conn_free(struct upstream_conn *c) {
    conn_unlink(c);
    if (c->bev != NULL) {
        /* For TLS this sends close_notify when it can; the socket closes
         * with the bufferevent (BEV_OPT_CLOSE_ON_FREE). */
        bufferevent_free(c->bev);
    }
    event_free(c->timer);
    event_free(c->done_ev);
    free(c);
}

static struct upstream_conn *conn_new(struct upstream *u) {
    struct upstream_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->u = u;
    c->timer = evtimer_new(u->base, on_timer, c);
    c->done_ev = event_new(u->base, -1, 0, on_done, c);
    if (u->ssl_ctx != NULL) {
        SSL *ssl = SSL_new(u->ssl_ctx);
        if (ssl != NULL) {
            /* SNI (never for an IP literal: RFC 6066 3) and host name
             * verification (SSL_set1_host also matches IP SANs). */
            unsigned char addr[16];
            if (inet_pton(AF_INET, u->host, addr) != 1 && inet_pton(AF_INET6, u->host, addr) != 1) {
                SSL_set_tlsext_host_name(ssl, u->host);
            }
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(ssl, u->host) != 1) {
                SSL_free(ssl);
                ssl = NULL;
            }
        }
        if (ssl != NULL) {
            c->bev = bufferevent_openssl_socket_new(u->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                    BEV_OPT_CLOSE_ON_FREE);
            if (c->bev == NULL) {
                SSL_free(ssl);
            }
        }
    } else {
        c->bev = bufferevent_socket_new(u->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    c->state = C_CONNECTING;
    LIST_INSERT_HEAD(&u->busy, c, link);
    u->n_busy++;
    if (c->bev == NULL || c->timer == NULL || c->done_ev == NULL) {
        conn_free(c);
        return NULL;
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    arm_ms(c, u->connect_timeout_ms);
    if (bufferevent_socket_connect_hostname(c->bev, u->dns, AF_UNSPEC, u->host, u->port) < 0) {
        /* Reported through the deferred completion like any failure. */
        c->state = C_DONE;
    }
    return c;
}

/* Ends the current exchange with an error or a complete response; the
 * callback runs from on_done. */
static void complete(struct upstream_conn *c, const char *error) {
    struct upstream_req *r = c->req;
    if (r == NULL) {
        conn_free(c);
        return;
    }
    r->error = error;
    r->done_us = clock_monotonic_us();
    if (error != NULL) {
        c->keep_alive = 0;
    }
    c->state = C_DONE;
    evtimer_del(c->timer);
    /* Reading and writing stay enabled: on_done runs in this same loop turn,
     * and disabling then re-enabling either would cost an epoll_ctl per
     * request. Bytes or an EOF arriving meanwhile make on_done drop the
     * connection instead of pooling it (on_read, on_event). */
    event_active(c->done_ev, 0, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct upstream_conn *c = arg;
    struct upstream *u = c->u;
    struct upstream_req *r = c->req;
    c->req = NULL;
    if (r != NULL && r->error == NULL && c->keep_alive && u->n_idle < u->max_idle &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        conn_unlink(c);
        c->state = C_IDLE;
        LIST_INSERT_HEAD(&u->idle, c, link);
        u->n_idle++;
        arm_ms(c, IDLE_KEEP_MS);
    } else {
        conn_free(c);
    }
    if (r != NULL) {
        r->conn = NULL;
        r->cb(r, r->arg);
        upstream_release_body(r->body);
        free(r);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct upstream_conn *c = arg;
    if (c->state == C_IDLE) {
        conn_free(c);
        return;
    }
    complete(c, c->connected ? upstream_err_timeout : upstream_err_connect_timeout);
}

static void on_write(struct bufferevent *bev, void *arg) {
    struct upstream_conn *c = arg;
    if (c->req != NULL && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        c->req->written = 1;
    }
}

/* An id header of the answer (x-amzn-RequestId, x-amz-id-2), kept when it
 * fits and is plain printable ASCII: it is logged and passed on to clients
 * in a header of their answer. */
static void copy_id_header(const struct http1_head *h, const char *name, char *out, size_t cap) {
    const struct http1_header *v = http1_find(h, name);
    if (v == NULL || v->value_len >= cap) {
        return;
    }
    for (size_t i = 0; i < v->value_len; i++) {
        if (v->value[i] < 0x20 || v->value[i] > 0x7e) {
            return;
        }
    }
    memcpy(out, v->value, v->value_len);
    out[v->value_len] = '\0';
}

static int parse_head(struct upstream_conn *c, struct evbuffer *in) {
    struct upstream_req *r = c->req;
    size_t avail = evbuffer_get_length(in);
    size_t look = avail < MAX_RESPONSE_HEAD ? avail : MAX_RESPONSE_HEAD;
    const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
    struct http1_head h;
    const char *why = NULL;
    long n = http1_parse_response(buf, look, &h, &why);
    if (n == HTTP1_INCOMPLETE) {
        if (avail >= MAX_RESPONSE_HEAD) {
            complete(c, upstream_err_protocol);
            return -1;
        }
        return 0;
    }
    if (n < 0) {
        complete(c, upstream_err_protocol);
        return -1;
    }
    if (h.status >= 100 && h.status < 200) { /* interim response: skip it */
        evbuffer_drain(in, (size_t)n);
        return 1;
    }
    r->status = h.status;
    r->got_head = 1;
    copy_id_header(&h, "x-amzn-requestid", r->amzn_request_id, sizeof(r->amzn_request_id));
    copy_id_header(&h, "x-amz-id-2", r->amz_id_2, sizeof(r->amz_id_2));
    copy_id_header(&h, "x-amzn-errortype", r->amzn_error_type, sizeof(r->amzn_error_type));
    copy_id_header(&h, "x-amzn-query-error", r->amzn_query_error, sizeof(r->amzn_query_error));
    copy_id_header(&h, "content-type", r->content_type, sizeof(r->content_type));
    c->keep_alive = h.keep_alive;
    if (h.chunked) {
        c->state = C_CHUNK_SIZE;
    } else if (h.has_content_length) {
        if (h.content_length > MAX_RESPONSE_BODY) {
            complete(c, upstream_err_too_large);
            return -1;
        }
        c->body_left = h.content_length;
        c->state = C_BODY;
    } else if (h.status == 204 || h.status == 304) {
        c->body_left = 0;
        c->state = C_BODY;
    } else {
        c->close_delimited = 1;
        c->keep_alive = 0;
        c->state = C_BODY;
    }
    evbuffer_drain(in, (size_t)n);
    return 1;
}

/* Moves what it can of the body; returns 1 when the response is complete. */
static int read_body(struct upstream_conn *c, struct evbuffer *in) {
    struct upstream_req *r = c->req;
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (c->state == C_BODY) {
            if (c->close_delimited) {
                evbuffer_remove_buffer(in, r->body, avail);
                if (evbuffer_get_length(r->body) > MAX_RESPONSE_BODY) {
                    complete(c, upstream_err_too_large);
                    return -1;
                }
                return 0;
            }
            size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
            evbuffer_remove_buffer(in, r->body, take);
            c->body_left -= take;
            return c->body_left == 0;
        }
        if (c->state == C_CHUNK_SIZE) {
            if (avail == 0) {
                return 0;
            }
            size_t look = avail < 1100 ? avail : 1100;
            const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
            uint64_t size;
            long n = http1_parse_chunk_size(buf, look, &size);
            if (n == 0) {
                return 0;
            }
            if (n < 0 || evbuffer_get_length(r->body) + size > MAX_RESPONSE_BODY) {
                complete(c, n < 0 ? upstream_err_protocol : upstream_err_too_large);
                return -1;
            }
            evbuffer_drain(in, (size_t)n);
            c->body_left = size;
            c->state = size == 0 ? C_CHUNK_TRAILER : C_CHUNK_DATA;
        } else if (c->state == C_CHUNK_DATA) {
            if (c->body_left > 0) {
                size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
                evbuffer_remove_buffer(in, r->body, take);
                c->body_left -= take;
                if (c->body_left > 0) {
                    return 0;
                }
                avail = evbuffer_get_length(in);
            }
            if (avail < 2) {
                return 0;
            }
            char crlf[2];
            evbuffer_remove(in, crlf, 2);
            if (crlf[0] != '\r' || crlf[1] != '\n') {
                complete(c, upstream_err_protocol);
                return -1;
            }
            c->state = C_CHUNK_SIZE;
        } else if (c->state == C_CHUNK_TRAILER) {
            /* Trailer fields until an empty line. */
            size_t len;
            char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
            if (line == NULL) {
                if (avail > MAX_RESPONSE_HEAD) {
                    complete(c, upstream_err_protocol);
                    return -1;
                }
                return 0;
            }
            free(line);
            if (len == 0) {
                return 1;
            }
        } else {
            return 0;
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct upstream_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == C_IDLE || c->req == NULL) {
        /* Bytes on an idle connection: the peer is confused; drop it. */
        if (c->state == C_IDLE) {
            conn_free(c);
        } else {
            evbuffer_drain(in, evbuffer_get_length(in));
        }
        return;
    }
    if (c->req->first_byte_us == 0) {
        c->req->first_byte_us = clock_monotonic_us();
    }
    while (c->state == C_HEAD) {
        int rc = parse_head(c, in);
        if (rc <= 0) {
            return;
        }
    }
    if (c->state == C_DONE) {
        return;
    }
    if (read_body(c, in) == 1) {
        complete(c, NULL);
    }
}

static const char *tls_failure(struct upstream_conn *c) {
    unsigned long e;
    int tls = 0;
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
        tls = 1;
        if (log_enabled(LOG_DEBUG)) {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof(buf));
            log_event(LOG_DEBUG, "upstream TLS error", "error", buf, NULL);
        }
    }
    return tls ? upstream_err_tls : NULL;
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct upstream_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = 1;
        if (c->state == C_CONNECTING) {
            c->state = C_HEAD;
            if (c->req != NULL) {
                uint64_t spent = (clock_monotonic_us() - c->req->started_us) / 1000;
                int left = c->u->timeout_ms - (int)spent;
                arm_ms(c, left > 1 ? left : 1);
            }
        }
        return;
    }
    if (c->state == C_IDLE) {
        conn_free(c);
        return;
    }
    if (c->state == C_DONE) {
        c->keep_alive = 0; /* closed or broken before on_done: not reusable */
        return;
    }
    const char *tls = c->u->ssl_ctx != NULL ? tls_failure(c) : NULL;
    if (c->connected) {
        /* After the handshake a TLS error is a broken connection (a close
         * without close_notify, say, on a kept-alive one the server just
         * ended): retried like a reset where that is safe, not reported as
         * a certificate or protocol failure. */
        tls = NULL;
    }
    if (what & BEV_EVENT_EOF) {
        if (c->state == C_BODY && c->close_delimited) {
            evbuffer_remove_buffer(bufferevent_get_input(c->bev), c->req->body,
                                   evbuffer_get_length(bufferevent_get_input(c->bev)));
            complete(c, NULL);
            return;
        }
        complete(c, c->connected ? (tls ? tls : upstream_err_reset) : upstream_err_connect);
        return;
    }
    if (!c->connected) {
        complete(c, tls != NULL ? tls : upstream_err_connect);
    } else {
        complete(c, tls != NULL ? tls : upstream_err_reset);
    }
}

static struct upstream_req *send_on(struct upstream *u, struct evbuffer *request, int fresh,
                                    upstream_done_fn cb, void *arg);

struct upstream_req *upstream_send(struct upstream *u, struct evbuffer *request,
                                   upstream_done_fn cb, void *arg) {
    return send_on(u, request, 0, cb, arg);
}

struct upstream_req *upstream_send_fresh(struct upstream *u, struct evbuffer *request,
                                         upstream_done_fn cb, void *arg) {
    return send_on(u, request, 1, cb, arg);
}

int upstream_req_stale(const struct upstream_req *r) {
    return r->reused && r->error == upstream_err_reset && !r->got_head && r->first_byte_us == 0;
}

static struct upstream_req *send_on(struct upstream *u, struct evbuffer *request, int fresh,
                                    upstream_done_fn cb, void *arg) {
    struct upstream_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->body = evbuffer_new();
    if (r->body == NULL) {
        free(r);
        return NULL;
    }
    r->u = u;
    r->cb = cb;
    r->arg = arg;
    r->started_us = clock_monotonic_us();
    struct upstream_conn *c = fresh ? NULL : LIST_FIRST(&u->idle);
    if (c != NULL) {
        conn_unlink(c);
        LIST_INSERT_HEAD(&u->busy, c, link);
        u->n_busy++;
        c->state = C_HEAD;
        r->reused = 1;
        r->conn = c;
        arm_ms(c, u->timeout_ms);
    } else {
        c = conn_new(u);
        if (c == NULL) {
            evbuffer_free(r->body);
            free(r);
            return NULL;
        }
    }
    c->req = r;
    c->keep_alive = 0;
    c->close_delimited = 0;
    c->body_left = 0;
    r->conn = c;
    if (c->state == C_DONE) { /* connect could not even start */
        complete(c, upstream_err_connect);
        return r;
    }
    if (r->reused && c->u->ssl_ctx == NULL) {
        /* A kept-alive plain connection is writable almost always: write
         * now and hand the bufferevent only what the socket did not take,
         * which saves arming and disarming the write event (two epoll_ctl)
         * and a loop turn per request. TLS goes through the bufferevent. */
        int n = evbuffer_write(request, bufferevent_getfd(c->bev));
        (void)n; /* an error shows up on the bufferevent below or on read */
        if (evbuffer_get_length(request) == 0) {
            r->written = 1;
            return r;
        }
    }
    if (bufferevent_write_buffer(c->bev, request) < 0) {
        complete(c, upstream_err_connect);
    }
    return r;
}

void upstream_cancel(struct upstream_req *r) {
    struct upstream_conn *c = r->conn;
    if (c != NULL) {
        c->req = NULL;
        conn_free(c);
    }
    upstream_release_body(r->body);
    free(r);
}
