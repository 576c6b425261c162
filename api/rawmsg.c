/* rawmsg.c - a raw message's header section (see rawmsg.h).
 *
 * Three stages, each pulling from the one before: a source yields the
 * message's bytes (as given, or decoded from base64 four characters at a
 * time); a line reader splits them into lines and unfolds fields into one
 * buffer; each complete field is dispatched by name to the mailbox parser
 * or the X-SES value check. Nothing is read past the empty line. */
#include "api/rawmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/base64.h"

static const char invalid[] = "InvalidParameterValue";

/* -------------------------------------------------------------- source */

struct source {
    const unsigned char *p;
    size_t len, i; /* the input and the position in it */
    enum rawmsg_encoding enc;
    unsigned char buf[3]; /* decoded bytes of the current base64 quantum */
    int nbuf, pos;
    int finished; /* the padded last quantum was read */
};

static int hex_value(unsigned char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The next character of the base64 text (percent-decoded in a form): 1
 * with *c and *where (its offset in the input), 0 at the end, -1 error. */
static int next_char(struct source *s, unsigned char *c, size_t *where, struct sp_err *err) {
    if (s->i == s->len) {
        return 0;
    }
    *where = s->i;
    *c = s->p[s->i++];
    if (s->enc != RAWMSG_BASE64_FORM) {
        return 1;
    }
    if (*c == '+') {
        *c = ' '; /* form decoding; base64's '+' arrives as %2B */
    } else if (*c == '%') {
        ENSURE(s->len - s->i >= 2 && hex_value(s->p[s->i]) >= 0 && hex_value(s->p[s->i + 1]) >= 0,
               err, invalid, "RawMessage.Data: malformed %%-escape at character %zu", *where);
        *c = (unsigned char)(hex_value(s->p[s->i]) << 4 | hex_value(s->p[s->i + 1]));
        s->i += 2;
    }
    return 1;
}

static int b64_fail(struct sp_err *err, unsigned char c, size_t where) {
    if (c > 0x20 && c < 0x7F && c != '\'') {
        return sp_fail(err, invalid, "RawMessage.Data: '%c' at character %zu is not base64", c,
                       where);
    }
    return sp_fail(err, invalid, "RawMessage.Data: byte 0x%02X at character %zu is not base64", c,
                   where);
}

/* Decodes the next quantum (four characters) into s->buf. 1 when bytes
 * were decoded, 0 at the end of the text, -1 error. */
static int read_quantum(struct source *s, struct sp_err *err) {
    unsigned char q[4];
    size_t where[4];
    int k, r, pad = 0;
    uint32_t v = 0;
    for (k = 0; k < 4; k++) {
        r = next_char(s, &q[k], &where[k], err);
        GUARD(r);
        if (r == 0) {
            break;
        }
    }
    if (k == 0) {
        return 0;
    }
    ENSURE(k == 4, err, invalid,
           "RawMessage.Data: base64 text ends inside a group of four characters (at character "
           "%zu)",
           where[k - 1]);
    for (k = 0; k < 4; k++) {
        int d = base64_digit(q[k]);
        if (q[k] == '=' && k >= 2) {
            pad++;
            continue;
        }
        if (d < 0 || pad > 0) {
            return b64_fail(err, q[k], where[k]);
        }
        v |= (uint32_t)d << (18 - 6 * k);
    }
    if (pad > 0) {
        /* Only the last quantum is padded, and its spare bits are zero
         * (RFC 4648 3.5): otherwise two texts would decode alike. */
        ENSURE((v & (pad == 2 ? 0xFFFF : 0xFF)) == 0, err, invalid,
               "RawMessage.Data: non-zero bits before the padding at character %zu", where[3]);
        unsigned char c;
        size_t w;
        r = next_char(s, &c, &w, err);
        GUARD(r);
        ENSURE(r == 0, err, invalid, "RawMessage.Data: text after the padding at character %zu", w);
        s->finished = 1;
    }
    s->buf[0] = (unsigned char)(v >> 16);
    s->buf[1] = (unsigned char)(v >> 8);
    s->buf[2] = (unsigned char)v;
    s->nbuf = 3 - pad;
    s->pos = 0;
    return 1;
}

/* The next byte of the message: 1 with *b, 0 at its end, -1 error. */
static int source_next(struct source *s, unsigned char *b, struct sp_err *err) {
    if (s->enc == RAWMSG_BYTES) {
        if (s->i == s->len) {
            return 0;
        }
        *b = s->p[s->i++];
        return 1;
    }
    if (s->pos == s->nbuf) {
        if (s->finished) {
            return 0;
        }
        int r = read_quantum(s, err);
        if (r <= 0) {
            return r;
        }
    }
    *b = s->buf[s->pos++];
    return 1;
}

/* -------------------------------------------------------------- fields */

enum field_kind {
    F_FROM,
    F_SENDER,
    F_REPLY_TO,
    F_RETURN_PATH,
    F_TO,
    F_CC,
    F_BCC,
    F_FROM_ARN,
    F_SOURCE_ARN,
    F_RETURN_PATH_ARN,
    F_CONFIGURATION_SET,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "From",
    "Sender",
    "Reply-To",
    "Return-Path",
    "To",
    "Cc",
    "Bcc",
    "X-SES-FROM-ARN",
    "X-SES-SOURCE-ARN",
    "X-SES-RETURN-PATH-ARN",
    "X-SES-CONFIGURATION-SET",
};

struct reader {
    struct rawmsg *out;
    char *field;      /* the current field, unfolded (RAWMSG_HEAD_MAX bytes) */
    size_t flen;      /* its length */
    size_t field_off; /* its offset in the message */
    int have_field;
    int mode; /* line ends: 0 not known yet, else MODE_CRLF or MODE_LF */
    int pending_cr;
    int line_start; /* the next byte starts a line */
    size_t line_off, line_len;
    int line_ws_only; /* a continuation line of white space so far */
    unsigned seen;    /* bit per field_kind met */
};

enum { MODE_CRLF = 1, MODE_LF = 2 };

/* Fails naming the field, with the inner error's message. */
static int field_fail(const struct reader *rd, enum field_kind k, struct sp_err *err) {
    char inner[SP_ERR_MSG_LEN];
    snprintf(inner, sizeof(inner), "%s", err->msg);
    return sp_fail(err, invalid, "%s field at byte %zu of the message: %s", field_names[k],
                   rd->field_off, inner);
}

/* The mailboxes of a list field into box[0..cap); *n gets their count. */
static int read_list(const struct reader *rd, enum field_kind k, const char *body, size_t len,
                     enum mailbox_list_kind kind, struct mailbox *box, size_t cap, size_t *n,
                     struct sp_err *err) {
    struct mailbox_cursor c;
    int r;
    *n = 0;
    mailbox_cursor_init(&c, body, len, kind);
    while ((r = mailbox_next(&c, &box[*n < cap ? *n : cap - 1], err)) == 1) {
        if (++*n > cap) {
            return sp_fail(err, invalid,
                           "%s field at byte %zu of the message: more than %zu mailboxes",
                           field_names[k], rd->field_off, cap);
        }
    }
    if (r < 0) {
        return field_fail(rd, k, err);
    }
    return 0;
}

/* An X-SES field: one token of printable ASCII, white space around it. */
static int read_value(const struct reader *rd, enum field_kind k, const char *body, size_t len,
                      struct rawmsg_value *v, struct sp_err *err) {
    while (len > 0 && (body[0] == ' ' || body[0] == '\t')) {
        body++, len--;
    }
    while (len > 0 && (body[len - 1] == ' ' || body[len - 1] == '\t')) {
        len--;
    }
    ENSURE(len > 0, err, invalid, "%s field at byte %zu of the message: empty value",
           field_names[k], rd->field_off);
    ENSURE(len <= RAWMSG_VALUE_MAX, err, invalid,
           "%s field at byte %zu of the message: value longer than %d bytes", field_names[k],
           rd->field_off, RAWMSG_VALUE_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        ENSURE(c > 0x20 && c < 0x7F, err, invalid,
               "%s field at byte %zu of the message: byte 0x%02X inside the value (one token "
               "of printable ASCII is expected)",
               field_names[k], rd->field_off, c);
    }
    v->present = 1;
    v->len = len;
    memcpy(v->text, body, len);
    v->text[len] = '\0';
    return 0;
}

static int read_field(struct reader *rd, enum field_kind k, const char *body, size_t len,
                      struct sp_err *err) {
    struct rawmsg *m = rd->out;
    size_t *counts[] = {[F_TO] = &m->n_to, [F_CC] = &m->n_cc, [F_BCC] = &m->n_bcc};
    ENSURE(!(rd->seen & 1u << k), err, invalid,
           "%s field at byte %zu of the message: the field appears twice", field_names[k],
           rd->field_off);
    rd->seen |= 1u << k;
    switch (k) {
    case F_FROM:
        GUARD(read_list(rd, k, body, len, MAILBOX_LIST, m->from, RAWMSG_FROM_MAX, &m->n_from, err));
        ENSURE(m->n_from > 0, err, invalid, "From field at byte %zu of the message: no mailbox",
               rd->field_off);
        return 0;
    case F_SENDER:
        m->has_sender = 1;
        return mailbox_parse_one(body, len, &m->sender, err) < 0 ? field_fail(rd, k, err) : 0;
    case F_REPLY_TO:
        m->has_reply_to = 1;
        return read_list(rd, k, body, len, MAILBOX_ADDRESS_LIST, m->reply_to, RAWMSG_REPLY_TO_MAX,
                         &m->n_reply_to, err);
    case F_RETURN_PATH:
        m->has_return_path = 1;
        return mailbox_parse_path(body, len, &m->return_path, &m->return_path_null, err) < 0
                   ? field_fail(rd, k, err)
                   : 0;
    case F_TO:
    case F_CC:
    case F_BCC:
        return mailbox_list_count(body, len, MAILBOX_ADDRESS_LIST, counts[k], err) < 0
                   ? field_fail(rd, k, err)
                   : 0;
    case F_FROM_ARN:
        return read_value(rd, k, body, len, &m->from_arn, err);
    case F_SOURCE_ARN:
        return read_value(rd, k, body, len, &m->source_arn, err);
    case F_RETURN_PATH_ARN:
        return read_value(rd, k, body, len, &m->return_path_arn, err);
    case F_CONFIGURATION_SET:
        return read_value(rd, k, body, len, &m->configuration_set, err);
    case F_COUNT:
        break;
    }
    return sp_fail(err, "InternalError", "rawmsg: field kind %d", (int)k);
}

/* The complete (unfolded) field in rd->field: split at its colon, and
 * read when it is one of ours. */
static int dispatch(struct reader *rd, struct sp_err *err) {
    const char *f = rd->field;
    const char *colon = memchr(f, ':', rd->flen);
    ENSURE(colon != NULL, err, invalid,
           "header line at byte %zu of the message has no ':' (not a header field)", rd->field_off);
    size_t nl = (size_t)(colon - f);
    ENSURE(nl > 0, err, invalid, "header field at byte %zu of the message has no name",
           rd->field_off);
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)f[i];
        ENSURE(c > 0x20 && c < 0x7F, err, invalid,
               "header field name at byte %zu of the message holds byte 0x%02X (a name is "
               "printable ASCII directly followed by ':')",
               rd->field_off + i, c);
    }
    for (int k = 0; k < F_COUNT; k++) {
        if (strlen(field_names[k]) == nl && strncasecmp(field_names[k], f, nl) == 0) {
            return read_field(rd, (enum field_kind)k, colon + 1, rd->flen - nl - 1, err);
        }
    }
    return 0;
}

/* --------------------------------------------------------------- lines */

/* A line ended at off: 1 when it was the empty line that ends the header
 * section, 0 otherwise. */
static int end_of_line(struct reader *rd, struct sp_err *err) {
    if (rd->line_start) {
        if (rd->have_field) {
            GUARD(dispatch(rd, err));
        }
        return 1;
    }
    ENSURE(!rd->line_ws_only, err, invalid,
           "line of white space only at byte %zu of the header section", rd->line_off);
    rd->line_start = 1;
    rd->line_len = 0;
    return 0;
}

/* One byte of the message at offset off: 1 at the end of the header
 * section, 0 to go on, -1 error. */
static int step(struct reader *rd, unsigned char b, size_t off, struct sp_err *err) {
    if (rd->pending_cr) {
        rd->pending_cr = 0;
        ENSURE(b == '\n', err, invalid, "CR without LF at byte %zu of the message", off - 1);
        ENSURE(rd->mode != MODE_LF, err, invalid,
               "CRLF at byte %zu in a message whose lines end in LF", off - 1);
        rd->mode = MODE_CRLF;
        return end_of_line(rd, err);
    }
    if (b == '\r') {
        ENSURE(rd->mode != MODE_LF, err, invalid,
               "CR at byte %zu in a message whose lines end in LF", off);
        rd->pending_cr = 1;
        return 0;
    }
    if (b == '\n') {
        ENSURE(rd->mode != MODE_CRLF, err, invalid,
               "LF without CR at byte %zu in a message whose lines end in CRLF", off);
        rd->mode = MODE_LF;
        return end_of_line(rd, err);
    }
    ENSURE(b != '\0', err, invalid, "NUL at byte %zu of the header section", off);
    ENSURE(++rd->line_len <= RAWMSG_LINE_MAX, err, invalid,
           "header line at byte %zu longer than %d bytes", rd->line_off, RAWMSG_LINE_MAX);
    int wsp = b == ' ' || b == '\t';
    if (rd->line_start) {
        rd->line_start = 0;
        rd->line_off = off;
        rd->line_ws_only = wsp;
        if (wsp) {
            ENSURE(rd->have_field, err, invalid,
                   "continuation line at byte %zu before any header field", off);
        } else {
            if (rd->have_field) {
                GUARD(dispatch(rd, err));
            }
            rd->have_field = 1;
            rd->flen = 0;
            rd->field_off = off;
        }
    } else if (!wsp) {
        rd->line_ws_only = 0;
    }
    rd->field[rd->flen++] = (char)b; /* flen <= off < RAWMSG_HEAD_MAX */
    return 0;
}

/* ---------------------------------------------------------------- read */

static int read_head(struct source *src, struct reader *rd, struct sp_err *err) {
    for (size_t off = 0;; off++) {
        unsigned char b;
        int r = source_next(src, &b, err);
        GUARD(r);
        ENSURE(r == 1, err, invalid,
               "the message ends at byte %zu, inside its header section (no empty line)", off);
        ENSURE(off < RAWMSG_HEAD_MAX, err, invalid,
               "the header section does not end within %d bytes", RAWMSG_HEAD_MAX);
        r = step(rd, b, off, err);
        GUARD(r);
        if (r == 1) {
            rd->out->head_len = off + 1;
            return 0;
        }
    }
}

int rawmsg_read(const char *data, size_t len, enum rawmsg_encoding enc, struct rawmsg *out,
                struct sp_err *err) {
    struct source src = {
        .p = (const unsigned char *)data, .len = data != NULL ? len : 0, .enc = enc};
    struct reader rd = {.out = out, .line_start = 1};
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (enc != RAWMSG_BYTES && enc != RAWMSG_BASE64 && enc != RAWMSG_BASE64_FORM) {
        return sp_fail(err, "InternalError", "rawmsg: unknown encoding %d", (int)enc);
    }
    if (enc == RAWMSG_BASE64 && src.len % 4 != 0) {
        return sp_fail(err, invalid,
                       "RawMessage.Data: base64 text of %zu characters (not a multiple of 4)",
                       src.len);
    }
    rd.field = malloc(RAWMSG_HEAD_MAX);
    ENSURE_REF(rd.field, err);
    if (read_head(&src, &rd, err) < 0) {
        goto cleanup;
    }
    if (out->n_from > 1 && !out->has_sender) {
        sp_fail(err, invalid,
                "From field with %zu mailboxes and no Sender field (RFC 5322 3.6.2 requires one)",
                out->n_from);
        goto cleanup;
    }
    out->recipients = out->n_to + out->n_cc + out->n_bcc;
    rc = 0;
cleanup:
    free(rd.field);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
