/* form_params.c - a Query form body into JSON parameters, strictly (see
 * form_params.h).
 *
 * Two passes. Each pair is decoded and its key walked down the input shape
 * token by token (`Destination.ToAddresses.member.2`), building a tree in
 * which a list or a map is, for now, an object keyed by the entry's index;
 * a leaf set twice is a repeated key. Then the tree is walked once more
 * with the model and every such object becomes an array (indexes exactly
 * 1..N) or a map (keys from the entries). */
#include "api/form_params.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/form.h"
#include "api/membudget.h"

static const char invalid[] = "ValidationError";

/* The name a member has on the wire (Query keys use locationName). */
static const char *wire(const struct model_member *m, const char *fallback) {
    return m->wire_name != NULL ? m->wire_name : fallback;
}

static int is_container(enum model_type t) {
    return t == MODEL_STRUCTURE || t == MODEL_LIST || t == MODEL_MAP;
}

/* Keys only the signer may write: the proxy signs, the client's are void. */
static int is_auth_key(const char *k) {
    static const char *const names[] = {"AWSAccessKeyId",   "Signature", "SignatureMethod",
                                        "SignatureVersion", "Timestamp", "Expires",
                                        "SecurityToken"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(k, names[i]) == 0) {
            return 1;
        }
    }
    return strncasecmp(k, "X-Amz-", 6) == 0 || strncasecmp(k, "Signature", 9) == 0;
}

/* "1", "2", ... "100000": no sign, no leading zero. 0 when it is not one. */
static size_t parse_index(const char *s, size_t len) {
    if (len == 0 || len > 6 || s[0] == '0') {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        n = n * 10 + (size_t)(s[i] - '0');
    }
    return n <= FORM_PARAMS_INDEX_MAX ? n : 0;
}

/* Plain decimal integer: -?(0|[1-9][0-9]*), within int64. */
static int parse_integer(const char *s, size_t len, json_int_t *out) {
    size_t i = s[0] == '-' ? 1 : 0;
    if (len == i || len - i > 19 || (s[i] == '0' && len - i > 1)) {
        return -1;
    }
    for (size_t k = i; k < len; k++) {
        if (s[k] < '0' || s[k] > '9') {
            return -1;
        }
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno != 0) {
        return -1;
    }
    *out = (json_int_t)v;
    return 0;
}

/* Plain decimal number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * finite. *is_int when it has neither a fraction nor an exponent. */
static int parse_number(const char *s, size_t len, double *out, int *is_int) {
    size_t i = s[0] == '-' ? 1 : 0;
    size_t d = i;
    while (d < len && s[d] >= '0' && s[d] <= '9') {
        d++;
    }
    if (d == i || (s[i] == '0' && d - i > 1)) {
        return -1;
    }
    *is_int = 1;
    if (d < len && s[d] == '.') {
        size_t f = ++d;
        while (d < len && s[d] >= '0' && s[d] <= '9') {
            d++;
        }
        if (d == f) {
            return -1;
        }
        *is_int = 0;
    }
    if (d < len && (s[d] == 'e' || s[d] == 'E')) {
        d++;
        if (d < len && (s[d] == '+' || s[d] == '-')) {
            d++;
        }
        size_t e = d;
        while (d < len && s[d] >= '0' && s[d] <= '9') {
            d++;
        }
        if (d == e) {
            return -1;
        }
        *is_int = 0;
    }
    if (d != len) {
        return -1;
    }
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE && (v > 1 || v < -1)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* The value of a scalar member, typed. */
static json_t *scalar(const struct model_shape *shape, const char *key, const char *v, size_t len,
                      struct sp_err *err) {
    json_t *out = NULL;
    switch (shape->type) {
    case MODEL_STRING:
    case MODEL_BLOB:
    case MODEL_TIMESTAMP:
        out = json_stringn(v, len);
        if (out == NULL) {
            sp_fail(err, invalid, "%.200s: the value is not UTF-8", key);
        }
        return out;
    case MODEL_INTEGER:
    case MODEL_LONG: {
        json_int_t n = 0;
        if (parse_integer(v, len, &n) < 0) {
            sp_fail(err, invalid, "%.200s: not a plain decimal integer", key);
            return NULL;
        }
        out = json_integer(n);
        break;
    }
    case MODEL_DOUBLE:
    case MODEL_FLOAT: {
        double d = 0;
        int is_int = 0;
        json_int_t n = 0;
        if (parse_number(v, len, &d, &is_int) < 0) {
            sp_fail(err, invalid, "%.200s: not a plain decimal number", key);
            return NULL;
        }
        out = is_int && parse_integer(v, len, &n) == 0 ? json_integer(n) : json_real(d);
        break;
    }
    case MODEL_BOOLEAN:
        if (len == 4 && memcmp(v, "true", 4) == 0) {
            return json_true();
        }
        if (len == 5 && memcmp(v, "false", 5) == 0) {
            return json_false();
        }
        sp_fail(err, invalid, "%.200s: a boolean is \"true\" or \"false\"", key);
        return NULL;
    default:
        sp_fail(err, invalid, "%.200s: not a value", key);
        return NULL;
    }
    if (out == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return out;
}

/* Sets node[name] = value (stolen), refusing a second value for it. */
static int set_once(json_t *node, const char *name, json_t *value, const char *key,
                    struct sp_err *err) {
    if (json_object_get(node, name) != NULL) {
        json_decref(value);
        return sp_fail(err, invalid, "%.200s: given more than once", key);
    }
    if (json_object_set_new(node, name, value) < 0) {
        return sp_fail(err, "InternalError", "out of memory");
    }
    return 0;
}

/* node[name] as an object to go down into, made when absent. */
static json_t *child_object(json_t *node, const char *name, const char *key, struct sp_err *err) {
    json_t *c = json_object_get(node, name);
    if (c == NULL) {
        c = json_object();
        if (c == NULL || json_object_set_new(node, name, c) < 0) {
            sp_fail(err, "InternalError", "out of memory");
            return NULL;
        }
        return c;
    }
    if (!json_is_object(c)) {
        /* an empty list ("Name=") and its entries, or a value and members */
        sp_fail(err, invalid, "%.200s: conflicts with another key for the same member", key);
        return NULL;
    }
    return c;
}

/* Next '.'-separated token of key after *pos; 0 at the end. */
static int next_token(const char *key, size_t len, size_t *pos, const char **tok, size_t *tlen) {
    if (*pos > len) {
        return 0;
    }
    const char *start = key + *pos;
    const char *dot = memchr(start, '.', len - *pos);
    *tok = start;
    *tlen = dot != NULL ? (size_t)(dot - start) : len - *pos;
    *pos += *tlen + 1;
    return 1;
}

/* Walks one decoded key down the input shape and puts the value there. */
static int insert(const struct model_service *svc, const struct model_shape *shape, json_t *node,
                  const char *key, size_t klen, const char *value, size_t vlen,
                  struct sp_err *err) {
    size_t pos = 0;
    const char *tok;
    size_t tlen;
    char name[FORM_PARAMS_KEY_MAX + 1];
    while (next_token(key, klen, &pos, &tok, &tlen)) {
        int last = pos > klen;
        const struct model_shape *next = NULL;
        switch (shape->type) {
        case MODEL_STRUCTURE: {
            const struct model_member *m = model_find_wire_member(shape, tok, tlen);
            if (m == NULL || tlen == 0) {
                return sp_fail(err, invalid, "%.200s: not a parameter of this operation", key);
            }
            next = model_shape_at(svc, m->shape);
            snprintf(name, sizeof(name), "%s", m->name);
            break;
        }
        case MODEL_LIST: {
            const struct model_member *e = &shape->members[0];
            const char *mw = wire(e, "member");
            if (shape->flattened) {
                return sp_fail(err, "InternalError", "flattened lists are not read from forms");
            }
            if (tlen != strlen(mw) || memcmp(tok, mw, tlen) != 0 || last ||
                !next_token(key, klen, &pos, &tok, &tlen)) {
                return sp_fail(err, invalid, "%.200s: list entries are Name.%s.N", key, mw);
            }
            last = pos > klen;
            size_t i = parse_index(tok, tlen);
            if (i == 0) {
                return sp_fail(err, invalid, "%.200s: a list index is 1, 2, ... written plainly",
                               key);
            }
            next = model_shape_at(svc, e->shape);
            snprintf(name, sizeof(name), "%zu", i);
            break;
        }
        case MODEL_MAP: {
            if (shape->flattened) {
                return sp_fail(err, "InternalError", "flattened maps are not read from forms");
            }
            size_t i = 0;
            const char *kw = wire(&shape->members[0], "key");
            const char *vw = wire(&shape->members[1], "value");
            if (tlen != 5 || memcmp(tok, "entry", 5) != 0 || last ||
                !next_token(key, klen, &pos, &tok, &tlen) || (i = parse_index(tok, tlen)) == 0 ||
                pos > klen) {
                return sp_fail(err, invalid, "%.200s: map entries are Name.entry.N.%s/%s", key, kw,
                               vw);
            }
            snprintf(name, sizeof(name), "%zu", i);
            node = child_object(node, name, key, err);
            if (node == NULL || !next_token(key, klen, &pos, &tok, &tlen)) {
                return -1;
            }
            last = pos > klen;
            if (tlen == strlen(kw) && memcmp(tok, kw, tlen) == 0 && last) {
                json_t *k =
                    scalar(model_shape_at(svc, shape->members[0].shape), key, value, vlen, err);
                return k == NULL ? -1 : set_once(node, "key", k, key, err);
            }
            if (tlen != strlen(vw) || memcmp(tok, vw, tlen) != 0) {
                return sp_fail(err, invalid, "%.200s: map entries are Name.entry.N.%s/%s", key, kw,
                               vw);
            }
            next = model_shape_at(svc, shape->members[1].shape);
            snprintf(name, sizeof(name), "value");
            break;
        }
        default:
            return sp_fail(err, invalid, "%.200s: not a parameter of this operation", key);
        }
        if (last) {
            if (!is_container(next->type)) {
                json_t *v = scalar(next, key, value, vlen, err);
                return v == NULL ? -1 : set_once(node, name, v, key, err);
            }
            if (next->type == MODEL_LIST && vlen == 0) {
                json_t *empty = json_array(); /* "Name=": the protocol's empty list */
                return empty == NULL ? sp_fail(err, "InternalError", "out of memory")
                                     : set_once(node, name, empty, key, err);
            }
            return sp_fail(err, invalid, "%.200s: names a %s, not a value", key,
                           model_type_name(next->type));
        }
        node = child_object(node, name, key, err);
        if (node == NULL) {
            return -1;
        }
        shape = next;
    }
    return sp_fail(err, invalid, "%.200s: not a parameter of this operation", key);
}

/* Turns the index-keyed objects under v (of shape) into arrays and maps;
 * returns the new value (v's reference is consumed). path names it. */
static json_t *finalize(const struct model_service *svc, const struct model_shape *shape, json_t *v,
                        const char *path, struct sp_err *err);

static json_t *finalize_list(const struct model_service *svc, const struct model_shape *shape,
                             json_t *v, const char *path, struct sp_err *err) {
    if (json_is_array(v)) {
        return v; /* "Name=" */
    }
    size_t n = json_object_size(v);
    json_t *arr = json_array();
    const struct model_shape *elem = model_shape_at(svc, shape->members[0].shape);
    char idx[24], sub[FORM_PARAMS_KEY_MAX + 32];
    for (size_t i = 1; arr != NULL && i <= n; i++) {
        snprintf(idx, sizeof(idx), "%zu", i);
        json_t *e = json_object_get(v, idx);
        if (e == NULL) {
            sp_fail(err, invalid,
                    "%.200s: list entries must be numbered from 1 with no gap; %zu is missing",
                    path, i);
            json_decref(arr);
            arr = NULL;
            break;
        }
        snprintf(sub, sizeof(sub), "%s.%zu", path, i);
        json_t *f = finalize(svc, elem, json_incref(e), sub, err);
        if (f == NULL || json_array_append_new(arr, f) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (arr == NULL && err->code == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    json_decref(v);
    return arr;
}

static json_t *finalize_map(const struct model_service *svc, const struct model_shape *shape,
                            json_t *v, const char *path, struct sp_err *err) {
    size_t n = json_object_size(v);
    json_t *map = json_object();
    const struct model_shape *vs = model_shape_at(svc, shape->members[1].shape);
    char idx[24], sub[FORM_PARAMS_KEY_MAX + 32];
    for (size_t i = 1; map != NULL && i <= n; i++) {
        snprintf(idx, sizeof(idx), "%zu", i);
        json_t *e = json_object_get(v, idx);
        json_t *k = json_object_get(e, "key"), *val = json_object_get(e, "value");
        if (e == NULL || !json_is_string(k) || val == NULL) {
            sp_fail(err, invalid,
                    "%.200s: map entries must be numbered 1 to %zu, each with a key and a value",
                    path, n);
            json_decref(map);
            map = NULL;
            break;
        }
        if (json_object_getn(map, json_string_value(k), json_string_length(k)) != NULL) {
            sp_fail(err, invalid, "%.200s: the map key of entry %zu is given twice", path, i);
            json_decref(map);
            map = NULL;
            break;
        }
        snprintf(sub, sizeof(sub), "%s.%zu", path, i);
        json_t *f = finalize(svc, vs, json_incref(val), sub, err);
        if (f == NULL ||
            json_object_setn_new(map, json_string_value(k), json_string_length(k), f) < 0) {
            json_decref(map);
            map = NULL;
        }
    }
    if (map == NULL && err->code == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    json_decref(v);
    return map;
}

/* An empty structure has no key on the wire (botocore writes nothing for
 * {}), so a required structure member whose own members are all optional
 * reads back as absent although the SDK sent it. Put it back as {}: that is
 * what SES reads from the same bytes, and it serializes to nothing again. */
static int add_empty_structures(const struct model_service *svc, const struct model_shape *shape,
                                json_t *v, struct sp_err *err) {
    for (size_t i = 0; i < shape->n_members; i++) {
        const struct model_member *m = &shape->members[i];
        const struct model_shape *ms = model_shape_at(svc, m->shape);
        if (!m->required || ms->type != MODEL_STRUCTURE || json_object_get(v, m->name) != NULL) {
            continue;
        }
        int any_required = 0;
        for (size_t k = 0; k < ms->n_members; k++) {
            any_required |= ms->members[k].required;
        }
        if (!any_required) {
            json_t *empty = json_object();
            ENSURE(empty != NULL && json_object_set_new(v, m->name, empty) == 0, err,
                   "InternalError", "out of memory");
        }
    }
    return 0;
}

static json_t *finalize(const struct model_service *svc, const struct model_shape *shape, json_t *v,
                        const char *path, struct sp_err *err) {
    switch (shape->type) {
    case MODEL_STRUCTURE: {
        const char *k;
        json_t *c;
        char sub[FORM_PARAMS_KEY_MAX + 32];
        json_object_foreach(v, k, c) {
            const struct model_member *m = model_find_member(shape, k);
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
            json_t *f = m != NULL
                            ? finalize(svc, model_shape_at(svc, m->shape), json_incref(c), sub, err)
                            : NULL;
            if (f == NULL || json_object_set_new(v, k, f) < 0) {
                if (err->code == NULL) {
                    sp_fail(err, "InternalError", "out of memory");
                }
                json_decref(v);
                return NULL;
            }
        }
        if (add_empty_structures(svc, shape, v, err) < 0) {
            json_decref(v);
            return NULL;
        }
        return v;
    }
    case MODEL_LIST:
        return finalize_list(svc, shape, v, path, err);
    case MODEL_MAP:
        return finalize_map(svc, shape, v, path, err);
    default:
        return v;
    }
}

/* Action and Version, which are not members; each exactly once. */
static int protocol_key(const struct model_service *svc, const struct model_op *op, const char *key,
                        const char *value, size_t vlen, int *seen_action, int *seen_version,
                        struct sp_err *err) {
    if (strcmp(key, "Action") == 0) {
        ENSURE(!*seen_action, err, "InvalidAction", "Action is given more than once");
        ENSURE(vlen == strlen(op->name) && memcmp(value, op->name, vlen) == 0, err, "InvalidAction",
               "the Action must be %s", op->name);
        *seen_action = 1;
        return 1;
    }
    if (strcmp(key, "Version") == 0) {
        ENSURE(!*seen_version, err, invalid, "Version is given more than once");
        ENSURE(vlen == strlen(svc->api_version) && memcmp(value, svc->api_version, vlen) == 0, err,
               invalid, "Version must be %s", svc->api_version);
        *seen_version = 1;
        return 1;
    }
    return 0;
}

int form_params_parse(const struct model_service *svc, const struct model_op *op, const char *body,
                      size_t len, json_t **params, struct sp_err *err) {
    *params = NULL;
    const struct model_shape *input = model_shape_at(svc, op->input);
    json_t *root = json_object();
    char key[3 * FORM_PARAMS_KEY_MAX + 1]; /* an encoded key of the longest decodes into it */
    char *value = NULL;
    int seen_action = 0, seen_version = 0, rc = -1;
    ENSURE_REF(root, err);
    struct form_cursor cur;
    struct form_pair pair;
    form_cursor_init(&cur, body, len);
    while (form_next(&cur, &pair)) {
        size_t klen = 0, vlen = 0;
        if (membudget_over()) {
            /* The caller's memory budget (api/membudget.h) is spent: a form
             * of many tiny pairs must not cost many times its size. */
            sp_fail(err, "RequestEntityTooLarge", "the form holds too many values");
            goto cleanup;
        }
        if (pair.key_len > 3 * FORM_PARAMS_KEY_MAX) {
            sp_fail(err, invalid, "a key is longer than %d bytes", FORM_PARAMS_KEY_MAX);
            goto cleanup;
        }
        if (form_decode(pair.key, pair.key_len, key, sizeof(key), &klen, err) < 0) {
            goto cleanup;
        }
        if (klen > FORM_PARAMS_KEY_MAX) {
            sp_fail(err, invalid, "a key is longer than %d bytes", FORM_PARAMS_KEY_MAX);
            goto cleanup;
        }
        if (klen != strlen(key)) {
            sp_fail(err, invalid, "a key holds a NUL byte");
            goto cleanup;
        }
        free(value);
        value = malloc(pair.value_len + 1);
        if (value == NULL) {
            sp_fail(err, "InternalError", "out of memory");
            goto cleanup;
        }
        if (form_decode(pair.value, pair.value_len, value, pair.value_len + 1, &vlen, err) < 0) {
            goto cleanup;
        }
        int proto = protocol_key(svc, op, key, value, vlen, &seen_action, &seen_version, err);
        if (proto < 0) {
            goto cleanup;
        }
        if (proto) {
            continue;
        }
        if (is_auth_key(key)) {
            sp_fail(err, invalid,
                    "%.200s: authentication parameters are the proxy's to write, not the caller's",
                    key);
            goto cleanup;
        }
        if (input == NULL) {
            sp_fail(err, invalid, "%.200s: %s takes no parameters", key, op->name);
            goto cleanup;
        }
        if (insert(svc, input, root, key, klen, value, vlen, err) < 0) {
            goto cleanup;
        }
    }
    if (!seen_action) {
        sp_fail(err, "InvalidAction", "the form has no Action");
        goto cleanup;
    }
    if (!seen_version) {
        sp_fail(err, invalid, "the form has no Version (%s)", svc->api_version);
        goto cleanup;
    }
    if (input != NULL) {
        root = finalize(svc, input, root, "", err);
        if (root == NULL) {
            goto cleanup;
        }
    }
    *params = root;
    root = NULL;
    rc = 0;
cleanup:
    free(value);
    json_decref(root);
    return rc;
}
