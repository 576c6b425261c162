/* outbox_quota.h - the daily sending quota as SES counts it: recipients
 * over a rolling 24 hours (the pure half; outbox.c feeds it, and the Redis
 * store keeps the same count in Redis for all replicas).
 *
 * Two views are combined. Our own: every recipient this proxy (or, in
 * Redis, every replica) had SES accept, synchronous calls included, in
 * per-minute buckets over the last 1440 minutes. SES's: GetSendQuota's
 * Max24HourSend and SentLast24Hours (which also count other senders of
 * the account, but lag), plus what we sent since that answer. Used is the
 * larger of the two; left is Max24HourSend - used (-1 means unlimited,
 * and so does not knowing Max24HourSend yet: SES itself says "Daily
 * message quota exceeded" if it disagrees, and that answer holds every
 * message until GetSendQuota shows room again).
 *
 * A delivery reserves its recipients before it goes (so that concurrent
 * deliveries cannot together pass the quota) and gives them back when SES
 * did not take the message. Pure: `now` is wall-clock milliseconds. */
#ifndef SP_OUTBOX_QUOTA_H
#define SP_OUTBOX_QUOTA_H

#include <stdint.h>

#define OUTBOX_QUOTA_MINUTES 1440

struct outbox_quota {
    double minutes[OUTBOX_QUOTA_MINUTES]; /* ring: minute m at m % 1440 */
    int64_t newest_min;                   /* the latest minute written (or expired up to) */
    double total;                         /* sum of the ring */
    int have_ses;                         /* GetSendQuota answered */
    double ses_max;                       /* Max24HourSend; < 0 = unlimited */
    double ses_sent;                      /* SentLast24Hours */
    double since_fetch;                   /* ours since that answer */
    int exceeded;                         /* SES said so: held until it answers again */
};

void outbox_quota_init(struct outbox_quota *q);
/* n recipients (negative: given back) in the minute of now. */
void outbox_quota_add(struct outbox_quota *q, int64_t now_ms, double n);
/* Our own count over the last 24 hours. */
double outbox_quota_own(struct outbox_quota *q, int64_t now_ms);
/* GetSendQuota's answer; clears `exceeded`. */
void outbox_quota_set_ses(struct outbox_quota *q, double max24, double sent24);
/* SES answered "Daily message quota exceeded". */
void outbox_quota_set_exceeded(struct outbox_quota *q);
/* Used: max(own, SentLast24Hours + ours since). */
double outbox_quota_used(struct outbox_quota *q, int64_t now_ms);
/* Left: Max24HourSend - used, never below 0; -1 when unlimited or not yet
 * known; 0 while `exceeded`. */
double outbox_quota_left(struct outbox_quota *q, int64_t now_ms);
/* Takes n recipients when they fit (1), or nothing (0). */
int outbox_quota_reserve(struct outbox_quota *q, int64_t now_ms, double n);

#endif
