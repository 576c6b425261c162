/* fuzz_membudget - jansson's parser with its allocations under a budget.
 *
 * Input: byte 0 sets the budget (0 to 255 times 64 bytes, so every point of
 * a parse can be the one where an allocation is refused), the rest is a
 * JSON document. Checked, beyond "no crash, no leak, no UB" (ASan sees
 * every block jansson frees on its failure paths):
 *   - the charge never passes the limit;
 *   - a refused allocation fails the parse (nothing half-built comes back);
 *   - a parse that fails for memory parses when the budget is lifted,
 *     unless the text is invalid anyway, and what then comes back is freed
 *     to a charge of zero under a budget of its own. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/membudget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    size_t limit = (size_t)data[0] * 64;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    json_error_t je;
    struct membudget b;
    membudget_begin(&b, limit);
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    int exceeded = membudget_end(&b);
    if (b.peak > b.limit || (exceeded && j != NULL)) {
        abort();
    }
    json_decref(j);
    if (!exceeded) {
        return 0;
    }
    /* The same text without a limit: the budget made the only difference,
     * or the text is bad. */
    membudget_begin(&b, membudget_for_body(len));
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    json_decref(j);
    if (membudget_end(&b) || b.used != 0) {
        abort();
    }
    return 0;
}
