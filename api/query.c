/* query.c - JSON parameters -> SES Query form body, as botocore writes it.
 *
 * The oracle is botocore/serialize.py (QuerySerializer) plus
 * botocore/utils.py (percent_encode_sequence, parse_to_aware_datetime);
 * tests/integ/test_query_oracle.py holds every operation to it byte for
 * byte. Where botocore's behaviour is surprising the comment says so. */
#include "api/query.h"

#include <math.h> /* isnan, isinf, signbit: macros, no libm */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/iso8601.h"

/* Deepest nesting we follow; validate_params refuses deeper input first. */
#define QUERY_MAX_DEPTH 64
/* Longest key (`Outer.Inner.member.12.Leaf`) before encoding. SES's longest
 * is under 80 bytes; only a recursive model could come near this. */
#define QUERY_PREFIX_MAX 512

/* Output buffer: the body goes to the sink QUERY_CHUNK bytes at a time. */
struct writer {
    query_sink_fn sink;
    void *ctx;
    size_t n;
    unsigned char buf[QUERY_CHUNK];
};

struct ser {
    const struct model_service *svc;
    struct sp_err *err;
    size_t plen;
    char prefix[QUERY_PREFIX_MAX];
    struct writer w;
};

/* RFC 3986 unreserved: botocore's quote(safe='-._~') leaves exactly these
 * bytes bare (quote always keeps ASCII letters, digits and '_.-~'). One bit
 * per byte value: 0-9 - . in the first word, A-Z _ a-z ~ in the second. */
static const uint64_t unreserved[4] = {0x03ff600000000000ULL, 0x47fffffe87fffffeULL, 0, 0};

static int is_unreserved(unsigned char c) { return (int)((unreserved[c >> 6] >> (c & 63)) & 1); }

static const char hex_upper[] = "0123456789ABCDEF";

/* ---- writer ------------------------------------------------------------ */

static void writer_init(struct writer *w, query_sink_fn sink, void *ctx) {
    w->sink = sink;
    w->ctx = ctx;
    w->n = 0;
}

static int writer_flush(struct writer *w) {
    if (w->n > 0) {
        if (w->sink(w->ctx, w->buf, w->n) != 0) {
            return -1;
        }
        w->n = 0;
    }
    return 0;
}

static int writer_raw(struct writer *w, const char *s, size_t len) {
    while (len > 0) {
        if (w->n == sizeof(w->buf)) {
            GUARD(writer_flush(w));
        }
        size_t room = sizeof(w->buf) - w->n;
        size_t k = len < room ? len : room;
        memcpy(w->buf + w->n, s, k);
        w->n += k;
        s += k;
        len -= k;
    }
    return 0;
}

/* Percent-encodes straight into the buffer; a 13 MB blob costs one pass and
 * no allocation. */
static int writer_encode(struct writer *w, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    while (p < end) {
        if (sizeof(w->buf) - w->n < 3) {
            GUARD(writer_flush(w));
        }
        /* Fill what surely fits (3 bytes per input byte at worst). */
        size_t room = (sizeof(w->buf) - w->n) / 3;
        const unsigned char *stop = (size_t)(end - p) < room ? end : p + room;
        unsigned char *o = w->buf + w->n;
        for (; p < stop; p++) {
            unsigned char c = *p;
            if (is_unreserved(c)) {
                *o++ = c;
            } else if (c == ' ') {
                *o++ = '+'; /* as urlencode() writes it: boto3's bytes on the wire */
            } else {
                o[0] = '%';
                o[1] = (unsigned char)hex_upper[c >> 4];
                o[2] = (unsigned char)hex_upper[c & 15];
                o += 3;
            }
        }
        w->n = (size_t)(o - w->buf);
    }
    return 0;
}

int query_percent_encode(const char *s, size_t len, query_sink_fn sink, void *ctx) {
    struct writer w;
    writer_init(&w, sink, ctx);
    GUARD(writer_encode(&w, s, len));
    return writer_flush(&w);
}

/* ---- numbers ----------------------------------------------------------- */

/* The shortest digit string that strtod reads back as d (what Python's
 * repr prints): for p = 1, 2, ... 17, the correctly rounded p digits and,
 * because the rounding interval of a power of two is lopsided, their
 * neighbours in the last place. Fills digits (no dot, no trailing zeros)
 * and the decimal exponent as dtoa does (d = 0.DIGITS x 10^decpt).
 * Returns the digit count. d is finite and > 0. */
static int shortest_digits(double d, char digits[20], int *decpt) {
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
        /* buf is "D.DDDDe[+-]XX" (d > 0 here). */
        char mant[20];
        int nm = 0;
        const char *c = buf;
        for (; *c != 'e'; c++) {
            if (*c != '.') {
                mant[nm++] = *c;
            }
        }
        int exp10 = atoi(c + 1);
        mant[nm] = '\0';
        unsigned long long m = strtoull(mant, NULL, 10);
        /* Candidates: the correctly rounded one first, then its neighbours. */
        unsigned long long cand[3] = {m, m + 1, m - 1};
        for (int k = 0; k < 3; k++) {
            if (cand[k] == 0) {
                continue;
            }
            char t[40];
            snprintf(t, sizeof(t), "%llue%d", cand[k], exp10 - (p - 1));
            if (strtod(t, NULL) == d) {
                int n = snprintf(digits, 20, "%llu", cand[k]);
                /* A neighbour may gain a digit (999 + 1 = 1000). */
                int e = exp10 + (n - p);
                while (n > 1 && digits[n - 1] == '0') {
                    digits[--n] = '\0';
                }
                *decpt = e + 1;
                return n;
            }
        }
    }
    /* %.16e always reads back; not reached. */
    digits[0] = '0';
    digits[1] = '\0';
    *decpt = 1;
    return 1;
}

int query_format_double(double d, char *out, size_t cap) {
    if (cap < QUERY_SCALAR_MAX) {
        return -1;
    }
    if (isnan(d)) {
        return snprintf(out, cap, "nan");
    }
    size_t n = 0;
    if (signbit(d)) { /* -0.0 too: Python prints "-0.0" */
        out[n++] = '-';
        d = -d;
    }
    if (isinf(d)) {
        n += (size_t)snprintf(out + n, cap - n, "inf");
        return (int)n;
    }
    if (d == 0) {
        n += (size_t)snprintf(out + n, cap - n, "0.0");
        return (int)n;
    }
    char digits[20];
    int decpt;
    int nd = shortest_digits(d, digits, &decpt);
    /* Python's float_repr_style 'short': exponent form when decpt <= -4 or
     * decpt > 16 (Objects/floatobject.c, Python/pystrtod.c). */
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -decpt; i++) {
                out[n++] = '0';
            }
            memcpy(out + n, digits, (size_t)nd);
            n += (size_t)nd;
        } else if (decpt >= nd) {
            memcpy(out + n, digits, (size_t)nd);
            n += (size_t)nd;
            for (int i = nd; i < decpt; i++) {
                out[n++] = '0';
            }
            out[n++] = '.';
            out[n++] = '0';
        } else {
            memcpy(out + n, digits, (size_t)decpt);
            n += (size_t)decpt;
            out[n++] = '.';
            memcpy(out + n, digits + decpt, (size_t)(nd - decpt));
            n += (size_t)(nd - decpt);
        }
        out[n] = '\0';
        return (int)n;
    }
    out[n++] = digits[0];
    if (nd > 1) {
        out[n++] = '.';
        memcpy(out + n, digits + 1, (size_t)(nd - 1));
        n += (size_t)(nd - 1);
    }
    int e = decpt - 1;
    n += (size_t)snprintf(out + n, cap - n, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    return (int)n;
}

/* ---- timestamps -------------------------------------------------------- */

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: Python's datetime range. */
#define TS_MIN_SEC (-62135596800LL)
#define TS_MAX_SEC (253402300799LL)

/* What botocore's parse_to_aware_datetime (dateutil's isoparse behind it)
 * reads and we accept: YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)F...]][Z|z|(+|-)HH[[:]MM]]],
 * no offset meaning UTC. */
#define QUERY_ISO8601_FORMS                                                                        \
    (ISO8601_DATE_ONLY | ISO8601_SPACE | ISO8601_NO_SECONDS | ISO8601_COMMA | ISO8601_NO_OFFSET |  \
     ISO8601_HOUR_OFFSET)
_Static_assert(QUERY_SCALAR_MAX >= ISO8601_FORMAT_MAX, "a formatted timestamp fits");

/* Python's _PyTime_RoundHalfEven for |x| well inside int64 range, without
 * libm: trunc by conversion, and x - trunc(x) is exact. */
static double round_half_even(double x) {
    double t = (double)(int64_t)x;
    double diff = x - t;
    int odd = ((int64_t)t & 1) != 0;
    if (x >= 0) {
        if (diff > 0.5 || (diff == 0.5 && odd)) {
            t += 1.0;
        }
    } else if (diff < -0.5 || (diff == -0.5 && odd)) {
        t -= 1.0;
    }
    return t;
}

/* datetime.fromtimestamp(d): _PyTime_ObjectToTimeval with ROUND_HALF_EVEN. */
static int ts_from_double(double d, struct iso8601_time *t) {
    /* Also false for NaN. Bounds well past the datetime range. */
    if (!(d > -1e12 && d < 1e12)) {
        return -1;
    }
    double ip = (double)(int64_t)d; /* modf's integral part */
    double fp = (d - ip) * 1e6;
    fp = round_half_even(fp);
    if (fp >= 1e6) {
        fp -= 1e6;
        ip += 1.0;
    } else if (fp < 0) {
        fp += 1e6;
        ip -= 1.0;
    }
    t->sec = (int64_t)ip;
    t->usec = (int32_t)fp;
    return t->sec >= TS_MIN_SEC && t->sec <= TS_MAX_SEC ? 0 : -1;
}

/* Would Python's float() read s as a finite decimal number? Only the plain
 * grammar: [+-] digits [. digits] [e [+-] digits]; Python also takes
 * surrounding blanks, '_' separators, "inf" and "nan", which we refuse. */
static int is_decimal_number(const char *s, size_t len) {
    size_t i = 0, int_digits = 0, frac_digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0) {
        return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0) {
            return 0;
        }
    }
    return i == len;
}

static int ts_parse_iso(const char *s, size_t len, struct iso8601_time *t) {
    GUARD(iso8601_parse(s, len, QUERY_ISO8601_FORMS, t));
    /* astimezone(UTC); botocore crashes (OverflowError) when that leaves
     * years 1..9999, we refuse. */
    return t->sec >= TS_MIN_SEC && t->sec <= TS_MAX_SEC ? 0 : -1;
}

static int ts_from_json(const json_t *v, struct iso8601_time *t) {
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < TS_MIN_SEC || n > TS_MAX_SEC) {
            return -1;
        }
        t->sec = n;
        t->usec = 0;
        return 0;
    }
    if (json_is_real(v)) {
        return ts_from_double(json_real_value(v), t);
    }
    if (!json_is_string(v)) {
        return -1;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    /* botocore tries fromtimestamp(float(value)) before parsing a date. */
    if (is_decimal_number(s, len)) {
        char buf[64];
        if (len >= sizeof(buf)) {
            return -1;
        }
        memcpy(buf, s, len);
        buf[len] = '\0';
        return ts_from_double(strtod(buf, NULL), t);
    }
    return ts_parse_iso(s, len, t);
}

int query_format_timestamp(const json_t *value, const char *format, char *out, size_t cap,
                           size_t *out_len, struct sp_err *err) {
    static const char *const wdays[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct iso8601_time t;
    struct iso8601_civil c;
    int n;
    ENSURE(cap >= QUERY_SCALAR_MAX, err, "InternalError", "timestamp buffer too small");
    ENSURE(ts_from_json(value, &t) == 0, err, "ValidationError",
           "not an ISO 8601 timestamp or epoch seconds in years 1-9999");
    iso8601_civil_from_sec(t.sec, &c);
    if (format == NULL || strcasecmp(format, "iso8601") == 0) {
        /* botocore: strftime('%Y-%m-%dT%H:%M:%S[.%f]Z'); glibc's %Y does not pad. */
        n = iso8601_format(t, t.usec > 0 ? 6 : 0, out, cap);
    } else if (strcasecmp(format, "unixtimestamp") == 0) {
        /* int(calendar.timegm(value.timetuple())): microseconds dropped. */
        n = snprintf(out, cap, "%lld", (long long)t.sec);
    } else if (strcasecmp(format, "rfc822") == 0) {
        /* email.utils.formatdate(usegmt=True). */
        n = snprintf(out, cap, "%s, %02d %s %04lld %02d:%02d:%02d GMT", wdays[c.wday], c.day,
                     months[c.month - 1], (long long)c.year, c.hour, c.min, c.sec);
    } else {
        return sp_fail(err, "InternalError", "unknown timestampFormat %s", format);
    }
    *out_len = (size_t)n;
    return 0;
}

/* ---- serializer -------------------------------------------------------- */

static int ser_sink_failed(struct ser *s) {
    return sp_fail(s->err, "InternalError", "query: output sink failed");
}

static int ser_wrong_type(struct ser *s, const char *want) {
    return sp_fail(s->err, "ValidationError", "Invalid type for parameter %.*s, valid types: %s",
                   (int)s->plen, s->prefix, want);
}

/* Appends [sep]name to the prefix; the caller restores s->plen afterwards. */
static int prefix_push(struct ser *s, const char *name, size_t len) {
    size_t sep = s->plen > 0 ? 1 : 0;
    ENSURE(s->plen + sep + len < sizeof(s->prefix), s->err, "InternalError",
           "query: parameter path longer than %d bytes", QUERY_PREFIX_MAX);
    if (sep) {
        s->prefix[s->plen++] = '.';
    }
    memcpy(s->prefix + s->plen, name, len);
    s->plen += len;
    return 0;
}

static int prefix_push_index(struct ser *s, size_t i) {
    char num[24];
    size_t n = sizeof(num);
    do {
        num[--n] = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0);
    return prefix_push(s, num + n, sizeof(num) - n);
}

/* One `&prefix=value` pair. */
static int emit(struct ser *s, const char *value, size_t len) {
    if (writer_raw(&s->w, "&", 1) < 0 || writer_encode(&s->w, s->prefix, s->plen) < 0 ||
        writer_raw(&s->w, "=", 1) < 0 || writer_encode(&s->w, value, len) < 0) {
        return ser_sink_failed(s);
    }
    return 0;
}

static int ser_value(struct ser *s, const struct model_shape *shape, const json_t *v, int depth);

static const char *wire_name(const struct model_member *m, const char *fallback) {
    return m->wire_name != NULL ? m->wire_name : fallback;
}

static int ser_structure(struct ser *s, const struct model_shape *shape, const json_t *v,
                         int depth) {
    if (!json_is_object(v)) {
        return ser_wrong_type(s, "object");
    }
    /* jansson's iterator API takes a non-const object but does not modify
     * it; the uintptr_t round trip keeps -Wcast-qual quiet about that. */
    json_t *obj = (json_t *)(uintptr_t)v;
    size_t saved = s->plen;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        const json_t *val = json_object_iter_value(it);
        const struct model_member *m = model_find_member(shape, key);
        if (m == NULL || strlen(key) != json_object_iter_key_len(it)) {
            return sp_fail(s->err, "ValidationError", "Unknown parameter %.*s%s%.64s", (int)s->plen,
                           s->prefix, s->plen > 0 ? "." : "", key);
        }
        if (json_is_null(val)) {
            continue; /* null means absent */
        }
        const char *name = wire_name(m, m->name);
        GUARD(prefix_push(s, name, strlen(name)));
        GUARD(ser_value(s, model_shape_at(s->svc, m->shape), val, depth + 1));
        s->plen = saved;
    }
    return 0;
}

static int ser_list(struct ser *s, const struct model_shape *shape, const json_t *v, int depth) {
    if (!json_is_array(v)) {
        return ser_wrong_type(s, "array");
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        return emit(s, "", 0); /* "The query protocol serializes empty lists." */
    }
    const struct model_member *elem = &shape->members[0];
    size_t saved = s->plen;
    char saved_last[QUERY_PREFIX_MAX];
    size_t last_at = 0;
    if (shape->flattened) {
        if (elem->wire_name != NULL) {
            /* botocore replaces the last name of the prefix with the
             * member's locationName: '.'.join(prefix.split('.')[:-1] + [name]). */
            const char *dot = memrchr(s->prefix, '.', s->plen);
            last_at = dot != NULL ? (size_t)(dot - s->prefix) : 0;
            memcpy(saved_last, s->prefix + last_at, s->plen - last_at);
            s->plen = last_at;
            GUARD(prefix_push(s, elem->wire_name, strlen(elem->wire_name)));
        }
    } else {
        const char *name = wire_name(elem, "member");
        GUARD(prefix_push(s, name, strlen(name)));
    }
    size_t list_len = s->plen;
    for (size_t i = 0; i < n; i++) {
        GUARD(prefix_push_index(s, i + 1));
        GUARD(ser_value(s, model_shape_at(s->svc, elem->shape), json_array_get(v, i), depth + 1));
        s->plen = list_len;
    }
    if (shape->flattened && elem->wire_name != NULL) {
        memcpy(s->prefix + last_at, saved_last, saved - last_at);
    }
    s->plen = saved;
    return 0;
}

static int ser_map(struct ser *s, const struct model_shape *shape, const json_t *v, int depth) {
    if (!json_is_object(v)) {
        return ser_wrong_type(s, "object");
    }
    const struct model_member *km = &shape->members[0], *vm = &shape->members[1];
    const char *ksuffix = wire_name(km, "key"), *vsuffix = wire_name(vm, "value");
    size_t saved = s->plen;
    if (!shape->flattened) {
        GUARD(prefix_push(s, "entry", 5));
    }
    size_t entry_len = s->plen;
    json_t *obj = (json_t *)(uintptr_t)v; /* see ser_structure */
    size_t i = 1;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it), i++) {
        GUARD(prefix_push_index(s, i));
        size_t idx_len = s->plen;
        GUARD(prefix_push(s, ksuffix, strlen(ksuffix)));
        GUARD(emit(s, json_object_iter_key(it), json_object_iter_key_len(it)));
        s->plen = idx_len;
        GUARD(prefix_push(s, vsuffix, strlen(vsuffix)));
        GUARD(
            ser_value(s, model_shape_at(s->svc, vm->shape), json_object_iter_value(it), depth + 1));
        s->plen = entry_len;
    }
    s->plen = saved;
    return 0;
}

static int ser_scalar(struct ser *s, const struct model_shape *shape, const json_t *v) {
    char buf[QUERY_SCALAR_MAX];
    size_t n;
    switch (shape->type) {
    case MODEL_STRING:
    case MODEL_BLOB: /* JSON carries blobs as base64 already: botocore's b64encode output */
        if (!json_is_string(v)) {
            return ser_wrong_type(s, "string");
        }
        return emit(s, json_string_value(v), json_string_length(v));
    case MODEL_INTEGER:
    case MODEL_LONG:
        if (!json_is_integer(v)) {
            return ser_wrong_type(s, "integer");
        }
        n = (size_t)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit(s, buf, n);
    case MODEL_DOUBLE:
    case MODEL_FLOAT:
        /* str() of what json.loads gives: an int stays "5", a float is repr. */
        if (json_is_integer(v)) {
            n = (size_t)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        } else if (json_is_real(v)) {
            n = (size_t)query_format_double(json_real_value(v), buf, sizeof(buf));
        } else {
            return ser_wrong_type(s, "number");
        }
        return emit(s, buf, n);
    case MODEL_BOOLEAN:
        if (!json_is_boolean(v)) {
            return ser_wrong_type(s, "boolean");
        }
        return json_is_true(v) ? emit(s, "true", 4) : emit(s, "false", 5);
    case MODEL_TIMESTAMP:
        if (query_format_timestamp(v, shape->timestamp_format, buf, sizeof(buf), &n, NULL) < 0) {
            return ser_wrong_type(s, "timestamp");
        }
        return emit(s, buf, n);
    default:
        return sp_fail(s->err, "InternalError", "query: shape %s is not a scalar", shape->name);
    }
}

static int ser_value(struct ser *s, const struct model_shape *shape, const json_t *v, int depth) {
    ENSURE(depth <= QUERY_MAX_DEPTH, s->err, "InternalError",
           "query: parameters nest deeper than %d", QUERY_MAX_DEPTH);
    switch (shape->type) {
    case MODEL_STRUCTURE:
        return ser_structure(s, shape, v, depth);
    case MODEL_LIST:
        return ser_list(s, shape, v, depth);
    case MODEL_MAP:
        return ser_map(s, shape, v, depth);
    default:
        return ser_scalar(s, shape, v);
    }
}

int query_serialize(const struct model_service *svc, const struct model_op *op,
                    const json_t *params, query_sink_fn sink, void *ctx, struct sp_err *err) {
    struct ser s;
    s.svc = svc;
    s.err = err;
    s.plen = 0;
    writer_init(&s.w, sink, ctx);
    /* body_params['Action'], body_params['Version'], then the members. */
    if (writer_raw(&s.w, "Action=", 7) < 0 || writer_encode(&s.w, op->name, strlen(op->name)) < 0 ||
        writer_raw(&s.w, "&Version=", 9) < 0 ||
        writer_encode(&s.w, svc->api_version, strlen(svc->api_version)) < 0) {
        return ser_sink_failed(&s);
    }
    /* botocore ignores parameters of an operation without an input shape. */
    if (op->input >= 0 && params != NULL) {
        GUARD(ser_structure(&s, model_shape_at(svc, op->input), params, 0));
    }
    if (writer_flush(&s.w) < 0) {
        return ser_sink_failed(&s);
    }
    return 0;
}
