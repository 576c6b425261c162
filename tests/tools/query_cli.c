/* query_cli - validate + query_serialize one call, for the botocore oracle.
 *
 * stdin: {"Action": "<SES or boto3 name>", ...params}
 * exit 0: the form body on stdout (no newline);
 * exit 1: "ValidationError: <message>" on stdout;
 * exit 2: no such action, or stdin is not a JSON object with "Action". */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/model.h"
#include "api/query.h"
#include "api/validate.h"

static int on_write(void *ctx, const void *data, size_t len) {
    return fwrite(data, 1, len, (FILE *)ctx) == len ? 0 : -1;
}

int main(void) {
    json_error_t jerr;
    struct sp_err err;
    json_t *root = json_loadf(stdin, 0, &jerr);
    json_t *action = json_object_get(root, "Action");
    const struct model_op *op = NULL;
    int rc = 2;
    sp_err_clear(&err);
    if (json_is_string(action)) {
        op = model_find_op(&model_ses, json_string_value(action), json_string_length(action));
    }
    if (op == NULL) {
        fprintf(stderr, "query_cli: %s\n", root == NULL ? jerr.text : "unknown or missing Action");
        goto cleanup;
    }
    json_object_del(root, "Action");
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
