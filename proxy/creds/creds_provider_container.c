/* creds_provider_container.c - the container credentials endpoint (see
 * creds_provider_container.h). */
#include "proxy/creds/creds_provider_container.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_http.h"
#include "proxy/creds/creds_json.h"
#include "proxy/creds/secret.h"
#include "proxy/log.h"

#define MAX_AUTH_TOKEN_FILE (16u << 10)
/* botocore: 2 s per attempt for the container endpoint. */
#define CONTAINER_CONNECT_TIMEOUT_MS 2000
#define CONTAINER_TIMEOUT_MS 5000

struct container {
    struct creds_provider base;
    struct creds_url url;
    struct creds_http *http;
    struct creds_http_req *req;
    char *token_file; /* NULL = token from the environment, or none */
};

int creds_provider_container_configured(void) {
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
        creds_json_error_code(a->body, a->body_len, code, sizeof(code));
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

struct creds_provider *creds_provider_container_new(const struct creds_provider_ctx *ctx,
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
