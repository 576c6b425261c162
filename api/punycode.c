/* punycode.c - RFC 3492 Punycode (see punycode.h).
 *
 * Follows the pseudocode of RFC 3492 sections 6.1-6.3 step by step, with
 * the overflow tests of section 6.4 done on uint32_t (maxint = 2^32 - 1). */
#include "api/punycode.h"

#include <string.h>

static const char invalid[] = "InvalidParameterValue";

enum {
    BASE = 36,
    TMIN = 1,
    TMAX = 26,
    SKEW = 38,
    DAMP = 700,
    INITIAL_BIAS = 72,
    INITIAL_N = 128,
    DELIMITER = '-',
};

#define MAXINT UINT32_MAX

/* Section 6.1: the bias adaptation function. */
static uint32_t adapt(uint32_t delta, uint32_t numpoints, int firsttime) {
    delta = firsttime ? delta / DAMP : delta / 2;
    delta += delta / numpoints;
    uint32_t k = 0;
    while (delta > ((BASE - TMIN) * TMAX) / 2) {
        delta /= BASE - TMIN;
        k += BASE;
    }
    return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

/* The threshold t for position k (section 6.2's clamp of k - bias). */
static uint32_t threshold(uint32_t k, uint32_t bias) {
    return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
}

/* Digit values 0..25 are a..z, 26..35 are 0..9 (section 5); lowercase out. */
static char encode_digit(uint32_t d) { return (char)(d < 26 ? 'a' + d : '0' + (d - 26)); }

/* Either case in, BASE for anything that is not a digit. */
static uint32_t decode_digit(unsigned char c) {
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 26;
    }
    return BASE;
}

static int is_scalar(uint32_t c) { return c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF); }

/* Appends one character to out, keeping room for the NUL. */
static int put(char *out, size_t cap, size_t *n, char c, struct sp_err *err) {
    ENSURE(*n + 1 < cap, err, invalid, "punycode: encoded label longer than %zu bytes",
           cap > 0 ? cap - 1 : 0);
    out[(*n)++] = c;
    return 0;
}

static int encode(const uint32_t *cp, size_t n_in, char *out, size_t cap, size_t *out_len,
                  struct sp_err *err) {
    size_t o = 0;
    ENSURE(n_in < MAXINT, err, invalid, "punycode: too many code points");
    uint32_t b = 0;
    for (size_t j = 0; j < n_in; j++) {
        ENSURE(is_scalar(cp[j]), err, invalid, "punycode: U+%04X is not a Unicode scalar value",
               (unsigned)cp[j]);
        if (cp[j] < 0x80) {
            GUARD(put(out, cap, &o, (char)cp[j], err));
            b++;
        }
    }
    uint32_t h = b, n = INITIAL_N, delta = 0, bias = INITIAL_BIAS;
    if (b > 0) {
        GUARD(put(out, cap, &o, DELIMITER, err));
    }
    while (h < n_in) {
        uint32_t m = MAXINT;
        for (size_t j = 0; j < n_in; j++) {
            if (cp[j] >= n && cp[j] < m) {
                m = cp[j];
            }
        }
        ENSURE(m - n <= (MAXINT - delta) / (h + 1), err, invalid, "punycode: overflow");
        delta += (m - n) * (h + 1);
        n = m;
        for (size_t j = 0; j < n_in; j++) {
            if (cp[j] < n) {
                ENSURE(delta < MAXINT, err, invalid, "punycode: overflow");
                delta++;
            }
            if (cp[j] != n) {
                continue;
            }
            uint32_t q = delta;
            for (uint32_t k = BASE;; k += BASE) {
                uint32_t t = threshold(k, bias);
                if (q < t) {
                    break;
                }
                GUARD(put(out, cap, &o, encode_digit(t + (q - t) % (BASE - t)), err));
                q = (q - t) / (BASE - t);
            }
            GUARD(put(out, cap, &o, encode_digit(q), err));
            bias = adapt(delta, h + 1, h == b);
            delta = 0;
            h++;
        }
        ENSURE(delta < MAXINT && n < MAXINT, err, invalid, "punycode: overflow");
        delta++;
        n++;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

int punycode_encode(const uint32_t *cp, size_t n, char *out, size_t cap, size_t *out_len,
                    struct sp_err *err) {
    ENSURE(cap > 0, err, invalid, "punycode: no room for the output");
    if (encode(cp, n, out, cap, out_len, err) < 0) {
        out[0] = '\0'; /* never a cut label */
        return -1;
    }
    return 0;
}

int punycode_decode(const char *in, size_t len, uint32_t *out, size_t cap, size_t *out_n,
                    struct sp_err *err) {
    size_t basic = 0, start = 0, o = 0;
    for (size_t j = len; j > 0; j--) {
        if (in[j - 1] == DELIMITER) {
            basic = j - 1;
            start = j;
            break;
        }
    }
    for (size_t j = 0; j < basic; j++) {
        unsigned char c = (unsigned char)in[j];
        ENSURE(c < 0x80, err, invalid, "punycode: byte 0x%02X is not a basic code point", c);
        ENSURE(o < cap, err, invalid, "punycode: more than %zu code points", cap);
        out[o++] = c;
    }
    uint32_t n = INITIAL_N, i = 0, bias = INITIAL_BIAS;
    for (size_t p = start; p < len;) {
        uint32_t oldi = i, w = 1;
        for (uint32_t k = BASE;; k += BASE) {
            ENSURE(p < len, err, invalid, "punycode: input ends inside a number");
            uint32_t digit = decode_digit((unsigned char)in[p++]);
            ENSURE(digit < BASE, err, invalid, "punycode: '%c' is not a digit",
                   in[p - 1] >= 0x21 && in[p - 1] <= 0x7E ? in[p - 1] : '?');
            ENSURE(digit <= (MAXINT - i) / w, err, invalid, "punycode: overflow");
            i += digit * w;
            uint32_t t = threshold(k, bias);
            if (digit < t) {
                break;
            }
            ENSURE(w <= MAXINT / (BASE - t), err, invalid, "punycode: overflow");
            w *= BASE - t;
        }
        ENSURE(o < MAXINT, err, invalid, "punycode: overflow");
        uint32_t count = (uint32_t)o + 1;
        bias = adapt(i - oldi, count, oldi == 0);
        ENSURE(i / count <= MAXINT - n, err, invalid, "punycode: overflow");
        n += i / count;
        i %= count;
        /* n starts at 128 and only grows, so section 6.2's "a basic code
         * point is a failure" cannot happen; past Unicode or a surrogate is
         * not a character at all. */
        ENSURE(is_scalar(n), err, invalid, "punycode: decodes to U+%04X, which a label cannot hold",
               (unsigned)n);
        ENSURE(o < cap, err, invalid, "punycode: more than %zu code points", cap);
        memmove(out + i + 1, out + i, (o - i) * sizeof(*out));
        out[i++] = n;
        o++;
    }
    *out_n = o;
    return 0;
}
