/* creds_env_test - the credential variables sealed away: gone from the
 * environment (environ, /proc/self/environ, a child's environment), still
 * read through creds_env, wiped by creds_env_clear; other variables read
 * as before.
 *
 * /proc/self/environ shows the block the process started with, so that
 * part runs in a copy of this program started with the variables set
 * (argv[1] "child"); setenv in this process would put them elsewhere. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/creds/creds_env.h"

#include "tests/unit/unit_check.h"

extern char **environ;

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLETOKENvalue"

static int in_environ(const char *needle) {
    for (char **e = environ; *e != NULL; e++) {
        if (strstr(*e, needle) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* The whole of /proc/self/environ holds needle? */
static int in_proc_environ(const char *needle) {
    FILE *f = fopen("/proc/self/environ", "rb");
    if (f == NULL) {
        return -1;
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(buf + i, needle, k) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A child started after the seal: does its environment hold needle? Its
 * exit status says (0: it does not). */
static int child_sees(const char *name) {
    char script[128];
    snprintf(script, sizeof(script), "test -z \"${%s+set}\"", name);
    char *argv[] = {"sh", "-c", script, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "sh", NULL, NULL, argv, environ) != 0) {
        return -1;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* Runs in the copy started with the variables in its environment block. */
static int child_main(void) {
    struct sp_err err;
    CHECK(in_proc_environ(SECRET) == 1);
    CHECK(creds_env_seal(&err) == 0);
    CHECK(in_proc_environ(SECRET) == 0);
    CHECK(in_proc_environ(TOKEN) == 0);
    CHECK(in_proc_environ("AKIDEXAMPLE") == 0);
    CHECK(in_proc_environ("AWS_REGION=eu-west-1") == 1);
    CHECK(!in_environ(SECRET) && !in_environ("AWS_SECRET_ACCESS_KEY"));
    CHECK(child_sees("AWS_SECRET_ACCESS_KEY") == 0 && child_sees("AWS_ACCESS_KEY_ID") == 0 &&
          child_sees("AWS_SESSION_TOKEN") == 0 &&
          child_sees("AWS_CONTAINER_AUTHORIZATION_TOKEN") == 0);
    CHECK(child_sees("AWS_REGION") == 1);
    CHECK(creds_env("AWS_SECRET_ACCESS_KEY") != NULL &&
          strcmp(creds_env("AWS_SECRET_ACCESS_KEY"), SECRET) == 0);
    creds_env_clear();
    return failed == 0 ? 0 : 1;
}

static void test_seal_in_process(void) {
    struct sp_err err;
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", "", 1); /* set but empty: unset, as the SDKs read it */
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN, 1);
    setenv("AWS_SECURITY_TOKEN", TOKEN, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "True", 1);
    char *secret_entry = NULL;
    for (char **e = environ; *e != NULL; e++) {
        if (strncmp(*e, "AWS_SECRET_ACCESS_KEY=", 22) == 0) {
            secret_entry = *e;
        }
    }
    CHECK(secret_entry != NULL);

    CHECK(creds_env_seal(&err) == 0);
    CHECK(getenv("AWS_ACCESS_KEY_ID") == NULL && getenv("AWS_SECRET_ACCESS_KEY") == NULL &&
          getenv("AWS_SESSION_TOKEN") == NULL && getenv("AWS_SECURITY_TOKEN") == NULL &&
          getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN") == NULL);
    CHECK(!in_environ(SECRET) && !in_environ(TOKEN));
    /* setenv's own copy of the entry was overwritten too, not only unset. */
    CHECK(secret_entry != NULL && strstr(secret_entry, "EXAMPLEKEY") == NULL);
    /* Still read as before, and the other variables untouched. */
    CHECK(creds_env("AWS_ACCESS_KEY_ID") != NULL &&
          strcmp(creds_env("AWS_ACCESS_KEY_ID"), "AKIDEXAMPLE") == 0);
    CHECK(creds_env("AWS_SECRET_ACCESS_KEY") != NULL &&
          strcmp(creds_env("AWS_SECRET_ACCESS_KEY"), SECRET) == 0);
    CHECK(creds_env("AWS_SESSION_TOKEN") == NULL);
    CHECK(creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != NULL);
    CHECK(creds_env_true("AWS_EC2_METADATA_DISABLED") == 1);
    CHECK(getenv("AWS_EC2_METADATA_DISABLED") != NULL);
    /* Set again later (nobody does): the sealed copy still answers, so the
     * credentials are what the process started with. */
    setenv("AWS_SECRET_ACCESS_KEY", "changed", 1);
    CHECK(strcmp(creds_env("AWS_SECRET_ACCESS_KEY"), SECRET) == 0);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    /* A second seal changes nothing. */
    CHECK(creds_env_seal(&err) == 0 && creds_env("AWS_SECRET_ACCESS_KEY") != NULL);
    /* Cleared: read as unset from then on. */
    creds_env_clear();
    CHECK(creds_env("AWS_SECRET_ACCESS_KEY") == NULL && creds_env("AWS_ACCESS_KEY_ID") == NULL);
}

static void test_proc_environ(void) {
    /* This program's own path (under valgrind /proc/self/exe is valgrind;
     * readlink gives the program it runs). */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    CHECK(n > 0);
    if (n <= 0) {
        return;
    }
    self[n] = '\0';
    char *argv[] = {self, "child", NULL};
    char *envp[] = {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
                    "AWS_SECRET_ACCESS_KEY=" SECRET,
                    "AWS_SESSION_TOKEN=" TOKEN,
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN=" TOKEN,
                    "AWS_REGION=eu-west-1",
                    "PATH=/usr/bin:/bin",
                    NULL};
    pid_t pid;
    CHECK(posix_spawn(&pid, self, NULL, NULL, argv, envp) == 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        return child_main();
    }
    test_proc_environ();
    test_seal_in_process();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
