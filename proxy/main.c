/* main.c - command line, signals, the event loop.
 *
 *   ses-proxy [--config FILE] [--listen HOST:PORT]... [--check-config]
 *             [--version] [--help]
 *
 * SIGHUP reloads the config file (a bad file keeps the old config and says
 * why); SIGTERM and SIGINT stop accepting, let in-flight and queued calls
 * finish up to drain_timeout_ms, answer the rest with 503, and exit 0. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "proxy/config.h"
#include "proxy/creds/creds_env.h"
#include "proxy/daemon.h"
#include "proxy/http/server.h"
#include "proxy/hygiene.h"
#include "proxy/log.h"
#include "proxy/outbox/outbox.h"
#include "proxy/policy.h"
#include "proxy/proxy.h"

struct main_state {
    struct proxy *px;
    const char *config_path;
    char *listen[CONFIG_MAX_LISTEN];
    size_t n_listen;
    struct event *drain_tick;
    int drain_ms_left;
};

static void usage(FILE *f) {
    fputs("usage: ses-proxy [--config FILE] [--listen HOST:PORT|unix:PATH]... [--check-config]\n"
          "                 [--version] [--help]\n"
          "\n"
          "A request-signing sidecar for Amazon SES: plain JSON calls in, SigV4-signed\n"
          "SES Query API calls out. See README.md.\n"
          "\n"
          "  --config FILE    JSON configuration (conf/ses-proxy.json shows every key)\n"
          "  --listen ADDR    listen here instead of the file's \"listen\" (repeatable)\n"
          "  --check-config   validate the configuration and exit (0 = valid)\n"
          "  --version        print the version and exit\n"
          "  --help           this text\n",
          f);
}

static struct config *load(struct main_state *m, struct sp_err *err) {
    struct config *cfg = config_load(m->config_path, err);
    if (cfg != NULL && m->n_listen > 0 && config_set_listen(cfg, m->listen, m->n_listen, err) < 0) {
        config_unref(cfg);
        return NULL;
    }
    if (cfg != NULL && policy_check_v2_rules(cfg, &model_sesv2, err) < 0) {
        config_unref(cfg);
        return NULL;
    }
    return cfg;
}

/* Before anything is served, read or spawned: the credential variables
 * leave the environment (a credential_process child must not inherit them,
 * nor /proc/PID/environ show them), the process becomes non-dumpable, and
 * the descriptor limit is raised (hygiene.h). Only running out of memory
 * stops the start; the rest is logged. */
static int harden(struct sp_err *err) {
    GUARD(creds_env_seal(err));
    struct sp_err e;
    sp_err_clear(&e);
    if (hygiene_set_nondumpable(&e) < 0) {
        log_event(LOG_WARN, "cannot make the process non-dumpable", "error", e.msg, NULL);
    }
    struct hygiene_nofile nf;
    if (hygiene_raise_nofile(&nf, &e) < 0) {
        log_event(LOG_WARN, "cannot raise RLIMIT_NOFILE", "error", e.msg, NULL);
    } else if (nf.after != nf.before) {
        char before[24], after[24];
        snprintf(before, sizeof(before), "%llu", nf.before);
        snprintf(after, sizeof(after), "%llu", nf.after);
        log_event(LOG_INFO, "RLIMIT_NOFILE raised to the hard limit", "before", before, "after",
                  after, NULL);
    }
    return 0;
}

static void on_sighup(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    struct main_state *m = arg;
    struct sp_err err;
    sp_err_clear(&err);
    struct config *cfg = load(m, &err);
    if (cfg == NULL) {
        m->px->metrics.config_reloads_failed++;
        log_event(LOG_ERROR, "reload failed; keeping the running configuration", "error", err.msg,
                  NULL);
        return;
    }
    char restart[320];
    if (daemon_reload(m->px, cfg, restart, sizeof(restart), &err) < 0) {
        m->px->metrics.config_reloads_failed++;
        log_event(LOG_ERROR, "reload failed; keeping the running configuration", "error", err.msg,
                  NULL);
        return;
    }
    m->px->metrics.config_reloads_ok++;
    /* "restart" only when something needs one: a NULL key ends the list. */
    log_event(LOG_INFO, "configuration reloaded", "file",
              m->config_path != NULL ? m->config_path : "(defaults)",
              restart[0] != '\0' ? "restart" : NULL, restart, NULL);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct main_state *m = arg;
    struct proxy *px = m->px;
    /* The outbox's deliveries under way finish too; its queue stays stored. */
    if (server_busy_count(px->server) == 0 && outbox_busy(px->outbox) == 0) {
        event_base_loopexit(px->base, NULL);
        return;
    }
    m->drain_ms_left -= 50;
    if (m->drain_ms_left <= 0) {
        log_event(LOG_WARN, "drain timeout: answering the calls still in progress with 503", NULL);
        server_abort_busy(px->server);
        /* Let the 503s be written, then stop. */
        struct timeval tv = {0, 200000};
        event_base_loopexit(px->base, &tv);
        return;
    }
    struct timeval tv = {0, 50000};
    evtimer_add(m->drain_tick, &tv);
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    struct main_state *m = arg;
    struct proxy *px = m->px;
    if (px->draining) {
        return;
    }
    log_event(LOG_INFO, "draining", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    px->draining = 1;
    server_stop_listening(px->server);
    m->drain_ms_left = px->cfg->drain_timeout_ms;
    m->drain_tick = evtimer_new(px->base, on_drain_tick, m);
    if (m->drain_tick == NULL) {
        event_base_loopexit(px->base, NULL);
        return;
    }
    on_drain_tick(-1, 0, m);
}

int main(int argc, char **argv) {
    struct main_state m;
    memset(&m, 0, sizeof(m));
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            m.config_path = argv[++i];
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            if (m.n_listen == CONFIG_MAX_LISTEN) {
                fprintf(stderr, "ses-proxy: too many --listen\n");
                return 2;
            }
            m.listen[m.n_listen++] = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("ses-proxy %s\n", SP_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ses-proxy: unknown or incomplete argument: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct sp_err err;
    sp_err_clear(&err);
    struct config *cfg = load(&m, &err);
    if (cfg == NULL) {
        fprintf(stderr, "ses-proxy: %s\n", err.msg);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration is valid\n", m.config_path ? m.config_path : "(defaults)");
        config_unref(cfg);
        return 0;
    }
    log_set_level((enum log_level)cfg->log.level);
    if (harden(&err) < 0) {
        fprintf(stderr, "ses-proxy: %s\n", err.msg);
        config_unref(cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* The changelist folds a disable and re-enable of the same event within
     * one loop turn into nothing, saving epoll_ctl calls per request. */
    struct event_config *ecfg = event_config_new();
    if (ecfg != NULL) {
        /* A precise clock for timers: the throttle aims them at the exact
         * refill moment, and the coarse clock made them fire a few ms off. */
        event_config_set_flag(ecfg,
                              EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST | EVENT_BASE_FLAG_PRECISE_TIMER);
    }
    struct event_base *base = ecfg != NULL ? event_base_new_with_config(ecfg) : event_base_new();
    if (ecfg != NULL) {
        event_config_free(ecfg);
    }
    if (base == NULL) {
        fprintf(stderr, "ses-proxy: cannot create the event loop\n");
        config_unref(cfg);
        return 1;
    }
    m.px = daemon_new(base, cfg, &err);
    if (m.px == NULL) {
        fprintf(stderr, "ses-proxy: %s\n", err.msg);
        log_event(LOG_ERROR, "cannot start", "error", err.msg, NULL);
        config_unref(cfg);
        event_base_free(base);
        return 1;
    }
    struct event *hup = evsignal_new(base, SIGHUP, on_sighup, &m);
    struct event *term = evsignal_new(base, SIGTERM, on_sigterm, &m);
    struct event *intr = evsignal_new(base, SIGINT, on_sigterm, &m);
    if (hup == NULL || term == NULL || intr == NULL || evsignal_add(hup, NULL) < 0 ||
        evsignal_add(term, NULL) < 0 || evsignal_add(intr, NULL) < 0) {
        fprintf(stderr, "ses-proxy: cannot install signal handlers\n");
        return 1;
    }
    event_base_dispatch(base);
    log_event(LOG_INFO, "stopped", NULL);
    event_free(hup);
    event_free(term);
    event_free(intr);
    if (m.drain_tick != NULL) {
        event_free(m.drain_tick);
    }
    daemon_free(m.px);
    event_base_free(base);
    creds_env_clear();
    return 0;
}
