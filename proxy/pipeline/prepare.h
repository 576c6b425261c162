/* prepare.h - what a call is, and exactly what goes to SES for it.
 *
 * From a complete inbound request to a prepared call: which operation
 * (from the path, the JSON "Action" or the SDK's form), whether the caller
 * is an SDK (pass-through), the policy checks (allow_actions/deny_actions,
 * identities), validation against the model, the body to sign and send, and
 * the recipients it counts against the send rate. Nothing is sent and no
 * state is kept: the call's life is request.c's.
 *
 * Ownership: the request's body is consumed (moved or parsed); the prepared
 * form body is the caller's (free it with evbuffer_free). */
#ifndef SP_PREPARE_H
#define SP_PREPARE_H

#include "signer/check.h"

struct config;
struct evbuffer;
struct model_op;
struct model_service;
struct policy_account;
struct server_request;

struct prepared {
    const struct model_op *op; /* NULL when the operation was not found */
    int passthrough;           /* an SDK's call: SES's XML goes back as it is */
    struct evbuffer *form;     /* the Query body to sign and send */
    double recipients;         /* tokens for the send-rate bucket (sending calls) */
};

/* A refusal: the HTTP status, and err's code and message for the body. */
struct prepare_refusal {
    int status;
    struct sp_err err;
};

/* 0 with *out filled, or -1 with *why (out->op and out->passthrough still
 * say what was learnt, for the answer's shape and the log). */
int prepare_call(const struct model_service *svc, const struct config *cfg,
                 const struct policy_account *acct, struct server_request *sr, struct prepared *out,
                 struct prepare_refusal *why) SP_WARN_UNUSED;

#endif
