/* test_dot.c: the exact record labels of ad_dot_write. A tensor longer
 * than the six values a label shows is summarised as its first five, "...",
 * and its last; a short tensor is shown whole (no element past its end); a
 * scalar as one number; every node carries "|value " and, after backward,
 * "|grad " with the gradient's own numbers. */
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_capture.h"
#include "autodidact.h"

static void test_dot_labels(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    const double vv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, wv[3] = {0.5, 1.5, 2.5};
    ad_node *v = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, (int64_t[]){8}, vv), "v");
    ad_node *w = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, (int64_t[]){3}, wv), "w");
    ad_node *sv = ad_set_name(ad_sum(ctx, ad_scale(ctx, v, 2), AD_ALL_AXES, false), "s");
    ad_node *sw = ad_set_name(ad_sum(ctx, w, AD_ALL_AXES, false), "t");
    ad_node *f = ad_set_name(ad_add(ctx, sv, sw), "f");
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    char *buf = ad_test_capture(ad_test_dot, ctx, f);
    /* 8 values: five, then "... last"; the gradient (2 everywhere) likewise */
    ad_test_assert_contains(buf, "label=\"v = variable|value (8) [1, 2, 3, 4, 5, ... 8]|grad (8) [2, 2, 2, 2, 2, ... 2]\"];\n");
    /* 3 values: all three and nothing after */
    ad_test_assert_contains(buf, "label=\"w = variable|value (3) [0.5, 1.5, 2.5]|grad (3) [1, 1, 1]\"];\n");
    /* scalars: one number each, value and grad */
    ad_test_assert_contains(buf, "label=\"s = sum|value 72|grad 1\"];\n");
    ad_test_assert_contains(buf, "label=\"t = sum|value 4.5|grad 1\"];\n");
    ad_test_assert_contains(buf, "label=\"f = add|value 76.5|grad 1\"];\n");
    free(buf);
    ad_context_free(ctx);
}

/* Forward mode in two directions: each node's label carries every
 * direction's tangent, "|tangent[d] ", read from its own slice. */
static void test_dot_tangents(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    const double xv[2] = {1, 2}, t0[2] = {3, 4}, t1[2] = {5, 6};
    ad_node *x = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, (int64_t[]){2}, xv), "x");
    assert_int_equal(ad_set_tangent(x, 0, t0, 0), AD_OK);
    assert_int_equal(ad_set_tangent(x, 1, t1, 0), AD_OK);
    ad_node *s = ad_set_name(ad_sum(ctx, ad_scale(ctx, x, 2), AD_ALL_AXES, false), "s");
    char *buf = ad_test_capture(ad_test_dot, ctx, s);
    ad_test_assert_contains(buf, "label=\"x = variable|value (2) [1, 2]|grad (2) [0, 0]|tangent[0] (2) [3, 4]|tangent[1] (2) [5, 6]\"];\n");
    ad_test_assert_contains(buf, "label=\"s = sum|value 6|tangent[0] 14|tangent[1] 22\"];\n");
    free(buf);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_labels),
        cmocka_unit_test(test_dot_tangents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
