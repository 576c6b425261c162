/* hygiene_test - the descriptor limit raised to the hard limit, the
 * process made non-dumpable, and the arithmetic of the connections a
 * descriptor limit leaves room for. */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "proxy/config.h"
#include "proxy/hygiene.h"

#include "tests/unit/unit_check.h"

static struct config *load(const char *text) {
    struct sp_err err;
    struct config *cfg = config_load_text(text, strlen(text), "test.json", &err);
    if (cfg == NULL) {
        fprintf(stderr, "  config: %s\n", err.msg);
    }
    return cfg;
}

static void test_conn_room(void) {
    /* Defaults: one listener, no admin, a pool of 64. */
    struct config *cfg = load("{}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    size_t reserved = HYGIENE_FIXED_FDS + 1 + 2 * 64;
    CHECK(hygiene_conn_room(1024, cfg, 64) == 1024 - reserved);
    CHECK(hygiene_conn_room(1048576, cfg, 64) == 1048576 - reserved);
    /* A limit that leaves nothing still leaves one. */
    CHECK(hygiene_conn_room(reserved, cfg, 64) == 1);
    CHECK(hygiene_conn_room(0, cfg, 64) == 1);
    config_unref(cfg);

    /* Two listeners, an admin listener (its connections count), a pool of 4. */
    cfg = load("{\"listen\": [\"127.0.0.1:1\", \"unix:/tmp/x.sock\"], "
               "\"admin_listen\": [\"0.0.0.0:9901\"], "
               "\"upstream\": {\"max_idle_connections\": 4}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    reserved = HYGIENE_FIXED_FDS + 2 + 1 + 64 + 2 * 4;
    CHECK(hygiene_conn_room(300, cfg, 64) == 300 - reserved);
    CHECK(hygiene_conn_room(300, cfg, 10) == 300 - reserved + 54);
    config_unref(cfg);
}

static void test_nofile(void) {
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > 64) {
        /* Start low, as a shell's default of 1024 would. */
        struct rlimit low = {64, rl.rlim_max};
        CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
        CHECK(hygiene_nofile() == 64);
        struct hygiene_nofile nf;
        struct sp_err err;
        CHECK(hygiene_raise_nofile(&nf, &err) == 0);
        CHECK(nf.before == 64 && nf.after == (unsigned long long)rl.rlim_max &&
              nf.hard == (unsigned long long)rl.rlim_max);
        CHECK(hygiene_nofile() == (unsigned long long)rl.rlim_max);
        /* Already at the hard limit: nothing to do. */
        CHECK(hygiene_raise_nofile(&nf, &err) == 0 && nf.before == nf.after);
    }
}

static void test_dumpable(void) {
    struct sp_err err;
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
    CHECK(hygiene_set_nondumpable(&err) == 0);
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
}

int main(void) {
    test_conn_room();
    test_nofile();
    test_dumpable();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
