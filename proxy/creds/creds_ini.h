/* creds_ini.h - the AWS shared files (~/.aws/credentials, ~/.aws/config),
 * parsed: an INI dialect, read the way botocore reads it.
 *
 * Pure: parses text the caller already holds; never opens a file, never logs,
 * no clock. The grammar is Python's configparser as botocore uses it
 * (RawConfigParser):
 *   [section]        the name is what lies between the first '[' and the last
 *                    ']' of the trimmed line, as it is (not trimmed again)
 *   key = value      or "key: value" (the first '=' or ':' splits); the key is
 *                    lowercased, key and value are trimmed
 *   # ... / ; ...    a comment only as a whole line: a '#' inside a value is
 *                    part of the value, as in botocore
 *   continuation     a line indented deeper than its key's line continues the
 *                    value (joined with '\n'): how nested settings
 *                    ("s3 =\n  max_concurrent_requests = 10") are written
 * Differences from configparser, on purpose: a repeated section or key is not
 * an error, the later value wins (as in the Go and Java SDKs); a UTF-8 BOM at
 * the start is skipped. A line that is none of the above, a key before any
 * section, an empty key or a NUL byte fails the whole parse (botocore fails
 * the whole file too).
 *
 * Profiles: in a credentials file each section is a profile of that name; in
 * a config file "[profile NAME]" is profile NAME (NAME may be in double
 * quotes), "[default]" and "[profile default]" are "default", and any other
 * section ("[sso-session x]", "[services y]") is not a profile.
 *
 * Ownership: a struct creds_ini owns copies of every name and value. Values
 * may be secrets (aws_secret_access_key, aws_session_token), so every byte is
 * wiped with OPENSSL_cleanse when it is freed, and so is every intermediate
 * buffer. Error messages name a line number, never the line's content. */
#ifndef SP_CREDS_INI_H
#define SP_CREDS_INI_H

#include <stddef.h>

#include "signer/check.h"

/* Caps: a shared file larger than this is refused by creds_ini_parse. */
#define CREDS_INI_MAX_TEXT (1u << 20)

struct creds_ini;

/* Parses text[0..len) (need not be NUL-terminated; the caller keeps it and
 * should wipe it). On success *out is a new struct creds_ini (free it with
 * creds_ini_free); on failure *out is NULL and err ("ConfigError") says which
 * line is wrong. */
int creds_ini_parse(const char *text, size_t len, struct creds_ini **out,
                    struct sp_err *err) SP_WARN_UNUSED;

/* Wipes and frees; NULL is fine. */
void creds_ini_free(struct creds_ini *ini);

/* The value of key (lowercase) in the section literally named section, the
 * last one when repeated; NULL when absent. Borrowed from ini. */
const char *creds_ini_get(const struct creds_ini *ini, const char *section, const char *key);

/* The same for a profile: config_file = 1 maps sections per the config
 * file's rules above, 0 per the credentials file's. */
const char *creds_ini_profile_get(const struct creds_ini *ini, int config_file, const char *profile,
                                  const char *key);

/* 1 when the profile has a section in this file (even an empty one). */
int creds_ini_has_profile(const struct creds_ini *ini, int config_file, const char *profile);

/* Sections in file order, for tests and the fuzzer. */
size_t creds_ini_section_count(const struct creds_ini *ini);
const char *creds_ini_section_name(const struct creds_ini *ini, size_t i);
/* Entries (key, value, index of their section) in file order. */
size_t creds_ini_entry_count(const struct creds_ini *ini);
int creds_ini_entry(const struct creds_ini *ini, size_t i, const char **key, const char **value,
                    size_t *section);

#endif
