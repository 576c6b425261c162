/* outbox_quota.c - the rolling 24-hour count (see outbox_quota.h). */
#include "proxy/outbox/outbox_quota.h"

#include <string.h>

void outbox_quota_init(struct outbox_quota *q) {
    memset(q, 0, sizeof(*q));
    q->ses_max = -1;
}

/* Empties the buckets that fell out of the 24 hours before now's minute. */
static void expire(struct outbox_quota *q, int64_t now_min) {
    if (now_min <= q->newest_min) {
        return;
    }
    if (now_min - q->newest_min >= OUTBOX_QUOTA_MINUTES) {
        memset(q->minutes, 0, sizeof(q->minutes));
        q->total = 0;
    } else {
        for (int64_t m = q->newest_min + 1; m <= now_min; m++) {
            double *slot = &q->minutes[m % OUTBOX_QUOTA_MINUTES];
            q->total -= *slot;
            *slot = 0;
        }
        if (q->total < 1e-9) {
            q->total = 0; /* no float drift below zero */
        }
    }
    q->newest_min = now_min;
}

void outbox_quota_add(struct outbox_quota *q, int64_t now_ms, double n) {
    int64_t now_min = now_ms / 60000;
    expire(q, now_min);
    double *slot = &q->minutes[now_min % OUTBOX_QUOTA_MINUTES];
    if (*slot + n < 0) {
        n = -*slot; /* given back after its minute passed: nothing left to give */
    }
    *slot += n;
    q->total += n;
    q->since_fetch += n;
    if (q->since_fetch < 0) {
        q->since_fetch = 0;
    }
}

double outbox_quota_own(struct outbox_quota *q, int64_t now_ms) {
    expire(q, now_ms / 60000);
    return q->total;
}

void outbox_quota_set_ses(struct outbox_quota *q, double max24, double sent24) {
    q->have_ses = 1;
    q->ses_max = max24;
    q->ses_sent = sent24 < 0 ? 0 : sent24;
    q->since_fetch = 0;
    q->exceeded = 0;
}

void outbox_quota_set_exceeded(struct outbox_quota *q) { q->exceeded = 1; }

double outbox_quota_used(struct outbox_quota *q, int64_t now_ms) {
    double own = outbox_quota_own(q, now_ms);
    double ses = q->have_ses ? q->ses_sent + q->since_fetch : 0;
    return own > ses ? own : ses;
}

double outbox_quota_left(struct outbox_quota *q, int64_t now_ms) {
    if (q->exceeded) {
        return 0;
    }
    if (!q->have_ses || q->ses_max < 0) {
        return -1;
    }
    double left = q->ses_max - outbox_quota_used(q, now_ms);
    return left > 0 ? left : 0;
}

int outbox_quota_reserve(struct outbox_quota *q, int64_t now_ms, double n) {
    double left = outbox_quota_left(q, now_ms);
    if (left >= 0 && n > left + 1e-9) {
        return 0;
    }
    outbox_quota_add(q, now_ms, n);
    return 1;
}
