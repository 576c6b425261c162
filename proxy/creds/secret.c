/* secret.c - wiping, the wiped buffer and secret files (see secret.h). */
#include "proxy/creds/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void secret_wipe_str(char *s) {
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void secret_free(void *p, size_t n) {
    if (p != NULL) {
        OPENSSL_cleanse(p, n);
        free(p);
    }
}

/* -------------------------------------------------------------- buffers */

static int buf_reserve(struct secret_buf *b, size_t more) {
    if (b->oom) {
        return -1;
    }
    if (more <= b->cap - b->len && b->p != NULL) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= more) {
        if (cap > ((size_t)1 << 30)) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = malloc(cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    if (b->p != NULL) {
        memcpy(p, b->p, b->len);
        secret_free(b->p, b->cap);
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void secret_buf_append(struct secret_buf *b, const void *data, size_t n) {
    if (buf_reserve(b, n + 1) < 0) {
        return;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void secret_buf_puts(struct secret_buf *b, const char *s) { secret_buf_append(b, s, strlen(s)); }

void secret_buf_printf(struct secret_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void percent_encode(struct secret_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            secret_buf_append(b, p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            secret_buf_append(b, e, 3);
        }
    }
}

void secret_buf_form(struct secret_buf *b, const char *key, const char *value) {
    if (b->len > 0) {
        secret_buf_append(b, "&", 1);
    }
    percent_encode(b, key);
    secret_buf_append(b, "=", 1);
    percent_encode(b, value);
}

void secret_buf_clear(struct secret_buf *b) {
    secret_free(b->p, b->cap);
    memset(b, 0, sizeof(*b));
}

/* ---------------------------------------------------------------- files */

char *secret_read_file(const char *path, size_t max, const char *what, size_t *len,
                       struct sp_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        sp_fail(err, "CredentialsUnavailable", "cannot open %s %s: %s", what, path,
                strerror(errno));
        return NULL;
    }
    struct secret_buf b = {0};
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            sp_fail(err, "CredentialsUnavailable", "cannot read %s %s: %s", what, path,
                    strerror(errno));
            break;
        }
        if (n == 0) {
            if (b.p == NULL) {
                secret_buf_append(&b, "", 0);
            }
            break;
        }
        if (b.len + (size_t)n > max) {
            sp_fail(err, "CredentialsUnavailable", "%s %s is larger than %zu bytes", what, path,
                    max);
            b.oom = 1;
            break;
        }
        secret_buf_append(&b, chunk, (size_t)n);
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    if (b.oom || b.p == NULL) {
        if (err != NULL && err->code == NULL) {
            sp_fail(err, "InternalError", "out of memory");
        }
        secret_buf_clear(&b);
        return NULL;
    }
    if (memchr(b.p, '\0', b.len) != NULL) {
        sp_fail(err, "CredentialsUnavailable", "%s %s holds a NUL byte", what, path);
        secret_buf_clear(&b);
        return NULL;
    }
    if (len != NULL) {
        *len = b.len;
    }
    /* The caller frees it with secret_wipe_str (strlen = len): the slack
     * after the NUL never held data of the file beyond what was wiped when
     * the buffer grew. */
    return b.p;
}

char *secret_read_value_file(const char *path, size_t max, const char *what, struct sp_err *err) {
    size_t n;
    char *s = secret_read_file(path, max, what, &n, err);
    if (s == NULL) {
        return NULL;
    }
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) {
        s[--n] = '\0';
    }
    if (n == 0) {
        sp_fail(err, "CredentialsUnavailable", "%s %s is empty", what, path);
        secret_wipe_str(s);
        return NULL;
    }
    if (strpbrk(s, "\r\n") != NULL) {
        sp_fail(err, "CredentialsUnavailable", "%s %s holds more than one line", what, path);
        secret_free(s, n);
        return NULL;
    }
    return s;
}
