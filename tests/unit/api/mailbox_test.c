/* mailbox_test - RFC 5322 addresses, host names and Punycode as the policy
 * reads them: what is accepted, how it is normalised, and a table of
 * hostile inputs (one block per attack class) with the verdict each must
 * get. Every input is handed over in a heap buffer of exactly its length,
 * so ASan catches any read past it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mailbox.h"
#include "api/punycode.h"

#include "tests/unit/unit_check.h"

/* Inputs with NUL bytes give their length; 0 means strlen. */
struct one {
    const char *in;
    size_t len;
    const char *local;  /* NULL: must be refused */
    const char *domain; /* expected domain, or for a refusal a word of the reason */
    int display;
};

static char *exact(const char *s, size_t len) {
    char *copy = malloc(len > 0 ? len : 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
    }
    return copy;
}

/* An error message must name an offset, stay printable ASCII and bounded. */
static int message_is_clean(const struct sp_err *err) {
    size_t n = strlen(err->msg);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)err->msg[i];
        if (c < 0x20 || c > 0x7E) {
            return 0;
        }
    }
    return n > 0 && n < 600 && err->code != NULL && strcmp(err->code, "InvalidParameterValue") == 0;
}

static void check_one(const struct one *t) {
    size_t len = t->len ? t->len : strlen(t->in);
    char *in = exact(t->in, len);
    struct mailbox m;
    struct sp_err err;
    sp_err_clear(&err);
    int r = mailbox_parse_one(in, len, &m, &err);
    if (t->local != NULL) {
        int ok = r == 0 && strcmp(m.local, t->local) == 0 && strcmp(m.domain, t->domain) == 0 &&
                 m.has_display_name == t->display;
        if (!ok) {
            fprintf(stderr, "accept %s: r=%d local=%s domain=%s err=%s\n", t->in, r, m.local,
                    m.domain, err.msg);
        }
        CHECK(ok);
        /* The canonical form reads back to the same address. */
        char canon[MAILBOX_FORMAT_MAX];
        struct mailbox back;
        CHECK(r == 0 && mailbox_format(&m, canon, sizeof(canon), NULL, &err) == 0 &&
              mailbox_parse_one(canon, strlen(canon), &back, &err) == 0 &&
              strcmp(back.local, m.local) == 0 && strcmp(back.domain, m.domain) == 0 &&
              !back.has_display_name);
    } else {
        int ok = r == -1 && message_is_clean(&err) && strstr(err.msg, t->domain) != NULL &&
                 strstr(err.msg, "offset") != NULL;
        if (!ok) {
            fprintf(stderr, "refuse %s: r=%d msg=%s (want \"%s\")\n", t->in, r, err.msg, t->domain);
        }
        CHECK(ok);
    }
    free(in);
}

static void run_table(const struct one *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        check_one(&t[i]);
    }
}

#define RUN(table) run_table(table, sizeof(table) / sizeof(table[0]))

static void test_plain(void) {
    static const struct one t[] = {
        {"alerts@example.com", 0, "alerts", "example.com", 0},
        {"Alerts@EXAMPLE.Com", 0, "Alerts", "example.com", 0},
        {"<a@example.com>", 0, "a", "example.com", 0},
        {"Alerts <alerts@example.com>", 0, "alerts", "example.com", 1},
        {"\"Doe, John\" <j.doe@example.com>", 0, "j.doe", "example.com", 1},
        {"John Q. Public <jqp@example.com>", 0, "jqp", "example.com", 1},
        {"  a@example.com  ", 0, "a", "example.com", 0},
        {"\ta@example.com", 0, "a", "example.com", 0},
        {"< a@example.com >", 0, "a", "example.com", 0},
        {"a@example.com (Alerts)", 0, "a", "example.com", 0},
        {"(Alerts) a@example.com", 0, "a", "example.com", 0},
        {"Alerts (team) <a@example.com> (more)", 0, "a", "example.com", 1},
        {"a+tag@example.com", 0, "a+tag", "example.com", 0},
        {"!#$%&'*+-/=^_`{|}~@example.com", 0, "!#$%&'*+-/=^_`{|}~", "example.com", 0},
        {"a@sub.example.co.uk", 0, "a", "sub.example.co.uk", 0},
        {"a@123.example.com", 0, "a", "123.example.com", 0},
        {"a@localhost", 0, "a", "localhost", 0},
        {"J\xc3\xb6rg <j@example.com>", 0, "j", "example.com", 1},
        {"\"J\xc3\xb6rg\" <j@example.com>", 0, "j", "example.com", 1},
        {"=?utf-8?q?J=C3=B6rg?= <j@example.com>", 0, "j", "example.com", 1},
        {"\"john\"@example.com", 0, "john", "example.com", 0},
        {"\"a..b\"@example.com", 0, "a..b", "example.com", 0},
        {"\".a\"@example.com", 0, ".a", "example.com", 0},
        {"a@xn--bcher-kva.de", 0, "a", "xn--bcher-kva.de", 0},
        {"a@b\xc3\xbc"
         "cher.de",
         0, "a", "xn--bcher-kva.de", 0},
        {"a@XN--BCHER-KVA.DE", 0, "a", "xn--bcher-kva.de", 0},
        {"a@\xd1\x80\xd1\x84", 0, "a", "xn--p1ai", 0},
        {"a@B\xc3\xbc"
         "cher.DE",
         0, "a", "xn--bcher-kva.de", 0},
    };
    RUN(t);
}

static void test_syntax_errors(void) {
    static const struct one t[] = {
        {"", 0, NULL, "no mailbox", 0},
        {"   ", 0, NULL, "no mailbox", 0},
        {"(only a comment)", 0, NULL, "no mailbox", 0},
        {"alerts", 0, NULL, "no address", 0},
        {"John Doe", 0, NULL, "no address", 0},
        {"a@", 0, NULL, "no domain", 0},
        {"@example.com", 0, NULL, "no local part", 0},
        {"a@@example.com", 0, NULL, "no domain", 0},
        {"<a@example.com", 0, NULL, "without its '>'", 0},
        {"a@example.com>", 0, NULL, "unexpected '>'", 0},
        {"<a@example.com> x", 0, NULL, "unexpected 'x'", 0},
        {"<<a@example.com>>", 0, NULL, "no '@'", 0},
        {"<>", 0, NULL, "empty address", 0},
        {"a\\@b@example.com", 0, NULL, "no address", 0},
        {"\"unterminated <a@example.com>", 0, NULL, "closing", 0},
        {"Name <a@example.com", 0, NULL, "without its '>'", 0},
        {". <a@example.com>", 0, NULL, "starting with '.'", 0},
        {"a@example.com;", 0, NULL, "unexpected ';'", 0},
        {"[a]@example.com", 0, NULL, "unexpected '['", 0},
        {"a@example.com(", 0, NULL, "comment without", 0},
        {"a@exam ple.com", 0, NULL, "unexpected 'p'", 0},
        {"a@_dmarc.example.com", 0, NULL, "'_' is not allowed", 0},
        {"a@-a.example.com", 0, NULL, "starting", 0},
        {"a@a-.example.com", 0, NULL, "ending", 0},
        {"a@ab--cd.example.com", 0, NULL, "reserved", 0},
        {"a@exa!mple.com", 0, NULL, "'!' is not allowed", 0},
        {"\"\"@example.com", 0, NULL, "empty local part", 0},
    };
    RUN(t);
}

/* Attack class: a display name that holds an address. */
static void test_hostile_display_names(void) {
    static const struct one t[] = {
        /* RFC 5322 reads x@evil.com in each; a reader that does not know
         * quoting reads a@good.com: refused. */
        {"\"a@good.com\" <x@evil.com>", 0, NULL, "'@' inside a quoted name", 0},
        {"\"a@good.com\"<x@evil.com>", 0, NULL, "'@' inside a quoted name", 0},
        {"\"<a@good.com>\" <x@evil.com>", 0, NULL, "'<' inside a quoted name", 0},
        {"\"a\\@good.com\" <x@evil.com>", 0, NULL, "'@' inside a quoted name", 0},
        {"\"a <a@good.com>\" <x@evil.com>", 0, NULL, "'<' inside a quoted name", 0},
        {"\"x>\" <x@evil.com>", 0, NULL, "'>' inside a quoted name", 0},
        {"\"x@evil.com\" <x@evil.com>", 0, NULL, "'@' inside a quoted name", 0},
        {"good.com <x@evil.com>", 0, "x", "evil.com", 1},
        {"\"good.com, Inc\" <x@evil.com>", 0, "x", "evil.com", 1},
        {"a@good.com <x@evil.com>", 0, NULL, "unexpected '<'", 0},
        {"a@good.com<x@evil.com>", 0, NULL, "unexpected '<'", 0},
        {"a@good.com x@evil.com", 0, NULL, "unexpected 'x'", 0},
        {"<a@good.com> <x@evil.com>", 0, NULL, "unexpected '<'", 0},
        {"<a@good.com>x@evil.com", 0, NULL, "unexpected 'x'", 0},
        {"x@evil.com <a@good.com>", 0, NULL, "unexpected '<'", 0},
        {"a <b> <x@evil.com>", 0, NULL, "no '@'", 0},
    };
    RUN(t);
}

/* Attack class: comments that hold an address, nested, or inside the addr-spec. */
static void test_hostile_comments(void) {
    static const struct one t[] = {
        /* RFC 5322 reads x@evil.com in each; a reader that does not know
         * comments may read a@good.com: refused. */
        {"x@evil.com(a@good.com)", 0, NULL, "'@' inside a comment", 0},
        {"x@evil.com (a@good.com)", 0, NULL, "'@' inside a comment", 0},
        {"(a@good.com) x@evil.com", 0, NULL, "'@' inside a comment", 0},
        {"x@evil.com (a (b@good.com) more)", 0, NULL, "'@' inside a comment", 0},
        {"x@evil.com (a\\)@good.com)", 0, NULL, "'@' inside a comment", 0},
        {"x@evil.com (a\\@good.com)", 0, NULL, "'@' inside a comment", 0},
        {"<x@evil.com (a@good.com)>", 0, NULL, "'@' inside a comment", 0},
        {"<(a@good.com)x@evil.com>", 0, NULL, "'@' inside a comment", 0},
        {"Name (<a@good.com>) <x@evil.com>", 0, NULL, "'<' inside a comment", 0},
        {"x@evil.com (>)", 0, NULL, "'>' inside a comment", 0},
        {"x(a@good.com)@evil.com", 0, NULL, "'@' inside a comment", 0},
        {"x(c)@evil.com", 0, NULL, "before '@'", 0},
        {"x@evil.com (Evil, Inc.)", 0, "x", "evil.com", 0},
        {"x@evil.com (a (nested) b\\(c)", 0, "x", "evil.com", 0},
        {"Evil (the team) <x@evil.com>", 0, "x", "evil.com", 1},
        {"x@(a@good.com)evil.com", 0, NULL, "after '@'", 0},
        {"x @evil.com", 0, NULL, "before '@'", 0},
        {"x@ evil.com", 0, NULL, "after '@'", 0},
        {"x . y@evil.com", 0, NULL, "inside the local part", 0},
        {"x(c).y@evil.com", 0, NULL, "inside the local part", 0},
        {"x@evil.com(a, good", 0, NULL, "comment without", 0},
        {"x@evil.com (a \\", 0, NULL, "comment without", 0},
        {"x@evil.com ((((((((a))))))))", 0, "x", "evil.com", 0},
        {"x@evil.com (((((((((a)))))))))", 0, NULL, "deeper than 8", 0},
        {"x@evil.com )", 0, NULL, "unexpected ')'", 0},
        {"x@evil.com(a)b@good.com", 0, NULL, "unexpected 'b'", 0},
    };
    RUN(t);
}

/* Attack class: quoted local parts with specials inside. */
static void test_hostile_quoted(void) {
    static const struct one t[] = {
        {"\"a@good.com\"@evil.com", 0, NULL, "'@' inside a quoted local part", 0},
        {"\"x<a@good.com>\"@evil.com", 0, NULL, "'<' inside a quoted local part", 0},
        {"\"x>\"@evil.com", 0, NULL, "'>' inside", 0},
        {"\"a b\"@evil.com", 0, NULL, "a space inside", 0},
        {"\"a\\\"b\"@evil.com", 0, NULL, "byte 0x5C inside", 0},
        {"\"a\\@good.com\"@evil.com", 0, NULL, "inside a quoted local part", 0},
        {"\"a,b\"@evil.com", 0, NULL, "',' inside", 0},
        {"\"a\"\"b\"@evil.com", 0, NULL, "mixing quoted", 0},
        {"\"a\".b@evil.com", 0, NULL, "mixing quoted", 0},
        {"a.\"b\"@evil.com", 0, NULL, "mixing quoted", 0},
        {"\"x@evil.com\" <a@good.com>", 0, NULL, "'@' inside a quoted name", 0},
        {"\"a\tb\"@evil.com", 0, NULL, "byte 0x09 inside", 0},
        {"\"a(b)\"@evil.com", 0, NULL, "'(' inside", 0},
        {"\"\xc3\xa9\"@evil.com", 0, NULL, "SMTPUTF8", 0},
    };
    RUN(t);
}

/* Attack class: groups where one mailbox is expected. */
static void test_hostile_groups_one(void) {
    static const struct one t[] = {
        {"team: a@good.com;", 0, NULL, "group where one mailbox", 0},
        {"team:;", 0, NULL, "group where one mailbox", 0},
        {"a@good.com: x@evil.com;", 0, NULL, "unexpected ':'", 0},
        {":a@good.com;", 0, NULL, "group where one mailbox", 0},
    };
    RUN(t);
}

/* Attack class: source routes. */
static void test_hostile_routes(void) {
    static const struct one t[] = {
        {"<@good.com:x@evil.com>", 0, NULL, "source route", 0},
        {"<@good.com,@other.com:x@evil.com>", 0, NULL, "source route", 0},
        {"Name <@good.com:x@evil.com>", 0, NULL, "source route", 0},
        {"< @good.com:x@evil.com>", 0, NULL, "source route", 0},
        {"<good.com:x@evil.com>", 0, NULL, "no '@'", 0},
    };
    RUN(t);
}

/* Attack class: RFC 2047 encoded words posing as addresses. */
static void test_hostile_encoded_words(void) {
    static const struct one t[] = {
        {"=?utf-8?q?a@good.com?= <x@evil.com>", 0, NULL, "encoded word", 0},
        {"=?utf-8?q?a=40good.com?= <x@evil.com>", 0, "x", "evil.com", 1},
        {"=?utf-8?b?YUBnb29kLmNvbQ==?= <x@evil.com>", 0, "x", "evil.com", 1},
        {"\"=?utf-8?q?a@good.com?=\" <x@evil.com>", 0, NULL, "'@' inside a quoted name", 0},
        {"=?utf-8?q?x?=@evil.com", 0, NULL, "encoded word", 0},
        {"a=?x?=@evil.com", 0, NULL, "encoded word", 0},
        {"\"=?utf-8?q?x?=\"@evil.com", 0, NULL, "encoded word", 0},
        {"x@=?utf-8?q?good.com?=", 0, NULL, "'=' is not allowed", 0},
    };
    RUN(t);
}

/* Attack class: several addresses where SES expects one. */
static void test_hostile_several(void) {
    static const struct one t[] = {
        {"a@good.com, x@evil.com", 0, NULL, "more than one mailbox", 0},
        {"a@good.com,x@evil.com", 0, NULL, "more than one mailbox", 0},
        {"a@good.com,", 0, NULL, "more than one mailbox", 0},
        {",a@good.com", 0, NULL, "unexpected ','", 0},
        {"<a@good.com>,<x@evil.com>", 0, NULL, "more than one mailbox", 0},
        {"<a@good.com><x@evil.com>", 0, NULL, "unexpected '<'", 0},
        {"a@good.com;x@evil.com", 0, NULL, "unexpected ';'", 0},
        {"x@evil.com@good.com", 0, NULL, "unexpected '@'", 0},
    };
    RUN(t);
}

/* Attack class: IDN homographs, Unicode against Punycode, mapped characters. */
static void test_hostile_idn(void) {
    static const struct one t[] = {
        /* Cyrillic a: read faithfully, and never as the ASCII name. */
        {"x@p\xd0\xb0ypal.com", 0, "x", "xn--pypal-4ve.com", 0},
        {"x@xn--pypal-4ve.com", 0, "x", "xn--pypal-4ve.com", 0},
        /* Fullwidth letters and ideographic dots would map onto ASCII. */
        {"x@\xef\xbd\x87ood.com", 0, NULL, "fullwidth", 0},
        {"x@good\xe3\x80\x82"
         "com",
         0, NULL, "U+3002", 0},
        {"x@good\xef\xbc\x8e"
         "com",
         0, NULL, "U+FF0E", 0},
        {"x@good\xef\xbd\xa1"
         "com",
         0, NULL, "U+FF61", 0},
        {"x@good\xe2\x80\xa4"
         "com",
         0, NULL, "U+2024", 0},
        {"x@good\xef\xb9\x92"
         "com",
         0, NULL, "U+FE52", 0},
        /* Invisible characters. */
        {"x@go\xe2\x80\x8bod.com", 0, NULL, "U+200B", 0},
        {"x@go\xc2\xad"
         "od.com",
         0, NULL, "U+00AD", 0},
        {"x@go\xef\xbb\xbfod.com", 0, NULL, "U+FEFF", 0},
        {"x@go\xef\xb8\x8fod.com", 0, NULL, "U+FE0F", 0},
        {"x@g\xc2\xa0od.com", 0, NULL, "U+00A0", 0},
        /* Uppercase non-ASCII is not folded: refused with a reason. */
        {"x@B\xc3\x9c"
         "CHER.de",
         0, NULL, "uppercase", 0},
        {"x@\xd0\xa0\xd0\xa4", 0, NULL, "uppercase", 0},
        /* Bad A-labels. */
        {"x@xn--ab-.com", 0, NULL, "ending with '-'", 0},
        {"x@xn--.com", 0, NULL, "ending with '-'", 0},
        {"x@xn--abc.com", 0, NULL, "U+0082", 0},
        {"x@xn---tda.com", 0, NULL, "canonical", 0},
        {"x@xn--999999999.com", 0, NULL, "Punycode", 0},
        {"x@xn--zzzzzzzzzzzzzzzzzz.com", 0, NULL, "Punycode", 0},
        {"x@xn--a.com", 0, NULL, "U+0080", 0},
        {"x@xn--b_cher-kva.de", 0, NULL, "'_' is not allowed", 0},
        /* Non-ASCII local parts: SES does not support SMTPUTF8. */
        {"j\xc3\xb6rg@example.com", 0, NULL, "SMTPUTF8", 0},
        {"\xd0\xb0@example.com", 0, NULL, "SMTPUTF8", 0},
        /* A U-label with forbidden ASCII. */
        {"x@b\xc3\xbc_cher.de", 0, NULL, "U+005F", 0},
        {"x@-b\xc3\xbc"
         "cher.de",
         0, NULL, "starts with '-'", 0},
    };
    RUN(t);
}

/* Attack class: dots where the grammar has none. */
static void test_hostile_dots(void) {
    static const struct one t[] = {
        {"x@good.com.", 0, NULL, "trailing dot", 0},
        {"<x@good.com.>", 0, NULL, "trailing dot", 0},
        {"x@.good.com", 0, NULL, "starting with '.'", 0},
        {"x@good..com", 0, NULL, "empty label", 0},
        {"x.@good.com", 0, NULL, "ending with '.'", 0},
        {".x@good.com", 0, NULL, "starting with '.'", 0},
        {"x..y@good.com", 0, NULL, "two dots", 0},
        {"x@.", 0, NULL, "starting with '.'", 0},
    };
    RUN(t);
}

/* Attack class: control bytes, NUL, line breaks (fields arrive unfolded). */
static void test_hostile_controls(void) {
    static const struct one t[] = {
        {"x@evil.com\0@good.com", 20, NULL, "control character 0x00", 0},
        {"a@good.com\0", 11, NULL, "control character 0x00", 0},
        {"\0a@good.com", 11, NULL, "control character 0x00", 0},
        {"x@evil.com\r\n", 0, NULL, "control character 0x0D", 0},
        {"x@evil.com\n", 0, NULL, "control character 0x0A", 0},
        {"Name\r\n <x@evil.com>", 0, NULL, "control character 0x0D", 0},
        {"x@evil.com\r", 0, NULL, "control character 0x0D", 0},
        {"x@evil.com\x7f", 0, NULL, "control character 0x7F", 0},
        {"x@evil.com\x1b[0m", 0, NULL, "control character 0x1B", 0},
        {"\"a\x01\" <x@evil.com>", 0, NULL, "control character 0x01", 0},
        {"x@evil.com\x0b", 0, NULL, "control character 0x0B", 0},
    };
    RUN(t);
}

/* Attack class: bytes that are not UTF-8. */
static void test_hostile_utf8(void) {
    static const struct one t[] = {
        {"\"\xff\" <x@evil.com>", 0, NULL, "not UTF-8", 0},
        {"\xc0\xaf <x@evil.com>", 0, NULL, "not UTF-8", 0},
        {"\xe0\x80\xaf <x@evil.com>", 0, NULL, "not UTF-8", 0},
        {"\xed\xa0\x80 <x@evil.com>", 0, NULL, "not UTF-8", 0},
        {"\xf4\x90\x80\x80 <x@evil.com>", 0, NULL, "not UTF-8", 0},
        {"x@evil.com (\xc3)", 0, NULL, "not UTF-8", 0},
        {"x@evil.com \xc3", 0, NULL, "not UTF-8", 0},
        {"x@b\xfc"
         "cher.de",
         0, NULL, "not UTF-8", 0},
        {"\xf0\x9f\x98\x80 <x@evil.com>", 0, "x", "evil.com", 1},
    };
    RUN(t);
}

/* Attack class: domain literals and addresses posing as host names. */
static void test_hostile_literals(void) {
    static const struct one t[] = {
        {"x@[192.0.2.1]", 0, NULL, "domain literal", 0},
        {"x@[IPv6:2001:db8::1]", 0, NULL, "domain literal", 0},
        {"x@192.0.2.1", 0, NULL, "all digits", 0},
        {"x@good.com.123", 0, NULL, "all digits", 0},
        {"x@0x7f.1", 0, NULL, "all digits", 0},
        {"x@3com.com", 0, "x", "3com.com", 0},
    };
    RUN(t);
}

/* Attack class: overlong input. */
static void test_hostile_lengths(void) {
    char buf[MAILBOX_TEXT_MAX + 64];
    struct mailbox m;
    struct sp_err err;
    /* Local part: 64 bytes pass, 65 do not. */
    memset(buf, 'a', 64);
    strcpy(buf + 64, "@example.com");
    CHECK(mailbox_parse_one(buf, strlen(buf), &m, &err) == 0 && strlen(m.local) == 64);
    memset(buf, 'a', 65);
    strcpy(buf + 65, "@example.com");
    CHECK(mailbox_parse_one(buf, strlen(buf), &m, &err) == -1 && strstr(err.msg, "64 bytes"));
    /* A label: 63 pass, 64 do not. */
    strcpy(buf, "x@");
    memset(buf + 2, 'b', 63);
    strcpy(buf + 65, ".com");
    CHECK(mailbox_parse_one(buf, strlen(buf), &m, &err) == 0);
    strcpy(buf, "x@");
    memset(buf + 2, 'b', 64);
    strcpy(buf + 66, ".com");
    CHECK(mailbox_parse_one(buf, strlen(buf), &m, &err) == -1 && strstr(err.msg, "63 bytes"));
    /* A domain: 253 bytes pass, 255 do not (labels of 63 + dots). */
    char dom[300];
    memset(dom, 'c', sizeof(dom));
    for (size_t i = 63; i < 253; i += 64) {
        dom[i] = '.';
    }
    dom[253] = '\0'; /* 63.63.63.61 = 253 */
    snprintf(buf, sizeof(buf), "x@%s", dom);
    CHECK(mailbox_parse_one(buf, strlen(buf), &m, &err) == 0 && strlen(m.domain) == 253);
    dom[253] = 'c';
    dom[254] = 'c';
    dom[255] = '\0';
    snprintf(buf, sizeof(buf), "x@%s", dom);
    CHECK(mailbox_parse_one(buf, strlen(buf), &m, &err) == -1 && strstr(err.msg, "253 bytes"));
    /* A U-label whose A-label passes 63 bytes. */
    char ul[200] = "x@";
    for (int i = 0; i < 60; i++) {
        strcat(ul, "\xc3\xbc"); /* u-umlaut */
    }
    strcat(ul, ".de");
    CHECK(mailbox_parse_one(ul, strlen(ul), &m, &err) == -1 && strstr(err.msg, "A-label"));
    /* The whole input is bounded. */
    memset(buf, ' ', MAILBOX_TEXT_MAX + 1);
    memcpy(buf + MAILBOX_TEXT_MAX + 1 - 13, "a@example.com", 13);
    CHECK(mailbox_parse_one(buf, MAILBOX_TEXT_MAX + 1, &m, &err) == -1 &&
          strstr(err.msg, "longer than 4096"));
    CHECK(mailbox_parse_one(buf + 1, MAILBOX_TEXT_MAX, &m, &err) == 0);
    /* An error quotes at most MAILBOX_EXCERPT_MAX bytes, sanitised. */
    memset(buf, 'a', 2000);
    memcpy(buf + 2000, "@\x01", 2);
    CHECK(mailbox_parse_one(buf, 2002, &m, &err) == -1 && message_is_clean(&err) &&
          strlen(err.msg) < 200);
}

struct list {
    const char *in;
    enum mailbox_list_kind kind;
    long count; /* -1: refused */
    const char *why;
};

static void test_lists(void) {
    static const struct list t[] = {
        {"", MAILBOX_ADDRESS_LIST, 0, NULL},
        {"  (c) ", MAILBOX_ADDRESS_LIST, 0, NULL},
        {",", MAILBOX_ADDRESS_LIST, 0, NULL},
        {"a@x.com", MAILBOX_ADDRESS_LIST, 1, NULL},
        {"a@x.com, b@x.com", MAILBOX_ADDRESS_LIST, 2, NULL},
        {"a@x.com,,b@x.com,", MAILBOX_ADDRESS_LIST, 2, NULL},
        {"\"Doe, John\" <j@x.com>, k@x.com", MAILBOX_ADDRESS_LIST, 2, NULL},
        {"(a, b) c@x.com", MAILBOX_ADDRESS_LIST, 1, NULL},
        {"team: a@x.com, b@x.com;, c@x.com", MAILBOX_ADDRESS_LIST, 3, NULL},
        {"team: a@x.com, b@x.com; , c@x.com", MAILBOX_ADDRESS_LIST, 3, NULL},
        {"undisclosed-recipients:;", MAILBOX_ADDRESS_LIST, 0, NULL},
        {"g1:;, g2: a@x.com;", MAILBOX_ADDRESS_LIST, 1, NULL},
        {"team: a@x.com,, b@x.com ;", MAILBOX_ADDRESS_LIST, 2, NULL},
        {"\"team, A\" (c): <a@x.com>;", MAILBOX_ADDRESS_LIST, 1, NULL},
        {"a@x.com, John <b@x.com>, g: c@x.com, \"d e\" <d@x.com>;, h:;", MAILBOX_ADDRESS_LIST, 4,
         NULL},
        {"a@x.com, b@x.com", MAILBOX_LIST, 2, NULL},
        {"team: a@x.com;", MAILBOX_LIST, -1, "group where a mailbox list"},
        {"team: a@x.com", MAILBOX_ADDRESS_LIST, -1, "closing ';'"},
        {"team: h: a@x.com;;", MAILBOX_ADDRESS_LIST, -1, "group inside a group"},
        {"team: a@x.com; b@x.com", MAILBOX_ADDRESS_LIST, -1, "expected ','"},
        {"a@x.com b@x.com", MAILBOX_ADDRESS_LIST, -1, "expected ','"},
        {"a@x.com; b@x.com", MAILBOX_ADDRESS_LIST, -1, "expected ',' between"},
        {": a@x.com;", MAILBOX_ADDRESS_LIST, -1, "group without a name"},
        {"a@x.com, bad", MAILBOX_ADDRESS_LIST, -1, "no address"},
        {"a@x.com,\r\n b@x.com", MAILBOX_ADDRESS_LIST, -1, "control character 0x0D"},
        {"a@x.com, b@x.com.", MAILBOX_ADDRESS_LIST, -1, "trailing dot"},
        {"a@x.com, <@r.com:b@x.com>", MAILBOX_ADDRESS_LIST, -1, "source route"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t len = strlen(t[i].in), n = 999;
        char *in = exact(t[i].in, len);
        struct sp_err err;
        sp_err_clear(&err);
        int r = mailbox_list_count(in, len, t[i].kind, &n, &err);
        int ok = t[i].count >= 0 ? r == 0 && n == (size_t)t[i].count
                                 : r == -1 && message_is_clean(&err) && strstr(err.msg, t[i].why);
        if (!ok) {
            fprintf(stderr, "list %s: r=%d n=%zu msg=%s\n", t[i].in, r, n, err.msg);
        }
        CHECK(ok);
        /* Iterating yields the same count, and a failed cursor keeps failing. */
        struct mailbox_cursor c;
        struct mailbox m;
        size_t k = 0;
        mailbox_cursor_init(&c, in, len, t[i].kind);
        while ((r = mailbox_next(&c, &m, &err)) == 1) {
            k++;
        }
        CHECK(t[i].count >= 0 ? r == 0 && k == (size_t)t[i].count : r == -1);
        CHECK(mailbox_next(&c, &m, &err) == r);
        free(in);
    }
    /* The mailboxes themselves, in order. */
    const char *l = "Ann <ann@x.com>, team: b@Y.com, (c) <c@z.com>;, d@w.com";
    struct mailbox_cursor c;
    struct mailbox m;
    struct sp_err err;
    const char *want[] = {"ann@x.com", "b@y.com", "c@z.com", "d@w.com"};
    const int disp[] = {1, 0, 0, 0};
    mailbox_cursor_init(&c, l, strlen(l), MAILBOX_ADDRESS_LIST);
    for (int i = 0; i < 4; i++) {
        char out[MAILBOX_FORMAT_MAX];
        CHECK(mailbox_next(&c, &m, &err) == 1 &&
              mailbox_format(&m, out, sizeof(out), NULL, &err) == 0 && strcmp(out, want[i]) == 0 &&
              m.has_display_name == disp[i]);
    }
    CHECK(mailbox_next(&c, &m, &err) == 0);
    mailbox_cursor_init(&c, NULL, 5, MAILBOX_LIST);
    CHECK(mailbox_next(&c, &m, &err) == 0);
}

static void test_path(void) {
    struct mailbox m;
    struct sp_err err;
    int null = 9;
    CHECK(mailbox_parse_path("<>", 2, &m, &null, &err) == 0 && null == 1);
    CHECK(mailbox_parse_path(" < > (c)", 8, &m, &null, &err) == 0 && null == 1);
    CHECK(mailbox_parse_path("<b@x.com>", 9, &m, &null, &err) == 0 && null == 0 &&
          strcmp(m.domain, "x.com") == 0);
    CHECK(mailbox_parse_path("b@x.com", 7, &m, &null, &err) == 0 && null == 0);
    CHECK(mailbox_parse_path("Name <b@x.com>", 14, &m, &null, &err) == -1 &&
          strstr(err.msg, "display name"));
    CHECK(mailbox_parse_path("<> x", 4, &m, &null, &err) == -1);
    CHECK(mailbox_parse_path("<>, <b@x.com>", 13, &m, &null, &err) == -1);
    CHECK(mailbox_parse_path("<@r.com:b@x.com>", 16, &m, &null, &err) == -1 &&
          strstr(err.msg, "source route"));
    CHECK(mailbox_parse_path("", 0, &m, &null, &err) == -1);
    CHECK(mailbox_parse_path(NULL, 5, &m, &null, &err) == -1 && strstr(err.msg, "no mailbox"));
    CHECK(mailbox_parse_one(NULL, 5, &m, &err) == -1 && strstr(err.msg, "no mailbox"));
}

struct dom {
    const char *in;
    const char *out; /* NULL: refused */
};

static void test_domains(void) {
    static const struct dom t[] = {
        {"example.com", "example.com"},
        {"Example.COM", "example.com"},
        {"b\xc3\xbc"
         "cher.example",
         "xn--bcher-kva.example"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"m\xc3\xbcnchen.de", "xn--mnchen-3ya.de"},
        {"\xf0\x9f\x98\x80.example", "xn--e28h.example"},
        {"a", "a"},
        {"a-b.c", "a-b.c"},
        {"example.com.", NULL},
        {"", NULL},
        {".", NULL},
        {"exa mple.com", NULL},
        {"1.2.3.4", NULL},
        {"example.com\n", NULL},
        {"*.example.com", NULL},
        {"a@b.com", NULL},
        {"xn--p1ai", "xn--p1ai"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t len = strlen(t[i].in);
        char *in = exact(t[i].in, len);
        char out[MAILBOX_DOMAIN_MAX + 1];
        struct sp_err err;
        sp_err_clear(&err);
        int r = mailbox_domain_normalise(in, len, out, sizeof(out), &err);
        int ok = t[i].out != NULL ? r == 0 && strcmp(out, t[i].out) == 0
                                  : r == -1 && message_is_clean(&err) && out[0] == '\0';
        if (!ok) {
            fprintf(stderr, "domain %s: r=%d out=%s msg=%s\n", t[i].in, r, out, err.msg);
        }
        CHECK(ok);
        free(in);
    }
    /* NUL inside the given length is refused. */
    char out[MAILBOX_DOMAIN_MAX + 1];
    struct sp_err err;
    CHECK(mailbox_domain_normalise("example.com\0", 12, out, sizeof(out), &err) == -1);
    CHECK(mailbox_domain_normalise(NULL, 3, out, sizeof(out), &err) == -1 &&
          strstr(err.msg, "empty domain"));
    /* Only len bytes are read. */
    CHECK(mailbox_domain_normalise("example.com.", 11, out, sizeof(out), &err) == 0 &&
          strcmp(out, "example.com") == 0);
    /* Too small an output is an error, never a cut name. */
    CHECK(mailbox_domain_normalise("example.com", 11, out, 5, &err) == -1 && out[0] == '\0');
    /* Unicode and its A-label normalise to one string; NFD does not (fail closed). */
    char a[MAILBOX_DOMAIN_MAX + 1], b[MAILBOX_DOMAIN_MAX + 1];
    CHECK(mailbox_domain_normalise("b\xc3\xbc"
                                   "cher.de",
                                   10, a, sizeof(a), &err) == 0 &&
          mailbox_domain_normalise("XN--bcher-KVA.de", 16, b, sizeof(b), &err) == 0 &&
          strcmp(a, b) == 0);
    CHECK(mailbox_domain_normalise("bu\xcc\x88"
                                   "cher.de",
                                   11, b, sizeof(b), &err) == 0 &&
          strcmp(a, b) != 0);
}

struct puny {
    const char *utf8;
    const char *ascii;
};

/* Decodes UTF-8 (trusted test data) to code points. */
static size_t to_cps(const char *s, uint32_t *cp) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t c = *p++;
        int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        c &= more == 3 ? 0x07 : more == 2 ? 0x0F : more == 1 ? 0x1F : 0x7F;
        while (more-- > 0) {
            c = c << 6 | (*p++ & 0x3F);
        }
        cp[n++] = c;
    }
    return n;
}

static void test_punycode(void) {
    /* RFC 3492 section 7.1 samples (A, B, L, M, S) and IDN labels, checked
     * against Python's punycode codec. */
    static const struct puny t[] = {
        {"\xd9\x84\xd9\x8a\xd9\x87\xd9\x85\xd8\xa7\xd8\xa8\xd8\xaa\xd9\x83\xd9\x84\xd9\x85\xd9\x88"
         "\xd8\xb4\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\x9f",
         "egbpdaj6bu4bxfgehfvwxn"},
        {"\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9\x88\xe4\xb8\x8d\xe8\xaf\xb4\xe4"
         "\xb8\xad\xe6\x96\x87",
         "ihqwcrb4cv8a8dqg056pqjye"},
        {"3\xe5\xb9\xb4"
         "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab\xe5\x85\x88\xe7\x94\x9f",
         "3B-ww4c5e180e575a65lsy2b"},
        {"\xe5\xae\x89\xe5\xae\xa4\xe5\xa5\x88\xe7\xbe\x8e\xe6\x81\xb5-with-SUPER-MONKEYS",
         "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"},
        {"-> $1.00 <-", "-> $1.00 <--"},
        {"b\xc3\xbc"
         "cher",
         "bcher-kva"},
        {"\xc3\xbc", "tda"},
        {"\xf0\x9f\x98\x80", "e28h"},
        {"\xd1\x80\xd1\x84", "p1ai"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint32_t cp[64], back[64];
        size_t n = to_cps(t[i].utf8, cp), m, len;
        char out[128];
        struct sp_err err;
        CHECK(punycode_encode(cp, n, out, sizeof(out), &len, &err) == 0 &&
              strcmp(out, t[i].ascii) == 0 && len == strlen(t[i].ascii));
        CHECK(punycode_decode(t[i].ascii, strlen(t[i].ascii), back, 64, &m, &err) == 0 && m == n &&
              memcmp(back, cp, n * sizeof(*cp)) == 0);
    }
    uint32_t cp[64];
    size_t m, len;
    struct sp_err err;
    char out[8];
    /* Digits in either case decode alike. */
    uint32_t up[64];
    size_t mu;
    CHECK(punycode_decode("BCHER-KVA", 9, up, 64, &mu, &err) == 0 &&
          punycode_decode("bcher-kva", 9, cp, 64, &m, &err) == 0 && m == mu && cp[1] == up[1] &&
          up[0] == 'B');
    /* Refusals: bad digits, overflow, too many code points, cut numbers,
     * non-basic bytes before the delimiter, too small an output. */
    CHECK(punycode_decode("bcher-kv!", 9, cp, 64, &m, &err) == -1 &&
          strstr(err.msg, "not a digit"));
    CHECK(punycode_decode("99999999999", 11, cp, 64, &m, &err) == -1);
    CHECK(punycode_decode("999999999", 9, cp, 64, &m, &err) == -1 && strstr(err.msg, "overflow"));
    CHECK(punycode_decode("0000000000000000", 16, cp, 64, &m, &err) == -1 &&
          strstr(err.msg, "overflow"));
    CHECK(punycode_decode("bcher-kva", 9, cp, 5, &m, &err) == -1 && strstr(err.msg, "more than 5"));
    CHECK(punycode_decode("bcher-kv", 8, cp, 64, &m, &err) == -1);
    CHECK(punycode_decode("\xc3\xbc-tda", 6, cp, 64, &m, &err) == -1 && strstr(err.msg, "basic"));
    CHECK(punycode_decode("ab-", 3, cp, 64, &m, &err) == 0 && m == 2);
    uint32_t big[] = {0x110000};
    CHECK(punycode_encode(big, 1, out, sizeof(out), &len, &err) == -1);
    uint32_t sur[] = {0xD800};
    CHECK(punycode_encode(sur, 1, out, sizeof(out), &len, &err) == -1);
    uint32_t many[] = {0xFC, 0xFC, 0xFC, 0xFC, 0xFC, 0xFC, 0xFC, 0xFC};
    CHECK(punycode_encode(many, 8, out, sizeof(out), &len, &err) == -1 && out[0] == '\0');
    /* Decoding to a surrogate or past U+10FFFF is refused. */
    uint32_t hi[] = {0x10FFFF};
    char enc[32];
    CHECK(punycode_encode(hi, 1, enc, sizeof(enc), &len, &err) == 0 &&
          punycode_decode(enc, len, cp, 64, &m, &err) == 0 && m == 1 && cp[0] == 0x10FFFF);
    CHECK(punycode_decode("en32g", 5, cp, 64, &m, &err) == -1 && strstr(err.msg, "U+110000"));
    CHECK(punycode_decode("ib9b", 4, cp, 64, &m, &err) == -1 && strstr(err.msg, "U+D800"));
}

static void test_format(void) {
    struct mailbox m;
    struct sp_err err;
    char out[MAILBOX_FORMAT_MAX];
    size_t n;
    CHECK(mailbox_parse_one("\"a..b\"@X.com", 12, &m, &err) == 0 &&
          mailbox_format(&m, out, sizeof(out), &n, &err) == 0 &&
          strcmp(out, "\"a..b\"@x.com") == 0 && n == 12 && m.local_quoted);
    CHECK(mailbox_parse_one("\"ab\"@x.com", 10, &m, &err) == 0 &&
          mailbox_format(&m, out, sizeof(out), &n, &err) == 0 && strcmp(out, "ab@x.com") == 0);
    CHECK(mailbox_format(&m, out, 8, &n, &err) == -1 && out[0] == '\0');
    CHECK(mailbox_format(&m, out, 9, &n, &err) == 0);
    CHECK(mailbox_parse_one("a@b\xc3\xbc"
                            "cher.de",
                            12, &m, &err) == 0 &&
          m.idn == 1 && mailbox_format(&m, out, sizeof(out), NULL, &err) == 0 &&
          strcmp(out, "a@xn--bcher-kva.de") == 0);
    CHECK(mailbox_parse_one("a@example.de", 12, &m, &err) == 0 && m.idn == 0);
    char ex[8];
    mailbox_excerpt("abcdef", 6, 0, ex, sizeof(ex));
    CHECK(strcmp(ex, "abcdef") == 0);
    mailbox_excerpt("a\"\n", 3, 0, ex, sizeof(ex));
    CHECK(strcmp(ex, "a\\x22") == 0);
    mailbox_excerpt("abc", 3, 9, ex, sizeof(ex));
    CHECK(ex[0] == '\0');
}

int main(void) {
    test_plain();
    test_syntax_errors();
    test_hostile_display_names();
    test_hostile_comments();
    test_hostile_quoted();
    test_hostile_groups_one();
    test_hostile_routes();
    test_hostile_encoded_words();
    test_hostile_several();
    test_hostile_idn();
    test_hostile_dots();
    test_hostile_controls();
    test_hostile_utf8();
    test_hostile_literals();
    test_hostile_lengths();
    test_lists();
    test_path();
    test_domains();
    test_punycode();
    test_format();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
