/* test_gradcheck_kinks.c: inputs drawn clear of an op's kinks at any size.
 * Rejection sampling over the whole tensor could not draw 16,384 relu
 * inputs clear of 0 ("no draw of inputs in 200 landed 0.001 away"), so a
 * bug that shows only at that size went unchecked; drawing again only the
 * elements near a kink (ad_op.kink_dist) draws any size. And each op's
 * kink_dist agrees with its kink_gap: their least element is the gap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"

static ad_gc_options fast_options(void)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.fast = true;
    o.dtypes = AD_GC_ALL_DTYPES;
    return o;
}

static ad_op_case vector_case(int64_t n)
{
    ad_op_case c = {"vector", 1, {1}, {{n, 1, 1, 1}}, {.c = 0}};
    return c;
}

/* relu at 20,000 elements (and abs at 100,000): drawn, checked, passing. */
static void test_relu_any_size(void **state)
{
    (void)state;
    ad_gc_options o = fast_options();
    const ad_op *ops[] = {&ad_op_relu, &ad_op_abs};
    const int64_t n[] = {20000, 100000};
    for (int k = 0; k < 2; k++) {
        ad_op_case c = vector_case(n[k]);
        ad_gc_report r = {0};
        assert_int_equal(ad_gradcheck_op_case(ops[k], &c, &o, &r), AD_OK);
        assert_true(r.n >= 5);
        assert_int_equal(r.n_fail, 0);
        ad_gc_report_free(&r);
    }
}

/* conv2d_relu at 64 images of 3x32x32 (230,400 outputs, about a hundred
 * within 0.001 of 0 at any draw): rejection sampling never drew it clear;
 * drawing again only the x elements under the near outputs does. */
static void test_conv2d_relu_any_size(void **state)
{
    (void)state;
    ad_gc_options o = fast_options();
    o.dtypes = AD_GC_FLOAT64;
    ad_op_case c = {"64 images", 3, {4, 4, 1}, {{64, 3, 32, 32}, {4, 3, 3, 3}, {4}}, {.stride = {1, 1}}};
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_case(&ad_op_conv2d_relu, &c, &o, &r), AD_OK);
    assert_true(r.n >= 2);
    assert_int_equal(r.n_fail, 0);
    ad_gc_report_free(&r);
}

/* A path probe of a million relu inputs (checked by random directions,
 * which keep 1e-5 from the kinks: rejection sampling drew them clear with
 * probability e^-5 a draw, and 50 draws failed most seeds): drawn clear by
 * moving only the elements near 0. */
static const ad_op_path million_path[] = {
    {"million", "n = 10^6, one thread", 0, 1, NULL, {"n = 1000000", 1, {1}, {{1000000, 1, 1, 1}}, {.c = 0}}},
};

static void test_path_probe_any_size(void **state)
{
    (void)state;
    ad_op relu = ad_op_relu;
    relu.paths = million_path;
    relu.n_paths = 1;
    ad_gc_options o;
    ad_gc_default_options(&o);
    for (unsigned long seed = 1; seed <= 3; seed++) {
        o.seed = seed;
        ad_gc_report r = {0};
        if (ad_gradcheck_op_path(&relu, 0, &o, &r) != AD_OK) fail_msg("seed %lu: %s", seed, ad_last_error());
        assert_true(r.n >= 1);
        assert_int_equal(r.n_fail, 0);
        ad_gc_report_free(&r);
    }
}

/* relu whose mask is wrong past element 16,383 (the blocked branch's bug
 * of issue 28: right on every small input): caught at 20,000. */
static void bad_mask_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    AD_DISPATCH(o->value.dtype, {
        const T *x = o->in[0]->value.data, *gy = g;
        T *gx = gi;
        for (int64_t i = 0; i < o->value.size; i++) gx[i] += gy[i] * (T)(i < 16384 ? x[i] > 0 : x[i] < 0);
    });
}
AD_VJP_BY_ROWS(bad_mask_vjp, bad_mask_vjp1)

static void test_wrong_mask_caught_at_20000(void **state)
{
    (void)state;
    ad_op bad = ad_op_relu;
    bad.name = "relu_bad_mask";
    bad.cpu.vjp = bad_mask_vjp;
    bad.scalar = NULL;
    ad_gc_options o = fast_options();
    ad_op_case c = vector_case(20000);
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_case(&bad, &c, &o, &r), AD_OK);
    bool fast_rev = false;
    for (int i = 0; i < r.n; i++) fast_rev |= r.rec[i].check == AD_GC_FAST_REV && !r.rec[i].pass;
    assert_true(fast_rev);
    ad_gc_report_free(&r);
    c = vector_case(1000);   /* (and right below the branch's size) */
    assert_int_equal(ad_gradcheck_op_case(&bad, &c, &o, &r), AD_OK);
    assert_int_equal(r.n_fail, 0);
    ad_gc_report_free(&r);
}

/* An op with kink_gap and no kink_dist is drawn as before (the whole draw
 * again): small cases pass; too large a case still says why it cannot. */
static void test_without_kink_dist(void **state)
{
    (void)state;
    ad_op plain = ad_op_relu;
    plain.name = "relu_gap_only";
    plain.kink_dist = NULL;
    ad_gc_options o = fast_options();
    ad_op_case c = vector_case(50);
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_case(&plain, &c, &o, &r), AD_OK);
    assert_int_equal(r.n_fail, 0);
    c = vector_case(20000);
    assert_int_equal(ad_gradcheck_op_case(&plain, &c, &o, &r), AD_ERR_DOMAIN);
    assert_non_null(strstr(ad_last_error(), "no draw of inputs in 200 landed 0.001 away from the op's kinks"));
    ad_gc_report_free(&r);
}

/* Every registered op with a kink_dist: at random inputs (some put on
 * kinks on purpose), the least distance of any element is kink_gap, and
 * an element at a kink has distance 0. */
static void test_kink_dist_agrees_with_kink_gap(void **state)
{
    (void)state;
    srand(7);
    int checked = 0;
    for (int k = 0; k < ad_op_count(); k++) {
        const ad_op *op = ad_op_at(k);
        if (!op->kink_dist) continue;
        assert_non_null(op->kink_gap);
        for (int ci = 0; ci < op->n_cases; ci++) {
            const ad_op_case *c = &op->cases[ci];
            ad_context *ctx = ad_context_new();
            ad_node *in[AD_MAX_INPUTS];
            for (int s = 0; s < c->n_in; s++) {
                in[s] = ad_variable(ctx, AD_FLOAT64, c->ndim[s], c->shape[s], NULL);
                ad_tensor v = ad_value(in[s]);
                for (int64_t j = 0; j < v.size; j++) ad_tensor_set(&v, j, (double)(rand() % 9 - 4) / 4);   /* ties, zeros */
            }
            ad_node *y = ad_node_of(ad_apply(ctx, op, in, c->n_in, &c->params));
            assert_non_null(y);
            double least = INFINITY;
            for (int s = 0; s < c->n_in; s++) {
                int64_t n = ad_value(in[s]).size;
                double *d = malloc((size_t)n * sizeof *d);
                op->kink_dist(y, s, d);
                for (int64_t j = 0; j < n; j++) {
                    assert_true(d[j] >= 0);
                    least = d[j] < least ? d[j] : least;
                }
                free(d);
            }
            double gap = op->kink_gap(y);
            if (!(least == gap)) fail_msg("%s [%s]: least kink_dist %g, kink_gap %g", op->name, c->label, least, gap);   /* (both inf: a 1x1 window) */
            checked++;
            ad_context_free(ctx);
        }
    }
    assert_true(checked >= 6);   /* relu, abs, max, min, maxpool2d, conv2d_relu */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_any_size),
        cmocka_unit_test(test_conv2d_relu_any_size),
        cmocka_unit_test(test_path_probe_any_size),
        cmocka_unit_test(test_wrong_mask_caught_at_20000),
        cmocka_unit_test(test_without_kink_dist),
        cmocka_unit_test(test_kink_dist_agrees_with_kink_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
