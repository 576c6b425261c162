/* policy.h - what the operator's policy allows: which clients may connect
 * (policy.allow_clients), which operations they may call (allow_actions,
 * deny_actions), and which identities a call may name (policy.identities).
 * config.c loads the policy into struct config; this module only matches
 * against it (and parses a CIDR, for the loader and for tests).
 *
 * A compromised service should not be able to send as anyone or reconfigure
 * any identity. For each operation the first matching rule of
 * policy.identities lists the domains and addresses its calls may name, and
 * every identity-bearing parameter must match one of them:
 *   Identity, Identities[], EmailAddress, Domain   (identity operations)
 *   Source, and SourceArn / FromArn / ReturnPathArn (the identity in the ARN)
 *   for SendRawEmail without Source, the message's own From address.
 * A pattern "example.com" allows the domain and every address at it;
 * "*.example.com" its subdomains (and addresses at them); "a@example.com"
 * that address only. Case-insensitive. Pure: no I/O. */
#ifndef SP_POLICY_H
#define SP_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "signer/check.h"

struct config;
struct config_cidr;
struct config_rule;
struct model_op;
struct sockaddr;

/* 1 when a client address (sockaddr) is inside allow_clients. Unix-socket
 * clients (family AF_UNIX) are always allowed: the socket's file mode is
 * their policy. IPv4-mapped IPv6 addresses match as IPv4. */
int policy_client_allowed(const struct config *cfg, const struct sockaddr *sa);

/* 1 when the action passes allow_actions/deny_actions (shell globs; deny
 * wins). */
int policy_action_allowed(const struct config *cfg, const char *op);

/* The identity patterns that apply to op (first rule whose glob matches),
 * or NULL when the policy does not constrain it. */
const struct config_rule *policy_identity_rule(const struct config *cfg, const char *op);

/* 1 when value (an address, "Name <address>", a domain, or an identity
 * ARN) is allowed by rule. */
int policy_identity_allowed(const struct config_rule *rule, const char *value);

/* JSON mode: 0 when every identity parameter is allowed (or no rule
 * applies); -1 with err AccessDenied naming the first one that is not. */
int policy_check_json(const struct config_rule *rule, const struct model_op *op,
                      const json_t *params, struct sp_err *err) SP_WARN_UNUSED;

/* SDK pass-through: the same over a form body. */
int policy_check_form(const struct config_rule *rule, const struct model_op *op, const char *body,
                      size_t len, struct sp_err *err) SP_WARN_UNUSED;

#endif
