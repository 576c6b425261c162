/* creds_account.c - STS GetCallerIdentity (see creds_account.h). */
#include "proxy/creds/creds_account.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/creds/creds.h"
#include "proxy/creds/creds_http.h"
#include "proxy/creds/creds_provider.h"
#include "proxy/creds/creds_store.h"
#include "proxy/creds/creds_sts.h"
#include "proxy/http/signed_request.h"
#include "proxy/log.h"
#include "signer/sigv4a.h"

#define CONNECT_TIMEOUT_MS 3000
#define TIMEOUT_MS 10000
#define BACKOFF_MAX_S 60
#define BODY "Action=GetCallerIdentity&Version=" CREDS_STS_VERSION

struct creds_account {
    struct creds_provider_ctx ctx;
    struct creds_store *store;
    struct creds_url url;
    struct creds_http *http;
    struct creds_http_req *req;
    struct event *timer;
    struct creds_waiter wait;
    struct sigv4a_key_cache keys;
    int backoff_s;
    char id[13];
};

static void arm(struct creds_account *a, int seconds) {
    struct timeval tv = {seconds, 0};
    evtimer_add(a->timer, &tv);
}

static void failed(struct creds_account *a, const char *why) {
    a->backoff_s = a->backoff_s == 0 ? 1 : a->backoff_s * 2;
    if (a->backoff_s > BACKOFF_MAX_S) {
        a->backoff_s = BACKOFF_MAX_S;
    }
    log_event(LOG_WARN, "STS GetCallerIdentity failed; ARNs cannot be checked yet", "endpoint",
              creds_http_host(a->http), "error", why, NULL);
    arm(a, a->backoff_s);
}

/* <Account>123456789012</Account>, exactly once, 12 digits. */
static int account_of(const char *xml, size_t len, char out[13]) {
    static const char open[] = "<Account>", close[] = "</Account>";
    const char *p = memmem(xml, len, open, sizeof(open) - 1);
    if (p == NULL || memmem(p + 1, len - (size_t)(p + 1 - xml), open, sizeof(open) - 1) != NULL) {
        return -1;
    }
    p += sizeof(open) - 1;
    size_t left = len - (size_t)(p - xml);
    if (left < 12 + sizeof(close) - 1 || strspn(p, "0123456789") < 12 ||
        memcmp(p + 12, close, sizeof(close) - 1) != 0) {
        return -1;
    }
    memcpy(out, p, 12);
    out[12] = '\0';
    return 0;
}

static void on_answer(const struct creds_http_answer *ans, void *arg) {
    struct creds_account *a = arg;
    a->req = NULL;
    char status[48];
    if (ans->error != NULL) {
        failed(a, ans->error);
        return;
    }
    if (ans->status != 200 || account_of(ans->body, ans->body_len, a->id) < 0) {
        snprintf(status, sizeof(status), "HTTP %d without an account id", ans->status);
        failed(a, status);
        return;
    }
    log_event(LOG_INFO, "account learnt with STS GetCallerIdentity", "account_id", a->id, NULL);
    sigv4a_key_cache_clear(&a->keys); /* not needed again */
}

static void on_credentials(void *arg);

static void ask(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct creds_account *a = arg;
    const char *why = NULL;
    struct creds *c = creds_store_current(a->store, time(NULL), &why);
    if (c == NULL && creds_store_pending(a->store)) {
        a->wait.cb = on_credentials;
        a->wait.arg = a;
        creds_store_wait(a->store, &a->wait);
        return;
    }
    if (c == NULL) {
        failed(a, why != NULL ? why : "no credentials");
        return;
    }
    struct evbuffer *body = evbuffer_new(), *out = evbuffer_new();
    char hash[65] = "";
    struct sp_err err;
    sp_err_clear(&err);
    const char *path = a->url.path, *q = strchr(path, '?');
    char bare[sizeof(a->url.path)];
    snprintf(bare, sizeof(bare), "%.*s", (int)(q != NULL ? (size_t)(q - path) : strlen(path)),
             path);
    struct signed_request sreq = {
        .method = "POST",
        .host = creds_http_host(a->http),
        .path = bare,
        .query = q != NULL ? q + 1 : NULL,
        .service = "sts",
        .region = a->ctx.region,
        .content_type = CREDS_STS_FORM_CT,
        .body = body,
    };
    int rc = body != NULL && out != NULL && evbuffer_add(body, BODY, sizeof(BODY) - 1) == 0
                 ? signed_request_write(&a->keys, c, a->ctx.wall_clock(), &sreq, hash, out, &err)
                 : sp_fail(&err, "InternalError", "out of memory");
    if (rc == 0) {
        a->req = creds_http_send_request(a->http, out, on_answer, a);
        if (a->req == NULL) {
            rc = sp_fail(&err, "InternalError", "out of memory");
        }
    }
    if (out != NULL) {
        evbuffer_free(out);
    }
    if (body != NULL) {
        evbuffer_free(body);
    }
    if (rc < 0) {
        failed(a, err.msg);
    }
}

static void on_credentials(void *arg) { ask(-1, 0, arg); }

static time_t wall_clock(void) { return time(NULL); }

struct creds_account *creds_account_start(const struct creds_provider_ctx *ctx,
                                          struct creds_store *store, struct sp_err *err) {
    struct creds_account *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    a->ctx = *ctx;
    if (a->ctx.wall_clock == NULL) {
        a->ctx.wall_clock = wall_clock;
    }
    a->store = store;
    sigv4a_key_cache_init(&a->keys);
    if (creds_sts_endpoint(ctx->region, &a->url, err) < 0 ||
        (a->http = creds_http_new(&a->ctx, &a->url, CONNECT_TIMEOUT_MS, TIMEOUT_MS, err)) == NULL) {
        creds_account_free(a);
        return NULL;
    }
    a->timer = evtimer_new(ctx->base, ask, a);
    if (a->timer == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        creds_account_free(a);
        return NULL;
    }
    arm(a, 0);
    return a;
}

void creds_account_free(struct creds_account *a) {
    if (a == NULL) {
        return;
    }
    creds_store_cancel_wait(a->store, &a->wait);
    creds_http_cancel(a->req);
    creds_http_free(a->http);
    if (a->timer != NULL) {
        event_free(a->timer);
    }
    sigv4a_key_cache_clear(&a->keys);
    free(a);
}

const char *creds_account_id(const struct creds_account *a) {
    return a != NULL && a->id[0] != '\0' ? a->id : NULL;
}
