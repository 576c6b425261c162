/* creds_env.c - environment variables, as the AWS SDKs read them, with the
 * credential variables sealed away from the environment (see creds_env.h). */
#include "proxy/creds/creds_env.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/creds/secret.h"

extern char **environ;

/* Every variable that carries a credential. AWS_SECURITY_TOKEN is the old
 * name of AWS_SESSION_TOKEN: the proxy does not read it, but a child must
 * not inherit it either. */
static const char *const sealed_names[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
};
#define N_SEALED (sizeof(sealed_names) / sizeof(sealed_names[0]))

static int sealed;
static char *sealed_values[N_SEALED]; /* NULL: unset or empty */

static int sealed_index(const char *name) {
    for (size_t i = 0; i < N_SEALED; i++) {
        if (strcmp(sealed_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *creds_env(const char *name) {
    int i = sealed ? sealed_index(name) : -1;
    if (i >= 0) {
        return sealed_values[i];
    }
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int creds_env_true(const char *name) {
    const char *v = creds_env(name);
    return v != NULL && strcasecmp(v, "true") == 0;
}

/* Overwrites the value of every "name=..." entry of environ in place (the
 * block /proc/PID/environ reads, or setenv's copies), then unsets name. */
static void scrub(const char *name) {
    size_t n = strlen(name);
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            OPENSSL_cleanse(*e + n + 1, strlen(*e + n + 1));
        }
    }
    unsetenv(name);
}

int creds_env_seal(struct sp_err *err) {
    if (sealed) {
        return 0;
    }
    char *copies[N_SEALED] = {0};
    for (size_t i = 0; i < N_SEALED; i++) {
        const char *v = getenv(sealed_names[i]);
        if (v != NULL && *v != '\0' && (copies[i] = strdup(v)) == NULL) {
            for (size_t k = 0; k < i; k++) {
                secret_wipe_str(copies[k]);
            }
            return sp_fail(err, "InternalError", "out of memory");
        }
    }
    for (size_t i = 0; i < N_SEALED; i++) {
        sealed_values[i] = copies[i];
        scrub(sealed_names[i]);
    }
    sealed = 1;
    return 0;
}

void creds_env_clear(void) {
    for (size_t i = 0; i < N_SEALED; i++) {
        secret_wipe_str(sealed_values[i]);
        sealed_values[i] = NULL;
    }
}
