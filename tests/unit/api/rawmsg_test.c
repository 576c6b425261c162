/* rawmsg_test - the header section of raw messages, as the policy and the
 * throttle read it.
 *
 * Every message is read three ways (bytes, base64, base64 inside a form
 * value) and must give the same verdict, error message and result; every
 * accepted message is also cut at each byte before its empty line, and
 * each cut must be refused. Inputs are heap copies of exactly their
 * length, so ASan catches any read past them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rawmsg.h"

#include "tests/unit/unit_check.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Canonical base64 of s[0..len) (padded, no line breaks), malloc'd. */
static char *b64(const char *s, size_t len, size_t *out_len) {
    char *out = malloc(len / 3 * 4 + 8);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        v |= i + 1 < len ? (unsigned char)s[i + 1] << 8 : 0;
        v |= i + 2 < len ? (unsigned char)s[i + 2] : 0;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    *out_len = o;
    return out;
}

/* The same text as a form value carries it: '+', '/', '=' percent-encoded
 * (upper and lower hex alternating, both are legal). */
static char *form(const char *s, size_t len, size_t *out_len) {
    char *out = malloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *hex = i % 2 ? "0123456789abcdef" : "0123456789ABCDEF";
        if (s[i] == '+' || s[i] == '/' || s[i] == '=') {
            out[o++] = '%';
            out[o++] = hex[(unsigned char)s[i] >> 4];
            out[o++] = hex[s[i] & 15];
        } else {
            out[o++] = s[i];
        }
    }
    *out_len = o;
    return out;
}

static int read_exact(const char *s, size_t len, enum rawmsg_encoding enc, struct rawmsg *out,
                      struct sp_err *err) {
    char *copy = malloc(len > 0 ? len : 1);
    memcpy(copy, s, len);
    sp_err_clear(err);
    int r = rawmsg_read(copy, len, enc, out, err);
    free(copy);
    return r;
}

static struct rawmsg got, again;

/* Reads msg as bytes, base64 and form; checks the three agree. Leaves the
 * bytes result in `got`. */
static int read3(const char *msg, size_t len, struct sp_err *err) {
    struct sp_err e2;
    size_t n, fn;
    int r = read_exact(msg, len, RAWMSG_BYTES, &got, err);
    char *t = b64(msg, len, &n);
    char *f = form(t, n, &fn);
    int r2 = read_exact(t, n, RAWMSG_BASE64, &again, &e2);
    CHECK(r2 == r && memcmp(&got, &again, sizeof(got)) == 0 && strcmp(err->msg, e2.msg) == 0);
    r2 = read_exact(f, fn, RAWMSG_BASE64_FORM, &again, &e2);
    CHECK(r2 == r && memcmp(&got, &again, sizeof(got)) == 0 && strcmp(err->msg, e2.msg) == 0);
    free(t);
    free(f);
    return r;
}

/* An accepted message: every cut before its empty line ends is refused,
 * and a cut after it changes nothing. `got` holds the result after. */
static int accept(const char *msg) {
    size_t len = strlen(msg);
    struct sp_err err;
    static struct rawmsg whole;
    if (read3(msg, len, &err) != 0) {
        fprintf(stderr, "refused: %s\n  %s\n", msg, err.msg);
        return 0;
    }
    whole = got;
    int cuts_ok = 1;
    for (size_t k = 0; k < len; k++) {
        int r = read_exact(msg, k, RAWMSG_BYTES, &again, &err);
        if (k < whole.head_len ? r != -1 : r != 0 || memcmp(&whole, &again, sizeof(whole)) != 0) {
            cuts_ok = 0;
        }
    }
    CHECK(cuts_ok);
    got = whole;
    return 1;
}

static int mailbox_is(const struct mailbox *m, const char *local, const char *domain) {
    return strcmp(m->local, local) == 0 && strcmp(m->domain, domain) == 0;
}

static void test_accepted(void) {
    CHECK(accept("From: Alerts <alerts@example.com>\r\nTo: a@x.com, b@x.com\r\nCc: c@x.com\r\n"
                 "Bcc: d@x.com\r\nSubject: hi\r\n\r\nbody") &&
          got.n_from == 1 && mailbox_is(&got.from[0], "alerts", "example.com") &&
          got.from[0].has_display_name && got.n_to == 2 && got.n_cc == 1 && got.n_bcc == 1 &&
          got.recipients == 4 && !got.has_sender && !got.has_reply_to && !got.has_return_path &&
          got.head_len == 99);
    CHECK(accept("From: a@x.com\nTo: b@x.com\nCc: c@x.com\n\nTo: d@x.com\n") &&
          got.recipients == 2 && got.head_len == 39);
    CHECK(accept("To: a@x.com,\r\n b@x.com,\r\n\tc@x.com\r\nSubject: s\r\n\r\n") && got.n_to == 3 &&
          got.n_from == 0);
    CHECK(accept("To: team: a@x.com, b@x.com;, c@x.com\r\nCc: undisclosed-recipients:;\r\n\r\n") &&
          got.n_to == 3 && got.n_cc == 0 && got.recipients == 3);
    CHECK(accept("FROM: a@x.com\r\nto: b@x.com\r\nCC: c@x.com\r\nbcc: d@x.com\r\n\r\n") &&
          got.n_from == 1 && got.recipients == 3);
    CHECK(accept("From: a@x.com, B <b@Y.com>\r\nSender: a@x.com\r\n\r\n") && got.n_from == 2 &&
          mailbox_is(&got.from[1], "b", "y.com") && got.has_sender &&
          mailbox_is(&got.sender, "a", "x.com"));
    CHECK(accept("Return-Path: <>\r\n\r\n") && got.has_return_path && got.return_path_null);
    CHECK(accept("Return-Path: <bounce@x.com>\r\n\r\n") && got.has_return_path &&
          !got.return_path_null && mailbox_is(&got.return_path, "bounce", "x.com"));
    CHECK(accept("Reply-To: a@x.com, g: b@x.com, c@x.com;\r\n\r\n") && got.has_reply_to &&
          got.n_reply_to == 3 && mailbox_is(&got.reply_to[2], "c", "x.com"));
    CHECK(accept("Reply-To: g:;\r\n\r\n") && got.has_reply_to && got.n_reply_to == 0);
    CHECK(accept("X-SES-FROM-ARN: arn:aws:ses:us-east-1:123456789012:identity/example.com\r\n"
                 "x-ses-configuration-set:  Config_1 \t\r\n"
                 "X-SES-SOURCE-ARN:\r\n arn:aws:ses:eu-west-1:1:identity/a@b.com\r\n"
                 "X-Ses-Return-Path-Arn: arn:aws:ses:eu-west-1:1:identity/b.com\r\n\r\n") &&
          got.from_arn.present &&
          strcmp(got.from_arn.text, "arn:aws:ses:us-east-1:123456789012:identity/example.com") ==
              0 &&
          got.configuration_set.present && strcmp(got.configuration_set.text, "Config_1") == 0 &&
          got.configuration_set.len == 8 &&
          strcmp(got.source_arn.text, "arn:aws:ses:eu-west-1:1:identity/a@b.com") == 0 &&
          got.return_path_arn.present);
    CHECK(accept("\r\nFrom: a@x.com\r\n") && got.head_len == 2 && got.n_from == 0);
    CHECK(accept("\nbody\0\r") && got.head_len == 1);
    CHECK(accept("Subject: x\r\n\r\nFrom: a@b.com\r\nFrom: \0\r\r") && got.n_from == 0);
    CHECK(accept("Subject: caf\xe9 \x01\x7f\r\nFrom: a@x.com\r\n\r\n") && got.n_from == 1);
    CHECK(accept("From: =?utf-8?q?a=40good.com?= <x@evil.com>\r\n\r\n") &&
          mailbox_is(&got.from[0], "x", "evil.com"));
    CHECK(accept("From: \"Evil, Inc.\" <x@evil.com> (the team)\r\n\r\n") &&
          mailbox_is(&got.from[0], "x", "evil.com"));
    CHECK(accept("From: J\xc3\xb6rg\r\n <j@x.com>\r\n\r\n") &&
          mailbox_is(&got.from[0], "j", "x.com") && got.from[0].has_display_name);
    CHECK(accept("From: a@b\xc3\xbc"
                 "cher.de\r\n\r\n") &&
          mailbox_is(&got.from[0], "a", "xn--bcher-kva.de") && got.from[0].idn);
    CHECK(accept("To:\r\nCc: \r\nBcc: ,\r\n\r\n") && got.recipients == 0);
    CHECK(accept("From: x@p\xd0\xb0ypal.com\r\n\r\n") &&
          mailbox_is(&got.from[0], "x", "xn--pypal-4ve.com"));
    CHECK(accept("X-Empty:\r\nX-Colon::\r\n\r\n"));
}

struct bad {
    const char *msg;
    size_t len; /* 0: strlen */
    const char *why;
};

static void expect_refused(const struct bad *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct sp_err err;
        size_t len = t[i].len ? t[i].len : strlen(t[i].msg);
        int r = read3(t[i].msg, len, &err);
        int ok = r == -1 && err.code != NULL && strcmp(err.code, "InvalidParameterValue") == 0 &&
                 strstr(err.msg, t[i].why) != NULL && got.n_from == 0 && got.head_len == 0;
        if (!ok) {
            fprintf(stderr, "not refused as expected: %s\n  r=%d %s (want \"%s\")\n", t[i].msg, r,
                    err.msg, t[i].why);
        }
        CHECK(ok);
    }
}

#define REFUSED(table) expect_refused(table, sizeof(table) / sizeof(table[0]))

/* Attack class: duplicated header fields. */
static void test_duplicates(void) {
    static const struct bad t[] = {
        {"From: a@good.com\r\nFrom: x@evil.com\r\n\r\n", 0, "From field at byte 18"},
        {"From: a@good.com\r\nfrom: x@evil.com\r\n\r\n", 0, "appears twice"},
        {"FROM: a@good.com\r\nSubject: s\r\nFrom: a@good.com\r\n\r\n", 0, "appears twice"},
        {"Sender: a@x.com\r\nSender: b@x.com\r\n\r\n", 0, "Sender field at byte 17"},
        {"Reply-To: a@x.com\r\nreply-to: b@x.com\r\n\r\n", 0, "appears twice"},
        {"Return-Path: <a@x.com>\r\nReturn-Path: <>\r\n\r\n", 0, "appears twice"},
        {"To: a@x.com\r\nTo: b@x.com\r\n\r\n", 0, "To field at byte 13"},
        {"Cc: a@x.com\r\ncc: b@x.com\r\n\r\n", 0, "appears twice"},
        {"Bcc: a@x.com\r\nBCC: b@x.com\r\n\r\n", 0, "appears twice"},
        {"X-SES-FROM-ARN: a\r\nX-SES-FROM-ARN: b\r\n\r\n", 0, "appears twice"},
        {"X-SES-SOURCE-ARN: a\r\nx-ses-source-arn: a\r\n\r\n", 0, "appears twice"},
        {"X-SES-RETURN-PATH-ARN: a\r\nX-SES-RETURN-PATH-ARN: b\r\n\r\n", 0, "appears twice"},
        {"X-SES-CONFIGURATION-SET: a\r\nX-SES-CONFIGURATION-SET: a\r\n\r\n", 0, "appears twice"},
    };
    REFUSED(t);
}

/* Attack class: sender fields that do not say one thing. */
static void test_senders(void) {
    static const struct bad t[] = {
        {"From:\r\n\r\n", 0, "no mailbox"},
        {"From: ,\r\n\r\n", 0, "no mailbox"},
        {"From: team: a@good.com;\r\n\r\n", 0, "group where a mailbox list"},
        {"From: a@good.com, x@evil.com\r\n\r\n", 0, "no Sender"},
        {"From: a@good.com\r\n , x@evil.com\r\n\r\n", 0, "no Sender"},
        {"From: a@good.com <x@evil.com>\r\n\r\n", 0, "From field at byte 0"},
        {"From: =?utf-8?q?a@good.com?= <x@evil.com>\r\n\r\n", 0, "encoded word"},
        {"From: <@good.com:x@evil.com>\r\n\r\n", 0, "source route"},
        {"From: x@[192.0.2.1]\r\n\r\n", 0, "domain literal"},
        {"From: x(c)@evil.com\r\n\r\n", 0, "before '@'"},
        {"From: \"a@good.com\" <x@evil.com>\r\n\r\n", 0, "'@' inside a quoted name"},
        {"From: x@evil.com (a@good.com)\r\n\r\n", 0, "'@' inside a comment"},
        {"From: Name (<a@good.com>) <x@evil.com>\r\n\r\n", 0, "'<' inside a comment"},
        {"From: \"a@good.com\"@evil.com\r\n\r\n", 0, "quoted local part"},
        {"From: x@good.com.\r\n\r\n", 0, "trailing dot"},
        {"From: x@\r\n evil.com\r\n\r\n", 0, "after '@'"},
        {"From: a@good.com\r\n\tx@evil.com\r\n\r\n", 0, "expected ','"},
        {"From: Jos\xe9 <j@x.com>\r\n\r\n", 0, "not UTF-8"},
        {"From: x@\xef\xbd\x87ood.com\r\n\r\n", 0, "fullwidth"},
        {"From: x@p\xd0\xb0ypal.com\r\n", 0, "no empty line"},
        {"Sender: a@x.com, b@x.com\r\n\r\n", 0, "more than one mailbox"},
        {"Sender: g: a@x.com;\r\n\r\n", 0, "group where one mailbox"},
        {"Sender:\r\n\r\n", 0, "no mailbox"},
        {"Return-Path: Name <a@x.com>\r\n\r\n", 0, "display name"},
        {"Return-Path: <a@x.com>, <b@x.com>\r\n\r\n", 0, "more than one"},
        {"Reply-To: a@x.com b@x.com\r\n\r\n", 0, "Reply-To field"},
        {"To: a@x.com, bad\r\n\r\n", 0, "To field at byte 0"},
        {"Cc: team: a@x.com\r\n\r\n", 0, "closing ';'"},
        {"Bcc: a@x.com;\r\n\r\n", 0, "Bcc field"},
    };
    REFUSED(t);
}

/* Attack class: header sections that do not split one way. */
static void test_structure(void) {
    static const struct bad t[] = {
        {"From: a@x.com\rTo: b@x.com\r\n\r\n", 0, "CR without LF at byte 13"},
        {"From: a@x.com\r\n\r\r\n", 0, "CR without LF"},
        {"From: a@x.com\nTo: b\r\n\n", 0, "CR at byte 19"},
        {"From: a@x.com\r\nTo: b@x.com\n\r\n", 0, "LF without CR at byte 26"},
        {"From: a@x.com\r\n\n", 0, "LF without CR"},
        {"From: a@x.com\0x@evil.com\r\n\r\n", 29, "NUL at byte 13"},
        {"Subject: \0\r\n\r\n", 14, "NUL"},
        {"From a@x.com\r\n\r\n", 0, "no ':'"},
        {"From : a@x.com\r\n\r\n", 0, "byte 0x20"},
        {"From\t: a@x.com\r\n\r\n", 0, "byte 0x09"},
        {"Fr\xc3\xb6m: a@x.com\r\n\r\n", 0, "byte 0xC3"},
        {": a@x.com\r\n\r\n", 0, "no name"},
        {" From: a@x.com\r\n\r\n", 0, "continuation line at byte 0"},
        {"\tFrom: a@x.com\r\n\r\n", 0, "continuation line"},
        {"To: a@x.com\r\n \r\nBcc: b@x.com\r\n\r\n", 0, "white space only at byte 13"},
        {"To: a@x.com\r\n\t \r\n\r\n", 0, "white space only"},
        {"From: a@x.com\r\n", 0, "no empty line"},
        {"From: a@x.com\r\n\r", 0, "no empty line"},
        {"From: a@x.com", 0, "ends at byte 13"},
        {"", 0, "ends at byte 0"},
        {"From\r\n: a@x.com\r\n\r\n", 0, "no ':'"},
        {"From\r\n : a@x.com\r\n\r\n", 0, "byte 0x20"},
        {"X-SES-FROM-ARN:\r\n\r\n", 0, "empty value"},
        {"X-SES-FROM-ARN: arn:aws:ses:r:1:identity/a b\r\n\r\n", 0, "byte 0x20 inside"},
        {"X-SES-FROM-ARN: arn\r\n :x\r\n\r\n", 0, "byte 0x20 inside"},
        {"X-SES-SOURCE-ARN: arn\xc3\xa9\r\n\r\n", 0, "byte 0xC3 inside"},
        {"X-SES-CONFIGURATION-SET: a\x01\r\n\r\n", 0, "byte 0x01 inside"},
    };
    REFUSED(t);
}

/* Attack class: a header section cut at a bound, overlong lines. */
static void test_bounds(void) {
    static char buf[RAWMSG_HEAD_MAX + 4096];
    struct sp_err err;
    /* A header section of exactly RAWMSG_HEAD_MAX bytes: folded filler
     * lines of 98 bytes + CRLF inside one field, then the empty line. */
    size_t n = (size_t)snprintf(buf, sizeof(buf), "From: a@x.com\r\nX-Filler: x");
    while (n + 100 + 2 + 2 <= RAWMSG_HEAD_MAX) {
        memcpy(buf + n, "\r\n ", 3);
        memset(buf + n + 3, 'y', 97);
        n += 100;
    }
    while (n + 4 < RAWMSG_HEAD_MAX) {
        buf[n++] = 'z';
    }
    memcpy(buf + n, "\r\n\r\nbody", 8);
    CHECK(read3(buf, n + 8, &err) == 0 && got.head_len == RAWMSG_HEAD_MAX && got.n_from == 1);
    /* One more byte and it is refused, however the message goes on. */
    memmove(buf + n + 1, buf + n, 8);
    buf[n] = 'z';
    CHECK(read3(buf, n + 9, &err) == -1 && strstr(err.msg, "does not end within 65536"));
    CHECK(read3(buf, sizeof(buf), &err) == -1 && strstr(err.msg, "does not end within 65536"));
    /* A line of RAWMSG_LINE_MAX bytes passes; one more does not. */
    n = (size_t)snprintf(buf, sizeof(buf), "X-Long: ");
    memset(buf + n, 'a', RAWMSG_LINE_MAX - n);
    memcpy(buf + RAWMSG_LINE_MAX, "\r\n\r\n", 4);
    CHECK(read3(buf, RAWMSG_LINE_MAX + 4, &err) == 0);
    buf[RAWMSG_LINE_MAX] = 'a';
    memcpy(buf + RAWMSG_LINE_MAX + 1, "\r\n\r\n", 4);
    CHECK(read3(buf, RAWMSG_LINE_MAX + 5, &err) == -1 && strstr(err.msg, "longer than 998"));
    /* From: RAWMSG_FROM_MAX mailboxes pass, one more does not. */
    n = (size_t)snprintf(buf, sizeof(buf), "Sender: s@x.com\r\nFrom: m0@x.com");
    for (int i = 1; i < RAWMSG_FROM_MAX; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\r\n m%d@x.com", i);
    }
    memcpy(buf + n, "\r\n\r\n", 4);
    CHECK(read3(buf, n + 4, &err) == 0 && got.n_from == RAWMSG_FROM_MAX &&
          mailbox_is(&got.from[RAWMSG_FROM_MAX - 1], "m15", "x.com"));
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", extra@x.com\r\n\r\n");
    CHECK(read3(buf, n, &err) == -1 && strstr(err.msg, "more than 16 mailboxes"));
    /* Reply-To likewise. */
    n = (size_t)snprintf(buf, sizeof(buf), "Reply-To: r@x.com");
    for (int i = 1; i <= RAWMSG_REPLY_TO_MAX; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", r%d@x.com", i);
    }
    memcpy(buf + n, "\r\n\r\n", 4);
    CHECK(read3(buf, n + 4, &err) == -1 && strstr(err.msg, "Reply-To field"));
    /* An X-SES value is one token: a line's worth passes, a value that
     * spans a fold is longer than RAWMSG_VALUE_MAX (and holds a space). */
    n = (size_t)snprintf(buf, sizeof(buf), "X-SES-FROM-ARN:\r\n ");
    memset(buf + n, 'v', 900);
    memcpy(buf + n + 900, "\r\n\r\n", 4);
    CHECK(read3(buf, n + 904, &err) == 0 && got.from_arn.len == 900);
    memcpy(buf + n + 900, "\r\n ", 3);
    memset(buf + n + 903, 'v', 900);
    memcpy(buf + n + 1803, "\r\n\r\n", 4);
    CHECK(read3(buf, n + 1807, &err) == -1 && strstr(err.msg, "longer than 1024"));
}

/* Base64: strict, and streaming (only the header section is decoded). */
static void test_base64(void) {
    struct sp_err err;
    struct rawmsg m;
    const char *head = "From: a@x.com\r\nTo: b@x.com\r\n\r\n";
    size_t n;
    char *t = b64(head, strlen(head), &n);
    CHECK(read_exact(t, n, RAWMSG_BASE64, &m, &err) == 0 && m.recipients == 1 && m.n_from == 1);
    /* Line breaks or spaces inside base64 are refused. */
    char *wrapped = malloc(n + 4);
    memcpy(wrapped, t, 8);
    memcpy(wrapped + 8, "\r\n\r\n", 4);
    memcpy(wrapped + 12, t + 8, n - 8);
    CHECK(read_exact(wrapped, n + 4, RAWMSG_BASE64, &m, &err) == -1 &&
          strstr(err.msg, "byte 0x0D at character 8"));
    memcpy(wrapped + 8, "    ", 4);
    CHECK(read_exact(wrapped, n + 4, RAWMSG_BASE64, &m, &err) == -1 &&
          strstr(err.msg, "byte 0x20 at character 8 is not base64"));
    free(wrapped);
    /* Not a multiple of 4, base64url, stray characters. */
    CHECK(read_exact(t, n - 1, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "multiple of 4"));
    CHECK(read_exact("RnJvbS_-", 8, RAWMSG_BASE64, &m, &err) == -1 &&
          strstr(err.msg, "'_' at character 6"));
    CHECK(read_exact("Rn.v", 4, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "'.'"));
    /* Padding: only at the very end, with zero spare bits. "\r\n" is DQo=. */
    CHECK(read_exact("DQo=", 4, RAWMSG_BASE64, &m, &err) == 0 && m.head_len == 2);
    CHECK(read_exact("DQp=", 4, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "non-zero"));
    CHECK(read_exact("DQo=DQo=", 8, RAWMSG_BASE64, &m, &err) == -1 &&
          strstr(err.msg, "after the padding at character 4"));
    CHECK(read_exact("DQ==", 4, RAWMSG_BASE64, &m, &err) == -1 &&
          strstr(err.msg, "ends at byte 1"));
    CHECK(read_exact("DR==", 4, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "non-zero"));
    CHECK(read_exact("D=o=", 4, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "'='"));
    CHECK(read_exact("DQ=o", 4, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "'o'"));
    CHECK(read_exact("====", 4, RAWMSG_BASE64, &m, &err) == -1);
    CHECK(read_exact("", 0, RAWMSG_BASE64, &m, &err) == -1 && strstr(err.msg, "ends at byte 0"));
    /* Streaming: the body is never decoded, so 4 MB of text that is not
     * base64 after the header section costs nothing and is not refused. */
    size_t big = 4u << 20;
    char *msg = malloc(n + big);
    memcpy(msg, t, n);
    memset(msg + n, '!', big);
    CHECK(read_exact(msg, n + big, RAWMSG_BASE64, &m, &err) == 0 && m.recipients == 1);
    /* ... but a header section of such text is refused at its first byte. */
    memset(msg, '!', 8);
    CHECK(read_exact(msg, n + big, RAWMSG_BASE64, &m, &err) == -1 &&
          strstr(err.msg, "'!' at character 0"));
    free(msg);
    /* Form values: %XX in either case, '+' is a space, malformed escapes. */
    size_t fn;
    char *f = form(t, n, &fn);
    CHECK(read_exact(f, fn, RAWMSG_BASE64_FORM, &m, &err) == 0 && m.recipients == 1);
    free(f);
    CHECK(read_exact("DQo%3D", 6, RAWMSG_BASE64_FORM, &m, &err) == 0 && m.head_len == 2);
    CHECK(read_exact("DQo%3d", 6, RAWMSG_BASE64_FORM, &m, &err) == 0);
    CHECK(read_exact("DQo=", 4, RAWMSG_BASE64_FORM, &m, &err) == 0);
    CHECK(read_exact("DQo%3", 5, RAWMSG_BASE64_FORM, &m, &err) == -1 &&
          strstr(err.msg, "malformed %-escape at character 3"));
    CHECK(read_exact("DQo%G0", 6, RAWMSG_BASE64_FORM, &m, &err) == -1 &&
          strstr(err.msg, "malformed"));
    CHECK(read_exact("D+o=", 4, RAWMSG_BASE64_FORM, &m, &err) == -1 &&
          strstr(err.msg, "byte 0x20 at character 1"));
    CHECK(read_exact("DQo%3D%3D", 9, RAWMSG_BASE64_FORM, &m, &err) == -1 &&
          strstr(err.msg, "after the padding"));
    CHECK(read_exact("DQo", 3, RAWMSG_BASE64_FORM, &m, &err) == -1 &&
          strstr(err.msg, "inside a group of four"));
    CHECK(rawmsg_read(NULL, 10, RAWMSG_BYTES, &m, &err) == -1 && strstr(err.msg, "ends at byte 0"));
    CHECK(read_exact("\r\n", 2, (enum rawmsg_encoding)7, &m, &err) == -1 &&
          strcmp(err.code, "InternalError") == 0);
    free(t);
}

int main(void) {
    test_accepted();
    test_duplicates();
    test_senders();
    test_structure();
    test_bounds();
    test_base64();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
