/* dispatch.c - the server's handler (see dispatch.h). */
#include "proxy/pipeline/dispatch.h"

#include <stdio.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/outbox/outbox_http.h"
#include "proxy/pipeline/admin.h"
#include "proxy/pipeline/reply.h"
#include "proxy/pipeline/request.h"
#include "proxy/proxy.h"

/* An SDK pointed at http://host:port/ses calls "/ses" (botocore) or "/ses/"
 * (the JS SDK v3): with sdk_path_prefix set, its call goes on as if to "/".
 * Only SDK-looking calls are moved, so that the prefix can never hide a
 * JSON-mode path (POST /{Action}). */
static void strip_sdk_prefix(const struct config *cfg, struct server_request *sr) {
    const char *p = reply_sdk_path(cfg, sr);
    if (p != sr->path) {
        memmove(sr->path, p, strlen(p) + 1);
    }
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
    enum reply_style style = reply_style_of(px->cfg, sr);
    if (style != REPLY_JSON) {
        strip_sdk_prefix(px->cfg, sr);
    }
    if (style == REPLY_QUERY_XML && strcmp(sr->path, "/") != 0) {
        /* SES's Query API has one endpoint. Said here, in the SDK's shape,
         * rather than as a JSON-mode path (POST /{Action}) it never meant. */
        char msg[400];
        const char *prefix = px->cfg->sdk_path_prefix;
        snprintf(
            msg, sizeof(msg),
            "no such endpoint %.200s: point the SDK at the proxy's root (http://host:port/)%s%s",
            sr->path, prefix != NULL ? " or at http://host:port" : ", or set sdk_path_prefix",
            prefix != NULL ? prefix : "");
        reply_error(px, conn, sr->request_id, style, 404, "NotFound", msg, 0);
        return NULL;
    }
    if (strncmp(sr->path, "/v2/email/", 10) == 0) {
        /* An SES v2 SDK's call: any method, routed by its URI template. */
        return request_start(px, conn, sr, style);
    }
    if (strcmp(sr->method, "GET") == 0 || strcmp(sr->method, "HEAD") == 0) {
        reply_error(px, conn, sr->request_id, style, 404, "NotFound",
                    "no such endpoint; calls are POST / or POST /{Action}", 0);
        return NULL;
    }
    if (strcmp(sr->method, "POST") != 0) {
        reply_error(px, conn, sr->request_id, style, 405, "MethodNotAllowed",
                    "calls are POST / or POST /{Action}", 0);
        return NULL;
    }
    return request_start(px, conn, sr, style);
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
    struct proxy *px = ctx;
    /* Refusals on the admin listener stay JSON, as everything there. */
    enum reply_style style = sr->admin ? REPLY_JSON : reply_style_of(px->cfg, sr);
    reply_error(px, conn, sr->request_id, style, status, code, message, 0);
}

const struct server_handler dispatch_handler = {on_request, on_abort, on_refuse};
