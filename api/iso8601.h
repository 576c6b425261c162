/* iso8601.h - dates and times in ISO 8601 / RFC 3339, always UTC: the civil
 * calendar (days since the epoch and back), a parser whose accepted forms
 * each caller picks with flags, and one formatter.
 *
 * Pure: no I/O, no clock, no locale and no libc time function (gmtime_r
 * takes a lock, timegm is bounded by time_t): proleptic Gregorian arithmetic
 * on int64_t seconds since 1970-01-01T00:00:00Z, after H. Hinnant's
 * "chrono-Compatible Low-Level Date Algorithms", exact for every year.
 *
 * One parser for every caller, because two copies drift: each caller names
 * the forms it accepts beyond the strict core, and what it accepts is then
 * pinned by its own tests (botocore's for api/query, AWS's answers for the
 * credential expirations). */
#ifndef SP_ISO8601_H
#define SP_ISO8601_H

#include <stddef.h>
#include <stdint.h>

#include "signer/check.h"

/* A point in time: UTC seconds since the epoch (floor) and the
 * microseconds after them, 0..999999. */
struct iso8601_time {
    int64_t sec;
    int32_t usec;
};

/* The forms iso8601_parse accepts, OR-ed together. With none it takes
 *   YYYY-MM-DD(T|t)HH:MM:SS[.F...](Z|z|(+|-)HH[:]MM)
 * that is RFC 3339 (plus the offset without its colon): a 4-digit year
 * 0001..9999 as written, a real date, hours 00..23, minutes and seconds
 * 00..59, a fraction of one or more digits truncated to microseconds (the
 * digits after the sixth are dropped, as dateutil does), an offset up to
 * 23:59 either way. Each flag adds one form, and only that form. */
enum iso8601_forms {
    ISO8601_DATE_ONLY = 1u << 0,   /* "YYYY-MM-DD" alone: midnight UTC */
    ISO8601_SPACE = 1u << 1,       /* ' ' between date and time, as 'T' */
    ISO8601_NO_SECONDS = 1u << 2,  /* "HH:MM" without ":SS" (and fraction) */
    ISO8601_COMMA = 1u << 3,       /* ',' before the fraction, as '.' */
    ISO8601_NO_OFFSET = 1u << 4,   /* no offset at all: UTC */
    ISO8601_HOUR_OFFSET = 1u << 5, /* "+HH" / "-HH" without minutes */
    ISO8601_LEAP_SECOND = 1u << 6, /* ":60", read as the next minute's first second */
    ISO8601_FROM_1970 = 1u << 7,   /* and refuses a year before 1970 as written */
};

/* Parses s[0..len) (need not be NUL-terminated; the whole of it must be one
 * time) in the given forms. Returns 0 and *out, or -1 (*out untouched).
 * The result is not range-checked beyond the written year: an offset may
 * carry it into year 0 or 10000. */
int iso8601_parse(const char *s, size_t len, unsigned forms,
                  struct iso8601_time *out) SP_WARN_UNUSED;

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day
 * 1..31; not checked). */
int64_t iso8601_days_from_civil(int64_t year, int month, int day);

/* The civil date and time of UTC seconds since the epoch; any int64_t. */
struct iso8601_civil {
    int64_t year;
    int month, day, hour, min, sec; /* 1..12, 1..31, 0..23, 0..59, 0..59 */
    int wday;                       /* 0 = Monday, as Python's weekday() */
};
void iso8601_civil_from_sec(int64_t sec, struct iso8601_civil *out);

/* Longest text iso8601_format writes, NUL included (a 12-digit year with
 * its sign, microseconds). */
#define ISO8601_FORMAT_MAX 40

/* Writes t as YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z, NUL-terminated:
 * frac_digits 0 (no fraction), 3 (milliseconds, truncated) or 6. The year
 * is printed as glibc's strftime("%Y") prints it, without zero padding
 * below 1000 (what botocore sends, through Python's strftime). Returns the
 * length, or -1 when cap is too small, frac_digits is not 0, 3 or 6, or
 * usec is outside 0..999999. */
int iso8601_format(struct iso8601_time t, int frac_digits, char *out, size_t cap);

#endif
