/* ratelog_test - one line a window: the first event at once, a flood only
 * counted, the count at the window's end, and a quiet window closing. */
#include "proxy/ratelog.h"

#include "tests/unit/unit_check.h"

int main(void) {
    struct ratelog r = {0};
    /* The first event is logged; the next ones in its window are counted. */
    CHECK(ratelog_hit(&r) == 1);
    int logged = 0;
    for (int i = 0; i < 100000; i++) {
        logged += ratelog_hit(&r);
    }
    CHECK(logged == 0);
    /* The window ends: its count, and a new window is open. */
    CHECK(ratelog_flush(&r) == 100000);
    CHECK(r.open == 1);
    CHECK(ratelog_hit(&r) == 0 && ratelog_hit(&r) == 0);
    CHECK(ratelog_flush(&r) == 2);
    /* A quiet window closes it ... */
    CHECK(ratelog_flush(&r) == 0);
    CHECK(r.open == 0);
    /* ... and the next event is logged at once again. */
    CHECK(ratelog_hit(&r) == 1);
    CHECK(ratelog_flush(&r) == 0 && r.open == 0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
