/* sigv4.c - AWS Signature Version 4 (AWS4-HMAC-SHA256), header mode.
 *
 * The three stages follow aws-c-auth and the AWS SigV4 documentation:
 *
 *   (1) canonical request: METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n HASH
 *   (2) string to sign:    AWS4-HMAC-SHA256 \n DATE \n SCOPE \n hex(SHA256(1))
 *   (3) signature:         hex(HMAC(kSigning, (2))), where kSigning is
 *       HMAC(HMAC(HMAC(HMAC("AWS4"+secret, YYYYMMDD), region), service),
 *       "aws4_request")
 *
 * Speed matters (the proxy signs every request), so the hot path keeps to
 * the stack: text is written through a small "sink" that either fills a
 * caller's buffer or, in sigv4_sign(), feeds a reused digest context in
 * chunks, so the canonical request is never built on the heap. Headers and
 * query parameters are sorted with insertion sort on small index arrays,
 * hex is hand-written, the date is computed from the unix time without
 * gmtime_r()'s locks, and kSigning is cached together with an HMAC context
 * already keyed with it (OpenSSL keeps the ipad/opad states, so each
 * signature costs no key setup).
 *
 * SigV4a (sigv4a.c) runs stages 1 and 2 through this same code, with a
 * struct sigv4_variant that names its algorithm, drops the region from the
 * scope and signs the region set as X-Amz-Region-Set (sigv4_draft()). */
#include "signer/sigv4.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define CODE_SIGNING "SigningError"
#define CODE_INTERNAL "InternalError"

/* The headers the signer adds itself, besides the caller's: X-Amz-Date,
 * the token, the content hash and (SigV4a) the region set. */
#define SYNTHETIC_HEADERS 4

/* The latest time X-Amz-Date can show: 9999-12-31T23:59:59Z. */
#define MAX_SIGNING_TIME 253402300799LL

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* SigV4 itself: the region goes into the scope. */
static const struct sigv4_variant v4_variant = {SIGV4_ALGORITHM, 0};

/* ---- character classes ---- */

/* RFC 3986 unreserved: the only bytes SigV4 leaves unencoded. */
static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 9110 tchar: what a header name or method may contain. */
static int is_tchar(unsigned char c) {
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }
}

static int is_lower_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whitespace that canonical header values trim and collapse. CR and LF are
 * included because a folded header keeps its raw line breaks (README,
 * get-header-value-multiline). */
static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_scope_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static unsigned char to_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

void sigv4_hex(const unsigned char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[in[i] >> 4];
        out[2 * i + 1] = hex_lower[in[i] & 0x0f];
    }
}

/* ---- errors ---- */

/* Fails with "InternalError" and the first OpenSSL reason, then empties
 * OpenSSL's per-thread error queue: a stale entry there would make a later
 * SSL_get_error() on the same thread report a TLS error. */
int sigv4_fail_openssl(struct sp_err *err, const char *what) {
    char reason[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof(reason));
    }
    ERR_clear_error();
    return sp_fail(err, CODE_INTERNAL, "%s failed: %s", what, reason);
}

/* ---- sink: bounded output, optionally streamed into a digest ---- */

/* Writers append without checking; the owner checks overflow/crypto_failed
 * once at the end. Nothing is ever written past buf + cap. */
struct sink {
    char *buf;
    size_t cap;
    size_t len;
    EVP_MD_CTX *md; /* non-NULL: a full buffer is hashed and emptied instead of overflowing */
    int overflow;
    int crypto_failed;
};

static void sink_init(struct sink *s, char *buf, size_t cap, EVP_MD_CTX *md) {
    s->buf = buf;
    s->cap = cap;
    s->len = 0;
    s->md = md;
    s->overflow = 0;
    s->crypto_failed = 0;
}

static void sink_hash(struct sink *s, const void *p, size_t n) {
    if (n > 0 && EVP_DigestUpdate(s->md, p, n) != 1) {
        s->crypto_failed = 1;
    }
}

static void sink_flush(struct sink *s) {
    if (s->md != NULL) {
        sink_hash(s, s->buf, s->len);
        s->len = 0;
    }
}

static void sink_put_slow(struct sink *s, const char *p, size_t n) {
    if (s->md == NULL) {
        s->overflow = 1;
        return;
    }
    sink_flush(s);
    if (n >= s->cap) {
        sink_hash(s, p, n);
        return;
    }
    memcpy(s->buf, p, n);
    s->len = n;
}

static inline void sink_put(struct sink *s, const char *p, size_t n) {
    if (n <= s->cap - s->len) {
        if (n > 0) {
            memcpy(s->buf + s->len, p, n);
            s->len += n;
        }
        return;
    }
    sink_put_slow(s, p, n);
}

static inline void sink_str(struct sink *s, const char *str) { sink_put(s, str, strlen(str)); }

static inline void sink_byte(struct sink *s, char c) {
    if (s->len < s->cap) {
        s->buf[s->len++] = c;
        return;
    }
    sink_put_slow(s, &c, 1);
}

static void sink_lower(struct sink *s, const char *p, size_t n) {
    if (n <= s->cap - s->len) {
        char *d = s->buf + s->len;
        for (size_t i = 0; i < n; i++) {
            d[i] = (char)to_lower((unsigned char)p[i]);
        }
        s->len += n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sink_byte(s, (char)to_lower((unsigned char)p[i]));
    }
}

/* Copies runs of unreserved bytes (plus '/' when keep_slash) and writes every
 * other byte as uppercase %XX. */
static void sink_uri_encode(struct sink *s, const char *p, size_t n, int keep_slash) {
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && (is_unreserved((unsigned char)p[i]) || (keep_slash && p[i] == '/'))) {
            i++;
        }
        sink_put(s, p + start, i - start);
        if (i < n) {
            unsigned char c = (unsigned char)p[i++];
            char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 0x0f]};
            sink_put(s, esc, sizeof(esc));
        }
    }
}

/* ---- the date ---- */

static void put_digits(char *out, unsigned v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Writes "YYYYMMDDTHHMMSSZ". The civil date comes from days since the epoch
 * (H. Hinnant's days_from_civil inverse), which is exact for the proleptic
 * Gregorian calendar and avoids gmtime_r(), which takes a lock. */
static int format_amz_date(time_t when, char out[17], struct sp_err *err) {
    ENSURE(when >= 0 && (long long)when <= MAX_SIGNING_TIME, err, CODE_SIGNING,
           "signing time %lld is outside 1970..9999", (long long)when);
    long long secs = (long long)when;
    unsigned sod = (unsigned)(secs % 86400);
    long long z = secs / 86400 + 719468;
    unsigned era = (unsigned)(z / 146097);
    unsigned doe = (unsigned)(z - (long long)era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = yoe + era * 400 + (month <= 2 ? 1 : 0);

    put_digits(out, year, 4);
    put_digits(out + 4, month, 2);
    put_digits(out + 6, day, 2);
    out[8] = 'T';
    put_digits(out + 9, sod / 3600, 2);
    put_digits(out + 11, sod / 60 % 60, 2);
    put_digits(out + 13, sod % 60, 2);
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
}

/* ---- validation and the scope ---- */

/* "YYYYMMDD/region/service/aws4_request" (SigV4a: without "region/") */
#define SCOPE_MAX (8 + 1 + SIGV4_MAX_SCOPE_PART_LEN + 1 + SIGV4_MAX_SCOPE_PART_LEN + 1 + 12)

struct scope {
    char amz_date[17];
    char text[SCOPE_MAX + 1];
    size_t len;
};

static int check_scope_part(const char *what, const char *v, struct sp_err *err) {
    ENSURE(v != NULL && v[0] != '\0', err, CODE_SIGNING, "%s is missing", what);
    size_t n = strnlen(v, SIGV4_MAX_SCOPE_PART_LEN + 1);
    ENSURE(n <= SIGV4_MAX_SCOPE_PART_LEN, err, CODE_SIGNING, "%s is longer than %d bytes", what,
           SIGV4_MAX_SCOPE_PART_LEN);
    for (size_t i = 0; i < n; i++) {
        ENSURE(is_scope_char((unsigned char)v[i]), err, CODE_SIGNING,
               "%s contains a byte outside [A-Za-z0-9._-]", what);
    }
    return 0;
}

/* A SigV4a region set travels in a header: regions joined by ',', where
 * '*' may stand for any part ("*" alone means every region). */
static int check_region_set(const char *v, struct sp_err *err) {
    ENSURE(v != NULL && v[0] != '\0', err, CODE_SIGNING, "region set is missing");
    size_t n = strnlen(v, SIGV4_MAX_REGION_SET_LEN + 1);
    ENSURE(n <= SIGV4_MAX_REGION_SET_LEN, err, CODE_SIGNING, "region set is longer than %d bytes",
           SIGV4_MAX_REGION_SET_LEN);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        ENSURE(is_scope_char(c) || c == '*' || c == ',', err, CODE_SIGNING,
               "region set contains a byte outside [A-Za-z0-9._*,-]");
    }
    return 0;
}

static int scope_init(const struct sigv4_variant *v, const struct sigv4_params *p, struct scope *sc,
                      struct sp_err *err) {
    ENSURE(p != NULL, err, CODE_SIGNING, "signing parameters are missing");
    if (v->region_set) {
        GUARD(check_region_set(p->region, err));
    } else {
        GUARD(check_scope_part("region", p->region, err));
    }
    GUARD(check_scope_part("service", p->service, err));
    GUARD(format_amz_date(p->when, sc->amz_date, err));

    struct sink s;
    sink_init(&s, sc->text, SCOPE_MAX, NULL);
    sink_put(&s, sc->amz_date, 8);
    sink_byte(&s, '/');
    if (!v->region_set) {
        sink_str(&s, p->region);
        sink_byte(&s, '/');
    }
    sink_str(&s, p->service);
    sink_str(&s, "/" SIGV4_TERMINATOR);
    ENSURE(!s.overflow, err, CODE_INTERNAL, "credential scope overflow");
    sc->len = s.len;
    sc->text[s.len] = '\0';
    return 0;
}

/* A session token goes into a header value, so it must be visible ASCII.
 * The message never quotes it. */
static int token_of(const struct sigv4_creds *creds, const char **token, size_t *token_len,
                    struct sp_err *err) {
    *token = NULL;
    *token_len = 0;
    if (creds == NULL || creds->session_token == NULL || creds->session_token[0] == '\0') {
        return 0;
    }
    const char *t = creds->session_token;
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        ENSURE(c > 0x20 && c < 0x7f, err, CODE_SIGNING,
               "session token contains a byte that cannot appear in a header (offset %zu)", i);
    }
    *token = t;
    *token_len = n;
    return 0;
}

int sigv4_check_creds(const struct sigv4_creds *creds, size_t *secret_len, struct sp_err *err) {
    ENSURE(creds != NULL, err, CODE_SIGNING, "credentials are missing");
    const char *akid = creds->access_key_id;
    ENSURE(akid != NULL && akid[0] != '\0', err, CODE_SIGNING, "access key id is missing");
    size_t n = strnlen(akid, SIGV4_MAX_ACCESS_KEY_LEN + 1);
    ENSURE(n <= SIGV4_MAX_ACCESS_KEY_LEN, err, CODE_SIGNING,
           "access key id is longer than %d bytes", SIGV4_MAX_ACCESS_KEY_LEN);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)akid[i];
        /* '/' would split the credential scope and ',' the Authorization value. */
        ENSURE(c > 0x20 && c < 0x7f && c != '/' && c != ',', err, CODE_SIGNING,
               "access key id contains an invalid byte at offset %zu", i);
    }
    const char *secret = creds->secret_access_key;
    ENSURE(secret != NULL && secret[0] != '\0', err, CODE_SIGNING, "secret access key is missing");
    *secret_len = strnlen(secret, SIGV4_MAX_SECRET_LEN + 1);
    ENSURE(*secret_len <= SIGV4_MAX_SECRET_LEN, err, CODE_SIGNING,
           "secret access key is longer than %d bytes", SIGV4_MAX_SECRET_LEN);
    return 0;
}

/* ---- headers ---- */

struct hview {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Everything the canonical request needs besides the request itself. */
struct prepared {
    struct scope sc;
    size_t method_len;
    size_t n;                                              /* headers in h */
    struct hview h[SIGV4_MAX_HEADERS + SYNTHETIC_HEADERS]; /* sorted by lowercase name, stable */
};

/* Case-insensitive order of header names (which are tchar-only). */
static int name_cmp(const struct hview *a, const struct hview *b) {
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = to_lower((unsigned char)a->name[i]);
        unsigned char y = to_lower((unsigned char)b->name[i]);
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static int name_is(const struct sigv4_header *h, const char *lower) {
    size_t n = strlen(lower);
    if (h->name_len != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (to_lower((unsigned char)h->name[i]) != (unsigned char)lower[i]) {
            return 0;
        }
    }
    return 1;
}

static int value_is_blank(const char *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!is_space((unsigned char)v[i])) {
            return 0;
        }
    }
    return 1;
}

/* Stable insertion sort: repeated headers keep their order, which is the
 * order their values are joined in. There are only a handful of headers. */
static void sort_headers(struct hview *h, size_t n) {
    for (size_t i = 1; i < n; i++) {
        struct hview cur = h[i];
        size_t j = i;
        while (j > 0 && name_cmp(&h[j - 1], &cur) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = cur;
    }
}

static int check_header(const struct sigv4_variant *v, const struct sigv4_header *h, size_t i,
                        int has_token, const struct sigv4_params *p, struct sp_err *err) {
    ENSURE(h->name != NULL && h->name_len > 0, err, CODE_SIGNING, "header %zu has no name", i);
    ENSURE(h->value != NULL || h->value_len == 0, err, CODE_SIGNING, "header %zu has no value", i);
    for (size_t k = 0; k < h->name_len; k++) {
        ENSURE(is_tchar((unsigned char)h->name[k]), err, CODE_SIGNING,
               "header %zu: invalid byte in the name", i);
    }
    ENSURE(!name_is(h, "x-amz-date") && !name_is(h, "authorization"), err, CODE_SIGNING,
           "header %zu (%.*s) is added by the signer", i, (int)h->name_len, h->name);
    ENSURE(!(has_token && name_is(h, "x-amz-security-token")), err, CODE_SIGNING,
           "header %zu (X-Amz-Security-Token) is added by the signer", i);
    ENSURE(!(p->add_content_sha256 && name_is(h, "x-amz-content-sha256")), err, CODE_SIGNING,
           "header %zu (x-amz-content-sha256) is added by the signer", i);
    ENSURE(!(v->region_set && name_is(h, "x-amz-region-set")), err, CODE_SIGNING,
           "header %zu (X-Amz-Region-Set) is added by the signer", i);
    return 0;
}

static int check_request(const struct sigv4_request *req, struct prepared *pr, struct sp_err *err) {
    ENSURE(req != NULL, err, CODE_SIGNING, "request is missing");
    ENSURE(req->method != NULL && req->method[0] != '\0', err, CODE_SIGNING, "method is missing");
    pr->method_len = strlen(req->method);
    for (size_t i = 0; i < pr->method_len; i++) {
        ENSURE(is_tchar((unsigned char)req->method[i]), err, CODE_SIGNING,
               "method contains an invalid byte");
    }
    ENSURE(req->path != NULL || req->path_len == 0, err, CODE_SIGNING, "path is NULL");
    ENSURE(req->query != NULL || req->query_len == 0, err, CODE_SIGNING, "query is NULL");
    ENSURE(req->headers != NULL || req->n_headers == 0, err, CODE_SIGNING, "headers are NULL");
    ENSURE(req->n_headers <= SIGV4_MAX_HEADERS, err, CODE_SIGNING,
           "%zu headers to sign, at most %d allowed", req->n_headers, SIGV4_MAX_HEADERS);
    const char *ph = req->payload_hash;
    ENSURE(ph != NULL, err, CODE_SIGNING, "payload hash is missing");
    for (size_t i = 0; i < 64; i++) {
        ENSURE(is_lower_hex((unsigned char)ph[i]), err, CODE_SIGNING,
               "payload hash is not 64 lowercase hex characters");
    }
    ENSURE(ph[64] == '\0', err, CODE_SIGNING, "payload hash is not 64 lowercase hex characters");
    return 0;
}

/* Validates the inputs and fills pr: the scope, and the headers to sign
 * (the caller's plus X-Amz-Date, maybe the token, the content hash and the
 * region set), sorted. */
static int prepare(const struct sigv4_variant *v, const struct sigv4_creds *creds,
                   const struct sigv4_params *p, const struct sigv4_request *req,
                   struct prepared *pr, struct sp_err *err) {
    const char *token;
    size_t token_len;
    GUARD(scope_init(v, p, &pr->sc, err));
    GUARD(check_request(req, pr, err));
    GUARD(token_of(creds, &token, &token_len, err));

    int has_host = 0;
    pr->n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct sigv4_header *h = &req->headers[i];
        GUARD(check_header(v, h, i, token != NULL, p, err));
        if (name_is(h, "host") && !value_is_blank(h->value, h->value_len)) {
            has_host = 1;
        }
        pr->h[pr->n++] = (struct hview){h->name, h->name_len, h->value, h->value_len};
    }
    ENSURE(has_host, err, CODE_SIGNING, "the request has no Host header");

    pr->h[pr->n++] = (struct hview){"x-amz-date", 10, pr->sc.amz_date, 16};
    if (token != NULL && !p->omit_session_token) {
        pr->h[pr->n++] = (struct hview){"x-amz-security-token", 20, token, token_len};
    }
    if (p->add_content_sha256) {
        pr->h[pr->n++] = (struct hview){"x-amz-content-sha256", 20, req->payload_hash, 64};
    }
    if (v->region_set) {
        pr->h[pr->n++] = (struct hview){"x-amz-region-set", 16, p->region, strlen(p->region)};
    }
    sort_headers(pr->h, pr->n);
    return 0;
}

/* Trimmed, with each inner whitespace run (folded line breaks included)
 * collapsed to one space. */
static void put_header_value(struct sink *s, const char *v, size_t n) {
    size_t i = 0;
    int need_space = 0;
    while (i < n) {
        while (i < n && is_space((unsigned char)v[i])) {
            i++;
        }
        size_t start = i;
        while (i < n && !is_space((unsigned char)v[i])) {
            i++;
        }
        if (i > start) {
            if (need_space) {
                sink_byte(s, ' ');
            }
            sink_put(s, v + start, i - start);
            need_space = 1;
        }
    }
}

/* "name:v1,v2\n" per distinct lowercase name; repeated headers are joined
 * with ',' in the order they were sent, as botocore and aws-c-auth do. */
static void put_canonical_headers(struct sink *s, const struct prepared *pr) {
    size_t i = 0;
    while (i < pr->n) {
        const struct hview *first = &pr->h[i];
        sink_lower(s, first->name, first->name_len);
        sink_byte(s, ':');
        put_header_value(s, first->value, first->value_len);
        for (i++; i < pr->n && name_cmp(&pr->h[i], first) == 0; i++) {
            sink_byte(s, ',');
            put_header_value(s, pr->h[i].value, pr->h[i].value_len);
        }
        sink_byte(s, '\n');
    }
}

static void put_signed_headers(struct sink *s, const struct prepared *pr) {
    for (size_t i = 0; i < pr->n; i++) {
        if (i > 0 && name_cmp(&pr->h[i], &pr->h[i - 1]) == 0) {
            continue;
        }
        if (i > 0) {
            sink_byte(s, ';');
        }
        sink_lower(s, pr->h[i].name, pr->h[i].name_len);
    }
}

/* ---- the canonical URI ---- */

struct span {
    const char *p;
    size_t n;
};

/* botocore's remove_dot_segments (which also drops empty segments, as AWS
 * wants): "." and "" vanish, ".." removes the previous kept segment. The
 * result starts with '/' and ends with '/' when the path did and something
 * is left. */
static int put_normalized_path(struct sink *s, const char *path, size_t len, struct sp_err *err) {
    struct span seg[SIGV4_MAX_PATH_SEGMENTS];
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && path[i] != '/') {
            i++;
        }
        size_t sl = i - start;
        i++; /* skip the '/' */
        if (sl == 0 || (sl == 1 && path[start] == '.')) {
            continue;
        }
        if (sl == 2 && path[start] == '.' && path[start + 1] == '.') {
            n -= n > 0 ? 1 : 0;
            continue;
        }
        ENSURE(n < SIGV4_MAX_PATH_SEGMENTS, err, CODE_SIGNING,
               "path has more than %d segments to normalize", SIGV4_MAX_PATH_SEGMENTS);
        seg[n++] = (struct span){path + start, sl};
    }
    for (size_t k = 0; k < n; k++) {
        sink_byte(s, '/');
        sink_uri_encode(s, seg[k].p, seg[k].n, 0);
    }
    if (n == 0 || path[len - 1] == '/') {
        sink_byte(s, '/');
    }
    return 0;
}

/* The path is not decoded first, so a '%' becomes %25 ("double encoding",
 * aws-c-auth's use_double_uri_encode, which every non-S3 service expects). */
static int put_canonical_uri(struct sink *s, const struct sigv4_request *req, int normalize,
                             struct sp_err *err) {
    if (req->path_len == 0) {
        sink_byte(s, '/');
        return 0;
    }
    if (normalize) {
        return put_normalized_path(s, req->path, req->path_len, err);
    }
    sink_uri_encode(s, req->path, req->path_len, 1);
    return 0;
}

/* ---- the canonical query string ---- */

struct qparam {
    struct span key;
    struct span value;
};

/* Yields the canonical (decoded, then re-encoded) bytes of a raw query
 * key or value one at a time, so parameters can be compared in canonical
 * order without building the encoded strings anywhere. */
struct enc_iter {
    const char *p;
    const char *end;
    char pending[2];
    int npending;
};

/* One decoded byte: %XX with two hex digits is decoded; anything else,
 * including '+' and a stray '%', stands for itself. */
static unsigned char decode_one(const char **pp, const char *end) {
    const char *p = *pp;
    if (p[0] == '%' && end - p >= 3) {
        int hi = hex_value((unsigned char)p[1]);
        int lo = hex_value((unsigned char)p[2]);
        if (hi >= 0 && lo >= 0) {
            *pp = p + 3;
            return (unsigned char)(hi << 4 | lo);
        }
    }
    *pp = p + 1;
    return (unsigned char)p[0];
}

static int enc_next(struct enc_iter *it) {
    if (it->npending > 0) {
        return (unsigned char)it->pending[2 - it->npending--];
    }
    if (it->p == it->end) {
        return -1;
    }
    unsigned char c = decode_one(&it->p, it->end);
    if (is_unreserved(c)) {
        return c;
    }
    it->pending[0] = hex_upper[c >> 4];
    it->pending[1] = hex_upper[c & 0x0f];
    it->npending = 2;
    return '%';
}

static int encoded_cmp(struct span a, struct span b) {
    struct enc_iter x = {a.p, a.p + a.n, {0, 0}, 0};
    struct enc_iter y = {b.p, b.p + b.n, {0, 0}, 0};
    for (;;) {
        int cx = enc_next(&x);
        int cy = enc_next(&y);
        if (cx != cy) {
            return cx < cy ? -1 : 1;
        }
        if (cx < 0) {
            return 0;
        }
    }
}

static int qparam_cmp(const struct qparam *a, const struct qparam *b) {
    int c = encoded_cmp(a->key, b->key);
    return c != 0 ? c : encoded_cmp(a->value, b->value);
}

static void put_query_part(struct sink *s, struct span raw) {
    const char *p = raw.p;
    const char *end = raw.p + raw.n;
    while (p < end) {
        unsigned char c = decode_one(&p, end);
        if (is_unreserved(c)) {
            sink_byte(s, (char)c);
        } else {
            char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 0x0f]};
            sink_put(s, esc, sizeof(esc));
        }
    }
}

/* Split on '&' (empty parts are skipped), split each part at its first '='
 * (none: empty value), sort by encoded key then encoded value, and write
 * "k=v&k=v" with the unreserved set and uppercase %XX. */
static int put_canonical_query(struct sink *s, const char *q, size_t len, struct sp_err *err) {
    struct qparam qp[SIGV4_MAX_QUERY_PARAMS];
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && q[i] != '&') {
            i++;
        }
        size_t pl = i - start;
        i++; /* skip the '&' */
        if (pl == 0) {
            continue;
        }
        ENSURE(n < SIGV4_MAX_QUERY_PARAMS, err, CODE_SIGNING,
               "query string has more than %d parameters", SIGV4_MAX_QUERY_PARAMS);
        const char *part = q + start;
        const char *eq = memchr(part, '=', pl);
        size_t kl = eq != NULL ? (size_t)(eq - part) : pl;
        struct qparam cur = {{part, kl},
                             {eq != NULL ? eq + 1 : part + pl, eq != NULL ? pl - kl - 1 : 0}};
        size_t j = n++;
        while (j > 0 && qparam_cmp(&qp[j - 1], &cur) > 0) {
            qp[j] = qp[j - 1];
            j--;
        }
        qp[j] = cur;
    }
    for (size_t k = 0; k < n; k++) {
        if (k > 0) {
            sink_byte(s, '&');
        }
        put_query_part(s, qp[k].key);
        sink_byte(s, '=');
        put_query_part(s, qp[k].value);
    }
    return 0;
}

/* ---- stage 1 and 2 writers ---- */

/* signed_headers: the already written SignedHeaders list (sigv4_sign() has
 * it in the Authorization value), or NULL to write it here. */
static int put_canonical_request(struct sink *s, const struct prepared *pr,
                                 const struct sigv4_params *p, const struct sigv4_request *req,
                                 const char *signed_headers, size_t signed_headers_len,
                                 struct sp_err *err) {
    sink_put(s, req->method, pr->method_len);
    sink_byte(s, '\n');
    GUARD(put_canonical_uri(s, req, p->normalize_path, err));
    sink_byte(s, '\n');
    GUARD(put_canonical_query(s, req->query, req->query_len, err));
    sink_byte(s, '\n');
    put_canonical_headers(s, pr);
    sink_byte(s, '\n');
    if (signed_headers != NULL) {
        sink_put(s, signed_headers, signed_headers_len);
    } else {
        put_signed_headers(s, pr);
    }
    sink_byte(s, '\n');
    sink_put(s, req->payload_hash, 64);
    return 0;
}

static void put_string_to_sign(struct sink *s, const struct sigv4_variant *v,
                               const struct scope *sc, const char hash_hex[64]) {
    sink_str(s, v->algorithm);
    sink_byte(s, '\n');
    sink_put(s, sc->amz_date, 16);
    sink_byte(s, '\n');
    sink_put(s, sc->text, sc->len);
    sink_byte(s, '\n');
    sink_put(s, hash_hex, 64);
}

/* ---- HMAC and key derivation ---- */

static EVP_MAC_CTX *hmac_ctx_new(EVP_MAC *alg) {
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
    if (ctx == NULL) {
        return NULL;
    }
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* out = HMAC-SHA256(key, data). key NULL reuses the key already in mac. */
static int hmac(EVP_MAC_CTX *mac, const unsigned char *key, size_t key_len, const void *data,
                size_t len, unsigned char out[32]) {
    size_t out_len = 0;
    if (EVP_MAC_init(mac, key, key_len, NULL) != 1 ||
        EVP_MAC_update(mac, (const unsigned char *)data, len) != 1 ||
        EVP_MAC_final(mac, out, &out_len, 32) != 1 || out_len != 32) {
        return -1;
    }
    return 0;
}

/* kSigning for (secret, date, region, service). Every intermediate key and
 * "AWS4"+secret are wiped on the way out, success or not. */
static int derive(EVP_MAC_CTX *mac, const char *secret, size_t secret_len, const char *date8,
                  const struct sigv4_params *p, unsigned char out[32], struct sp_err *err) {
    unsigned char k_secret[4 + SIGV4_MAX_SECRET_LEN];
    unsigned char k_date[32];
    unsigned char k_region[32];
    unsigned char k_service[32];
    int rc = -1;

    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, secret_len);
    if (hmac(mac, k_secret, 4 + secret_len, date8, 8, k_date) < 0 ||
        hmac(mac, k_date, 32, p->region, strlen(p->region), k_region) < 0 ||
        hmac(mac, k_region, 32, p->service, strlen(p->service), k_service) < 0 ||
        hmac(mac, k_service, 32, SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR), out) < 0) {
        goto cleanup;
    }
    rc = 0;

cleanup:
    OPENSSL_cleanse(k_secret, sizeof(k_secret));
    OPENSSL_cleanse(k_date, sizeof(k_date));
    OPENSSL_cleanse(k_region, sizeof(k_region));
    OPENSSL_cleanse(k_service, sizeof(k_service));
    if (rc < 0) {
        OPENSSL_cleanse(out, 32);
        return sigv4_fail_openssl(err, "HMAC-SHA256 key derivation");
    }
    return 0;
}

/* ---- the key cache ---- */

void sigv4_key_cache_init(struct sigv4_key_cache *cache) { memset(cache, 0, sizeof(*cache)); }

void sigv4_key_cache_clear(struct sigv4_key_cache *cache) {
    if (cache == NULL) {
        return;
    }
    /* OpenSSL wipes the keyed HMAC states itself when it frees them. */
    EVP_MAC_CTX_free(cache->hmac);
    EVP_MAC_free(cache->hmac_alg);
    EVP_MD_CTX_free(cache->md);
    EVP_MD_free(cache->sha256);
    OPENSSL_cleanse(cache, sizeof(*cache));
}

/* Fetches the algorithms and makes the contexts once per cache. */
static int cache_setup(struct sigv4_key_cache *c, struct sp_err *err) {
    if (c->hmac != NULL) {
        return 0;
    }
    if (c->sha256 == NULL && (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        return sigv4_fail_openssl(err, "fetching SHA256");
    }
    if (c->md == NULL && (c->md = EVP_MD_CTX_new()) == NULL) {
        return sigv4_fail_openssl(err, "EVP_MD_CTX_new");
    }
    if (c->hmac_alg == NULL && (c->hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL) {
        return sigv4_fail_openssl(err, "fetching HMAC");
    }
    if ((c->hmac = hmac_ctx_new(c->hmac_alg)) == NULL) {
        return sigv4_fail_openssl(err, "creating the HMAC context");
    }
    return 0;
}

static int cache_hit(const struct sigv4_key_cache *c, const char *secret, size_t secret_len,
                     const char *date8, const struct sigv4_params *p) {
    return c->valid && c->secret_len == secret_len && memcmp(c->date, date8, 8) == 0 &&
           strcmp(c->region, p->region) == 0 && strcmp(c->service, p->service) == 0 &&
           CRYPTO_memcmp(c->secret, secret, secret_len) == 0;
}

/* Makes c hold kSigning for this request, deriving it on a miss. The old
 * secret copy and key are wiped before anything new is written, and the
 * cache stays invalid if derivation fails. */
static int cache_key(struct sigv4_key_cache *c, const char *secret, size_t secret_len,
                     const char *date8, const struct sigv4_params *p, struct sp_err *err) {
    GUARD(cache_setup(c, err));
    if (cache_hit(c, secret, secret_len, date8, p)) {
        return 0;
    }
    c->valid = 0;
    OPENSSL_cleanse(c->secret, sizeof(c->secret));
    OPENSSL_cleanse(c->k_signing, sizeof(c->k_signing));
    c->secret_len = 0;

    GUARD(derive(c->hmac, secret, secret_len, date8, p, c->k_signing, err));
    /* Key the context with kSigning now, so each signature only restarts
     * it from the ipad/opad states OpenSSL keeps. */
    if (EVP_MAC_init(c->hmac, c->k_signing, sizeof(c->k_signing), NULL) != 1) {
        OPENSSL_cleanse(c->k_signing, sizeof(c->k_signing));
        return sigv4_fail_openssl(err, "keying HMAC-SHA256");
    }
    memcpy(c->date, date8, 8);
    c->date[8] = '\0';
    memcpy(c->region, p->region, strlen(p->region) + 1);
    memcpy(c->service, p->service, strlen(p->service) + 1);
    memcpy(c->secret, secret, secret_len);
    c->secret_len = secret_len;
    c->derivations++;
    c->valid = 1;
    return 0;
}

/* ---- stages 1 and 2, for sigv4_sign() and sigv4_draft() ---- */

/* Writes "<algorithm> Credential=AKID/scope, SignedHeaders=...,
 * Signature=" into buf[0..cap), leaving room for sig_room more bytes, and
 * says where the signed headers are. */
static int put_authorization(const struct sigv4_variant *v, char *buf, size_t cap, size_t sig_room,
                             const struct sigv4_creds *creds, const struct prepared *pr,
                             size_t *sh_off, size_t *sh_len, size_t *len, struct sp_err *err) {
    struct sink a;
    sink_init(&a, buf, cap, NULL);
    sink_str(&a, v->algorithm);
    sink_str(&a, " Credential=");
    sink_str(&a, creds->access_key_id);
    sink_byte(&a, '/');
    sink_put(&a, pr->sc.text, pr->sc.len);
    sink_str(&a, ", SignedHeaders=");
    *sh_off = a.len;
    put_signed_headers(&a, pr);
    *sh_len = a.len - *sh_off;
    sink_str(&a, ", Signature=");
    ENSURE(!a.overflow && sig_room <= cap - a.len, err, CODE_SIGNING,
           "Authorization value would exceed %zu bytes (too many or too long signed headers)", cap);
    *len = a.len;
    return 0;
}

/* hex(SHA-256(canonical request)), streamed through the cache's digest. */
static int hash_canonical_request(struct sigv4_key_cache *c, const struct prepared *pr,
                                  const struct sigv4_params *p, const struct sigv4_request *req,
                                  const char *signed_headers, size_t signed_headers_len,
                                  char hash_hex[64], struct sp_err *err) {
    char buf[1024];
    unsigned char digest[32];
    unsigned int digest_len = 0;
    struct sink s;

    if (EVP_DigestInit_ex(c->md, c->sha256, NULL) != 1) {
        return sigv4_fail_openssl(err, "SHA-256 init");
    }
    sink_init(&s, buf, sizeof(buf), c->md);
    GUARD(put_canonical_request(&s, pr, p, req, signed_headers, signed_headers_len, err));
    sink_flush(&s);
    if (s.crypto_failed || EVP_DigestFinal_ex(c->md, digest, &digest_len) != 1 ||
        digest_len != 32) {
        return sigv4_fail_openssl(err, "SHA-256 of the canonical request");
    }
    sigv4_hex(digest, 32, hash_hex);
    return 0;
}

/* After prepare(): the Authorization prefix, then the canonical request
 * hashed (its SignedHeaders list taken from the prefix), then the string
 * to sign into sts[0..SIGV4_STRING_TO_SIGN_MAX). */
static int draft_prepared(struct sigv4_key_cache *c, const struct sigv4_variant *v,
                          const struct prepared *pr, const struct sigv4_creds *creds,
                          const struct sigv4_params *p, const struct sigv4_request *req, char *auth,
                          size_t auth_cap, size_t sig_room, size_t *auth_len, char *sts,
                          size_t *sts_len, struct sp_err *err) {
    size_t sh_off, sh_len;
    char hash_hex[64];
    struct sink s;
    GUARD(
        put_authorization(v, auth, auth_cap, sig_room, creds, pr, &sh_off, &sh_len, auth_len, err));
    GUARD(hash_canonical_request(c, pr, p, req, auth + sh_off, sh_len, hash_hex, err));
    sink_init(&s, sts, SIGV4_STRING_TO_SIGN_MAX, NULL);
    put_string_to_sign(&s, v, &pr->sc, hash_hex);
    ENSURE(!s.overflow, err, CODE_INTERNAL, "string to sign overflow");
    *sts_len = s.len;
    return 0;
}

/* ---- sigv4_sign ---- */

int sigv4_sign(struct sigv4_key_cache *cache, const struct sigv4_creds *creds,
               const struct sigv4_params *p, const struct sigv4_request *req,
               struct sigv4_signed *out, struct sp_err *err) {
    struct prepared pr;
    size_t secret_len;
    size_t auth_len, sts_len;
    char sts[SIGV4_STRING_TO_SIGN_MAX];
    unsigned char mac[32];

    ENSURE(cache != NULL && out != NULL, err, CODE_SIGNING, "key cache or output is missing");
    GUARD(sigv4_check_creds(creds, &secret_len, err));
    GUARD(prepare(&v4_variant, creds, p, req, &pr, err));
    GUARD(cache_key(cache, creds->secret_access_key, secret_len, pr.sc.amz_date, p, err));

    memcpy(out->amz_date, pr.sc.amz_date, sizeof(out->amz_date));
    out->has_content_sha256 = p->add_content_sha256 ? 1 : 0;
    out->content_sha256[0] = '\0';
    if (out->has_content_sha256) {
        memcpy(out->content_sha256, req->payload_hash, 65);
    }
    out->security_token = (creds->session_token != NULL && creds->session_token[0] != '\0')
                              ? creds->session_token
                              : NULL;

    GUARD(draft_prepared(cache, &v4_variant, &pr, creds, p, req, out->authorization,
                         sizeof(out->authorization) - 1, 64, &auth_len, sts, &sts_len, err));
    if (hmac(cache->hmac, NULL, 0, sts, sts_len, mac) < 0) {
        return sigv4_fail_openssl(err, "HMAC-SHA256 signature");
    }
    sigv4_hex(mac, 32, out->signature);
    out->signature[64] = '\0';
    memcpy(out->authorization + auth_len, out->signature, 64);
    out->authorization_len = auth_len + 64;
    out->authorization[out->authorization_len] = '\0';
    return 0;
}

int sigv4_draft(struct sigv4_key_cache *cache, const struct sigv4_variant *v,
                const struct sigv4_creds *creds, const struct sigv4_params *p,
                const struct sigv4_request *req, char *auth, size_t auth_cap, size_t *auth_len,
                struct sigv4_draft *d, struct sp_err *err) {
    struct prepared pr;
    size_t secret_len;
    ENSURE(cache != NULL && v != NULL && auth != NULL && auth_len != NULL && d != NULL, err,
           CODE_SIGNING, "key cache, variant or output is missing");
    GUARD(sigv4_check_creds(creds, &secret_len, err));
    GUARD(prepare(v, creds, p, req, &pr, err));
    GUARD(cache_setup(cache, err));
    memcpy(d->amz_date, pr.sc.amz_date, sizeof(d->amz_date));
    return draft_prepared(cache, v, &pr, creds, p, req, auth, auth_cap, 0, auth_len,
                          d->string_to_sign, &d->string_to_sign_len, err);
}

/* ---- the stages on their own ---- */

int sigv4_canonical_request_as(const struct sigv4_variant *v, const struct sigv4_creds *creds,
                               const struct sigv4_params *p, const struct sigv4_request *req,
                               char *buf, size_t cap, size_t *len, struct sp_err *err) {
    struct prepared pr;
    struct sink s;
    ENSURE(v != NULL, err, CODE_SIGNING, "variant is missing");
    ENSURE(len != NULL && (buf != NULL || cap == 0), err, CODE_SIGNING, "output buffer is NULL");
    GUARD(prepare(v, creds, p, req, &pr, err));
    sink_init(&s, buf, cap, NULL);
    GUARD(put_canonical_request(&s, &pr, p, req, NULL, 0, err));
    ENSURE(!s.overflow, err, CODE_SIGNING, "canonical request does not fit in %zu bytes", cap);
    *len = s.len;
    return 0;
}

int sigv4_canonical_request(const struct sigv4_creds *creds, const struct sigv4_params *p,
                            const struct sigv4_request *req, char *buf, size_t cap, size_t *len,
                            struct sp_err *err) {
    return sigv4_canonical_request_as(&v4_variant, creds, p, req, buf, cap, len, err);
}

static int sha256_raw(const void *data, size_t len, unsigned char out[32]) {
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        return -1;
    }
    return 0;
}

int sigv4_string_to_sign_as(const struct sigv4_variant *v, const struct sigv4_params *p,
                            const char *canonical, size_t canonical_len, char *buf, size_t cap,
                            size_t *len, struct sp_err *err) {
    struct scope sc;
    unsigned char digest[32];
    char hash_hex[64];
    struct sink s;
    ENSURE(v != NULL, err, CODE_SIGNING, "variant is missing");
    ENSURE(len != NULL && (buf != NULL || cap == 0), err, CODE_SIGNING, "output buffer is NULL");
    ENSURE(canonical != NULL || canonical_len == 0, err, CODE_SIGNING, "canonical request is NULL");
    GUARD(scope_init(v, p, &sc, err));
    if (sha256_raw(canonical, canonical_len, digest) < 0) {
        return sigv4_fail_openssl(err, "SHA-256 of the canonical request");
    }
    sigv4_hex(digest, 32, hash_hex);
    sink_init(&s, buf, cap, NULL);
    put_string_to_sign(&s, v, &sc, hash_hex);
    ENSURE(!s.overflow, err, CODE_SIGNING, "string to sign does not fit in %zu bytes", cap);
    *len = s.len;
    return 0;
}

int sigv4_string_to_sign(const struct sigv4_params *p, const char *canonical, size_t canonical_len,
                         char *buf, size_t cap, size_t *len, struct sp_err *err) {
    return sigv4_string_to_sign_as(&v4_variant, p, canonical, canonical_len, buf, cap, len, err);
}

int sigv4_derive_key(const char *secret_access_key, const struct sigv4_params *p,
                     unsigned char k_signing[32], struct sp_err *err) {
    struct scope sc;
    struct sigv4_creds creds = {"-", secret_access_key, NULL};
    size_t secret_len;
    GUARD(sigv4_check_creds(&creds, &secret_len, err));
    GUARD(scope_init(&v4_variant, p, &sc, err));

    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mac = alg != NULL ? hmac_ctx_new(alg) : NULL;
    int rc = mac != NULL
                 ? derive(mac, secret_access_key, secret_len, sc.amz_date, p, k_signing, err)
                 : sigv4_fail_openssl(err, "creating the HMAC context");
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(alg);
    return rc;
}

int sigv4_signature(const unsigned char k_signing[32], const char *string_to_sign, size_t len,
                    char out[65], struct sp_err *err) {
    unsigned char mac[32];
    size_t mac_len = 0;
    ENSURE(k_signing != NULL && out != NULL && (string_to_sign != NULL || len == 0), err,
           CODE_SIGNING, "signature input is NULL");
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k_signing, 32,
                  (const unsigned char *)string_to_sign, len, mac, sizeof(mac), &mac_len) == NULL ||
        mac_len != 32) {
        return sigv4_fail_openssl(err, "HMAC-SHA256 signature");
    }
    sigv4_hex(mac, 32, out);
    out[64] = '\0';
    return 0;
}

/* ---- SHA-256 helpers ---- */

void sigv4_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char digest[32];
    if ((data == NULL && len > 0) || sha256_raw(data != NULL ? data : "", len, digest) < 0) {
        ERR_clear_error();
        out[0] = '\0';
        return;
    }
    sigv4_hex(digest, 32, out);
    out[64] = '\0';
}

int sigv4_sha256_init_cached(struct sigv4_sha256 *h, struct sigv4_key_cache *cache,
                             struct sp_err *err) {
    h->ctx = NULL;
    h->borrowed = 1;
    GUARD(cache_setup(cache, err));
    if (EVP_DigestInit_ex(cache->md, cache->sha256, NULL) != 1) {
        return sigv4_fail_openssl(err, "SHA-256 init");
    }
    h->ctx = cache->md;
    return 0;
}

int sigv4_sha256_init(struct sigv4_sha256 *h, struct sp_err *err) {
    h->borrowed = 0;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        sigv4_sha256_clear(h);
        return sigv4_fail_openssl(err, "SHA-256 init");
    }
    return 0;
}

int sigv4_sha256_update(struct sigv4_sha256 *h, const void *data, size_t len, struct sp_err *err) {
    ENSURE(h->ctx != NULL, err, CODE_INTERNAL, "SHA-256 update after final or clear");
    ENSURE(data != NULL || len == 0, err, CODE_INTERNAL, "SHA-256 update with NULL data");
    if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1) {
        return sigv4_fail_openssl(err, "SHA-256 update");
    }
    return 0;
}

int sigv4_sha256_final_hex(struct sigv4_sha256 *h, char out[65], struct sp_err *err) {
    unsigned char digest[32];
    unsigned int n = 0;
    out[0] = '\0';
    ENSURE(h->ctx != NULL, err, CODE_INTERNAL, "SHA-256 final after final or clear");
    int ok = EVP_DigestFinal_ex(h->ctx, digest, &n) == 1 && n == 32;
    sigv4_sha256_clear(h);
    if (!ok) {
        return sigv4_fail_openssl(err, "SHA-256 final");
    }
    sigv4_hex(digest, 32, out);
    out[64] = '\0';
    return 0;
}

void sigv4_sha256_clear(struct sigv4_sha256 *h) {
    if (!h->borrowed) {
        EVP_MD_CTX_free(h->ctx);
    }
    h->ctx = NULL;
}
