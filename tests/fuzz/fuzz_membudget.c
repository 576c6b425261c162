/* fuzz_membudget - jansson's parser under a budget, read the way the proxy
 * reads a body (json_load_callback, a reader that stops once
 * membudget_over() says so).
 *
 * Input: byte 0 sets the budget (0 to 255 times 64 bytes, so the limit can
 * be passed at any point of a parse), the rest is a JSON document, handed
 * over in chunks. Checked, beyond "no crash, no leak, no UB" (jansson
 * aborts on an assertion if an allocation fails inside its lexer, which is
 * why allocations are never refused; ASan sees every block freed on the
 * failure paths):
 *   - once the budget is passed, the reader hands out nothing more and the
 *     parse fails, unless the whole document had been read (its end and the
 *     stop look alike to jansson; the proxy refuses it for the budget
 *     anyway);
 *   - a parse that stopped for its budget parses when the budget is lifted,
 *     unless the text is bad anyway, and what comes back frees to a charge
 *     of zero. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/membudget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct source {
    const char *p;
    size_t len, pos;
    int stopped; /* the reader said "no more" for the budget */
};

static size_t read_chunk(void *buffer, size_t buflen, void *arg) {
    struct source *s = arg;
    if (membudget_over()) {
        s->stopped = 1;
        return (size_t)-1;
    }
    size_t n = s->len - s->pos < buflen ? s->len - s->pos : buflen;
    memcpy(buffer, s->p + s->pos, n);
    s->pos += n;
    return n;
}

static json_t *parse(const char *text, size_t len, size_t limit, struct membudget *b,
                     struct source *src) {
    json_error_t je;
    *src = (struct source){text, len, 0, 0};
    membudget_begin(b, limit);
    json_t *j = json_load_callback(read_chunk, src, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    membudget_end(b);
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    struct membudget b;
    struct source src;
    json_t *j = parse((const char *)data + 1, size - 1, (size_t)data[0] * 64, &b, &src);
    if (src.stopped && (!b.exceeded || (j != NULL && src.pos < src.len))) {
        abort(); /* stopped for nothing, or a half-read document came back */
    }
    json_decref(j);
    if (!b.exceeded) {
        return 0;
    }
    j = parse((const char *)data + 1, size - 1, SIZE_MAX, &b, &src);
    json_decref(j);
    if (b.exceeded || src.stopped) {
        abort();
    }
    return 0;
}
