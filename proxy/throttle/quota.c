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
    int waiting_creds;
    double max_send_rate;
    double max24, sent24; /* the daily quota's last answer */
    quota_daily_fn on_daily;
    void *daily_arg;
};

static void arm(struct quota *q, int seconds) {
    struct timeval tv = {seconds, 0};
    evtimer_add(q->timer, &tv);
}

static void failed(struct quota *q, const char *why) {
    log_event(LOG_WARN, "GetSendQuota failed; keeping the last answer", "error", why, NULL);
    q->backoff_s = q->backoff_s == 0 ? 1 : q->backoff_s * 2;
    if (q->backoff_s > BACKOFF_MAX_S) {
        q->backoff_s = BACKOFF_MAX_S;
    }
    arm(q, q->backoff_s);
}

/* Every REFRESH_S, or outbox.quota_refresh_s when it is shorter and there
 * is an outbox (whose daily quota moves faster than the rate). */
static int refresh_s(const struct quota *q) {
    const struct config *cfg = q->px->cfg;
    if (q->on_daily != NULL && cfg->outbox.quota_refresh_s < REFRESH_S) {
        return cfg->outbox.quota_refresh_s;
    }
    return REFRESH_S;
}

/* The daily quota, for the outbox: -1 Max24HourSend is unlimited. */
static void note_daily(struct quota *q, json_t *doc) {
    json_t *max = json_object_get(doc, "Max24HourSend");
    json_t *sent = json_object_get(doc, "SentLast24Hours");
    if (q->on_daily == NULL || !json_is_number(max) || !json_is_number(sent)) {
        return;
    }
    if (json_number_value(max) != q->max24 || json_number_value(sent) != q->sent24) {
        char m[32], s[32];
        snprintf(m, sizeof(m), "%g", json_number_value(max));
        snprintf(s, sizeof(s), "%g", json_number_value(sent));
        log_event(LOG_INFO, "daily quota from GetSendQuota", "max_24_hour_send", m,
                  "sent_last_24_hours", s, NULL);
    }
    q->max24 = json_number_value(max);
    q->sent24 = json_number_value(sent);
    q->on_daily(q->daily_arg, q->max24, q->sent24);
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
    note_daily(q, doc);
    json_decref(doc);
    if (r != q->max_send_rate) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%g", r);
        log_event(LOG_INFO, "send rate from GetSendQuota", "max_send_rate", buf, NULL);
    }
    q->max_send_rate = r;
    /* MaxSendRate is the account's: Redis enforces it across replicas, the
     * local bucket gets this replica's share (all of it without Redis).
     * With a configured rate, GetSendQuota runs for the outbox only. */
    if (q->px->cfg->throttle.send_rate_auto) {
        throttle_redis_set_limit(q->px->send_bucket, r, r, throttle_redis_share(q->px->cfg),
                                 q->px->throttle->now());
    }
    q->backoff_s = 0;
    arm(q, refresh_s(q));
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
        q->waiting_creds = 1;
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

static void on_creds(void *arg) {
    struct quota *q = arg;
    q->waiting_creds = 0;
    on_timer(-1, 0, q);
}

void quota_on_daily(struct quota *q, quota_daily_fn fn, void *arg) {
    q->on_daily = fn;
    q->daily_arg = arg;
}

void quota_refresh_now(struct quota *q) {
    if (q == NULL || q->inflight != NULL || q->waiting_creds) {
        return; /* an answer is on its way already */
    }
    evtimer_del(q->timer);
    arm(q, 0);
}

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
