/* creds_provider_profile.c - the shared files' profiles (see
 * creds_provider_profile.h). */
#include "proxy/creds/creds_provider_profile.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/creds/creds_env.h"
#include "proxy/creds/creds_ini.h"
#include "proxy/creds/creds_provider_assume_role.h"
#include "proxy/creds/creds_provider_container.h"
#include "proxy/creds/creds_provider_imds.h"
#include "proxy/creds/creds_provider_process.h"
#include "proxy/creds/creds_provider_static.h"
#include "proxy/creds/creds_provider_web_identity.h"
#include "proxy/creds/secret.h"

#define MAX_CHAIN 8

struct shared {
    const struct creds_provider_ctx *ctx;
    struct creds_ini *creds; /* NULL when the file is missing */
    struct creds_ini *config;
    char *creds_path;
    char *config_path;
    const char *visited[MAX_CHAIN + 1];
    int depth;
};

/* Expands a leading "~/" (or "~" alone) with $HOME, else the user's home
 * from the password database. Returns a new string or NULL with err. */
static char *expand_home(const char *path, struct sp_err *err) {
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0')) {
        char *out = strdup(path);
        if (out == NULL) {
            sp_fail(err, "InternalError", "out of memory");
        }
        return out;
    }
    const char *home = creds_env("HOME");
    char pwbuf[4096];
    struct passwd pw, *found = NULL;
    if (home == NULL) {
        /* No HOME, as in many containers: the password database knows. */
        if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL &&
            found->pw_dir != NULL && found->pw_dir[0] != '\0') {
            home = found->pw_dir;
        }
    }
    if (home == NULL) {
        sp_fail(err, "CredentialsUnavailable",
                "cannot expand %s: no HOME and no home directory for uid %u", path,
                (unsigned)getuid());
        return NULL;
    }
    size_t n = strlen(home) + strlen(path);
    char *out = malloc(n + 1);
    if (out == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    snprintf(out, n + 1, "%s%s", home, path + 1);
    return out;
}

/* Reads and parses one file; a missing file leaves *out NULL. */
static int load_file(const char *path, const char *what, struct creds_ini **out,
                     struct sp_err *err) {
    *out = NULL;
    if (access(path, F_OK) < 0 && errno == ENOENT) {
        return 0;
    }
    size_t len;
    char *text = secret_read_file(path, CREDS_INI_MAX_TEXT, what, &len, err);
    if (text == NULL) {
        return -1;
    }
    struct sp_err perr;
    sp_err_clear(&perr);
    int rc = creds_ini_parse(text, len, out, &perr);
    secret_wipe_str(text);
    if (rc < 0) {
        return sp_fail(err, "ConfigError", "%s %s: %s", what, path, perr.msg);
    }
    return 0;
}

static char *file_path(const char *env, const char *dflt, struct sp_err *err) {
    const char *p = creds_env(env);
    return expand_home(p != NULL ? p : dflt, err);
}

static int shared_load(struct shared *sh, struct sp_err *err) {
    sh->creds_path = file_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", err);
    if (sh->creds_path == NULL) {
        return -1;
    }
    sh->config_path = file_path("AWS_CONFIG_FILE", "~/.aws/config", err);
    if (sh->config_path == NULL) {
        return -1;
    }
    GUARD(load_file(sh->creds_path, "shared credentials file", &sh->creds, err));
    GUARD(load_file(sh->config_path, "shared config file", &sh->config, err));
    return 0;
}

static void shared_clear(struct shared *sh) {
    creds_ini_free(sh->creds);
    creds_ini_free(sh->config);
    free(sh->creds_path);
    free(sh->config_path);
}

static const char *get(const struct shared *sh, const char *profile, const char *key) {
    const char *v = sh->creds != NULL ? creds_ini_profile_get(sh->creds, 0, profile, key) : NULL;
    if (v == NULL && sh->config != NULL) {
        v = creds_ini_profile_get(sh->config, 1, profile, key);
    }
    return v != NULL && *v != '\0' ? v : NULL;
}

static int has_profile(const struct shared *sh, const char *profile) {
    return (sh->creds != NULL && creds_ini_has_profile(sh->creds, 0, profile)) ||
           (sh->config != NULL && creds_ini_has_profile(sh->config, 1, profile));
}

/* Static keys of a profile, as a fixed provider; 0 when it has none. */
static int static_keys(struct shared *sh, const char *profile, struct creds_provider **out,
                       struct sp_err *err) {
    const char *id = get(sh, profile, "aws_access_key_id");
    const char *secret = get(sh, profile, "aws_secret_access_key");
    if (id == NULL && secret == NULL) {
        return 0;
    }
    ENSURE(id != NULL && secret != NULL, err, "ConfigError",
           "profile %s: aws_access_key_id and aws_secret_access_key go together", profile);
    const char *token = get(sh, profile, "aws_session_token");
    if (token == NULL) {
        token = get(sh, profile, "aws_security_token"); /* the old name */
    }
    struct creds *c = creds_new(id, secret, token, 0, "profile");
    ENSURE_REF(c, err);
    char desc[300];
    snprintf(desc, sizeof(desc), "static keys of profile %s", profile);
    *out = creds_provider_static_new(sh->ctx, c, desc);
    ENSURE_REF(*out, err);
    return 1;
}

static int resolve(struct shared *sh, const char *profile, struct creds_provider **out,
                   struct sp_err *err);

/* Where an assumed role's source credentials come from. */
static int role_source(struct shared *sh, const char *profile, struct creds_provider **src,
                       struct sp_err *err) {
    const char *sp = get(sh, profile, "source_profile");
    const char *cs = get(sh, profile, "credential_source");
    ENSURE(!(sp != NULL && cs != NULL), err, "ConfigError",
           "profile %s: source_profile and credential_source exclude each other", profile);
    ENSURE(sp != NULL || cs != NULL, err, "ConfigError",
           "profile %s: role_arn needs source_profile, credential_source or "
           "web_identity_token_file",
           profile);
    if (sp != NULL && strcmp(sp, profile) == 0) {
        int rc = static_keys(sh, profile, src, err);
        GUARD(rc);
        ENSURE(rc == 1, err, "ConfigError",
               "profile %s is its own source_profile but has no static keys", profile);
        return 0;
    }
    if (sp != NULL) {
        int rc = resolve(sh, sp, src, err);
        GUARD(rc);
        ENSURE(rc == 1, err, "ConfigError", "profile %s: source_profile %s has no credentials",
               profile, sp);
        return 0;
    }
    const struct creds_provider_ctx *ctx = sh->ctx;
    if (strcmp(cs, "Environment") == 0) {
        ENSURE(creds_env("AWS_ACCESS_KEY_ID") != NULL && creds_env("AWS_SECRET_ACCESS_KEY") != NULL,
               err, "ConfigError",
               "profile %s: credential_source Environment, but AWS_ACCESS_KEY_ID and "
               "AWS_SECRET_ACCESS_KEY are not both set",
               profile);
        struct creds *c = creds_provider_static_read_env(err);
        if (c == NULL) {
            return -1;
        }
        *src = creds_provider_static_new(ctx, c, "environment");
    } else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
        *src = creds_provider_imds_new(ctx, err);
    } else if (strcmp(cs, "EcsContainer") == 0) {
        ENSURE(creds_provider_container_configured(), err, "ConfigError",
               "profile %s: credential_source EcsContainer, but neither "
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI is set",
               profile);
        *src = creds_provider_container_new(ctx, err);
    } else {
        return sp_fail(err, "ConfigError",
                       "profile %s: credential_source must be Environment, Ec2InstanceMetadata "
                       "or EcsContainer",
                       profile);
    }
    if (*src == NULL) {
        if (err != NULL && err->code == NULL) {
            sp_fail(err, "InternalError", "out of memory");
        }
        return -1;
    }
    return 0;
}

static int assume_role(struct shared *sh, const char *profile, const char *role_arn,
                       struct creds_provider **out, struct sp_err *err) {
    ENSURE(get(sh, profile, "mfa_serial") == NULL, err, "ConfigError",
           "profile %s: mfa_serial needs a code typed by a person; a sidecar cannot ask for one",
           profile);
    struct creds_provider_assume_role_params role = {
        role_arn, get(sh, profile, "role_session_name"), get(sh, profile, "external_id"), 0};
    const char *ds = get(sh, profile, "duration_seconds");
    if (ds != NULL) {
        char *end;
        long v = strtol(ds, &end, 10);
        ENSURE(*end == '\0' && v >= 900 && v <= 43200, err, "ConfigError",
               "profile %s: duration_seconds must be 900..43200", profile);
        role.duration_seconds = (int)v;
    }
    struct creds_provider *src = NULL;
    GUARD(role_source(sh, profile, &src, err));
    *out = creds_provider_assume_role_new(sh->ctx, src, &role, err);
    return *out != NULL ? 1 : -1;
}

static int resolve(struct shared *sh, const char *profile, struct creds_provider **out,
                   struct sp_err *err) {
    *out = NULL;
    for (int i = 0; i < sh->depth; i++) {
        ENSURE(strcmp(sh->visited[i], profile) != 0, err, "ConfigError",
               "profile %s: a source_profile cycle", profile);
    }
    ENSURE(sh->depth < MAX_CHAIN, err, "ConfigError",
           "profile %s: source_profile chain longer than %d", profile, MAX_CHAIN);
    sh->visited[sh->depth++] = profile;
    int rc = 0;
    const char *role_arn = get(sh, profile, "role_arn");
    const char *wit = get(sh, profile, "web_identity_token_file");
    const char *process = get(sh, profile, "credential_process");
    if (role_arn != NULL && wit != NULL && get(sh, profile, "source_profile") == NULL &&
        get(sh, profile, "credential_source") == NULL) {
        char *path = expand_home(wit, err);
        if (path == NULL) {
            rc = -1;
        } else {
            *out = creds_provider_web_identity_new(sh->ctx, role_arn, path,
                                                   get(sh, profile, "role_session_name"), err);
            free(path);
            rc = *out != NULL ? 1 : -1;
        }
    } else if (role_arn != NULL) {
        rc = assume_role(sh, profile, role_arn, out, err);
    } else if (process != NULL) {
        *out = creds_provider_process_new(sh->ctx, process, profile, err);
        rc = *out != NULL ? 1 : -1;
    } else {
        rc = static_keys(sh, profile, out, err);
        if (rc == 0 && (get(sh, profile, "sso_start_url") != NULL ||
                        get(sh, profile, "sso_session") != NULL)) {
            rc = sp_fail(err, "ConfigError",
                         "profile %s: SSO profiles are not supported (they need a login cache); "
                         "use a role, a process or keys",
                         profile);
        }
    }
    sh->depth--;
    return rc;
}

int creds_provider_profile_resolve(const struct creds_provider_ctx *ctx, const char *cfg_profile,
                                   struct creds_provider **out, char *name, size_t name_cap,
                                   struct sp_err *err) {
    *out = NULL;
    const char *profile = creds_env("AWS_PROFILE");
    if (profile == NULL) {
        profile = cfg_profile;
    }
    if (profile == NULL) {
        profile = creds_env("AWS_DEFAULT_PROFILE");
    }
    int explicit_profile = profile != NULL;
    if (profile == NULL) {
        profile = "default";
    }
    snprintf(name, name_cap, "%s", profile);
    struct shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.ctx = ctx;
    int rc = shared_load(&sh, err);
    if (rc == 0 && !has_profile(&sh, profile)) {
        if (explicit_profile) {
            rc = sp_fail(err, "ConfigError", "profile %s: not in %s nor in %s", profile,
                         sh.creds_path, sh.config_path);
        }
    } else if (rc == 0) {
        rc = resolve(&sh, profile, out, err);
    }
    shared_clear(&sh);
    if (rc < 0 && *out != NULL) {
        creds_provider_free(*out);
        *out = NULL;
    }
    return rc;
}
