/* restjson_answer.c - SES v2's answer -> botocore-shaped JSON (see
 * restjson_answer.h).
 *
 * The oracle is botocore 1.29's parsers.py: ResponseParser.parse,
 * BaseRestParser, BaseJSONParser and RestJSONParser. Where botocore would
 * raise, the answer is refused ("BadGateway"); where it passes a value
 * through unchecked, so does this. */
#include "api/restjson_answer.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/restjson_buf.h"
#include "api/restjson_time.h"

struct ans {
    const struct model_service *svc;
    const struct restjson_field *fields;
    size_t n_fields;
    struct sp_err *err;
};

#define ECHO 64
#define ECHO_LEN(n) ((int)((n) > ECHO ? ECHO : (n)))

static const char *wire_name(const struct model_member *m) {
    return m->wire_name != NULL ? m->wire_name : m->name;
}

static int bad(struct ans *a, const char *what, const char *where) {
    return sp_fail(a->err, "BadGateway", "SES's answer: %s at %s", what, where);
}

static int oom(struct ans *a) { return sp_fail(a->err, "InternalError", "out of memory"); }

/* A NULL from a producer that did not say why is out of memory (err is
 * cleared on entry, so a reason given first is kept). */
static int failed(struct ans *a) {
    if (a->err != NULL && a->err->code == NULL) {
        oom(a);
    }
    return -1;
}

/* Sets obj[key] = v (stolen); -1 when v is NULL or memory runs out. */
static int put(struct ans *a, json_t *obj, const char *key, json_t *v) {
    if (v == NULL || json_object_set_new(obj, key, v) < 0) {
        return failed(a);
    }
    return 0;
}

/* ---- header fields ------------------------------------------------------- */

static int name_is(const struct restjson_field *f, const char *name, size_t len) {
    return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

/* The value of the field named name, its copies joined with ", " as
 * urllib3's HTTPHeaderDict gives them; 0 when absent, 1 when present (out
 * holds it), -1 on out of memory. */
static int field_value(struct ans *a, const char *name, struct restjson_buf *out) {
    size_t len = strlen(name);
    int found = 0;
    out->len = 0;
    for (size_t i = 0; i < a->n_fields; i++) {
        const struct restjson_field *f = &a->fields[i];
        if (!name_is(f, name, len)) {
            continue;
        }
        if ((found && restjson_buf_put(out, ", ", 2) < 0) ||
            restjson_buf_put(out, f->value, f->value_len) < 0) {
            return oom(a);
        }
        found = 1;
    }
    return found;
}

/* A field's value as a JSON string; NULL (err filled) when it is not UTF-8. */
static json_t *field_string(struct ans *a, const struct restjson_buf *v, const char *name) {
    json_t *s = json_stringn(v->data != NULL ? v->data : "", v->len);
    if (s == NULL) {
        bad(a, "a header that is not UTF-8 text", name);
    }
    return s;
}

/* ---- values --------------------------------------------------------------------- */

static json_t *parse_value(struct ans *a, const struct model_shape *shape, json_t *v, int depth,
                           const char *where);

/* Python's int(x) for x a str: optional blanks, an optional sign, decimal
 * digits (the '_' separators it also takes are refused). */
static int int_from_text(const char *s, size_t len, long long *out) {
    size_t i = 0, end = len;
    while (i < end && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) {
        i++;
    }
    while (end > i && (s[end - 1] == ' ' || (s[end - 1] >= '\t' && s[end - 1] <= '\r'))) {
        end--;
    }
    int neg = i < end && s[i] == '-';
    if (i < end && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    if (i == end) {
        return -1;
    }
    unsigned long long v = 0;
    for (; i < end; i++) {
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

/* RestJSONParser._handle_integer: int(value). */
static json_t *parse_integer(struct ans *a, json_t *v, const char *where) {
    long long n;
    if (json_is_integer(v)) {
        return json_incref(v);
    }
    if (json_is_boolean(v)) {
        return json_integer(json_is_true(v) ? 1 : 0);
    }
    if (json_is_real(v)) {
        double d = trunc(json_real_value(v));
        /* 2^63 is exact in a double; anything at or past it is out of range */
        if (!(d > -9223372036854775808.0 - 1.0 && d < 9223372036854775808.0)) {
            bad(a, "an integer outside 64 bits", where);
            return NULL;
        }
        return json_integer((json_int_t)d);
    }
    if (json_is_string(v) && int_from_text(json_string_value(v), json_string_length(v), &n) == 0) {
        return json_integer(n);
    }
    bad(a, "a value that is not an integer", where);
    return NULL;
}

/* parse_timestamp(value) -> the normal form text. */
static json_t *parse_timestamp(struct ans *a, json_t *v, const char *where) {
    char out[RESTJSON_TIME_MAX];
    struct iso8601_time t;
    int n = -1;
    if (json_is_boolean(v)) {
        /* a bool is an int to Python: fromtimestamp(True) */
        json_t *i = json_integer(json_is_true(v) ? 1 : 0);
        n = i != NULL ? restjson_time_normal(i, 0, out, sizeof(out)) : -1;
        json_decref(i);
    } else if (json_is_number(v)) {
        n = restjson_time_normal(v, 0, out, sizeof(out));
    } else if (json_is_string(v)) {
        /* float(), then dateutil: epoch text and ISO 8601 (query's reader),
         * or an HTTP date */
        if (restjson_time_http_date(json_string_value(v), json_string_length(v), &t) == 0) {
            n = restjson_time_format(t, out, sizeof(out));
        } else {
            n = restjson_time_normal(v, 0, out, sizeof(out));
        }
    }
    if (n < 0) {
        bad(a, "a value that is not a timestamp in years 1-9999", where);
        return NULL;
    }
    return json_stringn(out, (size_t)n);
}

/* _default_blob_parser: b64decode; the proxy keeps the canonical text. */
static json_t *parse_blob(struct ans *a, json_t *v, const char *where) {
    struct restjson_buf raw;
    restjson_buf_init(&raw);
    int rc = json_is_string(v)
                 ? restjson_buf_unbase64(&raw, json_string_value(v), json_string_length(v))
                 : 1;
    restjson_buf_clear(&raw);
    if (rc != 0) {
        if (rc < 0) {
            oom(a);
        } else {
            bad(a, "a blob that is not canonical base64", where);
        }
        return NULL;
    }
    return json_incref(v);
}

/* BaseJSONParser._handle_structure over the shape's members, each by its
 * wire name; into out (existing keys are overridden, as dict.update). */
static int parse_members(struct ans *a, const struct model_shape *shape, json_t *obj, json_t *out,
                         int depth) {
    for (uint16_t i = 0; i < shape->n_members; i++) {
        const struct model_member *m = &shape->members[i];
        json_t *raw = json_object_get(obj, wire_name(m));
        if (raw == NULL || json_is_null(raw)) {
            continue;
        }
        json_t *v = parse_value(a, model_shape_at(a->svc, m->shape), raw, depth + 1, m->name);
        if (v == NULL) {
            return -1;
        }
        GUARD(put(a, out, m->name, v));
    }
    return 0;
}

static json_t *parse_structure(struct ans *a, const struct model_shape *shape, json_t *v, int depth,
                               const char *where) {
    if (!json_is_object(v)) {
        bad(a, "a structure that is not a JSON object", where);
        return NULL;
    }
    json_t *out = json_object();
    if (out == NULL) {
        oom(a);
        return NULL;
    }
    if (parse_members(a, shape, v, out, depth) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* A null inside a list or map: botocore's handler gets None. The types
 * whose handler returns it unchanged keep it; the others would raise. */
static json_t *parse_null_item(struct ans *a, const struct model_shape *shape, const char *where) {
    switch (shape->type) {
    case MODEL_STRUCTURE:
    case MODEL_STRING:
    case MODEL_BOOLEAN:
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        return json_null();
    default:
        bad(a, "a null item", where);
        return NULL;
    }
}

static json_t *parse_list(struct ans *a, const struct model_shape *shape, json_t *v, int depth,
                          const char *where) {
    const struct model_shape *elem = model_shape_at(a->svc, shape->members[0].shape);
    if (!json_is_array(v)) {
        bad(a, "a list that is not a JSON array", where);
        return NULL;
    }
    json_t *out = json_array();
    if (out == NULL) {
        oom(a);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *item = json_array_get(v, i);
        json_t *p = json_is_null(item) ? parse_null_item(a, elem, where)
                                       : parse_value(a, elem, item, depth + 1, where);
        if (p == NULL || json_array_append_new(out, p) < 0) {
            if (p != NULL) {
                oom(a);
            }
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *parse_map(struct ans *a, const struct model_shape *shape, json_t *v, int depth,
                         const char *where) {
    const struct model_shape *vshape = model_shape_at(a->svc, shape->members[1].shape);
    if (!json_is_object(v)) {
        bad(a, "a map that is not a JSON object", where);
        return NULL;
    }
    json_t *out = json_object();
    if (out == NULL) {
        oom(a);
        return NULL;
    }
    for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
        json_t *item = json_object_iter_value(it);
        json_t *p = json_is_null(item) ? parse_null_item(a, vshape, where)
                                       : parse_value(a, vshape, item, depth + 1, where);
        if (p == NULL || json_object_setn_new(out, json_object_iter_key(it),
                                              json_object_iter_key_len(it), p) < 0) {
            if (p != NULL) {
                oom(a);
            }
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *parse_value(struct ans *a, const struct model_shape *shape, json_t *v, int depth,
                           const char *where) {
    json_t *out = NULL;
    if (depth > RESTJSON_MAX_DEPTH) {
        bad(a, "nesting too deep", where);
        return NULL;
    }
    switch (shape->type) {
    case MODEL_STRUCTURE:
        return parse_structure(a, shape, v, depth, where);
    case MODEL_LIST:
        return parse_list(a, shape, v, depth, where);
    case MODEL_MAP:
        return parse_map(a, shape, v, depth, where);
    case MODEL_INTEGER:
    case MODEL_LONG:
        out = parse_integer(a, v, where);
        break;
    case MODEL_TIMESTAMP:
        out = parse_timestamp(a, v, where);
        break;
    case MODEL_BLOB:
        return parse_blob(a, v, where);
    case MODEL_STRING:
    case MODEL_BOOLEAN:
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        /* botocore's _default_handle: the value as json.loads gave it */
        return json_incref(v);
    }
    if (out == NULL) {
        failed(a);
    }
    return out;
}

/* ---- located members ------------------------------------------------------------ */

/* _handle_string with jsonvalue: json.loads(b64decode(value)). */
static json_t *parse_jsonvalue(struct ans *a, const struct restjson_buf *v, const char *where) {
    struct restjson_buf raw;
    json_error_t jerr;
    json_t *out = NULL;
    restjson_buf_init(&raw);
    int rc = restjson_buf_unbase64(&raw, v->data != NULL ? v->data : "", v->len);
    if (rc < 0) {
        oom(a);
    } else if (rc > 0) {
        bad(a, "a jsonvalue header that is not canonical base64", where);
    } else {
        out = json_loadb(raw.data != NULL ? raw.data : "", raw.len,
                         JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (out == NULL) {
            bad(a, "a jsonvalue header that is not base64 of JSON", where);
        }
    }
    restjson_buf_clear(&raw);
    return out;
}

static json_t *header_value(struct ans *a, const struct model_member *m,
                            const struct restjson_buf *v) {
    const struct model_shape *shape = model_shape_at(a->svc, m->shape);
    json_t *s, *out;
    if (m->flags & MODEL_MEMBER_JSONVALUE) {
        return parse_jsonvalue(a, v, m->name);
    }
    switch (shape->type) {
    case MODEL_STRING:
        return field_string(a, v, m->name);
    case MODEL_INTEGER:
    case MODEL_LONG:
    case MODEL_TIMESTAMP:
        s = field_string(a, v, m->name);
        if (s == NULL) {
            return NULL;
        }
        out = shape->type == MODEL_TIMESTAMP ? parse_timestamp(a, s, m->name)
                                             : parse_integer(a, s, m->name);
        json_decref(s);
        return out;
    default:
        /* botocore 1.29 gives a boolean header as its raw text, later
         * releases as a bool; lists are split at ','. No SES model has
         * either: refuse rather than pick. */
        sp_fail(a->err, "InternalError", "%s: a %s header is not supported", m->name,
                model_type_name(shape->type));
        return NULL;
    }
}

/* _parse_header_map: every field under the prefix, keyed by the rest of
 * its name as sent (urllib3 keeps one key per name: copies are joined). */
static json_t *header_map(struct ans *a, const struct model_member *m) {
    const char *prefix = wire_name(m);
    size_t plen = strlen(prefix);
    struct restjson_buf v;
    json_t *out = json_object();
    int rc = out == NULL ? -1 : 0;
    restjson_buf_init(&v);
    for (size_t i = 0; i < a->n_fields && rc == 0; i++) {
        const struct restjson_field *f = &a->fields[i];
        int first = 1;
        for (size_t j = 0; j < i && first; j++) {
            first = !name_is(&a->fields[j], f->name, f->name_len);
        }
        if (!first || f->name_len < plen || strncasecmp(f->name, prefix, plen) != 0) {
            continue;
        }
        char *name = strndup(f->name, f->name_len);
        json_t *key = json_stringn(f->name + plen, f->name_len - plen);
        if (name == NULL) {
            rc = -1;
        } else if (key == NULL || memchr(f->name, '\0', f->name_len) != NULL) {
            rc = bad(a, "a header name that is not text", m->name);
        } else if ((rc = field_value(a, name, &v)) > 0) {
            rc = put(a, out, json_string_value(key), field_string(a, &v, m->name));
        }
        free(name);
        json_decref(key);
    }
    restjson_buf_clear(&v);
    if (rc < 0) {
        failed(a);
        json_decref(out);
        return NULL;
    }
    return out;
}

/* _parse_non_payload_attrs, in the shape's order. */
static int parse_located(struct ans *a, const struct model_shape *shape, int status, json_t *out) {
    struct restjson_buf v;
    restjson_buf_init(&v);
    int rc = 0;
    for (uint16_t i = 0; i < shape->n_members && rc == 0; i++) {
        const struct model_member *m = &shape->members[i];
        json_t *val = NULL;
        switch (m->location) {
        case MODEL_LOC_STATUS_CODE:
            val = json_integer(status);
            if (val == NULL) {
                rc = oom(a);
            }
            break;
        case MODEL_LOC_HEADERS:
            val = header_map(a, m);
            rc = val == NULL ? -1 : 0;
            break;
        case MODEL_LOC_HEADER:
            rc = field_value(a, wire_name(m), &v);
            if (rc > 0) {
                val = header_value(a, m, &v);
                rc = val == NULL ? -1 : 0;
            }
            break;
        default:
            break;
        }
        if (rc == 0 && val != NULL) {
            rc = put(a, out, m->name, val);
        }
    }
    restjson_buf_clear(&v);
    return rc;
}

/* ---- the body ------------------------------------------------------------------------ */

/* UTF-8 check of an error body, which is the message when it is not JSON
 * (botocore decodes it first and would raise). */
static int body_text_ok(const char *body, size_t len) {
    json_t *s = json_stringn(body, len);
    int ok = s != NULL;
    json_decref(s);
    return ok;
}

/* _parse_body_as_json for a success: {} when empty, else a JSON object. */
static int body_json(struct ans *a, const char *body, size_t len, json_t **doc) {
    json_error_t jerr;
    if (len == 0) {
        *doc = json_object();
        return *doc == NULL ? oom(a) : 0;
    }
    *doc = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (*doc == NULL) {
        return sp_fail(a->err, "BadGateway", "SES's answer is not JSON: %s", jerr.text);
    }
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return sp_fail(a->err, "BadGateway", "SES's answer is not a JSON object");
    }
    return 0;
}

static const struct model_member *payload_of(const struct model_shape *shape) {
    for (uint16_t i = 0; i < shape->n_members; i++) {
        if (shape->members[i].flags & MODEL_MEMBER_PAYLOAD) {
            return &shape->members[i];
        }
    }
    return NULL;
}

/* _populate_response_metadata. */
static int success_metadata(struct ans *a, json_t *meta) {
    struct restjson_buf v;
    restjson_buf_init(&v);
    int rc = field_value(a, "x-amzn-requestid", &v);
    if (rc > 0) {
        rc = put(a, meta, "RequestId", field_string(a, &v, "x-amzn-RequestId"));
    } else if (rc == 0 && (rc = field_value(a, "x-amz-request-id", &v)) > 0) {
        rc = put(a, meta, "RequestId", field_string(a, &v, "x-amz-request-id"));
        if (rc == 0) {
            rc = field_value(a, "x-amz-id-2", &v);
            rc = rc < 0 ? rc
                        : put(a, meta, "HostId",
                              rc > 0 ? field_string(a, &v, "x-amz-id-2") : json_string(""));
        }
    }
    restjson_buf_clear(&v);
    return rc < 0 ? -1 : 0;
}

static int parse_success(struct ans *a, const struct model_op *op, int status, const char *body,
                         size_t len, json_t *out) {
    const struct model_shape *shape = model_shape_at(a->svc, op->output);
    json_t *meta = json_object();
    if (meta == NULL || json_object_set_new(out, "ResponseMetadata", meta) < 0) {
        return oom(a);
    }
    GUARD(success_metadata(a, meta));
    if (shape == NULL) {
        return 0; /* botocore: _add_modeled_parse returns at once */
    }
    /* the body is read after the located members, as botocore does; JSON
     * that is not UTF-8 fails there like any other malformed body */
    GUARD(parse_located(a, shape, status, out));
    json_t *doc;
    GUARD(body_json(a, body, len, &doc));
    const struct model_member *payload = payload_of(shape);
    int rc;
    if (payload != NULL) {
        const struct model_shape *ps = model_shape_at(a->svc, payload->shape);
        ENSURE(ps->type == MODEL_STRUCTURE, a->err, "InternalError",
               "%s: a %s payload is not supported", payload->name, model_type_name(ps->type));
        json_t *v = parse_structure(a, ps, doc, 1, payload->name);
        rc = v == NULL ? -1 : put(a, out, payload->name, v);
    } else {
        rc = parse_members(a, shape, doc, out, 0);
    }
    json_decref(doc);
    return rc;
}

/* ---- errors -------------------------------------------------------------------------- */

static const char *reason_phrase(int status) {
    switch (status) {
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 506:
        return "Variant Also Negotiates";
    case 507:
        return "Insufficient Storage";
    case 508:
        return "Loop Detected";
    case 510:
        return "Not Extended";
    case 511:
        return "Network Authentication Required";
    default:
        return "";
    }
}

static int is_py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* _is_generic_error_response: 5xx whose body, stripped, is empty or starts
 * with "<html>". */
static int is_generic(int status, const char *body, size_t len) {
    size_t i = 0;
    if (status < 500) {
        return 0;
    }
    while (i < len && is_py_space(body[i])) {
        i++;
    }
    return i == len || (len - i >= 6 && memcmp(body + i, "<html>", 6) == 0);
}

/* Code as botocore takes it from the x-amzn-query-error field. */
static int query_error_code(struct ans *a, json_t **code) {
    struct restjson_buf v;
    restjson_buf_init(&v);
    int rc = field_value(a, "x-amzn-query-error", &v);
    *code = NULL;
    if (rc > 0) {
        /* query_error.split(';') must give exactly two parts, the first
         * non-empty */
        const char *semi = memchr(v.data, ';', v.len);
        if (semi != NULL && semi > v.data &&
            memchr(semi + 1, ';', v.len - (size_t)(semi - v.data) - 1) == NULL) {
            *code = json_stringn(v.data, (size_t)(semi - v.data));
            if (*code == NULL) {
                rc = bad(a, "a header that is not UTF-8 text", "x-amzn-query-error");
            }
        }
    }
    restjson_buf_clear(&v);
    return rc < 0 ? -1 : 0;
}

/* code.rsplit('#', 1)[1] when '#' is in it. */
static json_t *after_hash(json_t *code) {
    const char *s = json_string_value(code);
    size_t len = json_string_length(code);
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == '#') {
            json_t *out = json_stringn(s + i, len - i);
            json_decref(code);
            return out;
        }
    }
    return code;
}

/* Python's '#' in value for a JSON value that is not a string: membership
 * of the string "#" in a list, or of the key "#" in a dict. */
static int has_hash_item(const json_t *v) {
    if (json_is_object(v)) {
        return json_object_get(v, "#") != NULL;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        if (json_is_string(item) && strcmp(json_string_value(item), "#") == 0) {
            return 1;
        }
    }
    return 0;
}

/* The Code before RestJSONParser looks at it: x-amzn-query-error, else
 * "__type" (its part after the last '#'), else the status. *code may be a
 * value that is not a string, as botocore would carry it. */
static int base_code(struct ans *a, json_t *doc, int status, json_t **code) {
    char num[16];
    GUARD(query_error_code(a, code));
    if (*code != NULL) {
        return 0;
    }
    json_t *t = json_object_get(doc, "__type");
    if (t == NULL) {
        snprintf(num, sizeof(num), "%d", status);
        *code = json_string(num);
    } else if (json_is_string(t)) {
        *code = after_hash(json_incref(t));
    } else if (json_is_null(t)) {
        *code = json_string(""); /* code is None: Error.Code stays '' */
    } else if ((json_is_array(t) || json_is_object(t)) && !has_hash_item(t)) {
        *code = json_incref(t);
    } else {
        /* '#' in a number raises TypeError; rsplit on a list or dict that
         * has a "#" raises AttributeError */
        return bad(a, "a __type botocore cannot read", "the error");
    }
    ENSURE_REF(*code, a->err);
    return 0;
}

/* The Code: BaseJSONParser._do_error_parse, then RestJSONParser's
 * _inject_error_code (an x-amzn-ErrorType field before its first ':', else
 * the body's "code" or "Code"). doc is the body as botocore's dict. */
static int error_code(struct ans *a, json_t *doc, int status, json_t **code) {
    struct restjson_buf v;
    GUARD(base_code(a, doc, status, code));
    restjson_buf_init(&v);
    int rc = field_value(a, "x-amzn-errortype", &v);
    json_t *over = NULL;
    if (rc > 0) {
        json_t *h = field_string(a, &v, "x-amzn-ErrorType");
        const char *colon = memchr(v.data, ':', v.len);
        over = h == NULL ? NULL
                         : json_stringn(v.data, colon != NULL ? (size_t)(colon - v.data) : v.len);
        json_decref(h);
        rc = over == NULL ? failed(a) : 0;
    } else if (rc == 0) {
        over = json_object_get(doc, "code");
        if (over == NULL) {
            over = json_object_get(doc, "Code");
        }
        json_incref(over);
    }
    restjson_buf_clear(&v);
    if (over != NULL) {
        json_decref(*code);
        *code = over;
    }
    if (rc < 0 || !json_is_string(*code)) {
        json_decref(*code);
        *code = NULL;
        return rc < 0 ? -1 : bad(a, "an error code that is not a string", "the error");
    }
    return 0;
}

/* _parse_body_as_json for an error: {} when empty, the text as "message"
 * when it is not JSON. */
static int error_doc(struct ans *a, const char *body, size_t len, json_t **doc) {
    json_error_t jerr;
    *doc =
        len == 0 ? json_object() : json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (*doc == NULL && len > 0 && json_error_code(&jerr) == json_error_numeric_overflow) {
        return sp_fail(a->err, "BadGateway", "SES's error answer has a number out of range");
    }
    if (*doc == NULL && len > 0) {
        *doc = json_object();
        if (*doc != NULL && json_object_set_new(*doc, "message", json_stringn(body, len)) < 0) {
            json_decref(*doc);
            *doc = NULL;
        }
    }
    if (*doc == NULL) {
        return oom(a);
    }
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return sp_fail(a->err, "BadGateway", "SES's error answer is JSON but not an object");
    }
    return 0;
}

static int parse_error(struct ans *a, int status, const char *body, size_t len, json_t *out) {
    json_t *error = json_object(), *meta = json_object(), *doc = NULL, *code = NULL;
    struct restjson_buf v;
    restjson_buf_init(&v);
    if (error == NULL || meta == NULL || json_object_set_new(out, "Error", error) < 0 ||
        json_object_set_new(out, "ResponseMetadata", meta) < 0) {
        return oom(a);
    }
    if (is_generic(status, body, len)) {
        char num[16];
        snprintf(num, sizeof(num), "%d", status);
        GUARD(put(a, error, "Code", json_string(num)));
        return put(a, error, "Message", json_string(reason_phrase(status)));
    }
    ENSURE(body_text_ok(body, len), a->err, "BadGateway", "SES's error answer is not UTF-8");
    GUARD(error_doc(a, body, len, &doc));
    json_t *msg = json_object_get(doc, "message");
    if (msg == NULL) {
        msg = json_object_get(doc, "Message");
    }
    int rc = 0;
    if (msg != NULL && !json_is_string(msg)) {
        rc = bad(a, "an error message that is not a string", "the error");
    } else {
        rc = put(a, error, "Message", msg != NULL ? json_incref(msg) : json_string(""));
    }
    if (rc == 0 && (rc = error_code(a, doc, status, &code)) == 0) {
        rc = put(a, error, "Code", code);
    }
    if (rc == 0 && (rc = field_value(a, "x-amzn-requestid", &v)) > 0) {
        rc = put(a, meta, "RequestId", field_string(a, &v, "x-amzn-RequestId"));
    }
    restjson_buf_clear(&v);
    json_decref(doc);
    return rc < 0 ? -1 : 0;
}

int restjson_answer_parse(const struct model_service *svc, const struct model_op *op, int status,
                          const struct restjson_field *fields, size_t n_fields, const char *body,
                          size_t body_len, json_t **out, int *is_error, struct sp_err *err) {
    struct ans a = {svc, fields, n_fields, err};
    *out = NULL;
    *is_error = status >= 301;
    if (body == NULL) {
        body = "";
        body_len = 0;
    }
    if (err != NULL) {
        sp_err_clear(err);
    }
    json_t *doc = json_object();
    ENSURE_REF(doc, err);
    int rc = *is_error ? parse_error(&a, status, body, body_len, doc)
                       : parse_success(&a, op, status, body, body_len, doc);
    if (rc < 0) {
        json_decref(doc);
        return -1;
    }
    *out = doc;
    return 0;
}
