/* creds_provider_assume_role.h - credentials from STS AssumeRole: a role's
 * temporary credentials, asked for with the credentials of a source
 * provider (a profile's role_arn with source_profile or credential_source).
 *
 * The source is any provider (fixed keys, a credential_process, instance
 * metadata, the container endpoint, another role) and is owned by this
 * one. At every fetch the source is fetched afresh (its own set may be
 * temporary too), then AssumeRole is signed with SigV4 (service "sts") with
 * that set and sent to STS as creds_sts.h says. The source's secret and
 * token are never logged; the log names the source's key id masked. */
#ifndef SP_CREDS_PROVIDER_ASSUME_ROLE_H
#define SP_CREDS_PROVIDER_ASSUME_ROLE_H

#include "proxy/creds/creds_provider.h"

/* What the profile says of the role (borrowed; copied by the constructor). */
struct creds_provider_assume_role_params {
    const char *role_arn;
    const char *session_name; /* NULL = "ses-proxy-<unix time>" */
    const char *external_id;  /* NULL = none */
    int duration_seconds;     /* 0 = STS's default (one hour) */
};

/* Takes ownership of source (also on failure). NULL with err on a bad
 * endpoint or out of memory. */
struct creds_provider *
creds_provider_assume_role_new(const struct creds_provider_ctx *ctx, struct creds_provider *source,
                               const struct creds_provider_assume_role_params *role,
                               struct sp_err *err);

#endif
