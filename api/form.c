/* form.c - bounds-checked reading of x-www-form-urlencoded bodies.
 *
 * Every read goes through a (pointer, length, offset) cursor, as s2n's
 * stuffer does: no function here looks for a NUL or reads past len. */
#include "api/form.h"

#include <string.h>

static const char malformed[] = "MalformedRequest";

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes the byte at s[*i], advancing *i past it (1 or 3 input bytes). */
static int decode_byte(const char *s, size_t len, size_t *i, unsigned char *out,
                       struct sp_err *err) {
    unsigned char c = (unsigned char)s[*i];
    if (c == '+') {
        *out = ' ';
        *i += 1;
        return 0;
    }
    if (c != '%') {
        *out = c;
        *i += 1;
        return 0;
    }
    ENSURE(len - *i >= 3, err, malformed, "form: truncated %%-escape");
    int hi = hex_value((unsigned char)s[*i + 1]), lo = hex_value((unsigned char)s[*i + 2]);
    /* The bad bytes are not echoed: they may not be UTF-8, and the message
     * may end up in a JSON answer. */
    ENSURE(hi >= 0 && lo >= 0, err, malformed, "form: malformed %%-escape");
    *out = (unsigned char)(hi << 4 | lo);
    *i += 3;
    return 0;
}

void form_cursor_init(struct form_cursor *c, const char *body, size_t len) {
    c->body = body;
    c->len = body != NULL ? len : 0;
    c->off = 0;
}

int form_next(struct form_cursor *c, struct form_pair *pair) {
    while (c->off < c->len) {
        const char *start = c->body + c->off;
        size_t rest = c->len - c->off;
        const char *amp = memchr(start, '&', rest);
        size_t plen = amp != NULL ? (size_t)(amp - start) : rest;
        c->off += plen + (amp != NULL ? 1 : 0);
        if (plen == 0) {
            continue; /* "a=1&&b=2": parse_qsl skips empty pairs */
        }
        const char *eq = memchr(start, '=', plen);
        pair->key = start;
        pair->key_len = eq != NULL ? (size_t)(eq - start) : plen;
        pair->value = eq != NULL ? eq + 1 : start + plen;
        pair->value_len = eq != NULL ? plen - pair->key_len - 1 : 0;
        return 1;
    }
    return 0;
}

/* form_decode, naming whose value (a key, or "decoded") did not fit. */
static int decode_named(const char *s, size_t len, char *out, size_t cap, size_t *out_len,
                        const char *what, struct sp_err *err) {
    size_t i = 0, n = 0;
    ENSURE(cap > 0, err, malformed, "form: no room to decode %s into", what);
    out[0] = '\0'; /* what a failure leaves */
    while (i < len) {
        unsigned char b = 0;
        if (decode_byte(s, len, &i, &b, err) < 0) {
            out[0] = '\0';
            return -1;
        }
        if (n + 1 >= cap) {
            out[0] = '\0';
            return sp_fail(err, malformed, "form: %s value longer than %zu bytes", what, cap - 1);
        }
        out[n++] = (char)b;
    }
    out[n] = '\0';
    if (out_len != NULL) {
        *out_len = n;
    }
    return 0;
}

int form_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len,
                struct sp_err *err) {
    return decode_named(s, len, out, cap, out_len, "decoded", err);
}

/* Compares the decoding of s with want[0..want_len); if whole, the decoding
 * must end there too. 1 match, 0 differs, -1 malformed escape. */
static int decoded_match(const char *s, size_t len, const char *want, size_t want_len, int whole,
                         struct sp_err *err) {
    size_t i = 0, k = 0;
    while (i < len && k < want_len) {
        unsigned char b = 0;
        GUARD(decode_byte(s, len, &i, &b, err));
        if (b != (unsigned char)want[k++]) {
            return 0;
        }
    }
    if (k < want_len) {
        return 0;
    }
    return !whole || i == len;
}

int form_equals(const char *s, size_t len, const char *key, size_t key_len, struct sp_err *err) {
    return decoded_match(s, len, key, key_len, 1, err);
}

int form_has_prefix(const char *s, size_t len, const char *prefix, size_t prefix_len,
                    struct sp_err *err) {
    return decoded_match(s, len, prefix, prefix_len, 0, err);
}

static int check_slice(const char *s, size_t len, struct sp_err *err) {
    size_t i = 0;
    while (i < len) {
        unsigned char b = 0;
        GUARD(decode_byte(s, len, &i, &b, err));
    }
    return 0;
}

int form_check(const char *body, size_t len, struct sp_err *err) {
    return check_slice(body, body != NULL ? len : 0, err);
}

int form_get(const char *body, size_t len, const char *key, char *out, size_t cap, size_t *out_len,
             struct sp_err *err) {
    struct form_cursor c;
    struct form_pair p;
    size_t key_len = strlen(key);
    if (cap > 0) {
        out[0] = '\0';
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    form_cursor_init(&c, body, len);
    while (form_next(&c, &p)) {
        int r = form_equals(p.key, p.key_len, key, key_len, err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            /* A key that differs early may still hide a bad escape. */
            GUARD(check_slice(p.key, p.key_len, err));
            GUARD(check_slice(p.value, p.value_len, err));
            continue;
        }
        GUARD(decode_named(p.value, p.value_len, out, cap, out_len, key, err));
        return 1;
    }
    return 0;
}
