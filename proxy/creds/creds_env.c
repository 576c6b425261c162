/* creds_env.c - environment variables, as the AWS SDKs read them (see
 * creds_env.h). */
#include "proxy/creds/creds_env.h"

#include <stdlib.h>
#include <strings.h>

const char *creds_env(const char *name) {
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int creds_env_true(const char *name) {
    const char *v = creds_env(name);
    return v != NULL && strcasecmp(v, "true") == 0;
}
