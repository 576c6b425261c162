/* sigv4_bench.c - signatures per second for a typical SES request.
 *
 * SigV4: POST / to email.us-east-1.amazonaws.com with Host and Content-Type,
 * the payload hash given, and a cached signing key (the proxy's steady
 * state). SigV4a: SES v2's SendEmail to a multi-region endpoint, region set
 * "*", with the cached key pair; and what deriving that key pair costs once
 * per credentials (a cache miss, less a cached signature).
 * Runs each case for about two seconds on one core and prints e.g.
 *   sigv4: 812345 signatures/s (cached key, 1 core)
 *   sigv4a: 31234 signatures/s (cached key, 1 core)
 *   sigv4a: key derivation 95 us per credentials (once, then cached)
 * The clock is read here, never in the signer. Exits non-zero if signing
 * fails. */
#include "signer/sigv4.h"
#include "signer/sigv4a.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BENCH_SECONDS 2.0

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define HDR(n, v)                                                                                  \
    { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static const struct sigv4_header headers[] = {
    HDR("Host", "email.us-east-1.amazonaws.com"),
    HDR("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
};

/* Signs for about BENCH_SECONDS and returns signatures per second, or -1. */
static double bench_sign(const struct sigv4_creds *creds, const char *payload_hash) {
    struct sigv4_key_cache cache;
    struct sigv4_signed out;
    struct sp_err err;
    struct sigv4_params p = {"us-east-1", "ses", 1714566896, 1, 0, 0};
    struct sigv4_request req = {"POST", "/", 1, NULL, 0, headers, 2, payload_hash};
    unsigned long n = 0;
    double start, elapsed;

    sigv4_key_cache_init(&cache);
    start = now_seconds();
    do {
        for (int i = 0; i < 4096; i++) {
            /* A new second each time, as in real traffic; the key stays cached. */
            p.when = 1714566896 + (time_t)(n % 3600);
            if (sigv4_sign(&cache, creds, &p, &req, &out, &err) != 0) {
                fprintf(stderr, "sigv4_sign: %s: %s\n", err.code, err.msg);
                sigv4_key_cache_clear(&cache);
                return -1;
            }
            n++;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < BENCH_SECONDS);
    sigv4_key_cache_clear(&cache);
    return (double)n / elapsed;
}

static const struct sigv4_header v2_headers[] = {
    HDR("Host", "abcd1234.efgh.endpoints.email.amazonaws.com"),
    HDR("Content-Type", "application/json"),
};

/* SigV4a signatures per second with the key pair cached, or -1. */
static double bench_sign_v4a(const struct sigv4_creds *creds, const char *payload_hash) {
    struct sigv4a_key_cache cache;
    struct sigv4a_signed out;
    struct sp_err err;
    struct sigv4_params p = {"*", "ses", 1714566896, 1, 0, 0};
    struct sigv4_request req = {
        "POST", "/v2/email/outbound-emails", 25, NULL, 0, v2_headers, 2, payload_hash};
    unsigned long n = 0;
    double start, elapsed;

    sigv4a_key_cache_init(&cache);
    start = now_seconds();
    do {
        for (int i = 0; i < 256; i++) {
            p.when = 1714566896 + (time_t)(n % 3600);
            if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, creds, &p, &req, &out, &err) != 0) {
                fprintf(stderr, "sigv4a_sign: %s: %s\n", err.code, err.msg);
                sigv4a_key_cache_clear(&cache);
                return -1;
            }
            n++;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < BENCH_SECONDS);
    sigv4a_key_cache_clear(&cache);
    return (double)n / elapsed;
}

/* Seconds per SigV4a cache miss (derive the key pair, then sign), each
 * with new credentials, or -1. */
static double bench_v4a_miss(const char *payload_hash) {
    struct sigv4a_key_cache cache;
    struct sigv4a_signed out;
    struct sp_err err;
    struct sigv4_params p = {"*", "ses", 1714566896, 1, 0, 0};
    struct sigv4_request req = {
        "POST", "/v2/email/outbound-emails", 25, NULL, 0, v2_headers, 2, payload_hash};
    char akid[32];
    struct sigv4_creds creds = {akid, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};
    unsigned long n = 0;
    double start, elapsed;

    sigv4a_key_cache_init(&cache);
    start = now_seconds();
    do {
        for (int i = 0; i < 64; i++) {
            snprintf(akid, sizeof(akid), "AKIAIOSFODNN%08lu", n);
            if (sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, &creds, &p, &req, &out, &err) != 0) {
                fprintf(stderr, "sigv4a_sign: %s: %s\n", err.code, err.msg);
                sigv4a_key_cache_clear(&cache);
                return -1;
            }
            n++;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < BENCH_SECONDS / 2);
    int ok = cache.derivations == n;
    sigv4a_key_cache_clear(&cache);
    return ok ? elapsed / (double)n : -1;
}

/* Body hashing is the other per-request cost. */
static double bench_body_hash(size_t body_len) {
    static char body[1 << 16];
    char hex[65];
    unsigned long n = 0;
    double start, elapsed;
    memset(body, 'a', body_len);
    start = now_seconds();
    do {
        for (int i = 0; i < 1024; i++) {
            sigv4_sha256_hex(body, body_len, hex);
            n++;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < BENCH_SECONDS / 2);
    return hex[0] != '\0' ? (double)n / elapsed : -1;
}

int main(void) {
    const char *hash = "8e2b21df508e3ce8a8d6620aacaf66c75afad72b3e2cbe161e444ece892c6e33";
    struct sigv4_creds plain = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                NULL};
    struct sigv4_creds temp = plain;
    temp.session_token = "FwoGZXIvYXdzEXAMPLE//////////token+with/slashes==";

    double a = bench_sign(&plain, hash);
    double b = bench_sign(&temp, hash);
    double c = bench_body_hash(1024);
    double d = bench_sign_v4a(&plain, hash);
    double e = bench_sign_v4a(&temp, hash);
    double miss = bench_v4a_miss(hash);
    if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0 || miss < 0) {
        return 1;
    }
    printf("sigv4: %.0f signatures/s (cached key, 1 core)\n", a);
    printf("sigv4: %.0f signatures/s (cached key, session token signed, 1 core)\n", b);
    printf("sigv4: %.0f body hashes/s (1 KiB, sigv4_sha256_hex)\n", c);
    printf("sigv4a: %.0f signatures/s (cached key, 1 core)\n", d);
    printf("sigv4a: %.0f signatures/s (cached key, session token signed, 1 core)\n", e);
    /* A miss is a derivation plus one signature; the signature is the
     * cached rate's. */
    printf("sigv4a: key derivation %.0f us per credentials (once, then cached; a miss with its "
           "first signature: %.0f us)\n",
           (miss - 1.0 / d) * 1e6, miss * 1e6);
    return 0;
}
