/* fuzz_xmljson.c - libFuzzer target for api/xmljson.
 *
 * Input: the first byte picks the operation (index mod the number of SES
 * operations); the rest is the response body. The body is parsed twice, in
 * one piece by a new parser and in three chunks cut where the input says by
 * one parser reset after the previous input (as the proxy reuses its spare),
 * and the two must agree (same success or failure, equal JSON): neither
 * streaming nor whatever the last document left may change the answer.
 * Then the body, as text, becomes the Message of an error document written
 * by errdoc_query_xml, which must always read back as a well-formed
 * <ErrorResponse> with the same Code. Any disagreement aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/errdoc.h"
#include "api/model.h"
#include "api/xmljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct growbuf {
    char *p;
    size_t len, cap;
};

static int on_sink(void *ctx, const void *data, size_t len) {
    struct growbuf *b = ctx;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

static json_t *parse_in_chunks(const struct model_op *op, const char *body, size_t n, size_t cut1,
                               size_t cut2, int *is_error) {
    struct sp_err err;
    json_t *out = NULL;
    static struct xmljson *spare; /* the last input's parser, kept (reachable) */
    struct xmljson *x = spare;
    spare = NULL;
    if (x == NULL || xmljson_reset(x, &model_ses, op) < 0) {
        xmljson_free(x);
        x = xmljson_new(&model_ses, op);
    }
    if (x == NULL) {
        abort();
    }
    int rc = xmljson_feed(x, body, cut1, 0, &err);
    if (rc == 0) {
        rc = xmljson_feed(x, body + cut1, cut2 - cut1, 0, &err);
    }
    if (rc == 0) {
        rc = xmljson_feed(x, body + cut2, n - cut2, 1, &err);
    }
    if (rc == 0) {
        rc = xmljson_finish(x, &out, is_error, &err);
    }
    spare = x;
    return rc == 0 ? out : NULL;
}

static void check_error_document(const struct model_op *op, const char *body, size_t n) {
    /* The message is the body up to its first NUL, as a C string would be. */
    char *msg = malloc(n + 1);
    if (msg == NULL) {
        abort();
    }
    memcpy(msg, body, n);
    msg[n] = '\0';
    struct growbuf b = {0};
    if (errdoc_query_xml(n % 2 ? "Receiver" : NULL, op->name, msg, "req-fuzz", on_sink, &b) < 0) {
        abort();
    }
    struct sp_err err;
    json_t *out = NULL;
    int is_error = 0;
    if (xmljson_parse(NULL, NULL, b.p, b.len, &out, &is_error, &err) < 0 || !is_error) {
        abort(); /* what we write must always be a well-formed ErrorResponse */
    }
    json_t *error = json_object_get(out, "Error");
    const char *code = json_string_value(json_object_get(error, "Code"));
    json_t *message = json_object_get(error, "Message");
    if (code == NULL || strcmp(code, op->name) != 0 || (msg[0] == '\0') != json_is_null(message)) {
        abort();
    }
    json_decref(out);
    free(b.p);
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const struct model_op *op = &model_ses.ops[data[0] % model_ses.n_ops];
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    size_t cut1 = n > 0 ? (data[0] * 131u + n * 7u) % (n + 1) : 0;
    size_t cut2 = cut1 + (n - cut1) / 2;

    struct sp_err err;
    json_t *whole = NULL;
    int e1 = -1, e2 = -1;
    int rc = xmljson_parse(&model_ses, op, body, n, &whole, &e1, &err);
    json_t *chunked = parse_in_chunks(op, body, n, cut1, cut2, &e2);
    if ((rc == 0) != (chunked != NULL)) {
        abort();
    }
    if (rc == 0 && (!json_equal(whole, chunked) || e1 != e2)) {
        abort();
    }
    if (rc == 0) {
        /* the answer always serializes (valid UTF-8, finite numbers) */
        char *s = json_dumps(whole, JSON_SORT_KEYS | JSON_COMPACT);
        if (s == NULL) {
            abort();
        }
        free(s);
    }
    json_decref(whole);
    json_decref(chunked);

    check_error_document(op, body, n);
    return 0;
}
