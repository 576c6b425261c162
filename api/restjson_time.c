/* restjson_time.c - timestamp texts in one normal form (see restjson_time.h). */
#include "api/restjson_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: Python's datetime range. */
#define TIME_MIN_SEC (-62135596800LL)
#define TIME_MAX_SEC (253402300799LL)

int restjson_time_format(struct iso8601_time t, char *out, size_t cap) {
    struct iso8601_civil c;
    int n;
    if (cap < RESTJSON_TIME_MAX || t.sec < TIME_MIN_SEC || t.sec > TIME_MAX_SEC || t.usec < 0 ||
        t.usec > 999999) {
        return -1;
    }
    iso8601_civil_from_sec(t.sec, &c);
    n = snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)c.year, c.month, c.day,
                 c.hour, c.min, c.sec);
    if (t.usec != 0) {
        n += snprintf(out + n, cap - (size_t)n, ".%06d", (int)t.usec);
    }
    n += snprintf(out + n, cap - (size_t)n, "Z");
    return n;
}

int restjson_time_epoch(const json_t *v, long long *secs) {
    char text[QUERY_SCALAR_MAX];
    size_t n;
    GUARD(query_format_timestamp(v, "unixTimestamp", text, sizeof(text), &n, NULL));
    *secs = strtoll(text, NULL, 10);
    return 0;
}

/* query_format_timestamp writes ISO 8601 in botocore's form, whose year is
 * not padded below 1000 ("999-01-01T..."): read its parts back by hand. */
int restjson_time_normal(const json_t *v, int whole_seconds, char *out, size_t cap) {
    char text[QUERY_SCALAR_MAX];
    size_t n;
    long long secs;
    struct iso8601_time t;
    GUARD(restjson_time_epoch(v, &secs));
    t.sec = secs;
    t.usec = 0;
    if (!whole_seconds) {
        GUARD(query_format_timestamp(v, "iso8601", text, sizeof(text), &n, NULL));
        const char *dot = memchr(text, '.', n);
        if (dot != NULL) {
            t.usec = (int32_t)strtol(dot + 1, NULL, 10); /* always 6 digits */
        }
    }
    return restjson_time_format(t, out, cap);
}

static int two_digits(const char *s, int *out) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
        return -1;
    }
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

int restjson_time_http_date(const char *s, size_t len, struct iso8601_time *out) {
    static const char wdays[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    int day, month = -1, yh, yl, hour, min, sec;
    if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0) {
        return -1;
    }
    for (int m = 0; m < 12; m++) {
        if (memcmp(s + 8, months + 3 * m, 3) == 0) {
            month = m + 1;
        }
    }
    if (month < 0 || two_digits(s + 5, &day) < 0 || two_digits(s + 12, &yh) < 0 ||
        two_digits(s + 14, &yl) < 0 || two_digits(s + 17, &hour) < 0 ||
        two_digits(s + 20, &min) < 0 || two_digits(s + 23, &sec) < 0) {
        return -1;
    }
    int year = yh * 100 + yl;
    if (year < 1 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) {
        return -1;
    }
    int64_t t = iso8601_days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    struct iso8601_civil c;
    iso8601_civil_from_sec(t, &c);
    /* a day past the month's end comes back as another date */
    if (c.day != day || c.month != month || memcmp(s, wdays + 3 * c.wday, 3) != 0) {
        return -1;
    }
    out->sec = t;
    out->usec = 0;
    return 0;
}

int restjson_time_rfc3339(const char *s, size_t len, struct iso8601_time *out) {
    struct iso8601_time t;
    char padded[64];
    size_t digits = 0;
    while (digits < len && s[digits] >= '0' && s[digits] <= '9') {
        digits++;
    }
    /* botocore's strftime("%Y") writes the year 194 as "194": read it as
     * "0194" (only then: a year of one to three digits, then '-') */
    if (digits >= 1 && digits < 4 && digits < len && s[digits] == '-' &&
        len + 4 - digits <= sizeof(padded)) {
        memset(padded, '0', 4 - digits);
        memcpy(padded + 4 - digits, s, len);
        len += 4 - digits;
        s = padded;
    }
    GUARD(iso8601_parse(s, len, 0, &t));
    if (t.sec < TIME_MIN_SEC || t.sec > TIME_MAX_SEC) {
        return -1;
    }
    *out = t;
    return 0;
}
