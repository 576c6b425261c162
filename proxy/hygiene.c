/* hygiene.c - descriptor limit and dumpability (see hygiene.h). */
#include "proxy/hygiene.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "proxy/config.h"

/* The kernel's ceiling for RLIMIT_NOFILE when the hard limit is
 * "unlimited" (setrlimit refuses more than fs.nr_open). */
static rlim_t nr_open(void) {
    rlim_t n = 1024 * 1024; /* the kernel's default */
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (f != NULL) {
        unsigned long long v;
        if (fscanf(f, "%llu", &v) == 1 && v > 0) {
            n = (rlim_t)v;
        }
        fclose(f);
    }
    return n;
}

static unsigned long long as_ull(rlim_t v) {
    return v == RLIM_INFINITY ? ULLONG_MAX : (unsigned long long)v;
}

int hygiene_raise_nofile(struct hygiene_nofile *out, struct sp_err *err) {
    struct rlimit rl;
    ENSURE(getrlimit(RLIMIT_NOFILE, &rl) == 0, err, "InternalError", "getrlimit(RLIMIT_NOFILE): %s",
           strerror(errno));
    out->before = as_ull(rl.rlim_cur);
    out->hard = as_ull(rl.rlim_max);
    out->after = out->before;
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) {
        return 0;
    }
    rl.rlim_cur = want;
    ENSURE(setrlimit(RLIMIT_NOFILE, &rl) == 0, err, "InternalError",
           "setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)want, strerror(errno));
    out->after = as_ull(want);
    return 0;
}

unsigned long long hygiene_nofile(void) {
    struct rlimit rl;
    return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? as_ull(rl.rlim_cur) : ULLONG_MAX;
}

int hygiene_set_nondumpable(struct sp_err *err) {
    ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, err, "InternalError",
           "prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
    return 0;
}

size_t hygiene_conn_room(unsigned long long nofile, const struct config *cfg,
                         size_t admin_max_conns) {
    unsigned long long reserved = HYGIENE_FIXED_FDS + cfg->n_listen + cfg->n_admin_listen +
                                  (cfg->n_admin_listen > 0 ? admin_max_conns : 0) +
                                  2ull * (unsigned long long)cfg->upstream.max_idle_connections;
    if (nofile <= reserved) {
        return 1;
    }
    unsigned long long room = nofile - reserved;
    return room > SIZE_MAX ? SIZE_MAX : (size_t)room;
}
