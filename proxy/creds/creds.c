/* creds.c - one set of credentials (see creds.h). */
#include "proxy/creds/creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/secret.h"

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
    secret_wipe_str(c->access_key_id);
    secret_wipe_str(c->secret_access_key);
    secret_wipe_str(c->session_token);
    secret_free(c, sizeof(*c));
}

void creds_describe(const struct creds *c, char *out, size_t cap) {
    size_t n = strlen(c->access_key_id);
    snprintf(out, cap, "%.4s%.*s", c->access_key_id, (int)(n > 4 ? (n - 4 > 16 ? 16 : n - 4) : 0),
             "****************");
}
