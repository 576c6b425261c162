/* fuzz_iso8601.c - libFuzzer target for api/iso8601 (the one parser and
 * formatter of ISO 8601 times).
 *
 * Input: the first byte is the set of accepted forms (each bit one
 * ISO8601_* flag), the rest the text. Parsing must succeed or fail cleanly
 * and the same way twice; a parsed time has its microseconds in range and,
 * formatted at each precision, is read back by the strict parser as the
 * same second and the same fraction at that precision (when its year still
 * has four digits after the offset). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/iso8601.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(struct iso8601_time t) {
    static const int digits[] = {0, 3, 6};
    struct iso8601_civil c;
    iso8601_civil_from_sec(t.sec, &c);
    if (iso8601_days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 + c.min * 60 +
            c.sec !=
        t.sec) {
        abort();
    }
    for (size_t k = 0; k < 3; k++) {
        char out[ISO8601_FORMAT_MAX];
        int n = iso8601_format(t, digits[k], out, sizeof(out));
        if (n <= 0 || (size_t)n != strlen(out)) {
            abort();
        }
        if (c.year < 1000 || c.year > 9999) {
            continue; /* no longer four digits: not ISO 8601's basic year */
        }
        struct iso8601_time back;
        int32_t want = digits[k] == 0 ? 0 : digits[k] == 3 ? t.usec / 1000 * 1000 : t.usec;
        if (iso8601_parse(out, (size_t)n, 0, &back) < 0 || back.sec != t.sec || back.usec != want) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    unsigned forms = data[0];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct iso8601_time a, b;
    int r1 = iso8601_parse(s, n, forms, &a);
    int r2 = iso8601_parse(s, n, forms, &b);
    if (r1 != r2 || (r1 == 0 && (a.sec != b.sec || a.usec != b.usec))) {
        abort();
    }
    if (r1 < 0) {
        return 0;
    }
    if (a.usec < 0 || a.usec > 999999) {
        abort();
    }
    /* Written years 0001..9999, offsets under a day. */
    if (a.sec < -62135596800LL - 86400 || a.sec > 253402300799LL + 86400) {
        abort();
    }
    round_trip(a);
    return 0;
}
