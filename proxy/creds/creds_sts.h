/* creds_sts.h - credentials from AWS STS: AssumeRoleWithWebIdentity (EKS
 * IRSA and any OIDC token in a file) and AssumeRole (a profile's role_arn,
 * signed with its source's credentials).
 *
 * Both are Query API calls (POST, form body, Version 2011-06-15) to the
 * regional endpoint sts.<region>.amazonaws.com (amazonaws.com.cn in China),
 * or to $AWS_ENDPOINT_URL_STS, else $AWS_ENDPOINT_URL, as the SDKs do.
 * AssumeRoleWithWebIdentity is unsigned: the token is the proof, and its
 * file is read again at every fetch (the kubelet rotates it). AssumeRole is
 * signed with SigV4 (service "sts") with whatever credentials its source
 * provider fetches, again at every fetch.
 *
 * Answers are STS's XML (creds_json.h). A failure message carries the HTTP
 * status and STS's error Code and Message, never the token or a key; the
 * Message is dropped if it would echo the token. */
#ifndef SP_CREDS_STS_H
#define SP_CREDS_STS_H

#include "proxy/creds/creds_http.h"
#include "proxy/creds/creds_provider.h"

/* The STS endpoint for region (see above). */
int creds_sts_endpoint(const char *region, struct creds_url *out,
                       struct sp_err *err) SP_WARN_UNUSED;

/* role_arn and token_file are copied; session_name NULL = "ses-proxy-<unix
 * time>". NULL with err on a bad endpoint or out of memory. */
struct creds_provider *creds_sts_web_identity_new(const struct creds_provider_ctx *ctx,
                                                  const char *role_arn, const char *token_file,
                                                  const char *session_name, struct sp_err *err);

struct creds_sts_role {
    const char *role_arn;
    const char *session_name; /* NULL = "ses-proxy-<unix time>" */
    const char *external_id;  /* NULL = none */
    int duration_seconds;     /* 0 = STS's default (one hour) */
};

/* Takes ownership of source (also on failure). */
struct creds_provider *creds_sts_assume_role_new(const struct creds_provider_ctx *ctx,
                                                 struct creds_provider *source,
                                                 const struct creds_sts_role *role,
                                                 struct sp_err *err);

#endif
