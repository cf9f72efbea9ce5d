/* ad_test.h: what the CMocka tests share. CMocka 1.1.5 (Debian 12) has no
 * assert_double_equal, so assert_close reports both values and the gap. */
#ifndef AD_TEST_H
#define AD_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#define assert_close(actual, expected, tol)                                                                            \
    do {                                                                                                               \
        double a_ = (actual), e_ = (expected), t_ = (tol);                                                             \
        if (!(fabs(a_ - e_) <= t_)) {                                                                                  \
            print_error("%s = %.17g, expected %.17g (|diff| %.3g > tol %.3g)\n", #actual, a_, e_, fabs(a_ - e_), t_); \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

#endif
