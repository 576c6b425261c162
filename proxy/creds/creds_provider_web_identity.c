/* creds_provider_web_identity.c - AssumeRoleWithWebIdentity (see
 * creds_provider_web_identity.h). */
#include "proxy/creds/creds_provider_web_identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_sts.h"
#include "proxy/creds/secret.h"
#include "proxy/log.h"

/* A projected service account token is about 1 KB; OIDC tokens stay far
 * below this. */
#define MAX_TOKEN_FILE (64u << 10)

struct web_identity {
    struct creds_provider base;
    char *role_arn;
    char *token_file;
    char *session_name;
    struct creds_sts_call call;
};

static void on_web_identity_answer(const struct creds_http_answer *a, void *arg) {
    struct web_identity *w = arg;
    creds_sts_finish(&w->base, &w->call, a);
}

static void web_identity_fetch(struct creds_provider *p) {
    struct web_identity *w = (struct web_identity *)p;
    struct sp_err err;
    sp_err_clear(&err);
    /* Re-read at every fetch: the kubelet replaces the token well before
     * it expires. */
    char *token =
        secret_read_value_file(w->token_file, MAX_TOKEN_FILE, "AWS_WEB_IDENTITY_TOKEN_FILE", &err);
    if (token == NULL) {
        creds_provider_finish(p, NULL, "web_identity: %s", err.msg);
        return;
    }
    struct secret_buf body = {0};
    secret_buf_form(&body, "Action", "AssumeRoleWithWebIdentity");
    secret_buf_form(&body, "Version", CREDS_STS_VERSION);
    secret_buf_form(&body, "RoleArn", w->role_arn);
    secret_buf_form(&body, "RoleSessionName", w->session_name);
    secret_buf_form(&body, "WebIdentityToken", token);
    if (!body.oom) {
        w->call.echo_guard = token;
        token = NULL;
        w->call.req = creds_http_send(w->call.http, "POST", w->call.url.path,
                                      "Content-Type: " CREDS_STS_FORM_CT "\r\n", body.p, body.len,
                                      on_web_identity_answer, w);
    }
    secret_buf_clear(&body);
    secret_wipe_str(token);
    if (w->call.req == NULL) {
        creds_sts_call_cancel(&w->call);
        creds_provider_finish(p, NULL, "web_identity: out of memory");
        return;
    }
    log_event(LOG_DEBUG, "credentials: calling STS AssumeRoleWithWebIdentity", "endpoint",
              creds_http_host(w->call.http), "role_arn", w->role_arn, NULL);
}

static void web_identity_cancel(struct creds_provider *p) {
    creds_sts_call_cancel(&((struct web_identity *)p)->call);
}

static void web_identity_destroy(struct creds_provider *p) {
    struct web_identity *w = (struct web_identity *)p;
    creds_sts_call_clear(&w->call);
    free(w->role_arn);
    free(w->token_file);
    free(w->session_name);
}

static void web_identity_describe(const struct creds_provider *p, char *out, size_t cap) {
    const struct web_identity *w = (const struct web_identity *)p;
    snprintf(out, cap, "role %s, token file %s, STS %s", w->role_arn, w->token_file,
             creds_http_host(w->call.http));
}

static const struct creds_provider_ops web_identity_ops = {.name = "web_identity",
                                                           .fetch = web_identity_fetch,
                                                           .cancel = web_identity_cancel,
                                                           .destroy = web_identity_destroy,
                                                           .describe = web_identity_describe};

struct creds_provider *creds_provider_web_identity_new(const struct creds_provider_ctx *ctx,
                                                       const char *role_arn, const char *token_file,
                                                       const char *session_name,
                                                       struct sp_err *err) {
    struct web_identity *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    if (creds_provider_init(&w->base, &web_identity_ops, ctx) < 0) {
        free(w);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    w->role_arn = strdup(role_arn);
    w->token_file = strdup(token_file);
    w->session_name = creds_sts_session_name(ctx, session_name);
    if (w->role_arn == NULL || w->token_file == NULL || w->session_name == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        creds_provider_free(&w->base);
        return NULL;
    }
    if (creds_sts_call_init(&w->call, ctx, "AssumeRoleWithWebIdentity", err) < 0) {
        creds_provider_free(&w->base);
        return NULL;
    }
    return &w->base;
}
