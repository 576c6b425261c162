/* heap.h - handing freed heap back to the system after a large request.
 *
 * glibc keeps freed memory for reuse; after a 10 MB message (or a refused
 * body of that size) the proxy would stay tens of MB larger for good, and
 * a sidecar's memory limit counts what it keeps. malloc_trim gives back
 * what is free; it walks the heap, so it runs only after large releases.
 * Callers free first, then call heap_trim_after with what they freed. */
#ifndef SP_HEAP_H
#define SP_HEAP_H

#include <stddef.h>

/* Releases smaller than this are left to the allocator. */
#define HEAP_TRIM_AFTER_BYTES ((size_t)1 << 20)

/* Gives free heap back to the system when freed_bytes reaches
 * HEAP_TRIM_AFTER_BYTES. */
void heap_trim_after(size_t freed_bytes);

#endif
