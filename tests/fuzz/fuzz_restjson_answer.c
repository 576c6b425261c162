/* fuzz_restjson_answer.c - libFuzzer target for api/restjson_answer.
 *
 * Input: byte 0 picks the model (bit 7: the synthetic REST-JSON service of
 * tests/unit/api/restjson_model, else SES v2) and, with byte 1, the
 * operation; byte 2 picks the status from a table (successes, 3xx, 4xx,
 * 5xx); then header lines "Name: value" up to an empty line; the rest is
 * the body, handed over in a heap buffer of exactly its size.
 *
 * Checked: a refusal is BadGateway or InternalError and leaves no result;
 * a result is a JSON object json_dumps can write, flagged an error exactly
 * when the status is 301 or more; an error has "Error" with a string Code
 * and Message; a success has "ResponseMetadata" and its members have the
 * output shape's types as documented in api/restjson_answer.h: structures
 * objects, lists arrays, maps objects, integers JSON integers, blobs
 * canonical base64, timestamps in the normal form (read back by
 * restjson_time_rfc3339 and written again identically). Any disagreement
 * aborts. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/restjson_answer.h"
#include "api/restjson_buf.h"
#include "api/restjson_time.h"

/* The synthetic service's tables (generated), compiled in here only. */
#include "tests/unit/api/restjson_model/model_restjsontest.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int statuses[] = {200, 201, 204, 300, 301, 400, 403, 404, 429, 500, 502, 503, 599};

#define MAX_FIELDS 32

static void check_timestamp(const json_t *v) {
    struct iso8601_time t;
    char again[RESTJSON_TIME_MAX];
    if (!json_is_string(v) ||
        restjson_time_rfc3339(json_string_value(v), json_string_length(v), &t) < 0 ||
        restjson_time_format(t, again, sizeof(again)) < 0 || strcmp(again, json_string_value(v))) {
        abort();
    }
}

static void check_blob(const json_t *v) {
    struct restjson_buf b;
    restjson_buf_init(&b);
    if (!json_is_string(v) ||
        restjson_buf_unbase64(&b, json_string_value(v), json_string_length(v)) != 0) {
        abort();
    }
    restjson_buf_clear(&b);
}

/* v against shape, as restjson_answer.h promises. */
static void check_value(const struct model_service *svc, const struct model_shape *shape,
                        const json_t *v) {
    switch (shape->type) {
    case MODEL_STRUCTURE:
        if (json_is_null(v)) {
            return; /* a null item of a list or map */
        }
        if (!json_is_object(v)) {
            abort();
        }
        for (uint16_t i = 0; i < shape->n_members; i++) {
            const json_t *m = json_object_get(v, shape->members[i].name);
            if (m != NULL && (shape->members[i].flags & MODEL_MEMBER_JSONVALUE) == 0) {
                check_value(svc, model_shape_at(svc, shape->members[i].shape), m);
            }
        }
        break;
    case MODEL_LIST:
        if (!json_is_array(v)) {
            abort();
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            check_value(svc, model_shape_at(svc, shape->members[0].shape), json_array_get(v, i));
        }
        break;
    case MODEL_MAP: {
        if (!json_is_object(v)) {
            abort();
        }
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)(uintptr_t)v, key, item) {
            check_value(svc, model_shape_at(svc, shape->members[1].shape), item);
        }
        break;
    }
    case MODEL_INTEGER:
    case MODEL_LONG:
        if (!json_is_integer(v)) {
            abort();
        }
        break;
    case MODEL_TIMESTAMP:
        check_timestamp(v);
        break;
    case MODEL_BLOB:
        check_blob(v);
        break;
    default:
        break; /* strings, booleans, doubles: as SES sent them */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) {
        return 0;
    }
    const struct model_service *svc = (data[0] & 0x80) ? &model_restjsontest : &model_sesv2;
    const struct model_op *op = &svc->ops[(((size_t)(data[0] & 0x7f) << 8) | data[1]) % svc->n_ops];
    int status = statuses[data[2] % (sizeof(statuses) / sizeof(statuses[0]))];
    const uint8_t *p = data + 3, *end = data + size;

    struct restjson_field f[MAX_FIELDS];
    size_t n = 0;
    while (p < end && *p != '\n' && n < MAX_FIELDS) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *lend = eol != NULL ? eol : end;
        const uint8_t *colon = memchr(p, ':', (size_t)(lend - p));
        if (colon != NULL) {
            const uint8_t *v = colon + 1 < lend && colon[1] == ' ' ? colon + 2 : colon + 1;
            f[n++] = (struct restjson_field){(const char *)p, (size_t)(colon - p), (const char *)v,
                                             (size_t)(lend - v)};
        }
        p = eol != NULL ? eol + 1 : end;
    }
    if (p < end && *p == '\n') {
        p++;
    }
    size_t blen = (size_t)(end - p);
    char *body = malloc(blen > 0 ? blen : 1);
    if (body == NULL) {
        abort();
    }
    memcpy(body, p, blen);

    json_t *out = NULL;
    int is_error = -1;
    struct sp_err err;
    if (restjson_answer_parse(svc, op, status, f, n, body, blen, &out, &is_error, &err) < 0) {
        if (out != NULL || err.code == NULL ||
            (strcmp(err.code, "BadGateway") != 0 && strcmp(err.code, "InternalError") != 0)) {
            abort();
        }
    } else {
        char *text = json_dumps(out, 0);
        if (text == NULL || !json_is_object(out) || is_error != (status >= 301) ||
            !json_is_object(json_object_get(out, "ResponseMetadata"))) {
            abort();
        }
        free(text);
        if (is_error) {
            const json_t *e = json_object_get(out, "Error");
            if (!json_is_string(json_object_get(e, "Code")) ||
                !json_is_string(json_object_get(e, "Message"))) {
                abort();
            }
        } else if (op->output >= 0) {
            check_value(svc, model_shape_at(svc, op->output), out);
        }
        json_decref(out);
    }
    free(body);
    return 0;
}
