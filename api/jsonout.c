/* jsonout.c - compact JSON with shortest round-trip reals (see jsonout.h). */
#include "api/jsonout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"

/* Output is batched so that a document costs a few sink calls, not one per
 * token. */
struct writer {
    jsonout_sink_fn sink;
    void *ctx;
    int failed;
    size_t len;
    char buf[4096];
};

static void w_flush(struct writer *w) {
    if (!w->failed && w->len > 0 && w->sink(w->ctx, w->buf, w->len) < 0) {
        w->failed = 1;
    }
    w->len = 0;
}

static void w_put(struct writer *w, const char *s, size_t n) {
    if (w->len + n > sizeof(w->buf)) {
        w_flush(w);
    }
    if (n > sizeof(w->buf)) {
        if (!w->failed && w->sink(w->ctx, s, n) < 0) {
            w->failed = 1;
        }
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void w_char(struct writer *w, char ch) { w_put(w, &ch, 1); }

/* A JSON string as jansson's dump_string writes it without flags. jansson
 * holds only valid UTF-8 (json_string and json_stringn check it), so the
 * bytes of a multi-byte character (all >= 0x80) are copied as they are. */
static void w_string(struct writer *w, const char *s, size_t n) {
    w_char(w, '"');
    size_t run = 0; /* start of the bytes not yet written */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        w_put(w, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (ch) {
        case '"':
            w_put(w, "\\\"", 2);
            break;
        case '\\':
            w_put(w, "\\\\", 2);
            break;
        case '\b':
            w_put(w, "\\b", 2);
            break;
        case '\f':
            w_put(w, "\\f", 2);
            break;
        case '\n':
            w_put(w, "\\n", 2);
            break;
        case '\r':
            w_put(w, "\\r", 2);
            break;
        case '\t':
            w_put(w, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)ch);
            w_put(w, esc, 6);
            break;
        }
    }
    w_put(w, s + run, n - run);
    w_char(w, '"');
}

static void w_value(struct writer *w, const json_t *v, int depth);

static void w_object(struct writer *w, const json_t *v, int depth) {
    w_char(w, '{');
    const char *key;
    size_t key_len;
    json_t *member;
    int first = 1;
    /* Cast: json_object_keylen_foreach takes a non-const object but only
     * reads it (jansson 2.14 iterates in insertion order). */
    json_t *obj = (json_t *)(uintptr_t)v;
    json_object_keylen_foreach(obj, key, key_len, member) {
        if (!first) {
            w_char(w, ',');
        }
        first = 0;
        w_string(w, key, key_len);
        w_char(w, ':');
        w_value(w, member, depth + 1);
        if (w->failed) {
            return;
        }
    }
    w_char(w, '}');
}

static void w_array(struct writer *w, const json_t *v, int depth) {
    w_char(w, '[');
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (i > 0) {
            w_char(w, ',');
        }
        w_value(w, json_array_get(v, i), depth + 1);
        if (w->failed) {
            return;
        }
    }
    w_char(w, ']');
}

static void w_value(struct writer *w, const json_t *v, int depth) {
    if (depth > JSONOUT_MAX_DEPTH || v == NULL) {
        w->failed = 1;
        return;
    }
    char num[QUERY_SCALAR_MAX];
    int n;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        w_object(w, v, depth);
        break;
    case JSON_ARRAY:
        w_array(w, v, depth);
        break;
    case JSON_STRING:
        w_string(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        w_put(w, num, (size_t)n);
        break;
    case JSON_REAL:
        /* A json_real is always finite (jansson refuses NaN and infinity),
         * and Python's repr of a finite double always reads back as a
         * JSON number: "1.0", "1e-05", "1.5e+300". */
        n = query_format_double(json_real_value(v), num, sizeof(num));
        if (n < 0) {
            w->failed = 1;
            return;
        }
        w_put(w, num, (size_t)n);
        break;
    case JSON_TRUE:
        w_put(w, "true", 4);
        break;
    case JSON_FALSE:
        w_put(w, "false", 5);
        break;
    case JSON_NULL:
        w_put(w, "null", 4);
        break;
    }
}

int jsonout_dump(const json_t *v, jsonout_sink_fn sink, void *ctx) {
    if (sink == NULL || v == NULL) {
        return -1;
    }
    struct writer *w = malloc(sizeof(*w));
    if (w == NULL) {
        return -1;
    }
    w->sink = sink;
    w->ctx = ctx;
    w->failed = 0;
    w->len = 0;
    w_value(w, v, 0);
    w_flush(w);
    int rc = w->failed ? -1 : 0;
    free(w);
    return rc;
}

struct strbuf {
    char *data;
    size_t len, cap;
};

static int sink_strbuf(void *ctx, const void *data, size_t len) {
    struct strbuf *b = ctx;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            return -1;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

char *jsonout_dumps(const json_t *v) {
    struct strbuf b = {NULL, 0, 0};
    if (jsonout_dump(v, sink_strbuf, &b) < 0 || b.data == NULL) {
        free(b.data);
        return NULL;
    }
    return b.data;
}
