/* iso8601.c - the civil calendar, one ISO 8601 parser and one formatter
 * (see iso8601.h).
 *
 * The parser walks the text with an index that every read checks against
 * len, so it never needs a NUL; each optional form is one flag test at the
 * point where the strict grammar would refuse. */
#include "api/iso8601.h"

#include <stdio.h>

/* ---- the civil calendar ------------------------------------------------ */

int64_t iso8601_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void iso8601_civil_from_sec(int64_t t, struct iso8601_civil *c) {
    /* Floor division without negating t (INT64_MIN has no negation). */
    int64_t z = t / 86400;
    int64_t rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        z--;
    }
    c->hour = (int)(rem / 3600);
    c->min = (int)(rem % 3600 / 60);
    c->sec = (int)(rem % 60);
    c->wday = (int)(((z % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = yoe + era * 400 + (c->month <= 2);
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- parsing ----------------------------------------------------------- */

struct cursor {
    const char *s;
    size_t len, i;
    unsigned forms;
};

static int at(const struct cursor *c, char ch) { return c->i < c->len && c->s[c->i] == ch; }

/* Exactly n digits. */
static int take_digits(struct cursor *c, int n, int *out) {
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (c->i >= c->len || c->s[c->i] < '0' || c->s[c->i] > '9') {
            return -1;
        }
        v = v * 10 + (c->s[c->i] - '0');
        c->i++;
    }
    *out = v;
    return 0;
}

/* YYYY-MM-DD, a real date; the year 0001..9999 (1970..9999 with
 * ISO8601_FROM_1970). */
static int parse_date(struct cursor *c, int *y, int *mo, int *d) {
    GUARD(take_digits(c, 4, y));
    if (!at(c, '-')) {
        return -1;
    }
    c->i++;
    GUARD(take_digits(c, 2, mo));
    if (!at(c, '-')) {
        return -1;
    }
    c->i++;
    GUARD(take_digits(c, 2, d));
    int min_year = (c->forms & ISO8601_FROM_1970) ? 1970 : 1;
    return *y >= min_year && *mo >= 1 && *mo <= 12 && *d >= 1 && *d <= days_in_month(*y, *mo) ? 0
                                                                                              : -1;
}

/* A fraction after its '.' (or ','): one digit or more, the first six kept. */
static int parse_fraction(struct cursor *c, int32_t *usec) {
    int nd = 0;
    while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        if (nd < 6) {
            *usec = *usec * 10 + (c->s[c->i] - '0');
        }
        nd++;
        c->i++;
    }
    if (nd == 0) {
        return -1;
    }
    for (; nd < 6; nd++) {
        *usec *= 10;
    }
    return 0;
}

/* HH:MM:SS[.F...], or HH:MM with ISO8601_NO_SECONDS. */
static int parse_clock(struct cursor *c, int *hh, int *mi, int *ss, int32_t *usec) {
    GUARD(take_digits(c, 2, hh));
    if (!at(c, ':')) {
        return -1;
    }
    c->i++;
    GUARD(take_digits(c, 2, mi));
    if (at(c, ':')) {
        c->i++;
        GUARD(take_digits(c, 2, ss));
        if (at(c, '.') || ((c->forms & ISO8601_COMMA) && at(c, ','))) {
            c->i++;
            GUARD(parse_fraction(c, usec));
        }
    } else if (!(c->forms & ISO8601_NO_SECONDS)) {
        return -1;
    }
    int max_sec = (c->forms & ISO8601_LEAP_SECOND) ? 60 : 59;
    return *hh <= 23 && *mi <= 59 && *ss <= max_sec ? 0 : -1;
}

/* Z | z | (+|-)HH[:]MM | (+|-)HH with ISO8601_HOUR_OFFSET | nothing with
 * ISO8601_NO_OFFSET. *off gets seconds east of UTC. */
static int parse_offset(struct cursor *c, int64_t *off) {
    *off = 0;
    if (c->i >= c->len) {
        return (c->forms & ISO8601_NO_OFFSET) ? 0 : -1;
    }
    if (at(c, 'Z') || at(c, 'z')) {
        c->i++;
        return 0;
    }
    if (!at(c, '+') && !at(c, '-')) {
        return -1;
    }
    int sign = at(c, '-') ? -1 : 1, oh = 0, om = 0;
    c->i++;
    GUARD(take_digits(c, 2, &oh));
    if (at(c, ':')) {
        c->i++;
        GUARD(take_digits(c, 2, &om));
    } else if (c->i < c->len || !(c->forms & ISO8601_HOUR_OFFSET)) {
        GUARD(take_digits(c, 2, &om));
    }
    if (oh > 23 || om > 59) {
        return -1;
    }
    *off = sign * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

int iso8601_parse(const char *s, size_t len, unsigned forms, struct iso8601_time *out) {
    struct cursor c = {s, len, 0, forms};
    int y = 0, mo = 0, d = 0, hh = 0, mi = 0, ss = 0;
    int32_t usec = 0;
    int64_t off = 0;
    GUARD(parse_date(&c, &y, &mo, &d));
    if (c.i < len || !(forms & ISO8601_DATE_ONLY)) {
        /* An offset needs a time: "2020-01-01Z" is refused. */
        if (!(at(&c, 'T') || at(&c, 't') || ((forms & ISO8601_SPACE) && at(&c, ' ')))) {
            return -1;
        }
        c.i++;
        GUARD(parse_clock(&c, &hh, &mi, &ss, &usec));
        GUARD(parse_offset(&c, &off));
    }
    if (c.i != len) {
        return -1;
    }
    out->sec = iso8601_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off;
    out->usec = usec;
    return 0;
}

/* ---- formatting -------------------------------------------------------- */

int iso8601_format(struct iso8601_time t, int frac_digits, char *out, size_t cap) {
    if (t.usec < 0 || t.usec > 999999) {
        return -1;
    }
    struct iso8601_civil c;
    iso8601_civil_from_sec(t.sec, &c);
    int n;
    switch (frac_digits) {
    case 0:
        n = snprintf(out, cap, "%lld-%02d-%02dT%02d:%02d:%02dZ", (long long)c.year, c.month, c.day,
                     c.hour, c.min, c.sec);
        break;
    case 3:
        n = snprintf(out, cap, "%lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)c.year, c.month,
                     c.day, c.hour, c.min, c.sec, (int)(t.usec / 1000));
        break;
    case 6:
        n = snprintf(out, cap, "%lld-%02d-%02dT%02d:%02d:%02d.%06dZ", (long long)c.year, c.month,
                     c.day, c.hour, c.min, c.sec, (int)t.usec);
        break;
    default:
        return -1;
    }
    return n >= 0 && (size_t)n < cap ? n : -1;
}
