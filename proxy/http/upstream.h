/* upstream.h - the HTTP/1.1 client to SES: keep-alive pool, TLS, timeouts.
 *
 * One struct upstream per endpoint (scheme, host, port). upstream_send()
 * takes a complete request (head and body in one evbuffer, drained) and
 * calls back exactly once with the outcome, unless the caller cancels first.
 * Connections are kept alive and reused LIFO, up to max_idle; an idle
 * connection that the server closes is dropped at once.
 *
 * TLS: the peer is verified against the system CAs (or upstream.ca_file),
 * SNI is sent, the host name is checked (SSL_set1_host), TLS >= 1.2, and a
 * connection closed without close_notify is an error, never a valid end.
 *
 * Failures are named static strings (h2o style), compared by address, and
 * mapped to statuses in one table (upstream_error_status). */
#ifndef SP_UPSTREAM_H
#define SP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "signer/check.h"

struct event_base;
struct evdns_base;
struct evbuffer;
struct config;

extern const char upstream_err_connect[];
extern const char upstream_err_connect_timeout[];
extern const char upstream_err_timeout[];
extern const char upstream_err_tls[];
extern const char upstream_err_reset[];
extern const char upstream_err_protocol[];
extern const char upstream_err_too_large[];

/* Frees an evbuffer that held a large message and gives the freed heap
 * back to the system when it held HEAP_TRIM_AFTER_BYTES or more (heap.h). */
void upstream_release_body(struct evbuffer *body);

/* 502 or 504 for an upstream error. */
int upstream_error_status(const char *error);
/* DESIGN's Code for it: "BadGateway" or "GatewayTimeout". */
const char *upstream_error_code(const char *error);

struct upstream_req {
    /* outcome, valid in the callback */
    const char *error;        /* NULL on a response, else one of upstream_err_* */
    int status;               /* HTTP status of the response */
    struct evbuffer *body;    /* response body (owned by the req; the callback
                                 may move its contents out) */
    char amzn_request_id[80]; /* x-amzn-RequestId header, when sent */
    char amz_id_2[128];       /* x-amz-id-2 header (an extended request id), when sent */
    /* REST-JSON (SES v2) answers carry their error code in a header, and
     * SDKs read it there: kept to read the answer and to pass it on. */
    char amzn_error_type[128];  /* x-amzn-ErrorType, when sent */
    char amzn_query_error[128]; /* x-amzn-query-error, when sent */
    char content_type[128];     /* Content-Type, when sent */
    int written;                /* the whole request reached the socket */
    int got_head;               /* some response arrived */
    int reused;                 /* sent on a kept-alive connection */
    uint64_t started_us, first_byte_us, done_us;
    /* private */
    struct upstream *u;
    struct upstream_conn *conn;
    void (*cb)(struct upstream_req *r, void *arg);
    void *arg;
};

typedef void (*upstream_done_fn)(struct upstream_req *r, void *arg);

/* The SES endpoint of cfg (endpoint_host/port/tls, upstream.* timeouts). */
struct upstream *upstream_new(struct event_base *base, struct evdns_base *dns,
                              const struct config *cfg, struct sp_err *err);

/* Any other endpoint (STS, instance metadata, container credentials):
 * tls = 1 verifies the peer against ca_file or the system CAs. */
struct upstream_endpoint {
    const char *host;
    int port;
    int tls;
    const char *ca_file; /* NULL = system CAs */
    int connect_timeout_ms;
    int timeout_ms;
    size_t max_idle;
};
struct upstream *upstream_new_endpoint(struct event_base *base, struct evdns_base *dns,
                                       const struct upstream_endpoint *ep, struct sp_err *err);
void upstream_free(struct upstream *u);

/* The Host header value for requests to this endpoint ("host" or "host:port"). */
const char *upstream_host_header(const struct upstream *u);

/* Sends request (drained). Returns the exchange, or NULL when out of memory.
 * cb runs once, from the event loop, never from inside upstream_send; after
 * it returns the req is freed. */
struct upstream_req *upstream_send(struct upstream *u, struct evbuffer *request,
                                   upstream_done_fn cb, void *arg);
/* The same on a new connection, never a kept-alive one: for a request whose
 * kept-alive connection turned out to be already closed by the server (see
 * upstream_req_stale). */
struct upstream_req *upstream_send_fresh(struct upstream *u, struct evbuffer *request,
                                         upstream_done_fn cb, void *arg);

/* Did r fail because its kept-alive connection was already ended by the
 * server (EOF or reset before any byte of a response)? The classic
 * keep-alive race: the server closed an idle connection while we were
 * sending on it. The request may have reached the socket, but a server that
 * had closed the connection did not act on it. */
int upstream_req_stale(const struct upstream_req *r);

/* Abandons an exchange: no callback; its connection is closed. */
void upstream_cancel(struct upstream_req *r);

/* Gauges for metrics. */
size_t upstream_idle_count(const struct upstream *u);
size_t upstream_busy_count(const struct upstream *u);

#endif
