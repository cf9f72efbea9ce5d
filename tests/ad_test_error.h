/* ad_test_error.h: the pin tests' check of a refusal: the engine's last
 * error is exactly `want`, word for word, with status st; then it is
 * cleared for the next call. (After ad_test.h: CMocka's asserts.) */
#ifndef AD_TEST_ERROR_H
#define AD_TEST_ERROR_H

#include "ad_error.h"

static inline void assert_error(ad_status st, const char *want)
{
    assert_string_equal(ad_last_error(), want);
    assert_int_equal(ad_last_status(), st);
    ad_clear_error();
}

#endif
