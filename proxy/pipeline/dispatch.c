/* dispatch.c - the server's handler (see dispatch.h). */
#include "proxy/pipeline/dispatch.h"

#include <string.h>

#include "proxy/outbox/outbox_http.h"
#include "proxy/pipeline/admin.h"
#include "proxy/pipeline/reply.h"
#include "proxy/pipeline/request.h"

/* SDK pass-through clients (a form body) parse SES's XML errors. */
static enum reply_style style_of(const struct server_request *sr) {
    return sr->body_kind == BODY_FORM ? REPLY_QUERY_XML : REPLY_JSON;
}

static void *on_request(void *ctx, struct server_conn *conn, struct server_request *sr) {
    struct proxy *px = ctx;
    if (admin_serves(sr)) {
        admin_handle(px, conn, sr);
        return NULL;
    }
    if (sr->admin) {
        /* Open to any client: nothing here reaches SES. */
        reply_error(px, conn, sr->request_id, REPLY_JSON, 404, "NotFound", SERVER_ADMIN_ONLY, 0);
        return NULL;
    }
    if (outbox_http_serves(sr)) {
        return outbox_http_get(px, conn, sr);
    }
    if (strcmp(sr->method, "GET") == 0 || strcmp(sr->method, "HEAD") == 0) {
        reply_error(px, conn, sr->request_id, REPLY_JSON, 404, "NotFound",
                    "no such endpoint; calls are POST / or POST /{Action}", 0);
        return NULL;
    }
    if (strcmp(sr->method, "POST") != 0) {
        reply_error(px, conn, sr->request_id, REPLY_JSON, 405, "MethodNotAllowed",
                    "calls are POST / or POST /{Action}", 0);
        return NULL;
    }
    return request_start(px, conn, sr);
}

static void on_abort(void *ctx, void *call) {
    /* A status lookup of the outbox, or a call. */
    if (outbox_http_owns(ctx, call)) {
        outbox_http_abort(ctx, call);
        return;
    }
    request_abort(call);
}

static void on_refuse(void *ctx, struct server_conn *conn, const struct server_request *sr,
                      int status, const char *code, const char *message) {
    reply_error(ctx, conn, sr->request_id, style_of(sr), status, code, message, 0);
}

const struct server_handler dispatch_handler = {on_request, on_abort, on_refuse};
