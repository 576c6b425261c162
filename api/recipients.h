/* recipients.h - how many recipients SES counts for a sending call.
 *
 * SES's maximum send rate is counted in recipients, not calls. For
 * SendRawEmail without Destinations, SES takes the recipients from the
 * message's To, Cc and Bcc header fields, so this module reads them: an
 * RFC 5322 header section (unfolded), address lists split on commas outside
 * quoted strings, comments and angle brackets, groups ("team: a, b;")
 * counted by their members. Only the header section is looked at.
 *
 * Pure: no I/O, no allocation; input buffers are borrowed. */
#ifndef SP_RECIPIENTS_H
#define SP_RECIPIENTS_H

#include <jansson.h>
#include <stddef.h>

/* Recipients in the To, Cc and Bcc fields of a raw message (the header
 * section ends at the first empty line or at len). */
size_t recipients_count_message(const char *msg, size_t len);

/* The address in the message's From field ("Name <a@b>" gives a@b), copied
 * NUL-terminated into out. 0 when found, -1 when absent or too long. */
int recipients_from_address(const char *msg, size_t len, char *out, size_t cap);

/* Decodes up to out_cap bytes of the start of a base64 text (RFC 4648,
 * whitespace ignored, stops at the first invalid character or padding).
 * Returns the number of bytes written. Used to read a raw message's header
 * section without decoding the whole (possibly 10 MB) message. */
size_t recipients_b64_prefix(const char *b64, size_t len, unsigned char *out, size_t out_cap);

/* The same two questions about a message given as base64 (RawMessage.Data
 * in JSON), or as base64 inside a form value (still percent-encoded):
 * only the first RECIPIENTS_HEAD_MAX bytes of the message are decoded, so a
 * 10 MB message costs 64 KiB of work. Not reentrant (one static scratch
 * buffer; the proxy is single-threaded). */
#define RECIPIENTS_HEAD_MAX 65536
size_t recipients_count_b64(const char *b64, size_t len, int percent_encoded);
int recipients_from_b64(const char *b64, size_t len, int percent_encoded, char *out, size_t cap);

/* Recipients a sending call counts against the send rate, from its
 * validated JSON parameters: To + Cc + Bcc of Destination; the sum over
 * Destinations for SendBulkTemplatedEmail; SendRawEmail's Destinations, else
 * the raw message's own To/Cc/Bcc. At least 1. */
struct model_op;
double recipients_count_params(const struct model_op *op, const json_t *params);

/* The same count from an SDK's form body: list entries that end in
 * ".member.N" under To/Cc/BccAddresses (also inside bulk destinations) or
 * Destinations (raw), else the raw message's own header fields. */
double recipients_count_form(const char *body, size_t len);

#endif
