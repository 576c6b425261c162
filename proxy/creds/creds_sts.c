/* creds_sts.c - the endpoint, the call and the answers both STS providers
 * share (see creds_sts.h). */
#include "proxy/creds/creds_sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_json.h"
#include "proxy/creds/secret.h"

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

void creds_sts_call_cancel(struct creds_sts_call *c) {
    creds_http_cancel(c->req);
    c->req = NULL;
    secret_wipe_str(c->echo_guard);
    c->echo_guard = NULL;
}

int creds_sts_call_init(struct creds_sts_call *c, const struct creds_provider_ctx *ctx,
                        const char *action, struct sp_err *err) {
    c->action = action;
    GUARD(creds_sts_endpoint(ctx->region, &c->url, err));
    c->http = creds_http_new(ctx, &c->url, STS_CONNECT_TIMEOUT_MS, STS_TIMEOUT_MS, err);
    return c->http != NULL ? 0 : -1;
}

void creds_sts_call_clear(struct creds_sts_call *c) {
    creds_sts_call_cancel(c);
    creds_http_free(c->http);
    c->http = NULL;
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

void creds_sts_finish(struct creds_provider *p, struct creds_sts_call *c,
                      const struct creds_http_answer *a) {
    c->req = NULL;
    const char *host = creds_http_host(c->http);
    if (a->error != NULL) {
        creds_provider_finish(p, NULL, "STS %s at %s: %s", c->action, host, a->error);
        creds_sts_call_cancel(c);
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
    creds_sts_call_cancel(c);
}

char *creds_sts_session_name(const struct creds_provider_ctx *ctx, const char *given) {
    if (given != NULL) {
        return strdup(given);
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "ses-proxy-%lld", (long long)ctx->wall_clock());
    return strdup(buf);
}
