/* ratelog.h - at most one log line a window for an event a client can
 * repeat at will, with the count of those not logged.
 *
 * A refused client, a failing accept(): each is worth a line, but a flood
 * of them must not become a flood of lines (the log is the operator's, and
 * writing it costs the loop). The first event logs at once and opens a
 * window; events inside it are only counted; when the window ends the
 * count is logged, if any, and that line opens the next window. So a steady
 * flood gives one line per window, each with its count, and the first
 * event after a quiet window is logged at once.
 *
 * Pure state: the caller owns the timer that ends a window (RATELOG_WINDOW_MS
 * after ratelog_hit returned 1, or after ratelog_flush returned non-zero). */
#ifndef SP_RATELOG_H
#define SP_RATELOG_H

#include <stdint.h>

#define RATELOG_WINDOW_MS 1000

struct ratelog {
    int open;            /* a window is running */
    uint64_t suppressed; /* events in it not logged */
};

/* An event: 1 when it is to be logged now (a window opens: arm the timer),
 * 0 when it was only counted. */
int ratelog_hit(struct ratelog *r);

/* The window ended: the events counted in it. Non-zero: log the count; a
 * new window has opened (arm the timer again). 0: the window is closed. */
uint64_t ratelog_flush(struct ratelog *r);

#endif
