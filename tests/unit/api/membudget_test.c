/* membudget_test - jansson's allocations under a budget: the bodies that
 * cost far more heap than their size are refused early, the biggest
 * legitimate one (a single long string) fits the budget its size gets, and
 * opening, nesting and closing budgets keep the accounting straight. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/membudget.h"

#include "tests/unit/unit_check.h"

/* n bytes of text: prefix, then unit repeated (separated by sep), then
 * suffix. */
static char *repeat(const char *prefix, const char *unit, const char *sep, const char *suffix,
                    size_t n) {
    char *s = malloc(n + 1);
    size_t len = strlen(prefix), ul = strlen(unit), sl = strlen(sep), tl = strlen(suffix);
    memcpy(s, prefix, len);
    int first = 1;
    while (len + (first ? 0 : sl) + ul + tl <= n) {
        if (!first) {
            memcpy(s + len, sep, sl);
            len += sl;
        }
        memcpy(s + len, unit, ul);
        len += ul;
        first = 0;
    }
    memcpy(s + len, suffix, tl);
    len += tl;
    s[len] = '\0';
    return s;
}

/* The proxy's way of reading a body: jansson pulls chunks, and the reader
 * gives no more once the budget is passed. */
struct source {
    const char *p;
    size_t len, pos;
};

static size_t read_chunk(void *buffer, size_t buflen, void *arg) {
    struct source *s = arg;
    if (membudget_over()) {
        return (size_t)-1;
    }
    size_t n = s->len - s->pos < buflen ? s->len - s->pos : buflen;
    memcpy(buffer, s->p + s->pos, n);
    s->pos += n;
    return n;
}

/* Parses text under the budget a body of its size gets; returns the value
 * (or NULL), the budget's outcome and how much of the text was read. */
static json_t *parse_read(const char *text, struct membudget *b, size_t *read) {
    json_error_t je;
    struct source src = {text, strlen(text), 0};
    membudget_begin(b, membudget_for_body(src.len));
    json_t *j = json_load_callback(read_chunk, &src, JSON_REJECT_DUPLICATES, &je);
    membudget_end(b);
    *read = src.pos;
    return j;
}

static json_t *parse(const char *text, struct membudget *b) {
    size_t read;
    return parse_read(text, b, &read);
}

static void test_arithmetic(void) {
    CHECK(membudget_for_body(0) == MEMBUDGET_BASE_BYTES);
    CHECK(membudget_for_body(1000) == MEMBUDGET_BASE_BYTES + MEMBUDGET_BODY_FACTOR * 1000);
    CHECK(membudget_for_body(SIZE_MAX / 2) == SIZE_MAX);
    CHECK(membudget_for_body(SIZE_MAX) == SIZE_MAX);
}

/* 2 MB of tiny values: each kind is refused, and the refusal comes long
 * before the heap the whole body would take: the input stops a chunk (1 KiB)
 * after the budget is passed, a fraction of the way in. The charge passes
 * the limit by what that chunk built, or by one growth of an array's table
 * (twice its elements' pointers, a fraction of what the elements cost). */
static void test_amplification(void) {
    const size_t n = 2u << 20;
    struct {
        const char *prefix, *unit, *sep, *suffix;
    } cases[] = {
        {"[", "{}", ",", "]"},
        {"[", "[]", ",", "]"},
        {"[", "1", ",", "]"},
        {"[", "\"\"", ",", "]"},
        {"{\"X\":[", "{\"a\":[]}", ",", "]}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = repeat(cases[i].prefix, cases[i].unit, cases[i].sep, cases[i].suffix, n);
        struct membudget b;
        size_t read;
        json_t *j = parse_read(text, &b, &read);
        CHECK(j == NULL);
        CHECK(b.exceeded == 1);
        CHECK(read < strlen(text) / 2);
        CHECK(b.peak > b.limit && b.peak - b.limit < b.limit / 2);
        json_decref(j);
        free(text);
    }
    /* An object of many tiny keys (its hash table grows by doubling). */
    char *text = malloc(n + 32);
    size_t len = 0;
    text[len++] = '{';
    for (unsigned k = 0; len + 16 < n; k++) {
        len += (size_t)sprintf(text + len, "%s\"%x\":0", k ? "," : "", k);
    }
    text[len++] = '}';
    text[len] = '\0';
    struct membudget b;
    size_t read;
    json_t *j = parse_read(text, &b, &read);
    CHECK(j == NULL && b.exceeded == 1 && read < len);
    free(text);
}

/* The largest honest body: one long string, at the worst length for the
 * token buffer's doubling (just over a power of two). */
static void test_long_string_fits(void) {
    size_t slen = (4u << 20) + 1;
    char *text = malloc(slen + 64);
    size_t len = (size_t)sprintf(text, "{\"RawMessage\":{\"Data\":\"");
    memset(text + len, 'A', slen);
    len += slen;
    memcpy(text + len, "\"}}", 4);
    struct membudget b;
    json_t *j = parse(text, &b);
    CHECK(j != NULL && b.exceeded == 0);
    CHECK(b.peak >= slen && b.peak <= b.limit);
    const char *data = json_string_value(json_object_get(json_object_get(j, "RawMessage"), "Data"));
    CHECK(data != NULL && strlen(data) == slen);
    json_decref(j);
    free(text);
}

/* A small call costs little, and every byte it held is given back. */
static void test_accounting(void) {
    const char *text = "{\"Action\":\"SendEmail\",\"Source\":\"a@example.com\","
                       "\"Destination\":{\"ToAddresses\":[\"b@example.com\",\"c@example.com\"]}}";
    struct membudget b;
    membudget_begin(&b, membudget_for_body(strlen(text)));
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j != NULL && b.used > 0 && b.used <= b.peak && b.peak < 4096);
    json_decref(j);
    CHECK(b.used == 0);
    CHECK(membudget_end(&b) == 0);

    /* A value built before the budget and freed inside it gives back
     * nothing below zero; one built inside and freed after is not charged
     * after the budget closed. */
    json_t *before = json_pack("{s:s}", "k", "a value made before the budget opened");
    membudget_begin(&b, 1u << 20);
    json_t *inside = json_string("made inside");
    size_t charged = b.used;
    CHECK(charged > 0);
    json_decref(before);
    CHECK(b.used <= charged);
    CHECK(membudget_end(&b) == 0);
    json_decref(inside);
    CHECK(b.prev == NULL);

    /* Allocations are never refused (jansson's lexer aborts when one
     * is): a budget too small for anything is passed at once, and says so
     * until it is closed. */
    membudget_begin(&b, 8);
    j = json_object();
    CHECK(j != NULL && b.exceeded == 1 && membudget_over() == 1);
    json_decref(j);
    CHECK(b.used == 0 && membudget_over() == 1);
    CHECK(membudget_end(&b) == 1);
    CHECK(membudget_over() == 0);

    /* Passed in the middle of a token (a string, a number): the lexer is
     * stopped by its input, never by an allocation, so it fails cleanly. */
    char token[3000];
    memset(token, 'A', sizeof(token));
    token[0] = '"';
    memcpy(token + sizeof(token) - 12, "0123456789e5", 12);
    token[sizeof(token) - 1] = '\0';
    for (size_t limit = 0; limit < 4096; limit += 64) {
        struct source src = {token, strlen(token), 0};
        membudget_begin(&b, limit);
        j = json_load_callback(read_chunk, &src, JSON_DECODE_ANY, NULL);
        CHECK(j == NULL);
        membudget_end(&b);
    }
}

/* Budgets stack: the innermost is charged; closing one further out
 * unlinks it without disturbing the inner one. */
static void test_nesting(void) {
    struct membudget outer, inner;
    membudget_begin(&outer, 1u << 20);
    membudget_begin(&inner, 1u << 20);
    json_t *j = json_string("charged to the inner budget");
    CHECK(inner.used > 0 && outer.used == 0);
    CHECK(membudget_end(&outer) == 0);
    json_t *k = json_string("still the inner one");
    CHECK(outer.used == 0);
    size_t before = inner.used;
    CHECK(before > 0);
    json_decref(k);
    CHECK(inner.used < before);
    CHECK(membudget_end(&inner) == 0);
    json_decref(j);
}

int main(void) {
    /* A value from before the hooks were installed, freed after. */
    json_t *early = json_string("allocated with plain malloc");
    test_arithmetic();
    test_amplification();
    test_long_string_fits();
    test_accounting();
    test_nesting();
    json_decref(early);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
