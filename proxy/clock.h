/* clock.h - the clocks the proxy reads.
 *
 * Monotonic microseconds for everything that measures or schedules (bucket
 * maths, deadlines, durations); the wall clock (time()) only for X-Amz-Date,
 * credential expiry and log timestamps. Modules that decide with time take
 * a clock_fn so that tests can inject one (the throttle does). */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <stdint.h>

typedef uint64_t (*clock_fn)(void);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t clock_monotonic_us(void);

#endif
