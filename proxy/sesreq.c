/* sesreq.c - signed SES Query requests (see sesreq.h). */
#include "proxy/sesreq.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/creds/creds.h"
#include "proxy/hdrbuf.h"
#include "proxy/proxy.h"
#include "proxy/upstream.h"

static int payload_hash(struct proxy *px, struct evbuffer *form, char out[65], struct sp_err *err) {
    struct sigv4_sha256 h;
    GUARD(sigv4_sha256_init_cached(&h, &px->keys, err));
    struct evbuffer_ptr pos;
    evbuffer_ptr_set(form, &pos, 0, EVBUFFER_PTR_SET);
    struct evbuffer_iovec v;
    while (evbuffer_peek(form, -1, &pos, &v, 1) == 1 && v.iov_len > 0) {
        if (sigv4_sha256_update(&h, v.iov_base, v.iov_len, err) < 0) {
            sigv4_sha256_clear(&h);
            return -1;
        }
        if (evbuffer_ptr_set(form, &pos, v.iov_len, EVBUFFER_PTR_ADD) < 0) {
            break;
        }
    }
    return sigv4_sha256_final_hex(&h, out, err);
}

int sesreq_build(struct proxy *px, const char *region, const struct creds *c, struct evbuffer *form,
                 char hash[65], struct evbuffer *out, struct sp_err *err) {
    const char *host = upstream_host_header(px->upstream);
    if (hash[0] == '\0') {
        GUARD(payload_hash(px, form, hash, err));
    }
    struct sigv4_header hdrs[2] = {
        {"Host", 4, host, strlen(host)},
        {"Content-Type", 12, SESREQ_FORM_CT, sizeof(SESREQ_FORM_CT) - 1},
    };
    struct sigv4_request sreq = {"POST", "/", 1, NULL, 0, hdrs, 2, hash};
    struct sigv4_params p = {region, px->svc->signing_name, time(NULL), 1, 0, 0};
    struct sigv4_creds sc = {c->access_key_id, c->secret_access_key, c->session_token};
    struct sigv4_signed s;
    GUARD(sigv4_sign(&px->keys, &sc, &p, &sreq, &s, err));
    struct hdrbuf h;
    hdrbuf_init(&h, out);
    hdrbuf_lit(&h, "POST / HTTP/1.1\r\nHost: ");
    hdrbuf_str(&h, host);
    hdrbuf_lit(&h, "\r\nContent-Type: " SESREQ_FORM_CT "\r\nContent-Length: ");
    hdrbuf_u64(&h, evbuffer_get_length(form));
    hdrbuf_lit(&h, "\r\nX-Amz-Date: ");
    hdrbuf_str(&h, s.amz_date);
    if (s.security_token != NULL) {
        hdrbuf_lit(&h, "\r\nX-Amz-Security-Token: ");
        hdrbuf_str(&h, s.security_token);
    }
    hdrbuf_lit(&h, "\r\nAuthorization: ");
    hdrbuf_mem(&h, s.authorization, s.authorization_len);
    hdrbuf_lit(&h, "\r\nUser-Agent: ses-proxy/" SP_VERSION "\r\n\r\n");
    ENSURE(hdrbuf_finish(&h) == 0 && evbuffer_add_buffer_reference(out, form) == 0, err,
           "InternalError", "out of memory");
    return 0;
}
