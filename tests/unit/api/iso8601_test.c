/* iso8601_test - the civil calendar against known dates and against its
 * inverse, the parser's strict core and each form flag alone (a flag adds
 * its form and nothing else), and the formatter's three precisions. The
 * callers' own accepted sets are pinned where they are used: query_test
 * (botocore's) and creds_json_test (credential expirations). */
#include <stdio.h>
#include <string.h>

#include "api/iso8601.h"

#include "tests/unit/unit_check.h"

static int parses(const char *s, unsigned forms, int64_t *sec, int32_t *usec) {
    struct iso8601_time t = {-1, -1};
    if (iso8601_parse(s, strlen(s), forms, &t) < 0) {
        return 0;
    }
    *sec = t.sec;
    *usec = t.usec;
    return 1;
}

/* Parses to exactly sec (and usec). */
static int gives(const char *s, unsigned forms, int64_t sec, int32_t usec) {
    int64_t got;
    int32_t gu;
    int ok = parses(s, forms, &got, &gu) && got == sec && gu == usec;
    if (!ok) {
        fprintf(stderr, "  %s (forms 0x%x)\n", s, forms);
    }
    return ok;
}

static int refused(const char *s, unsigned forms) {
    int64_t sec;
    int32_t usec;
    int ok = !parses(s, forms, &sec, &usec);
    if (!ok) {
        fprintf(stderr, "  accepted: %s (forms 0x%x)\n", s, forms);
    }
    return ok;
}

static void test_civil(void) {
    CHECK(iso8601_days_from_civil(1970, 1, 1) == 0);
    CHECK(iso8601_days_from_civil(2000, 3, 1) == 11017);
    CHECK(iso8601_days_from_civil(1969, 12, 31) == -1);
    CHECK(iso8601_days_from_civil(1, 1, 1) == -719162);
    CHECK(iso8601_days_from_civil(9999, 12, 31) == 2932896);
    CHECK(iso8601_days_from_civil(0, 3, 1) == -719468);
    struct iso8601_civil c;
    iso8601_civil_from_sec(0, &c);
    CHECK(c.year == 1970 && c.month == 1 && c.day == 1 && c.hour == 0 && c.wday == 3);
    iso8601_civil_from_sec(-1, &c);
    CHECK(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 23 && c.min == 59 &&
          c.sec == 59 && c.wday == 2);
    iso8601_civil_from_sec(1714582800, &c); /* Wednesday */
    CHECK(c.year == 2024 && c.month == 5 && c.day == 1 && c.hour == 17 && c.wday == 2);
    iso8601_civil_from_sec(951825600, &c); /* 2000-02-29T12:00:00Z, a Tuesday */
    CHECK(c.year == 2000 && c.month == 2 && c.day == 29 && c.hour == 12 && c.wday == 1);
    /* Every day from year 1 to 9999 and a little beyond, both ways. */
    int bad = 0;
    int64_t prev_year = INT64_MIN;
    for (int64_t day = -719162 - 800; day <= 2932896 + 800; day++) {
        iso8601_civil_from_sec(day * 86400 + 43200, &c);
        if (iso8601_days_from_civil(c.year, c.month, c.day) != day || c.hour != 12 ||
            c.wday != (int)(((day % 7) + 7 + 3) % 7) || c.year < prev_year) {
            bad++;
        }
        prev_year = c.year;
    }
    CHECK(bad == 0);
    /* The extremes of int64_t do not overflow. */
    iso8601_civil_from_sec(INT64_MIN, &c);
    CHECK(c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= 31 && c.sec >= 0);
    iso8601_civil_from_sec(INT64_MAX, &c);
    CHECK(c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= 31 && c.sec >= 0);
}

static void test_strict(void) {
    CHECK(gives("1970-01-01T00:00:00Z", 0, 0, 0));
    CHECK(gives("2024-05-01T17:00:00Z", 0, 1714582800, 0));
    CHECK(gives("2024-05-01t17:00:00z", 0, 1714582800, 0));
    CHECK(gives("2024-05-01T17:00:00.5Z", 0, 1714582800, 500000));
    CHECK(gives("2024-05-01T17:00:00.1234567Z", 0, 1714582800, 123456));
    CHECK(gives("2024-05-01T17:00:00.999999999Z", 0, 1714582800, 999999));
    CHECK(gives("2024-05-01T19:00:00+02:00", 0, 1714582800, 0));
    CHECK(gives("2024-05-01T12:30:00-0430", 0, 1714582800, 0));
    CHECK(gives("2024-02-29T00:00:00Z", 0, 1709164800, 0));
    CHECK(gives("0001-01-01T00:00:00Z", 0, -62135596800LL, 0));
    CHECK(gives("9999-12-31T23:59:59Z", 0, 253402300799LL, 0));
    CHECK(gives("1969-12-31T23:59:59.25Z", 0, -1, 250000));
    /* An offset may leave years 1..9999: not range-checked here. */
    CHECK(gives("0001-01-01T00:00:00+01:00", 0, -62135596800LL - 3600, 0));
    CHECK(gives("9999-12-31T23:59:59-23:59", 0, 253402300799LL + 86340, 0));
    /* Not NUL-terminated: only len bytes are read. */
    struct iso8601_time t;
    CHECK(iso8601_parse("2024-05-01T17:00:00Zjunk", 20, 0, &t) == 0 && t.sec == 1714582800);
    CHECK(iso8601_parse("2024-05-01T17:00:00Z", 19, 0, &t) == -1);
    static const char *const bad[] = {
        "",
        "2024",
        "2024-05-01",
        "2024-05-01T17:00",
        "2024-05-01T17:00:00",
        "2024-05-01 17:00:00Z",
        "2024-05-01T17:00:00,5Z",
        "2024-05-01T17:00:00+02",
        "2024-05-01T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-05-00T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T17:60:00Z",
        "2024-05-01T17:00:00.Z",
        "2024-05-01T17:00:00Zjunk",
        "2024-05-01T17:00:00 Z",
        "2024-05-01T17:00:00+24:00",
        "2024-05-01T17:00:00+05:60",
        "2024-05-01T17:00:00+05:0",
        "2024-05-01T17:00:00+5",
        "2024-05-01Z",
        "2024-5-01T17:00:00Z",
        "20x4-05-01T17:00:00Z",
        "+2024-05-01T17:00:00Z",
        "2024-05-01T1:00:00Z",
        "2024-W18T17:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(refused(bad[i], 0));
    }
}

/* Each flag admits its own form and no other flag's. */
static void test_forms(void) {
    static const struct {
        unsigned flag;
        const char *text; /* refused without the flag, accepted with it */
        int64_t sec;
        int32_t usec;
    } cases[] = {
        {ISO8601_DATE_ONLY, "2020-01-01", 1577836800, 0},
        {ISO8601_SPACE, "2020-01-01 10:00:00Z", 1577872800, 0},
        {ISO8601_NO_SECONDS, "2020-01-01T10:00Z", 1577872800, 0},
        {ISO8601_COMMA, "2020-01-01T10:00:00,5Z", 1577872800, 500000},
        {ISO8601_NO_OFFSET, "2020-01-01T10:00:00.25", 1577872800, 250000},
        {ISO8601_HOUR_OFFSET, "2020-01-01T10:00:00+05", 1577854800, 0},
        {ISO8601_LEAP_SECOND, "2016-12-31T23:59:60Z", 1483228800, 0},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        CHECK(refused(cases[i].text, 0));
        CHECK(gives(cases[i].text, cases[i].flag, cases[i].sec, cases[i].usec));
        unsigned others = 0;
        for (size_t j = 0; j < n; j++) {
            others |= j != i ? cases[j].flag : 0;
        }
        CHECK(refused(cases[i].text, others));
    }
    /* FROM_1970 takes away: years before 1970 as written. */
    CHECK(gives("1969-12-31T23:59:59Z", 0, -1, 0));
    CHECK(refused("1969-12-31T23:59:59Z", ISO8601_FROM_1970));
    CHECK(gives("1970-01-01T00:00:00Z", ISO8601_FROM_1970, 0, 0));
    /* ... as written: an offset may still carry it before the epoch. */
    CHECK(gives("1970-01-01T00:00:00+01:00", ISO8601_FROM_1970, -3600, 0));
    /* Combinations. */
    unsigned all = ISO8601_DATE_ONLY | ISO8601_SPACE | ISO8601_NO_SECONDS | ISO8601_COMMA |
                   ISO8601_NO_OFFSET | ISO8601_HOUR_OFFSET;
    CHECK(gives("2020-01-01 10:00", all, 1577872800, 0));
    CHECK(gives("2020-01-01 10:00-01", all, 1577876400, 0));
    CHECK(refused("2020-01-01T10:00,5", all)); /* a fraction needs seconds */
    CHECK(refused("2020-01-01T10", all));
    CHECK(refused("2020-01-01Z", all));
    CHECK(refused("2020-01-01T10:00:00+05x", all));
    CHECK(refused("2020-01-01T", all));
    CHECK(refused("2020-01-01 ", all));
    CHECK(refused("2016-12-31T23:59:60Z", all));
}

static int formats(int64_t sec, int32_t usec, int digits, const char *want) {
    char out[ISO8601_FORMAT_MAX];
    struct iso8601_time t = {sec, usec};
    int n = iso8601_format(t, digits, out, sizeof(out));
    int ok = n >= 0 && strcmp(out, want) == 0 && (size_t)n == strlen(want);
    if (!ok) {
        fprintf(stderr, "  format %lld.%06d/%d: want %s got %s\n", (long long)sec, (int)usec,
                digits, want, n >= 0 ? out : "(failed)");
    }
    return ok;
}

static void test_format(void) {
    CHECK(formats(0, 0, 0, "1970-01-01T00:00:00Z"));
    CHECK(formats(1714582800, 123456, 0, "2024-05-01T17:00:00Z"));
    CHECK(formats(1714582800, 123999, 3, "2024-05-01T17:00:00.123Z"));
    CHECK(formats(1714582800, 5, 3, "2024-05-01T17:00:00.000Z"));
    CHECK(formats(1714582800, 5, 6, "2024-05-01T17:00:00.000005Z"));
    CHECK(formats(-1, 500000, 6, "1969-12-31T23:59:59.500000Z"));
    /* glibc's %Y: no zero padding below 1000. */
    CHECK(formats(-62135596800LL, 0, 0, "1-01-01T00:00:00Z"));
    CHECK(formats(-30610224001LL, 0, 0, "999-12-31T23:59:59Z"));
    CHECK(formats(-30610224000LL, 0, 0, "1000-01-01T00:00:00Z"));
    CHECK(formats(253402300799LL, 0, 0, "9999-12-31T23:59:59Z"));
    CHECK(formats(253402300800LL, 0, 0, "10000-01-01T00:00:00Z"));
    /* The widest text fits ISO8601_FORMAT_MAX. */
    char out[ISO8601_FORMAT_MAX];
    struct iso8601_time t = {INT64_MIN, 999999};
    CHECK(iso8601_format(t, 6, out, sizeof(out)) > 0);
    t.sec = INT64_MAX;
    CHECK(iso8601_format(t, 6, out, sizeof(out)) > 0);
    /* Refused: a short buffer, another precision, usec out of range. */
    t.sec = 0;
    t.usec = 0;
    CHECK(iso8601_format(t, 0, out, 20) == -1);
    CHECK(iso8601_format(t, 0, out, 21) == 20);
    CHECK(iso8601_format(t, 1, out, sizeof(out)) == -1);
    t.usec = 1000000;
    CHECK(iso8601_format(t, 6, out, sizeof(out)) == -1);
    t.usec = -1;
    CHECK(iso8601_format(t, 0, out, sizeof(out)) == -1);
}

/* What the formatter writes, the strict parser reads back (years 1000 to
 * 9999: below, the year is not zero-padded, by design). */
static void test_round_trip(void) {
    static const int64_t secs[] = {
        0, -1, 1714582800, 951825600, 253402300799LL, -30610224000LL, -30578601600LL};
    static const int32_t usecs[] = {0, 1, 999, 1000, 123456, 999999};
    int bad = 0;
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        for (size_t j = 0; j < sizeof(usecs) / sizeof(usecs[0]); j++) {
            static const int digits[] = {0, 3, 6};
            for (size_t k = 0; k < 3; k++) {
                char out[ISO8601_FORMAT_MAX];
                struct iso8601_time t = {secs[i], usecs[j]}, back;
                int n = iso8601_format(t, digits[k], out, sizeof(out));
                int32_t want = digits[k] == 0   ? 0
                               : digits[k] == 3 ? usecs[j] / 1000 * 1000
                                                : usecs[j];
                if (n < 0 || iso8601_parse(out, (size_t)n, 0, &back) < 0 || back.sec != secs[i] ||
                    back.usec != want) {
                    bad++;
                    fprintf(stderr, "  round trip %s\n", n >= 0 ? out : "(format failed)");
                }
            }
        }
    }
    CHECK(bad == 0);
}

int main(void) {
    test_civil();
    test_strict();
    test_forms();
    test_format();
    test_round_trip();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
