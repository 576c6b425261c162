/* roles.h - the values a call's parameters hold for each member role.
 *
 * The generator marks members with a role (api/model.h: IDENTITY, MAILBOX,
 * RECIPIENTS, RAW_MESSAGE, CONFIGURATION_SET, ...): what SES does with the
 * value. The policy and the recipient count walk a call's parameters along
 * its input shape and act on the values of the roles they care about; the
 * walk goes only into subtrees where such a role is reachable
 * (model_shape.roles), so a call without them costs next to nothing.
 *
 * Ownership: params are borrowed, validated (api/validate.h) parameters;
 * values handed to the callback are borrowed for the call. Pure: no I/O,
 * no allocation. */
#ifndef SP_ROLES_H
#define SP_ROLES_H

#include <jansson.h>
#include <stdint.h>

#include "api/model.h"

#define ROLES_BIT(r) (1u << (r))

/* One member holding a role in mask: its value as given (a string, a list
 * of strings, a structure for HEADERS entries...), the structure that holds
 * it (so that To, Cc and Bcc of one Destination share a parent) and its
 * path for messages ("Destinations[1].Destination.ToAddresses"). Return 0
 * to go on, -1 to stop the walk (which then returns -1). */
typedef int (*roles_fn)(void *ctx, enum model_role role, const struct model_member *member,
                        const json_t *value, const json_t *parent, const char *path);

/* Visits, in parameter order, every member of op's input whose role is in
 * mask and that params give a (non-null) value. */
int roles_walk(const struct model_service *svc, const struct model_op *op, const json_t *params,
               uint32_t mask, roles_fn fn, void *ctx);

#endif
