/* membudget.h - a bound on what one parse may allocate.
 *
 * A JSON body is small on the wire and large in memory: "[{},{},...]" costs
 * jansson about 230 bytes of heap for every 3 bytes of input, so a 2 MB body
 * would take 160 MB and seconds to build. While a budget is open, every
 * allocation jansson makes is charged to it, and once the charge passes the
 * limit the parse's input stops: the reader handed to json_load_callback
 * asks membudget_over() before each chunk and answers "read error" (-1)
 * when it says so. jansson then fails as at a premature end of input, and
 * the caller answers 413 at once.
 *
 * Allocations themselves never fail: jansson's lexer does not survive a
 * failed allocation (it drops the byte it meant to keep, then asserts,
 * aborting the process). The price is that a parse may pass its limit by
 * what one chunk of input (jansson reads 1 KiB at a time) builds, about
 * 100 KB of the smallest values at most, or by one growth of the buffer
 * that holds the token being read (twice the token, which is bounded by
 * the body).
 *
 * jansson's allocator is process-wide (json_set_alloc_funcs), so the hooks
 * are installed once, by the first membudget_begin, and stay. They are
 * plain malloc and free while no budget is open. A block's cost is learnt
 * from malloc_usable_size (plus the allocator's chunk header), not from a
 * header of our own, so a block allocated before the hooks were installed
 * is freed correctly by them: installing is safe at any moment.
 *
 * One budget is open at a time (the proxy runs one thread, and a parse
 * never waits on the loop); membudget_begin while one is open stacks the
 * new one, and only the innermost is charged. A block allocated outside the
 * scope and freed inside it gives back nothing below zero.
 *
 * Pure: no I/O; the only state is the open budget's pointer. Not
 * thread-safe. */
#ifndef SP_MEMBUDGET_H
#define SP_MEMBUDGET_H

#include <jansson.h>
#include <stddef.h>

/* What a parse of a body of n bytes may hold at once: a fixed allowance for
 * the small values every call has, plus a multiple of the body. The
 * multiple covers the largest legitimate case, one big string (a
 * base64 message): jansson grows its token buffer by doubling (up to 2x the
 * string) and then copies the string out of it (1x more). */
#define MEMBUDGET_BASE_BYTES ((size_t)1 << 20)
#define MEMBUDGET_BODY_FACTOR 4

struct membudget {
    size_t limit;           /* past this, the parse's input stops */
    size_t used;            /* outstanding now (charged, not yet freed) */
    size_t peak;            /* the most outstanding at once so far */
    int exceeded;           /* the charge passed the limit: the parse failed for it */
    struct membudget *prev; /* private: the budget open before this one */
};

/* MEMBUDGET_BASE_BYTES + MEMBUDGET_BODY_FACTOR * body_len, saturating. */
size_t membudget_for_body(size_t body_len);

/* Opens b with the given limit: jansson's allocations are charged to it
 * until membudget_end(b). b is the caller's and must stay alive until then. */
void membudget_begin(struct membudget *b, size_t limit);

/* 1 when the innermost open budget has been passed: a reader must then
 * hand jansson no more input (return (size_t)-1). 0 when it has not, or
 * when no budget is open. */
int membudget_over(void);

/* Closes b (normally the innermost open budget; one further out is
 * unlinked all the same). Returns b->exceeded. */
int membudget_end(struct membudget *b);

/* json_loadb for a body held in memory, read through the budget's check:
 * input stops (and NULL comes back, err saying "premature end") once the
 * open budget is passed. Without an open budget, json_loadb's result. */
json_t *membudget_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

#endif
