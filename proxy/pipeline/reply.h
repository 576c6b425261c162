/* reply.h - what leaves the proxy for a client: bodies in the caller's
 * shape, the access-log line and the request count.
 *
 * Every answer to a call goes through here, whether the pipeline produced
 * it (request.c), the admin endpoints did (admin.c), or the server refused
 * the request itself (dispatch.c's on_refuse): one access-log line and one
 * requests_total sample per answer, and the proxy's own errors always in
 * the shape the caller parses (api/errdoc.h): JSON for JSON-mode callers,
 * SES's XML for SES v1 SDKs, SES v2's REST-JSON errors for v2 SDKs. */
#ifndef SP_REPLY_H
#define SP_REPLY_H

#include <stdint.h>

struct config;
struct evbuffer;
struct model_op;
struct proxy;
struct server_conn;
struct server_request;

enum reply_style {
    REPLY_JSON,      /* JSON mode: boto3's shapes */
    REPLY_QUERY_XML, /* SES v1 SDKs (Query protocol): SES's own XML */
    REPLY_REST_JSON, /* SES v2 SDKs (REST-JSON): x-amzn-ErrorType and {"message"} */
};

#define REPLY_CT_JSON "application/json"
#define REPLY_CT_XML "text/xml"

const char *reply_content_type(enum reply_style style);

/* Does the request look like an AWS SDK's call? A SigV4 or SigV4a
 * Authorization header (AWS4-...), or a form body with an Action: the
 * caller then parses only its own protocol's errors, whatever its path and
 * whatever went wrong. */
int reply_is_sdk(const struct server_request *sr);

/* The path an SDK's call means: sr->path without cfg's sdk_path_prefix
 * (an endpoint such as http://host:port/ses sends "/ses" or "/ses/..."),
 * else sr->path itself. Points into sr->path, or is "/"; never NULL. */
const char *reply_sdk_path(const struct config *cfg, const struct server_request *sr);

/* The shape the caller of sr parses: an SDK's call under /v2/email/ (SES
 * v2's REST-JSON), any other SDK call (SES's XML), else JSON. */
enum reply_style reply_style_of(const struct config *cfg, const struct server_request *sr);

/* Appends one of the proxy's own errors, in style's shape, to out. On out
 * of memory an SDK still gets a parseable (shorter) document. */
void reply_error_body(struct evbuffer *out, enum reply_style style, const char *request_id,
                      int status, const char *code, const char *message, int retries);

/* Headers an answer carries besides Content-Type, Content-Length and the
 * server's X-Request-Id. Request ids: SDKs read them from x-amzn-RequestId
 * (the JS SDKs only there; botocore from the body too), so every answer to a
 * call carries it: SES's id on SES's answers, the proxy's own (the
 * X-Request-Id, the access log's request_id) on the proxy's errors. */
struct reply_headers {
    const char *amzn_request_id; /* x-amzn-RequestId; NULL or "": none */
    const char *amz_id_2;        /* x-amz-id-2, SES's, passed on; NULL or "": none */
    const char *error_type;      /* x-amzn-ErrorType (REST-JSON errors); NULL: none */
    const char *query_error;     /* x-amzn-query-error, SES's, passed on; NULL or "": none */
    int retry_after_s;           /* > 0: Retry-After */
};

/* Sends status, content type, body (drained) and the headers h (NULL:
 * none) on conn. conn must be forgotten afterwards. */
void reply_send(struct server_conn *conn, int status, const char *content_type,
                struct evbuffer *body, const struct reply_headers *h);

/* Sends one of the proxy's own errors in style's shape, with its request
 * id in the headers (and in the body: errdoc.h). Neither counted nor
 * logged: reply_account() does that. */
void reply_send_error(struct server_conn *conn, enum reply_style style, const char *request_id,
                      int status, const char *code, const char *message, int retries,
                      int retry_after_s);

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
