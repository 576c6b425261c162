/* check.h - error values and the ENSURE/GUARD macros shared by every layer.
 *
 * Fallible functions return 0 on success and -1 on failure, are marked
 * SP_WARN_UNUSED, and fill the caller's struct sp_err with a code (a static
 * string, compared by address or by strcmp, never freed) and a message.
 * Header-only: signer/ must not depend on anything of ours. */
#ifndef SP_CHECK_H
#define SP_CHECK_H

#include <stdarg.h>
#include <stdio.h>

#define SP_WARN_UNUSED __attribute__((warn_unused_result))
#define SP_PRINTF(a, b) __attribute__((format(printf, a, b)))

#define SP_ERR_MSG_LEN 1024

struct sp_err {
    const char *code; /* static string, e.g. "ValidationError"; NULL = none */
    char msg[SP_ERR_MSG_LEN];
};

static inline void sp_err_clear(struct sp_err *err) {
    err->code = NULL;
    err->msg[0] = '\0';
}

/* Fills err (if not NULL) and returns -1, so callers can `return sp_fail(...)`. */
static inline SP_PRINTF(3, 4) int sp_fail(struct sp_err *err, const char *code, const char *fmt,
                                          ...) {
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ENSURE(cond, err, code, fmt, ...): fail with code unless cond holds. */
#define ENSURE(cond, err, code, ...)                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            return sp_fail((err), (code), __VA_ARGS__);                                            \
        }                                                                                          \
    } while (0)

/* ENSURE_REF(ptr, err): fail with "InternalError" when ptr is NULL (out of memory). */
#define ENSURE_REF(ptr, err) ENSURE((ptr) != NULL, (err), "InternalError", "out of memory")

/* GUARD(call): propagate a failure whose err was already filled. */
#define GUARD(call)                                                                                \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

#endif
