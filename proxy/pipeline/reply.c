/* reply.c - answers to clients (see reply.h). */
#include "proxy/pipeline/reply.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/errdoc.h"
#include "api/model.h"
#include "proxy/config.h"
#include "proxy/http/server.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/proxy.h"

const char *reply_content_type(enum reply_style style) {
    return style == REPLY_QUERY_XML ? REPLY_CT_XML : REPLY_CT_JSON;
}

/* A form body whose pairs include Action (at the start or after '&'), and
 * that is not JSON sent with curl's default form type. */
static int form_has_action(struct evbuffer *body) {
    unsigned char first = 0;
    if (evbuffer_copyout(body, &first, 1) != 1 || first == '{') {
        return 0;
    }
    struct evbuffer_ptr p = evbuffer_search(body, "Action=", 7, NULL);
    while (p.pos >= 0) {
        if (p.pos == 0) {
            return 1;
        }
        struct evbuffer_ptr before;
        char ch = 0;
        if (evbuffer_ptr_set(body, &before, (size_t)p.pos - 1, EVBUFFER_PTR_SET) == 0 &&
            evbuffer_copyout_from(body, &before, &ch, 1) == 1 && ch == '&') {
            return 1;
        }
        if (evbuffer_ptr_set(body, &p, 1, EVBUFFER_PTR_ADD) < 0) {
            return 0;
        }
        p = evbuffer_search(body, "Action=", 7, &p);
    }
    return 0;
}

int reply_is_sdk(const struct server_request *sr) {
    /* AWS4-HMAC-SHA256 (SigV4) and AWS4-ECDSA-P256-SHA256 (SigV4a). */
    if (strncmp(sr->auth_scheme, "AWS4-", 5) == 0) {
        return 1;
    }
    return sr->body_kind == BODY_FORM && form_has_action(sr->body);
}

const char *reply_sdk_path(const struct config *cfg, const struct server_request *sr) {
    const char *prefix = cfg->sdk_path_prefix;
    if (prefix == NULL) {
        return sr->path;
    }
    size_t n = strlen(prefix);
    if (strncmp(sr->path, prefix, n) != 0) {
        return sr->path;
    }
    if (sr->path[n] == '\0') {
        return "/";
    }
    return sr->path[n] == '/' ? sr->path + n : sr->path;
}

enum reply_style reply_style_of(const struct config *cfg, const struct server_request *sr) {
    if (!reply_is_sdk(sr)) {
        return REPLY_JSON;
    }
    const char *path = reply_sdk_path(cfg, sr);
    if (strncmp(path, "/v2/email/", 10) == 0 || strcmp(path, "/v2/email") == 0) {
        return REPLY_REST_JSON;
    }
    return REPLY_QUERY_XML;
}

static int sink_evbuffer(void *ctx, const void *data, size_t len) {
    return evbuffer_add(ctx, data, len);
}

void reply_error_body(struct evbuffer *out, enum reply_style style, const char *request_id,
                      int status, const char *code, const char *message, int retries) {
    size_t before = evbuffer_get_length(out);
    int rc;
    switch (style) {
    case REPLY_QUERY_XML:
        rc = errdoc_query_xml(errdoc_type(status), code, message, request_id, sink_evbuffer, out);
        break;
    case REPLY_REST_JSON:
        rc = errdoc_rest_json(message, sink_evbuffer, out);
        break;
    default:
        rc = errdoc_json(status, code, message, request_id, retries, sink_evbuffer, out);
        break;
    }
    if (rc < 0) {
        /* Only on out of memory: drop what was half written and say the
         * least that still parses. */
        evbuffer_drain(out, evbuffer_get_length(out) - before);
        if (style == REPLY_QUERY_XML) {
            (void)evbuffer_add_printf(out,
                                      "<ErrorResponse><Error><Code>%s</Code></Error>"
                                      "</ErrorResponse>",
                                      code);
        } else if (style == REPLY_REST_JSON) {
            (void)evbuffer_add_printf(out, "{\"message\":\"\"}");
        } else {
            (void)evbuffer_add_printf(out, "{\"Error\":{\"Code\":\"%s\"}}", code);
        }
    }
}

void reply_send(struct server_conn *conn, int status, const char *content_type,
                struct evbuffer *body, const struct reply_headers *h) {
    struct server_header extra[5];
    size_t n = 0;
    char ra[24];
    if (h != NULL) {
        if (h->amzn_request_id != NULL && h->amzn_request_id[0] != '\0') {
            extra[n++] = (struct server_header){"x-amzn-RequestId", h->amzn_request_id};
        }
        if (h->amz_id_2 != NULL && h->amz_id_2[0] != '\0') {
            extra[n++] = (struct server_header){"x-amz-id-2", h->amz_id_2};
        }
        if (h->error_type != NULL) {
            extra[n++] = (struct server_header){"x-amzn-ErrorType", h->error_type};
        }
        if (h->query_error != NULL && h->query_error[0] != '\0') {
            extra[n++] = (struct server_header){"x-amzn-query-error", h->query_error};
        }
        if (h->retry_after_s > 0) {
            snprintf(ra, sizeof(ra), "%d", h->retry_after_s);
            extra[n++] = (struct server_header){"Retry-After", ra};
        }
    }
    server_respond(conn, status, content_type, body, extra, n);
}

void reply_send_error(struct server_conn *conn, enum reply_style style, const char *request_id,
                      int status, const char *code, const char *message, int retries,
                      int retry_after_s) {
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        return;
    }
    reply_error_body(body, style, request_id, status, code, message, retries);
    struct reply_headers h = {
        .amzn_request_id = request_id,
        .error_type = style == REPLY_REST_JSON ? code : NULL,
        .retry_after_s = retry_after_s,
    };
    reply_send(conn, status, reply_content_type(style), body, &h);
    evbuffer_free(body);
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
    struct reply_record rec = {
        .request_id = request_id,
        .client = server_conn_client(conn),
        .status = status,
        .error = code,
        .style = style,
    };
    reply_account(px, &rec);
    reply_send_error(conn, style, request_id, status, code, message, 0, retry_after_s);
}
