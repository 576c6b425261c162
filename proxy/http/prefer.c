/* prefer.c - Prefer and Idempotency-Key (see prefer.h). */
#include "proxy/http/prefer.h"

#include <string.h>
#include <strings.h>

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* Skips a quoted-string starting at s[*i] == '"'; 0 when it is closed. */
static int skip_quoted(const char *s, size_t len, size_t *i) {
    for ((*i)++; *i < len; (*i)++) {
        if (s[*i] == '\\') {
            (*i)++;
        } else if (s[*i] == '"') {
            (*i)++;
            return 0;
        }
    }
    return -1;
}

int prefer_has(const char *value, size_t len, const char *token) {
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_ows(value[i]) || value[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < len && value[i] != '=' && value[i] != ';' && value[i] != ',' &&
               !is_ows(value[i])) {
            i++;
        }
        if (i - start == tlen && tlen > 0 && strncasecmp(value + start, token, tlen) == 0) {
            return 1;
        }
        /* The rest of this preference: its value and parameters. */
        while (i < len && value[i] != ',') {
            if (value[i] == '"') {
                if (skip_quoted(value, len, &i) < 0) {
                    return 0;
                }
                continue;
            }
            i++;
        }
    }
    return 0;
}

static int printable(char c) { return c >= 0x20 && c <= 0x7e; }

int prefer_idempotency_key(const char *value, size_t len, char out[PREFER_KEY_MAX + 1]) {
    size_t n = 0;
    if (len >= 2 && value[0] == '"') {
        size_t i = 1;
        for (; i < len && value[i] != '"'; i++) {
            char c = value[i];
            if (c == '\\') {
                if (i + 1 >= len || (value[i + 1] != '"' && value[i + 1] != '\\')) {
                    return -1;
                }
                c = value[++i];
            } else if (!printable(c)) {
                return -1;
            }
            if (n == PREFER_KEY_MAX) {
                return -1;
            }
            out[n++] = c;
        }
        if (i != len - 1) {
            return -1; /* unterminated, or bytes after the closing quote */
        }
    } else {
        if (len > PREFER_KEY_MAX) {
            return -1;
        }
        for (; n < len; n++) {
            if (!printable(value[n])) {
                return -1;
            }
            out[n] = value[n];
        }
    }
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}
