/* errdoc.h - the proxy's own error documents, in the shape each kind of
 * caller parses.
 *
 * A call the proxy refuses itself (bad input, policy, throttle, upstream
 * failure) is answered in the protocol the caller speaks, so that the
 * caller's parser turns it into a proper error:
 *   - JSON-mode callers get boto3's shape:
 *       {"Error": {"Type", "Code", "Message"},
 *        "ResponseMetadata": {"RequestId", "HTTPStatusCode", "RetryAttempts"}}
 *   - SES v1 SDKs (Query protocol) get SES's <ErrorResponse> XML.
 *   - SES v2 SDKs (REST-JSON) get what SES v2 answers: the code in the
 *     x-amzn-ErrorType header (the caller's to send) and {"message": ...}
 *     as the body. That is what botocore's RestJSONParser and the JS SDK v3
 *     (loadRestJsonErrorCode) read: the code from x-amzn-ErrorType first,
 *     the message from "message" (or "Message"); the request id from the
 *     x-amzn-RequestId header.
 *
 * JSON is written by api/jsonout (numbers as Python prints them).
 *
 * Pure: no I/O; output goes to a sink the caller provides. Nothing is
 * echoed unescaped: XML text is escaped and invalid bytes replaced; a JSON
 * message that is not UTF-8 is replaced by a fixed text. */
#ifndef SP_ERRDOC_H
#define SP_ERRDOC_H

#include <stddef.h>

#include "signer/check.h"

/* Receives output bytes; returns 0, or -1 to stop writing. */
typedef int (*errdoc_sink_fn)(void *ctx, const void *data, size_t len);

/* "Sender" for 4xx, "Receiver" for 5xx: the Type SES and boto3 use. */
const char *errdoc_type(int status);

/* Writes SES's error document for SDK pass-through clients:
 *   <ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error>
 *   <Type>..</Type><Code>..</Code><Message>..</Message></Error>
 *   <RequestId>..</RequestId></ErrorResponse>   (without the line breaks)
 * type NULL means "Sender"; a NULL code, message or request_id leaves its
 * element out. Text is escaped (& < > " ' and a CR as &#13;), and bytes
 * that are not valid UTF-8 or characters XML 1.0 forbids become U+FFFD, so
 * the document is always well-formed. Output goes to sink in a few calls.
 * Returns -1 only when the sink does (or sink is NULL). */
int errdoc_query_xml(const char *type, const char *code, const char *message,
                     const char *request_id, errdoc_sink_fn sink, void *ctx) SP_WARN_UNUSED;

/* Writes boto3's error shape (above) as compact JSON; Type from the status.
 * A message that is not valid UTF-8 is never echoed: "(message not shown)"
 * stands in for it. Returns -1 when the sink fails or out of memory. */
int errdoc_json(int status, const char *code, const char *message, const char *request_id,
                int retries, errdoc_sink_fn sink, void *ctx) SP_WARN_UNUSED;

/* Writes SES v2's REST-JSON error body, {"message":"..."}; the code goes in
 * the x-amzn-ErrorType header. A NULL message is written as ""; one that is
 * not valid UTF-8 as "(message not shown)". Returns -1 when the sink fails
 * or out of memory. */
int errdoc_rest_json(const char *message, errdoc_sink_fn sink, void *ctx) SP_WARN_UNUSED;

#endif
