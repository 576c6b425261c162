/* log.h - JSON-line logging to stdout, at a level.
 *
 * One line per event: {"time":"...","level":"info","msg":"...",...fields}.
 * Callers pass only what may be shown: this module never sees credentials,
 * and it escapes every string so a value cannot forge a line or a field. */
#ifndef SP_LOG_H
#define SP_LOG_H

#include "signer/check.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the threshold (default LOG_INFO). */
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
/* Parses "debug" | "info" | "warn" | "error"; -1 when unknown. */
int log_level_parse(const char *s);

/* Logs msg with extra fields given as a NULL-terminated list of key, value
 * string pairs, e.g. log_event(LOG_INFO, "listening", "address", a, NULL). */
void log_event(enum log_level level, const char *msg, ...);

/* Writes a pre-built JSON object line (borrowed json_t *) with "time" added;
 * used for the access log. */
struct json_t;
void log_json(enum log_level level, struct json_t *obj);

#endif
