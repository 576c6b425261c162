/* validate.h - check a call's JSON parameters against the SES model.
 *
 * Does what botocore's ParamValidator (botocore/validate.py) does, and a
 * little more, but reports EVERY problem in one struct sp_err (code
 * "ValidationError"), each named by its path:
 *   `Destination.ToAddresses[2]`, `Message.Body.Text.Data`, `Tags[0].Name`,
 *   map values as `Attributes.somekey`, map keys as `Attributes (key: k)`.
 * Checked: missing required members, unknown members, JSON types (string;
 * integer/long: JSON integers only; double/float: any number; boolean:
 * true/false; timestamp: what query_format_timestamp accepts; blob: a
 * canonical base64 string; structure and map: object; list: array), enums,
 * min/max (string length in code points as Python's len(str), list and map
 * sizes, number ranges, decoded blob size).
 * botocore checks only min, never max or enums; the proxy checks all three
 * because SES rejects them anyway, after a throttle token was spent.
 * A JSON null for a structure member means "absent" (null for a required
 * member is a missing member); null anywhere else is a type error. An
 * operation without an input shape takes only an empty object.
 *
 * Message: "N validation error(s): P1; P2; ...[; and M more]", at most
 * SP_ERR_MSG_LEN bytes, valid UTF-8; echoed values and keys are cut to 64
 * bytes on a character boundary and not escaped (the JSON writer escapes).
 *
 * Ownership: params are borrowed and never modified; nothing is allocated.
 * Never does I/O. */
#ifndef SP_VALIDATE_H
#define SP_VALIDATE_H

#include <jansson.h>

#include "api/model.h"
#include "signer/check.h"

/* Deepest nesting of parameters followed; deeper values are a problem. */
#define VALIDATE_MAX_DEPTH 64

/* params: the call's parameters as a JSON object (borrowed; the proxy
 * removes "Action" first). 0 when valid, else -1 with err filled. */
int validate_params(const struct model_service *svc, const struct model_op *op,
                    const json_t *params, struct sp_err *err) SP_WARN_UNUSED;

#endif
