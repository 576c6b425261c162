/* creds_provider_process.c - credential_process (see
 * creds_provider_process.h).
 *
 * The child is started with posix_spawnp (no fork of a process that holds
 * sockets, TLS contexts and secrets), its stdout read by an EV_READ event,
 * and it is reaped without blocking: after EOF, waitpid(WNOHANG) is tried
 * again on a short timer until it has exited or the deadline passes, when
 * it is killed. */
#include "proxy/creds/creds_provider_process.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/creds/creds_json.h"
#include "proxy/creds/secret.h"
#include "proxy/log.h"

extern char **environ;

#define REAP_POLL_MS 10

/* --------------------------------------------------------------- splitting */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void creds_provider_process_argv_free(char **argv) {
    if (argv == NULL) {
        return;
    }
    for (char **a = argv; *a != NULL; a++) {
        secret_wipe_str(*a); /* a command line may carry a secret argument */
    }
    free(argv);
}

int creds_provider_process_split(const char *cmd, char ***argv_out, int *argc_out,
                                 struct sp_err *err) {
    *argv_out = NULL;
    *argc_out = 0;
    size_t len = strlen(cmd);
    char **argv = calloc(CREDS_PROVIDER_PROCESS_MAX_WORDS + 1, sizeof(*argv));
    char *word = malloc(len + 1);
    int argc = 0;
    if (argv == NULL || word == NULL) {
        free(argv);
        free(word);
        return sp_fail(err, "InternalError", "out of memory");
    }
    const char *p = cmd;
    int rc = 0;
    while (rc == 0) {
        while (is_ws(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        size_t n = 0;
        while (*p != '\0' && !is_ws(*p) && rc == 0) {
            if (*p == '\'') {
                const char *close = strchr(p + 1, '\'');
                if (close == NULL) {
                    rc = sp_fail(err, "ConfigError", "credential_process: no closing quotation");
                    break;
                }
                memcpy(word + n, p + 1, (size_t)(close - p - 1));
                n += (size_t)(close - p - 1);
                p = close + 1;
            } else if (*p == '"') {
                p++;
                while (*p != '\0' && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                        p++;
                    }
                    word[n++] = *p++;
                }
                if (*p != '"') {
                    rc = sp_fail(err, "ConfigError", "credential_process: no closing quotation");
                    break;
                }
                p++;
            } else if (*p == '\\') {
                if (p[1] == '\0') {
                    rc = sp_fail(err, "ConfigError", "credential_process: no escaped character");
                    break;
                }
                word[n++] = p[1];
                p += 2;
            } else {
                word[n++] = *p++;
            }
        }
        if (rc < 0) {
            break;
        }
        if (argc == CREDS_PROVIDER_PROCESS_MAX_WORDS) {
            rc = sp_fail(err, "ConfigError", "credential_process: more than %d words",
                         CREDS_PROVIDER_PROCESS_MAX_WORDS);
            break;
        }
        word[n] = '\0';
        argv[argc] = strdup(word);
        if (argv[argc] == NULL) {
            rc = sp_fail(err, "InternalError", "out of memory");
            break;
        }
        argc++;
    }
    secret_free(word, len + 1);
    if (rc == 0 && argc == 0) {
        rc = sp_fail(err, "ConfigError", "credential_process is empty");
    }
    if (rc < 0) {
        creds_provider_process_argv_free(argv);
        return -1;
    }
    *argv_out = argv;
    *argc_out = argc;
    return 0;
}

/* ---------------------------------------------------------------- running */

struct process {
    struct creds_provider base;
    char *command;
    char *profile;
    char program[128]; /* the first word, for messages */
    pid_t pid;         /* 0 when no child */
    int fd;            /* read end of its stdout, -1 when closed */
    struct event *read_ev;
    struct event *timer; /* deadline, then reaping polls */
    struct timeval started;
    struct secret_buf out;
    int eof;
};

static void process_stop(struct process *pr) {
    if (pr->read_ev != NULL) {
        event_free(pr->read_ev);
        pr->read_ev = NULL;
    }
    if (pr->fd >= 0) {
        close(pr->fd);
        pr->fd = -1;
    }
    if (pr->timer != NULL) {
        evtimer_del(pr->timer);
    }
    if (pr->pid > 0) {
        /* Still running (cancelled, or over time): kill it. It is reaped at
         * once if it is already gone; one that outlives SIGKILL for a moment
         * stays a zombie rather than block the loop on waitpid. */
        kill(pr->pid, SIGKILL);
        (void)waitpid(pr->pid, NULL, WNOHANG);
        pr->pid = 0;
    }
    secret_buf_clear(&pr->out);
    pr->eof = 0;
}

static void process_fail(struct process *pr, const char *fmt, ...) SP_PRINTF(2, 3);

static void process_fail(struct process *pr, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    process_stop(pr);
    creds_provider_finish(&pr->base, NULL, "credential_process of profile %s (%s): %s", pr->profile,
                          pr->program, what);
}

/* The child has exited with status (or -1: unknown, SIGCHLD ignored). */
static void process_done(struct process *pr, int status) {
    pr->pid = 0;
    if (status != -1 && WIFSIGNALED(status)) {
        process_fail(pr, "killed by signal %d", WTERMSIG(status));
        return;
    }
    if (status != -1 && WEXITSTATUS(status) != 0) {
        process_fail(pr, "exited with status %d", WEXITSTATUS(status));
        return;
    }
    struct creds_doc d;
    struct sp_err err;
    sp_err_clear(&err);
    struct creds *c = NULL;
    if (pr->out.oom) {
        sp_fail(&err, "InternalError", "out of memory");
    } else if (creds_json_parse(pr->out.p != NULL ? pr->out.p : "", pr->out.len, &d, &err) == 0) {
        if (d.version != 1) {
            sp_fail(&err, "CredentialsUnavailable", "the output's Version is not 1");
        } else {
            c = creds_from_doc(&d, "process", 0, 0, &err);
        }
        creds_doc_clear(&d);
    }
    if (c == NULL) {
        process_fail(pr, "%s", err.msg);
        return;
    }
    process_stop(pr);
    creds_provider_finish(&pr->base, c, "%s", "");
}

static int elapsed_s(const struct process *pr) {
    struct timeval now;
    evutil_gettimeofday(&now, NULL);
    return (int)(now.tv_sec - pr->started.tv_sec);
}

/* After EOF: has it exited yet? */
static void try_reap(struct process *pr) {
    int status;
    pid_t r = waitpid(pr->pid, &status, WNOHANG);
    if (r == pr->pid) {
        process_done(pr, status);
    } else if (r < 0) {
        process_done(pr, -1); /* ECHILD: someone else reaps children */
    } else if (elapsed_s(pr) >= CREDS_PROVIDER_PROCESS_TIMEOUT_S) {
        process_fail(pr, "did not exit within %d s", CREDS_PROVIDER_PROCESS_TIMEOUT_S);
    } else {
        struct timeval tv = {0, REAP_POLL_MS * 1000};
        evtimer_add(pr->timer, &tv);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct process *pr = arg;
    if (pr->eof) {
        try_reap(pr);
    } else {
        process_fail(pr, "no answer within %d s", CREDS_PROVIDER_PROCESS_TIMEOUT_S);
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct process *pr = arg;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            OPENSSL_cleanse(chunk, sizeof(chunk));
            event_free(pr->read_ev);
            pr->read_ev = NULL;
            close(pr->fd);
            pr->fd = -1;
            pr->eof = 1;
            evtimer_del(pr->timer);
            try_reap(pr);
            return;
        }
        if (pr->out.len + (size_t)n > CREDS_PROVIDER_PROCESS_MAX_OUTPUT) {
            OPENSSL_cleanse(chunk, sizeof(chunk));
            process_fail(pr, "printed more than %u bytes", CREDS_PROVIDER_PROCESS_MAX_OUTPUT);
            return;
        }
        secret_buf_append(&pr->out, chunk, (size_t)n);
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
}

/* Starts the child with stdout on fds[1]; 0 or an errno. */
static int spawn(struct process *pr, char **argv, int out_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        return rc;
    }
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    if (rc == 0) {
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    if (rc == 0) {
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Nothing of the proxy's (listeners, client sockets) leaks into it,
     * even a descriptor someone forgot to mark close-on-exec. */
    if (rc == 0) {
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    }
#endif
    if (rc == 0) {
        rc = posix_spawnattr_setsigmask(&attr, &none);
    }
    if (rc == 0) {
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    }
    if (rc == 0) {
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    if (rc == 0) {
        rc = posix_spawnp(&pr->pid, argv[0], &fa, &attr, argv, environ);
        if (rc != 0) {
            pr->pid = 0;
        }
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static void process_fetch(struct creds_provider *p) {
    struct process *pr = (struct process *)p;
    process_stop(pr);
    char **argv;
    int argc;
    struct sp_err err;
    sp_err_clear(&err);
    if (creds_provider_process_split(pr->command, &argv, &argc, &err) < 0) {
        process_fail(pr, "%s", err.msg);
        return;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        creds_provider_process_argv_free(argv);
        process_fail(pr, "pipe: %s", strerror(errno));
        return;
    }
    int rc = spawn(pr, argv, fds[1]);
    creds_provider_process_argv_free(argv);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        process_fail(pr, "cannot run it: %s", strerror(rc));
        return;
    }
    pr->fd = fds[0];
    evutil_make_socket_nonblocking(pr->fd);
    evutil_gettimeofday(&pr->started, NULL);
    pr->read_ev = event_new(p->ctx.base, pr->fd, EV_READ | EV_PERSIST, on_readable, pr);
    struct timeval tv = {CREDS_PROVIDER_PROCESS_TIMEOUT_S, 0};
    if (pr->read_ev == NULL || event_add(pr->read_ev, NULL) < 0 ||
        evtimer_add(pr->timer, &tv) < 0) {
        process_fail(pr, "out of memory");
        return;
    }
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)pr->pid);
    log_event(LOG_DEBUG, "credentials: running credential_process", "profile", pr->profile,
              "program", pr->program, "pid", pid, NULL);
}

static void process_cancel(struct creds_provider *p) { process_stop((struct process *)p); }

static void process_destroy(struct creds_provider *p) {
    struct process *pr = (struct process *)p;
    process_stop(pr);
    if (pr->timer != NULL) {
        event_free(pr->timer);
    }
    secret_wipe_str(pr->command);
    free(pr->profile);
}

static void process_describe(const struct creds_provider *p, char *out, size_t cap) {
    const struct process *pr = (const struct process *)p;
    snprintf(out, cap, "credential_process of profile %s (%s)", pr->profile, pr->program);
}

static const struct creds_provider_ops process_ops = {.name = "process",
                                                      .fetch = process_fetch,
                                                      .cancel = process_cancel,
                                                      .destroy = process_destroy,
                                                      .describe = process_describe};

struct creds_provider *creds_provider_process_new(const struct creds_provider_ctx *ctx,
                                                  const char *command, const char *profile,
                                                  struct sp_err *err) {
    struct process *pr = calloc(1, sizeof(*pr));
    if (pr == NULL || creds_provider_init(&pr->base, &process_ops, ctx) < 0) {
        free(pr);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    pr->fd = -1;
    pr->command = strdup(command);
    pr->profile = strdup(profile);
    pr->timer = evtimer_new(ctx->base, on_timer, pr);
    if (pr->command == NULL || pr->profile == NULL || pr->timer == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        creds_provider_free(&pr->base);
        return NULL;
    }
    /* Split once now, so a broken command line is a configuration error at
     * load time rather than a failure at every fetch. */
    char **argv;
    int argc;
    if (creds_provider_process_split(command, &argv, &argc, err) < 0) {
        creds_provider_free(&pr->base);
        return NULL;
    }
    const char *prog = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
    snprintf(pr->program, sizeof(pr->program), "%s", prog);
    creds_provider_process_argv_free(argv);
    return &pr->base;
}
