/* retry.c - retry decisions (see retry.h). */
#include "api/retry.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define MAX_BACKOFF_S 20.0

int retry_is_daily_quota(const char *code, const char *message) {
    return code != NULL && message != NULL &&
           strstr(message, "Daily message quota exceeded") != NULL;
}

static int is_rate_code(const char *code) {
    static const char *const codes[] = {"Throttling", "ThrottlingException", "RequestThrottled",
                                        "TooManyRequestsException"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(code, codes[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

enum retry_kind retry_classify(int status, const char *code, const char *message) {
    if (code != NULL && is_rate_code(code)) {
        return retry_is_daily_quota(code, message) ? RETRY_NONE : RETRY_THROTTLED;
    }
    if (status == 500 || status == 502 || status == 503 || status == 504) {
        return RETRY_TRANSIENT;
    }
    return RETRY_NONE;
}

double retry_backoff_s(int attempt, double u) {
    double cap = attempt < 1 ? 1.0 : pow(2.0, attempt - 1);
    if (cap > MAX_BACKOFF_S) {
        cap = MAX_BACKOFF_S;
    }
    return cap * u;
}
