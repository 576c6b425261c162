/* request.c - one call's life, from a complete request to its one answer.
 *
 * The steps, each named for the event that starts it (h2o's proxy.c is the
 * model):
 *
 *   request_start      the request is complete: prepare the call
 *                      (prepare.h: operation, policy, validation, the body
 *                      for SES) and ask the throttle for tokens
 *   on_granted         the throttle let it through (at once or after
 *                      queueing): sign and send it upstream
 *   on_credentials     the first credentials arrived while it waited
 *   on_credentials_timeout   ... or did not arrive in time
 *   on_answer          SES answered, or the exchange failed: answer the
 *                      client, or retry
 *   on_backoff         the retry's backoff is over: back to the throttle
 *   request_abort      the client went away
 *
 * Two other ways in: a sending call with "Prefer: respond-async" is stored
 * in the outbox (store_async, on_stored) instead of being sent; and the
 * outbox's deliveries start at send_upstream without a client
 * (request_send_detached), answered through a completion callback.
 *
 * The state is one struct req, freed only in finish() (after the answer) or
 * request_abort() (client gone); every asynchronous step it waits on
 * (throttle ticket, credential wait, upstream exchange, backoff timer) is
 * cancelled there, so no callback outlives it. */
#include "proxy/pipeline/request.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/model.h"
#include "api/restjson.h"
#include "api/retry.h"
#include "proxy/clock.h"
#include "proxy/config.h"
#include "proxy/creds/creds_account.h"
#include "proxy/creds/creds_store.h"
#include "proxy/http/server.h"
#include "proxy/http/signed_request.h"
#include "proxy/http/upstream.h"
#include "proxy/outbox/outbox.h"
#include "proxy/outbox/outbox_http.h"
#include "proxy/pipeline/answer.h"
#include "proxy/pipeline/prepare.h"
#include "proxy/pipeline/reply.h"
#include "proxy/policy.h"
#include "proxy/proxy.h"
#include "proxy/throttle/quota.h"
#include "proxy/throttle/throttle.h"

enum phase { P_THROTTLE, P_CREDENTIALS, P_UPSTREAM, P_BACKOFF, P_STORE, P_DONE };

struct req {
    struct proxy *px;
    struct server_conn *conn;
    struct config *cfg; /* the snapshot this call started under */
    struct prepared call;
    enum reply_style style; /* the shape the caller parses (reply_style_of) */
    enum phase phase;
    char request_id[65];
    char client[64];
    char payload_hash[65];
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
    char ses_id_2[128]; /* SES's x-amz-id-2, passed on to SDKs */
    uint64_t t_start_us, t_throttle_us;
    struct outbox_pending *stash; /* P_STORE: the outbox is storing it */
    request_done_fn done;         /* detached (an outbox delivery): its answer goes here */
    void *done_arg;
};

/* Both return 0 while r waits for something, -1 when r was answered (and
 * freed). */
static int admit(struct req *r);
static int send_upstream(struct req *r);

/* ---------------------------------------------------------------- answers */

/* A call that prepare took for an SDK's is answered in its API's error
 * shape (SES's XML, SES v2's REST-JSON) whatever the request looked like
 * at first. */
static enum reply_style style_of(const struct req *r) {
    if (!r->call.passthrough) {
        return r->style;
    }
    return r->call.svc == &model_sesv2 ? REPLY_REST_JSON : REPLY_QUERY_XML;
}

/* One access-log line and, unless the client left before an answer, one
 * requests_total sample. */
static void account(const struct req *r, int status, const char *code, int client_gone) {
    if (r->done != NULL) {
        return; /* an outbox delivery: the outbox logs its own lines */
    }
    uint64_t now = clock_monotonic_us();
    struct reply_record rec = {
        .request_id = r->request_id,
        .client = r->client,
        .op = r->call.op,
        .status = status,
        .attempts = r->attempts,
        .throttle_wait_ms = r->t_throttle_us > r->t_start_us
                                ? (double)(r->t_throttle_us - r->t_start_us) / 1000.0
                                : 0.0,
        .duration_ms = (double)(now - r->t_start_us) / 1000.0,
        .ses_request_id = r->ses_request_id,
        .error = code,
        .style = style_of(r),
        .client_gone = client_gone,
    };
    reply_account(r->px, &rec);
}

static void req_free(struct req *r) {
    if (r->stash != NULL) {
        outbox_accept_cancel(r->px->outbox, r->stash);
    }
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
    prepare_clear(&r->call);
    config_unref(r->cfg);
    free(r);
}

/* The one place an answer leaves for a call. */
static void finish(struct req *r, int status, const char *ct, struct evbuffer *body,
                   const char *code, const struct reply_headers *h) {
    r->phase = P_DONE;
    struct proxy *px = r->px;
    uint64_t now = clock_monotonic_us();
    metrics_observe(&px->metrics.request_seconds, (double)(now - r->t_start_us) / 1e6);
    if (r->t_throttle_us != 0) {
        metrics_observe(&px->metrics.throttle_wait_seconds,
                        (double)(r->t_throttle_us - r->t_start_us) / 1e6);
    }
    account(r, status, code, 0);
    if (r->done != NULL) {
        r->done(r->done_arg, status, body);
    } else if (r->conn != NULL) {
        reply_send(r->conn, status, ct, body, h);
        r->conn = NULL;
    }
    req_free(r);
}

/* One of the proxy's own errors, in the caller's shape. */
static void fail(struct req *r, int status, const char *code, const char *message,
                 int retry_after_s) {
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        if (r->done != NULL) {
            r->done(r->done_arg, status, NULL);
        }
        req_free(r);
        return;
    }
    enum reply_style style = style_of(r);
    reply_error_body(body, style, r->request_id, status, code, message,
                     r->attempts > 0 ? r->attempts - 1 : 0);
    /* The proxy's own id, as in the body and the access log. */
    struct reply_headers h = {
        .amzn_request_id = r->request_id,
        .error_type = style == REPLY_REST_JSON ? code : NULL,
        .retry_after_s = retry_after_s,
    };
    finish(r, status, reply_content_type(style), body, code, &h);
    evbuffer_free(body);
}

void request_abort(struct req *r) {
    r->conn = NULL;
    r->done = NULL;
    if (r->phase != P_DONE) {
        account(r, 499, "ClientClosedRequest", 1);
    }
    req_free(r);
}

/* --------------------------------------------------------------- retries */

/* One retry budget per call. An SDK retries on its own (botocore and the JS
 * SDK v3 make 3 attempts by default, the JS SDK v2 4), so retrying here too
 * would multiply them (9 or 12 requests to SES for one SDK call): its calls
 * get retry.sdk_max_attempts (1 by default: none). They still wait for
 * throttle tokens, and are still sent once more after the keep-alive race,
 * which is no attempt of SES's. A call whose client has gone is not retried
 * at all: request_abort() frees it, backoff timer and all. An outbox
 * delivery is one attempt: the outbox retries, on its own schedule, until
 * outbox.max_age_s. */
static int may_retry(const struct req *r) {
    if (r->done != NULL) {
        return 0;
    }
    int sdk = r->call.passthrough || r->style != REPLY_JSON;
    return r->attempts < (sdk ? r->cfg->retry_sdk_max_attempts : r->cfg->retry_max_attempts);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct req *r = arg;
    r->px->stats.retries_total++;
    /* A retry is another call to SES: it goes through the throttle again. */
    (void)admit(r);
}

static void schedule_retry(struct req *r) {
    double delay = retry_backoff_s(r->attempts, (double)arc4random() / 4294967296.0);
    if (r->backoff == NULL) {
        r->backoff = evtimer_new(r->px->base, on_backoff, r);
        if (r->backoff == NULL) {
            fail(r, 500, "InternalError", "out of memory", 0);
            return;
        }
    }
    struct timeval tv = {(time_t)delay, (suseconds_t)((delay - floor(delay)) * 1e6)};
    r->phase = P_BACKOFF;
    evtimer_add(r->backoff, &tv);
}

/* SES said no although our bucket said yes: learn a lower rate. */
static void slow_down(struct req *r) {
    struct proxy *px = r->px;
    uint64_t now = px->throttle->now();
    throttle_bucket_penalize(proxy_op_bucket(px, r->call.op), now);
    if (r->call.op->op_class == MODEL_OP_SEND) {
        throttle_bucket_penalize(px->send_bucket, now);
    }
}

/* ---------------------------------------------------------------- upstream */

/* The daily quota counts what SES accepted from every sending call, and
 * SES saying it is spent holds the outbox (outbox.h). Outbox deliveries
 * count their own. */
static void note_send_answer(struct req *r, int status, const char *code, const char *message) {
    struct proxy *px = r->px;
    if (px->outbox == NULL || r->done != NULL || r->call.op->op_class != MODEL_OP_SEND) {
        return;
    }
    if (status == 200) {
        outbox_note_sent(px->outbox, r->call.recipients);
    } else if (retry_is_daily_quota(code, message)) {
        outbox_note_quota_exceeded(px->outbox);
        if (px->quota != NULL) {
            quota_refresh_now(px->quota);
        }
    }
}

/* The exchange failed before any answer. */
static void on_exchange_failed(struct req *r, const struct upstream_req *u) {
    int sending = r->call.op->op_class == MODEL_OP_SEND;
    /* The keep-alive race (upstream_req_stale): SES had closed the
     * connection, so it did not act on the request. Sent once more at once,
     * on a new connection, not counted as a retry, as HTTP clients do for
     * requests that may be repeated. Not for sending calls: there it cannot
     * be told apart from SES breaking the connection after acting, which the
     * rule below covers. */
    if (upstream_req_stale(u) && !sending && !r->stale_resent) {
        r->stale_resent = 1;
        r->fresh_conn = 1;
        r->attempts--;
        (void)send_upstream(r);
        return;
    }
    /* Before the request was fully written SES cannot have acted on it;
     * after, a sending call may already have sent mail, so it is not
     * repeated (README: "Retries"). */
    int safe = !u->written || !sending;
    if (u->error != upstream_err_tls && safe && may_retry(r)) {
        schedule_retry(r);
        return;
    }
    fail(r, upstream_error_status(u->error), upstream_error_code(u->error), u->error, 0);
}

static void on_answer(struct upstream_req *u, void *arg) {
    struct req *r = arg;
    r->ureq = NULL; /* freed by upstream after we return */
    metrics_observe(&r->px->metrics.upstream_seconds, (double)(u->done_us - u->started_us) / 1e6);
    if (u->amzn_request_id[0] != '\0') {
        snprintf(r->ses_request_id, sizeof(r->ses_request_id), "%s", u->amzn_request_id);
    }
    memcpy(r->ses_id_2, u->amz_id_2, sizeof(r->ses_id_2));
    if (u->error != NULL) {
        on_exchange_failed(r, u);
        return;
    }
    int is_error = 0, v2 = r->call.svc == &model_sesv2;
    json_t *doc = v2 ? answer_parse_rest(r->call.op, u, &is_error, r->request_id)
                     : answer_parse(r->px, r->call.op, u->body, &is_error, r->request_id);
    if (doc == NULL && !(r->call.passthrough && u->status < 300)) {
        if (u->status >= 500 && may_retry(r)) {
            schedule_retry(r);
            return;
        }
        char msg[120];
        snprintf(msg, sizeof(msg), "the upstream answered HTTP %d with a body that is not %s",
                 u->status, v2 ? "SES v2's JSON" : "SES XML");
        fail(r, 502, "BadGateway", msg, 0);
        return;
    }
    const char *rid =
        json_string_value(json_object_get(json_object_get(doc, "ResponseMetadata"), "RequestId"));
    if (rid != NULL) {
        snprintf(r->ses_request_id, sizeof(r->ses_request_id), "%s", rid);
    }
    json_t *e = json_object_get(doc, "Error");
    const char *code = is_error ? json_string_value(json_object_get(e, "Code")) : NULL;
    note_send_answer(r, u->status, code, json_string_value(json_object_get(e, "Message")));
    enum retry_kind kind =
        is_error ? retry_classify(u->status, code, json_string_value(json_object_get(e, "Message")))
                 : RETRY_NONE;
    if (kind == RETRY_THROTTLED) {
        slow_down(r);
    }
    if (kind != RETRY_NONE && may_retry(r)) {
        json_decref(doc);
        schedule_retry(r);
        return;
    }
    /* SES's request id goes on in the header the SDKs read it from: its
     * own header as it was, else its XML's; the proxy's when SES gave none. */
    struct reply_headers h = {
        .amzn_request_id = u->amzn_request_id[0] != '\0'  ? u->amzn_request_id
                           : r->ses_request_id[0] != '\0' ? r->ses_request_id
                                                          : r->request_id,
        .amz_id_2 = r->ses_id_2,
        /* SES v2 SDKs read the error's code from this header... */
        .error_type =
            r->call.passthrough && u->amzn_error_type[0] != '\0' ? u->amzn_error_type : NULL,
        /* ...and botocore from this one first, when SES sends it. */
        .query_error = r->call.passthrough ? u->amzn_query_error : NULL,
    };
    if (r->call.passthrough) {
        /* SES's bytes and status, untouched. */
        const char *ct = u->content_type[0] != '\0' ? u->content_type
                         : v2                       ? REPLY_CT_JSON
                                                    : REPLY_CT_XML;
        finish(r, u->status, ct, u->body, code, &h);
    } else {
        struct evbuffer *body = answer_json(doc, u->amzn_request_id, u->status, r->attempts - 1);
        if (body == NULL) {
            json_decref(doc);
            fail(r, 500, "InternalError", "out of memory", 0);
            return;
        }
        /* code points into doc: finish before letting it go */
        finish(r, u->status, REPLY_CT_JSON, body, code, &h);
        evbuffer_free(body);
    }
    json_decref(doc);
}

/* Where the call goes: SES's endpoint, or for an SES v2 call naming a
 * multi-region endpoint (EndpointId), {EndpointId}.endpoints.email.<dns
 * suffix> signed with SigV4a for every region, as botocore's endpoint rules
 * say; with an endpoint the operator named (AWS_ENDPOINT_URL_SES...) that
 * one, still signed with SigV4a. NULL when out of memory or too many. */
static struct upstream *upstream_for(struct req *r, int *sigv4a) {
    struct proxy *px = r->px;
    *sigv4a = r->call.endpoint_id[0] != '\0';
    if (!*sigv4a || r->cfg->endpoint_custom) {
        return px->upstream;
    }
    char host[300];
    const char *region = r->cfg->region;
    snprintf(host, sizeof(host), "%s.endpoints.email.%s", r->call.endpoint_id,
             strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com");
    for (size_t i = 0; i < px->n_multi_region; i++) {
        if (strcmp(px->multi_region[i].host, host) == 0) {
            return px->multi_region[i].upstream;
        }
    }
    if (px->n_multi_region == PROXY_MULTI_REGION_MAX) {
        return NULL;
    }
    struct upstream_endpoint ep = {host,
                                   443,
                                   1,
                                   r->cfg->upstream.ca_file,
                                   r->cfg->upstream.connect_timeout_ms,
                                   r->cfg->upstream.timeout_ms,
                                   (size_t)r->cfg->upstream.max_idle_connections};
    struct sp_err err;
    struct upstream *u = upstream_new_endpoint(px->base, px->dns, &ep, &err);
    if (u != NULL) {
        snprintf(px->multi_region[px->n_multi_region].host, sizeof(px->multi_region[0].host), "%s",
                 host);
        px->multi_region[px->n_multi_region++].upstream = u;
    }
    return u;
}

/* Signs the call with the current credentials and sends it. */
static int sign_and_send(struct req *r, const struct creds *c) {
    struct proxy *px = r->px;
    int sigv4a = 0;
    struct upstream *up = upstream_for(r, &sigv4a);
    if (up == NULL) {
        fail(r, 503, "ServiceUnavailable", "no connection pool for this multi-region endpoint", 0);
        return -1;
    }
    struct sigv4_header hdrs[16];
    size_t n = 0;
    for (size_t i = 0; i < r->call.n_headers && n < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        hdrs[n++] =
            (struct sigv4_header){r->call.headers[i].name, strlen(r->call.headers[i].name),
                                  r->call.headers[i].value, strlen(r->call.headers[i].value)};
    }
    struct evbuffer *out = evbuffer_new();
    struct sp_err err;
    sp_err_clear(&err);
    struct signed_request sreq = {
        .method = r->call.method,
        .host = upstream_host_header(up),
        .path = r->call.path,
        .query = r->call.query,
        .service = r->call.svc->signing_name,
        .region = sigv4a ? "*" : r->cfg->region,
        .sigv4a = sigv4a,
        .content_type = r->call.content_type,
        .body = r->call.body,
        .headers = hdrs,
        .n_headers = n,
    };
    if (out == NULL || n < r->call.n_headers ||
        signed_request_write(&px->keys, c, time(NULL), &sreq, r->payload_hash, out, &err) < 0) {
        if (out != NULL) {
            evbuffer_free(out);
        }
        /* The signer's messages never contain a secret. */
        fail(r, 500, "InternalError", err.code != NULL ? err.msg : "out of memory", 0);
        return -1;
    }
    r->attempts++;
    r->phase = P_UPSTREAM;
    px->stats.upstream_requests_total++;
    r->ureq = r->fresh_conn ? upstream_send_fresh(up, out, on_answer, r)
                            : upstream_send(up, out, on_answer, r);
    r->fresh_conn = 0;
    evbuffer_free(out);
    if (r->ureq == NULL) {
        fail(r, 500, "InternalError", "out of memory", 0);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- credentials */

static void on_credentials(void *arg) {
    struct req *r = arg;
    evtimer_del(r->cwait_timer);
    (void)send_upstream(r); /* now with credentials, or a 503 saying why not */
}

static void on_credentials_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct req *r = arg;
    creds_store_cancel_wait(r->px->creds, &r->cwait);
    const char *why = NULL;
    (void)creds_store_current(r->px->creds, time(NULL), &why);
    char msg[600];
    snprintf(msg, sizeof(msg), "timed out waiting for credentials: %.500s",
             why != NULL ? why : "none yet");
    fail(r, 503, "CredentialsUnavailable", msg, 0);
}

/* The first credentials are on their way (web identity, IMDS...): wait for
 * them, as long as a call may wait for a throttle slot. */
static int wait_for_credentials(struct req *r) {
    struct proxy *px = r->px;
    r->waited_creds = 1;
    r->cwait_timer = evtimer_new(px->base, on_credentials_timeout, r);
    if (r->cwait_timer == NULL) {
        fail(r, 500, "InternalError", "out of memory", 0);
        return -1;
    }
    r->cwait.cb = on_credentials;
    r->cwait.arg = r;
    r->phase = P_CREDENTIALS;
    creds_store_wait(px->creds, &r->cwait);
    int ms = r->cfg->throttle.max_wait_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(r->cwait_timer, &tv);
    return 0;
}

static int send_upstream(struct req *r) {
    struct proxy *px = r->px;
    if (r->t_throttle_us == 0) {
        r->t_throttle_us = clock_monotonic_us();
    }
    const char *why = NULL;
    struct creds *c = creds_store_current(px->creds, time(NULL), &why);
    if (c == NULL && !r->waited_creds && creds_store_pending(px->creds)) {
        return wait_for_credentials(r);
    }
    if (c == NULL) {
        fail(r, 503, "CredentialsUnavailable", why, 0);
        return -1;
    }
    return sign_and_send(r, c);
}

/* ---------------------------------------------------------------- throttle */

static void on_granted(void *arg, int granted, uint64_t retry_after_us) {
    struct req *r = arg;
    if (granted) {
        (void)send_upstream(r);
        return;
    }
    r->px->stats.throttled_total++;
    fail(r, 429, "Throttling", "Rate exceeded: the shared bucket cannot serve this call in time",
         (int)((retry_after_us + 999999) / 1000000));
}

/* Asks the throttle for the call's tokens: its operation's bucket, and the
 * send rate in recipients for a sending call. */
static int admit(struct req *r) {
    struct proxy *px = r->px;
    const struct model_op *op = r->call.op;
    if (op->op_class == MODEL_OP_SEND && px->send_bucket != NULL &&
        !throttle_bucket_fits(px->send_bucket, r->call.recipients, px->throttle->max_wait_us)) {
        char msg[240];
        snprintf(msg, sizeof(msg),
                 "%s: %.0f recipients would hold the send rate (%g/s) in debt for longer than "
                 "throttle.max_wait_ms; send them in smaller calls",
                 op->name, r->call.recipients, px->send_bucket->shared_rate);
        fail(r, 400, "InvalidParameterValue", msg, 0);
        return -1;
    }
    throttle_ticket_init(&r->ticket, on_granted, r);
    throttle_ticket_add(&r->ticket, proxy_op_bucket(px, op), 1);
    if (op->op_class == MODEL_OP_SEND) {
        throttle_ticket_add(&r->ticket, px->send_bucket, r->call.recipients);
    }
    uint64_t wait = 0;
    r->phase = P_THROTTLE;
    switch (throttle_acquire(px->throttle, &r->ticket, &wait)) {
    case THROTTLE_GRANTED:
        return send_upstream(r);
    case THROTTLE_QUEUED:
        return 0;
    case THROTTLE_REFUSED: {
        px->stats.throttled_total++;
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Rate exceeded: %s would wait %.1f s, over throttle.max_wait_ms or "
                 "throttle.max_queue",
                 op->name, (double)wait / 1e6);
        fail(r, 429, "Throttling", msg, (int)((wait + 999999) / 1000000));
        return -1;
    }
    }
    return 0;
}

/* ------------------------------------------------------------------ outbox */

static void on_stored(void *arg, const struct outbox_accepted *a) {
    struct req *r = arg;
    r->stash = NULL;
    if (a->status != 202) {
        fail(r, a->status, a->code, a->message, a->retry_after_s);
        return;
    }
    r->phase = P_DONE;
    metrics_observe(&r->px->metrics.request_seconds,
                    (double)(clock_monotonic_us() - r->t_start_us) / 1e6);
    account(r, 202, NULL, 0);
    if (r->conn != NULL) {
        outbox_http_accepted(r->conn, a, r->request_id);
        r->conn = NULL;
    }
    req_free(r);
}

/* Prefer: respond-async: stored durably, answered 202 (outbox.h). Checked
 * against the send rate's bound like a synchronous call, so that what is
 * accepted can be sent. */
static int store_async(struct req *r, const struct outbox_intake *in) {
    struct proxy *px = r->px;
    if (px->send_bucket != NULL &&
        !throttle_bucket_fits(px->send_bucket, r->call.recipients, px->throttle->max_wait_us)) {
        char msg[240];
        snprintf(msg, sizeof(msg),
                 "%s: %.0f recipients would hold the send rate (%g/s) in debt for longer than "
                 "throttle.max_wait_ms; send them in smaller calls",
                 r->call.op->name, r->call.recipients, px->send_bucket->shared_rate);
        fail(r, 400, "InvalidParameterValue", msg, 0);
        return -1;
    }
    r->phase = P_STORE;
    r->stash = outbox_accept(px->outbox, in, &r->call, r->request_id, r->client, on_stored, r);
    if (r->stash == NULL) {
        fail(r, 500, "InternalError", "out of memory", 0);
        return -1;
    }
    return 0;
}

struct req *request_send_detached(struct proxy *px, struct prepared *call, const char *request_id,
                                  request_done_fn done, void *arg) {
    struct req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        prepare_clear(call);
        done(arg, 500, NULL);
        return NULL;
    }
    r->px = px;
    r->cfg = config_ref(px->cfg);
    r->t_start_us = clock_monotonic_us();
    r->call = *call; /* taken over: what it owns is freed with r */
    memset(call, 0, sizeof(*call));
    r->done = done;
    r->done_arg = arg;
    snprintf(r->request_id, sizeof(r->request_id), "%s", request_id);
    snprintf(r->client, sizeof(r->client), "outbox");
    /* The outbox took the throttle's tokens itself (only free ones). */
    return send_upstream(r) == 0 ? r : NULL;
}

/* ------------------------------------------------------------------- start */

struct req *request_start(struct proxy *px, struct server_conn *conn, struct server_request *sr,
                          enum reply_style style) {
    struct req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        reply_error(px, conn, sr->request_id, style, 500, "InternalError", "out of memory", 0);
        return NULL;
    }
    r->px = px;
    r->style = style;
    r->conn = conn;
    r->cfg = config_ref(px->cfg);
    r->t_start_us = clock_monotonic_us();
    memcpy(r->request_id, sr->request_id, sizeof(r->request_id));
    memcpy(r->client, sr->client, sizeof(r->client));
    if (px->draining) {
        fail(r, 503, "ServiceUnavailable", "the proxy is shutting down", 0);
        return NULL;
    }
    struct outbox_intake intake;
    struct sp_err ierr;
    sp_err_clear(&ierr);
    if (outbox_intake(px->outbox, sr, &intake, &ierr) < 0) {
        fail(r, 400, ierr.code, ierr.msg, 0);
        return NULL;
    }
    struct prepare_refusal why;
    struct policy_account acct = {r->cfg->policy.account_id != NULL
                                      ? r->cfg->policy.account_id
                                      : creds_account_id(px->account)};
    if (prepare_call(r->cfg, &acct, sr, &r->call, &why) < 0) {
        fail(r, why.status, why.err.code, why.err.msg, 0);
        return NULL;
    }
    if (outbox_takes(&intake, &r->call)) {
        return store_async(r, &intake) == 0 ? r : NULL;
    }
    return admit(r) == 0 ? r : NULL;
}
