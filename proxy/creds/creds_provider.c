/* creds_provider.c - the provider interface's common part: one fetch at a
 * time, its outcome delivered from the loop (see creds_provider.h). */
#include "proxy/creds/creds_provider.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct creds_provider *p = arg;
    struct creds *c = p->result;
    char why[CREDS_PROVIDER_WHY_LEN];
    memcpy(why, p->why, sizeof(why));
    p->result = NULL;
    p->busy = 0;
    p->why[0] = '\0';
    /* The callback may free p: nothing of p is touched after it. */
    p->done(p, c, why, p->done_arg);
}

int creds_provider_init(struct creds_provider *p, const struct creds_provider_ops *ops,
                        const struct creds_provider_ctx *ctx) {
    p->ops = ops;
    p->ctx = *ctx;
    if (ctx->base == NULL) {
        /* No loop (a unit test of static keys): only get() can be used. */
        return ops->get != NULL ? 0 : -1;
    }
    p->done_ev = event_new(ctx->base, -1, 0, on_done, p);
    return p->done_ev != NULL ? 0 : -1;
}

int creds_provider_is_sync(const struct creds_provider *p) { return p->ops->get != NULL; }

void creds_provider_describe(const struct creds_provider *p, char *out, size_t cap) {
    if (p->ops->describe != NULL) {
        p->ops->describe(p, out, cap);
    } else {
        snprintf(out, cap, "%s", p->ops->name);
    }
}

void creds_provider_finish(struct creds_provider *p, struct creds *c, const char *fmt, ...) {
    creds_unref(p->result);
    p->result = c;
    p->why[0] = '\0';
    if (c == NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->why, sizeof(p->why), fmt, ap);
        va_end(ap);
    }
    if (p->done_ev != NULL) {
        event_active(p->done_ev, 0, 0);
    }
}

void creds_provider_cancel(struct creds_provider *p) {
    if (p->busy && p->ops->cancel != NULL) {
        p->ops->cancel(p);
    }
    if (p->done_ev != NULL) {
        event_del(p->done_ev);
    }
    creds_unref(p->result);
    p->result = NULL;
    p->busy = 0;
}

void creds_provider_fetch(struct creds_provider *p, creds_provider_done_fn done, void *arg) {
    creds_provider_cancel(p);
    p->done = done;
    p->done_arg = arg;
    p->busy = 1;
    if (p->ops->get != NULL) {
        struct sp_err err;
        sp_err_clear(&err);
        struct creds *c = p->ops->get(p, &err);
        creds_provider_finish(p, c, "%s", err.msg);
    } else {
        p->ops->fetch(p);
    }
}

void creds_provider_free(struct creds_provider *p) {
    if (p == NULL) {
        return;
    }
    creds_provider_cancel(p);
    if (p->ops->destroy != NULL) {
        p->ops->destroy(p);
    }
    if (p->done_ev != NULL) {
        event_free(p->done_ev);
    }
    free(p);
}
