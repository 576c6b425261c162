/* redis_conn_test - one Redis connection's life against a fake Redis served
 * from this process on the same event loop: the handshake (SELECT, SCRIPT
 * LOAD), a lost connection and the reconnect, a connect deadline, and the
 * frees the header allows: from the up and down callbacks, with a lookup
 * in flight. Timers are real and short. Run it under ASan to check the
 * frees. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <hiredis/async.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/redis/redis_conn.h"

#include "tests/unit/unit_check.h"

#define FAKE_SHA "0123456789abcdef0123456789abcdef01234567"

/* Answers SELECT and SCRIPT LOAD in order; silent: reads, never answers;
 * refuse: SCRIPT LOAD gets an error. */
struct fake {
    struct event_base *base;
    struct evconnlistener *lis;
    struct bufferevent *conn;
    int port;
    int silent, refuse;
    int selects, loads;
};

static void fake_on_read(struct bufferevent *bev, void *arg) {
    struct fake *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    char *text = malloc(n + 1);
    if (text == NULL) {
        return;
    }
    evbuffer_remove(in, text, n);
    text[n] = '\0';
    /* Each command is one "*<argc>" array; its first argument names it:
     * "*2\r\n$6\r\nSCRIPT\r\n...". */
    struct evbuffer *out = bufferevent_get_output(bev);
    for (char *p = text; (p = strchr(p, '*')) != NULL; p++) {
        char *len = strstr(p, "\r\n");
        char *word = len != NULL ? strstr(len + 2, "\r\n") : NULL;
        if ((p != text && p[-1] != '\n') || word == NULL) {
            continue;
        }
        word += 2;
        if (strncmp(word, "SELECT", 6) == 0) {
            f->selects++;
            if (!f->silent) {
                evbuffer_add_printf(out, "+OK\r\n");
            }
        } else if (strncmp(word, "SCRIPT", 6) == 0) {
            f->loads++;
            if (f->refuse) {
                evbuffer_add_printf(out, "-ERR no scripts here\r\n");
            } else if (!f->silent) {
                evbuffer_add_printf(out, "$40\r\n%s\r\n", FAKE_SHA);
            }
        }
    }
    free(text);
}

static void fake_on_event(struct bufferevent *bev, short what, void *arg) {
    struct fake *f = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (f->conn == bev) {
            f->conn = NULL;
        }
        bufferevent_free(bev);
    }
}

static void fake_on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg) {
    (void)lis;
    (void)sa;
    (void)salen;
    struct fake *f = arg;
    struct bufferevent *bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        return;
    }
    if (f->conn != NULL) {
        bufferevent_free(f->conn);
    }
    f->conn = bev;
    bufferevent_setcb(bev, fake_on_read, NULL, fake_on_event, f);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static int fake_listen(struct fake *f, struct event_base *base) {
    memset(f, 0, sizeof(*f));
    f->base = base;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lis =
        evconnlistener_new_bind(base, fake_on_accept, f, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                16, (struct sockaddr *)&sin, sizeof(sin));
    if (f->lis == NULL) {
        return -1;
    }
    struct sockaddr_in got;
    socklen_t gl = sizeof(got);
    getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&got, &gl);
    f->port = ntohs(got.sin_port);
    return 0;
}

static void fake_close(struct fake *f) {
    if (f->conn != NULL) {
        bufferevent_free(f->conn);
        f->conn = NULL;
    }
    if (f->lis != NULL) {
        evconnlistener_free(f->lis);
        f->lis = NULL;
    }
}

static void spin(struct event_base *base, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* What the callbacks saw; free_in_up / free_in_down free the connection
 * from there. */
struct user {
    struct redis_conn *c;
    int ups, downs, last_was_up;
    char sha[41];
    char reason[200];
    int free_in_up, free_in_down;
};

static void on_up(void *arg, const char *sha) {
    struct user *u = arg;
    u->ups++;
    snprintf(u->sha, sizeof(u->sha), "%s", sha);
    if (u->free_in_up) {
        redis_conn_free(u->c);
        u->c = NULL;
    }
}

static void on_down(void *arg, const char *reason, int was_up) {
    struct user *u = arg;
    u->downs++;
    u->last_was_up = was_up;
    snprintf(u->reason, sizeof(u->reason), "%s", reason);
    if (u->free_in_down) {
        redis_conn_free(u->c);
        u->c = NULL;
    }
}

static struct redis_conn *conn_new(struct user *u, struct event_base *base, struct evdns_base *dns,
                                   const char *host, int port, const char *unix_path, int db,
                                   uint64_t timeout_us) {
    struct redis_conn_cfg cfg = {
        .base = base,
        .dns = dns,
        .host = host,
        .port = port,
        .unix_path = unix_path,
        .db = db,
        .script = "return 1",
        .connect_timeout_us = timeout_us,
        .up = on_up,
        .down = on_down,
        .arg = u,
    };
    struct sp_err err;
    sp_err_clear(&err);
    u->c = redis_conn_new(&cfg, &err);
    return u->c;
}

static void test_backoff(void) {
    unsigned ms = 0, seq[8];
    for (int i = 0; i < 8; i++) {
        seq[i] = ms = redis_conn_next_backoff(ms);
    }
    CHECK(seq[0] == 100 && seq[1] == 200 && seq[5] == 3200 && seq[6] == 5000 && seq[7] == 5000);
}

static void test_no_address(void) {
    struct user u;
    memset(&u, 0, sizeof(u));
    CHECK(conn_new(&u, NULL, NULL, NULL, 6379, NULL, 0, 1000) == NULL);
}

/* Up after SELECT and SCRIPT LOAD; the connection closed: down, then back
 * after the backoff; dropped by the user: down again. */
static void test_up_down_back(struct event_base *base, struct evdns_base *dns) {
    struct fake f;
    CHECK(fake_listen(&f, base) == 0);
    struct user u;
    memset(&u, 0, sizeof(u));
    CHECK(conn_new(&u, base, dns, "127.0.0.1", f.port, NULL, 3, 1000000) != NULL);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d/3", f.port);
    CHECK(strcmp(redis_conn_addr(u.c), addr) == 0);
    CHECK(!redis_conn_is_up(u.c) && redis_conn_ac(u.c) == NULL);
    redis_conn_start(u.c);
    spin(base, 100);
    CHECK(u.ups == 1 && strcmp(u.sha, FAKE_SHA) == 0 && f.selects == 1 && f.loads == 1);
    CHECK(redis_conn_is_up(u.c) && redis_conn_ac(u.c) != NULL);
    CHECK(redis_conn_owns(u.c, redis_conn_ac(u.c)));

    bufferevent_free(f.conn); /* Redis closes the connection */
    f.conn = NULL;
    spin(base, 50);
    CHECK(u.downs == 1 && u.last_was_up == 1 && !redis_conn_is_up(u.c));
    CHECK(u.reason[0] != '\0');
    spin(base, 150); /* 100 ms backoff */
    CHECK(u.ups == 2 && redis_conn_is_up(u.c));

    redis_conn_reset_backoff(u.c); /* Redis worked: 100 ms again */
    redis_conn_drop(u.c, "no answer within 10 ms");
    CHECK(u.downs == 2 && u.last_was_up == 1 && strcmp(u.reason, "no answer within 10 ms") == 0);
    redis_conn_drop(u.c, "again"); /* DOWN already: nothing */
    CHECK(u.downs == 2);
    spin(base, 150);
    CHECK(u.ups == 3);

    u.free_in_up = 1; /* freed from the up callback */
    redis_conn_drop(u.c, "once more");
    spin(base, 250); /* 200 ms backoff */
    CHECK(u.ups == 4 && u.c == NULL);
    spin(base, 20);
    fake_close(&f);
}

/* SCRIPT LOAD refused, then a silent Redis: the deadline. */
static void test_handshake_fails(struct event_base *base, struct evdns_base *dns) {
    struct fake f;
    CHECK(fake_listen(&f, base) == 0);
    f.refuse = 1;
    struct user u;
    memset(&u, 0, sizeof(u));
    CHECK(conn_new(&u, base, dns, "127.0.0.1", f.port, NULL, 0, 60000) != NULL);
    redis_conn_start(u.c);
    spin(base, 40);
    CHECK(u.ups == 0 && u.downs == 1 && u.last_was_up == 0 && f.selects == 0);
    CHECK(strcmp(u.reason, "SCRIPT LOAD failed: ERR no scripts here") == 0);
    f.refuse = 0;
    f.silent = 1;
    spin(base, 100 + 60 + 30); /* backoff, then the deadline */
    CHECK(u.ups == 0 && u.downs == 2 && strcmp(u.reason, "not connected within 60 ms") == 0);
    redis_conn_free(u.c);
    spin(base, 20);
    fake_close(&f);
}

/* A unix socket that is not there: down (maybe from inside start), freed
 * from the down callback. */
static void test_free_in_down(struct event_base *base, struct evdns_base *dns) {
    struct user u;
    memset(&u, 0, sizeof(u));
    u.free_in_down = 1;
    CHECK(conn_new(&u, base, dns, NULL, 0, "/nonexistent/redis.sock", 0, 1000000) != NULL);
    CHECK(strcmp(redis_conn_addr(u.c), "unix:/nonexistent/redis.sock") == 0);
    redis_conn_start(u.c);
    spin(base, 50);
    CHECK(u.downs == 1 && u.c == NULL && u.last_was_up == 0);

    /* A numeric address nobody listens on: resolved from inside start. */
    struct fake f;
    CHECK(fake_listen(&f, base) == 0);
    int port = f.port;
    fake_close(&f);
    memset(&u, 0, sizeof(u));
    u.free_in_down = 1;
    CHECK(conn_new(&u, base, dns, "127.0.0.1", port, NULL, 0, 1000000) != NULL);
    redis_conn_start(u.c);
    spin(base, 50);
    CHECK(u.downs == 1 && u.c == NULL);
}

/* A name whose lookup never ends (a nameserver that never answers): freed
 * with the lookup in flight. */
static void test_free_resolving(struct event_base *base) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
    socklen_t sl = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &sl);
    char ns[64];
    snprintf(ns, sizeof(ns), "127.0.0.1:%d", ntohs(sin.sin_port));
    struct evdns_base *dns = evdns_base_new(base, 0);
    CHECK(dns != NULL && evdns_base_nameserver_ip_add(dns, ns) == 0);
    struct user u;
    memset(&u, 0, sizeof(u));
    CHECK(conn_new(&u, base, dns, "redis.example.invalid", 6379, NULL, 0, 1000000) != NULL);
    redis_conn_start(u.c);
    spin(base, 30);
    CHECK(u.ups == 0 && u.downs == 0);
    redis_conn_free(u.c);
    spin(base, 20);
    CHECK(u.downs == 0);
    evdns_base_free(dns, 0);
    close(fd);
}

int main(void) {
    struct event_base *base = event_base_new();
    struct evdns_base *dns = evdns_base_new(base, 0);
    CHECK(base != NULL && dns != NULL);
    test_backoff();
    test_no_address();
    test_up_down_back(base, dns);
    test_handshake_fails(base, dns);
    test_free_in_down(base, dns);
    test_free_resolving(base);
    evdns_base_free(dns, 0);
    event_base_free(base);
    printf("redis_conn_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
