/* pipeline_bench.c - CPU per call of each user-space stage of a JSON call,
 * for the benchmark's SetIdentityMailFromDomain call (tests/bench/post.lua)
 * and the stand-in's fixed answer: where the proxy's own time goes, apart
 * from the kernel's socket work (which nginx pays too).
 *
 * Stages, as the proxy runs them (proxy/request.c): json_loads of the body,
 * validate_params, query_serialize into a buffer, the body's SHA-256 and
 * sigv4_sign (cached key), xmljson_parse of SES's XML, json_dumps of the
 * answer. Each runs for about half a second on one core; prints
 *   pipeline: json_loads 1.83 us/call
 *   ...
 *   pipeline: total 7.10 us/call (140845 calls/s on one core)
 * Exits non-zero if any stage fails. tests/bench/bench.sh runs it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"
#include "api/xmljson.h"
#include "signer/sigv4.h"

#define STAGE_SECONDS 0.5

static const char BODY[] =
    "{\"Action\":\"SetIdentityMailFromDomain\",\"Identity\":\"user@example.com\","
    "\"MailFromDomain\":\"bounces.example.com\","
    "\"BehaviorOnMXFailure\":\"UseDefaultValue\"}";
static const char XML[] =
    "<SetIdentityMailFromDomainResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">"
    "<SetIdentityMailFromDomainResult/><ResponseMetadata>"
    "<RequestId>f2b2a0c4-1b7e-4c2e-9d7a-3f0e4c1b2a10</RequestId></ResponseMetadata>"
    "</SetIdentityMailFromDomainResponse>";

struct ctx {
    const struct model_op *op;
    json_t *params; /* BODY without Action */
    json_t *answer; /* XML as JSON */
    char form[1024];
    size_t form_len;
    struct sigv4_key_cache cache;
    unsigned long n;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int form_sink(void *c, const void *data, size_t len) {
    struct ctx *x = c;
    if (x->form_len + len >= sizeof(x->form)) {
        return -1;
    }
    memcpy(x->form + x->form_len, data, len);
    x->form_len += len;
    return 0;
}

static int st_json_loads(struct ctx *x) {
    (void)x;
    json_t *j = json_loads(BODY, 0, NULL);
    json_decref(j);
    return j != NULL ? 0 : -1;
}

static int st_validate(struct ctx *x) {
    struct sp_err err;
    return validate_params(&model_ses, x->op, x->params, &err);
}

static int st_query(struct ctx *x) {
    struct sp_err err;
    x->form_len = 0;
    return query_serialize(&model_ses, x->op, x->params, form_sink, x, &err);
}

static int st_sign(struct ctx *x) {
    static const struct sigv4_header headers[] = {
        {"Host", 4, "email.us-east-1.amazonaws.com", 29},
        {"Content-Type", 12, "application/x-www-form-urlencoded; charset=utf-8", 48},
    };
    static const struct sigv4_creds creds = {"AKIAIOSFODNN7EXAMPLE",
                                             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};
    char hash[65];
    sigv4_sha256_hex(x->form, x->form_len, hash);
    struct sigv4_params p = {"us-east-1", "ses", 1714566896 + (time_t)(x->n % 3600), 1, 0, 0};
    struct sigv4_request req = {"POST", "/", 1, NULL, 0, headers, 2, hash};
    struct sigv4_signed out;
    struct sp_err err;
    if (sigv4_sign(&x->cache, &creds, &p, &req, &out, &err) != 0) {
        fprintf(stderr, "sigv4_sign: %s: %s\n", err.code, err.msg);
        return -1;
    }
    return 0;
}

static int st_xmljson(struct ctx *x) {
    json_t *doc = NULL;
    int is_error = 0;
    struct sp_err err;
    if (xmljson_parse(&model_ses, x->op, XML, sizeof(XML) - 1, &doc, &is_error, &err) != 0) {
        return -1;
    }
    json_decref(doc);
    return is_error ? -1 : 0;
}

static int st_json_dumps(struct ctx *x) {
    char *s = json_dumps(x->answer, JSON_COMPACT | JSON_PRESERVE_ORDER);
    free(s);
    return s != NULL ? 0 : -1;
}

/* Runs one stage for about STAGE_SECONDS; microseconds per call, or -1. */
static double run(struct ctx *x, int (*stage)(struct ctx *)) {
    double start = now_seconds(), elapsed;
    x->n = 0;
    do {
        for (int i = 0; i < 1024; i++, x->n++) {
            if (stage(x) != 0) {
                return -1;
            }
        }
        elapsed = now_seconds() - start;
    } while (elapsed < STAGE_SECONDS);
    return elapsed * 1e6 / (double)x->n;
}

int main(void) {
    static struct ctx x;
    struct sp_err err;
    int is_error = 0;
    x.op = model_find_op(&model_ses, "SetIdentityMailFromDomain", 25);
    x.params = json_loads(BODY, 0, NULL);
    if (x.op == NULL || x.params == NULL || json_object_del(x.params, "Action") != 0 ||
        xmljson_parse(&model_ses, x.op, XML, sizeof(XML) - 1, &x.answer, &is_error, &err) != 0 ||
        st_query(&x) != 0) {
        fprintf(stderr, "pipeline_bench: setup failed\n");
        return 1;
    }
    sigv4_key_cache_init(&x.cache);
    static const struct {
        const char *name;
        int (*fn)(struct ctx *);
    } stages[] = {{"json_loads", st_json_loads}, {"validate", st_validate},
                  {"query_serialize", st_query}, {"sha256+sigv4_sign", st_sign},
                  {"xmljson_parse", st_xmljson}, {"json_dumps", st_json_dumps}};
    double total = 0;
    int rc = 0;
    for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
        double us = run(&x, stages[i].fn);
        if (us < 0) {
            fprintf(stderr, "pipeline_bench: %s failed\n", stages[i].name);
            rc = 1;
            break;
        }
        printf("pipeline: %-18s %6.2f us/call\n", stages[i].name, us);
        total += us;
    }
    if (rc == 0) {
        printf("pipeline: %-18s %6.2f us/call (%.0f calls/s on one core)\n", "total", total,
               1e6 / total);
    }
    sigv4_key_cache_clear(&x.cache);
    json_decref(x.params);
    json_decref(x.answer);
    return rc;
}
