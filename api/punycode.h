/* punycode.h - RFC 3492 Punycode: Bootstring with the parameters IDNA uses
 * (base 36, tmin 1, tmax 26, skew 38, damp 700, initial bias 72, initial n
 * 128, delimiter '-').
 *
 * It turns a label's Unicode code points into the ASCII that follows "xn--"
 * in an A-label, and back. It knows nothing of IDNA's rules (which code
 * points a label may hold, case, normalisation): api/mailbox.c applies
 * those. Encoding is what RFC 3492 section 6.3 does; decoding is section
 * 6.2, with every overflow check of section 6.4, and accepts the digits in
 * either case (the case annotation of section 5 is ignored).
 *
 * Ownership: inputs are borrowed; outputs go to the caller's buffers.
 * Never: allocates, does I/O, or reads past in + len. */
#ifndef SP_PUNYCODE_H
#define SP_PUNYCODE_H

#include <stddef.h>
#include <stdint.h>

#include "signer/check.h"

/* Encodes cp[0..n) (each <= 0x10FFFF, not a surrogate) into out, without
 * the "xn--" prefix, NUL-terminated; *out_len gets the length. 0 ok; -1
 * (err code "InvalidParameterValue") when a code point is out of range, the
 * arithmetic would overflow, or the text and its NUL do not fit in cap
 * (out is then the empty string when cap > 0). */
int punycode_encode(const uint32_t *cp, size_t n, char *out, size_t cap, size_t *out_len,
                    struct sp_err *err) SP_WARN_UNUSED;

/* Decodes in[0..len) (the part after "xn--") into code points out[0..cap);
 * *out_n gets their count. 0 ok; -1 (err code "InvalidParameterValue") on a
 * byte that is not a basic code point, a bad digit, a decoded value past
 * 0x10FFFF or a surrogate, an overflow, or more than cap code points. */
int punycode_decode(const char *in, size_t len, uint32_t *out, size_t cap, size_t *out_n,
                    struct sp_err *err) SP_WARN_UNUSED;

#endif
