/* outbox_record.h - what the outbox stores for a message, and the rules of
 * its life: the pure half of the outbox (no I/O, no clock, no randomness).
 *
 * A message is two records:
 *   - the request: the exact call to sign and send (the API and operation,
 *     method, path, the headers to send and sign beyond the signer's own,
 *     the body) and the recipients it takes from the send rate. A v1
 *     sending call is POST / with its Query form; an SES v2 call is its
 *     REST request. Binary, length-prefixed: "SPOB", a version byte, then
 *     fields as tag (1 byte), length (4 bytes, big-endian), value. Its body
 *     is purged once the message is sent or failed.
 *   - the status: what GET /outbox/{OutboxId} reports (state, attempts,
 *     times, SES's MessageId or the error, per-destination results), as a
 *     small JSON object; kept for outbox.retention_s after the message is
 *     finished.
 * Both decoders are strict (every field checked, nothing unknown or left
 * over) because they read what a store gives back, which a disk or a Redis
 * shared with others may have mangled; tests/fuzz/fuzz_outbox_record.c
 * fuzzes them.
 *
 * The states and what moves a message between them:
 *
 *   queued --attempt--> sending --sent--> sent
 *     ^                   |  \--permanent--> failed
 *     |                   |--retry / quota / recover--> queued
 *     '--expired--> failed (queued past outbox.max_age_s)
 *
 * Ownership: decoded requests point into the bytes they were read from
 * (borrowed; keep those alive). A status owns its `results` (json_decref
 * through outbox_status_clear). */
#ifndef SP_OUTBOX_RECORD_H
#define SP_OUTBOX_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "signer/check.h"

struct evbuffer;

/* An OutboxId: 128 random bits as 32 lowercase hex digits. */
#define OUTBOX_ID_LEN 32
#define OUTBOX_MAX_HEADERS 16

/* ------------------------------------------------------------- the request */

struct outbox_header {
    const char *name, *value; /* borrowed, not NUL-terminated */
    size_t name_len, value_len;
};

struct outbox_request {
    char api[16];    /* the model's service id: "SES" (v1, Query) or "SESv2" */
    char op[64];     /* the operation: "SendEmail" */
    char method[16]; /* "POST" */
    char path[1024]; /* percent-encoded, without the query: "/" */
    char content_type[128];
    struct outbox_header headers[OUTBOX_MAX_HEADERS];
    size_t n_headers;
    const uint8_t *body; /* borrowed */
    size_t body_len;
    double recipients;     /* tokens of the send rate */
    char endpoint_id[256]; /* an SES v2 multi-region endpoint (SigV4a), or "" */
};

/* Appends req's encoding to out. -1 only when out of memory. */
int outbox_request_encode(const struct outbox_request *req, struct evbuffer *out) SP_WARN_UNUSED;

/* Reads a request from buf (its strings copied into req, its headers and
 * body pointing into buf). -1 with err when buf is not exactly one valid
 * record. */
int outbox_request_decode(const uint8_t *buf, size_t len, struct outbox_request *req,
                          struct sp_err *err) SP_WARN_UNUSED;

/* -------------------------------------------------------------- the status */

enum outbox_state { OUTBOX_QUEUED = 0, OUTBOX_SENDING, OUTBOX_SENT, OUTBOX_FAILED };
#define OUTBOX_N_STATES 4

/* "queued", "sending", "sent", "failed". */
const char *outbox_state_name(enum outbox_state s);
int outbox_state_finished(enum outbox_state s);

struct outbox_error {
    char code[64];
    char message[512];
};

struct outbox_status {
    enum outbox_state state;
    int attempts;                   /* requests sent to SES for it */
    int64_t created_ms, updated_ms; /* wall clock, ms since the epoch */
    int64_t next_ms;                /* queued after a failure: not before; 0 = now */
    char op[64];
    char client[64];           /* the creator's address, without the port */
    char request_id[65];       /* the creating call's X-Request-Id */
    char message_id[128];      /* sent: SES's MessageId ("" for bulk) */
    struct outbox_error error; /* failed: why ("" when not failed) */
    struct outbox_error last;  /* queued after a failure: the last one */
    json_t *results;           /* sent, bulk: SES's per-destination Status list */
};

void outbox_status_init(struct outbox_status *st);
void outbox_status_clear(struct outbox_status *st);
/* A deep copy (results referenced once more). */
void outbox_status_copy(struct outbox_status *dst, const struct outbox_status *src);

/* The stored form: compact JSON, NUL-terminated, malloc'd (the caller
 * frees). NULL when out of memory. */
char *outbox_status_encode(const struct outbox_status *st);
/* Reads the stored form (len bytes) into st (initialised here). -1 with err
 * when it is not exactly one valid status. */
int outbox_status_decode(const char *text, size_t len, struct outbox_status *st,
                         struct sp_err *err) SP_WARN_UNUSED;

/* ------------------------------------------------------ what happens next */

enum outbox_event {
    OUTBOX_EV_ATTEMPT,   /* a request goes to SES */
    OUTBOX_EV_SENT,      /* SES accepted it */
    OUTBOX_EV_PERMANENT, /* SES refused it for good (the dead letter) */
    OUTBOX_EV_RETRY,     /* a transient failure: later */
    OUTBOX_EV_QUOTA,     /* the daily quota is spent: held */
    OUTBOX_EV_RECOVER,   /* found sending after a crash, or claimed from a dead replica */
    OUTBOX_EV_EXPIRED,   /* queued past outbox.max_age_s */
};

/* The state after ev, or -1 when ev cannot happen in state from. */
int outbox_transition(enum outbox_state from, enum outbox_event ev) SP_WARN_UNUSED;

/* What an answer to a delivery attempt means. */
enum outbox_outcome {
    OUTBOX_OUT_SENT,      /* 2xx */
    OUTBOX_OUT_RETRY,     /* Throttling, 5xx, connection errors: again later */
    OUTBOX_OUT_QUOTA,     /* "Daily message quota exceeded": held, not failed */
    OUTBOX_OUT_PERMANENT, /* anything else SES refused: failed */
};

/* From the HTTP status of the pipeline's answer (SES's, or the proxy's own
 * 502/503/504 for an exchange that failed) and its error code and message
 * (NULL on success). */
enum outbox_outcome outbox_classify(int status, const char *code, const char *message);

/* The wait before the next attempt after `attempts` attempts: exponential
 * (1 s doubling to 5 minutes) with equal jitter, u uniform in [0, 1). */
int64_t outbox_backoff_ms(int attempts, double u);

#endif
