/* reply.c - answers to clients (see reply.h). */
#include "proxy/pipeline/reply.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>

#include "api/errdoc.h"
#include "api/model.h"
#include "proxy/http/server.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/proxy.h"

const char *reply_content_type(enum reply_style style) {
    return style == REPLY_QUERY_XML ? REPLY_CT_XML : REPLY_CT_JSON;
}

static int sink_evbuffer(void *ctx, const void *data, size_t len) {
    return evbuffer_add(ctx, data, len);
}

void reply_error_body(struct evbuffer *out, enum reply_style style, const char *request_id,
                      int status, const char *code, const char *message, int retries) {
    size_t before = evbuffer_get_length(out);
    int rc =
        style == REPLY_QUERY_XML
            ? errdoc_query_xml(errdoc_type(status), code, message, request_id, sink_evbuffer, out)
            : errdoc_json(status, code, message, request_id, retries, sink_evbuffer, out);
    if (rc < 0) {
        /* Only on out of memory: drop what was half written and say the
         * least that still parses. */
        evbuffer_drain(out, evbuffer_get_length(out) - before);
        if (style == REPLY_QUERY_XML) {
            (void)evbuffer_add_printf(out,
                                      "<ErrorResponse><Error><Code>%s</Code></Error>"
                                      "</ErrorResponse>",
                                      code);
        } else {
            (void)evbuffer_add_printf(out, "{\"Error\":{\"Code\":\"%s\"}}", code);
        }
    }
}

void reply_send(struct server_conn *conn, int status, const char *content_type,
                struct evbuffer *body, int retry_after_s) {
    char ra[24];
    struct server_header h = {"Retry-After", ra};
    snprintf(ra, sizeof(ra), "%d", retry_after_s);
    server_respond(conn, status, content_type, body, &h, retry_after_s > 0 ? 1 : 0);
}

void reply_account(struct proxy *px, const struct reply_record *rec) {
    if (!rec->client_gone) {
        metrics_count_request(&px->metrics, rec->op, rec->status);
    }
    if (!log_enabled(LOG_INFO)) {
        return;
    }
    char action[80] = "";
    if (rec->op != NULL) {
        snprintf(action, sizeof(action), "%s%s", model_op_prefix(rec->op), rec->op->name);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:f}", "msg", "request",
                          "request_id", rec->request_id, "client", rec->client, "action", action,
                          "status", rec->status, "attempts", rec->attempts, "throttle_wait_ms",
                          rec->throttle_wait_ms, "duration_ms", rec->duration_ms);
    if (o == NULL) {
        return;
    }
    if (rec->ses_request_id != NULL && rec->ses_request_id[0] != '\0') {
        json_object_set_new(o, "ses_request_id", json_string(rec->ses_request_id));
    }
    if (rec->error != NULL) {
        json_object_set_new(o, "error", json_string(rec->error));
    }
    json_object_set_new(o, "mode", json_string(rec->style == REPLY_JSON ? "json" : "sdk"));
    log_json(LOG_INFO, o);
    json_decref(o);
}

void reply_error(struct proxy *px, struct server_conn *conn, const char *request_id,
                 enum reply_style style, int status, const char *code, const char *message,
                 int retry_after_s) {
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        return;
    }
    reply_error_body(body, style, request_id, status, code, message, 0);
    struct reply_record rec = {
        .request_id = request_id,
        .client = server_conn_client(conn),
        .status = status,
        .error = code,
        .style = style,
    };
    reply_account(px, &rec);
    reply_send(conn, status, reply_content_type(style), body, retry_after_s);
    evbuffer_free(body);
}
