/* recipients.c - recipients of a sending call (see recipients.h). */
#include "api/recipients.h"

#include "api/rawmsg.h"
#include "api/roles.h"

struct tally {
    const json_t *parent; /* the structure whose lists are being summed */
    size_t current;       /* recipients of that message so far */
    size_t total;
    size_t largest;
};

static void close_message(struct tally *t) {
    if (t->current > t->largest) {
        t->largest = t->current;
    }
    t->total += t->current;
    t->current = 0;
}

/* The lists of one message (To, Cc and Bcc of one Destination) share the
 * structure that holds them; the walk visits them one after the other. */
static int on_recipients(void *ctx, enum model_role role, const struct model_member *member,
                         const json_t *value, const json_t *parent, const char *path) {
    (void)role;
    (void)member;
    (void)path;
    struct tally *t = ctx;
    if (parent != t->parent) {
        close_message(t);
        t->parent = parent;
    }
    t->current += json_array_size(value);
    return 0;
}

void recipients_tally(const struct model_service *svc, const struct model_op *op,
                      const json_t *params, const struct rawmsg *raw,
                      struct recipients_tally *out) {
    struct tally t = {0};
    (void)roles_walk(svc, op, params, ROLES_BIT(MODEL_ROLE_RECIPIENTS), on_recipients, &t);
    close_message(&t);
    if (t.total == 0 && raw != NULL) {
        /* No Destinations: SES sends to the message's own To, Cc and Bcc. */
        t.total = raw->recipients;
        t.largest = raw->recipients;
    }
    out->total = t.total < 1 ? 1 : (double)t.total;
    out->largest = t.largest;
}
