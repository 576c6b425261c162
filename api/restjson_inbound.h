/* restjson_inbound.h - an SDK's SES v2 request read back into the JSON
 * parameters of its operation (SDK pass-through).
 *
 * An unmodified @aws-sdk/client-sesv2, boto3 sesv2 or `aws sesv2` call
 * reaches the proxy as method, target, headers and body. route_find
 * (api/route.h) names the operation and decodes its URI labels; this module
 * reads the rest, so that the proxy's policy, validate_params and
 * restjson_serialize all run on one JSON object, and SES receives exactly
 * the proxy's serialization of what its policy read. Anything two readers
 * could read differently is refused with a reason, never guessed at.
 *
 * Read:
 *   labels  from the router's match: a string label as decoded, an integer
 *           label's decimal text as a number; an empty label, or "." or ".."
 *           (for a greedy label: an empty, "." or ".." segment), is refused.
 *   query   items key=value separated by '&'. Keys and values are
 *           percent-decoded (%XX, either hex case) and must be UTF-8 text
 *           without NUL; one '&' at the very end is ignored (botocore writes it
 *           after a template's fixed items when only empty lists follow).
 *           Refused ("MalformedRequest"): any other empty item, an item
 *           without '=' (unless it is a fixed item of the template), a raw
 *           '+' (a space to form decoders, a plus to RFC 3986 ones), a raw
 *           '=' in a value, a raw byte outside RFC 3986's pchar, a malformed
 *           escape. The template's fixed items are consumed once each (a
 *           second copy is refused). Each other key must be a querystring
 *           member's wire name, else the key of the input's querystring map
 *           if it has one, else it is refused ("ValidationError"). Values are
 *           typed by the member's shape: a list takes the key repeated (in
 *           order), a scalar refuses it repeated; integers in canonical
 *           decimal ("-12", not "+12" or "012"), booleans "true" or "false",
 *           timestamps in the shape's format (by default ISO 8601 as RFC 3339
 *           writes it, with 'Z' or an offset and any fraction; "unixTimestamp":
 *           epoch seconds, a fraction allowed; "rfc822": IMF-fixdate).
 *   headers each header member from the field of its name (ASCII case
 *           insensitive); a field given twice is refused. Strings as sent,
 *           integers in canonical decimal, timestamps in the shape's format
 *           (by default RFC 822's IMF-fixdate, "Sun, 06 Nov 1994 08:49:37
 *           GMT", weekday checked), a jsonvalue member as canonical base64
 *           of UTF-8 JSON text (the member's value is that JSON value).
 *           A headers (prefix) map takes every field whose name starts with
 *           the prefix, the rest of the name (as sent) as its key. Other
 *           fields are not the parameters' (the caller's HTTP and signing
 *           fields, User-Agent, ...).
 *   body    empty, or one JSON object (RFC 8259, UTF-8, no key twice at any
 *           depth, no NUL in strings; else "MalformedRequest"). Its keys must
 *           be the wire names of the input's body members
 *           ("ValidationError" for an unknown key, and for a URI, query or
 *           header member's name: a member must not travel in two places);
 *           nested structures' keys likewise. A JSON null member is absent.
 *           Timestamps in the body are epoch seconds as SDKs send them: a
 *           number, integer or with a fraction (JavaScript's SDK sends
 *           milliseconds as a fraction). A structure payload member takes the
 *           whole body; "{}" then means absent (botocore sends "{}" for both).
 *           An input without body members takes no body or "{}".
 *
 * Normal form of what comes out, so that serialize -> parse -> serialize is
 * stable: a body timestamp (unixTimestamp) becomes whole epoch seconds, the
 * integer botocore would send (its fraction dropped, as
 * int(calendar.timegm(...)) does); a query or header unixTimestamp likewise;
 * every other timestamp becomes "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (UTC, a
 * 4-digit year, microseconds when not zero; header timestamps whole
 * seconds, as botocore cuts them). Blobs stay the base64 text sent (not
 * decoded: validate_params checks it is canonical). Nothing else changes.
 *
 * Types beyond these are left as sent for validate_params to report with
 * their paths (a string where the model says integer, in the body).
 * Model features no SES model has and botocore releases disagree on
 * (boolean or timestamp URI labels, boolean or list headers) are refused
 * ("InternalError"), as restjson_serialize refuses them.
 *
 * Ownership: everything passed in is borrowed for the call; *params is a
 * new JSON object (one json_decref) on success, NULL on failure. Never:
 * does I/O, or reads past any (pointer, length) given (none need a NUL). */
#ifndef SP_RESTJSON_INBOUND_H
#define SP_RESTJSON_INBOUND_H

#include <jansson.h>
#include <stddef.h>

#include "api/model.h"
#include "api/restjson.h"
#include "api/route.h"
#include "signer/check.h"

/* match: route_find's result for the request (its labels borrowed).
 * query: the request target's query, after the first '?' and without it
 * (query_len 0 when there is none). fields: the request's header fields.
 * body: body_len bytes (may be NULL when 0). */
int restjson_inbound_parse(const struct model_service *svc, const struct route_match *match,
                           const char *query, size_t query_len, const struct restjson_field *fields,
                           size_t n_fields, const char *body, size_t body_len, json_t **params,
                           struct sp_err *err) SP_WARN_UNUSED;

#endif
