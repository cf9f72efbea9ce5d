/* test_gradcheck.c: a checker that cannot fail proves nothing. This test
 * registers deliberately wrong rules and asserts that gradcheck flags each
 * one, in each mode that should see it, naming the failing element; that
 * correct ops pass over 100 seeds; that the report formats are valid; and
 * that the command's exit codes are 0 / 1 / 2. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"
#include "ad_test_report.h"

/* ---- wrong rules: each a copy of a correct op with one mistake ---- */
static ad_status same_shape(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    (void)p;
    *nd = in[0]->value.ndim;
    memcpy(sh, in[0]->value.shape, sizeof in[0]->value.shape);
    *dt = (ad_dtype)in[0]->value.dtype;
    return AD_OK;
}

static const double *X(const ad_node *o) { return o->in[0]->value.data; }

/* y = sin x */
static ad_status sin_fwd(ad_node *o)
{
    for (int64_t i = 0; i < o->value.size; i++) ((double *)o->value.data)[i] = sin(X(o)[i]);
    return AD_OK;
}
static void sin_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gi)[i] += cos(X(o)[i]) * ((const double *)g)[i];
}
AD_VJP_BY_ROWS(sin_vjp, sin_vjp1)
static void sin_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        for (int64_t i = 0; i < o->value.size; i++)
            ((double *)ad_tangent_row(o, d))[i] = t ? cos(X(o)[i]) * t[i] : 0;
    }
}
static void sin_vjp_sign_flip1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gi)[i] -= cos(X(o)[i]) * ((const double *)g)[i];
}
AD_VJP_BY_ROWS(sin_vjp_sign_flip, sin_vjp_sign_flip1)
static void sin_jvp_wrong(ad_node *o, int k)   /* uses sin' = sin: disagrees with the vjp */
{
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        for (int64_t i = 0; i < o->value.size; i++)
            ((double *)ad_tangent_row(o, d))[i] = t ? sin(X(o)[i]) * t[i] : 0;
    }
}

/* y = x^2 with the factor 2 missing in both rules */
static ad_status sq_fwd(ad_node *o)
{
    for (int64_t i = 0; i < o->value.size; i++) ((double *)o->value.data)[i] = X(o)[i] * X(o)[i];
    return AD_OK;
}
static void sq_vjp_no21(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gi)[i] += X(o)[i] * ((const double *)g)[i];
}
AD_VJP_BY_ROWS(sq_vjp_no2, sq_vjp_no21)
static void sq_jvp_no2(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        for (int64_t i = 0; i < o->value.size; i++) ((double *)ad_tangent_row(o, d))[i] = t ? X(o)[i] * t[i] : 0;
    }
}

/* y = 3x with a vjp that overwrites (=) instead of accumulating (+=) */
static ad_status tri_fwd(ad_node *o)
{
    for (int64_t i = 0; i < o->value.size; i++) ((double *)o->value.data)[i] = 3 * X(o)[i];
    return AD_OK;
}
static void tri_vjp_overwrite1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gi)[i] = 3 * ((const double *)g)[i];
}
AD_VJP_BY_ROWS(tri_vjp_overwrite, tri_vjp_overwrite1)
static void tri_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        for (int64_t i = 0; i < o->value.size; i++) ((double *)ad_tangent_row(o, d))[i] = t ? 3 * t[i] : 0;
    }
}

/* y[r] = sum_c x[r,c] (3 rows, 4 columns) with a vjp that sends row r's
 * gradient to row r+1: a wrong index in a reduction. */
static ad_status rowsum_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    (void)p;
    if (in[0]->value.ndim != 2) return ad_fail(AD_ERR_SHAPE, "rowsum: needs a matrix");
    *nd = 1;
    sh[0] = in[0]->value.shape[0];
    *dt = AD_FLOAT64;
    return AD_OK;
}
static ad_status rowsum_fwd(ad_node *o)
{
    int64_t R = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    for (int64_t r = 0; r < R; r++) {
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += X(o)[r * C + c];
        ((double *)o->value.data)[r] = s;
    }
    return AD_OK;
}
static void rowsum_vjp_wrong_index1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    int64_t R = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) ((double *)gi)[r * C + c] += ((const double *)g)[(r + 1) % R];
}
AD_VJP_BY_ROWS(rowsum_vjp_wrong_index, rowsum_vjp_wrong_index1)
static void rowsum_jvp(ad_node *o, int k)
{
    int64_t R = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        for (int64_t r = 0; r < R; r++) {
            double s = 0;
            for (int64_t c = 0; t && c < C; c++) s += t[r * C + c];
            ((double *)ad_tangent_row(o, d))[r] = s;
        }
    }
}

/* y = x0 * x1 (elementwise) whose vjp for x1 forgets x0 (sends g, not
 * g·x0): gradcheck runs one reverse sweep for both inputs and must blame
 * input 1 alone. */
static const double *X1(const ad_node *o) { return o->in[1]->value.data; }
static ad_status mul2_fwd(ad_node *o)
{
    for (int64_t i = 0; i < o->value.size; i++) ((double *)o->value.data)[i] = X(o)[i] * X1(o)[i];
    return AD_OK;
}
static void mul2_vjp_x1_wrong1(const ad_node *o, int s, const void *g, void *gi)
{
    for (int64_t i = 0; i < o->value.size; i++)
        ((double *)gi)[i] += (s == 0 ? X1(o)[i] : 1.0) * ((const double *)g)[i];
}
AD_VJP_BY_ROWS(mul2_vjp_x1_wrong, mul2_vjp_x1_wrong1)
static void mul2_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) {
        const double *t0 = ad_tangent_row(o->in[0], d), *t1 = ad_tangent_row(o->in[1], d);
        for (int64_t i = 0; i < o->value.size; i++)
            ((double *)ad_tangent_row(o, d))[i] = (t0 ? X1(o)[i] * t0[i] : 0) + (t1 ? X(o)[i] * t1[i] : 0);
    }
}
/* Block mistakes: y = sin x, right for one cotangent (rows = 1, the path
 * training takes) and wrong for a block, or the other way round. */
static void sin_vjp_first_row_only(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    (void)rows;   /* does row 0 and leaves the others as they were */
    sin_vjp1(o, s, g, gi);
}
static void sin_vjp_row0_for_all(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    for (int r = 0; r < rows; r++) sin_vjp1(o, s, g, (double *)gi + r * o->value.size);   /* gout's row 0 each time */
}
static void sin_vjp_wrong_alone(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    if (rows == 1) sin_vjp_sign_flip1(o, s, g, gi);
    else sin_vjp(o, s, rows, g, gi);
}

/* Batch items (AD_OP_BATCHED): x (3,4) -> y (3,4). gradcheck perturbs an
 * element of every item (row) at once, after checking that the items are
 * independent. A forward that leaks across items is found by that check
 * (the numerical Jacobian is then made a column at a time, with a note), and
 * a vjp that leaks where the forward does not is caught: numerically 0. */
static double leak(const ad_node *o) { return o->params ? o->params->c : 0; }   /* y[n] += c·x[n+1] */
static ad_status leaky_fwd(ad_node *o)
{
    int64_t N = o->value.shape[0], K = o->value.shape[1];
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            ((double *)o->value.data)[n * K + k] = sin(X(o)[n * K + k]) + leak(o) * X(o)[(n + 1) % N * K + k];
    return AD_OK;
}
/* the vjp of y[n] = sin x[n] + c·x[n+1], with the leak term at weight w */
static void leaky_vjp_weighted(const ad_node *o, const double *g, double *gi, double w)
{
    int64_t N = o->value.shape[0], K = o->value.shape[1];
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            gi[n * K + k] += cos(X(o)[n * K + k]) * g[n * K + k];
            gi[(n + 1) % N * K + k] += w * g[n * K + k];
        }
}
static void leaky_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    leaky_vjp_weighted(o, g, gi, leak(o));
}
AD_VJP_BY_ROWS(leaky_vjp, leaky_vjp1)
static void leaky_vjp_forgets1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    leaky_vjp_weighted(o, g, gi, 0);
}
AD_VJP_BY_ROWS(leaky_vjp_forgets, leaky_vjp_forgets1)
static void leaky_vjp_invents1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    leaky_vjp_weighted(o, g, gi, leak(o) + 0.5);
}
AD_VJP_BY_ROWS(leaky_vjp_invents, leaky_vjp_invents1)
static void leaky_jvp(ad_node *o, int k)
{
    int64_t N = o->value.shape[0], K = o->value.shape[1];
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        double *ty = ad_tangent_row(o, d);
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < K; j++)
                ty[n * K + j] = t ? cos(X(o)[n * K + j]) * t[n * K + j] + leak(o) * t[(n + 1) % N * K + j] : 0;
    }
}
static const ad_op_case rows_leak[] = {{"x (3,4), leak 0.25", 1, {2}, {{3, 4, 1, 1}}, {.c = 0.25}}};
static const ad_op_case rows_no_leak[] = {{"x (3,4), no leak", 1, {2}, {{3, 4, 1, 1}}, {.c = 0}}};
#define BATCH_OP(NAME, VJP, CASES)                                                                                     \
    {.name = NAME, .summary = "batch items", .n_in = 1, .n_in_min = 1, .flags = AD_OP_BATCHED | AD_OP_PARAMS,           \
     .infer = same_shape, .cpu = {leaky_fwd, VJP, leaky_jvp}, .domain = {{-2, 2}}, .cases = CASES, .n_cases = 1}
static const ad_op batch_leaks_declared = BATCH_OP("batch_leaks_right_vjp", leaky_vjp, rows_leak);
static const ad_op batch_leaks_vjp_forgets = BATCH_OP("batch_leaks_vjp_forgets", leaky_vjp_forgets, rows_leak);
static const ad_op batch_vjp_invents = BATCH_OP("batch_vjp_invents_a_leak", leaky_vjp_invents, rows_no_leak);
static const ad_op batch_right = BATCH_OP("batch_right", leaky_vjp, rows_no_leak);

static const ad_op_case vec2_case[] = {{"vectors (6), (6)", 2, {1, 1}, {{6, 1, 1, 1}, {6, 1, 1, 1}}, {.c = 0}}};

static const ad_op_case vec_case[] = {{"vector (5)", 1, {1}, {{5, 1, 1, 1}}, {.c = 0}}};
static const ad_op_case mat_case[] = {{"matrix (3,4)", 1, {2}, {{3, 4, 1, 1}}, {.c = 0}}};

#define TEST_OP(NAME, INFER, FWD, VJP, JVP, CASES)                                                                     \
    {.name = NAME, .summary = "deliberately wrong", .n_in = 1, .n_in_min = 1, .infer = INFER,                          \
     .cpu = {FWD, VJP, JVP}, .domain = {{-2, 2}}, .cases = CASES, .n_cases = 1}

static const ad_op good_sin = TEST_OP("good_sin", same_shape, sin_fwd, sin_vjp, sin_jvp, vec_case);
static const ad_op bad_sign = TEST_OP("bad_sign_flip", same_shape, sin_fwd, sin_vjp_sign_flip, sin_jvp, vec_case);
static const ad_op bad_jvp = TEST_OP("bad_jvp", same_shape, sin_fwd, sin_vjp, sin_jvp_wrong, vec_case);
static const ad_op bad_factor = TEST_OP("bad_missing_2", same_shape, sq_fwd, sq_vjp_no2, sq_jvp_no2, vec_case);
static const ad_op bad_overwrite = TEST_OP("bad_overwrite", same_shape, tri_fwd, tri_vjp_overwrite, tri_jvp, vec_case);
static const ad_op bad_index = TEST_OP("bad_index", rowsum_infer, rowsum_fwd, rowsum_vjp_wrong_index, rowsum_jvp, mat_case);
static const ad_op bad_block_first_row = TEST_OP("bad_block_first_row", same_shape, sin_fwd, sin_vjp_first_row_only,
                                               sin_jvp, vec_case);
static const ad_op bad_block_row0 = TEST_OP("bad_block_row0", same_shape, sin_fwd, sin_vjp_row0_for_all, sin_jvp, vec_case);
static const ad_op bad_alone = TEST_OP("bad_alone", same_shape, sin_fwd, sin_vjp_wrong_alone, sin_jvp, vec_case);
static const ad_op bad_second_input = {.name = "bad_second_input", .summary = "deliberately wrong", .n_in = 2,
                                       .n_in_min = 2, .infer = same_shape, .cpu = {mul2_fwd, mul2_vjp_x1_wrong, mul2_jvp},
                                       .domain = {{-2, 2}, {-2, 2}}, .cases = vec2_case, .n_cases = 1};

static const ad_gc_record *find(const ad_gc_report *r, ad_gc_check check)
{
    for (int i = 0; i < r->n; i++)
        if (r->rec[i].check == check) return &r->rec[i];
    fail_msg("no %s record", ad_gc_check_name(check));
    return NULL;
}

static ad_gc_report run(const ad_op *op, unsigned long seed)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.seed = seed;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op(op, &o, &r), AD_OK);
    return r;
}

static void test_correct_op_passes(void **state)
{
    (void)state;
    for (unsigned long seed = 1; seed <= 100; seed++) {
        ad_gc_report r = run(&good_sin, seed);
        assert_int_equal(r.n_fail, 0);
        assert_int_equal(r.n, 5);   /* rev, fwd, dot-product, determinism, block-vs-one */
        ad_gc_report_free(&r);
    }
}

static void test_sign_flip(void **state)
{
    (void)state;
    ad_gc_report r = run(&bad_sign, 1);
    assert_false(find(&r, AD_GC_JACOBIAN_REV)->pass);
    assert_true(find(&r, AD_GC_JACOBIAN_FWD)->pass);    /* the jvp is right */
    assert_false(find(&r, AD_GC_DOT_PRODUCT)->pass);    /* vjp and jvp disagree */
    const ad_gc_record *rev = find(&r, AD_GC_JACOBIAN_REV);
    assert_close(rev->reverse, -rev->numerical, 1e-6);
    assert_non_null(strstr(rev->worst, "dy["));
    ad_gc_report_free(&r);
}

static void test_missing_factor_2(void **state)
{
    (void)state;
    ad_gc_report r = run(&bad_factor, 1);
    const ad_gc_record *rev = find(&r, AD_GC_JACOBIAN_REV), *fwd = find(&r, AD_GC_JACOBIAN_FWD);
    assert_false(rev->pass);
    assert_false(fwd->pass);
    assert_true(find(&r, AD_GC_DOT_PRODUCT)->pass);     /* wrong the same way in both modes */
    assert_close(rev->reverse * 2, rev->numerical, 1e-6);
    /* the worst element is on the diagonal, and named */
    int o, i;
    assert_int_equal(sscanf(rev->worst, "dy[%d]/dx0[%d]", &o, &i), 2);
    assert_int_equal(o, i);
    ad_gc_report_free(&r);
}

static void test_overwrite_instead_of_accumulate(void **state)
{
    (void)state;
    ad_gc_report r = run(&bad_overwrite, 1);
    assert_false(find(&r, AD_GC_JACOBIAN_REV)->pass);
    assert_true(find(&r, AD_GC_JACOBIAN_FWD)->pass);
    ad_gc_report_free(&r);
}

/* One reverse sweep gives both inputs' rows: the wrong rule for input 1
 * fails input 1's reverse record only, naming an element of x1 with the
 * value the vjp gave (g, not g·x0: 1 on the diagonal); the forward records
 * pass and still report the reverse value at their worst entry. The check
 * runs the kernels on one thread and leaves the thread count as it was. */
static void test_wrong_rule_for_one_of_two_inputs(void **state)
{
    (void)state;
    int threads = ad_threads();
    ad_gc_report r = run(&bad_second_input, 1);
    assert_int_equal(ad_threads(), threads);
    assert_int_equal(r.n, 7);   /* rev and fwd per input, dot-product, determinism, block-vs-one */
    bool seen[2][2] = {{false}};
    for (int k = 0; k < r.n; k++) {
        const ad_gc_record *c = &r.rec[k];
        if (c->check != AD_GC_JACOBIAN_REV && c->check != AD_GC_JACOBIAN_FWD) continue;
        int fwd = c->check == AD_GC_JACOBIAN_FWD;
        assert_true(c->input == 0 || c->input == 1);
        assert_int_equal(k, 2 * c->input + fwd);   /* input 0 rev, input 0 fwd, input 1 rev, input 1 fwd */
        seen[c->input][fwd] = true;
        assert_int_equal(c->pass, c->input == 1 && !fwd ? false : true);
        if (c->input == 1 && !fwd) {
            int o, i;
            assert_int_equal(sscanf(c->worst, "dy[%d]/dx1[%d]", &o, &i), 2);
            assert_int_equal(o, i);
            assert_close(c->reverse, 1.0, 1e-12);
        }
        if (fwd) assert_false(isnan(c->reverse));
    }
    assert_true(seen[0][0] && seen[0][1] && seen[1][0] && seen[1][1]);
    assert_false(find(&r, AD_GC_DOT_PRODUCT)->pass);
    ad_gc_report_free(&r);
}

static void test_jvp_disagrees_with_vjp(void **state)
{
    (void)state;
    ad_gc_report r = run(&bad_jvp, 1);
    assert_true(find(&r, AD_GC_JACOBIAN_REV)->pass);
    assert_false(find(&r, AD_GC_JACOBIAN_FWD)->pass);
    assert_false(find(&r, AD_GC_DOT_PRODUCT)->pass);
    ad_gc_report_free(&r);
}

static void test_wrong_index_in_reduction(void **state)
{
    (void)state;
    ad_gc_report r = run(&bad_index, 1);
    const ad_gc_record *rev = find(&r, AD_GC_JACOBIAN_REV);
    assert_false(rev->pass);
    assert_true(find(&r, AD_GC_JACOBIAN_FWD)->pass);
    /* Row 0 of the reverse Jacobian got row 2's ones: the first such entry
     * (where the true derivative is 0 and the tolerance tightest) is named. */
    assert_string_equal(rev->worst, "dy[0]/dx0[2,0]");
    assert_close(rev->numerical, 0, 1e-6);
    assert_close(rev->reverse, 1, 1e-12);
    ad_gc_report_free(&r);
}

/* A vjp right for one cotangent and wrong for a block (or the other way)
 * is caught in every mode: full and fast, reverse only and both. Where the
 * Jacobian's rows come from blocks, that record fails too; block-vs-one
 * names the row and the element. */
static void test_block_mistakes_caught_in_every_mode(void **state)
{
    (void)state;
    const ad_op *ops[] = {&bad_block_first_row, &bad_block_row0, &bad_alone};
    for (int k = 0; k < 3; k++)
        for (int fast = 0; fast < 2; fast++)
            for (int mode = AD_GC_REV; mode <= AD_GC_BOTH; mode += AD_GC_BOTH - AD_GC_REV) {
                ad_gc_options o;
                ad_gc_default_options(&o);
                o.fast = fast;
                o.mode = mode;
                ad_gc_report r = {0};
                assert_int_equal(ad_gradcheck_op(ops[k], &o, &r), AD_OK);
                const ad_gc_record *b = find(&r, AD_GC_BLOCK);
                if (b->pass) fail_msg("%s, fast %d, mode %d: block-vs-one passed", ops[k]->name, fast, mode);
                assert_non_null(strstr(b->message, "of a block of 3 cotangents"));
                assert_non_null(strstr(b->worst, "dx0["));
                bool alone = ops[k] == &bad_alone;
                if (!fast) assert_int_equal(find(&r, AD_GC_JACOBIAN_REV)->pass, alone);   /* rows come in blocks */
                if (fast) assert_int_equal(find(&r, AD_GC_FAST_REV)->pass, !alone);   /* one cotangent */
                if (mode == AD_GC_BOTH) assert_int_equal(find(&r, AD_GC_DOT_PRODUCT)->pass, !alone);
                ad_gc_report_free(&r);
            }
    /* a mistake the same in both paths leaves block-vs-one passing */
    ad_gc_report r = run(&bad_sign, 1);
    assert_true(find(&r, AD_GC_BLOCK)->pass);
    ad_gc_report_free(&r);
}

static void test_batch_items(void **state)
{
    (void)state;
    for (int mode = AD_GC_REV; mode <= AD_GC_BOTH; mode += AD_GC_BOTH - AD_GC_REV) {
        ad_gc_options o;
        ad_gc_default_options(&o);
        o.mode = mode;
        ad_gc_report r = {0};
        /* independent items, right rules: grouped columns, no note, all pass */
        assert_int_equal(ad_gradcheck_op(&batch_right, &o, &r), AD_OK);
        assert_int_equal(r.n_fail, 0);
        assert_null(strstr(find(&r, AD_GC_JACOBIAN_REV)->message, "not independent"));
        ad_gc_report_free(&r);
        /* a forward that leaks across items: found, columns one at a time, the right vjp passes */
        r = (ad_gc_report){0};
        assert_int_equal(ad_gradcheck_op(&batch_leaks_declared, &o, &r), AD_OK);
        assert_int_equal(r.n_fail, 0);
        assert_non_null(strstr(find(&r, AD_GC_JACOBIAN_REV)->message, "batch items are not independent"));
        ad_gc_report_free(&r);
        /* ... and a vjp that forgets the leak fails, at a cross-item entry */
        r = (ad_gc_report){0};
        assert_int_equal(ad_gradcheck_op(&batch_leaks_vjp_forgets, &o, &r), AD_OK);
        const ad_gc_record *rev = find(&r, AD_GC_JACOBIAN_REV);
        assert_false(rev->pass);
        int on, ok, in, ik;
        assert_int_equal(sscanf(rev->worst, "dy[%d,%d]/dx0[%d,%d]", &on, &ok, &in, &ik), 4);
        assert_int_equal(in, (on + 1) % 3);
        assert_close(rev->numerical, 0.25, 1e-6);
        ad_gc_report_free(&r);
        /* items independent, but the vjp invents a leak: numerically 0 there */
        r = (ad_gc_report){0};
        assert_int_equal(ad_gradcheck_op(&batch_vjp_invents, &o, &r), AD_OK);
        rev = find(&r, AD_GC_JACOBIAN_REV);
        assert_false(rev->pass);
        assert_int_equal(sscanf(rev->worst, "dy[%d,%d]/dx0[%d,%d]", &on, &ok, &in, &ik), 4);
        assert_int_equal(in, (on + 1) % 3);
        assert_close(rev->numerical, 0, 1e-12);
        assert_close(rev->reverse, 0.5, 1e-12);
        ad_gc_report_free(&r);
    }
}

static void test_fast_mode_catches_too(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.fast = true;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op(&bad_factor, &o, &r), AD_OK);
    assert_false(find(&r, AD_GC_FAST_REV)->pass);
    assert_false(find(&r, AD_GC_FAST_FWD)->pass);
    ad_gc_report_free(&r);
    r = (ad_gc_report){0};
    assert_int_equal(ad_gradcheck_op(&good_sin, &o, &r), AD_OK);
    assert_int_equal(r.n_fail, 0);
    ad_gc_report_free(&r);
}

static void test_registered_ops_over_100_seeds(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    for (unsigned long seed = 1; seed <= 100; seed++) {
        o.seed = seed;
        ad_gc_report r = {0};
        for (int i = 0; i < ad_op_count(); i++) assert_int_equal(ad_gradcheck_op(ad_op_at(i), &o, &r), AD_OK);
        if (r.n_fail) {
            for (int k = 0; k < r.n; k++)
                if (!r.rec[k].pass) fail_msg("seed %lu: %s [%s] %s failed: %s %s", seed, r.rec[k].op,
                                             r.rec[k].case_label, ad_gc_check_name(r.rec[k].check), r.rec[k].worst,
                                             r.rec[k].message);
        }
        ad_gc_report_free(&r);
    }
}

/* ---- formats ---- */
static char *format_report(const ad_gc_report *r, ad_gc_format fmt) { return ad_test_report_text(r, fmt); }

static void test_formats(void **state)
{
    (void)state;
    ad_gc_report r = run(&bad_index, 1);
    int n = r.n;
    char *json = format_report(&r, AD_GC_JSON);
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "results")), n);
    assert_int_equal((int)cJSON_GetObjectItem(doc, "failed")->valuedouble, r.n_fail);
    cJSON_Delete(doc);
    free(json);

    char *xml = format_report(&r, AD_GC_JUNIT);
    int cases = 0;
    for (const char *p = xml; (p = strstr(p, "<testcase ")); p++) cases++;
    assert_int_equal(cases, n);
    FILE *f = fopen("test_gradcheck_junit.xml", "w");
    fputs(xml, f);
    fclose(f);
    if (system("command -v xmllint >/dev/null 2>&1") == 0)
        assert_int_equal(system("xmllint --noout test_gradcheck_junit.xml"), 0);
    remove("test_gradcheck_junit.xml");
    free(xml);

    char *tap = format_report(&r, AD_GC_TAP);
    assert_memory_equal(tap, "TAP version 13\n", 15);   /* what Debian's prove reads */
    char plan[32];
    snprintf(plan, sizeof plan, "\n1..%d\n", n);
    assert_non_null(strstr(tap, plan));
    int oks = 0, not_oks = 0;
    for (char *line = strtok(tap, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "ok ", 3)) oks++;
        if (!strncmp(line, "not ok ", 7)) not_oks++;
    }
    assert_int_equal(oks + not_oks, n);
    assert_int_equal(not_oks, r.n_fail);
    free(tap);

    /* A failure line's error is its worst element's own, |reverse - numerical|
     * there, not the largest error of some other element. */
    char *text = format_report(&r, AD_GC_TEXT);
    int checked = 0;
    for (int i = 0; i < r.n; i++) {
        const ad_gc_record *x = &r.rec[i];
        if (x->pass || x->check != AD_GC_JACOBIAN_REV || !x->worst[0]) continue;
        char want[160];
        snprintf(want, sizeof want, "reverse %.9g, forward %.9g: error %.3g (relative", x->reverse, x->forward,
                 fabs(x->reverse - x->numerical));
        if (!strstr(text, want)) fail_msg("no '%s' in the report:\n%s", want, text);
        checked++;
    }
    assert_true(checked > 0);
    free(text);
    ad_gc_report_free(&r);
}

/* ---- the comparison rule: infinities and NaN ---- */
static void test_agree_rule(void **state)
{
    (void)state;
    const double inf = INFINITY, nan = NAN;
    struct { double a, b, tol; bool agree; double err; } c[] = {
        {inf, inf, 0, true, 0},            /* equal infinities of the same sign agree */
        {-inf, -inf, 0, true, 0},
        {inf, -inf, inf, false, inf},      /* opposite infinities never, whatever the tolerance */
        {-inf, inf, inf, false, inf},
        {inf, 1e300, inf, false, inf},     /* an infinity and a finite number never */
        {-2.5, -inf, inf, false, inf},
        {nan, nan, inf, false, nan},       /* NaN never, not even with NaN */
        {nan, 1, inf, false, nan},
        {1, nan, inf, false, nan},
        {nan, inf, inf, false, nan},
        {1.0, 1.0 + 1e-9, 1e-8, true, 1e-9},   /* finite: within tolerance */
        {1.0, 1.0 + 1e-7, 1e-8, false, 1e-7},  /* ... and beyond it */
        {-3, -3, 0, true, 0},
        {1, 2, nan, false, 1},              /* a NaN tolerance passes nothing */
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        if (ad_gc_agree(c[k].a, c[k].b, c[k].tol) != c[k].agree)
            fail_msg("ad_gc_agree(%g, %g, %g) is %d", c[k].a, c[k].b, c[k].tol, !c[k].agree);
        double err = ad_gc_abs_err(c[k].a, c[k].b);
        if (isnan(c[k].err) ? !isnan(err) : !(err == c[k].err || fabs(err - c[k].err) <= 1e-15))
            fail_msg("ad_gc_abs_err(%g, %g) = %g, want %g", c[k].a, c[k].b, err, c[k].err);
    }
}

/* y = sin x with a vjp that adds inf_alone to every element for one
 * cotangent and inf_block in a block: block-vs-one with the same infinity on
 * both sides passes, whichever its sign. */
static double inf_alone, inf_block;
static void inf_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    (void)s;
    (void)g;
    for (int64_t i = 0; i < rows * o->value.size; i++) ((double *)gi)[i] += rows == 1 ? inf_alone : inf_block;
}
static const ad_op inf_grad = TEST_OP("inf_grad", same_shape, sin_fwd, inf_vjp, sin_jvp, vec_case);

static void test_block_with_infinities(void **state)
{
    (void)state;
    const double inf = INFINITY, nan = NAN;
    struct { double alone, block; bool pass; } c[] = {
        {inf, inf, true},   {-inf, -inf, true}, {inf, -inf, false},         {-inf, inf, false},
        {inf, 1, false},    {1, -inf, false},   {nan, nan, false},          {nan, 1, false},
        {1, nan, false},    {1, 1, true},       {1, 1 + 1e-13, true},       {1, 1 + 1e-6, false},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        inf_alone = c[k].alone;
        inf_block = c[k].block;
        ad_gc_report r = run(&inf_grad, 1);
        const ad_gc_record *b = find(&r, AD_GC_BLOCK);
        if (b->pass != c[k].pass)
            fail_msg("block %g against alone %g: block-vs-one %s (%s)", c[k].block, c[k].alone,
                     b->pass ? "passed" : "failed", b->message);
        if (!c[k].pass) assert_non_null(strstr(b->message, "of a block of 3 cotangents"));
        ad_gc_report_free(&r);
    }
}

/* Ops whose names and case labels hold every kind of bad text (a user
 * registers ops by name): the JUnit validates against junit-10.xsd and the
 * TAP parses with prove, failures and all. A record keeps 63 bytes of a
 * name and 127 of a label, so the text goes in pieces, one op each (a piece
 * cut inside a sequence is one more kind). */
static void test_formats_with_bad_text(void **state)
{
    (void)state;
    static const char bad[] = AD_TEST_BAD_TEXT;
    ad_gc_options o;
    ad_gc_default_options(&o);
    ad_gc_report r = {0};
    for (size_t at = 0; at < sizeof bad - 1; at += 50) {
        char name[64], label[128];
        snprintf(name, sizeof name, "%.50s", bad + at);
        snprintf(label, sizeof label, "%.127s", bad + at);
        ad_op_case c = {label, 1, {1}, {{5, 1, 1, 1}}, {.c = 0}};
        ad_op op = bad_sign;   /* fails: failure messages carry the text too */
        op.name = name;
        op.cases = &c;
        assert_int_equal(ad_gradcheck_op(&op, &o, &r), AD_OK);
    }
    assert_true(r.n_fail > 0);
    /* JSON and text: no byte of what is not UTF-8 or not an XML Char (cJSON passes such bytes on; CR is one) */
    for (ad_gc_format fmt = AD_GC_TEXT; fmt <= AD_GC_JSON; fmt++) {
        char *out = format_report(&r, fmt);
        for (const unsigned char *p = (const unsigned char *)out; *p; p++)
            if (*p >= 0xF5 || *p == 0xC0 || *p == 0xC1 || (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r'))
                fail_msg("byte %02X in the %s report", *p, fmt == AD_GC_JSON ? "JSON" : "text");
        assert_null(strstr(out, "\xEF\xBF\xBE"));
        assert_null(strstr(out, "\xED\xA0\x80"));
        if (fmt == AD_GC_JSON) {
            cJSON *doc = cJSON_Parse(out);
            assert_non_null(doc);
            cJSON_Delete(doc);
        }
        free(out);
    }
    char *xml = format_report(&r, AD_GC_JUNIT), *tap = format_report(&r, AD_GC_TAP);
    FILE *f = fopen("test_gradcheck_bad.xml", "w");
    fputs(xml, f);
    fclose(f);
    f = fopen("test_gradcheck_bad.tap", "w");
    fputs(tap, f);
    fclose(f);
    assert_non_null(strstr(xml, "]]&gt; &lt; &amp; &quot; &apos;"));
    assert_null(strstr(xml, "\xEF\xBF\xBE"));
    assert_null(strstr(tap, "\xF5"));
    free(xml);
    free(tap);
    const char *xsd = getenv("JUNIT_XSD");
    if (!xsd) fail_msg("JUNIT_XSD (tests/junit-10.xsd) is not set; run through meson test");
    char cmd[1024];
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "xmllint --noout --schema '%s' test_gradcheck_bad.xml", xsd);
        assert_int_equal(system(cmd), 0);
    } else {
        print_message("skipping the schema check: xmllint missing\n");
    }
    if (system("command -v prove >/dev/null 2>&1") == 0) {
        FILE *p = popen("prove -e cat test_gradcheck_bad.tap 2>&1", "r");
        char out[8192];
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        pclose(p);
        char want[64];
        snprintf(want, sizeof want, "Failed %d/%d subtests", r.n_fail, r.n);
        if (strstr(out, "arse error") || !strstr(out, want)) fail_msg("prove, wanting '%s':\n%s", want, out);
    } else {
        print_message("skipping prove: not installed\n");
    }
    remove("test_gradcheck_bad.xml");
    remove("test_gradcheck_bad.tap");
    ad_gc_report_free(&r);
}

/* ---- the command ---- */
/* ---- ties: either subgradient passes, a wrong one does not ---- */
/* max(a, b) with a rule at the tie a == b given by tie_a (the share of the
 * gradient a gets; b gets 1 - tie_a): 1 is the engine's convention, 0.5
 * PyTorch's, 1.5 no subgradient at all. */
static double tie_share;
static ad_status tmax_fwd(ad_node *o)
{
    const double *a = o->in[0]->value.data, *b = o->in[1]->value.data;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)o->value.data)[i] = a[i] >= b[i] ? a[i] : b[i];
    return AD_OK;
}
static double tmax_d(const ad_node *o, int s, int64_t i)
{
    double a = ((const double *)o->in[0]->value.data)[i], b = ((const double *)o->in[1]->value.data)[i];
    double da = a == b ? tie_share : a > b ? 1 : 0;
    return s == 0 ? da : 1 - da;
}
static void tmax_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gi)[i] += tmax_d(o, s, i) * ((const double *)g)[i];
}
AD_VJP_BY_ROWS(tmax_vjp, tmax_vjp1)
static void tmax_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++)
        for (int64_t i = 0; i < o->value.size; i++) {
            double v = 0;
            for (int s = 0; s < 2; s++) {
                const double *t = ad_tangent_row(o->in[s], d);
                if (t) v += tmax_d(o, s, i) * t[i];
            }
            ((double *)ad_tangent_row(o, d))[i] = v;
        }
}
static const ad_op tie_max = {.name = "tie_max", .n_in = 2, .n_in_min = 2, .infer = same_shape,
                              .cpu = {tmax_fwd, tmax_vjp, tmax_jvp}};

static ad_node *call_tie_max(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)user;
    return ad_apply(ctx, &tie_max, in, n, NULL);
}

static ad_node *call_engine_max(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    return user ? ad_min(ctx, in[0], in[1]) : ad_max(ctx, in[0], in[1]);
}

static void test_ties_accept_either_subgradient(void **state)
{
    (void)state;
    int64_t s4[] = {4};
    ad_tensor *a = ad_tensor_new(AD_FLOAT64, 1, s4), *b = ad_tensor_new(AD_FLOAT64, 1, s4);
    const double va[4] = {0.3, -1.2, 0.7, 2}, vb[4] = {0.3, -1.2, 0.1, 2};   /* ties at 0, 1, 3 */
    for (int i = 0; i < 4; i++) {
        ad_tensor_set(a, i, va[i]);
        ad_tensor_set(b, i, vb[i]);
    }
    const ad_tensor *in[2] = {a, b};
    ad_gc_options o;
    ad_gc_default_options(&o);
    /* the engine's max and min (the tie to a) */
    for (int k = 0; k < 2; k++) {
        ad_gc_report r = {0};
        assert_int_equal(ad_gradcheck_fn(k ? "min" : "max", "ties", call_engine_max, k ? (void *)1 : NULL, 2, in, 0, &o, &r),
                         AD_OK);
        assert_int_equal(r.n_fail, 0);
        assert_non_null(strstr(find(&r, AD_GC_JACOBIAN_REV)->message, "at a kink"));
        ad_gc_report_free(&r);
    }
    /* PyTorch's even split passes; 1.5 to a (and -0.5 to b) does not */
    const double share[3] = {1, 0.5, 1.5};
    for (int k = 0; k < 3; k++) {
        tie_share = share[k];
        ad_gc_report r = {0};
        assert_int_equal(ad_gradcheck_fn("tie_max", "ties", call_tie_max, NULL, 2, in, 0, &o, &r), AD_OK);
        if (k < 2) {
            assert_int_equal(r.n_fail, 0);
        } else {
            assert_false(find(&r, AD_GC_JACOBIAN_REV)->pass);
            assert_false(find(&r, AD_GC_JACOBIAN_FWD)->pass);
            assert_close(find(&r, AD_GC_JACOBIAN_REV)->reverse, 1.5, 0);
        }
        ad_gc_report_free(&r);
    }
    /* away from kinks nothing is relaxed: a coarse step on a smooth function
     * (one-sided differences apart by h·f'') still fails, see
     * test_command_exit_codes (exp with --eps 0.1 --atol 0 --rtol 0). */
    ad_tensor_free(a);
    ad_tensor_free(b);
}

static int command(const char *args, char *out, size_t len) { return ad_test_command("GRADCHECK", args, out, len); }

static void test_command_exit_codes(void **state)
{
    (void)state;
    static char out[1 << 20];
    if (!getenv("GRADCHECK")) fail_msg("GRADCHECK (the command's path) is not set; run through meson test");
    assert_int_equal(command("--all", out, sizeof out), 0);
    assert_non_null(strstr(out, " passed, 0 failed"));
    assert_int_equal(command("--op nosuchop", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown op 'nosuchop'; the registered ops are: add"));
    assert_int_equal(command("--op add --shape 2x0", out, sizeof out), 2);
    assert_int_equal(command("--op add --shape 2x3,4x5", out, sizeof out), 2);
    assert_non_null(strstr(out, "do not broadcast"));
    assert_non_null(strstr(out, "default cases are"));
    assert_int_equal(command("--op add --mode sideways", out, sizeof out), 2);
    assert_int_equal(command("", out, sizeof out), 2);
    /* a mismatch: too coarse a step for zero tolerance */
    assert_int_equal(command("--op exp --eps 0.1 --atol 0 --rtol 0", out, sizeof out), 1);
    assert_non_null(strstr(out, "FAIL  exp"));
    assert_non_null(strstr(out, "worst dy"));
    assert_int_equal(command("--op mul --shape 2x3 --format json", out, sizeof out), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    cJSON_Delete(doc);
    assert_int_equal(command("--op sin --shape 2 --print-jacobian", out, sizeof out), 0);
    assert_non_null(strstr(out, "dy[1]/dx0[0]"));
    assert_int_equal(command("--list", out, sizeof out), 0);
    assert_non_null(strstr(out, "sigmoid"));
    assert_non_null(strstr(out, "convention tie-first: max, min: at a tie"));
    /* --axis counts as in NumPy; 'all' is every axis; out of range: the op's message */
    assert_int_equal(command("--op sum --shape 2x3 --axis -1", out, sizeof out), 0);
    assert_non_null(strstr(out, " passed, 0 failed"));
    assert_int_equal(command("--op mean --shape 2x3x2 --axis all", out, sizeof out), 0);
    assert_int_equal(command("--op softmax --shape 3x4 --axis -2", out, sizeof out), 0);
    assert_int_equal(command("--op sum --shape 2x3 --axis -3", out, sizeof out), 2);
    assert_non_null(strstr(out, "sum: axis -3 is out of range for x (2,3) (valid: -2..1"));
    /* an op with a threaded path at a --shape below its thresholds: nothing
     * splits over threads, so that check is "not checked", not a failure */
    assert_int_equal(command("--op relu --shape 3", out, sizeof out), 0);
    assert_non_null(strstr(out, "SKIP  relu [float64] [command line, on 1 and 2+ threads] path-vs-1-thread"));
    assert_non_null(strstr(out, " passed, 0 failed, ")); /* (", 2 not checked"; 1 in a build without OpenMP) */
    assert_int_equal(command("--op conv2d --shape 2x1x5x5", out, sizeof out), 0);
    assert_int_equal(command("--op conv2d_relu --shape 16x3x16x16 --fast", out, sizeof out), 0);
    assert_non_null(strstr(out, "PASS  conv2d_relu [float64] [command line, on 1 and 2+ threads] path-vs-1-thread"));
}

static double power_fn(double x, void *user) { return pow(x, *(const int *)user); }

/* Every stencil on x^d, whose derivative is known exactly: exact for
 * d <= its order, and for d = order + 1 off by exactly its leading error
 * term (central: f'''(x)/6·h² = h² for x³; Richardson: -f⁽⁵⁾(x)/30·h⁴ = -4h⁴
 * for x⁵). A wrong weight fails: the old Richardson weights gave 7/6 of f'. */
static void test_stencils_exact(void **state)
{
    (void)state;
    const double x = 1.5, h = 0.25;
    for (int k = 0; k < AD_GC_N_STENCILS; k++) {
        const ad_gc_stencil *st = ad_gc_stencil_at(k);
        assert_non_null(st);
        if (st->order != 2 && st->order != 4) fail_msg("stencil %s: no known error term for order %d", st->name, st->order);
        double wsum = 0;
        for (int i = 0; i < st->n; i++) wsum += st->weight[i];
        assert_close(wsum, 0, 1e-15);   /* a constant has derivative 0 */
        for (int d = 0; d <= st->order + 1; d++) {
            double truth = d * pow(x, d - 1), got = ad_gc_stencil_apply(st, power_fn, &d, x, h);
            double err = d <= st->order ? 0 : st->order == 2 ? h * h : -4 * pow(h, 4);
            if (fabs(got - truth - err) > 1e-12 * (1 + fabs(truth)))
                fail_msg("stencil %s on x^%d at %g, h %g: %.17g, expected %.17g + %.17g", st->name, d, x, h, got, truth,
                         err);
        }
    }
    ad_gc_options o;
    ad_gc_default_options(&o);
    assert_string_equal(ad_gc_stencil_for(&o)->name, "central");
    o.richardson = true;
    assert_string_equal(ad_gc_stencil_for(&o)->name, "richardson");
    assert_null(ad_gc_stencil_at(AD_GC_N_STENCILS));
}

static ad_node *cube(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    return ad_mul(ctx, ad_mul(ctx, in[0], in[0]), in[0]);
}

/* The stencils through gradcheck itself: x³ at a coarse step h = 0.25 with
 * (almost) zero tolerance. Richardson is exact on a cubic, so it passes; the
 * central difference is off by exactly h². */
static void test_richardson_through_gradcheck(void **state)
{
    (void)state;
    int64_t shape[1] = {2};
    ad_tensor *x = ad_tensor_from(AD_FLOAT64, 1, shape, (double[]){1.5, -0.5});
    for (int rich = 0; rich < 2; rich++) {
        ad_gc_options o;
        ad_gc_default_options(&o);
        o.eps = 0.25;
        o.atol = 1e-12;
        o.rtol = 0;
        o.richardson = rich;
        ad_gc_report r = {0};
        assert_int_equal(ad_gradcheck_fn("cube", "x^3", cube, NULL, 1, (const ad_tensor *const *)&x, 0, &o, &r), AD_OK);
        const ad_gc_record *rev = find(&r, AD_GC_JACOBIAN_REV);
        assert_non_null(rev);
        if (rich) {
            assert_true(rev->pass);
            assert_true(find(&r, AD_GC_JACOBIAN_FWD)->pass);
        } else {
            assert_false(rev->pass);
            assert_close(rev->numerical - rev->reverse, 0.0625, 1e-12);   /* h² exactly */
        }
        ad_gc_report_free(&r);
    }
    ad_tensor_free(x);
}

/* Sizes gradcheck refuses with a way out instead of running for hours. */
/* Records equal but for the time they took. */
static void assert_same_records(const ad_gc_report *a, const ad_gc_report *b, const char *what)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_fail, b->n_fail);
    for (int i = 0; i < a->n; i++) {
        const ad_gc_record *x = &a->rec[i], *y = &b->rec[i];
        double dx[] = {x->max_abs_err, x->max_rel_err, x->x_at_worst, x->numerical, x->reverse, x->forward};
        double dy[] = {y->max_abs_err, y->max_rel_err, y->x_at_worst, y->numerical, y->reverse, y->forward};
        if (x->check != y->check || x->input != y->input || x->pass != y->pass || strcmp(x->worst, y->worst) ||
            strcmp(x->message, y->message) || strcmp(x->case_label, y->case_label) || memcmp(dx, dy, sizeof dx))
            fail_msg("%s: record %d (%s, input %d) differs: worst '%s' vs '%s', '%s' vs '%s'", what, i,
                     ad_gc_check_name(x->check), x->input, x->worst, y->worst, x->message, y->message);
    }
}

/* y = sin x, except that f fails (with a message) once x[7] leaves 1: the
 * numerical Jacobian's column 7, which worker 1 of 3 evaluates. */
static ad_node *sin_unless_x7_moves(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n, (void)user;
    double x7 = ad_value_at(in[0], 7);
    if (x7 != 1.0) {
        ad_fail(AD_ERR_DOMAIN, "test f: x[7] moved to %.17g", x7);
        return NULL;
    }
    return ad_sin(ctx, in[0]);
}

/* Threads change nothing in the report: the same records, bit for bit,
 * for right and wrong rules (the failing entries are made by workers);
 * an error made on a worker thread reaches the record with its message. */
static void test_threads_same_report(void **state)
{
    (void)state;
    /* cases with Jacobians of over 2^15 entries, where the threads start */
    static const ad_op_case big_vec[] = {{"vector (200)", 1, {1}, {{200, 1, 1, 1}}, {.c = 0}}};
    static const ad_op_case big_vec2[] = {{"vectors (200), (200)", 2, {1, 1}, {{200, 1, 1, 1}, {200, 1, 1, 1}}, {.c = 0}}};
    static const ad_op_case big_conv[] = {{"x (2,3,8,8), w (4,3,3,3), b (4)", 3, {4, 4, 1},
                                          {{2, 3, 8, 8}, {4, 3, 3, 3}, {4, 1, 1, 1}}, {.stride = {1, 1}, .pad = {1, 1}}}};
    static const ad_op_case big_mm[] = {{"(20,30)·(30,10)", 2, {2, 2}, {{20, 30, 1, 1}, {30, 10, 1, 1}}, {.c = 0}}};
    struct { const ad_op *op; const ad_op_case *c; } runs[] = {
        {&good_sin, big_vec}, {&bad_sign, big_vec}, {&bad_second_input, big_vec2}, {&bad_block_row0, big_vec},
        {&ad_op_conv2d, big_conv}, {&ad_op_matmul, big_mm},
    };
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++)
        for (int fast = 0; fast < 2; fast++) {
            ad_gc_report r[2] = {{0}, {0}};
            for (int v = 0; v < 2; v++) {
                ad_gc_options o;
                ad_gc_default_options(&o);
                o.fast = fast;
                o.threads = v ? 3 : 1;
                assert_int_equal(ad_gradcheck_op_case(runs[k].op, runs[k].c, &o, &r[v]), AD_OK);
            }
            assert_same_records(&r[0], &r[1], runs[k].op->name);
            assert_int_equal(r[0].n_fail > 0, runs[k].op != &good_sin && runs[k].op != &ad_op_conv2d &&
                                                  runs[k].op != &ad_op_matmul);
            ad_gc_report_free(&r[0]);
            ad_gc_report_free(&r[1]);
        }
    int64_t sh[] = {200};
    ad_tensor *x = ad_tensor_new(AD_FLOAT64, 1, sh);
    for (int i = 0; i < 200; i++) ad_tensor_set(x, i, i == 7 ? 1.0 : 0.01 * i);
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.threads = 3;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_fn("sin", "x[7] fails", sin_unless_x7_moves, NULL, 1, (const ad_tensor *const *)&x, 0,
                                     &o, &r),
                     AD_OK);
    const ad_gc_record *rev = find(&r, AD_GC_JACOBIAN_REV);
    assert_false(rev->pass);
    assert_non_null(strstr(rev->message, "could not run: test f: x[7] moved to 1.00000"));
    ad_gc_report_free(&r);
    ad_tensor_free(x);
    o.threads = 65;
    assert_int_equal(ad_gradcheck_op(&good_sin, &o, &r), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "threads must be 0 to 64"));
}

static void test_size_guard(void **state)
{
    (void)state;
    static char out[1 << 20];   /* --all's report, float32 and float64: ~140 KB */
    const char *cases[][2] = {
        {"--op sin --shape 1000x1000", "use --fast"},
        {"--op sum --shape 4096x4096", "use --fast"},
        {"--op conv2d --padding 64", "use --fast"},
        {"--op sin --shape 2147483648", "more than gradcheck checks"},
        {"--op sin --shape 2147483648 --fast", "more than gradcheck checks"},
        {"--op sin --shape 4611686018427387904x4", "more than gradcheck checks"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = command(cases[i][0], out, sizeof out);
        if (st != 2 || !strstr(out, cases[i][1]))
            fail_msg("gradcheck %s: exit %d (expected 2 and '%s'):\n%s", cases[i][0], st, cases[i][1], out);
    }
    /* --fast at a size the full check refuses runs, and passes */
    assert_int_equal(command("--op sin --shape 1000x1000 --fast", out, sizeof out), 0);
    assert_non_null(strstr(out, " passed, 0 failed"));
    /* and the Richardson stencil passes every registered op */
    assert_int_equal(command("--all --richardson", out, sizeof out), 0);
    assert_non_null(strstr(out, " passed, 0 failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_correct_op_passes), cmocka_unit_test(test_sign_flip),
        cmocka_unit_test(test_missing_factor_2), cmocka_unit_test(test_overwrite_instead_of_accumulate),
        cmocka_unit_test(test_wrong_rule_for_one_of_two_inputs),
        cmocka_unit_test(test_jvp_disagrees_with_vjp), cmocka_unit_test(test_wrong_index_in_reduction),
        cmocka_unit_test(test_fast_mode_catches_too), cmocka_unit_test(test_registered_ops_over_100_seeds),
        cmocka_unit_test(test_formats_with_bad_text), cmocka_unit_test(test_agree_rule),
        cmocka_unit_test(test_block_with_infinities),
        cmocka_unit_test(test_block_mistakes_caught_in_every_mode), cmocka_unit_test(test_threads_same_report),
        cmocka_unit_test(test_batch_items),
        cmocka_unit_test(test_formats), cmocka_unit_test(test_command_exit_codes),
        cmocka_unit_test(test_ties_accept_either_subgradient),
        cmocka_unit_test(test_stencils_exact), cmocka_unit_test(test_richardson_through_gradcheck),
        cmocka_unit_test(test_size_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
