/* creds_json.c - JSON and STS XML answers that carry credentials, their
 * expirations (read by api/iso8601) and the set they make (see
 * creds_json.h).
 *
 * The JSON reader is a recursive descent over a bounds-checked cursor: every
 * read goes through peek()/next(), which stop at the end of the input. A
 * string is decoded straight into a buffer of its raw length (escapes never
 * grow it), which is wiped when the value is replaced or dropped.
 *
 * The XML reader is expat with an allocator that keeps each block's size in
 * front of it so that the block can be wiped when expat frees or grows it:
 * expat copies the input and the character data into its own buffers, and
 * those may hold a secret key or a session token. */
#include "proxy/creds/creds_json.h"

#include <expat.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/iso8601.h"
#include "proxy/creds/secret.h"

/* Wipes and frees *s, leaving NULL. */
static void drop(char **s) {
    secret_wipe_str(*s);
    *s = NULL;
}

void creds_doc_init(struct creds_doc *d) {
    memset(d, 0, sizeof(*d));
    d->version = -1;
}

void creds_doc_clear(struct creds_doc *d) {
    drop(&d->access_key_id);
    drop(&d->secret_access_key);
    drop(&d->session_token);
    drop(&d->expiration);
    drop(&d->code);
    drop(&d->message);
    creds_doc_init(d);
}

/* Which field of the doc a member name fills; NULL for one we skip. */
static char **field_for(struct creds_doc *d, const char *name, size_t n) {
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"AccessKeyId", offsetof(struct creds_doc, access_key_id)},
        {"SecretAccessKey", offsetof(struct creds_doc, secret_access_key)},
        {"Token", offsetof(struct creds_doc, session_token)},
        {"SessionToken", offsetof(struct creds_doc, session_token)},
        {"Expiration", offsetof(struct creds_doc, expiration)},
        {"Code", offsetof(struct creds_doc, code)},
        {"code", offsetof(struct creds_doc, code)},
        {"Message", offsetof(struct creds_doc, message)},
        {"message", offsetof(struct creds_doc, message)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strlen(fields[i].name) == n && memcmp(fields[i].name, name, n) == 0) {
            return (char **)((char *)d + fields[i].off);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ JSON */

struct cursor {
    const unsigned char *p;
    size_t n, i;
    struct sp_err *err;
};

static int fail_at(struct cursor *c, const char *what) {
    return sp_fail(c->err, "CredentialsUnavailable",
                   "the answer is not the expected JSON: %s "
                   "at byte %zu",
                   what, c->i);
}

static void skip_ws(struct cursor *c) {
    while (c->i < c->n &&
           (c->p[c->i] == ' ' || c->p[c->i] == '\t' || c->p[c->i] == '\n' || c->p[c->i] == '\r')) {
        c->i++;
    }
}

static int peek(const struct cursor *c) { return c->i < c->n ? c->p[c->i] : -1; }

static int hex4(struct cursor *c, unsigned *out) {
    if (c->n - c->i < 4) {
        return -1;
    }
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int ch = c->p[c->i++];
        v <<= 4;
        if (ch >= '0' && ch <= '9') {
            v |= (unsigned)(ch - '0');
        } else if (ch >= 'a' && ch <= 'f') {
            v |= (unsigned)(ch - 'a' + 10);
        } else if (ch >= 'A' && ch <= 'F') {
            v |= (unsigned)(ch - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One \u escape (the "\u" already read), with a surrogate pair. */
static int unicode_escape(struct cursor *c, unsigned *cp) {
    if (hex4(c, cp) < 0) {
        return fail_at(c, "a bad \\u escape");
    }
    if (*cp >= 0xdc00 && *cp <= 0xdfff) {
        return fail_at(c, "a lone low surrogate");
    }
    if (*cp >= 0xd800 && *cp <= 0xdbff) {
        unsigned lo;
        if (c->n - c->i < 2 || c->p[c->i] != '\\' || c->p[c->i + 1] != 'u') {
            return fail_at(c, "a lone high surrogate");
        }
        c->i += 2;
        if (hex4(c, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
            return fail_at(c, "a bad surrogate pair");
        }
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (*cp == 0) {
        return fail_at(c, "\\u0000 in a string");
    }
    return 0;
}

/* A string at the cursor (on its opening quote). With out, the decoded
 * value becomes *out (a buffer owned by the caller, wiped by it). */
static int parse_string(struct cursor *c, char **out) {
    c->i++; /* the quote */
    size_t start = c->i;
    /* First pass: find the end, so the buffer is the raw length. */
    size_t end = start;
    while (end < c->n && c->p[end] != '"') {
        end += c->p[end] == '\\' ? 2 : 1;
    }
    if (end >= c->n) {
        return fail_at(c, "an unterminated string");
    }
    unsigned char *buf = out != NULL ? malloc(end - start + 1) : NULL;
    if (out != NULL && buf == NULL) {
        return sp_fail(c->err, "InternalError", "out of memory");
    }
    size_t o = 0;
    int rc = 0;
    while (rc == 0 && c->i < end) {
        unsigned ch = c->p[c->i++];
        unsigned char tmp[4];
        size_t w = 1;
        tmp[0] = (unsigned char)ch;
        if (ch < 0x20) {
            rc = fail_at(c, "a control character in a string");
            break;
        }
        if (ch == '\\') {
            unsigned e = c->p[c->i++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                tmp[0] = (unsigned char)e;
                break;
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'u': {
                unsigned cp;
                rc = unicode_escape(c, &cp);
                w = rc == 0 ? put_utf8(tmp, cp) : 0;
                break;
            }
            default:
                rc = fail_at(c, "a bad escape");
            }
            /* A \u escape may have read past `end` only when the raw scan
             * paired the quote wrongly; that cannot happen since \uXXXX has
             * no quote, but keep the bound explicit. */
            if (rc == 0 && c->i > end) {
                rc = fail_at(c, "a bad escape");
            }
        }
        if (rc == 0 && buf != NULL) {
            memcpy(buf + o, tmp, w);
        }
        o += w;
        OPENSSL_cleanse(tmp, sizeof(tmp));
    }
    if (rc < 0) {
        secret_free(buf, end - start + 1);
        return -1;
    }
    c->i = end + 1;
    if (buf != NULL) {
        buf[o] = '\0';
        drop(out);
        *out = (char *)buf;
    }
    return 0;
}

/* A number; *as_long gets it when it is an integer that fits, else
 * LONG_MIN. */
static int parse_number(struct cursor *c, long *as_long) {
    size_t start = c->i;
    int integer = 1;
    if (peek(c) == '-') {
        c->i++;
    }
    if (peek(c) == '0') {
        c->i++;
    } else if (peek(c) >= '1' && peek(c) <= '9') {
        while (peek(c) >= '0' && peek(c) <= '9') {
            c->i++;
        }
    } else {
        return fail_at(c, "a bad number");
    }
    if (peek(c) == '.') {
        integer = 0;
        c->i++;
        if (!(peek(c) >= '0' && peek(c) <= '9')) {
            return fail_at(c, "a bad number");
        }
        while (peek(c) >= '0' && peek(c) <= '9') {
            c->i++;
        }
    }
    if (peek(c) == 'e' || peek(c) == 'E') {
        integer = 0;
        c->i++;
        if (peek(c) == '+' || peek(c) == '-') {
            c->i++;
        }
        if (!(peek(c) >= '0' && peek(c) <= '9')) {
            return fail_at(c, "a bad number");
        }
        while (peek(c) >= '0' && peek(c) <= '9') {
            c->i++;
        }
    }
    *as_long = LONG_MIN;
    size_t len = c->i - start;
    if (integer && len < 20) {
        char tmp[24];
        memcpy(tmp, c->p + start, len);
        tmp[len] = '\0';
        *as_long = strtol(tmp, NULL, 10);
    }
    return 0;
}

static int parse_literal(struct cursor *c, const char *lit) {
    size_t n = strlen(lit);
    if (c->n - c->i < n || memcmp(c->p + c->i, lit, n) != 0) {
        return fail_at(c, "an unexpected character");
    }
    c->i += n;
    return 0;
}

static int parse_value(struct cursor *c, int depth);

static int parse_members(struct cursor *c, int depth, struct creds_doc *doc) {
    c->i++; /* '{' */
    skip_ws(c);
    if (peek(c) == '}') {
        c->i++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (peek(c) != '"') {
            return fail_at(c, "a member name expected");
        }
        size_t name_at = c->i + 1;
        GUARD(parse_string(c, NULL));
        size_t name_len = c->i - 1 - name_at;
        skip_ws(c);
        if (peek(c) != ':') {
            return fail_at(c, "':' expected");
        }
        c->i++;
        skip_ws(c);
        /* Names are matched raw: the ones we want have no escapes. */
        char **field = doc != NULL ? field_for(doc, (const char *)c->p + name_at, name_len) : NULL;
        int is_version = doc != NULL && name_len == 7 && memcmp(c->p + name_at, "Version", 7) == 0;
        if (field != NULL && peek(c) == '"') {
            GUARD(parse_string(c, field));
        } else if (is_version && (peek(c) == '-' || (peek(c) >= '0' && peek(c) <= '9'))) {
            long v;
            GUARD(parse_number(c, &v));
            doc->version = v == LONG_MIN ? -2 : v;
        } else {
            GUARD(parse_value(c, depth + 1));
        }
        skip_ws(c);
        if (peek(c) == ',') {
            c->i++;
            continue;
        }
        if (peek(c) == '}') {
            c->i++;
            return 0;
        }
        return fail_at(c, "',' or '}' expected");
    }
}

static int parse_array(struct cursor *c, int depth) {
    c->i++; /* '[' */
    skip_ws(c);
    if (peek(c) == ']') {
        c->i++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        GUARD(parse_value(c, depth + 1));
        skip_ws(c);
        if (peek(c) == ',') {
            c->i++;
            continue;
        }
        if (peek(c) == ']') {
            c->i++;
            return 0;
        }
        return fail_at(c, "',' or ']' expected");
    }
}

static int parse_value(struct cursor *c, int depth) {
    if (depth > CREDS_JSON_MAX_DEPTH) {
        return fail_at(c, "too deep nesting");
    }
    long ignored;
    switch (peek(c)) {
    case '{':
        return parse_members(c, depth, NULL);
    case '[':
        return parse_array(c, depth);
    case '"':
        return parse_string(c, NULL);
    case 't':
        return parse_literal(c, "true");
    case 'f':
        return parse_literal(c, "false");
    case 'n':
        return parse_literal(c, "null");
    case -1:
        return fail_at(c, "the end of the input");
    default:
        return parse_number(c, &ignored);
    }
}

int creds_json_parse(const char *text, size_t len, struct creds_doc *out, struct sp_err *err) {
    creds_doc_init(out);
    struct cursor c = {(const unsigned char *)text, len, 0, err};
    skip_ws(&c);
    if (peek(&c) != '{') {
        fail_at(&c, "an object expected");
        creds_doc_clear(out);
        return -1;
    }
    if (parse_members(&c, 1, out) < 0) {
        creds_doc_clear(out);
        return -1;
    }
    skip_ws(&c);
    if (c.i != c.n) {
        fail_at(&c, "text after the object");
        creds_doc_clear(out);
        return -1;
    }
    return 0;
}

void creds_json_error_code(const char *body, size_t len, char *out, size_t cap) {
    out[0] = '\0';
    struct creds_doc d;
    struct sp_err err;
    if (creds_json_parse(body, len, &d, &err) == 0) {
        const char *code = d.code != NULL ? d.code : "";
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)code; *p && n + 1 < cap && n < 64;
             p++) {
            out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
        }
        out[n] = '\0';
        creds_doc_clear(&d);
    }
}

/* ------------------------------------------------------------------- XML */

/* expat's allocator: the block's size in front of it, so that xml_free can
 * wipe the whole block. */
#define WIPE_HDR 16
_Static_assert(WIPE_HDR >= sizeof(size_t) && WIPE_HDR % alignof(max_align_t) == 0,
               "header keeps blocks aligned");

static void *xml_malloc(size_t n) {
    if (n > SIZE_MAX - WIPE_HDR) {
        return NULL;
    }
    unsigned char *b = malloc(n + WIPE_HDR);
    if (b == NULL) {
        return NULL;
    }
    memcpy(b, &n, sizeof(n));
    return b + WIPE_HDR;
}

static void xml_free(void *p) {
    if (p == NULL) {
        return;
    }
    unsigned char *b = (unsigned char *)p - WIPE_HDR;
    size_t n;
    memcpy(&n, b, sizeof(n));
    secret_free(b, n + WIPE_HDR);
}

static void *xml_realloc(void *p, size_t n) {
    if (p == NULL) {
        return xml_malloc(n);
    }
    void *q = xml_malloc(n);
    if (q == NULL) {
        return NULL; /* p is untouched, as realloc promises */
    }
    size_t old;
    memcpy(&old, (unsigned char *)p - WIPE_HDR, sizeof(old));
    memcpy(q, p, old < n ? old : n);
    xml_free(p);
    return q;
}

#define XML_MAX_DEPTH 16
#define XML_MAX_TEXT 65536

enum xml_root { ROOT_NONE, ROOT_CREDS, ROOT_ERROR, ROOT_OTHER };

struct xml_state {
    XML_Parser parser;
    struct creds_doc *doc;
    enum xml_root root;
    int depth;
    const char *path[XML_MAX_DEPTH]; /* static names of the elements we track */
    char *text;                      /* character data of the current element */
    size_t text_len;
    int text_overflow;
    int refused; /* a DOCTYPE */
};

static const char *local_name(const XML_Char *name) {
    const char *colon = strrchr(name, ':');
    return colon != NULL ? colon + 1 : name;
}

/* The element names we care about, interned as static strings. */
static const char *intern(const char *n) {
    static const char *const names[] = {"AssumeRoleResponse",
                                        "AssumeRoleWithWebIdentityResponse",
                                        "AssumeRoleResult",
                                        "AssumeRoleWithWebIdentityResult",
                                        "Credentials",
                                        "AccessKeyId",
                                        "SecretAccessKey",
                                        "SessionToken",
                                        "Expiration",
                                        "ErrorResponse",
                                        "Error",
                                        "Code",
                                        "Message",
                                        NULL};
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], n) == 0) {
            return names[i];
        }
    }
    return "";
}

static void text_reset(struct xml_state *st) {
    xml_free(st->text); /* wipes the whole block */
    st->text = NULL;
    st->text_len = 0;
    st->text_overflow = 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
    (void)attrs;
    struct xml_state *st = ud;
    const char *n = intern(local_name(name));
    if (st->depth == 0) {
        if (strcmp(n, "AssumeRoleResponse") == 0 ||
            strcmp(n, "AssumeRoleWithWebIdentityResponse") == 0) {
            st->root = ROOT_CREDS;
        } else if (strcmp(n, "ErrorResponse") == 0) {
            st->root = ROOT_ERROR;
        } else {
            st->root = ROOT_OTHER;
        }
    }
    if (st->depth < XML_MAX_DEPTH) {
        st->path[st->depth] = n;
    }
    st->depth++;
    text_reset(st);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
    struct xml_state *st = ud;
    if (len <= 0 || st->text_overflow) {
        return;
    }
    if (st->text_len + (size_t)len > XML_MAX_TEXT) {
        st->text_overflow = 1;
        return;
    }
    char *t = xml_realloc(st->text, st->text_len + (size_t)len + 1);
    if (t == NULL) {
        st->text_overflow = 1;
        return;
    }
    memcpy(t + st->text_len, s, (size_t)len);
    st->text_len += (size_t)len;
    t[st->text_len] = '\0';
    st->text = t;
}

/* Which doc field the element ending now fills, by its path. */
static char **xml_field(struct xml_state *st) {
    int d = st->depth; /* the ending element is path[d - 1] */
    if (d > XML_MAX_DEPTH || d < 3) {
        return NULL;
    }
    const char *el = st->path[d - 1];
    const char *parent = st->path[d - 2];
    if (st->root == ROOT_CREDS && d == 4 && strcmp(parent, "Credentials") == 0 &&
        (strcmp(st->path[1], "AssumeRoleResult") == 0 ||
         strcmp(st->path[1], "AssumeRoleWithWebIdentityResult") == 0)) {
        if (strcmp(el, "AccessKeyId") == 0) {
            return &st->doc->access_key_id;
        }
        if (strcmp(el, "SecretAccessKey") == 0) {
            return &st->doc->secret_access_key;
        }
        if (strcmp(el, "SessionToken") == 0) {
            return &st->doc->session_token;
        }
        if (strcmp(el, "Expiration") == 0) {
            return &st->doc->expiration;
        }
    }
    if (st->root == ROOT_ERROR && d == 3 && strcmp(parent, "Error") == 0) {
        if (strcmp(el, "Code") == 0) {
            return &st->doc->code;
        }
        if (strcmp(el, "Message") == 0) {
            return &st->doc->message;
        }
    }
    return NULL;
}

/* A plain heap copy of the text (the doc's strings are freed with free()),
 * trimmed of the white space that pretty-printed XML puts around values. */
static char *text_copy(const struct xml_state *st) {
    const char *s = st->text != NULL ? st->text : "";
    size_t n = st->text_len;
    while (n > 0 && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t')) {
        n--;
    }
    char *out = malloc(n + 1);
    if (out != NULL) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
    (void)name;
    struct xml_state *st = ud;
    char **field = xml_field(st);
    if (field != NULL && !st->text_overflow) {
        char *v = text_copy(st);
        if (v != NULL) {
            drop(field);
            *field = v;
        }
    }
    text_reset(st);
    st->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    struct xml_state *st = ud;
    st->refused = 1;
    XML_StopParser(st->parser, XML_FALSE);
}

int creds_sts_xml_parse(const char *text, size_t len, struct creds_doc *out, struct sp_err *err) {
    creds_doc_init(out);
    if (len > INT_MAX) {
        return sp_fail(err, "CredentialsUnavailable", "the STS answer is too large");
    }
    static const XML_Memory_Handling_Suite mm = {xml_malloc, xml_realloc, xml_free};
    XML_Parser p = XML_ParserCreate_MM(NULL, &mm, NULL);
    ENSURE_REF(p, err);
    struct xml_state st;
    memset(&st, 0, sizeof(st));
    st.parser = p;
    st.doc = out;
    XML_SetUserData(p, &st);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    enum XML_Status rc = XML_Parse(p, text, (int)len, 1);
    int line = (int)XML_GetCurrentLineNumber(p);
    XML_ParserFree(p);
    text_reset(&st);
    int ret = 0;
    if (st.refused) {
        ret = sp_fail(err, "CredentialsUnavailable", "the STS answer has a DOCTYPE; refused");
    } else if (rc != XML_STATUS_OK) {
        ret = sp_fail(err, "CredentialsUnavailable",
                      "the STS answer is not well-formed XML (line %d)", line);
    } else if (st.root == ROOT_ERROR) {
        out->is_error = 1;
    } else if (st.root != ROOT_CREDS) {
        ret = sp_fail(err, "CredentialsUnavailable",
                      "the STS answer is neither AssumeRole(WithWebIdentity)Response nor "
                      "ErrorResponse");
    }
    if (ret < 0) {
        creds_doc_clear(out);
    }
    return ret;
}

/* ------------------------------------------------------------------ time */

int creds_parse_time(const char *s, time_t *out) {
    /* As AWS writes expirations: RFC 3339, seconds and an offset always. A
     * leap second is read as the next second (what timegm makes of it); a
     * year before 1970 is no expiry at all. */
    struct iso8601_time t;
    GUARD(iso8601_parse(s, strlen(s), ISO8601_LEAP_SECOND | ISO8601_FROM_1970, &t));
    *out = (time_t)t.sec;
    return 0;
}

/* -------------------------------------------------------------- the set */

static int printable_token(const char *s) {
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

struct creds *creds_from_doc(const struct creds_doc *d, const char *provider, int need_token,
                             int need_expiration, struct sp_err *err) {
    if (d->access_key_id == NULL || d->secret_access_key == NULL) {
        sp_fail(err, "CredentialsUnavailable", "the answer has no %s",
                d->access_key_id == NULL ? "AccessKeyId" : "SecretAccessKey");
        return NULL;
    }
    if (need_token && d->session_token == NULL) {
        sp_fail(err, "CredentialsUnavailable", "the answer has no session token");
        return NULL;
    }
    if (!printable_token(d->access_key_id) || !printable_token(d->secret_access_key) ||
        (d->session_token != NULL && !printable_token(d->session_token))) {
        sp_fail(err, "CredentialsUnavailable",
                "the answer's key id, secret or token is empty or not printable ASCII");
        return NULL;
    }
    time_t exp = 0;
    if (d->expiration != NULL) {
        if (creds_parse_time(d->expiration, &exp) < 0) {
            sp_fail(err, "CredentialsUnavailable", "the answer's Expiration is not a time");
            return NULL;
        }
    } else if (need_expiration) {
        sp_fail(err, "CredentialsUnavailable", "the answer has no Expiration");
        return NULL;
    }
    struct creds *c =
        creds_new(d->access_key_id, d->secret_access_key, d->session_token, exp, provider);
    if (c == NULL) {
        sp_fail(err, "InternalError", "out of memory");
    }
    return c;
}
