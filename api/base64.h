/* base64.h - the RFC 4648 alphabet, shared by the validator (canonical
 * blobs) and the raw-message reader (header-section prefix). Header-only,
 * pure. */
#ifndef SP_BASE64_H
#define SP_BASE64_H

/* Value of a base64 digit, or -1 for anything else (padding included). */
static inline int base64_digit(unsigned char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

#endif
