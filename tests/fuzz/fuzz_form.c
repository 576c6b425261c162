/* fuzz_form - the x-www-form-urlencoded reader (SDK pass-through mode).
 *
 * Input: byte 0 picks the key (one of the keys the proxy looks up, or the
 * next k bytes of the input), byte 1 the output capacity, the rest is the
 * body, handed over in a buffer of exactly its size so any overread trips
 * ASan. Checked: no crash; outputs are NUL-terminated and within cap; a body
 * form_check accepts never makes form_get report malformed escapes; every
 * pair of such a body decodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
    "Action",          "Version",    "Source", "Destination.ToAddresses.member.1",
    "RawMessage.Data", "X-Amz-Date", "a b",    "",
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char key[64], out[300];
    struct sp_err err;
    size_t n;
    if (size < 2) {
        return 0;
    }
    size_t pick = data[0], cap = 1 + (size_t)data[1] % sizeof(out);
    data += 2;
    size -= 2;
    if (pick < 128) {
        strcpy(key, keys[pick % N_KEYS]);
    } else {
        size_t k = (pick - 128) % 16;
        k = k < size ? k : size;
        memcpy(key, data, k);
        key[k] = '\0'; /* keys with a NUL simply end there */
        data += k;
        size -= k;
    }
    char *body = malloc(size > 0 ? size : 1);
    if (body == NULL) {
        return 0;
    }
    memcpy(body, data, size);

    int well_formed = form_check(body, size, &err) == 0;
    int r = form_get(body, size, key, out, cap, &n, &err);
    if (r == 1 && (n >= cap || out[n] != '\0')) {
        abort();
    }
    if (r == -1 && (err.code == NULL || out[0] != '\0')) {
        abort();
    }
    if (well_formed && r == -1 && strstr(err.msg, "escape") != NULL) {
        abort();
    }
    struct form_cursor c;
    struct form_pair p;
    form_cursor_init(&c, body, size);
    while (form_next(&c, &p)) {
        if (p.key < body || p.key + p.key_len > body + size || p.value < body ||
            p.value + p.value_len > body + size) {
            abort();
        }
        int dk = form_decode(p.key, p.key_len, out, sizeof(out), &n, &err);
        int dv = form_decode(p.value, p.value_len, out, sizeof(out), &n, &err);
        if (well_formed &&
            ((dk < 0 && p.key_len < sizeof(out)) || (dv < 0 && p.value_len < sizeof(out)))) {
            abort();
        }
        if (form_has_prefix(p.key, p.key_len, key, strlen(key), &err) < 0 && well_formed) {
            abort();
        }
    }
    free(body);
    return 0;
}
