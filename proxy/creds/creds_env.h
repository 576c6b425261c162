/* creds_env.h - the environment as the credential code reads it: the AWS
 * SDKs treat a variable that is set but empty as unset, and "true" in any
 * case as true.
 *
 * The credential variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN)
 * are taken out of the environment at start (creds_env_seal): their bytes
 * in the process's environment block are overwritten, so /proc/PID/environ
 * shows them no more, and they are unset, so no child (a credential_process
 * helper) inherits them. Their values stay here, in private copies that
 * creds_env() hands out as before: a SIGHUP reload reads them again as if
 * they were still in the environment (a running process's environment
 * cannot change from outside anyway). creds_env_clear() wipes the copies.
 *
 * Borrowed strings: from environ (valid until the variable changes) or from
 * the sealed copies (valid until creds_env_clear). No value read here is
 * ever logged by this module. Not thread-safe (the proxy has one thread). */
#ifndef SP_CREDS_ENV_H
#define SP_CREDS_ENV_H

#include "signer/check.h"

/* An environment variable, or NULL when unset or empty. */
const char *creds_env(const char *name);
/* 1 when an environment variable says "true" (any case). */
int creds_env_true(const char *name);

/* Moves the credential variables from the environment into private copies
 * (see above). Calling it again changes nothing. 0, or -1 with err when out
 * of memory (the environment is then left as it was). */
int creds_env_seal(struct sp_err *err) SP_WARN_UNUSED;

/* Wipes and frees the sealed copies; the credential variables read as
 * unset from then on. */
void creds_env_clear(void);

#endif
