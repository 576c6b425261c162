/* dispatch.h - where a complete request goes: the server's handler.
 *
 * The proxy's endpoints (admin.h) are answered at once; anything else on an
 * admin listener is 404; a POST becomes a call (request.h); other methods
 * get 405. The server's own refusals are answered here too, in the shape
 * the caller parses (reply.h). */
#ifndef SP_DISPATCH_H
#define SP_DISPATCH_H

#include "proxy/http/server.h"

/* The handler to give server_new(), with the struct proxy as its ctx. */
extern const struct server_handler dispatch_handler;

#endif
