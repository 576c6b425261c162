/* recipients.h - how many recipients SES counts for a sending call.
 *
 * SES's maximum send rate is counted in recipients, not calls, and a
 * message may have at most RECIPIENTS_PER_MESSAGE of them. The recipients
 * are the members the model marks RECIPIENTS (api/roles.h): To, Cc and Bcc
 * of each Destination (one message each, so SendBulkTemplatedEmail and v2
 * SendBulkEmail count the sum over their destinations), or a v1 raw
 * message's Destinations. A raw message without them is sent to the
 * addresses of its own To, Cc and Bcc fields (api/rawmsg.h counts them).
 *
 * Pure: no I/O, no allocation; everything is borrowed. */
#ifndef SP_RECIPIENTS_H
#define SP_RECIPIENTS_H

#include <jansson.h>
#include <stddef.h>

#include "api/model.h"

struct rawmsg;

/* SES refuses a message with more recipients than this (To + Cc + Bcc, or
 * a raw message's Destinations or header fields). */
#define RECIPIENTS_PER_MESSAGE 50

struct recipients_tally {
    double total;   /* tokens for the send-rate bucket: at least 1 */
    size_t largest; /* recipients of the largest single message */
};

/* Counts a sending call's recipients from its validated parameters; raw is
 * the call's raw message read with rawmsg_read, or NULL when it has none. */
void recipients_tally(const struct model_service *svc, const struct model_op *op,
                      const json_t *params, const struct rawmsg *raw, struct recipients_tally *out);

#endif
