/* http1.h - HTTP/1.1 message heads: a pure parser, no I/O.
 *
 * Parses a request head (server side) or a response head (upstream side)
 * from one contiguous buffer that holds at least the whole head. Header
 * names and values point into that buffer: they are borrowed and valid only
 * while the caller keeps the buffer. Also chunked transfer-coding size lines.
 * Strict where laxness lets requests be smuggled: no obs-fold, no space
 * before ':', one Content-Length, no Content-Length with Transfer-Encoding;
 * a request target is origin-form ("/path?query") only. */
#ifndef SP_HTTP1_H
#define SP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define HTTP1_MAX_HEADERS 64

struct http1_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct http1_head {
    /* request */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    /* response */
    int status;
    const char *reason;
    size_t reason_len;
    /* both */
    int minor_version; /* 0 or 1 */
    struct http1_header headers[HTTP1_MAX_HEADERS];
    size_t n_headers;
    /* derived from the headers */
    int has_content_length;
    uint64_t content_length;
    int chunked;    /* Transfer-Encoding: chunked */
    int keep_alive; /* per version and Connection */
    int expect_continue;
};

enum { HTTP1_INCOMPLETE = 0, HTTP1_ERROR = -1 };

/* Returns the head's length in bytes (including the blank line) when buf
 * holds a whole valid head, HTTP1_INCOMPLETE when more bytes are needed,
 * HTTP1_ERROR when it is malformed. *why gets a static reason on error. */
long http1_parse_request(const char *buf, size_t len, struct http1_head *out, const char **why);
long http1_parse_response(const char *buf, size_t len, struct http1_head *out, const char **why);

/* First header with this name (case-insensitive), NULL when absent. */
const struct http1_header *http1_find(const struct http1_head *h, const char *name);

/* Parses a chunk-size line ("1a3;ext=x\r\n"). Returns the line's length
 * including CRLF, 0 when incomplete, -1 when malformed; *size gets the size. */
long http1_parse_chunk_size(const char *buf, size_t len, uint64_t *size);

/* Case-insensitive compare of a counted string with a C string. */
int http1_token_eq(const char *s, size_t len, const char *lit);

#endif
