/* outbox_store.c - what both stores share (see outbox_store.h). */
#include "proxy/outbox/outbox_store.h"

#include <stdlib.h>
#include <string.h>

void outbox_msg_free(struct outbox_msg *m) {
    if (m == NULL) {
        return;
    }
    outbox_status_clear(&m->st);
    free(m->record);
    free(m);
}

struct outbox_msg *outbox_msg_load(const char *id, const void *record, size_t record_len,
                                   const char *status, size_t status_len, struct sp_err *err) {
    struct outbox_msg *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    if (strlen(id) != OUTBOX_ID_LEN) {
        free(m);
        sp_fail(err, "CorruptRecord", "bad OutboxId");
        return NULL;
    }
    m->record = malloc(record_len > 0 ? record_len : 1);
    if (m->record == NULL) {
        free(m);
        sp_fail(err, "InternalError", "out of memory");
        return NULL;
    }
    memcpy(m->id, id, OUTBOX_ID_LEN + 1);
    memcpy(m->record, record, record_len);
    m->record_len = record_len;
    if (outbox_request_decode(m->record, record_len, &m->req, err) < 0 ||
        outbox_status_decode(status, status_len, &m->st, err) < 0) {
        free(m->record);
        free(m);
        return NULL;
    }
    m->stored = m->st.state;
    return m;
}
