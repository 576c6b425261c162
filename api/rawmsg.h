/* rawmsg.h - what the policy and the throttle need from a raw MIME message
 * (SendRawEmail's RawMessage.Data): the header section's sender and
 * recipient fields, read through api/mailbox.h.
 *
 * SES takes the sender from the message's From when Source is absent,
 * counts the recipients of To, Cc and Bcc against the send rate when
 * Destinations is absent, and honours the X-SES-FROM-ARN,
 * X-SES-SOURCE-ARN, X-SES-RETURN-PATH-ARN and X-SES-CONFIGURATION-SET
 * fields as it does the API parameters. A compromised service will try to
 * make the proxy read those fields otherwise than SES does, so this module
 * reads the header section (RFC 5322 section 2.2) strictly and refuses,
 * with a reason, whatever could be read two ways:
 *
 *   - Only the header section is read: up to and including the first empty
 *     line, which must come within RAWMSG_HEAD_MAX bytes of the message. A
 *     message that ends, or reaches the bound, before that line is refused:
 *     a cut line is never acted on. A message given as base64 is decoded
 *     as it is read and only as far as that line, so a 40 MB message costs
 *     its header section.
 *   - Lines end in CRLF or all of them in LF (the first line decides): a
 *     bare CR, a bare LF among CRLF lines, a CR among LF lines and a NUL
 *     are refused, as is a line longer than RAWMSG_LINE_MAX bytes (RFC
 *     5322 2.1.1; SES refuses such lines too).
 *   - Every field is "name:body" with a name of printable ASCII but ':'
 *     (no space before the colon: obs-fields like "From : x" are refused);
 *     a line without a colon, a continuation line (starting with SP or
 *     HTAB) before any field, and a continuation line of white space only
 *     (which some readers take for the end of the header section) are
 *     refused. Folded fields are unfolded (RFC 5322 2.2.3: each CRLF
 *     before WSP is removed) before they are read.
 *   - From (mailbox-list, at least one mailbox; more than one needs a
 *     Sender, RFC 5322 3.6.2), Sender (one mailbox), Reply-To
 *     (address-list), Return-Path (one address or "<>"), To, Cc, Bcc
 *     (address-lists; groups count their members) and the four X-SES
 *     fields may each appear at most once (RFC 5322 3.6's table; SES
 *     reading the first or the last of two is exactly the ambiguity to
 *     avoid). Names compare case-insensitively. Any address that
 *     api/mailbox.h refuses makes the whole message refused.
 *   - An X-SES field's value (surrounding white space removed) must be
 *     non-empty printable ASCII without spaces, at most RAWMSG_VALUE_MAX
 *     bytes; anything else is refused.
 *   - Other fields are only split and bounded, never interpreted.
 *
 * Base64 (RFC 4648 section 4 alphabet) is decoded strictly: no white space
 * or line breaks (SDKs never send them, and the validator refuses the JSON
 * blob that has them), '=' only as the padding of the last quantum, with
 * zero spare bits, and the text a multiple of 4 characters (checked up
 * front for RAWMSG_BASE64; in a form value, whose decoded length is known
 * only by reading it all, only as far as it is read). Only the part read
 * is checked; the validator checks the whole blob. In a form body
 * (SDK pass-through) the base64 is still percent-encoded: '+' there is a
 * space (so refused), %XX one byte, a malformed escape refused.
 *
 * Errors: code "InvalidParameterValue", with the byte offset in the
 * (decoded) message and the field's name.
 *
 * Ownership: input is borrowed (nothing past len is read). The result is
 * the caller's (it is a few KiB: keep it off small stacks if need be);
 * scratch space for the current field is allocated and freed inside.
 * Never: does I/O, keeps state, or reads past the header section. */
#ifndef SP_RAWMSG_H
#define SP_RAWMSG_H

#include <stddef.h>

#include "api/mailbox.h"
#include "signer/check.h"

#define RAWMSG_HEAD_MAX 65536 /* header section with its empty line, in bytes */
#define RAWMSG_LINE_MAX 998   /* bytes per line without its CRLF (RFC 5322 2.1.1) */
#define RAWMSG_FROM_MAX 16    /* From mailboxes kept; more is refused */
#define RAWMSG_REPLY_TO_MAX 16
#define RAWMSG_VALUE_MAX 1024 /* an X-SES field's value */

enum rawmsg_encoding {
    RAWMSG_BYTES,       /* the message itself */
    RAWMSG_BASE64,      /* RawMessage.Data in JSON */
    RAWMSG_BASE64_FORM, /* RawMessage.Data in a form body, still percent-encoded */
};

struct rawmsg_value {
    int present;
    size_t len;
    char text[RAWMSG_VALUE_MAX + 1]; /* NUL-terminated */
};

struct rawmsg {
    size_t head_len; /* bytes of the header section, its empty line included */
    size_t n_from;   /* 0 when there is no From field */
    struct mailbox from[RAWMSG_FROM_MAX];
    int has_sender;
    struct mailbox sender;
    int has_return_path;
    int return_path_null; /* "Return-Path: <>" */
    struct mailbox return_path;
    int has_reply_to;
    size_t n_reply_to;
    struct mailbox reply_to[RAWMSG_REPLY_TO_MAX];
    size_t n_to, n_cc, n_bcc; /* mailboxes in each field */
    size_t recipients;        /* n_to + n_cc + n_bcc, as SES counts them */
    struct rawmsg_value from_arn, source_arn, return_path_arn, configuration_set;
};

/* Reads the header section of the message in data[0..len), given as
 * enc says, into *out. 0 ok; -1 err filled (*out is then zeroed). */
int rawmsg_read(const char *data, size_t len, enum rawmsg_encoding enc, struct rawmsg *out,
                struct sp_err *err) SP_WARN_UNUSED;

#endif
