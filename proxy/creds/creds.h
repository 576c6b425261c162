/* creds.h - one set of AWS credentials: the value the providers produce,
 * the store holds and the signer reads.
 *
 * A struct creds is immutable once made (key id, secret, optional session
 * token, optional expiry, and the name of the provider that supplied it).
 * It is refcounted, because a refresh may replace the current set while a
 * request is being signed with it; the last unref wipes every byte of it
 * with OPENSSL_cleanse before freeing.
 *
 * Never logged, never in a message: the secret and the session token.
 * creds_describe() prints the key id with all but its first four characters
 * masked.
 *
 * This is the bottom of the credential code: it knows nothing of where a
 * set comes from (creds_provider.h) or how it is kept fresh
 * (creds_store.h). */
#ifndef SP_CREDS_H
#define SP_CREDS_H

#include <stddef.h>
#include <time.h>

struct creds {
    int refs;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;  /* NULL when none */
    time_t expiration;    /* 0 = does not expire */
    const char *provider; /* static string: "static", "env", "web_identity",
                             "profile", "process", "assume_role", "container",
                             "imds" */
};

/* A new set with one reference, copying the strings; an empty token is
 * none. provider is a static string. NULL when out of memory. */
struct creds *creds_new(const char *key_id, const char *secret, const char *token,
                        time_t expiration, const char *provider);
struct creds *creds_ref(struct creds *c);
/* Drops a reference; the last one wipes and frees. NULL is fine. */
void creds_unref(struct creds *c);
/* "AKID****************" style, for logs. */
void creds_describe(const struct creds *c, char *out, size_t cap);

#endif
