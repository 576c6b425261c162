/* validate.c - JSON parameters vs the SES model, every problem with its path.
 *
 * The walk follows the model, not the JSON, so its depth is the model's
 * (bounded by VALIDATE_MAX_DEPTH for a recursive model), and each problem is
 * formatted once into a bounded list: a body of 10,000 bad addresses costs a
 * count, not a message per address. */
#include "api/validate.h"
#include "api/base64.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/query.h"

/* Echoed values, keys and map keys are cut to this many bytes. */
#define ECHO_MAX 64
/* One problem's text at most (a long path or enum list is cut with "..."). */
#define PROBLEM_MAX 320
/* Longest path kept; deeper paths end in "...". */
#define PATH_CAP 400
/* The list of problems must leave room in sp_err for the widest
 * "N validation errors: " and "; and N more" (20-digit N). */
#define LIST_BUDGET (SP_ERR_MSG_LEN - 1 - 40 - 31)

/* One step of the path to the value being checked. Steps are recorded as
 * pointers into the model and the params, and only rendered as text when a
 * problem is reported: a valid call never formats a path. */
enum step_kind { STEP_MEMBER, STEP_INDEX, STEP_MAP_KEY };

struct step {
    enum step_kind kind;
    const char *name; /* member name or map key (borrowed), not NUL-terminated */
    size_t len;       /* of name; or the list index */
};

/* Nesting stops at VALIDATE_MAX_DEPTH containers, so steps never run out;
 * the bound is checked anyway. */
#define MAX_STEPS (VALIDATE_MAX_DEPTH + 4)

struct vctx {
    const struct model_service *svc;
    unsigned long n_problems; /* found */
    unsigned long n_listed;   /* written into list */
    int full;                 /* a problem did not fit: list no more, keep order */
    size_t n_steps;
    size_t lost_steps; /* pushed past MAX_STEPS: the rendered path ends in "..." */
    size_t llen;
    struct step steps[MAX_STEPS];
    char path[PATH_CAP];
    char list[SP_ERR_MSG_LEN];
};

struct path_mark {
    size_t n_steps, lost_steps;
};

/* ---- UTF-8-safe text ----------------------------------------------------- */

/* Largest n <= max at which s (valid UTF-8, len > max) can be cut without
 * splitting a character: the JSON writer refuses invalid UTF-8. */
static size_t utf8_cut(const char *s, size_t max) {
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}

/* Copies s into out (cap >= ECHO_MAX + 4), cut to ECHO_MAX bytes with "...".
 * Stops at an embedded NUL (JSON_ALLOW_NUL input) so out stays a C string. */
static const char *echo_text(const char *s, size_t len, char *out, size_t cap) {
    const char *nul = memchr(s, '\0', len);
    if (nul != NULL) {
        len = (size_t)(nul - s);
    }
    if (len > ECHO_MAX) {
        size_t n = utf8_cut(s, ECHO_MAX);
        snprintf(out, cap, "%.*s...", (int)n, s);
    } else {
        snprintf(out, cap, "%.*s", (int)len, s);
    }
    return out;
}

/* The value as a message shows it: never more than ECHO_MAX bytes of it. */
static const char *echo_value(const json_t *v, char *out, size_t cap) {
    switch (json_typeof(v)) {
    case JSON_STRING:
        return echo_text(json_string_value(v), json_string_length(v), out, cap);
    case JSON_INTEGER:
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return out;
    case JSON_REAL:
        if (query_format_double(json_real_value(v), out, cap) < 0) {
            snprintf(out, cap, "%g", json_real_value(v));
        }
        return out;
    case JSON_OBJECT:
        return "{...}";
    case JSON_ARRAY:
        return "[...]";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* What JSON a model type takes, for "valid types: ...". */
static const char *wanted_types(enum model_type t) {
    switch (t) {
    case MODEL_STRUCTURE:
    case MODEL_MAP:
        return "object";
    case MODEL_LIST:
        return "array";
    case MODEL_STRING:
        return "string";
    case MODEL_INTEGER:
    case MODEL_LONG:
        return "integer";
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        return "number";
    case MODEL_BOOLEAN:
        return "boolean";
    case MODEL_TIMESTAMP:
        return "string (ISO 8601), number (epoch seconds)";
    case MODEL_BLOB:
        return "string (base64)";
    }
    return "?";
}

/* ---- path ---------------------------------------------------------------- */

static struct path_mark path_mark(const struct vctx *v) {
    struct path_mark m = {v->n_steps, v->lost_steps};
    return m;
}

static void path_restore(struct vctx *v, struct path_mark m) {
    v->n_steps = m.n_steps;
    v->lost_steps = m.lost_steps;
}

static void path_push(struct vctx *v, enum step_kind kind, const char *name, size_t len) {
    if (v->n_steps == MAX_STEPS) {
        v->lost_steps++;
        return;
    }
    v->steps[v->n_steps].kind = kind;
    v->steps[v->n_steps].name = name;
    v->steps[v->n_steps].len = len;
    v->n_steps++;
}

static void path_member(struct vctx *v, const char *name, size_t len) {
    path_push(v, STEP_MEMBER, name, len);
}

static void path_index(struct vctx *v, size_t i) { path_push(v, STEP_INDEX, NULL, i); }

static void path_map_key(struct vctx *v, const char *key, size_t len) {
    path_push(v, STEP_MAP_KEY, key, len);
}

/* Appends b to the path being rendered; once PATH_CAP would be passed the
 * path ends in "..." and *cut stops further appends. */
static void render_append(struct vctx *v, size_t *n, int *cut, const char *b, size_t blen) {
    if (*cut) {
        return;
    }
    if (*n + blen + 4 > sizeof(v->path)) {
        memcpy(v->path + *n, "...", 4);
        *n += 3;
        *cut = 1;
        return;
    }
    memcpy(v->path + *n, b, blen);
    *n += blen;
    v->path[*n] = '\0';
}

/* The path as messages name it: `Destination.ToAddresses[2]`,
 * `Attributes.somekey`, `Attributes (key: somekey)` (botocore's names). */
static const char *path_str(struct vctx *v) {
    size_t n = 0;
    int cut = 0;
    v->path[0] = '\0';
    if (v->full) {
        return v->path; /* the problem will only be counted */
    }
    for (size_t i = 0; i < v->n_steps; i++) {
        const struct step *st = &v->steps[i];
        char text[ECHO_MAX + 4];
        if (st->kind == STEP_INDEX) {
            int k = snprintf(text, sizeof(text), "[%zu]", st->len);
            render_append(v, &n, &cut, text, (size_t)k);
            continue;
        }
        echo_text(st->name, st->len, text, sizeof(text));
        if (st->kind == STEP_MAP_KEY) {
            render_append(v, &n, &cut, " (key: ", 7);
            render_append(v, &n, &cut, text, strlen(text));
            render_append(v, &n, &cut, ")", 1);
            continue;
        }
        if (n > 0) {
            render_append(v, &n, &cut, ".", 1);
        }
        render_append(v, &n, &cut, text, strlen(text));
    }
    if (v->lost_steps > 0) {
        render_append(v, &n, &cut, "...", 3);
    }
    return v->path;
}

/* ---- problems -------------------------------------------------------------- */

static SP_PRINTF(2, 3) void report(struct vctx *v, const char *fmt, ...) {
    char buf[PROBLEM_MAX];
    va_list ap;
    v->n_problems++;
    if (v->full) {
        return;
    }
    va_start(ap, fmt);
    int r = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    size_t len = r < 0 ? 0 : (size_t)r;
    if (len >= sizeof(buf)) {
        len = utf8_cut(buf, sizeof(buf) - 4);
        memcpy(buf + len, "...", 4);
        len += 3;
    }
    size_t sep = v->n_listed > 0 ? 2 : 0;
    if (v->llen + sep + len > LIST_BUDGET) {
        v->full = 1; /* later, shorter problems are only counted, to keep order */
        return;
    }
    memcpy(v->list + v->llen, "; ", sep);
    memcpy(v->list + v->llen + sep, buf, len);
    v->llen += sep + len;
    v->list[v->llen] = '\0';
    v->n_listed++;
}

static void report_type(struct vctx *v, const struct model_shape *shape, const json_t *val) {
    char echo[ECHO_MAX + 4 + QUERY_SCALAR_MAX];
    report(v, "Invalid type for parameter %s, value: %s, type: %s, valid types: %s", path_str(v),
           echo_value(val, echo, sizeof(echo)), json_type_name(val), wanted_types(shape->type));
}

/* Appends ", name" (or "name" first) to out; once cap would be passed the
 * list ends in "..." and *len is set past cap so later names are dropped. */
static void join_name(char *out, size_t cap, size_t *len, const char *name) {
    size_t nl = strlen(name), sep = *len > 0 ? 2 : 0;
    if (*len >= cap) {
        return;
    }
    if (*len + sep + nl + 4 > cap) {
        memcpy(out + *len, "...", 4);
        *len = cap;
        return;
    }
    memcpy(out + *len, ", ", sep);
    memcpy(out + *len + sep, name, nl);
    *len += sep + nl;
    out[*len] = '\0';
}

static const char *join_enums(const struct model_shape *shape, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (uint16_t i = 0; i < shape->n_enums; i++) {
        join_name(out, cap, &len, shape->enums[i]);
    }
    return out;
}

static const char *join_members(const struct model_shape *shape, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (uint16_t i = 0; i < shape->n_members; i++) {
        join_name(out, cap, &len, shape->members[i].name);
    }
    return out;
}

/* ---- checks ---------------------------------------------------------------- */

static void check_length(struct vctx *v, const struct model_shape *shape, size_t n) {
    if (shape->has_min && (int64_t)n < shape->min) {
        report(v, "Invalid length for parameter %s, length: %zu, valid min length: %lld",
               path_str(v), n, (long long)shape->min);
    } else if (shape->has_max && n > (uint64_t)shape->max) {
        report(v, "Invalid length for parameter %s, length: %zu, valid max length: %lld",
               path_str(v), n, (long long)shape->max);
    }
}

/* Characters as Python's len(str) counts them: code points, i.e. bytes
 * that are not UTF-8 continuation bytes (jansson guarantees valid UTF-8). */
static size_t utf8_length(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

static void check_string(struct vctx *v, const struct model_shape *shape, const char *s,
                         size_t len) {
    if (shape->has_min || shape->has_max) {
        check_length(v, shape, utf8_length(s, len));
    }
    if (shape->enums == NULL) {
        return;
    }
    for (uint16_t i = 0; i < shape->n_enums; i++) {
        if (strlen(shape->enums[i]) == len && memcmp(shape->enums[i], s, len) == 0) {
            return;
        }
    }
    char echo[ECHO_MAX + 4], names[200];
    report(v, "Invalid value for parameter %s, value: %s, valid values: %s", path_str(v),
           echo_text(s, len, echo, sizeof(echo)), join_enums(shape, names, sizeof(names)));
}

/* Canonical base64 (RFC 4648 section 4, padded, no line breaks, zero spare
 * bits) is exactly what Python's base64.b64encode prints, so passing the
 * text through gives botocore's bytes. Sets *decoded to the byte count. */
static int is_canonical_base64(const char *s, size_t len, size_t *decoded) {
    if (len % 4 != 0) {
        return 0;
    }
    size_t pad = 0;
    if (len > 0 && s[len - 1] == '=') {
        pad = s[len - 2] == '=' ? 2 : 1;
    }
    for (size_t i = 0; i < len - pad; i++) {
        if (base64_digit((unsigned char)s[i]) < 0) {
            return 0;
        }
    }
    if (pad > 0) {
        int last = base64_digit((unsigned char)s[len - pad - 1]);
        if ((pad == 2 && (last & 0x0F) != 0) || (pad == 1 && (last & 0x03) != 0)) {
            return 0;
        }
    }
    *decoded = len / 4 * 3 - pad;
    return 1;
}

static void check_blob(struct vctx *v, const struct model_shape *shape, const json_t *val) {
    size_t n = 0;
    if (!is_canonical_base64(json_string_value(val), json_string_length(val), &n)) {
        char echo[ECHO_MAX + 4];
        report(v, "Invalid base64 for parameter %s, value: %s, valid values: padded base64",
               path_str(v), echo_value(val, echo, sizeof(echo)));
        return;
    }
    check_length(v, shape, n);
}

static void check_integer(struct vctx *v, const struct model_shape *shape, json_int_t n) {
    if (shape->has_min && n < shape->min) {
        report(v,
               "Invalid value for parameter %s, value: %" JSON_INTEGER_FORMAT
               ", valid min value: %lld",
               path_str(v), n, (long long)shape->min);
    } else if (shape->has_max && n > shape->max) {
        report(v,
               "Invalid value for parameter %s, value: %" JSON_INTEGER_FORMAT
               ", valid max value: %lld",
               path_str(v), n, (long long)shape->max);
    }
}

static void check_number(struct vctx *v, const struct model_shape *shape, const json_t *val) {
    double d = json_number_value(val);
    char echo[QUERY_SCALAR_MAX + 8];
    if (shape->has_min && d < (double)shape->min) {
        report(v, "Invalid value for parameter %s, value: %s, valid min value: %lld", path_str(v),
               echo_value(val, echo, sizeof(echo)), (long long)shape->min);
    } else if (shape->has_max && d > (double)shape->max) {
        report(v, "Invalid value for parameter %s, value: %s, valid max value: %lld", path_str(v),
               echo_value(val, echo, sizeof(echo)), (long long)shape->max);
    }
}

static void check_timestamp(struct vctx *v, const struct model_shape *shape, const json_t *val) {
    char out[QUERY_SCALAR_MAX], echo[ECHO_MAX + 4 + QUERY_SCALAR_MAX];
    size_t n;
    if (query_format_timestamp(val, shape->timestamp_format, out, sizeof(out), &n, NULL) < 0) {
        report(v,
               "Invalid timestamp for parameter %s, value: %s, valid values: "
               "YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|+HH:MM]] or epoch seconds in years 1-9999",
               path_str(v), echo_value(val, echo, sizeof(echo)));
    }
}

static void check_value(struct vctx *v, const struct model_shape *shape, const json_t *val,
                        int depth);

static void check_structure(struct vctx *v, const struct model_shape *shape, const json_t *obj,
                            int depth) {
    struct path_mark mark = path_mark(v);
    /* botocore's order: missing members, unknown members, then each value. */
    for (uint16_t i = 0; i < shape->n_members; i++) {
        const struct model_member *m = &shape->members[i];
        const json_t *val = m->required ? json_object_get(obj, m->name) : NULL;
        if (m->required && (val == NULL || json_is_null(val))) {
            path_member(v, m->name, strlen(m->name));
            report(v, "Missing required parameter %s", path_str(v));
            path_restore(v, mark);
        }
    }
    /* jansson's iterator takes a non-const object but never changes it. */
    json_t *o = (json_t *)(uintptr_t)obj;
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        /* A key with an embedded NUL must not match a member by its prefix. */
        if (strlen(key) == klen && model_find_member(shape, key) != NULL) {
            continue;
        }
        char names[200];
        path_member(v, key, klen);
        report(v, "Unknown parameter %s, must be one of: %s", path_str(v),
               join_members(shape, names, sizeof(names)));
        path_restore(v, mark);
    }
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        const json_t *val = json_object_iter_value(it);
        const struct model_member *m = model_find_member(shape, key);
        if (m == NULL || strlen(key) != json_object_iter_key_len(it) || json_is_null(val)) {
            continue; /* unknown (reported) or null = absent */
        }
        path_member(v, key, strlen(key));
        check_value(v, model_shape_at(v->svc, m->shape), val, depth + 1);
        path_restore(v, mark);
    }
}

static void check_list(struct vctx *v, const struct model_shape *shape, const json_t *arr,
                       int depth) {
    const struct model_shape *elem = model_shape_at(v->svc, shape->members[0].shape);
    struct path_mark mark = path_mark(v);
    size_t n = json_array_size(arr);
    check_length(v, shape, n);
    for (size_t i = 0; i < n; i++) {
        path_index(v, i);
        check_value(v, elem, json_array_get(arr, i), depth + 1);
        path_restore(v, mark);
    }
}

static void check_map(struct vctx *v, const struct model_shape *shape, const json_t *obj,
                      int depth) {
    const struct model_shape *kshape = model_shape_at(v->svc, shape->members[0].shape);
    const struct model_shape *vshape = model_shape_at(v->svc, shape->members[1].shape);
    struct path_mark mark = path_mark(v);
    check_length(v, shape, json_object_size(obj));
    json_t *o = (json_t *)(uintptr_t)obj; /* see check_structure */
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (kshape->type == MODEL_STRING) {
            path_map_key(v, key, klen);
            check_string(v, kshape, key, klen);
            path_restore(v, mark);
        }
        path_member(v, key, klen);
        check_value(v, vshape, json_object_iter_value(it), depth + 1);
        path_restore(v, mark);
    }
}

/* Does val have the JSON type shape needs? (Content is checked later.) */
static int type_ok(const struct model_shape *shape, const json_t *val) {
    switch (shape->type) {
    case MODEL_STRUCTURE:
    case MODEL_MAP:
        return json_is_object(val);
    case MODEL_LIST:
        return json_is_array(val);
    case MODEL_STRING:
    case MODEL_BLOB:
        return json_is_string(val);
    case MODEL_INTEGER:
    case MODEL_LONG:
        /* Not reals (5.0) and not booleans, although Python's True is an int. */
        return json_is_integer(val);
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        return json_is_number(val);
    case MODEL_BOOLEAN:
        return json_is_boolean(val);
    case MODEL_TIMESTAMP:
        return json_is_string(val) || json_is_number(val);
    }
    return 0;
}

static void check_value(struct vctx *v, const struct model_shape *shape, const json_t *val,
                        int depth) {
    if (!type_ok(shape, val)) {
        report_type(v, shape, val);
        return;
    }
    /* Only containers nest; the reason goes first since the path may be cut. */
    if (depth > VALIDATE_MAX_DEPTH && (json_is_object(val) || json_is_array(val))) {
        report(v, "Nesting deeper than %d levels at parameter %s", VALIDATE_MAX_DEPTH, path_str(v));
        return;
    }
    switch (shape->type) {
    case MODEL_STRUCTURE:
        check_structure(v, shape, val, depth);
        break;
    case MODEL_LIST:
        check_list(v, shape, val, depth);
        break;
    case MODEL_MAP:
        check_map(v, shape, val, depth);
        break;
    case MODEL_STRING:
        check_string(v, shape, json_string_value(val), json_string_length(val));
        break;
    case MODEL_BLOB:
        check_blob(v, shape, val);
        break;
    case MODEL_INTEGER:
    case MODEL_LONG:
        check_integer(v, shape, json_integer_value(val));
        break;
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        check_number(v, shape, val);
        break;
    case MODEL_TIMESTAMP:
        check_timestamp(v, shape, val);
        break;
    case MODEL_BOOLEAN:
        break;
    }
}

/* An operation without an input shape: every key is unknown. */
static void check_no_input(struct vctx *v, const json_t *obj) {
    json_t *o = (json_t *)(uintptr_t)obj; /* see check_structure */
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it)) {
        struct path_mark mark = path_mark(v);
        path_member(v, json_object_iter_key(it), json_object_iter_key_len(it));
        report(v, "Unknown parameter %s, the operation takes no parameters", path_str(v));
        path_restore(v, mark);
    }
}

int validate_params(const struct model_service *svc, const struct model_op *op,
                    const json_t *params, struct sp_err *err) {
    struct vctx v;
    v.svc = svc;
    v.n_problems = v.n_listed = 0;
    v.full = 0;
    v.n_steps = v.lost_steps = v.llen = 0;
    v.path[0] = v.list[0] = '\0';
    if (params == NULL || !json_is_object(params)) {
        report(&v, "Parameters must be a JSON object, not %s",
               params == NULL ? "nothing" : json_type_name(params));
    } else if (op->input < 0) {
        check_no_input(&v, params);
    } else {
        check_value(&v, model_shape_at(svc, op->input), params, 1);
    }
    if (v.n_problems == 0) {
        return 0;
    }
    if (v.n_listed < v.n_problems) {
        return sp_fail(err, "ValidationError", "%lu validation errors: %s; and %lu more",
                       v.n_problems, v.list, v.n_problems - v.n_listed);
    }
    return sp_fail(err, "ValidationError", "%lu validation error%s: %s", v.n_problems,
                   v.n_problems == 1 ? "" : "s", v.list);
}
