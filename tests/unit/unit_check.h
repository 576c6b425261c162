/* unit_check.h - what every unit test counts with: CHECK(cond) records a
 * pass or prints the failing condition with its file and line, and main()
 * ends with printf("%d passed, %d failed\n", passed, failed) and a non-zero
 * exit when anything failed (ctest and CI read that line). Include once,
 * from the test's .c file. */
#ifndef SP_UNIT_CHECK_H
#define SP_UNIT_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#endif
