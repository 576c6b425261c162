/* recipients_test.c - recipients as SES counts them in raw messages. */
#include <stdio.h>
#include <string.h>

#include "api/recipients.h"

static int passed, failed;

static void expect_count(const char *name, const char *msg, size_t want) {
    size_t got = recipients_count_message(msg, strlen(msg));
    if (got == want) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s: got %zu, want %zu\n", name, got, want);
    }
}

int main(void) {
    expect_count("one", "To: a@example.com\r\n\r\nbody", 1);
    expect_count("to cc bcc", "To: a@x.com, b@x.com\r\nCc: c@x.com\r\nBcc: d@x.com\r\n\r\n", 4);
    expect_count("quoted comma", "To: \"Doe, John\" <j@x.com>, k@x.com\r\n\r\n", 2);
    expect_count("angle comma", "To: <a,b@x.com>\r\n\r\n", 1);
    expect_count("comment", "To: (a, b) c@x.com\r\n\r\n", 1);
    expect_count("group", "To: team: a@x.com, b@x.com;, c@x.com\r\n\r\n", 3);
    expect_count("empty group", "Cc: undisclosed-recipients:;\r\n\r\n", 0);
    expect_count("folded", "To: a@x.com,\r\n b@x.com,\r\n\tc@x.com\r\nSubject: s\r\n\r\n", 3);
    expect_count("case", "TO: a@x.com\r\ncc: b@x.com\r\nBCC: c@x.com\r\n\r\n", 3);
    expect_count("body ignored", "Subject: x\r\n\r\nTo: a@x.com\r\n", 0);
    expect_count("lf only", "To: a@x.com\nCc: b@x.com\n\nTo: c@x.com\n", 2);
    expect_count("not a prefix", "Tox: a@x.com\r\nReply-To: b@x.com\r\n\r\n", 0);
    expect_count("trailing comma", "To: a@x.com, \r\n\r\n", 1);
    expect_count("no headers", "", 0);

    unsigned char out[64];
    const char *b64 = "VG86IGFAZXhhbXBsZS5jb20NCg0K"; /* "To: a@example.com\r\n\r\n" */
    size_t n = recipients_b64_prefix(b64, strlen(b64), out, sizeof(out));
    if (n == 21 && memcmp(out, "To: a@example.com\r\n\r\n", 21) == 0 &&
        recipients_count_message((const char *)out, n) == 1) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL b64 prefix: %zu bytes\n", n);
    }
    n = recipients_b64_prefix(b64, strlen(b64), out, 5);
    if (n == 5 && memcmp(out, "To: a", 5) == 0) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL b64 prefix cap: %zu\n", n);
    }
    n = recipients_b64_prefix("QUJD!!!!", 8, out, sizeof(out));
    if (n == 3 && memcmp(out, "ABC", 3) == 0) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL b64 stops at invalid: %zu\n", n);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
