/* quota.h - throttle.send_rate "auto": the account's MaxSendRate from SES.
 *
 * Calls GetSendQuota through the proxy's own signed client path at start
 * and every 5 minutes, and sets the send-rate bucket (recipients per second,
 * burst one second's worth) from MaxSendRate. Until the first answer the
 * bucket runs at 1 recipient per second, SES's sandbox rate, so nothing is
 * sent faster than any account allows. A failed call is retried with
 * backoff (1 s doubling to 60 s); the last known rate stays in force. */
#ifndef SP_QUOTA_H
#define SP_QUOTA_H

struct proxy;
struct quota;

struct quota *quota_start(struct proxy *px);
void quota_free(struct quota *q);
/* Last MaxSendRate read (0 = none yet). */
double quota_max_send_rate(const struct quota *q);

#endif
