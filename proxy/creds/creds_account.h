/* creds_account.h - which AWS account the proxy's credentials belong to.
 *
 * The policy checks that ARNs in calls (SourceArn, an X-SES-FROM-ARN
 * field, a template's ARN...) name the proxy's own account. Unless the
 * operator wrote it in the config (policy.account_id), it is learnt once
 * with STS GetCallerIdentity, which needs no IAM permission: asked as soon
 * as the first credentials are held, retried with backoff (1 s doubling to
 * 60 s) until STS answers, signed like every other call
 * (signed_request.h), at STS's regional endpoint or AWS_ENDPOINT_URL_STS.
 * Until then creds_account_id() is NULL and the policy answers an ARN it
 * must check with 503 rather than guess.
 *
 * Owns its STS endpoint, its SigV4 key cache and the call in flight; never
 * logs a key or a token. */
#ifndef SP_CREDS_ACCOUNT_H
#define SP_CREDS_ACCOUNT_H

#include "signer/check.h"

struct creds_account;
struct creds_provider_ctx;
struct creds_store;

/* Starts learning the account of store's credentials (store is borrowed
 * and outlives the result). NULL with err for a bad endpoint URL or out of
 * memory. */
struct creds_account *creds_account_start(const struct creds_provider_ctx *ctx,
                                          struct creds_store *store, struct sp_err *err);
void creds_account_free(struct creds_account *a);

/* The 12-digit account id, or NULL while it is not known. */
const char *creds_account_id(const struct creds_account *a);

#endif
