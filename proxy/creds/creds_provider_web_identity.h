/* creds_provider_web_identity.h - credentials from STS
 * AssumeRoleWithWebIdentity: an OIDC token in a file traded for a role's
 * temporary credentials (EKS IRSA, and any other OIDC issuer STS trusts).
 *
 * Chosen by the chain when AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are
 * set (AWS_ROLE_SESSION_NAME optional), or by a profile with role_arn and
 * web_identity_token_file. The call is unsigned (the token is the proof) and
 * goes to STS as creds_sts.h says; the token file is read again at every
 * fetch, because the kubelet replaces it well before it expires. The token
 * is never logged nor repeated in a message, even when STS quotes it. */
#ifndef SP_CREDS_PROVIDER_WEB_IDENTITY_H
#define SP_CREDS_PROVIDER_WEB_IDENTITY_H

#include "proxy/creds/creds_provider.h"

/* role_arn and token_file are copied; session_name NULL = "ses-proxy-<unix
 * time>". NULL with err on a bad endpoint or out of memory. */
struct creds_provider *creds_provider_web_identity_new(const struct creds_provider_ctx *ctx,
                                                       const char *role_arn, const char *token_file,
                                                       const char *session_name,
                                                       struct sp_err *err);

#endif
