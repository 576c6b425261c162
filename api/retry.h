/* retry.h - which SES answers are worth another attempt, and when.
 *
 * One place decides, for the pipeline's retries and for the adaptive
 * slow-down alike, so that the two never disagree about what a rate limit
 * is. Like botocore's "standard" mode, with SES's own exceptions:
 *   - a rate limit (Throttling, ThrottlingException, RequestThrottled, and
 *     SES v2's TooManyRequestsException) is retried, and tells the throttle
 *     the real rate is lower than configured;
 *   - "Daily message quota exceeded" comes as Throttling too, but no retry
 *     can fix a spent quota: not retried, not a rate signal;
 *   - SES v2's LimitExceededException is a quota reached, not a rate: not
 *     retried (botocore would);
 *   - HTTP 500, 502, 503 and 504 are transient: retried.
 * Pure: no I/O, no clock, no randomness of its own. */
#ifndef SP_RETRY_H
#define SP_RETRY_H

enum retry_kind {
    RETRY_NONE = 0,  /* final: answer the client */
    RETRY_THROTTLED, /* a rate limit: retry later, and slow down */
    RETRY_TRANSIENT, /* a server-side failure: retry later */
};

/* The kind of an SES answer: its HTTP status, its error code (NULL when it
 * is not an error document) and message (NULL when none). */
enum retry_kind retry_classify(int status, const char *code, const char *message);

/* 1 when the answer says the account's daily sending quota is spent. */
int retry_is_daily_quota(const char *code, const char *message);

/* botocore's "standard" backoff before attempt number attempt + 1 (attempt
 * >= 1 attempts were made): full jitter, u * min(20, 2^(attempt-1))
 * seconds, u uniform in [0, 1). */
double retry_backoff_s(int attempt, double u);

#endif
