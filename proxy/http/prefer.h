/* prefer.h - the request header fields of asynchronous calls, read: RFC
 * 7240's Prefer ("respond-async") and the IETF httpapi draft's
 * Idempotency-Key.
 *
 * Pure: no I/O, no allocation. Values point into the request head and need
 * not be NUL-terminated. */
#ifndef SP_PREFER_H
#define SP_PREFER_H

#include <stddef.h>

#include "signer/check.h"

/* The longest Idempotency-Key the proxy keeps, in characters. */
#define PREFER_KEY_MAX 255

/* 1 when the Prefer field value (a comma-separated list of preferences,
 * each `token [= value] *(; parameter)`) names the preference `token`
 * (compared case-insensitively, as RFC 7240 says), else 0. Quoted values
 * may hold commas and semicolons. */
int prefer_has(const char *value, size_t len, const char *token);

/* The Idempotency-Key: an sf-string ("...", with \" and \\ escapes, as the
 * draft defines it) or, as many clients send it, the bare characters. out
 * gets the key, NUL-terminated (PREFER_KEY_MAX + 1 bytes). -1 when it is
 * not 1 to PREFER_KEY_MAX printable ASCII characters (0x20-0x7e) or a
 * quoted string is malformed. */
int prefer_idempotency_key(const char *value, size_t len,
                           char out[PREFER_KEY_MAX + 1]) SP_WARN_UNUSED;

#endif
