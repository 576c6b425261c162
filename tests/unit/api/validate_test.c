/* validate_test - validate_params: every kind of problem, with its path.
 *
 * Messages are compared whole: they are the proxy's 400 answers, and the
 * paths in them are DESIGN's contract (`Destination.ToAddresses[2]`). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/validate.h"

#include "tests/unit/unit_check.h"

/* A synthetic model for what SES lacks: maps, doubles, blobs with a size,
 * list sizes, recursion. */
enum { S_INPUT, S_STR, S_DBL, S_BLOB, S_ATTRS, S_KEY, S_NAMES, S_NODE, S_LNG, S_COUNT };
/* The synthetic model names only the Query-protocol fields; the rest of the
 * model structs (roles, REST locations, HTTP bindings) is zero, as meant. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct model_member input_members[] = {
    {"Str", NULL, S_STR, 0},     {"Dbl", NULL, S_DBL, 0},     {"Blob", NULL, S_BLOB, 0},
    {"Attrs", NULL, S_ATTRS, 0}, {"Names", NULL, S_NAMES, 0}, {"Node", NULL, S_NODE, 0},
    {"Lng", NULL, S_LNG, 0},
};
static const struct model_member attrs_members[] = {{"key", NULL, S_KEY, 1},
                                                    {"value", NULL, S_STR, 1}};
static const struct model_member names_members[] = {{"member", NULL, S_STR, 0}};
static const struct model_member node_members[] = {{"Next", NULL, S_NODE, 0},
                                                   {"Val", NULL, S_STR, 1}};
static const char *const keys[] = {"ab", "cd", "日本"};
static const struct model_shape synth_shapes[S_COUNT] = {
    [S_INPUT] = {"Input", MODEL_STRUCTURE, 0, 0, 0, 0, 0, NULL, NULL, 0, input_members, 7},
    [S_STR] = {"Str", MODEL_STRING, 0, 1, 1, 1, 5, NULL, NULL, 0, NULL, 0},
    [S_DBL] = {"Dbl", MODEL_DOUBLE, 0, 1, 1, -1, 100, NULL, NULL, 0, NULL, 0},
    [S_BLOB] = {"Blob", MODEL_BLOB, 0, 1, 1, 1, 3, NULL, NULL, 0, NULL, 0},
    [S_ATTRS] = {"Attrs", MODEL_MAP, 0, 1, 1, 1, 2, NULL, NULL, 0, attrs_members, 2},
    [S_KEY] = {"Key", MODEL_STRING, 0, 0, 0, 0, 0, NULL, keys, 3, NULL, 0},
    [S_NAMES] = {"Names", MODEL_LIST, 0, 1, 1, 1, 2, NULL, NULL, 0, names_members, 1},
    [S_NODE] = {"Node", MODEL_STRUCTURE, 0, 0, 0, 0, 0, NULL, NULL, 0, node_members, 2},
    [S_LNG] = {"Lng", MODEL_LONG, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
};
static const struct model_op synth_ops[] = {
    {"Test", "test", S_INPUT, -1, NULL, 0, MODEL_OP_PLAIN},
};
static const uint16_t synth_by_snake[] = {0};
static const struct model_service synth = {
    "T", "2020-01-01", "t", "t", "x", synth_shapes, S_COUNT, synth_ops, 1, synth_by_snake, NULL, 0,
};
#pragma GCC diagnostic pop

/* Validates json (params without Action) for op; want NULL = valid. */
static void expect(const struct model_service *svc, const char *opname, const char *json,
                   const char *want, int line) {
    json_error_t je;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
    const struct model_op *op = model_find_op(svc, opname, strlen(opname));
    struct sp_err err;
    if (j == NULL || op == NULL) {
        fprintf(stderr, "line %d: bad test (%s)\n", line, j == NULL ? je.text : opname);
        exit(2);
    }
    sp_err_clear(&err);
    int r = validate_params(svc, op, j, &err);
    if (want == NULL) {
        if (r != 0) {
            failed++;
            fprintf(stderr, "line %d: unexpected: %s\n", line, err.msg);
        } else {
            passed++;
        }
    } else if (r != -1 || err.code == NULL || strcmp(err.code, "ValidationError") != 0 ||
               strcmp(err.msg, want) != 0) {
        failed++;
        fprintf(stderr, "line %d:\n  want %s\n  got  %s\n", line, want,
                r == 0 ? "(valid)" : err.msg);
    } else {
        passed++;
    }
    json_decref(j);
}

#define OK(op, json) expect(&model_ses, op, json, NULL, __LINE__)
#define BAD(op, json, msg) expect(&model_ses, op, json, msg, __LINE__)
#define SOK(json) expect(&synth, "Test", json, NULL, __LINE__)
#define SBAD(json, msg) expect(&synth, "Test", json, msg, __LINE__)

static void test_required_and_enum(void) {
    OK("SetIdentityMailFromDomain", "{\"Identity\": \"user@example.com\", \"MailFromDomain\": "
                                    "\"bounces.example.com\", \"BehaviorOnMXFailure\": "
                                    "\"UseDefaultValue\"}");
    OK("SetIdentityMailFromDomain", "{\"Identity\": \"example.com\", \"MailFromDomain\": null}");
    BAD("SetIdentityMailFromDomain", "{\"BehaviorOnMXFailure\": \"Foo\"}",
        "2 validation errors: Missing required parameter Identity; Invalid value for parameter "
        "BehaviorOnMXFailure, value: Foo, valid values: UseDefaultValue, RejectMessage");
    /* null for a required member is a missing member. */
    BAD("SetIdentityMailFromDomain", "{\"Identity\": null}",
        "1 validation error: Missing required parameter Identity");
    BAD("SendEmail",
        "{\"Source\": \"a@b.c\", \"Destination\": {}, \"Message\": "
        "{\"Subject\": {\"Data\": \"s\"}, \"Body\": {\"Text\": {}}}}",
        "1 validation error: Missing required parameter Message.Body.Text.Data");
    BAD("SendEmail",
        "{\"Source\": \"a@b.c\", \"Destination\": {}, \"Message\": "
        "{\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}, "
        "\"Tags\": [{\"Name\": \"n\", \"Value\": \"v\"}, {\"Value\": \"v\"}]}",
        "1 validation error: Missing required parameter Tags[1].Name");
    /* Enum values are case-sensitive, and botocore never checks them. */
    BAD("ListIdentities", "{\"IdentityType\": \"domain\"}",
        "1 validation error: Invalid value for parameter IdentityType, value: domain, valid "
        "values: EmailAddress, Domain");
}

static void test_unknown(void) {
    BAD("SetIdentityMailFromDomain", "{\"Identity\": \"x\", \"Identiti\": \"y\"}",
        "1 validation error: Unknown parameter Identiti, must be one of: Identity, "
        "MailFromDomain, BehaviorOnMXFailure");
    BAD("SendEmail",
        "{\"Source\": \"a@b.c\", \"Destination\": {\"To\": [\"x\"]}, \"Message\": "
        "{\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}}",
        "1 validation error: Unknown parameter Destination.To, must be one of: ToAddresses, "
        "CcAddresses, BccAddresses");
    /* Even a null unknown member is unknown. */
    BAD("GetIdentityPolicies", "{\"Identity\": \"x\", \"PolicyNames\": [], \"X\": null}",
        "1 validation error: Unknown parameter X, must be one of: Identity, PolicyNames");
    OK("GetSendQuota", "{}");
    BAD("GetSendQuota", "{\"Foo\": 1}",
        "1 validation error: Unknown parameter Foo, the operation takes no parameters");
    /* A key with an embedded NUL (json_object_setn can make one) must not
     * pass for "Identity". */
    json_t *j = json_object();
    json_object_setn_new(j, "Identity\0x", 10, json_string("a"));
    const struct model_op *op = model_find_op(&model_ses, "DeleteIdentity", 14);
    struct sp_err err;
    CHECK(j != NULL && op != NULL);
    CHECK(validate_params(&model_ses, op, j, &err) == -1);
    CHECK(strcmp(err.msg, "2 validation errors: Missing required parameter Identity; Unknown "
                          "parameter Identity, must be one of: Identity") == 0);
    json_decref(j);
}

static void test_types(void) {
    BAD("SendEmail", "{\"Source\": 5, \"Destination\": [], \"Message\": \"m\"}",
        "3 validation errors: Invalid type for parameter Source, value: 5, type: integer, valid "
        "types: string; Invalid type for parameter Destination, value: [...], type: array, valid "
        "types: object; Invalid type for parameter Message, value: m, type: string, valid types: "
        "object");
    BAD("SendEmail",
        "{\"Source\": \"a\", \"Destination\": {\"ToAddresses\": [\"a\", \"b\", "
        "{\"x\": 1}, null]}, \"Message\": {\"Subject\": {\"Data\": \"s\"}, "
        "\"Body\": {}}}",
        "2 validation errors: Invalid type for parameter Destination.ToAddresses[2], value: "
        "{...}, type: object, valid types: string; Invalid type for parameter "
        "Destination.ToAddresses[3], value: null, type: null, valid types: string");
    BAD("SendEmail",
        "{\"Source\": \"a\", \"Destination\": {\"ToAddresses\": \"a@b.c\"}, "
        "\"Message\": {\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}}",
        "1 validation error: Invalid type for parameter Destination.ToAddresses, value: a@b.c, "
        "type: string, valid types: array");
    /* Integers: JSON integers only, not reals and not booleans. */
    OK("ListIdentities", "{\"MaxItems\": 100}");
    BAD("ListIdentities", "{\"MaxItems\": 5.0}",
        "1 validation error: Invalid type for parameter MaxItems, value: 5.0, type: number, "
        "valid types: integer");
    BAD("ListIdentities", "{\"MaxItems\": true}",
        "1 validation error: Invalid type for parameter MaxItems, value: true, type: boolean, "
        "valid types: integer");
    BAD("ListIdentities", "{\"MaxItems\": \"5\"}",
        "1 validation error: Invalid type for parameter MaxItems, value: 5, type: string, valid "
        "types: integer");
    OK("UpdateAccountSendingEnabled", "{\"Enabled\": false}");
    BAD("UpdateAccountSendingEnabled", "{\"Enabled\": \"true\"}",
        "1 validation error: Invalid type for parameter Enabled, value: true, type: string, "
        "valid types: boolean");
    BAD("UpdateAccountSendingEnabled", "{\"Enabled\": 1}",
        "1 validation error: Invalid type for parameter Enabled, value: 1, type: integer, valid "
        "types: boolean");
    /* Top level. */
    BAD("GetSendQuota", "[]", "1 validation error: Parameters must be a JSON object, not array");
    BAD("SetIdentityMailFromDomain", "\"x\"",
        "1 validation error: Parameters must be a JSON object, not string");
    json_t *j = json_null();
    struct sp_err err;
    const struct model_op *op = model_find_op(&model_ses, "GetSendQuota", 12);
    CHECK(validate_params(&model_ses, op, NULL, &err) == -1);
    CHECK(strcmp(err.msg, "1 validation error: Parameters must be a JSON object, not nothing") ==
          0);
    CHECK(validate_params(&model_ses, op, j, &err) == -1);
    json_decref(j);
}

static void test_ranges(void) {
    OK("ListCustomVerificationEmailTemplates", "{\"MaxResults\": 50}");
    OK("ListCustomVerificationEmailTemplates", "{\"MaxResults\": 1}");
    BAD("ListCustomVerificationEmailTemplates", "{\"MaxResults\": 0}",
        "1 validation error: Invalid value for parameter MaxResults, value: 0, valid min value: 1");
    BAD("ListCustomVerificationEmailTemplates", "{\"MaxResults\": 51}",
        "1 validation error: Invalid value for parameter MaxResults, value: 51, valid max value: "
        "50");
    /* String length in characters, as Python's len(str): 64 × "日" is 192 bytes but fits. */
    char json[1024];
    char name[64 * 3 + 1] = "";
    for (int i = 0; i < 64; i++) {
        strcat(name, "\xe6\x97\xa5");
    }
    snprintf(json, sizeof(json), "{\"Identity\": \"x\", \"PolicyName\": \"%s\", \"Policy\": \"p\"}",
             name);
    OK("PutIdentityPolicy", json);
    snprintf(json, sizeof(json),
             "{\"Identity\": \"x\", \"PolicyName\": \"%se\", \"Policy\": \"p\"}", name);
    /* The echoed value is cut at 64 bytes on a character boundary (63 = 21 × 3). */
    BAD("PutIdentityPolicy", json,
        "1 validation error: Invalid length for parameter PolicyName, length: 65, valid max "
        "length: 64");
    BAD("PutIdentityPolicy", "{\"Identity\": \"x\", \"PolicyName\": \"\", \"Policy\": \"\"}",
        "2 validation errors: Invalid length for parameter PolicyName, length: 0, valid min "
        "length: 1; Invalid length for parameter Policy, length: 0, valid min length: 1");
    /* Synthetic: doubles, list and map sizes, blob sizes, map keys and values. */
    SOK("{\"Dbl\": -1, \"Lng\": 9223372036854775807}");
    SOK("{\"Dbl\": 99.5, \"Names\": [\"a\"], \"Attrs\": {\"ab\": \"x\"}, \"Blob\": \"AAEC\"}");
    SBAD("{\"Dbl\": 100.5}",
         "1 validation error: Invalid value for parameter Dbl, value: 100.5, valid max value: 100");
    SBAD("{\"Dbl\": -2}",
         "1 validation error: Invalid value for parameter Dbl, value: -2, valid min value: -1");
    SBAD("{\"Dbl\": \"1\"}", "1 validation error: Invalid type for parameter Dbl, value: 1, type: "
                             "string, valid types: number");
    SBAD("{\"Names\": []}", "1 validation error: Invalid length for parameter Names, length: 0, "
                            "valid min length: 1");
    SBAD("{\"Names\": [\"a\", \"b\", \"toolong\"]}",
         "2 validation errors: Invalid length for parameter Names, length: 3, valid max length: "
         "2; Invalid length for parameter Names[2], length: 7, valid max length: 5");
    SBAD("{\"Attrs\": {}}", "1 validation error: Invalid length for parameter Attrs, length: 0, "
                            "valid min length: 1");
    SBAD("{\"Attrs\": {\"ab\": \"\", \"zz\": \"v\", \"\xe6\x97\xa5\xe6\x9c\xac\": 1}}",
         "4 validation errors: Invalid length for parameter Attrs, length: 3, valid max length: "
         "2; Invalid length for parameter Attrs.ab, length: 0, valid min length: 1; Invalid "
         "value for parameter Attrs (key: zz), value: zz, valid values: ab, cd, \xe6\x97\xa5\xe6"
         "\x9c\xac; Invalid type for parameter Attrs.\xe6\x97\xa5\xe6\x9c\xac, value: 1, type: "
         "integer, valid types: string");
    SBAD("{\"Blob\": \"\"}", "1 validation error: Invalid length for parameter Blob, length: 0, "
                             "valid min length: 1");
    SBAD("{\"Blob\": \"AAECAw==\"}", "1 validation error: Invalid length for parameter Blob, "
                                     "length: 4, valid max length: 3");
    SBAD("{\"Node\": {\"Next\": {\"Next\": {}}, \"Val\": \"v\"}}",
         "2 validation errors: Missing required parameter Node.Next.Val; Missing required "
         "parameter Node.Next.Next.Val");
}

static void test_blob_and_timestamp(void) {
    static const char *const good[] = {"", "YQ==", "YWI=", "YWJj", "+/+/", "AAEC"};
    static const char *const bad[] = {"YQ=",      "YR==", "YWJ=", "Y",    "YWJj\n", "YW Jj",
                                      "YQ==YQ==", "====", "YQ-_", "=YQ=", "YWI==",  "Y==="};
    char json[256];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(json, sizeof(json), "{\"RawMessage\": {\"Data\": \"%s\"}}", good[i]);
        OK("SendRawEmail", json);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[256];
        json_t *j = json_pack("{s:{s:s}}", "RawMessage", "Data", bad[i]);
        const struct model_op *op = model_find_op(&model_ses, "SendRawEmail", 12);
        struct sp_err err;
        snprintf(want, sizeof(want),
                 "1 validation error: Invalid base64 for parameter "
                 "RawMessage.Data, value: %s, valid values: padded base64",
                 bad[i]);
        CHECK(validate_params(&model_ses, op, j, &err) == -1 && strcmp(err.msg, want) == 0);
        json_decref(j);
    }
    BAD("SendRawEmail", "{\"RawMessage\": {\"Data\": 5}}",
        "1 validation error: Invalid type for parameter RawMessage.Data, value: 5, type: "
        "integer, valid types: string (base64)");
#define DSN(arrival, last)                                                                         \
    "{\"OriginalMessageId\": \"m\", \"BounceSender\": \"b@x\", \"MessageDsn\": "                   \
    "{\"ReportingMta\": "                                                                          \
    "\"mta\", \"ArrivalDate\": " arrival "}, \"BouncedRecipientInfoList\": [{\"Recipient\": "      \
    "\"r@x\", \"RecipientDsnFields\": {\"Action\": \"failed\", \"Status\": \"5.0.0\", "            \
    "\"LastAttemptDate\": " last "}}]}"
    OK("SendBounce", DSN("\"2020-01-01T10:00:00Z\"", "1700000000.5"));
    BAD("SendBounce", DSN("\"2020-02-30\"", "true"),
        "2 validation errors: Invalid timestamp for parameter MessageDsn.ArrivalDate, value: "
        "2020-02-30, valid values: YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|+HH:MM]] or epoch seconds "
        "in years 1-9999; Invalid type for parameter "
        "BouncedRecipientInfoList[0].RecipientDsnFields.LastAttemptDate, value: true, type: "
        "boolean, valid types: string (ISO 8601), number (epoch seconds)");
}

/* Is s valid UTF-8 (what json_string needs for the error answer)? */
static int utf8_ok(const char *s) {
    json_t *j = json_string(s);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

static void test_limits(void) {
    /* 2,000 bad addresses: listed while they fit, then counted. */
    json_t *to = json_array();
    for (int i = 0; i < 2000; i++) {
        json_array_append_new(to, json_integer(i));
    }
    json_t *j = json_pack("{s:s, s:{s:o}, s:{s:{s:s}, s:{}}}", "Source", "a@b.c", "Destination",
                          "ToAddresses", to, "Message", "Subject", "Data", "s", "Body");
    const struct model_op *op = model_find_op(&model_ses, "SendEmail", 9);
    struct sp_err err;
    CHECK(validate_params(&model_ses, op, j, &err) == -1);
    CHECK(strncmp(err.msg,
                  "2000 validation errors: Invalid type for parameter "
                  "Destination.ToAddresses[0], value: 0,",
                  75) == 0);
    const char *more = strstr(err.msg, "; and ");
    CHECK(more != NULL && strcmp(more + strlen(more) - 5, " more") == 0);
    CHECK(strlen(err.msg) < SP_ERR_MSG_LEN - 1);
    json_decref(j);

    /* Huge values are never echoed whole; cut on a character boundary. */
    char big[4096];
    size_t n = 0;
    big[n++] = 'a';
    while (n + 4 < sizeof(big)) {
        memcpy(big + n, "\xf0\x9f\x98\x80", 4); /* U+1F600, 4 bytes: cut at 61 */
        n += 4;
    }
    big[n] = '\0';
    j = json_pack("{s:s, s:s}", "Identity", "x", "BehaviorOnMXFailure", big);
    op = model_find_op(&model_ses, "SetIdentityMailFromDomain", 25);
    CHECK(validate_params(&model_ses, op, j, &err) == -1);
    CHECK(utf8_ok(err.msg));
    CHECK(strstr(err.msg, "value: a\xf0\x9f\x98\x80") != NULL);
    const char *v = strstr(err.msg, "value: ") + 7;
    const char *dots = strstr(v, "...,");
    CHECK(dots != NULL && dots - v == 61);
    json_decref(j);

    /* Unknown keys of any length and content are echoed cut, as UTF-8. */
    j = json_object();
    for (int i = 0; i < 40; i++) {
        char key[200];
        snprintf(key, sizeof(key), "%d\xc3\xa9%0150d", i, 0);
        json_object_set_new(j, key, json_true());
    }
    op = model_find_op(&model_ses, "GetSendQuota", 12);
    CHECK(validate_params(&model_ses, op, j, &err) == -1);
    CHECK(utf8_ok(err.msg));
    CHECK(strncmp(err.msg, "40 validation errors: ", 22) == 0);
    CHECK(strstr(err.msg, "more") != NULL);
    json_decref(j);

    /* Nesting deeper than VALIDATE_MAX_DEPTH, through a recursive shape. */
    json_t *root = json_object(), *cur = json_object();
    json_object_set_new(root, "Node", cur);
    for (int i = 0; i < 100; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "Val", json_string("v"));
        json_object_set_new(cur, "Next", next);
        cur = next;
    }
    json_object_set_new(cur, "Val", json_string("v"));
    CHECK(validate_params(&synth, &synth_ops[0], root, &err) == -1);
    CHECK(strncmp(err.msg,
                  "1 validation error: Nesting deeper than 64 levels at parameter "
                  "Node.Next.Next.",
                  78) == 0);
    CHECK(strcmp(err.msg + strlen(err.msg) - 3, "...") == 0);
    CHECK(utf8_ok(err.msg));
    json_decref(root);
}

int main(void) {
    test_required_and_enum();
    test_unknown();
    test_types();
    test_ranges();
    test_blob_and_timestamp();
    test_limits();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
