/* creds_provider_static.c - fixed keys from the config file, the
 * environment or a profile, and the provider that hands them out (see
 * creds_provider_static.h). */
#include "proxy/creds/creds_provider_static.h"

#include <stdio.h>
#include <stdlib.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/secret.h"

/* A secret or token file holds one value; 64 KB is far more than any. */
#define MAX_SECRET_FILE (64u << 10)

/* ------------------------------------------------------------- the sets */

struct creds *creds_provider_static_read_files(const char *key_id, const char *secret_file,
                                               const char *token_file, struct sp_err *err) {
    if (key_id == NULL) {
        sp_fail(err, "CredentialsUnavailable", "static: no credentials.access_key_id");
        return NULL;
    }
    char *secret = secret_read_value_file(secret_file, MAX_SECRET_FILE,
                                          "credentials.secret_access_key_file", err);
    if (secret == NULL) {
        return NULL;
    }
    char *token = NULL;
    if (token_file != NULL) {
        token = secret_read_value_file(token_file, MAX_SECRET_FILE,
                                       "credentials.session_token_file", err);
        if (token == NULL) {
            secret_wipe_str(secret);
            return NULL;
        }
    }
    struct creds *c = creds_new(key_id, secret, token, 0, "static");
    secret_wipe_str(secret);
    secret_wipe_str(token);
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return c;
}

struct creds *creds_provider_static_read_env(struct sp_err *err) {
    const char *id = creds_env("AWS_ACCESS_KEY_ID");
    const char *secret = creds_env("AWS_SECRET_ACCESS_KEY");
    if (id == NULL || secret == NULL) {
        sp_fail(err, "CredentialsUnavailable",
                "env: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
        return NULL;
    }
    struct creds *c = creds_new(id, secret, creds_env("AWS_SESSION_TOKEN"), 0, "env");
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return c;
}

/* ------------------------------------------------------------ provider */

struct fixed {
    struct creds_provider base;
    struct creds *c;
    char desc[256];
};

static struct creds *fixed_get(struct creds_provider *p, struct sp_err *err) {
    (void)err;
    return creds_ref(((struct fixed *)p)->c);
}

static void fixed_destroy(struct creds_provider *p) { creds_unref(((struct fixed *)p)->c); }

static void fixed_describe(const struct creds_provider *p, char *out, size_t cap) {
    snprintf(out, cap, "%s", ((const struct fixed *)p)->desc);
}

/* Named "fixed": the set it hands out names its own source ("static",
 * "env", "profile"). */
static const struct creds_provider_ops fixed_ops = {
    .name = "fixed", .get = fixed_get, .destroy = fixed_destroy, .describe = fixed_describe};

struct creds_provider *creds_provider_static_new(const struct creds_provider_ctx *ctx,
                                                 struct creds *c, const char *desc) {
    struct fixed *f = calloc(1, sizeof(*f));
    if (f == NULL || creds_provider_init(&f->base, &fixed_ops, ctx) < 0) {
        free(f);
        creds_unref(c);
        return NULL;
    }
    f->c = c;
    snprintf(f->desc, sizeof(f->desc), "%s", desc);
    return &f->base;
}
