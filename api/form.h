/* form.h - read an application/x-www-form-urlencoded body (SDK pass-through).
 *
 * An unmodified AWS SDK or CLI pointed at the proxy sends the Query
 * protocol's form body; the proxy only needs to read a few keys of it
 * (Action, the recipients of a send) for policy and throttling, and
 * forwards the body untouched. Pairs are separated by '&'; a pair without
 * '=' has an empty value; empty pairs ("a=1&&b=2") are skipped, as
 * urllib.parse.parse_qsl does. Decoding turns '+' into a space and %XX into
 * its byte (either hex case), as form decoding does; a '%' not followed by
 * two hex digits is malformed (code "MalformedRequest"), where Python would
 * pass it through: the proxy must not guess what SES will make of it.
 * Decoded bytes are not checked to be UTF-8.
 *
 * Ownership: the body is borrowed and must outlive the cursor and the
 * pairs, which point into it. Nothing is allocated; decoded text goes to
 * the caller's buffer, always NUL-terminated when cap > 0.
 * Never: does I/O, or reads past body + len (the body need not end in NUL). */
#ifndef SP_FORM_H
#define SP_FORM_H

#include <stddef.h>

#include "signer/check.h"

/* Reads pairs in order. Set up with form_cursor_init; fields are private. */
struct form_cursor {
    const char *body;
    size_t len;
    size_t off;
};

/* One pair, still encoded: slices of the body (not NUL-terminated). */
struct form_pair {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

void form_cursor_init(struct form_cursor *c, const char *body, size_t len);

/* Next non-empty pair. 1 when *pair was filled, 0 at the end. Never fails:
 * escapes are checked when a slice is decoded or compared. */
int form_next(struct form_cursor *c, struct form_pair *pair);

/* Decodes s[0..len) into out (NUL-terminated). 0 ok; -1 (err code
 * "MalformedRequest") on a malformed escape or when the decoded text and
 * its NUL do not fit in cap. */
int form_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len,
                struct sp_err *err) SP_WARN_UNUSED;

/* Does the encoded slice s[0..len) decode to exactly key[0..key_len)?
 * 1 yes, 0 no, -1 malformed escape (err filled). Needs no buffer. */
int form_equals(const char *s, size_t len, const char *key, size_t key_len,
                struct sp_err *err) SP_WARN_UNUSED;

/* Does the encoded slice decode to something that starts with prefix
 * (e.g. "Destination.ToAddresses.member.")? 1, 0, or -1 as form_equals. */
int form_has_prefix(const char *s, size_t len, const char *prefix, size_t prefix_len,
                    struct sp_err *err) SP_WARN_UNUSED;

/* Checks every escape of the whole body. 0 ok, -1 malformed (err filled). */
int form_check(const char *body, size_t len, struct sp_err *err) SP_WARN_UNUSED;

/* Finds the first value of key (compared after decoding); decodes it into
 * out (NUL-terminated). Returns 1 found, 0 absent, -1 malformed or too long
 * (err filled, code "MalformedRequest"). Pairs after the first match are not
 * looked at; use form_check to vet the whole body. */
int form_get(const char *body, size_t len, const char *key, char *out, size_t cap, size_t *out_len,
             struct sp_err *err) SP_WARN_UNUSED;

#endif
