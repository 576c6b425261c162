/* policy.h - what the operator's policy allows: which clients may connect
 * (policy.allow_clients), which operations they may call (allow_actions,
 * deny_actions), and what a call may name (policy.identities,
 * .configuration_sets, .templates, .contact_lists, .tenants).
 * config.c loads the policy into struct config; this module only matches.
 *
 * The main adversary is a compromised service: it must not be able to send
 * as anyone, use or change any identity, configuration set or template but
 * those it is given. So every value SES reads as one of these is checked,
 * wherever it stands: the members the model marks with a role (api/roles.h:
 * IDENTITY, MAILBOX, IDENTITY_ARN, RESOURCE_ARN, RAW_MESSAGE, HEADERS,
 * CONFIGURATION_SET, TEMPLATE, TEMPLATE_ARN, CUSTOM_VERIFICATION_TEMPLATE,
 * CONTACT_LIST, TENANT), in every operation, and in a raw message the
 * From, Sender and Return-Path fields and the X-SES-FROM-ARN,
 * X-SES-SOURCE-ARN, X-SES-RETURN-PATH-ARN and X-SES-CONFIGURATION-SET
 * fields, which SES honours as it honours the parameters, even when Source
 * is given. Addresses are read by api/mailbox.h, the one reader the policy
 * relies on: what it cannot read unambiguously is refused (400), never
 * guessed at. ARNs must name the proxy's own partition, region and account
 * (policy.account_id, or the account STS GetCallerIdentity reports).
 * Not checked, because SES authorises nothing against them: Reply-To, the
 * recipients, a receipt rule's recipients, a MAIL FROM domain (SES requires
 * it to be a subdomain of the identity, which is checked).
 *
 * Patterns. Identities: "example.com" allows the domain and every address
 * at it; "*.example.com" its subdomains (and addresses at them);
 * "a@example.com" that address only (the local part case-insensitively);
 * domains are compared in their canonical A-label form, so a Unicode or a
 * mixed-case spelling matches the pattern written plainly. Names
 * (configuration sets, templates, contact lists, tenants): shell globs,
 * case-sensitive. Each list is either one list for every operation or an
 * object of operation globs (first match wins); an operation no rule
 * matches is unconstrained for that kind. */
#ifndef SP_POLICY_H
#define SP_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "signer/check.h"

struct config;
struct config_rule;
struct config_rules;
struct model_op;
struct model_service;
struct rawmsg;
struct sockaddr;

/* 1 when a client address (sockaddr) is inside allow_clients. Unix-socket
 * clients (family AF_UNIX) are always allowed: the socket's file mode is
 * their policy. IPv4-mapped IPv6 addresses match as IPv4. */
int policy_client_allowed(const struct config *cfg, const struct sockaddr *sa);

/* 1 when the action passes allow_actions/deny_actions (shell globs; deny
 * wins). */
int policy_action_allowed(const struct config *cfg, const char *op);

/* The rule of a list that applies to op (the first whose glob matches), or
 * NULL when the list does not constrain it. */
const struct config_rule *policy_rule(const struct config_rules *rules, const char *op);

/* What the policy knows about the account the proxy signs for. */
struct policy_account {
    const char *account_id; /* 12 digits, or NULL while unknown */
};

/* Checks a call's validated parameters against the rules for op_name (the
 * name policy globs see). raw is the call's raw message, already read with
 * rawmsg_read, or NULL. 0 allowed; -1 with *status and err: 403
 * AccessDenied (outside the policy), 400 InvalidParameterValue (a value
 * that cannot be read unambiguously), 503 ServiceUnavailable (an ARN to
 * check while the account is not known yet). */
int policy_check_call(const struct config *cfg, const struct policy_account *acct,
                      const struct model_service *svc, const struct model_op *op,
                      const char *op_name, const json_t *params, const struct rawmsg *raw,
                      int *status, struct sp_err *err) SP_WARN_UNUSED;

/* A rule keyed by an operation glob without "v2:" ("Send*") rules SES v1's
 * operations only. An operator who writes one and allows SES v2's
 * operations too has almost surely meant it for both, and SES v2's
 * same-named call would then escape it. This refuses such a policy: -1 with
 * err naming the list, the rule and the first SES v2 operation that is
 * allowed (allow_actions/deny_actions), reads a value that list checks, and
 * whose bare name the rule matches while "v2:Name" gets another rule that is
 * not a "v2:" one (or none). 0 when every such operation is ruled
 * explicitly. */
int policy_check_v2_rules(const struct config *cfg, const struct model_service *v2,
                          struct sp_err *err) SP_WARN_UNUSED;

#endif
