/* sigv4a_test.c - unit tests for signer/sigv4a.
 *
 * 1. Every complete case of $SP_TESTDATA/sigv4/v4a in header mode, stage by
 *    stage: the canonical request and the string to sign byte for byte; the
 *    public key derived from the example credentials equals public-key.json;
 *    the vectors' own signatures verify with sigv4a_verify(); ours verify
 *    with that public key; the added headers match header-signed-request.txt.
 * 2. One cache, one call, either algorithm: SigV4 through sigv4a_sign()
 *    equals sigv4_sign() (and botocore's Authorization); an SES v2
 *    multi-region request with region set "*".
 * 3. The KDF's candidate check at the edges of [1, n-1].
 * 4. Negative cases: bad input fails cleanly, never writes past a buffer,
 *    never quotes the secret or the token; a wrong key, an altered string
 *    to sign or an altered signature does not verify.
 * 5. The key cache: derived once per credentials, reused across dates,
 *    region sets and services, re-derived for a new key id or secret, the
 *    old copies wiped, all wiped on clear.
 * 6. How much OpenSSL allocates per SigV4a signature.
 *
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include "signer/sigv4a.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "tests/unit/unit_check.h"

#ifndef SP_TESTDATA
#error "SP_TESTDATA must name tests/data"
#endif

#define VECTOR_DIR SP_TESTDATA "/sigv4/v4a"
#define EXPECTED_VECTORS 38
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void check(int ok, const char *what, const char *detail) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAIL %s%s%s\n", what, detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

static void check_bytes(const char *what, const char *want, size_t want_len, const char *got,
                        size_t got_len) {
    int ok = want_len == got_len && memcmp(want, got, want_len) == 0;
    check(ok, what, NULL);
    if (!ok) {
        printf("  want (%zu bytes):\n%.*s\n  got (%zu bytes):\n%.*s\n", want_len, (int)want_len,
               want, got_len, (int)got_len, got);
    }
}

static void check_str(const char *what, const char *want, const char *got) {
    check_bytes(what, want, strlen(want), got, strlen(got));
}

static int all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* ---- counting OpenSSL's allocations ---- */

static unsigned long openssl_allocs;

static void *count_malloc(size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    openssl_allocs++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    openssl_allocs++;
    return realloc(p, n);
}

static void count_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    free(p);
}

/* ---- files ---- */

/* Reads a whole file, dropping every '\r' (README: aws-c-auth strips them,
 * in case a checkout converted line endings). Caller frees. */
static char *read_file(const char *dir, const char *name, size_t *len) {
    char path[1536];
    int pn = snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = pn > 0 && (size_t)pn < sizeof(path) ? fopen(path, "rb") : NULL;
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096;
    size_t n = 0;
    char *buf = malloc(cap);
    int c;
    while (buf != NULL && (c = fgetc(f)) != EOF) {
        if (c == '\r') {
            continue;
        }
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        buf[n++] = (char)c;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int unhex(const char *hex, size_t n, unsigned char *out) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* ---- request.txt ---- */

#define MAX_TEST_HEADERS 16

struct parsed {
    char method[16];
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    struct sigv4_header headers[MAX_TEST_HEADERS];
    size_t n_headers;
    const char *body;
    size_t body_len;
};

/* README's rules: "METHOD SP target SP HTTP/1.1" where the target may hold
 * raw spaces (take the text after the first space, drop the last 9 bytes);
 * a line starting with whitespace continues the previous header and keeps
 * its raw bytes; the body is everything after the first empty line. */
static int parse_request(const char *text, size_t len, struct parsed *r) {
    memset(r, 0, sizeof(*r));
    const char *end = text + len;
    const char *nl = memchr(text, '\n', len);
    if (nl == NULL) {
        return -1;
    }
    const char *sp = memchr(text, ' ', (size_t)(nl - text));
    if (sp == NULL || (size_t)(sp - text) >= sizeof(r->method) || nl - sp < 10 ||
        memcmp(nl - 9, " HTTP/1.1", 9) != 0) {
        return -1;
    }
    memcpy(r->method, text, (size_t)(sp - text));
    const char *target = sp + 1;
    size_t target_len = (size_t)(nl - 9 - target);
    const char *q = memchr(target, '?', target_len);
    r->path = target;
    r->path_len = q != NULL ? (size_t)(q - target) : target_len;
    if (q != NULL) {
        r->query = q + 1;
        r->query_len = target_len - r->path_len - 1;
    }

    const char *p = nl + 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            eol = end;
        }
        if (eol == p) {
            r->body = eol + 1 <= end ? eol + 1 : end;
            r->body_len = (size_t)(end - r->body);
            break;
        }
        if (*p == ' ' || *p == '\t') {
            if (r->n_headers == 0) {
                return -1;
            }
            struct sigv4_header *h = &r->headers[r->n_headers - 1];
            h->value_len = (size_t)(eol - h->value);
        } else {
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            if (colon == NULL || r->n_headers == MAX_TEST_HEADERS) {
                return -1;
            }
            r->headers[r->n_headers++] =
                (struct sigv4_header){p, (size_t)(colon - p), colon + 1, (size_t)(eol - colon - 1)};
        }
        p = eol + 1;
    }
    return 0;
}

/* The value of the first "Name:" line (case-insensitive) of a signed request. */
static int header_line(const char *text, const char *name, const char **value, size_t *len) {
    size_t nl = strlen(name);
    const char *p = text;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) {
            eol = p + strlen(p);
        }
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            *value = p + nl + 1;
            *len = (size_t)(eol - *value);
            return 0;
        }
        if (*eol == '\0') {
            break;
        }
        p = eol + 1;
    }
    return -1;
}

/* ---- one vector ---- */

struct context {
    json_t *root;
    struct sigv4_creds creds;
    struct sigv4_params params; /* region: the region set, as aws-c-auth uses it */
    int sign_body;
};

static int parse_context(const char *dir, struct context *c) {
    char path[1536];
    json_error_t jerr;
    memset(c, 0, sizeof(*c));
    int pn = snprintf(path, sizeof(path), "%s/context.json", dir);
    if (pn < 0 || (size_t)pn >= sizeof(path)) {
        return -1;
    }
    c->root = json_load_file(path, 0, &jerr);
    if (c->root == NULL) {
        printf("  %s: %s\n", path, jerr.text);
        return -1;
    }
    json_t *cr = json_object_get(c->root, "credentials");
    c->creds.access_key_id = json_string_value(json_object_get(cr, "access_key_id"));
    c->creds.secret_access_key = json_string_value(json_object_get(cr, "secret_access_key"));
    c->creds.session_token = json_string_value(json_object_get(cr, "token"));
    c->params.region = json_string_value(json_object_get(c->root, "region"));
    c->params.service = json_string_value(json_object_get(c->root, "service"));
    c->params.normalize_path = json_is_true(json_object_get(c->root, "normalize"));
    c->sign_body = json_is_true(json_object_get(c->root, "sign_body"));
    c->params.add_content_sha256 = c->sign_body;
    c->params.omit_session_token = json_is_true(json_object_get(c->root, "omit_session_token"));
    const char *ts = json_string_value(json_object_get(c->root, "timestamp"));
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (ts == NULL || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                             &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    c->params.when = timegm(&tm);
    return c->creds.access_key_id != NULL && c->params.region != NULL ? 0 : -1;
}

/* public-key.json: {"X": hex, "Y": hex} -> 0x04 || X || Y. */
static int load_public_key(const char *dir, unsigned char pub[SIGV4A_PUBLIC_KEY_LEN]) {
    char path[1536];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/public-key.json", dir);
    json_t *root = json_load_file(path, 0, &jerr);
    const char *x = json_string_value(json_object_get(root, "X"));
    const char *y = json_string_value(json_object_get(root, "Y"));
    int rc = -1;
    if (x != NULL && y != NULL && strlen(x) == 64 && strlen(y) == 64) {
        pub[0] = 0x04;
        rc = unhex(x, 32, pub + 1) == 0 && unhex(y, 32, pub + 33) == 0 ? 0 : -1;
    }
    json_decref(root);
    return rc;
}

struct expected {
    char *canonical, *sts, *signature, *signed_request;
    size_t canonical_len, sts_len, signature_len, signed_request_len;
    unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN];
};

static void expected_free(struct expected *e) {
    free(e->canonical);
    free(e->sts);
    free(e->signature);
    free(e->signed_request);
}

/* README: a case without header-canonical-request.txt has no results. */
static int load_expected(const char *dir, struct expected *e) {
    memset(e, 0, sizeof(*e));
    e->canonical = read_file(dir, "header-canonical-request.txt", &e->canonical_len);
    if (e->canonical == NULL) {
        return 1;
    }
    e->sts = read_file(dir, "header-string-to-sign.txt", &e->sts_len);
    e->signature = read_file(dir, "header-signature.txt", &e->signature_len);
    e->signed_request = read_file(dir, "header-signed-request.txt", &e->signed_request_len);
    return e->sts && e->signature && e->signed_request && load_public_key(dir, e->public_key) == 0
               ? 0
               : -1;
}

/* "...Signature=<hex>" of the Authorization line of header-signed-request.txt. */
static int signed_request_signature(const struct expected *e, const char **sig, size_t *len,
                                    size_t *prefix_len) {
    const char *v;
    size_t vl;
    if (header_line(e->signed_request, "Authorization", &v, &vl) != 0) {
        return -1;
    }
    const char *mark = strstr(v, "Signature=");
    if (mark == NULL || mark > v + vl) {
        return -1;
    }
    *sig = mark + 10;
    *len = (size_t)(v + vl - *sig);
    *prefix_len = (size_t)(*sig - v);
    return 0;
}

static void check_added_headers(const char *name, const struct expected *e,
                                const struct sigv4a_signed *out) {
    char what[256];
    const char *v;
    size_t vl;
    snprintf(what, sizeof(what), "%s: X-Amz-Date", name);
    check(header_line(e->signed_request, "X-Amz-Date", &v, &vl) == 0 && vl == 16 &&
              memcmp(v, out->amz_date, 16) == 0,
          what, NULL);
    snprintf(what, sizeof(what), "%s: X-Amz-Region-Set", name);
    check(header_line(e->signed_request, "X-Amz-Region-Set", &v, &vl) == 0 &&
              out->region_set != NULL && strlen(out->region_set) == vl &&
              memcmp(v, out->region_set, vl) == 0,
          what, NULL);
    snprintf(what, sizeof(what), "%s: X-Amz-Security-Token", name);
    if (header_line(e->signed_request, "X-Amz-Security-Token", &v, &vl) == 0) {
        check(out->security_token != NULL && strlen(out->security_token) == vl &&
                  memcmp(v, out->security_token, vl) == 0,
              what, NULL);
    } else {
        check(out->security_token == NULL, what, "token reported but not expected");
    }
    snprintf(what, sizeof(what), "%s: x-amz-content-sha256", name);
    if (header_line(e->signed_request, "x-amz-content-sha256", &v, &vl) == 0) {
        check(out->has_content_sha256 && vl == 64 && memcmp(v, out->content_sha256, 64) == 0, what,
              NULL);
    } else {
        check(!out->has_content_sha256, what, "content hash reported but not expected");
    }
}

static void run_vector_stages(const char *name, const struct context *c,
                              const struct sigv4_request *req, const struct expected *e,
                              struct sigv4a_key_cache *cache) {
    char what[256];
    char buf[4096];
    size_t len = 0;
    struct sp_err err;
    sp_err_clear(&err);

    snprintf(what, sizeof(what), "%s: canonical request", name);
    if (sigv4a_canonical_request(&c->creds, &c->params, req, buf, sizeof(buf), &len, &err) == 0) {
        check_bytes(what, e->canonical, e->canonical_len, buf, len);
    } else {
        check(0, what, err.msg);
    }

    /* Stage 2 from the expected canonical request alone. */
    snprintf(what, sizeof(what), "%s: string to sign", name);
    if (sigv4a_string_to_sign(&c->params, e->canonical, e->canonical_len, buf, sizeof(buf), &len,
                              &err) == 0) {
        check_bytes(what, e->sts, e->sts_len, buf, len);
    } else {
        check(0, what, err.msg);
    }

    /* The key from the example credentials is the vectors' key. */
    unsigned char key[32];
    unsigned char pub[SIGV4A_PUBLIC_KEY_LEN];
    snprintf(what, sizeof(what), "%s: public key", name);
    if (sigv4a_derive_key(&c->creds, key, &err) == 0 && sigv4a_public_key(key, pub, &err) == 0) {
        check(memcmp(pub, e->public_key, sizeof(pub)) == 0, what, "differs from public-key.json");
    } else {
        check(0, what, err.msg);
    }

    /* The vectors' own signatures verify with our verifier... */
    snprintf(what, sizeof(what), "%s: header-signature.txt verifies", name);
    check(sigv4a_verify(e->public_key, e->sts, e->sts_len, e->signature, e->signature_len, &err) ==
              0,
          what, err.msg);
    const char *vsig;
    size_t vsig_len, prefix_len;
    snprintf(what, sizeof(what), "%s: signed request's signature verifies", name);
    if (signed_request_signature(e, &vsig, &vsig_len, &prefix_len) == 0) {
        check(sigv4a_verify(e->public_key, e->sts, e->sts_len, vsig, vsig_len, &err) == 0, what,
              err.msg);
    } else {
        check(0, what, "no Signature= in header-signed-request.txt");
        return;
    }
    /* ...and not over another string. */
    char altered[1024];
    if (e->sts_len <= sizeof(altered)) {
        memcpy(altered, e->sts, e->sts_len);
        altered[e->sts_len - 1] ^= 0x01;
        snprintf(what, sizeof(what), "%s: altered string to sign does not verify", name);
        check(sigv4a_verify(e->public_key, altered, e->sts_len, e->signature, e->signature_len,
                            &err) == -1 &&
                  strcmp(err.code, "SignatureDoesNotMatch") == 0,
              what, NULL);
    }

    /* Stage 3b alone, over the expected string to sign. */
    char sig[SIGV4A_SIGNATURE_HEX_MAX + 1];
    size_t sig_len = 0;
    snprintf(what, sizeof(what), "%s: sigv4a_signature verifies", name);
    check(sigv4a_signature(key, e->sts, e->sts_len, sig, sizeof(sig), &sig_len, &err) == 0 &&
              sig_len == strlen(sig) &&
              sigv4a_verify(e->public_key, e->sts, e->sts_len, sig, sig_len, &err) == 0,
          what, err.msg);
    OPENSSL_cleanse(key, sizeof(key));

    /* The whole thing, twice: the second run uses the cached key. The
     * Authorization matches the vector's up to the (random) signature. */
    const char *vauth;
    size_t vauth_len;
    if (header_line(e->signed_request, "Authorization", &vauth, &vauth_len) != 0) {
        check(0, name, "no Authorization line");
        return;
    }
    for (int round = 0; round < 2; round++) {
        struct sigv4a_signed out;
        snprintf(what, sizeof(what), "%s: sigv4a_sign (round %d)", name, round);
        if (sigv4a_sign(cache, SIGV4A_ALG_SIGV4A, &c->creds, &c->params, req, &out, &err) != 0) {
            check(0, what, err.msg);
            continue;
        }
        check(out.signature_len == strlen(out.signature) &&
                  out.authorization_len == strlen(out.authorization) &&
                  out.authorization_len == prefix_len + out.signature_len,
              what, "lengths");
        check_bytes(what, vauth, prefix_len, out.authorization,
                    out.authorization_len >= prefix_len ? prefix_len : out.authorization_len);
        check(strcmp(out.authorization + prefix_len, out.signature) == 0, what,
              "signature at the end of Authorization");
        check(sigv4a_verify(e->public_key, e->sts, e->sts_len, out.signature, out.signature_len,
                            &err) == 0,
              what, err.msg);
        check_added_headers(name, e, &out);
    }
}

/* Returns 1 if the case ran, 0 if it was skipped (no header results). */
static int run_vector(const char *name, struct sigv4a_key_cache *cache) {
    char dir[1024];
    char what[256];
    struct context c;
    struct expected e;
    struct parsed r;
    char *text = NULL;
    size_t text_len = 0;
    int ran = 0;

    memset(&c, 0, sizeof(c));
    snprintf(dir, sizeof(dir), "%s/%s", VECTOR_DIR, name);
    snprintf(what, sizeof(what), "%s: load", name);
    int loaded = load_expected(dir, &e);
    if (loaded == 1) {
        expected_free(&e);
        return 0;
    }
    if (loaded != 0 || parse_context(dir, &c) != 0 ||
        (text = read_file(dir, "request.txt", &text_len)) == NULL ||
        parse_request(text, text_len, &r) != 0) {
        check(0, what, "cannot read the case's files");
        goto cleanup;
    }

    char body_hash[65];
    if (c.sign_body) {
        sigv4_sha256_hex(r.body != NULL ? r.body : "", r.body_len, body_hash);
    } else {
        /* README: without sign_body the hash is always that of "". */
        memcpy(body_hash, EMPTY_SHA256, 65);
    }
    struct sigv4_request req = {r.method,    r.path,    r.path_len,  r.query,
                                r.query_len, r.headers, r.n_headers, body_hash};
    run_vector_stages(name, &c, &req, &e, cache);
    ran = 1;

cleanup:
    json_decref(c.root);
    free(text);
    expected_free(&e);
    return ran;
}

static int name_order(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_vectors(void) {
    DIR *d = opendir(VECTOR_DIR);
    char *names[256];
    size_t n = 0;
    if (d == NULL) {
        check(0, "open " VECTOR_DIR, NULL);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        if (de->d_name[0] != '.') {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), name_order);

    struct sigv4a_key_cache cache;
    sigv4a_key_cache_init(&cache);
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        ran += run_vector(names[i], &cache);
        free(names[i]);
    }
    /* All cases share one set of credentials. */
    check(cache.derivations == 1, "vectors: one key derivation for all cases", NULL);
    sigv4a_key_cache_clear(&cache);
    printf("sigv4a vectors: %d of %d cases ran\n", ran, EXPECTED_VECTORS);
    check(ran == EXPECTED_VECTORS, "vectors: all 38 complete cases ran", NULL);
}

/* ---- one call, either algorithm ---- */

/* botocore 1.29.27's SigV4Auth for this request (as in sigv4_test.c). */
#define SES_BODY_SHA256 "8e2b21df508e3ce8a8d6620aacaf66c75afad72b3e2cbe161e444ece892c6e33"
#define SES_AKID "AKIAIOSFODNN7EXAMPLE"
#define SES_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SES_TOKEN "FwoGZXIvYXdzEXAMPLE//////////token+with/slashes=="
#define SES_WHEN 1714566896 /* 2024-05-01T12:34:56Z */
#define SES_AUTH_NO_TOKEN                                                                          \
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/ses/aws4_request, "       \
    "SignedHeaders=content-type;host;x-amz-date, "                                                 \
    "Signature=5db619e9a6e340227b87e906c9d5b65d2e342da08b494e50a51e1a08a0defe5a"

#define HDR(n, v)                                                                                  \
    { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static const struct sigv4_header ses_headers[] = {
    HDR("Host", "email.us-east-1.amazonaws.com"),
    HDR("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
};

static void ses_request(struct sigv4_request *req, const char *payload_hash) {
    *req = (struct sigv4_request){"POST", "/", 1, NULL, 0, ses_headers, 2, payload_hash};
}

static const struct sigv4_params ses_params = {"us-east-1", "ses", SES_WHEN, 1, 0, 0};

/* SES v2 SendEmail to a multi-region endpoint. */
static const struct sigv4_header v2_headers[] = {
    HDR("Host", "abcd1234.efgh.endpoints.email.amazonaws.com"),
    HDR("Content-Type", "application/json"),
};
#define V2_PATH "/v2/email/outbound-emails"
static const struct sigv4_params v2_params = {"*", "ses", SES_WHEN, 1, 1, 0};
#define V2_CANONICAL                                                                               \
    "POST\n/v2/email/outbound-emails\n\n"                                                          \
    "content-type:application/json\n"                                                              \
    "host:abcd1234.efgh.endpoints.email.amazonaws.com\n"                                           \
    "x-amz-content-sha256:" SES_BODY_SHA256 "\n"                                                   \
    "x-amz-date:20240501T123456Z\n"                                                                \
    "x-amz-region-set:*\n"                                                                         \
    "x-amz-security-token:" SES_TOKEN "\n\n"                                                       \
    "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-region-set;x-amz-security-"           \
    "token\n" SES_BODY_SHA256
#define V2_AUTH_PREFIX                                                                             \
    "AWS4-ECDSA-P256-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/ses/aws4_request, "           \
    "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-region-set;"            \
    "x-amz-security-token, Signature="

static void test_either_algorithm(void) {
    struct sigv4a_key_cache cache;
    struct sigv4_key_cache v4;
    struct sigv4a_signed out;
    struct sigv4_signed plain_out;
    struct sigv4_request req;
    struct sp_err err;
    struct sigv4_creds plain = {SES_AKID, SES_SECRET, NULL};
    struct sigv4_creds temp = {SES_AKID, SES_SECRET, SES_TOKEN};

    sigv4a_key_cache_init(&cache);
    sigv4_key_cache_init(&v4);
    ses_request(&req, SES_BODY_SHA256);

    /* SigV4 through sigv4a_sign(): botocore's bytes, as sigv4_sign() gives. */
    if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4, &plain, &ses_params, &req, &out, &err) == 0) {
        check_str("either: SigV4 Authorization", SES_AUTH_NO_TOKEN, out.authorization);
        check(out.authorization_len == strlen(SES_AUTH_NO_TOKEN) && out.signature_len == 64 &&
                  strlen(out.signature) == 64,
              "either: SigV4 lengths", NULL);
        check(out.region_set == NULL && out.security_token == NULL && !out.has_content_sha256,
              "either: SigV4 adds no region set", NULL);
        check_str("either: SigV4 X-Amz-Date", "20240501T123456Z", out.amz_date);
    } else {
        check(0, "either: SigV4", err.msg);
    }
    struct sigv4_params with_hash = ses_params;
    with_hash.add_content_sha256 = 1;
    if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4, &temp, &with_hash, &req, &out, &err) == 0 &&
        sigv4_sign(&v4, &temp, &with_hash, &req, &plain_out, &err) == 0) {
        check_str("either: SigV4 with token equals sigv4_sign", plain_out.authorization,
                  out.authorization);
        check(out.security_token == temp.session_token && out.has_content_sha256 &&
                  strcmp(out.content_sha256, SES_BODY_SHA256) == 0,
              "either: SigV4 token and content hash", NULL);
    } else {
        check(0, "either: SigV4 with token", err.msg);
    }

    /* SigV4a for SES v2's multi-region endpoint, region set "*". */
    struct sigv4_request v2 = {"POST",     V2_PATH, strlen(V2_PATH), NULL, 0,
                               v2_headers, 2,       SES_BODY_SHA256};
    char buf[2048];
    size_t len = 0;
    if (sigv4a_canonical_request(&temp, &v2_params, &v2, buf, sizeof(buf), &len, &err) == 0) {
        check_bytes("v2: canonical request", V2_CANONICAL, strlen(V2_CANONICAL), buf, len);
    } else {
        check(0, "v2: canonical request", err.msg);
    }
    char sts[512];
    size_t sts_len = 0;
    char want_hash[65];
    sigv4_sha256_hex(V2_CANONICAL, strlen(V2_CANONICAL), want_hash);
    char want_sts[256];
    snprintf(want_sts, sizeof(want_sts),
             "AWS4-ECDSA-P256-SHA256\n20240501T123456Z\n20240501/ses/aws4_request\n%s", want_hash);
    check(sigv4a_string_to_sign(&v2_params, V2_CANONICAL, strlen(V2_CANONICAL), sts, sizeof(sts),
                                &sts_len, &err) == 0,
          "v2: string to sign", err.msg);
    check_bytes("v2: string to sign", want_sts, strlen(want_sts), sts, sts_len);
    if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &temp, &v2_params, &v2, &out, &err) == 0) {
        check(strncmp(out.authorization, V2_AUTH_PREFIX, strlen(V2_AUTH_PREFIX)) == 0,
              "v2: Authorization", out.authorization);
        check(out.region_set == v2_params.region && strcmp(out.region_set, "*") == 0,
              "v2: X-Amz-Region-Set *", NULL);
        check(out.security_token == temp.session_token && out.has_content_sha256,
              "v2: token and content hash", NULL);
        check(sigv4a_verify(cache.public_key, sts, sts_len, out.signature, out.signature_len,
                            &err) == 0,
              "v2: signature verifies", err.msg);
        /* SEQUENCE, its length, then the rest: 2 + length bytes in all. */
        unsigned tag = 0, body_len = 0;
        check(sscanf(out.signature, "%2x%2x", &tag, &body_len) == 2 && tag == 0x30 &&
                  out.signature_len == 2 * (2 + (size_t)body_len) &&
                  out.signature_len <= SIGV4A_SIGNATURE_HEX_MAX,
              "v2: a DER signature", out.signature);
    } else {
        check(0, "v2: sign", err.msg);
    }
    /* Random nonces: the same request twice gives two signatures, both good. */
    struct sigv4a_signed again;
    if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &temp, &v2_params, &v2, &again, &err) == 0) {
        check(strcmp(again.signature, out.signature) != 0, "v2: a fresh signature each time", NULL);
        check(sigv4a_verify(cache.public_key, sts, sts_len, again.signature, again.signature_len,
                            &err) == 0,
              "v2: second signature verifies", err.msg);
    } else {
        check(0, "v2: sign again", err.msg);
    }
    /* The token left unsigned: not in the canonical request, still sent. */
    struct sigv4_params omit = v2_params;
    omit.omit_session_token = 1;
    if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &temp, &omit, &v2, &out, &err) == 0) {
        check(strstr(out.authorization, "x-amz-security-token") == NULL &&
                  out.security_token == temp.session_token,
              "v2: omitted token", out.authorization);
    } else {
        check(0, "v2: omitted token", err.msg);
    }
    /* Region sets: a list and a wildcard part are fine. */
    const char *sets[] = {"us-east-1,eu-west-1", "us-*", "*"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        struct sigv4_params ps = v2_params;
        ps.region = sets[i];
        check(sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &temp, &ps, &v2, &out, &err) == 0 &&
                  strcmp(out.region_set, sets[i]) == 0,
              "v2: region set accepted", sets[i]);
    }
    /* Both algorithms share the cache's digest and keep their own keys. */
    check(cache.derivations == 1 && cache.v4.derivations == 1, "either: each key derived once",
          NULL);
    sigv4_key_cache_clear(&v4);
    sigv4a_key_cache_clear(&cache);
}

/* ---- the KDF's candidate check ---- */

/* n - 2 for P-256, big-endian (SEC 2). */
static const unsigned char n_minus_2[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x4F,
};

static void test_candidates(void) {
    unsigned char c[32];
    unsigned char k[32];
    unsigned char pub[SIGV4A_PUBLIC_KEY_LEN];
    struct sp_err err;

    /* n-2 is the largest accepted candidate; its key is n-1. */
    memcpy(c, n_minus_2, 32);
    memset(k, 0xAA, sizeof(k));
    check(sigv4a_candidate_to_key(c, k) == 1 && memcmp(k, n_minus_2, 31) == 0 && k[31] == 0x50,
          "candidate n-2 gives n-1", NULL);
    check(sigv4a_public_key(k, pub, &err) == 0, "n-1 is a valid key", err.msg);
    /* n-1 and anything larger are rejected, whatever byte decides. */
    c[31] = 0x50;
    memset(k, 0xAA, sizeof(k));
    check(sigv4a_candidate_to_key(c, k) == 0, "candidate n-1 rejected", NULL);
    check(k[0] == 0xAA && k[31] == 0xAA, "rejected candidate writes nothing", NULL);
    memcpy(c, n_minus_2, 32);
    c[16] = 0xBD; /* larger in the middle, smaller after */
    c[31] = 0x00;
    check(sigv4a_candidate_to_key(c, k) == 0, "larger in a middle byte rejected", NULL);
    memset(c, 0xFF, 32);
    check(sigv4a_candidate_to_key(c, k) == 0, "all ones rejected", NULL);
    /* Smaller at the first differing byte: accepted though later bytes are larger. */
    memcpy(c, n_minus_2, 32);
    c[16] = 0xBB;
    memset(c + 17, 0xFF, 15);
    check(sigv4a_candidate_to_key(c, k) == 1 && k[16] == 0xBC && all_zero(k + 17, 15),
          "smaller at the first difference accepted, carry through", NULL);
    /* 0 gives 1; the carry runs across bytes. */
    memset(c, 0, 32);
    check(sigv4a_candidate_to_key(c, k) == 1 && all_zero(k, 31) && k[31] == 1,
          "candidate 0 gives 1", NULL);
    c[31] = 0xFF;
    c[30] = 0xFF;
    check(sigv4a_candidate_to_key(c, k) == 1 && all_zero(k, 29) && k[29] == 1 && k[30] == 0 &&
              k[31] == 0,
          "carry across bytes", NULL);
    /* Scalars outside [1, n-1] are not keys. */
    memset(k, 0, 32);
    check(sigv4a_public_key(k, pub, &err) == -1 && strcmp(err.code, "SigningError") == 0,
          "zero is not a key", NULL);
    memcpy(k, n_minus_2, 32);
    k[31] = 0x51; /* n */
    check(sigv4a_public_key(k, pub, &err) == -1, "n is not a key", NULL);
}

/* ---- negative cases ---- */

#define NEG_SECRET "Sup3rSecretValueThatMustNeverLeak/xyz"
#define NEG_TOKEN "TokenThatMustNeverLeak+abc=="

static void expect_fail(const char *what, int rc, const struct sp_err *err, const char *code) {
    check(rc == -1, what, "did not fail");
    if (rc != -1) {
        return;
    }
    check(err->code != NULL && strcmp(err->code, code) == 0, what, err->code);
    check(err->msg[0] != '\0', what, "empty message");
    check(strstr(err->msg, NEG_SECRET) == NULL && strstr(err->msg, "Sup3rSecret") == NULL &&
              strstr(err->msg, NEG_TOKEN) == NULL && strstr(err->msg, "TokenThat") == NULL,
          what, "message leaks a secret");
}

static int sign_with(enum sigv4a_algorithm alg, const struct sigv4_creds *creds,
                     const struct sigv4_params *p, const struct sigv4_request *req,
                     struct sp_err *err) {
    struct sigv4a_key_cache cache;
    struct sigv4a_signed out;
    sigv4a_key_cache_init(&cache);
    sp_err_clear(err);
    int rc = sigv4a_sign(&cache, alg, creds, p, req, &out, err);
    sigv4a_key_cache_clear(&cache);
    return rc;
}

static void test_negative_inputs(void) {
    struct sigv4_creds creds = {SES_AKID, NEG_SECRET, NEG_TOKEN};
    struct sigv4_request req;
    struct sp_err err;
    const enum sigv4a_algorithm A = SIGV4A_ALG_SIGV4A;
    const char *SE = "SigningError";
    ses_request(&req, SES_BODY_SHA256);

    check(sign_with(A, &creds, &v2_params, &req, &err) == 0, "negative: baseline signs", err.msg);
    expect_fail("unknown algorithm",
                sign_with((enum sigv4a_algorithm)7, &creds, &v2_params, &req, &err), &err, SE);
    struct sigv4a_signed out;
    expect_fail("NULL cache", sigv4a_sign(NULL, A, &creds, &v2_params, &req, &out, &err), &err, SE);

    /* Region sets. */
    const char *bad_sets[] = {"", "us-east-1/evil", "us east", "us-east-1\r\nX-Evil: 1", "a;b"};
    for (size_t i = 0; i < sizeof(bad_sets) / sizeof(bad_sets[0]); i++) {
        struct sigv4_params p = v2_params;
        p.region = bad_sets[i];
        expect_fail("bad region set", sign_with(A, &creds, &p, &req, &err), &err, SE);
    }
    struct sigv4_params p = v2_params;
    p.region = NULL;
    expect_fail("missing region set", sign_with(A, &creds, &p, &req, &err), &err, SE);
    char long_set[SIGV4_MAX_REGION_SET_LEN + 2];
    memset(long_set, 'a', sizeof(long_set) - 1);
    long_set[sizeof(long_set) - 1] = '\0';
    p.region = long_set;
    expect_fail("region set too long", sign_with(A, &creds, &p, &req, &err), &err, SE);
    long_set[SIGV4_MAX_REGION_SET_LEN] = '\0';
    check(sign_with(A, &creds, &p, &req, &err) == 0, "region set at the limit", err.msg);
    /* SigV4 still refuses '*' as a region: its scope has one. */
    expect_fail("SigV4 with region '*'",
                sign_with(SIGV4A_ALG_SIGV4, &creds, &v2_params, &req, &err), &err, SE);
    p = v2_params;
    p.service = "ses/x";
    expect_fail("service with '/'", sign_with(A, &creds, &p, &req, &err), &err, SE);
    p = v2_params;
    p.when = -1;
    expect_fail("time before 1970", sign_with(A, &creds, &p, &req, &err), &err, SE);

    /* Headers the signer owns. */
    struct sigv4_header own_set[] = {HDR("Host", "h"), HDR("X-Amz-Region-Set", "*")};
    req = (struct sigv4_request){"POST", "/", 1, NULL, 0, own_set, 2, SES_BODY_SHA256};
    expect_fail("caller X-Amz-Region-Set", sign_with(A, &creds, &v2_params, &req, &err), &err, SE);
    check(strstr(err.msg, "X-Amz-Region-Set") != NULL, "caller X-Amz-Region-Set: says so", err.msg);
    struct sigv4_header own_date[] = {HDR("Host", "h"), HDR("x-amz-date", "20240501T123456Z")};
    req.headers = own_date;
    expect_fail("caller X-Amz-Date", sign_with(A, &creds, &v2_params, &req, &err), &err, SE);
    struct sigv4_header no_host[] = {HDR("Content-Type", "text/plain")};
    req.headers = no_host;
    req.n_headers = 1;
    expect_fail("missing Host", sign_with(A, &creds, &v2_params, &req, &err), &err, SE);

    /* Credentials. */
    ses_request(&req, SES_BODY_SHA256);
    struct sigv4_creds bad = creds;
    bad.secret_access_key = "";
    expect_fail("empty secret", sign_with(A, &bad, &v2_params, &req, &err), &err, SE);
    char long_secret[SIGV4_MAX_SECRET_LEN + 2];
    memset(long_secret, 'S', sizeof(long_secret) - 1);
    long_secret[sizeof(long_secret) - 1] = '\0';
    bad.secret_access_key = long_secret;
    expect_fail("secret too long", sign_with(A, &bad, &v2_params, &req, &err), &err, SE);
    bad = creds;
    bad.access_key_id = "AKID,evil";
    expect_fail("access key id with ','", sign_with(A, &bad, &v2_params, &req, &err), &err, SE);
    bad = creds;
    bad.session_token = "line1\r\nX-Evil: 1";
    expect_fail("token with CRLF", sign_with(A, &bad, &v2_params, &req, &err), &err, SE);
    expect_fail("NULL creds", sign_with(A, NULL, &v2_params, &req, &err), &err, SE);
    unsigned char key[32];
    expect_fail("derive without a secret", sigv4a_derive_key(&bad, NULL, &err), &err, SE);
    bad.secret_access_key = NULL;
    expect_fail("derive with NULL secret", sigv4a_derive_key(&bad, key, &err), &err, SE);

    /* Payload hash. */
    ses_request(&req, "8E2B21DF508E3CE8A8D6620AACAF66C75AFAD72B3E2CBE161E444ECE892C6E33");
    expect_fail("uppercase payload hash", sign_with(A, &creds, &v2_params, &req, &err), &err, SE);

    /* Too long an Authorization: the SigV4a signature takes 80 more bytes
     * than SigV4's, and the limit counts the longest one. */
    static char names[SIGV4_MAX_HEADERS][64];
    struct sigv4_header many[SIGV4_MAX_HEADERS];
    many[0] = (struct sigv4_header)HDR("Host", "h");
    for (int i = 1; i < SIGV4_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof(names[i]), "x-long-header-name-number-%03d-padding-padding", i);
        many[i] = (struct sigv4_header){names[i], strlen(names[i]), "v", 1};
    }
    req = (struct sigv4_request){"POST", "/", 1, NULL, 0, many, SIGV4_MAX_HEADERS, SES_BODY_SHA256};
    expect_fail("Authorization too long", sign_with(A, &creds, &v2_params, &req, &err), &err, SE);
    check(strstr(err.msg, "Authorization") != NULL, "Authorization too long: says so", err.msg);
    req.n_headers = 20;
    check(sign_with(A, &creds, &v2_params, &req, &err) == 0, "20 long headers fit", err.msg);
}

static void test_negative_buffers(void) {
    struct sigv4_creds creds = {SES_AKID, NEG_SECRET, NEG_TOKEN};
    struct sigv4_request req;
    struct sp_err err;
    size_t len = 0;
    ses_request(&req, SES_BODY_SHA256);

    /* Every cap short of the full size fails cleanly and leaves the bytes
     * past cap alone. */
    char full[1024];
    size_t need = 0;
    if (sigv4a_canonical_request(&creds, &v2_params, &req, full, sizeof(full), &need, &err) != 0) {
        check(0, "canonical request for the buffer test", err.msg);
        return;
    }
    int clean = 1;
    for (size_t cap = 0; cap < need; cap++) {
        char buf[1024 + 16];
        len = 12345;
        memset(buf, 0x5a, sizeof(buf));
        int rc = sigv4a_canonical_request(&creds, &v2_params, &req, cap == 0 ? NULL : buf, cap,
                                          &len, &err);
        for (size_t k = cap; k < sizeof(buf); k++) {
            clean &= buf[k] == 0x5a;
        }
        clean &= rc == -1 && len == 12345 && strcmp(err.code, "SigningError") == 0 &&
                 strstr(err.msg, NEG_TOKEN) == NULL;
    }
    check(clean, "canonical request: every too-small buffer fails cleanly", NULL);
    char exact[1024];
    check(sigv4a_canonical_request(&creds, &v2_params, &req, exact, need, &len, &err) == 0 &&
              len == need && memcmp(exact, full, need) == 0,
          "canonical request: exact buffer fits", NULL);

    char sts[512];
    size_t sts_need = 0;
    check(sigv4a_string_to_sign(&v2_params, full, need, sts, sizeof(sts), &sts_need, &err) == 0,
          "string to sign", err.msg);
    clean = 1;
    for (size_t cap = 0; cap < sts_need; cap++) {
        char buf[512 + 16];
        memset(buf, 0x5a, sizeof(buf));
        int rc = sigv4a_string_to_sign(&v2_params, full, need, buf, cap, &len, &err);
        for (size_t k = cap; k < sizeof(buf); k++) {
            clean &= buf[k] == 0x5a;
        }
        clean &= rc == -1;
    }
    check(clean, "string to sign: every too-small buffer fails cleanly", NULL);

    unsigned char key[32];
    char sig[SIGV4A_SIGNATURE_HEX_MAX + 1];
    size_t sig_len = 0;
    check(sigv4a_derive_key(&creds, key, &err) == 0 &&
              sigv4a_signature(key, sts, sts_need, sig, sizeof(sig), &sig_len, &err) == 0,
          "signature for the buffer test", err.msg);
    /* Signatures are random and their DER length varies (70 to 72 bytes
     * nearly always), so each cap may or may not be enough: what must hold
     * is that a failure is clean and a success fits. */
    clean = 1;
    int small_failed = 1;
    for (size_t cap = 0; cap <= sig_len + 2; cap++) {
        char buf[SIGV4A_SIGNATURE_HEX_MAX + 16];
        size_t got = 777;
        memset(buf, 0x5a, sizeof(buf));
        int rc = sigv4a_signature(key, sts, sts_need, buf, cap, &got, &err);
        for (size_t k = cap; k < sizeof(buf); k++) {
            clean &= buf[k] == 0x5a;
        }
        if (rc == 0) {
            clean &= got + 1 <= cap && strlen(buf) == got;
        } else {
            clean &= rc == -1 && got == 777 && strcmp(err.code, "SigningError") == 0;
        }
        if (cap < 2 * 8) { /* no DER ECDSA signature is that short */
            small_failed &= rc == -1;
        }
    }
    check(small_failed, "signature: a small buffer fails", NULL);
    check(clean, "signature: every too-small buffer fails cleanly", NULL);
    OPENSSL_cleanse(key, sizeof(key));
}

static void test_negative_verify(void) {
    struct sigv4_creds creds = {SES_AKID, NEG_SECRET, NULL};
    struct sigv4_creds other = {SES_AKID, "AnotherSecretKey0123456789abcdefghijklmn", NULL};
    struct sigv4_creds other_id = {"AKIAOTHERKEYEXAMPLE", NEG_SECRET, NULL};
    const char *sts =
        "AWS4-ECDSA-P256-SHA256\n20240501T123456Z\n20240501/ses/aws4_request\n" EMPTY_SHA256;
    size_t sts_len = strlen(sts);
    unsigned char key[32], pub[SIGV4A_PUBLIC_KEY_LEN], other_pub[SIGV4A_PUBLIC_KEY_LEN];
    unsigned char other_id_pub[SIGV4A_PUBLIC_KEY_LEN];
    char sig[SIGV4A_SIGNATURE_HEX_MAX + 1];
    size_t sig_len = 0;
    struct sp_err err;
    const char *MM = "SignatureDoesNotMatch";
    const char *SE = "SigningError";

    int ok = sigv4a_derive_key(&creds, key, &err) == 0 && sigv4a_public_key(key, pub, &err) == 0 &&
             sigv4a_signature(key, sts, sts_len, sig, sizeof(sig), &sig_len, &err) == 0;
    unsigned char k2[32];
    ok &= sigv4a_derive_key(&other, k2, &err) == 0 && sigv4a_public_key(k2, other_pub, &err) == 0;
    ok &= sigv4a_derive_key(&other_id, k2, &err) == 0 &&
          sigv4a_public_key(k2, other_id_pub, &err) == 0;
    OPENSSL_cleanse(k2, sizeof(k2));
    check(ok, "verify: setup", err.msg);
    if (!ok) {
        return;
    }
    check(sigv4a_verify(pub, sts, sts_len, sig, sig_len, &err) == 0, "verify: good signature",
          err.msg);
    check(memcmp(pub, other_pub, sizeof(pub)) != 0 && memcmp(pub, other_id_pub, sizeof(pub)) != 0,
          "verify: the key depends on the secret and the key id", NULL);

    expect_fail("verify: another secret's key",
                sigv4a_verify(other_pub, sts, sts_len, sig, sig_len, &err), &err, MM);
    expect_fail("verify: another key id's key",
                sigv4a_verify(other_id_pub, sts, sts_len, sig, sig_len, &err), &err, MM);
    expect_fail("verify: a shorter string",
                sigv4a_verify(pub, sts, sts_len - 1, sig, sig_len, &err), &err, MM);
    char altered[256];
    memcpy(altered, sts, sts_len);
    altered[30] ^= 0x01; /* in the date */
    expect_fail("verify: altered string", sigv4a_verify(pub, altered, sts_len, sig, sig_len, &err),
                &err, MM);

    /* Every single-digit change of the signature fails; none crashes. */
    int all_fail = 1;
    for (size_t i = 0; i < sig_len; i++) {
        char s2[SIGV4A_SIGNATURE_HEX_MAX + 1];
        memcpy(s2, sig, sig_len + 1);
        s2[i] = s2[i] == '0' ? '1' : '0';
        all_fail &= sigv4a_verify(pub, sts, sts_len, s2, sig_len, &err) == -1;
    }
    check(all_fail, "verify: every altered digit fails", NULL);
    expect_fail("verify: truncated signature",
                sigv4a_verify(pub, sts, sts_len, sig, sig_len - 2, &err), &err, MM);

    /* Uppercase hex is still the same signature. */
    char upper[SIGV4A_SIGNATURE_HEX_MAX + 1];
    for (size_t i = 0; i <= sig_len; i++) {
        upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
    }
    check(sigv4a_verify(pub, sts, sts_len, upper, sig_len, &err) == 0, "verify: uppercase hex",
          err.msg);

    expect_fail("verify: odd length", sigv4a_verify(pub, sts, sts_len, sig, sig_len - 1, &err),
                &err, SE);
    expect_fail("verify: empty signature", sigv4a_verify(pub, sts, sts_len, "", 0, &err), &err, SE);
    expect_fail("verify: not hex", sigv4a_verify(pub, sts, sts_len, "30zz", 4, &err), &err, SE);
    char too_long[SIGV4A_SIGNATURE_HEX_MAX + 3];
    memset(too_long, '0', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    expect_fail("verify: too long",
                sigv4a_verify(pub, sts, sts_len, too_long, sizeof(too_long) - 1, &err), &err, SE);
    unsigned char bad_pub[SIGV4A_PUBLIC_KEY_LEN];
    memcpy(bad_pub, pub, sizeof(bad_pub));
    bad_pub[64] ^= 0x01; /* off the curve */
    expect_fail("verify: point not on the curve",
                sigv4a_verify(bad_pub, sts, sts_len, sig, sig_len, &err), &err, SE);
    memcpy(bad_pub, pub, sizeof(bad_pub));
    bad_pub[0] = 0x02;
    expect_fail("verify: not an uncompressed point",
                sigv4a_verify(bad_pub, sts, sts_len, sig, sig_len, &err), &err, SE);
    expect_fail("verify: NULL key", sigv4a_verify(NULL, sts, sts_len, sig, sig_len, &err), &err,
                SE);
    OPENSSL_cleanse(key, sizeof(key));
}

/* ---- the key cache ---- */

static void expect_public_key(const char *what, const struct sigv4a_key_cache *cache,
                              const struct sigv4_creds *creds) {
    unsigned char key[32];
    unsigned char pub[SIGV4A_PUBLIC_KEY_LEN];
    struct sp_err err;
    if (sigv4a_derive_key(creds, key, &err) != 0 || sigv4a_public_key(key, pub, &err) != 0) {
        check(0, what, err.msg);
        return;
    }
    check(memcmp(key, cache->private_key, 32) == 0 &&
              memcmp(pub, cache->public_key, sizeof(pub)) == 0,
          what, "cached key differs from a fresh one");
    OPENSSL_cleanse(key, sizeof(key));
}

static void test_key_cache(void) {
    struct sigv4a_key_cache cache;
    struct sigv4a_signed out;
    struct sigv4_request req;
    struct sp_err err;
    struct sigv4_creds creds = {SES_AKID, SES_SECRET, NULL};
    struct sigv4_params p = v2_params;
    unsigned char pub1[SIGV4A_PUBLIC_KEY_LEN];
    const enum sigv4a_algorithm A = SIGV4A_ALG_SIGV4A;

    sigv4a_key_cache_init(&cache);
    check(all_zero(&cache, sizeof(cache)), "cache: init zeroes", NULL);
    ses_request(&req, SES_BODY_SHA256);

    check(sigv4a_sign(&cache, A, &creds, &p, &req, &out, &err) == 0, "cache: first sign", err.msg);
    check(cache.valid && cache.derivations == 1 && cache.pkey != NULL && cache.sign != NULL,
          "cache: derived once", NULL);
    expect_public_key("cache: first key", &cache, &creds);
    memcpy(pub1, cache.public_key, sizeof(pub1));

    /* The key does not depend on the date, region set, service or token. */
    p.when = SES_WHEN + 86400 * 400;
    p.region = "us-east-1,eu-west-1";
    p.service = "email";
    struct sigv4_creds with_token = {SES_AKID, SES_SECRET, SES_TOKEN};
    check(sigv4a_sign(&cache, A, &with_token, &p, &req, &out, &err) == 0 &&
              cache.derivations == 1 && memcmp(pub1, cache.public_key, sizeof(pub1)) == 0,
          "cache: reused across dates, region sets, services, tokens", err.msg);

    /* A new secret, then a new key id: new keys, old copies wiped. */
    struct sigv4_creds rotated = {SES_AKID, "AnotherSecretKey0123456789abcdefghijklmn", NULL};
    check(sigv4a_sign(&cache, A, &rotated, &p, &req, &out, &err) == 0 && cache.derivations == 2 &&
              memcmp(pub1, cache.public_key, sizeof(pub1)) != 0,
          "cache: a new secret gives a new key", err.msg);
    expect_public_key("cache: rotated key", &cache, &rotated);
    check(cache.secret_len == strlen(rotated.secret_access_key) &&
              memcmp(cache.secret, rotated.secret_access_key, cache.secret_len) == 0 &&
              all_zero(cache.secret + cache.secret_len, sizeof(cache.secret) - cache.secret_len),
          "cache: old secret copy wiped on replace", NULL);
    struct sigv4_creds new_id = {"AKIAOTHERKEYEXAMPLE", SES_SECRET, NULL};
    check(sigv4a_sign(&cache, A, &new_id, &p, &req, &out, &err) == 0 && cache.derivations == 3 &&
              memcmp(pub1, cache.public_key, sizeof(pub1)) != 0,
          "cache: a new key id gives a new key", err.msg);
    expect_public_key("cache: new key id's key", &cache, &new_id);
    check(all_zero(cache.access_key_id + cache.access_key_len,
                   sizeof(cache.access_key_id) - cache.access_key_len),
          "cache: old key id wiped on replace", NULL);
    check(sigv4a_sign(&cache, A, &creds, &p, &req, &out, &err) == 0 && cache.derivations == 4 &&
              memcmp(pub1, cache.public_key, sizeof(pub1)) == 0,
          "cache: first credentials again, first key again", err.msg);

    /* A failed sign leaves the cache as it was. */
    struct sigv4_params badp = p;
    badp.region = "not a region set";
    check(sigv4a_sign(&cache, A, &creds, &badp, &req, &out, &err) == -1, "cache: bad input fails",
          NULL);
    check(cache.valid && sigv4a_sign(&cache, A, &creds, &p, &req, &out, &err) == 0 &&
              cache.derivations == 4,
          "cache: still good after a failure", err.msg);

    /* The proxy hashes a payload with the cache's digest, then signs. */
    struct sigv4_sha256 h;
    char hex[65];
    check(sigv4_sha256_init_cached(&h, &cache.v4, &err) == 0 &&
              sigv4_sha256_update(&h, "abc", 3, &err) == 0 &&
              sigv4_sha256_final_hex(&h, hex, &err) == 0 &&
              sigv4a_sign(&cache, A, &creds, &p, &req, &out, &err) == 0,
          "cache: payload hash, then sign", err.msg);

    /* Clear wipes everything, SigV4's part too, and the cache is reusable. */
    check(sigv4a_sign(&cache, SIGV4A_ALG_SIGV4, &creds, &ses_params, &req, &out, &err) == 0 &&
              cache.v4.valid,
          "cache: SigV4 key held too", err.msg);
    sigv4a_key_cache_clear(&cache);
    check(all_zero(&cache, sizeof(cache)), "cache: clear wipes every byte", NULL);
    sigv4a_key_cache_clear(&cache); /* idempotent */
    sigv4a_key_cache_clear(NULL);
    check(sigv4a_sign(&cache, A, &creds, &p, &req, &out, &err) == 0 && cache.derivations == 1 &&
              memcmp(pub1, cache.public_key, sizeof(pub1)) == 0,
          "cache: usable after clear", err.msg);
    sigv4a_key_cache_clear(&cache);
}

/* A SigV4a signature costs the digest restarts and OpenSSL's ECDSA
 * (BIGNUMs, a point); guard against the key or contexts being rebuilt per
 * call, which costs several times as many. */
static void test_allocations(void) {
    struct sigv4a_key_cache cache;
    struct sigv4a_signed out;
    struct sigv4_request req;
    struct sp_err err;
    struct sigv4_creds creds = {SES_AKID, SES_SECRET, SES_TOKEN};
    sigv4a_key_cache_init(&cache);
    ses_request(&req, SES_BODY_SHA256);
    int ok = sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &creds, &v2_params, &req, &out, &err) == 0;
    unsigned long before = openssl_allocs;
    for (int i = 0; i < 100; i++) {
        ok &= sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &creds, &v2_params, &req, &out, &err) == 0;
    }
    unsigned long per_sign = (openssl_allocs - before) / 100;
    before = openssl_allocs;
    unsigned char key[32];
    char sig[SIGV4A_SIGNATURE_HEX_MAX + 1];
    size_t sig_len;
    ok &= sigv4a_derive_key(&creds, key, &err) == 0 &&
          sigv4a_signature(key, "x", 1, sig, sizeof(sig), &sig_len, &err) == 0;
    unsigned long uncached = openssl_allocs - before;
    OPENSSL_cleanse(key, sizeof(key));
    printf("sigv4a: %lu OpenSSL allocations per signature (cached key), %lu without the cache\n",
           per_sign, uncached);
    check(ok && per_sign * 2 < uncached, "sigv4a: the cache saves the key setup", NULL);
    check(per_sign <= 64, "sigv4a: hot path allocations", NULL);
    sigv4a_key_cache_clear(&cache);
}

int main(void) {
    /* Must come before OpenSSL allocates anything. */
    if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)) {
        printf("note: cannot count OpenSSL allocations\n");
    }
    test_vectors();
    test_either_algorithm();
    test_candidates();
    test_negative_inputs();
    test_negative_buffers();
    test_negative_verify();
    test_key_cache();
    test_allocations();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
