/* creds_provider_container.h - credentials from the container credentials
 * endpoint: ECS task roles and EKS Pod Identity.
 *
 * GET $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on http://169.254.170.2, or
 * $AWS_CONTAINER_CREDENTIALS_FULL_URI, which must be https, or http to a
 * loopback address or to one of the ECS/EKS link-local hosts
 * (169.254.170.2, 169.254.170.23, fd00:ec2::23), as botocore allows. The
 * Authorization header is the content of
 * $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, read again at every fetch (EKS
 * rotates it), else $AWS_CONTAINER_AUTHORIZATION_TOKEN. The answer is the
 * JSON of creds_json.h.
 *
 * Failure messages carry the endpoint, the HTTP status and the answer's
 * error code, never the token or the answer's body. */
#ifndef SP_CREDS_PROVIDER_CONTAINER_H
#define SP_CREDS_PROVIDER_CONTAINER_H

#include "proxy/creds/creds_provider.h"

/* 1 when one of the container URI variables is set. */
int creds_provider_container_configured(void);
/* From the environment; NULL with err when the URI is not allowed. */
struct creds_provider *creds_provider_container_new(const struct creds_provider_ctx *ctx,
                                                    struct sp_err *err);

#endif
