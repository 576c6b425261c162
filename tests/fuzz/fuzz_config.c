/* fuzz_config - the configuration loader on arbitrary text.
 *
 * The whole input is the file's text, handed to config_load_text (which
 * copies it; no temporary files). The AWS_* variables are cleared so the
 * run depends on the input alone. Checked besides not crashing or leaking:
 * a refusal always carries a code and a message; an accepted snapshot is
 * whole (listeners, region, endpoint with a port), its policy and limit
 * lookups run, and comparing it with the defaults for a reload names at
 * most every key, and none when nothing that needs a restart differs. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy/config.h"
#include "proxy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct config *cfg) {
    if (cfg->refs != 1 || cfg->n_listen < 1 || cfg->n_listen > CONFIG_MAX_LISTEN ||
        cfg->region == NULL || cfg->region[0] == '\0' || cfg->endpoint == NULL ||
        cfg->endpoint_host == NULL || cfg->endpoint_host[0] == '\0' || cfg->endpoint_port < 1 ||
        cfg->endpoint_port > 65535 || cfg->credentials.source == NULL ||
        cfg->throttle.backend == NULL) {
        abort();
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        if (cfg->listen[i] == NULL) {
            abort();
        }
    }
    for (size_t i = 0; i < cfg->policy.n_allow_clients; i++) {
        int p = cfg->policy.allow_clients[i].prefix;
        int f = cfg->policy.allow_clients[i].family;
        if (!((f == AF_INET && p >= 0 && p <= 32) || (f == AF_INET6 && p >= 0 && p <= 128))) {
            abort();
        }
    }
    double rate, burst;
    config_op_limit(cfg, "SendEmail", 0, &rate, &burst);
    config_op_limit(cfg, "GetSendQuota", 1, &rate, &burst);
    if (rate < 0 || burst < 0) {
        abort();
    }
    (void)policy_action_allowed(cfg, "SendEmail");
    (void)policy_action_allowed(cfg, "GetIdentityVerificationAttributes");
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(0x7f000001);
    (void)policy_client_allowed(cfg, (const struct sockaddr *)&v4);
    struct sockaddr_in6 v6;
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    v6.sin6_addr.s6_addr[10] = 0xff;
    v6.sin6_addr.s6_addr[11] = 0xff;
    v6.sin6_addr.s6_addr[12] = 10;
    (void)policy_client_allowed(cfg, (const struct sockaddr *)&v6);
    (void)policy_rule(&cfg->policy.identities, "SendRawEmail");
}

/* A reload from the defaults to cfg, and back. */
static void compare_with_defaults(const struct config *cfg) {
    static struct config *defaults;
    if (defaults == NULL) {
        struct sp_err err;
        defaults = config_load(NULL, &err);
        if (defaults == NULL) {
            abort();
        }
    }
    size_t n_keys;
    (void)config_keys(&n_keys);
    char buf[512];
    size_t n = config_restart_keys(defaults, cfg, buf, sizeof(buf));
    if (n > n_keys || n != config_restart_keys(cfg, defaults, buf, sizeof(buf)) ||
        (n == 0) != (buf[0] == '\0') || config_restart_keys(cfg, cfg, buf, sizeof(buf)) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int env_cleared;
    if (!env_cleared) {
        unsetenv("AWS_REGION");
        unsetenv("AWS_DEFAULT_REGION");
        unsetenv("AWS_ENDPOINT_URL_SES");
        unsetenv("AWS_ENDPOINT_URL");
        env_cleared = 1;
    }
    struct sp_err err;
    sp_err_clear(&err);
    struct config *cfg = config_load_text((const char *)data, size, "fuzz.json", &err);
    if (cfg == NULL) {
        if (err.code == NULL || err.msg[0] == '\0') {
            abort();
        }
        return 0;
    }
    exercise(cfg);
    compare_with_defaults(cfg);
    config_ref(cfg);
    config_unref(cfg);
    config_unref(cfg);
    return 0;
}
