/* query_test - query_serialize / query_percent_encode / timestamps / doubles.
 *
 * Expected bodies were produced by botocore 1.29 (QuerySerializer, then
 * urlencode as its AWSRequest prepares the body: a space is '+') for the
 * same parameters; the synthetic model
 * below mirrors a botocore service description written to reach what SES's
 * model lacks (maps, doubles, longs, flattened lists and maps, locationName,
 * rfc822 and unixTimestamp formats). tests/integ/test_query_oracle.py runs
 * botocore itself over every SES operation. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"

#include "tests/unit/unit_check.h"

/* ---- sinks ---------------------------------------------------------------- */

struct out {
    char *data;
    size_t len, cap;
    size_t calls, max_chunk;
    size_t fail_at; /* fail on this call (1-based); 0 = never */
    int keep;       /* store the bytes, or only count them */
};

static int on_out(void *ctx, const void *data, size_t len) {
    struct out *o = ctx;
    o->calls++;
    if (o->fail_at != 0 && o->calls == o->fail_at) {
        return -1;
    }
    if (len > o->max_chunk) {
        o->max_chunk = len;
    }
    if (o->keep) {
        if (o->len + len + 1 > o->cap) {
            size_t cap = (o->len + len + 1) * 2;
            char *p = realloc(o->data, cap);
            if (p == NULL) {
                return -1;
            }
            o->data = p;
            o->cap = cap;
        }
        memcpy(o->data + o->len, data, len);
        o->data[o->len + len] = '\0';
    }
    o->len += len;
    return 0;
}

static void out_free(struct out *o) {
    free(o->data);
    memset(o, 0, sizeof(*o));
}

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (j == NULL) {
        fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
        exit(2);
    }
    return j;
}

/* Serializes {"Action": ..., params} and compares with want (NULL = must fail). */
static void check_body(const struct model_service *svc, const char *json, const char *want,
                       int line) {
    json_t *j = parse(json);
    json_t *a = json_object_get(j, "Action");
    const struct model_op *op = model_find_op(svc, json_string_value(a), json_string_length(a));
    struct out o = {.keep = 1};
    struct sp_err err;
    sp_err_clear(&err);
    int ok = op != NULL;
    if (ok) {
        json_object_del(j, "Action");
        ok = validate_params(svc, op, j, &err) == 0 &&
             query_serialize(svc, op, j, on_out, &o, &err) == 0;
    }
    if (want == NULL) {
        if (ok) {
            failed++;
            fprintf(stderr, "line %d: expected failure, got %s\n", line, o.data);
        } else {
            passed++;
        }
    } else if (!ok || o.data == NULL || strcmp(o.data, want) != 0) {
        failed++;
        fprintf(stderr, "line %d:\n  want %s\n  got  %s (%s %s)\n", line, want,
                o.data ? o.data : "(none)", err.code ? err.code : "", err.msg);
    } else {
        passed++;
    }
    out_free(&o);
    json_decref(j);
}

/* ---- synthetic model (see the file comment) ------------------------------- */

enum {
    S_INPUT,
    S_STR,
    S_INT,
    S_DBL,
    S_LNG,
    S_BOOL,
    S_TS,
    S_BLOB,
    S_ATTRS,
    S_KEY,
    S_FLATLIST,
    S_NODE,
    S_TSRFC,
    S_TSUNIX,
    S_COLOR,
    S_NAMES,
    S_FLATMAP,
    S_PLAIN,
    S_COUNT
};
/* The synthetic model names only the Query-protocol fields; the rest of the
 * model structs (roles, REST locations, HTTP bindings) is zero, as meant. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct model_member input_members[] = {
    {"Str", NULL, S_STR, 1},         {"Num", NULL, S_INT, 0},     {"Dbl", NULL, S_DBL, 0},
    {"Lng", NULL, S_LNG, 0},         {"Flag", NULL, S_BOOL, 0},   {"When", NULL, S_TS, 0},
    {"Blob", NULL, S_BLOB, 0},       {"Attrs", NULL, S_ATTRS, 0}, {"Flat", NULL, S_FLATLIST, 0},
    {"Node", NULL, S_NODE, 0},       {"Rfc", NULL, S_TSRFC, 0},   {"Unix", NULL, S_TSUNIX, 0},
    {"Color", NULL, S_COLOR, 0},     {"Names", NULL, S_NAMES, 0}, {"Renamed", "WireName", S_STR, 0},
    {"FlatMap", NULL, S_FLATMAP, 0}, {"Plain", NULL, S_PLAIN, 0},
};
static const struct model_member attrs_members[] = {{"key", NULL, S_KEY, 1},
                                                    {"value", NULL, S_STR, 1}};
static const struct model_member flatlist_members[] = {{"member", "Item", S_STR, 0}};
static const struct model_member node_members[] = {
    {"Next", NULL, S_NODE, 0}, {"Val", NULL, S_STR, 0}, {"Flat", NULL, S_FLATLIST, 0}};
static const struct model_member names_members[] = {{"member", NULL, S_STR, 0}};
static const struct model_member flatmap_members[] = {{"key", "K", S_KEY, 1},
                                                      {"value", "V", S_STR, 1}};
static const struct model_member plain_members[] = {{"member", "Elem", S_STR, 0}};
static const char *const colors[] = {"red", "green"};
static const struct model_shape synth_shapes[S_COUNT] = {
    [S_INPUT] = {"Input", MODEL_STRUCTURE, 0, 0, 0, 0, 0, NULL, NULL, 0, input_members, 17},
    [S_STR] = {"Str", MODEL_STRING, 0, 1, 1, 1, 5, NULL, NULL, 0, NULL, 0},
    [S_INT] = {"Int", MODEL_INTEGER, 0, 1, 1, -5, 5, NULL, NULL, 0, NULL, 0},
    [S_DBL] = {"Dbl", MODEL_DOUBLE, 0, 1, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    [S_LNG] = {"Lng", MODEL_LONG, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    [S_BOOL] = {"Bool", MODEL_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    [S_TS] = {"Ts", MODEL_TIMESTAMP, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    [S_BLOB] = {"Blob", MODEL_BLOB, 0, 0, 1, 0, 3, NULL, NULL, 0, NULL, 0},
    [S_ATTRS] = {"Attrs", MODEL_MAP, 0, 0, 1, 0, 2, NULL, NULL, 0, attrs_members, 2},
    [S_KEY] = {"Key", MODEL_STRING, 0, 1, 1, 1, 3, NULL, NULL, 0, NULL, 0},
    [S_FLATLIST] = {"FlatList", MODEL_LIST, 1, 0, 0, 0, 0, NULL, NULL, 0, flatlist_members, 1},
    [S_NODE] = {"Node", MODEL_STRUCTURE, 0, 0, 0, 0, 0, NULL, NULL, 0, node_members, 3},
    [S_TSRFC] = {"TsRfc", MODEL_TIMESTAMP, 0, 0, 0, 0, 0, "rfc822", NULL, 0, NULL, 0},
    [S_TSUNIX] = {"TsUnix", MODEL_TIMESTAMP, 0, 0, 0, 0, 0, "unixTimestamp", NULL, 0, NULL, 0},
    [S_COLOR] = {"Color", MODEL_STRING, 0, 0, 0, 0, 0, NULL, colors, 2, NULL, 0},
    [S_NAMES] = {"Names", MODEL_LIST, 0, 1, 1, 1, 2, NULL, NULL, 0, names_members, 1},
    [S_FLATMAP] = {"FlatMap", MODEL_MAP, 1, 0, 0, 0, 0, NULL, NULL, 0, flatmap_members, 2},
    [S_PLAIN] = {"PlainList", MODEL_LIST, 0, 0, 0, 0, 0, NULL, NULL, 0, plain_members, 1},
};
static const struct model_op synth_ops[] = {
    {"NoInput", "no_input", -1, -1, NULL, 0, MODEL_OP_PLAIN},
    {"Test", "test", S_INPUT, -1, NULL, 0, MODEL_OP_PLAIN},
};
static const uint16_t synth_by_snake[] = {0, 1};
static const struct model_service synth = {
    "T", "2020-01-01", "t", "t", "x", synth_shapes, S_COUNT, synth_ops, 2, synth_by_snake, NULL, 0,
};
#pragma GCC diagnostic pop

/* ---- cases ---------------------------------------------------------------- */

static void test_ses_bodies(void) {
    check_body(&model_ses,
               "{\"Action\": \"SetIdentityMailFromDomain\", \"Identity\": \"user@example.com\", "
               "\"MailFromDomain\": \"bounces.example.com\", "
               "\"BehaviorOnMXFailure\": \"UseDefaultValue\"}",
               "Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=user%40example.com"
               "&MailFromDomain=bounces.example.com&BehaviorOnMXFailure=UseDefaultValue",
               __LINE__);
    /* boto3 name; params order is the body's order, not the shape's. */
    check_body(&model_ses,
               "{\"Action\": \"set_identity_mail_from_domain\", \"BehaviorOnMXFailure\": "
               "\"RejectMessage\", \"Identity\": \"example.com\"}",
               "Action=SetIdentityMailFromDomain&Version=2010-12-01"
               "&BehaviorOnMXFailure=RejectMessage&Identity=example.com",
               __LINE__);
    /* null = absent: DESIGN's "absent or null disables the custom MAIL FROM". */
    check_body(&model_ses,
               "{\"Action\": \"SetIdentityMailFromDomain\", \"Identity\": \"example.com\", "
               "\"MailFromDomain\": null}",
               "Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=example.com",
               __LINE__);
    check_body(
        &model_ses,
        "{\"Action\":\"SendEmail\",\"Source\":\"Zo\u00eb <zoe+tag@example.com>\","
        "\"Destination\":{\"ToAddresses\":[\"a@example.com\",\"b & c <b=c@example.com>\"],"
        "\"CcAddresses\":[],\"BccAddresses\":[\"\u65e5\u672c@\u4f8b\u3048.jp\"]},"
        "\"Message\":{\"Subject\":{\"Data\":\"Hi \\ud83d\\ude00 50% off "
        "~*/\",\"Charset\":\"UTF-8\"},"
        "\"Body\":{\"Text\":{\"Data\":\"line1\\nline2\\t+\"},\"Html\":{\"Data\":\"<p>\u00e9</"
        "p>\"}}},"
        "\"ReplyToAddresses\":[\"r@example.com\"],\"Tags\":[{\"Name\":\"k\",\"Value\":\"v\"}],"
        "\"ConfigurationSetName\":\"cs\"}",
        "Action=SendEmail&Version=2010-12-01&Source=Zo%C3%AB+%3Czoe%2Btag%40example.com%3E"
        "&Destination.ToAddresses.member.1=a%40example.com"
        "&Destination.ToAddresses.member.2=b+%26+c+%3Cb%3Dc%40example.com%3E"
        "&Destination.CcAddresses="
        "&Destination.BccAddresses.member.1=%E6%97%A5%E6%9C%AC%40%E4%BE%8B%E3%81%88.jp"
        "&Message.Subject.Data=Hi+%F0%9F%98%80+50%25+off+~%2A%2F"
        "&Message.Subject.Charset=UTF-8&Message.Body.Text.Data=line1%0Aline2%09%2B"
        "&Message.Body.Html.Data=%3Cp%3E%C3%A9%3C%2Fp%3E&ReplyToAddresses.member.1=r%40example.com"
        "&Tags.member.1.Name=k&Tags.member.1.Value=v&ConfigurationSetName=cs",
        __LINE__);
    check_body(&model_ses, "{\"Action\":\"UpdateAccountSendingEnabled\",\"Enabled\":true}",
               "Action=UpdateAccountSendingEnabled&Version=2010-12-01&Enabled=true", __LINE__);
    check_body(&model_ses, "{\"Action\":\"UpdateAccountSendingEnabled\",\"Enabled\":false}",
               "Action=UpdateAccountSendingEnabled&Version=2010-12-01&Enabled=false", __LINE__);
    check_body(&model_ses,
               "{\"Action\":\"SendRawEmail\",\"RawMessage\":{\"Data\":\"RnJvbTogYQ0KDQpoaQ==\"},"
               "\"Destinations\":[\"x@y.z\"]}",
               "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=RnJvbTogYQ0KDQpoaQ%3D%3D"
               "&Destinations.member.1=x%40y.z",
               __LINE__);
    check_body(
        &model_ses, "{\"Action\":\"ListIdentities\",\"MaxItems\":10,\"IdentityType\":\"Domain\"}",
        "Action=ListIdentities&Version=2010-12-01&MaxItems=10&IdentityType=Domain", __LINE__);
    check_body(&model_ses, "{\"Action\":\"GetSendQuota\"}",
               "Action=GetSendQuota&Version=2010-12-01", __LINE__);
    /* An empty string is still sent. */
    check_body(&model_ses, "{\"Action\":\"VerifyDomainDkim\",\"Domain\":\"\"}",
               "Action=VerifyDomainDkim&Version=2010-12-01&Domain=", __LINE__);
    check_body(&model_ses,
               "{\"Action\":\"SendRawEmail\",\"RawMessage\":{\"Data\":\"\"},"
               "\"Destinations\":[]}",
               "Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=&Destinations=", __LINE__);
    /* Refused by validation: nothing is serialized. */
    check_body(&model_ses, "{\"Action\":\"SetIdentityMailFromDomain\"}", NULL, __LINE__);
}

static void test_synth_bodies(void) {
    check_body(&synth,
               "{\"Action\":\"Test\",\"Str\":\"a b\",\"Flat\":[\"x\",\"y\"],"
               "\"Node\":{\"Next\":{\"Next\":{\"Val\":\"z\"}},\"Val\":\"v\"}}",
               "Action=Test&Version=2020-01-01&Str=a+b&Item.1=x&Item.2=y"
               "&Node.Next.Next.Val=z&Node.Val=v",
               __LINE__);
    check_body(&synth,
               "{\"Action\":\"Test\",\"Str\":\"s\",\"Attrs\":{\"k1\":\"v1\",\"\u00e9\":\"&=\"},"
               "\"FlatMap\":{\"a\":\"1\",\"b\":\"2\"},\"Plain\":[\"p\"],\"Renamed\":\"r\"}",
               "Action=Test&Version=2020-01-01&Str=s&Attrs.entry.1.key=k1&Attrs.entry.1.value=v1"
               "&Attrs.entry.2.key=%C3%A9&Attrs.entry.2.value=%26%3D&FlatMap.1.K=a&FlatMap.1.V=1"
               "&FlatMap.2.K=b&FlatMap.2.V=2&Plain.Elem.1=p&WireName=r",
               __LINE__);
    check_body(&synth,
               "{\"Action\":\"Test\",\"Str\":\"s\",\"Dbl\":0.1,\"Lng\":9007199254740993,"
               "\"Num\":-5,\"Flag\":false,\"Blob\":\"AAEC\"}",
               "Action=Test&Version=2020-01-01&Str=s&Dbl=0.1&Lng=9007199254740993&Num=-5"
               "&Flag=false&Blob=AAEC",
               __LINE__);
    check_body(&synth,
               "{\"Action\":\"Test\",\"Str\":\"s\",\"When\":\"2020-02-29T23:59:59.5-01:30\","
               "\"Rfc\":\"2020-01-01T10:00:00Z\",\"Unix\":1700000000.75}",
               "Action=Test&Version=2020-01-01&Str=s&When=2020-03-01T01%3A29%3A59.500000Z"
               "&Rfc=Wed%2C+01+Jan+2020+10%3A00%3A00+GMT&Unix=1700000000",
               __LINE__);
    check_body(&synth,
               "{\"Action\":\"Test\",\"Str\":\"s\",\"Rfc\":\"1969-12-31T23:59:59Z\","
               "\"Unix\":-1.5,\"When\":-1.5}",
               "Action=Test&Version=2020-01-01&Str=s&Rfc=Wed%2C+31+Dec+1969+23%3A59%3A59"
               "+GMT&Unix=-2&When=1969-12-31T23%3A59%3A58.500000Z",
               __LINE__);
    check_body(&synth, "{\"Action\":\"Test\",\"Str\":\"s\",\"Dbl\":1e-05,\"Flat\":[]}",
               "Action=Test&Version=2020-01-01&Str=s&Dbl=1e-05&Flat=", __LINE__);
    check_body(&synth, "{\"Action\":\"Test\",\"Str\":\"s\",\"Dbl\":1e16}",
               "Action=Test&Version=2020-01-01&Str=s&Dbl=1e%2B16", __LINE__);
    check_body(&synth, "{\"Action\":\"Test\",\"Str\":\"s\",\"Dbl\":5}",
               "Action=Test&Version=2020-01-01&Str=s&Dbl=5", __LINE__);
    /* A flattened list's locationName replaces the last name of the prefix. */
    check_body(&synth,
               "{\"Action\":\"Test\",\"Str\":\"s\",\"Node\":{\"Val\":\"v\",\"Flat\":[\"a\",\"b\"],"
               "\"Next\":{\"Flat\":[]}}}",
               "Action=Test&Version=2020-01-01&Str=s&Node.Val=v&Node.Item.1=a&Node.Item.2=b"
               "&Node.Next.Flat=",
               __LINE__);
    check_body(&synth, "{\"Action\":\"Test\",\"Str\":\"s\",\"Attrs\":{}}",
               "Action=Test&Version=2020-01-01&Str=s", __LINE__);
    check_body(&synth, "{\"Action\":\"no_input\"}", "Action=NoInput&Version=2020-01-01", __LINE__);
}

/* Unvalidated input must fail cleanly, never crash or emit garbage silently. */
static void test_unvalidated(void) {
    static const char *const bad[] = {
        "{\"Str\": 5}",    "{\"Flat\": {}}",
        "{\"Attrs\": []}", "{\"Node\": 1}",
        "{\"Num\": 1.5}",  "{\"Dbl\": \"x\"}",
        "{\"Flag\": 1}",   "{\"When\": \"soon\"}",
        "{\"Nope\": 1}",   "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = parse(bad[i]);
        struct out o = {.keep = 1};
        struct sp_err err;
        sp_err_clear(&err);
        CHECK(query_serialize(&synth, &synth_ops[1], j, on_out, &o, &err) == -1);
        CHECK(err.code != NULL);
        out_free(&o);
        json_decref(j);
    }
    /* Deeper than the serializer follows. */
    json_t *root = json_object(), *cur = root;
    json_object_set_new(root, "Str", json_string("s"));
    json_t *node = json_object();
    json_object_set_new(root, "Node", node);
    cur = node;
    for (int i = 0; i < 100; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "Next", next);
        cur = next;
    }
    struct out o = {.keep = 0};
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(query_serialize(&synth, &synth_ops[1], root, on_out, &o, &err) == -1);
    CHECK(err.code != NULL && strcmp(err.code, "InternalError") == 0);
    CHECK(validate_params(&synth, &synth_ops[1], root, &err) == -1);
    json_decref(root);
}

static void test_sink_failure(void) {
    json_t *j =
        parse("{\"Identity\": \"user@example.com\", \"MailFromDomain\": \"b.example.com\"}");
    const struct model_op *op = model_find_op(&model_ses, "SetIdentityMailFromDomain", 25);
    struct sp_err err;
    struct out o = {.keep = 1, .fail_at = 1};
    sp_err_clear(&err);
    CHECK(op != NULL);
    CHECK(query_serialize(&model_ses, op, j, on_out, &o, &err) == -1);
    CHECK(err.code != NULL && strcmp(err.code, "InternalError") == 0);
    out_free(&o);
    json_decref(j);

    /* A big body fails on a later chunk too. */
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, 'A', n);
    big[n] = '\0';
    j = json_pack("{s:{s:s}, s:[s]}", "RawMessage", "Data", big, "Destinations", "x@y.z");
    op = model_find_op(&model_ses, "SendRawEmail", 12);
    for (size_t at = 1; at <= 4; at++) {
        struct out f = {.keep = 0, .fail_at = at};
        sp_err_clear(&err);
        CHECK(query_serialize(&model_ses, op, j, on_out, &f, &err) == -1);
        CHECK(f.calls == at);
        CHECK(err.code != NULL);
    }
    struct out pe = {.keep = 0, .fail_at = 1};
    CHECK(query_percent_encode(big, n, on_out, &pe) == -1);
    free(big);
    json_decref(j);
}

/* A 13 MB base64 RawMessage.Data streams through in QUERY_CHUNK pieces. */
static void test_big_blob(void) {
    size_t n = 13u * 1024 * 1024; /* multiple of 4: canonical without padding */
    char *big = malloc(n + 1);
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i++) {
        big[i] = alphabet[(i * 7) % 64];
    }
    big[n] = '\0';
    size_t plus_slash = 0;
    for (size_t i = 0; i < n; i++) {
        plus_slash += big[i] == '+' || big[i] == '/';
    }
    json_t *j = json_pack("{s:{s:s}, s:[s]}", "RawMessage", "Data", big, "Destinations", "x@y.z");
    const struct model_op *op = model_find_op(&model_ses, "send_raw_email", 14);
    struct sp_err err;
    struct out o = {.keep = 0};
    sp_err_clear(&err);
    CHECK(validate_params(&model_ses, op, j, &err) == 0);
    CHECK(query_serialize(&model_ses, op, j, on_out, &o, &err) == 0);
    size_t want = strlen("Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=") + n +
                  2 * plus_slash + strlen("&Destinations.member.1=x%40y.z");
    CHECK(o.len == want);
    CHECK(o.max_chunk <= QUERY_CHUNK);
    CHECK(o.calls >= want / QUERY_CHUNK);
    free(big);
    json_decref(j);
}

static void test_percent_encode(void) {
    char all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (char)i;
    }
    struct out o = {.keep = 1};
    CHECK(query_percent_encode(all, sizeof(all), on_out, &o) == 0);
    /* Build the expectation independently of the implementation. */
    char want[256 * 3 + 1];
    size_t w = 0;
    for (int i = 0; i < 256; i++) {
        if ((i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') || (i >= '0' && i <= '9') ||
            i == '-' || i == '_' || i == '.' || i == '~') {
            want[w++] = (char)i;
        } else if (i == ' ') {
            want[w++] = '+';
        } else {
            w += (size_t)snprintf(want + w, sizeof(want) - w, "%%%02X", i);
        }
    }
    want[w] = '\0';
    CHECK(o.data != NULL && strcmp(o.data, want) == 0);
    out_free(&o);
    struct out e = {.keep = 1};
    CHECK(query_percent_encode("", 0, on_out, &e) == 0);
    CHECK(e.calls == 0);
    CHECK(query_percent_encode(" &=+/%~*", 8, on_out, &e) == 0);
    CHECK(e.data != NULL && strcmp(e.data, "+%26%3D%2B%2F%25~%2A") == 0);
    out_free(&e);
}

static void test_timestamps(void) {
    static const struct {
        const char *json, *want;
    } ok[] = {
        {"\"2020-01-01\"", "2020-01-01T00:00:00Z"},
        {"\"2020-01-01T10:00:00+02:00\"", "2020-01-01T08:00:00Z"},
        {"\"2020-01-01T10:00:00.1234567Z\"", "2020-01-01T10:00:00.123456Z"},
        {"\"2020-01-01T10:00:00.5Z\"", "2020-01-01T10:00:00.500000Z"},
        {"\"2020\"", "1970-01-01T00:33:40Z"},
        {"\"1700000000\"", "2023-11-14T22:13:20Z"},
        {"\"1700000000.5\"", "2023-11-14T22:13:20.500000Z"},
        {"1700000000", "2023-11-14T22:13:20Z"},
        {"1.5", "1970-01-01T00:00:01.500000Z"},
        {"5e-07", "1970-01-01T00:00:00Z"},
        {"1.5e-06", "1970-01-01T00:00:00.000002Z"},
        {"-1.5", "1969-12-31T23:59:58.500000Z"},
        {"\"0005-01-01\"", "5-01-01T00:00:00Z"},
        {"\"0999-12-31T23:59:59Z\"", "999-12-31T23:59:59Z"},
        {"\"2020-01-01 10:00\"", "2020-01-01T10:00:00Z"},
        {"\"2020-01-01T10:00:00.000000Z\"", "2020-01-01T10:00:00Z"},
        {"\"2020-01-01T10:00Z\"", "2020-01-01T10:00:00Z"},
        {"\"2020-01-01T10:00:00-0530\"", "2020-01-01T15:30:00Z"},
        {"\"2020-01-01T10:00:00+05\"", "2020-01-01T05:00:00Z"},
        {"\"2020-01-01t10:00:00z\"", "2020-01-01T10:00:00Z"},
        {"\"1e3\"", "1970-01-01T00:16:40Z"},
        {"\"2020-01-01T10:00:00,5Z\"", "2020-01-01T10:00:00.500000Z"},
        {"-62135596800", "1-01-01T00:00:00Z"},
        {"253402300799", "9999-12-31T23:59:59Z"},
        {"\"9999-12-31T23:59:59Z\"", "9999-12-31T23:59:59Z"},
        {"\"0001-01-01T00:00:00Z\"", "1-01-01T00:00:00Z"},
        {"\"2020-01-01T00:30:00+01:00\"", "2019-12-31T23:30:00Z"},
        {"\"2000-02-29T12:00:00.000001Z\"", "2000-02-29T12:00:00.000001Z"},
        {"\"1900-03-01T00:00:00Z\"", "1900-03-01T00:00:00Z"},
        {"\"-1.25\"", "1969-12-31T23:59:58.750000Z"},
        {"\"+5\"", "1970-01-01T00:00:05Z"},
        {"\".5\"", "1970-01-01T00:00:00.500000Z"},
        {"\"5.\"", "1970-01-01T00:00:05Z"},
        {"0.1", "1970-01-01T00:00:00.100000Z"},
        {"1234567890.1234567", "2009-02-13T23:31:30.123457Z"},
        {"\"2024-12-31T23:59:59.999999999+00:00\"", "2024-12-31T23:59:59.999999Z"},
        {"\"0001-01-01T23:59:59+23:59\"", "1-01-01T00:00:59Z"},
    };
    /* botocore refuses or crashes on these; "2020-1-1" and "2020-01-01T10Z"
     * dateutil would guess at, and we refuse rather than guess. */
    static const char *const bad[] = {
        "\"2020-W01\"",
        "\"2020-01-01T24:00:00Z\"",
        "\"2016-12-31T23:59:60Z\"",
        "\"0001-01-01T00:00:00+01:00\"",
        "253402300800",
        "-62135596801",
        "\"nan\"",
        "\"inf\"",
        "\"2020-01-01T10:00:00.Z\"",
        "\"2020-02-30\"",
        "\"0000-01-01\"",
        "\"\"",
        "\"2020-1-1\"",
        "\"2020-01-01T10Z\"",
        "\"1_000\"",
        "\"2020-01-01Z\"",
        "true",
        "null",
        "{}",
        "[]",
        "\"2020-01-01T10:00:00+24:00\"",
        "\"2020-01-01T10:00:00+05:60\"",
        "\"2019-02-29\"",
        "1e300",
        "\" 2020-01-01\"",
        "\"2020-01-01T10:00:00 Z\"",
        "\"99999999999999\"",
        "\"1e\"",
        "\"-\"",
        "\"2020-01-01T1:00\"",
    };
    char out[QUERY_SCALAR_MAX];
    size_t n;
    struct sp_err err;
    json_error_t je;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *j = json_loads(ok[i].json, JSON_DECODE_ANY, &je);
        int r = query_format_timestamp(j, NULL, out, sizeof(out), &n, &err);
        if (r != 0 || strcmp(out, ok[i].want) != 0 || n != strlen(out)) {
            failed++;
            fprintf(stderr, "timestamp %s: want %s got %s\n", ok[i].json, ok[i].want,
                    r == 0 ? out : err.msg);
        } else {
            passed++;
        }
        json_decref(j);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, &je);
        sp_err_clear(&err);
        int r = query_format_timestamp(j, NULL, out, sizeof(out), &n, &err);
        if (r != -1 || err.code == NULL || strcmp(err.code, "ValidationError") != 0) {
            failed++;
            fprintf(stderr, "timestamp %s: accepted as %s\n", bad[i], out);
        } else {
            passed++;
        }
        json_decref(j);
    }
    json_t *j = json_string("2020-01-01T10:00:00Z");
    CHECK(query_format_timestamp(j, "unixTimestamp", out, sizeof(out), &n, &err) == 0 &&
          strcmp(out, "1577872800") == 0);
    CHECK(query_format_timestamp(j, "RFC822", out, sizeof(out), &n, &err) == 0 &&
          strcmp(out, "Wed, 01 Jan 2020 10:00:00 GMT") == 0);
    CHECK(query_format_timestamp(j, "iso8601", out, sizeof(out), &n, &err) == 0 &&
          strcmp(out, "2020-01-01T10:00:00Z") == 0);
    CHECK(query_format_timestamp(j, "bogus", out, sizeof(out), &n, &err) == -1);
    CHECK(query_format_timestamp(j, NULL, out, 8, &n, &err) == -1);
    json_decref(j);
}

static void test_doubles(void) {
    /* Python 3.11 repr() of each value (hex literals are exact). */
    static const struct {
        double d;
        const char *want;
    } vec[] = {
        {0x1.999999999999ap-4, "0.1"},
        {0x1.3333333333334p-2, "0.30000000000000004"},
        {0x1.0000000000000p+0, "1.0"},
        {-0x0.0p+0, "-0.0"},
        {0x0.0p+0, "0.0"},
        {0x1.4f8b588e368f1p-17, "1e-05"},
        {0x1.a36e2eb1c432dp-14, "0.0001"},
        {0x1.1c37937e08000p+53, "1e+16"},
        {0x1.c6bf526340000p+49, "1000000000000000.0"},
        {0x1.b69b4ba630f35p+56, "1.2345678901234568e+17"},
        {0x1.18b54f22aeb00p+50, "1234567890123456.0"},
        {0x0.0000000000001p-1022, "5e-324"},
        {0x1.0000000000000p-1022, "2.2250738585072014e-308"},
        {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
        {0x0.0000000000003p-1022, "1.5e-323"},
        {0x1.3333333333333p-2, "0.3"},
        {0x1.0000000000000p+60, "1.152921504606847e+18"},
        {0x1.0000000000000p-20, "9.5367431640625e-07"},
        {0x1.5555555555555p-2, "0.3333333333333333"},
        {-0x1.0c6f7a0b5ed8dp-22, "-2.5e-07"},
        {0x1.9000000000000p+6, "100.0"},
        {0x1.52d02c7e14af6p+76, "1e+23"},
        {0x1.0f0cf064dd592p+73, "1e+22"},
        {0x1.52d02c7e14af6p+76, "1e+23"},
        {0x1.01f31f46ed246p-13, "0.000123"},
        {0x1.81cd6c8b43958p+13, "12345.678"},
        {0x1.0000000000000p-1022, "2.2250738585072014e-308"},
        {0x1.0000000000000p+1023, "8.98846567431158e+307"},
        {0x1.0000000000000p-1000, "9.332636185032189e-302"},
        {-0x1.74de452e6b438p+811, "-1.989032661366619e+244"},
        {0x1.3270e269e0d37p+594, "7.761117632285041e+178"},
        {0x1.c7fd0a6a3a450p-826, "3.980498358697587e-249"},
        {-0x1.f0824128b2f33p+292, "-1.5432835417340557e+88"},
        {0x1.8e811892f902bp-638, "1.3647584518757569e-192"},
        {-0x1.1985d5d9dc9f8p-684, "-1.3701135617873088e-206"},
        {-0x1.25d940ed90475p+655, "-1.7160537630466207e+197"},
        {0x1.675cc81e74ef5p-144, "6.294675241195386e-44"},
        {0x1.0a35a099950d8p-671, "1.0613447212142254e-202"},
        {0x1.d549b6f03675ap+689, "4.708325160387546e+207"},
        {0x1.c172411e20b8fp-38, "6.387016158513563e-12"},
        {-0x1.16ece1738f7d9p-814, "-9.973130378568733e-246"},
        {0x1.1ddb66cad4a26p-781, "8.779753225680271e-236"},
        {-0x1.192cfd3ac94afp-755, "-5.795503248498993e-228"},
        {-0x1.c105d1fb17c23p+809, "-5.988180159386011e+243"},
        {-0x1.0b33839263059p-488, "-1.306052388527796e-147"},
        {-0x1.f48f1a09f76b5p-684, "-2.436117699484841e-206"},
        {0x1.630f1f29d0da9p-770, "2.233386999150174e-232"},
        {-0x1.60af593bd04cfp-673, "-3.51527970626667e-203"},
        {0x1.1e29c658cda14p-820, "1.5987381841032883e-247"},
        {0x1.8d190f9ebdaccp-118, "4.6678633181812096e-36"},
        {-0x1.1973e0becd7b0p-791, "-8.441872792105456e-239"},
        {0x1.7beaddbc496cbp-478, "1.9015657400796622e-144"},
        {0x1.cb2424a23d596p+693, "7.370437700706684e+208"},
        {-0x1.a63ec24ede6a4p-857, "-1.7163996725272777e-258"},
        {-0x1.766581e27a1c0p-733, "-3.2367190832119987e-221"},
        {-0x1.d05584ef8aa38p-777, "-2.2818334634712625e-234"},
        {-0x1.7ba94d0eda82fp-278, "-3.0536383926309363e-84"},
        {0x1.1dbe22e44158bp-601, "1.3449551894627777e-181"},
        {-0x1.a736994e3bf91p-732, "-7.317495976062606e-221"},
        {0x1.0f50bc05c5f08p+18, "277826.9378523682"},
        {-0x1.f272750fed2dcp+17, "-255204.91454853758"},
        {0x1.7500ee717bb10p+16, "95488.93141911575"},
        {-0x1.aaf6c19a097dap+19, "-874422.0500533537"},
        {-0x1.ae13b51f45f35p+19, "-880797.6600675347"},
        {-0x1.1f2652612b0c2p+19, "-588082.5743613469"},
        {0x1.6057fc913883cp+18, "360799.9463635718"},
        {-0x1.1ad7b1bfa6674p+17, "-144815.38866119424"},
        {-0x1.6afe6a3117e24p+18, "-371705.659246417"},
        {0x1.4e39dd0ed62c0p+17, "171123.72701527737"},
        {-0x1.6dbf3f4c54698p+16, "-93631.24725844932"},
        {-0x1.87148066c556ep+18, "-400466.0062726353"},
        {0x1.1f7aded143b60p+19, "588758.9630449824"},
        {0x1.84a93784735a0p+18, "397988.8674591426"},
        {-0x1.f3cfbea0a8100p+18, "-511806.9785556942"},
        {0x1.0000000000000p+953, "7.61352657140625e+286"},
        {0x1.0000000000000p+764, "9.703238076879431e+229"},
        {0x1.0000000000000p-775, "5.0321474762477604e-234"},
        {0x1.0000000000000p+638, "1.1406101544055488e+192"},
        {0x1.0000000000000p+327, "2.734063405978765e+98"},
        {0x1.0000000000000p+928, "2.269007733883336e+279"},
        {0x1.0000000000000p-757, "1.319147268013493e-228"},
        {0x1.0000000000000p+211, "3.291009114642412e+63"},
        {0x1.0000000000000p+360, "2.3485425827738332e+108"},
        {0x1.0000000000000p+794, "1.0418772551374772e+239"},
        {0x1.0000000000000p-691, "9.733588819431218e-209"},
        {0x1.0000000000000p+867, "9.840252457850897e+260"},
        {0x1.0000000000000p-808, "5.858190679279809e-244"},
        {0x1.0000000000000p+194, "2.5108406941546723e+58"},
        {0x1.0000000000000p+751, "1.1844773043065711e+226"},
        {0x1.0000000000000p+506, "2.094969989053531e+152"},
        {0x1.0000000000000p+347, "2.8668732699875894e+104"},
        {0x1.0000000000000p+817, "8.739899877464283e+245"},
        {0x1.0000000000000p-595, "7.71174356832923e-180"},
        {0x1.0000000000000p-181, "3.2626522339992623e-55"},
        {0x1.0000000000000p-545, "8.682651365176084e-165"},
        {0x1.0000000000000p+555, "1.1793632577567317e+167"},
        {0x1.0000000000000p+959, "4.8726570057e+288"},
        {0x1.0000000000000p+765, "1.9406476153758862e+230"},
        {0x1.0000000000000p+64, "1.8446744073709552e+19"},
    };
    char out[QUERY_SCALAR_MAX];
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        int n = query_format_double(vec[i].d, out, sizeof(out));
        if (n < 0 || strcmp(out, vec[i].want) != 0 || (size_t)n != strlen(out)) {
            failed++;
            fprintf(stderr, "double %a: want %s got %s\n", vec[i].d, vec[i].want, out);
        } else {
            passed++;
        }
    }
    CHECK(query_format_double(1.0, out, 8) == -1);
    CHECK(query_format_double(1e308 * 10, out, sizeof(out)) == 3 && strcmp(out, "inf") == 0);
    CHECK(query_format_double(-1e308 * 10, out, sizeof(out)) == 4 && strcmp(out, "-inf") == 0);
}

int main(void) {
    test_ses_bodies();
    test_synth_bodies();
    test_unvalidated();
    test_sink_failure();
    test_big_blob();
    test_percent_encode();
    test_timestamps();
    test_doubles();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
