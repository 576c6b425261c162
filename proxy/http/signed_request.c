/* signed_request.c - signed AWS requests (see signed_request.h). */
#include "proxy/http/signed_request.h"

#include <event2/buffer.h>
#include <string.h>

#include "proxy/creds/creds.h"
#include "proxy/http/hdrbuf.h"

#define MAX_HEADERS 16

/* SHA-256 of the body, fed chunk by chunk from the evbuffer (no contiguous
 * copy of a large message), on the key cache's context. */
static int payload_hash(struct sigv4_key_cache *keys, struct evbuffer *body, char out[65],
                        struct sp_err *err) {
    struct sigv4_sha256 h;
    GUARD(sigv4_sha256_init_cached(&h, keys, err));
    if (body != NULL) {
        struct evbuffer_ptr pos;
        evbuffer_ptr_set(body, &pos, 0, EVBUFFER_PTR_SET);
        struct evbuffer_iovec v;
        while (evbuffer_peek(body, -1, &pos, &v, 1) == 1 && v.iov_len > 0) {
            if (sigv4_sha256_update(&h, v.iov_base, v.iov_len, err) < 0) {
                sigv4_sha256_clear(&h);
                return -1;
            }
            if (evbuffer_ptr_set(body, &pos, v.iov_len, EVBUFFER_PTR_ADD) < 0) {
                break;
            }
        }
    }
    return sigv4_sha256_final_hex(&h, out, err);
}

int signed_request_write(struct sigv4a_key_cache *keys, const struct creds *c, time_t now,
                         const struct signed_request *r, char hash[65], struct evbuffer *out,
                         struct sp_err *err) {
    ENSURE(r->n_headers + 2 <= MAX_HEADERS, err, "InternalError", "too many headers to sign");
    if (hash[0] == '\0') {
        GUARD(payload_hash(&keys->v4, r->body, hash, err));
    }
    const char *path = r->path != NULL && r->path[0] != '\0' ? r->path : "/";
    struct sigv4_header hdrs[MAX_HEADERS];
    size_t n = 0;
    hdrs[n++] = (struct sigv4_header){"Host", 4, r->host, strlen(r->host)};
    if (r->content_type != NULL) {
        hdrs[n++] =
            (struct sigv4_header){"Content-Type", 12, r->content_type, strlen(r->content_type)};
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        hdrs[n++] = r->headers[i];
    }
    struct sigv4_request sreq = {
        r->method, path, strlen(path), r->query, r->query != NULL ? strlen(r->query) : 0,
        hdrs,      n,    hash};
    struct sigv4_params p = {r->region, r->service, now, 1, 0, 0};
    struct sigv4_creds sc = {c->access_key_id, c->secret_access_key, c->session_token};
    struct sigv4a_signed s;
    GUARD(sigv4a_sign(keys, r->sigv4a ? SIGV4A_ALG_SIGV4A : SIGV4A_ALG_SIGV4, &sc, &p, &sreq, &s,
                      err));

    struct hdrbuf h;
    hdrbuf_init(&h, out);
    hdrbuf_str(&h, r->method);
    hdrbuf_lit(&h, " ");
    hdrbuf_str(&h, path);
    if (r->query != NULL && r->query[0] != '\0') {
        hdrbuf_lit(&h, "?");
        hdrbuf_str(&h, r->query);
    }
    hdrbuf_lit(&h, " HTTP/1.1\r\nHost: ");
    hdrbuf_str(&h, r->host);
    if (r->content_type != NULL) {
        hdrbuf_lit(&h, "\r\nContent-Type: ");
        hdrbuf_str(&h, r->content_type);
    }
    if (r->body != NULL || r->content_type != NULL) {
        hdrbuf_lit(&h, "\r\nContent-Length: ");
        hdrbuf_u64(&h, r->body != NULL ? evbuffer_get_length(r->body) : 0);
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        hdrbuf_lit(&h, "\r\n");
        hdrbuf_mem(&h, r->headers[i].name, r->headers[i].name_len);
        hdrbuf_lit(&h, ": ");
        hdrbuf_mem(&h, r->headers[i].value, r->headers[i].value_len);
    }
    hdrbuf_lit(&h, "\r\nX-Amz-Date: ");
    hdrbuf_str(&h, s.amz_date);
    if (s.region_set != NULL) {
        hdrbuf_lit(&h, "\r\nX-Amz-Region-Set: ");
        hdrbuf_str(&h, s.region_set);
    }
    if (s.security_token != NULL) {
        hdrbuf_lit(&h, "\r\nX-Amz-Security-Token: ");
        hdrbuf_str(&h, s.security_token);
    }
    hdrbuf_lit(&h, "\r\nAuthorization: ");
    hdrbuf_mem(&h, s.authorization, s.authorization_len);
    hdrbuf_lit(&h, "\r\nUser-Agent: ses-proxy/" SP_VERSION "\r\n\r\n");
    int rc = hdrbuf_finish(&h);
    if (rc == 0 && r->body != NULL) {
        rc = evbuffer_add_buffer_reference(out, r->body);
    }
    ENSURE(rc == 0, err, "InternalError", "out of memory");
    return 0;
}
