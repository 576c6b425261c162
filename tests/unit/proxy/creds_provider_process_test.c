/* creds_provider_process_test - credential_process: the command line split
 * as Python's shlex.split does, and the helper run from the event loop:
 * its JSON read into a set, and every way it can fail (exit status, bad
 * output, no such program, a signal) reported without a byte of its
 * output. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_provider_process.h"

#include "tests/unit/unit_check.h"

static int str_eq(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop for ms, or until something breaks it; no timer is left
 * behind to cut a later run short. */
static void run_for(struct event_base *base, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *t = evtimer_new(base, on_deadline, base);
    evtimer_add(t, &tv);
    event_base_dispatch(base);
    event_free(t);
}

/* ------------------------------------------------------------- splitting */

static void check_split(const char *cmd, int argc, const char *const *want) {
    char **argv;
    int n;
    struct sp_err err;
    int rc = creds_provider_process_split(cmd, &argv, &n, &err);
    CHECK(rc == 0 && n == argc);
    if (rc == 0 && n == argc) {
        for (int i = 0; i < argc; i++) {
            CHECK(str_eq(argv[i], want[i]));
        }
        CHECK(argv[argc] == NULL);
    }
    if (rc == 0) {
        creds_provider_process_argv_free(argv);
    }
}

static void test_split(void) {
    /* each case checked against Python's shlex.split */
    check_split("/usr/bin/helper", 1, (const char *const[]){"/usr/bin/helper"});
    check_split("  a  b\tc\n", 3, (const char *const[]){"a", "b", "c"});
    check_split("a 'b c' \"d e\"", 3, (const char *const[]){"a", "b c", "d e"});
    check_split("a'b'\"c\"d", 1, (const char *const[]){"abcd"});
    check_split("a '' \"\"", 3, (const char *const[]){"a", "", ""});
    check_split("a\\ b \\'q", 2, (const char *const[]){"a b", "'q"});
    check_split("\"x\\\"y\\\\z\\n\"", 1, (const char *const[]){"x\"y\\z\\n"});
    check_split("'no \\ escape'", 1, (const char *const[]){"no \\ escape"});
    check_split("a #b", 2, (const char *const[]){"a", "#b"});
    static const char *const bad[] = {"", "   ", "'open", "\"open", "trailing\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char **argv;
        int n;
        struct sp_err err;
        CHECK(creds_provider_process_split(bad[i], &argv, &n, &err) == -1 && argv == NULL);
    }
}

/* --------------------------------------------------------------- running */

struct outcome {
    int done;
    struct creds *c;
    char why[CREDS_PROVIDER_WHY_LEN];
    struct event_base *base;
};

static void on_outcome(struct creds_provider *p, struct creds *c, const char *why, void *arg) {
    (void)p;
    struct outcome *o = arg;
    o->done++;
    o->c = c;
    snprintf(o->why, sizeof(o->why), "%s", why);
    event_base_loopbreak(o->base);
}

static time_t fixed_now;
static time_t fake_clock(void) { return fixed_now; }

static void run_process(struct event_base *base, const char *cmd, struct outcome *o) {
    struct creds_provider_ctx ctx = {base, NULL, "us-east-1", fake_clock};
    struct sp_err err;
    memset(o, 0, sizeof(*o));
    o->base = base;
    struct creds_provider *p = creds_provider_process_new(&ctx, cmd, "test", &err);
    CHECK(p != NULL);
    if (p == NULL) {
        return;
    }
    creds_provider_fetch(p, on_outcome, o);
    CHECK(o->done == 0); /* never from inside the call */
    run_for(base, 10000);
    CHECK(o->done == 1);
    creds_provider_free(p);
}

static void test_process(struct event_base *base) {
    struct outcome o;
    run_process(base,
                "/bin/sh -c 'printf \"%s\" \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": "
                "\\\"AKIDPROC\\\", \\\"SecretAccessKey\\\": \\\"procsecret\\\", "
                "\\\"SessionToken\\\": \\\"proctoken\\\", \\\"Expiration\\\": "
                "\\\"2030-01-01T00:00:00Z\\\"}\"'",
                &o);
    CHECK(o.c != NULL && str_eq(o.c->access_key_id, "AKIDPROC") &&
          str_eq(o.c->session_token, "proctoken") && str_eq(o.c->provider, "process") &&
          o.c->expiration == 1893456000);
    creds_unref(o.c);
    run_process(base, "/bin/sh -c 'echo SECRETOUTPUT; exit 3'", &o);
    CHECK(o.c == NULL && strstr(o.why, "status 3") != NULL && strstr(o.why, "sh") != NULL);
    CHECK(strstr(o.why, "SECRETOUTPUT") == NULL);
    run_process(base, "/bin/sh -c 'echo \"{\\\"Version\\\": 2}\"'", &o);
    CHECK(o.c == NULL && strstr(o.why, "Version") != NULL);
    run_process(base, "/bin/sh -c 'echo not json SECRETOUTPUT'", &o);
    CHECK(o.c == NULL && strstr(o.why, "SECRETOUTPUT") == NULL);
    run_process(base, "/nonexistent/helper --flag", &o);
    CHECK(o.c == NULL && strstr(o.why, "helper") != NULL);
    run_process(base, "/bin/sh -c 'kill -9 $$'", &o);
    CHECK(o.c == NULL && strstr(o.why, "signal 9") != NULL);
}

int main(void) {
    struct event_base *base = event_base_new();
    test_split();
    test_process(base);
    event_base_free(base);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
