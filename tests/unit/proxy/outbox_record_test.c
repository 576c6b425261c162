/* outbox_record_test - the outbox's pure parts: the request record and the
 * status record (round trips, and every refusal of a mangled record), the
 * state transitions, the classification of SES's answers, the backoff, the
 * rolling 24-hour quota count, and the Prefer / Idempotency-Key readers. */
#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http/prefer.h"
#include "proxy/outbox/outbox_quota.h"
#include "proxy/outbox/outbox_record.h"

#include "tests/unit/unit_check.h"

/* ---- the request record ---- */

static const char body[] = "Action=SendEmail&Source=a%40example.com&Version=2010-12-01";

static void sample(struct outbox_request *r) {
    memset(r, 0, sizeof(*r));
    snprintf(r->api, sizeof(r->api), "ses");
    snprintf(r->op, sizeof(r->op), "SendEmail");
    snprintf(r->method, sizeof(r->method), "POST");
    snprintf(r->path, sizeof(r->path), "/");
    snprintf(r->content_type, sizeof(r->content_type), "application/x-www-form-urlencoded");
    r->body = (const uint8_t *)body;
    r->body_len = sizeof(body) - 1;
    r->recipients = 3;
}

/* The encoding of r, as a heap block of exactly its size. */
static uint8_t *encode(const struct outbox_request *r, size_t *len) {
    struct evbuffer *b = evbuffer_new();
    CHECK(outbox_request_encode(r, b) == 0);
    *len = evbuffer_get_length(b);
    uint8_t *out = malloc(*len);
    evbuffer_remove(b, out, *len);
    evbuffer_free(b);
    return out;
}

static void test_request_round_trip(void) {
    struct outbox_request r, back;
    sample(&r);
    size_t len;
    uint8_t *enc = encode(&r, &len);
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(outbox_request_decode(enc, len, &back, &err) == 0);
    CHECK(strcmp(back.api, "ses") == 0 && strcmp(back.op, "SendEmail") == 0);
    CHECK(strcmp(back.method, "POST") == 0 && strcmp(back.path, "/") == 0);
    CHECK(back.body_len == r.body_len && memcmp(back.body, body, r.body_len) == 0);
    CHECK(back.body >= enc && back.body + back.body_len <= enc + len); /* borrowed */
    CHECK(back.recipients == 3 && back.n_headers == 0);
    free(enc);

    /* A v2 call: headers, a path, an empty body, fractional tokens. */
    snprintf(r.api, sizeof(r.api), "sesv2");
    snprintf(r.path, sizeof(r.path), "/v2/email/outbound-emails");
    r.headers[0] = (struct outbox_header){"content-type", "application/json", 12, 16};
    r.headers[1] = (struct outbox_header){"x-amz-x", "", 7, 0};
    r.n_headers = 2;
    r.body_len = 0;
    r.recipients = 0.5;
    enc = encode(&r, &len);
    CHECK(outbox_request_decode(enc, len, &back, &err) == 0);
    CHECK(back.n_headers == 2 && back.headers[0].name_len == 12 &&
          memcmp(back.headers[0].value, "application/json", 16) == 0);
    CHECK(back.headers[1].value_len == 0 && back.body_len == 0 && back.recipients == 0.5);
    free(enc);
}

/* Decoding buf fails with a CorruptRecord error. */
static int refused(const uint8_t *buf, size_t len) {
    struct outbox_request r;
    struct sp_err err;
    sp_err_clear(&err);
    uint8_t *copy = malloc(len > 0 ? len : 1);
    memcpy(copy, buf, len);
    int rc = outbox_request_decode(copy, len, &r, &err);
    free(copy);
    return rc < 0 && err.code != NULL && strcmp(err.code, "CorruptRecord") == 0;
}

static void test_request_refusals(void) {
    struct outbox_request r;
    sample(&r);
    size_t len;
    uint8_t *enc = encode(&r, &len);
    /* Every truncation is refused (never a read past the end). */
    for (size_t n = 0; n < len; n++) {
        CHECK(refused(enc, n));
    }
    uint8_t *bad = malloc(len + 16);
    memcpy(bad, enc, len);
    bad[0] = 'X'; /* magic */
    CHECK(refused(bad, len));
    memcpy(bad, enc, len);
    bad[4] = 2; /* version */
    CHECK(refused(bad, len));
    memcpy(bad, enc, len);
    bad[5] = 99; /* unknown field */
    CHECK(refused(bad, len));
    memcpy(bad, enc, len);
    bad[5] = 2; /* the api field again as the op: op twice */
    CHECK(refused(bad, len));
    memcpy(bad, enc, len);
    memcpy(bad + len, "\x07\x00\x00\x00\x00", 5); /* a second body */
    CHECK(refused(bad, len + 5));
    memcpy(bad, enc, len);
    bad[len] = 0; /* one byte left over */
    CHECK(refused(bad, len + 1));
    memcpy(bad, enc, len);
    bad[10] = '\n'; /* a control byte in the api: could forge a header line */
    CHECK(refused(bad, len));
    /* A field length past the end. */
    memcpy(bad, enc, len);
    bad[6] = 0x7f;
    CHECK(refused(bad, len));
    free(bad);
    free(enc);

    /* Recipients that are not a count. */
    struct evbuffer *b = evbuffer_new();
    sample(&r);
    r.recipients = -1;
    CHECK(outbox_request_encode(&r, b) == 0);
    len = evbuffer_get_length(b);
    enc = malloc(len);
    evbuffer_remove(b, enc, len);
    CHECK(refused(enc, len));
    free(enc);
    /* A header without a name. */
    sample(&r);
    r.headers[0] = (struct outbox_header){"", "v", 0, 1};
    r.n_headers = 1;
    CHECK(outbox_request_encode(&r, b) == 0);
    len = evbuffer_get_length(b);
    enc = malloc(len);
    evbuffer_remove(b, enc, len);
    CHECK(refused(enc, len));
    free(enc);
    evbuffer_free(b);
}

/* ---- the status record ---- */

static void test_status_round_trip(void) {
    struct outbox_status st, back;
    outbox_status_init(&st);
    st.state = OUTBOX_SENT;
    st.attempts = 2;
    st.created_ms = 1700000000123;
    st.updated_ms = 1700000005456;
    snprintf(st.op, sizeof(st.op), "SendBulkTemplatedEmail");
    snprintf(st.client, sizeof(st.client), "::1");
    snprintf(st.request_id, sizeof(st.request_id), "req-1");
    st.results = json_pack("[{s:s, s:s}, {s:s, s:s}]", "Status", "Success", "MessageId", "m1",
                           "Status", "MessageRejected", "Error", "no");
    snprintf(st.last.code, sizeof(st.last.code), "Throttling");
    snprintf(st.last.message, sizeof(st.last.message), "Rate \"exceeded\"");
    char *text = outbox_status_encode(&st);
    CHECK(text != NULL);
    struct sp_err err;
    sp_err_clear(&err);
    CHECK(outbox_status_decode(text, strlen(text), &back, &err) == 0);
    CHECK(back.state == OUTBOX_SENT && back.attempts == 2);
    CHECK(back.created_ms == st.created_ms && back.updated_ms == st.updated_ms);
    CHECK(strcmp(back.op, st.op) == 0 && strcmp(back.client, "::1") == 0);
    CHECK(strcmp(back.last.message, "Rate \"exceeded\"") == 0 && back.error.code[0] == '\0');
    CHECK(json_equal(back.results, st.results));
    /* Encoding what was decoded gives the same text. */
    char *again = outbox_status_encode(&back);
    CHECK(again != NULL && strcmp(text, again) == 0);
    free(again);
    free(text);
    outbox_status_clear(&back);
    outbox_status_clear(&st);
}

static int status_refused(const char *text) {
    struct outbox_status st;
    struct sp_err err;
    sp_err_clear(&err);
    int rc = outbox_status_decode(text, strlen(text), &st, &err);
    if (rc == 0) {
        outbox_status_clear(&st);
    }
    return rc < 0 && err.code != NULL && strcmp(err.code, "CorruptRecord") == 0;
}

static void test_status_refusals(void) {
    const char *ok =
        "{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"SendEmail\","
        "\"cl\":\"127.0.0.1\",\"rid\":\"r\"}";
    CHECK(!status_refused(ok));
    CHECK(status_refused("not json"));
    CHECK(status_refused("[]"));
    CHECK(status_refused("{\"v\":2,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\",\"rid\":\"r\"}"));
    CHECK(status_refused("{\"v\":1,\"s\":\"lost\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\",\"rid\":\"r\"}"));
    CHECK(status_refused("{\"v\":1,\"s\":\"queued\",\"a\":-1,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\",\"rid\":\"r\"}"));
    CHECK(status_refused("{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\"}")); /* no rid */
    CHECK(status_refused("{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\",\"rid\":\"r\",\"zz\":1}")); /* unknown */
    CHECK(status_refused("{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\",\"rid\":\"r\",\"e\":{\"c\":\"\",\"m\":\"\"}}"));
    CHECK(status_refused("{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\","
                         "\"cl\":\"x\",\"rid\":\"r\",\"r\":{}}"));
    CHECK(status_refused("{\"v\":1,\"v\":1}")); /* duplicate keys */
    /* A string with a NUL inside. */
    CHECK(status_refused(
        "{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"x\\u0000y\","
        "\"cl\":\"x\",\"rid\":\"r\"}"));
    char longer[700];
    snprintf(longer, sizeof(longer),
             "{\"v\":1,\"s\":\"queued\",\"a\":0,\"c\":1,\"u\":1,\"n\":0,\"op\":\"%0100d\","
             "\"cl\":\"x\",\"rid\":\"r\"}",
             0);
    CHECK(status_refused(longer)); /* op longer than it may be */
}

/* ---- the rules ---- */

static void test_transitions(void) {
    CHECK(outbox_transition(OUTBOX_QUEUED, OUTBOX_EV_ATTEMPT) == OUTBOX_SENDING);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_SENT) == OUTBOX_SENT);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_PERMANENT) == OUTBOX_FAILED);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_RETRY) == OUTBOX_QUEUED);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_QUOTA) == OUTBOX_QUEUED);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_RECOVER) == OUTBOX_QUEUED);
    CHECK(outbox_transition(OUTBOX_QUEUED, OUTBOX_EV_EXPIRED) == OUTBOX_FAILED);
    /* What cannot happen. */
    CHECK(outbox_transition(OUTBOX_QUEUED, OUTBOX_EV_SENT) == -1);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_ATTEMPT) == -1);
    CHECK(outbox_transition(OUTBOX_SENDING, OUTBOX_EV_EXPIRED) == -1);
    for (int ev = OUTBOX_EV_ATTEMPT; ev <= OUTBOX_EV_EXPIRED; ev++) {
        /* Finished is final. */
        CHECK(outbox_transition(OUTBOX_SENT, (enum outbox_event)ev) == -1);
        CHECK(outbox_transition(OUTBOX_FAILED, (enum outbox_event)ev) == -1);
    }
    CHECK(outbox_state_finished(OUTBOX_SENT) && outbox_state_finished(OUTBOX_FAILED));
    CHECK(!outbox_state_finished(OUTBOX_QUEUED) && !outbox_state_finished(OUTBOX_SENDING));
    CHECK(strcmp(outbox_state_name(OUTBOX_SENDING), "sending") == 0);
}

static void test_classify(void) {
    CHECK(outbox_classify(200, NULL, NULL) == OUTBOX_OUT_SENT);
    CHECK(outbox_classify(400, "Throttling", "Maximum sending rate exceeded.") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(400, "Throttling", "Daily message quota exceeded.") == OUTBOX_OUT_QUOTA);
    CHECK(outbox_classify(503, "ServiceUnavailable", "x") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(500, "InternalFailure", "x") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(502, "BadGateway", "connect failed") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(504, "GatewayTimeout", "x") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(503, "CredentialsUnavailable", "x") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(429, "Throttling", "x") == OUTBOX_OUT_RETRY);
    CHECK(outbox_classify(400, "MessageRejected", "Email address is not verified.") ==
          OUTBOX_OUT_PERMANENT);
    CHECK(outbox_classify(400, "MailFromDomainNotVerifiedException", "x") == OUTBOX_OUT_PERMANENT);
    CHECK(outbox_classify(400, "InvalidParameterValue", "x") == OUTBOX_OUT_PERMANENT);
    CHECK(outbox_classify(403, "AccessDenied", "x") == OUTBOX_OUT_PERMANENT);
}

static void test_backoff(void) {
    CHECK(outbox_backoff_ms(1, 0) == 500 && outbox_backoff_ms(1, 0.999) <= 1000);
    CHECK(outbox_backoff_ms(2, 0) == 1000 && outbox_backoff_ms(3, 0) == 2000);
    CHECK(outbox_backoff_ms(30, 0.5) <= 300000 && outbox_backoff_ms(30, 0) == 150000);
    CHECK(outbox_backoff_ms(1000000, 1.0) <= 300000);
    for (int a = 1; a < 40; a++) {
        CHECK(outbox_backoff_ms(a, 0.3) <= outbox_backoff_ms(a + 1, 0.3));
    }
}

/* ---- the rolling quota ---- */

#define MIN_MS 60000LL
#define T0 (1700000000000LL / MIN_MS * MIN_MS)

static void test_quota_rolling(void) {
    static struct outbox_quota q;
    outbox_quota_init(&q);
    CHECK(outbox_quota_left(&q, T0) == -1); /* unknown: SES decides */
    CHECK(outbox_quota_reserve(&q, T0, 5) == 1);
    outbox_quota_add(&q, T0 + 30 * MIN_MS, 2);
    CHECK(outbox_quota_own(&q, T0 + 60 * MIN_MS) == 7);
    /* The first minute falls out 24 h later, the second 30 min after. */
    CHECK(outbox_quota_own(&q, T0 + 1439 * MIN_MS) == 7);
    CHECK(outbox_quota_own(&q, T0 + 1440 * MIN_MS) == 2);
    CHECK(outbox_quota_own(&q, T0 + 1470 * MIN_MS) == 0);
    /* A day idle empties everything at once. */
    outbox_quota_add(&q, T0 + 1500 * MIN_MS, 4);
    CHECK(outbox_quota_own(&q, T0 + 5000 * MIN_MS) == 0);
    /* Given back within its minute, not below zero. */
    outbox_quota_add(&q, T0 + 6000 * MIN_MS, 3);
    outbox_quota_add(&q, T0 + 6000 * MIN_MS, -5);
    CHECK(outbox_quota_own(&q, T0 + 6000 * MIN_MS) == 0);
}

static void test_quota_with_ses(void) {
    static struct outbox_quota q;
    outbox_quota_init(&q);
    int64_t t = T0;
    outbox_quota_set_ses(&q, 10, 4); /* SES counted 4 (others, or us earlier) */
    CHECK(outbox_quota_used(&q, t) == 4 && outbox_quota_left(&q, t) == 6);
    CHECK(outbox_quota_reserve(&q, t, 5) == 1); /* 9 */
    CHECK(outbox_quota_reserve(&q, t, 2) == 0); /* would be 11 */
    CHECK(outbox_quota_reserve(&q, t, 1) == 1); /* 10 */
    CHECK(outbox_quota_left(&q, t) == 0);
    /* A reservation SES did not take is given back. */
    outbox_quota_add(&q, t, -1);
    CHECK(outbox_quota_left(&q, t) == 1);
    /* A fresh answer that lags (SES counts 4 still): our own 5 win. */
    outbox_quota_set_ses(&q, 10, 4);
    CHECK(outbox_quota_used(&q, t) == 5);
    /* SES says the quota is spent: held until it answers again. */
    outbox_quota_set_exceeded(&q);
    CHECK(outbox_quota_left(&q, t) == 0 && outbox_quota_reserve(&q, t, 1) == 0);
    outbox_quota_set_ses(&q, 200, 10);
    CHECK(outbox_quota_left(&q, t) == 190);
    /* -1: unlimited. */
    outbox_quota_set_ses(&q, -1, 1e9);
    CHECK(outbox_quota_left(&q, t) == -1 && outbox_quota_reserve(&q, t, 50) == 1);
}

/* ---- Prefer and Idempotency-Key ---- */

static int prefers(const char *v) { return prefer_has(v, strlen(v), "respond-async"); }

static int key_of(const char *v, char out[PREFER_KEY_MAX + 1]) {
    return prefer_idempotency_key(v, strlen(v), out);
}

static void test_prefer(void) {
    CHECK(prefers("respond-async"));
    CHECK(prefers("Respond-Async"));
    CHECK(prefers("wait=10, respond-async"));
    CHECK(prefers("return=minimal; foo=\"a,b\", respond-async;x=1"));
    CHECK(prefers("respond-async=1"));
    CHECK(!prefers(""));
    CHECK(!prefers("respond-asyncx"));
    CHECK(!prefers("x-respond-async"));
    CHECK(!prefers("wait=\"respond-async\""));
    CHECK(!prefers("foo=\"unterminated, respond-async"));
    char k[PREFER_KEY_MAX + 1];
    CHECK(key_of("abc-123", k) == 0 && strcmp(k, "abc-123") == 0);
    CHECK(key_of("\"8e03978e-40d5\"", k) == 0 && strcmp(k, "8e03978e-40d5") == 0);
    CHECK(key_of("\"a \\\"q\\\" \\\\ b\"", k) == 0 && strcmp(k, "a \"q\" \\ b") == 0);
    CHECK(key_of("", k) < 0);
    CHECK(key_of("\"\"", k) < 0);
    CHECK(key_of("\"abc", k) < 0);
    CHECK(key_of("\"abc\"x", k) < 0);
    CHECK(key_of("\"a\\nb\"", k) < 0);
    CHECK(key_of("caf\xc3\xa9", k) < 0);
    CHECK(key_of("a\tb", k) < 0);
    char big[300];
    memset(big, 'k', 255);
    big[255] = '\0';
    CHECK(key_of(big, k) == 0 && strlen(k) == 255);
    big[255] = 'k';
    big[256] = '\0';
    CHECK(key_of(big, k) < 0);
}

int main(void) {
    test_request_round_trip();
    test_request_refusals();
    test_status_round_trip();
    test_status_refusals();
    test_transitions();
    test_classify();
    test_backoff();
    test_quota_rolling();
    test_quota_with_ses();
    test_prefer();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
