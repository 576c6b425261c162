/* errdoc_test.c - unit tests for api/errdoc: the proxy's own error
 * documents are well-formed, escaped, and read back (through api/xmljson's
 * parser, or jansson) as the error that was written.
 *
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include "api/errdoc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/xmljson.h"
#include "tests/unit/unit_check.h"

static json_t *parse(const char *opname, const char *xml, size_t len, int *is_error,
                     struct sp_err *err) {
    (void)opname;
    json_t *out = NULL;
    sp_err_clear(err);
    if (xmljson_parse(&model_ses, NULL, xml, len, &out, is_error, err) < 0) {
        return NULL;
    }
    return out;
}

struct buf {
    char data[32768];
    size_t len;
    int calls, fail_after;
};

static int on_sink(void *ctx, const void *data, size_t len) {
    struct buf *b = ctx;
    /* fail_after > 0: fail after that many calls; < 0: at the first one */
    if (b->fail_after != 0 && ++b->calls > (b->fail_after < 0 ? 0 : b->fail_after)) {
        return -1;
    }
    if (b->len + len >= sizeof(b->data)) {
        return -1;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static void test_write_error(void) {
    struct buf b = {.len = 0};
    CHECK(errdoc_query_xml("Sender", "ValidationError", "a & b < c > d \"e\" 'f'", "req-1", on_sink,
                           &b) == 0);
    CHECK(strcmp(b.data, "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">"
                         "<Error><Type>Sender</Type><Code>ValidationError</Code>"
                         "<Message>a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;</Message>"
                         "</Error><RequestId>req-1</RequestId></ErrorResponse>") == 0);
    /* it reads back as the same error, through our own parser */
    struct sp_err err;
    int is_error = 0;
    json_t *got = parse(NULL, b.data, b.len, &is_error, &err);
    CHECK(got != NULL && is_error == 1 &&
          strcmp(json_string_value(json_object_get(json_object_get(got, "Error"), "Message")),
                 "a & b < c > d \"e\" 'f'") == 0 &&
          strcmp(json_string_value(
                     json_object_get(json_object_get(got, "ResponseMetadata"), "RequestId")),
                 "req-1") == 0);
    json_decref(got);

    /* NULL type is Sender, NULL fields are left out */
    b.len = 0;
    CHECK(errdoc_query_xml(NULL, "Throttling", NULL, NULL, on_sink, &b) == 0);
    CHECK(strcmp(b.data, "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">"
                         "<Error><Type>Sender</Type><Code>Throttling</Code></Error>"
                         "</ErrorResponse>") == 0);

    /* bytes XML cannot carry become U+FFFD; CR survives as &#13; */
    b.len = 0;
    CHECK(errdoc_query_xml("Receiver", "X", "ok\xc3\xa9|\xff|\x01|\xc0\xaf|\xed\xa0\x80|\r\n|\t",
                           "r", on_sink, &b) == 0);
    CHECK(strstr(b.data, "<Message>ok\xc3\xa9|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|&#13;\n|\t</Message>") != NULL);
    got = parse(NULL, b.data, b.len, &is_error, &err);
    CHECK(got != NULL);
    json_decref(got);

    /* a long message goes out in a few calls and still round-trips */
    char msg[3000];
    for (size_t i = 0; i < sizeof(msg) - 1; i++) {
        msg[i] = "a<&>'\""[i % 6];
    }
    msg[sizeof(msg) - 1] = '\0';
    struct buf big = {.len = 0, .fail_after = 100};
    CHECK(errdoc_query_xml("Sender", "C", msg, "r", on_sink, &big) == 0);
    CHECK(big.calls < 40); /* batched, not a call per escape */
    got = parse(NULL, big.data, big.len, &is_error, &err);
    CHECK(got != NULL &&
          strcmp(json_string_value(json_object_get(json_object_get(got, "Error"), "Message")),
                 msg) == 0);
    json_decref(got);

    /* a failing sink is reported */
    struct buf bad = {.len = 0, .fail_after = 1};
    CHECK(errdoc_query_xml("Sender", "C", msg, "r", on_sink, &bad) < 0);
    CHECK(errdoc_query_xml("Sender", "C", "m", "r", NULL, NULL) < 0);
}

static void test_json(void) {
    struct buf b = {.len = 0};
    CHECK(errdoc_json(403, "AccessDenied", "no \"way\"", "rid-1", 2, on_sink, &b) == 0);
    CHECK(strcmp(b.data, "{\"Error\":{\"Type\":\"Sender\",\"Code\":\"AccessDenied\","
                         "\"Message\":\"no \\\"way\\\"\"},\"ResponseMetadata\":{\"RequestId\":"
                         "\"rid-1\",\"HTTPStatusCode\":403,\"RetryAttempts\":2}}") == 0);
    b.len = 0;
    CHECK(errdoc_json(502, "BadGateway", "bad \xff byte", "r", 0, on_sink, &b) == 0);
    CHECK(strstr(b.data, "\"Type\":\"Receiver\"") != NULL);
    CHECK(strstr(b.data, "(message not shown)") != NULL && strchr(b.data, '\xff') == NULL);
    json_error_t jerr;
    json_t *o = json_loads(b.data, 0, &jerr);
    CHECK(o != NULL && json_integer_value(json_object_get(json_object_get(o, "ResponseMetadata"),
                                                          "HTTPStatusCode")) == 502);
    json_decref(o);
    /* the whole document goes to the sink at once: its failure is reported */
    struct buf bad = {.len = 0, .fail_after = -1};
    CHECK(errdoc_json(400, "C", "m", "r", 0, on_sink, &bad) < 0);
    CHECK(errdoc_json(400, "C", "m", "r", 0, NULL, NULL) < 0);
    CHECK(strcmp(errdoc_type(499), "Sender") == 0 && strcmp(errdoc_type(500), "Receiver") == 0);
}

/* SES v2's REST-JSON error body: the code travels in x-amzn-ErrorType, the
 * body holds only the message, which botocore's RestJSONParser and the JS
 * SDK v3 read from "message". */
static void test_rest_json(void) {
    struct buf b = {.len = 0};
    CHECK(errdoc_rest_json("no \"way\"\n", on_sink, &b) == 0);
    CHECK(strcmp(b.data, "{\"message\":\"no \\\"way\\\"\\n\"}") == 0);
    json_t *o = json_loads(b.data, 0, NULL);
    CHECK(o != NULL && json_object_size(o) == 1 &&
          strcmp(json_string_value(json_object_get(o, "message")), "no \"way\"\n") == 0);
    json_decref(o);
    b.len = 0;
    CHECK(errdoc_rest_json("bad \xc3 byte", on_sink, &b) == 0);
    CHECK(strcmp(b.data, "{\"message\":\"(message not shown)\"}") == 0);
    b.len = 0;
    CHECK(errdoc_rest_json(NULL, on_sink, &b) == 0 && strcmp(b.data, "{\"message\":\"\"}") == 0);
    struct buf bad = {.len = 0, .fail_after = -1};
    CHECK(errdoc_rest_json("m", on_sink, &bad) < 0);
    CHECK(errdoc_rest_json("m", NULL, NULL) < 0);
}

int main(void) {
    test_write_error();
    test_json();
    test_rest_json();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
