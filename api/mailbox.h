/* mailbox.h - RFC 5322 mailboxes, mailbox lists and address lists, read
 * the one way the policy may rely on.
 *
 * The policy ("this service may send only as *@example.com") is only as
 * good as its reading of addresses, and the adversary is a compromised
 * service trying to make the proxy read one address while SES reads
 * another. So this module reads the RFC 5322 grammar (section 3.4) and
 * refuses, with a reason and an offset, everything that two honest parsers
 * could read differently. It never guesses, and never repairs.
 *
 * What is read:
 *   - mailbox = name-addr / addr-spec; name-addr = [display-name]
 *     angle-addr. The display name is a phrase of atoms and quoted-strings;
 *     obs-phrase's "." after the first word is accepted ("John Q. Public").
 *     RFC 2047 encoded words are phrase text, never decoded, never an
 *     address. UTF-8 is accepted in display names and comments (RFC 6532).
 *   - comments, nested up to MAILBOX_COMMENT_DEPTH, and white space, before
 *     and after a mailbox, inside a display name and just inside the angle
 *     brackets ("< a@b.com >").
 *   - address-list with groups ("team: a@x.com, b@x.com;"): the members are
 *     the mailboxes, an empty group has none. Null members between commas
 *     (obs-addr-list: "a@x.com,,b@x.com") are skipped.
 *
 * Refused, stricter than RFC 5322 where it allows more:
 *   - white space or comments inside the addr-spec ("a (c) @ b.com",
 *     "a . b@c.com", "a@ b.com"): legal or obsolete, but where parsers
 *     differ; honest mail software never writes them.
 *   - '@', '<' or '>' inside a comment or a quoted display name, escaped
 *     or not ("a@good.com" <x@evil.com>, x@evil.com (a@good.com)): RFC
 *     5322 reads them as text, but a reader that does not know comments
 *     or quoting (a regular expression, a split at '<') finds an address
 *     there. This also refuses a display name that repeats the address.
 *   - obs-route ("<@good.com:x@evil.com>"): SES documents no support for
 *     source routes, and RFC 5321 says to ignore them; two readings exist.
 *   - domain literals ("a@[192.0.2.1]"): SES sends to host names only.
 *   - a quoted local part that holds anything but atext and '.' (so no
 *     '@', '<', '>', white space, backslash): the only honest reason to
 *     quote is a dot pattern ("a..b"@x.com); the rest is how one address
 *     is made to look like another. A quoted local part is otherwise the
 *     same local part as unquoted ("john"@x.com is john@x.com).
 *   - non-ASCII in the local part: SES does not support SMTPUTF8 (RFC
 *     6531) and documents that the local part must be 7-bit ASCII.
 *   - "=?" in a local part: RFC 2047 section 5 forbids an encoded word in
 *     an addr-spec, and a reader that decodes one anyway sees another
 *     address.
 *   - a local part over 64 bytes (RFC 5321 4.5.3.1.1) or empty.
 *   - NUL, CR, LF and every other control character but HTAB, and bytes
 *     that are not UTF-8 (overlong forms, surrogates, past U+10FFFF),
 *     anywhere in the input: header fields reach this module unfolded.
 *   - more than one mailbox where one is expected, a group where a
 *     mailbox-list is expected, nested groups, an unclosed group.
 *
 * Domains (mailbox_domain_normalise, and the domain of every mailbox) are
 * host names, returned in one canonical form: lowercase, each non-ASCII
 * label as its A-label ("xn--" + RFC 3492 Punycode), no trailing dot.
 *   - labels of 1-63 letters, digits and hyphens, not starting or ending
 *     with '-'; at most 253 bytes in all; the last label not all digits
 *     (which would be an IPv4 address in disguise); "ab--" labels other
 *     than "xn--" are reserved (IDNA2008) and refused.
 *   - a trailing dot ("example.com.") is refused: in an addr-spec it is
 *     not even dot-atom syntax, and one spelling per domain keeps policy
 *     comparisons plain string comparisons.
 *   - SES documents that Unicode domains must be sent as Punycode. A
 *     U-label given anyway is converted to its A-label, after ASCII
 *     letters are lowercased, WITHOUT the IDNA2008/UTS 46 mapping (Unicode
 *     case folding, NFC), which needs Unicode tables this module does not
 *     have. That fails closed: a label whose code points a mapping would
 *     change gets an A-label other than the mapped label's, so it can only
 *     equal a pattern written with the very same code points, never the
 *     one written for the mapped name. To give reasons where it matters,
 *     these are refused outright: uppercase Latin-1, Greek and Cyrillic
 *     letters; controls; invisible and format characters (soft hyphen,
 *     zero-width and bidi controls, variation selectors, BOM); dots and
 *     spaces that UTS 46 maps onto '.' or ' ' (U+3002, U+FF0E, U+FF61,
 *     U+2024, U+FE52, U+3000, with all of U+2000-U+206F); fullwidth and
 *     halfwidth forms (U+FF00-U+FFEF: fullwidth "good" maps onto ASCII
 *     "good"); private use and noncharacters.
 *   - an A-label ("xn--...") is decoded and must pass the same checks and
 *     encode back to itself; otherwise it is refused.
 *   Homographs (a Cyrillic U+0430 for the 'a' of "paypal.com") are read
 *   faithfully: their A-label differs from the ASCII name's, so they match
 *   only a pattern that names that A-label. The `idn` flag says an A-label
 *   is present, for a policy that wants none.
 *
 * Errors: code "InvalidParameterValue" (SES's own code for a bad address)
 * and a message saying what was not understood and at which byte offset of
 * the input, quoting at most MAILBOX_EXCERPT_MAX input bytes, sanitised to
 * printable ASCII.
 *
 * Ownership: input is borrowed (not NUL-terminated; nothing past len is
 * read); mailboxes hold copies. Nothing is allocated.
 * Never: does I/O, allocates, or keeps state between calls. */
#ifndef SP_MAILBOX_H
#define SP_MAILBOX_H

#include <stddef.h>

#include "signer/check.h"

#define MAILBOX_LOCAL_MAX 64    /* RFC 5321 4.5.3.1.1 */
#define MAILBOX_DOMAIN_MAX 253  /* host name, A-label form, no trailing dot */
#define MAILBOX_COMMENT_DEPTH 8 /* nesting of comments: "(a (b (c)))" is 3 */
#define MAILBOX_TEXT_MAX 4096   /* a single mailbox or path, display name included */
#define MAILBOX_EXCERPT_MAX 32  /* input bytes an error message quotes */
/* mailbox_format's worst case: a quoted local part, '@', the domain, NUL. */
#define MAILBOX_FORMAT_MAX (MAILBOX_LOCAL_MAX + 2 + 1 + MAILBOX_DOMAIN_MAX + 1)

struct mailbox {
    /* The local part as SES compares it: quotes removed (there is no
     * escape inside, see above), case kept. ASCII, NUL-terminated. */
    char local[MAILBOX_LOCAL_MAX + 1];
    /* Lowercase, A-labels, no trailing dot; NUL-terminated. */
    char domain[MAILBOX_DOMAIN_MAX + 1];
    int has_display_name; /* "Name <a@b>" rather than "<a@b>" or "a@b" */
    int local_quoted;     /* the local part was written as a quoted-string */
    int idn;              /* the domain has an A-label (given as one or converted) */
};

/* Exactly one mailbox: Source, ReturnPath, FromEmailAddress, a Sender
 * field. Zero mailboxes, a list, a group or more than MAILBOX_TEXT_MAX
 * bytes are errors. 0 ok (*out filled), -1 err filled. */
int mailbox_parse_one(const char *s, size_t len, struct mailbox *out,
                      struct sp_err *err) SP_WARN_UNUSED;

/* A Return-Path field body (RFC 5322 "path"): one address without a
 * display name, in angle brackets or bare, or the null path "<>". 0 ok
 * (*is_null set; *out filled unless null), -1 err filled. */
int mailbox_parse_path(const char *s, size_t len, struct mailbox *out, int *is_null,
                       struct sp_err *err) SP_WARN_UNUSED;

/* Iterating a list: MAILBOX_LIST is RFC 5322 mailbox-list (From,
 * Resent-From: no groups); MAILBOX_ADDRESS_LIST is address-list (To, Cc,
 * Bcc, Reply-To, Destination.ToAddresses: groups allowed, yielding their
 * members). Fields of the cursor are private. */
enum mailbox_list_kind { MAILBOX_LIST, MAILBOX_ADDRESS_LIST };

struct mailbox_cursor {
    const char *s;
    size_t len;
    size_t off;
    enum mailbox_list_kind kind;
    int in_group;
    int checked;
};

void mailbox_cursor_init(struct mailbox_cursor *c, const char *s, size_t len,
                         enum mailbox_list_kind kind);

/* The next mailbox: 1 (*out filled), 0 at the end of the list, -1 on the
 * first thing that cannot be read (err filled; the list as a whole must
 * then be refused: calling again repeats the error). An empty list (or
 * one of only white space, commas and empty groups) ends at once. */
int mailbox_next(struct mailbox_cursor *c, struct mailbox *out, struct sp_err *err) SP_WARN_UNUSED;

/* Reads the whole list: *count gets the number of mailboxes mailbox_next
 * would yield. 0 ok, -1 err filled (and *count undefined). */
int mailbox_list_count(const char *s, size_t len, enum mailbox_list_kind kind, size_t *count,
                       struct sp_err *err) SP_WARN_UNUSED;

/* Normalises a host name as described above into out (NUL-terminated;
 * cap >= MAILBOX_DOMAIN_MAX + 1 always suffices). The input may hold
 * U-labels (UTF-8), A-labels and ASCII in any case. 0 ok, -1 err filled. */
int mailbox_domain_normalise(const char *s, size_t len, char *out, size_t cap,
                             struct sp_err *err) SP_WARN_UNUSED;

/* The canonical addr-spec of m: "local@domain", the local part quoted only
 * when it is not a dot-atom ("a..b"@x.com). mailbox_parse_one reads it back
 * to the same local part and domain. Written NUL-terminated into out
 * (cap >= MAILBOX_FORMAT_MAX always suffices); *out_len may be NULL.
 * 0 ok, -1 (err filled) when it does not fit. */
int mailbox_format(const struct mailbox *m, char *out, size_t cap, size_t *out_len,
                   struct sp_err *err) SP_WARN_UNUSED;

/* Up to MAILBOX_EXCERPT_MAX bytes of s from off on, as printable ASCII for
 * an error message: '"', '\\' and every byte outside 0x20-0x7E become
 * \xHH, "..." marks a cut. Always NUL-terminates (cap >= 1); cap >=
 * 4 * MAILBOX_EXCERPT_MAX + 4 holds any excerpt. */
void mailbox_excerpt(const char *s, size_t len, size_t off, char *out, size_t cap);

#endif
