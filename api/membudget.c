/* membudget.c - jansson's allocations charged to an open budget (see
 * membudget.h). */
#include "api/membudget.h"

#include <jansson.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* glibc keeps one size word in front of every chunk; the usable size does
 * not count it. */
#define CHUNK_HEADER sizeof(size_t)

static struct membudget *open_budget;
static int installed;

static size_t cost_of(void *p) { return malloc_usable_size(p) + CHUNK_HEADER; }

static void *on_malloc(size_t n) {
    struct membudget *b = open_budget;
    void *p = malloc(n);
    if (b == NULL || p == NULL) {
        return p;
    }
    /* Never refused (membudget.h): passing the limit stops the input. */
    b->used += cost_of(p);
    if (b->used > b->peak) {
        b->peak = b->used;
    }
    if (b->used > b->limit) {
        b->exceeded = 1;
    }
    return p;
}

static void on_free(void *p) {
    struct membudget *b = open_budget;
    if (b != NULL && p != NULL) {
        size_t cost = cost_of(p);
        b->used = b->used > cost ? b->used - cost : 0;
    }
    free(p);
}

size_t membudget_for_body(size_t body_len) {
    if (body_len > (SIZE_MAX - MEMBUDGET_BASE_BYTES) / MEMBUDGET_BODY_FACTOR) {
        return SIZE_MAX;
    }
    return MEMBUDGET_BASE_BYTES + MEMBUDGET_BODY_FACTOR * body_len;
}

void membudget_begin(struct membudget *b, size_t limit) {
    if (!installed) {
        json_set_alloc_funcs(on_malloc, on_free);
        installed = 1;
    }
    b->limit = limit;
    b->used = 0;
    b->peak = 0;
    b->exceeded = 0;
    b->prev = open_budget;
    open_budget = b;
}

int membudget_over(void) { return open_budget != NULL && open_budget->exceeded; }

int membudget_end(struct membudget *b) {
    struct membudget **pp = &open_budget;
    while (*pp != NULL && *pp != b) {
        pp = &(*pp)->prev;
    }
    if (*pp == b) {
        *pp = b->prev; /* not the innermost after all: unlinked all the same */
    }
    b->prev = NULL;
    return b->exceeded;
}

struct membuf {
    const char *p;
    size_t left;
};

/* 1 KiB at a time, as jansson's own file reader does, so that the budget
 * is asked often. */
static size_t read_chunk(void *buffer, size_t buflen, void *data) {
    struct membuf *m = data;
    if (membudget_over()) {
        return (size_t)-1;
    }
    size_t n = buflen < 1024 ? buflen : 1024;
    n = n < m->left ? n : m->left;
    memcpy(buffer, m->p, n);
    m->p += n;
    m->left -= n;
    return n;
}

json_t *membudget_loadb(const char *buf, size_t len, size_t flags, json_error_t *err) {
    struct membuf m = {buf, len};
    return json_load_callback(read_chunk, &m, flags, err);
}
