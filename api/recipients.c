/* recipients.c - recipients in a raw message's header section (see recipients.h). */
#include "api/recipients.h"

#include <string.h>
#include <strings.h>

#include "api/base64.h"
#include "api/form.h"
#include "api/model.h"

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

/* Walks the header section; calls back per field with its name and body. */
typedef int (*field_fn)(const char *name, size_t name_len, const char *body, size_t body_len,
                        void *ctx);

static void each_field(const char *msg, size_t len, field_fn fn, void *ctx) {
    size_t i = 0;
    while (i < len) {
        size_t start = i, eol = i;
        while (eol < len && msg[eol] != '\n') {
            eol++;
        }
        size_t line_len = eol - start;
        if (line_len > 0 && msg[start + line_len - 1] == '\r') {
            line_len--;
        }
        if (line_len == 0) {
            return; /* the empty line: end of the header section */
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
            const char *body = colon + 1;
            if (fn(msg + start, nlen, body, (size_t)(msg + end - body), ctx)) {
                return;
            }
        }
        i = end;
    }
}

static int count_field(const char *name, size_t nlen, const char *body, size_t blen, void *ctx) {
    if (is_recipient_field(name, nlen)) {
        *(size_t *)ctx += count_list(body, blen);
    }
    return 0;
}

size_t recipients_count_message(const char *msg, size_t len) {
    size_t total = 0;
    each_field(msg, len, count_field, &total);
    return total;
}

struct from_ctx {
    char *out;
    size_t cap;
    int found;
};

static int from_field(const char *name, size_t nlen, const char *body, size_t blen, void *ctx) {
    struct from_ctx *f = ctx;
    if (nlen != 4 || strncasecmp(name, "From", 4) != 0) {
        return 0;
    }
    /* "Name <addr>" -> addr; else the body trimmed. */
    const char *lt = memchr(body, '<', blen);
    const char *a = body, *e = body + blen;
    if (lt != NULL) {
        const char *gt = memchr(lt, '>', (size_t)(e - lt));
        if (gt == NULL) {
            return 1;
        }
        a = lt + 1;
        e = gt;
    }
    while (a < e && (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\n')) {
        a++;
    }
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
        e--;
    }
    size_t n = (size_t)(e - a);
    if (n > 0 && n < f->cap && memchr(a, ',', n) == NULL) {
        memcpy(f->out, a, n);
        f->out[n] = '\0';
        f->found = 1;
    }
    return 1;
}

int recipients_from_address(const char *msg, size_t len, char *out, size_t cap) {
    struct from_ctx f = {out, cap, 0};
    each_field(msg, len, from_field, &f);
    return f.found ? 0 : -1;
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
        int d = base64_digit(c);
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

static unsigned char scratch[RECIPIENTS_HEAD_MAX];
static char scratch_b64[RECIPIENTS_HEAD_MAX / 3 * 4 + 8];

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes the message head into scratch; returns its length. */
static size_t head_of(const char *b64, size_t len, int percent_encoded) {
    if (percent_encoded) {
        /* In a form, base64's '+', '/' and '=' arrive as %2B, %2F, %3D. */
        size_t m = 0;
        for (size_t i = 0; i < len && m < sizeof(scratch_b64); i++) {
            if (b64[i] == '%' && i + 2 < len && hexval(b64[i + 1]) >= 0 &&
                hexval(b64[i + 2]) >= 0) {
                scratch_b64[m++] = (char)(hexval(b64[i + 1]) * 16 + hexval(b64[i + 2]));
                i += 2;
            } else {
                scratch_b64[m++] = b64[i];
            }
        }
        b64 = scratch_b64;
        len = m;
    }
    return recipients_b64_prefix(b64, len, scratch, sizeof(scratch));
}

size_t recipients_count_b64(const char *b64, size_t len, int percent_encoded) {
    size_t n = head_of(b64, len, percent_encoded);
    return recipients_count_message((const char *)scratch, n);
}

int recipients_from_b64(const char *b64, size_t len, int percent_encoded, char *out, size_t cap) {
    size_t n = head_of(b64, len, percent_encoded);
    return recipients_from_address((const char *)scratch, n, out, cap);
}

/* ---- sending calls ------------------------------------------------------ */

static double count_member(const json_t *dest, const char *key) {
    return (double)json_array_size(json_object_get(dest, key));
}

static double count_destination(const json_t *dest) {
    return count_member(dest, "ToAddresses") + count_member(dest, "CcAddresses") +
           count_member(dest, "BccAddresses");
}

/* Recipients as SES counts them against the send rate. */
double recipients_count_params(const struct model_op *op, const json_t *params) {
    double n = 0;
    if (strcmp(op->name, "SendRawEmail") == 0) {
        n = (double)json_array_size(json_object_get(params, "Destinations"));
        json_t *data = json_object_get(json_object_get(params, "RawMessage"), "Data");
        if (n == 0 && json_is_string(data)) {
            n = (double)recipients_count_b64(json_string_value(data), json_string_length(data), 0);
        }
    } else if (strcmp(op->name, "SendBulkTemplatedEmail") == 0) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(params, "Destinations"), i, d) {
            n += count_destination(json_object_get(d, "Destination"));
        }
    } else {
        n = count_destination(json_object_get(params, "Destination"));
    }
    return n < 1 ? 1 : n;
}

/* The same count from an SDK's form body: list entries that end in
 * ".member.N" under To/Cc/BccAddresses (also inside bulk destinations) or
 * Destinations (raw), else the raw message's own header fields. */
double recipients_count_form(const char *body, size_t len) {
    static const char *const lists[] = {"ToAddresses.member.", "CcAddresses.member.",
                                        "BccAddresses.member.", "Destinations.member."};
    struct form_cursor cur;
    struct form_pair pair;
    double n = 0;
    const char *raw = NULL;
    size_t raw_len = 0;
    form_cursor_init(&cur, body, len);
    while (form_next(&cur, &pair) == 1) {
        char key[256];
        size_t klen;
        struct sp_err e;
        if (form_decode(pair.key, pair.key_len, key, sizeof(key), &klen, &e) < 0) {
            continue;
        }
        if (strcmp(key, "RawMessage.Data") == 0) {
            raw = pair.value;
            raw_len = pair.value_len;
            continue;
        }
        for (size_t i = 0; i < 4; i++) {
            const char *hit = strstr(key, lists[i]);
            /* Destinations.member.N counts only for raw mail (bulk's
             * Destinations.member.N.Destination... entries have a dot after N). */
            if (hit != NULL && strchr(hit + strlen(lists[i]), '.') == NULL) {
                n += 1;
                break;
            }
        }
    }
    if (n == 0 && raw != NULL) {
        n = (double)recipients_count_b64(raw, raw_len, 1);
    }
    return n < 1 ? 1 : n;
}
