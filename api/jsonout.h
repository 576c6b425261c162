/* jsonout.h - JSON text for the proxy's answers, with numbers as SES wrote
 * them and as boto3 gives them.
 *
 * jansson's json_dumps prints a real with "%.17g", so the 862.039 that SES
 * sent leaves as 862.03899999999999. Here a real is printed in the shortest
 * form that reads back as the same double, exactly as Python's repr(float)
 * and json.dumps print it (862.039, 200.0, 1e-05, 1e+16: query.h's
 * query_format_double, the one home of that formatter); integers stay
 * integers. Everything else is byte for byte what json_dumps(JSON_COMPACT)
 * writes: object members in insertion order, strings as UTF-8 with '"',
 * '\\' and the control characters escaped (\b \f \n \r \t, others as
 * \u00XX in upper case). That is also Python's json.dumps(v, separators=
 * (",", ":"), ensure_ascii=False), but for the case of those \u00XX digits.
 *
 * Pure: no I/O; output goes to a sink the caller provides. The value is
 * borrowed and not changed. */
#ifndef SP_JSONOUT_H
#define SP_JSONOUT_H

#include <jansson.h>
#include <stddef.h>

#include "signer/check.h"

/* Receives output bytes; returns 0, or -1 to stop writing. */
typedef int (*jsonout_sink_fn)(void *ctx, const void *data, size_t len);

/* Writes v as compact JSON to sink, in a few calls (output is batched).
 * Returns 0, or -1 when the sink failed, v is NULL, or v nests deeper than
 * JSONOUT_MAX_DEPTH (the sink may then hold part of the text). */
int jsonout_dump(const json_t *v, jsonout_sink_fn sink, void *ctx) SP_WARN_UNUSED;

/* The same in a new NUL-terminated string (free() it); NULL on failure. */
char *jsonout_dumps(const json_t *v);

/* Deeper documents are refused rather than recursed into without bound
 * (jansson's own parser stops at 2048). */
#define JSONOUT_MAX_DEPTH 2048

#endif
