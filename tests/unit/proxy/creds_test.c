/* creds_test - one set of credentials: redacted descriptions, an empty
 * token being none, and refcounts (run under ASan or valgrind to see each
 * set freed, and wiped, exactly once). */
#include <stdio.h>
#include <string.h>

#include "proxy/creds/creds.h"

#include "tests/unit/unit_check.h"

#define KEY_ID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLETOKEN"

static int streq(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* No secret or token appears in the text. */
static int no_secret(const char *msg) {
    return strstr(msg, SECRET) == NULL && strstr(msg, TOKEN) == NULL &&
           strstr(msg, "wJalr") == NULL;
}

static void test_describe(void) {
    char out[64];
    struct creds *c = creds_new("AKIAIOSFODNN7EXAMPLE", SECRET, NULL, 0, "test");
    CHECK(c != NULL);
    creds_describe(c, out, sizeof(out));
    CHECK(streq(out, "AKIA****************"));
    creds_unref(c);
    c = creds_new(KEY_ID, SECRET, TOKEN, 0, "test");
    creds_describe(c, out, sizeof(out));
    CHECK(streq(out, "AKID*******") && no_secret(out));
    /* A short buffer is cut, still NUL-terminated. */
    creds_describe(c, out, 6);
    CHECK(streq(out, "AKID*"));
    creds_unref(c);
    /* Very long ids: at most 16 stars, nothing after the 4th char shown. */
    c = creds_new("ASIAVERYLONGKEYIDENTIFIERXYZ0123456789", SECRET, NULL, 0, "test");
    creds_describe(c, out, sizeof(out));
    CHECK(strncmp(out, "ASIA", 4) == 0 && strspn(out + 4, "*") == strlen(out + 4) &&
          strlen(out) == 20);
    creds_unref(c);
    /* Four characters or fewer: nothing to mask. */
    c = creds_new("AKI", SECRET, NULL, 0, "test");
    creds_describe(c, out, sizeof(out));
    CHECK(streq(out, "AKI"));
    creds_unref(c);
}

static void test_refs(void) {
    struct creds *c = creds_new(KEY_ID, SECRET, "", 0, "test");
    CHECK(c != NULL && c->refs == 1 && c->session_token == NULL);
    CHECK(creds_ref(c) == c && c->refs == 2);
    creds_unref(c);
    CHECK(c->refs == 1 && streq(c->secret_access_key, SECRET)); /* still held */
    creds_unref(c);                                             /* freed and wiped */
    creds_unref(NULL);
}

int main(void) {
    test_describe();
    test_refs();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
