/* creds_sts.c - AssumeRoleWithWebIdentity and AssumeRole (see creds_sts.h). */
#include "proxy/creds/creds_sts.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_json.h"
#include "proxy/creds/secret.h"
#include "proxy/log.h"
#include "signer/sigv4.h"

#define STS_VERSION "2011-06-15"
#define FORM_CT "application/x-www-form-urlencoded; charset=utf-8"
/* A projected service account token is about 1 KB; OIDC tokens stay far
 * below this. */
#define MAX_TOKEN_FILE (64u << 10)
#define STS_CONNECT_TIMEOUT_MS 3000
#define STS_TIMEOUT_MS 10000

int creds_sts_endpoint(const char *region, struct creds_url *out, struct sp_err *err) {
    const char *env = creds_env("AWS_ENDPOINT_URL_STS");
    const char *what = "AWS_ENDPOINT_URL_STS";
    if (env == NULL) {
        env = creds_env("AWS_ENDPOINT_URL");
        what = "AWS_ENDPOINT_URL";
    }
    if (env != NULL) {
        return creds_url_parse(env, what, out, err);
    }
    char url[300];
    snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com%s", region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    return creds_url_parse(url, "region", out, err);
}

/* The part both calls share: the endpoint, the request in flight, and what
 * the answer is checked against. */
struct sts_call {
    struct creds_http *http;
    struct creds_url url;
    struct creds_http_req *req;
    const char *action;
    char *echo_guard; /* the web identity token while its call is out */
};

static void sts_call_clear(struct sts_call *c) {
    creds_http_cancel(c->req);
    c->req = NULL;
    secret_wipe_str(c->echo_guard);
    c->echo_guard = NULL;
}

static int sts_call_init(struct sts_call *c, const struct creds_provider_ctx *ctx,
                         const char *action, struct sp_err *err) {
    c->action = action;
    GUARD(creds_sts_endpoint(ctx->region, &c->url, err));
    c->http = creds_http_new(ctx, &c->url, STS_CONNECT_TIMEOUT_MS, STS_TIMEOUT_MS, err);
    return c->http != NULL ? 0 : -1;
}

/* STS's Message, fit for a log line: printable ASCII, at most 200 bytes,
 * and nothing at all if it would repeat the token. */
static void safe_message(const char *msg, const char *guard, char *out, size_t cap) {
    out[0] = '\0';
    if (msg == NULL || (guard != NULL && strstr(msg, guard) != NULL)) {
        return;
    }
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 1 < cap && n < 200; p++) {
        out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
    }
    out[n] = '\0';
}

/* Turns STS's answer into a set, or says why not, and finishes p. */
static void sts_finish(struct creds_provider *p, struct sts_call *c,
                       const struct creds_http_answer *a) {
    c->req = NULL;
    const char *host = creds_http_host(c->http);
    if (a->error != NULL) {
        creds_provider_finish(p, NULL, "STS %s at %s: %s", c->action, host, a->error);
        sts_call_clear(c);
        return;
    }
    struct creds_doc doc;
    struct sp_err err;
    sp_err_clear(&err);
    int rc = creds_sts_xml_parse(a->body, a->body_len, &doc, &err);
    if (rc == 0 && doc.is_error) {
        char msg[256];
        safe_message(doc.message, c->echo_guard, msg, sizeof(msg));
        char code[64];
        safe_message(doc.code != NULL ? doc.code : "(no code)", c->echo_guard, code, sizeof(code));
        creds_provider_finish(p, NULL, "STS %s at %s: HTTP %d %s%s%s", c->action, host, a->status,
                              code, msg[0] ? ": " : "", msg);
    } else if (a->status != 200) {
        creds_provider_finish(p, NULL, "STS %s at %s: HTTP %d", c->action, host, a->status);
    } else if (rc < 0) {
        creds_provider_finish(p, NULL, "STS %s at %s: %s", c->action, host, err.msg);
    } else {
        struct creds *cr = creds_from_doc(&doc, p->ops->name, 1, 1, &err);
        if (cr != NULL) {
            creds_provider_finish(p, cr, "%s", "");
        } else {
            creds_provider_finish(p, NULL, "STS %s at %s: %s", c->action, host, err.msg);
        }
    }
    creds_doc_clear(&doc);
    sts_call_clear(c);
}

static char *default_session_name(const struct creds_provider_ctx *ctx, const char *given) {
    if (given != NULL) {
        return strdup(given);
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "ses-proxy-%lld", (long long)ctx->wall_clock());
    return strdup(buf);
}

/* ------------------------------------------------- AssumeRoleWithWebIdentity */

struct web_identity {
    struct creds_provider base;
    char *role_arn;
    char *token_file;
    char *session_name;
    struct sts_call call;
};

static void on_web_identity_answer(const struct creds_http_answer *a, void *arg) {
    struct web_identity *w = arg;
    sts_finish(&w->base, &w->call, a);
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
    secret_buf_form(&body, "Version", STS_VERSION);
    secret_buf_form(&body, "RoleArn", w->role_arn);
    secret_buf_form(&body, "RoleSessionName", w->session_name);
    secret_buf_form(&body, "WebIdentityToken", token);
    if (!body.oom) {
        w->call.echo_guard = token;
        token = NULL;
        w->call.req =
            creds_http_send(w->call.http, "POST", w->call.url.path, "Content-Type: " FORM_CT "\r\n",
                            body.p, body.len, on_web_identity_answer, w);
    }
    secret_buf_clear(&body);
    secret_wipe_str(token);
    if (w->call.req == NULL) {
        sts_call_clear(&w->call);
        creds_provider_finish(p, NULL, "web_identity: out of memory");
        return;
    }
    log_event(LOG_DEBUG, "credentials: calling STS AssumeRoleWithWebIdentity", "endpoint",
              creds_http_host(w->call.http), "role_arn", w->role_arn, NULL);
}

static void web_identity_cancel(struct creds_provider *p) {
    sts_call_clear(&((struct web_identity *)p)->call);
}

static void web_identity_destroy(struct creds_provider *p) {
    struct web_identity *w = (struct web_identity *)p;
    sts_call_clear(&w->call);
    creds_http_free(w->call.http);
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

struct creds_provider *creds_sts_web_identity_new(const struct creds_provider_ctx *ctx,
                                                  const char *role_arn, const char *token_file,
                                                  const char *session_name, struct sp_err *err) {
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
    w->session_name = default_session_name(ctx, session_name);
    if (w->role_arn == NULL || w->token_file == NULL || w->session_name == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        creds_provider_free(&w->base);
        return NULL;
    }
    if (sts_call_init(&w->call, ctx, "AssumeRoleWithWebIdentity", err) < 0) {
        creds_provider_free(&w->base);
        return NULL;
    }
    return &w->base;
}

/* --------------------------------------------------------------- AssumeRole */

struct assume_role {
    struct creds_provider base;
    struct creds_provider *source;
    char *role_arn;
    char *session_name;
    char *external_id;
    int duration_seconds;
    struct sts_call call;
    struct sigv4_key_cache keys;
};

static void on_assume_role_answer(const struct creds_http_answer *a, void *arg) {
    struct assume_role *r = arg;
    sts_finish(&r->base, &r->call, a);
}

/* Signs and sends AssumeRole with the source's set src. */
static int assume_role_send(struct assume_role *r, const struct creds *src, struct sp_err *err) {
    struct secret_buf body = {0}, head = {0};
    secret_buf_form(&body, "Action", "AssumeRole");
    secret_buf_form(&body, "Version", STS_VERSION);
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
    char payload_hash[65];
    sigv4_sha256_hex(body.p, body.len, payload_hash);
    const char *host = creds_http_host(r->call.http);
    struct sigv4_header hdrs[2] = {
        {"Host", 4, host, strlen(host)},
        {"Content-Type", 12, FORM_CT, sizeof(FORM_CT) - 1},
    };
    /* An endpoint URL may carry a query: it is signed as one. */
    const char *path = r->call.url.path;
    const char *q = strchr(path, '?');
    struct sigv4_request sreq = {.method = "POST",
                                 .path = path,
                                 .path_len = q != NULL ? (size_t)(q - path) : strlen(path),
                                 .query = q != NULL ? q + 1 : NULL,
                                 .query_len = q != NULL ? strlen(q + 1) : 0,
                                 .headers = hdrs,
                                 .n_headers = 2,
                                 .payload_hash = payload_hash};
    struct sigv4_params sp = {r->base.ctx.region, "sts", r->base.ctx.wall_clock(), 1, 0, 0};
    struct sigv4_creds sc = {src->access_key_id, src->secret_access_key, src->session_token};
    struct sigv4_signed s;
    int rc = sigv4_sign(&r->keys, &sc, &sp, &sreq, &s, err);
    if (rc == 0) {
        secret_buf_printf(&head, "Content-Type: " FORM_CT "\r\nX-Amz-Date: %s\r\n", s.amz_date);
        if (s.security_token != NULL) {
            secret_buf_printf(&head, "X-Amz-Security-Token: %s\r\n", s.security_token);
        }
        secret_buf_printf(&head, "Authorization: %s\r\n", s.authorization);
        if (head.oom) {
            rc = sp_fail(err, "InternalError", "out of memory");
        }
    }
    if (rc == 0) {
        r->call.req = creds_http_send(r->call.http, "POST", r->call.url.path, head.p, body.p,
                                      body.len, on_assume_role_answer, r);
        if (r->call.req == NULL) {
            rc = sp_fail(err, "InternalError", "out of memory");
        }
    }
    OPENSSL_cleanse(&s, sizeof(s));
    /* The derived key is of no use until the next refresh, an hour away. */
    sigv4_key_cache_clear(&r->keys);
    secret_buf_clear(&head);
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
    sts_call_clear(&r->call);
}

static void assume_role_destroy(struct creds_provider *p) {
    struct assume_role *r = (struct assume_role *)p;
    assume_role_cancel(p);
    creds_provider_free(r->source);
    creds_http_free(r->call.http);
    sigv4_key_cache_clear(&r->keys);
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

struct creds_provider *creds_sts_assume_role_new(const struct creds_provider_ctx *ctx,
                                                 struct creds_provider *source,
                                                 const struct creds_sts_role *role,
                                                 struct sp_err *err) {
    struct assume_role *r = calloc(1, sizeof(*r));
    if (r == NULL || creds_provider_init(&r->base, &assume_role_ops, ctx) < 0) {
        free(r);
        creds_provider_free(source);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    r->source = source;
    sigv4_key_cache_init(&r->keys);
    r->role_arn = strdup(role->role_arn);
    r->session_name = default_session_name(ctx, role->session_name);
    r->external_id = role->external_id != NULL ? strdup(role->external_id) : NULL;
    r->duration_seconds = role->duration_seconds;
    if (r->role_arn == NULL || r->session_name == NULL ||
        (role->external_id != NULL && r->external_id == NULL)) {
        sp_fail(err, "InternalError", "out of memory");
        creds_provider_free(&r->base);
        return NULL;
    }
    if (sts_call_init(&r->call, ctx, "AssumeRole", err) < 0) {
        creds_provider_free(&r->base);
        return NULL;
    }
    return &r->base;
}
