/* fuzz_jsonout - the proxy's JSON writer (api/jsonout), against jansson.
 *
 * Input: byte 0 picks the check.
 *   even: the next 8 bytes are a double's bits. A finite double's text must
 *     be a JSON number that reads back (strtod, and jansson) as the same
 *     double, and be the shortest such: the nearest decimals with one
 *     significant digit fewer must not read back as it.
 *   odd: the rest is JSON text; what jansson reads is written by jsonout,
 *     read again, and must be equal (json_equal); a document without reals
 *     must be byte for byte what json_dumps(JSON_COMPACT) writes.
 * A failed check aborts. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The significant digits of text s ("-1.25e-05" -> 3), leading zeros not
 * counted. */
static int significant_digits(const char *s) {
    int n = 0, seen = 0, zeros = 0;
    for (; *s != '\0' && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') {
            continue;
        }
        if (*s == '0') {
            if (seen) {
                zeros++; /* trailing zeros count only when a digit follows */
            }
            continue;
        }
        seen = 1;
        n += zeros + 1;
        zeros = 0;
    }
    return n;
}

/* Does some decimal with p significant digits read back as d? Checks the
 * correctly rounded one and its two neighbours, which covers the case where
 * d's interval is wider on one side (d a power of two). */
static int reads_back_with(double d, int p) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
    char *e = strchr(buf, 'e');
    int exp10 = atoi(e + 1);
    *e = '\0';
    char mant[40];
    size_t nm = 0;
    for (const char *c = buf; *c != '\0'; c++) {
        if (*c >= '0' && *c <= '9') {
            mant[nm++] = *c;
        }
    }
    mant[nm] = '\0';
    unsigned long long m = strtoull(mant, NULL, 10);
    unsigned long long cand[3] = {m, m + 1, m - 1};
    for (int k = 0; k < 3; k++) {
        if (cand[k] == 0) {
            continue;
        }
        char t[64];
        snprintf(t, sizeof(t), "%s%llue%d", signbit(d) ? "-" : "", cand[k], exp10 - (p - 1));
        if (strtod(t, NULL) == d) {
            return 1;
        }
    }
    return 0;
}

static void check_real(double d) {
    if (!isfinite(d)) {
        return;
    }
    json_t *v = json_real(d);
    char *s = jsonout_dumps(v);
    if (s == NULL || strtod(s, NULL) != d || (signbit(strtod(s, NULL)) != signbit(d))) {
        abort();
    }
    json_t *back = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!json_is_real(back) || json_real_value(back) != d) {
        abort(); /* not a JSON real: "1" instead of "1.0" would come back an integer */
    }
    int p = significant_digits(s);
    if (d != 0 && p > 1 && reads_back_with(d, p - 1)) {
        abort(); /* a shorter decimal reads back too */
    }
    json_decref(back);
    json_decref(v);
    free(s);
}

static int has_real(const json_t *v) {
    const char *key;
    json_t *m;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_REAL:
        return 1;
    case JSON_ARRAY:
        json_array_foreach(v, i, m) {
            if (has_real(m)) {
                return 1;
            }
        }
        return 0;
    case JSON_OBJECT:
        json_object_foreach((json_t *)(uintptr_t)v, key, m) {
            if (has_real(m)) {
                return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

static void check_document(const uint8_t *data, size_t size) {
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v == NULL) {
        return;
    }
    char *s = jsonout_dumps(v);
    if (s == NULL) {
        abort(); /* jansson's parser stops at depth 2048, within jsonout's limit */
    }
    json_t *back = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (back == NULL || !json_equal(v, back)) {
        abort();
    }
    if (!has_real(v)) {
        char *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (theirs == NULL || strcmp(s, theirs) != 0) {
            abort();
        }
        free(theirs);
    }
    json_decref(back);
    free(s);
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        if (size >= 9) {
            double d;
            memcpy(&d, data + 1, sizeof(d));
            check_real(d);
        }
        return 0;
    }
    check_document(data + 1, size - 1);
    return 0;
}
