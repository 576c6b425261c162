/* heap.c - malloc_trim after large releases (see heap.h). */
#include "proxy/heap.h"

#include <malloc.h>

void heap_trim_after(size_t freed_bytes) {
    if (freed_bytes >= HEAP_TRIM_AFTER_BYTES) {
        malloc_trim(0);
    }
}
