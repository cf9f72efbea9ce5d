/* test_ops_pins_values.c (part of test_ops_pins): forward values and exact
 * numbers that no Jacobian check can judge, each from its definition.
 *
 * A forward wrong in the same way as its derivatives passes every gradcheck:
 * a reduction that splits (outer, len, inner) wrongly past axis 1 leaves
 * rows of its output unwritten, and their derivatives are "0" on both sides;
 * a softmax that takes its shift m from the wrong elements is right in exact
 * arithmetic (softmax(x) = softmax(x - m) for any m) and overflows only at
 * large logits, which gradcheck's domain [-2, 2] never draws. A gradient
 * off by 1e-304 is inside every tolerance, but not an exact 0. And a
 * kink_dist that marks the wrong element still has the right least (all
 * gradcheck checks of it), so max-pool's is compared element by element. */
#include <math.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"

int test_ops_pins_values(void);

enum { D0 = 2, D1 = 3, D2 = 4, D3 = 5, ALL = D0 * D1 * D2 * D3 };

/* x (2,3,4,5) with x[i] = sin(i + 1) (every element different, no pattern
 * a wrong index could keep). */
static ad_node *x4(ad_context *ctx)
{
    double v[ALL];
    for (int i = 0; i < ALL; i++) v[i] = sin(i + 1.0);
    return ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){D0, D1, D2, D3}, v);
}

/* sum and mean over each axis of (2,3,4,5), given as 0..3 and as -4..-1,
 * with and without keepdim: every output element is the sum (or mean) of
 * its line, by the definition. */
static void test_reductions_over_every_axis(void **state)
{
    (void)state;
    const int64_t dims[4] = {D0, D1, D2, D3};
    ad_context *ctx = ad_context_new();
    ad_node *x = x4(ctx);
    for (int axis = -4; axis < 4; axis++)
        for (int mean = 0; mean < 2; mean++)
            for (int keep = 0; keep < 2; keep++) {
                int a = axis < 0 ? axis + 4 : axis;
                ad_node *y = mean ? ad_mean(ctx, x, axis, keep) : ad_sum(ctx, x, axis, keep);
                assert_non_null(y);
                ad_tensor v = ad_value(y);
                assert_int_equal(v.size, ALL / dims[a]);
                assert_int_equal(v.ndim, keep ? 4 : 3);
                int64_t stride = 1;   /* of axis a in x */
                for (int d = a + 1; d < 4; d++) stride *= dims[d];
                for (int64_t o = 0; o < v.size; o++) {
                    int64_t outer = o / stride, inner = o % stride, base = outer * dims[a] * stride + inner;
                    double want = 0;
                    for (int64_t l = 0; l < dims[a]; l++) want += sin((double)(base + l * stride) + 1.0);
                    if (mean) want /= (double)dims[a];
                    double got = ad_value_at(y, o);
                    if (!(fabs(got - want) <= 1e-14))
                        fail_msg("%s over axis %d (keepdim %d): y[%lld] = %.17g, the definition %.17g",
                                 mean ? "mean" : "sum", axis, keep, (long long)o, got, want);
                }
            }
    ad_context_free(ctx);
}

/* A 0-d x reduced over axis 0 or -1 (as PyTorch allows) is x itself: sum
 * and mean, keepdim or not (a 0-d x has no dim to keep). */
static void test_reductions_of_a_scalar(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2.5});
    const int axes[2] = {0, -1};
    for (int a = 0; a < 2; a++)
        for (int keep = 0; keep < 2; keep++) {
            ad_node *s = ad_sum(ctx, x, axes[a], keep), *m = ad_mean(ctx, x, axes[a], keep);
            assert_non_null(s);
            assert_non_null(m);
            assert_int_equal(ad_value(s).ndim, 0);
            assert_true(ad_value_scalar(s) == 2.5 && ad_value_scalar(m) == 2.5);
        }
    ad_context_free(ctx);
}

/* softmax and log_softmax along each axis of (2,3,4,5): each line by the
 * definition exp(x_l) / Σ exp(x_l) (x in [-1, 1]: no shift needed here). */
static void test_softmax_along_every_axis(void **state)
{
    (void)state;
    const int64_t dims[4] = {D0, D1, D2, D3};
    ad_context *ctx = ad_context_new();
    ad_node *x = x4(ctx);
    for (int axis = -4; axis < 4; axis++)
        for (int lg = 0; lg < 2; lg++) {
            int a = axis < 0 ? axis + 4 : axis;
            ad_node *y = lg ? ad_log_softmax(ctx, x, axis) : ad_softmax(ctx, x, axis);
            assert_non_null(y);
            int64_t stride = 1;
            for (int d = a + 1; d < 4; d++) stride *= dims[d];
            for (int64_t i = 0; i < ALL; i++) {
                int64_t l = i / stride % dims[a], base = i - l * stride;
                double s = 0;
                for (int64_t k = 0; k < dims[a]; k++) s += exp(sin((double)(base + k * stride) + 1.0));
                double xi = sin((double)i + 1.0), want = lg ? xi - log(s) : exp(xi) / s, got = ad_value_at(y, i);
                if (!(fabs(got - want) <= 1e-14))
                    fail_msg("%s along %d: y[%lld] = %.17g, the definition %.17g", lg ? "log_softmax" : "softmax",
                             axis, (long long)i, got, want);
            }
        }
    ad_context_free(ctx);
}

/* Large logits, the largest last in its line: softmax shifts by the line's
 * maximum, so (0, 1000) gives (e^-1000, 1) = (0, 1) and log_softmax
 * (-1000, 0), finite; a shift that misses the last element would compute
 * e^1000 = inf and give NaN. Along the last axis (lines contiguous) and
 * along axis 0 of a (2,3) (lines strided by 3). */
static void test_softmax_at_large_logits(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *row = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 2}, (const double[]){0, 1000, -5, 995});
    ad_node *col = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3},
                               (const double[]){0, -3, 7, 1000, 997, 1007});
    ad_node *s = ad_softmax(ctx, row, -1), *l = ad_log_softmax(ctx, row, 1);
    ad_node *sc = ad_softmax(ctx, col, 0), *lc = ad_log_softmax(ctx, col, -2);
    const double s_want[4] = {0, 1, 0, 1}, l_want[4] = {-1000, 0, -1000, 0};
    for (int i = 0; i < 4; i++) {
        assert_true(ad_value_at(s, i) == s_want[i]);
        assert_true(ad_value_at(l, i) == l_want[i]);
    }
    for (int i = 0; i < 6; i++) {
        assert_true(ad_value_at(sc, i) == (i < 3 ? 0 : 1));
        assert_true(ad_value_at(lc, i) == (i < 3 ? -1000 : 0));
    }
    /* the next line's large logit right after a line of small ones: a shift
     * that reads one element past its line takes 1000 for (0, 1)'s maximum,
     * and e^-1000 + e^-999 = 0 gives 0/0 */
    ad_node *next = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 2}, (const double[]){0, 1, 1000, 0});
    ad_node *sn = ad_softmax(ctx, next, -1);
    assert_close(ad_value_at(sn, 0), 1 / (1 + exp(1.0)), 1e-16);
    assert_close(ad_value_at(sn, 1), exp(1.0) / (1 + exp(1.0)), 1e-16);
    ad_context_free(ctx);
}

/* cross_entropy with a class weight 0 (a class left out of the loss, as in
 * PyTorch): allowed, and the weighted mean by the definition; class weights
 * of the wrong shape are refused with their shape and C. */
static void test_cross_entropy_zero_weight(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    const double lv[6] = {0.5, -1, 2, 1, 0, -0.5};
    ad_node *logits = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3}, lv);
    ad_node *t = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){2, 0});
    ad_node *w = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){0.5, 1, 0});
    ad_node *loss = ad_cross_entropy(ctx, logits, t, w, AD_REDUCE_SUM, -1);
    assert_non_null(loss);
    /* sample 0's class 2 weighs 0; sample 1's class 0 weighs 0.5 */
    double want = 0.5 * -(lv[3] - log(exp(lv[3]) + exp(lv[4]) + exp(lv[5])));
    assert_true(fabs(ad_value_scalar(loss) - want) <= 1e-15);
    ad_node *w4 = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, NULL);
    assert_null(ad_cross_entropy(ctx, logits, t, w4, AD_REDUCE_MEAN, -1));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "cross_entropy: class weights (4) must be (C) = (3)");
    ad_clear_error();
    ad_context_free(ctx);
}

/* conv2d's dw and db with a cotangent that is 0 on channel 0: exactly 0
 * there (the per-group sums start from 0, and nothing else is added). */
static void test_conv2d_param_grads_exact_zero(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    double xv[2 * 1 * 4 * 4], wv[2 * 1 * 3 * 3];
    for (int i = 0; i < 32; i++) xv[i] = cos(i);
    for (int i = 0; i < 18; i++) wv[i] = sin(i);
    for (int dt = 0; dt < 2; dt++) {
        ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
        ad_node *x = ad_constant(ctx, d, 4, (const int64_t[]){2, 1, 4, 4}, xv);
        ad_node *w = ad_variable(ctx, d, 4, (const int64_t[]){2, 1, 3, 3}, wv);
        ad_node *b = ad_variable(ctx, d, 1, (const int64_t[]){2}, (const double[]){0.25, -0.5});
        ad_node *y = ad_conv2d(ctx, x, w, b, 1, 0);   /* (2,2,2,2) */
        assert_non_null(y);
        ad_tensor cot = ad_value(y);
        double c[16];
        for (int i = 0; i < 16; i++) c[i] = (i / 4) % 2 ? 1.5 : 0;   /* channel 0: 0; channel 1: 1.5 */
        ad_tensor *ct = ad_tensor_new(d, cot.ndim, cot.shape);
        assert_non_null(ct);
        assert_int_equal(ad_tensor_copy_in(ct, c, 16), AD_OK);
        assert_int_equal(ad_backward_ex(ctx, y, &(ad_backward_opts){.cotangent = ct}), AD_OK);
        for (int i = 0; i < 9; i++)
            if (ad_grad_at(w, i) != 0) fail_msg("%s: dw[0][%d] = %g, expected exactly 0", ad_dtype_name(d), i, ad_grad_at(w, i));
        assert_true(ad_grad_at(b, 0) == 0);
        assert_true(ad_grad_at(b, 1) == 1.5 * 8);
        ad_tensor_free(ct);
    }
    ad_context_free(ctx);
}

/* max-pool's kink_dist by its definition: each window's gap between its
 * largest and second largest goes to both of them, the least over the
 * windows an element is in; INFINITY for an element never in a window's top
 * two. x (1,2,4,5) of distinct values, 2x3 windows at stride (1,2): the
 * windows overlap down the rows and across one column. A NaN in a window:
 * distance 0 for it. */
static void test_maxpool_dist_by_definition(void **state)
{
    (void)state;
    enum { C = 2, H = 4, W = 5, WH = 2, WW = 3, SH = 1, SW = 2, P = (H - WH) / SH + 1, Q = (W - WW) / SW + 1 };
    double xv[C * H * W], want[C * H * W], got[C * H * W + 1];
    for (int i = 0; i < C * H * W; i++) xv[i] = sin(2.3 * i + 0.1), want[i] = INFINITY;
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                int ja = -1, jb = -1;
                for (int r = 0; r < WH; r++)
                    for (int t = 0; t < WW; t++) {
                        int j = (c * H + p * SH + r) * W + q * SW + t;
                        if (ja < 0 || xv[j] > xv[ja]) jb = ja, ja = j;
                        else if (jb < 0 || xv[j] > xv[jb]) jb = j;
                    }
                double gap = xv[ja] - xv[jb];
                want[ja] = gap < want[ja] ? gap : want[ja];
                want[jb] = gap < want[jb] ? gap : want[jb];
            }
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){1, C, H, W}, xv);
    ad_params pp = {.window = {WH, WW}, .stride = {SH, SW}};
    ad_node *y = ad_apply(ctx, &ad_op_maxpool2d, &x, 1, &pp);
    assert_non_null(y);
    for (int i = 0; i <= C * H * W; i++) got[i] = -1;   /* (one past: must stay -1) */
    ad_op_maxpool2d.kink_dist(ad_node_of(y), 0, got);
    for (int i = 0; i < C * H * W; i++)
        if (!(got[i] == want[i])) fail_msg("x[%d]'s distance %.17g, the definition %.17g", i, got[i], want[i]);
    assert_true(got[C * H * W] == -1);
    /* a NaN in a window is a kink (as at a tie): distance 0 for it; the
     * window's other elements are never its top two, so they stay INFINITY */
    ad_node *xn = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){NAN, 1, 2, 3});
    ad_params p22 = {.window = {2, 2}, .stride = {1, 1}};
    ad_node *yn = ad_apply(ctx, &ad_op_maxpool2d, &xn, 1, &p22);
    assert_non_null(yn);
    double gn[4] = {-1, -1, -1, -1};
    ad_op_maxpool2d.kink_dist(ad_node_of(yn), 0, gn);
    if (!(gn[0] == 0 && gn[1] == INFINITY && gn[2] == INFINITY && gn[3] == INFINITY))
        fail_msg("NaN window: distances %g %g %g %g, expected 0 inf inf inf", gn[0], gn[1], gn[2], gn[3]);
    ad_context_free(ctx);
}

int test_ops_pins_values(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reductions_over_every_axis),
        cmocka_unit_test(test_reductions_of_a_scalar),
        cmocka_unit_test(test_softmax_along_every_axis),
        cmocka_unit_test(test_softmax_at_large_logits),
        cmocka_unit_test(test_cross_entropy_zero_weight),
        cmocka_unit_test(test_conv2d_param_grads_exact_zero),
        cmocka_unit_test(test_maxpool_dist_by_definition),
    };
    return cmocka_run_group_tests_name("ops pins: values by definition", tests, NULL, NULL);
}
