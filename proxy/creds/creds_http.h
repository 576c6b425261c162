/* creds_http.h - the HTTP exchanges of credential providers (STS, the
 * container endpoint, instance metadata), over proxy/upstream.
 *
 * creds_url_parse() is pure: "scheme://host[:port][/path][?query]" into its
 * parts (IPv6 literals in brackets). A struct creds_http is one endpoint
 * (an upstream of its own: its own timeouts, TLS verified against the system
 * CAs or $AWS_CA_BUNDLE); creds_http_send() runs one request on it and calls
 * back once, from the event loop, unless cancelled first.
 *
 * Secrets: the request (whose extra headers or body may carry a token) is
 * built in a buffer this module wipes when upstream has written it; the
 * answer is copied into a buffer that is wiped right after the callback
 * returns, and upstream's copy (the response evbuffer) is wiped in place
 * before upstream frees it. What this module cannot reach, and so does not
 * wipe: the kernel's and OpenSSL's socket buffers, and response bytes that
 * upstream had to copy between its own evbuffers. */
#ifndef SP_CREDS_HTTP_H
#define SP_CREDS_HTTP_H

#include <stddef.h>

#include "signer/check.h"

struct creds_provider_ctx;
struct evbuffer;

struct creds_url {
    int tls;
    char host[256]; /* without brackets */
    int port;
    char path[2048]; /* path and query, from the first '/' ("/" when none) */
};

/* Parses url: http or https only, a host, a port 1..65535 (default 80/443),
 * no user info, no fragment. Messages name the variable (what), not the
 * URL, when the URL could hold a secret; these never do, so they quote it. */
int creds_url_parse(const char *url, const char *what, struct creds_url *out,
                    struct sp_err *err) SP_WARN_UNUSED;

struct creds_http;
struct creds_http_req;

/* The outcome of one exchange. body is NUL-terminated (body_len bytes
 * before the NUL), valid only during the callback, wiped afterwards. */
struct creds_http_answer {
    const char *error; /* NULL, or one of upstream_err_* or creds_http_err_too_large */
    int status;
    const char *body;
    size_t body_len;
};
typedef void (*creds_http_done_fn)(const struct creds_http_answer *a, void *arg);

extern const char creds_http_err_too_large[];

/* An endpoint: connect and whole-exchange timeouts in ms. */
struct creds_http *creds_http_new(const struct creds_provider_ctx *ctx, const struct creds_url *url,
                                  int connect_timeout_ms, int timeout_ms, struct sp_err *err);
/* Cancels what is in flight (no callbacks) and frees; NULL is fine. */
void creds_http_free(struct creds_http *h);

/* "host" or "host:port", for messages. */
const char *creds_http_host(const struct creds_http *h);

/* Sends method path with a Host, a User-Agent and, when body is not NULL, a
 * Content-Length header, then extra_headers (NULL, or lines each ending in
 * "\r\n"; may hold a secret) and the body (may hold a secret). Returns the
 * exchange, or NULL when out of memory. */
struct creds_http_req *creds_http_send(struct creds_http *h, const char *method, const char *path,
                                       const char *extra_headers, const char *body, size_t body_len,
                                       creds_http_done_fn cb, void *arg);

/* Sends a complete request (head and body, as signed_request_write()
 * builds it) on h. request is wiped and drained, whatever happens. Returns
 * the exchange, or NULL when out of memory. */
struct creds_http_req *creds_http_send_request(struct creds_http *h, struct evbuffer *request,
                                               creds_http_done_fn cb, void *arg);

/* Abandons an exchange: no callback. */
void creds_http_cancel(struct creds_http_req *r);

#endif
