/* test_ops_pins.c: what gradcheck --all cannot see in the ops, pinned with
 * exact values and exact messages:
 *   - broadcasting's helpers (ad_bcast_make, ad_bcast_shape): the strides of
 *     all four dims, the equal-shapes shortcut, the shape, the message;
 *   - the dtype and batch-dim checks of the shape rules (add, linear's bias,
 *     cross_entropy's targets and weights, matmul), and pooling's params;
 *   - complete_case (gradcheck --op X --shape S fills in the other inputs);
 *   - cross_entropy's sample_input (gradcheck's targets: class indices, the
 *     first never ignored, the others sometimes, at least one);
 *   - two kernel contracts no gradcheck input reaches: a jvp SETS its
 *     tangent (ad_op.h; the engine hands it zeroed memory, so only a direct
 *     call with a dirty buffer can tell), and max-pool's vjp without a kept
 *     argmax (taken for planes of more than 2^31 elements) routes as the
 *     kept one does.
 * White box: ad_kernel.h (the node's tangent and saved data), the ops'
 * tables through ad_op_find. Expected numbers are small integers: exact. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"
#include "ad_kernel_util.h"

static const ad_op *op_named(const char *name)
{
    const ad_op *op = ad_op_find(name);
    if (!op) fail_msg("no op %s", name);
    return op;
}

static void assert_i64s(const int64_t *got, const int64_t *want, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("%s[%d] = %lld, expected %lld", what, i, (long long)got[i], (long long)want[i]);
}

/* ---- broadcasting ---- */

/* a (2,3,1,2) with b (3,4,1) onto (2,3,4,2): every dim's stride, the
 * first dim's too (AD_BCAST_FOR's i0), from a bc full of junk. a's strides
 * in its own layout are (6,2,2,1), 0 where it is stretched (dim 2); b's
 * (-,4,1,1), 0 along its padded dim 0 and its stretched dim 3. */
static void test_bcast_make_strides(void **state)
{
    (void)state;
    ad_tensor *a = ad_tensor_new(AD_FLOAT64, 4, (const int64_t[]){2, 3, 1, 2});
    ad_tensor *b = ad_tensor_new(AD_FLOAT64, 3, (const int64_t[]){3, 4, 1});
    ad_bcast bc;
    memset(&bc, 0x5a, sizeof bc);
    ad_bcast_make(a, b, 4, (const int64_t[]){2, 3, 4, 2}, &bc);
    assert_false(bc.same);
    assert_i64s(bc.n, (const int64_t[]){2, 3, 4, 2}, 4, "n");
    assert_i64s(bc.sa, (const int64_t[]){6, 2, 0, 1}, 4, "sa");
    assert_i64s(bc.sb, (const int64_t[]){0, 4, 1, 0}, 4, "sb");
    ad_tensor_free(a);
    ad_tensor_free(b);
}

/* a (2,1) with b (1,2): the same count of elements (2), but not the
 * output's (4), so not the equal-shapes shortcut. The shape is read from
 * shape[0..nd-1] only: the number before it (1, here) must not count. */
static void test_bcast_make_reads_its_shape_only(void **state)
{
    (void)state;
    ad_tensor *a = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){2, 1});
    ad_tensor *b = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){1, 2});
    const int64_t buf[] = {1, 2, 2, 1};
    ad_bcast bc;
    memset(&bc, 0x5a, sizeof bc);
    ad_bcast_make(a, b, 2, buf + 1, &bc);
    assert_false(bc.same);
    assert_i64s(bc.n, (const int64_t[]){1, 1, 2, 2}, 4, "n");
    assert_i64s(bc.sa, (const int64_t[]){2, 2, 1, 0}, 4, "sa");
    assert_i64s(bc.sb, (const int64_t[]){2, 2, 0, 1}, 4, "sb");
    /* equal shapes: the shortcut, all the elements in n[0] */
    ad_tensor *c = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){2, 3});
    memset(&bc, 0x5a, sizeof bc);
    ad_bcast_make(c, c, 2, (const int64_t[]){2, 3}, &bc);
    assert_true(bc.same);
    assert_i64s(bc.n, (const int64_t[]){6, 1, 1, 1}, 4, "n");
    ad_tensor_free(a);
    ad_tensor_free(b);
    ad_tensor_free(c);
}

static void expect_bcast(const int64_t *sa, int na, const int64_t *sb, int nb, const int64_t *want, int nw)
{
    ad_tensor *a = ad_tensor_new(AD_FLOAT64, na, sa), *b = ad_tensor_new(AD_FLOAT64, nb, sb);
    int nd = -1;
    int64_t shape[AD_MAX_DIMS] = {-7, -7, -7, -7};
    assert_int_equal(ad_bcast_shape("add", a, b, &nd, shape), AD_OK);
    assert_int_equal(nd, nw);
    assert_i64s(shape, want, nw, "shape");
    ad_tensor_free(a);
    ad_tensor_free(b);
}

static void test_bcast_shape(void **state)
{
    (void)state;
    expect_bcast((const int64_t[]){2, 1, 3}, 3, (const int64_t[]){4, 1}, 2, (const int64_t[]){2, 4, 3}, 3);
    expect_bcast((const int64_t[]){4, 1}, 2, (const int64_t[]){2, 1, 3}, 3, (const int64_t[]){2, 4, 3}, 3);
    expect_bcast((const int64_t[]){5, 1, 1, 2}, 4, (const int64_t[]){3, 1}, 2, (const int64_t[]){5, 1, 3, 2}, 4);
    expect_bcast((const int64_t[]){1, 7}, 2, (const int64_t[]){6, 1}, 2, (const int64_t[]){6, 7}, 2);
    expect_bcast(NULL, 0, (const int64_t[]){3}, 1, (const int64_t[]){3}, 1);
    /* the failing dim counted from the end, and both its sizes */
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_variable(ctx, AD_FLOAT64, 3, (const int64_t[]){2, 3, 5}, NULL);
    ad_node *b = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){4, 5}, NULL);
    assert_null(ad_add(ctx, a, b));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "add: shapes (2,3,5) and (4,5) do not broadcast (dim -2: 3 vs 4)");
    ad_context_free(ctx);
}

/* ---- the shape rules' checks ---- */
static void test_dtype_checks(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *f32 = ad_variable(ctx, AD_FLOAT32, 2, (const int64_t[]){2, 3}, NULL);
    ad_node *f64 = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, NULL);
    assert_null(ad_mul(ctx, f32, f64));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(),
                        "mul: inputs have different dtypes: float32 (2,3) and float64 (3) (convert one first)");
    /* matmul: a float32 matrix times a float64 one */
    ad_node *m64 = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){3, 2}, NULL);
    assert_null(ad_matmul(ctx, f32, m64));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(),
                        "matmul: inputs have different dtypes: float32 (2,3) and float64 (3,2) (convert one first)");
    /* linear: x and w agree, the bias does not */
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){1, 2}, NULL);
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){3, 2}, NULL);
    ad_node *b32 = ad_variable(ctx, AD_FLOAT32, 1, (const int64_t[]){3}, NULL);
    assert_null(ad_linear(ctx, x, w, b32));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(),
                        "linear: inputs have different dtypes: float64 (1,2) and float32 (3) (convert one first)");
    /* cross_entropy: targets, then class weights, of another dtype than the logits */
    ad_node *logits = ad_variable(ctx, AD_FLOAT32, 2, (const int64_t[]){2, 3}, NULL);
    ad_node *t64 = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){0, 2});
    ad_node *t32 = ad_constant(ctx, AD_FLOAT32, 1, (const int64_t[]){2}, (const double[]){0, 2});
    ad_node *w64 = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, 1});
    ad_params p = {.reduction = AD_REDUCE_MEAN, .ignore_index = -1};
    const ad_op *ce = op_named("cross_entropy");
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, t64}, 2, &p));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(),
                        "cross_entropy: inputs have different dtypes: float32 (2,3) and float64 (2) (convert one first)");
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, t32, w64}, 3, &p));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(),
                        "cross_entropy: inputs have different dtypes: float32 (2,3) and float64 (3) (convert one first)");
    /* matmul: a 0-d input either side is refused by name (a scalar product is mul's) */
    ad_node *s0 = ad_variable(ctx, AD_FLOAT64, 0, NULL, NULL);
    assert_null(ad_matmul(ctx, m64, s0));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "matmul: needs at least 1-d inputs, got a (3,2) and b () (for a scalar use mul)");
    assert_null(ad_matmul(ctx, s0, m64));
    assert_string_equal(ad_last_error(), "matmul: needs at least 1-d inputs, got a () and b (3,2) (for a scalar use mul)");
    /* mse: a float32 prediction against a float64 target */
    ad_node *target = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3}, NULL);
    assert_null(ad_apply(ctx, op_named("mse"), (ad_node *[]){f32, target}, 2, NULL));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(),
                        "mse: inputs have different dtypes: float32 (2,3) and float64 (2,3) (convert one first)");
    ad_context_free(ctx);
}

/* cross_entropy's targets must be (N) for logits (N,C): a 1-d list of
 * another length is refused as a 2-d one is; targets or class weights that
 * require grad are refused by name (they are data); each target must be a
 * class index, each target's class weight not negative. */
static void test_cross_entropy_targets(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *logits = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3}, NULL);
    ad_node *t3 = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){0, 2, 1});
    ad_node *t2x1 = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 1}, (const double[]){0, 2});
    ad_node *tvar = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){0, 2});
    ad_node *t = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){0, 2});
    ad_node *wvar = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, 1});
    ad_params p = {.reduction = AD_REDUCE_MEAN, .ignore_index = -1};
    const ad_op *ce = op_named("cross_entropy");
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, t3}, 2, &p));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "cross_entropy: targets (3) must be (N) = (2) for logits (2,3)");
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, t2x1}, 2, &p));
    assert_string_equal(ad_last_error(), "cross_entropy: targets (2,1) must be (N) = (2) for logits (2,3)");
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, tvar}, 2, &p));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    assert_string_equal(ad_last_error(),
                        "cross_entropy: the targets must be a constant (they are data, not differentiable)");
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, t, wvar}, 3, &p));
    assert_string_equal(ad_last_error(),
                        "cross_entropy: the class weights must be a constant (they are data, not differentiable)");
    assert_non_null(ad_apply(ctx, ce, (ad_node *[]){logits, t}, 2, &p));
    /* a target that is not a class index (not whole, negative but not the
     * ignored -1, NaN) is refused, naming it and its place; so is a
     * negative class weight of a target's class */
    const double bad[3] = {1.5, -2, NAN};
    const char *said[3] = {"cross_entropy: target 1.5 at [1] is not a class index in 0..2",
                           "cross_entropy: target -2 at [1] is not a class index in 0..2",
                           "cross_entropy: target nan at [1] is not a class index in 0..2"};
    for (int k = 0; k < 3; k++) {
        ad_node *tb = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){0, bad[k]});
        assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, tb}, 2, &p));
        assert_int_equal(ad_last_status(), AD_ERR_ARG);
        assert_string_equal(ad_last_error(), said[k]);
    }
    ad_node *wneg = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, -1});
    assert_null(ad_apply(ctx, ce, (ad_node *[]){logits, t, wneg}, 3, &p));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    assert_string_equal(ad_last_error(), "cross_entropy: class weight -1 of class 2 is negative");
    ad_context_free(ctx);
}

/* Forward values at broadcasts gradcheck cannot judge: a forward that is
 * wrong the same way its derivatives are passes every Jacobian check, so
 * these are computed here from the definitions. mse(a, b) with the
 * prediction a (4) broadcast against b (3,4): mean over 12 of (a_j − b_ij)²;
 * matmul with two batch dims, (2,3,2,4)·(2,3,4,2): each of the 6 batches
 * its own 2×4 by 4×2 product. */
static void test_forward_values_at_broadcasts(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    double av[4] = {1, -2, 3, 0.5}, bv[12], want = 0;
    for (int i = 0; i < 12; i++) bv[i] = 0.25 * i - 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) want += (av[j] - bv[i * 4 + j]) * (av[j] - bv[i * 4 + j]) / 12;
    ad_node *a = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, av);
    ad_node *b = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){3, 4}, bv);
    ad_node *m = ad_mse(ctx, a, b);
    assert_non_null(m);
    assert_close(ad_value_scalar(m), want, 1e-14 * fabs(want));

    double x[48], y[48];
    for (int i = 0; i < 48; i++) x[i] = (i % 7) - 3, y[i] = (i % 5) - 2;
    ad_node *xa = ad_constant(ctx, AD_FLOAT64, 4, (const int64_t[]){2, 3, 2, 4}, x);
    ad_node *yb = ad_constant(ctx, AD_FLOAT64, 4, (const int64_t[]){2, 3, 4, 2}, y);
    ad_node *p = ad_matmul(ctx, xa, yb);
    assert_non_null(p);
    ad_tensor v = ad_value(p);
    assert_int_equal(v.ndim, 4);
    assert_i64s(v.shape, (const int64_t[]){2, 3, 2, 2}, 4, "matmul's shape");
    for (int bt = 0; bt < 6; bt++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                double sum = 0;   /* small integers: exact */
                for (int k = 0; k < 4; k++) sum += x[bt * 8 + i * 4 + k] * y[bt * 8 + k * 2 + j];
                assert_close(ad_value_at(p, bt * 4 + i * 2 + j), sum, 0);
            }
    /* a plain (2,4) matrix against b with two batch dims (2,3,4,2): a is
     * broadcast over both, (2,3,2,2), each batch x[0..8)·b's batch */
    ad_node *xm = ad_constant(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 4}, x);
    ad_node *q = ad_matmul(ctx, xm, yb);
    if (!q) fail_msg("%s", ad_last_error());
    assert_i64s(ad_value(q).shape, (const int64_t[]){2, 3, 2, 2}, 4, "matmul's shape, a broadcast");
    for (int bt = 0; bt < 6; bt++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                double sum = 0;
                for (int k = 0; k < 4; k++) sum += x[i * 4 + k] * y[bt * 8 + k * 2 + j];
                assert_close(ad_value_at(q, bt * 4 + i * 2 + j), sum, 0);
            }
    ad_context_free(ctx);
}

/* max-pool's forward where the window or the stride is 2 in one direction
 * only (or 3 in the other), which must not take the 2x2 stride-2 kernel: every output the max of
 * its window, in both dtypes, recorded (the forward keeps its argmax then). */
static void test_maxpool_forward_uneven_strides(void **state)
{
    (void)state;
    const ad_op *mp = op_named("maxpool2d");
    static const struct {
        int64_t wh, ww, sh, sw, H, W;
    } cfg[] = {{2, 2, 1, 2, 5, 6}, {2, 2, 2, 1, 6, 5}, {2, 3, 2, 2, 6, 7}, {3, 2, 2, 2, 7, 6},
               {2, 2, 3, 2, 8, 5}, {2, 2, 2, 3, 5, 8}};
    for (int dt = 0; dt < 2; dt++)
        for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
            int64_t H = cfg[k].H, W = cfg[k].W, sh = cfg[k].sh, sw = cfg[k].sw, wh = cfg[k].wh, ww = cfg[k].ww;
            int64_t P = (H - wh) / sh + 1, Q = (W - ww) / sw + 1;
            double xv[42];
            for (int i = 0; i < 42; i++) xv[i] = (i * 7) % 11 - 5;   /* small integers */
            ad_context *ctx = ad_context_new();
            ad_node *x = ad_variable(ctx, dt ? AD_FLOAT32 : AD_FLOAT64, 4, (const int64_t[]){1, 1, H, W}, xv);
            ad_params p = {.window = {wh, ww}, .stride = {sh, sw}};
            ad_node *y = ad_apply(ctx, mp, (ad_node *[]){x}, 1, &p);
            assert_non_null(y);
            for (int64_t r = 0; r < P; r++)
                for (int64_t c = 0; c < Q; c++) {
                    double m = -INFINITY;
                    for (int64_t a = 0; a < wh; a++)
                        for (int64_t b = 0; b < ww; b++) m = fmax(m, xv[(r * sh + a) * W + c * sw + b]);
                    if (ad_value_at(y, r * Q + c) != m)
                        fail_msg("window (%lld,%lld) stride (%lld,%lld), %s: y[%lld,%lld] = %g, the window's max %g",
                                 (long long)wh, (long long)ww, (long long)sh, (long long)sw, dt ? "float32" : "float64",
                                 (long long)r, (long long)c, ad_value_at(y, r * Q + c), m);
                }
            ad_context_free(ctx);
        }
}

static void test_matmul_batch_message(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){2, 3, 4, 5}, NULL);
    ad_node *b = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){4, 3, 5, 2}, NULL);
    assert_null(ad_matmul(ctx, a, b));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "matmul: the batch dims of a (2,3,4,5) and b (4,3,5,2) do not broadcast (2 vs 4)");
    ad_context_free(ctx);
}

/* linear checks w's dtype (and b's) against x's: a float32 w under a
 * float64 x is refused by name, not read as float64. */
static void test_linear_dtypes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3}, NULL);
    ad_node *w = ad_variable(ctx, AD_FLOAT32, 2, (const int64_t[]){4, 3}, NULL);
    ad_node *w64 = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){4, 3}, NULL);
    ad_node *b = ad_variable(ctx, AD_FLOAT32, 1, (const int64_t[]){4}, NULL);
    assert_null(ad_linear(ctx, x, w, NULL));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_string_equal(ad_last_error(), "linear: inputs have different dtypes: float64 (2,3) and float32 (4,3) (convert one first)");
    assert_null(ad_linear(ctx, x, w64, b));
    assert_string_equal(ad_last_error(), "linear: inputs have different dtypes: float64 (2,3) and float32 (4) (convert one first)");
    ad_clear_error();
    ad_context_free(ctx);
}

/* Pooling's params, each of the four at 0 alone, and a window larger than
 * x in one dim only (rows, then columns). */
static void expect_pool_error(const ad_params *p, ad_status st, const char *msg)
{
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){1, 1, 3, 5}, NULL);
    assert_null(ad_apply(ctx, op_named("maxpool2d"), &x, 1, p));
    assert_int_equal(ad_last_status(), st);
    assert_string_equal(ad_last_error(), msg);
    ad_context_free(ctx);
}

static void test_pool_params(void **state)
{
    (void)state;
    expect_pool_error(&(ad_params){.window = {0, 3}, .stride = {2, 5}}, AD_ERR_ARG,
                      "maxpool2d: window (0,3) and stride (2,5) must be >= 1");
    expect_pool_error(&(ad_params){.window = {2, 0}, .stride = {4, 5}}, AD_ERR_ARG,
                      "maxpool2d: window (2,0) and stride (4,5) must be >= 1");
    expect_pool_error(&(ad_params){.window = {2, 3}, .stride = {0, 5}}, AD_ERR_ARG,
                      "maxpool2d: window (2,3) and stride (0,5) must be >= 1");
    expect_pool_error(&(ad_params){.window = {2, 3}, .stride = {4, 0}}, AD_ERR_ARG,
                      "maxpool2d: window (2,3) and stride (4,0) must be >= 1");
    expect_pool_error(&(ad_params){.window = {4, 2}, .stride = {1, 1}}, AD_ERR_SHAPE,
                      "maxpool2d: the 4x2 window is larger than the input x (1,1,3,5)");
    expect_pool_error(&(ad_params){.window = {2, 6}, .stride = {1, 1}}, AD_ERR_SHAPE,
                      "maxpool2d: the 2x6 window is larger than the input x (1,1,3,5)");
    /* window 3x5 fits exactly: one output */
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, (const int64_t[]){1, 1, 3, 5}, NULL);
    ad_params p = {.window = {3, 5}, .stride = {1, 1}};
    ad_node *y = ad_apply(ctx, op_named("avgpool2d"), &x, 1, &p);
    assert_non_null(y);
    assert_int_equal(ad_value(y).size, 1);
    ad_context_free(ctx);
}

int test_ops_pins_cases(void);    /* test_ops_pins_cases.c */
int test_ops_pins_values(void);   /* test_ops_pins_values.c */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcast_make_strides),
        cmocka_unit_test(test_bcast_make_reads_its_shape_only),
        cmocka_unit_test(test_bcast_shape),
        cmocka_unit_test(test_dtype_checks),
        cmocka_unit_test(test_cross_entropy_targets),
        cmocka_unit_test(test_forward_values_at_broadcasts),
        cmocka_unit_test(test_maxpool_forward_uneven_strides),
        cmocka_unit_test(test_matmul_batch_message),
        cmocka_unit_test(test_linear_dtypes),
        cmocka_unit_test(test_pool_params),
    };
    int failed = cmocka_run_group_tests_name("ops pins: broadcasting and shape rules", tests, NULL, NULL);
    return failed + test_ops_pins_cases() + test_ops_pins_values();
}
