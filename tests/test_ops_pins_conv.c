/* test_ops_pins_conv.c: conv2d's edges that gradcheck --all and test_nn_ops
 * let through, each pinned with exact values and messages:
 *   - its shape rule's checks of stride and padding, one bad number at a
 *     time, and the message of a kernel larger than the padded input when
 *     the kernel is not square;
 *   - complete_case (gradcheck --op conv2d --shape ...): w and b derived
 *     from x's shape, K, R, S kept where w is given as 4-d;
 *   - conv2d_relu's kink_gap: the least |pre-activation|, 0 where one is NaN
 *     (and kink_dist element by element: test_ops_pins_conv_kinks.c);
 *   - a convolution whose im2col scratch cannot be allocated: out of memory
 *     by name, not a kernel writing through a null column buffer;
 *   - the forward's columns are kept for dw while the batch's take at most
 *     KEPT_COLS_MAX (8 MB): at exactly 8 MB they are in the arena.
 * Expected numbers come from the definitions (small binary fractions: exact
 * in float32 and float64). White box where it must be: ad_kernel.h, since
 * kink_gap is given the node (ad_node_of). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "ad_test_ref.h"
#include "autodidact.h"
#include "ad_kernel.h"

static ad_node *var4(ad_context *ctx, ad_dtype d, int64_t a, int64_t b, int64_t c, int64_t e)
{
    return ad_variable(ctx, d, 4, (const int64_t[]){a, b, c, e}, NULL);
}

/* ---- the shape rule ---- */

/* Each of stride (h, w) >= 1 and padding (h, w) >= 0 is checked on its own:
 * one bad number, the others good, is refused, naming all four. Padding 0
 * and stride 1 are allowed (the bounds are inclusive), and a good call's
 * output is P = (H + 2·ph - R)/sh + 1, Q likewise. */
static void test_stride_and_padding_each_checked(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = var4(ctx, AD_FLOAT64, 2, 3, 9, 8), *w = var4(ctx, AD_FLOAT64, 4, 3, 3, 3);
    static const struct {
        int stride[2], pad[2];
        const char *msg;
    } bad[] = {
        {{0, 1}, {0, 0}, "conv2d: stride (0,1) must be >= 1 and padding (0,0) >= 0"},
        {{1, 0}, {0, 0}, "conv2d: stride (1,0) must be >= 1 and padding (0,0) >= 0"},
        {{1, 1}, {-1, 0}, "conv2d: stride (1,1) must be >= 1 and padding (-1,0) >= 0"},
        {{1, 1}, {0, -1}, "conv2d: stride (1,1) must be >= 1 and padding (0,-1) >= 0"},
        {{-2, 3}, {1, 1}, "conv2d: stride (-2,3) must be >= 1 and padding (1,1) >= 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(ad_conv2d_ex(ctx, x, w, NULL, bad[i].stride, bad[i].pad));
        assert_error(AD_ERR_ARG, bad[i].msg);
    }
    ad_node *y = ad_conv2d_ex(ctx, x, w, NULL, (const int[]){1, 1}, (const int[]){0, 0});
    assert_non_null(y);
    ad_tensor v = ad_value(y);
    assert_int_equal(v.ndim, 4);
    assert_int_equal(v.shape[0], 2), assert_int_equal(v.shape[1], 4);
    assert_int_equal(v.shape[2], 7), assert_int_equal(v.shape[3], 6);
    y = ad_conv2d_ex(ctx, x, w, NULL, (const int[]){2, 3}, (const int[]){1, 2});
    assert_non_null(y);
    v = ad_value(y);
    assert_int_equal(v.shape[2], 5);   /* (9 + 2 - 3)/2 + 1 */
    assert_int_equal(v.shape[3], 4);   /* (8 + 4 - 3)/3 + 1 */
    ad_context_free(ctx);
}

/* A 9x5 kernel over an 8x8 input: the message gives R x S in that order. */
static void test_kernel_too_large_names_r_then_s(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = var4(ctx, AD_FLOAT64, 2, 3, 8, 8), *w = var4(ctx, AD_FLOAT64, 4, 3, 9, 5);
    assert_null(ad_conv2d_ex(ctx, x, w, NULL, (const int[]){1, 1}, (const int[]){0, 0}));
    assert_error(AD_ERR_SHAPE, "conv2d: the 9x5 kernel of w (4,3,9,5) is larger than the padded input x (2,3,8,8) (pad 0,0)");
    w = var4(ctx, AD_FLOAT64, 4, 3, 5, 10);
    assert_null(ad_conv2d_ex(ctx, x, w, NULL, (const int[]){1, 1}, (const int[]){1, 0}));
    assert_error(AD_ERR_SHAPE, "conv2d: the 5x10 kernel of w (4,3,5,10) is larger than the padded input x (2,3,8,8) (pad 1,0)");
    ad_context_free(ctx);
}

/* x and w must both be 4-d: either one alone not, the other 4-d, is refused
 * naming both shapes (a 3-d x read as 4-d would take a shape it lacks). */
static void test_x_and_w_each_4d(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x3 = ad_variable(ctx, AD_FLOAT64, 3, (const int64_t[]){3, 8, 8}, NULL);
    ad_node *x = var4(ctx, AD_FLOAT64, 2, 3, 8, 8), *w = var4(ctx, AD_FLOAT64, 4, 3, 3, 3);
    ad_node *w3 = ad_variable(ctx, AD_FLOAT64, 3, (const int64_t[]){3, 3, 3}, NULL);
    assert_null(ad_conv2d(ctx, x3, w, NULL, 1, 0));
    assert_error(AD_ERR_SHAPE, "conv2d: input x (3,8,8) must be (N,C,H,W) and weight w (4,3,3,3) (K,C,R,S)");
    assert_null(ad_conv2d(ctx, x, w3, NULL, 1, 0));
    assert_error(AD_ERR_SHAPE, "conv2d: input x (2,3,8,8) must be (N,C,H,W) and weight w (3,3,3) (K,C,R,S)");
    ad_context_free(ctx);
}

/* The forward against the definition, y[n,k,p,q] = b[k] + Σ_{c,r,s}
 * w[k,c,r,s]·x[n,c,p·sh − ph + r, q·sw − pw + s] (0 outside x), where stride
 * and padding differ between rows and columns: a kernel that took one for
 * the other would be wrong in its forward and its derivatives alike, which
 * gradcheck's Jacobians cannot tell (they agree with the wrong forward).
 * Small integers: exact in float32 and float64. */
static void test_forward_by_definition(void **state)
{
    (void)state;
    static const struct {
        int64_t H, W, R, S;
        int st[2], pd[2];
    } cfg[] = {{6, 5, 3, 2, {2, 1}, {1, 0}}, {5, 6, 2, 3, {1, 2}, {0, 1}}, {7, 6, 3, 3, {3, 2}, {2, 1}},
               /* a kernel wider (taller) than the image, stride 2: its last tap lies one past the
                * padded image's last column (row) for every output, W - 1 + pad - s = -1 */
               {3, 2, 1, 4, {1, 2}, {0, 1}}, {2, 3, 4, 1, {2, 1}, {1, 0}}};
    for (int dt = 0; dt < 2; dt++)
        for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
            int64_t N = 2, C = 2, K = 2, H = cfg[k].H, W = cfg[k].W, R = cfg[k].R, S = cfg[k].S;
            int sh = cfg[k].st[0], sw = cfg[k].st[1], ph = cfg[k].pd[0], pw = cfg[k].pd[1];
            int64_t P = (H + 2 * ph - R) / sh + 1, Q = (W + 2 * pw - S) / sw + 1;
            double xv[2 * 2 * 7 * 6], wv[2 * 2 * 3 * 3], bv[2] = {1, -2};
            for (int i = 0; i < N * C * H * W; i++) xv[i] = (i * 5) % 7 - 3;
            for (int i = 0; i < K * C * R * S; i++) wv[i] = (i * 3) % 5 - 2;
            ad_dtype type = dt ? AD_FLOAT32 : AD_FLOAT64;
            ad_context *ctx = ad_context_new();
            ad_node *x = ad_variable(ctx, type, 4, (const int64_t[]){N, C, H, W}, xv);
            ad_node *w = ad_variable(ctx, type, 4, (const int64_t[]){K, C, R, S}, wv);
            ad_node *b = ad_variable(ctx, type, 1, (const int64_t[]){K}, bv);
            ad_node *y = ad_conv2d_ex(ctx, x, w, b, cfg[k].st, cfg[k].pd);
            assert_non_null(y);
            double want[2 * 2 * 7 * 6];
            ad_test_conv2d_ref(xv, wv, bv, want, N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q);
            for (int64_t i = 0; i < N * K * P * Q; i++)
                if (ad_value_at(y, i) != want[i])
                    fail_msg("stride (%d,%d) pad (%d,%d), %s: y[%lld] = %g, by the definition %g", sh, sw, ph, pw,
                             dt ? "float32" : "float64", (long long)i, ad_value_at(y, i), want[i]);
            ad_context_free(ctx);
        }
}

/* Every input's dtype is checked against x's: w, and the bias too. */
static void test_bias_dtype_checked(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = var4(ctx, AD_FLOAT64, 1, 2, 5, 5), *w = var4(ctx, AD_FLOAT64, 3, 2, 3, 3);
    ad_node *b32 = ad_variable(ctx, AD_FLOAT32, 1, (const int64_t[]){3}, NULL);
    assert_null(ad_conv2d(ctx, x, w, b32, 1, 0));
    assert_error(AD_ERR_DTYPE, "conv2d: inputs have different dtypes: float64 (1,2,5,5) and float32 (3) (convert one first)");
    ad_context_free(ctx);
}

/* conv2d's jvp SETS its tangent (ad_op.h): over a tangent full of 1e6 it
 * leaves what it left over the engine's zeroed one. x (1,1,3,3) with a
 * tangent, w (1,1,2,2) of ones: ty[p,q] = the sum of tx's 2x2 window; then
 * a tangent with exact zeros in its result. */
static void test_jvp_sets(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        ad_dtype type = dt ? AD_FLOAT32 : AD_FLOAT64;
        ad_context *ctx = ad_context_new();
        assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
        ad_node *x = ad_variable(ctx, type, 4, (const int64_t[]){1, 1, 3, 3}, NULL);
        ad_node *w = ad_constant(ctx, type, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){1, 1, 1, 1});
        assert_int_equal(ad_set_tangent(x, 0, (const double[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 0), AD_OK);
        ad_node *y = ad_conv2d(ctx, x, w, NULL, 1, 0);
        assert_non_null(y);
        const double want[4] = {12, 16, 24, 28};
        ad_test_jvp_sets(y, "conv2d", want, 4);
        /* a tangent on pixel (0,0) only: it lies in window (0,0) alone, so
         * three outputs' tangents are exactly 0 (a sum started anywhere but
         * at 0, even 1e-304, shows there) */
        ad_node *x1 = ad_variable(ctx, type, 4, (const int64_t[]){1, 1, 3, 3}, NULL);
        assert_int_equal(ad_set_tangent(x1, 0, (const double[]){1, 0, 0, 0, 0, 0, 0, 0, 0}, 0), AD_OK);
        ad_node *y1 = ad_conv2d(ctx, x1, w, NULL, 1, 0);
        assert_non_null(y1);
        ad_test_jvp_sets(y1, "conv2d", (const double[]){1, 0, 0, 0}, 4);
        ad_context_free(ctx);
    }
}

/* ---- complete_case ---- */

static void assert_shape(const int64_t *got, int64_t a, int64_t b, int64_t c, int64_t d)
{
    assert_int_equal(got[0], a), assert_int_equal(got[1], b), assert_int_equal(got[2], c), assert_int_equal(got[3], d);
}

/* x alone (w not 4-d): w (4, C, 3, 3) and b (4); x and the params as given. */
static void test_complete_case_from_x_alone(void **state)
{
    (void)state;
    for (int op = 0; op < 2; op++) {
        const ad_op *o = op ? &ad_op_conv2d_relu : &ad_op_conv2d;
        ad_op_case c;
        memset(&c, 0, sizeof c);
        c.label = "command line";
        c.n_in = 1;
        c.ndim[0] = 4;
        c.shape[0][0] = 2, c.shape[0][1] = 5, c.shape[0][2] = 8, c.shape[0][3] = 6;
        c.params.stride[0] = 2, c.params.stride[1] = 1, c.params.pad[0] = 1, c.params.pad[1] = 0;
        ad_op_case before = c;
        assert_int_equal(o->complete_case(&c), AD_OK);
        assert_int_equal(c.n_in, 3);
        assert_int_equal(c.ndim[0], 4), assert_int_equal(c.ndim[1], 4), assert_int_equal(c.ndim[2], 1);
        assert_shape(c.shape[0], 2, 5, 8, 6);
        assert_shape(c.shape[1], 4, 5, 3, 3);
        assert_shape(c.shape[2], 4, 0, 0, 0);
        assert_memory_equal(&c.params, &before.params, sizeof c.params);
        assert_string_equal(c.label, "command line");
    }
}

/* w given as 4-d (gradcheck starts from the first default case, whose w is
 * (4,3,3,3), and --kernel sets R and S): K, R, S kept, C taken from x, b (K)
 * whatever b was. */
static void test_complete_case_keeps_k_r_s(void **state)
{
    (void)state;
    ad_op_case c;
    memset(&c, 0, sizeof c);
    c.n_in = 3;
    c.ndim[0] = 4, c.ndim[1] = 4, c.ndim[2] = 4;
    c.shape[0][0] = 3, c.shape[0][1] = 2, c.shape[0][2] = 7, c.shape[0][3] = 9;
    c.shape[1][0] = 5, c.shape[1][1] = 7, c.shape[1][2] = 2, c.shape[1][3] = 4;   /* S not the default 3 */
    c.shape[2][0] = 9, c.shape[2][1] = 8, c.shape[2][2] = 6, c.shape[2][3] = 1;
    c.params.stride[0] = c.params.stride[1] = 1;
    ad_op_case before = c;
    assert_int_equal(ad_op_conv2d.complete_case(&c), AD_OK);
    assert_int_equal(c.n_in, 3);
    assert_int_equal(c.ndim[0], 4), assert_int_equal(c.ndim[1], 4), assert_int_equal(c.ndim[2], 1);
    assert_shape(c.shape[0], 3, 2, 7, 9);
    assert_shape(c.shape[1], 5, 2, 2, 4);
    assert_shape(c.shape[2], 5, 8, 6, 1);   /* b is 1-d: only its first extent is read */
    assert_memory_equal(&c.params, &before.params, sizeof c.params);

    /* the completed case runs: y (3, 5, 6, 6) */
    ad_context *ctx = ad_context_new();
    ad_node *in[3];
    for (int s = 0; s < 3; s++) in[s] = ad_variable(ctx, AD_FLOAT64, c.ndim[s], c.shape[s], NULL);
    ad_node *y = ad_apply(ctx, &ad_op_conv2d, in, c.n_in, &c.params);
    assert_non_null(y);
    assert_shape(ad_value(y).shape, 3, 5, 6, 6);
    ad_context_free(ctx);
}

/* x not 4-d: refused by name, the case untouched. */
static void test_complete_case_refuses_x_not_4d(void **state)
{
    (void)state;
    ad_op_case c;
    memset(&c, 0, sizeof c);
    c.n_in = 1;
    c.ndim[0] = 3;
    c.shape[0][0] = 3, c.shape[0][1] = 8, c.shape[0][2] = 8;
    ad_op_case before = c;
    assert_int_equal(ad_op_conv2d.complete_case(&c), AD_ERR_SHAPE);
    assert_error(AD_ERR_SHAPE, "conv2d: --shape must give x as (N,C,H,W), e.g. 2x3x8x8");
    assert_memory_equal(&c, &before, sizeof c);
}

/* ---- conv2d_relu's kink_gap ---- */

/* x (1,1,2,2) = 1, 2, 3, 4; w = 1; b = -2.25: the pre-activations are
 * -1.25, -0.25, 0.75, 1.75, so the gap to the kink is 0.25 (where y = 0 too:
 * it is the pre-activation's distance, not y's). A NaN in x makes a NaN
 * pre-activation, which counts as at the kink: gap 0, wherever it lies. */
static void test_relu_gap(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
        for (int nan_at = -1; nan_at < 4; nan_at++) {
            ad_context *ctx = ad_context_new();
            ad_node *x = var4(ctx, d, 1, 1, 2, 2), *w = var4(ctx, d, 1, 1, 1, 1);
            ad_node *b = ad_variable(ctx, d, 1, (const int64_t[]){1}, NULL);
            for (int i = 0; i < 4; i++) ad_set_value_at(x, i, i == nan_at ? NAN : 1.0 + i);
            ad_set_value_at(w, 0, 1.0);
            ad_set_value_at(b, 0, -2.25);
            ad_node *y = ad_conv2d_relu(ctx, x, w, b, 1, 0);
            assert_non_null(y);
            double gap = ad_op_conv2d_relu.kink_gap(ad_node_of(y));
            if (nan_at < 0) assert_true(gap == 0.25);
            else assert_true(gap == 0);
            ad_context_free(ctx);
        }
    }
}

/* Windows of padding alone just past the image: x (1,1,2,2) = 1, 2, 3, 4,
 * w = 1, no bias, padding 2: the windows start at rows and columns -2..3,
 * and those starting at 2 (= H = W) hold padding alone, as do those at -2,
 * so their pre-activation is 0 whatever the inputs: a constant, not a
 * kink, left out. The gap is the least |x|, 1. */
static void test_relu_gap_windows_just_past_the_image(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = var4(ctx, AD_FLOAT64, 1, 1, 2, 2), *w = var4(ctx, AD_FLOAT64, 1, 1, 1, 1);
    for (int i = 0; i < 4; i++) ad_set_value_at(x, i, 1.0 + i);
    ad_set_value_at(w, 0, 1.0);
    ad_node *y = ad_conv2d_relu(ctx, x, w, NULL, 1, 2);
    assert_non_null(y);
    assert_shape(ad_value(y).shape, 1, 1, 6, 6);
    assert_true(ad_op_conv2d_relu.kink_gap(ad_node_of(y)) == 1.0);
    ad_context_free(ctx);
}

/* conv2d_relu's gradients by their definition where every pre-activation is
 * positive (so relu' = 1): x (2,1,3,3), w (4,1,3,3), b (4), no padding, y
 * (2,4,1,1), L = Σ y. dw[k,0,r,s] = Σ_n x[n,0,r,s], db[k] = 2,
 * dx[n,0,r,s] = Σ_k w[k,0,r,s]. One thread, float64, no padding: the
 * thread's masked-dy buffer (K·P·Q = 4 numbers, 32 bytes) lies right before
 * the columns the forward kept, whose first number is x[0,0,0,0] (0.5, not a
 * corner of padding), so a mask that wrote one number past its buffer would
 * change that column, and dw with it. */
static void test_relu_grads_by_definition(void **state)
{
    (void)state;
    int before = ad_threads();
    assert_int_equal(ad_set_threads(1), AD_OK);
    ad_context *ctx = ad_context_new();
    ad_node *x = var4(ctx, AD_FLOAT64, 2, 1, 3, 3), *w = var4(ctx, AD_FLOAT64, 4, 1, 3, 3);
    ad_node *b = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, (const double[]){0.5, 1, 1.5, 2});
    for (int i = 0; i < 18; i++) ad_set_value_at(x, i, 0.5 + 0.125 * i);
    for (int i = 0; i < 36; i++) ad_set_value_at(w, i, 0.0625 * (1 + i % 5));
    ad_node *y = ad_conv2d_relu(ctx, x, w, b, 1, 0);
    assert_non_null(y);
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, y, AD_ALL_AXES, false)), AD_OK);
    for (int k = 0; k < 4; k++) {
        assert_true(ad_grad_at(b, k) == 2.0);
        for (int e = 0; e < 9; e++) {
            double want = ad_value_at(x, e) + ad_value_at(x, 9 + e);
            if (fabs(ad_grad_at(w, 9 * k + e) - want) > 1e-15 * want)
                fail_msg("dw[%d,0,%d,%d] = %.17g, by definition %.17g", k, e / 3, e % 3, ad_grad_at(w, 9 * k + e), want);
        }
    }
    for (int n = 0; n < 2; n++)
        for (int e = 0; e < 9; e++) {
            double want = 0;
            for (int k = 0; k < 4; k++) want += ad_value_at(w, 9 * k + e);
            assert_true(fabs(ad_grad_at(x, 9 * n + e) - want) <= 1e-15 * want);
        }
    ad_context_free(ctx);
    assert_int_equal(ad_set_threads(before), AD_OK);
}

/* ---- scratch ---- */

/* x (1,1,1,1), w (1,1,2896,2896), padding 2895: y (1,1,2896,2896), 32 MB
 * each for w and y in float32, but im2col's column buffer is
 * C·R·S·P·Q = 2896^4 numbers, 281354730471424 bytes: over the 128 TiB a
 * process can map, so the arena's allocation fails and the op says so,
 * rather than running its kernels with a null column buffer. One thread:
 * one column buffer. (Skipped under AddressSanitizer, whose allocator
 * aborts on such a size.) */
static void test_column_buffer_out_of_memory(void **state)
{
    (void)state;
    if (AD_TEST_UNDER_ASAN) skip();
    int keep = ad_threads();
    assert_int_equal(ad_set_threads(1), AD_OK);
    for (int recording = 0; recording < 2; recording++) {
        ad_context *ctx = ad_context_new();
        const int64_t sx[] = {1, 1, 1, 1}, sw[] = {1, 1, 2896, 2896};
        ad_node *x = recording ? ad_variable(ctx, AD_FLOAT32, 4, sx, NULL) : ad_constant(ctx, AD_FLOAT32, 4, sx, NULL);
        ad_node *w = recording ? ad_variable(ctx, AD_FLOAT32, 4, sw, NULL) : ad_constant(ctx, AD_FLOAT32, 4, sw, NULL);
        ad_clear_error();
        assert_null(ad_conv2d(ctx, x, w, NULL, 1, 2895));
        assert_error(AD_ERR_NOMEM, "out of memory: the context needs 281354730471424 more bytes");
        ad_context_free(ctx);
    }
    assert_int_equal(ad_set_threads(keep), AD_OK);
}

/* The bytes a context holds after one conv2d of x (N,1,63,63) and w
 * (1,1,32,32) on one thread: each image's col is C·R·S·P·Q = 1024·1024
 * float32s, 4 MB, so at N = 2 the batch's are 8 MB, exactly KEPT_COLS_MAX. */
static size_t bytes_after_conv(bool recording, int64_t n)
{
    ad_context *ctx = ad_context_new();
    const int64_t sx[] = {n, 1, 63, 63}, sw[] = {1, 1, 32, 32};
    ad_node *x = recording ? ad_variable(ctx, AD_FLOAT32, 4, sx, NULL) : ad_constant(ctx, AD_FLOAT32, 4, sx, NULL);
    ad_node *w = recording ? ad_variable(ctx, AD_FLOAT32, 4, sw, NULL) : ad_constant(ctx, AD_FLOAT32, 4, sw, NULL);
    assert_non_null(ad_conv2d(ctx, x, w, NULL, 1, 0));
    size_t bytes = ad_context_bytes(ctx);
    ad_context_free(ctx);
    return bytes;
}

/* The forward keeps the batch's cols for dw while they take at most
 * KEPT_COLS_MAX ("at most": 8 MB is kept). A recorded conv2d then holds
 * those 8 MB beyond what the same conv2d of constants holds (no dw to keep
 * them for; the rest of its scratch, a col and dw's sums, is the same).
 * Today's arena (chunks that double) holds 29.7 MB against 12.8 MB; were
 * the cols not kept, both would hold the same. */
static void test_cols_kept_at_exactly_the_budget(void **state)
{
    (void)state;
    int keep = ad_threads();
    assert_int_equal(ad_set_threads(1), AD_OK);
    size_t recorded = bytes_after_conv(true, 2), constants = bytes_after_conv(false, 2);
    assert_true(recorded >= constants + ((size_t)8 << 20));
    assert_int_equal(ad_set_threads(keep), AD_OK);
}

/* Past the budget nothing is kept: 3 images' cols are 12 MB > KEPT_COLS_MAX,
 * so the recorded conv2d holds less than one image's col (4 MB) more than
 * the conv2d of constants (dw rebuilds each image's col instead). */
static void test_cols_not_kept_past_the_budget(void **state)
{
    (void)state;
    int keep = ad_threads();
    assert_int_equal(ad_set_threads(1), AD_OK);
    size_t recorded = bytes_after_conv(true, 3), constants = bytes_after_conv(false, 3);
    if (!(recorded < constants + ((size_t)4 << 20)))
        fail_msg("a recorded conv2d of 3 images holds %zu bytes, of constants %zu: its 12 MB of cols were kept",
                 recorded, constants);
    assert_int_equal(ad_set_threads(keep), AD_OK);
}

int test_ops_pins_conv_kinks(void);   /* test_ops_pins_conv_kinks.c */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride_and_padding_each_checked),
        cmocka_unit_test(test_kernel_too_large_names_r_then_s),
        cmocka_unit_test(test_x_and_w_each_4d),
        cmocka_unit_test(test_forward_by_definition),
        cmocka_unit_test(test_bias_dtype_checked),
        cmocka_unit_test(test_jvp_sets),
        cmocka_unit_test(test_complete_case_from_x_alone),
        cmocka_unit_test(test_complete_case_keeps_k_r_s),
        cmocka_unit_test(test_complete_case_refuses_x_not_4d),
        cmocka_unit_test(test_relu_gap),
        cmocka_unit_test(test_relu_gap_windows_just_past_the_image),
        cmocka_unit_test(test_relu_grads_by_definition),
        cmocka_unit_test(test_column_buffer_out_of_memory),
        cmocka_unit_test(test_cols_kept_at_exactly_the_budget),
        cmocka_unit_test(test_cols_not_kept_past_the_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) + test_ops_pins_conv_kinks();
}
