/* model.h - the SES models as data: operations, shapes, limits, and what
 * each member means to SES.
 *
 * The tables are generated from botocore's service-2.json (the copies in
 * tests/data/botocore) by tools/gen_model.py into api/model_<service>.c and
 * compiled into the binary, so the executable reads no data file at run
 * time. Two services: SES v1 (model_ses, the Query protocol) and SES v2
 * (model_sesv2, REST-JSON). Besides the shapes, the tables carry SES's rules
 * as data: each member's role (an identity, an address mail is sent as, the
 * recipients, a configuration set, ...), each operation's documented
 * per-second limit and whether it sends mail, and for REST-JSON where each
 * member travels (URI label, query string, header, body) and each
 * operation's method, URI template and success status.
 *
 * Everything here is immutable static data: nothing is allocated, nothing is
 * freed, every pointer returned is borrowed for the life of the process.
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

/* What a member means to SES. A role sits on the structure member that
 * carries the value; unless said otherwise the value is a string or a list
 * of strings, and the role applies to each string. Assigned by the table
 * ROLE_RULES in tools/gen_model.py (by structure, member and shape name);
 * tests/integ/test_model_roles.py lists every member of every role. */
enum model_role {
    MODEL_ROLE_NONE = 0,
    MODEL_ROLE_IDENTITY,           /* an SES identity named bare: address or domain */
    MODEL_ROLE_IDENTITY_ARN,       /* an identity's ARN (sending authorization) */
    MODEL_ROLE_MAILBOX,            /* an address mail is sent as or from; may be "Name <a@b>" */
    MODEL_ROLE_MAIL_FROM_DOMAIN,   /* an identity's custom MAIL FROM domain */
    MODEL_ROLE_REPLY_TO,           /* a message's Reply-To addresses */
    MODEL_ROLE_RECIPIENTS,         /* To/Cc/Bcc addresses; a v1 raw message's Destinations */
    MODEL_ROLE_RAW_MESSAGE,        /* a blob: the raw MIME message */
    MODEL_ROLE_HEADERS,            /* a list of {Name, Value} headers added to a message */
    MODEL_ROLE_RECEIPT_RECIPIENTS, /* addresses, domains or .subdomains a receipt rule takes */
    MODEL_ROLE_CONFIGURATION_SET,
    MODEL_ROLE_TEMPLATE,                     /* an email template's name */
    MODEL_ROLE_TEMPLATE_ARN,                 /* an email template's ARN */
    MODEL_ROLE_CUSTOM_VERIFICATION_TEMPLATE, /* a custom verification email template's name */
    MODEL_ROLE_CONTACT_LIST,
    MODEL_ROLE_TENANT,
    MODEL_ROLE_DEDICATED_IP_POOL,
    MODEL_ROLE_MULTI_REGION_ENDPOINT, /* a multi-region endpoint's name */
    MODEL_ROLE_ENDPOINT_ID,           /* a multi-region endpoint's id (sent to it, SigV4a) */
    MODEL_ROLE_RESOURCE_ARN,          /* the ARN of any SES resource, identity included */
    MODEL_ROLE_COUNT
};

/* Where a member travels in a request or response (botocore's "location").
 * The Query protocol puts every member in the body. */
enum model_location {
    MODEL_LOC_BODY = 0,    /* the protocol's body: form pairs, or a key of the JSON object */
    MODEL_LOC_URI,         /* a {label} of the operation's request URI; wire_name is the label */
    MODEL_LOC_QUERYSTRING, /* wire_name is the query key; a map spreads its own keys */
    MODEL_LOC_HEADER,      /* wire_name is the header's name */
    MODEL_LOC_HEADERS,     /* a map; wire_name is the prefix of the headers' names */
    MODEL_LOC_STATUS_CODE, /* output only: the HTTP status */
};

/* model_member.flags */
#define MODEL_MEMBER_PAYLOAD 0x01u           /* the structure's payload: the whole body */
#define MODEL_MEMBER_IDEMPOTENCY_TOKEN 0x02u /* botocore sends a UUID4 when it is absent */
#define MODEL_MEMBER_JSONVALUE 0x04u         /* a header carrying base64 of a JSON value */

struct model_member {
    const char *name;      /* member name as clients spell it (JSON key) */
    const char *wire_name; /* locationName on the wire, or NULL = name */
    uint16_t shape;        /* index into model_service.shapes */
    uint8_t required;
    uint8_t role;     /* enum model_role; NONE in list and map element members */
    uint8_t location; /* enum model_location */
    uint8_t flags;    /* MODEL_MEMBER_* */
};

/* model_shape.flags */
#define MODEL_SHAPE_SENSITIVE 0x01u /* the model marks its values sensitive: never log them */

struct model_shape {
    const char *name;
    enum model_type type;
    uint8_t flattened;
    uint8_t has_min, has_max;
    int64_t min, max; /* length for strings/lists/maps, value for numbers */
    /* NULL = the default for where the value travels: iso8601 in a Query
     * body and a query string, unixTimestamp in a JSON body, rfc822 in a
     * header (botocore's serializers). */
    const char *timestamp_format;
    const char *const *enums; /* NULL when not an enum */
    uint16_t n_enums;
    /* structure: its members in model order; list: members[0] is the
     * element; map: members[0] is the key, members[1] the value. */
    const struct model_member *members;
    uint16_t n_members;
    uint8_t flags;  /* MODEL_SHAPE_* */
    uint32_t roles; /* bit (1u << role) set for each role a member within this
                       shape has, at any depth (the shape's own members
                       included): a walker looking for a role skips the
                       subtrees without it */
};

enum model_op_class {
    MODEL_OP_PLAIN = 0,
    MODEL_OP_SEND = 1, /* draws on the account's send rate, in recipients: the
                          operations whose input holds a RECIPIENTS member */
};

/* One segment of a request URI's path (the text between two '/'). */
struct model_uri_segment {
    const char *text; /* the literal text, or the label's name ({Name} or {Name+}) */
    int16_t member;   /* a label: index of its member in the input shape; literal: -1 */
    uint8_t greedy;   /* {Name+}: one or more whole segments, '/' kept in the value */
};

/* How the operation travels over HTTP (botocore's "http"). Query operations
 * are POST "/" with no segments. */
struct model_http {
    const char *method;                       /* "GET", "POST", "PUT", "DELETE" */
    const char *request_uri;                  /* the template as the model writes it, e.g.
                                                 "/v2/email/identities/{EmailIdentity}" */
    const struct model_uri_segment *segments; /* the path after its first '/', split at '/';
                                                 a trailing '/' makes an empty last literal */
    uint8_t n_segments;
    const char *fixed_query;  /* the template's literal query after '?', or NULL */
    uint16_t response_status; /* status of a success (the model's responseCode, else 200) */
};

/* An input member the endpoint rule set takes (botocore's contextParam). */
struct model_context_param {
    const char *name; /* the rule set's parameter, e.g. "EndpointId" */
    uint16_t member;  /* index of the member in the input shape */
};

struct model_op {
    const char *name;           /* SES name, e.g. "SetIdentityMailFromDomain" */
    const char *snake_name;     /* boto3's, e.g. "set_identity_mail_from_domain" */
    int32_t input;              /* shape index or -1 */
    int32_t output;             /* shape index or -1 */
    const char *result_wrapper; /* e.g. "SetIdentityMailFromDomainResult", or NULL */
    uint16_t rate_per_second;   /* documented limit; 0 = none documented */
    uint8_t op_class;           /* enum model_op_class */
    uint8_t idempotent;         /* the model marks it idempotent */
    struct model_http http;
    const struct model_context_param *context_params;
    uint8_t n_context_params;
};

enum model_protocol {
    MODEL_PROTOCOL_QUERY = 0,
    MODEL_PROTOCOL_REST_JSON = 1,
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
    uint8_t protocol;             /* enum model_protocol */
    const char *json_version;     /* metadata jsonVersion, or NULL */
    const char *uid;              /* e.g. "sesv2-2019-09-27" */
    const char *botocore_version; /* the botocore release the model came from */
};

/* The embedded SES v1 model (api/model_ses.c, generated). */
extern const struct model_service model_ses;
/* The embedded SES v2 model (api/model_sesv2.c, generated). */
extern const struct model_service model_sesv2;

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

/* How the proxy names op's API in policy globs, throttle.operations,
 * metrics and logs: "" for SES v1, "v2:" for SES v2 (so that v1 SendEmail
 * and v2 SendEmail cannot be confused). op must be one of the embedded
 * models' operations. */
const char *model_op_prefix(const struct model_op *op);

/* The embedded service op belongs to (model_ses or model_sesv2). */
const struct model_service *model_op_service(const struct model_op *op);

/* Name of a type, for messages ("string", "integer", ...). */
const char *model_type_name(enum model_type t);

/* Name of a role as tools/gen_model.py spells it ("IDENTITY", "MAILBOX", ...),
 * for messages and configuration; "unknown" for a value out of range. */
const char *model_role_name(enum model_role r);

/* Whether a member with role r is reachable within shape (at any depth). */
static inline int model_shape_has_role(const struct model_shape *shape, enum model_role r) {
    return (shape->roles >> r) & 1u;
}

#endif
