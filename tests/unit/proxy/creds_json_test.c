/* creds_json_test - the answers that carry credentials: IMDS / container /
 * credential_process JSON, STS XML, their timestamps, and the checks that
 * turn them into a set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds.h"
#include "proxy/creds/creds_json.h"

#include "tests/unit/unit_check.h"

static int str_eq(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

/* Exact-size heap copies, so ASan sees reads past the end. */
static int json(const char *text, struct creds_doc *d, struct sp_err *err) {
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    sp_err_clear(err);
    int rc = creds_json_parse(copy, n, d, err);
    free(copy);
    return rc;
}

static int xml(const char *text, struct creds_doc *d, struct sp_err *err) {
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    sp_err_clear(err);
    int rc = creds_sts_xml_parse(copy, n, d, err);
    free(copy);
    return rc;
}

static void test_imds_json(void) {
    struct creds_doc d;
    struct sp_err err;
    CHECK(json("{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-05-01T11:00:00Z\",\n"
               "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIMDS\",\n"
               "  \"SecretAccessKey\" : \"s3cr3t/+=\",\n  \"Token\" : \"tok\\/en==\",\n"
               "  \"Expiration\" : \"2024-05-01T17:00:00Z\"\n}\n",
               &d, &err) == 0);
    CHECK(str_eq(d.code, "Success"));
    CHECK(str_eq(d.access_key_id, "ASIAIMDS"));
    CHECK(str_eq(d.secret_access_key, "s3cr3t/+="));
    CHECK(str_eq(d.session_token, "tok/en=="));
    CHECK(str_eq(d.expiration, "2024-05-01T17:00:00Z"));
    CHECK(d.version == -1);
    struct creds *c = creds_from_doc(&d, "imds", 1, 1, &err);
    CHECK(c != NULL && c->expiration == 1714582800 && str_eq(c->provider, "imds"));
    creds_unref(c);
    creds_doc_clear(&d);
    CHECK(d.access_key_id == NULL && d.version == -1);
}

static void test_container_and_process_json(void) {
    struct creds_doc d;
    struct sp_err err;
    /* ECS / EKS Pod Identity shape */
    CHECK(json("{\"AccessKeyId\":\"ASIAECS\",\"Expiration\":\"2024-05-01T17:00:00.123Z\","
               "\"RoleArn\":\"arn:aws:iam::1:role/x\",\"SecretAccessKey\":\"sec\","
               "\"Token\":\"tok\",\"AccountId\":\"123\",\"Nested\":{\"a\":[1,2.5e3,true,false,"
               "null,{\"b\":\"\\u00e9\\ud83d\\ude00\"}]}}",
               &d, &err) == 0);
    struct creds *c = creds_from_doc(&d, "container", 1, 1, &err);
    CHECK(c != NULL && c->expiration == 1714582800 && str_eq(c->session_token, "tok"));
    creds_unref(c);
    creds_doc_clear(&d);
    /* credential_process: Version, SessionToken, optional Expiration */
    CHECK(json("{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"x\"}", &d,
               &err) == 0);
    CHECK(d.version == 1 && d.session_token == NULL && d.expiration == NULL);
    c = creds_from_doc(&d, "process", 0, 0, &err);
    CHECK(c != NULL && c->expiration == 0 && c->session_token == NULL);
    creds_unref(c);
    /* ... but not when a token or an expiry is required */
    CHECK(creds_from_doc(&d, "imds", 1, 1, &err) == NULL && strstr(err.msg, "token") != NULL);
    CHECK(creds_from_doc(&d, "imds", 0, 1, &err) == NULL && strstr(err.msg, "Expiration"));
    creds_doc_clear(&d);
    CHECK(json("{\"Version\": 2, \"SessionToken\": \"t\"}", &d, &err) == 0 && d.version == 2 &&
          str_eq(d.session_token, "t"));
    creds_doc_clear(&d);
    CHECK(json("{\"Version\": 1.5}", &d, &err) == 0 && d.version == -2);
    creds_doc_clear(&d);
    /* a repeated member keeps the last value; a non-string known member is skipped */
    CHECK(json("{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\",\"Code\":404,\"message\":null}", &d,
               &err) == 0);
    CHECK(str_eq(d.access_key_id, "B") && d.code == NULL && d.message == NULL);
    creds_doc_clear(&d);
    /* ECS error shape */
    CHECK(json("{\"code\":\"AccessDenied\",\"message\":\"no\"}", &d, &err) == 0 &&
          str_eq(d.code, "AccessDenied") && str_eq(d.message, "no"));
    creds_doc_clear(&d);
}

static void test_json_rejects(void) {
    static const char *const bad[] = {
        "",
        "[]",
        "\"AccessKeyId\"",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":1} x",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"AccessKeyId\":\"a\\u0000b\"}",
        "{\"a\":\"raw\ncontrol\"}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"trailing backslash\\",
        "{'a':1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct creds_doc d;
        struct sp_err err;
        int rc = json(bad[i], &d, &err);
        CHECK(rc == -1);
        if (rc == 0) {
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        }
        CHECK(d.access_key_id == NULL);
        CHECK(strstr(err.msg, "byte") != NULL);
    }
    /* nesting is capped */
    char deep[200];
    memset(deep, '[', sizeof(deep));
    memcpy(deep, "{\"a\":", 5);
    deep[sizeof(deep) - 1] = '\0';
    struct creds_doc d;
    struct sp_err err;
    CHECK(json(deep, &d, &err) == -1 && strstr(err.msg, "deep") != NULL);
    /* a message never quotes the input */
    CHECK(json("{\"SecretAccessKey\":\"TOPSECRET\" oops}", &d, &err) == -1);
    CHECK(strstr(err.msg, "TOPSECRET") == NULL);
}

static void test_from_doc_rejects(void) {
    struct creds_doc d;
    struct sp_err err;
    CHECK(json("{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"s\"}", &d, &err) == 0);
    CHECK(creds_from_doc(&d, "x", 0, 0, &err) == NULL);
    creds_doc_clear(&d);
    CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\\r\\nX-Injected: 1\"}", &d, &err) ==
          0);
    CHECK(creds_from_doc(&d, "x", 0, 0, &err) == NULL && strstr(err.msg, "X-Injected") == NULL);
    creds_doc_clear(&d);
    CHECK(json("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}", &d,
               &err) == 0);
    CHECK(creds_from_doc(&d, "x", 0, 0, &err) == NULL && strstr(err.msg, "soon") == NULL);
    creds_doc_clear(&d);
    CHECK(json("{\"SecretAccessKey\":\"s\"}", &d, &err) == 0);
    CHECK(creds_from_doc(&d, "x", 0, 0, &err) == NULL && strstr(err.msg, "AccessKeyId"));
    creds_doc_clear(&d);
}

static const char STS_OK[] =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>\n"
    "    <Audience>sts.amazonaws.com</Audience>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\n"
    "      <AssumedRoleId>AROA:s</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIASTS</AccessKeyId>\n"
    "      <SecretAccessKey>sts/secret+key</SecretAccessKey>\n"
    "      <SessionToken>FwoGZX&amp;token==</SessionToken>\n"
    "      <Expiration>2024-05-01T17:00:00Z</Expiration>\n"
    "    </Credentials>\n"
    "    <Provider>arn:aws:iam::123456789012:oidc-provider/x</Provider>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

static void test_sts_xml(void) {
    struct creds_doc d;
    struct sp_err err;
    CHECK(xml(STS_OK, &d, &err) == 0 && !d.is_error);
    CHECK(str_eq(d.access_key_id, "ASIASTS"));
    CHECK(str_eq(d.secret_access_key, "sts/secret+key"));
    CHECK(str_eq(d.session_token, "FwoGZX&token=="));
    struct creds *c = creds_from_doc(&d, "web_identity", 1, 1, &err);
    CHECK(c != NULL && c->expiration == 1714582800);
    creds_unref(c);
    creds_doc_clear(&d);
    /* AssumeRole, with a namespace prefix */
    CHECK(xml("<?xml version=\"1.0\"?><s:AssumeRoleResponse xmlns:s=\"urn:x\"><s:AssumeRoleResult>"
              "<s:Credentials><s:AccessKeyId>ASIAAR</s:AccessKeyId><s:SecretAccessKey>k"
              "</s:SecretAccessKey><s:SessionToken>t</s:SessionToken><s:Expiration>"
              "2024-05-01T17:00:00.5Z</s:Expiration></s:Credentials></s:AssumeRoleResult>"
              "</s:AssumeRoleResponse>",
              &d, &err) == 0);
    CHECK(str_eq(d.access_key_id, "ASIAAR") && str_eq(d.expiration, "2024-05-01T17:00:00.5Z"));
    creds_doc_clear(&d);
    /* Credentials elsewhere do not count */
    CHECK(xml("<AssumeRoleResponse><Other><Credentials><AccessKeyId>X</AccessKeyId>"
              "</Credentials></Other></AssumeRoleResponse>",
              &d, &err) == 0);
    CHECK(d.access_key_id == NULL);
    creds_doc_clear(&d);
    /* errors */
    CHECK(xml("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
              "<Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Incorrect token "
              "audience</Message></Error><RequestId>r</RequestId></ErrorResponse>",
              &d, &err) == 0);
    CHECK(d.is_error && str_eq(d.code, "InvalidIdentityToken") &&
          str_eq(d.message, "Incorrect token audience"));
    creds_doc_clear(&d);
    static const char *const bad[] = {
        "",
        "not xml",
        "<AssumeRoleResponse>",
        "<Unexpected/>",
        "<!DOCTYPE x [<!ENTITY e \"SECRET\">]><AssumeRoleResponse>&e;</AssumeRoleResponse>",
        "<AssumeRoleResponse></AssumeRoleResponse><Second/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(xml(bad[i], &d, &err) == -1);
        CHECK(d.access_key_id == NULL && !d.is_error);
        CHECK(strstr(err.msg, "SECRET") == NULL);
    }
}

static void test_time(void) {
    time_t t;
    CHECK(creds_parse_time("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
    CHECK(creds_parse_time("2024-05-01T17:00:00Z", &t) == 0 && t == 1714582800);
    CHECK(creds_parse_time("2024-05-01t17:00:00z", &t) == 0 && t == 1714582800);
    CHECK(creds_parse_time("2024-05-01T17:00:00.999999Z", &t) == 0 && t == 1714582800);
    CHECK(creds_parse_time("2024-05-01T19:00:00+02:00", &t) == 0 && t == 1714582800);
    CHECK(creds_parse_time("2024-05-01T12:30:00-0430", &t) == 0 && t == 1714582800);
    CHECK(creds_parse_time("2024-02-29T00:00:00Z", &t) == 0);
    CHECK(creds_parse_time("9999-12-31T23:59:59Z", &t) == 0);
    static const char *const bad[] = {
        "",
        "2024-05-01",
        "2024-05-01T17:00:00",
        "2024-05-01 17:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T17:60:00Z",
        "2024-05-01T17:00:00.Z",
        "2024-05-01T17:00:00Zjunk",
        "1969-12-31T23:59:59Z",
        "2024-05-01T17:00:00+2",
        "20x4-05-01T17:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(creds_parse_time(bad[i], &t) == -1);
    }
}

int main(void) {
    test_imds_json();
    test_container_and_process_json();
    test_json_rejects();
    test_from_doc_rejects();
    test_sts_xml();
    test_time();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
