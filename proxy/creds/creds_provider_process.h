/* creds_provider_process.h - credentials from a shared-config profile's
 * credential_process: an external command that prints them as JSON
 * ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}), as the AWS SDKs run it.
 *
 * The command line is split into words the way botocore splits it
 * (shlex.split: POSIX quoting, no shell, so no variables, globs or pipes)
 * and run with posix_spawnp: its stdin is /dev/null, its stdout a pipe the
 * event loop reads (never a blocking read), its stderr the proxy's own (so
 * the helper's diagnostics reach the operator; they are its own output, not
 * a file's content), and no other descriptor of the proxy. It must exit 0
 * within CREDS_PROVIDER_PROCESS_TIMEOUT_S and print at most CREDS_PROVIDER_PROCESS_MAX_OUTPUT
 * bytes; a set without Expiration does not expire.
 *
 * The output is read into a buffer wiped after parsing. Failure messages
 * name the program (the first word) and what went wrong, never the output. */
#ifndef SP_CREDS_PROVIDER_PROCESS_H
#define SP_CREDS_PROVIDER_PROCESS_H

#include "proxy/creds/creds_provider.h"

#define CREDS_PROVIDER_PROCESS_TIMEOUT_S 60
#define CREDS_PROVIDER_PROCESS_MAX_OUTPUT (64u << 10)
#define CREDS_PROVIDER_PROCESS_MAX_WORDS 256

/* Splits a command line like Python's shlex.split (POSIX mode): words
 * separated by white space; '...' quotes everything; "..." quotes all but
 * a backslash before '"' or '\\'; a backslash outside quotes escapes the
 * next character; '' or "" is an empty word; '#' starts no comment. On success *argv is
 * a new NULL-terminated array (free it with creds_provider_process_argv_free) of
 * *argc >= 1 words. Fails on an unclosed quote, a trailing backslash, no
 * words, or more than CREDS_PROVIDER_PROCESS_MAX_WORDS. Pure. */
int creds_provider_process_split(const char *cmd, char ***argv, int *argc,
                                 struct sp_err *err) SP_WARN_UNUSED;
void creds_provider_process_argv_free(char **argv);

/* command is copied; profile names it in messages. */
struct creds_provider *creds_provider_process_new(const struct creds_provider_ctx *ctx,
                                                  const char *command, const char *profile,
                                                  struct sp_err *err);

#endif
