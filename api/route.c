/* route.c - which REST operation a request is (see route.h). */
#include "api/route.h"

#include <string.h>

/* A slice of the caller's target. */
struct span {
    const char *p;
    size_t len;
};

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

/* Every '%' followed by two hex digits (RFC 3986 pct-encoded). */
static int escapes_ok(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            continue;
        }
        if (len - i < 3 || hex_value((unsigned char)s[i + 1]) < 0 ||
            hex_value((unsigned char)s[i + 2]) < 0) {
            return 0;
        }
        i += 2;
    }
    return 1;
}

/* Decodes a slice whose escapes were checked; returns the decoded length. */
static size_t decode(struct span in, char *out) {
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        if (c == '%') {
            c = (unsigned char)(hex_value((unsigned char)in.p[i + 1]) * 16 +
                                hex_value((unsigned char)in.p[i + 2]));
            i += 2;
        }
        out[n++] = (char)c;
    }
    return n;
}

/* Does the (checked) encoded slice decode to exactly plain[0..len)? */
static int decodes_to(struct span enc, const char *plain, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < enc.len; i++, n++) {
        unsigned char c = (unsigned char)enc.p[i];
        if (c == '%') {
            c = (unsigned char)(hex_value((unsigned char)enc.p[i + 1]) * 16 +
                                hex_value((unsigned char)enc.p[i + 2]));
            i += 2;
        }
        if (n >= len || (unsigned char)plain[n] != c) {
            return 0;
        }
    }
    return n == len;
}

/* Well-formed UTF-8 as RFC 3629 has it: shortest form, no surrogates,
 * nothing above U+10FFFF (what jansson accepts for a JSON string). */
static int utf8_ok(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
            hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
            hi = c == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
        } else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t k = 2; k <= n; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}

/* Number of segments of a path that starts with '/': "/" has none. */
static size_t count_segments(struct span path) {
    if (path.len == 1) {
        return 0;
    }
    size_t n = 1;
    for (size_t i = 1; i < path.len; i++) {
        n += path.p[i] == '/';
    }
    return n;
}

/* Is the fixed item key[=value] among the query's items (decoded)? A fixed
 * item without '=' matches an item with that key and an empty value. */
static int query_has(struct span query, const char *item, size_t item_len) {
    const char *eq = memchr(item, '=', item_len);
    size_t key_len = eq != NULL ? (size_t)(eq - item) : item_len;
    const char *value = eq != NULL ? eq + 1 : "";
    size_t value_len = eq != NULL ? item_len - key_len - 1 : 0;
    size_t off = 0;
    while (off <= query.len) {
        const char *amp = memchr(query.p + off, '&', query.len - off);
        size_t end = amp != NULL ? (size_t)(amp - query.p) : query.len;
        struct span it = {query.p + off, end - off};
        const char *ieq = memchr(it.p, '=', it.len);
        struct span k = {it.p, ieq != NULL ? (size_t)(ieq - it.p) : it.len};
        struct span v = {ieq != NULL ? ieq + 1 : it.p + it.len,
                         ieq != NULL ? it.len - k.len - 1 : 0};
        if (it.len > 0 && decodes_to(k, item, key_len) && decodes_to(v, value, value_len)) {
            return 1;
        }
        off = end + 1;
    }
    return 0;
}

static int fixed_query_ok(const struct model_op *op, struct span query) {
    const char *fq = op->http.fixed_query;
    if (fq == NULL) {
        return 1;
    }
    size_t len = strlen(fq), off = 0;
    while (off < len) {
        const char *amp = memchr(fq + off, '&', len - off);
        size_t end = amp != NULL ? (size_t)(amp - fq) : len;
        if (end > off && !query_has(query, fq + off, end - off)) {
            return 0;
        }
        off = end + 1;
    }
    return 1;
}

/* Matches op's path template against path; on a match fills labels (raw
 * slices, in template order) and *n_labels, and returns 1. */
static int path_matches(const struct model_op *op, struct span path, size_t n_req,
                        struct span *labels, size_t *n_labels) {
    const struct model_http *h = &op->http;
    size_t greedy = 0;
    for (size_t i = 0; i < h->n_segments; i++) {
        greedy += h->segments[i].greedy;
    }
    if (greedy ? n_req < h->n_segments : n_req != h->n_segments) {
        return 0;
    }
    size_t pos = 1, n = 0;
    for (size_t i = 0; i < h->n_segments; i++) {
        const struct model_uri_segment *seg = &h->segments[i];
        /* a greedy label takes what the segments after it leave */
        size_t take = seg->greedy ? n_req - h->n_segments + 1 : 1;
        size_t end = pos;
        for (size_t k = 0; k < take; k++) {
            const char *slash = memchr(path.p + end, '/', path.len - end);
            end = slash != NULL ? (size_t)(slash - path.p) : path.len;
            if (k + 1 < take) {
                end++;
            }
        }
        struct span s = {path.p + pos, end - pos};
        if (seg->member < 0) {
            size_t tlen = strlen(seg->text);
            if (s.len != tlen || memcmp(s.p, seg->text, tlen) != 0) {
                return 0;
            }
        } else {
            if (s.len == 0) {
                return 0;
            }
            labels[n++] = s;
        }
        pos = end + 1;
    }
    *n_labels = n;
    return 1;
}

static size_t count_labels(const struct model_op *op) {
    size_t n = 0;
    for (size_t i = 0; i < op->http.n_segments; i++) {
        n += op->http.segments[i].member >= 0;
    }
    return n;
}

/* Decodes the matched labels into buf and fills out. */
static int fill_labels(const struct model_service *svc, const struct model_op *op,
                       const struct span *raw, size_t n, char *buf, struct route_match *out,
                       struct sp_err *err) {
    const struct model_shape *in = model_shape_at(svc, op->input);
    size_t off = 0, k = 0;
    for (size_t i = 0; i < op->http.n_segments; i++) {
        const struct model_uri_segment *seg = &op->http.segments[i];
        if (seg->member < 0) {
            continue;
        }
        ENSURE(in != NULL && (uint16_t)seg->member < in->n_members && k < n, err, "InternalError",
               "%s: a URI label without its member", op->name);
        char *v = buf + off;
        size_t len = decode(raw[k], v);
        ENSURE(memchr(v, '\0', len) == NULL && utf8_ok((const unsigned char *)v, len), err,
               "MalformedRequest", "%s: the URI label %s is not UTF-8 text", op->name, seg->text);
        v[len] = '\0';
        out->labels[k] = (struct route_label){&in->members[seg->member], v, len};
        off += len + 1;
        k++;
    }
    out->n_labels = k;
    out->op = op;
    return 0;
}

int route_find(const struct model_service *svc, const char *method, size_t method_len,
               const char *target, size_t target_len, char *buf, size_t cap,
               struct route_match *out, struct sp_err *err) {
    memset(out, 0, sizeof(*out));
    ENSURE(cap > target_len, err, "InternalError", "route_find: buffer smaller than the target");
    ENSURE(escapes_ok(target, target_len), err, "MalformedRequest",
           "malformed percent-encoding in the request target");
    const char *q = memchr(target, '?', target_len);
    struct span path = {target, q != NULL ? (size_t)(q - target) : target_len};
    struct span query = {q != NULL ? q + 1 : target + target_len,
                         q != NULL ? target_len - path.len - 1 : 0};
    ENSURE(path.len > 0 && path.p[0] == '/', err, "InvalidAction",
           "no %s operation has this method and path", svc->service_id);
    size_t n_req = count_segments(path);

    const struct model_op *found = NULL;
    struct span labels[ROUTE_MAX_LABELS], found_labels[ROUTE_MAX_LABELS];
    size_t n_labels = 0, found_n = 0;
    for (size_t i = 0; i < svc->n_ops; i++) {
        const struct model_op *op = &svc->ops[i];
        if (op->http.method == NULL || strlen(op->http.method) != method_len ||
            memcmp(op->http.method, method, method_len) != 0) {
            continue;
        }
        ENSURE(count_labels(op) <= ROUTE_MAX_LABELS, err, "InternalError",
               "%s: more URI labels than route_find takes", op->name);
        if (!path_matches(op, path, n_req, labels, &n_labels) || !fixed_query_ok(op, query)) {
            continue;
        }
        ENSURE(found == NULL, err, "InvalidAction",
               "this method and path match both %s and %s of %s", found->name, op->name,
               svc->service_id);
        found = op;
        found_n = n_labels;
        memcpy(found_labels, labels, n_labels * sizeof(labels[0]));
    }
    ENSURE(found != NULL, err, "InvalidAction", "no %s operation has this method and path",
           svc->service_id);
    GUARD(fill_labels(svc, found, found_labels, found_n, buf, out, err));
    return 0;
}
