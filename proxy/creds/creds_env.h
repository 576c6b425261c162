/* creds_env.h - the environment as the credential code reads it: the AWS
 * SDKs treat a variable that is set but empty as unset, and "true" in any
 * case as true.
 *
 * Borrowed strings (from environ): valid until the variable changes. No
 * value read here is ever logged by this module. */
#ifndef SP_CREDS_ENV_H
#define SP_CREDS_ENV_H

/* An environment variable, or NULL when unset or empty. */
const char *creds_env(const char *name);
/* 1 when an environment variable says "true" (any case). */
int creds_env_true(const char *name);

#endif
