/* A tiny unit-test harness.
 *
 * Each test is a `static void test_NAME(void)` registered in main() with
 * RUN(test_NAME).  CHECK(cond) records a failure (and goes on); a test
 * passes when none of its CHECKs failed.  Output is TAP-like, one line a
 * test, which tests/run.py counts:
 *
 *     ok 3 - test_name
 *     not ok 4 - test_other   (preceded by "# file:line: CHECK(...) failed")
 *
 * main() ends with `return test_done();`: exit 0 only when all passed.
 */
#pragma once

#include <stdio.h>
#include <string.h>

static int test_count, test_failed_count, test_cur_failed;

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
                        test_cur_failed = 1;                                                       \
                }                                                                                  \
        } while (0)

#define CHECK_STREQ(a, b)                                                                          \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
                        printf("# %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a ? _a : "(null)", \
                               _b ? _b : "(null)");                                                \
                        test_cur_failed = 1;                                                       \
                }                                                                                  \
        } while (0)

#define RUN(fn)                                                                                    \
        do {                                                                                       \
                test_cur_failed = 0;                                                               \
                fn();                                                                              \
                test_count++;                                                                      \
                if (test_cur_failed)                                                               \
                        test_failed_count++;                                                       \
                printf("%s %d - %s\n", test_cur_failed ? "not ok" : "ok", test_count, #fn);        \
                fflush(stdout);                                                                    \
        } while (0)

static inline int test_done(void)
{
        printf("# %d tests, %d failed\n", test_count, test_failed_count);
        return test_failed_count ? 1 : 0;
}
