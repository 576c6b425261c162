/* hdrbuf.h - an HTTP head built without printf, on the per-request path.
 *
 * Pieces are copied into a fixed buffer on the stack and handed to the
 * evbuffer in one evbuffer_add when it fills up or at the end; a piece
 * larger than the buffer goes straight to the evbuffer. Formatting the same
 * head with evbuffer_add_printf cost about three times the instructions
 * (callgrind), and printf's parsing was most of that.
 *
 *   struct hdrbuf h;
 *   hdrbuf_init(&h, out);
 *   hdrbuf_lit(&h, "Content-Length: ");
 *   hdrbuf_u64(&h, n);
 *   hdrbuf_lit(&h, "\r\n");
 *   if (hdrbuf_finish(&h) < 0) ...   (out of memory somewhere on the way)
 */
#ifndef SP_HDRBUF_H
#define SP_HDRBUF_H

#include <event2/buffer.h>
#include <stdint.h>
#include <string.h>

struct hdrbuf {
    struct evbuffer *out; /* borrowed */
    size_t len;
    int failed;
    char buf[1024];
};

static inline void hdrbuf_init(struct hdrbuf *h, struct evbuffer *out) {
    h->out = out;
    h->len = 0;
    h->failed = 0;
}

static inline void hdrbuf_flush(struct hdrbuf *h) {
    if (h->len > 0 && evbuffer_add(h->out, h->buf, h->len) != 0) {
        h->failed = 1;
    }
    h->len = 0;
}

static inline void hdrbuf_mem(struct hdrbuf *h, const char *s, size_t n) {
    if (n > sizeof(h->buf) - h->len) {
        hdrbuf_flush(h);
        if (n > sizeof(h->buf)) {
            if (evbuffer_add(h->out, s, n) != 0) {
                h->failed = 1;
            }
            return;
        }
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

static inline void hdrbuf_str(struct hdrbuf *h, const char *s) { hdrbuf_mem(h, s, strlen(s)); }

/* A string literal, its length known at compile time. */
#define hdrbuf_lit(h, lit) hdrbuf_mem((h), (lit), sizeof(lit) - 1)

static inline void hdrbuf_u64(struct hdrbuf *h, uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    hdrbuf_mem(h, digits + sizeof(digits) - n, n);
}

/* Hands over what is buffered: 0, or -1 when any append failed. */
static inline int hdrbuf_finish(struct hdrbuf *h) {
    hdrbuf_flush(h);
    return h->failed ? -1 : 0;
}

#endif
