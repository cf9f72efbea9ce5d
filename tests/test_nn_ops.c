/* test_nn_ops.c: the tensor ops against values from the math and from
 * lessons.md, conv2d against a naive 7-deep reference loop (forward and
 * both vjps, both dtypes, several strides and paddings), their error
 * messages, and a deliberately broken conv2d vjp that gradcheck must catch.
 * (Their Jacobians against finite differences: gradcheck --all.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_ref.h"
#include "ad_gradcheck.h"

static ad_node *mat(ad_context *ctx, int ndim, const int64_t *shape, const double *v, bool var)
{
    return var ? ad_variable(ctx, AD_FLOAT64, ndim, shape, v) : ad_constant(ctx, AD_FLOAT64, ndim, shape, v);
}

static void assert_values(const ad_node *n, const double *want, int64_t count, double tol)
{
    assert_int_equal(ad_value(n).size, count);
    for (int64_t i = 0; i < count; i++) assert_close(ad_value_at(n, i), want[i], tol);
}

static void test_matmul_linear(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s22[] = {2, 2}, s12[] = {1, 2}, s32[] = {3, 2}, s3[] = {3};
    ad_node *a = mat(ctx, 2, s22, (double[]){1, 2, 3, 4}, true), *b = mat(ctx, 2, s22, (double[]){5, 6, 7, 8}, true);
    ad_node *y = ad_matmul(ctx, a, b);
    assert_values(y, (double[]){19, 22, 43, 50}, 4, 0);
    /* d(sum y)/da = 1·bᵀ: row sums of b */
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, y, AD_ALL_AXES, false)), AD_OK);
    assert_close(ad_grad_at(a, 0), 11, 0);
    assert_close(ad_grad_at(a, 3), 15, 0);
    assert_close(ad_grad_at(b, 0), 4, 0);   /* column sums of a */
    ad_node *x = mat(ctx, 2, s12, (double[]){1, -1}, false), *w = mat(ctx, 2, s32, (double[]){1, 2, 3, 4, 5, 6}, false);
    ad_node *bias = mat(ctx, 1, s3, (double[]){0.5, 0, -0.5}, false);
    assert_values(ad_linear(ctx, x, w, bias), (double[]){-0.5, -1, -1.5}, 3, 1e-15);
    int64_t s2[] = {2}, s33[] = {3, 3};
    assert_null(ad_linear(ctx, x, w, mat(ctx, 1, s2, (double[]){1, 2}, false)));
    assert_string_equal(ad_last_error(), "linear: bias (2) does not fit w (3,2): it is (O) = (3)");
    assert_null(ad_linear(ctx, x, mat(ctx, 2, s33, NULL, false), NULL));
    assert_string_equal(ad_last_error(), "linear: x (1,2) and w (3,3) do not fit: x is (..., I), w is (O,I)");
    ad_context_free(ctx);
}

static void test_reductions_and_shapes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3};
    ad_node *x = mat(ctx, 2, s23, (double[]){1, 2, 3, 4, 5, 6}, true);
    assert_values(ad_sum(ctx, x, AD_ALL_AXES, false), (double[]){21}, 1, 0);
    assert_values(ad_sum(ctx, x, 0, false), (double[]){5, 7, 9}, 3, 0);
    assert_values(ad_mean(ctx, x, 1, true), (double[]){2, 5}, 2, 0);
    assert_int_equal(ad_value(ad_mean(ctx, x, 1, true)).ndim, 2);
    ad_node *t = ad_transpose(ctx, x, (int[]){1, 0});
    assert_values(t, (double[]){1, 4, 2, 5, 3, 6}, 6, 0);
    int64_t s32[] = {3, 2};
    assert_values(ad_reshape(ctx, x, 2, s32), (double[]){1, 2, 3, 4, 5, 6}, 6, 0);
    int64_t s4[] = {4};
    assert_null(ad_reshape(ctx, x, 1, s4));
    assert_non_null(strstr(ad_last_error(), "reshape: x (2,3) has 6 elements, the shape (4) has 4"));
    assert_null(ad_sum(ctx, x, 2, false));
    assert_non_null(strstr(ad_last_error(), "sum: axis 2 is out of range for x (2,3)"));
    ad_context_free(ctx);
}

/* Axes as in NumPy/PyTorch: the lecture's x.sum(-1), x.mean(-2),
 * x.softmax(-1) give the same numbers as the positive axes, and a softmax
 * regression loss written PyTorch-style, -(Y * log_softmax(X @ W, -1)).sum(-1).mean(),
 * matches the definition computed by hand. */
static void test_pytorch_style_axes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3}, s234[] = {2, 3, 4};
    ad_node *x = mat(ctx, 2, s23, (double[]){1, 2, 3, 4, 5, 6}, true);
    assert_values(ad_sum(ctx, x, -1, false), (double[]){6, 15}, 2, 0);        /* x.sum(-1) */
    assert_values(ad_mean(ctx, x, -2, false), (double[]){2.5, 3.5, 4.5}, 3, 0); /* x.mean(-2) */
    assert_values(ad_sum(ctx, x, AD_ALL_AXES, false), (double[]){21}, 1, 0);  /* x.sum() */
    ad_node *k = ad_sum(ctx, x, -1, true);                                     /* keepdim: (2,1) */
    assert_int_equal(ad_value(k).ndim, 2);
    assert_int_equal(ad_value(k).shape[1], 1);
    ad_node *sm = ad_softmax(ctx, x, -1), *sm1 = ad_softmax(ctx, x, 1);
    for (int i = 0; i < 6; i++) assert_true(ad_value_at(sm, i) == ad_value_at(sm1, i));
    /* (2,3,4) along -3 (the first) against along 0 */
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = 0.1 * i - 1;
    ad_node *t = mat(ctx, 3, s234, v, false);
    ad_node *a = ad_log_softmax(ctx, t, -3), *b = ad_log_softmax(ctx, t, 0);
    for (int i = 0; i < 24; i++) assert_true(ad_value_at(a, i) == ad_value_at(b, i));
    /* x.permute(-1, 0) */
    assert_values(ad_transpose(ctx, x, (int[]){-1, 0}), (double[]){1, 4, 2, 5, 3, 6}, 6, 0);
    assert_null(ad_transpose(ctx, x, (int[]){0, -2}));
    assert_non_null(strstr(ad_last_error(), "is not a permutation of the 2 axes of x (2,3) (each axis once, -2..1"));
    /* a scalar takes axis 0 or -1, as in PyTorch */
    assert_values(ad_sum(ctx, ad_scalar(ctx, 4), -1, false), (double[]){4}, 1, 0);

    /* softmax regression, PyTorch style: X (2,3) @ W (3,4), Y one-hot (2,4) */
    int64_t s34[] = {3, 4}, s24[] = {2, 4};
    double w[12], X[6] = {1, -1, 0.5, 2, 0, -0.5}, Y[8] = {0, 1, 0, 0, 0, 0, 0, 1};
    for (int i = 0; i < 12; i++) w[i] = 0.3 * (i % 5) - 0.4;
    ad_node *Wn = mat(ctx, 2, s34, w, true), *Xn = mat(ctx, 2, s23, X, false), *Yn = mat(ctx, 2, s24, Y, false);
    ad_node *loss = ad_mean(ctx, ad_neg(ctx, ad_sum(ctx, ad_mul(ctx, Yn, ad_log_softmax(ctx, ad_matmul(ctx, Xn, Wn), -1)), -1, false)),
                            AD_ALL_AXES, false);
    assert_non_null(loss);
    double want = 0;
    for (int n = 0; n < 2; n++) {
        double z[4], m = -1e300, se = 0;
        for (int j = 0; j < 4; j++) {
            z[j] = 0;
            for (int i = 0; i < 3; i++) z[j] += X[n * 3 + i] * w[i * 4 + j];
            m = z[j] > m ? z[j] : m;
        }
        for (int j = 0; j < 4; j++) se += exp(z[j] - m);
        for (int j = 0; j < 4; j++) want -= Y[n * 4 + j] * (z[j] - m - log(se)) / 2;
    }
    assert_close(ad_value_scalar(loss), want, 1e-14);
    assert_int_equal(ad_backward(ctx, loss), AD_OK);

    /* out of range: the message names the valid range */
    assert_null(ad_sum(ctx, x, -3, false));
    assert_string_equal(ad_last_error(),
                        "sum: axis -3 is out of range for x (2,3) (valid: -2..1, negative from the end; AD_ALL_AXES for all)");
    assert_null(ad_softmax(ctx, x, 2));
    assert_string_equal(ad_last_error(), "softmax: axis 2 is out of range for x (2,3) (valid: -2..1, negative from the end)");
    assert_null(ad_log_softmax(ctx, x, AD_ALL_AXES));
    assert_non_null(strstr(ad_last_error(), "log_softmax: needs one axis of x (2,3), not AD_ALL_AXES"));
    ad_context_free(ctx);
}

/* reshape with one -1 inferred, and its errors. */
static void test_reshape_infer(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s234[] = {2, 3, 4};
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = i;
    ad_node *x = mat(ctx, 3, s234, v, true);
    ad_node *y = ad_reshape(ctx, x, 2, (int64_t[]){-1, 4});
    assert_non_null(y);
    assert_int_equal(ad_value(y).shape[0], 6);
    assert_int_equal(ad_value(y).shape[1], 4);
    assert_close(ad_value_at(y, 23), 23, 0);
    y = ad_reshape(ctx, x, 3, (int64_t[]){4, -1, 2});
    assert_int_equal(ad_value(y).shape[1], 3);
    assert_null(ad_reshape(ctx, x, 2, (int64_t[]){-1, -1}));
    assert_non_null(strstr(ad_last_error(), "reshape: the shape (-1,-1) has more than one -1"));
    assert_null(ad_reshape(ctx, x, 2, (int64_t[]){-1, 5}));
    assert_non_null(strstr(ad_last_error(), "reshape: x (2,3,4) has 24 elements, which the shape (-1,5) cannot hold"));
    assert_null(ad_reshape(ctx, x, 2, (int64_t[]){-2, 12}));
    assert_non_null(strstr(ad_last_error(), "dimension <= 0"));
    ad_context_free(ctx);
}

/* matmul as torch.matmul: vectors, batches, broadcast batch; linear on
 * (..., I); values from the definition. */
static void test_matmul_shapes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s3[] = {3}, s32[] = {3, 2}, s23[] = {2, 3}, s223[] = {2, 2, 3};
    ad_node *v = mat(ctx, 1, s3, (double[]){1, 2, 3}, true);
    ad_node *B = mat(ctx, 2, s32, (double[]){1, 2, 3, 4, 5, 6}, true);
    ad_node *vB = ad_matmul(ctx, v, B);   /* (3)·(3,2) -> (2) */
    assert_int_equal(ad_value(vB).ndim, 1);
    assert_values(vB, (double[]){22, 28}, 2, 0);
    ad_node *A = mat(ctx, 2, s23, (double[]){1, 0, -1, 2, 1, 0}, true);
    assert_values(ad_matmul(ctx, A, v), (double[]){-2, 4}, 2, 0);   /* (2,3)·(3) -> (2) */
    ad_node *dot = ad_matmul(ctx, v, v);                            /* (3)·(3) -> scalar */
    assert_int_equal(ad_value(dot).ndim, 0);
    assert_values(dot, (double[]){14}, 1, 0);
    assert_int_equal(ad_backward(ctx, dot), AD_OK);                 /* d(v·v)/dv = 2v */
    assert_close(ad_grad_at(v, 2), 6, 0);
    /* a batch (2,2,3) times a shared (3,2): batch i is A_i · B */
    double a[12];
    for (int i = 0; i < 12; i++) a[i] = i - 5;
    ad_node *Ab = mat(ctx, 3, s223, a, true);
    ad_node *Y = ad_matmul(ctx, Ab, B);
    assert_int_equal(ad_value(Y).ndim, 3);
    assert_int_equal(ad_value(Y).shape[2], 2);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                double want = 0;
                for (int k = 0; k < 3; k++) want += a[b * 6 + i * 3 + k] * (k * 2 + j + 1);
                assert_close(ad_value_at(Y, b * 4 + i * 2 + j), want, 0);
            }
    /* the shared B's grad sums over the batch: d(sum Y)/dB[k,j] = Σ_b Σ_i A_b[i,k] */
    ad_zero_grad(ctx);
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, Y, AD_ALL_AXES, false)), AD_OK);
    assert_close(ad_grad_at(B, 0), a[0] + a[3] + a[6] + a[9], 0);
    /* refused: batch dims that do not broadcast, inner dims that differ */
    int64_t s323[] = {3, 2, 3};
    assert_null(ad_matmul(ctx, Ab, mat(ctx, 3, s323, NULL, false)));
    assert_non_null(strstr(ad_last_error(), "matmul: a (2,2,3) has 3 columns but b (3,2,3) has 2 rows"));
    int64_t s332[] = {3, 3, 2};
    assert_null(ad_matmul(ctx, Ab, mat(ctx, 3, s332, NULL, false)));
    assert_non_null(strstr(ad_last_error(), "matmul: the batch dims of a (2,2,3) and b (3,3,2) do not broadcast"));
    /* linear on a vector and on a batch */
    ad_node *W = mat(ctx, 2, s23, (double[]){1, 0, -1, 2, 1, 0}, false);
    assert_values(ad_linear(ctx, v, W, NULL), (double[]){-2, 4}, 2, 0);
    ad_node *L = ad_linear(ctx, Ab, W, NULL);   /* (2,2,3) -> (2,2,2) */
    assert_int_equal(ad_value(L).ndim, 3);
    assert_close(ad_value_at(L, 3), 2 * a[3] + a[4], 0);   /* batch 0, row 1, output 1: w row (2,1,0) */
    ad_context_free(ctx);
}

/* NaN in, NaN out (IEEE, as PyTorch): relu, max/min in both argument
 * orders, softmax's row, the losses; mse broadcasts its target; tanh' is
 * sech²x to full precision where 1 - y² loses it. */
static void test_nan_and_losses(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    const double nan = NAN;
    int64_t s3[] = {3}, s22[] = {2, 2}, s2[] = {2}, s23[] = {2, 3};
    ad_node *x = mat(ctx, 1, s3, (double[]){nan, -1, 2}, true);
    ad_node *r = ad_relu(ctx, x);
    assert_true(isnan(ad_value_at(r, 0)));
    assert_close(ad_value_at(r, 1), 0, 0);
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, r, AD_ALL_AXES, false)), AD_OK);
    assert_close(ad_grad_at(x, 0), 1, 0);   /* PyTorch's: relu' is 0 only where relu(x) <= 0 */
    assert_close(ad_grad_at(x, 1), 0, 0);
    ad_node *one = mat(ctx, 1, s3, (double[]){1, 1, 1}, true);
    ad_node *ops2[2][2] = {{ad_max(ctx, x, one), ad_max(ctx, one, x)}, {ad_min(ctx, x, one), ad_min(ctx, one, x)}};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            assert_true(isnan(ad_value_at(ops2[i][j], 0)));   /* either order */
            assert_close(ad_value_at(ops2[i][j], 2), i == 0 ? 2 : 1, 0);
        }
    ad_zero_grad(ctx);
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, ops2[0][1], AD_ALL_AXES, false)), AD_OK);
    assert_close(ad_grad_at(x, 0), 1, 0);     /* at a NaN both inputs pass the gradient */
    assert_close(ad_grad_at(one, 0), 1, 0);
    assert_close(ad_grad_at(x, 2), 1, 0);     /* max(1, 2): x */
    assert_close(ad_grad_at(one, 2), 0, 0);
    /* softmax: the NaN row is NaN, the other row untouched */
    ad_node *sm = ad_softmax(ctx, mat(ctx, 2, s23, (double[]){0, nan, 1, 0, 0, 0}, false), -1);
    for (int i = 0; i < 3; i++) assert_true(isnan(ad_value_at(sm, i)));
    assert_close(ad_value_at(sm, 3), 1.0 / 3, 1e-15);
    /* cross-entropy: a NaN logit (not the target's) makes the loss NaN */
    ad_node *ce = ad_cross_entropy(ctx, mat(ctx, 2, s22, (double[]){0, nan, 1, 0}, true),
                                   mat(ctx, 1, s2, (double[]){0, 1}, false), NULL, AD_REDUCE_MEAN, -1);
    assert_true(isnan(ad_value_scalar(ce)));
    /* mse: a (2,2) prediction against a (2) target, PyTorch's numbers */
    ad_node *p = mat(ctx, 2, s22, (double[]){1, 2, 3, 4}, true), *t = mat(ctx, 1, s2, (double[]){1, 0}, true);
    ad_node *l = ad_mse(ctx, p, t);
    assert_close(ad_value_scalar(l), 6, 0);
    assert_int_equal(ad_backward(ctx, l), AD_OK);
    const double dp[4] = {0, 1, 1, 2};   /* 2(p - t)/4 */
    for (int i = 0; i < 4; i++) assert_close(ad_grad_at(p, i), dp[i], 0);
    assert_close(ad_grad_at(t, 0), -1, 0);
    assert_close(ad_grad_at(t, 1), -3, 0);
    assert_null(ad_mse(ctx, p, mat(ctx, 1, s3, NULL, false)));
    assert_non_null(strstr(ad_last_error(), "mse: shapes (2,2) and (3) do not broadcast"));
    ad_node *nanl = ad_mse(ctx, p, mat(ctx, 1, s2, (double[]){nan, 0}, false));
    assert_true(isnan(ad_value_scalar(nanl)));
    /* tanh' at 15: sech² = 4e^-30/(1 + e^-30)², where 1 - tanh² keeps no digit */
    ad_node *z = ad_scalar(ctx, 15);
    assert_int_equal(ad_backward(ctx, ad_tanh(ctx, z)), AD_OK);
    double e = exp(-30), want = 4 * e / ((1 + e) * (1 + e));
    assert_true(fabs(ad_grad_scalar(z) - want) <= 1e-15 * want);
    ad_context_free(ctx);
}

static void test_softmax_values(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s3[] = {3};
    ad_node *y = ad_softmax(ctx, mat(ctx, 1, s3, (double[]){1, 2, 3}, false), 0);
    assert_values(y, (double[]){0.0900305731703805, 0.244728471054798, 0.665240955774822}, 3, 1e-12);
    ad_node *big = ad_softmax(ctx, mat(ctx, 1, s3, (double[]){999, 0, -2}, false), 0);
    assert_values(big, (double[]){1, 0, 0}, 3, 1e-300 + 1e-15);
    ad_node *ties = ad_softmax(ctx, mat(ctx, 1, s3, (double[]){-2, -2, -99}, false), 0);
    assert_values(ties, (double[]){0.5, 0.5, 0}, 3, 1e-15);
    ad_node *ls = ad_log_softmax(ctx, mat(ctx, 1, s3, (double[]){999, 0, -2}, false), 0);
    assert_close(ad_value_at(ls, 0), 0, 1e-15);
    assert_close(ad_value_at(ls, 1), -999, 1e-9);
    ad_context_free(ctx);
}

static void test_cross_entropy_values(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3}, s2[] = {2}, s3[] = {3};
    double logits[] = {1, 2, 3, 1, 1, 1};
    ad_node *x = mat(ctx, 2, s23, logits, true);
    ad_node *t = mat(ctx, 1, s2, (double[]){2, 0}, false);
    double l0 = -log(0.665240955774822), l1 = log(3.0);
    assert_close(ad_value_scalar(ad_cross_entropy(ctx, x, t, NULL, AD_REDUCE_MEAN, -1)), (l0 + l1) / 2, 1e-12);
    assert_close(ad_value_scalar(ad_cross_entropy(ctx, x, t, NULL, AD_REDUCE_SUM, -1)), l0 + l1, 1e-12);
    ad_node *w = mat(ctx, 1, s3, (double[]){2, 1, 0.5}, false);
    /* weighted mean: (0.5·l0 + 2·l1) / (0.5 + 2) */
    assert_close(ad_value_scalar(ad_cross_entropy(ctx, x, t, w, AD_REDUCE_MEAN, -1)), (0.5 * l0 + 2 * l1) / 2.5, 1e-12);
    /* ignore_index 0 drops the second sample */
    ad_node *ce = ad_cross_entropy(ctx, x, t, NULL, AD_REDUCE_MEAN, 0);
    assert_close(ad_value_scalar(ce), l0, 1e-12);
    assert_int_equal(ad_backward(ctx, ce), AD_OK);
    assert_close(ad_grad_at(x, 2), 0.665240955774822 - 1, 1e-12);   /* p - onehot */
    assert_close(ad_grad_at(x, 3), 0, 0);                            /* ignored row */
    ad_node *bad = mat(ctx, 1, s2, (double[]){3, 0}, false);
    assert_null(ad_cross_entropy(ctx, x, bad, NULL, AD_REDUCE_MEAN, -1));
    assert_non_null(strstr(ad_last_error(), "cross_entropy: target 3 at [0] is not a class index in 0..2"));
    ad_node *all_ignored = mat(ctx, 1, s2, (double[]){1, 1}, false);
    assert_null(ad_cross_entropy(ctx, x, all_ignored, NULL, AD_REDUCE_MEAN, 1));
    assert_non_null(strstr(ad_last_error(), "the mean is undefined"));
    ad_context_free(ctx);
}

/* lessons.md 13: [001]'s 4×4 example */
static void test_pooling_lecture_example(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s[] = {1, 1, 4, 4};
    double img[] = {1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4};
    ad_node *x = mat(ctx, 4, s, img, true);
    ad_node *mp = ad_maxpool2d(ctx, x, 2, 2), *ap = ad_avgpool2d(ctx, x, 2, 2);
    assert_values(mp, (double[]){6, 8, 3, 4}, 4, 0);
    assert_values(ap, (double[]){3.25, 5.25, 2, 2}, 4, 0);
    /* max-pool backward routes each gradient to its window's arg-max */
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, mp, AD_ALL_AXES, false)), AD_OK);
    double want[] = {0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1};
    for (int i = 0; i < 16; i++) assert_close(ad_grad_at(x, i), want[i], 0);
    ad_context_free(ctx);
}

/* A NaN in a window makes that output NaN, as in PyTorch (a plain `>` scan
 * would skip it and return the window's other maximum); the first NaN
 * takes the gradient; windows without NaN are untouched. Both dtypes, 2×2
 * (the unrolled path) and 3×3 windows, recorded (argmax kept) and not. */
static void test_maxpool_propagates_nan(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++)
        for (int win = 2; win <= 3; win++)
            for (int rec = 0; rec < 2; rec++) {
                ad_context *ctx = ad_context_new();
                ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
                int64_t s[] = {1, 1, 2 * win, 2 * win};
                ad_node *x = ad_variable(ctx, d, 4, s, NULL);
                int64_t W = 2 * win;
                for (int64_t i = 0, n = ad_value(x).size; i < n; i++)
                    ad_set_value_at(x, i, i == 1 || i == 2 * win ? NAN : (double)i);   /* NaNs in window 0, after its first element */
                ad_set_grad_enabled(ctx, rec);
                ad_node *y = ad_maxpool2d(ctx, x, win, win);
                assert_true(isnan(ad_value_at(y, 0)));
                for (int j = 1; j < 4; j++) {   /* each other window's max: its bottom-right element */
                    int64_t last = ((j / 2) * win + win - 1) * W + (j % 2) * win + win - 1;
                    assert_close(ad_value_at(y, j), (double)last, 0);
                }
                if (rec) {
                    assert_int_equal(ad_backward(ctx, ad_sum(ctx, y, AD_ALL_AXES, false)), AD_OK);
                    for (int64_t i = 0; i < ad_value(x).size; i++) {
                        double want = i == 1 || i == (win - 1) * W + 2 * win - 1 || i == (2 * win - 1) * W + win - 1 ||
                                      i == (2 * win - 1) * W + 2 * win - 1;
                        assert_close(ad_grad_at(x, i), want, 0);
                    }
                }
                ad_context_free(ctx);
            }
}

/* Max-pool against the rule written plainly (the first NaN, else the first
 * maximum, in row-major window order), on values with many ties and NaNs,
 * rows wide enough for the four-at-a-time path and its tail; 2×2 stride 2
 * and 3×3 stride 2, both dtypes: y and the gradient (all to the argmax). */
static void test_maxpool_against_rule(void **state)
{
    (void)state;
    const int64_t N = 2, C = 3, H = 7, W = 19;
    uint64_t seed = 5;
    for (int dt = 0; dt < 2; dt++)
        for (int win = 2; win <= 3; win++) {
            ad_context *ctx = ad_context_new();
            ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
            int64_t sx[] = {N, C, H, W};
            ad_node *x = ad_variable(ctx, d, 4, sx, NULL);
            for (int64_t i = 0; i < ad_value(x).size; i++) {
                seed = seed * 6364136223846793005ULL + 1;
                int r = (int)(seed >> 59);   /* 0..31: small integers tie often; 31 is NaN */
                ad_set_value_at(x, i, r == 31 ? NAN : (double)(r % 5) - 2);
            }
            ad_node *y = ad_maxpool2d(ctx, x, win, 2);
            int64_t P = ad_value(y).shape[2], Q = ad_value(y).shape[3];
            ad_node *r = ad_constant(ctx, d, 4, ad_value(y).shape, NULL);
            for (int64_t i = 0; i < ad_value(r).size; i++) ad_set_value_at(r, i, (double)(i % 11) + 1);
            assert_int_equal(ad_backward(ctx, ad_sum(ctx, ad_mul(ctx, y, r), AD_ALL_AXES, false)), AD_OK);
            double *want_g = calloc((size_t)ad_value(x).size, sizeof(double));
            for (int64_t pl = 0; pl < N * C; pl++)
                for (int64_t p = 0; p < P; p++)
                    for (int64_t q = 0; q < Q; q++) {
                        int64_t best = -1;
                        for (int64_t a = 0; a < win && best < 0; a++)   /* the first NaN */
                            for (int64_t b = 0; b < win && best < 0; b++)
                                if (isnan(ad_value_at(x, (pl * H + 2 * p + a) * W + 2 * q + b)))
                                    best = (pl * H + 2 * p + a) * W + 2 * q + b;
                        for (int64_t a = 0; a < win && best < 0; a++)   /* else the first maximum */
                            for (int64_t b = 0; b < win; b++) {
                                int64_t i = (pl * H + 2 * p + a) * W + 2 * q + b;
                                bool first = true;
                                for (int64_t a2 = 0; a2 < win; a2++)
                                    for (int64_t b2 = 0; b2 < win; b2++) {
                                        double o = ad_value_at(x, (pl * H + 2 * p + a2) * W + 2 * q + b2);
                                        int64_t j = (pl * H + 2 * p + a2) * W + 2 * q + b2;
                                        if (o > ad_value_at(x, i) || (j < i && o == ad_value_at(x, i))) first = false;
                                    }
                                if (first && best < 0) best = i;
                            }
                        int64_t io = (pl * P + p) * Q + q;
                        double yv = ad_value_at(y, io), xv = ad_value_at(x, best);
                        assert_true(isnan(xv) ? isnan(yv) : yv == xv);
                        want_g[best] += ad_value_at(r, io);
                    }
            for (int64_t i = 0; i < ad_value(x).size; i++) assert_close(ad_grad_at(x, i), want_g[i], 0);
            free(want_g);
            ad_context_free(ctx);
        }
}

/* ---- conv2d against the definition (ad_test_ref.h) ---- */
static void test_conv2d_against_naive(void **state)
{
    (void)state;
    const int cfg[][9] = {/* N C H W K R S stride pad */
                          {2, 3, 7, 7, 4, 3, 3, 1, 1}, {1, 2, 9, 8, 3, 3, 3, 2, 0}, {2, 1, 6, 6, 2, 5, 5, 1, 2},
                          {3, 2, 5, 5, 2, 3, 3, 2, 1}, {1, 1, 28, 28, 6, 5, 5, 1, 2},
                          /* more images than dw's 16 groups, unevenly split; a padding wider than a stride */
                          {21, 2, 6, 7, 3, 3, 2, 1, 1}, {2, 2, 8, 9, 2, 4, 3, 2, 2},
                          /* the batch's cols (80 × 27×1024 numbers: 8.8 MB in float32) over KEPT_COLS_MAX
                           * (8 MB): dw rebuilds each col instead of reading the forward's */
                          {80, 3, 32, 32, 4, 3, 3, 1, 1}};
    uint64_t seed = 99;
    for (size_t t = 0; t < sizeof cfg / sizeof cfg[0]; t++)
        for (int dt = 0; dt < 2; dt++) {
            const int *g = cfg[t];
            int N = g[0], C = g[1], H = g[2], W = g[3], K = g[4], R = g[5], S = g[6], st = g[7], pd = g[8];
            int P = (H + 2 * pd - R) / st + 1, Q = (W + 2 * pd - S) / st + 1;
            int nx = N * C * H * W, nw = K * C * R * S, ny = N * K * P * Q;
            double *x = malloc(nx * sizeof(double)), *w = malloc(nw * sizeof(double)), b[8];
            double *y = malloc(ny * sizeof(double)), *gy = malloc(ny * sizeof(double));
            for (int i = 0; i < nx; i++) x[i] = (double)((seed = seed * 6364136223846793005ULL + 1) >> 40) / 16777216.0 - 0.5;
            for (int i = 0; i < nw; i++) w[i] = (double)((seed = seed * 6364136223846793005ULL + 1) >> 40) / 16777216.0 - 0.5;
            for (int i = 0; i < K; i++) b[i] = 0.1 * i;
            for (int i = 0; i < ny; i++) gy[i] = (double)((seed = seed * 6364136223846793005ULL + 1) >> 40) / 16777216.0 - 0.5;
            /* image 0's dy all +0 and image N-1's all -0 (N > 2): the vjps skip those images' GEMMs */
            if (N > 2)
                for (int i = 0; i < K * P * Q; i++) gy[i] = 0.0, gy[(N - 1) * K * P * Q + i] = -0.0;
            ad_test_conv2d_ref(x, w, b, y, N, C, H, W, K, R, S, st, st, pd, pd, P, Q);
            ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
            double tol = dt ? 1e-4 : 1e-12;
            ad_context *ctx = ad_context_new();
            int64_t sx[] = {N, C, H, W}, sw[] = {K, C, R, S}, sb[] = {K}, sy[] = {N, K, P, Q};
            ad_node *X = ad_variable(ctx, d, 4, sx, x), *Wn = ad_variable(ctx, d, 4, sw, w), *B = ad_variable(ctx, d, 1, sb, b);
            ad_node *Y = ad_conv2d(ctx, X, Wn, B, st, pd);
            assert_non_null(Y);
            assert_values(Y, y, ny, tol);
            ad_tensor *cot = ad_tensor_from(d, 4, sy, gy);
            ad_backward_opts o = {.cotangent = cot};
            assert_int_equal(ad_backward_ex(ctx, Y, &o), AD_OK);
            /* dx and dw from the definition: y is linear in each, so the vjp is
             * the sum of gy times the same products */
            double *dx = calloc(nx, sizeof(double)), *dw = calloc(nw, sizeof(double)), db[8] = {0};
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++)
                    for (int p = 0; p < P; p++)
                        for (int q = 0; q < Q; q++) {
                            double gv = gy[((n * K + k) * P + p) * Q + q];
                            db[k] += gv;
                            for (int c = 0; c < C; c++)
                                for (int r = 0; r < R; r++)
                                    for (int s = 0; s < S; s++) {
                                        int h = p * st - pd + r, v = q * st - pd + s;
                                        if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                        dx[((n * C + c) * H + h) * W + v] += gv * w[((k * C + c) * R + r) * S + s];
                                        dw[((k * C + c) * R + r) * S + s] += gv * x[((n * C + c) * H + h) * W + v];
                                    }
                        }
            for (int i = 0; i < nx; i++) assert_close(ad_grad_at(X, i), dx[i], tol);
            for (int i = 0; i < nw; i++) assert_close(ad_grad_at(Wn, i), dw[i], tol * 10);
            for (int i = 0; i < K; i++) assert_close(ad_grad_at(B, i), db[i], tol * 10);
            ad_tensor_free(cot);
            ad_context_free(ctx);
            free(x), free(w), free(y), free(gy), free(dx), free(dw);
        }
}

/* conv2d -> relu -> max-pool (and conv2d_relu -> max-pool) -> a weighted sum, forward and backward, on
 * `threads` threads: the values and every gradient, as raw bytes. */
static void conv_net_run(int threads, ad_dtype d, int stride, int pad, char *out, size_t *len)
{
    assert_int_equal(ad_set_threads(threads), AD_OK);
    ad_context *ctx = ad_context_new();
    int64_t sx[] = {19, 3, 11, 10}, sw[] = {5, 3, 3, 3}, sb[] = {5};
    ad_node *x = ad_variable(ctx, d, 4, sx, NULL), *w = ad_variable(ctx, d, 4, sw, NULL), *b = ad_variable(ctx, d, 1, sb, NULL);
    uint64_t seed = 7;
    ad_node *ins[] = {x, w, b};
    for (int i = 0; i < 3; i++)
        for (int64_t j = 0, n = ad_value(ins[i]).size; j < n; j++)
            ad_set_value_at(ins[i], j, (double)((seed = seed * 6364136223846793005ULL + 1) >> 40) / 16777216.0 - 0.5);
    ad_node *y = ad_maxpool2d(ctx, ad_relu(ctx, ad_conv2d(ctx, x, w, b, stride, pad)), 2, 2);
    assert_non_null(y);
    y = ad_add(ctx, y, ad_maxpool2d(ctx, ad_conv2d_relu(ctx, x, w, b, stride, pad), 2, 2));   /* and fused */
    ad_node *r = ad_constant(ctx, d, 4, ad_value(y).shape, NULL);
    for (int64_t j = 0, n = ad_value(r).size; j < n; j++) ad_set_value_at(r, j, (double)(j % 7) - 3);
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, ad_mul(ctx, y, r), AD_ALL_AXES, false)), AD_OK);
    size_t es = d == AD_FLOAT32 ? 4 : 8;
    *len = 0;
    memcpy(out, ad_value(y).data, (size_t)ad_value(y).size * es), *len += (size_t)ad_value(y).size * es;
    for (int i = 0; i < 3; i++) memcpy(out + *len, ad_grad(ins[i]).data, (size_t)ad_value(ins[i]).size * es), *len += (size_t)ad_value(ins[i]).size * es;
    ad_context_free(ctx);
}

/* conv2d_relu is relu(conv2d) in one op: the same bits, value and every
 * gradient (border and interior, strides 1 and 2, both dtypes), and a
 * negative pre-activation (ReLU's zero gradient) appears in each case. */
static void test_conv2d_relu_is_relu_of_conv2d(void **state)
{
    (void)state;
    const int cfg[][3] = {{1, 1, 3}, {2, 2, 3}, {1, 0, 5}};   /* stride, pad, kernel */
    for (int dt = 0; dt < 2; dt++)
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
            size_t es = dt ? 4 : 8;
            ad_context *ctx = ad_context_new();
            int64_t sx[] = {5, 2, 9, 8}, sw[] = {3, 2, cfg[c][2], cfg[c][2]}, sb[] = {3};
            ad_node *in[2][3];
            uint64_t seed = 11;
            for (int v = 0; v < 2; v++) {
                in[v][0] = ad_variable(ctx, d, 4, sx, NULL);
                in[v][1] = ad_variable(ctx, d, 4, sw, NULL);
                in[v][2] = ad_variable(ctx, d, 1, sb, NULL);
            }
            for (int i = 0; i < 3; i++)
                for (int64_t j = 0; j < ad_value(in[0][i]).size; j++) {
                    double v = (double)((seed = seed * 6364136223846793005ULL + 1) >> 40) / 16777216.0 - 0.5;
                    ad_set_value_at(in[0][i], j, v);
                    ad_set_value_at(in[1][i], j, v);
                }
            ad_node *fused = ad_conv2d_relu(ctx, in[0][0], in[0][1], in[0][2], cfg[c][0], cfg[c][1]);
            ad_node *apart = ad_relu(ctx, ad_conv2d(ctx, in[1][0], in[1][1], in[1][2], cfg[c][0], cfg[c][1]));
            assert_non_null(fused);
            assert_memory_equal(ad_value(fused).data, ad_value(apart).data, (size_t)ad_value(fused).size * es);
            bool zero = false;
            for (int64_t j = 0; j < ad_value(fused).size; j++) zero |= ad_value_at(fused, j) == 0;
            assert_true(zero);
            ad_node *r = ad_constant(ctx, d, 4, ad_value(fused).shape, NULL);
            for (int64_t j = 0; j < ad_value(r).size; j++) ad_set_value_at(r, j, (double)(j % 5) - 2);
            ad_node *loss = ad_add(ctx, ad_sum(ctx, ad_mul(ctx, fused, r), AD_ALL_AXES, false), ad_sum(ctx, ad_mul(ctx, apart, r), AD_ALL_AXES, false));
            assert_int_equal(ad_backward(ctx, loss), AD_OK);
            for (int i = 0; i < 3; i++)
                assert_memory_equal(ad_grad(in[0][i]).data, ad_grad(in[1][i]).data, (size_t)ad_value(in[0][i]).size * es);
            ad_context_free(ctx);
        }
}

/* Threads split the work by the shapes alone: 1, 2 and 3 threads give the
 * same bits (forward, dx, dw, db; border and interior; both dtypes). */
static void test_threads_bit_identical(void **state)
{
    (void)state;
    int keep = ad_threads();
    if (ad_set_threads(2) != AD_OK) skip();   /* a build without OpenMP: one thread only */
    size_t cap = 1 << 20, len1, len;
    char *one = malloc(cap), *other = malloc(cap);
    const int cfg[][2] = {{1, 1}, {2, 2}, {1, 0}};
    for (int dt = 0; dt < 2; dt++)
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
            conv_net_run(1, d, cfg[c][0], cfg[c][1], one, &len1);
            for (int t = 2; t <= 3; t++) {
                conv_net_run(t, d, cfg[c][0], cfg[c][1], other, &len);
                assert_int_equal(len, len1);
                assert_memory_equal(one, other, len);
            }
        }
    free(one), free(other);
    assert_int_equal(ad_set_threads(keep), AD_OK);
    assert_int_equal(ad_set_threads(0), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "set_threads: 0 threads"));
}

/* A NaN in one image's dy, the rest of that image and every other image's dy
 * zero: the image is not skipped as zero (NaN != 0), so the NaN reaches dx
 * under its receptive field and dw; the zero images' dx stays 0. */
static void test_conv2d_nan_cotangent_not_skipped(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        ad_context *ctx = ad_context_new();
        ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
        int64_t sx[] = {3, 2, 5, 5}, sw[] = {2, 2, 3, 3}, sy[] = {3, 2, 5, 5};
        ad_node *x = ad_variable(ctx, d, 4, sx, NULL), *w = ad_variable(ctx, d, 4, sw, NULL);
        for (int64_t i = 0; i < ad_value(x).size; i++) ad_set_value_at(x, i, 0.1 * (double)(i % 7) - 0.3);
        for (int64_t i = 0; i < ad_value(w).size; i++) ad_set_value_at(w, i, 0.2 * (double)(i % 5) - 0.4);
        ad_node *y = ad_conv2d(ctx, x, w, NULL, 1, 1);
        assert_non_null(y);
        ad_tensor *cot = ad_tensor_new(d, 4, sy);
        ad_tensor_set(cot, 50 + 12, NAN);   /* image 1, channel 0, (2, 2) */
        ad_backward_opts o = {.cotangent = cot};
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        for (int64_t i = 0; i < 50; i++) assert_true(ad_grad_at(x, i) == 0);            /* image 0 */
        assert_true(isnan(ad_grad_at(x, 50 + 12)));                                     /* image 1, under the NaN */
        for (int64_t i = 100; i < 150; i++) assert_true(ad_grad_at(x, i) == 0);         /* image 2 */
        assert_true(isnan(ad_grad_at(w, 4)));                                           /* every tap sees it */
        ad_tensor_free(cot);
        ad_context_free(ctx);
    }
}

static void test_conv2d_errors(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t sx[] = {2, 3, 8, 8}, sw[] = {4, 1, 3, 3}, sb[] = {5}, sw2[] = {4, 3, 9, 9}, sw3[] = {4, 3, 3, 3};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, sx, NULL);
    assert_null(ad_conv2d(ctx, x, ad_variable(ctx, AD_FLOAT64, 4, sw, NULL), NULL, 1, 0));
    assert_string_equal(ad_last_error(), "conv2d: input x (2,3,8,8) has 3 channels but weight w (4,1,3,3) expects 1");
    assert_null(ad_conv2d(ctx, x, ad_variable(ctx, AD_FLOAT64, 4, sw2, NULL), NULL, 1, 0));
    assert_non_null(strstr(ad_last_error(), "larger than the padded input"));
    ad_node *w3 = ad_variable(ctx, AD_FLOAT64, 4, sw3, NULL);
    assert_null(ad_conv2d(ctx, x, w3, ad_variable(ctx, AD_FLOAT64, 1, sb, NULL), 1, 0));
    assert_non_null(strstr(ad_last_error(), "conv2d: bias (5) must be (K) = (4)"));
    assert_null(ad_conv2d(ctx, x, w3, NULL, 0, 0));
    assert_non_null(strstr(ad_last_error(), "stride (0,0) must be >= 1"));
    assert_null(ad_maxpool2d(ctx, x, 9, 1));
    assert_non_null(strstr(ad_last_error(), "maxpool2d: the 9x9 window is larger than the input x (2,3,8,8)"));
    ad_context_free(ctx);
}

/* A conv2d whose weight vjp adds its contribution twice. */
static void doubled_weight_vjp(const ad_node *o, int slot, int rows, const void *g, void *gin)
{
    ad_op_conv2d.cpu.vjp(o, slot, rows, g, gin);
    if (slot == 1) ad_op_conv2d.cpu.vjp(o, slot, rows, g, gin);
}

static void test_broken_conv2d_is_caught(void **state)
{
    (void)state;
    ad_op broken = ad_op_conv2d;
    broken.name = "conv2d_broken_dw";
    broken.cpu.vjp = doubled_weight_vjp;
    ad_gc_options o;
    ad_gc_default_options(&o);
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_case(&broken, &broken.cases[1], &o, &r), AD_OK);
    bool caught = false;
    for (int i = 0; i < r.n; i++) {
        const ad_gc_record *x = &r.rec[i];
        if (x->check == AD_GC_JACOBIAN_REV && x->input == 0) assert_true(x->pass);   /* dx is right */
        if (x->check == AD_GC_JACOBIAN_REV && x->input == 1) {
            assert_false(x->pass);
            assert_non_null(strstr(x->worst, "/dx1["));                              /* names the weight element */
            assert_close(x->reverse, 2 * x->numerical, 1e-6 + 1e-6 * fabs(x->numerical));
            caught = true;
        }
        if (x->check == AD_GC_DOT_PRODUCT) assert_false(x->pass);
    }
    assert_true(caught);
    ad_gc_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_linear), cmocka_unit_test(test_reductions_and_shapes),
        cmocka_unit_test(test_pytorch_style_axes), cmocka_unit_test(test_reshape_infer), cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_nan_and_losses),
        cmocka_unit_test(test_softmax_values), cmocka_unit_test(test_cross_entropy_values),
        cmocka_unit_test(test_pooling_lecture_example), cmocka_unit_test(test_conv2d_against_naive),
        cmocka_unit_test(test_conv2d_errors), cmocka_unit_test(test_conv2d_nan_cotangent_not_skipped), cmocka_unit_test(test_broken_conv2d_is_caught),
        cmocka_unit_test(test_threads_bit_identical), cmocka_unit_test(test_maxpool_propagates_nan),
        cmocka_unit_test(test_maxpool_against_rule), cmocka_unit_test(test_conv2d_relu_is_relu_of_conv2d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
