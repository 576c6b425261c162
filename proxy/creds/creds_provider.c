/* creds_provider.c - the provider interface's common part and the helpers
 * providers share (see creds_provider.h). */
#include "proxy/creds/creds_provider.h"

#include <event2/event.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proxy/creds/creds_json.h"

/* ------------------------------------------------------------ providers */

static void on_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct cprov *p = arg;
    struct creds *c = p->result;
    char why[CPROV_WHY_LEN];
    memcpy(why, p->why, sizeof(why));
    p->result = NULL;
    p->busy = 0;
    p->why[0] = '\0';
    /* The callback may free p: nothing of p is touched after it. */
    p->done(p, c, why, p->done_arg);
}

int cprov_init(struct cprov *p, const struct cprov_ops *ops, const struct creds_ctx *ctx) {
    p->ops = ops;
    p->ctx = *ctx;
    if (ctx->base == NULL) {
        /* No loop (a unit test of static keys): only get() can be used. */
        return ops->get != NULL ? 0 : -1;
    }
    p->done_ev = event_new(ctx->base, -1, 0, on_done, p);
    return p->done_ev != NULL ? 0 : -1;
}

int cprov_is_sync(const struct cprov *p) { return p->ops->get != NULL; }

void cprov_describe(const struct cprov *p, char *out, size_t cap) {
    if (p->ops->describe != NULL) {
        p->ops->describe(p, out, cap);
    } else {
        snprintf(out, cap, "%s", p->ops->name);
    }
}

void cprov_finish(struct cprov *p, struct creds *c, const char *fmt, ...) {
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

void cprov_cancel(struct cprov *p) {
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

void cprov_fetch(struct cprov *p, cprov_done_fn done, void *arg) {
    cprov_cancel(p);
    p->done = done;
    p->done_arg = arg;
    p->busy = 1;
    if (p->ops->get != NULL) {
        struct sp_err err;
        sp_err_clear(&err);
        struct creds *c = p->ops->get(p, &err);
        cprov_finish(p, c, "%s", err.msg);
    } else {
        p->ops->fetch(p);
    }
}

void cprov_free(struct cprov *p) {
    if (p == NULL) {
        return;
    }
    cprov_cancel(p);
    if (p->ops->destroy != NULL) {
        p->ops->destroy(p);
    }
    if (p->done_ev != NULL) {
        event_free(p->done_ev);
    }
    free(p);
}

struct fixed {
    struct cprov base;
    struct creds *c;
    char desc[256];
};

static struct creds *fixed_get(struct cprov *p, struct sp_err *err) {
    (void)err;
    return creds_ref(((struct fixed *)p)->c);
}

static void fixed_destroy(struct cprov *p) { creds_unref(((struct fixed *)p)->c); }

static void fixed_describe(const struct cprov *p, char *out, size_t cap) {
    snprintf(out, cap, "%s", ((const struct fixed *)p)->desc);
}

static const struct cprov_ops fixed_ops = {
    .name = "fixed", .get = fixed_get, .destroy = fixed_destroy, .describe = fixed_describe};

struct cprov *cprov_fixed_new(const struct creds_ctx *ctx, struct creds *c, const char *desc) {
    struct fixed *f = calloc(1, sizeof(*f));
    if (f == NULL || cprov_init(&f->base, &fixed_ops, ctx) < 0) {
        free(f);
        creds_unref(c);
        return NULL;
    }
    f->c = c;
    snprintf(f->desc, sizeof(f->desc), "%s", desc);
    return &f->base;
}

/* ---------------------------------------------------------- environment */

const char *creds_env(const char *name) {
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int creds_env_true(const char *name) {
    const char *v = creds_env(name);
    return v != NULL && strcasecmp(v, "true") == 0;
}

char *creds_expand_home(const char *path, struct sp_err *err) {
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0')) {
        char *out = strdup(path);
        if (out == NULL) {
            sp_fail(err, "InternalError", "out of memory");
        }
        return out;
    }
    const char *home = creds_env("HOME");
    char pwbuf[4096];
    struct passwd pw, *found = NULL;
    if (home == NULL) {
        /* No HOME (aws-sigv4-proxy #266): the password database knows. */
        if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL &&
            found->pw_dir != NULL && found->pw_dir[0] != '\0') {
            home = found->pw_dir;
        }
    }
    if (home == NULL) {
        sp_fail(err, "CredentialsUnavailable",
                "cannot expand %s: no HOME and no home directory for uid %u", path,
                (unsigned)getuid());
        return NULL;
    }
    size_t n = strlen(home) + strlen(path);
    char *out = malloc(n + 1);
    if (out == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    snprintf(out, n + 1, "%s%s", home, path + 1);
    return out;
}

/* --------------------------------------------------------------- answers */

static int printable_token(const char *s) {
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

struct creds *creds_from_doc(const struct creds_doc *d, const char *provider, int need_token,
                             int need_expiration, struct sp_err *err) {
    if (d->access_key_id == NULL || d->secret_access_key == NULL) {
        sp_fail(err, "CredentialsUnavailable", "the answer has no %s",
                d->access_key_id == NULL ? "AccessKeyId" : "SecretAccessKey");
        return NULL;
    }
    if (need_token && d->session_token == NULL) {
        sp_fail(err, "CredentialsUnavailable", "the answer has no session token");
        return NULL;
    }
    if (!printable_token(d->access_key_id) || !printable_token(d->secret_access_key) ||
        (d->session_token != NULL && !printable_token(d->session_token))) {
        sp_fail(err, "CredentialsUnavailable",
                "the answer's key id, secret or token is empty or not printable ASCII");
        return NULL;
    }
    time_t exp = 0;
    if (d->expiration != NULL) {
        if (creds_parse_time(d->expiration, &exp) < 0) {
            sp_fail(err, "CredentialsUnavailable", "the answer's Expiration is not a time");
            return NULL;
        }
    } else if (need_expiration) {
        sp_fail(err, "CredentialsUnavailable", "the answer has no Expiration");
        return NULL;
    }
    struct creds *c =
        creds_new(d->access_key_id, d->secret_access_key, d->session_token, exp, provider);
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return c;
}
