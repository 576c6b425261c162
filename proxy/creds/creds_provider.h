/* creds_provider.h - the interface between the credential store (creds.c)
 * and the providers that fetch credentials (creds_sts.c, creds_metadata.c,
 * creds_process.c, creds_profile.c), and the helpers they share.
 *
 * A provider is a struct cprov (the first member of each provider's own
 * struct) with a table of operations. A synchronous provider (static keys)
 * answers get(); an asynchronous one (STS, container, instance metadata,
 * credential_process) starts a fetch in fetch() and ends it with
 * cprov_finish(). Either way the owner hears of the outcome once, through
 * its callback, always from the event loop and never from inside
 * cprov_fetch(): completion goes through a deferred event, so an owner may
 * free or restart the provider from its callback. The owner is the store or,
 * for a role assumed from a source profile, the assume-role provider.
 *
 * Ownership: a provider owns its configuration (copies), its HTTP endpoint
 * and its in-flight fetch; cprov_free() cancels the fetch (no callback) and
 * wipes what it held. A set handed to the callback is the callback's
 * reference. Messages ("why") never hold a secret, a token or a file's
 * content: a provider says which file, which endpoint, which HTTP status,
 * and the service's error code.
 *
 * Secret bytes (files read, request bodies, tokens) go through secret.h. */
#ifndef SP_CREDS_PROVIDER_H
#define SP_CREDS_PROVIDER_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "proxy/creds/creds.h"
#include "signer/check.h"

struct event;
struct event_base;
struct evdns_base;
struct creds_doc;

/* What every provider is built with (copied into it): the loop and the
 * resolver it borrows (they outlive it), the region of the config snapshot
 * the chain was built from (copied: a reload may free that snapshot while a
 * provider that survives the reload still runs), and the wall clock. */
struct creds_ctx {
    struct event_base *base;
    struct evdns_base *dns;
    char region[64];
    time_t (*wall_clock)(void);
};

#define CPROV_WHY_LEN 512

struct cprov;
/* The outcome: c is a new reference (NULL on failure); why says what went
 * wrong (or, on success, is ""). */
typedef void (*cprov_done_fn)(struct cprov *p, struct creds *c, const char *why, void *arg);

struct cprov_ops {
    const char *name; /* static: "static", "env", "web_identity", ... */
    /* Synchronous providers: a new reference now, or NULL with err. */
    struct creds *(*get)(struct cprov *p, struct sp_err *err);
    /* Asynchronous providers: start one fetch, end it with cprov_finish(). */
    void (*fetch)(struct cprov *p);
    /* Abandon the fetch in flight without finishing it. */
    void (*cancel)(struct cprov *p);
    /* Wipe and free what the provider owns (not the struct itself). */
    void (*destroy)(struct cprov *p);
    /* What it is configured with, for the log (no secret). */
    void (*describe)(const struct cprov *p, char *out, size_t cap);
};

struct cprov {
    const struct cprov_ops *ops;
    struct creds_ctx ctx;
    /* private */
    cprov_done_fn done;
    void *done_arg;
    struct event *done_ev;
    struct creds *result;
    int busy;
    char why[CPROV_WHY_LEN];
};

/* Sets up the common part; the provider struct was calloc'ed by its
 * constructor. Returns 0, or -1 (out of memory). */
int cprov_init(struct cprov *p, const struct cprov_ops *ops,
               const struct creds_ctx *ctx) SP_WARN_UNUSED;
/* Starts a fetch (a synchronous provider answers at once, but the callback
 * still runs from the loop). A fetch already in flight is abandoned first. */
void cprov_fetch(struct cprov *p, cprov_done_fn done, void *arg);
/* Abandons the fetch in flight, if any: no callback. */
void cprov_cancel(struct cprov *p);
/* Cancels, destroys, wipes and frees; NULL is fine. */
void cprov_free(struct cprov *p);
/* 1 when the provider answers synchronously (get). */
int cprov_is_sync(const struct cprov *p);
void cprov_describe(const struct cprov *p, char *out, size_t cap);

/* Called by a provider to end its fetch: c (owned, may be NULL) and a
 * printf-style reason when c is NULL. */
void cprov_finish(struct cprov *p, struct creds *c, const char *fmt, ...) SP_PRINTF(3, 4);

/* A synchronous provider that always answers with c (owned): static keys
 * from the config file, the environment or a profile. desc is copied, for
 * the log. NULL when out of memory (c is released then too). */
struct cprov *cprov_fixed_new(const struct creds_ctx *ctx, struct creds *c, const char *desc);

/* ----------------------------------------------------------- helpers */

/* An environment variable, or NULL when unset or empty. */
const char *creds_env(const char *name);
/* 1 when an environment variable says "true" (any case). */
int creds_env_true(const char *name);
/* Expands a leading "~/" (or "~" alone) with $HOME, else the user's home
 * from the password database (no HOME in many containers). Returns a new
 * string or NULL with err. */
char *creds_expand_home(const char *path, struct sp_err *err);

/* A set from a parsed answer: access key id, secret (and, when need_token,
 * the session token) must be there and be printable ASCII without spaces
 * (they go into HTTP headers); Expiration must parse when need_expiration
 * (or, when present, anyway). provider is a static string. Messages name
 * what is missing, never a value. */
struct creds *creds_from_doc(const struct creds_doc *d, const char *provider, int need_token,
                             int need_expiration, struct sp_err *err);

#endif
