/* secret.h - the one home for handling secret bytes in the credential code:
 * wiping and freeing them, a growable buffer that never leaves a copy
 * behind, and reading a secret from a file.
 *
 * Wiping is OPENSSL_cleanse (which the compiler may not optimise away),
 * always before the memory is freed or given back, also on every error
 * path. What these helpers cannot reach is not wiped: the kernel's and
 * libc's buffers of a file that was read, and copies a caller makes.
 *
 * Ownership: a string or buffer handed to secret_wipe_str / secret_free is
 * freed by it. A struct secret_buf owns its bytes until secret_buf_clear or
 * until the caller takes b.p (and then wipes it itself). Messages name a
 * file and what is wrong with it, never a byte of its content. */
#ifndef SP_SECRET_H
#define SP_SECRET_H

#include <stddef.h>

#include "signer/check.h"

/* Wipes and frees a NUL-terminated string; NULL is fine. */
void secret_wipe_str(char *s);
/* Wipes n bytes at p and frees p; NULL is fine. */
void secret_free(void *p, size_t n);

/* A growable byte buffer for secrets: grown by copy-and-wipe, wiped when
 * cleared. Zero-initialise it ({0}). Always NUL-terminated after a
 * successful append; after a failed one (out of memory, or over 1 GiB) oom
 * is set, every later append is ignored, and the content is incomplete: the
 * caller checks oom once, at the end. */
struct secret_buf {
    char *p;
    size_t len, cap;
    int oom;
};
void secret_buf_append(struct secret_buf *b, const void *data, size_t n);
void secret_buf_puts(struct secret_buf *b, const char *s);
void secret_buf_printf(struct secret_buf *b, const char *fmt, ...) SP_PRINTF(2, 3);
/* key=value with RFC 3986 unreserved-only percent-encoding, '&' first
 * unless the buffer is empty (an application/x-www-form-urlencoded body). */
void secret_buf_form(struct secret_buf *b, const char *key, const char *value);
/* Wipes and frees the bytes; b is then empty ({0}) again. */
void secret_buf_clear(struct secret_buf *b);

/* Reads a whole small file (at most max bytes) into a new NUL-terminated
 * buffer (free it with secret_wipe_str). Fails when the file cannot be
 * read, is larger than max or holds a NUL byte; the message names the path
 * and what, of the content, is wrong, but quotes nothing of it. `what` names
 * the file's role in messages ("AWS_WEB_IDENTITY_TOKEN_FILE"). *len (may be
 * NULL) gets the length. */
char *secret_read_file(const char *path, size_t max, const char *what, size_t *len,
                       struct sp_err *err);
/* The same, for a one-value file (a token, a secret): trailing white space
 * and line ends dropped; fails when empty or when a line break remains
 * inside. */
char *secret_read_value_file(const char *path, size_t max, const char *what, struct sp_err *err);

#endif
