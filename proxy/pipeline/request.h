/* request.h - one proxied call: route, validate, throttle, sign, forward,
 * answer. The per-request state struct lives in request.c; it is freed in
 * exactly one place, after the one reply is sent or the client is gone. */
#ifndef SP_REQUEST_H
#define SP_REQUEST_H

#include "proxy/pipeline/reply.h"

struct evbuffer;
struct prepared;
struct proxy;
struct server_conn;
struct server_request;
struct req;

/* Starts handling a complete request; style is the shape its caller parses
 * (reply_style_of, taken before the body is consumed). Returns the
 * request's state, which the server keeps to abort it, or NULL when it was
 * answered at once. */
struct req *request_start(struct proxy *px, struct server_conn *conn, struct server_request *sr,
                          enum reply_style style);

/* The client went away: drop the queue place / upstream exchange, free.
 * For a detached call: abandon it, without its callback. */
void request_abort(struct req *r);

/* The answer to a detached call: what a JSON-mode client would get (its
 * HTTP status and body, borrowed; NULL body only when out of memory). */
typedef void (*request_done_fn)(void *arg, int status, struct evbuffer *body);

/* A call without a client, for the outbox's deliveries: call (what it owns
 * is taken over) is signed and sent at once, one attempt, no throttle (the caller
 * took the tokens), and done runs exactly once, from the loop or before
 * this returns (then NULL is returned), unless request_abort() comes
 * first. request_id is the original caller's, for SES's logs and ours. */
struct req *request_send_detached(struct proxy *px, struct prepared *call, const char *request_id,
                                  request_done_fn done, void *arg);

#endif
