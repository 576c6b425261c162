/* fuzz_rawmsg - the raw message header reader, as bytes and as base64.
 *
 * The input is a message. Checked (abort on failure), beyond no crash:
 *   - read as bytes, as its canonical base64 and as that base64
 *     percent-encoded in a form value, it gives the same verdict, the same
 *     result and the same error message;
 *   - a prefix is never read differently: when a prefix of the message is
 *     accepted, so is the whole message, with the same result (a cut
 *     header section is never reported complete);
 *   - a prefix ending before the header section's end is refused;
 *   - results are consistent: recipients = To + Cc + Bcc, head_len within
 *     the input and RAWMSG_HEAD_MAX, several From mailboxes come with a
 *     Sender, each mailbox reads back from its canonical form;
 *   - errors have a code and a printable message.
 * The input is also fed to the base64 and form decoders as text, for
 * crashes and for the same consistency checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/rawmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rawmsg first, other;

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *to_b64(const uint8_t *s, size_t len, size_t *out_len) {
    char *out = malloc(len / 3 * 4 + 8);
    size_t o = 0;
    if (out == NULL) {
        abort();
    }
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        v |= i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0;
        v |= i + 2 < len ? s[i + 2] : 0;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    *out_len = o;
    return out;
}

static char *to_form(const char *s, size_t len, size_t *out_len) {
    char *out = malloc(len * 3 + 1);
    size_t o = 0;
    if (out == NULL) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+' || s[i] == '/' || s[i] == '=') {
            out[o++] = '%';
            out[o++] = "0123456789ABCDEF"[(unsigned char)s[i] >> 4];
            out[o++] = "0123456789abcdef"[s[i] & 15];
        } else {
            out[o++] = s[i];
        }
    }
    *out_len = o;
    return out;
}

static void check_mailbox(const struct mailbox *m) {
    char canon[MAILBOX_FORMAT_MAX];
    struct mailbox back;
    struct sp_err err;
    size_t n;
    if (mailbox_format(m, canon, sizeof(canon), &n, &err) < 0 ||
        mailbox_parse_one(canon, n, &back, &err) < 0 || strcmp(back.local, m->local) != 0 ||
        strcmp(back.domain, m->domain) != 0) {
        abort();
    }
}

/* Reads s[0..len) from an exact heap copy. */
static int read_copy(const void *s, size_t len, enum rawmsg_encoding enc, struct rawmsg *out,
                     struct sp_err *err) {
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        abort();
    }
    memcpy(copy, s, len);
    sp_err_clear(err); /* a success leaves it untouched; compared below */
    int r = rawmsg_read(copy, len, enc, out, err);
    free(copy);
    return r;
}

static void check_result(int r, const struct rawmsg *m, const struct sp_err *err, size_t size) {
    if (r < 0) {
        if (err->code == NULL || err->msg[0] == '\0') {
            abort();
        }
        for (const char *p = err->msg; *p; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E) {
                abort();
            }
        }
        return;
    }
    if (m->recipients != m->n_to + m->n_cc + m->n_bcc || m->head_len == 0 || m->head_len > size ||
        m->head_len > RAWMSG_HEAD_MAX || m->n_from > RAWMSG_FROM_MAX ||
        m->n_reply_to > RAWMSG_REPLY_TO_MAX || (m->n_from > 1 && !m->has_sender)) {
        abort();
    }
    for (size_t i = 0; i < m->n_from; i++) {
        check_mailbox(&m->from[i]);
    }
    for (size_t i = 0; i < m->n_reply_to; i++) {
        check_mailbox(&m->reply_to[i]);
    }
    if (m->has_sender) {
        check_mailbox(&m->sender);
    }
    if (m->has_return_path && !m->return_path_null) {
        check_mailbox(&m->return_path);
    }
}

/* The same verdict, result and message as `first`. */
static void check_same(int r0, const struct sp_err *e0, int r, const struct sp_err *e) {
    if (r != r0 || memcmp(&first, &other, sizeof(first)) != 0 || strcmp(e0->msg, e->msg) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct sp_err e0, e;
    int r0 = read_copy(data, size, RAWMSG_BYTES, &first, &e0);
    check_result(r0, &first, &e0, size);

    size_t n, fn;
    char *b64 = to_b64(data, size, &n);
    char *form = to_form(b64, n, &fn);
    check_same(r0, &e0, read_copy(b64, n, RAWMSG_BASE64, &other, &e), &e);
    check_same(r0, &e0, read_copy(form, fn, RAWMSG_BASE64_FORM, &other, &e), &e);
    free(b64);
    free(form);

    /* Prefixes: one just before the end of the header section, and one
     * picked by the input's last byte. */
    size_t cuts[2] = {r0 == 0 ? first.head_len - 1 : size / 2,
                      size > 0 ? size * data[size - 1] / 256 : 0};
    for (int i = 0; i < 2; i++) {
        int r = read_copy(data, cuts[i], RAWMSG_BYTES, &other, &e);
        if (r == 0) {
            if (r0 != 0 || memcmp(&first, &other, sizeof(first)) != 0) {
                abort();
            }
        } else if (r0 == 0 && cuts[i] >= first.head_len) {
            abort();
        }
    }

    /* The input as base64 text, and as a form value. */
    int r = read_copy(data, size, RAWMSG_BASE64, &other, &e);
    check_result(r, &other, &e, RAWMSG_HEAD_MAX);
    r = read_copy(data, size, RAWMSG_BASE64_FORM, &other, &e);
    check_result(r, &other, &e, RAWMSG_HEAD_MAX);
    return 0;
}
