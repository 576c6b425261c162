/* xmljson.h - SES's XML answers turned into boto3-shaped JSON, and the
 * SES-style XML error document the proxy writes for SDK pass-through clients.
 *
 * SES answers a Query call with <OpNameResponse> (the result members inside
 * <OpNameResult>, plus <ResponseMetadata>) or, for any 4xx/5xx, with
 * <ErrorResponse>. This module streams that body through expat as it arrives
 * (chunks of any size, never required to be contiguous) and builds the JSON
 * botocore's QueryParser would give for the operation's output shape:
 * structures as objects, lists (<member> items) as arrays, maps (<entry> with
 * <key>/<value>) as objects, booleans, integers and doubles typed per the
 * model, strings with entities decoded and CDATA kept. Two deliberate
 * differences from boto3: timestamps stay the ISO 8601 string SES sent (boto3
 * would give a datetime) and blobs stay the base64 text SES sent (boto3 would
 * decode them). Elements the model does not know are ignored wherever
 * botocore ignores them (in structures, around the result), so a newer SES
 * stays readable; like botocore, every child of a list element is an item.
 *
 * Ownership: struct xmljson is one heap object per response (or reused for
 * the next with xmljson_reset()), owned by the caller until xmljson_free().
 * The service and operation are borrowed (the generated model is static).
 * Bytes passed to xmljson_feed() are not kept. xmljson_finish() hands the
 * caller a new reference (one json_decref).
 *
 * It never does I/O, never reads a DTD or expands a declared entity (a
 * DOCTYPE is rejected outright), never recurses on the input (an explicit
 * stack of at most XMLJSON_MAX_DEPTH elements), and never keeps more than
 * XMLJSON_MAX_TEXT bytes of character data or XMLJSON_MAX_ELEMENTS elements
 * per response. A body that is not well-formed XML, or not an SES answer for
 * the operation (wrong root element, missing result element, a number that
 * is not a number), fails with err code "BadGateway". */
#ifndef SP_XMLJSON_H
#define SP_XMLJSON_H

#include <stddef.h>

#include <jansson.h>

#include "api/model.h"
#include "signer/check.h"

/* Limits per response; exceeding one is a BadGateway failure. */
#define XMLJSON_MAX_DEPTH 64                   /* nested elements, root included */
#define XMLJSON_MAX_TEXT ((size_t)16 << 20)    /* character data kept, whole document */
#define XMLJSON_MAX_ELEMENTS ((size_t)1 << 20) /* elements, whole document */

struct xmljson; /* opaque parser state */

/* A parser for one response to op of svc (both borrowed; they must outlive
 * it). op may be NULL when only an <ErrorResponse> is acceptable; then svc
 * may be NULL too. NULL on out of memory. */
struct xmljson *xmljson_new(const struct model_service *svc, const struct model_op *op);

/* Feeds the next len bytes of the body (data may be NULL when len is 0).
 * is_final marks the last chunk (it may be empty). Once a call fails, every
 * later call fails with the same error. */
int xmljson_feed(struct xmljson *x, const char *data, size_t len, int is_final,
                 struct sp_err *err) SP_WARN_UNUSED;

/* Ends the parse (an implicit empty final feed if none was made) and stores
 * in *out a new reference to the JSON object:
 *   success: the op's output members, then "ResponseMetadata": an object
 *            with the children of SES's <ResponseMetadata> (normally just
 *            "RequestId"), {} if there was none; ops without an output shape
 *            give only "ResponseMetadata".
 *   error:   botocore's QueryParser._do_error_parse of <ErrorResponse>: each
 *            child element becomes a key, an element with children an
 *            object, a leaf its text or null when empty; so normally
 *            {"Error": {"Type", "Code", "Message"}, "ResponseMetadata":
 *            {"RequestId"}}, each key only when SES sent it. <Errors> is
 *            merged up and a top-level <RequestId> moved into
 *            "ResponseMetadata", as botocore does. Callers must not assume
 *            "Error" or its "Code" is present.
 * *is_error is 1 for <ErrorResponse>, else 0. Call it once; on failure *out
 * is NULL. */
int xmljson_finish(struct xmljson *x, json_t **out, int *is_error,
                   struct sp_err *err) SP_WARN_UNUSED;

/* Frees the parser and anything not handed out. NULL is a no-op. */
void xmljson_free(struct xmljson *x);

/* Documents up to this size leave a parser worth reusing. */
#define XMLJSON_REUSE_MAX ((size_t)64 << 10)

/* Makes x ready for a response to op of svc, as xmljson_new would, but
 * keeping expat's parser and the text buffer (much cheaper than free and
 * new; the proxy keeps one spare). Whatever the last document left and was
 * not handed out is freed, whether or not it finished. 0 on success; -1 when
 * x is not worth keeping (it was fed more than XMLJSON_REUSE_MAX bytes, whose
 * buffers it would hold on to) or expat cannot reset: then xmljson_free it. */
int xmljson_reset(struct xmljson *x, const struct model_service *svc,
                  const struct model_op *op) SP_WARN_UNUSED;

/* One-shot new + feed(is_final) + finish + free for a contiguous body. */
int xmljson_parse(const struct model_service *svc, const struct model_op *op, const char *xml,
                  size_t len, json_t **out, int *is_error, struct sp_err *err) SP_WARN_UNUSED;

#endif
