/* restjson_buf.c - buffer, json.dumps text, percent-encoding, base64 (see
 * restjson_buf.h). The oracles are CPython's json encoder
 * (Lib/json/encoder.py, Modules/_json.c: encoder_encode_string_ascii),
 * urllib.parse.quote behind botocore.utils.percent_encode, and
 * base64.b64encode. */
#include "api/restjson_buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/base64.h"
#include "api/query.h"

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

void restjson_buf_init(struct restjson_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void restjson_buf_clear(struct restjson_buf *b) {
    free(b->data);
    restjson_buf_init(b);
}

/* Room for n more bytes and a NUL. */
static int reserve(struct restjson_buf *b, size_t n) {
    if (n > RESTJSON_BUF_MAX - b->len - 1 || b->len >= RESTJSON_BUF_MAX) {
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) {
        cap = cap > RESTJSON_BUF_MAX / 2 ? RESTJSON_BUF_MAX : cap * 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

char *restjson_buf_steal(struct restjson_buf *b, size_t *len) {
    if (b->data == NULL && reserve(b, 0) < 0) {
        return NULL;
    }
    b->data[b->len] = '\0';
    char *p = b->data;
    *len = b->len;
    restjson_buf_init(b);
    return p;
}

int restjson_buf_put(struct restjson_buf *b, const void *data, size_t len) {
    GUARD(reserve(b, len));
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int restjson_buf_puts(struct restjson_buf *b, const char *s) {
    return restjson_buf_put(b, s, strlen(s));
}

/* ---- JSON text ----------------------------------------------------------- */

/* Appends \uXXXX (lowercase, as Python's encoder writes it). */
static void put_u_escape(struct restjson_buf *b, unsigned v) {
    char *o = b->data + b->len;
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hex_lower[(v >> 12) & 15];
    o[3] = hex_lower[(v >> 8) & 15];
    o[4] = hex_lower[(v >> 4) & 15];
    o[5] = hex_lower[v & 15];
    b->len += 6;
}

/* Decodes one UTF-8 sequence at s[i] (valid UTF-8 is a precondition; a
 * malformed byte is taken as U+FFFD so that the writer never reads past
 * len). Returns the code point and advances *i. */
static unsigned utf8_next(const unsigned char *s, size_t len, size_t *i) {
    unsigned c = s[*i];
    size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (n == 0 || len - *i <= n) {
        (*i)++;
        return 0xFFFD;
    }
    unsigned v = c & (0x3Fu >> n);
    for (size_t k = 1; k <= n; k++) {
        v = (v << 6) | (s[*i + k] & 0x3Fu);
    }
    *i += n + 1;
    return v;
}

int restjson_buf_json_string(struct restjson_buf *b, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    /* Room for the plain case up front; an escape (at most 12 bytes, for 1
     * to 4 bytes of input) makes room for itself and the rest. */
    GUARD(reserve(b, len + 2));
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c >= 0x20 && c <= 0x7E && c != '"' && c != '\\') {
            b->data[b->len++] = (char)c;
            i++;
            continue;
        }
        GUARD(reserve(b, 12 + (len - i) + 1));
        if (c < 0x80) {
            const char *named = c == '"'    ? "\\\""
                                : c == '\\' ? "\\\\"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                            : NULL;
            if (named != NULL) {
                b->data[b->len++] = named[0];
                b->data[b->len++] = named[1];
            } else {
                put_u_escape(b, c); /* other control bytes and DEL */
            }
            i++;
            continue;
        }
        unsigned v = utf8_next(u, len, &i);
        if (v >= 0x10000) {
            v -= 0x10000;
            put_u_escape(b, 0xD800 | (v >> 10));
            put_u_escape(b, 0xDC00 | (v & 0x3FF));
        } else {
            put_u_escape(b, v);
        }
    }
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
    return 0;
}

int restjson_buf_json_number(struct restjson_buf *b, const json_t *v) {
    char text[QUERY_SCALAR_MAX];
    int n;
    if (json_is_integer(v)) {
        n = snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        n = query_format_double(json_real_value(v), text, sizeof(text));
    } else {
        return -1;
    }
    if (n < 0) {
        return -1;
    }
    return restjson_buf_put(b, text, (size_t)n);
}

int restjson_buf_json_value(struct restjson_buf *b, const json_t *v, int compact, int depth) {
    const char *item_sep = compact ? "," : ", ";
    const char *key_sep = compact ? ":" : ": ";
    if (depth < 0) {
        return -1;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        GUARD(restjson_buf_put(b, "{", 1));
        int first = 1;
        /* jansson's iterator takes a non-const object but never changes it. */
        json_t *o = (json_t *)(uintptr_t)v;
        for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it)) {
            if (!first) {
                GUARD(restjson_buf_puts(b, item_sep));
            }
            first = 0;
            GUARD(restjson_buf_json_string(b, json_object_iter_key(it),
                                           json_object_iter_key_len(it)));
            GUARD(restjson_buf_puts(b, key_sep));
            GUARD(restjson_buf_json_value(b, json_object_iter_value(it), compact, depth - 1));
        }
        return restjson_buf_put(b, "}", 1);
    }
    case JSON_ARRAY:
        GUARD(restjson_buf_put(b, "[", 1));
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0) {
                GUARD(restjson_buf_puts(b, item_sep));
            }
            GUARD(restjson_buf_json_value(b, json_array_get(v, i), compact, depth - 1));
        }
        return restjson_buf_put(b, "]", 1);
    case JSON_STRING:
        return restjson_buf_json_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
    case JSON_REAL:
        return restjson_buf_json_number(b, v);
    case JSON_TRUE:
        return restjson_buf_puts(b, "true");
    case JSON_FALSE:
        return restjson_buf_puts(b, "false");
    case JSON_NULL:
        return restjson_buf_puts(b, "null");
    }
    return -1;
}

/* ---- percent-encoding ------------------------------------------------------ */

/* quote() keeps ASCII letters, digits and "_.-~" whatever safe says. */
static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int restjson_buf_percent(struct restjson_buf *b, const char *s, size_t len, int keep_slash) {
    if (len > (RESTJSON_BUF_MAX - 1) / 3) {
        return -1;
    }
    GUARD(reserve(b, len * 3));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = hex_upper[c >> 4];
            b->data[b->len++] = hex_upper[c & 15];
        }
    }
    b->data[b->len] = '\0';
    return 0;
}

/* ---- base64 ---------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int restjson_buf_base64(struct restjson_buf *b, const void *data, size_t len) {
    const unsigned char *p = data;
    if (len > (RESTJSON_BUF_MAX - 1) / 4 * 3 - 3) {
        return -1;
    }
    GUARD(reserve(b, (len + 2) / 3 * 4));
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int restjson_buf_unbase64(struct restjson_buf *b, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    if (len % 4 != 0) {
        return 1;
    }
    size_t pad = 0;
    if (len > 0 && u[len - 1] == '=') {
        pad = u[len - 2] == '=' ? 2 : 1;
    }
    for (size_t i = 0; i < len - pad; i++) {
        if (base64_digit(u[i]) < 0) {
            return 1;
        }
    }
    if (pad > 0) {
        int last = base64_digit(u[len - pad - 1]);
        /* the spare bits of the last digit must be zero: canonical */
        if ((pad == 2 && (last & 0x0F) != 0) || (pad == 1 && (last & 0x03) != 0)) {
            return 1;
        }
    }
    size_t out = len / 4 * 3 - pad;
    GUARD(reserve(b, out));
    char *o = b->data + b->len;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = u[i + k] == '=' ? 0 : base64_digit(u[i + k]);
            v = v << 6 | (uint32_t)d;
        }
        size_t take = i + 4 == len ? 3 - pad : 3;
        for (size_t k = 0; k < take; k++) {
            *o++ = (char)(v >> (16 - 8 * k));
        }
    }
    b->len += out;
    b->data[b->len] = '\0';
    return 0;
}
