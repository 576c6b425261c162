/* creds_provider_imds.c - EC2 instance metadata, IMDSv2 (see
 * creds_provider_imds.h).
 *
 * One fetch is three exchanges on one endpoint, in order: the session
 * token (PUT), the role name, the role's credentials; each answer moves the
 * fetch to the next step (enum imds_step), and any failure ends it. */
#include "proxy/creds/creds_provider_imds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_http.h"
#include "proxy/creds/creds_json.h"
#include "proxy/creds/secret.h"
#include "proxy/log.h"

#define IMDS_TOKEN_TTL "21600"

enum imds_step { IMDS_IDLE, IMDS_TOKEN, IMDS_ROLE, IMDS_CREDS };

struct imds {
    struct creds_provider base;
    struct creds_url url; /* path = base path without a trailing '/' */
    struct creds_http *http;
    struct creds_http_req *req;
    enum imds_step step;
    char *token; /* the session token of this fetch (wiped after it) */
    char role[128];
};

int creds_provider_imds_disabled(void) { return creds_env_true("AWS_EC2_METADATA_DISABLED"); }

static void imds_reset(struct imds *m) {
    creds_http_cancel(m->req);
    m->req = NULL;
    secret_wipe_str(m->token);
    m->token = NULL;
    m->step = IMDS_IDLE;
}

static void imds_fail(struct imds *m, const char *fmt, ...) SP_PRINTF(2, 3);

static void imds_fail(struct imds *m, const char *fmt, ...) {
    char what[CREDS_PROVIDER_WHY_LEN - 100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    imds_reset(m);
    creds_provider_finish(&m->base, NULL, "instance metadata %s: %s", creds_http_host(m->http),
                          what);
}

static void on_imds_answer(const struct creds_http_answer *a, void *arg);

static int imds_get(struct imds *m, const char *path) {
    struct secret_buf head = {0};
    secret_buf_printf(&head, "X-aws-ec2-metadata-token: %s\r\n", m->token);
    char full[2300];
    snprintf(full, sizeof(full), "%s%s", m->url.path, path);
    if (!head.oom) {
        m->req = creds_http_send(m->http, "GET", full, head.p, NULL, 0, on_imds_answer, m);
    }
    secret_buf_clear(&head);
    return m->req != NULL ? 0 : -1;
}

/* The role name: the first line of the listing, which must look like one. */
static int role_from_listing(const char *body, char *out, size_t cap) {
    size_t n = strcspn(body, "\r\n");
    while (n > 0 && (body[n - 1] == ' ' || body[n - 1] == '\t')) {
        n--;
    }
    if (n == 0 || n >= cap) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = body[i];
        /* IAM role names: [\w+=,.@-] */
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("_+=,.@-", ch) != NULL)) {
            return -1;
        }
    }
    memcpy(out, body, n);
    out[n] = '\0';
    return 0;
}

static void imds_on_token(struct imds *m, const struct creds_http_answer *a) {
    if (a->status != 200) {
        imds_fail(m, "PUT /latest/api/token: HTTP %d", a->status);
        return;
    }
    size_t n = a->body_len;
    while (n > 0 && (a->body[n - 1] == '\n' || a->body[n - 1] == '\r')) {
        n--;
    }
    int ok = n > 0 && n < 4096;
    for (size_t i = 0; ok && i < n; i++) {
        ok = a->body[i] > 0x20 && a->body[i] < 0x7f;
    }
    if (!ok) {
        imds_fail(m, "the session token answer is malformed");
        return;
    }
    m->token = malloc(n + 1);
    if (m->token == NULL) {
        imds_fail(m, "out of memory");
        return;
    }
    memcpy(m->token, a->body, n);
    m->token[n] = '\0';
    m->step = IMDS_ROLE;
    if (imds_get(m, "/latest/meta-data/iam/security-credentials/") < 0) {
        imds_fail(m, "out of memory");
    }
}

static void imds_on_role(struct imds *m, const struct creds_http_answer *a) {
    if (a->status == 404) {
        imds_fail(m, "no IAM role is attached to this instance (HTTP %d)", a->status);
        return;
    }
    if (a->status != 200) {
        imds_fail(m, "GET the role name: HTTP %d", a->status);
        return;
    }
    if (role_from_listing(a->body, m->role, sizeof(m->role)) < 0) {
        imds_fail(m, "the role name answer is malformed");
        return;
    }
    m->step = IMDS_CREDS;
    char path[200];
    snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", m->role);
    if (imds_get(m, path) < 0) {
        imds_fail(m, "out of memory");
    }
}

static void imds_on_creds(struct imds *m, const struct creds_http_answer *a) {
    if (a->status != 200) {
        imds_fail(m, "GET the credentials of role %s: HTTP %d", m->role, a->status);
        return;
    }
    struct creds_doc d;
    struct sp_err err;
    sp_err_clear(&err);
    struct creds *cr = NULL;
    if (creds_json_parse(a->body, a->body_len, &d, &err) == 0) {
        if (d.code != NULL && strcmp(d.code, "Success") != 0) {
            char code[80];
            creds_json_error_code(a->body, a->body_len, code, sizeof(code));
            sp_fail(&err, "CredentialsUnavailable", "the answer's Code is %s", code);
        } else {
            cr = creds_from_doc(&d, "imds", 1, 1, &err);
        }
        creds_doc_clear(&d);
    }
    if (cr == NULL) {
        imds_fail(m, "%s", err.msg);
        return;
    }
    imds_reset(m);
    creds_provider_finish(&m->base, cr, "%s", "");
}

static void on_imds_answer(const struct creds_http_answer *a, void *arg) {
    struct imds *m = arg;
    m->req = NULL;
    if (a->error != NULL) {
        imds_fail(m, "%s", a->error);
        return;
    }
    switch (m->step) {
    case IMDS_TOKEN:
        imds_on_token(m, a);
        break;
    case IMDS_ROLE:
        imds_on_role(m, a);
        break;
    case IMDS_CREDS:
        imds_on_creds(m, a);
        break;
    case IMDS_IDLE:
        break;
    }
}

static void imds_fetch(struct creds_provider *p) {
    struct imds *m = (struct imds *)p;
    imds_reset(m);
    char path[2100];
    snprintf(path, sizeof(path), "%s/latest/api/token", m->url.path);
    m->step = IMDS_TOKEN;
    m->req = creds_http_send(m->http, "PUT", path,
                             "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL "\r\n", "", 0,
                             on_imds_answer, m);
    if (m->req == NULL) {
        imds_fail(m, "out of memory");
        return;
    }
    log_event(LOG_DEBUG, "credentials: calling instance metadata", "endpoint",
              creds_http_host(m->http), NULL);
}

static void imds_cancel(struct creds_provider *p) { imds_reset((struct imds *)p); }

static void imds_destroy(struct creds_provider *p) {
    struct imds *m = (struct imds *)p;
    imds_reset(m);
    creds_http_free(m->http);
}

static void imds_describe(const struct creds_provider *p, char *out, size_t cap) {
    const struct imds *m = (const struct imds *)p;
    snprintf(out, cap, "IMDSv2 at %s", creds_http_host(m->http));
}

static const struct creds_provider_ops imds_ops = {.name = "imds",
                                                   .fetch = imds_fetch,
                                                   .cancel = imds_cancel,
                                                   .destroy = imds_destroy,
                                                   .describe = imds_describe};

struct creds_provider *creds_provider_imds_new(const struct creds_provider_ctx *ctx,
                                               struct sp_err *err) {
    struct imds *m = calloc(1, sizeof(*m));
    if (m == NULL || creds_provider_init(&m->base, &imds_ops, ctx) < 0) {
        free(m);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    const char *ep = creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *what = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
    if (ep == NULL) {
        const char *mode = creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        int v6 = mode != NULL && strcasecmp(mode, "IPv6") == 0;
        ep = v6 ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
        what = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";
    }
    int rc = creds_url_parse(ep, what, &m->url, err);
    if (rc == 0) {
        /* The base path, without its trailing '/', before "/latest/...". */
        size_t n = strlen(m->url.path);
        while (n > 0 && m->url.path[n - 1] == '/') {
            m->url.path[--n] = '\0';
        }
        /* botocore's default is 1 s, for each step. */
        double secs = 1;
        const char *t = creds_env("AWS_METADATA_SERVICE_TIMEOUT");
        if (t != NULL) {
            char *end;
            secs = strtod(t, &end);
            if (*end != '\0' || !(secs > 0 && secs <= 300)) {
                rc = sp_fail(err, "ConfigError",
                             "AWS_METADATA_SERVICE_TIMEOUT: \"%.32s\" is not a number of seconds",
                             t);
            }
        }
        if (rc == 0) {
            int ms = (int)(secs * 1000);
            m->http = creds_http_new(ctx, &m->url, ms, ms, err);
            rc = m->http != NULL ? 0 : -1;
        }
    }
    if (rc < 0) {
        creds_provider_free(&m->base);
        return NULL;
    }
    return &m->base;
}
