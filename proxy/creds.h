/* creds.h - the credentials the proxy signs with, and where they come from.
 *
 * A struct creds is one immutable set (key id, secret, optional session
 * token, optional expiry). It is refcounted, because a refresh may replace
 * the current set while a request is being signed with it; the last unref
 * wipes every byte of it with OPENSSL_cleanse before freeing.
 *
 * struct creds_store holds the current set and the provider that supplied
 * it. Providers today: "static" (config access_key_id + secret file) and
 * "env" (AWS_ACCESS_KEY_ID, ...). Each provider is a function that fills a
 * struct creds or says why not; the store tries them in the AWS SDKs' order
 * unless credentials.source pins one. The seam for asynchronous providers
 * (web identity, container, IMDS) is creds_store's waiter list and refresh
 * timer: a provider completes by calling creds_store_set().
 *
 * Never logged: the secret and the token. creds_describe() prints the key id
 * with all but its first four characters masked. */
#ifndef SP_CREDS_H
#define SP_CREDS_H

#include <stddef.h>
#include <time.h>

#include "signer/check.h"

struct config;
struct event_base;

struct creds {
    int refs;
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when none */
    time_t expiration;   /* 0 = does not expire */
    const char *provider; /* static string: "static", "env", ... */
};

struct creds *creds_new(const char *key_id, const char *secret, const char *token,
                        time_t expiration, const char *provider);
struct creds *creds_ref(struct creds *c);
void creds_unref(struct creds *c);
/* "AKID****************" style, for logs. */
void creds_describe(const struct creds *c, char *out, size_t cap);

struct creds_store;

struct creds_store *creds_store_new(struct event_base *base);
void creds_store_free(struct creds_store *s);

/* Loads credentials per cfg's credentials.source. Returns 0 when a set was
 * found; -1 with err saying what was tried (no secret in it). */
int creds_store_load(struct creds_store *s, const struct config *cfg, struct sp_err *err)
    SP_WARN_UNUSED;

/* The current set (borrowed; take a ref to keep it across callbacks), or
 * NULL when none is usable; *why then says why. `now` is wall-clock time. */
struct creds *creds_store_current(struct creds_store *s, time_t now, const char **why);

/* Replaces the current set (takes ownership of the caller's reference). */
void creds_store_set(struct creds_store *s, struct creds *c);

#endif
