/* ratelog.c - one log line a window, with a count (see ratelog.h). */
#include "proxy/ratelog.h"

int ratelog_hit(struct ratelog *r) {
    if (!r->open) {
        r->open = 1;
        r->suppressed = 0;
        return 1;
    }
    r->suppressed++;
    return 0;
}

uint64_t ratelog_flush(struct ratelog *r) {
    uint64_t n = r->suppressed;
    r->suppressed = 0;
    r->open = n > 0;
    return n;
}
