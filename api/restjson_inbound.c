/* restjson_inbound.c - an SDK's SES v2 request -> the JSON parameters (see
 * restjson_inbound.h).
 *
 * What is accepted is what botocore's RestJSONSerializer (and the other
 * SDKs, which follow the same Smithy rules) writes, read back so that
 * restjson_serialize of the result writes the same request again; every
 * byte that could be read two ways is refused instead. */
#include "api/restjson_inbound.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/membudget.h"
#include "api/restjson_buf.h"
#include "api/restjson_time.h"

struct inb {
    const struct model_service *svc;
    const struct model_op *op;
    const struct model_shape *in; /* NULL: the operation takes no input */
    struct sp_err *err;
    json_t *params;
};

/* Echoed names are cut to this many bytes. */
#define ECHO 64
#define ECHO_LEN(n) ((int)((n) > ECHO ? ECHO : (n)))

static const char *wire_name(const struct model_member *m) {
    return m->wire_name != NULL ? m->wire_name : m->name;
}

static int set_param(struct inb *p, const struct model_member *m, json_t *v) {
    ENSURE_REF(v, p->err);
    if (json_object_set_new(p->params, m->name, v) < 0) {
        return sp_fail(p->err, "InternalError", "out of memory");
    }
    return 0;
}

/* ---- typed text (labels, query values, header values) ---------------------- */

/* Canonical decimal, as Python's str(int) writes it: "0", "-12"; no '+',
 * no leading zero, no blank; within int64. */
static int parse_integer(const char *s, size_t len, long long *out) {
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len || (s[i] == '0' && len - i > 1) || (neg && s[i] == '0')) {
        return -1;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (neg ? v > (unsigned long long)LLONG_MAX + 1 : v > (unsigned long long)LLONG_MAX) {
        return -1;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* A decimal epoch: [-]digits[.digits], what an SDK's unixTimestamp writes
 * (botocore an integer, others milliseconds as a fraction). */
static int is_epoch_text(const char *s, size_t len) {
    size_t i = len > 0 && s[0] == '-', digits = 0, frac = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        digits++;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            frac++;
        }
        if (frac == 0) {
            return 0;
        }
    }
    return digits > 0 && i == len;
}

/* A timestamp as text (query or header) in format -> its normal form. */
static json_t *timestamp_from_text(const char *s, size_t len, const char *format, int header) {
    struct iso8601_time t;
    char out[RESTJSON_TIME_MAX];
    if (strcasecmp(format, "unixTimestamp") == 0) {
        long long secs;
        if (!is_epoch_text(s, len) || len > 40) {
            return NULL;
        }
        json_t *v = json_stringn(s, len);
        int rc = v != NULL ? restjson_time_epoch(v, &secs) : -1;
        json_decref(v);
        return rc < 0 ? NULL : json_integer(secs);
    }
    if (strcasecmp(format, "rfc822") == 0) {
        if (restjson_time_http_date(s, len, &t) < 0) {
            return NULL;
        }
    } else if (restjson_time_rfc3339(s, len, &t) < 0) {
        return NULL;
    }
    if (header) {
        t.usec = 0; /* botocore cuts header timestamps to whole seconds */
    }
    int n = restjson_time_format(t, out, sizeof(out));
    return n < 0 ? NULL : json_stringn(out, (size_t)n);
}

/* A scalar's text (decoded, UTF-8, no NUL) -> its JSON value per shape;
 * NULL with err filled. where names the member for messages. */
static json_t *typed_text(struct inb *p, const struct model_shape *shape, const char *s, size_t len,
                          const char *where, const char *def_ts, int header) {
    long long n;
    json_t *v = NULL;
    switch (shape->type) {
    case MODEL_STRING:
        v = json_stringn(s, len);
        if (v == NULL) {
            sp_fail(p->err, "MalformedRequest", "%s is not UTF-8 text", where);
        }
        return v;
    case MODEL_INTEGER:
    case MODEL_LONG:
        if (parse_integer(s, len, &n) < 0) {
            sp_fail(p->err, "ValidationError", "Invalid value for parameter %s: not an integer",
                    where);
            return NULL;
        }
        v = json_integer(n);
        break;
    case MODEL_BOOLEAN:
        if (len == 4 && memcmp(s, "true", 4) == 0) {
            v = json_true();
        } else if (len == 5 && memcmp(s, "false", 5) == 0) {
            v = json_false();
        } else {
            sp_fail(p->err, "ValidationError",
                    "Invalid value for parameter %s: not \"true\" or \"false\"", where);
            return NULL;
        }
        break;
    case MODEL_TIMESTAMP: {
        const char *format = shape->timestamp_format != NULL ? shape->timestamp_format : def_ts;
        v = timestamp_from_text(s, len, format, header);
        if (v == NULL) {
            sp_fail(p->err, "ValidationError",
                    "Invalid value for parameter %s: not a timestamp in %s format", where, format);
            return NULL;
        }
        return v;
    }
    default:
        sp_fail(p->err, "InternalError", "%s: a %s outside the body is not supported", where,
                model_type_name(shape->type));
        return NULL;
    }
    if (v == NULL) {
        sp_fail(p->err, "InternalError", "out of memory");
    }
    return v;
}

/* ---- labels ------------------------------------------------------------------ */

static int label_segment_greedy(const struct model_op *op, const struct model_member *m,
                                const struct model_shape *in) {
    for (size_t i = 0; i < op->http.n_segments; i++) {
        const struct model_uri_segment *seg = &op->http.segments[i];
        if (seg->member >= 0 && &in->members[seg->member] == m) {
            return seg->greedy;
        }
    }
    return 0;
}

static int read_labels(struct inb *p, const struct route_match *match) {
    for (size_t i = 0; i < match->n_labels; i++) {
        const struct route_label *l = &match->labels[i];
        const struct model_member *m = l->member;
        const struct model_shape *shape = model_shape_at(p->svc, m->shape);
        ENSURE(p->in != NULL, p->err, "InternalError", "%s: a URI label without input",
               p->op->name);
        int greedy = label_segment_greedy(p->op, m, p->in);
        ENSURE(restjson_label_ok(l->value, l->len, greedy), p->err, "ValidationError",
               "Invalid value for parameter %s: a URI label must not be empty, \".\" or \"..\" "
               "(nor have such a segment)",
               m->name);
        ENSURE(shape->type == MODEL_STRING || shape->type == MODEL_INTEGER ||
                   shape->type == MODEL_LONG,
               p->err, "InternalError", "%s: a %s URI label is not supported", m->name,
               model_type_name(shape->type));
        json_t *v = typed_text(p, shape, l->value, l->len, m->name, "iso8601", 0);
        if (v == NULL) {
            return -1;
        }
        GUARD(set_param(p, m, v));
    }
    return 0;
}

/* ---- query string ---------------------------------------------------------------- */

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

/* RFC 3986 pchar minus what separates or is read two ways here: letters,
 * digits, "-._~", and "!$'()*,;:@/?". '+' is a space to form decoders and a
 * plus to RFC 3986; '&' and '=' separate; the rest must be escaped. */
static int is_query_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$'()*,;:@/?", c) != NULL);
}

/* Percent-decodes s[0..len) into out (replacing its contents): 0, or -1
 * with err filled. The result is UTF-8 text without NUL. */
static int query_decode(struct inb *p, const char *s, size_t len, struct restjson_buf *out,
                        const char *what) {
    out->len = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;
            ENSURE(hi >= 0 && lo >= 0, p->err, "MalformedRequest",
                   "a malformed %%-escape in the query string's %s", what);
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else {
            ENSURE(c != '+', p->err, "MalformedRequest",
                   "a raw '+' in the query string's %s (send %%2B for '+', %%20 for a space)",
                   what);
            ENSURE(is_query_char(c), p->err, "MalformedRequest",
                   "the byte 0x%02x must be percent-encoded in the query string's %s", c, what);
        }
        ENSURE(c != '\0', p->err, "MalformedRequest", "a NUL byte in the query string's %s", what);
        if (restjson_buf_put(out, &c, 1) < 0) {
            return sp_fail(p->err, "InternalError", "out of memory");
        }
    }
    if (out->data == NULL && restjson_buf_put(out, "", 0) < 0) {
        return sp_fail(p->err, "InternalError", "out of memory");
    }
    json_t *check = json_stringn(out->data, out->len); /* jansson checks UTF-8 */
    ENSURE(check != NULL, p->err, "MalformedRequest", "the query string's %s is not UTF-8 text",
           what);
    json_decref(check);
    return 0;
}

/* The template's fixed items ("x-id=Foo&flag"), each consumed once. */
#define MAX_FIXED 8

struct fixed {
    const char *items[MAX_FIXED];
    size_t lens[MAX_FIXED];
    int seen[MAX_FIXED];
    size_t n;
};

static int fixed_init(struct inb *p, struct fixed *f) {
    const char *fq = p->op->http.fixed_query;
    memset(f, 0, sizeof(*f));
    if (fq == NULL) {
        return 0;
    }
    size_t len = strlen(fq), off = 0;
    while (off < len) {
        const char *amp = memchr(fq + off, '&', len - off);
        size_t end = amp != NULL ? (size_t)(amp - fq) : len;
        if (end > off) {
            ENSURE(f->n < MAX_FIXED, p->err, "InternalError", "%s: too many fixed query items",
                   p->op->name);
            f->items[f->n] = fq + off;
            f->lens[f->n] = end - off;
            f->n++;
        }
        off = end + 1;
    }
    return 0;
}

/* Is the decoded item key[=value] a fixed item? (has_eq: the item had '='.)
 * A fixed "k" matches "k" and "k=" (route_find reads it so). */
static int fixed_match(struct fixed *f, const struct restjson_buf *k, const struct restjson_buf *v,
                       int has_eq, size_t *which) {
    for (size_t i = 0; i < f->n; i++) {
        const char *eq = memchr(f->items[i], '=', f->lens[i]);
        size_t klen = eq != NULL ? (size_t)(eq - f->items[i]) : f->lens[i];
        const char *fv = eq != NULL ? eq + 1 : "";
        size_t vlen = eq != NULL ? f->lens[i] - klen - 1 : 0;
        if (k->len == klen && memcmp(k->data, f->items[i], klen) == 0 && v->len == vlen &&
            memcmp(v->data, fv, vlen) == 0 && (has_eq || eq == NULL)) {
            *which = i;
            return 1;
        }
    }
    return 0;
}

static const struct model_member *query_member_by_key(const struct model_shape *in, const char *key,
                                                      size_t len) {
    for (uint16_t i = 0; in != NULL && i < in->n_members; i++) {
        const struct model_member *m = &in->members[i];
        const char *w = wire_name(m);
        if (m->location == MODEL_LOC_QUERYSTRING && strlen(w) == len && memcmp(w, key, len) == 0) {
            return m;
        }
    }
    return NULL;
}

/* The input's querystring map, which takes the keys no member names. Two
 * would make a key's owner a guess (botocore merges them into one dict). */
static int query_map_member(struct inb *p, const struct model_member **out) {
    *out = NULL;
    for (uint16_t i = 0; p->in != NULL && i < p->in->n_members; i++) {
        const struct model_member *m = &p->in->members[i];
        if (m->location == MODEL_LOC_QUERYSTRING &&
            model_shape_at(p->svc, m->shape)->type == MODEL_MAP) {
            ENSURE(*out == NULL, p->err, "InternalError", "%s: two query string maps", p->op->name);
            *out = m;
        }
    }
    return 0;
}

/* Adds value to the list at obj[key] (created when absent). */
static int append_to(struct inb *p, json_t *obj, const char *key, json_t *value) {
    json_t *list = json_object_get(obj, key);
    if (value == NULL) {
        return -1;
    }
    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(obj, key, list) < 0) {
            json_decref(value);
            return sp_fail(p->err, "InternalError", "out of memory");
        }
    }
    if (json_array_append_new(list, value) < 0) {
        return sp_fail(p->err, "InternalError", "out of memory");
    }
    return 0;
}

/* key=value for the input's querystring map member. */
static int query_to_map(struct inb *p, const struct model_member *mm, const struct restjson_buf *k,
                        const struct restjson_buf *v) {
    const struct model_shape *shape = model_shape_at(p->svc, mm->shape);
    const struct model_shape *vshape = model_shape_at(p->svc, shape->members[1].shape);
    json_t *map = json_object_get(p->params, mm->name);
    if (map == NULL) {
        map = json_object();
        GUARD(set_param(p, mm, map));
    }
    json_t *key = json_stringn(k->data, k->len);
    ENSURE_REF(key, p->err);
    const char *ks = json_string_value(key);
    int rc;
    if (vshape->type == MODEL_LIST) {
        const struct model_shape *elem = model_shape_at(p->svc, vshape->members[0].shape);
        rc = append_to(p, map, ks, typed_text(p, elem, v->data, v->len, mm->name, "iso8601", 0));
    } else if (json_object_get(map, ks) != NULL) {
        rc = sp_fail(p->err, "ValidationError", "the query key %.*s is given more than once",
                     ECHO_LEN(k->len), k->data);
    } else {
        json_t *val = typed_text(p, vshape, v->data, v->len, mm->name, "iso8601", 0);
        rc = val == NULL ? -1 : json_object_set_new(map, ks, val) < 0 ? -1 : 0;
        if (val != NULL && rc < 0) {
            sp_fail(p->err, "InternalError", "out of memory");
        }
    }
    json_decref(key);
    return rc;
}

static int query_item(struct inb *p, struct fixed *f, const char *item, size_t len,
                      struct restjson_buf *k, struct restjson_buf *v) {
    const char *eq = memchr(item, '=', len);
    size_t klen = eq != NULL ? (size_t)(eq - item) : len;
    size_t which;
    ENSURE(len > 0, p->err, "MalformedRequest", "an empty item in the query string");
    GUARD(query_decode(p, item, klen, k, "key"));
    GUARD(query_decode(p, eq != NULL ? eq + 1 : item + len, eq != NULL ? len - klen - 1 : 0, v,
                       "value"));
    ENSURE(eq == NULL || memchr(eq + 1, '=', len - klen - 1) == NULL, p->err, "MalformedRequest",
           "a raw '=' in the value of query key %.*s", ECHO_LEN(k->len), k->data);
    if (fixed_match(f, k, v, eq != NULL, &which)) {
        ENSURE(!f->seen[which], p->err, "MalformedRequest",
               "the template's query item %.*s is given more than once", ECHO_LEN(f->lens[which]),
               f->items[which]);
        f->seen[which] = 1;
        return 0;
    }
    ENSURE(eq != NULL, p->err, "MalformedRequest", "the query item %.*s has no '='",
           ECHO_LEN(k->len), k->data);
    const struct model_member *m = query_member_by_key(p->in, k->data, k->len);
    if (m == NULL) {
        const struct model_member *mm;
        GUARD(query_map_member(p, &mm));
        ENSURE(mm != NULL, p->err, "ValidationError", "Unknown query key %.*s for %s",
               ECHO_LEN(k->len), k->data, p->op->name);
        return query_to_map(p, mm, k, v);
    }
    const struct model_shape *shape = model_shape_at(p->svc, m->shape);
    if (shape->type == MODEL_LIST) {
        const struct model_shape *elem = model_shape_at(p->svc, shape->members[0].shape);
        ENSURE(elem->type == MODEL_STRING || elem->type == MODEL_INTEGER ||
                   elem->type == MODEL_LONG,
               p->err, "InternalError", "%s: a query list of %s is not supported", m->name,
               model_type_name(elem->type));
        return append_to(p, p->params, m->name,
                         typed_text(p, elem, v->data, v->len, m->name, "iso8601", 0));
    }
    ENSURE(json_object_get(p->params, m->name) == NULL, p->err, "ValidationError",
           "the query key %.*s is given more than once", ECHO_LEN(k->len), k->data);
    json_t *val = typed_text(p, shape, v->data, v->len, m->name, "iso8601", 0);
    if (val == NULL) {
        return -1;
    }
    return set_param(p, m, val);
}

static int read_query(struct inb *p, const char *query, size_t len) {
    struct fixed f;
    struct restjson_buf k, v;
    int rc = 0;
    GUARD(fixed_init(p, &f));
    restjson_buf_init(&k);
    restjson_buf_init(&v);
    size_t off = 0;
    /* botocore writes "x-id=Foo&" when a template's fixed items are
     * followed by nothing but empty lists: one '&' at the end says nothing */
    if (len > 1 && query[len - 1] == '&' && query[len - 2] != '&') {
        len--;
    }
    while (len > 0 && off <= len && rc == 0) {
        const char *amp = memchr(query + off, '&', len - off);
        size_t end = amp != NULL ? (size_t)(amp - query) : len;
        rc = query_item(p, &f, query + off, end - off, &k, &v);
        off = end + 1;
    }
    restjson_buf_clear(&k);
    restjson_buf_clear(&v);
    GUARD(rc);
    for (size_t i = 0; i < f.n; i++) {
        /* route_find checked them; a caller that did not is refused here */
        ENSURE(f.seen[i], p->err, "InvalidAction", "the query lacks the template's item %.*s",
               ECHO_LEN(f.lens[i]), f.items[i]);
    }
    return 0;
}

/* ---- headers ----------------------------------------------------------------------- */

static int name_is(const struct restjson_field *f, const char *name, size_t len) {
    return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

/* The one field named name, NULL when absent; -1 when given twice. */
static int find_field(struct inb *p, const struct restjson_field *fields, size_t n,
                      const char *name, const struct restjson_field **out) {
    size_t len = strlen(name);
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (name_is(&fields[i], name, len)) {
            ENSURE(*out == NULL, p->err, "ValidationError", "the header %s is given twice", name);
            *out = &fields[i];
        }
    }
    return 0;
}

/* botocore: base64 of compact json.dumps text; the value is any JSON. */
static json_t *jsonvalue_header(struct inb *p, const struct model_member *m,
                                const struct restjson_field *f) {
    struct restjson_buf raw;
    json_error_t jerr;
    json_t *v = NULL;
    restjson_buf_init(&raw);
    int rc = restjson_buf_unbase64(&raw, f->value, f->value_len);
    if (rc != 0) {
        sp_fail(p->err, rc < 0 ? "InternalError" : "ValidationError",
                rc < 0 ? "out of memory" : "the header %s is not canonical base64", wire_name(m));
    } else {
        v = json_loadb(raw.data != NULL ? raw.data : "", raw.len,
                       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL) {
            sp_fail(p->err, "MalformedRequest", "the header %s is not base64 of JSON: %s",
                    wire_name(m), jerr.text);
        }
    }
    restjson_buf_clear(&raw);
    return v;
}

static int header_member(struct inb *p, const struct model_member *m,
                         const struct restjson_field *fields, size_t n) {
    const struct restjson_field *f;
    const struct model_shape *shape = model_shape_at(p->svc, m->shape);
    GUARD(find_field(p, fields, n, wire_name(m), &f));
    if (f == NULL) {
        return 0;
    }
    json_t *v;
    if (m->flags & MODEL_MEMBER_JSONVALUE) {
        v = jsonvalue_header(p, m, f);
    } else {
        ENSURE(shape->type == MODEL_STRING || shape->type == MODEL_INTEGER ||
                   shape->type == MODEL_LONG || shape->type == MODEL_TIMESTAMP,
               p->err, "InternalError", "%s: a %s header is not supported", m->name,
               model_type_name(shape->type));
        ENSURE(restjson_header_value_ok(f->value, f->value_len), p->err, "ValidationError",
               "the header %s must be printable ASCII without leading or trailing blanks",
               wire_name(m));
        v = typed_text(p, shape, f->value, f->value_len, m->name, "rfc822", 1);
    }
    if (v == NULL) {
        return -1;
    }
    return set_param(p, m, v);
}

/* Is the field one of the input's header members (which a prefix map must
 * not also take)? */
static int is_member_header(const struct model_shape *in, const struct restjson_field *f) {
    for (uint16_t i = 0; i < in->n_members; i++) {
        const struct model_member *m = &in->members[i];
        if (m->location == MODEL_LOC_HEADER && name_is(f, wire_name(m), strlen(wire_name(m)))) {
            return 1;
        }
    }
    return 0;
}

static int headers_map(struct inb *p, const struct model_member *m,
                       const struct restjson_field *fields, size_t n) {
    const char *prefix = wire_name(m);
    size_t plen = strlen(prefix);
    const struct model_shape *shape = model_shape_at(p->svc, m->shape);
    ENSURE(plen > 0 && shape->type == MODEL_MAP &&
               model_shape_at(p->svc, shape->members[1].shape)->type == MODEL_STRING,
           p->err, "InternalError", "%s: a headers member must be a prefixed map of strings",
           m->name);
    json_t *map = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct restjson_field *f = &fields[i];
        if (f->name_len < plen || strncasecmp(f->name, prefix, plen) != 0 ||
            is_member_header(p->in, f)) {
            continue;
        }
        ENSURE(f->name_len > plen, p->err, "ValidationError", "the header %s has no key", prefix);
        for (size_t j = 0; j < i; j++) {
            ENSURE(!name_is(&fields[j], f->name, f->name_len), p->err, "ValidationError",
                   "the header %.*s is given twice", ECHO_LEN(f->name_len), f->name);
        }
        ENSURE(restjson_header_value_ok(f->value, f->value_len) &&
                   restjson_header_name_ok(f->name, f->name_len),
               p->err, "ValidationError",
               "the header %.*s must be a token with a printable ASCII value",
               ECHO_LEN(f->name_len), f->name);
        json_t *key = json_stringn(f->name + plen, f->name_len - plen);
        json_t *val = json_stringn(f->value, f->value_len);
        if (key == NULL || val == NULL) {
            json_decref(key);
            json_decref(val);
            return sp_fail(p->err, "InternalError", "out of memory");
        }
        if (map == NULL) {
            map = json_object();
            if (set_param(p, m, map) < 0) {
                json_decref(key);
                json_decref(val);
                return -1;
            }
        }
        int rc = json_object_set_new(map, json_string_value(key), val);
        json_decref(key);
        ENSURE(rc == 0, p->err, "InternalError", "out of memory");
    }
    return 0;
}

static int read_headers(struct inb *p, const struct restjson_field *fields, size_t n) {
    for (uint16_t i = 0; p->in != NULL && i < p->in->n_members; i++) {
        const struct model_member *m = &p->in->members[i];
        if (m->location == MODEL_LOC_HEADER) {
            GUARD(header_member(p, m, fields, n));
        } else if (m->location == MODEL_LOC_HEADERS) {
            GUARD(headers_map(p, m, fields, n));
        }
    }
    return 0;
}

/* ---- body -------------------------------------------------------------------------- */

static json_t *body_value(struct inb *p, const struct model_shape *shape, json_t *v, int depth,
                          const char *where);

/* A body timestamp: epoch seconds in the default format (an SDK's number),
 * text in the others. */
static json_t *body_timestamp(struct inb *p, const struct model_shape *shape, json_t *v,
                              const char *where) {
    const char *format =
        shape->timestamp_format != NULL ? shape->timestamp_format : "unixTimestamp";
    long long secs;
    if (strcasecmp(format, "unixTimestamp") == 0) {
        if (!json_is_number(v) || restjson_time_epoch(v, &secs) < 0) {
            sp_fail(p->err, "ValidationError",
                    "Invalid value for parameter %s: a timestamp in the body is epoch seconds, a "
                    "number in years 1-9999",
                    where);
            return NULL;
        }
        json_t *out = json_integer(secs);
        if (out == NULL) {
            sp_fail(p->err, "InternalError", "out of memory");
        }
        return out;
    }
    if (!json_is_string(v)) {
        sp_fail(p->err, "ValidationError",
                "Invalid value for parameter %s: a timestamp in %s format is a string", where,
                format);
        return NULL;
    }
    json_t *out = timestamp_from_text(json_string_value(v), json_string_length(v), format, 0);
    if (out == NULL) {
        sp_fail(p->err, "ValidationError",
                "Invalid value for parameter %s: not a timestamp in %s format", where, format);
    }
    return out;
}

/* A structure's JSON object: keys are wire names; members become names. */
static json_t *body_structure(struct inb *p, const struct model_shape *shape, json_t *obj,
                              int depth, const char *where) {
    json_t *out = json_object();
    if (out == NULL) {
        sp_fail(p->err, "InternalError", "out of memory");
        return NULL;
    }
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        json_t *val = json_object_iter_value(it);
        const struct model_member *m = model_find_wire_member(shape, key, klen);
        if (m == NULL) {
            sp_fail(p->err, "ValidationError", "Unknown parameter %.*s in %s", ECHO_LEN(klen), key,
                    where);
            json_decref(out);
            return NULL;
        }
        if (json_is_null(val)) {
            continue; /* absent, as validate_params and the serializer read it */
        }
        json_t *conv = body_value(p, model_shape_at(p->svc, m->shape), val, depth + 1, m->name);
        if (conv == NULL || json_object_set_new(out, m->name, conv) < 0) {
            if (conv != NULL) {
                sp_fail(p->err, "InternalError", "out of memory");
            }
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *body_list(struct inb *p, const struct model_shape *shape, json_t *arr, int depth,
                         const char *where) {
    const struct model_shape *elem = model_shape_at(p->svc, shape->members[0].shape);
    json_t *out = json_array();
    if (out == NULL) {
        sp_fail(p->err, "InternalError", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *conv = body_value(p, elem, json_array_get(arr, i), depth + 1, where);
        if (conv == NULL || json_array_append_new(out, conv) < 0) {
            if (conv != NULL) {
                sp_fail(p->err, "InternalError", "out of memory");
            }
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *body_map(struct inb *p, const struct model_shape *shape, json_t *obj, int depth,
                        const char *where) {
    const struct model_shape *vshape = model_shape_at(p->svc, shape->members[1].shape);
    json_t *out = json_object();
    if (out == NULL) {
        sp_fail(p->err, "InternalError", "out of memory");
        return NULL;
    }
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        json_t *conv = body_value(p, vshape, json_object_iter_value(it), depth + 1, where);
        if (conv == NULL || json_object_setn_new(out, json_object_iter_key(it),
                                                 json_object_iter_key_len(it), conv) < 0) {
            if (conv != NULL) {
                sp_fail(p->err, "InternalError", "out of memory");
            }
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* The value of shape in v, converted where the wire form differs from the
 * parameters' (wire names, timestamps); a value of the wrong JSON type is
 * passed on as it is, for validate_params to report with its path. */
static json_t *body_value(struct inb *p, const struct model_shape *shape, json_t *v, int depth,
                          const char *where) {
    if (depth > RESTJSON_MAX_DEPTH) {
        sp_fail(p->err, "ValidationError", "Nesting deeper than %d levels at parameter %s",
                RESTJSON_MAX_DEPTH, where);
        return NULL;
    }
    if (shape->type == MODEL_STRUCTURE && json_is_object(v)) {
        return body_structure(p, shape, v, depth, where);
    }
    if (shape->type == MODEL_LIST && json_is_array(v)) {
        return body_list(p, shape, v, depth, where);
    }
    if (shape->type == MODEL_MAP && json_is_object(v)) {
        return body_map(p, shape, v, depth, where);
    }
    if (shape->type == MODEL_TIMESTAMP) {
        return body_timestamp(p, shape, v, where);
    }
    return json_incref(v);
}

static const char *location_name(uint8_t loc) {
    switch (loc) {
    case MODEL_LOC_URI:
        return "the URI";
    case MODEL_LOC_QUERYSTRING:
        return "the query string";
    case MODEL_LOC_HEADER:
    case MODEL_LOC_HEADERS:
        return "a header";
    default:
        return "the body";
    }
}

/* A top-level key of the body: a body member's wire name. A key that
 * names a member of another location (by name or wire name) is refused as
 * such, so the message says where that member goes. */
static int body_member(struct inb *p, const char *key, size_t klen, json_t *val) {
    const struct model_member *m = p->in != NULL ? model_find_wire_member(p->in, key, klen) : NULL;
    if (m != NULL && m->location == MODEL_LOC_BODY && !(m->flags & MODEL_MEMBER_PAYLOAD)) {
        if (json_is_null(val)) {
            return 0;
        }
        json_t *conv = body_value(p, model_shape_at(p->svc, m->shape), val, 1, m->name);
        if (conv == NULL) {
            return -1;
        }
        return set_param(p, m, conv);
    }
    if (m == NULL && p->in != NULL && strlen(key) == klen) {
        m = model_find_member(p->in, key);
    }
    ENSURE(m == NULL || m->location == MODEL_LOC_BODY, p->err, "ValidationError",
           "%s travels in %s, not in the body", m->name, location_name(m->location));
    return sp_fail(p->err, "ValidationError", "Unknown parameter %.*s in the body of %s",
                   ECHO_LEN(klen), key, p->op->name);
}

static const struct model_member *payload_of(const struct model_shape *in) {
    for (uint16_t i = 0; in != NULL && i < in->n_members; i++) {
        if (in->members[i].flags & MODEL_MEMBER_PAYLOAD) {
            return &in->members[i];
        }
    }
    return NULL;
}

static int read_body(struct inb *p, const char *body, size_t len) {
    json_error_t jerr;
    if (len == 0) {
        return 0;
    }
    /* Read through the parse's memory budget (api/membudget.h), when the
     * caller opened one: a body of tiny values must not cost 50x its size. */
    json_t *doc = membudget_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(doc != NULL, p->err, "MalformedRequest", "the body is not a JSON object: %s", jerr.text);
    int rc = 0;
    const struct model_member *payload = payload_of(p->in);
    if (!json_is_object(doc)) {
        rc = sp_fail(p->err, "MalformedRequest", "the body is not a JSON object");
    } else if (payload != NULL) {
        const struct model_shape *ps = model_shape_at(p->svc, payload->shape);
        if (ps->type != MODEL_STRUCTURE) {
            rc = sp_fail(p->err, "InternalError", "%s: a %s payload is not supported",
                         payload->name, model_type_name(ps->type));
        } else if (json_object_size(doc) > 0) {
            /* "{}" is botocore's body for an absent payload and an empty one */
            json_t *conv = body_structure(p, ps, doc, 1, payload->name);
            rc = conv == NULL ? -1 : set_param(p, payload, conv);
        }
    } else {
        for (void *it = json_object_iter(doc); it != NULL && rc == 0;
             it = json_object_iter_next(doc, it)) {
            rc = body_member(p, json_object_iter_key(it), json_object_iter_key_len(it),
                             json_object_iter_value(it));
        }
    }
    json_decref(doc);
    return rc;
}

/* ---- the request ----------------------------------------------------------------------- */

int restjson_inbound_parse(const struct model_service *svc, const struct route_match *match,
                           const char *query, size_t query_len, const struct restjson_field *fields,
                           size_t n_fields, const char *body, size_t body_len, json_t **params,
                           struct sp_err *err) {
    struct inb p;
    *params = NULL;
    ENSURE(match != NULL && match->op != NULL, err, "InternalError",
           "restjson_inbound_parse: no operation");
    p.svc = svc;
    p.op = match->op;
    p.in = model_shape_at(svc, match->op->input);
    p.err = err;
    p.params = json_object();
    ENSURE_REF(p.params, err);
    if (read_labels(&p, match) < 0 || read_query(&p, query, query_len) < 0 ||
        read_headers(&p, fields, n_fields) < 0 || read_body(&p, body, body_len) < 0) {
        json_decref(p.params);
        return -1;
    }
    *params = p.params;
    return 0;
}
