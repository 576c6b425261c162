/* fuzz_outbox_record - the outbox's stored records (outbox_record.h) and
 * the request fields that lead to them (prefer.h).
 *
 * Input: byte 0 picks the reader (mod 3: a request record, a status
 * record, the Prefer and Idempotency-Key values), the rest is copied to a
 * heap block of exactly its size so any overread trips ASan. Checked
 * besides not crashing: what decodes re-encodes to a record that decodes
 * to the same fields (requests) or to the same text again (statuses); an
 * Idempotency-Key read is 1-255 printable ASCII characters. */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http/prefer.h"
#include "proxy/outbox/outbox_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_request(const struct outbox_request *a, const struct outbox_request *b) {
    if (strcmp(a->api, b->api) != 0 || strcmp(a->op, b->op) != 0 ||
        strcmp(a->method, b->method) != 0 || strcmp(a->path, b->path) != 0 ||
        strcmp(a->content_type, b->content_type) != 0 || a->n_headers != b->n_headers ||
        a->body_len != b->body_len || a->recipients != b->recipients ||
        (a->body_len > 0 && memcmp(a->body, b->body, a->body_len) != 0)) {
        return 0;
    }
    for (size_t i = 0; i < a->n_headers; i++) {
        const struct outbox_header *x = &a->headers[i], *y = &b->headers[i];
        if (x->name_len != y->name_len || x->value_len != y->value_len ||
            memcmp(x->name, y->name, x->name_len) != 0 ||
            memcmp(x->value, y->value, x->value_len) != 0) {
            return 0;
        }
    }
    return 1;
}

static void request(const uint8_t *buf, size_t len) {
    struct outbox_request r, back;
    struct sp_err err;
    sp_err_clear(&err);
    if (outbox_request_decode(buf, len, &r, &err) < 0) {
        if (err.code == NULL) {
            abort();
        }
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || outbox_request_encode(&r, b) < 0) {
        abort();
    }
    size_t n = evbuffer_get_length(b);
    uint8_t *enc = malloc(n);
    evbuffer_remove(b, enc, n);
    evbuffer_free(b);
    if (outbox_request_decode(enc, n, &back, &err) < 0 || !same_request(&r, &back)) {
        abort();
    }
    free(enc);
}

static void status(const uint8_t *buf, size_t len) {
    struct outbox_status st, back;
    struct sp_err err;
    sp_err_clear(&err);
    if (outbox_status_decode((const char *)buf, len, &st, &err) < 0) {
        return;
    }
    char *a = outbox_status_encode(&st);
    if (a == NULL || outbox_status_decode(a, strlen(a), &back, &err) < 0) {
        abort();
    }
    char *b = outbox_status_encode(&back);
    if (b == NULL || strcmp(a, b) != 0) {
        abort();
    }
    free(a);
    free(b);
    outbox_status_clear(&st);
    outbox_status_clear(&back);
}

static void fields(const uint8_t *buf, size_t len) {
    (void)prefer_has((const char *)buf, len, "respond-async");
    char key[PREFER_KEY_MAX + 1];
    if (prefer_idempotency_key((const char *)buf, len, key) == 0) {
        size_t n = strlen(key);
        if (n == 0 || n > PREFER_KEY_MAX) {
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if (key[i] < 0x20 || key[i] > 0x7e) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    size_t len = size - 1;
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, len);
    switch (data[0] % 3) {
    case 0:
        request(buf, len);
        break;
    case 1:
        status(buf, len);
        break;
    default:
        fields(buf, len);
        break;
    }
    free(buf);
    return 0;
}
