/* creds_http_test - URLs of credential endpoints (creds_url_parse): the
 * forms the providers' variables take, and the ones refused, with messages
 * that never echo user information. */
#include <stdio.h>
#include <string.h>

#include "proxy/creds/creds_http.h"

#include "tests/unit/unit_check.h"

static int str_eq(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

static void test_urls(void) {
    struct creds_url u;
    struct sp_err err;
    CHECK(creds_url_parse("http://169.254.170.2/v2/credentials/abc", "X", &u, &err) == 0);
    CHECK(!u.tls && str_eq(u.host, "169.254.170.2") && u.port == 80 &&
          str_eq(u.path, "/v2/credentials/abc"));
    CHECK(creds_url_parse("HTTPS://sts.eu-west-1.amazonaws.com", "X", &u, &err) == 0);
    CHECK(u.tls && u.port == 443 && str_eq(u.path, "/"));
    CHECK(creds_url_parse("http://[fd00:ec2::23]:8080?a=b#frag", "X", &u, &err) == 0);
    CHECK(str_eq(u.host, "fd00:ec2::23") && u.port == 8080 && str_eq(u.path, "/?a=b"));
    CHECK(creds_url_parse("http://127.0.0.1:1/", "X", &u, &err) == 0 && u.port == 1);
    static const char *const bad[] = {"",
                                      "ftp://x",
                                      "http://",
                                      "http://:80/",
                                      "http://user:pw@host/",
                                      "http://host:0/",
                                      "http://host:65536/",
                                      "http://host:/",
                                      "http://host:8a/",
                                      "http://ho st/",
                                      "http://[::1/",
                                      "http://[::g]/",
                                      "http://host/pa th",
                                      "http://host/a\r\nX: y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(creds_url_parse(bad[i], "X", &u, &err) == -1);
        CHECK(strstr(err.msg, "pw@") == NULL);
    }
}

int main(void) {
    test_urls();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
