/* signed_request.h - one way to make a signed AWS call.
 *
 * Every request the proxy sends to AWS with its own credentials goes through
 * signed_request_write(): the SES calls of the pipeline, GetSendQuota for
 * send_rate "auto", and STS AssumeRole for profiles with a role. It takes
 * the service (signing name), region, host, credentials and the request
 * (method, path, query, extra headers, body), signs it with SigV4 (or, for
 * SES v2's multi-region endpoints, SigV4a with a region set) and writes the
 * whole HTTP/1.1 request, head and body, into an evbuffer ready for
 * upstream_send().
 *
 * Ownership: everything in struct signed_request is borrowed and only read
 * during the call. The body is added to `out` by reference, so a 10 MB
 * message is not copied per attempt; it must outlive `out`. The head in
 * `out` holds the session token (X-Amz-Security-Token) when there is one,
 * so callers that must wipe it do so when upstream has written it. Messages
 * in err never hold a secret. */
#ifndef SP_SIGNED_REQUEST_H
#define SP_SIGNED_REQUEST_H

#include <stddef.h>
#include <time.h>

#include "signer/check.h"
#include "signer/sigv4.h"
#include "signer/sigv4a.h"

struct creds;
struct evbuffer;

/* The Content-Type of AWS Query calls (SES v1, STS), as botocore sends it. */
#define SIGNED_REQUEST_FORM_CT "application/x-www-form-urlencoded; charset=utf-8"

struct signed_request {
    const char *method;                 /* "POST", "GET", ... */
    const char *host;                   /* Host header value: "host" or "host:port" */
    const char *path;                   /* already percent-encoded; NULL means "/" */
    const char *query;                  /* already encoded, without '?'; NULL when none */
    const char *service;                /* signing name: "ses", "sts" */
    const char *region;                 /* signing region; with sigv4a, the region set ("*") */
    int sigv4a;                         /* 1: AWS4-ECDSA-P256-SHA256, X-Amz-Region-Set: region */
    const char *content_type;           /* NULL: no Content-Type header */
    struct evbuffer *body;              /* NULL: no body (and no Content-Length unless
                                           content_type is set) */
    const struct sigv4_header *headers; /* more headers to sign and send */
    size_t n_headers;
};

/* Signs r with c at wall-clock time `now` and appends the request to out.
 * payload_hash (65 bytes) is the SHA-256 of the body: computed here when it
 * is "" on entry, and kept by the caller so a retry does not hash a large
 * body again. keys is the caller's key cache (SigV4's is its .v4). */
int signed_request_write(struct sigv4a_key_cache *keys, const struct creds *c, time_t now,
                         const struct signed_request *r, char payload_hash[65],
                         struct evbuffer *out, struct sp_err *err) SP_WARN_UNUSED;

#endif
