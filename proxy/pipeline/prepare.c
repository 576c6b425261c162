/* prepare.c - from an inbound request to the call SES will see (see
 * prepare.h). */
#include "proxy/pipeline/prepare.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <string.h>

#include "api/form.h"
#include "api/membudget.h"
#include "api/model.h"
#include "api/query.h"
#include "api/recipients.h"
#include "api/validate.h"
#include "proxy/config.h"
#include "proxy/http/server.h"
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

/* SDK pass-through: the form as the SDK sent it. */
static int prepare_form(const struct model_service *svc, const struct config *cfg,
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
        return refuse(why, 400, "MalformedRequest", err.msg);
    }
    if (form_get(body, len, "Action", action, sizeof(action), &alen, &err) <= 0) {
        return refuse(why, 400, "InvalidAction", "the form has no Action");
    }
    out->op = model_find_op(svc, action, alen);
    if (out->op == NULL || strcmp(out->op->name, action) != 0) {
        out->op = NULL;
        return refuse(why, 400, "InvalidAction", "no such SES operation");
    }
    if (!policy_action_allowed(cfg, out->op->name)) {
        return refuse(why, 403, "AccessDenied", "the operation is not allowed by policy");
    }
    if (policy_check_form(policy_identity_rule(cfg, out->op->name), out->op, body, len, &err) < 0) {
        return refuse(why, 403, "AccessDenied", err.msg);
    }
    out->recipients = out->op->op_class == MODEL_OP_SEND ? recipients_count_form(body, len) : 1;
    out->form = evbuffer_new();
    if (out->form == NULL) {
        return refuse(why, 500, "InternalError", "out of memory");
    }
    evbuffer_add_buffer(out->form, sr->body); /* moves the chains, no copy */
    return 0;
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
        sp_fail(&why->err, "InvalidAction", "no such SES operation: %.120s", name);
        return NULL;
    }
    json_object_del(params, "Action");
    return op;
}

static int prepare_json(const struct model_service *svc, const struct config *cfg,
                        struct server_request *sr, const char *path_action, struct prepared *out,
                        struct prepare_refusal *why) {
    json_t *params = load_params(sr, path_action, why);
    if (params == NULL) {
        return -1;
    }
    int rc = -1;
    struct sp_err err;
    sp_err_clear(&err);
    out->op = find_op(svc, params, path_action, why);
    if (out->op == NULL) {
        goto cleanup;
    }
    if (!policy_action_allowed(cfg, out->op->name)) {
        refuse(why, 403, "AccessDenied", "the operation is not allowed by policy");
        goto cleanup;
    }
    if (validate_params(svc, out->op, params, &err) < 0) {
        refuse(why, 400, err.code != NULL ? err.code : "ValidationError", err.msg);
        goto cleanup;
    }
    if (policy_check_json(policy_identity_rule(cfg, out->op->name), out->op, params, &err) < 0) {
        refuse(why, 403, "AccessDenied", err.msg);
        goto cleanup;
    }
    out->recipients =
        out->op->op_class == MODEL_OP_SEND ? recipients_count_params(out->op, params) : 1;
    out->form = evbuffer_new();
    if (out->form == NULL ||
        query_serialize(svc, out->op, params, sink_evbuffer, out->form, &err) < 0) {
        refuse(why, 500, "InternalError", err.code != NULL ? err.msg : "out of memory");
        goto cleanup;
    }
    rc = 0;
cleanup:
    json_decref(params);
    return rc;
}

int prepare_call(const struct model_service *svc, const struct config *cfg,
                 struct server_request *sr, struct prepared *out, struct prepare_refusal *why) {
    memset(out, 0, sizeof(*out));
    sp_err_clear(&why->err);
    const char *path_action = NULL;
    if (strcmp(sr->path, "/") != 0) {
        path_action = sr->path + 1;
        if (strchr(path_action, '/') != NULL || *path_action == '\0') {
            return refuse(why, 404, "NotFound", "calls are POST / or POST /{Action}");
        }
    }
    int rc = sr->body_kind == BODY_FORM && path_action == NULL && !first_byte_is_brace(sr->body)
                 ? prepare_form(svc, cfg, sr, out, why)
                 : prepare_json(svc, cfg, sr, path_action, out, why);
    if (rc < 0 && out->form != NULL) {
        evbuffer_free(out->form);
        out->form = NULL;
    }
    return rc;
}
