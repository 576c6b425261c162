/* form_params_test.c - unit tests for api/form_params: SDK form bodies read
 * against the SES model, strictly. (tests/integ/test_query_oracle.py reads
 * back what botocore puts on the wire for every operation.)
 *
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include "api/form_params.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "api/validate.h"
#include "tests/unit/unit_check.h"

static const struct model_op *op(const char *name) {
    return model_find_op(&model_ses, name, strlen(name));
}

/* Parses body for op name; returns the params or NULL (err filled). */
static json_t *parse(const char *name, const char *body, struct sp_err *err) {
    json_t *p = NULL;
    sp_err_clear(err);
    if (form_params_parse(&model_ses, op(name), body, strlen(body), &p, err) < 0) {
        return NULL;
    }
    return p;
}

static int refused(const char *name, const char *body, const char *code, const char *words) {
    struct sp_err err;
    json_t *p = parse(name, body, &err);
    int ok = p == NULL && err.code != NULL && strcmp(err.code, code) == 0 &&
             strstr(err.msg, words) != NULL;
    if (!ok) {
        fprintf(stderr, "not refused as %s/%s: %s -> %s: %s\n", code, words, body,
                err.code != NULL ? err.code : "(ok)", err.msg);
    }
    json_decref(p);
    return ok;
}

struct buf {
    char data[8192];
    size_t len;
};

static int on_out(void *ctx, const void *data, size_t len) {
    struct buf *b = ctx;
    if (b->len + len >= sizeof(b->data)) {
        return -1;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* parse -> validate -> serialize gives want. */
static int reads_as(const char *name, const char *body, const char *want) {
    struct sp_err err;
    json_t *p = parse(name, body, &err);
    struct buf b = {.len = 0};
    int ok = p != NULL && validate_params(&model_ses, op(name), p, &err) == 0 &&
             query_serialize(&model_ses, op(name), p, on_out, &b, &err) == 0 &&
             strcmp(b.data, want) == 0;
    if (!ok) {
        fprintf(stderr, "%s\n  read as %s\n  want    %s\n  (%s)\n", body, b.data, want, err.msg);
    }
    json_decref(p);
    return ok;
}

static void test_reads(void) {
    struct sp_err err;
    json_t *p = parse("SendEmail",
                      "Action=SendEmail&Version=2010-12-01&Source=a%40b.com"
                      "&Destination.ToAddresses.member.1=x%40y.com"
                      "&Destination.ToAddresses.member.2=z%40y.com&Message.Subject.Data=hi+there"
                      "&Message.Body.Text.Data=yo&Tags.member.1.Name=n&Tags.member.1.Value=v",
                      &err);
    CHECK(p != NULL);
    json_t *to = json_object_get(json_object_get(p, "Destination"), "ToAddresses");
    CHECK(json_is_array(to) && json_array_size(to) == 2 &&
          strcmp(json_string_value(json_array_get(to, 1)), "z@y.com") == 0);
    CHECK(strcmp(json_string_value(json_object_get(
                     json_object_get(json_object_get(p, "Message"), "Subject"), "Data")),
                 "hi there") == 0);
    CHECK(json_object_get(p, "Action") == NULL && json_object_get(p, "Version") == NULL);
    json_decref(p);

    /* entries in any order; %20 and escaped letters read like boto3's bytes */
    CHECK(reads_as("SendEmail",
                   "Version=2010-12-01&Message.Body.Text.Data=b&Message.Subject.Data=a%20b"
                   "&Destination.ToAddresses.member.2=y&Destination.ToAddresses.member.1=x"
                   "&%53ource=s&Action=SendEmail",
                   "Action=SendEmail&Version=2010-12-01&Message.Body.Text.Data=b"
                   "&Message.Subject.Data=a+b&Destination.ToAddresses.member.1=x"
                   "&Destination.ToAddresses.member.2=y&Source=s"));
    /* "Name=" is an empty list; an empty Body structure reads back as {} */
    CHECK(reads_as("SendEmail",
                   "Action=SendEmail&Version=2010-12-01&Source=s&Destination.ToAddresses="
                   "&Message.Subject.Data=x",
                   "Action=SendEmail&Version=2010-12-01&Source=s&Destination.ToAddresses="
                   "&Message.Subject.Data=x"));
    /* typed scalars */
    CHECK(reads_as("ListIdentities", "Action=ListIdentities&Version=2010-12-01&MaxItems=0",
                   "Action=ListIdentities&Version=2010-12-01&MaxItems=0"));
    CHECK(reads_as("SetIdentityDkimEnabled",
                   "Action=SetIdentityDkimEnabled&Version=2010-12-01&Identity=e.com"
                   "&DkimEnabled=false",
                   "Action=SetIdentityDkimEnabled&Version=2010-12-01&Identity=e.com"
                   "&DkimEnabled=false"));
    /* an operation without input */
    CHECK(reads_as("GetSendQuota", "Action=GetSendQuota&Version=2010-12-01",
                   "Action=GetSendQuota&Version=2010-12-01"));
    /* empty pairs are skipped, as every form reader does */
    CHECK(reads_as("GetSendQuota", "&&Action=GetSendQuota&&Version=2010-12-01&",
                   "Action=GetSendQuota&Version=2010-12-01"));
}

static void test_refusals(void) {
    const char *v = "Action=SendEmail&Version=2010-12-01";
    char b[2048];
#define WITH(extra) (snprintf(b, sizeof(b), "%s&%s", v, extra), b)
    CHECK(refused("SendEmail", WITH("Action=SendEmail"), "InvalidAction", "more than once"));
    CHECK(refused("SendEmail", "Action=DeleteIdentity&Version=2010-12-01", "InvalidAction",
                  "must be SendEmail"));
    CHECK(refused("SendEmail", "Version=2010-12-01", "InvalidAction", "no Action"));
    CHECK(refused("SendEmail", "Action=SendEmail", "ValidationError", "no Version"));
    CHECK(refused("SendEmail", "Action=SendEmail&Version=2010-12-02", "ValidationError",
                  "Version must be 2010-12-01"));
    CHECK(refused("SendEmail", WITH("Version=2010-12-01"), "ValidationError", "more than once"));
    CHECK(refused("SendEmail", WITH("Source=a&Source=b"), "ValidationError",
                  "Source: given more than once"));
    CHECK(refused("SendEmail", WITH("Source=a&%53ource=a"), "ValidationError",
                  "given more than once"));
    CHECK(refused("SendEmail",
                  WITH("Destination.ToAddresses.member.1=a&"
                       "Destination.ToAddresses.member.1=a"),
                  "ValidationError", "given more than once"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.member.0=a"), "ValidationError",
                  "list index"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.member.-1=a"), "ValidationError",
                  "list index"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.member.1000000=a"), "ValidationError",
                  "list index"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.member.3=a"), "ValidationError",
                  "1 is missing"));
    CHECK(refused("SendEmail",
                  WITH("Destination.ToAddresses.member.1=a&"
                       "Destination.ToAddresses.member.3=a"),
                  "ValidationError", "2 is missing"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.item.1=a"), "ValidationError",
                  "Name.member.N"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.member=a"), "ValidationError",
                  "Name.member.N"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses=&Destination.ToAddresses.member.1=a"),
                  "ValidationError", "conflicts"));
    CHECK(refused("SendEmail", WITH("Destination.ToAddresses.member.1=a&Destination.ToAddresses="),
                  "ValidationError", "more than once"));
    CHECK(refused("SendEmail", WITH("Destination=x"), "ValidationError", "names a structure"));
    CHECK(refused("SendEmail", WITH("Tags=x"), "ValidationError", "names a list"));
    CHECK(refused("SendEmail", WITH("Source.Inner=x"), "ValidationError", "not a parameter"));
    CHECK(refused("SendEmail", WITH("Source=a&Source.Inner=x"), "ValidationError", "conflicts"));
    CHECK(refused("SendEmail", WITH("Nope=1"), "ValidationError", "not a parameter"));
    CHECK(refused("SendEmail", WITH("destination.ToAddresses.member.1=a"), "ValidationError",
                  "not a parameter"));
    CHECK(refused("SendEmail", WITH("Destination..ToAddresses=a"), "ValidationError",
                  "not a parameter"));
    CHECK(refused("SendEmail", WITH("Source%00x=a"), "ValidationError", "NUL"));
    CHECK(refused("SendEmail", WITH("Source=%C3"), "ValidationError", "UTF-8"));
    CHECK(refused("SendEmail", WITH("Source=%GG"), "MalformedRequest", "escape"));
    static const char *const auth[] = {"AWSAccessKeyId=A",
                                       "Signature=x",
                                       "SignatureMethod=HmacSHA256",
                                       "SignatureVersion=2",
                                       "Timestamp=2020-01-01T00:00:00Z",
                                       "Expires=2020",
                                       "SecurityToken=t",
                                       "X-Amz-Date=1",
                                       "x-amz-security-token=t",
                                       "X-AMZ-ALGORITHM=x",
                                       "signature=x"};
    for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
        CHECK(refused("SendEmail", WITH(auth[i]), "ValidationError", "authentication"));
    }
    CHECK(refused("GetSendQuota", "Action=GetSendQuota&Version=2010-12-01&X=1", "ValidationError",
                  "takes no parameters"));
    const char *li = "Action=ListIdentities&Version=2010-12-01&MaxItems=";
    static const char *const bad_ints[] = {
        "", "01", "+1", "1.0", "1e2", " 1", "0x10", "--1", "99999999999999999999", "1 "};
    for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
        snprintf(b, sizeof(b), "%s%s", li, bad_ints[i]);
        CHECK(refused("ListIdentities", b, "ValidationError", "integer"));
    }
    static const char *const bad_bools[] = {"True", "TRUE", "1", "yes", "", "false "};
    for (size_t i = 0; i < sizeof(bad_bools) / sizeof(bad_bools[0]); i++) {
        snprintf(b, sizeof(b),
                 "Action=SetIdentityDkimEnabled&Version=2010-12-01&Identity=e.com&DkimEnabled=%s",
                 bad_bools[i]);
        CHECK(refused("SetIdentityDkimEnabled", b, "ValidationError", "boolean"));
    }
    /* a key longer than the bound */
    char longkey[1200];
    memset(longkey, 'A', sizeof(longkey) - 3);
    memcpy(longkey + sizeof(longkey) - 3, "=1", 3);
    CHECK(refused("SendEmail", WITH(longkey), "ValidationError", "longer"));
#undef WITH
}

int main(void) {
    test_reads();
    test_refusals();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
