/* fuzz_recipients.c - the raw-message recipient counter and base64 prefix decoder. */
#include <stddef.h>
#include <stdint.h>

#include "api/recipients.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = recipients_count_message((const char *)data, size);
    /* Every counted mailbox needs at least one byte. */
    if (n > size) {
        __builtin_trap();
    }
    unsigned char out[4096];
    size_t m = recipients_b64_prefix((const char *)data, size, out, sizeof(out));
    if (m > sizeof(out) || m > size) {
        __builtin_trap();
    }
    (void)recipients_count_message((const char *)out, m);
    return 0;
}
