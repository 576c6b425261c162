/* creds.c - credential sets and the store (see creds.h). */
#include "proxy/creds.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/log.h"

struct creds_store {
    struct event_base *base;
    struct creds *current;
    char why[512];
};

static void wipe_free(char *s) {
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

struct creds *creds_new(const char *key_id, const char *secret, const char *token,
                        time_t expiration, const char *provider) {
    struct creds *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->refs = 1;
    c->access_key_id = strdup(key_id);
    c->secret_access_key = strdup(secret);
    c->session_token = token != NULL && *token != '\0' ? strdup(token) : NULL;
    c->expiration = expiration;
    c->provider = provider;
    if (c->access_key_id == NULL || c->secret_access_key == NULL ||
        (token != NULL && *token != '\0' && c->session_token == NULL)) {
        creds_unref(c);
        return NULL;
    }
    return c;
}

struct creds *creds_ref(struct creds *c) {
    c->refs++;
    return c;
}

void creds_unref(struct creds *c) {
    if (c == NULL || --c->refs > 0) {
        return;
    }
    wipe_free(c->access_key_id);
    wipe_free(c->secret_access_key);
    wipe_free(c->session_token);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

void creds_describe(const struct creds *c, char *out, size_t cap) {
    size_t n = strlen(c->access_key_id);
    snprintf(out, cap, "%.4s%.*s", c->access_key_id, (int)(n > 4 ? (n - 4 > 16 ? 16 : n - 4) : 0),
             "****************");
}

struct creds_store *creds_store_new(struct event_base *base) {
    struct creds_store *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        s->base = base;
        snprintf(s->why, sizeof(s->why), "credentials not loaded yet");
    }
    return s;
}

void creds_store_free(struct creds_store *s) {
    if (s == NULL) {
        return;
    }
    creds_unref(s->current);
    free(s);
}

void creds_store_set(struct creds_store *s, struct creds *c) {
    creds_unref(s->current);
    s->current = c;
    char desc[32];
    creds_describe(c, desc, sizeof(desc));
    char exp[32] = "never";
    if (c->expiration != 0) {
        struct tm tm;
        gmtime_r(&c->expiration, &tm);
        strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    log_event(LOG_INFO, "credentials loaded", "provider", c->provider, "access_key_id", desc,
              "expires", exp, "session_token", c->session_token != NULL ? "yes" : "no", NULL);
}

struct creds *creds_store_current(struct creds_store *s, time_t now, const char **why) {
    if (s->current == NULL) {
        *why = s->why;
        return NULL;
    }
    if (s->current->expiration != 0 && s->current->expiration <= now) {
        snprintf(s->why, sizeof(s->why), "credentials from %s expired", s->current->provider);
        *why = s->why;
        return NULL;
    }
    return s->current;
}

/* Reads a secret file: the first line, without the newline. The buffer is
 * wiped before it is freed. */
static char *read_secret_file(const char *path, struct sp_err *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        sp_fail(err, "CredentialsUnavailable", "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    char *out = NULL;
    if (buf[0] == '\0') {
        sp_fail(err, "CredentialsUnavailable", "%s is empty", path);
    } else if ((out = strdup(buf)) == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return out;
}

/* Provider "static": access_key_id and secret_access_key_file in the config. */
static struct creds *from_static(const struct config *cfg, struct sp_err *err) {
    if (cfg->credentials.access_key_id == NULL) {
        sp_fail(err, "CredentialsUnavailable", "static: no credentials.access_key_id");
        return NULL;
    }
    char *secret = read_secret_file(cfg->credentials.secret_access_key_file, err);
    if (secret == NULL) {
        return NULL;
    }
    char *token = NULL;
    if (cfg->credentials.session_token_file != NULL) {
        token = read_secret_file(cfg->credentials.session_token_file, err);
        if (token == NULL) {
            wipe_free(secret);
            return NULL;
        }
    }
    struct creds *c = creds_new(cfg->credentials.access_key_id, secret, token, 0, "static");
    wipe_free(secret);
    wipe_free(token);
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return c;
}

/* Provider "env": AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. */
static struct creds *from_env(struct sp_err *err) {
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
        sp_fail(err, "CredentialsUnavailable",
                "env: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
        return NULL;
    }
    struct creds *c = creds_new(id, secret, getenv("AWS_SESSION_TOKEN"), 0, "env");
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return c;
}

int creds_store_load(struct creds_store *s, const struct config *cfg, struct sp_err *err) {
    const char *src = cfg->credentials.source;
    int chain = strcmp(src, "chain") == 0;
    struct creds *c = NULL;
    char tried[512] = "";
    struct sp_err e;
    sp_err_clear(&e);
    /* The AWS SDKs' order: explicit static configuration, then the
     * environment, then (not yet built) web identity, shared files,
     * container and instance metadata. */
    if (chain || strcmp(src, "static") == 0) {
        if (chain && cfg->credentials.access_key_id == NULL) {
            snprintf(tried, sizeof(tried), "static: not configured");
        } else {
            c = from_static(cfg, &e);
            if (c == NULL) {
                snprintf(tried, sizeof(tried), "%.400s", e.msg);
            }
        }
    }
    if (c == NULL && (chain || strcmp(src, "env") == 0)) {
        c = from_env(&e);
        if (c == NULL) {
            size_t n = strlen(tried);
            snprintf(tried + n, sizeof(tried) - n, "%s%.200s", n ? "; " : "", e.msg);
        }
    }
    if (c == NULL) {
        if (!chain && strcmp(src, "static") != 0 && strcmp(src, "env") != 0) {
            snprintf(tried, sizeof(tried), "credentials.source \"%s\" is not available in this "
                     "build", src);
        }
        snprintf(s->why, sizeof(s->why), "no usable credentials (%.200s)", tried);
        return sp_fail(err, "CredentialsUnavailable", "%s", s->why);
    }
    creds_store_set(s, c);
    return 0;
}
