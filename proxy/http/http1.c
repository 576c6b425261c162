/* http1.c - HTTP/1.1 head parser (see http1.h). RFC 9112. */
#include "proxy/http/http1.h"

#include <string.h>
#include <strings.h>

int http1_token_eq(const char *s, size_t len, const char *lit) {
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* tchar per RFC 9110 5.6.2: ALPHA, DIGIT and !#$%&'*+-.^_`|~ (a table:
 * every byte of every header name goes through it). */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int is_tchar(unsigned char c) { return tchar[c]; }

/* Finds the end of the head ("\r\n\r\n", or bare "\n\n" which RFC 9112
 * allows recipients to accept). Returns its length or 0. */
static size_t head_end(const char *buf, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n') {
            if (buf[i + 1] == '\n') {
                return i + 2;
            }
            if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') {
                return i + 3;
            }
        }
    }
    return 0;
}

/* Next line in [*p, end): sets *line and *line_len without the CR LF. */
static int next_line(const char **p, const char *end, const char **line, size_t *line_len) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL) {
        return -1;
    }
    *line = *p;
    *line_len = (size_t)(nl - *p);
    if (*line_len > 0 && (*line)[*line_len - 1] == '\r') {
        (*line_len)--;
    }
    *p = nl + 1;
    return 0;
}

static int parse_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0 || len > 19) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Does a comma-separated header value contain token (case-insensitive)? */
static int has_token(const char *v, size_t len, const char *token) {
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < len && v[i] != ',') {
            i++;
        }
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) {
            end--;
        }
        if (http1_token_eq(v + start, end - start, token)) {
            return 1;
        }
    }
    return 0;
}

static int parse_headers(const char **p, const char *end, struct http1_head *h, const char **why) {
    h->n_headers = 0;
    for (;;) {
        const char *line;
        size_t n;
        if (next_line(p, end, &line, &n) < 0) {
            *why = "unterminated header line";
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            *why = "obsolete line folding";
            return -1;
        }
        const char *colon = memchr(line, ':', n);
        if (colon == NULL || colon == line) {
            *why = "header line without a name";
            return -1;
        }
        for (const char *c = line; c < colon; c++) {
            if (!is_tchar((unsigned char)*c)) {
                *why = "invalid character in header name";
                return -1;
            }
        }
        const char *v = colon + 1, *ve = line + n;
        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        for (const char *c = v; c < ve; c++) {
            unsigned char ch = (unsigned char)*c;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                *why = "control character in header value";
                return -1;
            }
        }
        if (h->n_headers == HTTP1_MAX_HEADERS) {
            *why = "too many header lines";
            return -1;
        }
        struct http1_header *hd = &h->headers[h->n_headers++];
        hd->name = line;
        hd->name_len = (size_t)(colon - line);
        hd->value = v;
        hd->value_len = (size_t)(ve - v);
    }
}

/* Content-Length, Transfer-Encoding and Connection semantics. */
static int derive(struct http1_head *h, const char **why) {
    h->keep_alive = h->minor_version >= 1;
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http1_header *hd = &h->headers[i];
        if (http1_token_eq(hd->name, hd->name_len, "content-length")) {
            uint64_t cl;
            if (parse_u64(hd->value, hd->value_len, &cl) < 0) {
                *why = "invalid Content-Length";
                return -1;
            }
            if (h->has_content_length && cl != h->content_length) {
                *why = "conflicting Content-Length";
                return -1;
            }
            h->has_content_length = 1;
            h->content_length = cl;
        } else if (http1_token_eq(hd->name, hd->name_len, "transfer-encoding")) {
            /* Only "chunked" alone is understood; anything else cannot be
             * framed safely. */
            if (!http1_token_eq(hd->value, hd->value_len, "chunked") || h->chunked) {
                *why = "unsupported Transfer-Encoding";
                return -1;
            }
            h->chunked = 1;
        } else if (http1_token_eq(hd->name, hd->name_len, "connection")) {
            if (has_token(hd->value, hd->value_len, "close")) {
                h->keep_alive = 0;
            } else if (has_token(hd->value, hd->value_len, "keep-alive")) {
                h->keep_alive = 1;
            }
        } else if (http1_token_eq(hd->name, hd->name_len, "expect")) {
            h->expect_continue = http1_token_eq(hd->value, hd->value_len, "100-continue");
        }
    }
    if (h->chunked && h->has_content_length) {
        *why = "both Content-Length and Transfer-Encoding";
        return -1;
    }
    return 0;
}

static int parse_version(const char *s, size_t len, int *minor) {
    if (len != 8 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1')) {
        return -1;
    }
    *minor = s[7] - '0';
    return 0;
}

long http1_parse_request(const char *buf, size_t len, struct http1_head *out, const char **why) {
    memset(out, 0, sizeof(*out));
    /* RFC 9112 2.2: ignore empty lines before the request line (a client's
     * stray CRLF after a previous body), before looking for the head's end,
     * so they are not taken for it.
     * At most 64 such bytes are skipped; the 65th is an error, so whether a
     * buffer is refused never depends on where it was cut. */
    size_t lead = 0;
    while (lead < len && (buf[lead] == '\r' || buf[lead] == '\n')) {
        if (lead == 64) {
            *why = "too many empty lines before the request line";
            return HTTP1_ERROR;
        }
        lead++;
    }
    size_t hlen = head_end(buf + lead, len - lead);
    if (hlen == 0) {
        return HTTP1_INCOMPLETE;
    }
    hlen += lead;
    const char *p = buf + lead, *end = buf + hlen;
    const char *line;
    size_t n;
    if (next_line(&p, end, &line, &n) < 0) {
        *why = "no request line";
        return HTTP1_ERROR;
    }
    const char *sp1 = memchr(line, ' ', n);
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(line + n - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1) {
        *why = "malformed request line";
        return HTTP1_ERROR;
    }
    for (const char *c = line; c < sp1; c++) {
        if (!is_tchar((unsigned char)*c)) {
            *why = "invalid method";
            return HTTP1_ERROR;
        }
    }
    for (const char *c = sp1 + 1; c < sp2; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
            *why = "invalid request target";
            return HTTP1_ERROR;
        }
    }
    /* Origin-form only (RFC 9112 3.2.1): the proxy is nobody's forward
     * proxy, so absolute-form ("http://host/x") and authority-form
     * ("host:443") name nothing here, and "*" (OPTIONS) asks for nothing it
     * serves. Refused rather than read as a path. */
    if (sp1[1] != '/') {
        *why = "request target must start with '/'";
        return HTTP1_ERROR;
    }
    out->method = line;
    out->method_len = (size_t)(sp1 - line);
    out->target = sp1 + 1;
    out->target_len = (size_t)(sp2 - sp1 - 1);
    if (parse_version(sp2 + 1, (size_t)(line + n - sp2 - 1), &out->minor_version) < 0) {
        *why = "unsupported HTTP version";
        return HTTP1_ERROR;
    }
    if (parse_headers(&p, end, out, why) < 0 || derive(out, why) < 0) {
        return HTTP1_ERROR;
    }
    return (long)hlen;
}

long http1_parse_response(const char *buf, size_t len, struct http1_head *out, const char **why) {
    memset(out, 0, sizeof(*out));
    size_t hlen = head_end(buf, len);
    if (hlen == 0) {
        return HTTP1_INCOMPLETE;
    }
    const char *p = buf, *end = buf + hlen;
    const char *line;
    size_t n;
    if (next_line(&p, end, &line, &n) < 0 || n < 12) {
        *why = "malformed status line";
        return HTTP1_ERROR;
    }
    if (parse_version(line, 8, &out->minor_version) < 0 || line[8] != ' ') {
        *why = "unsupported HTTP version";
        return HTTP1_ERROR;
    }
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') {
            *why = "malformed status code";
            return HTTP1_ERROR;
        }
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (n > 12 && line[12] != ' ')) {
        *why = "malformed status code";
        return HTTP1_ERROR;
    }
    out->status = status;
    out->reason = n > 13 ? line + 13 : line + n;
    out->reason_len = n > 13 ? n - 13 : 0;
    if (parse_headers(&p, end, out, why) < 0 || derive(out, why) < 0) {
        return HTTP1_ERROR;
    }
    return (long)hlen;
}

const struct http1_header *http1_find(const struct http1_head *h, const char *name) {
    for (size_t i = 0; i < h->n_headers; i++) {
        if (http1_token_eq(h->headers[i].name, h->headers[i].name_len, name)) {
            return &h->headers[i];
        }
    }
    return NULL;
}

long http1_parse_chunk_size(const char *buf, size_t len, uint64_t *size) {
    /* A size line is never longer than 1 KiB; the limit holds whether the
     * line arrives whole or in pieces. */
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        return len > 1024 ? -1 : 0;
    }
    if (nl - buf > 1024) {
        return -1;
    }
    uint64_t v = 0;
    size_t i = 0, digits = 0;
    for (; buf + i < nl; i++) {
        char c = buf[i];
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            break;
        }
        if (++digits > 15) {
            return -1;
        }
        v = v * 16 + (uint64_t)d;
    }
    if (digits == 0) {
        return -1;
    }
    /* Then optional whitespace, optional chunk extensions (ignored), and the
     * line end: CRLF or a bare LF; a CR anywhere else is refused. */
    while (buf + i < nl && (buf[i] == ' ' || buf[i] == '\t')) {
        i++;
    }
    if (buf + i < nl && buf[i] == ';') {
        while (buf + i < nl && buf[i] != '\r') {
            i++;
        }
    }
    if (buf + i < nl && !(buf[i] == '\r' && buf + i + 1 == nl)) {
        return -1;
    }
    *size = v;
    return (long)(nl - buf + 1);
}
