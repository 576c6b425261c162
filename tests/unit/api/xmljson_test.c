/* xmljson_test.c - unit tests for api/xmljson: SES XML to boto3-shaped JSON,
 * refusals (BadGateway), streaming in chunks, and the XML error document.
 * The exhaustive comparison with botocore is tests/integ/test_xmljson_oracle.py;
 * these pin the documented examples and the limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/xmljson.h"

#include "tests/unit/unit_check.h"

#define NS "xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\""

static const struct model_op *op_named(const char *name) {
    const struct model_op *op = model_find_op(&model_ses, name, strlen(name));
    if (op == NULL) {
        fprintf(stderr, "no operation %s\n", name);
        exit(2);
    }
    return op;
}

/* Parses xml in one go for op (NULL = error only); returns the JSON or NULL,
 * with err filled. */
static json_t *parse(const char *opname, const char *xml, size_t len, int *is_error,
                     struct sp_err *err) {
    json_t *out = NULL;
    int e = -1;
    sp_err_clear(err);
    const struct model_op *op = opname != NULL ? op_named(opname) : NULL;
    if (xmljson_parse(&model_ses, op, xml, len, &out, &e, err) < 0) {
        return NULL;
    }
    if (is_error != NULL) {
        *is_error = e;
    }
    return out;
}

/* Feeds xml to a new parser in pieces of `step` bytes (0 = pseudo-random
 * sizes 1..13) and finishes it. */
static json_t *parse_chunked(const char *opname, const char *xml, size_t step, int *is_error,
                             struct sp_err *err) {
    struct xmljson *x = xmljson_new(&model_ses, opname != NULL ? op_named(opname) : NULL);
    json_t *out = NULL;
    size_t len = strlen(xml), off = 0;
    unsigned seed = 7;
    sp_err_clear(err);
    if (x == NULL) {
        return NULL;
    }
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = step != 0 ? step : 1 + (seed >> 16) % 13;
        if (n > len - off) {
            n = len - off;
        }
        if (xmljson_feed(x, xml + off, n, 0, err) < 0) {
            xmljson_free(x);
            return NULL;
        }
        off += n;
    }
    if (xmljson_feed(x, NULL, 0, 1, err) < 0 || xmljson_finish(x, &out, is_error, err) < 0) {
        out = NULL;
    }
    xmljson_free(x);
    return out;
}

/* The JSON for xml equals `want` (JSON text), types included. */
static int gives(const char *opname, const char *xml, const char *want) {
    struct sp_err err;
    int is_error = -1;
    json_t *got = parse(opname, xml, strlen(xml), &is_error, &err);
    json_t *exp = json_loads(want, 0, NULL);
    int ok = got != NULL && exp != NULL && json_equal(got, exp) && is_error == 0;
    if (!ok) {
        char *s = got != NULL ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        fprintf(stderr, "  %s: got %s (%s)\n  want %s\n", opname, s != NULL ? s : "NULL", err.msg,
                want);
        free(s);
    }
    json_decref(got);
    json_decref(exp);
    return ok;
}

/* xml is refused with BadGateway and a message containing `why`. */
static int refused(const char *opname, const char *xml, size_t len, const char *why) {
    struct sp_err err;
    json_t *got = parse(opname, xml, len, NULL, &err);
    int ok = got == NULL && err.code != NULL && strcmp(err.code, "BadGateway") == 0 &&
             strstr(err.msg, why) != NULL;
    if (!ok) {
        fprintf(stderr, "  %s: expected BadGateway '%s', got %s: %s\n", opname, why,
                err.code != NULL ? err.code : "success", err.msg);
    }
    json_decref(got);
    return ok;
}

/* ---- the documented examples ------------------------------------------- */

static const char SET_MAIL_FROM[] =
    "<SetIdentityMailFromDomainResponse " NS ">\n"
    "  <SetIdentityMailFromDomainResult/>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>9662c15b-c469-11e1-99d1-797d6ecd6414</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</SetIdentityMailFromDomainResponse>\n";

static const char SEND_QUOTA[] =
    "<GetSendQuotaResponse " NS ">\n"
    "  <GetSendQuotaResult><Max24HourSend>200.0</Max24HourSend><MaxSendRate>1.0</MaxSendRate>"
    "<SentLast24Hours>0.0</SentLast24Hours></GetSendQuotaResult>\n"
    "  <ResponseMetadata><RequestId>273021c6-c866-11e0-b926-699e21c3af9e</RequestId>"
    "</ResponseMetadata>\n"
    "</GetSendQuotaResponse>";

static const char VERIFICATION_ATTRS[] =
    "<GetIdentityVerificationAttributesResponse " NS ">\n"
    "  <GetIdentityVerificationAttributesResult>\n"
    "    <VerificationAttributes>\n"
    "      <entry>\n"
    "        <key>domain.example.com</key>\n"
    "        <value>\n"
    "          <VerificationStatus>Pending</VerificationStatus>\n"
    "          "
    "<VerificationToken>QTKknzFg2J4ygwa+XvHAxUl1hyHoY0gVfZdfjIedHZ0=</VerificationToken>\n"
    "        </value>\n"
    "      </entry>\n"
    "      <entry><key>user@example.com</key><value><VerificationStatus>Success"
    "</VerificationStatus></value></entry>\n"
    "    </VerificationAttributes>\n"
    "  </GetIdentityVerificationAttributesResult>\n"
    "  <ResponseMetadata><RequestId>r-map</RequestId></ResponseMetadata>\n"
    "</GetIdentityVerificationAttributesResponse>";

static const char LIST_IDENTITIES[] =
    "<ListIdentitiesResponse " NS ">\n"
    "  <ListIdentitiesResult>\n"
    "    <Identities>\n"
    "      <member>example.com</member>\n"
    "      <member>user@example.com</member>\n"
    "      <member>j\xc3\xb6rg&amp;co@&#x1F4E7;.example</member>\n"
    "    </Identities>\n"
    "    <NextToken><![CDATA[tok<en>&]]></NextToken>\n"
    "  </ListIdentitiesResult>\n"
    "  <ResponseMetadata><RequestId>r-list</RequestId></ResponseMetadata>\n"
    "</ListIdentitiesResponse>";

static const char SEND_STATISTICS[] =
    "<GetSendStatisticsResponse " NS ">\n"
    "  <GetSendStatisticsResult>\n"
    "    <SendDataPoints>\n"
    "      <member>\n"
    "        <DeliveryAttempts>8</DeliveryAttempts>\n"
    "        <Timestamp>2011-08-03T19:23:00Z</Timestamp>\n"
    "        <Rejects>0</Rejects><Bounces>0</Bounces><Complaints>0</Complaints>\n"
    "      </member>\n"
    "      <member>\n"
    "        <DeliveryAttempts>9223372036854775807</DeliveryAttempts>\n"
    "        <Timestamp>2024-05-01T12:34:56.789Z</Timestamp>\n"
    "        <Rejects>-9223372036854775808</Rejects><Bounces> 3 </Bounces>\n"
    "      </member>\n"
    "    </SendDataPoints>\n"
    "  </GetSendStatisticsResult>\n"
    "  <ResponseMetadata><RequestId>r-stats</RequestId></ResponseMetadata>\n"
    "</GetSendStatisticsResponse>";

static const char ERROR_DOC[] =
    "<ErrorResponse " NS ">\n"
    "  <Error>\n"
    "    <Type>Sender</Type>\n"
    "    <Code>MessageRejected</Code>\n"
    "    <Message>Email address is not verified. &lt;a@b&gt; &amp; more</Message>\n"
    "  </Error>\n"
    "  <RequestId>e0abcdfa-c866-11e0-b6d0-273d09173b49</RequestId>\n"
    "</ErrorResponse>";

static void test_success_shapes(void) {
    CHECK(gives("SetIdentityMailFromDomain", SET_MAIL_FROM,
                "{\"ResponseMetadata\":{\"RequestId\":\"9662c15b-c469-11e1-99d1-797d6ecd6414\"}}"));
    CHECK(gives("GetSendQuota", SEND_QUOTA,
                "{\"Max24HourSend\":200.0,\"MaxSendRate\":1.0,\"SentLast24Hours\":0.0,"
                "\"ResponseMetadata\":{\"RequestId\":\"273021c6-c866-11e0-b926-699e21c3af9e\"}}"));
    CHECK(
        gives("GetIdentityVerificationAttributes", VERIFICATION_ATTRS,
              "{\"VerificationAttributes\":{\"domain.example.com\":{\"VerificationStatus\":"
              "\"Pending\",\"VerificationToken\":\"QTKknzFg2J4ygwa+XvHAxUl1hyHoY0gVfZdfjIedHZ0=\"},"
              "\"user@example.com\":{\"VerificationStatus\":\"Success\"}},"
              "\"ResponseMetadata\":{\"RequestId\":\"r-map\"}}"));
    CHECK(gives("list_identities", LIST_IDENTITIES,
                "{\"Identities\":[\"example.com\",\"user@example.com\","
                "\"j\xc3\xb6rg&co@\xf0\x9f\x93\xa7.example\"],\"NextToken\":\"tok<en>&\","
                "\"ResponseMetadata\":{\"RequestId\":\"r-list\"}}"));
    /* timestamps exactly as sent; longs as integers, to the int64 limits */
    CHECK(gives("GetSendStatistics", SEND_STATISTICS,
                "{\"SendDataPoints\":[{\"DeliveryAttempts\":8,\"Timestamp\":"
                "\"2011-08-03T19:23:00Z\",\"Rejects\":0,\"Bounces\":0,\"Complaints\":0},"
                "{\"DeliveryAttempts\":9223372036854775807,\"Timestamp\":"
                "\"2024-05-01T12:34:56.789Z\",\"Rejects\":-9223372036854775808,\"Bounces\":3}],"
                "\"ResponseMetadata\":{\"RequestId\":\"r-stats\"}}"));
}

static void test_empty_and_odd_elements(void) {
    /* an empty list is [], an empty string "", an empty map {} */
    CHECK(
        gives("ListIdentities",
              "<ListIdentitiesResponse " NS "><ListIdentitiesResult><Identities/>"
              "<NextToken></NextToken></ListIdentitiesResult><ResponseMetadata>"
              "<RequestId>r</RequestId></ResponseMetadata></ListIdentitiesResponse>",
              "{\"Identities\":[],\"NextToken\":\"\",\"ResponseMetadata\":{\"RequestId\":\"r\"}}"));
    CHECK(gives("GetIdentityPolicies",
                "<GetIdentityPoliciesResponse><GetIdentityPoliciesResult><Policies/>"
                "</GetIdentityPoliciesResult></GetIdentityPoliciesResponse>",
                "{\"Policies\":{},\"ResponseMetadata\":{}}"));
    /* booleans: only "true" is true (botocore); unknown elements ignored */
    CHECK(gives("GetAccountSendingEnabled",
                "<GetAccountSendingEnabledResponse><New><Enabled>true</Enabled></New>"
                "<GetAccountSendingEnabledResult><Enabled>True</Enabled><More/>"
                "</GetAccountSendingEnabledResult></GetAccountSendingEnabledResponse>",
                "{\"Enabled\":false,\"ResponseMetadata\":{}}"));
    CHECK(gives("GetAccountSendingEnabled",
                "<GetAccountSendingEnabledResponse><GetAccountSendingEnabledResult>"
                "<Enabled>true</Enabled><Enabled>false</Enabled>"
                "</GetAccountSendingEnabledResult></GetAccountSendingEnabledResponse>",
                "{\"Enabled\":true,\"ResponseMetadata\":{}}"));
    /* an op without output shape; a text-less RequestId is null (ET's None) */
    CHECK(gives("VerifyEmailAddress",
                "<VerifyEmailAddressResponse " NS "><ResponseMetadata><RequestId/>"
                "</ResponseMetadata></VerifyEmailAddressResponse>",
                "{\"ResponseMetadata\":{\"RequestId\":null}}"));
    /* a scalar's text stops at its first child; prefixes are stripped */
    CHECK(gives("VerifyDomainIdentity",
                "<s:VerifyDomainIdentityResponse xmlns:s=\"urn:x\"><s:VerifyDomainIdentityResult>"
                "<s:VerificationToken>ab<i>x</i>cd</s:VerificationToken>"
                "</s:VerifyDomainIdentityResult></s:VerifyDomainIdentityResponse>",
                "{\"VerificationToken\":\"ab\",\"ResponseMetadata\":{}}"));
}

static void test_error_document(void) {
    struct sp_err err;
    int is_error = 0;
    json_t *got = parse("SendEmail", ERROR_DOC, strlen(ERROR_DOC), &is_error, &err);
    json_t *want = json_loads("{\"Error\":{\"Type\":\"Sender\",\"Code\":\"MessageRejected\","
                              "\"Message\":\"Email address is not verified. <a@b> & more\"},"
                              "\"ResponseMetadata\":{\"RequestId\":"
                              "\"e0abcdfa-c866-11e0-b6d0-273d09173b49\"}}",
                              0, NULL);
    CHECK(got != NULL && json_equal(got, want) && is_error == 1);
    json_decref(got);
    /* the same with no operation at all */
    got = parse(NULL, ERROR_DOC, strlen(ERROR_DOC), &is_error, &err);
    CHECK(got != NULL && json_equal(got, want) && is_error == 1);
    json_decref(got);
    json_decref(want);
    /* keys only when sent; empty leaves are null, as in botocore */
    const char *sparse = "<ErrorResponse><Error><Code>Throttling</Code><Message/></Error>"
                         "</ErrorResponse>";
    got = parse(NULL, sparse, strlen(sparse), &is_error, &err);
    want = json_loads("{\"Error\":{\"Code\":\"Throttling\",\"Message\":null},"
                      "\"ResponseMetadata\":{}}",
                      0, NULL);
    CHECK(got != NULL && json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

/* ---- what SES's model lacks ---------------------------------------------- */

/* A small Query model with the features botocore handles but SES's model
 * does not use: member locationNames, flattened lists (with and without a
 * member locationName), a flattened map with key/value locationNames, a
 * non-flattened list whose items are renamed, an output without a result
 * wrapper, and integer, float, blob types. The expected answers below are
 * botocore 1.29's QueryParser output for the same model and bodies (blobs
 * kept as base64, per DESIGN). */
/* The synthetic model names only the Query-protocol fields; the rest of the
 * model structs (roles, REST locations, HTTP bindings) is zero, as meant. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct model_member t_flat_list[] = {{"member", NULL, 0, 0}};
static const struct model_member t_flat_named[] = {{"member", "item", 0, 0}};
static const struct model_member t_flat_map[] = {{"key", "k", 0, 1}, {"value", "v", 1, 1}};
static const struct model_member t_named_list[] = {{"member", "item", 0, 0}};
static const struct model_member t_out[] = {
    {"Renamed", "wire", 0, 0}, {"Count", NULL, 1, 0}, {"Ratio", NULL, 2, 0},
    {"Data", NULL, 3, 0},      {"Flag", NULL, 4, 0},  {"Flat", NULL, 5, 0},
    {"Named", NULL, 6, 0},     {"Pairs", NULL, 7, 0}, {"NamedList", NULL, 8, 0},
};
static const struct model_shape t_shapes[] = {
    {"Str", MODEL_STRING, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    {"Int", MODEL_INTEGER, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    {"Flt", MODEL_FLOAT, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    {"Blob", MODEL_BLOB, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    {"Bool", MODEL_BOOLEAN, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0},
    {"FlatList", MODEL_LIST, 1, 0, 0, 0, 0, NULL, NULL, 0, t_flat_list, 1},
    {"FlatNamedList", MODEL_LIST, 1, 0, 0, 0, 0, NULL, NULL, 0, t_flat_named, 1},
    {"FlatMap", MODEL_MAP, 1, 0, 0, 0, 0, NULL, NULL, 0, t_flat_map, 2},
    {"NamedList", MODEL_LIST, 0, 0, 0, 0, 0, NULL, NULL, 0, t_named_list, 1},
    {"Out", MODEL_STRUCTURE, 0, 0, 0, 0, 0, NULL, NULL, 0, t_out, 9},
};
static const struct model_op t_ops[] = {
    {"Op", "op", -1, 9, NULL, 0, MODEL_OP_PLAIN},
    {"Wrapped", "wrapped", -1, 9, "WrappedResult", 0, MODEL_OP_PLAIN},
};
static const uint16_t t_by_snake[] = {0, 1};
static const struct model_service t_model = {
    "T", "2020-01-01", "t", "t", "urn:t", t_shapes, 10, t_ops, 2, t_by_snake, NULL, 0,
};
#pragma GCC diagnostic pop

static int t_gives(const struct model_op *op, const char *xml, const char *want) {
    int ok = 1;
    json_t *exp = json_loads(want, 0, NULL);
    for (size_t step = 0; step < 2; step++) {
        struct xmljson *x = xmljson_new(&t_model, op);
        struct sp_err err;
        json_t *got = NULL;
        int is_error = -1;
        size_t len = strlen(xml), off = 0, n = step == 0 ? len : 1;
        int rc = 0;
        while (rc == 0 && off < len) {
            rc = xmljson_feed(x, xml + off, n, 0, &err);
            off += n;
        }
        if (rc == 0) {
            rc = xmljson_finish(x, &got, &is_error, &err);
        }
        if (rc < 0 || !json_equal(got, exp) || is_error != 0) {
            char *s = got != NULL ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
            fprintf(stderr, "  %s: got %s (%s)\n  want %s\n", op->name, s ? s : "NULL",
                    rc < 0 ? err.msg : "", want);
            free(s);
            ok = 0;
        }
        json_decref(got);
        xmljson_free(x);
    }
    json_decref(exp);
    return ok;
}

static void test_synthetic_model(void) {
    CHECK(t_gives(&t_ops[0],
                  "<OpResponse xmlns=\"urn:t\">\n"
                  "  <wire>renamed</wire><Renamed>ignored</Renamed><Count> 42 </Count>"
                  "<Ratio>0.25</Ratio>\n"
                  "  <Data>aGVsbG8=</Data><Flag>true</Flag>\n"
                  "  <Flat>a</Flat><Flat>b</Flat><item>x</item><Named>ignored</Named>"
                  "<item>y</item>\n"
                  "  <Pairs><k>one</k><v>1</v></Pairs><Pairs><v>2</v><k>two</k></Pairs>"
                  "<Pairs><k>one</k><v>3</v></Pairs>\n"
                  "  <NamedList><item>p</item><other>q</other></NamedList>\n"
                  "  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\n"
                  "</OpResponse>",
                  "{\"Renamed\":\"renamed\",\"Count\":42,\"Ratio\":0.25,\"Data\":\"aGVsbG8=\","
                  "\"Flag\":true,\"Flat\":[\"a\",\"b\"],\"Named\":[\"x\",\"y\"],"
                  "\"Pairs\":{\"one\":3,\"two\":2},\"NamedList\":[\"p\",\"q\"],"
                  "\"ResponseMetadata\":{\"RequestId\":\"r\"}}"));
    CHECK(t_gives(&t_ops[1],
                  "<WrappedResponse><WrappedResult><Flat>only</Flat><Pairs><k>z</k><v>-7</v>"
                  "</Pairs><Count>-3</Count></WrappedResult></WrappedResponse>",
                  "{\"Count\":-3,\"Flat\":[\"only\"],\"Pairs\":{\"z\":-7},"
                  "\"ResponseMetadata\":{}}"));
    struct sp_err err;
    json_t *out = NULL;
    int is_error;
    static const char no_key[] = "<OpResponse><Pairs><v>1</v></Pairs></OpResponse>";
    CHECK(xmljson_parse(&t_model, &t_ops[0], no_key, strlen(no_key), &out, &is_error, &err) < 0 &&
          strstr(err.msg, "without a key") != NULL);
}

/* ---- refusals ---------------------------------------------------------- */

static void test_refusals(void) {
    static const char truncated[] = "<GetSendQuotaResponse><GetSendQuotaResult><Max24HourSend>2";
    CHECK(refused("GetSendQuota", "", 0, "not well-formed"));
    CHECK(refused("GetSendQuota", truncated, strlen(truncated), "not well-formed"));
    static const char mismatched[] = "<GetSendQuotaResponse><b></GetSendQuotaResponse></b>";
    CHECK(refused("GetSendQuota", mismatched, strlen(mismatched), "mismatched tag"));
    CHECK(refused("GetSendQuota", "\x00\x01", 2, "not well-formed"));
    CHECK(refused("GetSendQuota", "<GetSendQuotaResponse>\xff</GetSendQuotaResponse>", 46,
                  "not well-formed"));
    CHECK(refused("GetSendQuota", SEND_QUOTA, strlen(SEND_QUOTA) - 3, "not well-formed"));
    CHECK(refused("GetSendQuota", LIST_IDENTITIES, strlen(LIST_IDENTITIES), "root element"));
    CHECK(refused(NULL, SEND_QUOTA, strlen(SEND_QUOTA), "root element"));
    CHECK(refused("GetSendQuota", "<GetSendQuotaResponse/>", 23, "no <GetSendQuotaResult>"));
    static const char nan[] = "<GetSendQuotaResponse><GetSendQuotaResult><MaxSendRate>nan"
                              "</MaxSendRate></GetSendQuotaResult></GetSendQuotaResponse>";
    CHECK(refused("GetSendQuota", nan, strlen(nan), "MaxSendRate"));
    static const char hex[] = "<GetSendQuotaResponse><GetSendQuotaResult><MaxSendRate>0x10"
                              "</MaxSendRate></GetSendQuotaResult></GetSendQuotaResponse>";
    CHECK(refused("GetSendQuota", hex, strlen(hex), "MaxSendRate"));
    static const char huge[] = "<GetSendQuotaResponse><GetSendQuotaResult><MaxSendRate>1e999"
                               "</MaxSendRate></GetSendQuotaResult></GetSendQuotaResponse>";
    CHECK(refused("GetSendQuota", huge, strlen(huge), "MaxSendRate"));
    static const char over[] = "<GetSendStatisticsResponse><GetSendStatisticsResult>"
                               "<SendDataPoints><member><Bounces>9223372036854775808</Bounces>"
                               "</member></SendDataPoints></GetSendStatisticsResult>"
                               "</GetSendStatisticsResponse>";
    CHECK(refused("GetSendStatistics", over, strlen(over), "Bounces"));
    static const char empty_long[] = "<GetSendStatisticsResponse><GetSendStatisticsResult>"
                                     "<SendDataPoints><member><Bounces/></member>"
                                     "</SendDataPoints></GetSendStatisticsResult>"
                                     "</GetSendStatisticsResponse>";
    CHECK(refused("GetSendStatistics", empty_long, strlen(empty_long), "Bounces"));
    static const char no_value[] = "<GetIdentityPoliciesResponse><GetIdentityPoliciesResult>"
                                   "<Policies><entry><key>k</key></entry></Policies>"
                                   "</GetIdentityPoliciesResult></GetIdentityPoliciesResponse>";
    CHECK(refused("GetIdentityPolicies", no_value, strlen(no_value), "without a value"));
    static const char bad_tag[] = "<GetIdentityPoliciesResponse><GetIdentityPoliciesResult>"
                                  "<Policies><entry><key>k</key><v>x</v></entry></Policies>"
                                  "</GetIdentityPoliciesResult></GetIdentityPoliciesResponse>";
    CHECK(refused("GetIdentityPolicies", bad_tag, strlen(bad_tag), "map entry"));
}

static void test_dtd_and_entities(void) {
    static const char doctype[] = "<!DOCTYPE GetSendQuotaResponse><GetSendQuotaResponse>"
                                  "<GetSendQuotaResult/></GetSendQuotaResponse>";
    CHECK(refused("GetSendQuota", doctype, strlen(doctype), "DOCTYPE"));
    static const char lol[] =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [\n"
        " <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        "]>\n"
        "<ErrorResponse><Error><Message>&lol9;</Message></Error></ErrorResponse>";
    CHECK(refused(NULL, lol, strlen(lol), "DOCTYPE"));
    static const char ext[] = "<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><ErrorResponse/>";
    CHECK(refused(NULL, ext, strlen(ext), "DOCTYPE"));
    /* an entity nobody declared is simply not well-formed */
    static const char undeclared[] = "<ErrorResponse>&xxe;</ErrorResponse>";
    CHECK(refused(NULL, undeclared, strlen(undeclared), "not well-formed"));
}

/* Root + result wrapper + n unknown elements nested inside. */
static char *nested(size_t n) {
    const char *head = "<GetSendQuotaResponse><GetSendQuotaResult>";
    const char *tail = "</GetSendQuotaResult></GetSendQuotaResponse>";
    char *s = malloc(strlen(head) + strlen(tail) + n * 7 + 1);
    char *p = s;
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "<a>");
    }
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "</a>");
    }
    sprintf(p, "%s", tail);
    return s;
}

static void test_limits(void) {
    /* XMLJSON_MAX_DEPTH counts the root: 2 + 62 fits, 2 + 63 does not */
    char *ok = nested(XMLJSON_MAX_DEPTH - 2);
    char *deep = nested(XMLJSON_MAX_DEPTH - 1);
    char *very = nested(100000);
    CHECK(gives("GetSendQuota", ok, "{\"ResponseMetadata\":{}}"));
    CHECK(refused("GetSendQuota", deep, strlen(deep), "deeper"));
    CHECK(refused("GetSendQuota", very, strlen(very), "deeper"));
    free(ok);
    free(deep);
    free(very);

    /* text over XMLJSON_MAX_TEXT */
    const char *head = "<ListIdentitiesResponse><ListIdentitiesResult><NextToken>";
    const char *tail = "</NextToken></ListIdentitiesResult></ListIdentitiesResponse>";
    size_t n = XMLJSON_MAX_TEXT + 1;
    char *big = malloc(strlen(head) + n + strlen(tail) + 1);
    strcpy(big, head);
    memset(big + strlen(head), 'x', n);
    strcpy(big + strlen(head) + n, tail);
    CHECK(refused("ListIdentities", big, strlen(big), "bytes of text"));
    /* ... and just under it is fine */
    memmove(big + strlen(head) + n - 2, tail, strlen(tail) + 1);
    struct sp_err err;
    json_t *got = parse("ListIdentities", big, strlen(big), NULL, &err);
    CHECK(got != NULL &&
          strlen(json_string_value(json_object_get(got, "NextToken"))) == XMLJSON_MAX_TEXT - 1);
    json_decref(got);
    free(big);

    /* more than XMLJSON_MAX_ELEMENTS elements, even skipped ones */
    const char *h2 = "<GetSendQuotaResponse><GetSendQuotaResult>";
    const char *t2 = "</GetSendQuotaResult></GetSendQuotaResponse>";
    size_t count = XMLJSON_MAX_ELEMENTS;
    char *many = malloc(strlen(h2) + count * 4 + strlen(t2) + 1);
    char *p = many + sprintf(many, "%s", h2);
    for (size_t i = 0; i < count; i++) {
        memcpy(p, "<a/>", 4);
        p += 4;
    }
    strcpy(p, t2);
    CHECK(refused("GetSendQuota", many, strlen(many), "elements"));
    free(many);
}

/* ---- streaming ---------------------------------------------------------- */

static void test_chunked_equals_one_shot(void) {
    static const struct {
        const char *op, *xml;
    } docs[] = {
        {"SetIdentityMailFromDomain", SET_MAIL_FROM},
        {"GetSendQuota", SEND_QUOTA},
        {"GetIdentityVerificationAttributes", VERIFICATION_ATTRS},
        {"ListIdentities", LIST_IDENTITIES},
        {"GetSendStatistics", SEND_STATISTICS},
        {"SendEmail", ERROR_DOC},
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct sp_err err;
        int e1 = -1, e2 = -1, e3 = -1;
        json_t *one = parse(docs[i].op, docs[i].xml, strlen(docs[i].xml), &e1, &err);
        json_t *bytewise = parse_chunked(docs[i].op, docs[i].xml, 1, &e2, &err);
        json_t *ragged = parse_chunked(docs[i].op, docs[i].xml, 0, &e3, &err);
        CHECK(one != NULL && json_equal(one, bytewise) && json_equal(one, ragged));
        CHECK(e1 == e2 && e2 == e3);
        json_decref(one);
        json_decref(bytewise);
        json_decref(ragged);
    }
    /* a failure byte by byte is the same failure */
    struct sp_err err;
    CHECK(parse_chunked("GetSendQuota", "<GetSendQuotaResponse><x></y>", 1, NULL, &err) == NULL &&
          strcmp(err.code, "BadGateway") == 0);
}

static void test_call_sequence(void) {
    struct sp_err err;
    json_t *out = NULL;
    int is_error = -1;
    /* finish without a final feed makes one; a second finish is refused */
    struct xmljson *x = xmljson_new(&model_ses, op_named("GetSendQuota"));
    CHECK(xmljson_feed(x, SEND_QUOTA, strlen(SEND_QUOTA), 0, &err) == 0);
    CHECK(xmljson_finish(x, &out, &is_error, &err) == 0 && out != NULL && is_error == 0);
    json_decref(out);
    CHECK(xmljson_finish(x, &out, &is_error, &err) < 0 && out == NULL);
    xmljson_free(x);
    /* feeding after the final chunk is refused */
    x = xmljson_new(&model_ses, op_named("GetSendQuota"));
    CHECK(xmljson_feed(x, SEND_QUOTA, strlen(SEND_QUOTA), 1, &err) == 0);
    CHECK(xmljson_feed(x, "x", 1, 0, &err) < 0);
    xmljson_free(x);
    /* a failure sticks: later feeds and finish repeat it */
    x = xmljson_new(&model_ses, op_named("GetSendQuota"));
    CHECK(xmljson_feed(x, "<Nope>", 6, 0, &err) < 0 && strstr(err.msg, "root element"));
    sp_err_clear(&err);
    CHECK(xmljson_feed(x, "</Nope>", 7, 1, &err) < 0 && strstr(err.msg, "root element"));
    sp_err_clear(&err);
    CHECK(xmljson_finish(x, &out, &is_error, &err) < 0 && out == NULL &&
          strcmp(err.code, "BadGateway") == 0);
    xmljson_free(x);
    /* freeing mid-document releases everything (checked under ASan/valgrind) */
    x = xmljson_new(&model_ses, op_named("GetSendStatistics"));
    CHECK(xmljson_feed(x, SEND_STATISTICS, strlen(SEND_STATISTICS) / 2, 0, &err) == 0);
    xmljson_free(x);
    xmljson_free(NULL);
}

/* One parser reset between documents answers like a new one each time,
 * whatever state the last document left it in (finished, failed, cut off
 * mid-way, an error document, another operation); a parser fed more than
 * XMLJSON_REUSE_MAX bytes is not kept. */
static void test_reset(void) {
    static const struct {
        const char *op, *xml;
        int cut; /* 1: fed half, never finished */
    } docs[] = {
        {"GetSendStatistics", SEND_STATISTICS, 0},
        {"GetSendQuota", "<GetSendQuotaResponse><x></y>", 0},
        {"GetIdentityVerificationAttributes", VERIFICATION_ATTRS, 1},
        {"SendEmail", ERROR_DOC, 0},
        {"ListIdentities", LIST_IDENTITIES, 0},
        {"GetSendQuota", "<Nope/>", 0},
        {"SetIdentityMailFromDomain", SET_MAIL_FROM, 0},
        {"GetSendStatistics", SEND_STATISTICS, 0},
    };
    struct xmljson *x = xmljson_new(&model_ses, op_named(docs[0].op));
    CHECK(x != NULL);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct sp_err err, err2;
        int e1 = -1, e2 = -1;
        json_t *fresh = parse(docs[i].op, docs[i].xml, strlen(docs[i].xml), &e1, &err);
        if (i > 0) {
            CHECK(xmljson_reset(x, &model_ses, op_named(docs[i].op)) == 0);
        }
        size_t n = strlen(docs[i].xml);
        if (docs[i].cut) {
            CHECK(xmljson_feed(x, docs[i].xml, n / 2, 0, &err2) == 0);
            json_decref(fresh);
            continue;
        }
        json_t *reused = NULL;
        sp_err_clear(&err2);
        int rc = xmljson_feed(x, docs[i].xml, n, 1, &err2);
        if (rc == 0) {
            rc = xmljson_finish(x, &reused, &e2, &err2);
        }
        CHECK((fresh != NULL) == (rc == 0));
        if (fresh != NULL) {
            CHECK(json_equal(fresh, reused) && e1 == e2);
        } else {
            CHECK(strcmp(err.code, err2.code) == 0 && strcmp(err.msg, err2.msg) == 0);
        }
        json_decref(fresh);
        json_decref(reused);
    }
    /* A big document: the parser is not worth keeping. */
    CHECK(xmljson_reset(x, &model_ses, op_named("GetSendQuota")) == 0);
    static char big[XMLJSON_REUSE_MAX + 128];
    size_t n = (size_t)snprintf(big, sizeof(big), "<ErrorResponse><Error><Message>");
    memset(big + n, 'a', XMLJSON_REUSE_MAX);
    n += XMLJSON_REUSE_MAX;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "</Message></Error></ErrorResponse>");
    struct sp_err err;
    json_t *out = NULL;
    CHECK(xmljson_feed(x, big, n, 1, &err) == 0 && xmljson_finish(x, &out, NULL, &err) == 0);
    json_decref(out);
    CHECK(xmljson_reset(x, &model_ses, op_named("GetSendQuota")) == -1);
    xmljson_free(x); /* still frees cleanly after a refused reset */
}

int main(void) {
    test_success_shapes();
    test_empty_and_odd_elements();
    test_error_document();
    test_synthetic_model();
    test_refusals();
    test_dtd_and_entities();
    test_limits();
    test_chunked_equals_one_shot();
    test_call_sequence();
    test_reset();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
