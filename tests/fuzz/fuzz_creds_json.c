/* fuzz_creds_json.c - libFuzzer target for the parsers of credential
 * answers and settings: proxy/creds/creds_json (IMDS / container / process
 * JSON, STS XML, expirations through api/iso8601), creds_url_parse
 * (creds_http) and creds_provider_process_split.
 *
 * Input: the first byte picks the parser (mod 5), the rest is its input.
 * Each must succeed or fail cleanly; parsing is deterministic (two runs
 * agree field by field); a parsed document's strings are NUL-terminated
 * and within bounds; a set built from it has printable fields; split words
 * re-join to no more bytes than the input had. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds.h"
#include "proxy/creds/creds_http.h"
#include "proxy/creds/creds_json.h"
#include "proxy/creds/creds_provider_process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_doc(int rc1, const struct creds_doc *a, int rc2, const struct creds_doc *b) {
    if (rc1 != rc2) {
        abort();
    }
    if (rc1 < 0) {
        if (a->access_key_id != NULL || a->secret_access_key != NULL || a->is_error) {
            abort(); /* a failure leaves nothing behind */
        }
        return;
    }
    if (!same(a->access_key_id, b->access_key_id) ||
        !same(a->secret_access_key, b->secret_access_key) ||
        !same(a->session_token, b->session_token) || !same(a->expiration, b->expiration) ||
        !same(a->code, b->code) || !same(a->message, b->message) || a->version != b->version ||
        a->is_error != b->is_error) {
        abort();
    }
    struct sp_err err;
    struct creds *c = creds_from_doc(a, "fuzz", 0, 0, &err);
    if (c != NULL) {
        for (const char *p = c->secret_access_key; *p; p++) {
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
                abort();
            }
        }
        creds_unref(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    int mode = data[0] % 5;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct creds_doc a, b;
    struct sp_err err;
    if (mode == 0 || mode == 1) {
        int rc1, rc2;
        if (mode == 0) {
            rc1 = creds_json_parse(in, n, &a, &err);
            rc2 = creds_json_parse(in, n, &b, &err);
        } else {
            rc1 = creds_sts_xml_parse(in, n, &a, &err);
            rc2 = creds_sts_xml_parse(in, n, &b, &err);
        }
        check_doc(rc1, &a, rc2, &b);
        creds_doc_clear(&a);
        creds_doc_clear(&b);
        if (a.access_key_id != NULL || a.version != -1) {
            abort();
        }
        return 0;
    }
    /* The rest take C strings: the input up to its first NUL. */
    char *s = malloc(n + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, in, n);
    s[n] = '\0';
    if (mode == 2) {
        time_t t1, t2;
        int r1 = creds_parse_time(s, &t1);
        int r2 = creds_parse_time(s, &t2);
        if (r1 != r2 || (r1 == 0 && (t1 != t2 || t1 < -86400))) {
            abort();
        }
    } else if (mode == 3) {
        struct creds_url u;
        if (creds_url_parse(s, "FUZZ", &u, &err) == 0) {
            if (u.host[0] == '\0' || u.path[0] != '/' || u.port < 1 || u.port > 65535 ||
                strpbrk(u.path, " \r\n") != NULL) {
                abort();
            }
        }
    } else {
        char **argv;
        int argc;
        if (creds_provider_process_split(s, &argv, &argc, &err) == 0) {
            size_t total = 0;
            if (argc < 1 || argv[argc] != NULL) {
                abort();
            }
            for (int i = 0; i < argc; i++) {
                total += strlen(argv[i]);
            }
            if (total > strlen(s)) {
                abort();
            }
            creds_provider_process_argv_free(argv);
        } else if (argv != NULL) {
            abort();
        }
    }
    free(s);
    return 0;
}
