/* outbox.h - asynchronous sends: accept a mail now, deliver it at SES's
 * pace, lose none.
 *
 * A sending call in JSON mode with "Prefer: respond-async" (RFC 7240) is
 * validated and policed as every call is (prepare.h), then stored durably
 * (outbox_store.h: SQLite on disk, or a Redis stream shared by replicas)
 * and answered 202 with its OutboxId; GET /outbox/{OutboxId}
 * (outbox_http.h) reports its state. This module is the rest: the intake
 * (idempotency keys, the body's hash), and the delivery engine.
 *
 * Delivery takes messages from the store oldest first and sends each
 * through the pipeline (request.h's detached calls: the same signing,
 * upstream and reading of SES's answer as a synchronous call), after two
 * admissions:
 *   - the throttle: the same buckets as synchronous calls, but a token is
 *     taken only when it is free now and no synchronous call waits for it
 *     (throttle_ticket.now_only; with Redis, a reservation that must start
 *     now): the outbox never queues ahead of a caller, so a backlog never
 *     makes a synchronous call wait longer than it would without one;
 *   - the daily quota (outbox_quota.h), counted in recipients, shared in
 *     Redis by the replicas with the Redis store: when it is spent,
 *     messages stay queued (HeldFor: "DailyQuota") until GetSendQuota
 *     (throttle/quota.c) shows room again.
 * SES's answer decides (outbox_record.h, outbox_classify): sent; a
 * transient failure retried with backoff until outbox.max_age_s; a
 * permanent one failed at once. At-least-once: a message whose attempt was
 * under way when the proxy died is sent again.
 *
 * Ownership: struct outbox belongs to struct proxy (daemon.c); it borrows
 * the proxy's loop, throttle, credentials and pipeline. Message bodies are
 * never logged. */
#ifndef SP_OUTBOX_H
#define SP_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/outbox/outbox_record.h"
#include "signer/check.h"

struct config;
struct evbuffer;
struct outbox;
struct outbox_pending;
struct prepared;
struct proxy;
struct server_request;

/* How deliveries reach SES: the pipeline's detached calls
 * (request_send_detached and request_abort, request.h), handed in by
 * daemon.c so that the outbox does not include the pipeline that hands
 * calls to it. */
typedef void (*outbox_done_fn)(void *arg, int status, struct evbuffer *body);
struct outbox_sender {
    void *(*send)(struct proxy *px, struct prepared *call, const char *request_id,
                  outbox_done_fn done, void *arg);
    void (*abort)(void *call);
};

/* Opens cfg's store and starts delivering through sender (borrowed for
 * the outbox's life). NULL with err when the store cannot be opened (the
 * proxy does not start). */
struct outbox *outbox_new(struct proxy *px, const struct config *cfg,
                          const struct outbox_sender *sender, struct sp_err *err);
/* Gives back what it holds (still stored) and closes the store. Deliveries
 * still under way are abandoned: their messages stay "sending" in the
 * store and are sent again after a restart (or by another replica). */
void outbox_free(struct outbox *ob);
/* A reload: the limits (max_messages, max_bytes, max_age_s, retention_s,
 * claim_after_ms) from cfg. */
void outbox_set_config(struct outbox *ob, const struct config *cfg);

/* ------------------------------------------------------------- accepting */

/* What an asynchronous call brings besides its prepared call, read before
 * prepare_call() consumes the body. */
struct outbox_intake {
    int async;               /* Prefer: respond-async, and there is an outbox */
    char key[256];           /* Idempotency-Key; "" = none */
    uint8_t body_sha256[32]; /* the body as received */
};

/* Reads sr. 0, or -1 with err (400: an Idempotency-Key that is not 1-255
 * printable ASCII characters) for a call that asked for async. ob NULL: no
 * outbox, in->async is 0 and the call is answered synchronously. */
int outbox_intake(const struct outbox *ob, const struct server_request *sr,
                  struct outbox_intake *in, struct sp_err *err) SP_WARN_UNUSED;

/* 1 when a prepared call is one the outbox stores: a sending call in JSON
 * mode, with in->async. */
int outbox_takes(const struct outbox_intake *in, const struct prepared *call);

/* The answer to an asynchronous call. */
struct outbox_accepted {
    int status;       /* 202, or 400/409/422/500/503 */
    const char *code; /* the error's Code, NULL for 202 */
    char message[300];
    int retry_after_s; /* 503 when full */
    char id[OUTBOX_ID_LEN + 1];
    const char *state; /* 202: "queued", or an idempotent repeat's state now */
};
typedef void (*outbox_accepted_fn)(void *arg, const struct outbox_accepted *a);

/* Stores the call (its form is read, not taken). cb runs once, later,
 * from the loop, unless cancelled. NULL when out of memory (cb never
 * runs). client is the caller's address ("ip:port"), request_id its
 * X-Request-Id. */
struct outbox_pending *outbox_accept(struct outbox *ob, const struct outbox_intake *in,
                                     const struct prepared *call, const char *request_id,
                                     const char *client, outbox_accepted_fn cb, void *arg);
/* The client left: no callback; the message is stored (or not) as it
 * would have been. */
void outbox_accept_cancel(struct outbox *ob, struct outbox_pending *p);

/* ------------------------------------------------------- the rest of it */

/* Deliveries under way (SIGTERM's drain waits for them). */
size_t outbox_busy(const struct outbox *ob);
/* 1 when a new message could be stored now; else 0 and *why (readyz). */
int outbox_ready(struct outbox *ob, const char **why);
/* A synchronous send SES accepted: its recipients count against the daily
 * quota. */
void outbox_note_sent(struct outbox *ob, double recipients);
/* SES answered "Daily message quota exceeded" (to any call). */
void outbox_note_quota_exceeded(struct outbox *ob);
/* GetSendQuota's answer (throttle/quota.c). */
void outbox_note_send_quota(struct outbox *ob, double max24, double sent24);
/* The ses_proxy_outbox_* families. */
void outbox_metrics(struct outbox *ob, struct evbuffer *out);

/* Status lookups (GET /outbox/{OutboxId}, outbox_http.c). */
struct outbox_lookup;
/* found: 1 with st (borrowed for the call), 0 unknown, -1 the store could
 * not answer (why). */
typedef void (*outbox_found_fn)(void *arg, int found, const struct outbox_status *st,
                                const char *why);
/* cb runs once: later (the handle is returned), or before this returns
 * (NULL is returned). */
struct outbox_lookup *outbox_lookup(struct outbox *ob, const char *id, outbox_found_fn cb,
                                    void *arg);
/* 1 when handle is a lookup of ob still waiting. */
int outbox_lookup_owns(const struct outbox *ob, const void *handle);
/* Forgets a waiting lookup (no callback); returns its arg. */
void *outbox_lookup_cancel(struct outbox *ob, struct outbox_lookup *l);
/* Why a queued message waits now: "DailyQuota", "Credentials", or NULL. */
const char *outbox_held_for(struct outbox *ob);

#endif
