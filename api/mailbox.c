/* mailbox.c - RFC 5322 addresses and host names (see mailbox.h).
 *
 * Every read goes through a (pointer, length, offset) scan, as form.c
 * does: no function here looks for a NUL or reads past len. The input is
 * vetted once (controls, UTF-8) before the grammar is read, so the grammar
 * functions see only WSP, printable ASCII and whole UTF-8 characters. */
#include "api/mailbox.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "api/punycode.h"

static const char invalid[] = "InvalidParameterValue";

/* ------------------------------------------------------------ messages */

void mailbox_excerpt(const char *s, size_t len, size_t off, char *out, size_t cap) {
    size_t o = 0;
    if (cap == 0) {
        return;
    }
    off = off < len ? off : len;
    size_t end = len - off > MAILBOX_EXCERPT_MAX ? off + MAILBOX_EXCERPT_MAX : len;
    size_t i = off;
    for (; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        char buf[8];
        size_t n = 1;
        if (c >= 0x20 && c <= 0x7E && c != '"' && c != '\\') {
            buf[0] = (char)c;
        } else {
            n = (size_t)snprintf(buf, sizeof(buf), "\\x%02X", c);
        }
        if (o + n + 1 > cap) {
            break;
        }
        memcpy(out + o, buf, n);
        o += n;
    }
    if (i < len && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Fails with "<why> at offset <off> ("<excerpt>")". */
static SP_PRINTF(5, 6) int fail_at(struct sp_err *err, const char *s, size_t len, size_t off,
                                   const char *fmt, ...) {
    char why[256], ex[4 * MAILBOX_EXCERPT_MAX + 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    mailbox_excerpt(s, len, off, ex, sizeof(ex));
    return sp_fail(err, invalid, "%s at offset %zu (\"%s\")", why, off, ex);
}

/* A byte named for a message: 'x' when printable, else its value. */
static const char *byte_name(unsigned char c, char *buf, size_t cap) {
    if (c > 0x20 && c < 0x7F && c != '\'' && c != '"' && c != '\\') {
        snprintf(buf, cap, "'%c'", c);
    } else if (c == ' ') {
        snprintf(buf, cap, "a space");
    } else {
        snprintf(buf, cap, "byte 0x%02X", c);
    }
    return buf;
}

/* --------------------------------------------------------------- UTF-8 */

/* Decodes the UTF-8 character at s[i..len): its length (1-4) with *cp, or
 * 0 when the bytes are not UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static size_t utf8_decode(const char *str, size_t len, size_t i, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[i];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len - i < n) {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            return 0;
        }
        v = v << 6 | (s[i + k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return n;
}

/* The vetting pass: every control but HTAB (NUL, CR and LF included: a
 * header field arrives here unfolded, and a parameter has no lines) and
 * every byte that is not UTF-8 is refused before the grammar is read. */
static int check_text(const char *s, size_t len, struct sp_err *err) {
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            return fail_at(err, s, len, i, "control character 0x%02X", c);
        }
        size_t n = utf8_decode(s, len, i, &cp);
        if (n == 0) {
            return fail_at(err, s, len, i, "byte 0x%02X that is not UTF-8", c);
        }
        i += n;
    }
    return 0;
}

/* ---------------------------------------------------------- host names */

/* A host name problem: where (relative to the domain) and why. */
struct dn_err {
    size_t off;
    char why[192];
};

static SP_PRINTF(3, 4) int dn_fail(struct dn_err *e, size_t off, const char *fmt, ...) {
    va_list ap;
    e->off = off;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof(e->why), fmt, ap);
    va_end(ap);
    return -1;
}

/* Why code point c cannot be in a label we accept, or NULL when it can.
 * ASCII: lowercase LDH only (callers lowercase given labels first). The
 * rest is the list in mailbox.h: what UTS 46 would map, hide or turn into
 * a separator, where a reason is worth more than a silent mismatch. */
static const char *cp_problem(uint32_t c) {
    if (c < 0x80) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            return NULL;
        }
        return c >= 'A' && c <= 'Z' ? "an uppercase letter" : "not a letter, digit or '-'";
    }
    if (c <= 0x9F) {
        return "a control character";
    }
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9) ||
        (c >= 0x400 && c <= 0x42F)) {
        return "an uppercase letter (IDNA needs it in lowercase)";
    }
    if (c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x206F)) {
        return "a space, punctuation or format character";
    }
    if (c == 0x3002 || c == 0xFE52 || (c >= 0xFE50 && c <= 0xFE6F)) {
        return "a dot or small form that IDNA maps onto ASCII";
    }
    if (c >= 0xFF00 && c <= 0xFFEF) {
        return "a fullwidth or halfwidth form (IDNA maps it onto another character)";
    }
    if (c == 0xAD || c == 0x34F || c == 0x61C || c == 0x115F || c == 0x1160 || c == 0x17B4 ||
        c == 0x17B5 || (c >= 0x180B && c <= 0x180F) || c == 0x3164 ||
        (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || (c >= 0xE0000 && c <= 0xE0FFF)) {
        return "an invisible or format character";
    }
    if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE || (c >= 0xFFF0 && c <= 0xFFFF)) {
        return "a noncharacter or special";
    }
    if ((c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000) {
        return "a private-use character";
    }
    return NULL;
}

/* IDNA2008's hyphen rules (RFC 5891 4.2.3.1) on a label's code points. */
static const char *hyphen_problem(const uint32_t *cp, size_t n) {
    if (cp[0] == '-') {
        return "starts with '-'";
    }
    if (cp[n - 1] == '-') {
        return "ends with '-'";
    }
    if (n >= 4 && cp[2] == '-' && cp[3] == '-') {
        return "has '--' in its third and fourth positions";
    }
    return NULL;
}

/* Checks an A-label (lowercase, starting "xn--", not ending in '-'):
 * valid Punycode, each code point acceptable, and the canonical encoding of
 * what it decodes to. */
static int check_alabel(const char *l, size_t n, size_t base, struct dn_err *e) {
    uint32_t cp[64];
    size_t k, enc_len;
    char enc[64];
    struct sp_err pe;
    if (punycode_decode(l + 4, n - 4, cp, sizeof(cp) / sizeof(cp[0]), &k, &pe) < 0) {
        return dn_fail(e, base, "A-label that is not valid Punycode (%s)", pe.msg);
    }
    /* A label ending in '-' was refused before this, so there is an
     * extended part, and it decodes to at least one code point >= U+0080:
     * an A-label of plain ASCII cannot get here. */
    for (size_t j = 0; j < k; j++) {
        const char *why = cp_problem(cp[j]);
        if (why != NULL) {
            return dn_fail(e, base, "A-label that decodes to U+%04X, %s", (unsigned)cp[j], why);
        }
    }
    const char *why = hyphen_problem(cp, k);
    if (why != NULL) {
        return dn_fail(e, base, "A-label whose label %s", why);
    }
    if (punycode_encode(cp, k, enc, sizeof(enc), &enc_len, &pe) < 0 || enc_len != n - 4 ||
        memcmp(enc, l + 4, enc_len) != 0) {
        return dn_fail(e, base, "A-label that is not the canonical encoding of its label");
    }
    return 0;
}

/* A label of only ASCII: lowercased LDH, or a valid A-label. */
static int norm_ascii_label(const char *l, size_t n, size_t base, char *out, int *idn,
                            struct dn_err *e) {
    char name[16];
    if (n > 63) {
        return dn_fail(e, base, "label longer than 63 bytes");
    }
    for (size_t j = 0; j < n; j++) {
        unsigned char c = (unsigned char)l[j];
        c = c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return dn_fail(e, base + j, "%s is not allowed in a host name (letters, digits, '-')",
                           byte_name(c, name, sizeof(name)));
        }
        out[j] = (char)c;
    }
    if (out[0] == '-' || out[n - 1] == '-') {
        return dn_fail(e, base, "label %s with '-'", out[0] == '-' ? "starting" : "ending");
    }
    if (n >= 4 && out[2] == '-' && out[3] == '-') {
        if (out[0] != 'x' || out[1] != 'n') {
            return dn_fail(e, base,
                           "label with '--' in its third and fourth positions "
                           "(reserved by IDNA2008)");
        }
        GUARD(check_alabel(out, n, base, e));
        *idn = 1;
    }
    return 0;
}

/* A label with non-ASCII (a U-label, UTF-8): its A-label, see mailbox.h. */
static int norm_ulabel(const char *l, size_t n, size_t base, char *out, size_t *out_len,
                       struct dn_err *e) {
    uint32_t cp[63];
    size_t k = 0, enc_len;
    for (size_t j = 0; j < n;) {
        uint32_t c;
        size_t m = utf8_decode(l, n, j, &c);
        if (m == 0) {
            return dn_fail(e, base + j, "byte 0x%02X that is not UTF-8", (unsigned char)l[j]);
        }
        if (k == sizeof(cp) / sizeof(cp[0])) {
            return dn_fail(e, base, "label longer than 63 characters");
        }
        c = c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
        const char *why = cp_problem(c);
        if (why != NULL) {
            return dn_fail(e, base + j, "U+%04X in a domain label is %s", (unsigned)c, why);
        }
        cp[k++] = c;
        j += m;
    }
    const char *why = hyphen_problem(cp, k);
    if (why != NULL) {
        return dn_fail(e, base, "label that %s", why);
    }
    struct sp_err pe;
    memcpy(out, "xn--", 4);
    if (punycode_encode(cp, k, out + 4, 64 - 4, &enc_len, &pe) < 0) {
        return dn_fail(e, base, "label longer than 63 bytes as an A-label");
    }
    *out_len = 4 + enc_len;
    return 0;
}

/* d[0..n) to out (at least MAILBOX_DOMAIN_MAX + 1 bytes), see mailbox.h. */
static int domain_norm(const char *d, size_t n, char *out, int *idn, struct dn_err *e) {
    size_t o = 0, last = 0, a = 0;
    *idn = 0;
    if (n == 0) {
        return dn_fail(e, 0, "empty domain");
    }
    for (;;) {
        const char *dot = memchr(d + a, '.', n - a);
        size_t b = dot != NULL ? (size_t)(dot - d) : n;
        char label[64];
        size_t ln = b - a;
        if (ln == 0) {
            return dn_fail(e, a, a == 0 ? "domain starting with '.'" : "empty label (\"..\")");
        }
        int ascii = 1;
        for (size_t j = a; j < b; j++) {
            ascii &= (unsigned char)d[j] < 0x80;
        }
        if (ascii) {
            GUARD(norm_ascii_label(d + a, ln, a, label, idn, e));
        } else {
            GUARD(norm_ulabel(d + a, ln, a, label, &ln, e));
            *idn = 1;
        }
        if (o + (o > 0) + ln > MAILBOX_DOMAIN_MAX) {
            return dn_fail(e, a, "domain longer than %d bytes", MAILBOX_DOMAIN_MAX);
        }
        if (o > 0) {
            out[o++] = '.';
        }
        last = o;
        memcpy(out + o, label, ln);
        o += ln;
        if (dot == NULL) {
            break;
        }
        a = b + 1;
        if (a == n) {
            return dn_fail(e, b, "trailing dot (write the domain without it)");
        }
    }
    out[o] = '\0';
    size_t digits = 0;
    while (last + digits < o && out[last + digits] >= '0' && out[last + digits] <= '9') {
        digits++;
    }
    if (last + digits == o) {
        return dn_fail(e, n - (o - last), "last label all digits (an address, not a host name)");
    }
    return 0;
}

int mailbox_domain_normalise(const char *s, size_t len, char *out, size_t cap, struct sp_err *err) {
    char buf[MAILBOX_DOMAIN_MAX + 1];
    struct dn_err e;
    int idn;
    if (cap > 0) {
        out[0] = '\0';
    }
    if (s == NULL) {
        s = "", len = 0;
    }
    if (domain_norm(s, len, buf, &idn, &e) < 0) {
        return fail_at(err, s, len, e.off, "%s", e.why);
    }
    size_t n = strlen(buf);
    ENSURE(n < cap, err, invalid, "host name: no room for %zu bytes", n + 1);
    memcpy(out, buf, n + 1);
    return 0;
}

/* ------------------------------------------------------------- grammar */

struct scan {
    const char *s;
    size_t len;
    size_t i;
};

/* The byte at the scan position, or -1 at the end. */
static int at(const struct scan *sc) { return sc->i < sc->len ? (unsigned char)sc->s[sc->i] : -1; }

static int is_atext_ascii(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c > 0 && c < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* atext, with RFC 6532's UTF-8 (the vetting pass made every such byte part
 * of a whole character). */
static int is_atext(int c) { return c >= 0x80 || is_atext_ascii(c); }

static int failx(struct sp_err *err, const struct scan *sc, size_t off, const char *why) {
    return fail_at(err, sc->s, sc->len, off, "%s", why);
}

#define NO_SPECIAL SIZE_MAX

/* '@', '<' and '>' make text look like an address to a reader that skips
 * no comments or quotes; in a comment or a display name they are refused. */
static int is_address_char(int c) { return c == '@' || c == '<' || c == '>'; }

/* A comment at sc->i (on its '('), nesting bounded. */
static int skip_comment(struct scan *sc, struct sp_err *err) {
    size_t open = sc->i;
    int depth = 0;
    char name[16];
    while (sc->i < sc->len) {
        int c = at(sc);
        int escaped = c == '\\';
        if (escaped) {
            if (sc->len - sc->i < 2) {
                break;
            }
            c = (unsigned char)sc->s[++sc->i]; /* quoted-pair: the next byte is text */
        }
        if (is_address_char(c)) {
            return fail_at(err, sc->s, sc->len, sc->i,
                           "%s inside a comment (a reader that does not know comments would "
                           "take it for the address)",
                           byte_name((unsigned char)c, name, sizeof(name)));
        }
        sc->i++;
        if (escaped) {
            continue;
        }
        if (c == '(' && ++depth > MAILBOX_COMMENT_DEPTH) {
            return fail_at(err, sc->s, sc->len, sc->i - 1, "comments nested deeper than %d",
                           MAILBOX_COMMENT_DEPTH);
        }
        if (c == ')' && --depth == 0) {
            return 0;
        }
    }
    return failx(err, sc, open, "comment without its ')'");
}

/* [CFWS]: 1 when something was skipped, 0 when not, -1 on error. */
static int skip_cfws(struct scan *sc, struct sp_err *err) {
    size_t start = sc->i;
    for (int c = at(sc); c == ' ' || c == '\t' || c == '('; c = at(sc)) {
        if (c == '(') {
            GUARD(skip_comment(sc, err));
        } else {
            sc->i++;
        }
    }
    return sc->i > start;
}

/* A quoted-string at sc->i (on its '"'). *special gets the offset of its
 * first '@', '<' or '>' (escaped or not) unless it already holds one. */
static int skip_quoted(struct scan *sc, size_t *special, struct sp_err *err) {
    size_t open = sc->i++;
    while (sc->i < sc->len) {
        int c = at(sc);
        if (c == '"') {
            sc->i++;
            return 0;
        }
        if (c == '\\') {
            if (sc->len - sc->i < 2) {
                break;
            }
            c = (unsigned char)sc->s[++sc->i];
        }
        if (is_address_char(c) && *special == NO_SPECIAL) {
            *special = sc->i;
        }
        sc->i++;
    }
    return failx(err, sc, open, "quoted string without its closing '\"'");
}

/* A run of words (atoms, quoted-strings) and dots with CFWS around them:
 * a display name, a group name or a local part, which one only the
 * character after it tells. */
struct words {
    size_t first, end; /* from the first token to the end of the last */
    size_t special;    /* first '@', '<' or '>' in a quoted-string, or NO_SPECIAL */
    size_t atoms, quoted, dots;
    int gap;      /* CFWS between two tokens */
    int trailing; /* CFWS after the last token */
};

static int scan_words(struct scan *sc, struct words *w, struct sp_err *err) {
    memset(w, 0, sizeof(*w));
    w->special = NO_SPECIAL;
    int any = 0;
    for (;;) {
        int ws = skip_cfws(sc, err);
        GUARD(ws);
        int c = at(sc);
        if (c != '"' && c != '.' && !is_atext(c)) {
            w->trailing = any && ws;
            if (!any) {
                w->first = w->end = sc->i;
            }
            return 0;
        }
        w->gap |= any && ws;
        if (!any) {
            w->first = sc->i;
        }
        any = 1;
        if (c == '"') {
            GUARD(skip_quoted(sc, &w->special, err));
            w->quoted++;
        } else if (c == '.') {
            sc->i++;
            w->dots++;
        } else {
            while (is_atext(at(sc))) {
                sc->i++;
            }
            w->atoms++;
        }
        w->end = sc->i;
    }
}

/* The local part from the words before '@' (sc->i is on the '@'). */
static int read_local(const struct scan *sc, const struct words *w, struct mailbox *m,
                      struct sp_err *err) {
    const char *s = sc->s;
    char name[16];
    if (w->atoms + w->quoted == 0) {
        return failx(err, sc, w->dots > 0 ? w->first : sc->i, "no local part before '@'");
    }
    if (w->gap) {
        return failx(err, sc, w->first, "white space or a comment inside the local part");
    }
    if (w->trailing) {
        return failx(err, sc, w->end, "white space or a comment before '@'");
    }
    size_t a = w->first, b = w->end;
    m->local_quoted = w->quoted > 0;
    if (w->quoted > 0) {
        if (w->quoted != 1 || w->atoms > 0 || w->dots > 0) {
            return failx(err, sc, a, "local part mixing quoted and unquoted words (obsolete)");
        }
        a++, b--;
        for (size_t i = a; i < b; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x80) {
                return failx(err, sc, i,
                             "non-ASCII in the local part (SES does not support SMTPUTF8)");
            }
            if (!is_atext_ascii(c) && c != '.') {
                return fail_at(err, s, sc->len, i,
                               "%s inside a quoted local part (only atext and '.' are accepted)",
                               byte_name(c, name, sizeof(name)));
            }
        }
    } else {
        for (size_t i = a; i < b; i++) {
            if ((unsigned char)s[i] >= 0x80) {
                return failx(err, sc, i,
                             "non-ASCII in the local part (SES does not support SMTPUTF8)");
            }
            if (s[i] == '.' && (i == a || i + 1 == b || s[i + 1] == '.')) {
                return failx(err, sc, i,
                             i == a       ? "local part starting with '.'"
                             : i + 1 == b ? "local part ending with '.'"
                                          : "two dots in a row in the local part");
            }
        }
    }
    if (b == a) {
        return failx(err, sc, w->first, "empty local part");
    }
    if (b - a > MAILBOX_LOCAL_MAX) {
        return fail_at(err, s, sc->len, a, "local part longer than %d bytes", MAILBOX_LOCAL_MAX);
    }
    for (size_t i = a; i + 1 < b; i++) {
        if (s[i] == '=' && s[i + 1] == '?') {
            return failx(err, sc, i, "encoded word (\"=?\") in the local part");
        }
    }
    memcpy(m->local, s + a, b - a);
    m->local[b - a] = '\0';
    return 0;
}

/* The domain after '@' (sc->i just past it): a dot-atom read as a host name. */
static int read_domain(struct scan *sc, struct mailbox *m, struct sp_err *err) {
    size_t a = sc->i;
    int c = at(sc);
    if (c == '[') {
        return failx(err, sc, a, "domain literal (only host names are accepted)");
    }
    if (c == ' ' || c == '\t' || c == '(') {
        return failx(err, sc, a, "white space or a comment after '@'");
    }
    while (c = at(sc), is_atext(c) || c == '.') {
        sc->i++;
    }
    if (sc->i == a) {
        return failx(err, sc, a, "no domain after '@'");
    }
    struct dn_err e;
    if (domain_norm(sc->s + a, sc->i - a, m->domain, &m->idn, &e) < 0) {
        return fail_at(err, sc->s, sc->len, a + e.off, "%s", e.why);
    }
    return 0;
}

/* An addr-spec whose words are scanned and sc->i is on the '@'. */
static int read_addr_spec(struct scan *sc, const struct words *w, struct mailbox *m,
                          struct sp_err *err) {
    GUARD(read_local(sc, w, m, err));
    sc->i++;
    return read_domain(sc, m, err);
}

/* An angle-addr from its '<' to its '>'. */
static int read_angle(struct scan *sc, struct mailbox *m, struct sp_err *err) {
    size_t open = sc->i++;
    GUARD(skip_cfws(sc, err));
    int c = at(sc);
    if (c == '@') {
        return failx(err, sc, sc->i, "source route (\"<@host:...>\") in an address");
    }
    if (c == '>') {
        return failx(err, sc, open, "empty address \"<>\"");
    }
    struct words w;
    GUARD(scan_words(sc, &w, err));
    if (at(sc) != '@') {
        return failx(err, sc, at(sc) < 0 ? open : sc->i, "no '@' in the address");
    }
    GUARD(read_addr_spec(sc, &w, m, err));
    GUARD(skip_cfws(sc, err));
    if (at(sc) != '>') {
        return failx(err, sc, at(sc) < 0 ? open : sc->i,
                     at(sc) < 0 ? "'<' without its '>'" : "unexpected text before '>'");
    }
    sc->i++;
    return 0;
}

enum { ELEM_MAILBOX = 1, ELEM_GROUP = 2 };

/* One element of a list at sc->i: a mailbox (ELEM_MAILBOX, *m filled,
 * trailing CFWS consumed) or the opening "name:" of a group (ELEM_GROUP),
 * which is refused with no_group as the reason unless that is NULL. */
static int parse_element(struct scan *sc, const char *no_group, int allow_display,
                         struct mailbox *m, struct sp_err *err) {
    struct words w;
    char name[16];
    memset(m, 0, sizeof(*m));
    GUARD(scan_words(sc, &w, err));
    size_t words = w.atoms + w.quoted;
    int c = at(sc);
    if (c == '@') {
        GUARD(read_addr_spec(sc, &w, m, err));
    } else if (c == '<' || (c == ':' && no_group == NULL)) {
        /* A display name or group name is a phrase: words, and obs-phrase's
         * dots after the first word. */
        if (w.dots > 0 && (words == 0 || sc->s[w.first] == '.')) {
            return failx(err, sc, w.first, "name starting with '.'");
        }
        if (w.special != NO_SPECIAL) {
            return fail_at(err, sc->s, sc->len, w.special,
                           "%s inside a quoted name (a reader that does not know quoting would "
                           "take it for the address)",
                           byte_name((unsigned char)sc->s[w.special], name, sizeof(name)));
        }
        if (c == ':') {
            if (words == 0) {
                return failx(err, sc, sc->i, "group without a name");
            }
            sc->i++;
            return ELEM_GROUP;
        }
        m->has_display_name = words > 0;
        if (m->has_display_name && !allow_display) {
            return failx(err, sc, w.first, "display name where only an address may be");
        }
        GUARD(read_angle(sc, m, err));
    } else if (c == ':') {
        return failx(err, sc, words > 0 ? w.first : sc->i, no_group);
    } else if (words > 0 || w.dots > 0) {
        return failx(err, sc, w.first, "no address (neither '@' nor '<...>')");
    } else if (c < 0) {
        return failx(err, sc, sc->i, "no mailbox");
    } else {
        return fail_at(err, sc->s, sc->len, sc->i, "unexpected %s",
                       byte_name((unsigned char)c, name, sizeof(name)));
    }
    GUARD(skip_cfws(sc, err));
    return ELEM_MAILBOX;
}

/* What follows a single mailbox must be the end. */
static int expect_end(const struct scan *sc, struct sp_err *err) {
    char name[16];
    int c = at(sc);
    if (c == ',') {
        return failx(err, sc, sc->i, "more than one mailbox where one is expected");
    }
    if (c >= 0) {
        return fail_at(err, sc->s, sc->len, sc->i, "unexpected %s after the mailbox",
                       byte_name((unsigned char)c, name, sizeof(name)));
    }
    return 0;
}

static int check_single(const char *s, size_t len, struct sp_err *err) {
    if (s == NULL) {
        return fail_at(err, "", 0, 0, "no mailbox");
    }
    if (len > MAILBOX_TEXT_MAX) {
        return fail_at(err, s, len, 0, "mailbox longer than %d bytes", MAILBOX_TEXT_MAX);
    }
    return check_text(s, len, err);
}

int mailbox_parse_one(const char *s, size_t len, struct mailbox *out, struct sp_err *err) {
    struct scan sc = {s, len, 0};
    memset(out, 0, sizeof(*out));
    GUARD(check_single(s, len, err));
    GUARD(parse_element(&sc, "group where one mailbox is expected", 1, out, err));
    return expect_end(&sc, err);
}

int mailbox_parse_path(const char *s, size_t len, struct mailbox *out, int *is_null,
                       struct sp_err *err) {
    struct scan sc = {s, len, 0};
    memset(out, 0, sizeof(*out));
    *is_null = 0;
    GUARD(check_single(s, len, err));
    GUARD(skip_cfws(&sc, err));
    if (at(&sc) == '<') {
        struct scan peek = sc;
        peek.i++;
        GUARD(skip_cfws(&peek, err));
        if (at(&peek) == '>') {
            peek.i++;
            GUARD(skip_cfws(&peek, err));
            GUARD(expect_end(&peek, err));
            *is_null = 1;
            return 0;
        }
    }
    GUARD(parse_element(&sc, "group where a path is expected", 0, out, err));
    return expect_end(&sc, err);
}

/* ---------------------------------------------------------------- lists */

void mailbox_cursor_init(struct mailbox_cursor *c, const char *s, size_t len,
                         enum mailbox_list_kind kind) {
    c->s = s;
    c->len = s != NULL ? len : 0;
    c->off = 0;
    c->kind = kind;
    c->in_group = 0;
    c->checked = 0;
}

/* The cursor's state is (off, in_group), saved together whenever either
 * changes, so a failed call leaves a state that fails the same way again. */
int mailbox_next(struct mailbox_cursor *c, struct mailbox *out, struct sp_err *err) {
    if (!c->checked) {
        GUARD(check_text(c->s, c->len, err));
        c->checked = 1;
    }
    struct scan sc = {c->s, c->len, c->off};
    for (;;) {
        GUARD(skip_cfws(&sc, err));
        int ch = at(&sc);
        if (ch < 0) {
            if (c->in_group) {
                return failx(err, &sc, sc.i, "group without its closing ';'");
            }
            c->off = sc.i;
            return 0;
        }
        if (ch == ',') {
            sc.i++; /* a null member (obs-addr-list, obs-mbox-list) */
            continue;
        }
        if (ch == ';' && c->in_group) {
            sc.i++;
            GUARD(skip_cfws(&sc, err));
            if (at(&sc) >= 0 && at(&sc) != ',') {
                return failx(err, &sc, sc.i, "expected ',' after a group");
            }
            c->in_group = 0;
            c->off = sc.i;
            continue;
        }
        const char *no_group = c->kind == MAILBOX_LIST ? "group where a mailbox list is expected"
                               : c->in_group           ? "group inside a group"
                                                       : NULL;
        int r = parse_element(&sc, no_group, 1, out, err);
        GUARD(r);
        if (r == ELEM_GROUP) {
            c->in_group = 1;
            c->off = sc.i;
            continue;
        }
        ch = at(&sc);
        if (ch == ',') {
            sc.i++;
        } else if (ch >= 0 && !(ch == ';' && c->in_group)) {
            return failx(err, &sc, sc.i, "expected ',' between addresses");
        }
        c->off = sc.i;
        return 1;
    }
}

int mailbox_list_count(const char *s, size_t len, enum mailbox_list_kind kind, size_t *count,
                       struct sp_err *err) {
    struct mailbox_cursor c;
    struct mailbox m;
    size_t n = 0;
    int r;
    mailbox_cursor_init(&c, s, len, kind);
    while ((r = mailbox_next(&c, &m, err)) == 1) {
        n++;
    }
    GUARD(r);
    *count = n;
    return 0;
}

/* ------------------------------------------------------------ formatting */

static int is_dot_atom(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || s[0] == '.' || s[n - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !is_atext_ascii((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int mailbox_format(const struct mailbox *m, char *out, size_t cap, size_t *out_len,
                   struct sp_err *err) {
    const char *q = is_dot_atom(m->local) ? "" : "\"";
    ENSURE(cap > 0, err, invalid, "mailbox: no room to format the address");
    int n = snprintf(out, cap, "%s%s%s@%s", q, m->local, q, m->domain);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return sp_fail(err, invalid, "mailbox: address longer than %zu bytes", cap - 1);
    }
    if (out_len != NULL) {
        *out_len = (size_t)n;
    }
    return 0;
}
