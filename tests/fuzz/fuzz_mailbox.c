/* fuzz_mailbox - the RFC 5322 address reader, host names and Punycode.
 *
 * The whole input is read as one mailbox, as a path, as a mailbox-list, as
 * an address-list and as a host name; its bytes also become code points
 * for Punycode. Checked (abort on failure), beyond no crash:
 *   - a mailbox's canonical form reads back to the same local part and
 *     domain, and formats to the same text again;
 *   - one mailbox is also a mailbox-list of one and an address-list of one;
 *   - a list's count equals the number of mailboxes its cursor yields, a
 *     failed cursor keeps failing, a mailbox-list read is the same
 *     address-list read, and every mailbox iterated reads back alone;
 *   - a normalised host name normalises to itself, and is lowercase LDH;
 *   - the result never depends on bytes past len (the same input followed
 *     by other bytes gives the same verdict, result and message);
 *   - every error has the code and a printable, bounded message;
 *   - Punycode round-trips: decode(encode(cps)) == cps, and whatever
 *     decodes encodes to text that decodes to the same code points. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/mailbox.h"
#include "api/punycode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const struct sp_err *err) {
    size_t n = strlen(err->msg);
    if (err->code == NULL || strcmp(err->code, "InvalidParameterValue") != 0 || n == 0 || n > 600) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)err->msg[i] < 0x20 || (unsigned char)err->msg[i] > 0x7E) {
            abort();
        }
    }
}

static int same_address(const struct mailbox *a, const struct mailbox *b) {
    return strcmp(a->local, b->local) == 0 && strcmp(a->domain, b->domain) == 0 && a->idn == b->idn;
}

/* m's canonical form reads back to m's address and formats alike. */
static void check_roundtrip(const struct mailbox *m) {
    char canon[MAILBOX_FORMAT_MAX], again[MAILBOX_FORMAT_MAX];
    struct mailbox back;
    struct sp_err err;
    size_t n;
    if (mailbox_format(m, canon, sizeof(canon), &n, &err) < 0 || n != strlen(canon) ||
        mailbox_parse_one(canon, n, &back, &err) < 0 || !same_address(m, &back) ||
        back.has_display_name || mailbox_format(&back, again, sizeof(again), NULL, &err) < 0 ||
        strcmp(canon, again) != 0) {
        abort();
    }
    char dom[MAILBOX_DOMAIN_MAX + 1];
    if (mailbox_domain_normalise(m->domain, strlen(m->domain), dom, sizeof(dom), &err) < 0 ||
        strcmp(dom, m->domain) != 0) {
        abort();
    }
}

/* Iterates a list; returns the cursor's final verdict and sets *count. */
static int iterate(const char *s, size_t len, enum mailbox_list_kind kind, size_t *count) {
    struct mailbox_cursor c;
    struct mailbox m;
    struct sp_err err;
    int r;
    *count = 0;
    mailbox_cursor_init(&c, s, len, kind);
    while ((r = mailbox_next(&c, &m, &err)) == 1) {
        check_roundtrip(&m);
        ++*count;
    }
    if (r < 0) {
        check_err(&err);
    }
    if (mailbox_next(&c, &m, &err) != r) {
        abort();
    }
    size_t n = 0;
    int rc = mailbox_list_count(s, len, kind, &n, &err);
    if (rc != r || (r == 0 && n != *count) || *count * 3 > len) {
        abort();
    }
    return r;
}

static void check_lists(const char *s, size_t len) {
    size_t n_mbox, n_addr;
    int r_mbox = iterate(s, len, MAILBOX_LIST, &n_mbox);
    int r_addr = iterate(s, len, MAILBOX_ADDRESS_LIST, &n_addr);
    if (r_mbox == 0 && (r_addr != 0 || n_addr != n_mbox)) {
        abort();
    }
}

static void check_one(const char *s, size_t len, const char *tail_copy) {
    struct mailbox m, m2;
    struct sp_err err, err2;
    int r = mailbox_parse_one(s, len, &m, &err);
    /* tail_copy holds the same len bytes followed by others. */
    int r2 = mailbox_parse_one(tail_copy, len, &m2, &err2);
    if (r != r2 || (r == 0 && memcmp(&m, &m2, sizeof(m)) != 0) ||
        (r < 0 && strcmp(err.msg, err2.msg) != 0)) {
        abort();
    }
    if (r < 0) {
        check_err(&err);
        return;
    }
    check_roundtrip(&m);
    size_t n;
    struct mailbox_cursor c;
    struct mailbox first;
    mailbox_cursor_init(&c, s, len, MAILBOX_LIST);
    if (mailbox_list_count(s, len, MAILBOX_LIST, &n, &err) < 0 || n != 1 ||
        mailbox_list_count(s, len, MAILBOX_ADDRESS_LIST, &n, &err) < 0 || n != 1 ||
        mailbox_next(&c, &first, &err) != 1 || memcmp(&first, &m, sizeof(m)) != 0) {
        abort();
    }
}

static void check_path(const char *s, size_t len) {
    struct mailbox m;
    struct sp_err err;
    int null = -1;
    if (mailbox_parse_path(s, len, &m, &null, &err) < 0) {
        check_err(&err);
        return;
    }
    if (!null) {
        if (m.has_display_name) {
            abort();
        }
        check_roundtrip(&m);
    }
}

static void check_domain(const char *s, size_t len, const char *tail_copy) {
    char out[MAILBOX_DOMAIN_MAX + 1], again[MAILBOX_DOMAIN_MAX + 1], tail[MAILBOX_DOMAIN_MAX + 1];
    struct sp_err err, err2;
    int r = mailbox_domain_normalise(s, len, out, sizeof(out), &err);
    int r2 = mailbox_domain_normalise(tail_copy, len, tail, sizeof(tail), &err2);
    if (r != r2 || (r == 0 && strcmp(out, tail) != 0) ||
        (r < 0 && strcmp(err.msg, err2.msg) != 0)) {
        abort();
    }
    if (r < 0) {
        check_err(&err);
        return;
    }
    size_t n = strlen(out);
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
            abort();
        }
    }
    if (n == 0 || n > MAILBOX_DOMAIN_MAX ||
        mailbox_domain_normalise(out, n, again, sizeof(again), &err) < 0 ||
        strcmp(out, again) != 0) {
        abort();
    }
}

static void check_punycode(const uint8_t *data, size_t size) {
    uint32_t cp[64], back[64], back2[64];
    char enc[1024];
    size_t n = 0, m, len;
    struct sp_err err;
    /* Three bytes per code point, folded into Unicode scalar values. */
    for (size_t i = 0; i + 2 < size && n < 64; i += 3) {
        uint32_t c =
            ((uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2]) % 0x110000;
        cp[n++] = c >= 0xD800 && c <= 0xDFFF ? c - 0x800 : c;
    }
    if (punycode_encode(cp, n, enc, sizeof(enc), &len, &err) < 0 ||
        punycode_decode(enc, len, back, 64, &m, &err) < 0 || m != n ||
        memcmp(back, cp, n * sizeof(*cp)) != 0) {
        abort();
    }
    /* Whatever decodes encodes to text that decodes to the same. */
    size_t k = size < 200 ? size : 200;
    if (punycode_decode((const char *)data, k, back, 64, &m, &err) == 0) {
        size_t m2;
        if (punycode_encode(back, m, enc, sizeof(enc), &len, &err) < 0 ||
            punycode_decode(enc, len, back2, 64, &m2, &err) < 0 || m2 != m ||
            memcmp(back, back2, m * sizeof(*back)) != 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact copy (so ASan sees any overread) and one with a tail. */
    char *s = malloc(size > 0 ? size : 1);
    char *tail = malloc(size + 16);
    if (s == NULL || tail == NULL) {
        free(s);
        free(tail);
        return 0;
    }
    memcpy(s, data, size);
    memcpy(tail, data, size);
    memcpy(tail + size, "@evil.com>,(\"\\;.", 16);

    check_one(s, size, tail);
    check_path(s, size);
    check_lists(s, size);
    check_domain(s, size, tail);
    check_punycode(data, size);
    free(s);
    free(tail);
    return 0;
}
