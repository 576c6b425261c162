/* outbox_http.h - the outbox's answers to clients: the 202 of an
 * asynchronous call, and GET /outbox/{OutboxId}.
 *
 * 202 Accepted carries Preference-Applied: respond-async (RFC 7240),
 * Location: /outbox/{OutboxId} and {"OutboxId", "Status", "ResponseMetadata"}.
 * The status document is {"OutboxId", "Status", "Operation", "Attempts",
 * "CreatedAt", "UpdatedAt", and as they apply "MessageId", "Results"
 * (SendBulkTemplatedEmail's per-destination Status list), "Error",
 * "LastError", "NextAttemptAt", "HeldFor", then "ResponseMetadata"}; times
 * are ISO 8601 UTC with milliseconds. Only the address that created a
 * message may read it (outbox.status_readers "any": every client); to
 * anyone else it does not exist (404), so ids cannot be probed. */
#ifndef SP_OUTBOX_HTTP_H
#define SP_OUTBOX_HTTP_H

struct outbox_accepted;
struct proxy;
struct server_conn;
struct server_request;

/* Sends the 202 for an accepted call on conn (forget conn afterwards). */
void outbox_http_accepted(struct server_conn *conn, const struct outbox_accepted *a,
                          const char *request_id);

/* 1 when sr is GET or HEAD on /outbox/... */
int outbox_http_serves(const struct server_request *sr);

/* Answers a status lookup: now (NULL), or later (the returned handle is
 * the server's call, aborted through outbox_http_abort). */
void *outbox_http_get(struct proxy *px, struct server_conn *conn, const struct server_request *sr);

/* 1 when call is one of outbox_http_get's handles. */
int outbox_http_owns(struct proxy *px, const void *call);
/* The client left before the answer. */
void outbox_http_abort(struct proxy *px, void *call);

#endif
