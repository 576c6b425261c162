/* creds_metadata.c - container credentials and EC2 instance metadata
 * (see creds_metadata.h). */
#include "proxy/creds/creds_metadata.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
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

#define MAX_AUTH_TOKEN_FILE (16u << 10)
/* botocore: 2 s per attempt for the container endpoint. */
#define CONTAINER_CONNECT_TIMEOUT_MS 2000
#define CONTAINER_TIMEOUT_MS 5000
#define IMDS_TOKEN_TTL "21600"

/* An error code from a JSON error answer, fit for a log line. */
static void answer_code(const struct creds_http_answer *a, char *out, size_t cap) {
    out[0] = '\0';
    struct creds_doc d;
    struct sp_err err;
    if (creds_json_parse(a->body, a->body_len, &d, &err) == 0) {
        const char *code = d.code != NULL ? d.code : "";
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)code; *p && n + 1 < cap && n < 64;
             p++) {
            out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
        }
        out[n] = '\0';
        creds_doc_clear(&d);
    }
}

/* ------------------------------------------------------------- container */

struct container {
    struct creds_provider base;
    struct creds_url url;
    struct creds_http *http;
    struct creds_http_req *req;
    char *token_file; /* NULL = token from the environment, or none */
};

int creds_container_configured(void) {
    return creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != NULL ||
           creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL;
}

/* botocore's ContainerMetadataFetcher: plain http only to these. */
static int container_host_allowed(const char *host) {
    static const char *const hosts[] = {"localhost", "169.254.170.2", "169.254.170.23", NULL};
    for (size_t i = 0; hosts[i] != NULL; i++) {
        if (strcmp(host, hosts[i]) == 0) {
            return 1;
        }
    }
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1) {
        return a[0] == 127; /* loopback: 127.0.0.0/8 */
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loop[16] = {[15] = 1};
        static const unsigned char eks[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23};
        return memcmp(a, loop, 16) == 0 || memcmp(a, eks, 16) == 0;
    }
    return 0;
}

static void on_container_answer(const struct creds_http_answer *a, void *arg) {
    struct container *c = arg;
    c->req = NULL;
    const char *host = creds_http_host(c->http);
    if (a->error != NULL) {
        creds_provider_finish(&c->base, NULL, "container endpoint %s: %s", host, a->error);
        return;
    }
    if (a->status != 200) {
        char code[80];
        answer_code(a, code, sizeof(code));
        creds_provider_finish(&c->base, NULL, "container endpoint %s: HTTP %d%s%s", host, a->status,
                              code[0] ? " " : "", code);
        return;
    }
    struct creds_doc d;
    struct sp_err err;
    sp_err_clear(&err);
    struct creds *cr = NULL;
    if (creds_json_parse(a->body, a->body_len, &d, &err) == 0) {
        cr = creds_from_doc(&d, "container", 1, 1, &err);
        creds_doc_clear(&d);
    }
    if (cr != NULL) {
        creds_provider_finish(&c->base, cr, "%s", "");
    } else {
        creds_provider_finish(&c->base, NULL, "container endpoint %s: %s", host, err.msg);
    }
}

static void container_fetch(struct creds_provider *p) {
    struct container *c = (struct container *)p;
    struct sp_err err;
    sp_err_clear(&err);
    char *token = NULL;
    if (c->token_file != NULL) {
        token = secret_read_value_file(c->token_file, MAX_AUTH_TOKEN_FILE,
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &err);
        if (token == NULL) {
            creds_provider_finish(p, NULL, "container: %s", err.msg);
            return;
        }
    } else if (creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != NULL) {
        token = strdup(creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        if (token == NULL) {
            creds_provider_finish(p, NULL, "container: out of memory");
            return;
        }
    }
    if (token != NULL && strpbrk(token, "\r\n") != NULL) {
        secret_wipe_str(token);
        creds_provider_finish(p, NULL, "container: the authorization token holds a line break");
        return;
    }
    struct secret_buf head = {0};
    secret_buf_puts(&head, "Accept: application/json\r\n");
    if (token != NULL) {
        secret_buf_printf(&head, "Authorization: %s\r\n", token);
    }
    secret_wipe_str(token);
    if (!head.oom) {
        c->req =
            creds_http_send(c->http, "GET", c->url.path, head.p, NULL, 0, on_container_answer, c);
    }
    secret_buf_clear(&head);
    if (c->req == NULL) {
        creds_provider_finish(p, NULL, "container: out of memory");
        return;
    }
    log_event(LOG_DEBUG, "credentials: calling the container credentials endpoint", "endpoint",
              creds_http_host(c->http), NULL);
}

static void container_cancel(struct creds_provider *p) {
    struct container *c = (struct container *)p;
    creds_http_cancel(c->req);
    c->req = NULL;
}

static void container_destroy(struct creds_provider *p) {
    struct container *c = (struct container *)p;
    container_cancel(p);
    creds_http_free(c->http);
    free(c->token_file);
}

static void container_describe(const struct creds_provider *p, char *out, size_t cap) {
    const struct container *c = (const struct container *)p;
    snprintf(out, cap, "endpoint %s%s, authorization %s", creds_http_host(c->http),
             c->url.tls ? " (https)" : "",
             c->token_file != NULL                                    ? "token file"
             : creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != NULL ? "token"
                                                                      : "none");
}

static const struct creds_provider_ops container_ops = {.name = "container",
                                                        .fetch = container_fetch,
                                                        .cancel = container_cancel,
                                                        .destroy = container_destroy,
                                                        .describe = container_describe};

struct creds_provider *creds_container_new(const struct creds_provider_ctx *ctx,
                                           struct sp_err *err) {
    struct container *c = calloc(1, sizeof(*c));
    if (c == NULL || creds_provider_init(&c->base, &container_ops, ctx) < 0) {
        free(c);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    const char *rel = creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    int rc;
    if (rel != NULL) {
        /* The relative URI wins when both are set, as in botocore. */
        char url[2100];
        snprintf(url, sizeof(url), "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
        rc = creds_url_parse(url, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", &c->url, err);
    } else {
        rc = creds_url_parse(full != NULL ? full : "", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                             &c->url, err);
        if (rc == 0 && !c->url.tls && !container_host_allowed(c->url.host)) {
            rc = sp_fail(err, "ConfigError",
                         "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to a "
                         "loopback address or to 169.254.170.2, 169.254.170.23 or "
                         "fd00:ec2::23, not %s",
                         c->url.host);
        }
    }
    const char *tf = creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (rc == 0 && tf != NULL && (c->token_file = strdup(tf)) == NULL) {
        rc = sp_fail(err, "InternalError", "out of memory");
    }
    if (rc == 0) {
        c->http =
            creds_http_new(ctx, &c->url, CONTAINER_CONNECT_TIMEOUT_MS, CONTAINER_TIMEOUT_MS, err);
        rc = c->http != NULL ? 0 : -1;
    }
    if (rc < 0) {
        creds_provider_free(&c->base);
        return NULL;
    }
    return &c->base;
}

/* ------------------------------------------------------------------ IMDS */

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

int creds_imds_disabled(void) { return creds_env_true("AWS_EC2_METADATA_DISABLED"); }

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
            answer_code(a, code, sizeof(code));
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

struct creds_provider *creds_imds_new(const struct creds_provider_ctx *ctx, struct sp_err *err) {
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
