/* query.h - JSON parameters -> the SES Query protocol's form body.
 *
 * Produces, byte for byte, the body boto3 puts on the wire for the same
 * parameters: botocore's QuerySerializer, then urlencode() as botocore's
 * AWSRequest prepares a dict body:
 * `Action=<op>&Version=<api version>` then one `key=value` pair per scalar,
 * in the order of the params object (botocore iterates the caller's dict,
 * not the shape), structures as `Outer.Inner`, lists as `Name.member.N`
 * (1-based; an empty list is `Name=`), maps as `Name.entry.N.key/.value`,
 * booleans `true`/`false`, blobs as the (already base64) JSON text,
 * timestamps as botocore formats them, numbers as Python's str() prints them,
 * percent-encoding that keeps only RFC 3986's unreserved characters and
 * writes a space as '+' (Python's quote_plus; SES reads %20 the same way).
 *
 * Ownership: params are borrowed and never modified. The body is written to
 * the caller's sink in chunks of at most QUERY_CHUNK bytes from a buffer on
 * the stack: nothing is allocated, and a 13 MB blob streams through without a
 * whole copy. The sink's bytes are only valid during the call.
 *
 * Never: does I/O, validates against the model (run validate_params first;
 * query_serialize only refuses what it cannot serialize), or calls
 * setlocale (strtod/snprintf must see the "C" locale, the process default). */
#ifndef SP_QUERY_H
#define SP_QUERY_H

#include <jansson.h>
#include <stddef.h>

#include "api/model.h"
#include "signer/check.h"

/* Receives the next len bytes of output (borrowed for the call). Returns 0
 * to go on, -1 to abort: query_serialize then fails with code
 * "InternalError", and the sink's owner knows the real cause. */
typedef int (*query_sink_fn)(void *ctx, const void *data, size_t len);

/* Largest piece handed to a sink at once. */
#define QUERY_CHUNK 4096

/* Longest text query_format_timestamp or query_format_double writes, NUL included. */
#define QUERY_SCALAR_MAX 48

/* Writes the application/x-www-form-urlencoded body of op with params (a JSON
 * object, already validated; NULL is an empty object) to sink. Fails (err
 * "InternalError" for a sink failure or a name path over 512 bytes,
 * "ValidationError" for a value the model's type cannot carry). On failure
 * the sink may already have received part of the body. */
int query_serialize(const struct model_service *svc, const struct model_op *op,
                    const json_t *params, query_sink_fn sink, void *ctx,
                    struct sp_err *err) SP_WARN_UNUSED;

/* Appends s[0..len) to sink, form-encoded as urlencode() does: A-Z a-z 0-9
 * - _ . ~ bare, a space as '+', every other byte as uppercase %XX (Python's
 * quote_plus with safe=''). 0 ok, -1 when the sink failed. */
int query_percent_encode(const char *s, size_t len, query_sink_fn sink, void *ctx) SP_WARN_UNUSED;

/* Converts a timestamp parameter to the text botocore sends for it.
 * Accepted, as botocore's parse_to_aware_datetime reads them:
 *   - a JSON number: epoch seconds (UTC), fraction rounded half-even to
 *     microseconds as Python's datetime.fromtimestamp does;
 *   - a string that Python's float() would read as a plain decimal number
 *     ("1700000000", "1.5e9"): epoch seconds too (botocore tries float()
 *     before any date parsing, so "2020" is 33 minutes after the epoch);
 *   - an ISO 8601 string YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)F...]][Z|z|(+|-)HH[[:]MM]]],
 *     no offset meaning UTC, a fraction truncated to microseconds (as
 *     dateutil does).
 * The result must lie in years 1..9999 after conversion to UTC. Anything
 * else is refused (err code "ValidationError"), including forms dateutil
 * would guess at ("Jan 5 2020", "2020-1-1"): refusing is safe, guessing
 * differently from botocore is not.
 * format is the shape's timestampFormat: NULL or "iso8601" gives
 * `%Y-%m-%dT%H:%M:%SZ` (`.%fZ` when microseconds are not zero; the year is
 * not zero-padded below 1000, as glibc's strftime behind Python prints it),
 * "unixTimestamp" whole seconds, "rfc822" `Wed, 01 Jan 2020 10:00:00 GMT`.
 * out receives a NUL-terminated string; cap >= QUERY_SCALAR_MAX always
 * suffices. */
int query_format_timestamp(const json_t *value, const char *format, char *out, size_t cap,
                           size_t *out_len, struct sp_err *err) SP_WARN_UNUSED;

/* Formats d as Python's repr(float) / str(float) does: the shortest digits
 * that read back as d; fixed notation with at least one decimal ("1.0",
 * "0.0001", "1234567890123456.0") when the decimal exponent is in
 * (-4, 16], else exponent notation ("1e-05", "1e+16", "1.5e+300"); "nan",
 * "inf", "-inf". Returns the length, or -1 when cap < QUERY_SCALAR_MAX. */
int query_format_double(double d, char *out, size_t cap) SP_WARN_UNUSED;

#endif
