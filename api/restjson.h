/* restjson.h - SES v2's wire protocol (REST-JSON): an operation's JSON
 * parameters as the HTTP request botocore's RestJSONSerializer builds.
 *
 * Both ways into the proxy end here: a JSON-mode call's parameters, and the
 * parameters restjson_inbound_parse (api/restjson_inbound.h) read from an
 * SDK's request. The request is what botocore 1.29's
 * RestJSONSerializer.serialize_to_request gives, prepared as its AWSRequest
 * puts it on the wire (tests/integ/test_restjson_oracle.py holds every SES v2
 * operation to it):
 *
 *   method  the model's.
 *   path    the URI template with each {Label} percent-encoded (everything
 *           but ASCII letters, digits and "-._~"; a greedy {Label+} keeps
 *           '/' too). An integer label is its decimal text.
 *   query   the template's fixed part (after '?', as written), then one
 *           key=value per querystring member, in the order of the params
 *           object (botocore iterates the caller's dict): a list as the key
 *           repeated, in order; a map's entries as their own keys; booleans
 *           "true"/"false"; numbers as Python's str(); timestamps in the
 *           shape's format, by default ISO 8601 ("2020-01-02T03:04:05Z",
 *           ".ffffffZ" with microseconds); keys and values percent-encoded
 *           as labels are. No leading '?'; "" when there is none (botocore
 *           ends the query with a stray '&' when the fixed part is followed
 *           only by empty lists; this writes none).
 *   headers one per header member, in params order, then a headers map's
 *           entries (prefix + key), then Content-Type: application/json when
 *           there is a body. Integers in decimal; timestamps cut to whole
 *           seconds, then in the shape's format, by default RFC 822
 *           ("Thu, 02 Jan 2020 03:04:05 GMT"); a jsonvalue member as base64
 *           of its value's compact json.dumps text (any JSON value).
 *   body    the JSON object of the body members, in params order, nested
 *           structures in their own order, as json.dumps prints it (see
 *           api/restjson_buf.h); keys are the members' wire names;
 *           timestamps by default as whole epoch seconds (a number), blobs
 *           as the base64 text the caller gave. A structure payload member
 *           is the whole body ("{}" when absent). An input with body members
 *           but none given has the body "{}"; an input with none at all (only
 *           URI, query and header members) has no body and no Content-Type.
 *
 * A JSON null means "absent" for a member of a structure, at any depth (as
 * validate_params reads it).
 *
 * What the serializer refuses rather than guesses ("ValidationError" unless
 * said otherwise):
 *   - a URI label that is empty, "." or ".." (a greedy one: an empty
 *     segment, or a "." or ".." segment): the path would name another
 *     resource, or be rewritten by whoever normalizes it;
 *   - a header value that is not printable ASCII (botocore's http.client
 *     would send latin-1 bytes or fail) or starts or ends with a blank (the
 *     receiver trims it); a headers-map key that is not an HTTP token; two
 *     headers whose names differ only in case;
 *   - a query key given twice (a query map's key equal to another query
 *     member's: botocore's dict.update would keep one silently);
 *   - "InternalError" for model features botocore releases disagree on and
 *     no SES model has: boolean or timestamp URI labels, boolean or list
 *     header members, query lists of anything but strings and integers, a
 *     payload structure beside body members, a non-structure payload.
 * Everything else is validate_params's job: run it first; the serializer
 * then only refuses what it cannot write ("ValidationError" for a value of
 * the wrong JSON type). An idempotency token member is an ordinary string
 * here: botocore fills an absent one with a random UUID before serializing;
 * the proxy sends what the caller gave.
 *
 * Ownership: params and the model are borrowed; the request's strings,
 * header array and body are heap memory owned by struct restjson_request
 * until restjson_request_clear. Never: does I/O, signs, or adds headers
 * that carry no data (Host, User-Agent, Content-Length, X-Amz-Date are the
 * sender's). */
#ifndef SP_RESTJSON_H
#define SP_RESTJSON_H

#include <jansson.h>
#include <stddef.h>

#include "api/model.h"
#include "signer/check.h"

/* Deepest nesting of parameters followed (validate_params refuses deeper). */
#define RESTJSON_MAX_DEPTH 64

struct restjson_header {
    char *name;  /* as the model spells it, e.g. "Content-Type" */
    char *value; /* printable ASCII, no leading or trailing blank */
};

struct restjson_request {
    const char *method; /* the model's (static) */
    char *path;         /* NUL-terminated, starts with '/' */
    char *query;        /* NUL-terminated, "" when none; no '?' */
    struct restjson_header *headers;
    size_t n_headers;
    char *body;      /* NULL when there is no body, else body_len bytes (+ a NUL) */
    size_t body_len; /* the exact bytes to sign and send */
};

/* One HTTP header field of a request or an answer, as the caller's HTTP
 * parser holds it: borrowed slices, not NUL-terminated (the layout of
 * proxy/http/http1.h's http1_header). */
struct restjson_field {
    const char *name;
    size_t name_len;
    const char *value; /* optional whitespace around it already removed */
    size_t value_len;
};

/* Builds in *out the request for op of svc with params (a JSON object, or
 * NULL for none). 0 on success; -1 with err filled and *out empty (safe to
 * clear) on failure. */
int restjson_serialize(const struct model_service *svc, const struct model_op *op,
                       const json_t *params, struct restjson_request *out,
                       struct sp_err *err) SP_WARN_UNUSED;

/* Frees what *r owns and leaves it empty. Safe on an empty request. */
void restjson_request_clear(struct restjson_request *r);

/* What the serializer writes, and restjson_inbound_parse therefore reads
 * (one definition, so the two directions cannot drift apart):
 *   restjson_label_ok: a URI label value (decoded) that is not empty, "."
 *     or ".."; greedy: no empty, "." or ".." segment between its '/'s;
 *   restjson_header_name_ok: an RFC 9110 token;
 *   restjson_header_value_ok: printable ASCII and tabs, no blank at
 *     either end (empty is fine).
 * Each returns 1 or 0. */
int restjson_label_ok(const char *value, size_t len, int greedy);
int restjson_header_name_ok(const char *name, size_t len);
int restjson_header_value_ok(const char *value, size_t len);

#endif
