/* sigv4a.c - AWS Signature Version 4a (AWS4-ECDSA-P256-SHA256), header mode.
 *
 * Stages 1 and 2 are SigV4's (sigv4_draft() with a variant that drops the
 * region from the scope and signs X-Amz-Region-Set); this file adds the
 * key and the signature:
 *
 *   (3a) private key: the NIST SP 800-108 KDF in counter mode with
 *        HMAC-SHA256, keyed with "AWS4A"+secret, over
 *          [i]_32 || "AWS4-ECDSA-P256-SHA256" || 0x00 || AccessKeyId
 *            || counter (one byte, from 1) || [256]_32
 *        (i = 1: one HMAC block gives the 256 bits). A candidate above
 *        n-2 is rejected and the counter incremented; the key is
 *        candidate + 1, so it lies in [1, n-1]. This is aws-c-auth's
 *        source/key_derivation.c, byte for byte, which is what AWS checks
 *        against.
 *   (3b) signature: hex(DER(ECDSA-P256(SHA-256(string to sign)))).
 *
 * Deriving costs a few HMACs, a scalar multiplication and building an
 * OpenSSL key, so the cache keeps the key pair and a signing context per
 * (access key id, secret); a signature then costs the SHA-256s and one
 * ECDSA signing. */
#include "signer/sigv4a.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#define CODE_SIGNING "SigningError"
#define CODE_INTERNAL "InternalError"
#define CODE_MISMATCH "SignatureDoesNotMatch"

/* aws-c-auth gives up after counter 254; the chance of getting there is
 * about 2^(-32 * 254). */
#define KDF_MAX_COUNTER 254

/* OpenSSL's name for P-256 in key parameters. */
#define GROUP_NAME "prime256v1"

static const struct sigv4_variant v4a_variant = {SIGV4A_ALGORITHM, 1};

/* n - 2, where n is the order of P-256 (SEC 2, secp256r1), big-endian. */
static const unsigned char n_minus_2[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x4F,
};

/* ---- (3a) the private key ---- */

int sigv4a_candidate_to_key(const unsigned char candidate[32], unsigned char private_key[32]) {
    /* candidate > n-2, decided at the most significant differing byte.
     * Bytes are 0..255, so y - x wraps (setting bit 8) exactly when x > y,
     * and (x ^ y) - 1 sets bit 8 exactly when x == y. No branch depends on
     * a byte of the candidate. */
    unsigned gt = 0;
    unsigned eq = 1;
    for (size_t i = 0; i < 32; i++) {
        unsigned x = candidate[i];
        unsigned y = n_minus_2[i];
        gt |= eq & ((y - x) >> 8) & 1u;
        eq &= (((x ^ y) - 1u) >> 8) & 1u;
    }
    if (gt) {
        return 0;
    }
    unsigned carry = 1;
    for (size_t i = 32; i-- > 0;) {
        unsigned v = candidate[i] + carry;
        private_key[i] = (unsigned char)(v & 0xffu);
        carry = v >> 8;
    }
    return 1;
}

/* creds already checked (sigv4_check_creds); secret_len is the secret's. */
static int derive_private_key(const struct sigv4_creds *creds, size_t secret_len,
                              unsigned char private_key[32], struct sp_err *err) {
    static const char label[] = SIGV4A_ALGORITHM;
    unsigned char key[5 + SIGV4_MAX_SECRET_LEN];
    unsigned char input[4 + sizeof(label) + SIGV4_MAX_ACCESS_KEY_LEN + 1 + 4];
    unsigned char candidate[32];
    size_t akid_len = strlen(creds->access_key_id);
    size_t n = 0;
    size_t mac_len = 0;
    int found = 0;
    int rc = -1;

    memcpy(key, "AWS4A", 5);
    memcpy(key + 5, creds->secret_access_key, secret_len);
    memcpy(input, "\x00\x00\x00\x01", 4); /* [i]_32, i = 1 */
    n = 4;
    memcpy(input + n, label, sizeof(label)); /* the label and its 0x00 separator */
    n += sizeof(label);
    memcpy(input + n, creds->access_key_id, akid_len);
    n += akid_len;
    size_t counter_at = n++;
    memcpy(input + n, "\x00\x00\x01\x00", 4); /* [L]_32, L = 256 bits */
    n += 4;

    for (unsigned counter = 1; counter <= KDF_MAX_COUNTER && !found; counter++) {
        input[counter_at] = (unsigned char)counter;
        if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 5 + secret_len, input, n, candidate,
                      sizeof(candidate), &mac_len) == NULL ||
            mac_len != sizeof(candidate)) {
            sigv4_fail_openssl(err, "HMAC-SHA256 key derivation");
            goto cleanup;
        }
        found = sigv4a_candidate_to_key(candidate, private_key);
    }
    if (!found) {
        sp_fail(err, CODE_INTERNAL, "no SigV4a key after %d KDF counters", KDF_MAX_COUNTER);
        goto cleanup;
    }
    rc = 0;

cleanup:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(candidate, sizeof(candidate));
    if (rc < 0) {
        OPENSSL_cleanse(private_key, 32);
    }
    return rc;
}

int sigv4a_derive_key(const struct sigv4_creds *creds, unsigned char private_key[32],
                      struct sp_err *err) {
    size_t secret_len;
    ENSURE(private_key != NULL, err, CODE_SIGNING, "output is missing");
    GUARD(sigv4_check_creds(creds, &secret_len, err));
    return derive_private_key(creds, secret_len, private_key, err);
}

int sigv4a_public_key(const unsigned char private_key[32],
                      unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN], struct sp_err *err) {
    ENSURE(private_key != NULL && public_key != NULL, err, CODE_SIGNING, "key is missing");
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *d = BN_new();
    EC_POINT *point = group != NULL ? EC_POINT_new(group) : NULL;
    int rc = -1;

    if (group == NULL || d == NULL || point == NULL) {
        sigv4_fail_openssl(err, "allocating P-256 objects");
        goto cleanup;
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (BN_bin2bn(private_key, 32, d) == NULL) {
        sigv4_fail_openssl(err, "reading the private key");
        goto cleanup;
    }
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
        sp_fail(err, CODE_SIGNING, "private key is outside [1, n-1]");
        goto cleanup;
    }
    if (EC_POINT_mul(group, point, d, NULL, NULL, NULL) != 1 ||
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, public_key,
                           SIGV4A_PUBLIC_KEY_LEN, NULL) != SIGV4A_PUBLIC_KEY_LEN) {
        sigv4_fail_openssl(err, "computing the public key");
        goto cleanup;
    }
    rc = 0;

cleanup:
    EC_POINT_free(point);
    BN_clear_free(d);
    EC_GROUP_free(group);
    return rc;
}

/* ---- OpenSSL keys ---- */

/* An EC key from its public point and, when private_key is not NULL, its
 * scalar. OpenSSL reads the scalar as an unsigned integer in native byte
 * order; that copy is wiped here, and OpenSSL clears its own on free. A
 * point that is not on P-256 fails with "SigningError". */
static int key_from_data(const unsigned char *private_key,
                         const unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN], EVP_PKEY **out,
                         struct sp_err *err) {
    char group[] = GROUP_NAME;
    unsigned char pub[SIGV4A_PUBLIC_KEY_LEN];
    unsigned char native[32];
    OSSL_PARAM params[4];
    size_t n = 0;
    int rc = -1;

    *out = NULL;
    memcpy(pub, public_key, sizeof(pub));
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
    if (private_key != NULL) {
        for (size_t i = 0; i < 32; i++) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            native[i] = private_key[31 - i];
#else
            native[i] = private_key[i];
#endif
        }
        params[n++] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native, sizeof(native));
    }
    params[n] = OSSL_PARAM_construct_end();

    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        sigv4_fail_openssl(err, "setting up an EC key");
        goto cleanup;
    }
    if (EVP_PKEY_fromdata(ctx, out, private_key != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) != 1) {
        /* Almost always a point that is not on the curve. */
        ERR_clear_error();
        *out = NULL;
        sp_fail(err, CODE_SIGNING, "the public key is not a point of P-256");
        goto cleanup;
    }
    rc = 0;

cleanup:
    OPENSSL_cleanse(native, sizeof(native));
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static int sign_ctx_new(EVP_PKEY *pkey, EVP_PKEY_CTX **out, struct sp_err *err) {
    *out = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (*out == NULL || EVP_PKEY_sign_init(*out) != 1 ||
        EVP_PKEY_CTX_set_signature_md(*out, EVP_sha256()) != 1) {
        EVP_PKEY_CTX_free(*out);
        *out = NULL;
        return sigv4_fail_openssl(err, "setting up ECDSA signing");
    }
    return 0;
}

/* ---- (3b) the signature ---- */

static int sha256_of(EVP_MD_CTX *md, const EVP_MD *sha256, const char *data, size_t len,
                     unsigned char digest[32], struct sp_err *err) {
    unsigned int n = 0;
    if (EVP_DigestInit_ex(md, sha256, NULL) != 1 || EVP_DigestUpdate(md, data, len) != 1 ||
        EVP_DigestFinal_ex(md, digest, &n) != 1 || n != 32) {
        return sigv4_fail_openssl(err, "SHA-256 of the string to sign");
    }
    return 0;
}

/* hex(DER signature of digest) into out (room for SIGV4A_SIGNATURE_HEX_MAX
 * + 1 bytes), NUL-terminated. */
static int sign_digest(EVP_PKEY_CTX *sign, const unsigned char digest[32], char *out,
                       size_t *out_len, struct sp_err *err) {
    unsigned char der[SIGV4A_SIGNATURE_DER_MAX];
    size_t der_len = sizeof(der);
    if (EVP_PKEY_sign(sign, der, &der_len, digest, 32) != 1 || der_len > sizeof(der)) {
        return sigv4_fail_openssl(err, "ECDSA signing");
    }
    sigv4_hex(der, der_len, out);
    out[2 * der_len] = '\0';
    *out_len = 2 * der_len;
    return 0;
}

int sigv4a_signature(const unsigned char private_key[32], const char *string_to_sign, size_t len,
                     char *out, size_t cap, size_t *out_len, struct sp_err *err) {
    unsigned char pub[SIGV4A_PUBLIC_KEY_LEN];
    unsigned char digest[32];
    char hex[SIGV4A_SIGNATURE_HEX_MAX + 1];
    size_t hex_len = 0;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *sign = NULL;
    EVP_MD_CTX *md = NULL;
    int rc = -1;

    ENSURE(private_key != NULL && out != NULL && out_len != NULL &&
               (string_to_sign != NULL || len == 0),
           err, CODE_SIGNING, "signature input is NULL");
    if (sigv4a_public_key(private_key, pub, err) < 0 ||
        key_from_data(private_key, pub, &pkey, err) < 0 || sign_ctx_new(pkey, &sign, err) < 0) {
        goto cleanup;
    }
    if ((md = EVP_MD_CTX_new()) == NULL) {
        sigv4_fail_openssl(err, "EVP_MD_CTX_new");
        goto cleanup;
    }
    if (sha256_of(md, EVP_sha256(), string_to_sign != NULL ? string_to_sign : "", len, digest,
                  err) < 0 ||
        sign_digest(sign, digest, hex, &hex_len, err) < 0) {
        goto cleanup;
    }
    if (hex_len + 1 > cap) {
        sp_fail(err, CODE_SIGNING, "signature does not fit in %zu bytes", cap);
        goto cleanup;
    }
    memcpy(out, hex, hex_len + 1);
    *out_len = hex_len;
    rc = 0;

cleanup:
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(sign);
    EVP_PKEY_free(pkey);
    return rc;
}

/* ---- verification ---- */

static int hex_digit(unsigned char c) {
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

int sigv4a_verify(const unsigned char public_key[SIGV4A_PUBLIC_KEY_LEN], const char *string_to_sign,
                  size_t len, const char *signature_hex, size_t signature_hex_len,
                  struct sp_err *err) {
    unsigned char der[SIGV4A_SIGNATURE_DER_MAX];
    unsigned char digest[32];
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *verify = NULL;
    int rc = -1;

    ENSURE(public_key != NULL && (string_to_sign != NULL || len == 0) &&
               (signature_hex != NULL || signature_hex_len == 0),
           err, CODE_SIGNING, "verification input is NULL");
    ENSURE(signature_hex_len > 0 && signature_hex_len % 2 == 0 &&
               signature_hex_len <= SIGV4A_SIGNATURE_HEX_MAX,
           err, CODE_SIGNING, "signature is not 2..%d hex digits", SIGV4A_SIGNATURE_HEX_MAX);
    for (size_t i = 0; i < signature_hex_len; i += 2) {
        int hi = hex_digit((unsigned char)signature_hex[i]);
        int lo = hex_digit((unsigned char)signature_hex[i + 1]);
        ENSURE(hi >= 0 && lo >= 0, err, CODE_SIGNING, "signature is not hex (offset %zu)", i);
        der[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    /* Only the uncompressed form is a valid SIGV4A_PUBLIC_KEY_LEN-byte key. */
    ENSURE(public_key[0] == 0x04, err, CODE_SIGNING, "the public key is not an uncompressed point");
    if (EVP_Digest(string_to_sign != NULL ? string_to_sign : "", len, digest, NULL, EVP_sha256(),
                   NULL) != 1) {
        return sigv4_fail_openssl(err, "SHA-256 of the string to sign");
    }
    GUARD(key_from_data(NULL, public_key, &pkey, err));
    verify = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (verify == NULL || EVP_PKEY_verify_init(verify) != 1 ||
        EVP_PKEY_CTX_set_signature_md(verify, EVP_sha256()) != 1) {
        sigv4_fail_openssl(err, "setting up ECDSA verification");
        goto cleanup;
    }
    /* 1: valid. 0: a well-formed signature that does not match; < 0:
     * OpenSSL could not decode it as DER. Both mean "does not verify". */
    if (EVP_PKEY_verify(verify, der, signature_hex_len / 2, digest, sizeof(digest)) != 1) {
        ERR_clear_error();
        sp_fail(err, CODE_MISMATCH, "the signature does not verify with this public key");
        goto cleanup;
    }
    rc = 0;

cleanup:
    EVP_PKEY_CTX_free(verify);
    EVP_PKEY_free(pkey);
    return rc;
}

/* ---- the key cache ---- */

void sigv4a_key_cache_init(struct sigv4a_key_cache *cache) { memset(cache, 0, sizeof(*cache)); }

/* Forgets the key pair: frees OpenSSL's objects and wipes every copy of
 * the credentials and keys. The SigV4 part and the counter stay. */
static void cache_drop(struct sigv4a_key_cache *c) {
    c->valid = 0;
    EVP_PKEY_CTX_free(c->sign);
    EVP_PKEY_free(c->pkey);
    c->sign = NULL;
    c->pkey = NULL;
    OPENSSL_cleanse(c->access_key_id, sizeof(c->access_key_id));
    OPENSSL_cleanse(c->secret, sizeof(c->secret));
    OPENSSL_cleanse(c->private_key, sizeof(c->private_key));
    OPENSSL_cleanse(c->public_key, sizeof(c->public_key));
    c->access_key_len = 0;
    c->secret_len = 0;
}

void sigv4a_key_cache_clear(struct sigv4a_key_cache *cache) {
    if (cache == NULL) {
        return;
    }
    cache_drop(cache);
    sigv4_key_cache_clear(&cache->v4);
    OPENSSL_cleanse(cache, sizeof(*cache));
}

static int cache_hit(const struct sigv4a_key_cache *c, const struct sigv4_creds *creds,
                     size_t akid_len, size_t secret_len) {
    return c->valid && c->access_key_len == akid_len && c->secret_len == secret_len &&
           memcmp(c->access_key_id, creds->access_key_id, akid_len) == 0 &&
           CRYPTO_memcmp(c->secret, creds->secret_access_key, secret_len) == 0;
}

/* Makes c hold the key pair for creds (already checked), deriving it on a
 * miss. The old one is dropped before anything new is written, and the
 * cache stays invalid if derivation fails. */
static int cache_keys(struct sigv4a_key_cache *c, const struct sigv4_creds *creds,
                      size_t secret_len, struct sp_err *err) {
    size_t akid_len = strlen(creds->access_key_id);
    if (cache_hit(c, creds, akid_len, secret_len)) {
        return 0;
    }
    cache_drop(c);
    if (derive_private_key(creds, secret_len, c->private_key, err) < 0 ||
        sigv4a_public_key(c->private_key, c->public_key, err) < 0 ||
        key_from_data(c->private_key, c->public_key, &c->pkey, err) < 0 ||
        sign_ctx_new(c->pkey, &c->sign, err) < 0) {
        cache_drop(c);
        return -1;
    }
    memcpy(c->access_key_id, creds->access_key_id, akid_len);
    c->access_key_len = akid_len;
    memcpy(c->secret, creds->secret_access_key, secret_len);
    c->secret_len = secret_len;
    c->derivations++;
    c->valid = 1;
    return 0;
}

/* ---- sigv4a_sign ---- */

static void put_common(struct sigv4a_signed *out, const struct sigv4_creds *creds,
                       const struct sigv4_params *p, const struct sigv4_request *req) {
    out->has_content_sha256 = p->add_content_sha256 ? 1 : 0;
    out->content_sha256[0] = '\0';
    if (out->has_content_sha256) {
        memcpy(out->content_sha256, req->payload_hash, 65);
    }
    out->security_token = (creds->session_token != NULL && creds->session_token[0] != '\0')
                              ? creds->session_token
                              : NULL;
}

/* SigV4 through the same output: sigv4_sign() and a copy. */
static int sign_v4(struct sigv4a_key_cache *c, const struct sigv4_creds *creds,
                   const struct sigv4_params *p, const struct sigv4_request *req,
                   struct sigv4a_signed *out, struct sp_err *err) {
    struct sigv4_signed s;
    GUARD(sigv4_sign(&c->v4, creds, p, req, &s, err));
    memcpy(out->amz_date, s.amz_date, sizeof(out->amz_date));
    out->region_set = NULL;
    memcpy(out->signature, s.signature, sizeof(s.signature));
    out->signature_len = 64;
    out->has_content_sha256 = s.has_content_sha256;
    memcpy(out->content_sha256, s.content_sha256, sizeof(out->content_sha256));
    out->security_token = s.security_token;
    memcpy(out->authorization, s.authorization, s.authorization_len + 1);
    out->authorization_len = s.authorization_len;
    return 0;
}

int sigv4a_sign(struct sigv4a_key_cache *cache, enum sigv4a_algorithm alg,
                const struct sigv4_creds *creds, const struct sigv4_params *p,
                const struct sigv4_request *req, struct sigv4a_signed *out, struct sp_err *err) {
    struct sigv4_draft d;
    size_t auth_len;
    unsigned char digest[32];

    ENSURE(cache != NULL && out != NULL, err, CODE_SIGNING, "key cache or output is missing");
    if (alg == SIGV4A_ALG_SIGV4) {
        return sign_v4(cache, creds, p, req, out, err);
    }
    ENSURE(alg == SIGV4A_ALG_SIGV4A, err, CODE_SIGNING, "unknown signing algorithm %d", (int)alg);
    /* Leaves room for the longest signature and the NUL. */
    GUARD(sigv4_draft(&cache->v4, &v4a_variant, creds, p, req, out->authorization,
                      sizeof(out->authorization) - 1 - SIGV4A_SIGNATURE_HEX_MAX, &auth_len, &d,
                      err));
    /* sigv4_draft() checked the credentials, so the secret is 1..max bytes. */
    GUARD(cache_keys(cache, creds, strlen(creds->secret_access_key), err));
    GUARD(sha256_of(cache->v4.md, cache->v4.sha256, d.string_to_sign, d.string_to_sign_len, digest,
                    err));
    GUARD(sign_digest(cache->sign, digest, out->signature, &out->signature_len, err));

    memcpy(out->amz_date, d.amz_date, sizeof(out->amz_date));
    out->region_set = p->region;
    put_common(out, creds, p, req);
    memcpy(out->authorization + auth_len, out->signature, out->signature_len);
    out->authorization_len = auth_len + out->signature_len;
    out->authorization[out->authorization_len] = '\0';
    return 0;
}

/* ---- the text stages ---- */

int sigv4a_canonical_request(const struct sigv4_creds *creds, const struct sigv4_params *p,
                             const struct sigv4_request *req, char *buf, size_t cap, size_t *len,
                             struct sp_err *err) {
    return sigv4_canonical_request_as(&v4a_variant, creds, p, req, buf, cap, len, err);
}

int sigv4a_string_to_sign(const struct sigv4_params *p, const char *canonical, size_t canonical_len,
                          char *buf, size_t cap, size_t *len, struct sp_err *err) {
    return sigv4_string_to_sign_as(&v4a_variant, p, canonical, canonical_len, buf, cap, len, err);
}
