/* retry_test.c - unit tests for api/retry: what is retried, what slows the
 * throttle down, and the backoff bounds.
 *
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include "api/retry.h"

#include <stdio.h>

#include "tests/unit/unit_check.h"

int main(void) {
    /* rate limits: retried and a rate signal */
    CHECK(retry_classify(400, "Throttling", "Rate exceeded") == RETRY_THROTTLED);
    CHECK(retry_classify(400, "Throttling", NULL) == RETRY_THROTTLED);
    CHECK(retry_classify(400, "ThrottlingException", "x") == RETRY_THROTTLED);
    CHECK(retry_classify(400, "RequestThrottled", "x") == RETRY_THROTTLED);
    CHECK(retry_classify(429, "TooManyRequestsException", "x") == RETRY_THROTTLED);
    /* a throttling code on a 5xx is still a rate signal */
    CHECK(retry_classify(503, "Throttling", "x") == RETRY_THROTTLED);
    /* the daily quota: neither */
    CHECK(retry_classify(400, "Throttling", "Daily message quota exceeded.") == RETRY_NONE);
    CHECK(retry_is_daily_quota("Throttling", "Daily message quota exceeded."));
    CHECK(!retry_is_daily_quota("Throttling", "Maximum sending rate exceeded."));
    CHECK(!retry_is_daily_quota(NULL, "Daily message quota exceeded."));
    /* a quota reached is not a rate (botocore would retry it) */
    CHECK(retry_classify(400, "LimitExceededException", "x") == RETRY_NONE);
    /* transient server failures */
    CHECK(retry_classify(500, NULL, NULL) == RETRY_TRANSIENT);
    CHECK(retry_classify(502, "InternalFailure", "x") == RETRY_TRANSIENT);
    CHECK(retry_classify(503, "ServiceUnavailable", "x") == RETRY_TRANSIENT);
    CHECK(retry_classify(504, NULL, NULL) == RETRY_TRANSIENT);
    /* final answers */
    CHECK(retry_classify(200, NULL, NULL) == RETRY_NONE);
    CHECK(retry_classify(400, "MessageRejected", "Email address is not verified.") == RETRY_NONE);
    CHECK(retry_classify(403, "AccessDenied", "x") == RETRY_NONE);
    CHECK(retry_classify(501, NULL, NULL) == RETRY_NONE);
    CHECK(retry_classify(404, "NotFoundException", NULL) == RETRY_NONE);
    /* backoff: full jitter under min(20, 2^(attempt-1)) */
    CHECK(retry_backoff_s(1, 0.0) == 0.0);
    CHECK(retry_backoff_s(1, 0.999) < 1.0);
    CHECK(retry_backoff_s(2, 0.5) == 1.0);
    CHECK(retry_backoff_s(3, 0.5) == 2.0);
    CHECK(retry_backoff_s(6, 0.5) == 10.0);
    CHECK(retry_backoff_s(7, 0.999) < 20.0 && retry_backoff_s(7, 0.999) > 19.9);
    CHECK(retry_backoff_s(60, 0.5) == 10.0);
    CHECK(retry_backoff_s(0, 0.5) == 0.5);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
