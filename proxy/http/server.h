/* server.h - the inbound HTTP/1.1 server: listeners, connections, limits.
 *
 * Owns every client socket. Reads one request at a time per connection
 * (head, then a Content-Length body), enforces the limits (connections,
 * head size, body size, head/body/idle timeouts, client CIDRs) and hands a
 * complete request to request_start(). The reply comes back through
 * server_respond(), exactly once per request; if the client goes away
 * first, the server calls request_abort() and the request module drops
 * whatever it was waiting on. Nothing here knows SES.
 *
 * Listen addresses: "host:port", "[v6]:port", or "unix:/path". */
#ifndef SP_SERVER_H
#define SP_SERVER_H

#include <stddef.h>

#include "signer/check.h"

struct proxy;
struct server;
struct server_conn;
struct evbuffer;

enum server_body_kind { BODY_NONE, BODY_JSON, BODY_FORM, BODY_OTHER };

/* A complete inbound request, borrowed by request_start() for its duration
 * except `body`, whose contents request_start() may move out. */
struct server_request {
    char method[16];
    char path[1024]; /* path without the query string */
    enum server_body_kind body_kind;
    struct evbuffer *body;
    char request_id[65]; /* X-Request-Id from the client, or made here */
    char client[64];     /* peer address, for logs */
    int admin;           /* came in on an admin_listen listener */
};

/* What the admin listener says to anything but its three GET endpoints. */
#define SERVER_ADMIN_ONLY "the admin listener serves only GET /healthz, /readyz and /metrics"

struct server *server_new(struct proxy *px, struct sp_err *err);
void server_free(struct server *s);
/* Closes the listeners (drain), but not the admin ones (they answer
 * /readyz "draining" until the process exits); connections stay until they
 * finish. */
void server_stop_listening(struct server *s);
size_t server_conn_count(const struct server *s);
/* Connections with a request in progress. */
size_t server_busy_count(const struct server *s);

/* Extra response header (name: value), e.g. Retry-After. */
struct server_header {
    const char *name;
    const char *value;
};

/* Sends the reply for the connection's current request. body is drained.
 * After this the request module must forget conn. */
void server_respond(struct server_conn *conn, int status, const char *content_type,
                    struct evbuffer *body, const struct server_header *extra, size_t n_extra);

/* The proxy and the peer ("ip:port", "[v6]:port", "unix") of a connection. */
struct proxy *server_conn_proxy(const struct server_conn *conn);
const char *server_conn_client(const struct server_conn *conn);

/* Reason phrase for a status. */
const char *server_reason(int status);

/* Drain deadline reached: answers every request still in progress with 503
 * and aborts it. */
void server_abort_busy(struct server *s);

#endif
