/* A minimal assert harness for the C unit tests (one executable per tests/c/test_*.c).
 *
 *   static void test_something(void) { SB_CHECK(x == 1); SB_CHECK_NEAR(a, b, 1e-6); }
 *   int main(void) { SB_RUN(test_something); return sb_test_summary(); }
 *
 * A failed check prints file:line and the expression, marks the test failed and goes on;
 * the process exits 1 when any check failed. Exit 77 tells ctest the test was skipped. */
#ifndef SB_TEST_H
#define SB_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int sb_test_checks, sb_test_failures, sb_test_current_failed, sb_test_count,
    sb_test_failed_count;

#define SB_CHECK(cond)                                                                             \
    do {                                                                                           \
        sb_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            sb_test_failures++;                                                                    \
            sb_test_current_failed = 1;                                                            \
        }                                                                                          \
    } while (0)

#define SB_CHECK_NEAR(a, b, tol)                                                                   \
    do {                                                                                           \
        double sb_a_ = (double)(a), sb_b_ = (double)(b);                                           \
        sb_test_checks++;                                                                          \
        if (!(fabs(sb_a_ - sb_b_) <= (tol))) {                                                     \
            fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, differ by more than %g\n", __FILE__,     \
                    __LINE__, #a, sb_a_, #b, sb_b_, (double)(tol));                                \
            sb_test_failures++;                                                                    \
            sb_test_current_failed = 1;                                                            \
        }                                                                                          \
    } while (0)

#define SB_CHECK_STR_CONTAINS(haystack, needle)                                                    \
    do {                                                                                           \
        const char *sb_h_ = (haystack);                                                            \
        sb_test_checks++;                                                                          \
        if (!sb_h_ || !strstr(sb_h_, (needle))) {                                                  \
            fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__,             \
                    sb_h_ ? sb_h_ : "(null)", (needle));                                           \
            sb_test_failures++;                                                                    \
            sb_test_current_failed = 1;                                                            \
        }                                                                                          \
    } while (0)

#define SB_RUN(fn)                                                                                 \
    do {                                                                                           \
        sb_test_current_failed = 0;                                                                \
        sb_test_count++;                                                                           \
        fn();                                                                                      \
        if (sb_test_current_failed) sb_test_failed_count++;                                        \
        fprintf(stderr, "%s %s\n", sb_test_current_failed ? "FAIL" : "ok  ", #fn);                 \
    } while (0)

static inline int sb_test_summary(void)
{
    fprintf(stderr, "%d passed, %d failed (%d checks)\n", sb_test_count - sb_test_failed_count,
            sb_test_failed_count, sb_test_checks);
    return sb_test_failures ? 1 : 0;
}

#endif
