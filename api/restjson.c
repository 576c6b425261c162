/* restjson.c - JSON parameters -> an SES v2 HTTP request, as botocore builds
 * it (see restjson.h).
 *
 * The oracle is botocore 1.29's serialize.py (BaseRestSerializer,
 * RestJSONSerializer, JSONSerializer) and awsrequest.py
 * (prepare_request_dict, percent_encode_sequence). Where botocore's
 * behaviour is surprising, or where releases differ, the comment says so. */
#include "api/restjson.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/query.h"
#include "api/restjson_buf.h"
#include "api/restjson_time.h"

struct ser {
    const struct model_service *svc;
    struct sp_err *err;
    struct restjson_buf path, query, body;
    struct restjson_header *headers;
    size_t n_headers, cap_headers;
};

static int oom(struct ser *s) { return sp_fail(s->err, "InternalError", "out of memory"); }

static const char *wire_name(const struct model_member *m) {
    return m->wire_name != NULL ? m->wire_name : m->name;
}

/* jansson's iterator takes a non-const object but never changes it. */
static json_t *unconst(const json_t *v) { return (json_t *)(uintptr_t)v; }

static int wrong_type(struct ser *s, const char *where, const char *want) {
    return sp_fail(s->err, "ValidationError", "Invalid type for parameter %s, valid types: %s",
                   where, want);
}

/* ---- scalars as text ------------------------------------------------------ */

/* The text botocore's str() gives a scalar parameter in a URI, query or
 * header: strings as they are, integers in decimal, reals as repr. Returns
 * the length written to out (cap >= QUERY_SCALAR_MAX), or -1. Booleans are
 * the callers' (botocore writes them differently in each place). */
static int scalar_text(const json_t *v, const char **text, size_t *len, char *out, size_t cap) {
    int n;
    if (json_is_string(v)) {
        *text = json_string_value(v);
        *len = json_string_length(v);
        return 0;
    }
    if (json_is_integer(v)) {
        n = snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        n = query_format_double(json_real_value(v), out, cap);
    } else {
        return -1;
    }
    if (n < 0) {
        return -1;
    }
    *text = out;
    *len = (size_t)n;
    return 0;
}

/* A timestamp as botocore writes it in format (NULL = def). whole_seconds:
 * the header path, where botocore first cuts the value to
 * calendar.timegm(utctimetuple()), so even ISO 8601 has no fraction. */
static int timestamp_text(struct ser *s, const json_t *v, const char *format, const char *def,
                          int whole_seconds, const char *where, char *out, size_t *len) {
    json_t *secs = NULL;
    if (format == NULL) {
        format = def;
    }
    if (whole_seconds) {
        long long n;
        if (restjson_time_epoch(v, &n) < 0) {
            return wrong_type(s, where, "timestamp");
        }
        secs = json_integer(n);
        ENSURE_REF(secs, s->err);
        v = secs;
    }
    int rc = query_format_timestamp(v, format, out, QUERY_SCALAR_MAX, len, NULL);
    json_decref(secs);
    if (rc < 0) {
        return wrong_type(s, where, "timestamp");
    }
    return 0;
}

/* ---- path ------------------------------------------------------------------ */

/* "." and ".." are dot-segments (RFC 3986 section 5.2.4): an HTTP stack on
 * the way, or SES itself, may rewrite the path around them. */
static int is_dot_segment(const char *p, size_t len) {
    return (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.');
}

int restjson_label_ok(const char *p, size_t len, int greedy) {
    if (!greedy) {
        return len > 0 && !is_dot_segment(p, len);
    }
    /* a greedy label keeps its '/': every segment it makes must be usable */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '/') {
            if (i == start || is_dot_segment(p + start, i - start)) {
                return 0;
            }
            start = i + 1;
        }
    }
    return 1;
}

static int write_label(struct ser *s, const struct model_shape *in,
                       const struct model_uri_segment *seg, const json_t *params) {
    const struct model_member *m = &in->members[seg->member];
    const struct model_shape *shape = model_shape_at(s->svc, m->shape);
    const json_t *v = params != NULL ? json_object_get(params, m->name) : NULL;
    char buf[QUERY_SCALAR_MAX];
    const char *text;
    size_t len;
    ENSURE(v != NULL && !json_is_null(v), s->err, "ValidationError",
           "Missing required parameter %s (a URI label)", m->name);
    /* botocore 1.29 writes str(value) for every label (True, a datetime's
     * str()); later releases write "true" and ISO 8601. No SES model has
     * such a label; refuse rather than pick one. */
    ENSURE(shape->type == MODEL_STRING || shape->type == MODEL_INTEGER || shape->type == MODEL_LONG,
           s->err, "InternalError", "%s: a %s URI label is not supported", m->name,
           model_type_name(shape->type));
    if ((shape->type == MODEL_STRING && !json_is_string(v)) ||
        (shape->type != MODEL_STRING && !json_is_integer(v)) ||
        scalar_text(v, &text, &len, buf, sizeof(buf)) < 0) {
        return wrong_type(s, m->name, shape->type == MODEL_STRING ? "string" : "integer");
    }
    ENSURE(restjson_label_ok(text, len, seg->greedy), s->err, "ValidationError",
           "Invalid value for parameter %s: a URI label must not be empty, \".\" or \"..\" "
           "(nor have such a segment)",
           m->name);
    if (restjson_buf_percent(&s->path, text, len, seg->greedy) < 0) {
        return oom(s);
    }
    return 0;
}

/* botocore renders the template's path; a fixed query part follows it. */
static int write_path(struct ser *s, const struct model_op *op, const json_t *params) {
    const struct model_shape *in = model_shape_at(s->svc, op->input);
    const struct model_http *h = &op->http;
    for (size_t i = 0; i < h->n_segments; i++) {
        const struct model_uri_segment *seg = &h->segments[i];
        if (restjson_buf_put(&s->path, "/", 1) < 0) {
            return oom(s);
        }
        if (seg->member < 0) {
            if (restjson_buf_puts(&s->path, seg->text) < 0) {
                return oom(s);
            }
            continue;
        }
        ENSURE(in != NULL && (uint16_t)seg->member < in->n_members, s->err, "InternalError",
               "%s: a URI label without its member", op->name);
        GUARD(write_label(s, in, seg, params));
    }
    if (h->n_segments == 0 && restjson_buf_put(&s->path, "/", 1) < 0) {
        return oom(s);
    }
    if (h->fixed_query != NULL && restjson_buf_puts(&s->query, h->fixed_query) < 0) {
        return oom(s);
    }
    return 0;
}

/* ---- query string ------------------------------------------------------------ */

/* Is key (len bytes) already among the query's keys? Keys are compared as
 * written (percent-encoded), which is one-to-one. Fixed items count. */
static int query_has_key(const struct restjson_buf *q, const char *enc, size_t len) {
    size_t off = 0;
    while (off < q->len) {
        const char *amp = memchr(q->data + off, '&', q->len - off);
        size_t end = amp != NULL ? (size_t)(amp - q->data) : q->len;
        const char *eq = memchr(q->data + off, '=', end - off);
        size_t klen = (eq != NULL ? (size_t)(eq - q->data) : end) - off;
        if (klen == len && memcmp(q->data + off, enc, len) == 0) {
            return 1;
        }
        off = end + 1;
    }
    return 0;
}

/* Appends key=value (both raw text). */
static int query_pair(struct ser *s, const char *key, size_t klen, const char *value, size_t vlen) {
    if ((s->query.len > 0 && restjson_buf_put(&s->query, "&", 1) < 0) ||
        restjson_buf_percent(&s->query, key, klen, 0) < 0 ||
        restjson_buf_put(&s->query, "=", 1) < 0 ||
        restjson_buf_percent(&s->query, value, vlen, 0) < 0) {
        return oom(s);
    }
    return 0;
}

/* A key must appear once: the query is a dict in botocore. */
static int query_key_new(struct ser *s, const char *key, size_t klen) {
    struct restjson_buf enc;
    restjson_buf_init(&enc);
    if (restjson_buf_percent(&enc, key, klen, 0) < 0) {
        return oom(s);
    }
    int dup = query_has_key(&s->query, enc.data, enc.len);
    restjson_buf_clear(&enc);
    ENSURE(!dup, s->err, "ValidationError",
           "the query key %.*s is given twice (a query map key equal to another member's)",
           (int)(klen > 64 ? 64 : klen), key);
    return 0;
}

/* One list element, a map value or a list inside a map: percent_encode(str(x)).
 * Strings and integers only: botocore 1.29 writes str(True) "True" where
 * later releases write "true", and a timestamp's str() of whatever the
 * caller passed. */
static int query_list_item(struct ser *s, const char *key, size_t klen,
                           const struct model_shape *shape, const json_t *v, const char *where) {
    char buf[QUERY_SCALAR_MAX];
    const char *text;
    size_t len;
    ENSURE(shape->type == MODEL_STRING || shape->type == MODEL_INTEGER || shape->type == MODEL_LONG,
           s->err, "InternalError", "%s: a query list of %s is not supported", where,
           model_type_name(shape->type));
    if ((shape->type == MODEL_STRING) != json_is_string(v) ||
        scalar_text(v, &text, &len, buf, sizeof(buf)) < 0 ||
        (shape->type != MODEL_STRING && !json_is_integer(v))) {
        return wrong_type(s, where, model_type_name(shape->type));
    }
    return query_pair(s, key, klen, text, len);
}

static int query_list(struct ser *s, const char *key, size_t klen, const struct model_shape *shape,
                      const json_t *v, const char *where) {
    const struct model_shape *elem = model_shape_at(s->svc, shape->members[0].shape);
    if (!json_is_array(v)) {
        return wrong_type(s, where, "array");
    }
    GUARD(query_key_new(s, key, klen));
    /* An empty list writes nothing (percent_encode_sequence loops over it). */
    for (size_t i = 0; i < json_array_size(v); i++) {
        GUARD(query_list_item(s, key, klen, elem, json_array_get(v, i), where));
    }
    return 0;
}

/* botocore: query_string_kwargs.update(value): the map's keys become query
 * keys, its values strings or lists (percent_encode_sequence repeats a list's
 * key). */
static int query_map(struct ser *s, const struct model_shape *shape, const json_t *v,
                     const char *where) {
    const struct model_shape *vshape = model_shape_at(s->svc, shape->members[1].shape);
    if (!json_is_object(v)) {
        return wrong_type(s, where, "object");
    }
    for (void *it = json_object_iter(unconst(v)); it != NULL;
         it = json_object_iter_next(unconst(v), it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *val = json_object_iter_value(it);
        if (vshape->type == MODEL_LIST) {
            GUARD(query_list(s, key, klen, vshape, val, where));
        } else {
            GUARD(query_key_new(s, key, klen));
            GUARD(query_list_item(s, key, klen, vshape, val, where));
        }
    }
    return 0;
}

static int query_member(struct ser *s, const struct model_member *m, const json_t *v) {
    const struct model_shape *shape = model_shape_at(s->svc, m->shape);
    const char *key = wire_name(m);
    size_t klen = strlen(key);
    char buf[QUERY_SCALAR_MAX];
    const char *text;
    size_t len;
    switch (shape->type) {
    case MODEL_MAP:
        return query_map(s, shape, v, m->name);
    case MODEL_LIST:
        return query_list(s, key, klen, shape, v, m->name);
    case MODEL_BOOLEAN:
        if (!json_is_boolean(v)) {
            return wrong_type(s, m->name, "boolean");
        }
        text = json_is_true(v) ? "true" : "false";
        len = strlen(text);
        break;
    case MODEL_TIMESTAMP:
        GUARD(timestamp_text(s, v, shape->timestamp_format, "iso8601", 0, m->name, buf, &len));
        text = buf;
        break;
    case MODEL_STRING:
    case MODEL_INTEGER:
    case MODEL_LONG:
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        if ((shape->type == MODEL_STRING) != json_is_string(v) ||
            ((shape->type == MODEL_INTEGER || shape->type == MODEL_LONG) && !json_is_integer(v)) ||
            scalar_text(v, &text, &len, buf, sizeof(buf)) < 0) {
            return wrong_type(s, m->name, model_type_name(shape->type));
        }
        break;
    default:
        return sp_fail(s->err, "InternalError", "%s: a %s in the query string is not supported",
                       m->name, model_type_name(shape->type));
    }
    GUARD(query_key_new(s, key, klen));
    return query_pair(s, key, klen, text, len);
}

/* ---- headers -------------------------------------------------------------------- */

int restjson_header_name_ok(const char *name, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        /* RFC 9110 tchar */
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL))) {
            return 0;
        }
    }
    return len > 0;
}

int restjson_header_value_ok(const char *v, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7F) {
            return 0;
        }
    }
    return len == 0 || (v[0] != ' ' && v[0] != '\t' && v[len - 1] != ' ' && v[len - 1] != '\t');
}

static int add_header(struct ser *s, const char *name, size_t nlen, const char *value,
                      size_t vlen) {
    ENSURE(restjson_header_name_ok(name, nlen), s->err, "ValidationError",
           "the header name %.*s is not an HTTP token", (int)(nlen > 64 ? 64 : nlen), name);
    ENSURE(restjson_header_value_ok(value, vlen), s->err, "ValidationError",
           "the value of header %.*s must be printable ASCII without leading or trailing blanks",
           (int)(nlen > 64 ? 64 : nlen), name);
    for (size_t i = 0; i < s->n_headers; i++) {
        ENSURE(strlen(s->headers[i].name) != nlen || strncasecmp(s->headers[i].name, name, nlen),
               s->err, "ValidationError", "the header %.*s is given twice",
               (int)(nlen > 64 ? 64 : nlen), name);
    }
    if (s->n_headers == s->cap_headers) {
        size_t cap = s->cap_headers == 0 ? 4 : s->cap_headers * 2;
        struct restjson_header *h = realloc(s->headers, cap * sizeof(*h));
        if (h == NULL) {
            return oom(s);
        }
        s->headers = h;
        s->cap_headers = cap;
    }
    char *n = strndup(name, nlen);
    char *v = malloc(vlen + 1);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return oom(s);
    }
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    s->headers[s->n_headers].name = n;
    s->headers[s->n_headers].value = v;
    s->n_headers++;
    return 0;
}

/* botocore: base64 of json.dumps(value, separators=(',', ':')). */
static int header_jsonvalue(struct ser *s, const struct model_member *m, const json_t *v) {
    struct restjson_buf text, b64;
    restjson_buf_init(&text);
    restjson_buf_init(&b64);
    int rc = -1;
    if (restjson_buf_json_value(&text, v, 1, RESTJSON_MAX_DEPTH) < 0 ||
        restjson_buf_base64(&b64, text.data, text.len) < 0) {
        oom(s);
        goto cleanup;
    }
    rc = add_header(s, wire_name(m), strlen(wire_name(m)), b64.data, b64.len);
cleanup:
    restjson_buf_clear(&text);
    restjson_buf_clear(&b64);
    return rc;
}

static int header_member(struct ser *s, const struct model_member *m, const json_t *v) {
    const struct model_shape *shape = model_shape_at(s->svc, m->shape);
    char buf[QUERY_SCALAR_MAX];
    const char *text;
    size_t len;
    if (m->flags & MODEL_MEMBER_JSONVALUE) {
        return header_jsonvalue(s, m, v);
    }
    switch (shape->type) {
    case MODEL_STRING:
    case MODEL_INTEGER:
    case MODEL_LONG:
        if ((shape->type == MODEL_STRING) != json_is_string(v) ||
            (shape->type != MODEL_STRING && !json_is_integer(v)) ||
            scalar_text(v, &text, &len, buf, sizeof(buf)) < 0) {
            return wrong_type(s, m->name, model_type_name(shape->type));
        }
        break;
    case MODEL_TIMESTAMP:
        GUARD(timestamp_text(s, v, shape->timestamp_format, "rfc822", 1, m->name, buf, &len));
        text = buf;
        break;
    default:
        /* botocore 1.29 sends str(True) "True" and joins a list with ","
         * unquoted; later releases send "true" and quote list items with
         * '"' or ','. No SES model has either; refuse rather than pick. */
        return sp_fail(s->err, "InternalError", "%s: a %s header is not supported", m->name,
                       model_type_name(shape->type));
    }
    return add_header(s, wire_name(m), strlen(wire_name(m)), text, len);
}

/* botocore: one header per entry, named prefix + key, the value as given. */
static int headers_map(struct ser *s, const struct model_member *m, const json_t *v) {
    const struct model_shape *shape = model_shape_at(s->svc, m->shape);
    const struct model_shape *vshape = model_shape_at(s->svc, shape->members[1].shape);
    const char *prefix = wire_name(m);
    size_t plen = strlen(prefix);
    ENSURE(shape->type == MODEL_MAP && vshape->type == MODEL_STRING, s->err, "InternalError",
           "%s: a headers member must be a map of strings", m->name);
    if (!json_is_object(v)) {
        return wrong_type(s, m->name, "object");
    }
    for (void *it = json_object_iter(unconst(v)); it != NULL;
         it = json_object_iter_next(unconst(v), it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *val = json_object_iter_value(it);
        if (!json_is_string(val)) {
            return wrong_type(s, m->name, "string");
        }
        /* the prefix alone would come back as no entry at all */
        ENSURE(klen > 0, s->err, "ValidationError", "%s: an empty key", m->name);
        char *name = malloc(plen + klen + 1);
        if (name == NULL) {
            return oom(s);
        }
        memcpy(name, prefix, plen);
        memcpy(name + plen, key, klen);
        int rc = add_header(s, name, plen + klen, json_string_value(val), json_string_length(val));
        free(name);
        GUARD(rc);
    }
    return 0;
}

/* ---- body -------------------------------------------------------------------------- */

static int body_value(struct ser *s, const struct model_shape *shape, const json_t *v, int depth,
                      const char *where);

/* One structure's members (those that travel in the body: at the top
 * level, members without a location) as a JSON object, in v's order. */
static int body_structure(struct ser *s, const struct model_shape *shape, const json_t *v,
                          int depth, int top, const char *where) {
    int first = 1;
    if (!json_is_object(v)) {
        return wrong_type(s, where, "object");
    }
    if (restjson_buf_put(&s->body, "{", 1) < 0) {
        return oom(s);
    }
    for (void *it = json_object_iter(unconst(v)); it != NULL;
         it = json_object_iter_next(unconst(v), it)) {
        const char *key = json_object_iter_key(it);
        const json_t *val = json_object_iter_value(it);
        const struct model_member *m = model_find_member(shape, key);
        if (m == NULL || strlen(key) != json_object_iter_key_len(it)) {
            return sp_fail(s->err, "ValidationError", "Unknown parameter %s in %s", key, where);
        }
        if (json_is_null(val) || (top && m->location != MODEL_LOC_BODY)) {
            continue;
        }
        const char *name = wire_name(m);
        if ((!first && restjson_buf_put(&s->body, ", ", 2) < 0) ||
            restjson_buf_json_string(&s->body, name, strlen(name)) < 0 ||
            restjson_buf_put(&s->body, ": ", 2) < 0) {
            return oom(s);
        }
        first = 0;
        GUARD(body_value(s, model_shape_at(s->svc, m->shape), val, depth + 1, m->name));
    }
    if (restjson_buf_put(&s->body, "}", 1) < 0) {
        return oom(s);
    }
    return 0;
}

static int body_list(struct ser *s, const struct model_shape *shape, const json_t *v, int depth,
                     const char *where) {
    const struct model_shape *elem = model_shape_at(s->svc, shape->members[0].shape);
    if (!json_is_array(v)) {
        return wrong_type(s, where, "array");
    }
    if (restjson_buf_put(&s->body, "[", 1) < 0) {
        return oom(s);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (i > 0 && restjson_buf_put(&s->body, ", ", 2) < 0) {
            return oom(s);
        }
        GUARD(body_value(s, elem, json_array_get(v, i), depth + 1, where));
    }
    if (restjson_buf_put(&s->body, "]", 1) < 0) {
        return oom(s);
    }
    return 0;
}

static int body_map(struct ser *s, const struct model_shape *shape, const json_t *v, int depth,
                    const char *where) {
    const struct model_shape *vshape = model_shape_at(s->svc, shape->members[1].shape);
    int first = 1;
    if (!json_is_object(v)) {
        return wrong_type(s, where, "object");
    }
    if (restjson_buf_put(&s->body, "{", 1) < 0) {
        return oom(s);
    }
    for (void *it = json_object_iter(unconst(v)); it != NULL;
         it = json_object_iter_next(unconst(v), it)) {
        if ((!first && restjson_buf_put(&s->body, ", ", 2) < 0) ||
            restjson_buf_json_string(&s->body, json_object_iter_key(it),
                                     json_object_iter_key_len(it)) < 0 ||
            restjson_buf_put(&s->body, ": ", 2) < 0) {
            return oom(s);
        }
        first = 0;
        GUARD(body_value(s, vshape, json_object_iter_value(it), depth + 1, where));
    }
    if (restjson_buf_put(&s->body, "}", 1) < 0) {
        return oom(s);
    }
    return 0;
}

static int body_scalar(struct ser *s, const struct model_shape *shape, const json_t *v,
                       const char *where) {
    char buf[QUERY_SCALAR_MAX];
    size_t len;
    int rc;
    switch (shape->type) {
    case MODEL_STRING:
    case MODEL_BLOB: /* the base64 text the caller gave: botocore's b64encode of its bytes */
        if (!json_is_string(v)) {
            return wrong_type(s, where, "string");
        }
        rc = restjson_buf_json_string(&s->body, json_string_value(v), json_string_length(v));
        break;
    case MODEL_INTEGER:
    case MODEL_LONG:
        if (!json_is_integer(v)) {
            return wrong_type(s, where, "integer");
        }
        rc = restjson_buf_json_number(&s->body, v);
        break;
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        /* json.dumps keeps Python's type: 5 stays 5, 5.0 stays 5.0. */
        if (!json_is_number(v)) {
            return wrong_type(s, where, "number");
        }
        rc = restjson_buf_json_number(&s->body, v);
        break;
    case MODEL_BOOLEAN:
        if (!json_is_boolean(v)) {
            return wrong_type(s, where, "boolean");
        }
        rc = restjson_buf_puts(&s->body, json_is_true(v) ? "true" : "false");
        break;
    case MODEL_TIMESTAMP:
        /* JSONSerializer.TIMESTAMP_FORMAT: int(calendar.timegm(...)), a
         * number; the other formats are strings. */
        GUARD(timestamp_text(s, v, shape->timestamp_format, "unixTimestamp", 0, where, buf, &len));
        if (shape->timestamp_format == NULL ||
            strcasecmp(shape->timestamp_format, "unixTimestamp") == 0) {
            rc = restjson_buf_put(&s->body, buf, len);
        } else {
            rc = restjson_buf_json_string(&s->body, buf, len);
        }
        break;
    default:
        return sp_fail(s->err, "InternalError", "%s: unexpected type", where);
    }
    return rc < 0 ? oom(s) : 0;
}

static int body_value(struct ser *s, const struct model_shape *shape, const json_t *v, int depth,
                      const char *where) {
    ENSURE(depth <= RESTJSON_MAX_DEPTH, s->err, "ValidationError",
           "Nesting deeper than %d levels at parameter %s", RESTJSON_MAX_DEPTH, where);
    switch (shape->type) {
    case MODEL_STRUCTURE:
        return body_structure(s, shape, v, depth, 0, where);
    case MODEL_LIST:
        return body_list(s, shape, v, depth, where);
    case MODEL_MAP:
        return body_map(s, shape, v, depth, where);
    default:
        return body_scalar(s, shape, v, where);
    }
}

/* ---- the request --------------------------------------------------------------------- */

static const struct model_member *payload_member(const struct model_shape *in) {
    for (uint16_t i = 0; i < in->n_members; i++) {
        if (in->members[i].flags & MODEL_MEMBER_PAYLOAD) {
            return &in->members[i];
        }
    }
    return NULL;
}

/* botocore's _requires_empty_body: a member without a location. */
static int has_body_members(const struct model_shape *in) {
    for (uint16_t i = 0; i < in->n_members; i++) {
        if (in->members[i].location == MODEL_LOC_BODY) {
            return 1;
        }
    }
    return 0;
}

/* Partitions the params by location, in their order (botocore's
 * _partition_parameters), writing query and headers as it goes. */
static int write_located(struct ser *s, const struct model_shape *in, const json_t *params,
                         int *any_body) {
    *any_body = 0;
    for (void *it = json_object_iter(unconst(params)); it != NULL;
         it = json_object_iter_next(unconst(params), it)) {
        const char *key = json_object_iter_key(it);
        const json_t *v = json_object_iter_value(it);
        const struct model_member *m = model_find_member(in, key);
        if (m == NULL || strlen(key) != json_object_iter_key_len(it)) {
            return sp_fail(s->err, "ValidationError", "Unknown parameter %s", key);
        }
        if (json_is_null(v)) {
            continue; /* botocore: "Don't serialize any parameter with a None value." */
        }
        switch (m->location) {
        case MODEL_LOC_URI:
            break; /* rendered from the template */
        case MODEL_LOC_QUERYSTRING:
            GUARD(query_member(s, m, v));
            break;
        case MODEL_LOC_HEADER:
            GUARD(header_member(s, m, v));
            break;
        case MODEL_LOC_HEADERS:
            GUARD(headers_map(s, m, v));
            break;
        case MODEL_LOC_BODY:
            *any_body |= !(m->flags & MODEL_MEMBER_PAYLOAD);
            break;
        default:
            return sp_fail(s->err, "InternalError", "%s: location %d in a request", m->name,
                           m->location);
        }
    }
    return 0;
}

static int write_body(struct ser *s, const struct model_shape *in, const json_t *params,
                      int any_body) {
    const struct model_member *payload = payload_member(in);
    if (payload != NULL) {
        const struct model_shape *ps = model_shape_at(s->svc, payload->shape);
        const json_t *v = json_object_get(params, payload->name);
        /* botocore serializes only the payload and drops other body
         * members silently; a model with both would lose data. */
        ENSURE(!any_body, s->err, "InternalError",
               "%s: body members beside the payload are not supported", payload->name);
        ENSURE(ps->type == MODEL_STRUCTURE, s->err, "InternalError",
               "%s: a %s payload is not supported", payload->name, model_type_name(ps->type));
        if (v == NULL || json_is_null(v)) {
            return restjson_buf_puts(&s->body, "{}") < 0 ? oom(s) : 0;
        }
        return body_structure(s, ps, v, 1, 0, payload->name);
    }
    if (any_body) {
        return body_structure(s, in, params, 0, 1, "the parameters");
    }
    if (has_body_members(in)) {
        return restjson_buf_puts(&s->body, "{}") < 0 ? oom(s) : 0;
    }
    return 0;
}

static int has_content_type(const struct ser *s) {
    for (size_t i = 0; i < s->n_headers; i++) {
        if (strcasecmp(s->headers[i].name, "Content-Type") == 0) {
            return 1;
        }
    }
    return 0;
}

static int build(struct ser *s, const struct model_op *op, const json_t *params) {
    const struct model_shape *in = model_shape_at(s->svc, op->input);
    int any_body = 0;
    ENSURE(params == NULL || json_is_object(params), s->err, "ValidationError",
           "Parameters must be a JSON object");
    GUARD(write_path(s, op, params));
    if (in == NULL) {
        /* botocore: url_path = requestUri, nothing else; parameters of an
         * operation without input are refused, as validate_params does. */
        ENSURE(params == NULL || json_object_size(params) == 0, s->err, "ValidationError",
               "%s takes no parameters", op->name);
        return 0;
    }
    if (params != NULL) {
        GUARD(write_located(s, in, params, &any_body));
    }
    GUARD(write_body(s, in, params, any_body));
    if (s->body.len > 0 && !has_content_type(s)) {
        GUARD(add_header(s, "Content-Type", 12, "application/json", 16));
    }
    return 0;
}

static void ser_clear(struct ser *s) {
    restjson_buf_clear(&s->path);
    restjson_buf_clear(&s->query);
    restjson_buf_clear(&s->body);
    for (size_t i = 0; i < s->n_headers; i++) {
        free(s->headers[i].name);
        free(s->headers[i].value);
    }
    free(s->headers);
    s->headers = NULL;
    s->n_headers = s->cap_headers = 0;
}

int restjson_serialize(const struct model_service *svc, const struct model_op *op,
                       const json_t *params, struct restjson_request *out, struct sp_err *err) {
    struct ser s;
    size_t len;
    memset(out, 0, sizeof(*out));
    memset(&s, 0, sizeof(s));
    s.svc = svc;
    s.err = err;
    restjson_buf_init(&s.path);
    restjson_buf_init(&s.query);
    restjson_buf_init(&s.body);
    if (build(&s, op, params) < 0) {
        ser_clear(&s);
        return -1;
    }
    out->method = op->http.method;
    out->path = restjson_buf_steal(&s.path, &len);
    out->query = restjson_buf_steal(&s.query, &len);
    if (s.body.len > 0) {
        out->body = restjson_buf_steal(&s.body, &out->body_len);
    }
    out->headers = s.headers;
    out->n_headers = s.n_headers;
    s.headers = NULL;
    s.n_headers = 0;
    /* Stealing a non-empty buffer cannot fail; an empty one allocates. */
    int lost = out->path == NULL || out->query == NULL;
    ser_clear(&s);
    if (lost) {
        restjson_request_clear(out);
        return sp_fail(err, "InternalError", "out of memory");
    }
    return 0;
}

void restjson_request_clear(struct restjson_request *r) {
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}
