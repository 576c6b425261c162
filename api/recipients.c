/* recipients.c - recipients in a raw message's header section (see recipients.h). */
#include "api/recipients.h"

#include <string.h>
#include <strings.h>

/* Counts mailboxes in one address-list field body (already unfolded or
 * not: CR/LF count as whitespace). A mailbox is a non-empty element between
 * commas at depth 0; a group "display: m1, m2;" counts its members and an
 * empty group counts none. */
static size_t count_list(const char *s, size_t len) {
    size_t n = 0;
    int quoted = 0, comment = 0, angle = 0, in_group = 0, has_content = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (quoted) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                quoted = 0;
            }
            continue;
        }
        if (comment > 0) {
            if (c == '\\') {
                i++;
            } else if (c == '(') {
                comment++;
            } else if (c == ')') {
                comment--;
            }
            continue;
        }
        switch (c) {
        case '"':
            quoted = 1;
            has_content = 1;
            break;
        case '(':
            comment = 1;
            break;
        case '<':
            angle = 1;
            has_content = 1;
            break;
        case '>':
            angle = 0;
            break;
        case ':':
            if (!angle && !in_group) {
                /* "display-name:" opens a group: what came before is its
                 * name, not a mailbox. */
                in_group = 1;
                has_content = 0;
            }
            break;
        case ';':
            if (!angle && in_group) {
                n += has_content;
                has_content = 0;
                in_group = 0;
            }
            break;
        case ',':
            if (!angle) {
                n += has_content;
                has_content = 0;
            }
            break;
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            break;
        default:
            has_content = 1;
            break;
        }
    }
    return n + (size_t)has_content;
}

static int is_recipient_field(const char *name, size_t len) {
    return (len == 2 && (strncasecmp(name, "To", 2) == 0 || strncasecmp(name, "Cc", 2) == 0)) ||
           (len == 3 && strncasecmp(name, "Bcc", 3) == 0);
}

size_t recipients_count_message(const char *msg, size_t len) {
    size_t total = 0, i = 0;
    while (i < len) {
        /* One field: a line plus its continuation lines. */
        size_t start = i;
        size_t eol = i;
        while (eol < len && msg[eol] != '\n') {
            eol++;
        }
        size_t line_len = eol - start;
        if (line_len > 0 && msg[start + line_len - 1] == '\r') {
            line_len--;
        }
        if (line_len == 0) {
            break; /* the empty line: end of the header section */
        }
        size_t end = eol < len ? eol + 1 : len;
        while (end < len && (msg[end] == ' ' || msg[end] == '\t')) {
            while (end < len && msg[end] != '\n') {
                end++;
            }
            end = end < len ? end + 1 : len;
        }
        const char *colon = memchr(msg + start, ':', line_len);
        if (colon != NULL) {
            size_t nlen = (size_t)(colon - (msg + start));
            while (nlen > 0 && (msg[start + nlen - 1] == ' ' || msg[start + nlen - 1] == '\t')) {
                nlen--;
            }
            if (is_recipient_field(msg + start, nlen)) {
                const char *body = colon + 1;
                total += count_list(body, (size_t)(msg + end - body));
            }
        }
        i = end;
    }
    return total;
}

static int b64_digit(unsigned char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

size_t recipients_b64_prefix(const char *b64, size_t len, unsigned char *out, size_t out_cap) {
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && n < out_cap; i++) {
        unsigned char c = (unsigned char)b64[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }
        int d = b64_digit(c);
        if (d < 0) {
            break;
        }
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return n;
}
