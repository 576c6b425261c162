/* outbox_http.c - the 202 and the status document (see outbox_http.h). */
#include "proxy/outbox/outbox_http.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/iso8601.h"
#include "proxy/config.h"
#include "proxy/http/server.h"
#include "proxy/outbox/outbox.h"
#include "proxy/pipeline/reply.h"
#include "proxy/proxy.h"

#define PREFIX "/outbox/"

static void send_json(struct server_conn *conn, int status, json_t *doc,
                      const struct server_header *h, size_t n_h) {
    char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        free(s);
        return;
    }
    if (s != NULL) {
        evbuffer_add(b, s, strlen(s));
    } else {
        evbuffer_add_printf(b, "{\"Error\":{\"Code\":\"InternalError\"}}");
        status = 500;
    }
    server_respond(conn, status, REPLY_CT_JSON, b, h, n_h);
    evbuffer_free(b);
    free(s);
}

static json_t *metadata(const char *request_id, int status) {
    return json_pack("{s:s, s:i, s:i}", "RequestId", request_id, "HTTPStatusCode", status,
                     "RetryAttempts", 0);
}

void outbox_http_accepted(struct server_conn *conn, const struct outbox_accepted *a,
                          const char *request_id) {
    char location[sizeof(PREFIX) + OUTBOX_ID_LEN];
    snprintf(location, sizeof(location), PREFIX "%s", a->id);
    struct server_header h[] = {{"Preference-Applied", "respond-async"}, {"Location", location}};
    json_t *doc = json_pack("{s:s, s:s, s:o}", "OutboxId", a->id, "Status", a->state,
                            "ResponseMetadata", metadata(request_id, 202));
    send_json(conn, 202, doc, h, 2);
    json_decref(doc);
}

int outbox_http_serves(const struct server_request *sr) {
    return (strcmp(sr->method, "GET") == 0 || strcmp(sr->method, "HEAD") == 0) &&
           strncmp(sr->path, PREFIX, sizeof(PREFIX) - 1) == 0;
}

/* ------------------------------------------------------------ the lookup */

struct lookup_ctx {
    struct proxy *px;
    struct server_conn *conn;
    char id[OUTBOX_ID_LEN + 1];
    char request_id[65];
    char client[64];
};

static int is_id(const char *s) {
    if (strlen(s) != OUTBOX_ID_LEN) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static void answer_error(struct proxy *px, struct server_conn *conn, const char *request_id,
                         int status, const char *code, const char *message) {
    reply_error(px, conn, request_id, REPLY_JSON, status, code, message, 0);
}

static int set_time(json_t *o, const char *key, int64_t ms) {
    struct iso8601_time t = {ms / 1000, (int32_t)(ms % 1000) * 1000};
    char buf[ISO8601_FORMAT_MAX];
    if (iso8601_format(t, 3, buf, sizeof(buf)) < 0) {
        return -1;
    }
    return json_object_set_new(o, key, json_string(buf));
}

static int set_error(json_t *o, const char *key, const struct outbox_error *e) {
    return json_object_set_new(o, key,
                               json_pack("{s:s, s:s}", "Code", e->code, "Message", e->message));
}

static json_t *status_doc(struct proxy *px, const char *id, const struct outbox_status *st,
                          const char *request_id) {
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:i}", "OutboxId", id, "Status", outbox_state_name(st->state),
                  "Operation", st->op, "Attempts", st->attempts);
    if (o == NULL) {
        return NULL;
    }
    int rc = set_time(o, "CreatedAt", st->created_ms) | set_time(o, "UpdatedAt", st->updated_ms);
    if (st->state == OUTBOX_SENT && st->message_id[0] != '\0') {
        rc |= json_object_set_new(o, "MessageId", json_string(st->message_id));
    }
    if (st->state == OUTBOX_SENT && st->results != NULL) {
        rc |= json_object_set(o, "Results", st->results);
    }
    if (st->state == OUTBOX_FAILED) {
        rc |= set_error(o, "Error", &st->error);
    }
    if (st->state == OUTBOX_QUEUED) {
        if (st->last.code[0] != '\0') {
            rc |= set_error(o, "LastError", &st->last);
        }
        if (st->next_ms > 0) {
            rc |= set_time(o, "NextAttemptAt", st->next_ms);
        }
        const char *held = outbox_held_for(px->outbox);
        if (held != NULL) {
            rc |= json_object_set_new(o, "HeldFor", json_string(held));
        }
    }
    rc |= json_object_set_new(o, "ResponseMetadata", metadata(request_id, 200));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The creator's address, or anyone with status_readers "any". */
static int may_read(const struct proxy *px, const struct outbox_status *st, const char *client) {
    if (strcmp(px->cfg->outbox.status_readers, "any") == 0) {
        return 1;
    }
    size_t n = strlen(st->client);
    /* client is "ip:port", "[v6]:port" or "unix"; st->client the bare ip. */
    if (strcmp(client, "unix") == 0) {
        return strcmp(st->client, "unix") == 0;
    }
    if (client[0] == '[') {
        return strncmp(client + 1, st->client, n) == 0 && client[n + 1] == ']';
    }
    return strncmp(client, st->client, n) == 0 && client[n] == ':';
}

static void on_found(void *arg, int found, const struct outbox_status *st, const char *why) {
    struct lookup_ctx *c = arg;
    struct proxy *px = c->px;
    if (found < 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the outbox store cannot answer now: %s",
                 why != NULL ? why : "unknown");
        answer_error(px, c->conn, c->request_id, 503, "OutboxUnavailable", msg);
    } else if (found == 0 || !may_read(px, st, c->client)) {
        answer_error(px, c->conn, c->request_id, 404, "NotFound", "no such OutboxId");
    } else {
        json_t *doc = status_doc(px, c->id, st, c->request_id);
        struct reply_record rec = {
            .request_id = c->request_id, .client = c->client, .status = 200, .style = REPLY_JSON};
        reply_account(px, &rec);
        send_json(c->conn, 200, doc, NULL, 0);
        json_decref(doc);
    }
    free(c);
}

void *outbox_http_get(struct proxy *px, struct server_conn *conn, const struct server_request *sr) {
    const char *id = sr->path + sizeof(PREFIX) - 1;
    if (px->outbox == NULL) {
        answer_error(px, conn, sr->request_id, 404, "NotFound",
                     "no outbox is configured (the config has no \"outbox\" section)");
        return NULL;
    }
    if (!is_id(id)) {
        answer_error(px, conn, sr->request_id, 404, "NotFound", "no such OutboxId");
        return NULL;
    }
    struct lookup_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        answer_error(px, conn, sr->request_id, 500, "InternalError", "out of memory");
        return NULL;
    }
    c->px = px;
    c->conn = conn;
    memcpy(c->id, id, sizeof(c->id));
    snprintf(c->request_id, sizeof(c->request_id), "%s", sr->request_id);
    snprintf(c->client, sizeof(c->client), "%s", sr->client);
    return outbox_lookup(px->outbox, id, on_found, c);
}

int outbox_http_owns(struct proxy *px, const void *call) {
    return px->outbox != NULL && outbox_lookup_owns(px->outbox, call);
}

void outbox_http_abort(struct proxy *px, void *call) {
    free(outbox_lookup_cancel(px->outbox, call));
}
