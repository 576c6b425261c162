/* form_params.h - an SDK's Query form body read against the model, into
 * the same JSON parameters a JSON-mode call has.
 *
 * Pass-through mode must not forward what the proxy did not read: SES and
 * the proxy could pick different copies of a repeated key, or SES could act
 * on a key the policy never looked at. So the body is parsed here, strictly,
 * into JSON parameters; the proxy then validates them, applies the policy
 * and forwards its own serialization (api/query.h), never the client's
 * bytes. Refused, each with a message naming the key:
 *   - a key that appears twice (Action, RawMessage.Data, a list entry...);
 *   - a key that is not a member of the operation's input at that place,
 *     or that names a structure, list or map itself with a value (except
 *     `Name=` for an empty list, as the protocol writes it);
 *   - authentication-named keys: AWSAccessKeyId, Signature*, Timestamp,
 *     Expires, SecurityToken, X-Amz-* (any case): the proxy signs;
 *   - an Action other than the operation's, a Version other than the
 *     model's API version, or no Version;
 *   - list entries that are not exactly 1..N (`Name.member.N`), map entries
 *     (`Name.entry.N.key` / `.value`) that are not 1..N or lack a half, a
 *     map key given twice;
 *   - values the member's type cannot carry: strings that are not UTF-8,
 *     integers that are not plain decimal (no sign but '-', no leading
 *     zero, no exponent) or out of range, booleans other than "true" and
 *     "false", doubles that are not plain decimal numbers.
 * Enums, lengths, required members, timestamps and base64 are then checked
 * by api/validate.h on the result, exactly as for JSON calls.
 *
 * Ownership: the body is borrowed; the parameters returned are the
 * caller's (json_decref). Pure: no I/O. Keys are bounded (FORM_PARAMS_KEY_MAX)
 * and list indexes too, so a hostile body costs at most a few copies of
 * itself. */
#ifndef SP_FORM_PARAMS_H
#define SP_FORM_PARAMS_H

#include <jansson.h>
#include <stddef.h>

#include "api/model.h"
#include "signer/check.h"

/* Longest key read (decoded); a longer one is refused. */
#define FORM_PARAMS_KEY_MAX 512
/* Largest list or map index accepted (SES's lists are far shorter). */
#define FORM_PARAMS_INDEX_MAX 100000

/* Parses body[0..len) as op's input; *params (a new object, without
 * Action and Version) on success. -1 with err: code "MalformedRequest" for
 * the form's syntax (bad %-escape), "InvalidAction" for a wrong or
 * repeated Action, "ValidationError" for everything else. */
int form_params_parse(const struct model_service *svc, const struct model_op *op, const char *body,
                      size_t len, json_t **params, struct sp_err *err) SP_WARN_UNUSED;

#endif
