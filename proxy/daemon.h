/* daemon.h - builds, reloads and tears down the proxy (struct proxy,
 * proxy.h): the throttle and its shared backend, the credential store, the
 * upstream, the server and its listeners, GetSendQuota for send_rate "auto".
 * Owned by main(), which runs the loop, the signals and the drain. */
#ifndef SP_DAEMON_H
#define SP_DAEMON_H

#include "signer/check.h"

struct config;
struct event_base;
struct proxy;

/* Builds everything from cfg (takes the caller's reference on success). */
struct proxy *daemon_new(struct event_base *base, struct config *cfg, struct sp_err *err);
void daemon_free(struct proxy *px);

/* Applies a new config snapshot (takes the caller's reference): policy,
 * limits and throttle rates change at once; the keys the config table marks
 * as not reloadable (listeners, the endpoint, the upstream pool) keep the
 * old values until restart (they would drop connections). Those that
 * changed are named in restart (cap bytes), e.g. "listen changed: takes
 * effect after a restart", or "" when none did. */
int daemon_reload(struct proxy *px, struct config *cfg, char *restart, size_t cap,
                  struct sp_err *err) SP_WARN_UNUSED;

#endif
