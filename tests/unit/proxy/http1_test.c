/* http1_test - the HTTP/1.1 head parser: request heads, response heads and
 * chunk-size lines, accepted and refused (RFC 9112; the smuggling rules of
 * http1.h). Every input is parsed from a heap copy of exactly its length, so
 * ASan catches any read past the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http/http1.h"

#include "tests/unit/unit_check.h"

static struct http1_head head;
static const char *why;
/* The copy parsed last (kept so head's pointers stay valid), and its length. */
static char *buf;
static size_t buf_len;

static char *copy_of(const char *s, size_t len) {
    free(buf);
    buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        abort();
    }
    memcpy(buf, s, len);
    buf_len = len;
    return buf;
}

static long req(const char *s) {
    why = NULL;
    size_t len = strlen(s);
    return http1_parse_request(copy_of(s, len), len, &head, &why);
}

static long resp(const char *s) {
    why = NULL;
    size_t len = strlen(s);
    return http1_parse_response(copy_of(s, len), len, &head, &why);
}

static long chunk(const char *s, uint64_t *size) {
    size_t len = strlen(s);
    return http1_parse_chunk_size(copy_of(s, len), len, size);
}

/* Counted string equals a C string (case-sensitive). */
static int eq(const char *s, size_t len, const char *lit) {
    return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* A header's value, by name, equals lit. */
static int header_is(const char *name, const char *lit) {
    const struct http1_header *h = http1_find(&head, name);
    return h != NULL && eq(h->value, h->value_len, lit);
}

/* Every pointer the parser set lies inside the buffer. */
static int inside(void) {
    const char *end = buf + buf_len;
    for (size_t i = 0; i < head.n_headers; i++) {
        const struct http1_header *h = &head.headers[i];
        if (h->name < buf || h->name + h->name_len > end || h->value < buf ||
            h->value + h->value_len > end) {
            return 0;
        }
    }
    return 1;
}

/* An error carries a reason. */
static int refused(long r) { return r == HTTP1_ERROR && why != NULL && *why != '\0'; }

static void test_request_valid(void) {
    const char *s = "POST /SendEmail?x=1 HTTP/1.1\r\n"
                    "Host: localhost:8080\r\n"
                    "Content-Type:application/json\r\n"
                    "X-Padded: \t spaced value \t \r\n"
                    "Content-Length: 42\r\n"
                    "\r\n"
                    "{\"body\":1}";
    long r = req(s);
    CHECK(r == (long)(strlen(s) - strlen("{\"body\":1}")));
    CHECK(eq(head.method, head.method_len, "POST"));
    CHECK(eq(head.target, head.target_len, "/SendEmail?x=1"));
    CHECK(head.minor_version == 1);
    CHECK(head.n_headers == 4);
    CHECK(eq(head.headers[0].name, head.headers[0].name_len, "Host"));
    CHECK(header_is("host", "localhost:8080"));
    CHECK(header_is("CONTENT-TYPE", "application/json"));
    /* Leading and trailing whitespace is not part of the value. */
    CHECK(header_is("x-padded", "spaced value"));
    CHECK(head.has_content_length && head.content_length == 42);
    CHECK(!head.chunked && !head.expect_continue);
    CHECK(head.keep_alive == 1);
    CHECK(http1_find(&head, "absent") == NULL);
    CHECK(http1_find(&head, "Hos") == NULL);
    CHECK(inside());

    /* Keep-alive by version and Connection. */
    CHECK(req("GET / HTTP/1.0\r\n\r\n") > 0 && head.minor_version == 0 && head.keep_alive == 0);
    CHECK(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") > 0 && head.keep_alive == 1);
    CHECK(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0 && head.keep_alive == 1);
    CHECK(req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") > 0 && head.keep_alive == 0);
    CHECK(req("GET / HTTP/1.1\r\nConnection: upgrade, CLOSE\r\n\r\n") > 0 && head.keep_alive == 0);
    CHECK(req("GET / HTTP/1.1\r\nConnection: keep-alive , close\r\n\r\n") > 0 &&
          head.keep_alive == 0);
    /* "closed" is not the token "close". */
    CHECK(req("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n") > 0 && head.keep_alive == 1);
    CHECK(req("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n") > 0 && head.keep_alive == 1);

    /* Content-Length: none, zero, repeated with the same value. */
    CHECK(req("GET / HTTP/1.1\r\n\r\n") > 0 && !head.has_content_length && !head.chunked);
    CHECK(req("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") > 0 && head.has_content_length &&
          head.content_length == 0);
    CHECK(req("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n") > 0 &&
          head.content_length == 7);
    CHECK(req("POST / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n") > 0 &&
          head.content_length == 9999999999999999999ull);

    /* Chunked. */
    CHECK(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") > 0 && head.chunked &&
          !head.has_content_length);
    CHECK(req("POST / HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\n") > 0 && head.chunked);

    /* Expect: 100-continue. */
    CHECK(req("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n") > 0 &&
          head.expect_continue);
    CHECK(req("POST / HTTP/1.1\r\nexpect: 100-Continue\r\n\r\n") > 0 && head.expect_continue);
    CHECK(req("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n") > 0 && !head.expect_continue);

    /* Empty lines before the request line are ignored (RFC 9112 2.2). */
    s = "\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(req(s) == (long)strlen(s) && eq(head.target, head.target_len, "/x") &&
          header_is("host", "a"));
    s = "\nGET /x HTTP/1.1\r\n\r\n";
    CHECK(req(s) == (long)strlen(s) && eq(head.method, head.method_len, "GET"));

    /* Bare LF line ends are accepted (RFC 9112 2.2). */
    s = "GET /lf HTTP/1.1\nHost: b\nContent-Length: 3\n\nabc";
    CHECK(req(s) == (long)strlen(s) - 3 && header_is("host", "b") && head.content_length == 3);
    CHECK(head.n_headers == 2);
    s = "GET / HTTP/1.1\nHost: b\n\r\n";
    CHECK(req(s) == (long)strlen(s) && head.n_headers == 1);

    /* Method is any token; empty header values are kept. */
    CHECK(req("M-SEARCH /upnp HTTP/1.1\r\nX-Empty:\r\nY:   \r\n\r\n") > 0 &&
          eq(head.method, head.method_len, "M-SEARCH") && header_is("x-empty", "") &&
          header_is("y", "") && inside());
    /* Obs-text (bytes >= 0x80) and tabs are allowed in values. */
    CHECK(req("GET / HTTP/1.1\r\nX-Utf8: caf\xc3\xa9\tok\r\n\r\n") > 0 &&
          header_is("x-utf8", "caf\xc3\xa9\tok"));

    /* Exactly HTTP1_MAX_HEADERS headers. */
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP1_MAX_HEADERS; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-H%d: %d\r\n", i, i);
    }
    snprintf(big + n, sizeof(big) - n, "\r\n");
    CHECK(req(big) > 0 && head.n_headers == HTTP1_MAX_HEADERS && header_is("x-h63", "63") &&
          inside());

    CHECK(http1_token_eq("Chunked", 7, "chunked"));
    CHECK(!http1_token_eq("chunke", 6, "chunked"));
    CHECK(!http1_token_eq("chunkedx", 8, "chunked"));
}

static void test_request_incomplete(void) {
    CHECK(req("") == HTTP1_INCOMPLETE);
    CHECK(req("GET") == HTTP1_INCOMPLETE);
    CHECK(req("GET / HTTP/1.1") == HTTP1_INCOMPLETE);
    CHECK(req("GET / HTTP/1.1\r\n") == HTTP1_INCOMPLETE);
    CHECK(req("GET / HTTP/1.1\r\nHost: a\r\n") == HTTP1_INCOMPLETE);
    CHECK(req("GET / HTTP/1.1\r\nHost: a\r\n\r") == HTTP1_INCOMPLETE);
    CHECK(req("GET / HTTP/1.1\nHost: a\n") == HTTP1_INCOMPLETE);
    /* Incomplete even when what is there is already malformed: the parser
     * only looks at a whole head. */
    CHECK(req("G@T / HTTP/1.1\r\n") == HTTP1_INCOMPLETE);
    /* Every proper prefix of a valid head is incomplete. */
    const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
    size_t len = strlen(s);
    int all = 1;
    for (size_t i = 0; i < len; i++) {
        char *p = copy_of(s, i);
        all &= http1_parse_request(p, i, &head, &why) == HTTP1_INCOMPLETE;
    }
    CHECK(all);
    CHECK(req(s) == (long)len);
}

static void test_request_malformed(void) {
    /* Method characters. */
    CHECK(refused(req("G@T / HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("GE(T / HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("G\x01T / HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("G\xc3\xa9T / HTTP/1.1\r\n\r\n")));
    /* Request line shape. */
    CHECK(refused(req("GET /\r\n\r\n")));
    CHECK(refused(req("GET / \r\n\r\n")));
    CHECK(refused(req("GET\r\n\r\n")));
    CHECK(refused(req(" / HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("GET  / HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1 \r\n\r\n")));
    CHECK(refused(req("GET /a b HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("GET /a\tb HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("GET /\x7f HTTP/1.1\r\n\r\n")));
    /* Targets other than origin-form, refused as such. */
    CHECK(refused(req("GET http://ses.example/ HTTP/1.1\r\nHost: a\r\n\r\n")) &&
          strstr(why, "start with '/'") != NULL);
    CHECK(refused(req("CONNECT email.us-east-1.amazonaws.com:443 HTTP/1.1\r\n\r\n")) &&
          strstr(why, "start with '/'") != NULL);
    CHECK(refused(req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")) &&
          strstr(why, "start with '/'") != NULL);
    CHECK(refused(req("POST SendEmail HTTP/1.1\r\n\r\n")));
    CHECK(refused(req("GET ?a=1 HTTP/1.1\r\n\r\n")));
    /* Versions. */
    CHECK(refused(req("GET / HTTP/2.0\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.2\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.10\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1\r\n\r\n")));
    CHECK(refused(req("GET / http/1.1\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\r\n\r\n")));
    /* Obsolete line folding, refused as such (not as some other fault). */
    CHECK(refused(req("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n")) &&
          strstr(why, "folding") != NULL);
    CHECK(refused(req("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo: x\r\n\r\n")) &&
          strstr(why, "folding") != NULL);
    CHECK(refused(req("GET / HTTP/1.1\r\n Host: a\r\n\r\n")));
    /* Header names: space before the colon, empty, no colon, bad chars. */
    CHECK(refused(req("GET / HTTP/1.1\r\nHost : a\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\n: a\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nHost a\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nX(y): a\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nX\x7fy: a\r\n\r\n")));
    /* Control characters in values: bare CR, NUL-free C0s, DEL. */
    CHECK(refused(req("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nX-A: a\x1b[0m\r\n\r\n")));
    CHECK(refused(req("GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n")));
    {
        static const char nul[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
        size_t len = sizeof(nul) - 1;
        why = NULL;
        CHECK(refused(http1_parse_request(copy_of(nul, len), len, &head, &why)));
    }
    /* Content-Length: conflicting, malformed, too long, signed, a list. */
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n")));
    /* Content-Length with Transfer-Encoding, either order. */
    CHECK(refused(req("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 5\r\n\r\n")));
    /* Transfer-Encoding other than chunked alone. */
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n")));
    CHECK(refused(req("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n")));
    /* One header too many. */
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP1_MAX_HEADERS + 1; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-H%d: %d\r\n", i, i);
    }
    snprintf(big + n, sizeof(big) - n, "\r\n");
    CHECK(refused(req(big)));
    /* Only empty lines: ignored while waiting for the request line (RFC 9112
     * 2.2), but not without bound. */
    CHECK(req("\r\n\r\n") == HTTP1_INCOMPLETE);
    CHECK(req("\n\n") == HTTP1_INCOMPLETE);
    CHECK(req("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n") > 0);
    char blank[200];
    memset(blank, '\n', sizeof(blank) - 1);
    blank[sizeof(blank) - 1] = '\0';
    CHECK(refused(req(blank)));
    /* Header names: exactly RFC 9110's tchar set, every byte value tried. */
    for (int b = 0; b < 256; b++) {
        int want = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                   (b != 0 && strchr("!#$%&'*+-.^_`|~", b) != NULL);
        char line[64];
        int len = snprintf(line, sizeof(line), "GET / HTTP/1.1\r\nX%cY: 1\r\n\r\n", b);
        long r = http1_parse_request(line, (size_t)len, &head, &why);
        /* "X:Y: 1" is the header X with the value "Y: 1" */
        CHECK(want || b == ':' ? r == len : r == HTTP1_ERROR);
    }
    /* The bound is exact: 64 empty bytes then a request line parse, and
     * any prefix of that is incomplete, never refused (fuzz_http1 found the
     * prefix refused once); the 65th empty byte is refused. */
    char edge[128];
    memset(edge, '\n', 64);
    strcpy(edge + 64, "GET / HTTP/1.1\r\n\r\n");
    CHECK(req(edge) == (long)strlen(edge));
    for (size_t cut = 0; cut < strlen(edge); cut++) {
        CHECK(http1_parse_request(edge, cut, &head, &why) == HTTP1_INCOMPLETE);
    }
    memset(edge, '\n', 65);
    strcpy(edge + 65, "GET / HTTP/1.1\r\n\r\n");
    CHECK(refused(req(edge)));
    /* Chunk-size lines: junk after the size, or a bare CR, are refused. */
    uint64_t cs;
    CHECK(http1_parse_chunk_size("5 garbage\r\n", 12, &cs) == -1);
    CHECK(http1_parse_chunk_size("5\rX\n", 4, &cs) == -1);
    CHECK(http1_parse_chunk_size("5 ;ext=1\r\n", 10, &cs) == 10 && cs == 5);
}

static void test_response(void) {
    const char *s = "HTTP/1.1 200 OK\r\n"
                    "Content-Type: text/xml\r\n"
                    "Content-Length: 120\r\n"
                    "x-amzn-RequestId: 5c1b5c1b-0000\r\n"
                    "\r\n"
                    "<xml/>";
    CHECK(resp(s) == (long)(strlen(s) - 6));
    CHECK(head.status == 200 && eq(head.reason, head.reason_len, "OK"));
    CHECK(head.minor_version == 1 && head.keep_alive == 1);
    CHECK(head.n_headers == 3 && head.has_content_length && head.content_length == 120);
    CHECK(header_is("X-Amzn-RequestId", "5c1b5c1b-0000") && inside());

    /* Reason with spaces, empty reason, no reason at all. */
    CHECK(resp("HTTP/1.1 503 Service Unavailable\r\n\r\n") > 0 && head.status == 503 &&
          eq(head.reason, head.reason_len, "Service Unavailable"));
    CHECK(resp("HTTP/1.1 404 \r\n\r\n") > 0 && head.status == 404 && head.reason_len == 0);
    CHECK(resp("HTTP/1.1 204\r\n\r\n") > 0 && head.status == 204 && head.reason_len == 0);
    CHECK(resp("HTTP/1.1 204\n\n") > 0 && head.status == 204);
    /* 1xx, and HTTP/1.0 with and without keep-alive. */
    CHECK(resp("HTTP/1.1 100 Continue\r\n\r\n") == 25 && head.status == 100);
    CHECK(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n") > 0 && head.status == 101);
    CHECK(resp("HTTP/1.0 200 OK\r\n\r\n") > 0 && head.minor_version == 0 && !head.keep_alive);
    CHECK(resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n") > 0 && head.keep_alive);
    CHECK(resp("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n") > 0 && !head.keep_alive);
    CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") > 0 && head.chunked);
    CHECK(resp("HTTP/1.1 599 Odd\r\n\r\n") > 0 && head.status == 599);

    /* Incomplete. */
    CHECK(resp("") == HTTP1_INCOMPLETE);
    CHECK(resp("HTTP/1.1 200 OK") == HTTP1_INCOMPLETE);
    CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n") == HTTP1_INCOMPLETE);

    /* Malformed status lines. */
    CHECK(refused(resp("HTTP/1.1 20 OK\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 2000 OK\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 2x0 OK\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 099 Low\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1  200 OK\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 200\tOK\r\n\r\n")));
    CHECK(refused(resp("HTTP/2.0 200 OK\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1200 OK\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1\r\n\r\n")));
    CHECK(refused(resp("ICY 200 OK\r\n\r\n")));
    CHECK(refused(resp("\r\nHTTP/1.1 200 OK\r\n\r\n")));
    /* The header rules hold for responses too. */
    CHECK(refused(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n")));
    CHECK(refused(resp("HTTP/1.1 200 OK\r\nX : a\r\n\r\n")));
}

static void test_chunk_size(void) {
    uint64_t size = 12345;
    CHECK(chunk("0\r\n", &size) == 3 && size == 0);
    CHECK(chunk("1a3\r\n", &size) == 5 && size == 0x1a3);
    CHECK(chunk("1A3\r\n", &size) == 5 && size == 0x1a3);
    CHECK(chunk("ffffffffffffff\r\nbody", &size) == 16 && size == 0xffffffffffffffull);
    CHECK(chunk("fffffffffffffff\r\n", &size) == 17 && size == 0xfffffffffffffffull);
    /* Bare LF, extensions, whitespace before an extension. */
    CHECK(chunk("10\n", &size) == 3 && size == 16);
    CHECK(chunk("5;name=value\r\n", &size) == 14 && size == 5);
    CHECK(chunk("5;a=\"q;x\";b\r\nhello", &size) == 13 && size == 5);
    CHECK(chunk("5 ;ext\r\n", &size) == 8 && size == 5);
    CHECK(chunk("5\t;ext\r\n", &size) == 8 && size == 5);
    /* Incomplete: no line end yet. */
    size = 777;
    CHECK(chunk("", &size) == 0 && size == 777);
    CHECK(chunk("1a", &size) == 0);
    CHECK(chunk("1a\r", &size) == 0);
    CHECK(chunk("1a;ext=long", &size) == 0);
    /* Malformed: no digits, bad digits, too many digits, too long a line. */
    CHECK(chunk("\r\n", &size) == -1);
    CHECK(chunk(";ext\r\n", &size) == -1);
    CHECK(chunk("g\r\n", &size) == -1);
    CHECK(chunk("0x10\r\n", &size) == -1);
    CHECK(chunk("-1\r\n", &size) == -1);
    CHECK(chunk(" 5\r\n", &size) == -1);
    CHECK(chunk("5z\r\n", &size) == -1);
    CHECK(chunk("1ffffffffffffff\r\n", &size) == 17);
    CHECK(chunk("1000000000000000\r\n", &size) == -1);
    CHECK(chunk("ffffffffffffffffffff\r\n", &size) == -1);
    CHECK(size == 0x1ffffffffffffffull); /* unchanged by the refusals */
    char line[2100];
    memset(line, 'a', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    line[0] = '5';
    line[1] = ';';
    CHECK(chunk(line, &size) == -1); /* 2 KiB without a line end */
    line[1023] = '\0';
    CHECK(chunk(line, &size) == 0); /* 1 KiB so far: may still end */
    /* The same long line, whole: refused as well, whatever the split. */
    memset(line, 'a', sizeof(line) - 1);
    line[0] = '5';
    line[1] = ';';
    line[2000] = '\r';
    line[2001] = '\n';
    line[2002] = '\0';
    CHECK(chunk(line, &size) == -1);
}

int main(void) {
    test_request_valid();
    test_request_incomplete();
    test_request_malformed();
    test_response();
    test_chunk_size();
    free(buf);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
