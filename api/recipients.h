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

#include <stddef.h>

/* Recipients in the To, Cc and Bcc fields of a raw message (the header
 * section ends at the first empty line or at len). */
size_t recipients_count_message(const char *msg, size_t len);

/* Decodes up to out_cap bytes of the start of a base64 text (RFC 4648,
 * whitespace ignored, stops at the first invalid character or padding).
 * Returns the number of bytes written. Used to read a raw message's header
 * section without decoding the whole (possibly 10 MB) message. */
size_t recipients_b64_prefix(const char *b64, size_t len, unsigned char *out, size_t out_cap);

#endif
