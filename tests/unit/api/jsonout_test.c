/* jsonout_test.c - unit tests for api/jsonout: reals in the shortest form
 * that reads back (Python's repr), everything else byte for byte what
 * jansson's json_dumps(JSON_COMPACT) writes; depth and sink failures.
 * tests/integ/test_jsonout_oracle.py holds it to Python over many doubles.
 *
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include "api/jsonout.h"

#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit_check.h"

/* jsonout's text for v, compared with want; v is released. */
static void expect(json_t *v, const char *want) {
    char *got = jsonout_dumps(v);
    if (got == NULL || strcmp(got, want) != 0) {
        failed++;
        fprintf(stderr, "jsonout: want %s got %s\n", want, got != NULL ? got : "(null)");
    } else {
        passed++;
    }
    free(got);
    json_decref(v);
}

static void test_reals(void) {
    static const struct {
        double d;
        const char *want;
    } vec[] = {
        {862.039, "862.039"}, /* SES's SentLast24Hours; json_dumps: 862.03899999999999 */
        {200.0, "200.0"},
        {1.0, "1.0"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {1e16, "1e+16"},
        {1234567890123456.0, "1234567890123456.0"},
        {1e-5, "1e-05"},
        {0.0001, "0.0001"},
        {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {-14.5, "-14.5"},
        {3.0e22, "3e+22"},
        {123456789.125, "123456789.125"},
    };
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        expect(json_real(vec[i].d), vec[i].want);
    }
}

static void test_integers(void) {
    expect(json_integer(0), "0");
    expect(json_integer(-42), "-42");
    expect(json_integer(LLONG_MAX), "9223372036854775807");
    expect(json_integer(LLONG_MIN), "-9223372036854775808");
    /* integers stay integers next to reals */
    expect(json_pack("{s:i, s:f}", "Max24HourSend", 200, "MaxSendRate", 14.0),
           "{\"Max24HourSend\":200,\"MaxSendRate\":14.0}");
}

/* jsonout and json_dumps agree byte for byte on a document without reals. */
static void same_as_jansson(json_t *v) {
    char *mine = jsonout_dumps(v);
    char *theirs = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (mine == NULL || theirs == NULL || strcmp(mine, theirs) != 0) {
        failed++;
        fprintf(stderr, "jsonout %s, json_dumps %s\n", mine != NULL ? mine : "(null)",
                theirs != NULL ? theirs : "(null)");
    } else {
        passed++;
    }
    free(mine);
    free(theirs);
    json_decref(v);
}

static void test_like_jansson(void) {
    char all[40];
    for (int i = 0; i < 32; i++) {
        all[i] = (char)(i + 1 == 32 ? ' ' : i + 1);
    }
    memcpy(all + 32, "\"\\/\x7f\xc3\xa9", 7);
    all[39] = '\0';
    same_as_jansson(json_string(all));
    same_as_jansson(json_stringn("a\0b", 3)); /* a NUL inside a string */
    same_as_jansson(json_string("\xe2\x80\xa8 \xf0\x9f\x93\xa7 x"));
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    same_as_jansson(json_true());
    same_as_jansson(json_false());
    same_as_jansson(json_null());
    /* members in insertion order, keys escaped like values */
    same_as_jansson(json_pack("{s:s, s:[i, b, n, {}], s:{s:s}, s:[]}", "z\n", "1", "a", -1, 1,
                              "m\"", "k", "\t", "0"));
    json_t *o = json_object();
    json_object_setn_new(o, "k\0ey", 4, json_integer(7)); /* a NUL inside a key */
    json_object_set_new(o, "b", json_string("2"));
    json_object_set_new(o, "a", json_string("1"));
    same_as_jansson(o);
}

static int sink_count(void *ctx, const void *data, size_t len) {
    (void)data;
    size_t *total = ctx;
    *total += len;
    return 0;
}

static int sink_fail(void *ctx, const void *data, size_t len) {
    (void)ctx;
    (void)data;
    (void)len;
    return -1;
}

static void test_limits(void) {
    /* A container JSONOUT_MAX_DEPTH levels below the top is written; one
     * more level is refused, without recursing further. */
    json_t *root = json_array();
    json_t *inner = root;
    for (int i = 0; i < JSONOUT_MAX_DEPTH + 1; i++) {
        json_t *a = json_array();
        json_array_append_new(inner, a);
        inner = a;
    }
    size_t total = 0;
    CHECK(jsonout_dump(root, sink_count, &total) < 0);
    json_t *shallow = json_array_get(root, 0);
    total = 0;
    CHECK(jsonout_dump(shallow, sink_count, &total) == 0 &&
          total == 2 * (size_t)(JSONOUT_MAX_DEPTH + 1));
    json_decref(root);

    /* a large document goes out in batches and is whole */
    json_t *big = json_array();
    for (int i = 0; i < 20000; i++) {
        json_array_append_new(big, json_real(i + 0.5));
    }
    char *s = jsonout_dumps(big);
    json_t *back = s != NULL ? json_loads(s, 0, NULL) : NULL;
    CHECK(back != NULL && json_equal(back, big));
    json_decref(back);
    free(s);

    CHECK(jsonout_dump(big, sink_fail, NULL) < 0);
    CHECK(jsonout_dump(big, NULL, NULL) < 0);
    CHECK(jsonout_dump(NULL, sink_count, &total) < 0);
    CHECK(jsonout_dumps(NULL) == NULL);
    json_decref(big);
}

int main(void) {
    test_reals();
    test_integers();
    test_like_jansson();
    test_limits();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
