/* creds_ini_test - the shared-file (INI) parser: botocore's reading of
 * ~/.aws/credentials and ~/.aws/config, and its failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_ini.h"

#include "tests/unit/unit_check.h"

static int str_eq(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

/* Parses a copy of exactly strlen(text) bytes (no NUL after it), so ASan
 * sees any read past the end. */
static struct creds_ini *parse(const char *text, struct sp_err *err) {
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    struct creds_ini *ini = NULL;
    sp_err_clear(err);
    int rc = creds_ini_parse(copy, n, &ini, err);
    free(copy);
    if (rc < 0) {
        return NULL;
    }
    return ini;
}

static void test_credentials_file(void) {
    struct sp_err err;
    struct creds_ini *ini = parse("# comment\n"
                                  "; another\n"
                                  "[default]\n"
                                  "aws_access_key_id = AKIDDEFAULT\n"
                                  "aws_secret_access_key=secret/with+chars=\n"
                                  "\n"
                                  "[prod]\r\n"
                                  "  AWS_Access_Key_ID : AKIDPROD  \r\n"
                                  "aws_secret_access_key = has # no inline comment ; kept\r\n"
                                  "aws_session_token =\r\n"
                                  "[profile x]\n"
                                  "k = v",
                                  &err);
    CHECK(ini != NULL);
    if (ini == NULL) {
        return;
    }
    CHECK(creds_ini_section_count(ini) == 3);
    CHECK(str_eq(creds_ini_get(ini, "default", "aws_access_key_id"), "AKIDDEFAULT"));
    CHECK(str_eq(creds_ini_get(ini, "default", "aws_secret_access_key"), "secret/with+chars="));
    /* keys are lowercased; ':' is a delimiter too; values trimmed */
    CHECK(str_eq(creds_ini_get(ini, "prod", "aws_access_key_id"), "AKIDPROD"));
    CHECK(str_eq(creds_ini_get(ini, "prod", "aws_secret_access_key"),
                 "has # no inline comment ; kept"));
    CHECK(str_eq(creds_ini_get(ini, "prod", "aws_session_token"), ""));
    CHECK(creds_ini_get(ini, "prod", "AWS_ACCESS_KEY_ID") == NULL); /* lookups are lowercase */
    CHECK(creds_ini_get(ini, "nope", "aws_access_key_id") == NULL);
    /* credentials file: sections are profiles as they are */
    CHECK(str_eq(creds_ini_profile_get(ini, 0, "prod", "aws_access_key_id"), "AKIDPROD"));
    CHECK(str_eq(creds_ini_profile_get(ini, 0, "profile x", "k"), "v"));
    CHECK(creds_ini_profile_get(ini, 0, "x", "k") == NULL);
    CHECK(creds_ini_has_profile(ini, 0, "prod"));
    CHECK(!creds_ini_has_profile(ini, 0, "x"));
    creds_ini_free(ini);
}

static void test_config_file(void) {
    struct sp_err err;
    struct creds_ini *ini = parse("[default]\n"
                                  "region = us-east-1\n"
                                  "[profile dev]\n"
                                  "role_arn = arn:aws:iam::123456789012:role/dev\n"
                                  "source_profile = default\n"
                                  "[profile   spaced  ]\n"
                                  "a = 1\n"
                                  "[profile \"with space\"]\n"
                                  "a = 2\n"
                                  "[profile default]\n"
                                  "output = json\n"
                                  "[sso-session corp]\n"
                                  "sso_region = us-east-1\n"
                                  "[dev]\n"
                                  "role_arn = not-a-profile-in-config\n"
                                  "[profile two words]\n"
                                  "a = 3\n"
                                  "[profiledev]\n"
                                  "a = 4\n",
                                  &err);
    CHECK(ini != NULL);
    if (ini == NULL) {
        return;
    }
    CHECK(str_eq(creds_ini_profile_get(ini, 1, "dev", "role_arn"),
                 "arn:aws:iam::123456789012:role/dev"));
    CHECK(str_eq(creds_ini_profile_get(ini, 1, "spaced", "a"), "1"));
    CHECK(str_eq(creds_ini_profile_get(ini, 1, "with space", "a"), "2"));
    /* [default] and [profile default] are one profile */
    CHECK(str_eq(creds_ini_profile_get(ini, 1, "default", "region"), "us-east-1"));
    CHECK(str_eq(creds_ini_profile_get(ini, 1, "default", "output"), "json"));
    /* not profiles in a config file */
    CHECK(!creds_ini_has_profile(ini, 1, "sso-session corp"));
    CHECK(!creds_ini_has_profile(ini, 1, "corp"));
    CHECK(creds_ini_profile_get(ini, 1, "two words", "a") == NULL);
    CHECK(creds_ini_profile_get(ini, 1, "two", "a") == NULL);
    CHECK(!creds_ini_has_profile(ini, 1, "profiledev"));
    CHECK(!creds_ini_has_profile(ini, 1, "ev"));
    /* but the section is still there by its name */
    CHECK(str_eq(creds_ini_get(ini, "sso-session corp", "sso_region"), "us-east-1"));
    creds_ini_free(ini);
}

static void test_continuation_and_repeats(void) {
    struct sp_err err;
    struct creds_ini *ini = parse("\xef\xbb\xbf[default]\n"
                                  "s3 =\n"
                                  "    max_concurrent_requests = 10\n"
                                  "    # a comment inside\n"
                                  "    addressing_style = path\n"
                                  "region = eu-west-1\n"
                                  "multi = first\n"
                                  "  second\n"
                                  "[default]\n"
                                  "region = eu-central-1\n"
                                  "[b]\n"
                                  "x = 1\n"
                                  "  [notasection]\n",
                                  &err);
    CHECK(ini != NULL);
    if (ini == NULL) {
        return;
    }
    CHECK(str_eq(creds_ini_get(ini, "default", "s3"),
                 "\nmax_concurrent_requests = 10\naddressing_style = path"));
    CHECK(str_eq(creds_ini_get(ini, "default", "multi"), "first\nsecond"));
    /* the later section and key win */
    CHECK(str_eq(creds_ini_get(ini, "default", "region"), "eu-central-1"));
    /* an indented line after a key continues it, even if it looks like a header */
    CHECK(str_eq(creds_ini_get(ini, "b", "x"), "1\n[notasection]"));
    CHECK(creds_ini_section_count(ini) == 3);
    const char *k, *v;
    size_t sec;
    CHECK(creds_ini_entry(ini, 0, &k, &v, &sec) == 0 && str_eq(k, "s3") && sec == 0);
    CHECK(creds_ini_entry(ini, 99, &k, &v, &sec) == -1);
    creds_ini_free(ini);
}

static void test_edge_sections(void) {
    struct sp_err err;
    struct creds_ini *ini = parse("[a]b]\nk=1\n[=]\nk=2\n[x] trailing\nk=3\n", &err);
    CHECK(ini != NULL);
    if (ini != NULL) {
        /* between the first '[' and the last ']' */
        CHECK(str_eq(creds_ini_get(ini, "a]b", "k"), "1"));
        CHECK(str_eq(creds_ini_get(ini, "=", "k"), "2"));
        CHECK(str_eq(creds_ini_get(ini, "x", "k"), "3"));
        creds_ini_free(ini);
    }
    ini = parse("", &err);
    CHECK(ini != NULL && creds_ini_section_count(ini) == 0);
    creds_ini_free(ini);
    ini = parse("\n\n# only comments\n", &err);
    CHECK(ini != NULL && creds_ini_entry_count(ini) == 0);
    creds_ini_free(ini);
}

/* Failures name the line, never its content. */
static void test_errors(void) {
    static const struct {
        const char *text;
        const char *line;
    } bad[] = {
        {"key = before any section\n", "line 1"},
        {"[s]\nok = 1\nno delimiter here SECRETVALUE\n", "line 3"},
        {"[s]\n= value without key SECRETVALUE\n", "line 2"},
        {"[]\n", "line 1"},
        {"[unclosed\n", "line 1"},
        {"[s]\n[\n", "line 2"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sp_err err;
        struct creds_ini *ini = parse(bad[i].text, &err);
        CHECK(ini == NULL);
        CHECK(err.code != NULL && strcmp(err.code, "ConfigError") == 0);
        CHECK(strstr(err.msg, bad[i].line) != NULL);
        CHECK(strstr(err.msg, "SECRETVALUE") == NULL);
        creds_ini_free(ini);
    }
    /* a NUL byte */
    struct creds_ini *ini = NULL;
    struct sp_err err;
    CHECK(creds_ini_parse("[s]\nk = a\0b\n", 11, &ini, &err) == -1 && ini == NULL);
    CHECK(strstr(err.msg, "line 2") != NULL);
    /* too large */
    size_t big = CREDS_INI_MAX_TEXT + 1;
    char *text = calloc(1, big);
    memset(text, '#', big);
    CHECK(creds_ini_parse(text, big, &ini, &err) == -1 && ini == NULL);
    free(text);
}

int main(void) {
    test_credentials_file();
    test_config_file();
    test_continuation_and_repeats();
    test_edge_sections();
    test_errors();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
