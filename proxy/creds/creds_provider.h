/* creds_provider.h - what a credential provider is: the interface between
 * its owner (the store, creds_store.h, or for a role assumed from a source,
 * the assume-role provider) and the providers that fetch credentials, one
 * per source (creds_provider_*.h).
 *
 * A provider is a struct creds_provider (the first member of each
 * provider's own struct) with a table of operations. A synchronous provider
 * (fixed keys) answers get(); an asynchronous one (STS, container, instance
 * metadata, credential_process) starts a fetch in fetch() and ends it with
 * creds_provider_finish(). Either way the owner hears of the outcome once,
 * through its callback, always from the event loop and never from inside
 * creds_provider_fetch(): completion goes through a deferred event, so an
 * owner may free or restart the provider from its callback.
 *
 * Ownership: a provider owns its configuration (copies), its HTTP endpoint
 * and its in-flight fetch; creds_provider_free() cancels the fetch (no
 * callback) and wipes what it held. A set handed to the callback is the
 * callback's reference. Messages ("why") never hold a secret, a token or a
 * file's content: a provider says which file, which endpoint, which HTTP
 * status, and the service's error code. Secret bytes (files read, request
 * bodies, tokens) go through secret.h.
 *
 * This interface knows the value (creds.h) and nothing else of the
 * credential code. */
#ifndef SP_CREDS_PROVIDER_H
#define SP_CREDS_PROVIDER_H

#include <stddef.h>
#include <time.h>

#include "proxy/creds/creds.h"
#include "signer/check.h"

struct event;
struct event_base;
struct evdns_base;

/* What every provider is built with (copied into it): the loop and the
 * resolver it borrows (they outlive it), the region of the config snapshot
 * the chain was built from (copied: a reload may free that snapshot while a
 * provider that survives the reload still runs), and the wall clock. */
struct creds_provider_ctx {
    struct event_base *base;
    struct evdns_base *dns;
    char region[64];
    time_t (*wall_clock)(void);
};

#define CREDS_PROVIDER_WHY_LEN 512

struct creds_provider;
/* The outcome: c is a new reference (NULL on failure); why says what went
 * wrong (or, on success, is ""). */
typedef void (*creds_provider_done_fn)(struct creds_provider *p, struct creds *c, const char *why,
                                       void *arg);

struct creds_provider_ops {
    const char *name; /* static: "static", "env", "web_identity", ... */
    /* Synchronous providers: a new reference now, or NULL with err. */
    struct creds *(*get)(struct creds_provider *p, struct sp_err *err);
    /* Asynchronous providers: start one fetch, end it with creds_provider_finish(). */
    void (*fetch)(struct creds_provider *p);
    /* Abandon the fetch in flight without finishing it. */
    void (*cancel)(struct creds_provider *p);
    /* Wipe and free what the provider owns (not the struct itself). */
    void (*destroy)(struct creds_provider *p);
    /* What it is configured with, for the log (no secret). */
    void (*describe)(const struct creds_provider *p, char *out, size_t cap);
};

struct creds_provider {
    const struct creds_provider_ops *ops;
    struct creds_provider_ctx ctx;
    /* private */
    creds_provider_done_fn done;
    void *done_arg;
    struct event *done_ev;
    struct creds *result;
    int busy;
    char why[CREDS_PROVIDER_WHY_LEN];
};

/* Sets up the common part; the provider struct was calloc'ed by its
 * constructor. Returns 0, or -1 (out of memory). */
int creds_provider_init(struct creds_provider *p, const struct creds_provider_ops *ops,
                        const struct creds_provider_ctx *ctx) SP_WARN_UNUSED;
/* Starts a fetch (a synchronous provider answers at once, but the callback
 * still runs from the loop). A fetch already in flight is abandoned first. */
void creds_provider_fetch(struct creds_provider *p, creds_provider_done_fn done, void *arg);
/* Abandons the fetch in flight, if any: no callback. */
void creds_provider_cancel(struct creds_provider *p);
/* Cancels, destroys, wipes and frees; NULL is fine. */
void creds_provider_free(struct creds_provider *p);
/* 1 when the provider answers synchronously (get). */
int creds_provider_is_sync(const struct creds_provider *p);
void creds_provider_describe(const struct creds_provider *p, char *out, size_t cap);

/* Called by a provider to end its fetch: c (owned, may be NULL) and a
 * printf-style reason when c is NULL. */
void creds_provider_finish(struct creds_provider *p, struct creds *c, const char *fmt, ...)
    SP_PRINTF(3, 4);

#endif
