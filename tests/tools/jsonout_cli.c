/* jsonout_cli.c - runs api/jsonout over many inputs, for the Python oracle
 * test (tests/integ/test_jsonout_oracle.py).
 *
 *   jsonout_cli reals < lines   each line: a double's 64 bits as 16 hex
 *                               digits; prints jsonout's text of that real
 *   jsonout_cli docs < lines    each line: a JSON document (jansson reads
 *                               it); prints jsonout's text of it
 *
 * One output line per input line; "!" for an input that is refused (a
 * non-finite double, a document jansson does not read). Exits 2 on a usage
 * problem. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/jsonout.h"

static void print_value(json_t *v) {
    char *s = v != NULL ? jsonout_dumps(v) : NULL;
    puts(s != NULL ? s : "!");
    free(s);
    json_decref(v);
}

static json_t *real_from_hex(const char *line) {
    char *end = NULL;
    errno = 0;
    uint64_t bits = strtoull(line, &end, 16);
    if (errno != 0 || end == line || (*end != '\0' && *end != '\n')) {
        return NULL;
    }
    double d;
    memcpy(&d, &bits, sizeof(d));
    return isfinite(d) ? json_real(d) : NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "reals") != 0 && strcmp(argv[1], "docs") != 0)) {
        fprintf(stderr, "usage: jsonout_cli reals|docs < lines\n");
        return 2;
    }
    int reals = strcmp(argv[1], "reals") == 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (reals) {
            print_value(real_from_hex(line));
        } else {
            print_value(json_loadb(line, (size_t)n, JSON_DECODE_ANY, NULL));
        }
    }
    free(line);
    return 0;
}
