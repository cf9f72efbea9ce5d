/* test_ops_pins_cases.c (part of test_ops_pins): gradcheck's data the
 * default cases never run (complete_case, for gradcheck --op X --shape S;
 * cross_entropy's sample_input), and two kernel contracts no gradcheck input
 * reaches (see test_ops_pins.c's head). */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_ref.h"
#include "autodidact.h"
#include "ad_kernel.h"

int test_ops_pins_cases(void);

/* A case as --shape gives it: input 0 only, the rest junk (99) that
 * complete_case must overwrite. */
static ad_op_case given(int ndim, const int64_t *shape)
{
    ad_op_case c;
    memset(&c, 0, sizeof c);
    c.n_in = 99;
    for (int s = 0; s < AD_MAX_INPUTS; s++) {
        c.ndim[s] = 99;
        for (int d = 0; d < AD_MAX_DIMS; d++) c.shape[s][d] = 99;
    }
    c.ndim[0] = ndim;
    for (int d = 0; d < ndim; d++) c.shape[0][d] = shape[d];
    return c;
}

static void expect_input(const ad_op_case *c, int s, int ndim, const int64_t *shape)
{
    assert_int_equal(c->ndim[s], ndim);
    for (int d = 0; d < ndim; d++)
        if (c->shape[s][d] != shape[d])
            fail_msg("input %d dim %d: %lld, expected %lld", s, d, (long long)c->shape[s][d], (long long)shape[d]);
}

static void test_complete_case(void **state)
{
    (void)state;
    /* matmul: a (2,3,5) -> b (5,3) */
    const ad_op *mm = ad_op_find("matmul");
    ad_op_case c = given(3, (const int64_t[]){2, 3, 5});
    assert_int_equal(mm->complete_case(&c), AD_OK);
    assert_int_equal(c.n_in, 2);
    expect_input(&c, 0, 3, (const int64_t[]){2, 3, 5});
    expect_input(&c, 1, 2, (const int64_t[]){5, 3});
    c = given(1, (const int64_t[]){5});   /* a vector: b (5, 3) */
    assert_int_equal(mm->complete_case(&c), AD_OK);
    expect_input(&c, 1, 2, (const int64_t[]){5, 3});
    c = given(0, NULL);
    assert_int_equal(mm->complete_case(&c), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "matmul: --shape must give input 0 at least 1 dimension");
    /* linear: x (6,5) -> w (4,5), b (4) */
    const ad_op *lin = ad_op_find("linear");
    c = given(2, (const int64_t[]){6, 5});
    assert_int_equal(lin->complete_case(&c), AD_OK);
    assert_int_equal(c.n_in, 3);
    expect_input(&c, 1, 2, (const int64_t[]){4, 5});
    expect_input(&c, 2, 1, (const int64_t[]){4});
    c = given(1, (const int64_t[]){5});   /* a 1-d x is a vector: the least linear takes */
    assert_int_equal(lin->complete_case(&c), AD_OK);
    expect_input(&c, 1, 2, (const int64_t[]){4, 5});
    c = given(0, NULL);
    assert_int_equal(lin->complete_case(&c), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "linear: --shape must give x as (..., I), at least 1-d");
    /* a binary elementwise op: b takes a's shape, every dim of it */
    const ad_op *add = ad_op_find("add");
    c = given(4, (const int64_t[]){2, 3, 4, 5});
    assert_int_equal(add->complete_case(&c), AD_OK);
    assert_int_equal(c.n_in, 2);
    expect_input(&c, 0, 4, (const int64_t[]){2, 3, 4, 5});
    expect_input(&c, 1, 4, (const int64_t[]){2, 3, 4, 5});
    /* reshape: a 4-d x (2,3,4,5) to a column (120, 1), its dims only (the
     * next input's, junk here, not read) */
    const ad_op *reshape = ad_op_find("reshape");
    c = given(4, (const int64_t[]){2, 3, 4, 5});
    assert_int_equal(reshape->complete_case(&c), AD_OK);
    assert_int_equal(c.params.ndim, 2);
    assert_int_equal(c.params.shape[0], 120);
    assert_int_equal(c.params.shape[1], 1);
    /* cross_entropy: logits (7,3) -> targets (7), no weights */
    const ad_op *ce = ad_op_find("cross_entropy");
    c = given(2, (const int64_t[]){7, 3});
    assert_int_equal(ce->complete_case(&c), AD_OK);
    assert_int_equal(c.n_in, 2);
    expect_input(&c, 0, 2, (const int64_t[]){7, 3});
    expect_input(&c, 1, 1, (const int64_t[]){7});
    c = given(3, (const int64_t[]){7, 3, 2});
    assert_int_equal(ce->complete_case(&c), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "cross_entropy: --shape must give the logits as (N,C)");
    /* pooling: x (2,3,8,8) is the case as given; any other rank is refused */
    const ad_op *pool = ad_op_find("maxpool2d");
    c = given(4, (const int64_t[]){2, 3, 8, 8});
    assert_int_equal(pool->complete_case(&c), AD_OK);
    expect_input(&c, 0, 4, (const int64_t[]){2, 3, 8, 8});
    c = given(3, (const int64_t[]){3, 8, 8});
    assert_int_equal(pool->complete_case(&c), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "pooling: --shape must give x as (N,C,H,W)");
    c = given(4, (const int64_t[]){2, 3, 8, 8});
    c.ndim[0] = 5;
    assert_int_equal(pool->complete_case(&c), AD_ERR_SHAPE);
}

/* cross_entropy's targets over many draws, for ignore_index 0, 1, 2 (the
 * first class, one between, the last) and none (-1), C = 3, N = 8: every
 * target a class or the ignored one; the first never ignored; each later
 * one (the second included) ignored in some draws; in every draw at least
 * one ignored. A later target is ignored with probability 1/4, else drawn
 * from the C classes (the ignored one among them): 1/4 + 3/4 · 1/3 = 1/2
 * in all, over 300 · 7 = 2100 of them 0.5 ± 0.011 (one sigma; the seed is
 * fixed, so the count is too). Weights (slot 2) in [0.5, 2]. ignore_index 3
 * (= C, past the classes: PyTorch allows it) is never drawn as a class, so
 * 1/4 of the later targets are it, and the first takes every class. With
 * N = 2 the one later target is the ignored one in every draw. */
static void test_ce_sample(void **state)
{
    (void)state;
    const ad_op *ce = ad_op_find("cross_entropy");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    ad_tensor *t = ad_tensor_new(AD_FLOAT64, 1, (const int64_t[]){8});
    ad_tensor *w = ad_tensor_new(AD_FLOAT64, 1, (const int64_t[]){3});
    for (int ig = -1; ig <= 3; ig++) {
        ad_op_case c = {"pin", 3, {2, 1, 1}, {{8, 3}, {8}, {3}}, {.reduction = AD_REDUCE_MEAN, .ignore_index = ig}};
        int ignored_at[8] = {0}, first_class[3] = {0};
        for (int draw = 0; draw < 300; draw++) {
            ad_clear_error();
            ce->sample_input(&c, 1, t, r);
            if (ad_last_status() != AD_OK) fail_msg("sample_input left an error: %s", ad_last_error());
            int ignored = 0;
            for (int64_t i = 0; i < 8; i++) {
                double v = ad_tensor_get(t, i);
                if (v == ig) {
                    ignored++, ignored_at[i]++;
                    continue;
                }
                if (!(v == floor(v) && v >= 0 && v < 3)) fail_msg("ignore_index %d: target %g at [%lld]", ig, v, (long long)i);
                if (i == 0) first_class[(int)v]++;
            }
            if (ig >= 0 && ignored == 0) fail_msg("ignore_index %d: draw %d ignores no target", ig, draw);
            ce->sample_input(&c, 2, w, r);
            for (int64_t i = 0; i < 3; i++)
                if (!(ad_tensor_get(w, i) >= 0.5 && ad_tensor_get(w, i) <= 2)) fail_msg("weight %g", ad_tensor_get(w, i));
        }
        int later = 0;
        for (int i = 1; i < 8; i++) later += ignored_at[i];
        int expect = ig < 3 ? 1050 : 525;   /* 2100 · (1/4 + 3/4 · 1/3), or 2100 · 1/4 past the classes */
        if (ig >= 0 && !(later >= expect - 105 && later <= expect + 105))   /* ± 5% of 2100 */
            fail_msg("ignore_index %d: %d of 2100 later targets ignored, expected about %d", ig, later, expect);
        if (ignored_at[0]) fail_msg("ignore_index %d: the first target was ignored %d times", ig, ignored_at[0]);
        for (int i = 1; i < 8; i++)
            if ((ig >= 0) != (ignored_at[i] > 0))
                fail_msg("ignore_index %d: target %d ignored %d times of 300", ig, i, ignored_at[i]);
        for (int k = 0; k < 3; k++)   /* the first target: every class but the ignored one */
            if ((k != ig) != (first_class[k] > 0)) fail_msg("ignore_index %d: class %d first %d times", ig, k, first_class[k]);
    }
    ad_tensor *t2 = ad_tensor_new(AD_FLOAT64, 1, (const int64_t[]){2});
    ad_op_case c2 = {"pin", 2, {2, 1}, {{2, 3}, {2}}, {.reduction = AD_REDUCE_MEAN, .ignore_index = 0}};
    for (int draw = 0; draw < 50; draw++) {
        ce->sample_input(&c2, 1, t2, r);
        double first = ad_tensor_get(t2, 0);
        if (!(first == 1 || first == 2) || ad_tensor_get(t2, 1) != 0)
            fail_msg("N = 2, ignore_index 0: targets (%g, %g), expected (1 or 2, 0)", first, ad_tensor_get(t2, 1));
    }
    /* one class, and it is the ignored one: every target is that class
     * (drawn from the one class there is, never from "the classes but the
     * ignored one", of which there are none: GSL aborts on such a draw) */
    ad_tensor *t4 = ad_tensor_new(AD_FLOAT64, 1, (const int64_t[]){4});
    ad_op_case c1 = {"pin", 2, {2, 1}, {{4, 1}, {4}}, {.reduction = AD_REDUCE_SUM, .ignore_index = 0}};
    for (int draw = 0; draw < 20; draw++) {
        ce->sample_input(&c1, 1, t4, r);
        for (int64_t i = 0; i < 4; i++)
            if (ad_tensor_get(t4, i) != 0) fail_msg("C = 1: target %g at [%lld]", ad_tensor_get(t4, i), (long long)i);
    }
    ad_tensor_free(t4);
    ad_tensor_free(t2);
    ad_tensor_free(t);
    ad_tensor_free(w);
    gsl_rng_free(r);
}

/* A jvp SETS its tangent (ad_op.h). The engine hands it memory from the
 * arena, zeroed, so only a call on a dirty buffer tells SET from +=: linear's
 * tangent filled with 1e6 first, then its jvp, which must leave exactly
 * tx·wᵀ + x·twᵀ + tb in every element. x (2,3) w (4,3) b (4), tangents
 * on x and b in one direction. */
static void test_linear_jvp_sets(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        ad_dtype type = dt ? AD_FLOAT32 : AD_FLOAT64;
        ad_context *ctx = ad_context_new();
        assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
        ad_node *x = ad_variable(ctx, type, 2, (const int64_t[]){2, 3}, (const double[]){1, 2, 3, 4, 5, 6});
        ad_node *w = ad_variable(ctx, type, 2, (const int64_t[]){4, 3},
                                 (const double[]){1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
        ad_node *b = ad_variable(ctx, type, 1, (const int64_t[]){4}, (const double[]){1, 2, 3, 4});
        assert_int_equal(ad_set_tangent(x, 0, (const double[]){1, 0, 2, 0, 1, 0}, 0), AD_OK);
        assert_int_equal(ad_set_tangent(b, 0, (const double[]){10, 20, 30, 40}, 0), AD_OK);
        ad_node *y = ad_linear(ctx, x, w, b);
        assert_non_null(y);
        /* tx·wᵀ: rows (1,0,2) and (0,1,0) against w's rows e1, e2, e3, (1,1,1) */
        const double want[8] = {1 + 10, 0 + 20, 2 + 30, 3 + 40, 0 + 10, 1 + 20, 0 + 30, 1 + 40};
        ad_test_jvp_sets(y, "linear", want, 8);
        /* without the bias: exact zeros among them, which a start from anything but 0 shows */
        ad_node *y2 = ad_linear(ctx, x, w, NULL);
        assert_non_null(y2);
        const double want2[8] = {1, 0, 2, 3, 0, 1, 0, 1};
        ad_test_jvp_sets(y2, "linear", want2, 8);
        ad_context_free(ctx);
    }
}

/* The same for matmul: a (2,3)·b (3,2), a tangent on a only (ta = e_00 +
 * 2e_12): ta·b, set over a tangent full of 1e6. b's rows (1,2) (3,4) (5,6). */
static void test_matmul_jvp_sets(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        ad_dtype type = dt ? AD_FLOAT32 : AD_FLOAT64;
        ad_context *ctx = ad_context_new();
        assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
        ad_node *a = ad_variable(ctx, type, 2, (const int64_t[]){2, 3}, (const double[]){1, 2, 3, 4, 5, 6});
        ad_node *b = ad_constant(ctx, type, 2, (const int64_t[]){3, 2}, (const double[]){1, 2, 3, 4, 5, 6});
        assert_int_equal(ad_set_tangent(a, 0, (const double[]){1, 0, 0, 0, 0, 2}, 0), AD_OK);
        ad_node *y = ad_matmul(ctx, a, b);
        assert_non_null(y);
        const double want[4] = {1, 2, 10, 12};   /* rows (1,0,0)·b and (0,0,2)·b */
        ad_test_jvp_sets(y, "matmul", want, 4);
        /* ta = e_00 alone: the second row's tangent is exactly 0 (a sum
         * started anywhere but at 0, even 1e-304, shows there) */
        ad_node *a1 = ad_variable(ctx, type, 2, (const int64_t[]){2, 3}, (const double[]){1, 2, 3, 4, 5, 6});
        assert_int_equal(ad_set_tangent(a1, 0, (const double[]){1, 0, 0, 0, 0, 0}, 0), AD_OK);
        ad_node *y1 = ad_matmul(ctx, a1, b);
        assert_non_null(y1);
        ad_test_jvp_sets(y1, "matmul", (const double[]){1, 2, 0, 0}, 4);
        ad_context_free(ctx);
    }
}

/* max-pool's kink_side writes all of v (gradcheck's buffer is not zeroed):
 * -(offset in the plane)/(H·W), element 0 included, into a buffer of NaNs. */
static void test_maxpool_side_writes_every_element(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){1, 2, 2, 3}, NULL);
    ad_node *y = ad_maxpool2d(ctx, x, 2, 1);
    assert_non_null(y);
    double v[12];
    for (int i = 0; i < 12; i++) v[i] = NAN;
    ad_op_find("maxpool2d")->kink_side(ad_node_of(y), 0, v);
    for (int i = 0; i < 12; i++) assert_close(v[i], -(double)(i % 6) / 6, 0);
    ad_context_free(ctx);
}

/* max-pool's vjp routes dy to each window's argmax: the one the forward
 * kept, or, where it kept none (a plane of more than 2^31 elements: offsets
 * past int32), the argmax found again. The same dx both ways, the second
 * plane included (its x and dx at plane·H·W), against the routing by hand:
 * x (1,2,3,4), window (2,2), stride (1,2): outputs (2,2) per plane. */
static void test_maxpool_vjp_without_argmax(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    /* plane 0 rows: 1 5 2 0 / 3 4 8 6 / 7 0 1 9;  plane 1: the same, negated */
    double xv[24] = {1, 5, 2, 0, 3, 4, 8, 6, 7, 0, 1, 9};
    for (int i = 0; i < 12; i++) xv[12 + i] = -xv[i];
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){1, 2, 3, 4}, xv);
    ad_params p = {.window = {2, 2}, .stride = {1, 2}};
    ad_node *y = ad_apply(ctx, ad_op_find("maxpool2d"), &x, 1, &p);
    assert_non_null(y);
    ad_node *o = ad_node_of(y);
    assert_non_null(o->saved);
    const double g[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    /* plane 0: windows (rows 0-1, cols 0-1) max 5 at 1, (0-1, 2-3) 8 at 6,
     * (1-2, 0-1) 7 at 8, (1-2, 2-3) 9 at 11; plane 1 (negated): 1 at 0
     * (-1: the first of the window's largest), 2 at 3 (-0), 0 at 9 (-0,
     * after -3, -4, -7), 1 at 10 (-1) */
    double want[24] = {0};
    want[1] = 1, want[6] = 2, want[8] = 3, want[11] = 4;
    want[12 + 0] = 10, want[12 + 3] = 20, want[12 + 9] = 30, want[12 + 10] = 40;
    const void *kept = o->saved;
    for (int pass = 0; pass < 2; pass++) {
        double gin[24];
        for (int i = 0; i < 24; i++) gin[i] = 0.5;   /* vjp adds: dx starts at 0.5 */
        o->saved = pass ? NULL : (void *)kept;
        ad_op_find("maxpool2d")->cpu.vjp(o, 0, 1, g, gin);
        for (int i = 0; i < 24; i++)
            if (gin[i] != want[i] + 0.5) fail_msg("%s: dx[%d] = %g, expected %g", pass ? "found again" : "kept", i, gin[i], want[i] + 0.5);
    }
    o->saved = (void *)kept;
    ad_context_free(ctx);
}

int test_ops_pins_cases(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_case),
        cmocka_unit_test(test_matmul_jvp_sets),
        cmocka_unit_test(test_maxpool_side_writes_every_element),
        cmocka_unit_test(test_ce_sample),
        cmocka_unit_test(test_linear_jvp_sets),
        cmocka_unit_test(test_maxpool_vjp_without_argmax),
    };
    return cmocka_run_group_tests_name("ops pins: gradcheck's data and kernel contracts", tests, NULL, NULL);
}
