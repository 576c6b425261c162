/* fuzz_ini.c - libFuzzer target for proxy/creds/creds_ini (the shared-file
 * parser).
 *
 * Input: a whole ~/.aws/credentials or ~/.aws/config text. It must parse or
 * fail cleanly; when it parses, every entry points at a real section, every
 * (section, key) pair found by walking the entries is found again by
 * creds_ini_get (with the last value of a repeated key), and profile lookups
 * in both file modes never crash. A failure's message names a line and never
 * holds a byte of the input beyond what a line number is made of. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/creds/creds_ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct creds_ini *ini = NULL;
    struct sp_err err;
    sp_err_clear(&err);
    if (creds_ini_parse((const char *)data, size, &ini, &err) < 0) {
        if (ini != NULL || err.code == NULL ||
            (strstr(err.msg, "line ") == NULL && strstr(err.msg, "larger") == NULL)) {
            abort();
        }
        return 0;
    }
    size_t ns = creds_ini_section_count(ini);
    size_t ne = creds_ini_entry_count(ini);
    for (size_t i = 0; i < ne; i++) {
        const char *k, *v;
        size_t sec;
        if (creds_ini_entry(ini, i, &k, &v, &sec) < 0 || sec >= ns || k[0] == '\0') {
            abort();
        }
        const char *name = creds_ini_section_name(ini, sec);
        const char *got = creds_ini_get(ini, name, k);
        if (got == NULL) {
            abort();
        }
        /* the last entry with this section name and key wins */
        const char *last = NULL;
        for (size_t j = 0; j < ne; j++) {
            const char *k2, *v2;
            size_t s2;
            (void)creds_ini_entry(ini, j, &k2, &v2, &s2);
            if (strcmp(k2, k) == 0 && strcmp(creds_ini_section_name(ini, s2), name) == 0) {
                last = v2;
            }
        }
        if (last != got) {
            abort();
        }
        for (const char *p = k; *p; p++) {
            if (*p >= 'A' && *p <= 'Z') {
                abort(); /* keys are lowercased */
            }
        }
        (void)creds_ini_profile_get(ini, 1, name, k);
        (void)creds_ini_profile_get(ini, 0, name, k);
    }
    for (size_t i = 0; i < ns; i++) {
        const char *name = creds_ini_section_name(ini, i);
        if (!creds_ini_has_profile(ini, 0, name)) {
            abort(); /* in a credentials file every section is a profile */
        }
        (void)creds_ini_has_profile(ini, 1, name);
        (void)creds_ini_profile_get(ini, 1, "default", "aws_access_key_id");
    }
    creds_ini_free(ini);
    return 0;
}
