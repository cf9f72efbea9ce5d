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
    ad_context_free(ctx);
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

int test_ops_pins_cases(void);   /* test_ops_pins_cases.c */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcast_make_strides),
        cmocka_unit_test(test_bcast_make_reads_its_shape_only),
        cmocka_unit_test(test_bcast_shape),
        cmocka_unit_test(test_dtype_checks),
        cmocka_unit_test(test_matmul_batch_message),
        cmocka_unit_test(test_pool_params),
    };
    int failed = cmocka_run_group_tests_name("ops pins: broadcasting and shape rules", tests, NULL, NULL);
    return failed + test_ops_pins_cases();
}
