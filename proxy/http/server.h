/* server.h - the inbound HTTP/1.1 server: listeners, connections, limits.
 *
 * Owns every client socket. Reads one request at a time per connection
 * (head, then a Content-Length body), enforces the limits (connections,
 * head size, body size, head/body/idle timeouts, client CIDRs) and hands a
 * complete request to its handler (struct server_handler). The reply comes
 * back through server_respond(), exactly once per request; if the client
 * goes away first, the server calls the handler's on_abort and the handler
 * drops whatever it was waiting on. Answers the server decides itself (408,
 * 411, 413, 431, 503 for a body over limits.max_inflight_bytes, a malformed
 * head) are formatted by the handler too (on_refuse), so that every answer
 * has the caller's shape. The one exception is a client outside
 * policy.allow_clients: it is answered a fixed JSON 403 (api/errdoc.h) and
 * closed at once, before it has a connection, let alone a shape.
 * Nothing here knows SES, and the server depends on no module above it.
 *
 * Listen addresses: "host:port", "[v6]:port", or "unix:/path". */
#ifndef SP_SERVER_H
#define SP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "signer/check.h"

struct config;
struct event_base;
struct server;
struct server_conn;
struct evbuffer;

enum server_body_kind { BODY_NONE, BODY_JSON, BODY_FORM, BODY_OTHER };

/* A complete inbound request, borrowed by the handler's on_request for its
 * duration except `body`, whose contents the handler may move out; what is
 * left of the body is dropped when the request is answered (its bytes
 * count under limits.max_inflight_bytes until then). */
struct server_request {
    char method[16];
    char path[1024]; /* path without the query string, as sent (still %-encoded) */
    char *query;     /* what follows the first '?' of the target, as sent; NULL when none */
    enum server_body_kind body_kind;
    struct evbuffer *body;
    char request_id[65]; /* X-Request-Id from the client, or made here */
    char client[64];     /* peer address, for logs */
    int admin;           /* came in on an admin_listen listener */
    /* The Authorization header's scheme ("AWS4-HMAC-SHA256"), "" without
     * one: the handler tells an SDK's call by it (a signed client parses
     * its own protocol's errors). Set before any refusal that follows the
     * head; for a head that never parsed (431, 408, 400) the server reads
     * the method, path and scheme from the bytes it has, when it can. */
    char auth_scheme[32];
    /* Asynchronous calls (the outbox): "Prefer: respond-async" (RFC 7240),
     * and the Idempotency-Key ("" when none; idempotency_key_bad when one
     * was sent that is not 1-255 printable ASCII characters). */
    int prefer_async;
    int idempotency_key_bad;
    char idempotency_key[256];
};

/* Longest query string taken (SES v2's longest are list calls' NextToken). */
#define SERVER_QUERY_MAX 8192

/* Connections the admin listeners hold at once (at most 8 of them from one
 * address). */
#define SERVER_ADMIN_MAX_CONNS 64

/* What the admin listener says to anything but its three GET endpoints. */
#define SERVER_ADMIN_ONLY "the admin listener serves only GET /healthz, /readyz and /metrics"

/* What the server calls; ctx is the handler's, passed back unchanged. */
struct server_handler {
    /* A complete request: answer it now with server_respond() and return
     * NULL, or return the state of a call that answers later. */
    void *(*on_request)(void *ctx, struct server_conn *conn, struct server_request *sr);
    /* The client went away (or the drain deadline came) before the answer:
     * forget the call; no server_respond() for it afterwards. */
    void (*on_abort)(void *ctx, void *call);
    /* The server refuses the request itself: answer conn (server_respond)
     * with this error. sr may be incomplete, but its request_id is set. */
    void (*on_refuse)(void *ctx, struct server_conn *conn, const struct server_request *sr,
                      int status, const char *code, const char *message);
};

/* Opens cfg's listeners. cfg is borrowed: the caller keeps it alive and
 * calls server_set_config() before dropping it (a reload). handler is
 * borrowed for the server's life. */
struct server *server_new(struct event_base *base, const struct config *cfg,
                          const struct server_handler *handler, void *ctx, struct sp_err *err);
/* The snapshot whose limits and policy apply from now on (listeners stay). */
void server_set_config(struct server *s, const struct config *cfg);
/* The client connections the descriptor limit leaves room for
 * (hygiene_conn_room): limits.max_connections is held to it. */
void server_set_conn_room(struct server *s, size_t room);
void server_free(struct server *s);
/* Closes the listeners (drain), but not the admin ones (they answer
 * /readyz "draining" until the process exits); connections stay until they
 * finish, and close after their answer. */
void server_stop_listening(struct server *s);
size_t server_conn_count(const struct server *s);
/* Connections with a request in progress. */
size_t server_busy_count(const struct server *s);
/* Clients refused by policy.allow_clients since start. */
uint64_t server_refused_count(const struct server *s);
/* Request bodies being received or held by calls (limits.max_inflight_bytes). */
uint64_t server_inflight_bytes(const struct server *s);

/* Extra response header (name: value), e.g. Retry-After. */
struct server_header {
    const char *name;
    const char *value;
};

/* Sends the reply for the connection's current request. body is drained.
 * After this the request module must forget conn. */
void server_respond(struct server_conn *conn, int status, const char *content_type,
                    struct evbuffer *body, const struct server_header *extra, size_t n_extra);

/* The peer of a connection: "ip:port", "[v6]:port" or "unix". */
const char *server_conn_client(const struct server_conn *conn);

/* Reason phrase for a status. */
const char *server_reason(int status);

/* Drain deadline reached: answers every request still in progress with 503
 * and aborts it. */
void server_abort_busy(struct server *s);

#endif
