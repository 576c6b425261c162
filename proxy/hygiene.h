/* hygiene.h - what the process does to itself before it serves, and the
 * arithmetic of its descriptor limit.
 *
 *   - It raises its soft RLIMIT_NOFILE to the hard limit: every client
 *     connection is a descriptor, and the usual soft default (1024) is less
 *     than limits.max_connections.
 *   - It marks itself non-dumpable (PR_SET_DUMPABLE 0): no core file that
 *     would hold the credentials, and no ptrace, /proc/PID/mem or
 *     /proc/PID/environ for other processes of the same user (a neighbour
 *     compromised under the same uid) without CAP_SYS_PTRACE.
 *   - hygiene_conn_room says how many client connections the limit leaves
 *     room for, after what else the proxy keeps open; the server is held
 *     to it even when limits.max_connections asks for more.
 *
 * The credential variables are taken out of the environment elsewhere
 * (creds_env_seal), where they are read. Nothing here logs: the caller says
 * what was done. */
#ifndef SP_HYGIENE_H
#define SP_HYGIENE_H

#include <stddef.h>

#include "signer/check.h"

struct config;

/* Descriptors the proxy holds besides client connections and listeners:
 * stdio, the event loop, signals, DNS, Redis, credential fetches and a
 * credential_process child's pipes, config, secret and token files, with a
 * margin. */
#define HYGIENE_FIXED_FDS 64

struct hygiene_nofile {
    unsigned long long before; /* the soft limit found */
    unsigned long long after;  /* the soft limit now */
    unsigned long long hard;   /* the hard limit (RLIM_INFINITY as ULLONG_MAX) */
};

/* Raises the soft RLIMIT_NOFILE to the hard limit (to the kernel's
 * fs.nr_open when the hard limit is unlimited). 0, or -1 with err. */
int hygiene_raise_nofile(struct hygiene_nofile *out, struct sp_err *err) SP_WARN_UNUSED;

/* The soft RLIMIT_NOFILE now (ULLONG_MAX when unlimited). */
unsigned long long hygiene_nofile(void);

/* PR_SET_DUMPABLE 0. 0, or -1 with err. */
int hygiene_set_nondumpable(struct sp_err *err) SP_WARN_UNUSED;

/* The client connections a soft limit of nofile descriptors leaves room
 * for under cfg: nofile less HYGIENE_FIXED_FDS, the listeners, the admin
 * listener's connections (admin_max_conns when admin_listen is set) and
 * twice upstream.max_idle_connections (the idle pool, and as many again
 * in use). Never below 1. */
size_t hygiene_conn_room(unsigned long long nofile, const struct config *cfg,
                         size_t admin_max_conns);

#endif
