/* quota.c - send rate from GetSendQuota (see quota.h). */
#include "proxy/throttle/quota.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/model.h"
#include "api/xmljson.h"
#include "proxy/config.h"
#include "proxy/creds/creds_store.h"
#include "proxy/http/signed_request.h"
#include "proxy/http/upstream.h"
#include "proxy/log.h"
#include "proxy/proxy.h"
#include "proxy/throttle/throttle.h"
#include "proxy/throttle/throttle_redis.h"

#define REFRESH_S 300
#define BACKOFF_MAX_S 60

struct quota {
    struct proxy *px;
    struct event *timer;
    struct upstream_req *inflight;
    struct evbuffer *form;
    struct creds_waiter cwait;
    char hash[65];
    int backoff_s;
    double max_send_rate;
};

static void arm(struct quota *q, int seconds) {
    struct timeval tv = {seconds, 0};
    evtimer_add(q->timer, &tv);
}

static void failed(struct quota *q, const char *why) {
    log_event(LOG_WARN, "GetSendQuota failed; keeping the current send rate", "error", why, NULL);
    q->backoff_s = q->backoff_s == 0 ? 1 : q->backoff_s * 2;
    if (q->backoff_s > BACKOFF_MAX_S) {
        q->backoff_s = BACKOFF_MAX_S;
    }
    arm(q, q->backoff_s);
}

static void on_answer(struct upstream_req *u, void *arg) {
    struct quota *q = arg;
    q->inflight = NULL;
    if (u->error != NULL) {
        failed(q, u->error);
        return;
    }
    const struct model_op *op = model_find_op((&model_ses), "GetSendQuota", 12);
    size_t len = evbuffer_get_length(u->body);
    const char *xml = (const char *)evbuffer_pullup(u->body, -1);
    json_t *doc = NULL;
    int is_error = 0;
    struct sp_err err;
    sp_err_clear(&err);
    if (xmljson_parse((&model_ses), op, xml, len, &doc, &is_error, &err) < 0) {
        failed(q, err.msg);
        return;
    }
    json_t *rate = json_object_get(doc, "MaxSendRate");
    if (is_error || u->status != 200 || !json_is_number(rate) || json_number_value(rate) <= 0) {
        const char *code =
            json_string_value(json_object_get(json_object_get(doc, "Error"), "Code"));
        failed(q, code != NULL ? code : "no MaxSendRate in the answer");
        json_decref(doc);
        return;
    }
    double r = json_number_value(rate);
    json_decref(doc);
    if (r != q->max_send_rate) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%g", r);
        log_event(LOG_INFO, "send rate from GetSendQuota", "max_send_rate", buf, NULL);
    }
    q->max_send_rate = r;
    /* MaxSendRate is the account's: Redis enforces it across replicas, the
     * local bucket gets this replica's share (all of it without Redis). */
    throttle_redis_set_limit(q->px->send_bucket, r, r, throttle_redis_share(q->px->cfg),
                             q->px->throttle->now());
    q->backoff_s = 0;
    arm(q, REFRESH_S);
}

static void on_creds(void *arg);

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct quota *q = arg;
    struct proxy *px = q->px;
    const char *why = NULL;
    struct creds *c = creds_store_current(px->creds, time(NULL), &why);
    if (c == NULL && creds_store_pending(px->creds)) {
        /* The first credentials are on their way: ask once they are here. */
        q->cwait.cb = on_creds;
        q->cwait.arg = q;
        creds_store_wait(px->creds, &q->cwait);
        return;
    }
    if (c == NULL) {
        failed(q, why);
        return;
    }
    struct evbuffer *out = evbuffer_new();
    struct sp_err err;
    sp_err_clear(&err);
    struct signed_request sreq = {
        .method = "POST",
        .host = upstream_host_header(px->upstream),
        .service = model_ses.signing_name,
        .region = px->cfg->region,
        .content_type = SIGNED_REQUEST_FORM_CT,
        .body = q->form,
    };
    if (out == NULL ||
        signed_request_write(&px->keys, c, time(NULL), &sreq, q->hash, out, &err) < 0) {
        if (out != NULL) {
            evbuffer_free(out);
        }
        failed(q, err.code != NULL ? err.msg : "out of memory");
        return;
    }
    q->inflight = upstream_send(px->upstream, out, on_answer, q);
    evbuffer_free(out);
    if (q->inflight == NULL) {
        failed(q, "out of memory");
    }
}

static void on_creds(void *arg) { on_timer(-1, 0, arg); }

struct quota *quota_start(struct proxy *px) {
    struct quota *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return NULL;
    }
    q->px = px;
    q->timer = evtimer_new(px->base, on_timer, q);
    q->form = evbuffer_new();
    if (q->timer == NULL || q->form == NULL) {
        quota_free(q);
        return NULL;
    }
    evbuffer_add_printf(q->form, "Action=GetSendQuota&Version=%s", model_ses.api_version);
    arm(q, 0);
    return q;
}

void quota_free(struct quota *q) {
    if (q == NULL) {
        return;
    }
    if (q->inflight != NULL) {
        upstream_cancel(q->inflight);
    }
    creds_store_cancel_wait(q->px->creds, &q->cwait);
    if (q->timer != NULL) {
        event_free(q->timer);
    }
    if (q->form != NULL) {
        evbuffer_free(q->form);
    }
    free(q);
}

double quota_max_send_rate(const struct quota *q) { return q != NULL ? q->max_send_rate : 0; }
