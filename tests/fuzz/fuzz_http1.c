/* fuzz_http1 - the HTTP/1.1 head parser (request heads, response heads,
 * chunk-size lines).
 *
 * Input: byte 0 picks the parser (mod 3: request, response, chunk size), the
 * rest is the buffer, copied to a heap block of exactly its size so any
 * overread trips ASan. Checked besides not crashing: the result is -1, 0 or
 * a length within the input; every pointer the parser returns lies inside
 * the head; the derived fields are consistent (never chunked and
 * Content-Length together); and a head or size line that parses is
 * incomplete (0), never malformed, when its last byte is missing, and parses
 * the same when given alone, so the answer does not depend on how the bytes
 * arrived. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *p, size_t n, const char *buf, size_t len) {
    return n == 0 || (p != NULL && p >= buf && p + n <= buf + len);
}

static void check_head(const char *buf, long r, const struct http1_head *h, int request) {
    size_t len = (size_t)r;
    if (h->n_headers > HTTP1_MAX_HEADERS || (h->minor_version != 0 && h->minor_version != 1)) {
        abort();
    }
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http1_header *hd = &h->headers[i];
        if (hd->name_len == 0 || !inside(hd->name, hd->name_len, buf, len) ||
            !inside(hd->value, hd->value_len, buf, len)) {
            abort();
        }
    }
    if (h->chunked && h->has_content_length) {
        abort();
    }
    if (request) {
        if (h->method_len == 0 || h->target_len == 0 ||
            !inside(h->method, h->method_len, buf, len) ||
            !inside(h->target, h->target_len, buf, len)) {
            abort();
        }
    } else {
        if (h->status < 100 || h->status > 999 || !inside(h->reason, h->reason_len, buf, len)) {
            abort();
        }
    }
}

static long parse(int mode, const char *buf, size_t len, struct http1_head *h) {
    const char *why = NULL;
    long r = mode == 0 ? http1_parse_request(buf, len, h, &why)
                       : http1_parse_response(buf, len, h, &why);
    if (r == HTTP1_ERROR && (why == NULL || *why == '\0')) {
        abort(); /* an error always says why */
    }
    return r;
}

static void fuzz_head(int mode, const char *buf, size_t len) {
    static struct http1_head h, again;
    long r = parse(mode, buf, len, &h);
    if (r < HTTP1_ERROR || r > (long)len) {
        abort();
    }
    if (r <= 0) {
        return;
    }
    check_head(buf, r, &h, mode == 0);
    /* The head alone parses the same; one byte short it is incomplete. */
    if (parse(mode, buf, (size_t)r, &again) != r || again.n_headers != h.n_headers ||
        again.content_length != h.content_length || again.chunked != h.chunked ||
        again.keep_alive != h.keep_alive) {
        abort();
    }
    if (parse(mode, buf, (size_t)r - 1, &again) != HTTP1_INCOMPLETE) {
        abort();
    }
}

static void fuzz_chunk(const char *buf, size_t len) {
    uint64_t size = UINT64_MAX;
    long r = http1_parse_chunk_size(buf, len, &size);
    if (r < -1 || r > (long)len) {
        abort();
    }
    if (r <= 0) {
        if (size != UINT64_MAX) {
            abort(); /* untouched unless the line parsed */
        }
        return;
    }
    if (buf[r - 1] != '\n' || memchr(buf, '\n', (size_t)r - 1) != NULL || size >= (1ull << 60) ||
        r > 1025) {
        abort();
    }
    uint64_t again;
    if (http1_parse_chunk_size(buf, (size_t)r, &again) != r || again != size ||
        http1_parse_chunk_size(buf, (size_t)r - 1, &again) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    int mode = data[0] % 3;
    size_t len = size - 1;
    char *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, len);
    if (mode == 2) {
        fuzz_chunk(buf, len);
    } else {
        fuzz_head(mode, buf, len);
    }
    free(buf);
    return 0;
}
