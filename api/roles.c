/* roles.c - walking parameters by member role (see roles.h). */
#include "api/roles.h"

#include <stdio.h>
#include <string.h>

#define PATH_MAX_LEN 512

struct walk {
    const struct model_service *svc;
    uint32_t mask;
    roles_fn fn;
    void *ctx;
    char path[PATH_MAX_LEN];
    size_t plen;
};

static int walk_value(struct walk *w, const struct model_shape *shape, const json_t *v, int depth);

/* Appends ".name" (or "name" at the start) to the path, cut and never
 * overflowing. */
static void push_name(struct walk *w, const char *name) {
    int n = snprintf(w->path + w->plen, sizeof(w->path) - w->plen, "%s%s", w->plen > 0 ? "." : "",
                     name);
    if (n > 0) {
        w->plen +=
            (size_t)n < sizeof(w->path) - w->plen ? (size_t)n : sizeof(w->path) - w->plen - 1;
    }
}

/* Appends "[i]". */
static void push_index(struct walk *w, size_t i) {
    int n = snprintf(w->path + w->plen, sizeof(w->path) - w->plen, "[%zu]", i);
    if (n > 0) {
        w->plen +=
            (size_t)n < sizeof(w->path) - w->plen ? (size_t)n : sizeof(w->path) - w->plen - 1;
    }
}

static int walk_structure(struct walk *w, const struct model_shape *shape, const json_t *obj,
                          int depth) {
    if (!json_is_object(obj)) {
        return 0;
    }
    for (size_t i = 0; i < shape->n_members; i++) {
        const struct model_member *m = &shape->members[i];
        const struct model_shape *ms = model_shape_at(w->svc, m->shape);
        int mine = m->role != MODEL_ROLE_NONE && (w->mask & ROLES_BIT(m->role)) != 0;
        if (!mine && (ms->roles & w->mask) == 0) {
            continue;
        }
        const json_t *v = json_object_get(obj, m->name);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        size_t saved = w->plen;
        push_name(w, m->name);
        int rc = mine ? w->fn(w->ctx, (enum model_role)m->role, m, v, obj, w->path) : 0;
        if (rc == 0 && (ms->roles & w->mask) != 0) {
            rc = walk_value(w, ms, v, depth + 1);
        }
        w->plen = saved;
        w->path[saved] = '\0';
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static int walk_value(struct walk *w, const struct model_shape *shape, const json_t *v, int depth) {
    if (depth > 64) {
        return 0; /* validation bounds the depth before any walk */
    }
    switch (shape->type) {
    case MODEL_STRUCTURE:
        return walk_structure(w, shape, v, depth);
    case MODEL_LIST: {
        const struct model_shape *es = model_shape_at(w->svc, shape->members[0].shape);
        if ((es->roles & w->mask) == 0 || !json_is_array(v)) {
            return 0;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t saved = w->plen;
            push_index(w, i);
            int rc = walk_value(w, es, json_array_get(v, i), depth + 1);
            w->plen = saved;
            w->path[saved] = '\0';
            if (rc < 0) {
                return -1;
            }
        }
        return 0;
    }
    case MODEL_MAP: {
        const struct model_shape *vs = model_shape_at(w->svc, shape->members[1].shape);
        if ((vs->roles & w->mask) == 0 || !json_is_object(v)) {
            return 0;
        }
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)(uintptr_t)v, k, e) {
            size_t saved = w->plen;
            push_name(w, k);
            int rc = walk_value(w, vs, e, depth + 1);
            w->plen = saved;
            w->path[saved] = '\0';
            if (rc < 0) {
                return -1;
            }
        }
        return 0;
    }
    default:
        return 0;
    }
}

int roles_walk(const struct model_service *svc, const struct model_op *op, const json_t *params,
               uint32_t mask, roles_fn fn, void *ctx) {
    const struct model_shape *input = model_shape_at(svc, op->input);
    if (input == NULL || params == NULL) {
        return 0;
    }
    struct walk w = {.svc = svc, .mask = mask, .fn = fn, .ctx = ctx};
    w.path[0] = '\0';
    return walk_value(&w, input, params, 0);
}
