/* restjson_answer.h - SES v2's HTTP answer turned into the JSON botocore's
 * RestJSONParser returns for the operation.
 *
 * Input: the HTTP status, the header fields and the body of SES's answer
 * to op. Output, as botocore 1.29's RestJSONParser.parse builds it (minus
 * the HTTPStatusCode and HTTPHeaders it adds to ResponseMetadata, which
 * are the proxy's to add):
 *
 *   success (status < 301, as botocore counts): the output shape's members,
 *     then "ResponseMetadata": {"RequestId": x-amzn-RequestId} (or, without
 *     it, x-amz-request-id and "HostId": x-amz-id-2 or ""; {} with
 *     neither).
 *       - a statusCode member: the status; a header member: its field
 *         (integers in decimal, timestamps as below, a jsonvalue member the
 *         JSON value its base64 holds), absent when the field is; a headers
 *         map: every field whose name starts with its prefix (ASCII case
 *         insensitive), keyed by the rest of the name as sent; {} when none.
 *       - the body: empty means {}; else it must be a JSON object (else
 *         "BadGateway": botocore would silently give nothing, the proxy
 *         answers 502). Members are read by wire name, for every member of
 *         the shape (as botocore does: a body key equal to a located
 *         member's wire name overrides the header's value); keys the shape
 *         does not know are ignored, a JSON null is an absent member. A
 *         structure payload member takes the whole body ({} when empty).
 *       - values: structures, lists and maps as such; strings, booleans
 *         and doubles exactly as SES sent them, whatever their JSON type
 *         (botocore does not check them); integers and longs as Python's
 *         int() reads them (a JSON integer, a real truncated toward zero, a
 *         boolean as 0 or 1, a decimal string); blobs as the canonical
 *         base64 text SES sent (botocore would give the bytes); timestamps
 *         (epoch seconds as an integer, a fraction or an exponent, or a
 *         string as botocore's parse_timestamp reads it) as
 *         "YYYY-MM-DDTHH:MM:SS[.ffffff]Z": UTC, a 4-digit year, microseconds
 *         (botocore's precision, the float's fraction rounded half-even as
 *         datetime.fromtimestamp does) only when not zero
 *         (api/restjson_time.h).
 *   error (status >= 301): {"Error": {"Code", "Message"}, "ResponseMetadata":
 *     {"RequestId"?}}, *is_error = 1:
 *       - status >= 500 with an empty (blank) body or one starting with
 *         "<html>": Code is the status in decimal, Message its reason phrase
 *         (Python's http.client), no RequestId (botocore's generic error);
 *       - otherwise Message is the body's "message", else "Message", else "";
 *         a body that is not JSON is itself the Message. Code, in botocore's
 *         order: the part of an x-amzn-query-error field before ';' (when it
 *         has exactly two parts), else "__type" after its last '#', else the
 *         status in decimal; then an x-amzn-ErrorType field before its first
 *         ':' overrides that, or, without one, the body's "code" or "Code".
 *         RequestId from x-amzn-RequestId only.
 *
 * A field sent more than once reads as its values joined with ", " (what
 * urllib3 hands botocore).
 *
 * Refused with "BadGateway" (the proxy answers 502): a body that is not
 * UTF-8 or, where JSON is expected, not a JSON object; a value of a
 * structure, list, map, integer, timestamp or blob member that botocore
 * could not read (it would raise) or that cannot be carried exactly (an
 * integer outside int64, a timestamp outside years 1..9999, a blob that is
 * not canonical base64, a number jansson cannot hold); a Code or Message
 * that is not a string. "InternalError": a boolean or list header member
 * (botocore releases read them differently; no SES model has one).
 *
 * Ownership: everything passed in is borrowed for the call; *out is a new
 * JSON object (one json_decref) on success, NULL on failure. Never: does
 * I/O, or reads past any (pointer, length) given. */
#ifndef SP_RESTJSON_ANSWER_H
#define SP_RESTJSON_ANSWER_H

#include <jansson.h>
#include <stddef.h>

#include "api/model.h"
#include "api/restjson.h"
#include "signer/check.h"

int restjson_answer_parse(const struct model_service *svc, const struct model_op *op, int status,
                          const struct restjson_field *fields, size_t n_fields, const char *body,
                          size_t body_len, json_t **out, int *is_error,
                          struct sp_err *err) SP_WARN_UNUSED;

#endif
