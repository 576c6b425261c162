/* creds_http.c - HTTP exchanges for credential providers (see creds_http.h). */
#include "proxy/creds/creds_http.h"

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_provider.h"
#include "proxy/creds/secret.h"
#include "proxy/http/upstream.h"

const char creds_http_err_too_large[] = "the credentials endpoint's answer is too large";

/* Credential answers are a few KB; a JWT-sized STS answer stays far below. */
#define MAX_ANSWER (256u << 10)

struct creds_http_req {
    struct creds_http *h;
    struct upstream_req *ur;
    creds_http_done_fn cb;
    void *arg;
    LIST_ENTRY(creds_http_req) link;
};

struct creds_http {
    struct upstream *u;
    LIST_HEAD(, creds_http_req) reqs;
};

/* ------------------------------------------------------------------ URLs */

static int host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int creds_url_parse(const char *url, const char *what, struct creds_url *out, struct sp_err *err) {
    memset(out, 0, sizeof(*out));
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        out->tls = 1;
    } else {
        return sp_fail(err, "ConfigError", "%s: \"%.200s\" is not an http:// or https:// URL", what,
                       url);
    }
    size_t auth_len = strcspn(p, "/?#");
    ENSURE(memchr(p, '@', auth_len) == NULL, err, "ConfigError",
           "%s: user information in the URL is not supported", what);
    const char *host = p, *host_end;
    const char *after;
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', auth_len);
        ENSURE(host_end != NULL, err, "ConfigError", "%s: \"%.200s\": unclosed '['", what, url);
        for (const char *q = host; q < host_end; q++) {
            ENSURE((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
                       (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.',
                   err, "ConfigError", "%s: \"%.200s\": a bad IPv6 address", what, url);
        }
        after = host_end + 1;
    } else {
        host_end = p;
        while (host_end < p + auth_len && *host_end != ':') {
            ENSURE(host_char(*host_end), err, "ConfigError", "%s: \"%.200s\": a bad host name",
                   what, url);
            host_end++;
        }
        after = host_end;
    }
    size_t hn = (size_t)(host_end - host);
    ENSURE(hn > 0 && hn < sizeof(out->host), err, "ConfigError", "%s: \"%.200s\": no host", what,
           url);
    memcpy(out->host, host, hn);
    out->port = out->tls ? 443 : 80;
    if (after < p + auth_len) {
        ENSURE(*after == ':', err, "ConfigError", "%s: \"%.200s\": a bad host", what, url);
        long port = 0;
        const char *q = after + 1;
        ENSURE(q < p + auth_len, err, "ConfigError", "%s: \"%.200s\": an empty port", what, url);
        for (; q < p + auth_len; q++) {
            ENSURE(*q >= '0' && *q <= '9' && port <= 65535, err, "ConfigError",
                   "%s: \"%.200s\": a bad port", what, url);
            port = port * 10 + (*q - '0');
        }
        ENSURE(port >= 1 && port <= 65535, err, "ConfigError", "%s: \"%.200s\": a bad port", what,
               url);
        out->port = (int)port;
    }
    const char *path = p + auth_len;
    size_t pn = strcspn(path, "#");
    for (size_t i = 0; i < pn; i++) {
        unsigned char c = (unsigned char)path[i];
        ENSURE(c > 0x20 && c < 0x7f, err, "ConfigError",
               "%s: the URL's path has a space or a control character", what);
    }
    ENSURE(pn + 2 < sizeof(out->path), err, "ConfigError", "%s: the URL is too long", what);
    size_t o = 0;
    if (pn == 0 || path[0] != '/') {
        out->path[o++] = '/';
    }
    memcpy(out->path + o, path, pn);
    return 0;
}

/* -------------------------------------------------------------- exchanges */

struct creds_http *creds_http_new(const struct creds_provider_ctx *ctx, const struct creds_url *url,
                                  int connect_timeout_ms, int timeout_ms, struct sp_err *err) {
    struct creds_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    LIST_INIT(&h->reqs);
    /* Kept-alive connections are of little use: fetches are minutes or
     * hours apart, except the three of one IMDS fetch. */
    struct upstream_endpoint ep = {
        url->host,          url->port,  url->tls, creds_env("AWS_CA_BUNDLE"),
        connect_timeout_ms, timeout_ms, 1};
    h->u = upstream_new_endpoint(ctx->base, ctx->dns, &ep, err);
    if (h->u == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

void creds_http_free(struct creds_http *h) {
    if (h == NULL) {
        return;
    }
    struct creds_http_req *r;
    while ((r = LIST_FIRST(&h->reqs)) != NULL) {
        creds_http_cancel(r);
    }
    upstream_free(h->u);
    free(h);
}

const char *creds_http_host(const struct creds_http *h) { return upstream_host_header(h->u); }

/* evbuffer_add_reference's cleanup: the request was written (or dropped). */
static void on_request_released(const void *data, size_t len, void *extra) {
    (void)data;
    secret_free(extra, len);
}

/* Wipes the response evbuffer's bytes where they lie. */
static void wipe_evbuffer(struct evbuffer *b) {
    int n = evbuffer_peek(b, -1, NULL, NULL, 0);
    if (n <= 0) {
        return;
    }
    struct evbuffer_iovec stack[8];
    struct evbuffer_iovec *v = n <= 8 ? stack : malloc(sizeof(*v) * (size_t)n);
    if (v == NULL) {
        return;
    }
    n = evbuffer_peek(b, -1, NULL, v, n);
    for (int i = 0; i < n; i++) {
        OPENSSL_cleanse(v[i].iov_base, v[i].iov_len);
    }
    if (v != stack) {
        free(v);
    }
}

static void on_upstream(struct upstream_req *ur, void *arg) {
    struct creds_http_req *r = arg;
    LIST_REMOVE(r, link);
    struct creds_http_answer a = {ur->error, ur->status, "", 0};
    char *copy = NULL;
    size_t len = evbuffer_get_length(ur->body);
    if (a.error == NULL && len > MAX_ANSWER) {
        a.error = creds_http_err_too_large;
    } else if (a.error == NULL) {
        copy = malloc(len + 1);
        if (copy == NULL) {
            a.error = upstream_err_reset;
        } else {
            evbuffer_copyout(ur->body, copy, len);
            copy[len] = '\0';
            a.body = copy;
            a.body_len = len;
        }
    }
    wipe_evbuffer(ur->body);
    r->cb(&a, r->arg);
    secret_free(copy, len + 1);
    free(r);
}

struct creds_http_req *creds_http_send(struct creds_http *h, const char *method, const char *path,
                                       const char *extra_headers, const char *body, size_t body_len,
                                       creds_http_done_fn cb, void *arg) {
    struct creds_http_req *r = calloc(1, sizeof(*r));
    struct evbuffer *out = evbuffer_new();
    struct secret_buf b = {0};
    if (r == NULL || out == NULL) {
        goto fail;
    }
    secret_buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ses-proxy/" SP_VERSION "\r\n",
                      method, path, upstream_host_header(h->u));
    if (body != NULL) {
        secret_buf_printf(&b, "Content-Length: %zu\r\n", body_len);
    }
    if (extra_headers != NULL) {
        secret_buf_puts(&b, extra_headers);
    }
    secret_buf_puts(&b, "\r\n");
    if (body != NULL) {
        secret_buf_append(&b, body, body_len);
    }
    if (b.oom) {
        goto fail;
    }
    /* By reference: the buffer is wiped and freed when upstream is done
     * with it, whatever happens to the exchange. */
    if (evbuffer_add_reference(out, b.p, b.len, on_request_released, b.p) < 0) {
        goto fail;
    }
    b.p = NULL; /* owned by the evbuffer now */
    r->h = h;
    r->cb = cb;
    r->arg = arg;
    r->ur = upstream_send(h->u, out, on_upstream, r);
    evbuffer_free(out);
    if (r->ur == NULL) {
        free(r);
        return NULL;
    }
    LIST_INSERT_HEAD(&h->reqs, r, link);
    return r;
fail:
    secret_buf_clear(&b);
    if (out != NULL) {
        evbuffer_free(out);
    }
    free(r);
    return NULL;
}

struct creds_http_req *creds_http_send_request(struct creds_http *h, struct evbuffer *request,
                                               creds_http_done_fn cb, void *arg) {
    struct creds_http_req *r = calloc(1, sizeof(*r));
    struct evbuffer *out = evbuffer_new();
    size_t len = evbuffer_get_length(request);
    char *copy = malloc(len + 1);
    if (r == NULL || out == NULL || copy == NULL ||
        evbuffer_copyout(request, copy, len) != (ev_ssize_t)len) {
        goto fail;
    }
    /* The caller's buffer held the token and the signature: wiped where it
     * lies, then drained; the copy is wiped when upstream is done with it. */
    wipe_evbuffer(request);
    evbuffer_drain(request, len);
    if (evbuffer_add_reference(out, copy, len, on_request_released, copy) < 0) {
        goto fail;
    }
    copy = NULL; /* owned by the evbuffer now */
    r->h = h;
    r->cb = cb;
    r->arg = arg;
    r->ur = upstream_send(h->u, out, on_upstream, r);
    evbuffer_free(out);
    if (r->ur == NULL) {
        free(r);
        return NULL;
    }
    LIST_INSERT_HEAD(&h->reqs, r, link);
    return r;
fail:
    wipe_evbuffer(request);
    evbuffer_drain(request, len);
    secret_free(copy, len + 1);
    if (out != NULL) {
        evbuffer_free(out);
    }
    free(r);
    return NULL;
}

void creds_http_cancel(struct creds_http_req *r) {
    if (r == NULL) {
        return;
    }
    LIST_REMOVE(r, link);
    upstream_cancel(r->ur);
    free(r);
}
