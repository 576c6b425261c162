/* creds_store.h - the credentials the proxy signs with: which provider
 * supplies them (the default chain) and how they are kept fresh.
 *
 * struct creds_store holds the current set (creds.h) and the provider
 * chosen for it. The chain is the AWS SDKs' default one, in their order,
 * unless credentials.source pins one provider:
 *   static        config access_key_id + secret_access_key_file
 *                 (+ session_token_file)
 *   env           AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   web_identity  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *                 (+ AWS_ROLE_SESSION_NAME) through STS
 *   profile       the shared files: static keys, credential_process, a role
 *   container     ECS / EKS Pod Identity endpoint
 *   imds          EC2 instance metadata, IMDSv2
 * (each in its creds_provider_*.h). The first provider that is *configured*
 * is chosen (as in the SDKs: a configured provider that then fails to fetch
 * does not hand over to the next), except that a static config whose secret
 * file cannot be read falls through to the next, as it always has.
 *
 * Static keys (static, env, a profile's keys) are read by creds_store_load()
 * itself and usable when it returns, without any event loop. Every other
 * provider fetches asynchronously through libevent (an evdns_base for names,
 * never a blocking call on the loop) and delivers to the store from the
 * loop. Refresh: a set that expires is fetched again in the background once
 * less than CREDS_REFRESH_ADVISORY_S remain (botocore's advisory window),
 * earlier by a random jitter, never later; a failed fetch keeps the current
 * set until it expires and is retried with exponential backoff (capped so
 * that a retry comes before the expiry). Calls that arrive while the first
 * set (or the one after an expiry) is being fetched wait with
 * creds_store_wait().
 *
 * The store depends on the providers and the value; neither knows of it.
 * The log says which provider supplied a set, its key id masked
 * (creds_describe) and when it expires; never a secret, a token or a file's
 * content. */
#ifndef SP_CREDS_STORE_H
#define SP_CREDS_STORE_H

#include <sys/queue.h>
#include <time.h>

#include "proxy/creds/creds.h"
#include "signer/check.h"

struct config;
struct event_base;
struct evdns_base;

struct creds_store;

/* Options of a store; every member may be 0/NULL. */
struct creds_store_opts {
    struct evdns_base *dns;     /* borrowed, outlives the store; NULL = the
                                   store makes its own when it has a loop */
    time_t (*wall_clock)(void); /* NULL = time(); expiry maths and STS signing */
    double (*random)(void);     /* NULL = arc4random; in [0, 1): jitter */
};

/* base may be NULL: then only static keys can be loaded. */
struct creds_store *creds_store_new(struct event_base *base);
struct creds_store *creds_store_new_opts(struct event_base *base,
                                         const struct creds_store_opts *opts);
/* Cancels any fetch in flight (no callbacks), drops queued waiters without
 * calling them (their owners cancel them before, e.g. server_free), wipes
 * the current set. */
void creds_store_free(struct creds_store *s);

/* Chooses the provider per cfg's credentials.source (see above). Static keys
 * are loaded before it returns; another provider's first fetch is started.
 * Returns 0 then; -1 with err saying what was tried (no secret in it) when
 * no provider is configured or the configuration is broken, and the store
 * is left as it was (a reload keeps what works). On success the set held
 * before, if any, stays in use until the new provider delivers. */
int creds_store_load(struct creds_store *s, const struct config *cfg,
                     struct sp_err *err) SP_WARN_UNUSED;

/* The current set (borrowed; take a ref to keep it across callbacks), or
 * NULL when none is usable; *why then says why, in words a client may read
 * (a 503's Message, /readyz): the state and the provider's name, never an
 * endpoint, file, role or a provider's own error, which only the log gets.
 * `now` is wall-clock time. */
struct creds *creds_store_current(struct creds_store *s, time_t now, const char **why);

/* Replaces the current set (takes ownership of the caller's reference) and
 * wakes the waiters. */
void creds_store_set(struct creds_store *s, struct creds *c);

/* 1 while the first fetch (or a fetch after expiry) is in flight and no
 * usable set is held. */
int creds_store_pending(const struct creds_store *s);

/* A call waiting for credentials. The caller owns the struct (it is
 * embedded in the request state) and sets cb and arg; the rest is the
 * store's. */
struct creds_waiter {
    void (*cb)(void *arg);
    void *arg;
    /* private: */
    TAILQ_ENTRY(creds_waiter) link;
    int queued;
};

/* cb runs once (from the event loop, never inside this call) when
 * credentials become usable or the pending fetch fails; at the next loop
 * turn when nothing is pending. Waiting twice is waiting once. */
void creds_store_wait(struct creds_store *s, struct creds_waiter *w);
/* Safe if not queued (or already called back). */
void creds_store_cancel_wait(struct creds_store *s, struct creds_waiter *w);

/* Expiry of the held set: 0 = none held or it does not expire (for the
 * metric ses_proxy_credentials_expiry_timestamp_seconds). */
time_t creds_store_expiration(const struct creds_store *s);
/* The provider that supplied the held set ("env", "imds", ...), NULL when
 * none is held. */
const char *creds_store_provider(const struct creds_store *s);

/* The refresh policy, pure, for tests. Seconds from now until a set that
 * expires at `expiration` (not 0) should be fetched again: when the window
 * of CREDS_REFRESH_ADVISORY_S before expiry opens, minus a jitter of
 * u * min(CREDS_REFRESH_MAX_JITTER_S, a quarter of the time until then);
 * 0 when the window is already open. u is in [0, 1). */
#define CREDS_REFRESH_ADVISORY_S 900
#define CREDS_REFRESH_MAX_JITTER_S 120
double creds_refresh_delay(time_t expiration, time_t now, double u);
/* Seconds until retry number `failures` (1, 2, ...): min(60, 2^(failures-1))
 * scaled by 0.5 + u/2, and, while a set that expires at `expiration` (0 =
 * none or never) is still valid, at most half of its remaining life (but at
 * least one second). */
#define CREDS_RETRY_MAX_S 60
double creds_retry_delay(int failures, time_t expiration, time_t now, double u);

#endif
