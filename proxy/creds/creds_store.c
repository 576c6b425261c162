/* creds_store.c - the provider chain and the store that keeps a set fresh
 * (see creds_store.h).
 *
 * The store runs one provider (chosen by creds_store_load) and one timer.
 * A fetch ends in on_fetched(), from the loop: a set is installed and the
 * timer aimed at its refresh; a failure keeps the current set and aims the
 * timer at a retry. Waiters are woken through a deferred event, so a waiter
 * is never called from inside creds_store_wait() or from inside a
 * provider. */
#include "proxy/creds/creds_store.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/iso8601.h"
#include "proxy/config.h"
#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_provider.h"
#include "proxy/creds/creds_provider_container.h"
#include "proxy/creds/creds_provider_imds.h"
#include "proxy/creds/creds_provider_profile.h"
#include "proxy/creds/creds_provider_static.h"
#include "proxy/creds/creds_provider_web_identity.h"
#include "proxy/log.h"

TAILQ_HEAD(waiter_list, creds_waiter);

struct creds_store {
    struct event_base *base;
    struct evdns_base *dns;
    int own_dns;
    time_t (*wall_clock)(void);
    double (*random)(void);
    struct creds_provider *prov; /* NULL before the first successful load */
    char prov_desc[512];
    struct creds *current;
    int fetching;
    int failures;      /* consecutive failed fetches */
    time_t refresh_at; /* wall time the planned refresh is due; 0 = none */
    int window_hits;   /* consecutive fetches that left the set inside the window */
    struct event *timer;
    struct event *notify;
    struct waiter_list waiters;
    /* Why no set is usable, as clients may read it (a 503's Message,
     * /readyz's reason): the state and the provider's name, never a
     * provider's own reason, which can name the credential endpoint, STS,
     * a file or a role. Those reasons go to the log only. */
    char why[512];
    int last_failed; /* the last fetch failed (its reason was logged) */
};

/* ------------------------------------------------------------- policy */

double creds_refresh_delay(time_t expiration, time_t now, double u) {
    double outside = (double)expiration - (double)now - CREDS_REFRESH_ADVISORY_S;
    if (outside <= 0) {
        return 0;
    }
    double span =
        outside / 4 < CREDS_REFRESH_MAX_JITTER_S ? outside / 4 : CREDS_REFRESH_MAX_JITTER_S;
    if (u < 0 || u >= 1) {
        u = 0;
    }
    return outside - u * span;
}

double creds_retry_delay(int failures, time_t expiration, time_t now, double u) {
    if (failures < 1) {
        failures = 1;
    }
    double base = failures > 7 ? CREDS_RETRY_MAX_S : pow(2.0, failures - 1);
    if (base > CREDS_RETRY_MAX_S) {
        base = CREDS_RETRY_MAX_S;
    }
    if (u < 0 || u >= 1) {
        u = 0;
    }
    double d = base * (0.5 + u / 2);
    if (expiration != 0 && expiration > now) {
        double half = ((double)expiration - (double)now) / 2;
        if (half < 1) {
            half = 1;
        }
        if (d > half) {
            d = half;
        }
    }
    return d;
}

/* -------------------------------------------------------------- store */

static time_t default_clock(void) { return time(NULL); }

static double default_random(void) { return (double)arc4random() / 4294967296.0; }

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_notify(evutil_socket_t fd, short what, void *arg);

struct creds_store *creds_store_new_opts(struct event_base *base,
                                         const struct creds_store_opts *opts) {
    struct creds_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->base = base;
    s->dns = opts != NULL ? opts->dns : NULL;
    s->wall_clock = opts != NULL && opts->wall_clock != NULL ? opts->wall_clock : default_clock;
    s->random = opts != NULL && opts->random != NULL ? opts->random : default_random;
    TAILQ_INIT(&s->waiters);
    snprintf(s->why, sizeof(s->why), "credentials not loaded yet");
    if (base != NULL) {
        s->timer = evtimer_new(base, on_timer, s);
        s->notify = event_new(base, -1, 0, on_notify, s);
        if (s->timer == NULL || s->notify == NULL) {
            creds_store_free(s);
            return NULL;
        }
    }
    return s;
}

struct creds_store *creds_store_new(struct event_base *base) {
    return creds_store_new_opts(base, NULL);
}

void creds_store_free(struct creds_store *s) {
    if (s == NULL) {
        return;
    }
    creds_provider_free(s->prov); /* cancels its fetch: no callback */
    struct creds_waiter *w;
    while ((w = TAILQ_FIRST(&s->waiters)) != NULL) {
        TAILQ_REMOVE(&s->waiters, w, link);
        w->queued = 0;
    }
    if (s->timer != NULL) {
        event_free(s->timer);
    }
    if (s->notify != NULL) {
        event_free(s->notify);
    }
    creds_unref(s->current);
    if (s->own_dns && s->dns != NULL) {
        evdns_base_free(s->dns, 0);
    }
    free(s);
}

static int usable(const struct creds_store *s, time_t now) {
    return s->current != NULL && (s->current->expiration == 0 || s->current->expiration > now);
}

int creds_store_pending(const struct creds_store *s) {
    return s->fetching && !usable(s, s->wall_clock());
}

/* Wakes the waiters at the next loop turn, unless a fetch they would wait
 * for is still in flight. */
static void wake_waiters(struct creds_store *s) {
    if (s->notify != NULL && !TAILQ_EMPTY(&s->waiters) && !creds_store_pending(s)) {
        event_active(s->notify, 0, 0);
    }
}

static void on_notify(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct creds_store *s = arg;
    if (creds_store_pending(s)) {
        return; /* woken again when the fetch ends */
    }
    /* Only those queued now: one that queues itself again from its
     * callback waits for the next wake-up instead of looping here. */
    size_t n = 0;
    struct creds_waiter *w;
    TAILQ_FOREACH(w, &s->waiters, link) { n++; }
    while (n-- > 0 && (w = TAILQ_FIRST(&s->waiters)) != NULL) {
        TAILQ_REMOVE(&s->waiters, w, link);
        w->queued = 0;
        w->cb(w->arg);
    }
}

void creds_store_wait(struct creds_store *s, struct creds_waiter *w) {
    if (w->queued) {
        return;
    }
    TAILQ_INSERT_TAIL(&s->waiters, w, link);
    w->queued = 1;
    wake_waiters(s);
}

void creds_store_cancel_wait(struct creds_store *s, struct creds_waiter *w) {
    if (w->queued) {
        TAILQ_REMOVE(&s->waiters, w, link);
        w->queued = 0;
    }
}

time_t creds_store_expiration(const struct creds_store *s) {
    return s->current != NULL ? s->current->expiration : 0;
}

const char *creds_store_provider(const struct creds_store *s) {
    return s->current != NULL ? s->current->provider : NULL;
}

/* An expiry for the log and messages: ISO 8601 in seconds, or "never". */
static void format_time(time_t t, char out[ISO8601_FORMAT_MAX]) {
    struct iso8601_time it = {t, 0};
    if (t == 0 || iso8601_format(it, 0, out, ISO8601_FORMAT_MAX) < 0) {
        snprintf(out, ISO8601_FORMAT_MAX, "never");
    }
}

void creds_store_set(struct creds_store *s, struct creds *c) {
    creds_unref(s->current); /* the last reference wipes it */
    s->current = c;
    char desc[32];
    creds_describe(c, desc, sizeof(desc));
    char exp[ISO8601_FORMAT_MAX];
    format_time(c->expiration, exp);
    log_event(LOG_INFO, "credentials loaded", "provider", c->provider, "access_key_id", desc,
              "expires", exp, "session_token", c->session_token != NULL ? "yes" : "no", "source",
              s->prov != NULL ? s->prov_desc : NULL, NULL);
    wake_waiters(s);
}

static void start_fetch(struct creds_store *s);

struct creds *creds_store_current(struct creds_store *s, time_t now, const char **why) {
    /* A refresh timer runs on the monotonic clock, which stands still while
     * the machine is suspended, and the wall clock may be stepped: when the
     * planned refresh is overdue, start it now rather than let the set
     * expire first. (A retry keeps its backoff.) */
    if (!s->fetching && s->failures == 0 && s->refresh_at != 0 && now > s->refresh_at + 5) {
        start_fetch(s);
    }
    if (s->current == NULL) {
        *why = s->why;
        return NULL;
    }
    if (s->current->expiration != 0 && s->current->expiration <= now) {
        char exp[ISO8601_FORMAT_MAX];
        format_time(s->current->expiration, exp);
        snprintf(s->why, sizeof(s->why), "credentials from %s expired at %s%s",
                 s->current->provider, exp,
                 s->fetching      ? "; fetching new ones"
                 : s->last_failed ? "; the last fetch failed (the proxy's log says why)"
                                  : "");
        *why = s->why;
        return NULL;
    }
    return s->current;
}

static void arm(struct creds_store *s, double seconds) {
    if (s->timer == NULL) {
        return;
    }
    if (seconds < 0) {
        seconds = 0;
    }
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - floor(seconds)) * 1e6)};
    evtimer_add(s->timer, &tv);
}

static void on_fetched(struct creds_provider *p, struct creds *c, const char *why, void *arg);

static void start_fetch(struct creds_store *s) {
    if (s->prov == NULL || s->fetching) {
        return;
    }
    s->fetching = 1;
    s->refresh_at = 0;
    if (!usable(s, s->wall_clock())) {
        snprintf(s->why, sizeof(s->why), "waiting for credentials from %s", s->prov->ops->name);
    }
    creds_provider_fetch(s->prov, on_fetched, s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    start_fetch(arg);
}

/* After a good set: when to fetch the next one. */
static void schedule_refresh(struct creds_store *s, time_t now) {
    time_t exp = s->current->expiration;
    if (exp == 0) {
        evtimer_del(s->timer);
        return;
    }
    double d = creds_refresh_delay(exp, now, s->random());
    if (d > 0) {
        s->window_hits = 0;
    } else if (++s->window_hits > 1) {
        /* The provider keeps handing out sets that are already inside the
         * window (instance metadata does until it rotates them): poll, but
         * with backoff, never in a loop. */
        d = creds_retry_delay(s->window_hits - 1, exp, now, s->random());
    }
    s->refresh_at = now + (time_t)d;
    char in[32];
    snprintf(in, sizeof(in), "%.1f", d);
    log_event(LOG_DEBUG, "credentials: next refresh scheduled", "provider", s->current->provider,
              "in_seconds", in, NULL);
    arm(s, d);
}

static void on_failed(struct creds_store *s, const char *why, time_t now) {
    s->failures++;
    s->last_failed = 1;
    int have = usable(s, now);
    double d = creds_retry_delay(s->failures, have ? s->current->expiration : 0, now, s->random());
    char in[32], exp[ISO8601_FORMAT_MAX];
    snprintf(in, sizeof(in), "%.1f", d);
    format_time(have ? s->current->expiration : 0, exp);
    if (have) {
        log_event(LOG_WARN,
                  "credentials refresh failed; keeping the current ones until they expire",
                  "provider", s->prov->ops->name, "reason", why, "expires", exp, "retry_in_seconds",
                  in, NULL);
    } else {
        snprintf(s->why, sizeof(s->why),
                 "no usable credentials: the %s provider failed (the proxy's log says why)",
                 s->prov->ops->name);
        log_event(LOG_WARN, "credentials fetch failed", "provider", s->prov->ops->name, "reason",
                  why, "retry_in_seconds", in, NULL);
    }
    arm(s, d);
}

static void on_fetched(struct creds_provider *p, struct creds *c, const char *why, void *arg) {
    (void)p;
    struct creds_store *s = arg;
    s->fetching = 0;
    time_t now = s->wall_clock();
    if (c != NULL && c->expiration != 0 && c->expiration <= now) {
        char exp[ISO8601_FORMAT_MAX];
        format_time(c->expiration, exp);
        char msg[128];
        snprintf(msg, sizeof(msg), "the credentials handed out expired already (at %s)", exp);
        creds_unref(c);
        on_failed(s, msg, now);
    } else if (c == NULL) {
        on_failed(s, why, now);
    } else {
        s->failures = 0;
        s->last_failed = 0;
        creds_store_set(s, c);
        schedule_refresh(s, now);
    }
    wake_waiters(s);
}

/* ---------------------------------------------------------------- chain */

/* Appends "; part" to the list of what was tried. */
static void tried_add(char *tried, size_t cap, const char *part) {
    size_t n = strlen(tried);
    snprintf(tried + n, cap - n, "%s%.300s", n ? "; " : "", part);
}

static struct creds_provider *fixed(const struct creds_provider_ctx *ctx, struct creds *c,
                                    const char *desc, struct sp_err *err) {
    struct creds_provider *p = creds_provider_static_new(ctx, c, desc);
    if (p == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return p;
}

/* Chooses the provider. Returns it, or NULL with err (what was tried). */
static struct creds_provider *choose(const struct creds_provider_ctx *ctx, const struct config *cfg,
                                     struct sp_err *err) {
    const char *src = cfg->credentials.source;
    int chain = strcmp(src, "chain") == 0;
    char tried[800] = "";
    struct sp_err e;
    sp_err_clear(&e);

    if (chain || strcmp(src, "static") == 0) {
        if (chain && cfg->credentials.access_key_id == NULL) {
            tried_add(tried, sizeof(tried), "static: not configured");
        } else {
            struct creds *c = creds_provider_static_read_files(
                cfg->credentials.access_key_id, cfg->credentials.secret_access_key_file,
                cfg->credentials.session_token_file, &e);
            if (c != NULL) {
                return fixed(ctx, c, "config file credentials.access_key_id", err);
            }
            tried_add(tried, sizeof(tried), e.msg);
            if (chain) {
                log_event(LOG_WARN,
                          "credentials: static keys configured but unusable; trying "
                          "the rest of the chain",
                          "reason", e.msg, NULL);
            }
        }
    }
    if (chain || strcmp(src, "env") == 0) {
        sp_err_clear(&e);
        struct creds *c = creds_provider_static_read_env(&e);
        if (c != NULL) {
            return fixed(ctx, c, "environment AWS_ACCESS_KEY_ID", err);
        }
        tried_add(tried, sizeof(tried), e.msg);
    }
    if (chain || strcmp(src, "web_identity") == 0) {
        const char *file = creds_env("AWS_WEB_IDENTITY_TOKEN_FILE");
        const char *role = creds_env("AWS_ROLE_ARN");
        if (file != NULL && role != NULL) {
            return creds_provider_web_identity_new(ctx, role, file,
                                                   creds_env("AWS_ROLE_SESSION_NAME"), err);
        }
        tried_add(tried, sizeof(tried),
                  "web_identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set");
    }
    if (chain || strcmp(src, "profile") == 0) {
        struct creds_provider *p = NULL;
        char name[128];
        int rc = creds_provider_profile_resolve(ctx, cfg->credentials.profile, &p, name,
                                                sizeof(name), err);
        if (rc < 0) {
            return NULL;
        }
        if (rc == 1) {
            return p;
        }
        char msg[200];
        snprintf(msg, sizeof(msg), "profile: no credentials for profile %.100s in the shared files",
                 name);
        tried_add(tried, sizeof(tried), msg);
    }
    if (chain || strcmp(src, "container") == 0) {
        if (creds_provider_container_configured()) {
            return creds_provider_container_new(ctx, err);
        }
        tried_add(tried, sizeof(tried),
                  "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI not set");
    }
    if (chain || strcmp(src, "imds") == 0) {
        if (!creds_provider_imds_disabled()) {
            return creds_provider_imds_new(ctx, err);
        }
        tried_add(tried, sizeof(tried), "imds: disabled by AWS_EC2_METADATA_DISABLED");
    }
    sp_fail(err, "CredentialsUnavailable", "no usable credentials (%s)", tried);
    return NULL;
}

static struct evdns_base *store_dns(struct creds_store *s) {
    if (s->dns == NULL && s->base != NULL) {
        s->dns = evdns_base_new(s->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (s->dns == NULL) {
            s->dns = evdns_base_new(s->base, 0); /* no resolv.conf: numeric hosts only */
        }
        s->own_dns = s->dns != NULL;
    }
    return s->dns;
}

int creds_store_load(struct creds_store *s, const struct config *cfg, struct sp_err *err) {
    struct creds_provider_ctx ctx = {s->base, store_dns(s), "", s->wall_clock};
    snprintf(ctx.region, sizeof(ctx.region), "%s", cfg->region != NULL ? cfg->region : "");
    struct sp_err e;
    sp_err_clear(&e);
    struct creds_provider *p = choose(&ctx, cfg, &e);
    if (p == NULL) {
        if (e.code == NULL) {
            sp_fail(&e, "InternalError", "out of memory");
        }
        if (s->current == NULL && !s->fetching) {
            snprintf(s->why, sizeof(s->why),
                     "no usable credentials: no credential source could be used (the proxy's log "
                     "lists what was tried)");
        }
        return sp_fail(err, e.code, "%s", e.msg);
    }
    char desc[512];
    creds_provider_describe(p, desc, sizeof(desc));
    struct creds *c = NULL;
    if (creds_provider_is_sync(p)) {
        c = p->ops->get(p, &e);
        if (c == NULL) {
            creds_provider_free(p);
            return sp_fail(err, e.code != NULL ? e.code : "InternalError", "%s", e.msg);
        }
    } else if (s->base == NULL) {
        const char *name = p->ops->name;
        creds_provider_free(p);
        return sp_fail(err, "InternalError", "provider %s needs an event loop", name);
    }
    /* The old provider goes (its fetch with it); its set stays until the new
     * one delivers. */
    creds_provider_free(s->prov);
    s->prov = p;
    s->fetching = 0;
    s->failures = 0;
    s->window_hits = 0;
    s->refresh_at = 0;
    s->last_failed = 0;
    snprintf(s->prov_desc, sizeof(s->prov_desc), "%s", desc);
    if (s->timer != NULL) {
        evtimer_del(s->timer);
    }
    log_event(LOG_INFO, "credentials provider chosen", "provider",
              c != NULL ? c->provider : p->ops->name, "source", cfg->credentials.source, "config",
              desc, NULL);
    if (c != NULL) {
        creds_store_set(s, c);
    } else {
        start_fetch(s);
    }
    return 0;
}
