/* throttle_redis_test - the shared throttle backend without a real Redis.
 *
 * The pure parts first: throttle.redis_url and friends in the config, the
 * local share of a limit, the script's arguments, its answers, the backoff.
 * Then the backend itself against a fake Redis served from this process on
 * the same event loop (a few lines of RESP: SCRIPT LOAD, SELECT, EVALSHA and
 * EVAL answered as each test scripts it), which lets a test hold answers
 * back (Redis slow), answer NOSCRIPT, refuse, drop the connection or stop
 * listening (Redis down), and watch what the backend sends. The script's
 * arithmetic itself runs in a real redis-server in tests/integ/test_redis.py.
 * Timers are real and short (tens of milliseconds). */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/model.h"
#include "proxy/clock.h"
#include "proxy/config.h"
#include "proxy/proxy.h"
#include "proxy/throttle/redis_script.h"
#include "proxy/throttle/throttle.h"
#include "proxy/throttle/throttle_redis.h"

#include "tests/unit/unit_check.h"

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

/* ------------------------------------------------------------- config */

static struct config *load(const char *text, struct sp_err *err) {
    sp_err_clear(err);
    return config_load_text(text, strlen(text), "test.json", err);
}

static void test_config(void) {
    struct sp_err err;
    struct config *cfg = load("{}", &err);
    CHECK(cfg != NULL && cfg->throttle.replicas == 1 && cfg->throttle.redis_timeout_ms == 250 &&
          strcmp(cfg->throttle.redis_key_prefix, "ses-proxy:") == 0 &&
          cfg->throttle.redis_host == NULL && cfg->throttle.redis_unix == NULL);
    CHECK(throttle_redis_share(cfg) == 1);
    config_unref(cfg);

    /* redis without a URL: the usual local default. */
    cfg = load("{\"throttle\": {\"backend\": \"redis\", \"replicas\": 4}}", &err);
    CHECK(cfg != NULL && strcmp(cfg->throttle.redis_host, "127.0.0.1") == 0 &&
          cfg->throttle.redis_port == 6379 && cfg->throttle.redis_db == 0);
    CHECK(cfg != NULL && throttle_redis_share(cfg) == 4);
    config_unref(cfg);
    /* replicas divide only with the redis backend */
    cfg = load("{\"throttle\": {\"replicas\": 4}}", &err);
    CHECK(cfg != NULL && throttle_redis_share(cfg) == 1);
    config_unref(cfg);

    static const struct {
        const char *url;
        const char *host, *unix_path;
        int port, db;
    } good[] = {
        {"redis://10.0.0.7:6380/2", "10.0.0.7", NULL, 6380, 2},
        {"redis://redis.internal", "redis.internal", NULL, 6379, 0},
        {"redis://redis.internal/", "redis.internal", NULL, 6379, 0},
        {"redis://[::1]:7000/15", "::1", NULL, 7000, 15},
        {"unix:/run/redis/redis.sock", NULL, "/run/redis/redis.sock", 6379, 0},
        {"unix:///run/redis.sock", NULL, "/run/redis.sock", 6379, 0},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"throttle\": {\"backend\": \"redis\", \"redis_url\": \"%s\", "
                 "\"redis_timeout_ms\": 100, \"redis_key_prefix\": \"acct-7:\"}}",
                 good[i].url);
        cfg = load(text, &err);
        CHECK(cfg != NULL);
        if (cfg == NULL) {
            fprintf(stderr, "  %s: %s\n", good[i].url, err.msg);
            continue;
        }
        CHECK((good[i].host == NULL && cfg->throttle.redis_host == NULL) ||
              (good[i].host != NULL && cfg->throttle.redis_host != NULL &&
               strcmp(good[i].host, cfg->throttle.redis_host) == 0));
        CHECK((good[i].unix_path == NULL && cfg->throttle.redis_unix == NULL) ||
              (good[i].unix_path != NULL && cfg->throttle.redis_unix != NULL &&
               strcmp(good[i].unix_path, cfg->throttle.redis_unix) == 0));
        CHECK(cfg->throttle.redis_port == good[i].port && cfg->throttle.redis_db == good[i].db);
        CHECK(cfg->throttle.redis_timeout_ms == 100 &&
              strcmp(cfg->throttle.redis_key_prefix, "acct-7:") == 0);
        config_unref(cfg);
    }
    static const char *const bad[] = {
        "http://127.0.0.1:6379",
        "redis://",
        "redis://:secret@127.0.0.1:6379",
        "redis://user:secret@host:1",
        "redis://host:0",
        "redis://host:70000",
        "redis://host:abc",
        "redis://host/db",
        "redis://host/1/2",
        "redis://[::1",
        "unix:relative/path",
        "unix:",
        "rediss://host:6379",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "{\n\"throttle\": {\n\"redis_url\": \"%s\"}}", bad[i]);
        cfg = load(text, &err);
        CHECK(cfg == NULL && strstr(err.msg, "test.json:3: throttle.redis_url") != NULL);
        /* never echoes the URL (it might hold a password) */
        CHECK(cfg == NULL && strstr(err.msg, "secret") == NULL);
        config_unref(cfg);
    }
    cfg = load("{\"throttle\": {\"replicas\": 0}}", &err);
    CHECK(cfg == NULL && strstr(err.msg, "throttle.replicas") != NULL);
    cfg = load("{\"throttle\": {\"redis_timeout_ms\": 0}}", &err);
    CHECK(cfg == NULL && strstr(err.msg, "throttle.redis_timeout_ms") != NULL);
    char text[256];
    snprintf(text, sizeof(text), "{\"throttle\": {\"redis_key_prefix\": \"%065d\"}}", 0);
    cfg = load(text, &err);
    CHECK(cfg == NULL && strstr(err.msg, "throttle.redis_key_prefix") != NULL);
    cfg = load("{\"throttle\": {\"redis_key_prefix\": null}}", &err);
    CHECK(cfg != NULL && strcmp(cfg->throttle.redis_key_prefix, "ses-proxy:") == 0);
    config_unref(cfg);
}

/* ------------------------------------------------------- limits, shares */

static void test_limits(void) {
    struct throttle_bucket b;
    throttle_bucket_init(&b, "GetSendQuota", 1, 1, 0);
    /* 3 replicas: the account's 6/s burst 6 is 2/s burst 2 here. */
    throttle_redis_set_limit(&b, 6, 6, 3, 0);
    CHECK(near(b.shared_rate, 6) && near(b.shared_burst, 6));
    CHECK(near(b.rate, 2) && near(b.configured_rate, 2) && near(b.burst, 2));
    /* A share of the burst is never under one token. */
    throttle_redis_set_limit(&b, 1, 1, 3, 0);
    CHECK(near(b.rate, 1.0 / 3) && near(b.burst, 1) && near(b.shared_burst, 1));
    /* Unlimited stays unlimited. */
    throttle_redis_set_limit(&b, 0, 0, 3, 0);
    CHECK(b.rate == 0 && b.shared_rate == 0);
    /* Consistent: nothing to adopt. */
    throttle_redis_set_limit(&b, 14, 14, 2, 0);
    CHECK(throttle_redis_adopt(&b, 2, 0) == 0 && near(b.rate, 7));
    /* A penalty lowers rate, not configured_rate: still consistent. */
    throttle_bucket_penalize(&b, 0);
    CHECK(throttle_redis_adopt(&b, 2, 0) == 0 && near(b.shared_rate, 14));
    /* GetSendQuota sets 50/s as a local rate: 50 is the account's. */
    throttle_bucket_set_rate(&b, 50, 50, 0);
    CHECK(throttle_redis_adopt(&b, 2, 0) == 1);
    CHECK(near(b.shared_rate, 50) && near(b.shared_burst, 50) && near(b.rate, 25) &&
          near(b.burst, 25));
    CHECK(throttle_redis_adopt(&b, 2, 0) == 0);
    /* share 1 (backend local): the bucket is the account's. */
    throttle_bucket_set_rate(&b, 3, 3, 0);
    CHECK(throttle_redis_adopt(&b, 1, 0) == 1 && near(b.shared_rate, 3) && near(b.rate, 3));
}

/* --------------------------------------------------- arguments, answers */

static int arg_is(const struct redis_script_call *c, int i, const char *s) {
    return i < c->argc && c->argvlen[i] == strlen(s) && memcmp(c->argv[i], s, c->argvlen[i]) == 0;
}

static void test_build(void) {
    struct throttle_bucket op, send, free_b;
    throttle_bucket_init(&op, "SendEmail", 1, 1, 0);
    throttle_redis_set_limit(&op, 1, 1, 3, 0);
    throttle_bucket_init(&send, "send_rate", 14, 14, 0);
    throttle_redis_set_limit(&send, 14, 14, 3, 0);
    struct throttle_ticket tk;
    throttle_ticket_init(&tk, NULL, NULL);
    throttle_ticket_add(&tk, &op, 1);
    throttle_ticket_add(&tk, &send, 3);
    CHECK(tk.n_stages == 2);

    struct redis_script_call c;
    const char *sha = "0123456789abcdef0123456789abcdef01234567";
    CHECK(redis_script_take(&c, sha, "ses-proxy:{us-east-1}:", &tk, 10000000, 0) == 2);
    CHECK(c.argc == 6 + 4 * 2);
    CHECK(arg_is(&c, 0, "EVALSHA") && arg_is(&c, 1, sha) && arg_is(&c, 2, "2"));
    CHECK(arg_is(&c, 3, "ses-proxy:{us-east-1}:SendEmail") &&
          arg_is(&c, 4, "ses-proxy:{us-east-1}:send_rate"));
    CHECK(arg_is(&c, 5, "take") && arg_is(&c, 6, "") && arg_is(&c, 7, "10000000"));
    /* interval, burst, cost: the account's limits, not the local share */
    CHECK(arg_is(&c, 8, "1000000") && arg_is(&c, 9, "1") && arg_is(&c, 10, "1"));
    CHECK(arg_is(&c, 11, "71429") && arg_is(&c, 12, "14") && arg_is(&c, 13, "3"));
    CHECK(near(c.back_us[0], 1000000) && near(c.back_us[1], 3 * 71429));

    /* An injected clock; EVAL carries the text. */
    CHECK(redis_script_take(&c, NULL, "p:", &tk, 5, 1234567) == 2);
    CHECK(arg_is(&c, 0, "EVAL") && arg_is(&c, 1, redis_script_text) && arg_is(&c, 6, "1234567"));

    /* SES said Throttling: this replica's bucket runs at half for a while,
     * and so do its reservations (interval doubled). */
    throttle_bucket_penalize(&op, 0);
    CHECK(redis_script_take(&c, sha, "p:", &tk, 5, 0) == 2 && arg_is(&c, 8, "2000000"));

    /* The op stage already served (a ticket moved from the send-rate
     * queue): only the send rate is asked for. */
    tk.stage = 1;
    CHECK(redis_script_take(&c, sha, "p:", &tk, 5, 0) == 1);
    CHECK(c.argc == 6 + 4 && arg_is(&c, 2, "1") && arg_is(&c, 3, "p:send_rate") &&
          arg_is(&c, 7, "71429"));

    /* Unlimited now (a reload while it waited): nothing to ask. */
    throttle_bucket_init(&free_b, "Free", 1, 1, 0);
    struct throttle_ticket tk2;
    throttle_ticket_init(&tk2, NULL, NULL);
    throttle_ticket_add(&tk2, &free_b, 1);
    free_b.shared_rate = 0;
    CHECK(redis_script_take(&c, sha, "p:", &tk2, 5, 0) == 0);

    /* give: the same keys, the reserved times, what each advanced. */
    tk.stage = 0;
    struct redis_script_call take, give;
    CHECK(redis_script_take(&take, sha, "p:", &tk, 5, 0) == 2);
    char tats[THROTTLE_MAX_STAGES][24] = {"1700000002000000", "1700000000214287"};
    redis_script_give(&give, sha, &take, (const char(*)[24])tats);
    CHECK(give.argc == 14 && arg_is(&give, 0, "EVALSHA") && arg_is(&give, 2, "2") &&
          arg_is(&give, 3, "p:SendEmail") && arg_is(&give, 5, "give"));
    CHECK(arg_is(&give, 8, "1700000002000000") && arg_is(&give, 9, "2000000") &&
          arg_is(&give, 11, "1700000000214287") && arg_is(&give, 12, "214287"));
}

static redisReply mk(int type, long long integer, const char *str) {
    redisReply r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.integer = integer;
    if (str != NULL) {
        r.str = (char *)(uintptr_t)str;
        r.len = strlen(str);
    }
    return r;
}

static void test_verdict(void) {
    struct redis_script_verdict v;
    struct sp_err err;
    redisReply e[5] = {mk(REDIS_REPLY_INTEGER, 1, NULL), mk(REDIS_REPLY_INTEGER, 250000, NULL),
                       mk(REDIS_REPLY_STRING, 0, "1700000000000000"),
                       mk(REDIS_REPLY_STRING, 0, "1700000001000000"),
                       mk(REDIS_REPLY_STRING, 0, "1700000000500000")};
    redisReply *el[5] = {&e[0], &e[1], &e[2], &e[3], &e[4]};
    redisReply arr = mk(REDIS_REPLY_ARRAY, 0, NULL);
    arr.element = el;
    arr.elements = 5;
    CHECK(redis_script_verdict(&arr, 2, &v, &err) == 0);
    CHECK(v.granted == 1 && v.wait_us == 250000 && v.now_us == 1700000000000000LL &&
          v.n_tats == 2 && strcmp(v.tats[0], "1700000001000000") == 0 &&
          strcmp(v.tats[1], "1700000000500000") == 0);
    /* granted with the wrong number of keys */
    CHECK(redis_script_verdict(&arr, 1, &v, &err) == -1);
    /* refused: {0, retry, now} */
    e[0] = mk(REDIS_REPLY_INTEGER, 0, NULL);
    e[1] = mk(REDIS_REPLY_INTEGER, 4000000, NULL);
    arr.elements = 3;
    CHECK(redis_script_verdict(&arr, 2, &v, &err) == 0 && v.granted == 0 && v.wait_us == 4000000);
    /* nonsense */
    e[0] = mk(REDIS_REPLY_INTEGER, 7, NULL);
    CHECK(redis_script_verdict(&arr, 2, &v, &err) == -1);
    e[0] = mk(REDIS_REPLY_INTEGER, 1, NULL);
    e[1] = mk(REDIS_REPLY_INTEGER, -5, NULL);
    CHECK(redis_script_verdict(&arr, 0, &v, &err) == -1);
    e[1] = mk(REDIS_REPLY_STRING, 0, "12x");
    CHECK(redis_script_verdict(&arr, 0, &v, &err) == -1);
    e[1] = mk(REDIS_REPLY_INTEGER, 5, NULL);
    e[2] = mk(REDIS_REPLY_STATUS, 0, "OK");
    CHECK(redis_script_verdict(&arr, 0, &v, &err) == -1);
    e[2] = mk(REDIS_REPLY_INTEGER, 1, NULL);
    CHECK(redis_script_verdict(&arr, 0, &v, &err) == 0 && v.now_us == 1);
    arr.elements = 2;
    CHECK(redis_script_verdict(&arr, 0, &v, &err) == -1);
    redisReply error = mk(REDIS_REPLY_ERROR, 0, "BUSY Redis is busy running a script");
    CHECK(redis_script_verdict(&error, 1, &v, &err) == -1 && strstr(err.msg, "BUSY") != NULL);
    redisReply status = mk(REDIS_REPLY_STATUS, 0, "OK");
    CHECK(redis_script_verdict(&status, 1, &v, &err) == -1);
    CHECK(redis_script_verdict(NULL, 1, &v, &err) == -1);
}

static void test_backoff(void) {
    unsigned seq[10], ms = 0;
    for (int i = 0; i < 10; i++) {
        seq[i] = ms = throttle_redis_next_backoff(ms);
    }
    CHECK(seq[0] == 100 && seq[1] == 200 && seq[2] == 400 && seq[5] == 3200 && seq[6] == 5000 &&
          seq[9] == 5000);
}

/* ------------------------------------------------------------ fake Redis */

#define FAKE_SHA "feedfacefeedfacefeedfacefeedfacefeedface"
#define MAX_CANNED 16

struct fake {
    struct event_base *base;
    struct evconnlistener *lis;
    struct bufferevent *conns[8];
    int n_conns;
    int port;
    int silent;                     /* read, never answer (Redis slow) */
    int noscript;                   /* answer the next N EVALSHA with NOSCRIPT */
    const char *canned[MAX_CANNED]; /* answers to "take", in order; then granted at once */
    int n_canned, next_canned;
    int takes, gives, evals, loads, selects;
    char last_key[128];
};

/* One RESP command (an array of bulk strings) from the front of in.
 * Returns its argc (args point into in's linear memory), 0 when incomplete. */
static int parse_command(struct evbuffer *in, char **args, size_t *lens, int max, size_t *used) {
    size_t len = evbuffer_get_length(in);
    char *p = (char *)evbuffer_pullup(in, -1), *end = p + len, *q = p;
    if (len == 0 || *q != '*') {
        return 0;
    }
    char *nl = memchr(q, '\n', (size_t)(end - q));
    if (nl == NULL) {
        return 0;
    }
    int argc = atoi(q + 1);
    q = nl + 1;
    for (int i = 0; i < argc; i++) {
        if (q >= end || *q != '$' || (nl = memchr(q, '\n', (size_t)(end - q))) == NULL) {
            return 0;
        }
        size_t n = (size_t)atol(q + 1);
        q = nl + 1;
        if ((size_t)(end - q) < n + 2) {
            return 0;
        }
        if (i < max) {
            args[i] = q;
            lens[i] = n;
        }
        q += n + 2;
    }
    *used = (size_t)(q - p);
    return argc;
}

static int is(const char *a, size_t n, const char *s) {
    return n == strlen(s) && strncasecmp(a, s, n) == 0;
}

static void fake_answer(struct fake *f, struct evbuffer *out, char **args, size_t *lens, int argc) {
    if (argc >= 2 && is(args[0], lens[0], "SCRIPT")) {
        f->loads++;
        evbuffer_add_printf(out, "$40\r\n%s\r\n", FAKE_SHA);
    } else if (argc >= 1 && is(args[0], lens[0], "SELECT")) {
        f->selects++;
        evbuffer_add_printf(out, "+OK\r\n");
    } else if (argc >= 4 && (is(args[0], lens[0], "EVALSHA") || is(args[0], lens[0], "EVAL"))) {
        int nkeys = atoi(args[2]);
        int mode = 3 + nkeys;
        if (mode >= argc) {
            evbuffer_add_printf(out, "-ERR bad call\r\n");
            return;
        }
        snprintf(f->last_key, sizeof(f->last_key), "%.*s", (int)lens[3], args[3]);
        if (is(args[mode], lens[mode], "give")) {
            f->gives++;
            evbuffer_add_printf(out, ":1\r\n");
            return;
        }
        if (is(args[0], lens[0], "EVALSHA") && f->noscript > 0) {
            f->noscript--;
            evbuffer_add_printf(out, "-NOSCRIPT No matching script. Please use EVAL.\r\n");
            return;
        }
        f->evals += is(args[0], lens[0], "EVAL");
        f->takes++;
        if (f->next_canned < f->n_canned) {
            evbuffer_add_printf(out, "%s", f->canned[f->next_canned++]);
            return;
        }
        evbuffer_add_printf(out, "*%d\r\n:1\r\n:0\r\n:%llu\r\n", 3 + nkeys,
                            (unsigned long long)clock_monotonic_us());
        for (int i = 0; i < nkeys; i++) {
            evbuffer_add_printf(out, "$16\r\n1700000000000000\r\n");
        }
    } else {
        evbuffer_add_printf(out, "-ERR unknown command\r\n");
    }
}

static void fake_on_read(struct bufferevent *bev, void *arg) {
    struct fake *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *args[32];
    size_t lens[32], used = 0;
    int argc;
    while ((argc = parse_command(in, args, lens, 32, &used)) > 0) {
        if (!f->silent) {
            fake_answer(f, bufferevent_get_output(bev), args, lens, argc < 32 ? argc : 32);
        } else if (argc >= 4 && is(args[0], lens[0], "EVALSHA")) {
            f->takes++;
        }
        evbuffer_drain(in, used);
    }
}

static void fake_drop(struct fake *f, struct bufferevent *bev) {
    for (int i = 0; i < f->n_conns; i++) {
        if (f->conns[i] == bev) {
            f->conns[i] = f->conns[--f->n_conns];
            break;
        }
    }
    bufferevent_free(bev);
}

static void fake_on_event(struct bufferevent *bev, short what, void *arg) {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        fake_drop(arg, bev);
    }
}

static void fake_on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg) {
    (void)lis;
    (void)sa;
    (void)salen;
    struct fake *f = arg;
    struct bufferevent *bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL || f->n_conns == 8) {
        if (bev != NULL) {
            bufferevent_free(bev);
        }
        return;
    }
    f->conns[f->n_conns++] = bev;
    bufferevent_setcb(bev, fake_on_read, NULL, fake_on_event, f);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int fake_listen(struct fake *f) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)f->port);
    f->lis = evconnlistener_new_bind(f->base, fake_on_accept, f,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                     (struct sockaddr *)&sin, sizeof(sin));
    if (f->lis == NULL) {
        return -1;
    }
    struct sockaddr_in got;
    socklen_t gl = sizeof(got);
    getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&got, &gl);
    f->port = ntohs(got.sin_port);
    return 0;
}

/* Redis goes away: no listener, every connection closed. */
static void fake_stop(struct fake *f) {
    if (f->lis != NULL) {
        evconnlistener_free(f->lis);
        f->lis = NULL;
    }
    while (f->n_conns > 0) {
        fake_drop(f, f->conns[0]);
    }
}

/* ------------------------------------------------------------- harness */

struct waiter {
    struct throttle_ticket tk;
    int calls, granted;
    uint64_t retry_us, at_us;
};

static void on_granted(void *arg, int granted, uint64_t retry_after_us) {
    struct waiter *w = arg;
    w->calls++;
    w->granted = granted;
    w->retry_us = retry_after_us;
    w->at_us = clock_monotonic_us();
}

static void spin(struct event_base *base, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Runs the loop until *flag is set or ms pass. */
static void spin_until(struct event_base *base, const int *flag, int ms) {
    for (int i = 0; i < ms / 5 && !*flag; i++) {
        spin(base, 5);
    }
}

/* The proxy's two APIs, with empty bucket tables. */
static int set_apis(struct proxy *px) {
    px->apis[PROXY_SES_V1].svc = &model_ses;
    px->apis[PROXY_SES_V2].svc = &model_sesv2;
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        px->apis[a].op_buckets = calloc(px->apis[a].svc->n_ops, sizeof(struct throttle_bucket *));
        if (px->apis[a].op_buckets == NULL) {
            return -1;
        }
    }
    return 0;
}

static void free_apis(struct proxy *px) {
    for (size_t a = 0; a < PROXY_N_APIS; a++) {
        free(px->apis[a].op_buckets);
    }
}

struct rig {
    struct event_base *base;
    struct proxy px;
    struct config *cfg;
    struct throttle_bucket *op;
    struct fake fake;
    struct throttle_redis *r;
};

/* A proxy with one bucket "GetSendQuota" (account 1/s burst 1, 2 replicas),
 * a fake Redis, and the backend connected to it. */
static int rig_start(struct rig *g, int timeout_ms, double rate) {
    memset(g, 0, sizeof(*g));
    g->base = event_base_new();
    g->fake.base = g->base;
    if (g->base == NULL || fake_listen(&g->fake) < 0) {
        return -1;
    }
    char text[256];
    snprintf(text, sizeof(text),
             "{\"throttle\": {\"backend\": \"redis\", \"replicas\": 2, \"redis_url\": "
             "\"redis://127.0.0.1:%d/3\", \"redis_timeout_ms\": %d, \"max_wait_ms\": 5000}}",
             g->fake.port, timeout_ms);
    struct sp_err err;
    g->cfg = load(text, &err);
    if (g->cfg == NULL) {
        fprintf(stderr, "config: %s\n", err.msg);
        return -1;
    }
    g->px.base = g->base;
    g->px.cfg = g->cfg;
    g->px.dns = evdns_base_new(g->base, 0);
    g->px.throttle = throttle_new(g->base, NULL, 100, 5000000);
    if (set_apis(&g->px) < 0 || g->px.dns == NULL || g->px.throttle == NULL) {
        return -1;
    }
    g->op = throttle_bucket_new(g->px.throttle, "GetSendQuota", rate, rate);
    throttle_redis_set_limit(g->op, rate, 1, 2, g->px.throttle->now());
    g->px.apis[PROXY_SES_V1].op_buckets[0] = g->op;
    g->r = throttle_redis_new(&g->px, g->cfg, &err);
    if (g->r == NULL) {
        fprintf(stderr, "throttle_redis_new: %s\n", err.msg);
        return -1;
    }
    spin_until(g->base, &throttle_redis_stats(g->r)->up, 2000);
    return throttle_redis_stats(g->r)->up ? 0 : -1;
}

static void rig_stop(struct rig *g) {
    throttle_redis_free(g->r);
    fake_stop(&g->fake);
    throttle_bucket_free(g->op);
    free_apis(&g->px);
    throttle_free(g->px.throttle);
    if (g->px.dns != NULL) {
        evdns_base_free(g->px.dns, 0);
    }
    config_unref(g->cfg);
    event_base_free(g->base);
}

static enum throttle_result start(struct rig *g, struct waiter *w, uint64_t *retry) {
    memset(w, 0, sizeof(*w));
    throttle_ticket_init(&w->tk, on_granted, w);
    throttle_ticket_add(&w->tk, g->op, 1);
    return throttle_acquire(g->px.throttle, &w->tk, retry);
}

/* ------------------------------------------------------- backend tests */

static void test_granted_waits_refused(void) {
    struct rig g;
    CHECK(rig_start(&g, 500, 1) == 0);
    const struct throttle_redis_stats *st = throttle_redis_stats(g.r);
    CHECK(st->up == 1 && g.fake.loads == 1 && g.fake.selects == 1); /* db 3 */
    uint64_t retry = 0;
    struct waiter w[3];

    /* granted at once: the callback comes from the loop, never inline */
    g.fake.canned[0] = "*4\r\n:1\r\n:0\r\n:5\r\n$3\r\n100\r\n";
    /* granted after 80 ms */
    g.fake.canned[1] = "*4\r\n:1\r\n:80000\r\n:5\r\n$3\r\n200\r\n";
    /* refused: it would wait 4 s */
    g.fake.canned[2] = "*3\r\n:0\r\n:4000000\r\n:5\r\n";
    g.fake.n_canned = 3;
    uint64_t t0 = clock_monotonic_us();
    for (int i = 0; i < 3; i++) {
        CHECK(start(&g, &w[i], &retry) == THROTTLE_QUEUED && w[i].tk.remote == 1);
    }
    CHECK(w[0].calls == 0);
    spin_until(g.base, &w[1].calls, 1000);
    CHECK(w[0].calls == 1 && w[0].granted == 1);
    CHECK(w[1].calls == 1 && w[1].granted == 1 && w[1].at_us - t0 >= 80000);
    CHECK(w[2].calls == 1 && w[2].granted == 0 && w[2].retry_us == 4000000);
    CHECK(strcmp(g.fake.last_key, "ses-proxy:{us-east-1}:GetSendQuota") == 0);
    CHECK(st->granted_total == 2 && st->refused_total == 1 && st->fallback_total == 0);
    CHECK(g.fake.takes == 3 && g.fake.gives == 0);
    /* the local bucket was not touched: still full */
    CHECK(g.op->tokens >= 1);
    rig_stop(&g);
}

static void test_cancel(void) {
    struct rig g;
    CHECK(rig_start(&g, 500, 1) == 0);
    uint64_t retry;
    struct waiter w[2];
    /* cancelled while Redis decides: no callback, the reservation given
     * back when the answer comes */
    CHECK(start(&g, &w[0], &retry) == THROTTLE_QUEUED);
    throttle_cancel(&w[0].tk);
    CHECK(w[0].tk.remote == 0 && w[0].tk.remote_state == NULL);
    spin(g.base, 30);
    CHECK(w[0].calls == 0 && g.fake.takes == 1 && g.fake.gives == 1);
    /* cancelled while waiting for its reserved time: given back at once */
    g.fake.canned[0] = "*4\r\n:1\r\n:200000\r\n:5\r\n$3\r\n300\r\n";
    g.fake.n_canned = 1;
    CHECK(start(&g, &w[1], &retry) == THROTTLE_QUEUED);
    spin(g.base, 30);
    CHECK(w[1].calls == 0);
    throttle_cancel(&w[1].tk);
    spin(g.base, 250);
    CHECK(w[1].calls == 0 && g.fake.gives == 2);
    rig_stop(&g);
}

/* throttle.max_queue holds in Redis mode: calls waiting for their reserved
 * slot are this replica's queue; one more is refused at once, without a
 * question to Redis, and there is room again once the first has gone. */
static void test_max_queue(void) {
    struct rig g;
    CHECK(rig_start(&g, 500, 1) == 0);
    throttle_set_limits(g.px.throttle, 2, 5000000);
    uint64_t retry = 0;
    struct waiter w[5];
    g.fake.canned[0] = "*4\r\n:1\r\n:150000\r\n:5\r\n$3\r\n100\r\n";
    g.fake.canned[1] = "*4\r\n:1\r\n:400000\r\n:5\r\n$3\r\n200\r\n";
    g.fake.n_canned = 2;
    CHECK(start(&g, &w[0], &retry) == THROTTLE_QUEUED);
    CHECK(start(&g, &w[1], &retry) == THROTTLE_QUEUED);
    spin(g.base, 30); /* both answered: waiting for 150 and 400 ms */
    CHECK(w[0].calls == 0 && w[1].calls == 0 && g.fake.takes == 2);
    CHECK(throttle_redis_waiting(g.r, g.op) == 2);
    uint64_t rejected = g.px.throttle->rejected_total;
    retry = 0;
    CHECK(start(&g, &w[2], &retry) == THROTTLE_REFUSED);
    CHECK(g.fake.takes == 2 && w[2].calls == 0);
    /* to retry when the first waiting call goes (~120 ms from now) */
    CHECK(retry >= 1000 && retry <= 150000);
    CHECK(g.px.throttle->rejected_total == rejected + 1);
    /* a bucket neither waits on is not affected */
    struct throttle_bucket *other = throttle_bucket_new(g.px.throttle, "Other", 1, 1);
    memset(&w[3], 0, sizeof(w[3]));
    throttle_ticket_init(&w[3].tk, on_granted, &w[3]);
    throttle_ticket_add(&w[3].tk, other, 1);
    CHECK(throttle_acquire(g.px.throttle, &w[3].tk, &retry) == THROTTLE_QUEUED);
    spin_until(g.base, &w[0].calls, 1000);
    CHECK(w[0].calls == 1 && w[0].granted == 1 && w[3].calls == 1);
    /* the first has gone: room for one more */
    CHECK(start(&g, &w[4], &retry) == THROTTLE_QUEUED);
    spin_until(g.base, &w[1].calls, 1000);
    spin_until(g.base, &w[4].calls, 1000);
    CHECK(w[1].granted == 1 && w[4].calls == 1 && w[4].granted == 1);
    CHECK(g.fake.takes == 4);
    throttle_bucket_free(other);

    /* Asked together, before either waits: Redis reserves both, the second
     * finds the queue full on its answer, gives its slot back and is
     * refused. */
    throttle_set_limits(g.px.throttle, 1, 5000000);
    struct waiter v[2];
    g.fake.canned[2] = "*4\r\n:1\r\n:100000\r\n:5\r\n$3\r\n300\r\n";
    g.fake.canned[3] = "*4\r\n:1\r\n:200000\r\n:5\r\n$3\r\n400\r\n";
    g.fake.n_canned = 4;
    CHECK(start(&g, &v[0], &retry) == THROTTLE_QUEUED);
    CHECK(start(&g, &v[1], &retry) == THROTTLE_QUEUED);
    spin(g.base, 30);
    CHECK(v[0].calls == 0 && v[1].calls == 1 && v[1].granted == 0);
    CHECK(v[1].retry_us >= 1000 && v[1].retry_us <= 100000);
    CHECK(g.fake.takes == 6 && g.fake.gives == 1);
    spin_until(g.base, &v[0].calls, 1000);
    CHECK(v[0].calls == 1 && v[0].granted == 1);
    CHECK(throttle_redis_waiting(g.r, g.op) == 0);
    rig_stop(&g);
}

static void test_noscript(void) {
    struct rig g;
    CHECK(rig_start(&g, 500, 1) == 0);
    uint64_t retry;
    struct waiter w;
    g.fake.noscript = 1;
    CHECK(start(&g, &w, &retry) == THROTTLE_QUEUED);
    spin_until(g.base, &w.calls, 1000);
    CHECK(w.calls == 1 && w.granted == 1 && g.fake.evals == 1);
    CHECK(throttle_redis_stats(g.r)->up == 1 && throttle_redis_stats(g.r)->fallback_total == 0);
    rig_stop(&g);
}

/* Redis slow: no answer within the timeout; the local bucket decides, the
 * connection is dropped and made again, and Redis decides again. */
static void test_slow_then_back(void) {
    struct rig g;
    CHECK(rig_start(&g, 60, 1) == 0);
    const struct throttle_redis_stats *st = throttle_redis_stats(g.r);
    uint64_t retry;
    struct waiter w[3];
    g.fake.silent = 1;
    uint64_t t0 = clock_monotonic_us();
    CHECK(start(&g, &w[0], &retry) == THROTTLE_QUEUED);
    spin_until(g.base, &w[0].calls, 1000);
    /* local bucket at 1/2 per second, full: granted right after the timeout */
    CHECK(w[0].calls == 1 && w[0].granted == 1 && w[0].at_us - t0 >= 60000 &&
          w[0].at_us - t0 < 500000);
    CHECK(st->up == 0 && st->down_total == 1 && st->fallback_total == 1);
    /* while down: the local bucket decides at once (1 token per 2 s: queued) */
    CHECK(start(&g, &w[1], &retry) == THROTTLE_QUEUED && w[1].tk.remote == 0 &&
          w[1].tk.queued == 1);
    CHECK(st->fallback_total == 2);
    /* Redis answers again: reconnect (100 ms backoff), and the ticket queued
     * locally is handed to Redis, which grants it. */
    g.fake.silent = 0;
    spin_until(g.base, &w[1].calls, 1500);
    CHECK(st->up == 1 && w[1].calls == 1 && w[1].granted == 1);
    CHECK(w[1].at_us - t0 < 1500000); /* not the local bucket's 2 s */
    CHECK(g.op->queued == 0);
    CHECK(start(&g, &w[2], &retry) == THROTTLE_QUEUED && w[2].tk.remote == 1);
    spin_until(g.base, &w[2].calls, 500);
    CHECK(w[2].calls == 1 && w[2].granted == 1);
    rig_stop(&g);
}

/* Redis down: connection closed with calls in flight, nobody listening. */
static void test_down_then_back(void) {
    struct rig g;
    CHECK(rig_start(&g, 500, 10) == 0);
    const struct throttle_redis_stats *st = throttle_redis_stats(g.r);
    uint64_t retry;
    struct waiter w[4];
    g.fake.silent = 1;
    for (int i = 0; i < 2; i++) {
        CHECK(start(&g, &w[i], &retry) == THROTTLE_QUEUED && w[i].tk.remote == 1);
    }
    spin(g.base, 20);
    int port = g.fake.port;
    fake_stop(&g.fake);
    spin_until(g.base, &w[1].calls, 500);
    /* both handed to the local bucket (5/s burst 1 here): one at once, one
     * 200 ms later; none lost */
    CHECK(w[0].calls == 1 && w[0].granted == 1);
    spin_until(g.base, &w[1].calls, 500);
    CHECK(w[1].calls == 1 && w[1].granted == 1);
    CHECK(st->up == 0 && st->down_total == 1 && st->fallback_total == 2);
    spin(g.base, 400); /* a few reconnects fail */
    CHECK(st->up == 0 && st->down_total == 1);
    CHECK(start(&g, &w[2], &retry) == THROTTLE_GRANTED); /* local, token back */
    g.fake.port = port;
    g.fake.silent = 0;
    CHECK(fake_listen(&g.fake) == 0);
    spin_until(g.base, &st->up, 6000);
    CHECK(st->up == 1);
    CHECK(start(&g, &w[3], &retry) == THROTTLE_QUEUED && w[3].tk.remote == 1);
    spin_until(g.base, &w[3].calls, 500);
    CHECK(w[3].calls == 1 && w[3].granted == 1);
    rig_stop(&g);
}

/* Freeing the backend (reload to "local") hands its tickets to the local
 * buckets; nothing is lost and nothing calls back afterwards. */
static void test_free_hands_back(void) {
    struct rig g;
    CHECK(rig_start(&g, 500, 1) == 0);
    uint64_t retry;
    struct waiter w[2];
    g.fake.canned[0] = "*4\r\n:1\r\n:300000\r\n:5\r\n$3\r\n100\r\n";
    g.fake.n_canned = 1;
    CHECK(start(&g, &w[0], &retry) == THROTTLE_QUEUED);
    spin(g.base, 30); /* w[0] waits for its reserved time */
    g.fake.silent = 1;
    CHECK(start(&g, &w[1], &retry) == THROTTLE_QUEUED); /* in flight */
    spin(g.base, 10);
    throttle_redis_free(g.r);
    g.r = NULL;
    CHECK(g.px.throttle->remote == NULL);
    /* local 1/2 per second, burst 1: one granted now, one queued */
    CHECK(w[0].calls + w[1].calls == 1);
    CHECK(g.op->queued == 1);
    struct waiter *q = w[0].calls == 0 ? &w[0] : &w[1];
    throttle_cancel(&q->tk);
    spin(g.base, 50);
    CHECK(q->calls == 0);
    rig_stop(&g);
}

/* Redis unreachable from the start (a unix socket nobody listens on). */
static void test_unreachable(void) {
    struct event_base *base = event_base_new();
    struct sp_err err;
    struct config *cfg = load("{\"throttle\": {\"backend\": \"redis\", \"replicas\": 3, "
                              "\"redis_url\": \"unix:/nonexistent/redis.sock\"}}",
                              &err);
    CHECK(cfg != NULL);
    if (base == NULL || cfg == NULL) {
        return;
    }
    struct proxy px;
    memset(&px, 0, sizeof(px));
    px.base = base;
    px.cfg = cfg;
    px.dns = evdns_base_new(base, 0);
    px.throttle = throttle_new(base, NULL, 100, 5000000);
    CHECK(set_apis(&px) == 0);
    struct throttle_bucket *b = throttle_bucket_new(px.throttle, "Op", 3, 3);
    throttle_redis_set_limit(b, 3, 3, throttle_redis_share(cfg), px.throttle->now());
    struct throttle_redis *r = throttle_redis_new(&px, cfg, &err);
    CHECK(r != NULL && px.throttle->remote != NULL);
    spin(base, 350); /* 100 + 200 ms backoff: three attempts */
    CHECK(throttle_redis_stats(r)->up == 0 && throttle_redis_stats(r)->down_total == 0);
    struct waiter w;
    memset(&w, 0, sizeof(w));
    throttle_ticket_init(&w.tk, on_granted, &w);
    throttle_ticket_add(&w.tk, b, 1);
    uint64_t retry;
    CHECK(throttle_acquire(px.throttle, &w.tk, &retry) == THROTTLE_GRANTED);
    CHECK(throttle_redis_stats(r)->fallback_total == 1);
    throttle_redis_free(r);
    throttle_bucket_free(b);
    free_apis(&px);
    throttle_free(px.throttle);
    evdns_base_free(px.dns, 0);
    config_unref(cfg);
    event_base_free(base);
}

int main(void) {
    test_config();
    test_limits();
    test_build();
    test_verdict();
    test_backoff();
    test_granted_waits_refused();
    test_cancel();
    test_max_queue();
    test_noscript();
    test_slow_then_back();
    test_down_then_back();
    test_free_hands_back();
    test_unreachable();
    printf("throttle_redis_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
