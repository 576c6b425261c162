/* creds_sts.h - what the two STS providers share: AssumeRoleWithWebIdentity
 * (creds_provider_web_identity.h) and AssumeRole
 * (creds_provider_assume_role.h) call the same endpoint and read the same
 * answers.
 *
 * Both are Query API calls (POST, form body, Version 2011-06-15) to the
 * regional endpoint sts.<region>.amazonaws.com (amazonaws.com.cn in China),
 * or to $AWS_ENDPOINT_URL_STS, else $AWS_ENDPOINT_URL, as the SDKs do. Each
 * provider builds and sends its own POST on the call's endpoint (the web
 * identity one unsigned: the token is the proof; the AssumeRole one signed)
 * and hands the answer to creds_sts_finish().
 *
 * Answers are STS's XML (creds_json.h). A failure message carries the HTTP
 * status and STS's error Code and Message, never the token or a key; the
 * Message is dropped if it would echo the token. */
#ifndef SP_CREDS_STS_H
#define SP_CREDS_STS_H

#include "proxy/creds/creds_http.h"
#include "proxy/creds/creds_provider.h"

#define CREDS_STS_VERSION "2011-06-15"
#define CREDS_STS_FORM_CT "application/x-www-form-urlencoded; charset=utf-8"

/* The STS endpoint for region (see above). */
int creds_sts_endpoint(const char *region, struct creds_url *out,
                       struct sp_err *err) SP_WARN_UNUSED;

/* One provider's STS calls: the endpoint, the request in flight, and what
 * the answer is checked against. Embedded in the provider. */
struct creds_sts_call {
    struct creds_http *http; /* owned */
    struct creds_url url;
    struct creds_http_req *req; /* in flight, or NULL */
    const char *action;         /* static: "AssumeRole", ... (for messages) */
    char *echo_guard;           /* owned, wiped: the web identity token while
                                   its call is out, never repeated in a message */
};

/* Sets up c for action at the region's endpoint. Returns 0, or -1 with err
 * (a bad endpoint URL, out of memory). */
int creds_sts_call_init(struct creds_sts_call *c, const struct creds_provider_ctx *ctx,
                        const char *action, struct sp_err *err) SP_WARN_UNUSED;
/* Abandons the request in flight (no callback) and wipes the guard. */
void creds_sts_call_cancel(struct creds_sts_call *c);
/* Cancels, then frees the endpoint. */
void creds_sts_call_clear(struct creds_sts_call *c);

/* Turns STS's answer to c's request into a set named after p, or says why
 * not, and finishes p's fetch with it; c is then idle. */
void creds_sts_finish(struct creds_provider *p, struct creds_sts_call *c,
                      const struct creds_http_answer *a);

/* A copy of the session name given, or "ses-proxy-<unix time>" when it is
 * NULL; NULL when out of memory. */
char *creds_sts_session_name(const struct creds_provider_ctx *ctx, const char *given);

#endif
