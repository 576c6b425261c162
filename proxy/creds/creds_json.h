/* creds_json.h - the answers that carry temporary credentials, parsed:
 * the JSON of EC2 instance metadata, of the container credentials endpoint
 * (ECS, EKS Pod Identity) and of a credential_process, and the XML of STS
 * (AssumeRole, AssumeRoleWithWebIdentity and ErrorResponse); and what a
 * parsed answer gives: a checked set (creds_from_doc) or an error code fit
 * for a log line.
 *
 * Pure: no I/O, no clock, no logging. The JSON reader is this module's own
 * small strict RFC 8259 reader (a bounds-checked cursor, nesting capped)
 * rather than jansson, and the XML reader runs expat with an allocator that
 * wipes every block it frees: both so that no copy of a secret is ever freed
 * without being wiped first. The caller still owns (and wipes) its input.
 *
 * Every string in a struct creds_doc is owned by it and wiped by
 * creds_doc_clear(). Error messages never quote the input: they say what is
 * missing or malformed and, for JSON, at which byte offset. */
#ifndef SP_CREDS_JSON_H
#define SP_CREDS_JSON_H

#include <stddef.h>
#include <time.h>

#include "proxy/creds/creds.h"
#include "signer/check.h"

/* Deepest nesting a JSON answer may have (the real ones are flat). */
#define CREDS_JSON_MAX_DEPTH 32

/* What an answer says. Strings are NUL-terminated, owned, NULL when absent. */
struct creds_doc {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* JSON "Token" or "SessionToken"; XML SessionToken */
    char *expiration;    /* as sent, e.g. "2024-05-01T12:00:00Z" */
    char *code;          /* JSON "Code" (IMDS: "Success") or "code"; XML Error/Code */
    char *message;       /* JSON "message"/"Message"; XML Error/Message */
    long version;        /* JSON "Version" (credential_process: 1); -1 when absent */
    int is_error;        /* XML: the document is an ErrorResponse */
};

void creds_doc_init(struct creds_doc *d);
/* Wipes and frees every string; d is then as after _init. */
void creds_doc_clear(struct creds_doc *d);

/* Reads a JSON object. Members it knows (AccessKeyId, SecretAccessKey, Token,
 * SessionToken, Expiration, Code, code, Message, message, Version) are kept,
 * the rest skipped, and so is a known member whose value is not a string
 * (Version: not a number); a member repeated keeps its last value. Fails with
 * "CredentialsUnavailable" when the text is not one JSON object (RFC 8259,
 * nesting up to CREDS_JSON_MAX_DEPTH) or a string holds "\u0000". */
int creds_json_parse(const char *text, size_t len, struct creds_doc *out,
                     struct sp_err *err) SP_WARN_UNUSED;

/* Reads an STS answer: <AssumeRoleResponse> or
 * <AssumeRoleWithWebIdentityResponse> (Result/Credentials/AccessKeyId,
 * SecretAccessKey, SessionToken, Expiration), or <ErrorResponse>
 * (is_error = 1, code and message). Namespaces are ignored; a DOCTYPE is
 * refused. Fails when the text is not well-formed XML or is another
 * document. */
int creds_sts_xml_parse(const char *text, size_t len, struct creds_doc *out,
                        struct sp_err *err) SP_WARN_UNUSED;

/* Parses an RFC 3339 time as AWS sends expirations (api/iso8601.h's strict
 * forms): YYYY-MM-DD(T|t)HH:MM:SS[.fraction](Z|z|(+|-)HH[:]MM), a second
 * of 60 read as the next second; fractions are dropped. Years 1970..9999 as
 * written. Returns 0 and *out, or -1. */
int creds_parse_time(const char *s, time_t *out) SP_WARN_UNUSED;

/* A set from a parsed answer: access key id, secret (and, when need_token,
 * the session token) must be there and be printable ASCII without spaces
 * (they go into HTTP headers); Expiration must parse when need_expiration
 * (or, when present, anyway). provider is a static string. Messages name
 * what is missing, never a value. */
struct creds *creds_from_doc(const struct creds_doc *d, const char *provider, int need_token,
                             int need_expiration, struct sp_err *err);

/* The error code of a JSON error answer (its "Code" or "code"), fit for a
 * log line: printable ASCII (anything else as '?'), at most 64 bytes; ""
 * when the body is not JSON or has no code. Never more of the body. */
void creds_json_error_code(const char *body, size_t len, char *out, size_t cap);

#endif
