/* prepare.h - what a call is, and exactly what goes to SES for it.
 *
 * From a complete inbound request to a prepared call: which API and
 * operation, whether the caller is an SDK (pass-through), the policy checks
 * (allow_actions/deny_actions, identities, ...), validation against the
 * model, the recipients it counts against the send rate, and the request
 * SES gets, which is always the proxy's own serialization of the
 * parameters it checked, never the caller's bytes:
 *
 *   SES v1 (Query)      JSON mode: POST / with "Action", POST /{Action}
 *                       pass-through: POST / with an SDK's form body
 *   SES v2 (REST-JSON)  JSON mode: POST /v2/{Operation}, POST /v2/ with
 *                       "Action" (SES or boto3 names)
 *                       pass-through: any method under /v2/email/, routed
 *                       by method and URI template (api/route.h)
 *
 * A v2 SendEmail or SendBulkEmail with EndpointId goes to that multi-region
 * endpoint, signed with SigV4a (prepared.endpoint_id). Nothing is sent and
 * no state is kept: the call's life is request.c's.
 *
 * Ownership: the request's body is consumed (moved or parsed); what a
 * struct prepared holds is freed by prepare_clear(). */
#ifndef SP_PREPARE_H
#define SP_PREPARE_H

#include "signer/check.h"

struct config;
struct evbuffer;
struct model_op;
struct model_service;
struct policy_account;
struct server_request;

struct restjson_header;

struct prepared {
    const struct model_service *svc; /* model_ses or model_sesv2 */
    const struct model_op *op;       /* NULL when the operation was not found */
    int passthrough;                 /* an SDK's call: SES's answer goes back as it is */
    /* The request SES gets. */
    const char *method;              /* static: "POST", "GET", ... */
    char *path;                      /* owned, already %-encoded; NULL: "/" */
    char *query;                     /* owned, without '?'; NULL: none */
    struct restjson_header *headers; /* owned (v2 header members) */
    size_t n_headers;
    const char *content_type; /* static; NULL: none */
    struct evbuffer *body;    /* owned; NULL: no body */
    char endpoint_id[256];    /* a v2 multi-region endpoint (SigV4a), or "" */
    double recipients;        /* tokens for the send-rate bucket (sending calls) */
};

/* A refusal: the HTTP status, and err's code and message for the body. */
struct prepare_refusal {
    int status;
    struct sp_err err;
};

/* 0 with *out filled, or -1 with *why (out->op and out->passthrough still
 * say what was learnt, for the answer's shape and the log; out holds
 * nothing to free then). */
int prepare_call(const struct config *cfg, const struct policy_account *acct,
                 struct server_request *sr, struct prepared *out,
                 struct prepare_refusal *why) SP_WARN_UNUSED;

/* Frees what p owns; p keeps svc, op and passthrough. */
void prepare_clear(struct prepared *p);

#endif
