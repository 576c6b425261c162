/* creds_store_test - the credential store: the refresh and retry policy,
 * the held set (set, replace, expire), and the store driven by a container
 * endpoint served from this process (libevent's evhttp): waiters, pending,
 * a refresh before expiry, failures.
 *
 * The store's wall clock is injected, so a set that expires in an hour can
 * be made to need a refresh in a second. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/config.h"
#include "proxy/creds/creds_store.h"

#include "tests/unit/unit_check.h"

static int str_eq(const char *a, const char *b) { return a != NULL && strcmp(a, b) == 0; }

/* ---------------------------------------------------------------- policy */

static void test_policy(void) {
    time_t now = 1000000;
    /* an hour left: the window opens in 45 min; jitter up to 2 min earlier */
    CHECK(creds_refresh_delay(now + 3600, now, 0) == 2700);
    CHECK(creds_refresh_delay(now + 3600, now, 0.999) > 2580);
    CHECK(creds_refresh_delay(now + 3600, now, 0.999) <= 2700);
    /* jitter only ever makes it earlier, and at most a quarter of the wait */
    for (double u = 0; u < 1; u += 0.125) {
        double d = creds_refresh_delay(now + 900 + 8, now, u);
        CHECK(d <= 8 && d >= 6);
    }
    /* inside the window (or expired): now */
    CHECK(creds_refresh_delay(now + 900, now, 0.5) == 0);
    CHECK(creds_refresh_delay(now + 60, now, 0.5) == 0);
    CHECK(creds_refresh_delay(now - 60, now, 0.5) == 0);
    /* retries: 1, 2, 4 ... 60 s, scaled by 0.5..1 */
    CHECK(creds_retry_delay(1, 0, now, 0) == 0.5);
    CHECK(creds_retry_delay(1, 0, now, 0.999) < 1.0);
    CHECK(creds_retry_delay(3, 0, now, 0) == 2);
    CHECK(creds_retry_delay(7, 0, now, 0) == 30);
    CHECK(creds_retry_delay(100, 0, now, 0.999) <= 60);
    CHECK(creds_retry_delay(100, 0, now, 0) == 30);
    /* ... but before a set that is still valid expires */
    CHECK(creds_retry_delay(100, now + 20, now, 0.999) == 10);
    CHECK(creds_retry_delay(100, now + 1, now, 0.999) == 1);
    CHECK(creds_retry_delay(100, now - 5, now, 0) == 30); /* expired: no cap */
}

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

static time_t fixed_now;
static time_t fake_clock(void) { return fixed_now; }
static double zero_random(void) { return 0; }

/* ------------------------------------------------------------- the set */

/* The held set without a provider or a loop: set, replace, expire. */
static void test_store_set(void) {
    struct creds_store *s = creds_store_new(NULL);
    const char *why = NULL;
    CHECK(creds_store_current(s, time(NULL), &why) == NULL &&
          str_eq(why, "credentials not loaded yet"));
    /* Set takes the caller's reference; a held set outlives its replacement. */
    time_t now = 1700000000;
    struct creds *a = creds_new("AKIDAAAA", "secret-a", NULL, now + 3600, "test");
    creds_store_set(s, a);
    CHECK(creds_store_current(s, now, &why) == a);
    struct creds *held = creds_ref(a);
    creds_store_set(s, creds_new("AKIDBBBB", "secret-b", "tok", 0, "test"));
    CHECK(held->refs == 1 && str_eq(held->secret_access_key, "secret-a"));
    creds_unref(held);
    CHECK(str_eq(creds_store_current(s, now, &why)->access_key_id, "AKIDBBBB"));
    /* Expiry against the clock passed in. */
    creds_store_set(s, creds_new("AKIDCCCC", "secret-c", NULL, now + 60, "web_identity"));
    CHECK(creds_store_current(s, now + 59, &why) != NULL);
    why = NULL;
    CHECK(creds_store_current(s, now + 60, &why) == NULL && why != NULL &&
          strstr(why, "expired") != NULL && strstr(why, "web_identity") != NULL);
    creds_store_free(s);
    creds_store_free(NULL);
}

/* ------------------------------------------------- store + container endpoint */

struct endpoint {
    struct evhttp *http;
    int port;
    int status;     /* what to answer */
    time_t expires; /* Expiration of the sets handed out */
    int hits;
    int bad_auth;
    char last_key[32];
};

static void on_creds_request(struct evhttp_request *req, void *arg) {
    struct endpoint *e = arg;
    e->hits++;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    struct evbuffer *b = evbuffer_new();
    if (auth == NULL || strcmp(auth, "container-token") != 0) {
        e->bad_auth++;
        evbuffer_add_printf(b, "{\"code\":\"AccessDenied\",\"message\":\"bad token\"}");
        evhttp_send_reply(req, 403, "Forbidden", b);
    } else if (e->status != 200) {
        evhttp_send_reply(req, e->status, "Error", b);
    } else {
        struct tm tm;
        char exp[32];
        gmtime_r(&e->expires, &tm);
        strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(e->last_key, sizeof(e->last_key), "ASIACONTAINER%d", e->hits);
        evbuffer_add_printf(b,
                            "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"sec%d\","
                            "\"Token\":\"tok%d\",\"Expiration\":\"%s\"}",
                            e->last_key, e->hits, e->hits, exp);
        evhttp_send_reply(req, 200, "OK", b);
    }
    evbuffer_free(b);
}

static struct config *container_config(void) {
    struct sp_err err;
    struct config *cfg = config_load(NULL, &err);
    if (cfg != NULL) {
        free(cfg->credentials.source);
        cfg->credentials.source = strdup("container");
    }
    return cfg;
}

struct waited {
    int calls;
    struct event_base *base;
};

static void on_waited(void *arg) {
    struct waited *w = arg;
    w->calls++;
    event_base_loopbreak(w->base);
}

static void test_store(struct event_base *base) {
    struct endpoint e = {0};
    e.status = 200;
    e.http = evhttp_new(base);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(e.http, "127.0.0.1", 0);
    CHECK(sock != NULL);
    if (sock == NULL) {
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl);
    e.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    evhttp_set_gencb(e.http, on_creds_request, &e);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", e.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token", 1);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

    fixed_now = 1700000000;
    e.expires = fixed_now + 3600;
    struct creds_store_opts opts = {NULL, fake_clock, zero_random};
    struct creds_store *s = creds_store_new_opts(base, &opts);
    struct config *cfg = container_config();
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(creds_store_load(s, cfg, &err) == 0);
    /* the first fetch is in flight: pending, not ready, why says so */
    const char *why = NULL;
    CHECK(creds_store_pending(s));
    CHECK(creds_store_current(s, fixed_now, &why) == NULL && strstr(why, "waiting") != NULL &&
          strstr(why, "127.0.0.1") == NULL);
    CHECK(creds_store_provider(s) == NULL && creds_store_expiration(s) == 0);
    struct waited w = {0, base};
    struct creds_waiter cw = {.cb = on_waited, .arg = &w};
    creds_store_wait(s, &cw);
    creds_store_wait(s, &cw); /* twice is once */
    CHECK(w.calls == 0);
    run_for(base, 5000);
    CHECK(w.calls == 1 && !cw.queued);
    CHECK(!creds_store_pending(s));
    struct creds *c = creds_store_current(s, fixed_now, &why);
    CHECK(c != NULL && str_eq(c->access_key_id, "ASIACONTAINER1") &&
          str_eq(c->session_token, "tok1"));
    CHECK(str_eq(creds_store_provider(s), "container"));
    CHECK(creds_store_expiration(s) == fixed_now + 3600);
    CHECK(e.hits == 1 && e.bad_auth == 0);

    /* nothing pending: a waiter is called at the next loop turn, not inside */
    creds_store_wait(s, &cw);
    CHECK(w.calls == 1);
    run_for(base, 1000);
    CHECK(w.calls == 2);
    /* a cancelled waiter is never called */
    creds_store_wait(s, &cw);
    creds_store_cancel_wait(s, &cw);
    creds_store_cancel_wait(s, &cw);
    run_for(base, 50);
    CHECK(w.calls == 2);

    /* refresh: the clock jumps to 1 s before the window opens; the store
     * re-aims its timer only when a fetch ends, so load again (a reload)
     * to restart with a set that needs a refresh in about a second. */
    e.expires = fixed_now + 901;
    CHECK(creds_store_load(s, cfg, &err) == 0);
    run_for(base, 500);
    CHECK(e.hits == 2);
    e.expires = fixed_now + 3600;
    run_for(base, 2500);
    CHECK(e.hits == 3);
    c = creds_store_current(s, fixed_now, &why);
    CHECK(c != NULL && str_eq(c->access_key_id, "ASIACONTAINER3") &&
          c->expiration == fixed_now + 3600);
    /* a set handed out already inside the window is refreshed at once, then
     * with backoff: no loop */
    e.expires = fixed_now + 600;
    CHECK(creds_store_load(s, cfg, &err) == 0);
    run_for(base, 1200);
    CHECK(e.hits >= 5 && e.hits <= 7);

    /* a failed refresh keeps the current set and retries with backoff */
    e.expires = fixed_now + 901;
    e.status = 200;
    CHECK(creds_store_load(s, cfg, &err) == 0);
    run_for(base, 500);
    int before = e.hits;
    char key[32];
    snprintf(key, sizeof(key), "%s", e.last_key);
    e.status = 500;
    run_for(base, 3000);
    CHECK(e.hits >= before + 3); /* the planned refresh, then retries at 0.5, 1 s ... */
    c = creds_store_current(s, fixed_now, &why);
    CHECK(c != NULL && str_eq(c->access_key_id, key));
    CHECK(!creds_store_pending(s));
    /* ... until it expires */
    fixed_now += 902;
    CHECK(creds_store_current(s, fixed_now, &why) == NULL && strstr(why, "expired") != NULL);
    e.status = 200;
    e.expires = fixed_now + 3600;
    run_for(base, 4000);
    c = creds_store_current(s, fixed_now, &why);
    CHECK(c != NULL && strcmp(c->access_key_id, key) != 0);

    /* the endpoint refuses: the waiter hears of the failure; why says so,
     * naming the provider but not the endpoint (the log has the reason) */
    e.status = 500;
    e.expires = fixed_now + 3600;
    creds_store_free(s);
    s = creds_store_new_opts(base, &opts);
    CHECK(creds_store_load(s, cfg, &err) == 0);
    creds_store_wait(s, &cw);
    run_for(base, 5000);
    CHECK(w.calls == 3);
    CHECK(creds_store_current(s, fixed_now, &why) == NULL &&
          strstr(why, "the container provider failed") != NULL &&
          strstr(why, "127.0.0.1") == NULL && strstr(why, "HTTP") == NULL);
    CHECK(!creds_store_pending(s));

    /* a wrong token: the same, and never the token */
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token-value", 1);
    e.status = 200;
    creds_store_free(s);
    s = creds_store_new_opts(base, &opts);
    CHECK(creds_store_load(s, cfg, &err) == 0);
    creds_store_wait(s, &cw);
    run_for(base, 5000);
    CHECK(creds_store_current(s, fixed_now, &why) == NULL &&
          strstr(why, "the container provider failed") != NULL &&
          strstr(why, "127.0.0.1") == NULL && strstr(why, "wrong-token") == NULL);

    /* a FULL_URI to a host that is not allowed over plain http */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
    CHECK(creds_store_load(s, cfg, &err) == -1 && strstr(err.msg, "192.0.2.1") != NULL);
    creds_store_free(s);
    config_unref(cfg);
    evhttp_free(e.http);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
}

/* Static keys: usable on return, without a loop at all. */
static void test_store_without_loop(void) {
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    struct creds_store *s = creds_store_new(NULL);
    struct sp_err err;
    struct config *cfg = config_load(NULL, &err);
    CHECK(creds_store_load(s, cfg, &err) == 0);
    const char *why;
    struct creds *c = creds_store_current(s, time(NULL), &why);
    CHECK(c != NULL && str_eq(c->provider, "env") && !creds_store_pending(s));
    /* an asynchronous provider needs a loop */
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/x", 1);
    CHECK(creds_store_load(s, cfg, &err) == -1);
    /* the old set is kept */
    CHECK(creds_store_current(s, time(NULL), &why) == c);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    config_unref(cfg);
    creds_store_free(s);
}

int main(void) {
    /* Nothing from the test runner's environment may choose a provider. */
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_ROLE_ARN",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       NULL};
    for (size_t i = 0; vars[i] != NULL; i++) {
        unsetenv(vars[i]);
    }
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    struct event_base *base = event_base_new();
    test_policy();
    test_store_set();
    test_store(base);
    test_store_without_loop();
    event_base_free(base);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
