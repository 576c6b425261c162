/* errdoc.c - the proxy's own error documents (see errdoc.h). */
#include "api/errdoc.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "api/jsonout.h"

#define SES_XMLNS "http://ses.amazonaws.com/doc/2010-12-01/"

/* Output is batched so a message costs a few sink calls, not one per
 * escaped character. */
struct writer {
    errdoc_sink_fn sink;
    void *ctx;
    int failed;
    size_t len;
    char buf[512];
};

static void w_flush(struct writer *w) {
    if (!w->failed && w->len > 0 && w->sink(w->ctx, w->buf, w->len) < 0) {
        w->failed = 1;
    }
    w->len = 0;
}

static void w_put(struct writer *w, const char *s, size_t n) {
    if (w->len + n > sizeof(w->buf)) {
        w_flush(w);
    }
    if (n > sizeof(w->buf)) {
        if (!w->failed && w->sink(w->ctx, s, n) < 0) {
            w->failed = 1;
        }
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void w_str(struct writer *w, const char *s) { w_put(w, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (1-4) holding a character XML 1.0
 * allows, or 0. s is NUL-terminated, so reading continuation bytes stops at
 * the terminator. */
static size_t xml_char_len(const unsigned char *s) {
    uint32_t c;
    size_t n;
    if (s[0] < 0x80) {
        c = s[0];
        n = 1;
    } else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        c = s[0] & 0x1fu;
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        c = s[0] & 0x0fu;
        n = 3;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        c = s[0] & 0x07u;
        n = 4;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_for_len[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0; /* overlong, out of range, or a surrogate */
    }
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xfffe || c == 0xffff) {
        return 0; /* not an XML 1.0 Char */
    }
    return n;
}

static void w_text(struct writer *w, const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    while (*s != '\0') {
        const unsigned char *run = s;
        size_t n;
        /* Copy the longest run that needs no escaping in one go. */
        while (*s != '\0' && strchr("&<>\"'\r", *s) == NULL && (n = xml_char_len(s)) > 0) {
            s += n;
        }
        w_put(w, (const char *)run, (size_t)(s - run));
        switch (*s) {
        case '\0':
            return;
        case '&':
            w_str(w, "&amp;");
            break;
        case '<':
            w_str(w, "&lt;");
            break;
        case '>':
            w_str(w, "&gt;");
            break;
        case '"':
            w_str(w, "&quot;");
            break;
        case '\'':
            w_str(w, "&apos;");
            break;
        case '\r':
            w_str(w, "&#13;"); /* a raw CR would be read back as LF */
            break;
        default:
            w_str(w, "\xef\xbf\xbd"); /* U+FFFD for one bad byte */
            break;
        }
        s++;
    }
}

static void w_element(struct writer *w, const char *tag, const char *text) {
    if (text == NULL) {
        return;
    }
    w_str(w, "<");
    w_str(w, tag);
    w_str(w, ">");
    w_text(w, text);
    w_str(w, "</");
    w_str(w, tag);
    w_str(w, ">");
}

int errdoc_query_xml(const char *type, const char *code, const char *message,
                     const char *request_id, errdoc_sink_fn sink, void *ctx) {
    if (sink == NULL) {
        return -1;
    }
    struct writer w = {.sink = sink, .ctx = ctx};
    w_str(&w, "<ErrorResponse xmlns=\"" SES_XMLNS "\"><Error>");
    w_element(&w, "Type", type != NULL ? type : "Sender");
    w_element(&w, "Code", code);
    w_element(&w, "Message", message);
    w_str(&w, "</Error>");
    w_element(&w, "RequestId", request_id);
    w_str(&w, "</ErrorResponse>");
    w_flush(&w);
    return w.failed ? -1 : 0;
}

const char *errdoc_type(int status) { return status < 500 ? "Sender" : "Receiver"; }

int errdoc_json(int status, const char *code, const char *message, const char *request_id,
                int retries, errdoc_sink_fn sink, void *ctx) {
    if (sink == NULL) {
        return -1;
    }
    json_t *o =
        json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:i, s:i}}", "Error", "Type", errdoc_type(status),
                  "Code", code, "Message", message, "ResponseMetadata", "RequestId", request_id,
                  "HTTPStatusCode", status, "RetryAttempts", retries);
    if (o == NULL) { /* the message was not UTF-8: never echo it raw */
        o = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:i, s:i}}", "Error", "Type",
                      errdoc_type(status), "Code", code, "Message", "(message not shown)",
                      "ResponseMetadata", "RequestId", request_id, "HTTPStatusCode", status,
                      "RetryAttempts", retries);
    }
    if (o == NULL) {
        return -1;
    }
    int rc = jsonout_dump(o, sink, ctx);
    json_decref(o);
    return rc;
}

int errdoc_rest_json(const char *message, errdoc_sink_fn sink, void *ctx) {
    if (sink == NULL) {
        return -1;
    }
    json_t *o = json_pack("{s:s}", "message", message != NULL ? message : "");
    if (o == NULL) { /* not UTF-8 */
        o = json_pack("{s:s}", "message", "(message not shown)");
    }
    if (o == NULL) {
        return -1;
    }
    int rc = jsonout_dump(o, sink, ctx);
    json_decref(o);
    return rc;
}
