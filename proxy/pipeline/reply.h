/* reply.h - what leaves the proxy for a client: bodies in the caller's
 * shape, the access-log line and the request count.
 *
 * Every answer to a call goes through here, whether the pipeline produced
 * it (request.c), the admin endpoints did (admin.c), or the server refused
 * the request itself (dispatch.c's on_refuse): one access-log line and one
 * requests_total sample per answer, and the proxy's own errors always in
 * the shape the caller parses (api/errdoc.h): JSON for JSON-mode callers,
 * SES's XML for SDK pass-through callers. */
#ifndef SP_REPLY_H
#define SP_REPLY_H

#include <stdint.h>

struct evbuffer;
struct model_op;
struct proxy;
struct server_conn;

enum reply_style {
    REPLY_JSON,      /* JSON mode: boto3's shapes */
    REPLY_QUERY_XML, /* SES v1 SDK pass-through: SES's own XML */
};

#define REPLY_CT_JSON "application/json"
#define REPLY_CT_XML "text/xml"

const char *reply_content_type(enum reply_style style);

/* Appends one of the proxy's own errors, in style's shape, to out. On out
 * of memory an SDK still gets a parseable (shorter) document. */
void reply_error_body(struct evbuffer *out, enum reply_style style, const char *request_id,
                      int status, const char *code, const char *message, int retries);

/* Sends status, content type and body (drained) on conn; retry_after_s > 0
 * adds Retry-After. conn must be forgotten afterwards. */
void reply_send(struct server_conn *conn, int status, const char *content_type,
                struct evbuffer *body, int retry_after_s);

/* What one access-log line says about an answered call. */
struct reply_record {
    const char *request_id;
    const char *client;
    const struct model_op *op; /* NULL: no operation was found */
    int status;
    int attempts;
    double throttle_wait_ms;
    double duration_ms;
    const char *ses_request_id; /* NULL or "" when SES sent none */
    const char *error;          /* the Code on errors, else NULL */
    enum reply_style style;
    int client_gone; /* the client left first: logged (as 499), not counted */
};

/* Counts the answer (requests_total) and writes its access-log line. */
void reply_account(struct proxy *px, const struct reply_record *rec);

/* The whole of an error answer for a request that never became a call (a
 * refusal by the server, a 404, a 405): formatted, counted, logged, sent. */
void reply_error(struct proxy *px, struct server_conn *conn, const char *request_id,
                 enum reply_style style, int status, const char *code, const char *message,
                 int retry_after_s);

#endif
