/* route.h - which REST operation an HTTP request is, by method and URI.
 *
 * SES v2 (REST-JSON) names its operation in the request line: each one has
 * a method and a request URI template (model_http), e.g.
 * GET /v2/email/identities/{EmailIdentity}. route_find() matches a request
 * against every template of the service and gives back the operation and
 * the values of its URI labels. (By name, SES's or boto3's, an operation is
 * found with model_find_op.)
 *
 * Matching, segment by segment of the path (the text between two '/'; a
 * trailing '/' makes an empty last segment, so "/a/" and "/a" differ):
 *   - a literal segment matches exactly the same bytes (no decoding, no case
 *     folding);
 *   - {Label} matches one non-empty segment;
 *   - {Label+} (greedy) matches one or more whole segments, '/' included,
 *     and must not be empty;
 *   - a template's fixed query part ("?x-id=Foo&flag") must be found among
 *     the request's query items (decoded, order free); other query items
 *     are the caller's to read.
 * Exactly one operation must match. None, or more than one (templates that
 * overlap), is "no such operation": the router never guesses, so a request
 * from an SDK newer than the model (an operation moved to a new path) is
 * refused rather than sent somewhere else.
 *
 * Labels are percent-decoded (%XX, either hex case; '+' stays '+'). The whole
 * target must be well-formed: a '%' not followed by two hex digits, a label
 * that decodes to a NUL byte or to bytes that are not UTF-8, is refused.
 *
 * Ownership: the method and target are borrowed and only read during the
 * call; decoded label values are written to the caller's buffer, and
 * route_match points into it and into the static model. Nothing is
 * allocated. Never: does I/O, or reads past target + target_len (the target
 * need not end in NUL). */
#ifndef SP_ROUTE_H
#define SP_ROUTE_H

#include <stddef.h>

#include "api/model.h"
#include "signer/check.h"

/* More labels than any SES template has (three at most). */
#define ROUTE_MAX_LABELS 8

struct route_label {
    const struct model_member *member; /* the label's member in the op's input shape */
    const char *value;                 /* decoded, NUL-terminated, in the caller's buffer */
    size_t len;                        /* bytes before the NUL */
};

struct route_match {
    const struct model_op *op;
    struct route_label labels[ROUTE_MAX_LABELS]; /* in the template's order */
    size_t n_labels;
};

/* Finds the one operation of svc whose method is method[0..method_len) and
 * whose URI template matches target[0..target_len) (an origin-form request
 * target: the path, then optionally '?' and the query). The buffer takes
 * the decoded labels: cap > target_len always suffices (anything smaller is
 * refused with "InternalError").
 *
 * 0 and *out filled on a match. -1 with err:
 *   "InvalidAction"    no operation matches, or more than one does;
 *   "MalformedRequest" a malformed %-escape in the target, or a label that
 *                      decodes to NUL or to bytes that are not UTF-8;
 *   "InternalError"    cap too small, or a template with more than
 *                      ROUTE_MAX_LABELS labels (not in the SES models). */
int route_find(const struct model_service *svc, const char *method, size_t method_len,
               const char *target, size_t target_len, char *buf, size_t cap,
               struct route_match *out, struct sp_err *err) SP_WARN_UNUSED;

#endif
