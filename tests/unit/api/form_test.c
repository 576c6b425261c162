/* form_test - the x-www-form-urlencoded reader of the pass-through mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/form.h"

#include "tests/unit/unit_check.h"

/* form_get over a body that is NOT NUL-terminated: a heap copy of exactly
 * len bytes, so ASan catches any read past the end. */
static int get(const char *body, const char *key, char *out, size_t cap, size_t *n,
               struct sp_err *err) {
    size_t len = strlen(body);
    char *copy = malloc(len > 0 ? len : 1);
    memcpy(copy, body, len);
    int r = form_get(copy, len, key, out, cap, n, err);
    free(copy);
    return r;
}

static void test_get(void) {
    const char *body = "Action=SendEmail&Version=2010-12-01&Source=Zo%C3%AB%20%3Cz%2Bt%40x.com%3E"
                       "&Message.Subject.Data=a+b%2Bc&Empty=&NoEq&Dup=1&Dup=2";
    char out[128];
    size_t n = 99;
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(get(body, "Action", out, sizeof(out), &n, &err) == 1 && strcmp(out, "SendEmail") == 0 &&
          n == 9);
    CHECK(get(body, "Version", out, sizeof(out), &n, &err) == 1 && strcmp(out, "2010-12-01") == 0);
    CHECK(get(body, "Source", out, sizeof(out), &n, &err) == 1 &&
          strcmp(out, "Zo\xc3\xab <z+t@x.com>") == 0);
    /* '+' is a space, %2B a plus. */
    CHECK(get(body, "Message.Subject.Data", out, sizeof(out), &n, &err) == 1 &&
          strcmp(out, "a b+c") == 0);
    CHECK(get(body, "Empty", out, sizeof(out), &n, &err) == 1 && n == 0 && out[0] == '\0');
    CHECK(get(body, "NoEq", out, sizeof(out), &n, &err) == 1 && n == 0);
    CHECK(get(body, "Dup", out, sizeof(out), &n, &err) == 1 && strcmp(out, "1") == 0);
    CHECK(get(body, "Missing", out, sizeof(out), &n, &err) == 0 && out[0] == '\0' && n == 0);
    CHECK(get(body, "Act", out, sizeof(out), &n, &err) == 0);
    CHECK(get(body, "Actions", out, sizeof(out), &n, &err) == 0);
    CHECK(get("", "Action", out, sizeof(out), &n, &err) == 0);
    CHECK(get("&&&", "Action", out, sizeof(out), &n, &err) == 0);
    CHECK(get("&&Action=X&&", "Action", out, sizeof(out), &n, &err) == 1 && strcmp(out, "X") == 0);
    /* Keys are compared after decoding, in either hex case. */
    CHECK(get("%41ction=Y", "Action", out, sizeof(out), &n, &err) == 1 && strcmp(out, "Y") == 0);
    CHECK(get("A%63tion=Y", "Action", out, sizeof(out), &n, &err) == 1);
    CHECK(get("a+b=%2f%2F", "a b", out, sizeof(out), &n, &err) == 1 && strcmp(out, "//") == 0);
    /* '=' inside a value. */
    CHECK(get("k=a=b", "k", out, sizeof(out), &n, &err) == 1 && strcmp(out, "a=b") == 0);
    /* NUL bytes decode and are counted. */
    CHECK(get("k=a%00b", "k", out, sizeof(out), &n, &err) == 1 && n == 3 && out[1] == '\0');
    CHECK(form_get(NULL, 0, "k", out, sizeof(out), &n, &err) == 0);
}

static void test_malformed(void) {
    static const char *const bad[] = {"k=%", "k=%4", "k=%G1",  "k=%1G",     "k=a%",
                                      "%=1", "%4=1", "k=%%41", "x=%zz&k=1", "k%2=1"};
    char out[64];
    size_t n;
    struct sp_err err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_err_clear(&err);
        out[0] = 'X';
        int r = get(bad[i], "k", out, sizeof(out), &n, &err);
        if (r != -1 || err.code == NULL || strcmp(err.code, "MalformedRequest") != 0 ||
            out[0] != '\0') {
            failed++;
            fprintf(stderr, "malformed %s: got %d\n", bad[i], r);
        } else {
            passed++;
        }
    }
    /* Pairs after the first match are not looked at; form_check looks at all. */
    CHECK(get("k=1&x=%zz", "k", out, sizeof(out), &n, &err) == 1);
    CHECK(form_check("k=1&x=%zz", 9, &err) == -1 && strcmp(err.code, "MalformedRequest") == 0);
    CHECK(form_check("k=1&x=%2a+", 10, &err) == 0);
    /* The bytes after len are not part of the body. */
    CHECK(form_check("k=%41", 4, &err) == -1);
}

static void test_too_long(void) {
    char out[8];
    size_t n;
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(get("k=1234567", "k", out, sizeof(out), &n, &err) == 1 && n == 7);
    CHECK(get("k=12345678", "k", out, sizeof(out), &n, &err) == -1);
    CHECK(strcmp(err.code, "MalformedRequest") == 0 &&
          strcmp(err.msg, "form: k value longer than 7 bytes") == 0 && out[0] == '\0');
    /* Escapes count decoded: %41 x 7 fits in 8. */
    CHECK(get("k=%41%41%41%41%41%41%41", "k", out, sizeof(out), &n, &err) == 1 &&
          strcmp(out, "AAAAAAA") == 0);
    CHECK(get("k=1", "k", out, 1, &n, &err) == -1);
    CHECK(get("k=", "k", out, 1, &n, &err) == 1 && n == 0);
    CHECK(get("k=", "k", out, 0, &n, &err) == -1);
    CHECK(form_decode("abc", 3, out, 3, &n, &err) == -1);
    CHECK(form_decode("abc", 3, out, 4, &n, &err) == 0 && strcmp(out, "abc") == 0);
}

static void test_iterate(void) {
    const char *body =
        "Action=SendEmail&Destination.ToAddresses.member.1=a%40x&"
        "Destination.ToAddresses.member.2=b%40x&&Destination%2ECcAddresses.member.1=c"
        "&Destination.BccAddresses=&Source=s";
    struct form_cursor c;
    struct form_pair p;
    struct sp_err err;
    int pairs = 0, recipients = 0;
    form_cursor_init(&c, body, strlen(body));
    while (form_next(&c, &p)) {
        pairs++;
        int to = form_has_prefix(p.key, p.key_len, "Destination.ToAddresses.member.", 31, &err);
        int cc = form_has_prefix(p.key, p.key_len, "Destination.CcAddresses.member.", 31, &err);
        CHECK(to >= 0 && cc >= 0);
        recipients += to + cc;
    }
    CHECK(pairs == 6);
    CHECK(recipients == 3);
    CHECK(form_next(&c, &p) == 0);
    form_cursor_init(&c, "a=1&b", 5);
    CHECK(form_next(&c, &p) == 1 && p.key_len == 1 && p.value_len == 1 && p.value[0] == '1');
    CHECK(form_next(&c, &p) == 1 && p.key_len == 1 && p.key[0] == 'b' && p.value_len == 0);
    CHECK(form_next(&c, &p) == 0);
    CHECK(form_equals("a%20b", 5, "a b", 3, &err) == 1);
    CHECK(form_equals("a%20b", 5, "a b ", 4, &err) == 0);
    CHECK(form_equals("a%20bc", 6, "a b", 3, &err) == 0);
    CHECK(form_equals("a%2", 3, "a b", 3, &err) == -1);
    CHECK(form_has_prefix("Tags.member.1.Name", 18, "Tags.", 5, &err) == 1);
    CHECK(form_has_prefix("Tag", 3, "Tags.", 5, &err) == 0);
    form_cursor_init(&c, NULL, 10);
    CHECK(form_next(&c, &p) == 0);
}

int main(void) {
    test_get();
    test_malformed();
    test_too_long();
    test_iterate();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
