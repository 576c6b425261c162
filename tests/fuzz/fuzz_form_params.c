/* fuzz_form_params - SDK form bodies read against the model
 * (api/form_params.h).
 *
 * The first byte picks the operation; the rest is the body. Invariants:
 * no crash, leak or read past the input (ASan); a refusal always has a code
 * and a message; and what is accepted and valid reads back to the same
 * parameters and the same bytes from the proxy's own serialization (the
 * body the proxy forwards is a fixed point). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/form_params.h"
#include "api/query.h"
#include "api/validate.h"

struct buf {
    char *data;
    size_t len, cap;
};

static int on_out(void *ctx, const void *data, size_t len) {
    struct buf *b = ctx;
    if (b->len + len > b->cap) {
        size_t cap = (b->len + len) * 2 + 64;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            return -1;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    const struct model_op *op = &model_ses.ops[data[0] % model_ses.n_ops];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct sp_err err;
    sp_err_clear(&err);
    json_t *params = NULL;
    if (form_params_parse(&model_ses, op, body, len, &params, &err) < 0) {
        if (err.code == NULL || params != NULL) {
            abort();
        }
        return 0;
    }
    if (validate_params(&model_ses, op, params, &err) == 0) {
        struct buf one = {0}, two = {0};
        if (query_serialize(&model_ses, op, params, on_out, &one, &err) < 0) {
            abort();
        }
        json_t *again = NULL;
        if (form_params_parse(&model_ses, op, one.data, one.len, &again, &err) < 0 ||
            !json_equal(params, again) ||
            query_serialize(&model_ses, op, again, on_out, &two, &err) < 0 || one.len != two.len ||
            memcmp(one.data, two.data, one.len) != 0) {
            abort();
        }
        json_decref(again);
        free(one.data);
        free(two.data);
    }
    json_decref(params);
    return 0;
}
