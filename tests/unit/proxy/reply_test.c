/* reply_test - which callers are SDKs and what shape their errors take
 * (proxy/pipeline/reply): the SigV4 and form criteria, sdk_path_prefix
 * (and the config's refusals of prefixes it must not take), the three
 * error styles, and the request id in each body.
 *
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/http/server.h"
#include "proxy/pipeline/reply.h"

#include "tests/unit/unit_check.h"

static struct config *load(const char *text) {
    struct sp_err err;
    sp_err_clear(&err);
    struct config *c = config_load_text(text, strlen(text), "test.json", &err);
    if (c == NULL) {
        fprintf(stderr, "config: %s\n", err.msg);
    }
    return c;
}

/* A request with this path, Authorization scheme, body type and body. */
static void make(struct server_request *sr, const char *path, const char *scheme,
                 enum server_body_kind kind, const char *body) {
    memset(sr, 0, sizeof(*sr));
    snprintf(sr->method, sizeof(sr->method), "POST");
    snprintf(sr->path, sizeof(sr->path), "%s", path);
    snprintf(sr->auth_scheme, sizeof(sr->auth_scheme), "%s", scheme);
    sr->body_kind = kind;
    sr->body = evbuffer_new();
    evbuffer_add(sr->body, body, strlen(body));
}

static void test_who_is_an_sdk(void) {
    struct server_request sr;
    static const struct {
        const char *scheme;
        enum server_body_kind kind;
        const char *body;
        int sdk;
    } cases[] = {
        {"AWS4-HMAC-SHA256", BODY_NONE, "", 1},
        {"AWS4-ECDSA-P256-SHA256", BODY_JSON, "{}", 1}, /* SigV4a */
        {"", BODY_FORM, "Action=SendEmail&Version=2010-12-01", 1},
        {"", BODY_FORM, "Version=2010-12-01&Action=ListIdentities", 1},
        {"", BODY_FORM, "Version=2010-12-01&XAction=ListIdentities", 0},
        {"", BODY_FORM, "{\"Action\": \"SendEmail\", \"x\": \"&Action=1\"}", 0}, /* curl's JSON */
        {"", BODY_JSON, "Action=SendEmail", 0},
        {"", BODY_FORM, "", 0},
        {"Basic", BODY_NONE, "", 0},
        {"AWS", BODY_NONE, "", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make(&sr, "/", cases[i].scheme, cases[i].kind, cases[i].body);
        if (reply_is_sdk(&sr) != cases[i].sdk) {
            failed++;
            fprintf(stderr, "reply_is_sdk(%s, %s) != %d\n", cases[i].scheme, cases[i].body,
                    cases[i].sdk);
        } else {
            passed++;
        }
        evbuffer_free(sr.body);
    }
}

static void test_paths_and_styles(void) {
    struct config *plain = load("{}");
    struct config *ses = load("{\"sdk_path_prefix\": \"/ses\"}");
    CHECK(plain != NULL && ses != NULL && plain->sdk_path_prefix == NULL &&
          strcmp(ses->sdk_path_prefix, "/ses") == 0);
    if (plain == NULL || ses == NULL) {
        return;
    }
    struct server_request sr;
    static const struct {
        const char *path;
        const char *want; /* with the prefix "/ses" */
        enum reply_style style;
    } cases[] = {
        {"/", "/", REPLY_QUERY_XML},
        {"/ses", "/", REPLY_QUERY_XML},
        {"/ses/", "/", REPLY_QUERY_XML},
        {"/ses/v2/email/outbound-emails", "/v2/email/outbound-emails", REPLY_REST_JSON},
        {"/sesame", "/sesame", REPLY_QUERY_XML},
        {"/v2/email/account", "/v2/email/account", REPLY_REST_JSON},
        {"/v2/email", "/v2/email", REPLY_REST_JSON},
        {"/v2/emailx", "/v2/emailx", REPLY_QUERY_XML},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make(&sr, cases[i].path, "AWS4-HMAC-SHA256", BODY_NONE, "");
        CHECK(strcmp(reply_sdk_path(plain, &sr), cases[i].path) == 0);
        CHECK(strcmp(reply_sdk_path(ses, &sr), cases[i].want) == 0);
        CHECK(reply_style_of(ses, &sr) == cases[i].style);
        evbuffer_free(sr.body);
        /* not an SDK's: JSON, whatever the path */
        make(&sr, cases[i].path, "", BODY_JSON, "{}");
        CHECK(reply_style_of(ses, &sr) == REPLY_JSON);
        evbuffer_free(sr.body);
    }
    config_unref(plain);
    config_unref(ses);
}

static void test_prefix_refusals(void) {
    static const char *const bad[] = {
        "\"ses\"",      "\"/\"",         "\"/ses/\"", "\"//ses\"", "\"/a//b\"",
        "\"/s es\"",    "\"/s?x\"",      "\"/v2\"",   "\"/v2/x\"", "\"/healthz\"",
        "\"/metrics\"", "\"/readyz/a\"", "1",         "[\"/a\"]",  "\"/\xc3\xa9\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "{\"sdk_path_prefix\": %s}", bad[i]);
        struct sp_err err;
        sp_err_clear(&err);
        struct config *c = config_load_text(text, strlen(text), "test.json", &err);
        if (c != NULL || err.msg[0] == '\0' || strstr(err.msg, "sdk_path_prefix") == NULL) {
            failed++;
            fprintf(stderr, "sdk_path_prefix %s was not refused by name\n", bad[i]);
        } else {
            passed++;
        }
        config_unref(c);
    }
    struct config *c = load("{\"sdk_path_prefix\": \"/mail/ses-v1_x.~\"}");
    CHECK(c != NULL && strcmp(c->sdk_path_prefix, "/mail/ses-v1_x.~") == 0);
    config_unref(c);
    c = load("{\"sdk_path_prefix\": \"/v20\"}"); /* only /v2 itself and below it are taken */
    CHECK(c != NULL);
    config_unref(c);
    c = load("{\"retry\": {\"sdk_max_attempts\": 4}}");
    CHECK(c != NULL && c->retry_sdk_max_attempts == 4 && c->retry_max_attempts == 3);
    config_unref(c);
    c = load("{}");
    CHECK(c != NULL && c->retry_sdk_max_attempts == 1);
    config_unref(c);
    const char *zero = "{\"retry\": {\"sdk_max_attempts\": 0}}";
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(config_load_text(zero, strlen(zero), "t", &err) == NULL &&
          strstr(err.msg, "retry.sdk_max_attempts") != NULL);
}

static char *text_of(struct evbuffer *b) {
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    return s;
}

static void test_error_bodies(void) {
    struct evbuffer *b = evbuffer_new();
    reply_error_body(b, REPLY_QUERY_XML, "rid-1", 403, "AccessDenied", "no <way>", 0);
    char *s = text_of(b);
    CHECK(strcmp(s, "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error>"
                    "<Type>Sender</Type><Code>AccessDenied</Code><Message>no &lt;way&gt;"
                    "</Message></Error><RequestId>rid-1</RequestId></ErrorResponse>") == 0);
    free(s);
    reply_error_body(b, REPLY_REST_JSON, "rid-2", 413, "RequestEntityTooLarge", "too big", 0);
    s = text_of(b);
    CHECK(strcmp(s, "{\"message\":\"too big\"}") == 0);
    free(s);
    reply_error_body(b, REPLY_JSON, "rid-3", 502, "BadGateway", "down", 2);
    s = text_of(b);
    CHECK(strcmp(s, "{\"Error\":{\"Type\":\"Receiver\",\"Code\":\"BadGateway\",\"Message\":"
                    "\"down\"},\"ResponseMetadata\":{\"RequestId\":\"rid-3\",\"HTTPStatusCode\":"
                    "502,\"RetryAttempts\":2}}") == 0);
    free(s);
    CHECK(strcmp(reply_content_type(REPLY_QUERY_XML), "text/xml") == 0);
    CHECK(strcmp(reply_content_type(REPLY_REST_JSON), "application/json") == 0);
    CHECK(strcmp(reply_content_type(REPLY_JSON), "application/json") == 0);
    evbuffer_free(b);
}

int main(void) {
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ENDPOINT_URL_SES");
    unsetenv("AWS_ENDPOINT_URL");
    test_who_is_an_sdk();
    test_paths_and_styles();
    test_prefix_refusals();
    test_error_bodies();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
