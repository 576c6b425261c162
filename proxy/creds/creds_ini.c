/* creds_ini.c - the AWS shared files' INI dialect (see creds_ini.h).
 *
 * One pass over the text, line by line, with configparser's rules for
 * comments, section headers, options and continuation lines. Every string is
 * copied into memory this module owns and wipes; nothing is ever copied into
 * a buffer that is freed without a wipe (appending to a value allocates the
 * new buffer, copies, and wipes the old one). */
#include "proxy/creds/creds_ini.h"

#include <stdlib.h>
#include <string.h>

#include "proxy/creds/secret.h"

struct ini_entry {
    size_t section;
    char *key;
    char *value;
    size_t value_len;
};

struct creds_ini {
    char **sections;
    size_t n_sections, cap_sections;
    struct ini_entry *entries;
    size_t n_entries, cap_entries;
};

static char *dup_n(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (out != NULL) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

void creds_ini_free(struct creds_ini *ini) {
    if (ini == NULL) {
        return;
    }
    for (size_t i = 0; i < ini->n_sections; i++) {
        secret_wipe_str(ini->sections[i]);
    }
    for (size_t i = 0; i < ini->n_entries; i++) {
        secret_wipe_str(ini->entries[i].key);
        secret_free(ini->entries[i].value, ini->entries[i].value_len);
    }
    /* The arrays hold only pointers and indexes, but wipe them anyway: the
     * cost is nil and nothing then depends on that being true. */
    secret_free(ini->sections, ini->cap_sections * sizeof(*ini->sections));
    secret_free(ini->entries, ini->cap_entries * sizeof(*ini->entries));
    free(ini);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Trims [*s, *s + *n) of ASCII white space on both ends. */
static void trim(const char **s, size_t *n) {
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1])) {
        (*n)--;
    }
}

static int add_section(struct creds_ini *ini, const char *name, size_t n) {
    if (ini->n_sections == ini->cap_sections) {
        size_t cap = ini->cap_sections ? ini->cap_sections * 2 : 8;
        char **p = realloc(ini->sections, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        ini->sections = p;
        ini->cap_sections = cap;
    }
    char *copy = dup_n(name, n);
    if (copy == NULL) {
        return -1;
    }
    ini->sections[ini->n_sections++] = copy;
    return 0;
}

static int add_entry(struct creds_ini *ini, const char *key, size_t kn, const char *val,
                     size_t vn) {
    if (ini->n_entries == ini->cap_entries) {
        size_t cap = ini->cap_entries ? ini->cap_entries * 2 : 16;
        struct ini_entry *p = realloc(ini->entries, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        ini->entries = p;
        ini->cap_entries = cap;
    }
    char *k = dup_n(key, kn);
    char *v = dup_n(val, vn);
    if (k == NULL || v == NULL) {
        secret_free(k, kn);
        secret_free(v, vn);
        return -1;
    }
    for (size_t i = 0; i < kn; i++) {
        if (k[i] >= 'A' && k[i] <= 'Z') {
            k[i] = (char)(k[i] - 'A' + 'a');
        }
    }
    ini->entries[ini->n_entries++] = (struct ini_entry){ini->n_sections - 1, k, v, vn};
    return 0;
}

/* Appends "\n" + more to the last entry's value: a new buffer, the old one
 * wiped (it may hold part of a secret). */
static int append_value(struct creds_ini *ini, const char *more, size_t n) {
    struct ini_entry *e = &ini->entries[ini->n_entries - 1];
    char *v = malloc(e->value_len + 1 + n + 1);
    if (v == NULL) {
        return -1;
    }
    memcpy(v, e->value, e->value_len);
    v[e->value_len] = '\n';
    memcpy(v + e->value_len + 1, more, n);
    v[e->value_len + 1 + n] = '\0';
    secret_free(e->value, e->value_len);
    e->value = v;
    e->value_len += 1 + n;
    return 0;
}

/* One line (without its '\n'); lineno for messages. State: whether an
 * option may still be continued, and the indent of its line. */
struct parse_state {
    int have_option;
    size_t option_indent;
};

static int parse_line(struct creds_ini *ini, struct parse_state *st, const char *line, size_t n,
                      size_t lineno, struct sp_err *err) {
    size_t indent = 0;
    while (indent < n && is_space(line[indent])) {
        indent++;
    }
    const char *v = line;
    size_t vn = n;
    trim(&v, &vn);
    if (vn == 0) {
        return 0; /* blank: configparser keeps it inside a value, then drops it */
    }
    if (v[0] == '#' || v[0] == ';') {
        return 0;
    }
    if (st->have_option && indent > st->option_indent) {
        ENSURE(append_value(ini, v, vn) == 0, err, "InternalError", "out of memory");
        return 0;
    }
    st->option_indent = indent;
    st->have_option = 0;
    if (v[0] == '[') {
        size_t close = vn;
        while (close > 1 && v[close - 1] != ']') {
            close--;
        }
        if (close > 2 && v[close - 1] == ']') {
            ENSURE(add_section(ini, v + 1, close - 2) == 0, err, "InternalError", "out of memory");
            return 0;
        }
        /* "[" alone or "[]": not a header; configparser then reads it as an
         * option line, which has no '=' here either. */
    }
    ENSURE(ini->n_sections > 0, err, "ConfigError",
           "line %zu: a setting before the first [section] header", lineno);
    size_t d = 0;
    while (d < vn && v[d] != '=' && v[d] != ':') {
        d++;
    }
    ENSURE(d < vn, err, "ConfigError", "line %zu: expected \"[section]\" or \"key = value\"",
           lineno);
    const char *k = v;
    size_t kn = d;
    trim(&k, &kn);
    ENSURE(kn > 0, err, "ConfigError", "line %zu: a setting without a name", lineno);
    const char *val = v + d + 1;
    size_t valn = vn - d - 1;
    trim(&val, &valn);
    ENSURE(add_entry(ini, k, kn, val, valn) == 0, err, "InternalError", "out of memory");
    st->have_option = 1;
    return 0;
}

int creds_ini_parse(const char *text, size_t len, struct creds_ini **out, struct sp_err *err) {
    *out = NULL;
    ENSURE(len <= CREDS_INI_MAX_TEXT, err, "ConfigError", "larger than %u bytes",
           CREDS_INI_MAX_TEXT);
    struct creds_ini *ini = calloc(1, sizeof(*ini));
    ENSURE_REF(ini, err);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        pos = 3;
    }
    struct parse_state st = {0, 0};
    size_t lineno = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        if (memchr(line, '\0', n) != NULL) {
            creds_ini_free(ini);
            return sp_fail(err, "ConfigError", "line %zu: a NUL byte", lineno);
        }
        if (parse_line(ini, &st, line, n, lineno, err) < 0) {
            creds_ini_free(ini);
            return -1;
        }
        pos += n + (nl != NULL);
    }
    *out = ini;
    return 0;
}

/* The profile a section stands for, or NULL/0 when it stands for none;
 * *pn gets its length. */
static const char *section_profile(const char *name, int config_file, size_t *pn) {
    *pn = strlen(name);
    if (!config_file) {
        return name;
    }
    if (strcmp(name, "default") == 0) {
        return name;
    }
    if (strncmp(name, "profile", 7) != 0 || !is_space(name[7])) {
        return NULL;
    }
    const char *p = name + 7;
    size_t n = *pn - 7;
    trim(&p, &n);
    /* botocore splits the name with shlex and wants exactly two words; a
     * quoted name may hold spaces. */
    if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0]) {
        p++;
        n -= 2;
    } else {
        for (size_t i = 0; i < n; i++) {
            if (is_space(p[i]) || p[i] == '"' || p[i] == '\'') {
                return NULL;
            }
        }
    }
    if (n == 0) {
        return NULL;
    }
    *pn = n;
    return p;
}

static int section_is_profile(const struct creds_ini *ini, size_t i, int config_file,
                              const char *profile) {
    size_t pn;
    const char *p = section_profile(ini->sections[i], config_file, &pn);
    return p != NULL && strlen(profile) == pn && memcmp(p, profile, pn) == 0;
}

const char *creds_ini_get(const struct creds_ini *ini, const char *section, const char *key) {
    for (size_t i = ini->n_entries; i-- > 0;) {
        const struct ini_entry *e = &ini->entries[i];
        if (strcmp(e->key, key) == 0 && strcmp(ini->sections[e->section], section) == 0) {
            return e->value;
        }
    }
    return NULL;
}

const char *creds_ini_profile_get(const struct creds_ini *ini, int config_file, const char *profile,
                                  const char *key) {
    for (size_t i = ini->n_entries; i-- > 0;) {
        const struct ini_entry *e = &ini->entries[i];
        if (strcmp(e->key, key) == 0 && section_is_profile(ini, e->section, config_file, profile)) {
            return e->value;
        }
    }
    return NULL;
}

int creds_ini_has_profile(const struct creds_ini *ini, int config_file, const char *profile) {
    for (size_t i = 0; i < ini->n_sections; i++) {
        if (section_is_profile(ini, i, config_file, profile)) {
            return 1;
        }
    }
    return 0;
}

size_t creds_ini_section_count(const struct creds_ini *ini) { return ini->n_sections; }

const char *creds_ini_section_name(const struct creds_ini *ini, size_t i) {
    return i < ini->n_sections ? ini->sections[i] : NULL;
}

size_t creds_ini_entry_count(const struct creds_ini *ini) { return ini->n_entries; }

int creds_ini_entry(const struct creds_ini *ini, size_t i, const char **key, const char **value,
                    size_t *section) {
    if (i >= ini->n_entries) {
        return -1;
    }
    *key = ini->entries[i].key;
    *value = ini->entries[i].value;
    *section = ini->entries[i].section;
    return 0;
}
