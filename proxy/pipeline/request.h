/* request.h - one proxied call: route, validate, throttle, sign, forward,
 * answer. The per-request state struct lives in request.c; it is freed in
 * exactly one place, after the one reply is sent or the client is gone. */
#ifndef SP_REQUEST_H
#define SP_REQUEST_H

#include "proxy/pipeline/reply.h"

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

/* The client went away: drop the queue place / upstream exchange, free. */
void request_abort(struct req *r);

#endif
