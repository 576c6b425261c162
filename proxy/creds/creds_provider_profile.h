/* creds_provider_profile.h - the shared files (~/.aws/credentials, ~/.aws/config):
 * which profile, and which provider that profile stands for.
 *
 * The profile is $AWS_PROFILE, else the config file's credentials.profile,
 * else $AWS_DEFAULT_PROFILE, else "default" (the first three name it
 * explicitly: a profile named but found in neither file is an error, as in
 * the SDKs). The files are $AWS_SHARED_CREDENTIALS_FILE and $AWS_CONFIG_FILE,
 * else ~/.aws/credentials and ~/.aws/config, with "~" taken from $HOME or,
 * without HOME, from the password database. A missing file is an empty one.
 * A key in the credentials file wins over the same key in the config file.
 *
 * What a profile stands for, in botocore's order:
 *   role_arn + web_identity_token_file   AssumeRoleWithWebIdentity
 *   role_arn + source_profile            AssumeRole, signed with the source
 *                                        profile's credentials (static keys,
 *                                        a process, another role: chains
 *                                        up to 8 deep, cycles refused; a
 *                                        profile may be its own source when
 *                                        it holds static keys)
 *   role_arn + credential_source         AssumeRole from Environment,
 *                                        Ec2InstanceMetadata or EcsContainer
 *   credential_process                   the command's output
 *   aws_access_key_id + aws_secret_access_key (+ aws_session_token)
 *                                        static keys
 * with role_session_name, external_id and duration_seconds honoured.
 * mfa_serial (needs a person to type a code) and SSO profiles (need a login
 * cache) are refused with a message saying so.
 *
 * The files are read (not parsed by hand: creds_ini) when the chain is
 * built, i.e. at start and at each reload; the buffers they were read into
 * are wiped. Messages name files, profiles and keys, never values. */
#ifndef SP_CREDS_PROVIDER_PROFILE_H
#define SP_CREDS_PROVIDER_PROFILE_H

#include "proxy/creds/creds_provider.h"

/* Returns 1 with *out when the profile gives a way to credentials, 0 when
 * the files hold nothing for it (the chain goes on), -1 with err when the
 * configuration is broken. cfg_profile is the config's credentials.profile
 * (may be NULL). *name gets the profile's name for messages. */
int creds_provider_profile_resolve(const struct creds_provider_ctx *ctx, const char *cfg_profile,
                                   struct creds_provider **out, char *name, size_t name_cap,
                                   struct sp_err *err) SP_WARN_UNUSED;

#endif
