/* Minimal unit-test checks: each CHECK counts, failures print file:line and
 * the values; check_summary() prints "N passed, N failed" and returns the
 * process exit code. */
#ifndef CLEAVE_TEST_CHECK_H
#define CLEAVE_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            check_pass_++;                                                            \
        } else {                                                                      \
            check_fail_++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_NEAR(a, b, atol, rtol)                                                  \
    do {                                                                              \
        double ca_ = (double)(a), cb_ = (double)(b);                                  \
        if (fabs(ca_ - cb_) <= (atol) + (rtol)*fabs(cb_)) {                           \
            check_pass_++;                                                            \
        } else {                                                                      \
            check_fail_++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g\n",        \
                    __FILE__, __LINE__, #a, ca_, #b, cb_);                            \
        }                                                                             \
    } while (0)

static inline int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
