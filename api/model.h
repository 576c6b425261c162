/* model.h - the SES model as data: operations, shapes, limits.
 *
 * The tables are generated from botocore's service-2.json by
 * tools/gen_model.py into api/model_<service>.c and compiled into the binary,
 * so the executable reads no data file at run time. Everything here is
 * immutable static data: nothing is allocated, nothing is freed, every
 * pointer returned is borrowed for the life of the process.
 *
 * This module does no I/O. */
#ifndef SP_MODEL_H
#define SP_MODEL_H

#include <stddef.h>
#include <stdint.h>

enum model_type {
    MODEL_STRUCTURE,
    MODEL_LIST,
    MODEL_MAP,
    MODEL_STRING,
    MODEL_INTEGER,
    MODEL_LONG,
    MODEL_DOUBLE,
    MODEL_FLOAT,
    MODEL_BOOLEAN,
    MODEL_TIMESTAMP,
    MODEL_BLOB,
};

struct model_member {
    const char *name;      /* member name as clients spell it (JSON key) */
    const char *wire_name; /* locationName on the wire, or NULL = name */
    uint16_t shape;        /* index into model_service.shapes */
    uint8_t required;
};

struct model_shape {
    const char *name;
    enum model_type type;
    uint8_t flattened;
    uint8_t has_min, has_max;
    int64_t min, max;             /* length for strings/lists/maps, value for numbers */
    const char *timestamp_format; /* NULL = protocol default (iso8601) */
    const char *const *enums;     /* NULL when not an enum */
    uint16_t n_enums;
    /* structure: its members in model order; list: members[0] is the
     * element; map: members[0] is the key, members[1] the value. */
    const struct model_member *members;
    uint16_t n_members;
};

enum model_op_class {
    MODEL_OP_PLAIN = 0,
    MODEL_OP_SEND = 1, /* draws on the account's send rate, in recipients */
};

struct model_op {
    const char *name;           /* SES name, e.g. "SetIdentityMailFromDomain" */
    const char *snake_name;     /* boto3's, e.g. "set_identity_mail_from_domain" */
    int32_t input;              /* shape index or -1 */
    int32_t output;             /* shape index or -1 */
    const char *result_wrapper; /* e.g. "SetIdentityMailFromDomainResult", or NULL */
    uint16_t rate_per_second;   /* documented limit; 0 = none documented */
    uint8_t op_class;           /* enum model_op_class */
};

struct model_error {
    const char *code;
    uint16_t http_status;
    uint8_t sender_fault;
};

struct model_service {
    const char *service_id;      /* "SES" */
    const char *api_version;     /* "2010-12-01" */
    const char *signing_name;    /* "ses" */
    const char *endpoint_prefix; /* "email" */
    const char *xml_namespace;
    const struct model_shape *shapes;
    size_t n_shapes;
    const struct model_op *ops; /* sorted by name (strcmp) */
    size_t n_ops;
    const uint16_t *ops_by_snake;     /* indexes into ops, sorted by snake_name */
    const struct model_error *errors; /* sorted by code */
    size_t n_errors;
};

/* The embedded SES v1 model (api/model_ses.c, generated). */
extern const struct model_service model_ses;

/* Finds an operation by its SES name or its boto3 (snake_case) name, with
 * explicit length (names may come from a URL path or a JSON string that is
 * not NUL-terminated). NULL when there is no such operation. */
const struct model_op *model_find_op(const struct model_service *svc, const char *name, size_t len);

/* Shape of index i. i must be valid (generated data guarantees it). */
static inline const struct model_shape *model_shape_at(const struct model_service *svc, int32_t i) {
    return i < 0 ? NULL : &svc->shapes[i];
}

/* Member of a structure by client name, NULL when absent. */
const struct model_member *model_find_member(const struct model_shape *shape, const char *name);

/* Member of a structure by wire name (locationName or name), with length. */
const struct model_member *model_find_wire_member(const struct model_shape *shape, const char *name,
                                                  size_t len);

/* Known error by code, NULL when not in the model. */
const struct model_error *model_find_error(const struct model_service *svc, const char *code);

/* Name of a type, for messages ("string", "integer", ...). */
const char *model_type_name(enum model_type t);

#endif
