/* creds_provider_assume_role.c - AssumeRole, signed with a source
 * provider's credentials (see creds_provider_assume_role.h). */
#include "proxy/creds/creds_provider_assume_role.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_sts.h"
#include "proxy/creds/secret.h"
#include "proxy/http/signed_request.h"
#include "proxy/log.h"
#include "signer/sigv4a.h"

struct assume_role {
    struct creds_provider base;
    struct creds_provider *source;
    char *role_arn;
    char *session_name;
    char *external_id;
    int duration_seconds;
    struct creds_sts_call call;
    struct sigv4a_key_cache keys;
};

static void on_assume_role_answer(const struct creds_http_answer *a, void *arg) {
    struct assume_role *r = arg;
    creds_sts_finish(&r->base, &r->call, a);
}

/* Builds, signs (SigV4, service "sts", with the source's set src) and
 * sends the AssumeRole Query POST. */
static int assume_role_send(struct assume_role *r, const struct creds *src, struct sp_err *err) {
    struct secret_buf body = {0};
    secret_buf_form(&body, "Action", "AssumeRole");
    secret_buf_form(&body, "Version", CREDS_STS_VERSION);
    secret_buf_form(&body, "RoleArn", r->role_arn);
    secret_buf_form(&body, "RoleSessionName", r->session_name);
    if (r->external_id != NULL) {
        secret_buf_form(&body, "ExternalId", r->external_id);
    }
    if (r->duration_seconds > 0) {
        char d[16];
        snprintf(d, sizeof(d), "%d", r->duration_seconds);
        secret_buf_form(&body, "DurationSeconds", d);
    }
    if (body.oom) {
        secret_buf_clear(&body);
        return sp_fail(err, "InternalError", "out of memory");
    }
    /* One way to make a signed AWS call (signed_request.h). The endpoint
     * URL may carry a query: it is signed as one. */
    const char *path = r->call.url.path;
    const char *q = strchr(path, '?');
    char bare[sizeof(r->call.url.path)];
    snprintf(bare, sizeof(bare), "%.*s", (int)(q != NULL ? (size_t)(q - path) : strlen(path)),
             path);
    struct evbuffer *form = evbuffer_new(), *out = evbuffer_new();
    char payload_hash[65] = "";
    struct signed_request sreq = {
        .method = "POST",
        .host = creds_http_host(r->call.http),
        .path = bare,
        .query = q != NULL ? q + 1 : NULL,
        .service = "sts",
        .region = r->base.ctx.region,
        .content_type = CREDS_STS_FORM_CT,
        .body = form,
    };
    int rc = form != NULL && out != NULL &&
                     evbuffer_add_reference(form, body.p, body.len, NULL, NULL) == 0
                 ? signed_request_write(&r->keys, src, r->base.ctx.wall_clock(), &sreq,
                                        payload_hash, out, err)
                 : sp_fail(err, "InternalError", "out of memory");
    if (rc == 0) {
        r->call.req = creds_http_send_request(r->call.http, out, on_assume_role_answer, r);
        if (r->call.req == NULL) {
            rc = sp_fail(err, "InternalError", "out of memory");
        }
    }
    if (out != NULL) {
        evbuffer_free(out); /* wiped and drained by creds_http_send_request */
    }
    if (form != NULL) {
        evbuffer_free(form); /* references body, wiped below */
    }
    /* The derived key is of no use until the next refresh, an hour away. */
    sigv4a_key_cache_clear(&r->keys);
    secret_buf_clear(&body);
    return rc;
}

static void on_source(struct creds_provider *src, struct creds *c, const char *why, void *arg) {
    (void)src;
    struct assume_role *r = arg;
    if (c == NULL) {
        creds_provider_finish(&r->base, NULL, "assume_role: source credentials: %s", why);
        return;
    }
    struct sp_err err;
    sp_err_clear(&err);
    if (assume_role_send(r, c, &err) < 0) {
        creds_provider_finish(&r->base, NULL, "assume_role: %s", err.msg);
    } else {
        char desc[32];
        creds_describe(c, desc, sizeof(desc));
        log_event(LOG_DEBUG, "credentials: calling STS AssumeRole", "endpoint",
                  creds_http_host(r->call.http), "role_arn", r->role_arn, "source", c->provider,
                  "source_access_key_id", desc, NULL);
    }
    creds_unref(c);
}

static void assume_role_fetch(struct creds_provider *p) {
    struct assume_role *r = (struct assume_role *)p;
    /* The source is fetched afresh every time: its own set may be
     * temporary too (a process, another role). */
    creds_provider_fetch(r->source, on_source, r);
}

static void assume_role_cancel(struct creds_provider *p) {
    struct assume_role *r = (struct assume_role *)p;
    creds_provider_cancel(r->source);
    creds_sts_call_cancel(&r->call);
}

static void assume_role_destroy(struct creds_provider *p) {
    struct assume_role *r = (struct assume_role *)p;
    assume_role_cancel(p);
    creds_provider_free(r->source);
    creds_sts_call_clear(&r->call);
    sigv4a_key_cache_clear(&r->keys);
    free(r->role_arn);
    free(r->session_name);
    secret_wipe_str(r->external_id);
}

static void assume_role_describe(const struct creds_provider *p, char *out, size_t cap) {
    const struct assume_role *r = (const struct assume_role *)p;
    char src[256];
    creds_provider_describe(r->source, src, sizeof(src));
    snprintf(out, cap, "role %s via STS %s, source: %s", r->role_arn, creds_http_host(r->call.http),
             src);
}

static const struct creds_provider_ops assume_role_ops = {.name = "assume_role",
                                                          .fetch = assume_role_fetch,
                                                          .cancel = assume_role_cancel,
                                                          .destroy = assume_role_destroy,
                                                          .describe = assume_role_describe};

struct creds_provider *
creds_provider_assume_role_new(const struct creds_provider_ctx *ctx, struct creds_provider *source,
                               const struct creds_provider_assume_role_params *role,
                               struct sp_err *err) {
    struct assume_role *r = calloc(1, sizeof(*r));
    if (r == NULL || creds_provider_init(&r->base, &assume_role_ops, ctx) < 0) {
        free(r);
        creds_provider_free(source);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    r->source = source;
    sigv4a_key_cache_init(&r->keys);
    r->role_arn = strdup(role->role_arn);
    r->session_name = creds_sts_session_name(ctx, role->session_name);
    r->external_id = role->external_id != NULL ? strdup(role->external_id) : NULL;
    r->duration_seconds = role->duration_seconds;
    if (r->role_arn == NULL || r->session_name == NULL ||
        (role->external_id != NULL && r->external_id == NULL)) {
        sp_fail(err, "InternalError", "out of memory");
        creds_provider_free(&r->base);
        return NULL;
    }
    if (creds_sts_call_init(&r->call, ctx, "AssumeRole", err) < 0) {
        creds_provider_free(&r->base);
        return NULL;
    }
    return &r->base;
}
