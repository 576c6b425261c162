/* xmljson.c - SES XML answers to boto3-shaped JSON (see xmljson.h).
 *
 * The oracle is botocore's QueryParser (botocore/parsers.py). botocore builds
 * an ElementTree first and then walks it against the output shape; we get
 * the same answer in one streaming pass by keeping an explicit stack of
 * frames, one per open element, each knowing what its element means (a
 * structure, a list, a map entry, a scalar, something to skip). When an
 * element ends, its JSON value is handed to the frame below it.
 *
 * The botocore rules this mirrors, each noted where it is implemented:
 *   - element names are compared without their namespace (ET's "{uri}local"
 *     with the "{...}" stripped), so expat runs in namespace mode;
 *   - a scalar's text is ElementTree's .text: the character data before the
 *     first child element, "" for an empty element (botocore's _text_content);
 *   - a non-flattened list takes every child element as an item, whatever
 *     its name; a map takes every child as an entry, and an entry child that
 *     is neither the key nor the value is an error;
 *   - booleans are true only for the exact text "true";
 *   - ResponseMetadata's children and everything in an <ErrorResponse> are
 *     converted generically, an empty leaf becoming null (ET's .text None).
 * Where botocore would crash or return garbage (a repeated element where it
 * expects one, a map entry without a key), we choose: the first occurrence
 * wins, and a map entry without key or value is a BadGateway failure. */
#include "api/xmljson.h"

#include <expat.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BAD_GATEWAY "BadGateway"
#define SES_XMLNS "http://ses.amazonaws.com/doc/2010-12-01/"

/* ElementTree's namespace separator: expat reports "uri}local". XML names
 * cannot contain '}', so the local name is whatever follows the last one. */
#define NS_SEP '}'

enum frame_kind {
    F_SKIP,       /* an element we ignore, with everything inside it */
    F_ROOT,       /* <OpNameResponse>; a structure itself if the op has no result wrapper */
    F_STRUCT,     /* a structure shape: value is an object */
    F_LIST,       /* a non-flattened list: value is an array */
    F_MAP,        /* a non-flattened map: value is an object, children are entries */
    F_ENTRY,      /* one map entry: collects key and val, then sets them into target */
    F_SCALAR,     /* string, number, boolean, timestamp or blob: collects text */
    F_META,       /* <ResponseMetadata>: value is an object of its children's text */
    F_TEXT,       /* a child of <ResponseMetadata>: its text, null when empty */
    F_ERROR_ROOT, /* <ErrorResponse>: value is an object */
    F_GENERIC,    /* inside <ErrorResponse>: an object once it has children, else text */
};

enum entry_role {
    ROLE_NONE,
    ROLE_KEY,
    ROLE_VALUE,
};

struct frame {
    enum frame_kind kind;
    enum entry_role role;              /* child of F_ENTRY: which half it is */
    int has_child;                     /* a child element started: scalars stop collecting text,
                                        * F_GENERIC turns into an object */
    int32_t shape;                     /* model shape index, -1 when none */
    const struct model_member *member; /* child of a structure: its member */
    json_t *value;                     /* owned: the object or array being built */
    json_t *target;    /* borrowed: where a flattened list item or a map entry goes */
    json_t *key, *val; /* F_ENTRY, owned */
    char *name;        /* F_TEXT, F_GENERIC: owned copy of the element's local name */
};

struct xmljson {
    const struct model_service *svc;
    const struct model_op *op;
    XML_Parser parser;
    struct frame stack[XMLJSON_MAX_DEPTH];
    int depth; /* frames in use */
    /* One text buffer serves every element: only the innermost collecting
     * frame appends to it (children of a scalar are skipped and collect
     * nothing), so it never holds two elements' text at once. Kept
     * NUL-terminated. */
    char *text;
    size_t text_len, text_cap;
    size_t text_total; /* character data kept so far, against XMLJSON_MAX_TEXT */
    size_t n_elements; /* against XMLJSON_MAX_ELEMENTS */
    size_t fed;        /* bytes of XML fed (xmljson_reset keeps small parsers only) */
    int failed;        /* err holds the failure; every later call repeats it */
    int final_fed;
    int finished;
    int is_error;
    json_t *result; /* success: the result wrapper's object */
    json_t *meta;   /* success: ResponseMetadata */
    json_t *out;    /* the finished answer, set when the root element ends */
    struct sp_err err;
};

/* ---- failures ---------------------------------------------------------- */

/* Records a failure from inside an expat callback and stops the parser; the
 * XML_Parse that is running then returns an error and feed reports x->err. */
static SP_PRINTF(2, 3) void fail_parse(struct xmljson *x, const char *fmt, ...) {
    if (x->failed) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err.msg, sizeof(x->err.msg), fmt, ap);
    va_end(ap);
    x->err.code = BAD_GATEWAY;
    x->failed = 1;
    XML_StopParser(x->parser, XML_FALSE);
}

static void fail_oom(struct xmljson *x) {
    if (x->failed) {
        return;
    }
    sp_fail(&x->err, "InternalError", "out of memory parsing the SES response");
    x->failed = 1;
    XML_StopParser(x->parser, XML_FALSE);
}

/* ---- small helpers ----------------------------------------------------- */

static const char *local_name(const XML_Char *name) {
    const char *sep = strrchr(name, NS_SEP);
    return sep != NULL ? sep + 1 : name;
}

static const struct model_shape *shape_of(const struct xmljson *x, int32_t i) {
    return model_shape_at(x->svc, i);
}

/* The element name a structure member has in XML (botocore's
 * _member_key_name): a flattened list is repeated under its member's
 * locationName when it has one; otherwise the member's locationName, else
 * its name. */
static const char *member_xml_name(const struct xmljson *x, const struct model_member *m) {
    const struct model_shape *s = shape_of(x, m->shape);
    if (s->type == MODEL_LIST && s->flattened && s->members[0].wire_name != NULL) {
        return s->members[0].wire_name;
    }
    return m->wire_name != NULL ? m->wire_name : m->name;
}

static const struct model_member *find_member(const struct xmljson *x, const struct model_shape *s,
                                              const char *local) {
    for (uint16_t i = 0; i < s->n_members; i++) {
        if (strcmp(member_xml_name(x, &s->members[i]), local) == 0) {
            return &s->members[i];
        }
    }
    return NULL;
}

static int is_root_name(const struct model_op *op, const char *local) {
    size_t n = strlen(op->name);
    return strncmp(local, op->name, n) == 0 && strcmp(local + n, "Response") == 0;
}

static int is_xml_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Python's int() as botocore uses it, for what SES can send: surrounding
 * whitespace, an optional sign, decimal digits. */
static int parse_integer(const char *s, size_t n, json_int_t *out) {
    size_t i = 0;
    while (n > 0 && is_xml_space(s[n - 1])) {
        n--;
    }
    while (i < n && is_xml_space(s[i])) {
        i++;
    }
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == n) {
        return -1;
    }
    unsigned long long limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    /* -LLONG_MIN is not representable, so go through LLONG_MAX for it. */
    if (neg) {
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(json_int_t)v;
    } else {
        *out = (json_int_t)v;
    }
    return 0;
}

/* Python's float() for decimal text. Only digits, signs, '.', 'e' and 'E'
 * are let through to strtod, so its hex, "inf" and "nan" forms never are:
 * JSON has no infinity or NaN to give them as. s is NUL-terminated at s[n]. */
static int parse_real(const char *s, size_t n, double *out) {
    size_t i = 0;
    while (n > 0 && is_xml_space(s[n - 1])) {
        n--;
    }
    while (i < n && is_xml_space(s[i])) {
        i++;
    }
    if (i == n) {
        return -1;
    }
    for (size_t j = i; j < n; j++) {
        if (strchr("0123456789+-.eE", s[j]) == NULL) {
            return -1;
        }
    }
    char *end = NULL;
    double v = strtod(s + i, &end);
    if (end != s + n || !isfinite(v)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- the frame stack --------------------------------------------------- */

static void frame_clear(struct frame *f) {
    json_decref(f->value);
    json_decref(f->key);
    json_decref(f->val);
    free(f->name);
    memset(f, 0, sizeof(*f));
}

/* Pushes a zeroed frame of kind; NULL (and x failed) at the depth limit. */
static struct frame *push(struct xmljson *x, enum frame_kind kind) {
    if (x->depth >= XMLJSON_MAX_DEPTH) {
        fail_parse(x, "SES response nests elements deeper than %d", XMLJSON_MAX_DEPTH);
        return NULL;
    }
    struct frame *f = &x->stack[x->depth++];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->shape = -1;
    return f;
}

/* Starts collecting text for the new top frame. */
static void text_reset(struct xmljson *x) {
    x->text_len = 0;
    if (x->text != NULL) {
        x->text[0] = '\0';
    }
}

static int text_append(struct xmljson *x, const char *s, size_t n) {
    if (n > XMLJSON_MAX_TEXT - x->text_total) {
        fail_parse(x, "SES response has more than %zu bytes of text", XMLJSON_MAX_TEXT);
        return -1;
    }
    x->text_total += n;
    if (x->text_len + n + 1 > x->text_cap) {
        size_t cap = x->text_cap != 0 ? x->text_cap : 256;
        while (cap < x->text_len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(x->text, cap);
        if (p == NULL) {
            fail_oom(x);
            return -1;
        }
        x->text = p;
        x->text_cap = cap;
    }
    memcpy(x->text + x->text_len, s, n);
    x->text_len += n;
    x->text[x->text_len] = '\0';
    return 0;
}

/* A frame that stands for a value of shape i: containers get their JSON
 * value now, scalars collect text until they end. */
static struct frame *push_value(struct xmljson *x, int32_t i) {
    const struct model_shape *s = shape_of(x, i);
    enum frame_kind kind = s->type == MODEL_STRUCTURE ? F_STRUCT
                           : s->type == MODEL_LIST    ? F_LIST
                           : s->type == MODEL_MAP     ? F_MAP
                                                      : F_SCALAR;
    struct frame *f = push(x, kind);
    if (f == NULL) {
        return NULL;
    }
    f->shape = i;
    if (kind == F_STRUCT || kind == F_MAP) {
        f->value = json_object();
    } else if (kind == F_LIST) {
        f->value = json_array();
    } else {
        text_reset(x);
        return f;
    }
    if (f->value == NULL) {
        fail_oom(x);
        return NULL;
    }
    return f;
}

static struct frame *push_named(struct xmljson *x, enum frame_kind kind, const char *local) {
    struct frame *f = push(x, kind);
    if (f == NULL) {
        return NULL;
    }
    f->name = strdup(local);
    if (f->name == NULL) {
        fail_oom(x);
        return NULL;
    }
    text_reset(x);
    return f;
}

/* ---- element start: what does this child mean? ------------------------ */

/* A member element inside a structure (or the root standing in for one). */
static void start_member(struct xmljson *x, struct frame *parent, const char *local) {
    const struct model_member *m = find_member(x, shape_of(x, parent->shape), local);
    if (m == NULL) {
        push(x, F_SKIP); /* unknown to the model: ignored, as botocore does */
        return;
    }
    const struct model_shape *ms = shape_of(x, m->shape);
    json_t *have = json_object_get(parent->value, m->name);
    if (ms->flattened && (ms->type == MODEL_LIST || ms->type == MODEL_MAP)) {
        /* Flattened: every occurrence of the element is one more item (or
         * entry) of the same member. */
        if (have == NULL) {
            have = ms->type == MODEL_LIST ? json_array() : json_object();
            if (have == NULL || json_object_set_new(parent->value, m->name, have) < 0) {
                fail_oom(x);
                return;
            }
        }
        struct frame *f =
            ms->type == MODEL_LIST ? push_value(x, ms->members[0].shape) : push(x, F_ENTRY);
        if (f != NULL) {
            f->member = m;
            f->target = have;
        }
        return;
    }
    if (have != NULL) {
        push(x, F_SKIP); /* repeated: the first one wins */
        return;
    }
    struct frame *f = push_value(x, m->shape);
    if (f != NULL) {
        f->member = m;
    }
}

static void start_in_root(struct xmljson *x, struct frame *root, const char *local) {
    const struct model_op *op = x->op;
    if (strcmp(local, "ResponseMetadata") == 0) {
        if (x->meta != NULL) {
            push(x, F_SKIP);
            return;
        }
        struct frame *f = push(x, F_META);
        if (f != NULL && (f->value = json_object()) == NULL) {
            fail_oom(x);
        }
        return;
    }
    if (op->output >= 0 && op->result_wrapper != NULL) {
        if (strcmp(local, op->result_wrapper) != 0 || x->result != NULL) {
            push(x, F_SKIP);
            return;
        }
        push_value(x, op->output);
        return;
    }
    if (op->output >= 0) {
        start_member(x, root, local); /* no wrapper: the root is the structure */
        return;
    }
    push(x, F_SKIP);
}

static void start_in_entry(struct xmljson *x, struct frame *entry, const char *local) {
    const struct model_shape *map =
        shape_of(x, entry->member != NULL ? entry->member->shape : (entry - 1)->shape);
    const struct model_member *k = &map->members[0], *v = &map->members[1];
    /* botocore: the key's locationName or "key", the value's or "value". */
    const char *kname = k->wire_name != NULL ? k->wire_name : "key";
    const char *vname = v->wire_name != NULL ? v->wire_name : "value";
    struct frame *f = NULL;
    if (strcmp(local, kname) == 0) {
        f = push_value(x, k->shape);
        if (f != NULL) {
            f->role = ROLE_KEY;
        }
    } else if (strcmp(local, vname) == 0) {
        f = push_value(x, v->shape);
        if (f != NULL) {
            f->role = ROLE_VALUE;
        }
    } else {
        /* botocore raises "Unknown tag" here rather than ignoring it. */
        fail_parse(x, "SES response has <%.64s> in a map entry", local);
    }
}

static void start_root(struct xmljson *x, const char *local) {
    if (strcmp(local, "ErrorResponse") == 0) {
        struct frame *f = push(x, F_ERROR_ROOT);
        x->is_error = 1;
        if (f != NULL && (f->value = json_object()) == NULL) {
            fail_oom(x);
        }
        return;
    }
    if (x->op == NULL || !is_root_name(x->op, local)) {
        fail_parse(x, "SES response has root element <%.64s>, expected <%.64sResponse>", local,
                   x->op != NULL ? x->op->name : "Error");
        return;
    }
    struct frame *f = push(x, F_ROOT);
    if (f != NULL && x->op->output >= 0 && x->op->result_wrapper == NULL) {
        f->shape = x->op->output;
        if ((f->value = json_object()) == NULL) {
            fail_oom(x);
        }
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
    struct xmljson *x = ud;
    (void)atts; /* SES's Query answers carry no attributes we model */
    if (x->failed) {
        return;
    }
    if (++x->n_elements > XMLJSON_MAX_ELEMENTS) {
        fail_parse(x, "SES response has more than %zu elements", XMLJSON_MAX_ELEMENTS);
        return;
    }
    const char *local = local_name(name);
    if (x->depth == 0) {
        start_root(x, local);
        return;
    }
    struct frame *top = &x->stack[x->depth - 1];
    int first_child = !top->has_child;
    top->has_child = 1;
    switch (top->kind) {
    case F_SKIP:
    case F_SCALAR: /* ET's .text stops at the first child; the child is ignored */
    case F_TEXT:
        push(x, F_SKIP);
        return;
    case F_ROOT:
        start_in_root(x, top, local);
        return;
    case F_STRUCT:
        start_member(x, top, local);
        return;
    case F_LIST:
        /* botocore iterates every child, not only <member>. */
        push_value(x, shape_of(x, top->shape)->members[0].shape);
        return;
    case F_MAP: {
        struct frame *f = push(x, F_ENTRY);
        if (f != NULL) {
            f->target = top->value;
        }
        return;
    }
    case F_ENTRY:
        start_in_entry(x, top, local);
        return;
    case F_META:
        if (json_object_get(top->value, local) != NULL) {
            push(x, F_SKIP);
            return;
        }
        push_named(x, F_TEXT, local);
        return;
    case F_GENERIC:
        if (first_child) {
            /* An element with children is an object; its own text goes. */
            if ((top->value = json_object()) == NULL) {
                fail_oom(x);
                return;
            }
        }
        /* fall through */
    case F_ERROR_ROOT:
        if (json_object_get(top->value, local) != NULL) {
            push(x, F_SKIP);
            return;
        }
        push_named(x, F_GENERIC, local);
        return;
    }
}

/* ---- character data ---------------------------------------------------- */

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
    struct xmljson *x = ud;
    if (x->failed || x->depth == 0 || len <= 0) {
        return;
    }
    const struct frame *top = &x->stack[x->depth - 1];
    int collects = top->kind == F_SCALAR || top->kind == F_TEXT || top->kind == F_GENERIC;
    if (collects && !top->has_child) {
        (void)text_append(x, s, (size_t)len);
    }
}

/* ---- element end: hand the value down ---------------------------------- */

static json_t *scalar_value(struct xmljson *x, const struct frame *f) {
    const struct model_shape *s = shape_of(x, f->shape);
    const char *what = f->member != NULL ? f->member->name : s->name;
    const char *t = x->text != NULL ? x->text : "";
    size_t n = x->text_len;
    json_int_t i;
    double d;
    switch (s->type) {
    case MODEL_BOOLEAN:
        return json_boolean(n == 4 && memcmp(t, "true", 4) == 0);
    case MODEL_INTEGER:
    case MODEL_LONG:
        if (parse_integer(t, n, &i) < 0) {
            fail_parse(x, "SES response: %.64s is not an integer", what);
            return NULL;
        }
        return json_integer(i);
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        if (parse_real(t, n, &d) < 0) {
            fail_parse(x, "SES response: %.64s is not a finite number", what);
            return NULL;
        }
        return json_real(d);
    default:
        /* strings, and (DESIGN) timestamps and blobs exactly as SES sent them */
        return json_stringn(t, n);
    }
}

/* The JSON value of the frame that just ended, as an owned reference (taken
 * out of the frame), or NULL when it has none to give (or on failure). */
static json_t *take_value(struct xmljson *x, struct frame *f) {
    json_t *v = NULL;
    switch (f->kind) {
    case F_SCALAR:
        v = scalar_value(x, f);
        break;
    case F_TEXT:
    case F_GENERIC:
        if (f->kind == F_GENERIC && f->has_child) {
            v = f->value;
            f->value = NULL;
            return v;
        }
        /* ET's .text is None for an element with no character data. */
        v = x->text_len > 0 ? json_stringn(x->text, x->text_len) : json_null();
        break;
    case F_STRUCT:
    case F_LIST:
    case F_MAP:
    case F_META:
        v = f->value;
        f->value = NULL;
        return v;
    default:
        return NULL;
    }
    if (v == NULL) {
        fail_oom(x);
    }
    return v;
}

static int set_key(struct xmljson *x, json_t *obj, const char *key, json_t *v) {
    if (json_object_set_new(obj, key, v) < 0) {
        fail_oom(x);
        return -1;
    }
    return 0;
}

/* Gives v (owned) to the parent of child. */
static void deliver(struct xmljson *x, struct frame *parent, struct frame *child, json_t *v) {
    switch (parent->kind) {
    case F_ROOT:
        if (child->kind == F_META) {
            x->meta = v;
            return;
        }
        if (child->member == NULL) {
            x->result = v; /* the result wrapper */
            return;
        }
        /* no result wrapper: the root is the output structure */
        /* fall through */
    case F_STRUCT:
        if (child->target != NULL) { /* an item of a flattened list */
            if (json_array_append_new(child->target, v) < 0) {
                fail_oom(x);
            }
            return;
        }
        (void)set_key(x, parent->value, child->member->name, v);
        return;
    case F_LIST:
        if (json_array_append_new(parent->value, v) < 0) {
            fail_oom(x);
        }
        return;
    case F_ENTRY: {
        /* A repeated <key> or <value> replaces the earlier one (botocore's
         * loop variables do the same). */
        json_t **slot = child->role == ROLE_KEY ? &parent->key : &parent->val;
        json_decref(*slot);
        *slot = v;
        return;
    }
    case F_META:
    case F_ERROR_ROOT:
    case F_GENERIC:
        (void)set_key(x, parent->value, child->name, v);
        return;
    default:
        json_decref(v); /* cannot happen: other frames have no valued children */
        return;
    }
}

static void end_entry(struct xmljson *x, struct frame *f) {
    if (f->key == NULL || f->val == NULL) {
        fail_parse(x, "SES response has a map entry without a %s",
                   f->key == NULL ? "key" : "value");
        return;
    }
    if (!json_is_string(f->key)) {
        fail_parse(x, "SES response has a map key that is not a string");
        return;
    }
    json_t *val = f->val;
    f->val = NULL;
    /* A repeated key: the later entry wins, as in botocore's dict. */
    (void)set_key(x, f->target, json_string_value(f->key), val);
}

/* The <OpNameResponse> ended: result members plus ResponseMetadata. */
static void end_root(struct xmljson *x, struct frame *f) {
    const struct model_op *op = x->op;
    json_t *out;
    if (op->output >= 0 && op->result_wrapper != NULL) {
        if (x->result == NULL) {
            /* botocore fails here too (KeyError on the wrapper). */
            fail_parse(x, "SES response has no <%.64s>", op->result_wrapper);
            return;
        }
        out = x->result;
        x->result = NULL;
    } else if (op->output >= 0) {
        out = f->value;
        f->value = NULL;
    } else {
        out = json_object();
    }
    if (out == NULL) {
        fail_oom(x);
        return;
    }
    /* botocore's parse() always adds ResponseMetadata (for HTTPStatusCode). */
    json_t *meta = x->meta != NULL ? x->meta : json_object();
    x->meta = NULL;
    if (meta == NULL || json_object_set_new(out, "ResponseMetadata", meta) < 0) {
        json_decref(out);
        fail_oom(x);
        return;
    }
    x->out = out;
}

/* The <ErrorResponse> ended: botocore's QueryParser._do_error_parse fixups. */
static void end_error_root(struct xmljson *x, struct frame *f) {
    json_t *out = f->value;
    /* 1. {"Errors": {"Error": {...}}} -> {"Error": {...}} (dict.update: the
     *    inner keys replace outer ones). botocore crashes on a text <Errors>;
     *    we drop it. */
    json_t *errors = json_object_get(out, "Errors");
    if (errors != NULL) {
        json_incref(errors);
        json_object_del(out, "Errors");
        int rc = json_is_object(errors) ? json_object_update(out, errors) : 0;
        json_decref(errors);
        if (rc < 0) {
            fail_oom(x);
            return;
        }
    }
    /* 2. {"RequestId": id} -> {"ResponseMetadata": {"RequestId": id}} */
    json_t *rid = json_object_get(out, "RequestId");
    if (rid != NULL) {
        json_t *meta = json_pack("{sO}", "RequestId", rid);
        if (meta == NULL || set_key(x, out, "ResponseMetadata", meta) < 0) {
            fail_oom(x);
            return;
        }
        json_object_del(out, "RequestId");
    }
    /* botocore's parse() then adds HTTPStatusCode to ResponseMetadata, so
     * it is always an object; a text one would crash it. */
    if (!json_is_object(json_object_get(out, "ResponseMetadata")) &&
        set_key(x, out, "ResponseMetadata", json_object()) < 0) {
        return;
    }
    x->out = out;
    f->value = NULL;
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
    struct xmljson *x = ud;
    (void)name; /* expat has already matched it with its start tag */
    if (x->failed || x->depth == 0) {
        return;
    }
    struct frame *f = &x->stack[x->depth - 1];
    if (f->kind == F_ENTRY) {
        end_entry(x, f);
    } else if (f->kind == F_ROOT) {
        end_root(x, f);
    } else if (f->kind == F_ERROR_ROOT) {
        end_error_root(x, f);
    } else {
        json_t *v = take_value(x, f);
        if (v != NULL && x->depth >= 2) {
            deliver(x, &x->stack[x->depth - 2], f, v);
        }
    }
    frame_clear(f);
    x->depth--;
}

/* ---- DTDs are refused -------------------------------------------------- */

/* SES never sends a DOCTYPE. Refusing it up front means no internal entity
 * is ever declared, so nothing can expand (billion laughs) and nothing
 * external is ever referenced. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail_parse(ud, "SES response has a DOCTYPE");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation) {
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    fail_parse(ud, "SES response declares an entity");
}

/* ---- public API -------------------------------------------------------- */

/* Salt, handlers and options, on a new or a reset expat parser. */
static void configure(struct xmljson *x) {
    /* Without a salt expat asks the kernel for one per parser (getrandom,
     * one syscall per SES answer). One random salt per process keeps the
     * hash-flooding protection; it is written once, then only read. */
    static unsigned long salt;
    if (salt == 0) {
        salt = (unsigned long)arc4random() << 16 ^ arc4random() ^ 1u;
    }
    XML_SetHashSalt(x->parser, salt);
    XML_SetUserData(x->parser, x);
    XML_SetElementHandler(x->parser, on_start, on_end);
    XML_SetCharacterDataHandler(x->parser, on_text);
    XML_SetStartDoctypeDeclHandler(x->parser, on_doctype);
    XML_SetEntityDeclHandler(x->parser, on_entity_decl);
    XML_SetParamEntityParsing(x->parser, XML_PARAM_ENTITY_PARSING_NEVER);
}

struct xmljson *xmljson_new(const struct model_service *svc, const struct model_op *op) {
    struct xmljson *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return NULL;
    }
    x->svc = svc;
    x->op = op;
    /* UTF-8 forced whatever the declaration says, as botocore forces it on
     * ElementTree; namespace processing on, as ElementTree does. */
    x->parser = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (x->parser == NULL) {
        free(x);
        return NULL;
    }
    configure(x);
    return x;
}

/* Frees what the last response left (frames, trees not handed out). */
static void release_document(struct xmljson *x) {
    for (int i = 0; i < x->depth; i++) {
        frame_clear(&x->stack[i]);
    }
    x->depth = 0;
    json_decref(x->result);
    json_decref(x->meta);
    json_decref(x->out);
    x->result = x->meta = x->out = NULL;
}

int xmljson_reset(struct xmljson *x, const struct model_service *svc, const struct model_op *op) {
    release_document(x);
    /* expat keeps its input buffer across a reset, and we keep the text
     * buffer: not worth it after a big document. */
    if (x->fed > XMLJSON_REUSE_MAX || x->text_cap > XMLJSON_REUSE_MAX ||
        XML_ParserReset(x->parser, "UTF-8") != XML_TRUE) {
        return -1;
    }
    configure(x);
    x->svc = svc;
    x->op = op;
    x->fed = 0;
    x->text_len = 0;
    x->text_total = 0;
    x->n_elements = 0;
    x->failed = x->final_fed = x->finished = x->is_error = 0;
    if (x->text != NULL) {
        x->text[0] = '\0';
    }
    sp_err_clear(&x->err);
    return 0;
}

static int replay_failure(struct xmljson *x, struct sp_err *err) {
    if (err != NULL) {
        *err = x->err;
    }
    return -1;
}

int xmljson_feed(struct xmljson *x, const char *data, size_t len, int is_final,
                 struct sp_err *err) {
    if (x->failed) {
        return replay_failure(x, err);
    }
    if (x->final_fed) {
        return sp_fail(err, "InternalError", "xmljson_feed after the final chunk");
    }
    x->fed += len;
    /* XML_Parse takes an int length. */
    const size_t chunk_max = (size_t)1 << 30;
    do {
        size_t n = len < chunk_max ? len : chunk_max;
        int last = is_final && n == len;
        if (XML_Parse(x->parser, n > 0 ? data : NULL, (int)n, last) != XML_STATUS_OK) {
            if (!x->failed) {
                enum XML_Error code = XML_GetErrorCode(x->parser);
                sp_fail(&x->err, BAD_GATEWAY,
                        "SES response is not well-formed XML: %s (line %lu, column %lu)",
                        XML_ErrorString(code), (unsigned long)XML_GetCurrentLineNumber(x->parser),
                        (unsigned long)XML_GetCurrentColumnNumber(x->parser));
                x->failed = 1;
            }
            return replay_failure(x, err);
        }
        data = n > 0 ? data + n : data;
        len -= n;
    } while (len > 0);
    if (is_final) {
        x->final_fed = 1;
        if (x->out == NULL) { /* expat ensures the root closed; be sure */
            x->failed = 1;
            sp_fail(&x->err, BAD_GATEWAY, "SES response ended before its root element did");
            return replay_failure(x, err);
        }
    }
    return 0;
}

int xmljson_finish(struct xmljson *x, json_t **out, int *is_error, struct sp_err *err) {
    *out = NULL;
    if (x->finished) {
        return sp_fail(err, "InternalError", "xmljson_finish called twice");
    }
    if (!x->final_fed) {
        GUARD(xmljson_feed(x, NULL, 0, 1, err));
    } else if (x->failed) {
        return replay_failure(x, err);
    }
    x->finished = 1;
    *out = x->out;
    x->out = NULL;
    if (is_error != NULL) {
        *is_error = x->is_error;
    }
    return 0;
}

void xmljson_free(struct xmljson *x) {
    if (x == NULL) {
        return;
    }
    release_document(x);
    free(x->text);
    XML_ParserFree(x->parser);
    free(x);
}

int xmljson_parse(const struct model_service *svc, const struct model_op *op, const char *xml,
                  size_t len, json_t **out, int *is_error, struct sp_err *err) {
    *out = NULL;
    struct xmljson *x = xmljson_new(svc, op);
    ENSURE_REF(x, err);
    int rc = xmljson_feed(x, xml, len, 1, err);
    if (rc == 0) {
        rc = xmljson_finish(x, out, is_error, err);
    }
    xmljson_free(x);
    return rc;
}
