/* fuzz_route - the REST router (api/route.h) over the SES v2 model.
 *
 * Byte 0 picks the mode, byte 1 the operation (or the method).
 *
 * Even byte 0, "template": the rest is label values, each a length byte and
 * that many bytes, then a query string. The operation's template is
 * rendered with the values percent-encoded as botocore does (everything but
 * letters, digits and "-._~"), the query appended. Checked: the path routes
 * back to that operation with exactly those values; unless a value is
 * empty (no operation has an empty label: InvalidAction) or is not text
 * (a NUL, or not UTF-8 as jansson judges it: MalformedRequest).
 *
 * Odd byte 0, "raw": the rest is the request target as is. Checked: either
 * InvalidAction or MalformedRequest with no operation, or an operation of
 * that method whose labels are NUL-terminated UTF-8 inside the buffer; and
 * rendering that operation's template with those labels (and the target's
 * own query) routes back to it with the same labels.
 *
 * The target is handed over in a heap buffer of exactly its size, so any
 * read past it trips ASan. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "get", ""};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

struct value {
    const uint8_t *p;
    size_t len;
};

static int is_text(const uint8_t *p, size_t len) {
    if (memchr(p, '\0', len) != NULL) {
        return 0;
    }
    json_t *s = json_stringn((const char *)p, len);
    json_decref(s);
    return s != NULL;
}

static size_t put_encoded(char *out, const uint8_t *p, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    return n;
}

/* Renders op's template with values (one per label, in order) and the raw
 * query (NULL = none) into a new heap buffer of exactly *len bytes. */
static char *render(const struct model_op *op, const struct value *values, const uint8_t *query,
                    size_t query_len, size_t *len) {
    size_t cap = 2 + query_len;
    for (size_t k = 0, l = 0; k < op->http.n_segments; k++) {
        const struct model_uri_segment *seg = &op->http.segments[k];
        cap += 1 + (seg->member >= 0 ? 3 * values[l++].len : strlen(seg->text));
    }
    char *t = malloc(cap);
    if (t == NULL) {
        abort();
    }
    size_t n = 0;
    for (size_t k = 0, l = 0; k < op->http.n_segments; k++) {
        const struct model_uri_segment *seg = &op->http.segments[k];
        t[n++] = '/';
        if (seg->member >= 0) {
            n += put_encoded(t + n, values[l].p, values[l].len);
            l++;
        } else {
            memcpy(t + n, seg->text, strlen(seg->text));
            n += strlen(seg->text);
        }
    }
    if (op->http.n_segments == 0) {
        t[n++] = '/';
    }
    if (query != NULL) {
        t[n++] = '?';
        memcpy(t + n, query, query_len);
        n += query_len;
    }
    *len = n;
    return t;
}

static int run(const char *method, const char *target, size_t len, struct route_match *m,
               struct sp_err *err, char **buf) {
    *buf = malloc(len + 1);
    if (*buf == NULL) {
        abort();
    }
    sp_err_clear(err);
    return route_find(&model_sesv2, method, strlen(method), target, len, *buf, len + 1, m, err);
}

static int labels_equal(const struct route_match *m, const struct value *values, size_t n) {
    if (m->n_labels != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (m->labels[i].len != values[i].len ||
            memcmp(m->labels[i].value, values[i].p, values[i].len) != 0) {
            return 0;
        }
    }
    return 1;
}

static size_t n_labels_of(const struct model_op *op) {
    size_t n = 0;
    for (size_t k = 0; k < op->http.n_segments; k++) {
        n += op->http.segments[k].member >= 0;
    }
    return n;
}

static void template_mode(const uint8_t *data, size_t size, size_t pick) {
    const struct model_op *op = &model_sesv2.ops[pick % model_sesv2.n_ops];
    struct value values[ROUTE_MAX_LABELS];
    size_t n = n_labels_of(op);
    int empty = 0, text = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l = size > 0 ? data[0] : 0;
        data += size > 0;
        size -= size > 0;
        l = l < size ? l : size;
        values[i] = (struct value){data, l};
        empty |= l == 0;
        text &= is_text(data, l);
        data += l;
        size -= l;
    }
    /* the rest is a query; a '%' in it must be a well-formed escape */
    int query_ok = 1;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '%' && (size - i < 3 || !strchr("0123456789abcdefABCDEF", data[i + 1]) ||
                               !strchr("0123456789abcdefABCDEF", data[i + 2]) ||
                               data[i + 1] == '\0' || data[i + 2] == '\0')) {
            query_ok = 0;
        }
    }
    size_t len;
    char *target = render(op, values, size > 0 ? data : NULL, size, &len);
    struct route_match m;
    struct sp_err err;
    char *buf;
    int rc = run(op->http.method, target, len, &m, &err, &buf);
    if (!query_ok) {
        if (rc != -1 || strcmp(err.code, "MalformedRequest") != 0) {
            abort();
        }
    } else if (empty) {
        if (rc != -1 || strcmp(err.code, "InvalidAction") != 0 || m.op != NULL) {
            abort();
        }
    } else if (!text) {
        if (rc != -1 || strcmp(err.code, "MalformedRequest") != 0 || m.op != NULL) {
            abort();
        }
    } else if (rc != 0 || m.op != op || !labels_equal(&m, values, n)) {
        abort();
    }
    free(buf);
    free(target);
}

static void raw_mode(const uint8_t *data, size_t size, size_t pick) {
    const char *method = methods[pick % N_METHODS];
    char *target = malloc(size > 0 ? size : 1);
    if (target == NULL) {
        abort();
    }
    memcpy(target, data, size);
    struct route_match m;
    struct sp_err err;
    char *buf;
    int rc = run(method, target, size, &m, &err, &buf);
    if (rc != 0) {
        if (m.op != NULL || err.code == NULL ||
            (strcmp(err.code, "InvalidAction") != 0 && strcmp(err.code, "MalformedRequest") != 0)) {
            abort();
        }
    } else {
        if (strcmp(m.op->http.method, method) != 0 || m.n_labels != n_labels_of(m.op)) {
            abort();
        }
        struct value values[ROUTE_MAX_LABELS];
        for (size_t i = 0; i < m.n_labels; i++) {
            const char *v = m.labels[i].value;
            if (v < buf || v + m.labels[i].len >= buf + size + 1 || v[m.labels[i].len] != '\0' ||
                m.labels[i].len == 0 || !is_text((const uint8_t *)v, m.labels[i].len)) {
                abort();
            }
            values[i] = (struct value){(const uint8_t *)v, m.labels[i].len};
        }
        const char *q = memchr(target, '?', size);
        size_t len;
        char *again = render(m.op, values, (const uint8_t *)(q != NULL ? q + 1 : NULL),
                             q != NULL ? size - (size_t)(q - target) - 1 : 0, &len);
        struct route_match m2;
        char *buf2;
        if (run(method, again, len, &m2, &err, &buf2) != 0 || m2.op != m.op ||
            !labels_equal(&m2, values, m.n_labels)) {
            abort();
        }
        free(buf2);
        free(again);
    }
    free(buf);
    free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        template_mode(data + 2, size - 2, data[1]);
    } else {
        raw_mode(data + 2, size - 2, data[1]);
    }
    return 0;
}
