/* model.c - lookups over the generated model tables (api/model.h). */
#include "api/model.h"

#include <stdint.h>

#include <string.h>

/* model_shape.roles holds one bit per role. */
_Static_assert(MODEL_ROLE_COUNT <= 32, "model_shape.roles has 32 bits");

/* strcmp ordering between a counted string and a NUL-terminated one. */
static int cmp_counted(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static const struct model_op *find_by_name(const struct model_service *svc, const char *name,
                                           size_t len) {
    size_t lo = 0, hi = svc->n_ops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_counted(name, len, svc->ops[mid].name);
        if (c == 0) {
            return &svc->ops[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

static const struct model_op *find_by_snake(const struct model_service *svc, const char *name,
                                            size_t len) {
    size_t lo = 0, hi = svc->n_ops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct model_op *op = &svc->ops[svc->ops_by_snake[mid]];
        int c = cmp_counted(name, len, op->snake_name);
        if (c == 0) {
            return op;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const struct model_op *model_find_op(const struct model_service *svc, const char *name,
                                     size_t len) {
    if (name == NULL || len == 0) {
        return NULL;
    }
    /* SES names start with a capital letter, boto3's with a lowercase one. */
    if (name[0] >= 'A' && name[0] <= 'Z') {
        return find_by_name(svc, name, len);
    }
    return find_by_snake(svc, name, len);
}

const struct model_member *model_find_member(const struct model_shape *shape, const char *name) {
    for (uint16_t i = 0; i < shape->n_members; i++) {
        if (strcmp(shape->members[i].name, name) == 0) {
            return &shape->members[i];
        }
    }
    return NULL;
}

const struct model_member *model_find_wire_member(const struct model_shape *shape, const char *name,
                                                  size_t len) {
    for (uint16_t i = 0; i < shape->n_members; i++) {
        const struct model_member *m = &shape->members[i];
        const char *wire = m->wire_name != NULL ? m->wire_name : m->name;
        if (cmp_counted(name, len, wire) == 0) {
            return m;
        }
    }
    return NULL;
}

const struct model_error *model_find_error(const struct model_service *svc, const char *code) {
    size_t lo = 0, hi = svc->n_errors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(code, svc->errors[mid].code);
        if (c == 0) {
            return &svc->errors[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const char *model_type_name(enum model_type t) {
    switch (t) {
    case MODEL_STRUCTURE:
        return "structure";
    case MODEL_LIST:
        return "list";
    case MODEL_MAP:
        return "map";
    case MODEL_STRING:
        return "string";
    case MODEL_INTEGER:
        return "integer";
    case MODEL_LONG:
        return "long";
    case MODEL_DOUBLE:
        return "double";
    case MODEL_FLOAT:
        return "float";
    case MODEL_BOOLEAN:
        return "boolean";
    case MODEL_TIMESTAMP:
        return "timestamp";
    case MODEL_BLOB:
        return "blob";
    }
    return "unknown";
}

const char *model_role_name(enum model_role r) {
    /* The names tools/gen_model.py uses (ROLES), in enum order. */
    static const char *const names[MODEL_ROLE_COUNT] = {
        [MODEL_ROLE_NONE] = "NONE",
        [MODEL_ROLE_IDENTITY] = "IDENTITY",
        [MODEL_ROLE_IDENTITY_ARN] = "IDENTITY_ARN",
        [MODEL_ROLE_MAILBOX] = "MAILBOX",
        [MODEL_ROLE_MAIL_FROM_DOMAIN] = "MAIL_FROM_DOMAIN",
        [MODEL_ROLE_REPLY_TO] = "REPLY_TO",
        [MODEL_ROLE_RECIPIENTS] = "RECIPIENTS",
        [MODEL_ROLE_RAW_MESSAGE] = "RAW_MESSAGE",
        [MODEL_ROLE_HEADERS] = "HEADERS",
        [MODEL_ROLE_RECEIPT_RECIPIENTS] = "RECEIPT_RECIPIENTS",
        [MODEL_ROLE_CONFIGURATION_SET] = "CONFIGURATION_SET",
        [MODEL_ROLE_TEMPLATE] = "TEMPLATE",
        [MODEL_ROLE_TEMPLATE_ARN] = "TEMPLATE_ARN",
        [MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE] = "CUSTOM_VERIFICATION_TEMPLATE",
        [MODEL_ROLE_CONTACT_LIST] = "CONTACT_LIST",
        [MODEL_ROLE_TENANT] = "TENANT",
        [MODEL_ROLE_DEDICATED_IP_POOL] = "DEDICATED_IP_POOL",
        [MODEL_ROLE_MULTI_REGION_ENDPOINT] = "MULTI_REGION_ENDPOINT",
        [MODEL_ROLE_ENDPOINT_ID] = "ENDPOINT_ID",
        [MODEL_ROLE_RESOURCE_ARN] = "RESOURCE_ARN",
    };
    if ((unsigned)r >= MODEL_ROLE_COUNT || names[r] == NULL) {
        return "unknown";
    }
    return names[r];
}

const struct model_service *model_op_service(const struct model_op *op) {
    uintptr_t p = (uintptr_t)op, first = (uintptr_t)model_sesv2.ops;
    if (p >= first && p < first + model_sesv2.n_ops * sizeof(*op)) {
        return &model_sesv2;
    }
    return &model_ses;
}

const char *model_op_prefix(const struct model_op *op) {
    return model_op_service(op) == &model_sesv2 ? "v2:" : "";
}
