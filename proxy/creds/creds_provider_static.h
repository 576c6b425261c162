/* creds_provider_static.h - fixed keys: credentials that are known when
 * the chain is built and never change until the next reload.
 *
 * Three sources give fixed keys, each read here into a struct creds:
 *   config file   credentials.access_key_id, the secret read from
 *                 credentials.secret_access_key_file (and the token from
 *                 credentials.session_token_file), as container secrets
 *                 are mounted; a secret is never taken inline
 *   environment   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   a profile     its aws_access_key_id / aws_secret_access_key (read by
 *                 creds_provider_profile.c, which makes the set itself)
 * and one synchronous provider hands such a set out at every fetch.
 *
 * The files are read into wiped buffers (secret.h). Messages name the file
 * or the variable, never a value. */
#ifndef SP_CREDS_PROVIDER_STATIC_H
#define SP_CREDS_PROVIDER_STATIC_H

#include "proxy/creds/creds_provider.h"

/* A synchronous provider that always answers with c (owned): desc is
 * copied, for the log. NULL when out of memory (c is released then too). */
struct creds_provider *creds_provider_static_new(const struct creds_provider_ctx *ctx,
                                                 struct creds *c, const char *desc);

/* The config file's keys ("static"): key_id (NULL = not configured) with
 * the secret from secret_file and, when token_file is not NULL, the token
 * from it (one value per file, its line end dropped). A new set, or NULL
 * with err ("CredentialsUnavailable" naming the file, or out of memory). */
struct creds *creds_provider_static_read_files(const char *key_id, const char *secret_file,
                                               const char *token_file, struct sp_err *err);

/* The environment's keys ("env"): a new set, or NULL with err when
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set and
 * non-empty (an empty AWS_SESSION_TOKEN is none). */
struct creds *creds_provider_static_read_env(struct sp_err *err);

#endif
