/* outbox.c - the intake and the delivery engine (see outbox.h).
 *
 * The engine holds at most a handful of messages: a batch taken from the
 * store (ready), the one being admitted (head: waiting for a token, then
 * for the quota), and those being delivered (at most MAX_IN_FLIGHT). It
 * looks for work (pump) when a put becomes durable, when a delivery ends,
 * when a token may be free again, and every second (due retries, the
 * quota, the store's upkeep). */
#include "proxy/outbox/outbox.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "api/model.h"
#include "api/restjson.h"
#include "proxy/config.h"
#include "proxy/creds/creds_store.h"
#include "proxy/http/server.h"
#include "proxy/http/signed_request.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/outbox/outbox_store.h"
#include "proxy/pipeline/prepare.h"
#include "proxy/proxy.h"
#include "proxy/throttle/quota.h"
#include "proxy/throttle/throttle.h"

#define MAX_IN_FLIGHT 16
#define TAKE_BATCH 16
#define TICK_MS 1000
/* A token refused: try again after the bucket's hint, within these. */
#define WAIT_MIN_US 1000u
#define WAIT_MAX_US 1000000u

enum head_phase { H_READY, H_TOKENS, H_QUOTA };

enum result { R_SENT, R_FAILED, R_RETRY, R_QUOTA, R_EXPIRED, N_RESULTS };
static const char *const result_names[N_RESULTS] = {"sent", "failed", "retry", "held", "expired"};

struct delivery {
    struct outbox *ob;
    struct outbox_msg *m;
    void *r;         /* the pipeline's call */
    double reserved; /* recipients counted against the quota */
    int starting;    /* inside request_send_detached */
    int ended;       /* answered while starting */
    LIST_ENTRY(delivery) link;
};

struct outbox_pending {
    struct outbox *ob;
    struct outbox_wait *w;
    outbox_accepted_fn cb;
    void *arg;
    char request_id[65];
    LIST_ENTRY(outbox_pending) link;
};

struct outbox_lookup {
    struct outbox *ob;
    struct outbox_wait *w;
    outbox_found_fn cb;
    void *arg;
    int in_get;   /* inside the store's get */
    int answered; /* ... and answered there */
    LIST_ENTRY(outbox_lookup) link;
};

struct outbox {
    struct proxy *px;
    const struct outbox_sender *sender;
    struct outbox_store *store;
    struct event *tick;
    struct event *pump_ev;
    struct event *wait_timer; /* a token refused: try again then */
    struct outbox_msg_list ready;
    struct outbox_msg *head;
    enum head_phase phase;
    struct throttle_ticket ticket;
    struct outbox_wait *quota_wait;
    int taking;
    int held; /* the daily quota is spent */
    LIST_HEAD(, delivery) deliveries;
    size_t in_flight;
    LIST_HEAD(, outbox_pending) pending;
    LIST_HEAD(, outbox_lookup) lookups;
    uint64_t results[N_RESULTS];
};

static void pump(struct outbox *ob);

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One log line per state change, with the OutboxId and the caller's
 * request id (never the message). */
static void log_change(const struct outbox_msg *m, const char *msg, const struct outbox_error *e) {
    char attempts[16];
    snprintf(attempts, sizeof(attempts), "%d", m->st.attempts);
    log_event(e != NULL && m->st.state == OUTBOX_FAILED ? LOG_WARN : LOG_INFO, msg, "outbox_id",
              m->id, "request_id", m->st.request_id, "status", outbox_state_name(m->st.state),
              "operation", m->st.op, "attempts", attempts, e != NULL ? "error" : NULL,
              e != NULL ? e->code : NULL, "reason", e != NULL ? e->message : NULL, NULL);
}

static void wake_soon(struct outbox *ob) { event_active(ob->pump_ev, EV_TIMEOUT, 0); }

/* Writes m's state (finished, or queued again), then says so in the log
 * (so that a line is never ahead of the store), and lets m go. */
static void settle(struct outbox *ob, struct outbox_msg *m, int finish, const char *msg,
                   const struct outbox_error *e) {
    if (finish) {
        ob->store->ops->finish(ob->store, m);
    } else {
        ob->store->ops->release(ob->store, m);
    }
    if (msg != NULL) {
        log_change(m, msg, e);
    }
    outbox_msg_free(m);
}

static void on_wake(void *arg) { wake_soon(arg); }

/* --------------------------------------------------------------- finishing */

static void set_error(struct outbox_error *e, const char *code, const char *message) {
    snprintf(e->code, sizeof(e->code), "%s", code != NULL ? code : "InternalError");
    snprintf(e->message, sizeof(e->message), "%s", message != NULL ? message : "");
}

static void finish_failed(struct outbox *ob, struct outbox_msg *m, enum outbox_event ev,
                          const char *code, const char *message) {
    int to = outbox_transition(m->st.state, ev);
    m->st.state = to >= 0 ? (enum outbox_state)to : OUTBOX_FAILED;
    m->st.updated_ms = wall_ms();
    m->st.next_ms = 0;
    set_error(&m->st.error, code, message);
    ob->results[ev == OUTBOX_EV_EXPIRED ? R_EXPIRED : R_FAILED]++;
    settle(ob, m, 1, "outbox: failed", &m->st.error);
}

/* Queued past outbox.max_age_s. */
static int expired(const struct outbox *ob, const struct outbox_msg *m, int64_t at_ms) {
    return at_ms > m->st.created_ms + ob->store->limits.max_age_ms;
}

static void expire(struct outbox *ob, struct outbox_msg *m) {
    char why[600];
    snprintf(why, sizeof(why), "not delivered within outbox.max_age_s (%lld s)%s%s",
             (long long)(ob->store->limits.max_age_ms / 1000),
             m->st.last.code[0] != '\0' ? "; the last attempt: " : "",
             m->st.last.code[0] != '\0' ? m->st.last.code : "");
    finish_failed(ob, m, OUTBOX_EV_EXPIRED, "Expired", why);
}

/* ------------------------------------------------------------ the answer */

/* What a JSON-mode caller would have got: its status, Error, MessageId and
 * the per-destination results of a bulk send (v1 SendBulkTemplatedEmail's
 * Status, v2 SendBulkEmail's BulkEmailEntryResults). */
struct reading {
    const char *code, *message;
    const char *message_id;
    json_t *results;
};

static json_t *read_answer(struct evbuffer *body, struct reading *rd) {
    memset(rd, 0, sizeof(*rd));
    if (body == NULL) {
        return NULL;
    }
    size_t len = evbuffer_get_length(body);
    json_t *doc = json_loadb((const char *)evbuffer_pullup(body, -1), len, 0, NULL);
    json_t *e = json_object_get(doc, "Error");
    rd->code = json_string_value(json_object_get(e, "Code"));
    rd->message = json_string_value(json_object_get(e, "Message"));
    rd->message_id = json_string_value(json_object_get(doc, "MessageId"));
    json_t *st = json_object_get(doc, "Status");
    if (!json_is_array(st)) {
        st = json_object_get(doc, "BulkEmailEntryResults");
    }
    rd->results = json_is_array(st) ? st : NULL;
    return doc;
}

static void give_back_quota(struct outbox *ob, struct delivery *d) {
    if (d->reserved > 0) {
        ob->store->ops->quota_add(ob->store, -d->reserved, wall_ms());
        d->reserved = 0;
    }
}

static void hold(struct outbox *ob);

/* SES (or the pipeline) answered a delivery. */
static void on_delivered(void *arg, int status, struct evbuffer *body) {
    struct delivery *d = arg;
    struct outbox *ob = d->ob;
    struct outbox_msg *m = d->m;
    d->r = NULL; /* the pipeline frees it after we return */
    LIST_REMOVE(d, link);
    ob->in_flight--;
    struct reading rd;
    json_t *doc = read_answer(body, &rd);
    int64_t now = wall_ms();
    m->st.updated_ms = now;
    switch (outbox_classify(status, rd.code, rd.message)) {
    case OUTBOX_OUT_SENT:
        m->st.state = (enum outbox_state)outbox_transition(m->st.state, OUTBOX_EV_SENT);
        snprintf(m->st.message_id, sizeof(m->st.message_id), "%s",
                 rd.message_id != NULL ? rd.message_id : "");
        m->st.last.code[0] = m->st.last.message[0] = '\0';
        m->st.next_ms = 0;
        if (rd.results != NULL) {
            m->st.results = json_incref(rd.results);
        }
        ob->results[R_SENT]++;
        settle(ob, m, 1, "outbox: sent", NULL);
        break;
    case OUTBOX_OUT_PERMANENT:
        give_back_quota(ob, d);
        finish_failed(ob, m, OUTBOX_EV_PERMANENT, rd.code != NULL ? rd.code : "InternalError",
                      rd.message);
        break;
    case OUTBOX_OUT_QUOTA:
        give_back_quota(ob, d);
        m->st.state = (enum outbox_state)outbox_transition(m->st.state, OUTBOX_EV_QUOTA);
        set_error(&m->st.last, rd.code, rd.message);
        m->st.next_ms = 0;
        ob->results[R_QUOTA]++;
        settle(ob, m, 0, "outbox: held for the daily quota", &m->st.last);
        ob->store->ops->quota_exceeded(ob->store);
        if (ob->px->quota != NULL) {
            quota_refresh_now(ob->px->quota);
        }
        hold(ob);
        break;
    case OUTBOX_OUT_RETRY:
        give_back_quota(ob, d);
        m->st.state = (enum outbox_state)outbox_transition(m->st.state, OUTBOX_EV_RETRY);
        set_error(&m->st.last, rd.code != NULL ? rd.code : "BadGateway", rd.message);
        m->st.next_ms =
            now + outbox_backoff_ms(m->st.attempts, (double)arc4random() / 4294967296.0);
        if (expired(ob, m, m->st.next_ms)) {
            /* finish_failed wants the state the event leaves from */
            expire(ob, m);
            break;
        }
        ob->results[R_RETRY]++;
        settle(ob, m, 0, "outbox: queued for a retry", &m->st.last);
        break;
    }
    json_decref(doc);
    if (d->starting) {
        d->ended = 1; /* start_delivery frees it */
    } else {
        free(d);
    }
    wake_soon(ob);
}

/* ---------------------------------------------------------------- sending */

/* The stored call's operation: a sending call of one of the models this
 * build has, or NULL (a record this build cannot replay). */
static const struct model_op *op_of(const struct outbox *ob, const struct outbox_msg *m) {
    (void)ob;
    const struct model_service *svcs[] = {&model_ses, &model_sesv2};
    for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
        if (strcmp(m->req.api, svcs[i]->service_id) == 0) {
            const struct model_op *op = model_find_op(svcs[i], m->req.op, strlen(m->req.op));
            return op != NULL && op->op_class == MODEL_OP_SEND ? op : NULL;
        }
    }
    return NULL;
}

/* The stored request as a prepared call for the pipeline: strings copied
 * (prepare_clear frees them), the body by reference to the message's. */
static int stored_call(const struct outbox_msg *m, const struct model_op *op,
                       struct prepared *call) {
    memset(call, 0, sizeof(*call));
    call->svc = model_op_service(op);
    call->op = op;
    call->recipients = m->req.recipients;
    call->method = op->http.method != NULL ? op->http.method : "POST";
    call->content_type = call->svc == &model_sesv2 ? "application/json" : SIGNED_REQUEST_FORM_CT;
    snprintf(call->endpoint_id, sizeof(call->endpoint_id), "%s", m->req.endpoint_id);
    call->path = strdup(m->req.path);
    call->body = evbuffer_new();
    if (m->req.n_headers > 0) {
        call->headers = calloc(m->req.n_headers, sizeof(*call->headers));
        for (size_t i = 0; call->headers != NULL && i < m->req.n_headers; i++) {
            const struct outbox_header *h = &m->req.headers[i];
            call->headers[i].name = strndup(h->name, h->name_len);
            call->headers[i].value = strndup(h->value, h->value_len);
            call->n_headers++;
            if (call->headers[i].name == NULL || call->headers[i].value == NULL) {
                return -1;
            }
        }
        if (call->headers == NULL) {
            return -1;
        }
    }
    if (call->path == NULL || call->body == NULL ||
        evbuffer_add_reference(call->body, m->req.body, m->req.body_len, NULL, NULL) < 0) {
        return -1;
    }
    return 0;
}

static void start_delivery(struct outbox *ob, struct outbox_msg *m, double reserved) {
    const struct model_op *op = op_of(ob, m);
    struct delivery *d = calloc(1, sizeof(*d));
    struct prepared call;
    if (d == NULL || stored_call(m, op, &call) < 0) {
        prepare_clear(&call);
        free(d);
        ob->store->ops->quota_add(ob->store, -reserved, wall_ms());
        m->st.next_ms = wall_ms() + 1000; /* out of memory: later */
        settle(ob, m, 0, NULL, NULL);
        return;
    }
    d->ob = ob;
    d->m = m;
    d->reserved = reserved;
    m->st.state = (enum outbox_state)outbox_transition(m->st.state, OUTBOX_EV_ATTEMPT);
    m->st.attempts++;
    m->st.updated_ms = wall_ms();
    m->st.next_ms = 0;
    ob->store->ops->save(ob->store, m);
    log_change(m, "outbox: sending", NULL);
    LIST_INSERT_HEAD(&ob->deliveries, d, link);
    ob->in_flight++;
    d->starting = 1;
    void *r = ob->sender->send(ob->px, &call, m->st.request_id, on_delivered, d);
    if (d->ended) {
        free(d); /* answered before it returned (r is NULL) */
        return;
    }
    d->starting = 0;
    d->r = r;
}

/* --------------------------------------------------------------- admission */

static void release_all(struct outbox *ob) {
    struct outbox_msg *m;
    if (ob->head != NULL) {
        throttle_cancel(&ob->ticket);
        if (ob->quota_wait != NULL) {
            ob->store->ops->cancel(ob->store, ob->quota_wait);
            ob->quota_wait = NULL;
        }
        settle(ob, ob->head, 0, NULL, NULL);
        ob->head = NULL;
    }
    while ((m = TAILQ_FIRST(&ob->ready)) != NULL) {
        TAILQ_REMOVE(&ob->ready, m, link);
        settle(ob, m, 0, NULL, NULL);
    }
}

/* The daily quota is spent: everything goes back to the store until the
 * quota shows room (tick). */
static void hold(struct outbox *ob) {
    if (!ob->held) {
        log_event(LOG_WARN, "outbox: the daily sending quota is spent; messages wait", NULL);
    }
    ob->held = 1;
    release_all(ob);
}

static void on_quota(void *arg, int ok) {
    struct outbox *ob = arg;
    ob->quota_wait = NULL;
    struct outbox_msg *m = ob->head;
    if (m == NULL) {
        return;
    }
    if (!ok) {
        hold(ob);
        return;
    }
    ob->head = NULL;
    start_delivery(ob, m, m->req.recipients);
    pump(ob);
}

static void arm_wait(struct outbox *ob, uint64_t us) {
    us = us < WAIT_MIN_US ? WAIT_MIN_US : us > WAIT_MAX_US ? WAIT_MAX_US : us;
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    evtimer_add(ob->wait_timer, &tv);
}

static void on_tokens(void *arg, int granted, uint64_t retry_after_us) {
    struct outbox *ob = arg;
    if (ob->head == NULL) {
        return;
    }
    if (!granted) {
        ob->phase = H_READY;
        arm_wait(ob, retry_after_us);
        return;
    }
    ob->phase = H_QUOTA;
    struct outbox_wait *w = NULL;
    ob->store->ops->quota_reserve(ob->store, ob->head->req.recipients, wall_ms(), on_quota, ob, &w);
    if (ob->head != NULL && ob->phase == H_QUOTA) {
        ob->quota_wait = w;
    }
}

/* A token for the head, only if one is free now (see outbox.h). */
static void admit_head(struct outbox *ob) {
    struct proxy *px = ob->px;
    const struct model_op *op = op_of(ob, ob->head);
    ob->phase = H_TOKENS;
    throttle_ticket_init(&ob->ticket, on_tokens, ob);
    ob->ticket.now_only = 1;
    throttle_ticket_add(&ob->ticket, proxy_op_bucket(px, op), 1);
    throttle_ticket_add(&ob->ticket, px->send_bucket, ob->head->req.recipients);
    uint64_t wait = 0;
    switch (throttle_acquire(px->throttle, &ob->ticket, &wait)) {
    case THROTTLE_GRANTED:
        on_tokens(ob, 1, 0);
        break;
    case THROTTLE_QUEUED:
        break; /* Redis decides: on_tokens */
    case THROTTLE_REFUSED:
        on_tokens(ob, 0, wait);
        break;
    }
}

static void on_taken(void *arg, struct outbox_msg_list *msgs) {
    struct outbox *ob = arg;
    ob->taking = 0;
    struct outbox_msg *m;
    int any = 0;
    while ((m = TAILQ_FIRST(msgs)) != NULL) {
        TAILQ_REMOVE(msgs, m, link);
        TAILQ_INSERT_TAIL(&ob->ready, m, link);
        any = 1;
    }
    if (any) {
        wake_soon(ob);
    }
}

/* May a delivery start now at all? */
static int can_deliver(struct outbox *ob) {
    const char *why = NULL;
    return !ob->px->draining && !ob->held && ob->in_flight < MAX_IN_FLIGHT &&
           creds_store_current(ob->px->creds, time(NULL), &why) != NULL;
}

static void pump(struct outbox *ob) {
    if (ob->px->draining) {
        release_all(ob); /* no new deliveries; what is held goes back */
        return;
    }
    while (can_deliver(ob)) {
        if (ob->head != NULL) {
            if (ob->phase == H_READY && !evtimer_pending(ob->wait_timer, NULL)) {
                admit_head(ob);
                continue;
            }
            return; /* waiting for a token or the quota */
        }
        struct outbox_msg *m = TAILQ_FIRST(&ob->ready);
        if (m == NULL) {
            if (!ob->taking) {
                ob->taking = 1;
                ob->store->ops->take(ob->store, TAKE_BATCH, wall_ms(), on_taken, ob);
            }
            return;
        }
        TAILQ_REMOVE(&ob->ready, m, link);
        if (m->st.state != OUTBOX_QUEUED) {
            /* Recovered or claimed while being sent: queued again. */
            int to = outbox_transition(m->st.state, OUTBOX_EV_RECOVER);
            m->st.state = to >= 0 ? (enum outbox_state)to : OUTBOX_QUEUED;
            log_change(m, "outbox: queued again (its sender stopped)", NULL);
        }
        if (expired(ob, m, wall_ms())) {
            expire(ob, m);
            continue;
        }
        if (op_of(ob, m) == NULL) {
            finish_failed(ob, m, OUTBOX_EV_EXPIRED, "UnsupportedOperation",
                          "the stored request is not a sending call this proxy can send");
            continue;
        }
        ob->head = m;
        ob->phase = H_READY;
    }
}

static void on_pump(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    pump(arg);
}

/* Every second: the store's upkeep, the quota hold, due retries. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct outbox *ob = arg;
    int64_t now = wall_ms();
    ob->store->ops->tick(ob->store, now);
    if (ob->held) {
        struct outbox_quota_view v;
        ob->store->ops->quota_view(ob->store, now, &v);
        if (v.left != 0) {
            ob->held = 0;
            log_event(LOG_INFO, "outbox: the daily quota has room again; delivering", NULL);
        }
    }
    pump(ob);
}

/* ---------------------------------------------------------------- intake */

int outbox_intake(const struct outbox *ob, const struct server_request *sr,
                  struct outbox_intake *in, struct sp_err *err) {
    memset(in, 0, sizeof(*in));
    if (ob == NULL || !sr->prefer_async) {
        return 0;
    }
    ENSURE(!sr->idempotency_key_bad, err, "InvalidIdempotencyKey",
           "Idempotency-Key must be 1 to 255 printable ASCII characters (a quoted string or "
           "the bare characters), given once");
    in->async = 1;
    snprintf(in->key, sizeof(in->key), "%s", sr->idempotency_key);
    /* The body as received: an idempotent repeat must be byte-identical. */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ENSURE_REF(md, err);
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    int n = evbuffer_peek(sr->body, -1, NULL, NULL, 0);
    struct evbuffer_iovec v;
    struct evbuffer_ptr pos;
    evbuffer_ptr_set(sr->body, &pos, 0, EVBUFFER_PTR_SET);
    for (int i = 0; ok && i < n; i++) {
        if (evbuffer_peek(sr->body, -1, &pos, &v, 1) < 1) {
            break;
        }
        ok = EVP_DigestUpdate(md, v.iov_base, v.iov_len) == 1;
        evbuffer_ptr_set(sr->body, &pos, v.iov_len, EVBUFFER_PTR_ADD);
    }
    ok = ok && EVP_DigestFinal_ex(md, in->body_sha256, NULL) == 1;
    EVP_MD_CTX_free(md);
    ENSURE(ok, err, "InternalError", "cannot hash the body");
    return 0;
}

int outbox_takes(const struct outbox_intake *in, const struct prepared *call) {
    return in->async && call->op != NULL && !call->passthrough &&
           call->op->op_class == MODEL_OP_SEND;
}

/* The key's fingerprint: the operation and the body (outbox.h). */
static int idem_hash(const struct outbox_intake *in, const char *op, uint8_t out[32]) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, op, strlen(op) + 1) == 1 &&
             EVP_DigestUpdate(md, in->body_sha256, 32) == 1 &&
             EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static void make_id(char out[OUTBOX_ID_LEN + 1]) {
    uint8_t raw[16];
    arc4random_buf(raw, sizeof(raw)); /* the kernel's CSPRNG (getrandom) */
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    out[OUTBOX_ID_LEN] = '\0';
}

/* "ip" of "ip:port", "ip" of "[ip]:port", "unix" as it is. */
static void client_address(const char *client, char *out, size_t cap) {
    const char *colon = strrchr(client, ':');
    size_t n = colon != NULL ? (size_t)(colon - client) : strlen(client);
    if (n >= 2 && client[0] == '[' && client[n - 1] == ']') {
        client++;
        n -= 2;
    }
    snprintf(out, cap, "%.*s", (int)n, client);
}

static void on_put(void *arg, const struct outbox_put_answer *a) {
    struct outbox_pending *p = arg;
    struct outbox_accepted r;
    memset(&r, 0, sizeof(r));
    LIST_REMOVE(p, link);
    switch (a->result) {
    case OUTBOX_PUT_STORED:
    case OUTBOX_PUT_EXISTING:
        r.status = 202;
        memcpy(r.id, a->id, sizeof(r.id));
        r.state = a->result == OUTBOX_PUT_STORED ? "queued" : outbox_state_name(a->st.state);
        if (a->result == OUTBOX_PUT_STORED) {
            log_event(LOG_INFO, "outbox: queued", "outbox_id", r.id, "request_id", p->request_id,
                      "status", "queued", NULL);
        }
        break;
    case OUTBOX_PUT_KEY_REUSED:
        r.status = 422;
        r.code = "IdempotencyKeyReused";
        snprintf(r.message, sizeof(r.message),
                 "this Idempotency-Key was used for another request (a different operation or "
                 "body); use a new key for a new message");
        break;
    case OUTBOX_PUT_KEY_BUSY:
        r.status = 409;
        r.code = "IdempotencyKeyInUse";
        snprintf(r.message, sizeof(r.message),
                 "a request with this Idempotency-Key is being stored right now; retry");
        break;
    case OUTBOX_PUT_FULL:
        r.status = 503;
        r.code = "OutboxFull";
        r.retry_after_s = 5;
        snprintf(r.message, sizeof(r.message), "%s; nothing was stored", a->why);
        break;
    case OUTBOX_PUT_UNAVAILABLE:
        r.status = 503;
        r.code = "OutboxUnavailable";
        r.retry_after_s = 1;
        snprintf(r.message, sizeof(r.message), "%s; nothing was stored", a->why);
        break;
    }
    p->cb(p->arg, &r);
    free(p);
}

struct outbox_pending *outbox_accept(struct outbox *ob, const struct outbox_intake *in,
                                     const struct prepared *call, const char *request_id,
                                     const char *client, outbox_accepted_fn cb, void *arg) {
    struct outbox_pending *p = calloc(1, sizeof(*p));
    struct evbuffer *rec = evbuffer_new();
    struct outbox_new m;
    memset(&m, 0, sizeof(m));
    if (p == NULL || rec == NULL) {
        goto fail;
    }
    /* "SendEmail" or "v2:SendEmail": one key cannot stand for both. */
    char op_name[sizeof(((struct outbox_status *)0)->op)];
    snprintf(op_name, sizeof(op_name), "%s%s", model_op_prefix(call->op), call->op->name);
    struct outbox_request req = {.recipients = call->recipients};
    snprintf(req.api, sizeof(req.api), "%s", call->svc->service_id);
    snprintf(req.op, sizeof(req.op), "%s", call->op->name);
    snprintf(req.method, sizeof(req.method), "%s", call->method);
    snprintf(req.path, sizeof(req.path), "%s", call->path != NULL ? call->path : "/");
    snprintf(req.endpoint_id, sizeof(req.endpoint_id), "%s", call->endpoint_id);
    snprintf(req.content_type, sizeof(req.content_type), "%s",
             call->content_type != NULL ? call->content_type : "application/json");
    for (size_t i = 0; i < call->n_headers && req.n_headers < OUTBOX_MAX_HEADERS; i++) {
        const struct restjson_header *h = &call->headers[i];
        if (strcasecmp(h->name, "Content-Type") == 0) {
            continue; /* the record's content type */
        }
        req.headers[req.n_headers++] =
            (struct outbox_header){h->name, h->value, strlen(h->name), strlen(h->value)};
    }
    req.body_len = call->body != NULL ? evbuffer_get_length(call->body) : 0;
    req.body = req.body_len > 0 ? evbuffer_pullup(call->body, -1) : (const uint8_t *)"";
    if ((req.body == NULL && req.body_len > 0) || outbox_request_encode(&req, rec) < 0 ||
        idem_hash(in, op_name, m.idem_hash) < 0) {
        goto fail;
    }
    make_id(m.id);
    int64_t now = wall_ms();
    outbox_status_init(&m.st);
    m.st.state = OUTBOX_QUEUED;
    m.st.created_ms = m.st.updated_ms = now;
    snprintf(m.st.op, sizeof(m.st.op), "%s", op_name);
    client_address(client, m.st.client, sizeof(m.st.client));
    snprintf(m.st.request_id, sizeof(m.st.request_id), "%s", request_id);
    m.record_len = evbuffer_get_length(rec);
    m.record = evbuffer_pullup(rec, -1);
    m.idem_key = in->key[0] != '\0' ? in->key : NULL;
    p->ob = ob;
    p->cb = cb;
    p->arg = arg;
    snprintf(p->request_id, sizeof(p->request_id), "%s", request_id);
    LIST_INSERT_HEAD(&ob->pending, p, link);
    ob->store->ops->put(ob->store, &m, on_put, p, &p->w);
    evbuffer_free(rec);
    if (p->w == NULL) {
        LIST_REMOVE(p, link);
        free(p);
        return NULL;
    }
    return p;
fail:
    if (rec != NULL) {
        evbuffer_free(rec);
    }
    free(p);
    return NULL;
}

void outbox_accept_cancel(struct outbox *ob, struct outbox_pending *p) {
    ob->store->ops->cancel(ob->store, p->w);
    LIST_REMOVE(p, link);
    free(p);
}

/* ---------------------------------------------------------- the rest of it */

size_t outbox_busy(const struct outbox *ob) {
    return ob != NULL ? ob->in_flight + ob->store->ops->pending(ob->store) : 0;
}

int outbox_ready(struct outbox *ob, const char **why) {
    return ob->store->ops->ready(ob->store, why);
}

void outbox_note_sent(struct outbox *ob, double recipients) {
    if (ob != NULL && recipients > 0) {
        ob->store->ops->quota_add(ob->store, recipients, wall_ms());
    }
}

void outbox_note_quota_exceeded(struct outbox *ob) {
    if (ob != NULL) {
        ob->store->ops->quota_exceeded(ob->store);
        hold(ob);
    }
}

void outbox_note_send_quota(struct outbox *ob, double max24, double sent24) {
    if (ob != NULL) {
        ob->store->ops->quota_set_ses(ob->store, max24, sent24);
    }
}

static void on_found(void *arg, int found, const struct outbox_status *st, const char *why) {
    struct outbox_lookup *l = arg;
    l->cb(l->arg, found, st, why);
    if (l->in_get) {
        l->answered = 1; /* outbox_lookup frees it */
        return;
    }
    LIST_REMOVE(l, link);
    free(l);
}

struct outbox_lookup *outbox_lookup(struct outbox *ob, const char *id, outbox_found_fn cb,
                                    void *arg) {
    struct outbox_lookup *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        cb(arg, -1, NULL, "out of memory");
        return NULL;
    }
    l->ob = ob;
    l->cb = cb;
    l->arg = arg;
    LIST_INSERT_HEAD(&ob->lookups, l, link);
    struct outbox_wait *w = NULL;
    l->in_get = 1;
    ob->store->ops->get(ob->store, id, on_found, l, &w);
    l->in_get = 0;
    if (l->answered) {
        LIST_REMOVE(l, link);
        free(l);
        return NULL;
    }
    l->w = w;
    return l;
}

int outbox_lookup_owns(const struct outbox *ob, const void *handle) {
    const struct outbox_lookup *l;
    LIST_FOREACH(l, &ob->lookups, link) {
        if ((const void *)l == handle) {
            return 1;
        }
    }
    return 0;
}

void *outbox_lookup_cancel(struct outbox *ob, struct outbox_lookup *l) {
    void *arg = l->arg;
    ob->store->ops->cancel(ob->store, l->w);
    LIST_REMOVE(l, link);
    free(l);
    return arg;
}

const char *outbox_held_for(struct outbox *ob) {
    struct outbox_quota_view v;
    ob->store->ops->quota_view(ob->store, wall_ms(), &v);
    if (v.left == 0) {
        return "DailyQuota";
    }
    const char *why = NULL;
    if (creds_store_current(ob->px->creds, time(NULL), &why) == NULL) {
        return "Credentials";
    }
    return NULL;
}

void outbox_metrics(struct outbox *ob, struct evbuffer *out) {
    int64_t now = wall_ms();
    struct outbox_store_stats st;
    ob->store->ops->stats(ob->store, now, &st);
    const char *name = "ses_proxy_outbox_messages";
    metrics_text_family(out, name,
                        "Messages in the outbox by status (sent and failed: kept for "
                        "outbox.retention_s).",
                        "gauge");
    for (int i = 0; i < OUTBOX_N_STATES; i++) {
        metrics_text_sample(out, name, "status", outbox_state_name((enum outbox_state)i),
                            st.messages[i]);
    }
    metrics_text_gauge(out, "ses_proxy_outbox_oldest_age_seconds",
                       "Age of the oldest message not yet sent or failed (0: none).",
                       st.oldest_age_s);
    name = "ses_proxy_outbox_deliveries_total";
    metrics_text_family(out, name, "Delivery outcomes of this replica.", "counter");
    for (int i = 0; i < N_RESULTS; i++) {
        metrics_text_sample(out, name, "result", result_names[i], (double)ob->results[i]);
    }
    struct outbox_quota_view v;
    ob->store->ops->quota_view(ob->store, now, &v);
    name = "ses_proxy_outbox_quota_used";
    metrics_text_family(out, name,
                        "Recipients sent in the last 24 hours: by this replica, and for the "
                        "account (the larger of the counted and SES's SentLast24Hours).",
                        "gauge");
    metrics_text_sample(out, name, "scope", "replica", v.own_used);
    metrics_text_sample(out, name, "scope", "account", v.used);
    metrics_text_gauge(out, "ses_proxy_outbox_quota_left",
                       "Recipients the account may still send in the rolling 24 hours (-1: "
                       "unlimited, or GetSendQuota not answered yet).",
                       v.left);
    metrics_text_gauge(out, "ses_proxy_outbox_held", "1 while deliveries wait for the daily quota.",
                       ob->held);
}

/* ----------------------------------------------------------------- life */

static void set_limits(struct outbox *ob, const struct config *cfg) {
    struct outbox_limits *l = &ob->store->limits;
    l->max_messages = cfg->outbox.max_messages;
    l->max_bytes = (int64_t)cfg->outbox.max_bytes;
    l->max_age_ms = (int64_t)cfg->outbox.max_age_s * 1000;
    l->retention_ms = (int64_t)cfg->outbox.retention_s * 1000;
    l->claim_after_ms = cfg->outbox.claim_after_ms;
}

void outbox_set_config(struct outbox *ob, const struct config *cfg) {
    if (ob != NULL) {
        set_limits(ob, cfg);
    }
}

struct outbox *outbox_new(struct proxy *px, const struct config *cfg,
                          const struct outbox_sender *sender, struct sp_err *err) {
    struct outbox *ob = calloc(1, sizeof(*ob));
    if (ob == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    ob->px = px;
    ob->sender = sender;
    TAILQ_INIT(&ob->ready);
    LIST_INIT(&ob->deliveries);
    LIST_INIT(&ob->pending);
    LIST_INIT(&ob->lookups);
    ob->store = strcmp(cfg->outbox.store, "redis") == 0
                    ? outbox_store_redis_open(px->base, px->dns, cfg, err)
                    : outbox_store_file_open(px->base, cfg, err);
    if (ob->store == NULL) {
        free(ob);
        return NULL;
    }
    set_limits(ob, cfg);
    ob->store->wake = on_wake;
    ob->store->wake_arg = ob;
    ob->tick = event_new(px->base, -1, EV_PERSIST, on_tick, ob);
    ob->pump_ev = event_new(px->base, -1, 0, on_pump, ob);
    ob->wait_timer = evtimer_new(px->base, on_pump, ob);
    if (ob->tick == NULL || ob->pump_ev == NULL || ob->wait_timer == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        outbox_free(ob);
        return NULL;
    }
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
    evtimer_add(ob->tick, &tv);
    wake_soon(ob);
    return ob;
}

void outbox_free(struct outbox *ob) {
    if (ob == NULL) {
        return;
    }
    release_all(ob);
    struct delivery *d;
    while ((d = LIST_FIRST(&ob->deliveries)) != NULL) {
        LIST_REMOVE(d, link);
        if (d->r != NULL) {
            ob->sender->abort(d->r); /* no callback */
        }
        outbox_msg_free(d->m); /* left "sending" in the store: recovered later */
        free(d);
    }
    struct outbox_pending *p;
    while ((p = LIST_FIRST(&ob->pending)) != NULL) {
        outbox_accept_cancel(ob, p);
    }
    struct outbox_lookup *l;
    while ((l = LIST_FIRST(&ob->lookups)) != NULL) {
        free(outbox_lookup_cancel(ob, l)); /* outbox_http's context */
    }
    struct event *evs[] = {ob->tick, ob->pump_ev, ob->wait_timer};
    for (size_t i = 0; i < 3; i++) {
        if (evs[i] != NULL) {
            event_free(evs[i]);
        }
    }
    ob->store->ops->free(ob->store);
    free(ob);
}
