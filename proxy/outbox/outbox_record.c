/* outbox_record.c - the outbox's records and rules (see outbox_record.h). */
#include "proxy/outbox/outbox_record.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/retry.h"

/* ------------------------------------------------------------- the request */

#define MAGIC "SPOB"
#define VERSION 1

enum tag {
    T_API = 1,
    T_OP = 2,
    T_METHOD = 3,
    T_PATH = 4,
    T_CONTENT_TYPE = 5,
    T_HEADER = 6, /* name, NUL, value */
    T_BODY = 7,
    T_RECIPIENTS = 8,  /* decimal text */
    T_ENDPOINT_ID = 9, /* optional: an SES v2 multi-region endpoint (SigV4a) */
};

static int put_field(struct evbuffer *out, enum tag t, const void *v, size_t len) {
    if (len > UINT32_MAX) {
        return -1;
    }
    uint8_t head[5] = {(uint8_t)t, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                       (uint8_t)len};
    if (evbuffer_add(out, head, sizeof(head)) < 0) {
        return -1;
    }
    return len > 0 ? evbuffer_add(out, v, len) : 0;
}

static int put_str(struct evbuffer *out, enum tag t, const char *s) {
    return put_field(out, t, s, strlen(s));
}

int outbox_request_encode(const struct outbox_request *req, struct evbuffer *out) {
    char num[40];
    snprintf(num, sizeof(num), "%.17g", req->recipients);
    uint8_t version = VERSION;
    if (evbuffer_add(out, MAGIC, 4) < 0 || evbuffer_add(out, &version, 1) < 0 ||
        put_str(out, T_API, req->api) < 0 || put_str(out, T_OP, req->op) < 0 ||
        put_str(out, T_METHOD, req->method) < 0 || put_str(out, T_PATH, req->path) < 0 ||
        put_str(out, T_CONTENT_TYPE, req->content_type) < 0) {
        return -1;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct outbox_header *h = &req->headers[i];
        size_t n = h->name_len + 1 + h->value_len;
        uint8_t head[5] = {T_HEADER, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                           (uint8_t)n};
        if (evbuffer_add(out, head, sizeof(head)) < 0 ||
            evbuffer_add(out, h->name, h->name_len) < 0 || evbuffer_add(out, "", 1) < 0 ||
            evbuffer_add(out, h->value, h->value_len) < 0) {
            return -1;
        }
    }
    if (put_field(out, T_BODY, req->body, req->body_len) < 0 ||
        put_str(out, T_RECIPIENTS, num) < 0 ||
        (req->endpoint_id[0] != '\0' && put_str(out, T_ENDPOINT_ID, req->endpoint_id) < 0)) {
        return -1;
    }
    return 0;
}

/* A text field into a fixed buffer: printable ASCII only, 1..cap-1 bytes. */
static int take_text(const uint8_t *v, size_t len, char *dst, size_t cap, const char *what,
                     struct sp_err *err) {
    ENSURE(len > 0 && len < cap, err, "CorruptRecord", "%s: bad length %zu", what, len);
    for (size_t i = 0; i < len; i++) {
        ENSURE(v[i] >= 0x20 && v[i] < 0x7f, err, "CorruptRecord", "%s: not printable ASCII", what);
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
    return 0;
}

static int take_header(struct outbox_request *req, const uint8_t *v, size_t len,
                       struct sp_err *err) {
    ENSURE(req->n_headers < OUTBOX_MAX_HEADERS, err, "CorruptRecord", "too many headers");
    const uint8_t *nul = memchr(v, '\0', len);
    ENSURE(nul != NULL && nul != v, err, "CorruptRecord", "header: no name");
    struct outbox_header *h = &req->headers[req->n_headers++];
    h->name = (const char *)v;
    h->name_len = (size_t)(nul - v);
    h->value = (const char *)nul + 1;
    h->value_len = len - h->name_len - 1;
    for (size_t i = 0; i < len; i++) {
        /* A header name or value with a control byte would let a stored
         * record add lines to the request head. */
        ENSURE(v + i == nul || (v[i] >= 0x20 && v[i] < 0x7f), err, "CorruptRecord",
               "header: not printable ASCII");
    }
    return 0;
}

static int take_recipients(struct outbox_request *req, const uint8_t *v, size_t len,
                           struct sp_err *err) {
    char num[40];
    GUARD(take_text(v, len, num, sizeof(num), "recipients", err));
    char *end = NULL;
    double r = strtod(num, &end);
    ENSURE(end == num + len && isfinite(r) && r >= 0 && r <= 1e9, err, "CorruptRecord",
           "recipients: not a count");
    req->recipients = r;
    return 0;
}

static int take_field(struct outbox_request *req, enum tag t, const uint8_t *v, size_t len,
                      struct sp_err *err) {
    switch (t) {
    case T_API:
        return take_text(v, len, req->api, sizeof(req->api), "api", err);
    case T_OP:
        return take_text(v, len, req->op, sizeof(req->op), "operation", err);
    case T_METHOD:
        return take_text(v, len, req->method, sizeof(req->method), "method", err);
    case T_PATH:
        return take_text(v, len, req->path, sizeof(req->path), "path", err);
    case T_CONTENT_TYPE:
        return take_text(v, len, req->content_type, sizeof(req->content_type), "content type", err);
    case T_HEADER:
        return take_header(req, v, len, err);
    case T_BODY:
        req->body = v;
        req->body_len = len;
        return 0;
    case T_RECIPIENTS:
        return take_recipients(req, v, len, err);
    case T_ENDPOINT_ID:
        return take_text(v, len, req->endpoint_id, sizeof(req->endpoint_id), "endpoint id", err);
    }
    return sp_fail(err, "CorruptRecord", "unknown field %d", (int)t);
}

int outbox_request_decode(const uint8_t *buf, size_t len, struct outbox_request *req,
                          struct sp_err *err) {
    memset(req, 0, sizeof(*req));
    ENSURE(len >= 5 && memcmp(buf, MAGIC, 4) == 0, err, "CorruptRecord", "not an outbox record");
    ENSURE(buf[4] == VERSION, err, "CorruptRecord", "record version %d is not known", buf[4]);
    unsigned seen = 0;
    size_t pos = 5;
    while (pos < len) {
        ENSURE(len - pos >= 5, err, "CorruptRecord", "truncated field head");
        enum tag t = (enum tag)buf[pos];
        size_t n = (size_t)buf[pos + 1] << 24 | (size_t)buf[pos + 2] << 16 |
                   (size_t)buf[pos + 3] << 8 | (size_t)buf[pos + 4];
        pos += 5;
        ENSURE(n <= len - pos, err, "CorruptRecord", "truncated field");
        ENSURE(t >= T_API && t <= T_ENDPOINT_ID, err, "CorruptRecord", "unknown field %d", (int)t);
        ENSURE(t == T_HEADER || !(seen & (1u << t)), err, "CorruptRecord", "field %d twice",
               (int)t);
        seen |= 1u << t;
        GUARD(take_field(req, t, buf + pos, n, err));
        pos += n;
    }
    unsigned required = 1u << T_API | 1u << T_OP | 1u << T_METHOD | 1u << T_PATH |
                        1u << T_CONTENT_TYPE | 1u << T_BODY | 1u << T_RECIPIENTS;
    ENSURE((seen & required) == required, err, "CorruptRecord", "a required field is missing");
    return 0;
}

/* -------------------------------------------------------------- the status */

static const char *const state_names[OUTBOX_N_STATES] = {"queued", "sending", "sent", "failed"};

const char *outbox_state_name(enum outbox_state s) {
    return (unsigned)s < OUTBOX_N_STATES ? state_names[s] : "unknown";
}

int outbox_state_finished(enum outbox_state s) { return s == OUTBOX_SENT || s == OUTBOX_FAILED; }

void outbox_status_init(struct outbox_status *st) { memset(st, 0, sizeof(*st)); }

void outbox_status_clear(struct outbox_status *st) {
    json_decref(st->results);
    st->results = NULL;
}

void outbox_status_copy(struct outbox_status *dst, const struct outbox_status *src) {
    *dst = *src;
    json_incref(dst->results);
}

static int set_error(json_t *o, const char *key, const struct outbox_error *e) {
    if (e->code[0] == '\0') {
        return 0;
    }
    return json_object_set_new(o, key, json_pack("{s:s, s:s}", "c", e->code, "m", e->message));
}

char *outbox_status_encode(const struct outbox_status *st) {
    json_t *o = json_pack(
        "{s:i, s:s, s:i, s:I, s:I, s:I, s:s, s:s, s:s}", "v", 1, "s", outbox_state_name(st->state),
        "a", st->attempts, "c", (json_int_t)st->created_ms, "u", (json_int_t)st->updated_ms, "n",
        (json_int_t)st->next_ms, "op", st->op, "cl", st->client, "rid", st->request_id);
    if (o == NULL) {
        return NULL;
    }
    int rc = 0;
    if (st->message_id[0] != '\0') {
        rc |= json_object_set_new(o, "mid", json_string(st->message_id));
    }
    rc |= set_error(o, "e", &st->error);
    rc |= set_error(o, "l", &st->last);
    if (st->results != NULL) {
        rc |= json_object_set(o, "r", st->results);
    }
    char *s = rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

/* A string member into dst (cap bytes): absent is "" when optional. */
static int get_str(json_t *o, const char *key, char *dst, size_t cap, int optional,
                   struct sp_err *err) {
    json_t *v = json_object_get(o, key);
    if (v == NULL && optional) {
        dst[0] = '\0';
        return 0;
    }
    ENSURE(json_is_string(v), err, "CorruptRecord", "status: \"%s\" must be a string", key);
    ENSURE(json_string_length(v) < cap && strlen(json_string_value(v)) == json_string_length(v),
           err, "CorruptRecord", "status: \"%s\" is too long", key);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   struct sp_err *err) {
    json_t *v = json_object_get(o, key);
    ENSURE(json_is_integer(v), err, "CorruptRecord", "status: \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    ENSURE(x >= lo && x <= hi, err, "CorruptRecord", "status: \"%s\" is out of range", key);
    *out = x;
    return 0;
}

static int get_error(json_t *o, const char *key, struct outbox_error *e, struct sp_err *err) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        e->code[0] = e->message[0] = '\0';
        return 0;
    }
    ENSURE(json_is_object(v) && json_object_size(v) == 2, err, "CorruptRecord",
           "status: \"%s\" must be {c, m}", key);
    GUARD(get_str(v, "c", e->code, sizeof(e->code), 0, err));
    GUARD(get_str(v, "m", e->message, sizeof(e->message), 0, err));
    ENSURE(e->code[0] != '\0', err, "CorruptRecord", "status: \"%s\" has no code", key);
    return 0;
}

static int known_keys_only(json_t *o, struct sp_err *err) {
    static const char *const keys[] = {"v",  "s",   "a",   "c", "u", "n", "op",
                                       "cl", "rid", "mid", "e", "l", "r", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (size_t i = 0; keys[i] != NULL; i++) {
            ok |= strcmp(keys[i], k) == 0;
        }
        ENSURE(ok, err, "CorruptRecord", "status: unknown member");
    }
    return 0;
}

static int decode_object(json_t *o, struct outbox_status *st, struct sp_err *err) {
    ENSURE(json_is_object(o), err, "CorruptRecord", "status: not an object");
    GUARD(known_keys_only(o, err));
    int64_t v, s = -1, a;
    GUARD(get_int(o, "v", 1, 1, &v, err));
    char state[16];
    GUARD(get_str(o, "s", state, sizeof(state), 0, err));
    for (int i = 0; i < OUTBOX_N_STATES; i++) {
        s = strcmp(state, state_names[i]) == 0 ? i : s;
    }
    ENSURE(s >= 0, err, "CorruptRecord", "status: unknown state");
    st->state = (enum outbox_state)s;
    GUARD(get_int(o, "a", 0, 1000000000, &a, err));
    st->attempts = (int)a;
    GUARD(get_int(o, "c", 0, INT64_MAX / 2, &st->created_ms, err));
    GUARD(get_int(o, "u", 0, INT64_MAX / 2, &st->updated_ms, err));
    GUARD(get_int(o, "n", 0, INT64_MAX / 2, &st->next_ms, err));
    GUARD(get_str(o, "op", st->op, sizeof(st->op), 0, err));
    GUARD(get_str(o, "cl", st->client, sizeof(st->client), 0, err));
    GUARD(get_str(o, "rid", st->request_id, sizeof(st->request_id), 0, err));
    GUARD(get_str(o, "mid", st->message_id, sizeof(st->message_id), 1, err));
    GUARD(get_error(o, "e", &st->error, err));
    GUARD(get_error(o, "l", &st->last, err));
    json_t *r = json_object_get(o, "r");
    ENSURE(r == NULL || json_is_array(r), err, "CorruptRecord", "status: \"r\" must be a list");
    st->results = json_incref(r);
    return 0;
}

int outbox_status_decode(const char *text, size_t len, struct outbox_status *st,
                         struct sp_err *err) {
    outbox_status_init(st);
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(o != NULL, err, "CorruptRecord", "status: not JSON: %s", jerr.text);
    int rc = decode_object(o, st, err);
    json_decref(o);
    if (rc < 0) {
        outbox_status_clear(st);
    }
    return rc;
}

/* ------------------------------------------------------ what happens next */

int outbox_transition(enum outbox_state from, enum outbox_event ev) {
    switch (ev) {
    case OUTBOX_EV_ATTEMPT:
        return from == OUTBOX_QUEUED ? OUTBOX_SENDING : -1;
    case OUTBOX_EV_SENT:
        return from == OUTBOX_SENDING ? OUTBOX_SENT : -1;
    case OUTBOX_EV_PERMANENT:
        return from == OUTBOX_SENDING ? OUTBOX_FAILED : -1;
    case OUTBOX_EV_RETRY:
    case OUTBOX_EV_QUOTA:
    case OUTBOX_EV_RECOVER:
        return from == OUTBOX_SENDING ? OUTBOX_QUEUED : -1;
    case OUTBOX_EV_EXPIRED:
        return from == OUTBOX_QUEUED ? OUTBOX_FAILED : -1;
    }
    return -1;
}

enum outbox_outcome outbox_classify(int status, const char *code, const char *message) {
    if (status >= 200 && status < 300) {
        return OUTBOX_OUT_SENT;
    }
    if (retry_is_daily_quota(code, message)) {
        return OUTBOX_OUT_QUOTA;
    }
    /* The pipeline's own 429 (a token refused) and Throttling, 5xx and
     * connection failures (the proxy's 502 and 504): SES did not take the
     * message, or may not have; at-least-once means trying again. */
    if (status == 429 || retry_classify(status, code, message) != RETRY_NONE) {
        return OUTBOX_OUT_RETRY;
    }
    return OUTBOX_OUT_PERMANENT;
}

#define BACKOFF_MAX_S 300.0

int64_t outbox_backoff_ms(int attempts, double u) {
    double cap = attempts < 1 ? 1.0 : pow(2.0, attempts - 1 > 20 ? 20 : attempts - 1);
    if (cap > BACKOFF_MAX_S) {
        cap = BACKOFF_MAX_S;
    }
    if (u < 0) {
        u = 0;
    } else if (u >= 1) {
        u = 0.999999;
    }
    return (int64_t)(cap * (0.5 + 0.5 * u) * 1000.0);
}
