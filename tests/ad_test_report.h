/* ad_test_report.h: a gradcheck report as the text a user reads, for the
 * tests that check what it says (test_gradcheck, _paths, _second). */
#ifndef AD_TEST_REPORT_H
#define AD_TEST_REPORT_H

#include <stdio.h>
#include "ad_gradcheck.h"
#include "ad_test.h"

/* r written in format fmt, in memory of its own (free it). */
static inline char *ad_test_report_text(const ad_gc_report *r, ad_gc_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(ad_gc_write(f, r, fmt), AD_OK);
    fclose(f);
    return buf;
}

#endif
