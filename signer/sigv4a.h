/* sigv4a.h - AWS Signature Version 4a (AWS4-ECDSA-P256-SHA256), header mode.
 *
 * SigV4a signs one request for a set of regions ("*" for all), as SES v2's
 * multi-region endpoints ({EndpointId}.endpoints.email.amazonaws.com) want.
 * It is SigV4 (signer/sigv4.h) with four changes, and reuses SigV4's
 * canonical request and string-to-sign stages for the rest:
 *   - the region of struct sigv4_params is a region set, sent and signed as
 *     X-Amz-Region-Set, and the credential scope has no region
 *     ("YYYYMMDD/service/aws4_request");
 *   - the algorithm is "AWS4-ECDSA-P256-SHA256";
 *   - the key is an ECDSA P-256 key derived from the access key id and the
 *     secret (aws-c-auth source/key_derivation.c: NIST SP 800-108 HMAC-SHA256
 *     KDF in counter mode), once per credentials rather than once per day;
 *   - the signature is the hex of the DER ECDSA signature over SHA-256 of the
 *     string to sign. ECDSA is randomized (OpenSSL draws the nonce from its
 *     own DRBG), so two signatures of the same request differ; check them
 *     with sigv4a_verify(), never by comparing.
 *
 * One call signs with either algorithm: sigv4a_sign() takes the same
 * credentials, parameters and request as sigv4_sign(), plus the algorithm,
 * and fills one output struct that says which headers to add.
 *
 * What this module never does: no sockets, no libevent, no clock (the
 * signing time is a parameter), no global mutable state, no logging. Only
 * OpenSSL libcrypto is used. The key cache allocates OpenSSL objects once
 * per credentials; a signature allocates nothing of ours.
 *
 * Secrets: the secret key, "AWS4A"+secret, every KDF output and the private
 * scalar are wiped with OPENSSL_cleanse when they go out of scope or are
 * replaced; OpenSSL clears its own copy of the private key when the key
 * object is freed. Error messages never contain the secret, the token or
 * key material.
 *
 * Errors: fallible functions return 0 or -1 and fill struct sp_err with code
 * "SigningError" (bad input, a buffer or limit too small), "InternalError"
 * (OpenSSL failed, e.g. out of memory) or, from sigv4a_verify() only,
 * "SignatureDoesNotMatch". Codes are static strings; compare with strcmp. */
#ifndef SP_SIGV4A_H
#define SP_SIGV4A_H

#include <stddef.h>

#include <openssl/types.h>

#include "signer/check.h"
#include "signer/sigv4.h"

#define SIGV4A_ALGORITHM "AWS4-ECDSA-P256-SHA256"
/* A DER ECDSA P-256 signature is at most 72 bytes: SEQUENCE { INTEGER r,
 * INTEGER s }, each at most 33 bytes with its sign byte. */
#define SIGV4A_SIGNATURE_DER_MAX 72
#define SIGV4A_SIGNATURE_HEX_MAX (2 * SIGV4A_SIGNATURE_DER_MAX)
/* An uncompressed P-256 point: 0x04 || X (32 bytes) || Y (32 bytes). */
#define SIGV4A_PUBLIC_KEY_LEN 65

enum sigv4a_algorithm {
    SIGV4A_ALG_SIGV4 = 0, /* AWS4-HMAC-SHA256: p->region is the region of the scope */
    SIGV4A_ALG_SIGV4A,    /* AWS4-ECDSA-P256-SHA256: p->region is the region set */
};

/* Keys for both algorithms, for one set of credentials at a time:
 * - v4: SigV4's cache (kSigning for the date, region and service), whose
 *   digest SigV4a uses too;
 * - the SigV4a key pair for one (access key id, secret), derived on first
 *   use and again only when either changes.
 * The owner embeds it, calls _init once and _clear when done. Owned: copies
 * of the access key id and secret (to notice new credentials), the private
 * scalar, and OpenSSL's key and signing context; all wiped on replace and
 * on _clear. Not thread-safe: use one per thread. Treat the fields as
 * private (tests read them); they are visible only so the struct can be
 * embedded. */
struct sigv4a_key_cache {
    struct sigv4_key_cache v4;
    int valid;
    size_t access_key_len;
    char access_key_id[SIGV4_MAX_ACCESS_KEY_LEN];
    size_t secret_len;
    unsigned char secret[SIGV4_MAX_SECRET_LEN];
    unsigned char private_key[32];                   /* big-endian scalar */
    unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN]; /* 0x04 || X || Y */
    unsigned long derivations; /* SigV4a key pairs derived (for tests and metrics) */
    EVP_PKEY *pkey;            /* the key pair, while valid */
    EVP_PKEY_CTX *sign;        /* set up for ECDSA signing with pkey */
};

/* Sets every byte to zero. Cannot fail. */
void sigv4a_key_cache_init(struct sigv4a_key_cache *cache);
/* Frees the OpenSSL objects and wipes the cache (SigV4's part included)
 * with OPENSSL_cleanse; every byte is zero afterwards, as after _init, so
 * the cache may be reused. NULL is ignored. */
void sigv4a_key_cache_clear(struct sigv4a_key_cache *cache);

/* Output of sigv4a_sign(): the headers the caller must add to the outgoing
 * request, all NUL-terminated, in fixed arrays (no allocation):
 *   X-Amz-Date: amz_date
 *   X-Amz-Region-Set: region_set                 (when not NULL: SigV4a)
 *   X-Amz-Security-Token: security_token         (when not NULL)
 *   x-amz-content-sha256: content_sha256         (when has_content_sha256)
 *   Authorization: authorization */
struct sigv4a_signed {
    char amz_date[17];      /* "20150830T123600Z" */
    const char *region_set; /* borrowed p->region for SigV4a; NULL for SigV4 */
    size_t signature_len;   /* 64 for SigV4; at most SIGV4A_SIGNATURE_HEX_MAX */
    char signature[SIGV4A_SIGNATURE_HEX_MAX + 1]; /* lowercase hex */
    int has_content_sha256;
    char content_sha256[65];    /* "" unless has_content_sha256 */
    const char *security_token; /* borrowed from creds; NULL when there is none */
    size_t authorization_len;
    char authorization[SIGV4_AUTHORIZATION_MAX];
};

/* Signs req with alg. Inputs as for sigv4_sign() (signer/sigv4.h); for
 * SIGV4A_ALG_SIGV4A p->region is the region set, e.g. "*", and headers must
 * not contain X-Amz-Region-Set. SIGV4A_ALG_SIGV4 gives exactly what
 * sigv4_sign() gives, through cache->v4. cache must be initialized. On
 * failure out is undefined and err says why. */
int sigv4a_sign(struct sigv4a_key_cache *cache, enum sigv4a_algorithm alg,
                const struct sigv4_creds *creds, const struct sigv4_params *p,
                const struct sigv4_request *req, struct sigv4a_signed *out,
                struct sp_err *err) SP_WARN_UNUSED;

/* The stages, for tests and verifiers. The text stages write into the
 * caller's buf[0..cap) and set *len to the bytes written (no NUL); if cap
 * is too small they fail with "SigningError" and never write past
 * buf + cap. */

/* Stage 1: the canonical request, as sigv4a_sign() signs it (X-Amz-Date,
 * X-Amz-Region-Set, and the token and content hash as p asks). Only
 * creds->session_token is read; creds may be NULL for "no token". */
int sigv4a_canonical_request(const struct sigv4_creds *creds, const struct sigv4_params *p,
                             const struct sigv4_request *req, char *buf, size_t cap, size_t *len,
                             struct sp_err *err) SP_WARN_UNUSED;

/* Stage 2: the string to sign for a canonical request. */
int sigv4a_string_to_sign(const struct sigv4_params *p, const char *canonical, size_t canonical_len,
                          char *buf, size_t cap, size_t *len, struct sp_err *err) SP_WARN_UNUSED;

/* Stage 3a: the private scalar for creds (access key id and secret; the
 * token is not used). private_key is the caller's; wipe it with
 * OPENSSL_cleanse when done. */
int sigv4a_derive_key(const struct sigv4_creds *creds, unsigned char private_key[32],
                      struct sp_err *err) SP_WARN_UNUSED;

/* The KDF's last step on one candidate (32 bytes, big-endian): if it is at
 * most n-2 (n: the order of P-256), writes candidate+1 to private_key and
 * returns 1; otherwise writes nothing and returns 0, and the KDF tries the
 * next counter. Constant time. Exposed for tests. */
int sigv4a_candidate_to_key(const unsigned char candidate[32], unsigned char private_key[32]);

/* The public key (0x04 || X || Y) of a private scalar in [1, n-1]. */
int sigv4a_public_key(const unsigned char private_key[32],
                      unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN],
                      struct sp_err *err) SP_WARN_UNUSED;

/* Stage 3b: hex of a fresh DER ECDSA signature of SHA-256(string_to_sign)
 * under private_key, NUL-terminated in out[0..cap); *out_len excludes the
 * NUL. cap of SIGV4A_SIGNATURE_HEX_MAX + 1 is always enough. Builds an
 * OpenSSL key each call: sigv4a_sign() with a cache is the fast path. */
int sigv4a_signature(const unsigned char private_key[32], const char *string_to_sign, size_t len,
                     char *out, size_t cap, size_t *out_len, struct sp_err *err) SP_WARN_UNUSED;

/* Checks that signature_hex (hex of a DER ECDSA signature, either case) is a
 * valid signature of SHA-256(string_to_sign) under public_key. Returns 0
 * when it is; -1 with "SignatureDoesNotMatch" when it is not (including a
 * signature that is not well-formed DER), "SigningError" when the
 * signature is not hex or the public key is not a point of P-256, and
 * "InternalError" when OpenSSL fails. */
int sigv4a_verify(const unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN], const char *string_to_sign,
                  size_t len, const char *signature_hex, size_t signature_hex_len,
                  struct sp_err *err) SP_WARN_UNUSED;

#endif
