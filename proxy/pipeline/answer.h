/* answer.h - SES's answer, read for the proxy's decisions and rewritten for
 * the client.
 *
 * SES v1 answers in XML, SES v2 in JSON (with its error code in a header).
 * The pipeline reads every answer (to learn the error code for retries and
 * the adaptive throttle, and SES's request id); a JSON-mode client then gets
 * it as boto3 would return it, with ResponseMetadata {RequestId,
 * HTTPStatusCode, RetryAttempts}. One expat parser is kept in struct proxy
 * and reset between answers (cheaper than a new one per call).
 *
 * Ownership: documents returned are the caller's (json_decref); body
 * evbuffers are borrowed and not drained. */
#ifndef SP_ANSWER_H
#define SP_ANSWER_H

#include <jansson.h>

struct evbuffer;
struct model_op;
struct proxy;
struct upstream_req;

/* SES's XML as JSON (boto3's shape for op), *is_error set; NULL when the
 * body is not SES XML (logged at debug level with request_id). */
json_t *answer_parse(struct proxy *px, const struct model_op *op, struct evbuffer *body,
                     int *is_error, const char *request_id);

/* SES v2's answer to op (status, headers, JSON body) as botocore's
 * RestJSONParser reads it (api/restjson_answer.h), *is_error set; NULL when
 * it cannot be read (logged at debug level with request_id). */
json_t *answer_parse_rest(const struct model_op *op, struct upstream_req *u, int *is_error,
                          const char *request_id);

/* The JSON-mode answer: doc (modified) with ResponseMetadata completed,
 * serialized into a new evbuffer; NULL when out of memory. request_id is
 * SES's x-amzn-RequestId header, used when the XML carried none. */
struct evbuffer *answer_json(json_t *doc, const char *request_id, int status, int retries);

#endif
