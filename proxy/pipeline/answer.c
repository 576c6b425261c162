/* answer.c - SES's answer for the pipeline and the client (see answer.h). */
#include "proxy/pipeline/answer.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonout.h"
#include "api/model.h"
#include "api/restjson_answer.h"
#include "api/xmljson.h"
#include "proxy/http/upstream.h"
#include "proxy/log.h"
#include "proxy/proxy.h"

/* The proxy's spare parser made ready for op's answer, or a new one. */
static struct xmljson *take_parser(struct proxy *px, const struct model_op *op) {
    struct xmljson *x = px->spare_xml;
    px->spare_xml = NULL;
    if (x != NULL && xmljson_reset(x, &model_ses, op) == 0) {
        return x;
    }
    xmljson_free(x);
    return xmljson_new(&model_ses, op);
}

/* Keeps x as the spare when there is none (xmljson_reset decides later
 * whether it is worth reusing). */
static void give_parser(struct proxy *px, struct xmljson *x) {
    if (px->spare_xml == NULL) {
        px->spare_xml = x;
    } else {
        xmljson_free(x);
    }
}

json_t *answer_parse(struct proxy *px, const struct model_op *op, struct evbuffer *body,
                     int *is_error, const char *request_id) {
    struct xmljson *x = take_parser(px, op);
    if (x == NULL) {
        return NULL;
    }
    struct sp_err err;
    sp_err_clear(&err);
    int n = evbuffer_peek(body, -1, NULL, NULL, 0);
    int rc = 0;
    struct evbuffer_ptr pos;
    evbuffer_ptr_set(body, &pos, 0, EVBUFFER_PTR_SET);
    for (int i = 0; i < n && rc == 0; i++) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(body, -1, &pos, &v, 1) < 1) {
            break;
        }
        rc = xmljson_feed(x, v.iov_base, v.iov_len, 0, &err);
        evbuffer_ptr_set(body, &pos, v.iov_len, EVBUFFER_PTR_ADD);
    }
    json_t *doc = NULL;
    if (rc == 0 && xmljson_feed(x, "", 0, 1, &err) == 0 &&
        xmljson_finish(x, &doc, is_error, &err) == 0) {
        give_parser(px, x);
        return doc;
    }
    if (log_enabled(LOG_DEBUG)) {
        log_event(LOG_DEBUG, "upstream answer is not SES XML", "request_id", request_id, "error",
                  err.msg, NULL);
    }
    give_parser(px, x);
    return NULL;
}

static int sink_evbuffer(void *ctx, const void *data, size_t len) {
    return evbuffer_add(ctx, data, len);
}

json_t *answer_parse_rest(const struct model_op *op, struct upstream_req *u, int *is_error,
                          const char *request_id) {
    /* The header fields botocore's parser reads, from what upstream kept. */
    struct restjson_field fields[4];
    size_t n = 0;
    const struct {
        const char *name;
        const char *value;
    } kept[] = {{"x-amzn-RequestId", u->amzn_request_id},
                {"x-amz-id-2", u->amz_id_2},
                {"x-amzn-ErrorType", u->amzn_error_type},
                {"x-amzn-query-error", u->amzn_query_error}};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        if (kept[i].value[0] != '\0') {
            fields[n++] = (struct restjson_field){kept[i].name, strlen(kept[i].name), kept[i].value,
                                                  strlen(kept[i].value)};
        }
    }
    size_t len = evbuffer_get_length(u->body);
    const char *body = len > 0 ? (const char *)evbuffer_pullup(u->body, -1) : "";
    json_t *doc = NULL;
    struct sp_err err;
    sp_err_clear(&err);
    if (restjson_answer_parse(&model_sesv2, op, u->status, fields, n, body, len, &doc, is_error,
                              &err) < 0) {
        if (log_enabled(LOG_DEBUG)) {
            log_event(LOG_DEBUG, "upstream answer is not SES v2's JSON", "request_id", request_id,
                      "error", err.msg, NULL);
        }
        return NULL;
    }
    return doc;
}

struct evbuffer *answer_json(json_t *doc, const char *request_id, int status, int retries) {
    json_t *meta = json_object_get(doc, "ResponseMetadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(doc, "ResponseMetadata", meta);
    }
    if (json_object_get(meta, "RequestId") == NULL && request_id != NULL && request_id[0] != '\0') {
        json_object_set_new(meta, "RequestId", json_string(request_id));
    }
    json_object_set_new(meta, "HTTPStatusCode", json_integer(status));
    json_object_set_new(meta, "RetryAttempts", json_integer(retries));
    /* Numbers as SES wrote them (api/jsonout.h), not json_dumps's %.17g. */
    struct evbuffer *body = evbuffer_new();
    if (body == NULL || jsonout_dump(doc, sink_evbuffer, body) < 0) {
        if (body != NULL) {
            evbuffer_free(body);
        }
        return NULL;
    }
    return body;
}
