/* fuzz_request - inbound JSON call -> validate_params -> query_serialize.
 *
 * Input: a JSON document, optionally followed by one byte. The operation is
 * the document's "Action" when it names one, else the byte after the JSON
 * picks one of the 71 (so bodies without Action still reach every input
 * shape). Checked, beyond "no crash, no leak, no UB":
 *   - a validation message is valid UTF-8 and fits sp_err;
 *   - a validated call always serializes, and the body holds only
 *     unreserved bytes, %XX, '&' and '=';
 *   - unvalidated parameters never crash the serializer either;
 *   - a JSON real's Python repr reads back as the same double. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check_sink {
    size_t len;
    int pending_hex; /* hex digits still owed after a '%' */
};

static int is_body_byte(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~' || c == '%' || c == '&' || c == '=' || c == '+';
}

/* Discards the body, checking what the wire may carry. */
static int on_body(void *ctx, const void *data, size_t len) {
    struct check_sink *s = ctx;
    const unsigned char *p = data;
    if (len == 0 || len > QUERY_CHUNK) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        if (s->pending_hex > 0) {
            if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'F'))) {
                abort();
            }
            s->pending_hex--;
        } else if (!is_body_byte(p[i])) {
            abort();
        } else if (p[i] == '%') {
            s->pending_hex = 2;
        }
    }
    s->len += len;
    return 0;
}

static void check_double(const json_t *v) {
    char out[QUERY_SCALAR_MAX];
    double d = json_real_value(v);
    int n = query_format_double(d, out, sizeof(out));
    if (n <= 0 || (size_t)n != strlen(out) || strtod(out, NULL) != d) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t jerr;
    struct sp_err err;
    json_t *root =
        json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
    if (root == NULL) {
        return 0;
    }
    if (json_is_real(root)) {
        check_double(root);
    }
    const struct model_op *op = NULL;
    json_t *action = json_object_get(root, "Action");
    if (json_is_string(action)) {
        op = model_find_op(&model_ses, json_string_value(action), json_string_length(action));
        json_object_del(root, "Action");
    } else {
        size_t used = jerr.position;
        unsigned pick = used < size ? data[used] : 0;
        op = &model_ses.ops[pick % model_ses.n_ops];
    }
    if (op != NULL) {
        struct check_sink sink = {0, 0};
        sp_err_clear(&err);
        int valid = validate_params(&model_ses, op, root, &err) == 0;
        if (!valid) {
            json_t *msg = json_string(err.msg); /* NULL when not UTF-8 */
            if (msg == NULL || strlen(err.msg) >= SP_ERR_MSG_LEN || err.code == NULL) {
                abort();
            }
            json_decref(msg);
        }
        int serialized = query_serialize(&model_ses, op, root, on_body, &sink, &err) == 0;
        if (valid && (!serialized || sink.pending_hex != 0)) {
            abort();
        }
    }
    json_decref(root);
    return 0;
}
