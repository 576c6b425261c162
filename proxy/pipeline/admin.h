/* admin.h - the proxy's own endpoints: GET /healthz, /readyz, /metrics.
 *
 * Liveness (200 while the loop runs), readiness (200 with usable
 * credentials and not draining; 503 with the reason otherwise) and the
 * Prometheus exposition, where the gauges are read from the modules that
 * own them at scrape time. Nothing here reaches SES, so these endpoints are
 * open to any client on the admin listeners. HEAD gets the same status and
 * headers without a body. */
#ifndef SP_ADMIN_H
#define SP_ADMIN_H

struct proxy;
struct server_conn;
struct server_request;

/* 1 when sr is one of these endpoints (GET or HEAD on its path). */
int admin_serves(const struct server_request *sr);

/* Answers sr, which admin_serves() accepted. */
void admin_handle(struct proxy *px, struct server_conn *conn, const struct server_request *sr);

#endif
