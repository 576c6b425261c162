/* xmljson_cli.c - runs api/xmljson over one SES XML body, for the botocore
 * oracle test (tests/integ/test_xmljson_oracle.py).
 *
 *   xmljson_cli OPNAME [CHUNK] < body.xml
 *
 * OPNAME is the SES or boto3 name of the operation, or "-" when only an
 * <ErrorResponse> is acceptable. CHUNK (default 4096) is how many bytes go
 * to each xmljson_feed call; 1 feeds byte by byte. Prints the JSON (sorted keys, compact) and
 * exits 0, also for an error document (then "is_error" goes to stderr);
 * prints "CODE: message" (normally "BadGateway: ...") and exits 1 when the
 * body is refused; exits 2 on a usage problem. The body is fed in chunks as
 * it is read, as the proxy feeds it from the network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/model.h"
#include "api/xmljson.h"

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: xmljson_cli OPNAME|- [CHUNK] < body.xml\n");
        return 2;
    }
    size_t chunk = 4096;
    if (argc == 3) {
        char *end = NULL;
        unsigned long v = strtoul(argv[2], &end, 10);
        if (*end != '\0' || v == 0 || v > 4096) {
            fprintf(stderr, "xmljson_cli: CHUNK must be 1..4096\n");
            return 2;
        }
        chunk = v;
    }
    const struct model_op *op = NULL;
    if (strcmp(argv[1], "-") != 0) {
        op = model_find_op(&model_ses, argv[1], strlen(argv[1]));
        if (op == NULL) {
            fprintf(stderr, "xmljson_cli: no operation %s\n", argv[1]);
            return 2;
        }
    }
    struct xmljson *x = xmljson_new(&model_ses, op);
    if (x == NULL) {
        fprintf(stderr, "xmljson_cli: out of memory\n");
        return 2;
    }
    struct sp_err err;
    sp_err_clear(&err);
    char buf[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, chunk, stdin)) > 0) {
        rc = xmljson_feed(x, buf, n, 0, &err);
    }
    json_t *out = NULL;
    int is_error = 0;
    if (rc == 0) {
        rc = xmljson_finish(x, &out, &is_error, &err);
    }
    xmljson_free(x);
    if (rc < 0) {
        printf("%s: %s\n", err.code != NULL ? err.code : "?", err.msg);
        return 1;
    }
    char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(out);
    if (text == NULL) {
        fprintf(stderr, "xmljson_cli: out of memory\n");
        return 2;
    }
    printf("%s\n", text);
    free(text);
    if (is_error) {
        fprintf(stderr, "is_error\n");
    }
    return 0;
}
