/* fuzz_restjson_request.c - libFuzzer target for api/restjson_inbound (an
 * SDK's SES v2 request read back) and api/restjson (its serialization).
 *
 * Input: byte 0 picks the model (bit 7: the synthetic REST-JSON service of
 * tests/unit/api/restjson_model, else SES v2) and the method (the rest,
 * mod the methods below); then the request target up to the first '\n';
 * then header lines "Name: value" up to an empty line; the rest is the
 * body. Each piece is handed over in a heap buffer of exactly its size.
 *
 * Checked, for a request that route_find and restjson_inbound_parse accept:
 * the parameters are a JSON object that json_dumps can write; whenever
 * validate_params accepts them, restjson_serialize must too; whenever
 * restjson_serialize succeeds, its request must route to the same
 * operation and parse back to equal parameters, which serialize to the
 * same bytes again (method, path, query, headers, body). A refusal must
 * carry one of the documented codes. Any disagreement aborts. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/restjson.h"
#include "api/restjson_inbound.h"
#include "api/route.h"
#include "api/validate.h"

/* The synthetic service's tables (generated), compiled in here only. */
#include "tests/unit/api/restjson_model/model_restjsontest.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};

#define MAX_FIELDS 32

static char *dup_exact(const void *p, size_t len) {
    char *c = malloc(len > 0 ? len : 1);
    if (c == NULL) {
        abort();
    }
    memcpy(c, p, len);
    return c;
}

static int code_is(const struct sp_err *err, const char *a, const char *b, const char *c) {
    return err->code != NULL && (strcmp(err->code, a) == 0 || (b && strcmp(err->code, b) == 0) ||
                                 (c && strcmp(err->code, c) == 0));
}

/* Routes target and parses; *params on success (route's labels copied). */
static int read_request(const struct model_service *svc, const char *method, const char *target,
                        size_t tlen, const struct restjson_field *f, size_t n, const char *body,
                        size_t blen, const struct model_op **op, json_t **params,
                        struct sp_err *err) {
    char *labels = malloc(tlen + 1);
    struct route_match m;
    if (labels == NULL) {
        abort();
    }
    *params = NULL;
    sp_err_clear(err);
    int rc = route_find(svc, method, strlen(method), target, tlen, labels, tlen + 1, &m, err);
    if (rc == 0) {
        const char *q = memchr(target, '?', tlen);
        *op = m.op;
        rc = restjson_inbound_parse(svc, &m, q != NULL ? q + 1 : target + tlen,
                                    q != NULL ? tlen - (size_t)(q - target) - 1 : 0, f, n, body,
                                    blen, params, err);
    }
    free(labels);
    return rc;
}

static int same_request(const struct restjson_request *a, const struct restjson_request *b) {
    if (strcmp(a->method, b->method) != 0 || strcmp(a->path, b->path) != 0 ||
        strcmp(a->query, b->query) != 0 || a->n_headers != b->n_headers ||
        a->body_len != b->body_len || (a->body_len > 0 && memcmp(a->body, b->body, a->body_len))) {
        return 0;
    }
    for (size_t i = 0; i < a->n_headers; i++) {
        if (strcmp(a->headers[i].name, b->headers[i].name) != 0 ||
            strcmp(a->headers[i].value, b->headers[i].value) != 0) {
            return 0;
        }
    }
    return 1;
}

/* The serialized request read back: equal parameters, the same bytes. */
static void check_round_trip(const struct model_service *svc, const struct model_op *op,
                             const json_t *params, const struct restjson_request *r) {
    struct restjson_field f[MAX_FIELDS];
    struct sp_err err;
    const struct model_op *op2 = NULL;
    json_t *back;
    if (r->n_headers > MAX_FIELDS) {
        abort();
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        f[i] = (struct restjson_field){r->headers[i].name, strlen(r->headers[i].name),
                                       r->headers[i].value, strlen(r->headers[i].value)};
    }
    size_t plen = strlen(r->path), qlen = strlen(r->query);
    size_t tlen = plen + (qlen > 0 ? qlen + 1 : 0);
    char *target = malloc(tlen > 0 ? tlen : 1);
    if (target == NULL) {
        abort();
    }
    memcpy(target, r->path, plen);
    if (qlen > 0) {
        target[plen] = '?';
        memcpy(target + plen + 1, r->query, qlen);
    }
    char *body = r->body != NULL ? dup_exact(r->body, r->body_len) : NULL;
    if (read_request(svc, r->method, target, tlen, f, r->n_headers, body, r->body_len, &op2, &back,
                     &err) < 0 ||
        op2 != op || !json_equal(back, params)) {
        abort();
    }
    struct restjson_request r2;
    if (restjson_serialize(svc, op, back, &r2, &err) < 0 || !same_request(r, &r2)) {
        abort();
    }
    restjson_request_clear(&r2);
    json_decref(back);
    free(body);
    free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    const struct model_service *svc = (data[0] & 0x80) ? &model_restjsontest : &model_sesv2;
    const char *method = methods[(data[0] & 0x7f) % (sizeof(methods) / sizeof(methods[0]))];
    const uint8_t *p = data + 1, *end = data + size;

    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t tlen = (size_t)((nl != NULL ? nl : end) - p);
    char *target = dup_exact(p, tlen);
    p = nl != NULL ? nl + 1 : end;

    /* header lines up to an empty one */
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
    char *body = dup_exact(p, blen);

    const struct model_op *op = NULL;
    json_t *params;
    struct sp_err err;
    if (read_request(svc, method, target, tlen, f, n, blen > 0 ? body : NULL, blen, &op, &params,
                     &err) < 0) {
        if (params != NULL || (!code_is(&err, "InvalidAction", "MalformedRequest", NULL) &&
                               !code_is(&err, "ValidationError", "InternalError", NULL))) {
            abort();
        }
    } else {
        char *text = json_dumps(params, JSON_ENCODE_ANY);
        if (!json_is_object(params) || text == NULL) {
            abort();
        }
        free(text);
        int valid = validate_params(svc, op, params, &err) == 0;
        struct restjson_request r;
        if (restjson_serialize(svc, op, params, &r, &err) == 0) {
            check_round_trip(svc, op, params, &r);
            restjson_request_clear(&r);
        } else if (valid || !code_is(&err, "ValidationError", "InternalError", NULL)) {
            abort();
        }
        json_decref(params);
    }
    free(body);
    free(target);
    return 0;
}
