/* query_cli - validate + query_serialize one call, for the botocore oracle.
 *
 *   query_cli              stdin: {"Action": "<SES or boto3 name>", ...params}
 *   query_cli --form OP    stdin: an SDK's form body for operation OP, read
 *                          with form_params_parse (pass-through mode)
 * exit 0: the form body the proxy would send, on stdout (no newline);
 * exit 1: "<Code>: <message>" on stdout (the call is refused);
 * exit 2: no such action, or stdin is not a JSON object with "Action". */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/form_params.h"
#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"

static int on_write(void *ctx, const void *data, size_t len) {
    return fwrite(data, 1, len, (FILE *)ctx) == len ? 0 : -1;
}

/* --form OP: the parameters of the form body on stdin. */
static json_t *from_form(const struct model_op *op, struct sp_err *err) {
    size_t cap = 1 << 16, len = 0, n;
    char *body = malloc(cap);
    while (body != NULL && (n = fread(body + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(body, cap * 2);
            if (bigger == NULL) {
                free(body);
                body = NULL;
                break;
            }
            body = bigger;
            cap *= 2;
        }
    }
    json_t *params = NULL;
    if (body == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    } else if (form_params_parse(&model_ses, op, body, len, &params, err) < 0) {
        params = NULL;
    }
    free(body);
    return params;
}

int main(int argc, char **argv) {
    json_error_t jerr;
    struct sp_err err;
    const struct model_op *op = NULL;
    json_t *root = NULL;
    int rc = 2;
    sp_err_clear(&err);
    if (argc == 3 && strcmp(argv[1], "--form") == 0) {
        op = model_find_op(&model_ses, argv[2], strlen(argv[2]));
        if (op == NULL) {
            fprintf(stderr, "query_cli: no such operation %s\n", argv[2]);
            return 2;
        }
        root = from_form(op, &err);
        if (root == NULL) {
            printf("%s: %s\n", err.code, err.msg);
            return 1;
        }
    } else {
        root = json_loadf(stdin, 0, &jerr);
        json_t *action = json_object_get(root, "Action");
        if (json_is_string(action)) {
            op = model_find_op(&model_ses, json_string_value(action), json_string_length(action));
        }
        if (op == NULL) {
            fprintf(stderr, "query_cli: %s\n",
                    root == NULL ? jerr.text : "unknown or missing Action");
            goto cleanup;
        }
        json_object_del(root, "Action");
    }
    if (validate_params(&model_ses, op, root, &err) < 0) {
        printf("%s: %s\n", err.code, err.msg);
        rc = 1;
        goto cleanup;
    }
    if (query_serialize(&model_ses, op, root, on_write, stdout, &err) < 0) {
        fprintf(stderr, "query_cli: %s: %s\n", err.code, err.msg);
        rc = 2;
        goto cleanup;
    }
    rc = fflush(stdout) == 0 ? 0 : 2;
cleanup:
    json_decref(root);
    return rc;
}
