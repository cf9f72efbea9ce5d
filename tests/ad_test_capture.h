/* ad_test_capture.h: what the tests that read the engine's writers share
 * (test_compact, test_explain, test_dot). Include after ad_test.h. */
#ifndef AD_TEST_CAPTURE_H
#define AD_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autodidact.h"

/* What a writer of the graph (ad_explain_nodes, ad_dot_write through
 * ad_test_dot...) prints for (ctx, root), in memory of its own (free it). */
typedef ad_status (*ad_test_writer)(FILE *, const ad_context *, const ad_node *);
static inline char *ad_test_capture(ad_test_writer write, const ad_context *ctx, const ad_node *root)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(write(f, ctx, root), AD_OK);
    fclose(f);
    return text;
}
/* ad_dot_write with its arguments in a writer's order. */
static inline ad_status ad_test_dot(FILE *f, const ad_context *ctx, const ad_node *root)
{
    return ad_dot_write(ctx, root, f);
}

/* The text holds part (a test fails, printing both, where it does not). */
static inline void ad_test_assert_contains(const char *text, const char *part)
{
    assert_non_null(text);
    if (!strstr(text, part)) {
        print_error("missing \"%s\" in:\n%s\n", part, text);
        fail();
    }
}

#endif
