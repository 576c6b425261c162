/* sesreq.h - builds the signed HTTP request for one SES Query call.
 *
 * Shared by the request pipeline and the proxy's own calls (GetSendQuota):
 * takes the form body, signs it with the current credentials (SigV4,
 * service from the model, region from the config) and writes head + body
 * into an evbuffer ready for upstream_send(). The body is added by
 * reference, so a 10 MB message is not copied per attempt. */
#ifndef SP_SESREQ_H
#define SP_SESREQ_H

#include "signer/check.h"

struct proxy;
struct creds;
struct evbuffer;

#define SESREQ_FORM_CT "application/x-www-form-urlencoded; charset=utf-8"

/* payload_hash: 65 bytes; computed on first use ("" on entry) and kept by
 * the caller for retries. form is borrowed and not modified. */
int sesreq_build(struct proxy *px, const char *region, const struct creds *c, struct evbuffer *form,
                 char payload_hash[65], struct evbuffer *out, struct sp_err *err) SP_WARN_UNUSED;

#endif
