/* request.c - one proxied call from its head to its one reply.
 *
 * Phases: route -> parse (JSON or SDK form) -> policy -> validate ->
 * serialize -> throttle (may queue) -> sign + send upstream (may retry with
 * backoff, re-entering the throttle) -> answer. The state is one struct req,
 * freed only in req_finish() (after the reply) or request_abort() (client
 * gone); every asynchronous step it waits on (throttle ticket, upstream
 * exchange, backoff timer) is cancelled there, so no callback outlives it. */
#include "proxy/request.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/form.h"
#include "api/query.h"
#include "api/recipients.h"
#include "api/validate.h"
#include "api/xmljson.h"
#include "proxy/config.h"
#include "proxy/creds/creds_store.h"
#include "proxy/log.h"
#include "proxy/policy.h"
#include "proxy/proxy.h"
#include "proxy/server.h"
#include "proxy/sesreq.h"
#include "proxy/throttle.h"
#include "proxy/upstream.h"

#define CT_JSON "application/json"
#define CT_XML "text/xml"

enum phase { P_THROTTLE, P_CREDENTIALS, P_UPSTREAM, P_BACKOFF, P_DONE };

struct req {
    struct proxy *px;
    struct server_conn *conn;
    struct config *cfg; /* the snapshot this call started under */
    const struct model_op *op;
    int passthrough; /* SDK mode: SES's XML back untouched, our errors as XML */
    enum phase phase;
    char request_id[65];
    char client[64];
    struct evbuffer *form; /* the body to sign and send; kept for retries */
    char payload_hash[65];
    double recipients;
    struct throttle_ticket ticket;
    struct upstream_req *ureq;
    struct event *backoff;
    struct creds_waiter cwait; /* waiting for the first credentials */
    struct event *cwait_timer;
    int waited_creds;
    int attempts;     /* upstream attempts made */
    int stale_resent; /* sent again after a kept-alive connection the server had closed */
    int fresh_conn;   /* the next send must open a new connection */
    char ses_request_id[80];
    uint64_t t_start_us, t_throttle_us, t_upstream_us;
};

/* ---------------------------------------------------------------- replies */

static int sink_evbuffer(void *ctx, const void *data, size_t len) {
    return evbuffer_add(ctx, data, len);
}

static void access_log(const struct req *r, int status, const char *code) {
    if (!log_enabled(LOG_INFO)) {
        return;
    }
    uint64_t now = throttle_monotonic_us();
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:f}", "msg", "request", "request_id", r->request_id,
        "client", r->client, "action", r->op != NULL ? r->op->name : "", "status", status,
        "attempts", r->attempts, "throttle_wait_ms",
        r->t_throttle_us > r->t_start_us ? (double)(r->t_throttle_us - r->t_start_us) / 1000.0
                                         : 0.0,
        "duration_ms", (double)(now - r->t_start_us) / 1000.0);
    if (o == NULL) {
        return;
    }
    if (r->ses_request_id[0] != '\0') {
        json_object_set_new(o, "ses_request_id", json_string(r->ses_request_id));
    }
    if (code != NULL) {
        json_object_set_new(o, "error", json_string(code));
    }
    json_object_set_new(o, "mode", json_string(r->passthrough ? "sdk" : "json"));
    log_json(LOG_INFO, o);
    json_decref(o);
}

static void error_json(struct evbuffer *out, const char *request_id, int status, const char *code,
                       const char *message, int retries) {
    json_t *o = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:i, s:i}}", "Error", "Type",
                          status < 500 ? "Sender" : "Receiver", "Code", code, "Message", message,
                          "ResponseMetadata", "RequestId", request_id, "HTTPStatusCode", status,
                          "RetryAttempts", retries);
    if (o == NULL) { /* message was not UTF-8: never echo it raw */
        o = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:i, s:i}}", "Error", "Type", "Sender", "Code",
                      code, "Message", "(message not shown)", "ResponseMetadata", "RequestId",
                      request_id, "HTTPStatusCode", status, "RetryAttempts", retries);
    }
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL) {
        evbuffer_add(out, s, strlen(s));
    }
    free(s);
    json_decref(o);
}

/* Our own error, as JSON or (SDK mode) as SES-style XML. */
static void error_body(struct evbuffer *out, int xml, const char *request_id, int status,
                       const char *code, const char *message, int retries) {
    if (!xml) {
        error_json(out, request_id, status, code, message, retries);
        return;
    }
    if (xmljson_write_error(status < 500 ? "Sender" : "Receiver", code, message, request_id,
                            sink_evbuffer, out) < 0) {
        /* Only on out of memory; an SDK still gets a parseable document. */
        evbuffer_drain(out, evbuffer_get_length(out));
        (void)evbuffer_add_printf(out,
                                  "<ErrorResponse><Error><Code>%s</Code></Error>"
                                  "</ErrorResponse>",
                                  code);
    }
}

void request_reply_error(struct server_conn *conn, const char *request_id, int xml, int status,
                         const char *code, const char *message, int retry_after_s) {
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        return;
    }
    error_body(body, xml, request_id, status, code, message, 0);
    /* Answers the server gives itself (405, 408, 413, 431, a refused
     * client...) are calls too: one access-log line and one sample each. */
    struct proxy *px = server_conn_proxy(conn);
    metrics_count_request(&px->metrics, -1, status);
    if (log_enabled(LOG_INFO)) {
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "msg", "request", "request_id",
                      request_id, "client", server_conn_client(conn), "action", "", "status",
                      status, "attempts", 0, "error", code, "mode", xml ? "sdk" : "json");
        if (o != NULL) {
            log_json(LOG_INFO, o);
            json_decref(o);
        }
    }
    char ra[24];
    struct server_header h = {"Retry-After", ra};
    snprintf(ra, sizeof(ra), "%d", retry_after_s);
    server_respond(conn, status, xml ? CT_XML : CT_JSON, body, &h, retry_after_s > 0 ? 1 : 0);
    evbuffer_free(body);
}

static void req_free(struct req *r) {
    throttle_cancel(&r->ticket);
    creds_store_cancel_wait(r->px->creds, &r->cwait);
    if (r->cwait_timer != NULL) {
        event_free(r->cwait_timer);
    }
    if (r->ureq != NULL) {
        upstream_cancel(r->ureq);
    }
    if (r->backoff != NULL) {
        event_free(r->backoff);
    }
    if (r->form != NULL) {
        upstream_release_body(r->form); /* a 10 MB message: give the heap back */
    }
    config_unref(r->cfg);
    free(r);
}

/* The one place a reply leaves for a request that reached the pipeline. */
static void req_finish(struct req *r, int status, const char *ct, struct evbuffer *body,
                       const char *code, int retry_after_s) {
    r->phase = P_DONE;
    struct proxy *px = r->px;
    metrics_count_request(&px->metrics, r->op != NULL ? (int)(r->op - px->svc->ops) : -1, status);
    uint64_t now = throttle_monotonic_us();
    metrics_observe(&px->metrics.request_seconds, (double)(now - r->t_start_us) / 1e6);
    if (r->t_throttle_us != 0) {
        metrics_observe(&px->metrics.throttle_wait_seconds,
                        (double)(r->t_throttle_us - r->t_start_us) / 1e6);
    }
    access_log(r, status, code);
    if (r->conn != NULL) {
        char ra[24];
        struct server_header h = {"Retry-After", ra};
        snprintf(ra, sizeof(ra), "%d", retry_after_s);
        server_respond(r->conn, status, ct, body, &h, retry_after_s > 0 ? 1 : 0);
        r->conn = NULL;
    }
    req_free(r);
}

static void req_fail(struct req *r, int status, const char *code, const char *message,
                     int retry_after_s) {
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        req_free(r);
        return;
    }
    error_body(body, r->passthrough, r->request_id, status, code, message,
               r->attempts > 0 ? r->attempts - 1 : 0);
    req_finish(r, status, r->passthrough ? CT_XML : CT_JSON, body, code, retry_after_s);
    evbuffer_free(body);
}

void request_abort(struct req *r) {
    r->conn = NULL;
    if (r->phase != P_DONE) {
        access_log(r, 499, "ClientClosedRequest");
    }
    req_free(r);
}

/* --------------------------------------------------------------- upstream */

/* Returns 0 while r waits for SES, -1 when r was answered (and freed). */
static int send_upstream(struct req *r);

static void on_creds(void *arg) {
    struct req *r = arg;
    evtimer_del(r->cwait_timer);
    (void)send_upstream(r); /* now with credentials, or a 503 saying why not */
}

static void on_creds_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct req *r = arg;
    creds_store_cancel_wait(r->px->creds, &r->cwait);
    const char *why = NULL;
    (void)creds_store_current(r->px->creds, time(NULL), &why);
    char msg[600];
    snprintf(msg, sizeof(msg), "timed out waiting for credentials: %.500s",
             why != NULL ? why : "none yet");
    req_fail(r, 503, "CredentialsUnavailable", msg, 0);
}
static void on_granted(void *arg, int granted, uint64_t retry_after_us);

/* botocore "standard" retry: full jitter over base 2^(attempt-1) s, capped
 * at 20 s. */
static void schedule_retry(struct req *r);

static struct req *admit(struct req *r);

static void on_backoff(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct req *r = arg;
    r->px->stats.retries_total++;
    /* A retry is another call to SES: it goes through the throttle again. */
    (void)admit(r);
}

static void schedule_retry(struct req *r) {
    double cap = pow(2.0, r->attempts - 1);
    if (cap > 20) {
        cap = 20;
    }
    double delay = cap * ((double)arc4random() / 4294967296.0);
    if (r->backoff == NULL) {
        r->backoff = evtimer_new(r->px->base, on_backoff, r);
        if (r->backoff == NULL) {
            req_fail(r, 500, "InternalError", "out of memory", 0);
            return;
        }
    }
    struct timeval tv = {(time_t)delay, (suseconds_t)((delay - floor(delay)) * 1e6)};
    r->phase = P_BACKOFF;
    evtimer_add(r->backoff, &tv);
}

static int may_retry(const struct req *r) { return r->attempts < r->cfg->retry_max_attempts; }

static void free_cleanup(const void *data, size_t len, void *arg) {
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

/* Answers a JSON-mode call from SES's XML. */
static void answer_json(struct req *r, struct upstream_req *u, json_t *doc) {
    json_t *meta = json_object_get(doc, "ResponseMetadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(doc, "ResponseMetadata", meta);
    }
    if (json_object_get(meta, "RequestId") == NULL && u->amzn_request_id[0] != '\0') {
        json_object_set_new(meta, "RequestId", json_string(u->amzn_request_id));
    }
    json_object_set_new(meta, "HTTPStatusCode", json_integer(u->status));
    json_object_set_new(meta, "RetryAttempts", json_integer(r->attempts - 1));
    struct evbuffer *body = evbuffer_new();
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (body == NULL || s == NULL) {
        free(s);
        if (body != NULL) {
            evbuffer_free(body);
        }
        req_fail(r, 500, "InternalError", "out of memory", 0);
        return;
    }
    evbuffer_add_reference(body, s, strlen(s), free_cleanup, NULL);
    json_t *err = json_object_get(doc, "Error");
    req_finish(r, u->status, CT_JSON, body,
               err != NULL ? json_string_value(json_object_get(err, "Code")) : NULL, 0);
    evbuffer_free(body);
}

/* Parses SES's XML answer; NULL when it is not SES XML. */
/* The proxy's spare parser made ready for r's answer, or a new one. */
static struct xmljson *take_parser(struct proxy *px, const struct model_op *op) {
    struct xmljson *x = px->spare_xml;
    px->spare_xml = NULL;
    if (x != NULL && xmljson_reset(x, px->svc, op) == 0) {
        return x;
    }
    xmljson_free(x);
    return xmljson_new(px->svc, op);
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

static json_t *parse_answer(struct req *r, struct upstream_req *u, int *is_error) {
    struct xmljson *x = take_parser(r->px, r->op);
    if (x == NULL) {
        return NULL;
    }
    struct sp_err err;
    sp_err_clear(&err);
    int n = evbuffer_peek(u->body, -1, NULL, NULL, 0);
    int rc = 0;
    struct evbuffer_ptr pos;
    evbuffer_ptr_set(u->body, &pos, 0, EVBUFFER_PTR_SET);
    for (int i = 0; i < n && rc == 0; i++) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(u->body, -1, &pos, &v, 1) < 1) {
            break;
        }
        rc = xmljson_feed(x, v.iov_base, v.iov_len, 0, &err);
        evbuffer_ptr_set(u->body, &pos, v.iov_len, EVBUFFER_PTR_ADD);
    }
    json_t *doc = NULL;
    if (rc == 0 && xmljson_feed(x, "", 0, 1, &err) == 0 &&
        xmljson_finish(x, &doc, is_error, &err) == 0) {
        give_parser(r->px, x);
        return doc;
    }
    if (log_enabled(LOG_DEBUG)) {
        log_event(LOG_DEBUG, "upstream answer is not SES XML", "request_id", r->request_id, "error",
                  err.msg, NULL);
    }
    give_parser(r->px, x);
    return NULL;
}

static int is_throttling(json_t *doc) {
    const char *code = json_string_value(json_object_get(json_object_get(doc, "Error"), "Code"));
    const char *msg = json_string_value(json_object_get(json_object_get(doc, "Error"), "Message"));
    return code != NULL &&
           (strcmp(code, "Throttling") == 0 || strcmp(code, "ThrottlingException") == 0) &&
           (msg == NULL || strstr(msg, "Daily message quota exceeded") == NULL);
}

static int is_retryable_error(int status, json_t *doc) {
    if (status == 500 || status == 502 || status == 503 || status == 504) {
        return 1;
    }
    json_t *e = json_object_get(doc, "Error");
    const char *code = json_string_value(json_object_get(e, "Code"));
    const char *msg = json_string_value(json_object_get(e, "Message"));
    if (code == NULL) {
        return 0;
    }
    if (strcmp(code, "Throttling") == 0 || strcmp(code, "ThrottlingException") == 0 ||
        strcmp(code, "RequestThrottled") == 0) {
        /* No retry can fix a spent daily quota. */
        return msg == NULL || strstr(msg, "Daily message quota exceeded") == NULL;
    }
    return 0;
}

static void on_upstream(struct upstream_req *u, void *arg) {
    struct req *r = arg;
    r->ureq = NULL; /* freed by upstream after we return */
    metrics_observe(&r->px->metrics.upstream_seconds, (double)(u->done_us - u->started_us) / 1e6);
    if (u->amzn_request_id[0] != '\0') {
        snprintf(r->ses_request_id, sizeof(r->ses_request_id), "%s", u->amzn_request_id);
    }
    if (u->error != NULL) {
        /* The keep-alive race (upstream_req_stale): SES had closed the
         * connection, so it did not act on the request. Sent once more at
         * once, on a new connection, not counted as a retry, as HTTP clients
         * do for requests that may be repeated. Not for sending calls: there
         * it cannot be told apart from SES breaking the connection after
         * acting, which the rule below covers. */
        if (upstream_req_stale(u) && r->op->op_class != MODEL_OP_SEND && !r->stale_resent) {
            r->stale_resent = 1;
            r->fresh_conn = 1;
            r->attempts--;
            (void)send_upstream(r);
            return;
        }
        /* Before the request was fully written SES cannot have acted on it;
         * after, a sending call may already have sent mail, so it is not
         * repeated (README: "Retries"). */
        int safe = !u->written || r->op->op_class != MODEL_OP_SEND;
        if (u->error != upstream_err_tls && safe && may_retry(r)) {
            schedule_retry(r);
            return;
        }
        req_fail(r, upstream_error_status(u->error), upstream_error_code(u->error), u->error, 0);
        return;
    }
    int is_error = 0;
    json_t *doc = parse_answer(r, u, &is_error);
    if (doc == NULL && !(r->passthrough && u->status < 300)) {
        if (u->status >= 500 && may_retry(r)) {
            schedule_retry(r);
            return;
        }
        char msg[96];
        snprintf(msg, sizeof(msg), "the upstream answered HTTP %d with a body that is not SES XML",
                 u->status);
        req_fail(r, 502, "BadGateway", msg, 0);
        return;
    }
    const char *rid =
        json_string_value(json_object_get(json_object_get(doc, "ResponseMetadata"), "RequestId"));
    if (rid != NULL) {
        snprintf(r->ses_request_id, sizeof(r->ses_request_id), "%s", rid);
    }
    if (is_error && is_throttling(doc)) {
        /* SES said no although our bucket said yes: learn a lower rate. */
        struct proxy *px = r->px;
        uint64_t now = px->throttle->now();
        throttle_bucket_penalize(px->op_buckets[r->op - px->svc->ops], now);
        if (r->op->op_class == MODEL_OP_SEND) {
            throttle_bucket_penalize(px->send_bucket, now);
        }
    }
    if (is_error && is_retryable_error(u->status, doc) && may_retry(r)) {
        json_decref(doc);
        schedule_retry(r);
        return;
    }
    if (r->passthrough) {
        /* SES's bytes and status, untouched. */
        const char *code =
            is_error ? json_string_value(json_object_get(json_object_get(doc, "Error"), "Code"))
                     : NULL;
        req_finish(r, u->status, CT_XML, u->body, code, 0);
    } else {
        answer_json(r, u, doc);
    }
    json_decref(doc);
}

static int send_upstream(struct req *r) {
    struct proxy *px = r->px;
    if (r->t_throttle_us == 0) {
        r->t_throttle_us = throttle_monotonic_us();
    }
    const char *why = NULL;
    struct creds *c = creds_store_current(px->creds, time(NULL), &why);
    if (c == NULL && !r->waited_creds && creds_store_pending(px->creds)) {
        /* The first credentials are on their way (web identity, IMDS...):
         * wait for them, as long as a call may wait for a throttle slot. */
        r->waited_creds = 1;
        r->cwait_timer = evtimer_new(px->base, on_creds_timeout, r);
        if (r->cwait_timer == NULL) {
            req_fail(r, 500, "InternalError", "out of memory", 0);
            return -1;
        }
        r->cwait.cb = on_creds;
        r->cwait.arg = r;
        r->phase = P_CREDENTIALS;
        creds_store_wait(px->creds, &r->cwait);
        int ms = r->cfg->throttle.max_wait_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(r->cwait_timer, &tv);
        return 0;
    }
    if (c == NULL) {
        req_fail(r, 503, "CredentialsUnavailable", why, 0);
        return -1;
    }
    struct evbuffer *out = evbuffer_new();
    struct sp_err err;
    sp_err_clear(&err);
    if (out == NULL ||
        sesreq_build(px, r->cfg->region, c, r->form, r->payload_hash, out, &err) < 0) {
        if (out != NULL) {
            evbuffer_free(out);
        }
        /* The signer's messages never contain a secret. */
        req_fail(r, 500, "InternalError", err.code != NULL ? err.msg : "out of memory", 0);
        return -1;
    }
    r->attempts++;
    r->phase = P_UPSTREAM;
    px->stats.upstream_requests_total++;
    r->ureq = r->fresh_conn ? upstream_send_fresh(px->upstream, out, on_upstream, r)
                            : upstream_send(px->upstream, out, on_upstream, r);
    r->fresh_conn = 0;
    evbuffer_free(out);
    if (r->ureq == NULL) {
        req_fail(r, 500, "InternalError", "out of memory", 0);
        return -1;
    }
    return 0;
}

static void on_granted(void *arg, int granted, uint64_t retry_after_us) {
    struct req *r = arg;
    if (granted) {
        (void)send_upstream(r);
        return;
    }
    r->px->stats.throttled_total++;
    req_fail(r, 429, "Throttling",
             "Rate exceeded: the shared bucket cannot serve this call in time",
             (int)((retry_after_us + 999999) / 1000000));
}

/* ------------------------------------------------------------- recipients */

static double count_list(json_t *dest, const char *key) {
    return (double)json_array_size(json_object_get(dest, key));
}

static double count_destination(json_t *dest) {
    return count_list(dest, "ToAddresses") + count_list(dest, "CcAddresses") +
           count_list(dest, "BccAddresses");
}

/* Recipients as SES counts them against the send rate. */
static double recipients_json(const struct model_op *op, json_t *params) {
    double n = 0;
    if (strcmp(op->name, "SendRawEmail") == 0) {
        n = (double)json_array_size(json_object_get(params, "Destinations"));
        json_t *data = json_object_get(json_object_get(params, "RawMessage"), "Data");
        if (n == 0 && json_is_string(data)) {
            n = (double)recipients_count_b64(json_string_value(data), json_string_length(data), 0);
        }
    } else if (strcmp(op->name, "SendBulkTemplatedEmail") == 0) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(params, "Destinations"), i, d) {
            n += count_destination(json_object_get(d, "Destination"));
        }
    } else {
        n = count_destination(json_object_get(params, "Destination"));
    }
    return n < 1 ? 1 : n;
}

/* The same count from an SDK's form body: list entries that end in
 * ".member.N" under To/Cc/BccAddresses (also inside bulk destinations) or
 * Destinations (raw), else the raw message's own header fields. */
static double recipients_form(const char *body, size_t len) {
    static const char *const lists[] = {"ToAddresses.member.", "CcAddresses.member.",
                                        "BccAddresses.member.", "Destinations.member."};
    struct form_cursor cur;
    struct form_pair pair;
    double n = 0;
    const char *raw = NULL;
    size_t raw_len = 0;
    form_cursor_init(&cur, body, len);
    while (form_next(&cur, &pair) == 1) {
        char key[256];
        size_t klen;
        struct sp_err e;
        if (form_decode(pair.key, pair.key_len, key, sizeof(key), &klen, &e) < 0) {
            continue;
        }
        if (strcmp(key, "RawMessage.Data") == 0) {
            raw = pair.value;
            raw_len = pair.value_len;
            continue;
        }
        for (size_t i = 0; i < 4; i++) {
            const char *hit = strstr(key, lists[i]);
            /* Destinations.member.N counts only for raw mail (bulk's
             * Destinations.member.N.Destination... entries have a dot after N). */
            if (hit != NULL && strchr(hit + strlen(lists[i]), '.') == NULL) {
                n += 1;
                break;
            }
        }
    }
    if (n == 0 && raw != NULL) {
        n = (double)recipients_count_b64(raw, raw_len, 1);
    }
    return n < 1 ? 1 : n;
}

/* --------------------------------------------------------------- routing */

static void reply_simple(struct server_conn *conn, int status, const char *ct, const char *text) {
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        return;
    }
    evbuffer_add(b, text, strlen(text));
    server_respond(conn, status, ct, b, NULL, 0);
    evbuffer_free(b);
}

static void handle_get(struct proxy *px, struct server_conn *conn, struct server_request *sr) {
    if (strcmp(sr->path, "/healthz") == 0) {
        reply_simple(conn, 200, CT_JSON, "{\"status\":\"ok\"}");
    } else if (strcmp(sr->path, "/readyz") == 0) {
        const char *why = NULL;
        if (px->draining) {
            reply_simple(conn, 503, CT_JSON, "{\"status\":\"draining\"}");
        } else if (creds_store_current(px->creds, time(NULL), &why) == NULL) {
            json_t *o = json_pack("{s:s, s:s}", "status", "unavailable", "reason", why);
            char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            reply_simple(conn, 503, CT_JSON, s != NULL ? s : "{\"status\":\"unavailable\"}");
            free(s);
            json_decref(o);
        } else {
            reply_simple(conn, 200, CT_JSON, "{\"status\":\"ready\"}");
        }
    } else if (strcmp(sr->path, "/metrics") == 0) {
        struct evbuffer *b = evbuffer_new();
        if (b == NULL) {
            return;
        }
        metrics_write(px, b);
        server_respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8", b, NULL, 0);
        evbuffer_free(b);
    } else {
        request_reply_error(conn, sr->request_id, 0, 404, "NotFound",
                            "no such endpoint; calls are POST / or POST /{Action}", 0);
    }
}

/* json_load_callback source over an evbuffer: no contiguous copy of a big
 * body is ever made. */
static size_t json_from_evbuffer(void *buffer, size_t buflen, void *data) {
    int n = evbuffer_remove(data, buffer, buflen);
    return n < 0 ? (size_t)-1 : (size_t)n;
}

static int first_byte_is_brace(struct evbuffer *b) {
    struct evbuffer_ptr p = evbuffer_search(b, "{", 1, NULL);
    if (p.pos < 0) {
        return 0;
    }
    unsigned char pre[64];
    size_t n = p.pos < 64 ? (size_t)p.pos : 64;
    if ((size_t)p.pos > n) {
        return 0;
    }
    evbuffer_copyout(b, pre, n);
    for (size_t i = 0; i < n; i++) {
        if (pre[i] != ' ' && pre[i] != '\t' && pre[i] != '\r' && pre[i] != '\n') {
            return 0;
        }
    }
    return 1;
}

/* Starts the throttle for a call whose op and form body are ready. */
static struct req *admit(struct req *r) {
    struct proxy *px = r->px;
    throttle_ticket_init(&r->ticket, on_granted, r);
    throttle_ticket_add(&r->ticket, px->op_buckets[r->op - px->svc->ops], 1);
    if (r->op->op_class == MODEL_OP_SEND) {
        throttle_ticket_add(&r->ticket, px->send_bucket, r->recipients);
    }
    uint64_t wait = 0;
    r->phase = P_THROTTLE;
    switch (throttle_acquire(px->throttle, &r->ticket, &wait)) {
    case THROTTLE_GRANTED:
        if (send_upstream(r) < 0) {
            return NULL; /* answered and freed already */
        }
        break;
    case THROTTLE_QUEUED:
        break;
    case THROTTLE_REFUSED: {
        px->stats.throttled_total++;
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Rate exceeded: %s would wait %.1f s, over throttle.max_wait_ms or "
                 "throttle.max_queue",
                 r->op->name, (double)wait / 1e6);
        req_fail(r, 429, "Throttling", msg, (int)((wait + 999999) / 1000000));
        return NULL;
    }
    }
    return r;
}

static struct req *start_form(struct req *r, struct server_request *sr) {
    struct proxy *px = r->px;
    r->passthrough = 1;
    size_t len = evbuffer_get_length(sr->body);
    const char *body = (const char *)evbuffer_pullup(sr->body, -1);
    struct sp_err err;
    sp_err_clear(&err);
    char action[128];
    size_t alen = 0;
    if (form_check(body, len, &err) < 0) {
        req_fail(r, 400, "MalformedRequest", err.msg, 0);
        return NULL;
    }
    int found = form_get(body, len, "Action", action, sizeof(action), &alen, &err);
    if (found <= 0) {
        req_fail(r, 400, "InvalidAction", "the form has no Action", 0);
        return NULL;
    }
    r->op = model_find_op(px->svc, action, alen);
    if (r->op == NULL || strcmp(r->op->name, action) != 0) {
        r->op = NULL;
        req_fail(r, 400, "InvalidAction", "no such SES operation", 0);
        return NULL;
    }
    if (!config_action_allowed(r->cfg, r->op->name)) {
        req_fail(r, 403, "AccessDenied", "the operation is not allowed by policy", 0);
        return NULL;
    }
    if (policy_check_form(config_identity_rule(r->cfg, r->op->name), r->op, body, len, &err) < 0) {
        req_fail(r, 403, "AccessDenied", err.msg, 0);
        return NULL;
    }
    r->recipients = r->op->op_class == MODEL_OP_SEND ? recipients_form(body, len) : 1;
    r->form = evbuffer_new();
    if (r->form == NULL) {
        req_fail(r, 500, "InternalError", "out of memory", 0);
        return NULL;
    }
    evbuffer_add_buffer(r->form, sr->body); /* moves the chains, no copy */
    return admit(r);
}

static struct req *start_json(struct req *r, struct server_request *sr, const char *path_action) {
    struct proxy *px = r->px;
    json_t *params;
    if (evbuffer_get_length(sr->body) == 0) {
        if (path_action == NULL) {
            req_fail(r, 400, "InvalidAction", "no Action: POST / needs a JSON body with \"Action\"",
                     0);
            return NULL;
        }
        params = json_object();
    } else {
        json_error_t jerr;
        params = json_load_callback(json_from_evbuffer, sr->body, JSON_REJECT_DUPLICATES, &jerr);
        if (params == NULL) {
            char msg[256];
            snprintf(msg, sizeof(msg), "body is not valid JSON (UTF-8): %s at line %d column %d",
                     jerr.text, jerr.line, jerr.column);
            req_fail(r, 400, "MalformedRequest", msg, 0);
            return NULL;
        }
        if (!json_is_object(params)) {
            json_decref(params);
            req_fail(r, 400, "MalformedRequest", "body must be a JSON object", 0);
            return NULL;
        }
    }
    json_t *action = json_object_get(params, "Action");
    const char *name = path_action;
    if (action != NULL) {
        if (!json_is_string(action)) {
            json_decref(params);
            req_fail(r, 400, "InvalidAction", "\"Action\" must be a string", 0);
            return NULL;
        }
        name = json_string_value(action);
        if (path_action != NULL) {
            const struct model_op *a = model_find_op(px->svc, path_action, strlen(path_action));
            const struct model_op *b = model_find_op(px->svc, name, json_string_length(action));
            if (a != b) {
                json_decref(params);
                req_fail(r, 400, "InvalidAction", "the Action in the path and in the body differ",
                         0);
                return NULL;
            }
        }
    }
    if (name == NULL) {
        json_decref(params);
        req_fail(r, 400, "InvalidAction", "no Action: give \"Action\" or POST /{Action}", 0);
        return NULL;
    }
    r->op = model_find_op(px->svc, name,
                          action != NULL && name == json_string_value(action)
                              ? json_string_length(action)
                              : strlen(name));
    if (r->op == NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg), "no such SES operation: %.120s", name);
        json_decref(params);
        req_fail(r, 400, "InvalidAction", msg, 0);
        return NULL;
    }
    json_object_del(params, "Action");
    if (!config_action_allowed(r->cfg, r->op->name)) {
        json_decref(params);
        req_fail(r, 403, "AccessDenied", "the operation is not allowed by policy", 0);
        return NULL;
    }
    struct sp_err err;
    sp_err_clear(&err);
    if (validate_params(px->svc, r->op, params, &err) < 0) {
        json_decref(params);
        req_fail(r, 400, err.code != NULL ? err.code : "ValidationError", err.msg, 0);
        return NULL;
    }
    if (policy_check_json(config_identity_rule(r->cfg, r->op->name), r->op, params, &err) < 0) {
        json_decref(params);
        req_fail(r, 403, "AccessDenied", err.msg, 0);
        return NULL;
    }
    r->recipients = r->op->op_class == MODEL_OP_SEND ? recipients_json(r->op, params) : 1;
    r->form = evbuffer_new();
    if (r->form == NULL ||
        query_serialize(px->svc, r->op, params, sink_evbuffer, r->form, &err) < 0) {
        json_decref(params);
        req_fail(r, 500, "InternalError", err.code != NULL ? err.msg : "out of memory", 0);
        return NULL;
    }
    json_decref(params);
    return admit(r);
}

struct req *request_start(struct proxy *px, struct server_conn *conn, struct server_request *sr) {
    if (sr->admin && !((strcmp(sr->method, "GET") == 0 || strcmp(sr->method, "HEAD") == 0) &&
                       (strcmp(sr->path, "/healthz") == 0 || strcmp(sr->path, "/readyz") == 0 ||
                        strcmp(sr->path, "/metrics") == 0))) {
        /* Open to any client: nothing here reaches SES. */
        request_reply_error(conn, sr->request_id, 0, 404, "NotFound", SERVER_ADMIN_ONLY, 0);
        return NULL;
    }
    if (strcmp(sr->method, "GET") == 0 || strcmp(sr->method, "HEAD") == 0) {
        handle_get(px, conn, sr);
        return NULL;
    }
    if (strcmp(sr->method, "POST") != 0) {
        request_reply_error(conn, sr->request_id, 0, 405, "MethodNotAllowed",
                            "calls are POST / or POST /{Action}", 0);
        return NULL;
    }
    struct req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        request_reply_error(conn, sr->request_id, 0, 500, "InternalError", "out of memory", 0);
        return NULL;
    }
    r->px = px;
    r->conn = conn;
    r->cfg = config_ref(px->cfg);
    r->t_start_us = throttle_monotonic_us();
    memcpy(r->request_id, sr->request_id, sizeof(r->request_id));
    memcpy(r->client, sr->client, sizeof(r->client));
    if (px->draining) {
        req_fail(r, 503, "ServiceUnavailable", "the proxy is shutting down", 0);
        return NULL;
    }
    const char *path_action = NULL;
    if (strcmp(sr->path, "/") != 0) {
        path_action = sr->path + 1;
        if (strchr(path_action, '/') != NULL || *path_action == '\0') {
            req_fail(r, 404, "NotFound", "calls are POST / or POST /{Action}", 0);
            return NULL;
        }
    }
    if (sr->body_kind == BODY_FORM && path_action == NULL && !first_byte_is_brace(sr->body)) {
        return start_form(r, sr);
    }
    return start_json(r, sr, path_action);
}
