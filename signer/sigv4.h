/* sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256), header mode.
 *
 * Turns a request (method, raw path, raw query, headers, payload hash) plus
 * credentials, region, service and a signing time into the headers the
 * caller must add: X-Amz-Date, Authorization and, when asked or when there is
 * a session token, x-amz-content-sha256 / X-Amz-Security-Token. The work is
 * the three stages of aws-c-auth (canonical request -> string to sign ->
 * signature), each also exposed on its own so tests can check it byte for
 * byte against the official suite.
 *
 * What this module never does: no sockets, no libevent, no clock (the
 * signing time is a parameter), no global mutable state, no logging, and no
 * heap allocation of its own per signature. Only OpenSSL libcrypto is used.
 * (OpenSSL 3.0 itself allocates and frees a small digest context each time a
 * digest or HMAC is restarted: three times per sigv4_sign().)
 *
 * Secrets: the secret key, "AWS4"+secret and every derived key (kDate,
 * kRegion, kService, kSigning) are wiped with OPENSSL_cleanse when they go
 * out of scope or are replaced. Error messages never contain the secret key
 * or the session token.
 *
 * Errors: fallible functions return 0 or -1 and fill struct sp_err with code
 * "SigningError" (bad input, a buffer or limit too small) or "InternalError"
 * (OpenSSL failed, e.g. out of memory). Codes are static strings; compare
 * them with strcmp. */
#ifndef SP_SIGV4_H
#define SP_SIGV4_H

#include <stddef.h>
#include <time.h>

#include <openssl/types.h>

#include "signer/check.h"

/* Limits. Inputs beyond them fail cleanly with "SigningError". */
#define SIGV4_MAX_HEADERS 64         /* headers passed in struct sigv4_request */
#define SIGV4_MAX_QUERY_PARAMS 128   /* '&'-separated parts of the query string */
#define SIGV4_MAX_PATH_SEGMENTS 128  /* '/'-separated segments, when normalizing */
#define SIGV4_MAX_SECRET_LEN 128     /* secret access key, bytes */
#define SIGV4_MAX_ACCESS_KEY_LEN 128 /* access key id, bytes */
#define SIGV4_MAX_SCOPE_PART_LEN 63  /* region and service, bytes */
#define SIGV4_AUTHORIZATION_MAX 2048 /* Authorization value, including the NUL */
#define SIGV4_STRING_TO_SIGN_MAX 512 /* enough for any valid scope */
#define SIGV4_MAX_REGION_SET_LEN 255 /* SigV4a region set ("*", "us-east-1,eu-west-1"), bytes */

/* All strings are borrowed, NUL-terminated, and only read during a call.
 * session_token NULL or "" means none. */
struct sigv4_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
};

/* One header as sent on the wire. name and value are borrowed and need not be
 * NUL-terminated. A folded (multi-line) value may contain the raw CR/LF and
 * indentation; canonicalization collapses them like any other whitespace. */
struct sigv4_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The request to sign. Everything is borrowed and only read during a call.
 * Every header in headers is signed, so leave out hop-by-hop headers
 * (Connection, Expect, User-Agent ...) that a proxy may rewrite. The signer
 * adds X-Amz-Date itself, so headers must not contain X-Amz-Date or
 * Authorization; nor X-Amz-Security-Token when creds carry a token, nor
 * x-amz-content-sha256 when add_content_sha256 is set. */
struct sigv4_request {
    const char *method; /* NUL-terminated, e.g. "POST" */
    const char *path;   /* raw path as on the request line, without '?query' */
    size_t path_len;    /* 0 means "/" */
    const char *query;  /* raw query string without '?', may be NULL/0 */
    size_t query_len;
    const struct sigv4_header *headers; /* as sent; must include Host */
    size_t n_headers;
    const char *payload_hash; /* 64 lowercase hex chars: SHA-256 of the body */
};

struct sigv4_params {
    const char *region;     /* e.g. "us-east-1"; [A-Za-z0-9._-], borrowed */
    const char *service;    /* e.g. "ses"; [A-Za-z0-9._-], borrowed */
    time_t when;            /* signing time, unix seconds UTC (years 1970..9999) */
    int normalize_path;     /* 1: drop empty and "." segments, ".." removes the previous one
                               (botocore remove_dot_segments); the result starts with "/" and
                               keeps a trailing "/" */
    int add_content_sha256; /* 1: add and sign x-amz-content-sha256: <payload_hash> */
    int omit_session_token; /* 1: the token is not signed, only added after signing */
};

/* Derived-key cache for one (date YYYYMMDD, region, service, secret), plus the
 * OpenSSL contexts the signer reuses so the hot path does not set them up per
 * signature. The owner embeds it, calls _init once and _clear when done.
 * Owned: a copy of the secret (to notice a new secret) and kSigning, both
 * wiped on replace and on _clear; the OpenSSL objects, created on first use
 * and freed on _clear. Not thread-safe: use one per thread. Treat the fields
 * as private; they are visible only so the struct can be embedded. */
struct sigv4_key_cache {
    int valid;
    char date[9];
    char region[SIGV4_MAX_SCOPE_PART_LEN + 1];
    char service[SIGV4_MAX_SCOPE_PART_LEN + 1];
    size_t secret_len;
    unsigned char secret[SIGV4_MAX_SECRET_LEN];
    unsigned char k_signing[32];
    unsigned long derivations; /* how many times a key was derived (for tests and metrics) */
    EVP_MD *sha256;            /* fetched once */
    EVP_MD_CTX *md;            /* hashes the canonical request */
    EVP_MAC *hmac_alg;         /* fetched once */
    EVP_MAC_CTX *hmac;         /* keyed with k_signing while valid */
};

/* Sets every byte to zero. Cannot fail. */
void sigv4_key_cache_init(struct sigv4_key_cache *cache);
/* Frees the OpenSSL objects and wipes the cache with OPENSSL_cleanse; every
 * byte is zero afterwards, as after _init, so the cache may be reused. */
void sigv4_key_cache_clear(struct sigv4_key_cache *cache);

/* Output of sigv4_sign(): the headers the caller must add to the outgoing
 * request, all NUL-terminated, in fixed arrays (no allocation):
 *   X-Amz-Date: amz_date
 *   X-Amz-Security-Token: security_token         (when not NULL)
 *   x-amz-content-sha256: content_sha256         (when has_content_sha256)
 *   Authorization: authorization */
struct sigv4_signed {
    char amz_date[17];  /* "20150830T123600Z" */
    char signature[65]; /* lowercase hex */
    int has_content_sha256;
    char content_sha256[65];    /* "" unless has_content_sha256 */
    const char *security_token; /* borrowed from creds; NULL when there is none */
    size_t authorization_len;
    char authorization[SIGV4_AUTHORIZATION_MAX];
};

/* Signs req. cache must be initialized; a cached kSigning is reused while the
 * date, region, service and secret stay the same. On failure out is
 * undefined and err says why. */
int sigv4_sign(struct sigv4_key_cache *cache, const struct sigv4_creds *creds,
               const struct sigv4_params *p, const struct sigv4_request *req,
               struct sigv4_signed *out, struct sp_err *err) SP_WARN_UNUSED;

/* The three stages, for tests. Each writes into the caller's buffer
 * buf[0..cap) and sets *len to the bytes written (no NUL is added). If cap is
 * too small they fail with "SigningError" and never write past buf + cap. */

/* Stage 1: the canonical request. Signs X-Amz-Date (from p->when), the token
 * (when creds has one and !p->omit_session_token) and x-amz-content-sha256
 * (when p->add_content_sha256), like sigv4_sign(). Only creds->session_token
 * is read; creds may be NULL for "no token". */
int sigv4_canonical_request(const struct sigv4_creds *creds, const struct sigv4_params *p,
                            const struct sigv4_request *req, char *buf, size_t cap, size_t *len,
                            struct sp_err *err) SP_WARN_UNUSED;

/* Stage 2: the string to sign for a canonical request. */
int sigv4_string_to_sign(const struct sigv4_params *p, const char *canonical, size_t canonical_len,
                         char *buf, size_t cap, size_t *len, struct sp_err *err) SP_WARN_UNUSED;

/* Stage 3a: kSigning for secret at p's date, region and service. k_signing
 * is the caller's; wipe it with OPENSSL_cleanse when done. */
int sigv4_derive_key(const char *secret_access_key, const struct sigv4_params *p,
                     unsigned char k_signing[32], struct sp_err *err) SP_WARN_UNUSED;

/* Stage 3b: hex HMAC-SHA256 of the string to sign under kSigning. */
int sigv4_signature(const unsigned char k_signing[32], const char *string_to_sign, size_t len,
                    char out[65], struct sp_err *err) SP_WARN_UNUSED;

/* Lowercase hex SHA-256 of data[0..len), NUL-terminated. On an OpenSSL
 * failure (out of memory) out is set to "", which sigv4_sign() rejects as a
 * payload hash. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Streaming SHA-256 for a body that lives in several chunks:
 *   struct sigv4_sha256 h;
 *   GUARD(sigv4_sha256_init(&h, err));
 *   ... GUARD(sigv4_sha256_update(&h, chunk, n, err)) ...   (on error: _clear)
 *   GUARD(sigv4_sha256_final_hex(&h, hex, err));
 * final_hex always releases the context, even when it fails. _clear releases
 * it without a result, is idempotent, and is safe after final_hex.
 * _init_cached does the same with the key cache's SHA-256 and context (no
 * allocation, no algorithm fetch: the proxy's per-request payload hash); the
 * cache must not sign until the hash is final or cleared. */
struct sigv4_sha256 {
    EVP_MD_CTX *ctx; /* owned unless borrowed; NULL when released */
    int borrowed;    /* ctx is a key cache's */
};
int sigv4_sha256_init(struct sigv4_sha256 *h, struct sp_err *err) SP_WARN_UNUSED;
int sigv4_sha256_init_cached(struct sigv4_sha256 *h, struct sigv4_key_cache *cache,
                             struct sp_err *err) SP_WARN_UNUSED;
int sigv4_sha256_update(struct sigv4_sha256 *h, const void *data, size_t len,
                        struct sp_err *err) SP_WARN_UNUSED;
int sigv4_sha256_final_hex(struct sigv4_sha256 *h, char out[65], struct sp_err *err) SP_WARN_UNUSED;
void sigv4_sha256_clear(struct sigv4_sha256 *h);

/* ---- Shared with signer/sigv4a.c ----
 *
 * SigV4a (AWS4-ECDSA-P256-SHA256, signer/sigv4a.h) runs stages 1 and 2
 * exactly as above, with three differences that a variant names:
 *   - the algorithm name in the string to sign and the Authorization value;
 *   - the credential scope has no region: "YYYYMMDD/service/aws4_request";
 *   - p->region is a region set ("*", or regions joined by ',', where '*'
 *     may stand for any part), which the signer adds and signs as
 *     X-Amz-Region-Set, so headers must not contain X-Amz-Region-Set.
 * Nothing outside signer/ needs these; use sigv4_sign() or sigv4a_sign(). */
struct sigv4_variant {
    const char *algorithm; /* e.g. "AWS4-ECDSA-P256-SHA256"; static */
    int region_set;        /* 0: SigV4's scope; 1: SigV4a's scope and X-Amz-Region-Set */
};

/* Stages 1 and 2 as sigv4_canonical_request() and sigv4_string_to_sign()
 * run them, for a variant (same contracts). */
int sigv4_canonical_request_as(const struct sigv4_variant *v, const struct sigv4_creds *creds,
                               const struct sigv4_params *p, const struct sigv4_request *req,
                               char *buf, size_t cap, size_t *len,
                               struct sp_err *err) SP_WARN_UNUSED;
int sigv4_string_to_sign_as(const struct sigv4_variant *v, const struct sigv4_params *p,
                            const char *canonical, size_t canonical_len, char *buf, size_t cap,
                            size_t *len, struct sp_err *err) SP_WARN_UNUSED;

/* What sigv4_draft() leaves for the last stage. */
struct sigv4_draft {
    char amz_date[17];         /* X-Amz-Date, NUL-terminated */
    size_t string_to_sign_len; /* bytes in string_to_sign (no NUL) */
    char string_to_sign[SIGV4_STRING_TO_SIGN_MAX];
};

/* Stages 1 and 2 the way sigv4_sign() runs them (validated input, the
 * canonical request streamed through the cache's digest, never built):
 * writes "<algorithm> Credential=<akid>/<scope>, SignedHeaders=<list>,
 * Signature=" into auth[0..auth_cap), sets *auth_len, and fills d. The
 * caller appends the signature. Fails with "SigningError" when the prefix
 * does not fit in auth_cap, writing nothing past auth + auth_cap. Checks the
 * access key id and that a secret is present (within SIGV4_MAX_SECRET_LEN),
 * but never reads the secret further. cache: only its digest is used (the
 * cache must not be hashing a payload, see sigv4_sha256_init_cached()). */
int sigv4_draft(struct sigv4_key_cache *cache, const struct sigv4_variant *v,
                const struct sigv4_creds *creds, const struct sigv4_params *p,
                const struct sigv4_request *req, char *auth, size_t auth_cap, size_t *auth_len,
                struct sigv4_draft *d, struct sp_err *err) SP_WARN_UNUSED;

/* Validates creds as every sign call does (access key id present, at most
 * SIGV4_MAX_ACCESS_KEY_LEN visible ASCII bytes without '/' or ','; a
 * secret of 1..SIGV4_MAX_SECRET_LEN bytes) and sets *secret_len. */
int sigv4_check_creds(const struct sigv4_creds *creds, size_t *secret_len,
                      struct sp_err *err) SP_WARN_UNUSED;

/* Lowercase hex of in[0..n) into out[0..2n); no NUL is added. */
void sigv4_hex(const unsigned char *in, size_t n, char *out);

/* Fails with "InternalError", "<what> failed: <OpenSSL's first reason>",
 * and empties OpenSSL's per-thread error queue. Always returns -1. */
int sigv4_fail_openssl(struct sp_err *err, const char *what);

#endif
