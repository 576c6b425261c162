/* restjson_buf.h - the bytes of SES v2's wire protocol, as botocore writes
 * them: a growable buffer, JSON text as Python's json.dumps prints it,
 * percent-encoding as botocore's percent_encode does, and base64.
 *
 * The REST-JSON serializer (api/restjson.c) writes the request's path, query
 * and body through these, and the parsers (api/restjson_inbound.c,
 * api/restjson_answer.c) use the same percent and base64 rules backwards, so
 * that the two directions cannot drift apart.
 *
 * JSON text is what json.dumps(value) gives with its defaults (botocore's
 * RestJSONSerializer calls it so): ensure_ascii, so every byte outside
 * printable ASCII is escaped (\n \r \t \b \f by name, other control bytes,
 * DEL and all non-ASCII as \u00xx / \uXXXX with lowercase hex, characters
 * beyond U+FFFF as a surrogate pair); '"' and '\' escaped, '/' not;
 * integers in decimal; reals as repr(float) prints them (the shortest text
 * that reads back, query_format_double); separators ", " and ": ", or ","
 * and ":" in compact form (botocore's jsonvalue headers).
 *
 * Ownership: a struct restjson_buf owns its bytes until restjson_buf_clear
 * (or restjson_buf_steal hands them over). Inputs are borrowed for the call.
 * Pure: no I/O. Every writer fails (-1) only when memory runs out or the
 * buffer would pass RESTJSON_BUF_MAX; the buffer then stays usable and holds
 * what was written before the failing call. */
#ifndef SP_RESTJSON_BUF_H
#define SP_RESTJSON_BUF_H

#include <jansson.h>
#include <stddef.h>

#include "signer/check.h"

/* Largest buffer: far above any request SES takes (its largest is 40 MB of
 * raw message, base64 included); a guard against size arithmetic wrapping. */
#define RESTJSON_BUF_MAX ((size_t)1 << 30)

struct restjson_buf {
    char *data; /* NUL-terminated when len > 0 or after any write; may be NULL when empty */
    size_t len;
    size_t cap;
};

void restjson_buf_init(struct restjson_buf *b);

/* Frees the bytes; the buffer is empty and reusable afterwards. */
void restjson_buf_clear(struct restjson_buf *b);

/* Hands the bytes (NUL-terminated, never NULL; *len without the NUL) to the
 * caller, who frees them with free(); the buffer is empty afterwards. NULL
 * when memory runs out (the buffer keeps its bytes then). */
char *restjson_buf_steal(struct restjson_buf *b, size_t *len);

int restjson_buf_put(struct restjson_buf *b, const void *data, size_t len) SP_WARN_UNUSED;
int restjson_buf_puts(struct restjson_buf *b, const char *s) SP_WARN_UNUSED;

/* s[0..len) as a JSON string in json.dumps's ensure_ascii form. s must be
 * valid UTF-8 (jansson's strings are); a NUL byte is written as \u0000. */
int restjson_buf_json_string(struct restjson_buf *b, const char *s, size_t len) SP_WARN_UNUSED;

/* A JSON number: an integer in decimal, a real as repr(float). */
int restjson_buf_json_number(struct restjson_buf *b, const json_t *v) SP_WARN_UNUSED;

/* Any JSON value as json.dumps(v) writes it (compact: separators ",", ":").
 * Objects in their own key order. depth bounds the nesting followed
 * (deeper values fail with -1, as out of memory does). */
int restjson_buf_json_value(struct restjson_buf *b, const json_t *v, int compact,
                            int depth) SP_WARN_UNUSED;

/* s[0..len) percent-encoded as botocore's percent_encode (urllib's quote)
 * does: ASCII letters, digits and "-._~" bare, and '/' too when keep_slash
 * (a greedy URI label); every other byte as uppercase %XX. */
int restjson_buf_percent(struct restjson_buf *b, const char *s, size_t len,
                         int keep_slash) SP_WARN_UNUSED;

/* base64 (RFC 4648, padded) of data[0..len), as Python's b64encode. */
int restjson_buf_base64(struct restjson_buf *b, const void *data, size_t len) SP_WARN_UNUSED;

/* Appends the bytes that canonical base64 s[0..len) stands for: padded, no
 * blanks or line breaks, spare bits zero (exactly what b64encode prints, so
 * that one text means one byte string). Returns 0; 1 when s is not
 * canonical base64 (nothing appended); -1 when memory runs out. */
int restjson_buf_unbase64(struct restjson_buf *b, const char *s, size_t len) SP_WARN_UNUSED;

#endif
