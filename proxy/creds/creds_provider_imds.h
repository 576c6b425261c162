/* creds_provider_imds.h - credentials from EC2 instance metadata, IMDSv2
 * only (never the v1 fallback, which hardened instances refuse anyway).
 *
 * PUT /latest/api/token with a TTL header, then GET the role name, then GET
 * its credentials, each with the token. The endpoint is
 * $AWS_EC2_METADATA_SERVICE_ENDPOINT, else per
 * $AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 169.254.169.254 or IPv6
 * fd00:ec2::254); $AWS_METADATA_SERVICE_TIMEOUT (seconds, default 1) bounds
 * each step; $AWS_EC2_METADATA_DISABLED=true turns it off.
 *
 * Failure messages carry the endpoint, the HTTP status and the answer's
 * error code, never the session token or the answer's body. */
#ifndef SP_CREDS_PROVIDER_IMDS_H
#define SP_CREDS_PROVIDER_IMDS_H

#include "proxy/creds/creds_provider.h"

/* 1 when AWS_EC2_METADATA_DISABLED is "true". */
int creds_provider_imds_disabled(void);
/* From the environment; NULL with err on a bad endpoint or timeout. */
struct creds_provider *creds_provider_imds_new(const struct creds_provider_ctx *ctx,
                                               struct sp_err *err);

#endif
