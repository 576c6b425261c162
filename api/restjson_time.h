/* restjson_time.h - the timestamp texts of SES v2's wire protocol, read
 * and written in one normal form.
 *
 * The REST-JSON parsers (api/restjson_inbound.c, api/restjson_answer.c)
 * turn every timestamp they read into one text, so that what comes out of
 * them is what validate_params and restjson_serialize read back unchanged:
 *
 *     YYYY-MM-DDTHH:MM:SSZ  or  YYYY-MM-DDTHH:MM:SS.ffffffZ
 *
 * UTC, the year always four digits, microseconds (the precision of
 * botocore's datetime) written only when not zero. Reading a timestamp
 * value (a JSON number of epoch seconds, or a string) goes through
 * query_format_timestamp (api/query.h), which reads them exactly as
 * botocore's parse_timestamp does (a float's fraction rounded half-even to
 * microseconds, as datetime.fromtimestamp).
 *
 * Pure: no I/O, no clock, no locale, nothing allocated. */
#ifndef SP_RESTJSON_TIME_H
#define SP_RESTJSON_TIME_H

#include <jansson.h>
#include <stddef.h>

#include "api/iso8601.h"
#include "signer/check.h"

/* Longest normal form, NUL included. */
#define RESTJSON_TIME_MAX 32

/* The normal form of a timestamp value (what query_format_timestamp
 * accepts: epoch seconds as a number or decimal string, or ISO 8601 text),
 * into out (cap >= RESTJSON_TIME_MAX). whole_seconds drops the fraction
 * first (floor, as calendar.timegm(dt.utctimetuple()) does). Returns the
 * length, or -1 when v is not such a timestamp in years 1..9999. */
int restjson_time_normal(const json_t *v, int whole_seconds, char *out, size_t cap) SP_WARN_UNUSED;

/* The normal form of t (years 1..9999, usec 0..999999); length or -1. */
int restjson_time_format(struct iso8601_time t, char *out, size_t cap) SP_WARN_UNUSED;

/* Reads RFC 9110's IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", exactly:
 * the weekday must be the date's, the year four digits 0001..9999. The
 * obsolete RFC 850 and asctime forms are refused. 0 and *out, or -1. */
int restjson_time_http_date(const char *s, size_t len, struct iso8601_time *out) SP_WARN_UNUSED;

/* Reads RFC 3339 text (iso8601_parse's strict core: 'T', seconds, 'Z' or
 * an offset, any fraction truncated to microseconds) in years 1..9999
 * after conversion to UTC; also a year of one to three digits, the form
 * botocore writes below 1000 (glibc's strftime "%Y" does not pad).
 * 0 and *out, or -1. */
int restjson_time_rfc3339(const char *s, size_t len, struct iso8601_time *out) SP_WARN_UNUSED;

/* Epoch seconds (floor) of a timestamp value, as restjson_time_normal reads
 * it: the integer botocore's unixTimestamp format sends. 0 or -1. */
int restjson_time_epoch(const json_t *v, long long *secs) SP_WARN_UNUSED;

#endif
