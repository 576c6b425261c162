/* sigv4a_cli - sign or verify one HTTP request with signer/sigv4a, for the
 * oracle tests (botocore signs and checks the other side).
 *
 *   sigv4a_cli sign [--time UNIX] [--region-set SET] [--service NAME]
 *                   [--sign-body] [--omit-token] [--no-normalize]
 *   sigv4a_cli verify [--no-normalize]
 *
 * Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN (optional), never from arguments. stdin holds the
 * request: "METHOD target HTTP/1.1", "Name: value" lines (LF or CRLF), an
 * empty line, then the body up to EOF.
 *
 * sign (defaults: now, "*", "ses"): the payload hash is the body's SHA-256;
 * every header given is signed. Prints the headers to add, one
 * "Name: value" line each, and exits 0.
 *
 * verify: checks the request's SigV4a Authorization as a server would: the
 * headers it names (X-Amz-Date, X-Amz-Region-Set and, when present, the
 * token and x-amz-content-sha256, which must be the body's hash) give the
 * canonical request; the signature must verify with the key derived from
 * the credentials, for the key id in the scope, and the token sent must be
 * AWS_SESSION_TOKEN's (or none with none). Prints "ok" and exits 0, or
 * "<Code>: <reason>" and exits 1; the canonical request and string to sign
 * go to stderr.
 *
 * Exit 2: bad arguments or a request that cannot be parsed. */
#include "signer/sigv4a.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#define INPUT_MAX (1 << 20)

struct request {
    char method[32];
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    struct sigv4_header headers[SIGV4_MAX_HEADERS + 8];
    size_t n_headers;
    const char *body;
    size_t body_len;
};

static int usage(void) {
    fprintf(stderr, "usage: sigv4a_cli sign|verify [options] < request (see the source)\n");
    return 2;
}

/* Parses text in place (line ends and the ": " after names are left as
 * they are; the views exclude them). */
static int parse_request(char *text, size_t len, struct request *r) {
    char *end = text + len;
    char *eol = memchr(text, '\n', len);
    char *sp = eol != NULL ? memchr(text, ' ', (size_t)(eol - text)) : NULL;
    size_t line_len = eol != NULL ? (size_t)(eol - text) : 0;
    if (line_len > 0 && text[line_len - 1] == '\r') {
        line_len--;
    }
    if (sp == NULL || (size_t)(sp - text) >= sizeof(r->method) || line_len < 9 ||
        memcmp(text + line_len - 9, " HTTP/1.1", 9) != 0 || text + line_len - 9 < sp + 1) {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    memcpy(r->method, text, (size_t)(sp - text));
    const char *target = sp + 1;
    size_t target_len = (size_t)(text + line_len - 9 - target);
    const char *q = memchr(target, '?', target_len);
    r->path = target;
    r->path_len = q != NULL ? (size_t)(q - target) : target_len;
    if (q != NULL) {
        r->query = q + 1;
        r->query_len = target_len - r->path_len - 1;
    }
    char *p = eol + 1;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl != NULL ? nl : end;
        size_t n = (size_t)(le - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            r->body = nl != NULL ? nl + 1 : end;
            r->body_len = (size_t)(end - r->body);
            return 0;
        }
        char *colon = memchr(p, ':', n);
        if (colon == NULL || r->n_headers == sizeof(r->headers) / sizeof(r->headers[0])) {
            return -1;
        }
        const char *v = colon + 1;
        while (v < p + n && (*v == ' ' || *v == '\t')) {
            v++;
        }
        r->headers[r->n_headers++] =
            (struct sigv4_header){p, (size_t)(colon - p), v, (size_t)(p + n - v)};
        p = nl != NULL ? nl + 1 : end;
    }
    r->body = end;
    return 0;
}

static int name_eq(const struct sigv4_header *h, const char *name, size_t n) {
    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

static const struct sigv4_header *find(const struct request *r, const char *name) {
    for (size_t i = 0; i < r->n_headers; i++) {
        if (name_eq(&r->headers[i], name, strlen(name))) {
            return &r->headers[i];
        }
    }
    return NULL;
}

/* Copies a header value into buf (NUL-terminated), or fails. */
static int value_of(const struct request *r, const char *name, char *buf, size_t cap) {
    const struct sigv4_header *h = find(r, name);
    if (h == NULL || h->value_len >= cap) {
        return -1;
    }
    memcpy(buf, h->value, h->value_len);
    buf[h->value_len] = '\0';
    return 0;
}

static int fail(const char *code, const char *reason) {
    printf("%s: %s\n", code, reason);
    return 1;
}

/* Is name (lowercase, n bytes) an element of the ';'-separated list? */
static int listed(const char *list, const char *name, size_t n) {
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ";");
        if (len == n && strncasecmp(p, name, n) == 0) {
            return 1;
        }
        p += len + (p[len] == ';');
    }
    return 0;
}

static int cmd_sign(int argc, char **argv, const struct sigv4_creds *creds, struct request *r) {
    struct sigv4_params p = {"*", "ses", time(NULL), 1, 0, 0};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            p.when = (time_t)strtoll(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--region-set") == 0 && i + 1 < argc) {
            p.region = argv[++i];
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            p.service = argv[++i];
        } else if (strcmp(argv[i], "--sign-body") == 0) {
            p.add_content_sha256 = 1;
        } else if (strcmp(argv[i], "--omit-token") == 0) {
            p.omit_session_token = 1;
        } else if (strcmp(argv[i], "--no-normalize") == 0) {
            p.normalize_path = 0;
        } else {
            return usage();
        }
    }
    char hash[65];
    sigv4_sha256_hex(r->body, r->body_len, hash);
    struct sigv4_request req = {r->method,    r->path,    r->path_len,  r->query,
                                r->query_len, r->headers, r->n_headers, hash};
    struct sigv4a_key_cache cache;
    struct sigv4a_signed out;
    struct sp_err err;
    sigv4a_key_cache_init(&cache);
    int rc = sigv4a_sign(&cache, SIGV4A_ALG_SIGV4A, creds, &p, &req, &out, &err);
    sigv4a_key_cache_clear(&cache);
    if (rc != 0) {
        fprintf(stderr, "sigv4a_cli: %s: %s\n", err.code, err.msg);
        return 2;
    }
    printf("X-Amz-Date: %s\nX-Amz-Region-Set: %s\n", out.amz_date, out.region_set);
    if (out.security_token != NULL) {
        printf("X-Amz-Security-Token: %s\n", out.security_token);
    }
    if (out.has_content_sha256) {
        printf("x-amz-content-sha256: %s\n", out.content_sha256);
    }
    printf("Authorization: %s\n", out.authorization);
    return 0;
}

/* The Authorization value's parts, NUL-terminated in place. */
struct auth_parts {
    char *credential, *signed_headers, *signature;
};

static int split_authorization(char *v, struct auth_parts *a) {
    size_t alg = strlen(SIGV4A_ALGORITHM);
    memset(a, 0, sizeof(*a));
    if (strncmp(v, SIGV4A_ALGORITHM, alg) != 0 || v[alg] != ' ') {
        return -1;
    }
    for (char *tok = strtok(v + alg + 1, ","); tok != NULL; tok = strtok(NULL, ",")) {
        tok += strspn(tok, " ");
        if (strncmp(tok, "Credential=", 11) == 0) {
            a->credential = tok + 11;
        } else if (strncmp(tok, "SignedHeaders=", 14) == 0) {
            a->signed_headers = tok + 14;
        } else if (strncmp(tok, "Signature=", 10) == 0) {
            a->signature = tok + 10;
        }
    }
    return a->credential && a->signed_headers && a->signature ? 0 : -1;
}

static int cmd_verify(int argc, char **argv, struct sigv4_creds *creds, struct request *r) {
    struct sigv4_params p = {NULL, NULL, 0, 1, 0, 0};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--no-normalize") == 0) {
            p.normalize_path = 0;
        } else {
            return usage();
        }
    }
    char auth[SIGV4_AUTHORIZATION_MAX], date[32], set[SIGV4_MAX_REGION_SET_LEN + 1];
    char scope[SIGV4_AUTHORIZATION_MAX], body_hash[65], sent_hash[80];
    struct auth_parts a;
    if (value_of(r, "Authorization", auth, sizeof(auth)) < 0 || split_authorization(auth, &a) < 0) {
        return fail("IncompleteSignature", "no SigV4a Authorization with its three parts");
    }
    if (value_of(r, "X-Amz-Date", date, sizeof(date)) < 0 ||
        value_of(r, "X-Amz-Region-Set", set, sizeof(set)) < 0) {
        return fail("IncompleteSignature", "X-Amz-Date or X-Amz-Region-Set missing");
    }
    /* Credential=<akid>/<yyyymmdd>/<service>/aws4_request */
    snprintf(scope, sizeof(scope), "%s", a.credential);
    char *akid = strtok(scope, "/");
    char *sdate = strtok(NULL, "/");
    char *service = strtok(NULL, "/");
    char *term = strtok(NULL, "/");
    if (term == NULL || strcmp(term, "aws4_request") != 0 || strtok(NULL, "/") != NULL) {
        return fail("IncompleteSignature", "Credential is not akid/date/service/aws4_request");
    }
    if (strcmp(akid, creds->access_key_id) != 0) {
        return fail("InvalidClientTokenId", "unknown access key id");
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strlen(date) != 16 ||
        sscanf(date, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6 ||
        strncmp(sdate, date, 8) != 0 || strlen(sdate) != 8) {
        return fail("SignatureDoesNotMatch", "X-Amz-Date malformed or not the scope's date");
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    p.when = timegm(&tm);
    p.region = set;
    p.service = service;

    /* The signer adds the synthetic headers itself: pass the others named
     * in SignedHeaders, and turn the synthetic ones into parameters. */
    struct sigv4_header signed_hdrs[SIGV4_MAX_HEADERS];
    size_t n = 0;
    char token[4096];
    const char *want_token = creds->session_token != NULL ? creds->session_token : "";
    creds->session_token = NULL;
    if (value_of(r, "X-Amz-Security-Token", token, sizeof(token)) == 0) {
        creds->session_token = token;
        p.omit_session_token = !listed(a.signed_headers, "x-amz-security-token", 20);
    }
    if (strcmp(creds->session_token != NULL ? creds->session_token : "", want_token) != 0) {
        return fail("InvalidClientTokenId", "the security token is not the expected one");
    }
    sigv4_sha256_hex(r->body, r->body_len, body_hash);
    const char *payload_hash = body_hash;
    if (value_of(r, "x-amz-content-sha256", sent_hash, sizeof(sent_hash)) == 0) {
        if (strcmp(sent_hash, body_hash) != 0) {
            return fail("XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the body's");
        }
        p.add_content_sha256 = listed(a.signed_headers, "x-amz-content-sha256", 20);
    }
    static const char *const synthetic[] = {"x-amz-date", "x-amz-region-set",
                                            "x-amz-security-token", "x-amz-content-sha256"};
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct sigv4_header *h = &r->headers[i];
        int skip = !listed(a.signed_headers, h->name, h->name_len);
        for (size_t k = 0; k < 4; k++) {
            skip |= name_eq(h, synthetic[k], strlen(synthetic[k]));
        }
        if (!skip && n < SIGV4_MAX_HEADERS) {
            signed_hdrs[n++] = *h;
        }
    }
    struct sigv4_request req = {r->method,    r->path,     r->path_len, r->query,
                                r->query_len, signed_hdrs, n,           payload_hash};
    char canonical[1 << 16], sts[SIGV4_STRING_TO_SIGN_MAX];
    size_t canonical_len, sts_len;
    struct sp_err err;
    if (sigv4a_canonical_request(creds, &p, &req, canonical, sizeof(canonical), &canonical_len,
                                 &err) < 0 ||
        sigv4a_string_to_sign(&p, canonical, canonical_len, sts, sizeof(sts), &sts_len, &err) < 0) {
        return fail(err.code, err.msg);
    }
    fprintf(stderr, "%.*s\n--\n%.*s\n", (int)canonical_len, canonical, (int)sts_len, sts);
    /* The list we signed (the canonical request's second-to-last line) must
     * be the one the request names: a header named but absent is refused. */
    const char *last_nl = memrchr(canonical, '\n', canonical_len);
    const char *sh_end = last_nl;
    const char *sh =
        last_nl != NULL ? memrchr(canonical, '\n', (size_t)(last_nl - canonical)) : NULL;
    if (sh == NULL || (size_t)(sh_end - sh - 1) != strlen(a.signed_headers) ||
        strncmp(sh + 1, a.signed_headers, strlen(a.signed_headers)) != 0) {
        return fail("SignatureDoesNotMatch", "SignedHeaders names headers the request lacks");
    }
    unsigned char key[32], pub[SIGV4A_PUBLIC_KEY_LEN];
    int rc = sigv4a_derive_key(creds, key, &err) == 0 && sigv4a_public_key(key, pub, &err) == 0 &&
             sigv4a_verify(pub, sts, sts_len, a.signature, strlen(a.signature), &err) == 0;
    OPENSSL_cleanse(key, sizeof(key));
    if (!rc) {
        return fail(err.code, err.msg);
    }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    static char input[INPUT_MAX + 1];
    struct request r;
    if (argc < 2) {
        return usage();
    }
    struct sigv4_creds creds = {getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
                                getenv("AWS_SESSION_TOKEN")};
    if (creds.access_key_id == NULL || creds.secret_access_key == NULL) {
        fprintf(stderr, "sigv4a_cli: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set\n");
        return 2;
    }
    size_t len = fread(input, 1, INPUT_MAX + 1, stdin);
    if (len > INPUT_MAX || parse_request(input, len, &r) < 0) {
        fprintf(stderr, "sigv4a_cli: stdin is not an HTTP/1.1 request\n");
        return 2;
    }
    if (strcmp(argv[1], "sign") == 0) {
        return cmd_sign(argc, argv, &creds, &r);
    }
    if (strcmp(argv[1], "verify") == 0) {
        return cmd_verify(argc, argv, &creds, &r);
    }
    return usage();
}
