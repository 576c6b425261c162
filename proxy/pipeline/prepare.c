/* prepare.c - from an inbound request to the call SES will see (see
 * prepare.h). */
#include "proxy/pipeline/prepare.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/form.h"
#include "api/form_params.h"
#include "api/membudget.h"
#include "api/model.h"
#include "api/query.h"
#include "api/rawmsg.h"
#include "api/recipients.h"
#include "api/restjson.h"
#include "api/restjson_inbound.h"
#include "api/roles.h"
#include "api/route.h"
#include "api/validate.h"
#include "proxy/config.h"
#include "proxy/http/server.h"
#include "proxy/http/signed_request.h"
#include "proxy/http/upstream.h"
#include "proxy/policy.h"

static int refuse(struct prepare_refusal *why, int status, const char *code, const char *msg) {
    why->status = status;
    sp_fail(&why->err, code, "%s", msg);
    return -1;
}

static int sink_evbuffer(void *ctx, const void *data, size_t len) {
    return evbuffer_add(ctx, data, len);
}

/* json_load_callback source over an evbuffer: no contiguous copy of a big
 * body is ever made. */
static size_t json_from_evbuffer(void *buffer, size_t buflen, void *data) {
    if (membudget_over()) {
        return (size_t)-1; /* the parse took its budget (load_params): no more input */
    }
    int n = evbuffer_remove(data, buffer, buflen);
    return n < 0 ? (size_t)-1 : (size_t)n;
}

/* curl's default Content-Type is the form type: a body that starts with
 * '{' (after white space) is JSON whatever it says. */
static int first_byte_is_brace(struct evbuffer *b) {
    struct evbuffer_ptr p = evbuffer_search(b, "{", 1, NULL);
    if (p.pos < 0) {
        return 0;
    }
    unsigned char pre[64];
    size_t n = p.pos < 64 ? (size_t)p.pos : 64;
    if ((size_t)p.pos > n) {
        return 0;
    }
    evbuffer_copyout(b, pre, n);
    for (size_t i = 0; i < n; i++) {
        if (pre[i] != ' ' && pre[i] != '\t' && pre[i] != '\r' && pre[i] != '\n') {
            return 0;
        }
    }
    return 1;
}

/* SDK pass-through: the form read against the model into parameters, so
 * that what goes on is the proxy's own serialization of what it checked,
 * never the SDK's bytes (form_params.h says what is refused). */
static json_t *form_params(const struct model_service *svc, const struct config *cfg,
                           struct server_request *sr, struct prepared *out,
                           struct prepare_refusal *why) {
    out->passthrough = 1;
    size_t len = evbuffer_get_length(sr->body);
    const char *body = (const char *)evbuffer_pullup(sr->body, -1);
    struct sp_err err;
    sp_err_clear(&err);
    char action[128];
    size_t alen = 0;
    if (form_check(body, len, &err) < 0) {
        refuse(why, 400, "MalformedRequest", err.msg);
        return NULL;
    }
    if (form_get(body, len, "Action", action, sizeof(action), &alen, &err) <= 0) {
        refuse(why, 400, "InvalidAction", "the form has no Action");
        return NULL;
    }
    out->op = model_find_op(svc, action, alen);
    if (out->op == NULL || strcmp(out->op->name, action) != 0) {
        out->op = NULL;
        refuse(why, 400, "InvalidAction", "no such SES operation");
        return NULL;
    }
    if (!policy_action_allowed(cfg, out->op->name)) {
        refuse(why, 403, "AccessDenied", "the operation is not allowed by policy");
        return NULL;
    }
    json_t *params = NULL;
    struct membudget mb; /* a form of many tiny pairs must not cost 50x its size */
    membudget_begin(&mb, membudget_for_body(len));
    int rc = form_params_parse(svc, out->op, body, len, &params, &err);
    if (membudget_end(&mb)) {
        json_decref(params);
        why->status = 413;
        sp_fail(&why->err, "RequestEntityTooLarge",
                "the form holds too many values: reading it would take over %zu bytes", mb.limit);
        return NULL;
    }
    if (rc < 0) {
        refuse(why, 400, err.code, err.msg);
        return NULL;
    }
    return params;
}

/* The JSON body, or {} for an empty one (POST /{Action}). */
static json_t *load_params(struct server_request *sr, const char *path_action,
                           struct prepare_refusal *why) {
    if (evbuffer_get_length(sr->body) == 0) {
        if (path_action == NULL) {
            refuse(why, 400, "InvalidAction",
                   "no Action: POST / needs a JSON body with \"Action\"");
            return NULL;
        }
        return json_object();
    }
    json_error_t jerr;
    struct membudget mb; /* a body that would take far more heap than its size: 413 */
    membudget_begin(&mb, membudget_for_body(evbuffer_get_length(sr->body)));
    json_t *params =
        json_load_callback(json_from_evbuffer, sr->body, JSON_REJECT_DUPLICATES, &jerr);
    if (membudget_end(&mb)) {
        json_decref(params);
        why->status = 413;
        sp_fail(&why->err, "RequestEntityTooLarge",
                "the JSON body holds too many values: parsing it would take over %zu bytes",
                mb.limit);
        return NULL;
    }
    if (params == NULL) {
        why->status = 400;
        sp_fail(&why->err, "MalformedRequest",
                "body is not valid JSON (UTF-8): %s at line %d column %d", jerr.text, jerr.line,
                jerr.column);
        return NULL;
    }
    if (!json_is_object(params)) {
        json_decref(params);
        refuse(why, 400, "MalformedRequest", "body must be a JSON object");
        return NULL;
    }
    return params;
}

/* The operation named by the path and/or the body's "Action" (which must
 * agree); "Action" is removed from params. */
static const struct model_op *find_op(const struct model_service *svc, json_t *params,
                                      const char *path_action, struct prepare_refusal *why) {
    json_t *action = json_object_get(params, "Action");
    const char *name = path_action;
    size_t len = path_action != NULL ? strlen(path_action) : 0;
    if (action != NULL) {
        if (!json_is_string(action)) {
            refuse(why, 400, "InvalidAction", "\"Action\" must be a string");
            return NULL;
        }
        name = json_string_value(action);
        len = json_string_length(action);
        if (path_action != NULL &&
            model_find_op(svc, path_action, strlen(path_action)) != model_find_op(svc, name, len)) {
            refuse(why, 400, "InvalidAction", "the Action in the path and in the body differ");
            return NULL;
        }
    }
    if (name == NULL) {
        refuse(why, 400, "InvalidAction", "no Action: give \"Action\" or POST /{Action}");
        return NULL;
    }
    const struct model_op *op = model_find_op(svc, name, len);
    if (op == NULL) {
        why->status = 400;
        sp_fail(&why->err, "InvalidAction", "no such %s operation: %.120s",
                svc == &model_sesv2 ? "SES v2" : "SES", name);
        return NULL;
    }
    json_object_del(params, "Action");
    return op;
}

/* JSON mode: the body's object, the operation from the path or "Action". */
static json_t *json_params(const struct model_service *svc, const struct config *cfg,
                           struct server_request *sr, const char *path_action, struct prepared *out,
                           struct prepare_refusal *why) {
    json_t *params = load_params(sr, path_action, why);
    if (params == NULL) {
        return NULL;
    }
    out->op = find_op(svc, params, path_action, why);
    if (out->op == NULL) {
        json_decref(params);
        return NULL;
    }
    char name[80];
    snprintf(name, sizeof(name), "%s%s", model_op_prefix(out->op), out->op->name);
    if (!policy_action_allowed(cfg, name)) {
        json_decref(params);
        refuse(why, 403, "AccessDenied", "the operation is not allowed by policy");
        return NULL;
    }
    return params;
}

/* ---- SES v2 ------------------------------------------------------------ */

static void free_cleanup(const void *data, size_t len, void *arg) {
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

/* SDK pass-through for SES v2: the operation from the method and URI
 * template, its parameters read back from the request (labels, query,
 * body) so that the proxy's policy and serialization see exactly them. A
 * request the model cannot route is refused and named, never forwarded:
 * it could be anything to SES. */
static json_t *v2_sdk_params(const struct config *cfg, struct server_request *sr,
                             struct prepared *out, struct prepare_refusal *why) {
    out->passthrough = 1;
    size_t plen = strlen(sr->path), qlen = sr->query != NULL ? strlen(sr->query) : 0;
    size_t tlen = plen + (sr->query != NULL ? 1 + qlen : 0);
    char *target = malloc(tlen + 1), *labels = malloc(tlen + 1);
    json_t *params = NULL;
    struct sp_err err;
    sp_err_clear(&err);
    if (target == NULL || labels == NULL) {
        refuse(why, 500, "InternalError", "out of memory");
        goto cleanup;
    }
    snprintf(target, tlen + 1, "%s%s%s", sr->path, sr->query != NULL ? "?" : "",
             sr->query != NULL ? sr->query : "");
    struct route_match m;
    if (route_find(&model_sesv2, sr->method, strlen(sr->method), target, tlen, labels, tlen + 1, &m,
                   &err) < 0) {
        if (err.code != NULL && strcmp(err.code, "InvalidAction") == 0) {
            why->status = 400;
            sp_fail(&why->err, "UnknownOperationException",
                    "%s %.300s is not an operation of the SES v2 model this proxy knows (API "
                    "%s, botocore %s): an SDK newer than that model may send calls it cannot "
                    "check, and those are not forwarded",
                    sr->method, sr->path, model_sesv2.api_version, model_sesv2.botocore_version);
        } else {
            refuse(why, 400, err.code != NULL ? err.code : "MalformedRequest", err.msg);
        }
        goto cleanup;
    }
    out->op = m.op;
    char name[80];
    snprintf(name, sizeof(name), "%s%s", model_op_prefix(m.op), m.op->name);
    if (!policy_action_allowed(cfg, name)) {
        refuse(why, 403, "AccessDenied", "the operation is not allowed by policy");
        goto cleanup;
    }
    size_t blen = evbuffer_get_length(sr->body);
    const char *body = blen > 0 ? (const char *)evbuffer_pullup(sr->body, -1) : NULL;
    struct membudget mb; /* a body of tiny values must not cost 50x its size */
    membudget_begin(&mb, membudget_for_body(blen));
    int rc = restjson_inbound_parse(&model_sesv2, &m, sr->query, qlen, NULL, 0, body, blen, &params,
                                    &err);
    if (membudget_end(&mb)) {
        json_decref(params);
        params = NULL;
        why->status = 413;
        sp_fail(&why->err, "RequestEntityTooLarge",
                "the JSON body holds too many values: parsing it would take over %zu bytes",
                mb.limit);
    } else if (rc < 0) {
        refuse(why, 400, err.code != NULL ? err.code : "ValidationError", err.msg);
        params = NULL;
    }
cleanup:
    free(target);
    free(labels);
    return params;
}

/* botocore's isValidHostLabel(EndpointId, allowSubDomains=True): dot-separated
 * labels of 1-63 letters, digits and '-', not starting or ending with '-'. */
static int valid_endpoint_id(const char *s) {
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 200) {
        return 0;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c == '-' && label > 0);
        if (!ok) {
            return 0;
        }
        label++;
    }
    return 1;
}

/* The multi-region endpoint a call names (its EndpointId context
 * parameter): botocore sends such a call there, signed with SigV4a. */
static int take_endpoint_id(const struct model_op *op, const json_t *params, struct prepared *out,
                            struct prepare_refusal *why) {
    const struct model_shape *input = model_shape_at(&model_sesv2, op->input);
    for (size_t i = 0; i < op->n_context_params; i++) {
        if (strcmp(op->context_params[i].name, "EndpointId") != 0 || input == NULL) {
            continue;
        }
        const json_t *v =
            json_object_get(params, input->members[op->context_params[i].member].name);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        const char *id = json_string_value(v);
        if (id == NULL || !valid_endpoint_id(id) || strlen(id) >= sizeof(out->endpoint_id)) {
            return refuse(why, 400, "ValidationError",
                          "EndpointId must be a valid host label (letters, digits and '-', "
                          "dot-separated); nothing was sent");
        }
        snprintf(out->endpoint_id, sizeof(out->endpoint_id), "%s", id);
    }
    return 0;
}

/* The request SES v2 gets: restjson_serialize's, taken over by out. */
static int serialize_v2(const json_t *params, struct prepared *out, struct prepare_refusal *why) {
    struct restjson_request rq;
    struct sp_err err;
    sp_err_clear(&err);
    if (restjson_serialize(&model_sesv2, out->op, params, &rq, &err) < 0) {
        return refuse(why, 400, err.code != NULL ? err.code : "ValidationError", err.msg);
    }
    out->method = rq.method;
    out->path = rq.path;
    out->query = rq.query;
    out->headers = rq.headers;
    out->n_headers = rq.n_headers;
    out->content_type = NULL; /* one of rq.headers when there is a body */
    rq.path = rq.query = NULL;
    rq.headers = NULL;
    rq.n_headers = 0;
    if (out->query != NULL && out->query[0] == '\0') {
        free(out->query);
        out->query = NULL;
    }
    if (rq.body != NULL) {
        out->body = evbuffer_new();
        if (out->body == NULL ||
            evbuffer_add_reference(out->body, rq.body, rq.body_len, free_cleanup, NULL) < 0) {
            restjson_request_clear(&rq);
            return refuse(why, 500, "InternalError", "out of memory");
        }
        rq.body = NULL;
    }
    restjson_request_clear(&rq);
    return 0;
}

/* The request SES v1 gets: the Query form. */
static int serialize_v1(const json_t *params, struct prepared *out, struct prepare_refusal *why) {
    struct sp_err err;
    sp_err_clear(&err);
    out->method = "POST";
    out->content_type = SIGNED_REQUEST_FORM_CT;
    out->body = evbuffer_new();
    if (out->body == NULL ||
        query_serialize(&model_ses, out->op, params, sink_evbuffer, out->body, &err) < 0) {
        return refuse(why, 500, "InternalError", err.code != NULL ? err.msg : "out of memory");
    }
    return 0;
}

static int on_raw(void *ctx, enum model_role role, const struct model_member *member,
                  const json_t *value, const json_t *parent, const char *path) {
    (void)role;
    (void)member;
    (void)parent;
    (void)path;
    *(const json_t **)ctx = value;
    return 0;
}

/* The call's raw message (v1 RawMessage.Data, v2 Content.Raw.Data), read
 * once for the policy and the recipients: NULL when the call has none or
 * on a refusal (why filled; *refused set). The caller frees the result. */
static struct rawmsg *read_raw(const struct model_service *svc, const struct model_op *op,
                               const json_t *params, int *refused, struct prepare_refusal *why) {
    const json_t *data = NULL;
    *refused = 0;
    (void)roles_walk(svc, op, params, ROLES_BIT(MODEL_ROLE_RAW_MESSAGE), on_raw, &data);
    if (!json_is_string(data)) {
        return NULL;
    }
    struct rawmsg *raw = malloc(sizeof(*raw));
    struct sp_err err;
    sp_err_clear(&err);
    if (raw == NULL) {
        *refused = 1;
        refuse(why, 500, "InternalError", "out of memory");
        return NULL;
    }
    if (rawmsg_read(json_string_value(data), json_string_length(data), RAWMSG_BASE64, raw, &err) <
        0) {
        free(raw);
        *refused = 1;
        why->status = 400;
        sp_fail(&why->err, "InvalidParameterValue", "the raw message: %s", err.msg);
        return NULL;
    }
    return raw;
}

/* What both modes share once the parameters are read: validation against
 * the model, the policy, the recipients, and the body SES gets. */
static int prepare_params(const struct model_service *svc, const struct config *cfg,
                          const struct policy_account *acct, json_t *params, struct prepared *out,
                          struct prepare_refusal *why) {
    struct sp_err err;
    sp_err_clear(&err);
    if (validate_params(svc, out->op, params, &err) < 0) {
        return refuse(why, 400, err.code != NULL ? err.code : "ValidationError", err.msg);
    }
    int refused = 0, status = 0, rc = -1;
    struct rawmsg *raw = read_raw(svc, out->op, params, &refused, why);
    if (refused) {
        return -1;
    }
    char name[80];
    snprintf(name, sizeof(name), "%s%s", model_op_prefix(out->op), out->op->name);
    if (policy_check_call(cfg, acct, svc, out->op, name, params, raw, &status, &err) < 0) {
        why->status = status;
        why->err = err;
        goto cleanup;
    }
    if (out->op->op_class == MODEL_OP_SEND) {
        struct recipients_tally t;
        recipients_tally(svc, out->op, params, raw, &t);
        if (t.largest > RECIPIENTS_PER_MESSAGE) {
            why->status = 400;
            sp_fail(&why->err, "InvalidParameterValue",
                    "a message has %zu recipients; SES takes at most %d per message", t.largest,
                    RECIPIENTS_PER_MESSAGE);
            goto cleanup;
        }
        out->recipients = t.total;
    } else {
        out->recipients = 1;
    }
    if (svc == &model_sesv2 && take_endpoint_id(out->op, params, out, why) < 0) {
        goto cleanup;
    }
    rc = svc == &model_sesv2 ? serialize_v2(params, out, why) : serialize_v1(params, out, why);
cleanup:
    free(raw);
    return rc;
}

void prepare_clear(struct prepared *p) {
    free(p->path);
    free(p->query);
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].name);
        free(p->headers[i].value);
    }
    free(p->headers);
    if (p->body != NULL) {
        upstream_release_body(p->body); /* a 10 MB message: give the heap back */
    }
    p->path = p->query = NULL;
    p->headers = NULL;
    p->n_headers = 0;
    p->body = NULL;
}

int prepare_call(const struct config *cfg, const struct policy_account *acct,
                 struct server_request *sr, struct prepared *out, struct prepare_refusal *why) {
    memset(out, 0, sizeof(*out));
    sp_err_clear(&why->err);
    const char *path = sr->path;
    json_t *params = NULL;
    if (strncmp(path, "/v2/email/", 10) == 0 || strcmp(path, "/v2/email") == 0) {
        out->svc = &model_sesv2;
        params = v2_sdk_params(cfg, sr, out, why);
    } else if (strncmp(path, "/v2/", 4) == 0 || strcmp(path, "/v2") == 0) {
        out->svc = &model_sesv2;
        const char *action = path[3] == '/' && path[4] != '\0' ? path + 4 : NULL;
        if (action != NULL && strchr(action, '/') != NULL) {
            return refuse(why, 404, "NotFound",
                          "SES v2 calls are POST /v2/{Operation}, POST /v2/ with \"Action\", or "
                          "an SDK's call under /v2/email/");
        }
        params = json_params(&model_sesv2, cfg, sr, action, out, why);
    } else {
        out->svc = &model_ses;
        const char *path_action = NULL;
        if (strcmp(path, "/") != 0) {
            path_action = path + 1;
            if (strchr(path_action, '/') != NULL || *path_action == '\0') {
                return refuse(why, 404, "NotFound", "calls are POST / or POST /{Action}");
            }
        }
        params = sr->body_kind == BODY_FORM && path_action == NULL && !first_byte_is_brace(sr->body)
                     ? form_params(&model_ses, cfg, sr, out, why)
                     : json_params(&model_ses, cfg, sr, path_action, out, why);
    }
    int rc = params != NULL ? prepare_params(out->svc, cfg, acct, params, out, why) : -1;
    json_decref(params);
    if (rc < 0) {
        prepare_clear(out);
    }
    return rc;
}
