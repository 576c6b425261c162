/* creds_metadata.h - credentials from the local metadata endpoints: the
 * container credentials endpoint (ECS task roles, EKS Pod Identity) and EC2
 * instance metadata (IMDSv2).
 *
 * Container: GET $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on
 * http://169.254.170.2, or $AWS_CONTAINER_CREDENTIALS_FULL_URI, which must be
 * https, or http to a loopback address or to one of the ECS/EKS link-local
 * hosts (169.254.170.2, 169.254.170.23, fd00:ec2::23), as botocore allows.
 * The Authorization header is the content of
 * $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, read again at every fetch (EKS
 * rotates it), else $AWS_CONTAINER_AUTHORIZATION_TOKEN.
 *
 * Instance metadata, IMDSv2 only (never the v1 fallback, which hardened
 * instances refuse anyway): PUT /latest/api/token with a TTL header, then
 * GET the role name, then GET its credentials, each with the token. The
 * endpoint is $AWS_EC2_METADATA_SERVICE_ENDPOINT, else per
 * $AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 169.254.169.254 or IPv6
 * fd00:ec2::254); $AWS_METADATA_SERVICE_TIMEOUT (seconds, default 1) bounds
 * each step; $AWS_EC2_METADATA_DISABLED=true turns it off.
 *
 * Failure messages carry the endpoint, the HTTP status and the answer's
 * error code, never a token or the answer's body. */
#ifndef SP_CREDS_METADATA_H
#define SP_CREDS_METADATA_H

#include "proxy/creds/creds_provider.h"

/* 1 when one of the container URI variables is set. */
int creds_container_configured(void);
/* From the environment; NULL with err when the URI is not allowed. */
struct creds_provider *creds_container_new(const struct creds_provider_ctx *ctx,
                                           struct sp_err *err);

/* 1 when AWS_EC2_METADATA_DISABLED is "true". */
int creds_imds_disabled(void);
struct creds_provider *creds_imds_new(const struct creds_provider_ctx *ctx, struct sp_err *err);

#endif
