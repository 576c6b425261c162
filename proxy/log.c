/* log.c - JSON-line logging (see log.h). */
#include "proxy/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "api/iso8601.h"

static enum log_level threshold = LOG_INFO;

void log_set_level(enum log_level level) { threshold = level; }

int log_enabled(enum log_level level) { return level >= threshold; }

int log_level_parse(const char *s) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *level_name(enum log_level level) {
    switch (level) {
    case LOG_DEBUG:
        return "debug";
    case LOG_INFO:
        return "info";
    case LOG_WARN:
        return "warn";
    case LOG_ERROR:
        return "error";
    }
    return "info";
}

/* The wall clock, to the millisecond. */
static void now_iso(char out[ISO8601_FORMAT_MAX]) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct iso8601_time t = {tv.tv_sec, (int32_t)tv.tv_usec};
    if (iso8601_format(t, 3, out, ISO8601_FORMAT_MAX) < 0) {
        out[0] = '\0';
    }
}

static void emit(json_t *obj) {
    /* One fwrite per line so concurrent writers (none today) cannot interleave. */
    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (line != NULL) {
        size_t n = strlen(line);
        line[n] = '\n';
        fwrite(line, 1, n + 1, stdout);
        fflush(stdout);
        free(line);
    }
}

void log_event(enum log_level level, const char *msg, ...) {
    if (!log_enabled(level)) {
        return;
    }
    char ts[ISO8601_FORMAT_MAX];
    now_iso(ts);
    json_t *obj = json_object();
    if (obj == NULL) {
        return;
    }
    json_object_set_new(obj, "time", json_string(ts));
    json_object_set_new(obj, "level", json_string(level_name(level)));
    json_object_set_new(obj, "msg", json_string(msg));
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (key == NULL) {
            break;
        }
        const char *val = va_arg(ap, const char *);
        /* json_string rejects invalid UTF-8; keep the field, mark it. */
        json_t *v = val != NULL ? json_string(val) : json_null();
        json_object_set_new(obj, key, v != NULL ? v : json_string("(not UTF-8)"));
    }
    va_end(ap);
    emit(obj);
    json_decref(obj);
}

void log_json(enum log_level level, struct json_t *obj) {
    if (!log_enabled(level)) {
        return;
    }
    char ts[ISO8601_FORMAT_MAX];
    now_iso(ts);
    json_t *line = json_object();
    if (line == NULL) {
        return;
    }
    json_object_set_new(line, "time", json_string(ts));
    json_object_set_new(line, "level", json_string(level_name(level)));
    json_object_update(line, obj);
    emit(line);
    json_decref(line);
}
