/* quota.h - GetSendQuota: the account's MaxSendRate for throttle.send_rate
 * "auto", and its daily quota (Max24HourSend, SentLast24Hours) for whoever
 * listens (the outbox, through daemon.c), which also asks for a refresh at
 * once after SES answered "Daily message quota exceeded"; with a listener
 * it asks every outbox.quota_refresh_s when that is shorter.
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
/* Every answer's Max24HourSend and SentLast24Hours go to fn(arg, ...). */
typedef void (*quota_daily_fn)(void *arg, double max24, double sent24);
void quota_on_daily(struct quota *q, quota_daily_fn fn, void *arg);
/* Asks again now (unless an answer is on its way). NULL is a no-op. */
void quota_refresh_now(struct quota *q);
/* Last MaxSendRate read (0 = none yet). */
double quota_max_send_rate(const struct quota *q);

#endif
