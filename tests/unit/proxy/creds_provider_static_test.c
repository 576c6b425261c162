/* creds_provider_static_test - fixed keys as the store's chain finds them:
 * the env and static (config file) sources, the chain's order, error
 * messages that never carry a secret, and a failed reload keeping the set in
 * use.
 *
 * Hermetic: the variables of the other providers are cleared, the shared
 * files point into an empty directory and instance metadata is disabled, so
 * the chain never reaches the network or the user's ~/.aws. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/config.h"
#include "proxy/creds/creds_store.h"

#include "tests/unit/unit_check.h"

#define KEY_ID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
#define ENV_ID "AKIAENVEXAMPLE000001"
#define ENV_SECRET "envSECRETenvSECRETenvSECRETenvSECRET0001"
#define ENV_TOKEN "envTOKENenvTOKEN"

static char dir[64];
static struct sp_err err;

static int streq(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const char *path_of(const char *name) {
    static char path[4][128];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const char *text) {
    FILE *f = fopen(path_of(name), "wb");
    if (f == NULL) {
        perror(name);
        abort();
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void clear_env(void) {
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

/* Nothing but static and env can supply credentials. */
static void hermetic_env(void) {
    static const char *const unset[] = {
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL_SES",
        "AWS_ENDPOINT_URL",
    };
    for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++) {
        unsetenv(unset[i]);
    }
    setenv("AWS_SHARED_CREDENTIALS_FILE", path_of("no-such-credentials"), 1);
    setenv("AWS_CONFIG_FILE", path_of("no-such-config"), 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    clear_env();
}

static void set_env(int with_token) {
    setenv("AWS_ACCESS_KEY_ID", ENV_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    if (with_token) {
        setenv("AWS_SESSION_TOKEN", ENV_TOKEN, 1);
    } else {
        unsetenv("AWS_SESSION_TOKEN");
    }
}

/* A config with the given credentials object (JSON text, or NULL). */
static struct config *cfg_with(const char *source, const char *secret_file,
                               const char *token_file) {
    char text[1024];
    int n = snprintf(text, sizeof(text), "{\"credentials\": {\"source\": \"%s\"", source);
    if (secret_file != NULL) {
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      ", \"access_key_id\": \"" KEY_ID "\", \"secret_access_key_file\": \"%s\"",
                      path_of(secret_file));
    }
    if (token_file != NULL) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, ", \"session_token_file\": \"%s\"",
                      path_of(token_file));
    }
    snprintf(text + n, sizeof(text) - (size_t)n, "}}");
    struct sp_err e;
    sp_err_clear(&e);
    struct config *cfg = config_load_text(text, strlen(text), "creds.json", &e);
    if (cfg == NULL) {
        fprintf(stderr, "config: %s\n", e.msg);
        abort();
    }
    return cfg;
}

/* Loads per cfg into a fresh store; returns the store (current set, or
 * NULL with err filled). */
static struct creds_store *load(struct config *cfg, int *rc) {
    struct creds_store *s = creds_store_new(NULL);
    if (s == NULL) {
        abort();
    }
    sp_err_clear(&err);
    *rc = creds_store_load(s, cfg, &err);
    config_unref(cfg);
    return s;
}

static struct creds *current(struct creds_store *s) {
    const char *why = NULL;
    return creds_store_current(s, time(NULL), &why);
}

/* No secret or token of either provider appears in the message. */
static int no_secret(const char *msg) {
    return strstr(msg, SECRET) == NULL && strstr(msg, TOKEN) == NULL &&
           strstr(msg, ENV_SECRET) == NULL && strstr(msg, ENV_TOKEN) == NULL &&
           strstr(msg, "wJalr") == NULL;
}

static void test_env(void) {
    int rc;
    set_env(1);
    struct creds_store *s = load(cfg_with("env", NULL, NULL), &rc);
    struct creds *c = current(s);
    CHECK(rc == 0 && c != NULL);
    CHECK(c != NULL && streq(c->access_key_id, ENV_ID) && streq(c->secret_access_key, ENV_SECRET) &&
          streq(c->session_token, ENV_TOKEN) && streq(c->provider, "env") && c->expiration == 0);
    creds_store_free(s);

    /* No token; an empty token is none. */
    set_env(0);
    s = load(cfg_with("env", NULL, NULL), &rc);
    c = current(s);
    CHECK(rc == 0 && c != NULL && c->session_token == NULL);
    creds_store_free(s);
    setenv("AWS_SESSION_TOKEN", "", 1);
    s = load(cfg_with("env", NULL, NULL), &rc);
    c = current(s);
    CHECK(rc == 0 && c != NULL && c->session_token == NULL);
    creds_store_free(s);

    /* Half set, or empty: refused, and the message has no secret. */
    clear_env();
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    s = load(cfg_with("env", NULL, NULL), &rc);
    CHECK(rc == -1 && streq(err.code, "CredentialsUnavailable") &&
          strstr(err.msg, "AWS_ACCESS_KEY_ID") != NULL && no_secret(err.msg));
    CHECK(current(s) == NULL);
    creds_store_free(s);
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", ENV_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    s = load(cfg_with("env", NULL, NULL), &rc);
    CHECK(rc == -1 && no_secret(err.msg));
    creds_store_free(s);
    clear_env();
}

static void test_static(void) {
    int rc;
    clear_env();
    /* The first line, without its newline. */
    write_file("secret", SECRET "\n");
    struct creds_store *s = load(cfg_with("static", "secret", NULL), &rc);
    struct creds *c = current(s);
    CHECK(rc == 0 && c != NULL);
    CHECK(c != NULL && streq(c->access_key_id, KEY_ID) && streq(c->secret_access_key, SECRET) &&
          c->session_token == NULL && streq(c->provider, "static"));
    creds_store_free(s);
    /* CRLF, no newline at all, more lines after. */
    write_file("secret", SECRET "\r\n");
    s = load(cfg_with("static", "secret", NULL), &rc);
    CHECK(rc == 0 && streq(current(s)->secret_access_key, SECRET));
    creds_store_free(s);
    write_file("secret", SECRET);
    s = load(cfg_with("static", "secret", NULL), &rc);
    CHECK(rc == 0 && streq(current(s)->secret_access_key, SECRET));
    creds_store_free(s);
    /* More than one line is refused (which line would be the secret?),
     * without showing any of them. */
    write_file("twolines", SECRET "\nsecond line\n");
    s = load(cfg_with("static", "twolines", NULL), &rc);
    CHECK(rc == -1 && current(s) == NULL && strstr(err.msg, "twolines") != NULL &&
          no_secret(err.msg) && strstr(err.msg, "second line") == NULL);
    creds_store_free(s);
    /* With a session token file. */
    write_file("token", TOKEN "\n");
    s = load(cfg_with("static", "secret", "token"), &rc);
    c = current(s);
    CHECK(rc == 0 && c != NULL && streq(c->session_token, TOKEN) &&
          streq(c->secret_access_key, SECRET));
    creds_store_free(s);

    /* Missing and empty files: refused, naming the file, never the secret. */
    s = load(cfg_with("static", "no-such-secret", NULL), &rc);
    CHECK(rc == -1 && streq(err.code, "CredentialsUnavailable") &&
          strstr(err.msg, "no-such-secret") != NULL && no_secret(err.msg));
    CHECK(current(s) == NULL);
    creds_store_free(s);
    write_file("empty", "");
    s = load(cfg_with("static", "empty", NULL), &rc);
    CHECK(rc == -1 && strstr(err.msg, "empty") != NULL && strstr(err.msg, "is empty") != NULL);
    creds_store_free(s);
    write_file("blank", "\n" SECRET "\n");
    s = load(cfg_with("static", "blank", NULL), &rc);
    CHECK(rc == -1 && strstr(err.msg, "blank") != NULL && no_secret(err.msg));
    creds_store_free(s);
    write_file("newline", "\n");
    s = load(cfg_with("static", "newline", NULL), &rc);
    CHECK(rc == -1 && strstr(err.msg, "is empty") != NULL);
    creds_store_free(s);
    /* The secret read, the token file missing or empty: no secret shown. */
    s = load(cfg_with("static", "secret", "no-such-token"), &rc);
    CHECK(rc == -1 && strstr(err.msg, "no-such-token") != NULL && no_secret(err.msg));
    creds_store_free(s);
    s = load(cfg_with("static", "secret", "empty"), &rc);
    CHECK(rc == -1 && strstr(err.msg, "is empty") != NULL && no_secret(err.msg));
    creds_store_free(s);
    /* A directory is not a secret file. */
    s = load(cfg_with("static", ".", NULL), &rc);
    CHECK(rc == -1 && no_secret(err.msg));
    creds_store_free(s);
    /* source "static" without keys in the config. */
    s = load(cfg_with("static", NULL, NULL), &rc);
    CHECK(rc == -1 && strstr(err.msg, "access_key_id") != NULL);
    creds_store_free(s);
    /* source "static" does not fall back to the environment. */
    set_env(1);
    s = load(cfg_with("static", "no-such-secret", NULL), &rc);
    CHECK(rc == -1 && current(s) == NULL && no_secret(err.msg));
    creds_store_free(s);
    /* source "env" ignores static keys. */
    s = load(cfg_with("env", "secret", NULL), &rc);
    CHECK(rc == 0 && streq(current(s)->provider, "env"));
    creds_store_free(s);
    clear_env();
}

static void test_chain(void) {
    int rc;
    write_file("secret", SECRET "\n");
    /* Static before env. */
    set_env(1);
    struct creds_store *s = load(cfg_with("chain", "secret", NULL), &rc);
    struct creds *c = current(s);
    CHECK(rc == 0 && c != NULL && streq(c->provider, "static") && streq(c->access_key_id, KEY_ID));
    creds_store_free(s);
    /* Static configured but its secret unreadable: on to env (logged). */
    s = load(cfg_with("chain", "no-such-secret", NULL), &rc);
    c = current(s);
    CHECK(rc == 0 && c != NULL && streq(c->provider, "env"));
    creds_store_free(s);
    /* Env when static is not configured. */
    s = load(cfg_with("chain", NULL, NULL), &rc);
    c = current(s);
    CHECK(rc == 0 && c != NULL && streq(c->provider, "env") && streq(c->access_key_id, ENV_ID));
    creds_store_free(s);
    /* Nothing anywhere: one message naming what was tried. */
    clear_env();
    s = load(cfg_with("chain", "no-such-secret", NULL), &rc);
    const char *why = NULL;
    CHECK(rc == -1 && streq(err.code, "CredentialsUnavailable"));
    CHECK(strstr(err.msg, "no-such-secret") != NULL && strstr(err.msg, "env:") != NULL);
    CHECK(creds_store_current(s, time(NULL), &why) == NULL && why != NULL &&
          strstr(why, "no usable credentials") != NULL && no_secret(why));
    creds_store_free(s);
    s = load(cfg_with("chain", NULL, NULL), &rc);
    CHECK(rc == -1 && strstr(err.msg, "static: not configured") != NULL);
    creds_store_free(s);
    /* A pinned provider that is not configured is refused, naming it,
     * even with env keys at hand. */
    set_env(1);
    s = load(cfg_with("web_identity", NULL, NULL), &rc);
    CHECK(rc == -1 && current(s) == NULL && strstr(err.msg, "web_identity") != NULL &&
          no_secret(err.msg));
    creds_store_free(s);
    clear_env();
}

/* A failed reload keeps the set in use. */
static void test_failed_reload(void) {
    const char *why = NULL;
    write_file("secret", SECRET "\n");
    struct config *cfg = cfg_with("static", "secret", NULL);
    struct creds_store *s = creds_store_new(NULL);
    sp_err_clear(&err);
    CHECK(creds_store_load(s, cfg, &err) == 0);
    config_unref(cfg);
    cfg = cfg_with("static", "no-such-secret", NULL);
    CHECK(creds_store_load(s, cfg, &err) == -1);
    config_unref(cfg);
    struct creds *cur = creds_store_current(s, time(NULL), &why);
    CHECK(cur != NULL && streq(cur->secret_access_key, SECRET));
    creds_store_free(s);
}

int main(void) {
    snprintf(dir, sizeof(dir), "/tmp/creds_provider_static_test.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    hermetic_env();
    test_env();
    test_static();
    test_chain();
    test_failed_reload();
    const char *names[] = {"secret", "token", "empty", "blank", "twolines", "newline"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unlink(path_of(names[i]));
    }
    rmdir(dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
