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

/* Parses text under the budget a body of its size gets; returns the value
 * (or NULL) and the budget's outcome. */
static json_t *parse(const char *text, struct membudget *b) {
    json_error_t je;
    membudget_begin(b, membudget_for_body(strlen(text)));
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    membudget_end(b);
    return j;
}

static void test_arithmetic(void) {
    CHECK(membudget_for_body(0) == MEMBUDGET_BASE_BYTES);
    CHECK(membudget_for_body(1000) == MEMBUDGET_BASE_BYTES + MEMBUDGET_BODY_FACTOR * 1000);
    CHECK(membudget_for_body(SIZE_MAX / 2) == SIZE_MAX);
    CHECK(membudget_for_body(SIZE_MAX) == SIZE_MAX);
}

/* 2 MB of tiny values: each kind is refused, and the refusal comes long
 * before the heap the whole body would take. */
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
        json_t *j = parse(text, &b);
        CHECK(j == NULL);
        CHECK(b.exceeded == 1);
        CHECK(b.peak <= b.limit);
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
    json_t *j = parse(text, &b);
    CHECK(j == NULL && b.exceeded == 1 && b.peak <= b.limit);
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

    /* A budget too small for anything refuses at once, and keeps refusing
     * once it has refused. */
    membudget_begin(&b, 8);
    CHECK(json_object() == NULL);
    CHECK(b.exceeded == 1 && b.used == 0);
    CHECK(membudget_end(&b) == 1);
    /* Closed: allocations are free again. */
    j = json_object();
    CHECK(j != NULL);
    json_decref(j);
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
