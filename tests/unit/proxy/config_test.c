/* config_test - the configuration: defaults as DESIGN.md states them, a
 * full file, errors that name file:line:key, the AWS environment on top,
 * per-operation throttle limits, and the table of keys. (Matching clients,
 * actions and identities against the loaded policy: policy_test.)
 *
 * Files are written to a private temporary directory, so messages carry a
 * real path; in-memory text goes through config_load_text. The AWS_*
 * variables the loader reads are cleared first and set per test. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/config.h"
#include "proxy/log.h"

#include "tests/unit/unit_check.h"

static char dir[64];
static struct sp_err err;

static const char *const aws_env[] = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_SES",
                                      "AWS_ENDPOINT_URL"};

static void clear_env(void) {
    for (size_t i = 0; i < sizeof(aws_env) / sizeof(aws_env[0]); i++) {
        unsetenv(aws_env[i]);
    }
}

static int streq(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Writes text to dir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        abort();
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return path;
}

static struct config *load_file(const char *name, const char *text) {
    sp_err_clear(&err);
    return config_load(write_file(name, text), &err);
}

/* config_load_text from an exact-size heap copy (no NUL after it), so ASan
 * sees any read past the end. */
static struct config *load_text(const char *text) {
    size_t len = strlen(text);
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        abort();
    }
    memcpy(copy, text, len);
    sp_err_clear(&err);
    struct config *cfg = config_load_text(copy, len, "test.json", &err);
    free(copy);
    return cfg;
}

/* The file is refused and err.msg starts with "<path>:<line>: <key>: " and
 * contains `what`. */
static int refused_at(const char *text, int line, const char *key, const char *what) {
    struct config *cfg = load_file("bad.json", text);
    if (cfg != NULL) {
        config_unref(cfg);
        fprintf(stderr, "  accepted: %s\n", text);
        return 0;
    }
    char want[256];
    snprintf(want, sizeof(want), "%s/bad.json:%d: %s: ", dir, line, key);
    int ok = streq(err.code, "ConfigError") && strncmp(err.msg, want, strlen(want)) == 0 &&
             strstr(err.msg, what) != NULL;
    if (!ok) {
        fprintf(stderr, "  want \"%s...%s\", got \"%s\"\n", want, what, err.msg);
    }
    return ok;
}

/* In-memory text is refused with what in the message. */
static int text_refused(const char *text, const char *what) {
    struct config *cfg = load_text(text);
    if (cfg != NULL) {
        config_unref(cfg);
        fprintf(stderr, "  accepted: %s\n", text);
        return 0;
    }
    int ok = streq(err.code, "ConfigError") && strstr(err.msg, what) != NULL;
    if (!ok) {
        fprintf(stderr, "  want \"%s\", got \"%s\"\n", what, err.msg);
    }
    return ok;
}

static int cidr_is(const struct config_cidr *c, int family, const char *addr, int prefix) {
    uint8_t want[16] = {0};
    if (inet_pton(family, addr, want) != 1) {
        return 0;
    }
    return c->family == family && c->prefix == prefix &&
           memcmp(c->addr, want, family == AF_INET ? 4 : 16) == 0;
}

/* The defaults DESIGN.md lists, checked field by field. */
static int is_design_default(const struct config *c) {
    int ok = 1;
    double rate = -1, burst = -1;
    ok &= c->n_listen == 1 && streq(c->listen[0], "127.0.0.1:8080");
    ok &= c->n_admin_listen == 0;
    ok &= streq(c->region, "us-east-1");
    ok &= streq(c->endpoint, "https://email.us-east-1.amazonaws.com");
    ok &= c->endpoint_tls == 1 && streq(c->endpoint_host, "email.us-east-1.amazonaws.com") &&
          c->endpoint_port == 443;
    ok &= streq(c->credentials.source, "chain") && c->credentials.profile == NULL &&
          c->credentials.access_key_id == NULL && c->credentials.secret_access_key_file == NULL &&
          c->credentials.session_token_file == NULL;
    ok &= c->upstream.connect_timeout_ms == 3000 && c->upstream.timeout_ms == 30000 &&
          c->upstream.max_idle_connections == 64 && c->upstream.ca_file == NULL;
    ok &= c->retry_max_attempts == 3;
    ok &= streq(c->throttle.backend, "local") && c->throttle.redis_url == NULL &&
          c->throttle.max_wait_ms == 10000 && c->throttle.max_queue == 1000 &&
          c->throttle.send_rate_auto == 1;
    /* "operations": {}: the model's documented limits (1/s for most
     * management calls, 16/s for v2 BatchGetMetricData). */
    config_op_limit(c, "GetSendQuota", 1, &rate, &burst);
    ok &= rate == 1 && burst == 1;
    config_op_limit(c, "v2:BatchGetMetricData", 16, &rate, &burst);
    ok &= rate == 16 && burst == 16;
    config_op_limit(c, "SendEmail", 0, &rate, &burst);
    ok &= rate == 0;
    ok &= c->policy.n_allow_clients == 2 &&
          cidr_is(&c->policy.allow_clients[0], AF_INET, "127.0.0.0", 8) &&
          cidr_is(&c->policy.allow_clients[1], AF_INET6, "::1", 128);
    ok &= c->policy.n_allow_actions == 1 && streq(c->policy.allow_actions[0], "*") &&
          c->policy.n_deny_actions == 0;
    ok &= c->limits.max_body_bytes == 16777216 && c->limits.max_connections == 4096 &&
          c->limits.header_timeout_ms == 10000 && c->limits.idle_timeout_ms == 60000 &&
          c->limits.max_header_bytes == 16384;
    ok &= c->log.level == LOG_INFO && c->log.json == 1;
    ok &= c->drain_timeout_ms == 20000;
    return ok;
}

static void test_defaults(void) {
    sp_err_clear(&err);
    struct config *c = config_load(NULL, &err);
    CHECK(c != NULL && err.code == NULL);
    if (c == NULL) {
        return;
    }
    CHECK(c->refs == 1 && c->path == NULL);
    CHECK(is_design_default(c));
    config_unref(c);

    /* An empty object is the defaults too. */
    c = load_text("{}");
    CHECK(c != NULL && is_design_default(c) && c->path == NULL);
    config_unref(c);
    c = load_file("empty.json", " {\n}\n");
    CHECK(c != NULL && is_design_default(c));
    CHECK(c != NULL && c->path != NULL && strstr(c->path, "/empty.json") != NULL);
    config_unref(c);

    /* The shipped example shows every key with its default. */
    sp_err_clear(&err);
    c = config_load(SP_SOURCE_DIR "/conf/ses-proxy.json", &err);
    CHECK(c != NULL);
    if (c == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK(is_design_default(c));
    CHECK(c->throttle.n_ops == 0); /* the documented limits */
    config_unref(c);
}

static const char full[] =
    "{\n"
    "  \"listen\": [\"0.0.0.0:9000\", \"[::]:9000\", \"unix:/run/ses.sock\"],\n"
    "  \"admin_listen\": [\"0.0.0.0:9901\", \"unix:/run/ses-admin.sock\"],\n"
    "  \"region\": \"eu-west-1\",\n"
    "  \"endpoint\": \"https://email.eu-west-1.example.com:8443/\",\n"
    "  \"credentials\": {\"source\": \"static\", \"profile\": \"mail\",\n"
    "                  \"access_key_id\": \"AKIDEXAMPLE\",\n"
    "                  \"secret_access_key_file\": \"/run/secrets/ses\",\n"
    "                  \"session_token_file\": \"/run/secrets/token\"},\n"
    "  \"upstream\": {\"connect_timeout_ms\": 1500, \"timeout_ms\": 20000,\n"
    "               \"max_idle_connections\": 8, \"ca_file\": \"/etc/ssl/ca.pem\"},\n"
    "  \"retry\": {\"max_attempts\": 5},\n"
    "  \"throttle\": {\"backend\": \"redis\", \"redis_url\": \"redis://cache:6379/2\",\n"
    "               \"max_wait_ms\": 2500, \"max_queue\": 50,\n"
    "               \"send_rate\": 14,\n"
    "               \"operations\": {\"*\": {\"rate\": 2, \"burst\": 4},\n"
    "                              \"SendEmail\": {\"rate\": 0.5}}},\n"
    "  \"policy\": {\"allow_clients\": [\"10.0.0.0/8\", \"fd00::/8\", \"192.168.1.7\"],\n"
    "             \"allow_actions\": [\"Send*\", \"Get*\"],\n"
    "             \"deny_actions\": [\"GetIdentityPolicies\"]},\n"
    "  \"limits\": {\"max_body_bytes\": 1048576, \"max_connections\": 100,\n"
    "             \"header_timeout_ms\": 5000, \"idle_timeout_ms\": 30000,\n"
    "             \"max_header_bytes\": 8192},\n"
    "  \"log\": {\"level\": \"debug\", \"format\": \"json\"},\n"
    "  \"drain_timeout_ms\": 0\n"
    "}\n";

static void test_full_file(void) {
    struct config *c = load_file("full.json", full);
    CHECK(c != NULL);
    if (c == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK(c->n_listen == 3 && streq(c->listen[0], "0.0.0.0:9000") &&
          streq(c->listen[1], "[::]:9000") && streq(c->listen[2], "unix:/run/ses.sock"));
    CHECK(c->n_admin_listen == 2 && streq(c->admin_listen[0], "0.0.0.0:9901") &&
          streq(c->admin_listen[1], "unix:/run/ses-admin.sock"));
    CHECK(streq(c->region, "eu-west-1"));
    CHECK(streq(c->endpoint, "https://email.eu-west-1.example.com:8443/"));
    CHECK(c->endpoint_tls == 1 && streq(c->endpoint_host, "email.eu-west-1.example.com") &&
          c->endpoint_port == 8443);
    CHECK(streq(c->credentials.source, "static") && streq(c->credentials.profile, "mail") &&
          streq(c->credentials.access_key_id, "AKIDEXAMPLE") &&
          streq(c->credentials.secret_access_key_file, "/run/secrets/ses") &&
          streq(c->credentials.session_token_file, "/run/secrets/token"));
    CHECK(c->upstream.connect_timeout_ms == 1500 && c->upstream.timeout_ms == 20000 &&
          c->upstream.max_idle_connections == 8 && streq(c->upstream.ca_file, "/etc/ssl/ca.pem"));
    CHECK(c->retry_max_attempts == 5);
    CHECK(streq(c->throttle.backend, "redis") &&
          streq(c->throttle.redis_url, "redis://cache:6379/2") && c->throttle.max_wait_ms == 2500 &&
          c->throttle.max_queue == 50);
    CHECK(c->throttle.send_rate_auto == 0 && c->throttle.send_rate == 14);
    CHECK(c->throttle.n_ops == 2);
    CHECK(c->policy.n_allow_clients == 3 &&
          cidr_is(&c->policy.allow_clients[0], AF_INET, "10.0.0.0", 8) &&
          cidr_is(&c->policy.allow_clients[1], AF_INET6, "fd00::", 8) &&
          cidr_is(&c->policy.allow_clients[2], AF_INET, "192.168.1.7", 32));
    CHECK(c->policy.n_allow_actions == 2 && streq(c->policy.allow_actions[1], "Get*") &&
          c->policy.n_deny_actions == 1 && streq(c->policy.deny_actions[0], "GetIdentityPolicies"));
    CHECK(c->limits.max_body_bytes == 1048576 && c->limits.max_connections == 100 &&
          c->limits.header_timeout_ms == 5000 && c->limits.idle_timeout_ms == 30000 &&
          c->limits.max_header_bytes == 8192);
    CHECK(c->log.level == LOG_DEBUG && c->drain_timeout_ms == 0);
    config_unref(c);

    /* The same text in memory gives the same snapshot, without a path. */
    c = load_text(full);
    CHECK(c != NULL && c->path == NULL && c->endpoint_port == 8443 && c->throttle.n_ops == 2 &&
          c->policy.n_allow_clients == 3 && c->log.level == LOG_DEBUG);
    config_unref(c);

    /* Smaller forms: "listen" as one string; nulls keep defaults; "auto". */
    c = load_text("{\"listen\": \"[::1]:8081\", \"endpoint\": null, \"upstream\": "
                  "{\"ca_file\": null}, \"throttle\": {\"send_rate\": \"auto\"}, "
                  "\"credentials\": null}");
    CHECK(c != NULL && c->n_listen == 1 && streq(c->listen[0], "[::1]:8081") &&
          streq(c->endpoint, "https://email.us-east-1.amazonaws.com") &&
          c->throttle.send_rate_auto == 1 && streq(c->credentials.source, "chain"));
    config_unref(c);
    /* Sixteen listeners fit. */
    char many[1024];
    size_t n = (size_t)snprintf(many, sizeof(many), "{\"listen\": [");
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s\"127.0.0.1:%d\"", i ? "," : "",
                              9000 + i);
    }
    snprintf(many + n, sizeof(many) - n, "]}");
    c = load_text(many);
    CHECK(c != NULL && c->n_listen == CONFIG_MAX_LISTEN &&
          streq(c->listen[CONFIG_MAX_LISTEN - 1], "127.0.0.1:9015"));
    config_unref(c);
}

static void test_errors(void) {
    /* Wrong types. */
    CHECK(
        refused_at("{\n  \"region\": \"us-east-1\",\n  \"upstream\": {\"timeout_ms\": \"30s\"}\n}",
                   3, "upstream.timeout_ms", "must be an integer"));
    CHECK(refused_at("{\n\n  \"region\": 1\n}", 3, "region", "must be a string"));
    CHECK(refused_at("{\"limits\":\n {\"max_body_bytes\": 1.5}}", 2, "limits.max_body_bytes",
                     "integer"));
    CHECK(refused_at("{\n \"drain_timeout_ms\": true}", 2, "drain_timeout_ms", "integer"));
    /* Bodies in flight must have room for one body of the largest size. */
    CHECK(refused_at("{\"limits\": {\"max_body_bytes\": 2000,\n \"max_inflight_bytes\": 1999}}", 2,
                     "limits.max_inflight_bytes", "at least limits.max_body_bytes"));
    CHECK(text_refused("{\"limits\": {\"max_body_bytes\": 40000000}}",
                       "limits.max_inflight_bytes: must be at least limits.max_body_bytes"));
    CHECK(refused_at("{\n \"upstream\": []}", 2, "upstream", "must be an object"));
    CHECK(refused_at("{\n \"policy\": {\n  \"allow_actions\": \"*\"}}", 3, "policy.allow_actions",
                     "list of strings"));
    CHECK(refused_at("{\n \"policy\": {\n  \"deny_actions\": [\"A\", 2]}}", 3,
                     "policy.deny_actions", "list of strings"));
    CHECK(refused_at("{\n \"listen\": [8080]}", 2, "listen", "list of strings"));
    CHECK(refused_at("{\n \"listen\": []}", 2, "listen", "non-empty"));
    CHECK(refused_at("{\n \"admin_listen\": [9901]}", 2, "admin_listen", "list of strings"));
    CHECK(refused_at("{\n \"admin_listen\": {}}", 2, "admin_listen", "at most 16"));
    /* Out of range. */
    CHECK(refused_at("{\"retry\": {\n\"max_attempts\": 0}}", 2, "retry.max_attempts",
                     "between 1 and 20"));
    CHECK(refused_at("{\"upstream\": {\n\"connect_timeout_ms\": -5}}", 2,
                     "upstream.connect_timeout_ms", "between"));
    CHECK(refused_at("{\"limits\": {\n\"max_header_bytes\": 100}}", 2, "limits.max_header_bytes",
                     "between 256"));
    /* Unknown keys, top level and nested. */
    CHECK(refused_at("{\n  \"listen\": [\"127.0.0.1:1\"],\n  \"colour\": \"blue\"\n}", 3, "colour",
                     "unknown key"));
    CHECK(refused_at("{\n  \"limits\": {\n    \"max_connections\": 5,\n    \"max_body\": 5\n  }\n}",
                     4, "limits.max_body", "unknown key"));
    CHECK(refused_at("{\"throttle\": {\"operations\": {\n \"SendEmail\": {\"rate\": 1,\n"
                     " \"brust\": 2}}}}",
                     3, "throttle.operations.SendEmail.brust", "unknown key"));
    CHECK(refused_at("{\n\"log\": {\"level\": \"info\", \"colour\": 1}}", 2, "log.colour",
                     "unknown key"));
    /* Enums. */
    CHECK(refused_at("{\n \"throttle\": {\n   \"backend\": \"memcached\"}}", 3, "throttle.backend",
                     "\"local\" or \"redis\""));
    CHECK(refused_at("{\"credentials\": {\n\"source\": \"vault\"}}", 2, "credentials.source",
                     "must be one of"));
    CHECK(refused_at("{\"log\": {\n\"level\": \"loud\"}}", 2, "log.level", "must be one of"));
    CHECK(refused_at("{\"log\": {\n\"level\": 3}}", 2, "log.level", "must be one of"));
    CHECK(refused_at("{\"log\": {\n\"format\": \"text\"}}", 2, "log.format", "json"));
    CHECK(refused_at("{\"throttle\": {\n\"send_rate\": \"fast\"}}", 2, "throttle.send_rate",
                     "\"auto\" or a number"));
    CHECK(refused_at("{\"throttle\": {\n\"send_rate\": 0}}", 2, "throttle.send_rate", "> 0"));
    CHECK(refused_at("{\"throttle\": {\"operations\": {\n\"GetSendQuota\": {\"burst\": 3}}}}", 2,
                     "throttle.operations.GetSendQuota", "needs \"rate\""));
    CHECK(refused_at("{\"throttle\": {\"operations\": {\n\"X\": {\"rate\": 1, \"burst\": 0.5}}}}",
                     2, "throttle.operations.X.burst", ">= 1"));
    CHECK(refused_at("{\"throttle\": {\"operations\": {\n\"X\": {\"rate\": -1}}}}", 2,
                     "throttle.operations.X.rate", ">= 0"));
    CHECK(refused_at("{\"throttle\": {\"operations\": {\n\"X\": 5}}}", 2, "throttle.operations.X",
                     "must be an object"));
    /* Bad CIDRs. */
    CHECK(refused_at("{\n \"policy\": {\n  \"allow_clients\": [\"10.0.0.0/8\", \"10.0.0.0/33\"]}}",
                     3, "policy.allow_clients", "\"10.0.0.0/33\" is not an address or CIDR"));
    CHECK(refused_at("{\"policy\": {\n\"allow_clients\": [\"localhost\"]}}", 2,
                     "policy.allow_clients", "\"localhost\""));
    CHECK(refused_at("{\"policy\": {\n\"allow_clients\": [\"::1/129\"]}}", 2,
                     "policy.allow_clients", "not an address"));
    /* Credentials that do not go together; an inline secret. */
    CHECK(refused_at("{\"credentials\": {\n\"access_key_id\": \"AKID\"}}", 2,
                     "credentials.access_key_id", "go together"));
    CHECK(refused_at("{\"credentials\": {\n\"secret_access_key_file\": \"/s\"}}", 1,
                     "credentials.access_key_id", "go together"));
    CHECK(refused_at("{\"credentials\": {\"access_key_id\": \"AKID\",\n"
                     "\"secret_access_key\": \"wJalrXUtnFEMI\"}}",
                     2, "credentials.secret_access_key", "secret_access_key_file"));
    /* Never the secret itself in the message. */
    CHECK(strstr(err.msg, "wJalrXUtnFEMI") == NULL);

    /* JSON syntax errors carry line and column. */
    struct config *c =
        load_file("syntax.json", "{\n  \"region\": \"us-east-1\"\n  \"retry\": {}\n}");
    char want[128];
    snprintf(want, sizeof(want), "%s/syntax.json:3:", dir);
    CHECK(c == NULL && streq(err.code, "ConfigError") && strncmp(err.msg, want, strlen(want)) == 0);
    CHECK(c == NULL && err.msg[strlen(want)] >= '1' && err.msg[strlen(want)] <= '9');
    c = load_file("syntax.json", "{\"region\": \"us-east-1\",}");
    snprintf(want, sizeof(want), "%s/syntax.json:1:", dir);
    CHECK(c == NULL && strncmp(err.msg, want, strlen(want)) == 0);
    c = load_file("syntax.json", "");
    CHECK(c == NULL && streq(err.code, "ConfigError") && strstr(err.msg, "syntax.json:") != NULL);
    /* Duplicate keys are an error, not last-one-wins. */
    c = load_file("dup.json", "{\n\"region\": \"us-east-1\",\n\"region\": \"eu-west-1\"}");
    CHECK(c == NULL && streq(err.code, "ConfigError") && strstr(err.msg, "dup.json:3:") != NULL);
    /* Not an object. */
    CHECK(text_refused("[1, 2]", "test.json:1: the configuration must be a JSON object"));
    CHECK(text_refused("\"x\"", "test.json:1:")); /* jansson: '[' or '{' expected */
    /* A missing file. */
    sp_err_clear(&err);
    c = config_load("/nonexistent/ses-proxy.json", &err);
    CHECK(c == NULL && streq(err.code, "ConfigError") &&
          strstr(err.msg, "/nonexistent/ses-proxy.json") != NULL);
    /* Text ends at a NUL byte, as a file's does. */
    static const char nul[] = "{\"region\": \"eu-north-1\"}\0garbage";
    sp_err_clear(&err);
    c = config_load_text(nul, sizeof(nul) - 1, "nul.json", &err);
    CHECK(c != NULL && streq(c->region, "eu-north-1"));
    config_unref(c);
    /* Errors in memory name the given name. */
    CHECK(text_refused("{\n\"nope\": 1}", "test.json:2: nope: unknown key"));
}

static void test_env(void) {
    struct config *c;
    /* AWS_REGION over AWS_DEFAULT_REGION over the file. */
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    c = load_text("{\"region\": \"eu-west-1\"}");
    CHECK(c != NULL && streq(c->region, "ap-south-1") &&
          streq(c->endpoint, "https://email.ap-south-1.amazonaws.com"));
    config_unref(c);
    setenv("AWS_REGION", "eu-central-1", 1);
    c = load_text("{\"region\": \"eu-west-1\"}");
    CHECK(c != NULL && streq(c->region, "eu-central-1") &&
          streq(c->endpoint_host, "email.eu-central-1.amazonaws.com") && c->endpoint_port == 443 &&
          c->endpoint_tls == 1);
    config_unref(c);
    /* Empty is unset. */
    setenv("AWS_REGION", "", 1);
    c = load_text("{}");
    CHECK(c != NULL && streq(c->region, "ap-south-1"));
    config_unref(c);
    clear_env();
    c = load_text("{\"region\": \"eu-west-1\"}");
    CHECK(c != NULL && streq(c->region, "eu-west-1") &&
          streq(c->endpoint, "https://email.eu-west-1.amazonaws.com"));
    config_unref(c);
    /* Not a region name. */
    setenv("AWS_REGION", "US_EAST_1", 1);
    CHECK(text_refused("{}", "is not a region name"));
    clear_env();
    CHECK(text_refused("{\"region\": \"us-east-1.evil.com/\"}", "is not a region name"));
    CHECK(text_refused("{\"region\": \"\"}", "region"));

    /* The endpoint: AWS_ENDPOINT_URL_SES over AWS_ENDPOINT_URL over the file. */
    const char *file = "{\"endpoint\": \"https://file.example:444\"}";
    c = load_text(file);
    CHECK(c != NULL && streq(c->endpoint_host, "file.example") && c->endpoint_port == 444 &&
          c->endpoint_tls == 1);
    config_unref(c);
    setenv("AWS_ENDPOINT_URL", "http://localstack:4566", 1);
    c = load_text(file);
    CHECK(c != NULL && streq(c->endpoint, "http://localstack:4566") &&
          streq(c->endpoint_host, "localstack") && c->endpoint_port == 4566 &&
          c->endpoint_tls == 0);
    config_unref(c);
    setenv("AWS_ENDPOINT_URL_SES", "http://127.0.0.1:8005/", 1);
    c = load_text(file);
    CHECK(c != NULL && streq(c->endpoint_host, "127.0.0.1") && c->endpoint_port == 8005 &&
          c->endpoint_tls == 0);
    config_unref(c);
    /* Empty is unset. */
    setenv("AWS_ENDPOINT_URL_SES", "", 1);
    c = load_text(file);
    CHECK(c != NULL && streq(c->endpoint_host, "localstack"));
    config_unref(c);
    clear_env();
    /* Default ports, IPv6 literals. */
    c = load_text("{\"endpoint\": \"http://ses.local\"}");
    CHECK(c != NULL && streq(c->endpoint_host, "ses.local") && c->endpoint_port == 80 &&
          c->endpoint_tls == 0);
    config_unref(c);
    c = load_text("{\"endpoint\": \"https://[::1]:8443\"}");
    CHECK(c != NULL && streq(c->endpoint_host, "::1") && c->endpoint_port == 8443 &&
          c->endpoint_tls == 1);
    config_unref(c);
    c = load_text("{\"endpoint\": \"https://[fd00::5]/\"}");
    CHECK(c != NULL && streq(c->endpoint_host, "fd00::5") && c->endpoint_port == 443);
    config_unref(c);
    /* Bad endpoints name where they came from. */
    CHECK(text_refused("{\"endpoint\": \"ftp://x\"}", "endpoint \"ftp://x\" must start with"));
    CHECK(text_refused("{\"endpoint\": \"email.us-east-1.amazonaws.com\"}", "https://"));
    CHECK(text_refused("{\"endpoint\": \"https://\"}", "no host"));
    CHECK(text_refused("{\"endpoint\": \"https://:443\"}", "no host"));
    CHECK(text_refused("{\"endpoint\": \"http://h:0\"}", "bad port"));
    CHECK(text_refused("{\"endpoint\": \"http://h:65536\"}", "bad port"));
    CHECK(text_refused("{\"endpoint\": \"http://h:\"}", "bad port"));
    CHECK(text_refused("{\"endpoint\": \"http://h:80x\"}", "bad port"));
    CHECK(text_refused("{\"endpoint\": \"http://h/v2\"}", "no path"));
    CHECK(text_refused("{\"endpoint\": \"https://[::1\"}", "IPv6"));
    CHECK(text_refused("{\"endpoint\": \"https://user@evil.example\"}", "no user, query"));
    CHECK(text_refused("{\"endpoint\": \"https://h.example?x=1\"}", "no user, query"));
    setenv("AWS_ENDPOINT_URL_SES", "localhost:9000", 1);
    CHECK(text_refused("{}", "AWS_ENDPOINT_URL_SES: endpoint \"localhost:9000\""));
    clear_env();
    setenv("AWS_ENDPOINT_URL", "http://h/x", 1);
    CHECK(text_refused("{}", "AWS_ENDPOINT_URL: "));
    clear_env();
}

static void test_op_limit(void) {
    double rate, burst;
    struct config *cfg = load_text("{\"throttle\": {\"operations\": {"
                                   "\"SendEmail\": {\"rate\": 14, \"burst\": 28},"
                                   "\"*\": {\"rate\": 0.5},"
                                   "\"ListIdentities\": {\"rate\": 0},"
                                   "\"GetSendStatistics\": {\"rate\": 3}}}}");
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        return;
    }
    /* Its own entry, documented limit or not. */
    config_op_limit(cfg, "SendEmail", 0, &rate, &burst);
    CHECK(rate == 14 && burst == 28);
    config_op_limit(cfg, "GetSendStatistics", 1, &rate, &burst);
    CHECK(rate == 3 && burst == 3); /* burst defaults to the rate */
    config_op_limit(cfg, "ListIdentities", 1, &rate, &burst);
    CHECK(rate == 0); /* explicitly unthrottled */
    /* "*" for documented operations (burst at least 1). */
    config_op_limit(cfg, "GetSendQuota", 1, &rate, &burst);
    CHECK(rate == 0.5 && burst == 1);
    config_op_limit(cfg, "DeleteIdentity", 5, &rate, &burst);
    CHECK(rate == 0.5 && burst == 1);
    /* ... but not for undocumented ones. */
    config_op_limit(cfg, "SendRawEmail", 0, &rate, &burst);
    CHECK(rate == 0 && burst == 0);
    /* Names are exact. */
    config_op_limit(cfg, "sendemail", 0, &rate, &burst);
    CHECK(rate == 0);
    config_unref(cfg);

    /* No entries: the documented limit, burst the same. */
    cfg = load_text("{\"throttle\": {\"operations\": {}}}");
    CHECK(cfg != NULL && cfg->throttle.n_ops == 0);
    config_op_limit(cfg, "GetSendQuota", 1, &rate, &burst);
    CHECK(rate == 1 && burst == 1);
    config_op_limit(cfg, "Hypothetical", 5, &rate, &burst);
    CHECK(rate == 5 && burst == 5);
    config_op_limit(cfg, "SendEmail", 0, &rate, &burst);
    CHECK(rate == 0 && burst == 0);
    config_unref(cfg);
}

/* ---- the table of keys, the example file and the README ------------------ */

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
    }
    return buf;
}

static const struct config_key *table_row(const char *path) {
    size_t n;
    const struct config_key *keys = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i].path, path) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

/* The value at a dotted path in conf, or NULL. */
static json_t *conf_value(json_t *conf, const char *path) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = conf;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part != NULL && v != NULL;
         part = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, part);
    }
    return v;
}

/* Every member of the example file is a key of the table, or a section of
 * them. Returns how many are not. */
/* A section whose presence turns a feature on (the outbox) is shown as null
 * in conf/ses-proxy.json, its default; its keys' defaults are in README's
 * table only. */
static int in_optional_section(const char *path, json_t *conf) {
    static const char *const optional[] = {"outbox"};
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        size_t n = strlen(optional[i]);
        if ((strncmp(path, optional[i], n) == 0 && (path[n] == '.' || path[n] == '\0')) &&
            json_is_null(json_object_get(conf, optional[i]))) {
            return 1;
        }
    }
    return 0;
}

static int conf_extras(json_t *obj, const char *prefix) {
    int extras = 0;
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
        if (table_row(path) != NULL || (json_is_null(v) && in_optional_section(path, obj))) {
            continue;
        }
        if (json_is_object(v)) {
            extras += conf_extras(v, path);
        } else {
            fprintf(stderr, "  conf/ses-proxy.json has %s, which the table lacks\n", path);
            extras++;
        }
    }
    return extras;
}

/* The README's "## Configuration" section (points into readme). */
static const char *config_section(char *readme) {
    char *start = readme != NULL ? strstr(readme, "\n## Configuration\n") : NULL;
    if (start == NULL) {
        return NULL;
    }
    char *end = strstr(start + 1, "\n## ");
    if (end != NULL) {
        *end = '\0';
    }
    return start;
}

/* k is in conf with its default, and in the README's table of keys as
 * "| `path` | `default` | yes|restart |". */
static int documented(const struct config_key *k, json_t *conf, const char *section) {
    int ok = 1;
    json_t *want = json_loads(k->def, JSON_DECODE_ANY, NULL);
    json_t *shown = conf_value(conf, k->path);
    if (in_optional_section(k->path, conf)) {
        /* shown as its section's null */
    } else if (shown == NULL) {
        fprintf(stderr, "  %s is not in conf/ses-proxy.json\n", k->path);
        ok = 0;
    } else if (want == NULL || !json_equal(want, shown)) {
        char *text = json_dumps(shown, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(stderr, "  %s: the table's default is %s, conf/ses-proxy.json shows %s\n", k->path,
                k->def, text != NULL ? text : "?");
        free(text);
        ok = 0;
    }
    json_decref(want);
    char row[512];
    snprintf(row, sizeof(row), "\n| `%s` | `%s` | %s |", k->path, k->def,
             k->reloadable ? "yes" : "restart");
    if (section == NULL || strstr(section, row) == NULL) {
        fprintf(stderr, "  README.md's configuration lacks the row \"%s\"\n", row + 1);
        ok = 0;
    }
    return ok;
}

/* Every "| `key` |" row of the README's table is a key of the table. */
static int readme_extras(const char *section) {
    int extras = 0;
    for (const char *p = section; p != NULL && (p = strstr(p, "\n| `")) != NULL; p++) {
        const char *name = p + 4;
        size_t len = strcspn(name, "`");
        char path[128];
        snprintf(path, sizeof(path), "%.*s", (int)len, name);
        if (table_row(path) == NULL && strcmp(path, "outbox") != 0) {
            fprintf(stderr, "  README.md lists %s, which the table lacks\n", path);
            extras++;
        }
    }
    return extras;
}

static void test_table_documented(void) {
    size_t n;
    const struct config_key *keys = config_keys(&n);
    CHECK(n > 30);
    json_error_t jerr;
    json_t *conf = json_load_file(SP_SOURCE_DIR "/conf/ses-proxy.json", 0, &jerr);
    char *readme = read_all(SP_SOURCE_DIR "/README.md");
    const char *section = config_section(readme);
    CHECK(conf != NULL && section != NULL);
    if (conf == NULL || section == NULL) {
        json_decref(conf);
        free(readme);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        CHECK(documented(&keys[i], conf, section));
        /* One row per path; a key that needs a restart can be compared. */
        CHECK(table_row(keys[i].path) == &keys[i]);
        CHECK(keys[i].reloadable || keys[i].type != CONFIG_CUSTOM);
    }
    CHECK(conf_extras(conf, "") == 0);
    CHECK(readme_extras(section) == 0);
    json_decref(conf);
    free(readme);

    /* The checks above catch a drift. */
    json_t *drifted = json_pack("{s{si}}", "retry", "max_attempts", 4);
    const struct config_key *retry = table_row("retry.max_attempts");
    CHECK(drifted != NULL && retry != NULL);
    if (drifted != NULL && retry != NULL) {
        fprintf(stderr, "  (expected, a drift the test must see:)\n");
        CHECK(!documented(retry, drifted, "\n| `retry.max_attempts` | `3` | yes |"));
        json_object_set_new(drifted, "colour", json_string("blue"));
        CHECK(conf_extras(drifted, "") == 1);
        CHECK(readme_extras("\n| `retry.max_attempts` | `3` | yes |\n| `retry.max` |") == 1);
    }
    json_decref(drifted);
}

/* config_restart_keys(a, b) == want (and the count matches). */
static int restart_keys_are(const struct config *a, const struct config *b, const char *want) {
    char buf[512];
    size_t n = config_restart_keys(a, b, buf, sizeof(buf));
    size_t commas = 0;
    for (const char *p = want; *p; p++) {
        commas += *p == ',';
    }
    int ok = strcmp(buf, want) == 0 && n == (*want ? commas + 1 : 0);
    if (!ok) {
        fprintf(stderr, "  want \"%s\", got \"%s\" (%zu)\n", want, buf, n);
    }
    return ok;
}

static void test_restart_keys(void) {
    struct config *def = load_text("{}");
    struct config *full_cfg = load_text(full);
    /* Everything reloadable changes, and only that. */
    struct config *live = load_text(
        "{\"region\": \"us-east-1\", \"retry\": {\"max_attempts\": 1}, \"policy\": "
        "{\"deny_actions\": [\"Delete*\"], \"allow_clients\": [\"10.0.0.0/8\"], \"identities\": "
        "[\"example.com\"]}, \"limits\": {\"max_body_bytes\": 64, \"max_header_bytes\": 1024}, "
        "\"throttle\": {\"send_rate\": 3, \"backend\": \"redis\"}, \"log\": {\"level\": "
        "\"debug\"}, "
        "\"credentials\": {\"source\": \"env\"}, \"drain_timeout_ms\": 1}");
    CHECK(def != NULL && full_cfg != NULL && live != NULL);
    if (def == NULL || full_cfg == NULL || live == NULL) {
        config_unref(def);
        config_unref(full_cfg);
        config_unref(live);
        return;
    }
    CHECK(restart_keys_are(def, def, ""));
    CHECK(restart_keys_are(def, live, ""));
    CHECK(restart_keys_are(live, def, ""));
    CHECK(restart_keys_are(def, full_cfg,
                           "listen, admin_listen, endpoint, upstream.connect_timeout_ms, "
                           "upstream.timeout_ms, upstream.max_idle_connections, upstream.ca_file"));
    CHECK(restart_keys_are(full_cfg, def,
                           "listen, admin_listen, endpoint, upstream.connect_timeout_ms, "
                           "upstream.timeout_ms, upstream.max_idle_connections, upstream.ca_file"));

    struct config *c = load_text("{\"listen\": \"127.0.0.1:8081\"}");
    CHECK(c != NULL && restart_keys_are(def, c, "listen"));
    config_unref(c);
    /* The same listener in another form is the same list. */
    c = load_text("{\"listen\": [\"127.0.0.1:8080\"], \"admin_listen\": []}");
    CHECK(c != NULL && restart_keys_are(def, c, ""));
    config_unref(c);
    c = load_text("{\"admin_listen\": [\"127.0.0.1:9901\"], \"upstream\": {\"timeout_ms\": 5}}");
    CHECK(c != NULL && restart_keys_are(def, c, "admin_listen, upstream.timeout_ms"));
    config_unref(c);
    /* The endpoint as resolved: a new region moves the default one, and so
     * does the environment. */
    c = load_text("{\"region\": \"eu-west-1\"}");
    CHECK(c != NULL && restart_keys_are(def, c, "endpoint"));
    config_unref(c);
    setenv("AWS_ENDPOINT_URL_SES", "https://email.us-east-1.amazonaws.com", 1);
    c = load_text("{}");
    CHECK(c != NULL && restart_keys_are(def, c, ""));
    config_unref(c);
    setenv("AWS_ENDPOINT_URL_SES", "http://127.0.0.1:8005", 1);
    c = load_text("{}");
    CHECK(c != NULL && restart_keys_are(def, c, "endpoint"));
    config_unref(c);
    clear_env();
    /* --listen on both sides: no change. */
    char *cli[] = {"127.0.0.1:7000"};
    c = load_text("{\"listen\": \"127.0.0.1:8081\"}");
    struct config *d2 = load_text("{}");
    sp_err_clear(&err);
    CHECK(c != NULL && d2 != NULL && config_set_listen(c, cli, 1, &err) == 0 &&
          config_set_listen(d2, cli, 1, &err) == 0 && restart_keys_are(d2, c, ""));
    config_unref(c);
    config_unref(d2);
    /* A small buffer is truncated, never overrun; the count is whole. */
    char small[8];
    CHECK(config_restart_keys(def, full_cfg, small, sizeof(small)) == 7 &&
          strcmp(small, "listen,") == 0);
    CHECK(config_restart_keys(def, full_cfg, NULL, 0) == 7);
    config_unref(def);
    config_unref(full_cfg);
    config_unref(live);
}

/* Errors of the irregular keys and of the walk itself. */
static void test_errors_walk(void) {
    /* policy.identities: a list, or an object of lists, none empty. */
    CHECK(refused_at("{\"policy\": {\n\"identities\": 5}}", 2, "policy.identities",
                     "must be a list of domains/addresses, or an object"));
    CHECK(refused_at("{\"policy\": {\"identities\": {\"Get*\": [\"a.com\"],\n\"Send*\": []}}}", 2,
                     "policy.identities.Send*", "must list at least one domain or address"));
    CHECK(refused_at("{\"policy\": {\"identities\": {\n\"Send*\": [\"a.com\", 1]}}}", 2,
                     "policy.identities.Send*", "must be a list of strings"));
    CHECK(refused_at("{\"policy\": {\n\"identities\": []}}", 2, "policy.identities.*",
                     "at least one"));
    struct config *c = load_text("{\"policy\": {\"identities\": null}}");
    CHECK(c != NULL && c->policy.identities.n_rules == 0);
    config_unref(c);
    /* A section must be an object; only credentials may be null. */
    CHECK(refused_at("{\n\"upstream\": null}", 2, "upstream", "must be an object"));
    CHECK(refused_at("{\"throttle\": 5,\n\"log\": \"x\"}", 1, "throttle", "must be an object"));
    /* A key is not a section, and a dotted name is not a path. */
    CHECK(refused_at("{\"limits\": {\n\"max_body\": {\"bytes\": 1}}}", 2, "limits.max_body",
                     "unknown key"));
    CHECK(text_refused("{\"throttle.max_wait_ms\": 5}", "throttle.max_wait_ms: unknown key"));
    CHECK(refused_at("{\n\"credentials\": {\"source.x\": 5}}", 2, "credentials.source.x",
                     "unknown key"));
    CHECK(refused_at("{\"throttle\": {\n\"max_wait_ms\": {\"x\": 1}}}", 2, "throttle.max_wait_ms",
                     "must be an integer"));
    CHECK(
        refused_at("{\n\"drain_timeout_ms\": null}", 2, "drain_timeout_ms", "must be an integer"));
    /* Strings with a bound; URLs read by their own setter. */
    CHECK(refused_at("{\"throttle\": {\n\"redis_key_prefix\": "
                     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
                     2, "throttle.redis_key_prefix", "must be at most 64 bytes"));
    CHECK(refused_at("{\"throttle\": {\n\"redis_url\": \"redis://user:pw@h:6379\"}}", 2,
                     "throttle.redis_url", "no credentials"));
    CHECK(refused_at("{\"credentials\": {\n\"source\": 5}}", 2, "credentials.source",
                     "must be a string or null"));
    /* Seventeen listeners are too many. */
    char many[1024];
    size_t n = (size_t)snprintf(many, sizeof(many), "{\"admin_listen\": [");
    for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s\"127.0.0.1:%d\"", i ? "," : "",
                              9000 + i);
    }
    snprintf(many + n, sizeof(many) - n, "]}");
    CHECK(refused_at(many, 1, "admin_listen", "at most 16"));
    memcpy(many, "{\"listen\":      ", 16);
    CHECK(refused_at(many, 1, "listen", "must be a non-empty list"));
    /* The defaults alone: backend "redis" without a URL gets the local one. */
    c = load_text("{\"throttle\": {\"backend\": \"redis\"}}");
    CHECK(c != NULL && streq(c->throttle.redis_host, "127.0.0.1") &&
          c->throttle.redis_port == 6379);
    config_unref(c);
}

static void test_refs_and_listen(void) {
    struct config *cfg = load_text("{}");
    CHECK(cfg != NULL && cfg->refs == 1);
    if (cfg == NULL) {
        return;
    }
    CHECK(config_ref(cfg) == cfg && cfg->refs == 2);
    config_unref(cfg);
    CHECK(cfg->refs == 1);
    char *l[CONFIG_MAX_LISTEN + 1];
    char bufs[CONFIG_MAX_LISTEN + 1][32];
    for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "127.0.0.1:%d", 7000 + i);
        l[i] = bufs[i];
    }
    sp_err_clear(&err);
    CHECK(config_set_listen(cfg, l, 2, &err) == 0 && cfg->n_listen == 2 &&
          streq(cfg->listen[1], "127.0.0.1:7001"));
    CHECK(config_set_listen(cfg, l, 0, &err) == -1 && streq(err.code, "ConfigError"));
    CHECK(config_set_listen(cfg, l, CONFIG_MAX_LISTEN + 1, &err) == -1);
    CHECK(cfg->n_listen == 2); /* unchanged by the refusals */
    CHECK(config_set_listen(cfg, l, CONFIG_MAX_LISTEN, &err) == 0 &&
          cfg->n_listen == CONFIG_MAX_LISTEN);
    config_unref(cfg); /* frees: ASan/valgrind show no leak */
    config_unref(NULL);
}

int main(void) {
    clear_env();
    snprintf(dir, sizeof(dir), "/tmp/config_test.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_full_file();
    test_errors();
    test_env();
    test_op_limit();
    test_refs_and_listen();
    test_errors_walk();
    test_table_documented();
    test_restart_keys();
    const char *names[] = {"bad.json", "empty.json", "full.json", "syntax.json", "dup.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
