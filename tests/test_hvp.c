/* test_hvp.c: ad_hvp, Hessian-vector products by forward-over-reverse.
 * The lectures' two functions against their Hessians in closed form (to
 * 1e-10), a tensor graph (broadcasting, fan-out, a constant) against
 * centered differences of the gradient and for symmetry, a small CNN with
 * LeNet's ops against them too, the gradient it
 * returns beside H·v against ad_backward's, and every refusal, named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_op.h"
#include "autodidact.h"

/* H·v for f(x, y) built by `build` from scalars at (x0, y0), v = (vx, vy). */
typedef ad_node *(*build2_fn)(ad_context *ctx, ad_node *x, ad_node *y);

static void hvp2(build2_fn build, double x0, double y0, double vx, double vy, double hv[2], double g[2], bool fast)
{
    ad_context *ctx = ad_context_new();
    ad_set_fast_path(ctx, fast);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x = ad_scalar(ctx, x0), *y = ad_scalar(ctx, y0);
    assert_int_equal(ad_set_tangent(x, 0, &vx, -1), AD_OK);
    assert_int_equal(ad_set_tangent(y, 0, &vy, -1), AD_OK);
    ad_node *f = build(ctx, x, y);
    assert_non_null(f);
    ad_node *wrt[2] = {x, y};
    void *hvs[2] = {&hv[0], &hv[1]}, *grads[2] = {&g[0], &g[1]};
    hv[0] = hv[1] = g[0] = g[1] = 0;
    assert_int_equal(ad_hvp(ctx, f, NULL, 0, 2, wrt, grads, hvs), AD_OK);
    ad_context_free(ctx);
}

/* Lecture 001: f(x, y) = y log x + √(y log x), at the lecture's (3, 2). */
static ad_node *lecture_f(ad_context *ctx, ad_node *x, ad_node *y)
{
    ad_node *b = ad_mul(ctx, y, ad_log(ctx, x));
    return ad_add(ctx, b, ad_sqrt(ctx, b));
}

static void test_lecture_f_hessian(void **state)
{
    (void)state;
    double x = 3, y = 2;
    /* u = y log x, f = u + √u: f_u = 1 + 1/(2√u), f_uu = -1/(4u^(3/2)). */
    double u = y * log(x), fu = 1 + 0.5 / sqrt(u), fuu = -0.25 / (u * sqrt(u));
    double ux = y / x, uy = log(x), uxx = -y / (x * x), uxy = 1 / x;
    double H[2][2] = {{fuu * ux * ux + fu * uxx, fuu * ux * uy + fu * uxy}, {fuu * ux * uy + fu * uxy, fuu * uy * uy}};
    for (int fast = 0; fast < 2; fast++)
        for (int col = 0; col < 2; col++) {
            double hv[2], g[2];
            hvp2(lecture_f, x, y, col == 0, col == 1, hv, g, fast);
            for (int r = 0; r < 2; r++) assert_close(hv[r], H[r][col], 1e-10);
            assert_close(g[0], fu * ux, 1e-12);   /* ∂f/∂x, the lecture's 2/3·(1 + 1/√(2 log 3)) */
            assert_close(g[1], fu * uy, 1e-12);
        }
}

/* Lecture 004: J = cos(sin(x²) + 3x²), at x = 1.5 and others; y unused. */
static ad_node *lecture_j(ad_context *ctx, ad_node *x, ad_node *y)
{
    (void)y;
    ad_node *t = ad_mul(ctx, x, x);
    return ad_cos(ctx, ad_add(ctx, ad_sin(ctx, t), ad_scale(ctx, t, 3)));
}

static void test_lecture_j_second_derivative(void **state)
{
    (void)state;
    const double xs[] = {1.5, -0.7, 0.3, 2.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i];
        /* s = sin(x²) + 3x²; J = cos s: J'' = -cos(s)·s'² - sin(s)·s''. */
        double s = sin(x * x) + 3 * x * x, s1 = 2 * x * cos(x * x) + 6 * x,
               s2 = 2 * cos(x * x) - 4 * x * x * sin(x * x) + 6;
        double hv[2], g[2];
        hvp2(lecture_j, x, 0.5, 1.0, 0.0, hv, g, true);
        assert_close(hv[0], -cos(s) * s1 * s1 - sin(s) * s2, 1e-10 * (1 + fabs(s1 * s1)));
        assert_close(hv[1], 0.0, 0.0);   /* y is not in J */
        assert_close(g[0], -sin(s) * s1, 1e-12 * (1 + fabs(s1)));
    }
}

/* A tensor graph: a (2,3), b (3) broadcast, c (2,3) a constant;
 * L = Σ (a·b / (1.5 + sigmoid(a)) + tanh(a)·exp(b)·c + a²·0.5 + √(b+3)·log(a+3)). */
enum { NA = 6, NB = 3 };
static ad_node *tensor_l(ad_context *ctx, ad_node *a, ad_node *b)
{
    int64_t s23[] = {2, 3};
    const double cv[] = {0.5, -1, 2, 0.25, -0.75, 1.5};
    ad_node *c = ad_constant(ctx, AD_FLOAT64, 2, s23, cv);
    ad_node *three = ad_scalar_const(ctx, 3.0);
    ad_node *t1 = ad_div(ctx, ad_mul(ctx, a, b), ad_add(ctx, ad_scalar_const(ctx, 1.5), ad_sigmoid(ctx, a)));
    ad_node *t2 = ad_mul(ctx, ad_mul(ctx, ad_tanh(ctx, a), ad_exp(ctx, b)), c);
    ad_node *t3 = ad_scale(ctx, ad_pow(ctx, a, 2), 0.5);
    ad_node *t4 = ad_mul(ctx, ad_sqrt(ctx, ad_add(ctx, b, three)), ad_log(ctx, ad_add(ctx, a, three)));
    return ad_sum(ctx, ad_add(ctx, ad_add(ctx, t1, t2), ad_add(ctx, t3, t4)), AD_ALL_AXES, false);
}

static const double A0[NA] = {0.3, -1.2, 0.7, 1.1, -0.4, 0.9}, B0[NB] = {0.5, -0.8, 1.25};

/* The gradient of L at (a, b) by ad_backward. */
static void grad_at(const double *a, const double *b, double *ga, double *gb)
{
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3}, s3[] = {3};
    ad_node *an = ad_variable(ctx, AD_FLOAT64, 2, s23, a), *bn = ad_variable(ctx, AD_FLOAT64, 1, s3, b);
    ad_node *l = tensor_l(ctx, an, bn);
    assert_int_equal(ad_backward(ctx, l), AD_OK);
    for (int i = 0; i < NA; i++) ga[i] = ad_grad_at(an, i);
    for (int i = 0; i < NB; i++) gb[i] = ad_grad_at(bn, i);
    ad_context_free(ctx);
}

/* H·v (and the gradient) for v = (va, vb) by ad_hvp. */
static void tensor_hvp(const double *va, const double *vb, double *ha, double *hb, double *ga, double *gb)
{
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3}, s3[] = {3};
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);   /* direction 1 is v; 0 stays zero */
    ad_node *an = ad_variable(ctx, AD_FLOAT64, 2, s23, A0), *bn = ad_variable(ctx, AD_FLOAT64, 1, s3, B0);
    assert_int_equal(ad_set_tangent(an, 1, va, -1), AD_OK);
    assert_int_equal(ad_set_tangent(bn, 1, vb, -1), AD_OK);
    ad_node *l = tensor_l(ctx, an, bn);
    ad_node *wrt[2] = {an, bn};
    memset(ha, 0, NA * sizeof *ha);
    memset(hb, 0, NB * sizeof *hb);
    memset(ga, 0, NA * sizeof *ga);
    memset(gb, 0, NB * sizeof *gb);
    void *hvs[2] = {ha, hb}, *grads[2] = {ga, gb};
    assert_int_equal(ad_hvp(ctx, l, NULL, 1, 2, wrt, grads, hvs), AD_OK);
    assert_true(ad_grad_at(an, 0) == 0.0 && ad_grad_at(an, 5) == 0.0);   /* node grads untouched */
    ad_context_free(ctx);
}

static void test_tensor_graph_against_differences(void **state)
{
    (void)state;
    const double va[NA] = {0.4, -0.3, 0.8, 0.1, -0.6, 0.25}, vb[NB] = {-0.5, 0.9, 0.35};
    double ha[NA], hb[NB], ga[NA], gb[NB];
    tensor_hvp(va, vb, ha, hb, ga, gb);
    /* The gradient it returns is ad_backward's. */
    double ga0[NA], gb0[NB];
    grad_at(A0, B0, ga0, gb0);
    for (int i = 0; i < NA; i++) assert_close(ga[i], ga0[i], 1e-13 * (1 + fabs(ga0[i])));
    for (int i = 0; i < NB; i++) assert_close(gb[i], gb0[i], 1e-13 * (1 + fabs(gb0[i])));
    /* H·v against (∇L(x + hv) - ∇L(x - hv)) / 2h, and the 4-point stencil. */
    const double h = 1e-4;
    double ap[NA], bp[NB], gap[4][NA], gbp[4][NB];
    const double off[4] = {1, -1, 2, -2};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < NA; i++) ap[i] = A0[i] + off[k] * h * va[i];
        for (int i = 0; i < NB; i++) bp[i] = B0[i] + off[k] * h * vb[i];
        grad_at(ap, bp, gap[k], gbp[k]);
    }
    for (int i = 0; i < NA; i++)
        assert_close(ha[i], (8 * (gap[0][i] - gap[1][i]) - (gap[2][i] - gap[3][i])) / (12 * h), 1e-9);
    for (int i = 0; i < NB; i++)
        assert_close(hb[i], (8 * (gbp[0][i] - gbp[1][i]) - (gbp[2][i] - gbp[3][i])) / (12 * h), 1e-9);
}

static void test_tensor_graph_symmetric(void **state)
{
    (void)state;
    const double ua[NA] = {1, 0.5, -0.25, 0.75, -1, 0.3}, ub[NB] = {0.2, -0.7, 1.1};
    const double va[NA] = {-0.6, 0.2, 0.9, -0.4, 0.55, 0.1}, vb[NB] = {0.8, 0.3, -0.45};
    double hua[NA], hub[NB], hva[NA], hvb[NB], ga[NA], gb[NB];
    tensor_hvp(ua, ub, hua, hub, ga, gb);
    tensor_hvp(va, vb, hva, hvb, ga, gb);
    double u_hv = 0, v_hu = 0;
    for (int i = 0; i < NA; i++) {
        u_hv += ua[i] * hva[i];
        v_hu += va[i] * hua[i];
    }
    for (int i = 0; i < NB; i++) {
        u_hv += ub[i] * hvb[i];
        v_hu += vb[i] * hub[i];
    }
    assert_true(fabs(u_hv) > 0.1);   /* not trivially 0 = 0 */
    assert_close(u_hv, v_hu, 1e-12 * (1 + fabs(u_hv)));
}

/* A small CNN, LeNet's ops in LeNet's order, in float64: x (2,1,6,6) data;
 * conv2d_relu 2@3x3 pad 1 -> conv2d_relu 2@3x3 pad 1 (its input and weight
 * both move along v: both halves of its rule run) -> maxpool 2 -> flatten
 * (2,18) -> linear 4 -> relu -> linear 3 -> cross-entropy. The parameters
 * (conv1 w b, conv2 w b, fc1 w b, fc2 w b) are the variables; H·v over all
 * of them against 4-point differences of the gradient along v. */
enum { CNN_P = 8 };
static const int64_t cnn_shape[CNN_P][4] = {{2, 1, 3, 3}, {2}, {2, 2, 3, 3}, {2}, {4, 18}, {4}, {3, 4}, {3}};
static const int cnn_ndim[CNN_P] = {4, 1, 4, 1, 2, 1, 2, 1};

static int64_t cnn_size(int k)
{
    int64_t n = 1;
    for (int d = 0; d < cnn_ndim[k]; d++) n *= cnn_shape[k][d];
    return n;
}

/* The loss at parameters p (each cnn_size(k) doubles), with tangents v[k] when v; its gradient into g. */
static ad_node *cnn_loss(ad_context *ctx, double *const *p, double *const *v, ad_node **params)
{
    int64_t sx[] = {2, 1, 6, 6}, st[] = {2};
    double x[72], t[2] = {2, 0};
    for (int i = 0; i < 72; i++) x[i] = sin(0.37 * i) + 0.1 * (i % 5);
    ad_node *xn = ad_constant(ctx, AD_FLOAT64, 4, sx, x), *tn = ad_constant(ctx, AD_FLOAT64, 1, st, t);
    if (v) assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    for (int k = 0; k < CNN_P; k++) {
        params[k] = ad_variable(ctx, AD_FLOAT64, cnn_ndim[k], cnn_shape[k], p[k]);
        if (v) assert_int_equal(ad_set_tangent(params[k], 0, v[k], -1), AD_OK);
    }
    ad_node *h = ad_conv2d_relu(ctx, xn, params[0], params[1], 1, 1);
    h = ad_maxpool2d(ctx, ad_conv2d_relu(ctx, h, params[2], params[3], 1, 1), 2, 2);
    h = ad_relu(ctx, ad_linear(ctx, ad_flatten(ctx, h), params[4], params[5]));
    return ad_cross_entropy(ctx, ad_linear(ctx, h, params[6], params[7]), tn, NULL, AD_REDUCE_MEAN, -1);
}

static void test_cnn_against_differences(void **state)
{
    (void)state;
    double *p[CNN_P], *v[CNN_P], *hv[CNN_P], *num[CNN_P], *q[CNN_P];
    for (int k = 0; k < CNN_P; k++) {
        int64_t n = cnn_size(k);
        p[k] = malloc((size_t)n * sizeof(double));
        v[k] = malloc((size_t)n * sizeof(double));
        hv[k] = calloc((size_t)n, sizeof(double));
        num[k] = calloc((size_t)n, sizeof(double));
        q[k] = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n; i++) {
            p[k][i] = 0.5 * cos(1.3 * (double)i + k) + (k % 2 ? 0.05 : 0.0);
            v[k][i] = sin(0.7 * (double)i - k);
        }
    }
    ad_node *params[CNN_P];
    ad_context *ctx = ad_context_new();
    ad_node *l = cnn_loss(ctx, p, v, params);
    assert_non_null(l);
    assert_int_equal(ad_hvp(ctx, l, NULL, 0, CNN_P, params, NULL, (void *const *)hv), AD_OK);
    ad_context_free(ctx);
    const double h = 1e-4, off[4] = {1, -1, 2, -2}, wt[4] = {8.0 / 12, -8.0 / 12, -1.0 / 12, 1.0 / 12};
    for (int s = 0; s < 4; s++) {
        for (int k = 0; k < CNN_P; k++)
            for (int64_t i = 0; i < cnn_size(k); i++) q[k][i] = p[k][i] + off[s] * h * v[k][i];
        ctx = ad_context_new();
        l = cnn_loss(ctx, q, NULL, params);
        assert_int_equal(ad_backward(ctx, l), AD_OK);
        for (int k = 0; k < CNN_P; k++)
            for (int64_t i = 0; i < cnn_size(k); i++) num[k][i] += wt[s] * ad_grad_at(params[k], i) / h;
        ad_context_free(ctx);
    }
    double largest = 0;
    for (int k = 0; k < CNN_P; k++)
        for (int64_t i = 0; i < cnn_size(k); i++) {
            assert_close(hv[k][i], num[k][i], 1e-8 * (1 + fabs(num[k][i])));
            largest = fmax(largest, fabs(hv[k][i]));
        }
    assert_true(largest > 1e-2);   /* not zeros against zeros */
    for (int k = 0; k < CNN_P; k++) free(p[k]), free(v[k]), free(hv[k]), free(num[k]), free(q[k]);
}

/* A cotangent w: H of <w, y> for y = x³ elementwise is diag(6·w·x). */
static void test_cotangent(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s4[] = {4};
    const double x0[4] = {0.5, -1, 2, 0.3}, w[4] = {1, -2, 0.5, 3}, v[4] = {0.7, 0.1, -0.4, 2};
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, s4, x0);
    assert_int_equal(ad_set_tangent(x, 0, v, -1), AD_OK);
    ad_node *y = ad_pow(ctx, x, 3);
    ad_tensor cot = {.dtype = AD_FLOAT64, .ndim = 1, .shape = {4}, .size = 4, .data = (void *)w};
    double hv[4] = {0}, g[4] = {0};
    void *hvs[1] = {hv}, *grads[1] = {g};
    assert_int_equal(ad_hvp(ctx, y, &cot, 0, 1, &x, grads, hvs), AD_OK);
    for (int i = 0; i < 4; i++) {
        assert_close(hv[i], 6 * w[i] * x0[i] * v[i], 1e-13);
        assert_close(g[i], 3 * w[i] * x0[i] * x0[i], 1e-13);
    }
    ad_context_free(ctx);
}

/* y = Σ x, x (5) -> y (): a vjp that writes one past x's adjoint. In a
 * context with guard zones ad_hvp names the op, the buffer and the byte, and
 * the buffer's own size (40: five doubles; y's would be 8). */
static ad_status sum_fwd(ad_node *o)
{
    double s = 0;
    for (int i = 0; i < 5; i++) s += ((const double *)o->in[0]->value.data)[i];
    ((double *)o->value.data)[0] = s;
    return AD_OK;
}
static void sum_vjp_past(const ad_node *o, int slot, int rows, const void *g, void *gi)
{
    (void)o, (void)slot, (void)rows;
    for (int i = 0; i < 5; i++) ((double *)gi)[i] += ((const double *)g)[0];
    ((double *)gi)[5] += 1;   /* one past */
}
static void sum_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        double s = 0;
        for (int i = 0; t && i < 5; i++) s += t[i];
        ((double *)ad_tangent_row(o, d))[0] = s;
    }
}
static ad_status sum_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in, (void)p, (void)sh;
    *nd = 0;
    *dt = (ad_dtype)in[0]->value.dtype;
    return AD_OK;
}
static void test_stray_write_named_with_its_buffer(void **state)
{
    (void)state;
    if (AD_TEST_UNDER_ASAN) skip();   /* (there the zone is poisoned: the write itself stops the program) */
    const ad_op sum_past = {.name = "sum_past", .n_in = 1, .n_in_min = 1, .flags = AD_OP_LINEAR, .infer = sum_infer,
                            .cpu = {sum_fwd, sum_vjp_past, sum_jvp, NULL}};
    ad_context *ctx = ad_context_new();
    ad_set_guard_zones(ctx, true);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    assert_non_null(ad_scalar(ctx, 0.0));   /* node 0, off the way: the sweep's buffers start at x, node 1 */
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){5}, (const double[]){1, 2, 3, 4, 5});
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    ad_node *y = ad_apply(ctx, &sum_past, &x, 1, NULL);
    assert_non_null(y);
    double hv[5] = {0};
    void *hvs[1] = {hv};
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, NULL, hvs), AD_ERR_ARG);
    if (!strstr(ad_last_error(), "hvp: op sum_past (node #2): vjp wrote outside input 0's adjoint (byte 40 of 40)"))
        fail_msg("%s", ad_last_error());
    ad_context_free(ctx);
}

/* With finiteness checks on, the sweep checks ġ as it checks ḡ: log at
 * x = 1e-200 along v = 1 has a finite value (-460.5), tangent (1e200) and
 * gradient (1/x = 1e200), but its H·v, -v/x² = -1e400, overflows: the op
 * that made it is named, as for a gradient. ḡ is checked too, first. */
static void test_check_finite_traces_the_tangent_adjoint(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x = ad_scalar(ctx, 1e-200);
    assert_int_equal(ad_set_tangent(x, 0, (const double[]){1}, -1), AD_OK);
    ad_node *y = ad_log(ctx, x);
    assert_non_null(y);
    double hv = 0, g = 0;
    void *hvs[1] = {&hv}, *grads[1] = {&g};
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, grads, hvs), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "log: its vjp for input 0 made a non-finite gradient -inf"));
    ad_set_check_finite(ctx, false);   /* unchecked, the same call gives the overflow */
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, grads, hvs), AD_OK);
    assert_true(hv == -INFINITY && g == 1e200);
    /* and ḡ itself, checked first: √x at 0 (x without a tangent; z carries
     * v), whose gradient 1/(2√x) is inf there (ġ would be inf·0 = NaN) */
    ad_set_check_finite(ctx, true);
    ad_node *x0 = ad_scalar(ctx, 0.0), *z = ad_scalar(ctx, 1.0);
    assert_int_equal(ad_set_tangent(z, 0, (const double[]){1}, -1), AD_OK);
    ad_node *f = ad_add(ctx, ad_sqrt(ctx, x0), ad_mul(ctx, z, z));
    assert_non_null(f);
    ad_node *xz[2] = {x0, z};
    double h2[2] = {0, 0};
    void *hs2[2] = {&h2[0], &h2[1]};
    assert_int_equal(ad_hvp(ctx, f, NULL, 0, 2, xz, NULL, hs2), AD_ERR_NONFINITE);
    if (!strstr(ad_last_error(), "sqrt: its vjp for input 0 made a non-finite gradient inf"))
        fail_msg("%s", ad_last_error());
    ad_context_free(ctx);
}

/* y = x³ with a vjp and no second-order rule, neither linear nor piecewise linear. */
static const ad_op first_order_cube = {
    .name = "cube_first_order", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape,
    .cpu = {ad_test_cube_fwd, ad_test_cube_vjp, ad_test_cube_jvp, NULL},
};

static void test_refusals(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0);
    ad_node *y = ad_mul(ctx, x, x);
    double hv = 0;
    void *hvs[1] = {&hv};
    /* forward mode off */
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, NULL, hvs), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "hvp: forward mode is off"));
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    x = ad_scalar(ctx, 2.0);   /* (a fresh leaf: the old one's tangent came too late for y) */
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    y = ad_mul(ctx, x, x);
    /* a direction out of range, no buffer, a node listed twice */
    assert_int_equal(ad_hvp(ctx, y, NULL, 1, 1, &x, NULL, hvs), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "hvp: direction 1 out of range 0..0"));
    /* no list of nodes, or no list of buffers */
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, NULL, NULL, hvs), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "hvp: needs 1 or more nodes with their H·v buffers (got 1)"));
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, NULL, NULL), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "hvp: needs 1 or more nodes with their H·v buffers (got 1)"));
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 0, &x, NULL, hvs), AD_ERR_ARG);   /* none asked for */
    assert_non_null(strstr(ad_last_error(), "hvp: needs 1 or more nodes with their H·v buffers (got 0)"));
    /* a gradient buffer for some nodes only: each one asked for is filled,
     * the others left alone (x·z at (2, 3): ∇ = (3, 2), H·v for v = (1, 0): (0, 1)) */
    {
        ad_node *p = ad_scalar(ctx, 2.0), *q = ad_scalar(ctx, 3.0);
        assert_int_equal(ad_set_tangent(p, 0, (const double[]){1}, -1), AD_OK);
        assert_int_equal(ad_set_tangent(q, 0, (const double[]){0}, -1), AD_OK);
        ad_node *pq = ad_mul(ctx, p, q), *both[2] = {p, q};
        for (int which = 0; which < 2; which++) {
            double h[2] = {0, 0}, g2[2] = {-7, -7};
            void *hs[2] = {&h[0], &h[1]}, *gs[2] = {which == 0 ? &g2[0] : NULL, which == 1 ? &g2[1] : NULL};
            assert_int_equal(ad_hvp(ctx, pq, NULL, 0, 2, both, gs, hs), AD_OK);
            assert_true(h[0] == 0 && h[1] == 1);
            assert_true(g2[which] == -7 + (which == 0 ? 3 : 2));   /* added, as into a grad */
            assert_true(g2[1 - which] == -7);
        }
    }
    void *none[1] = {NULL};
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, NULL, none), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "hvp: node 0 of 1 is NULL or has no H·v buffer"));
    ad_node *twice[2] = {x, x};
    double hv2 = 0;
    void *hvs2[2] = {&hv, &hv2};
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 2, twice, NULL, hvs2), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "is listed twice"));
    /* the good call: d²(x²)/dx² = 2 */
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 1, &x, NULL, hvs), AD_OK);
    assert_close(hv, 2.0, 0.0);
    /* an op without a second-order rule, named */
    ad_node *in[1] = {x};
    ad_node *c = ad_apply(ctx, &first_order_cube, in, 1, NULL);
    if (!c) fail_msg("%s", ad_last_error());
    assert_int_equal(ad_hvp(ctx, c, NULL, 0, 1, &x, NULL, hvs), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "hvp: op cube_first_order (node #"));
    assert_non_null(strstr(ad_last_error(), "is first-order only"));
    /* no tangent anywhere on the way: v never reached the graph (a rewind drops tangents) */
    ad_node *x3 = ad_scalar(ctx, 2.0), *y3, *wrt3[1] = {x3};
    assert_int_equal(ad_set_tangent(x3, 0, NULL, 0), AD_OK);
    ad_mark m = ad_context_mark(ctx);
    y3 = ad_mul(ctx, x3, ad_sin(ctx, x3));
    assert_int_equal(ad_hvp(ctx, y3, NULL, 0, 1, wrt3, NULL, hvs), AD_OK);   /* x3's tangent is there */
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    y3 = ad_mul(ctx, x3, ad_sin(ctx, x3));
    assert_int_equal(ad_hvp(ctx, y3, NULL, 0, 1, wrt3, NULL, hvs), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "hvp: no node on the way to the output carries a tangent"));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    assert_int_equal(ad_set_tangent(x3, 0, NULL, 0), AD_OK);   /* set again after the rewind */
    y3 = ad_mul(ctx, x3, ad_sin(ctx, x3));
    hv = 0;
    assert_int_equal(ad_hvp(ctx, y3, NULL, 0, 1, wrt3, NULL, hvs), AD_OK);
    assert_close(hv, 2 * cos(2.0) - 2 * sin(2.0), 1e-14);   /* (x sin x)'' = 2 cos x - x sin x at 2 */
    /* a non-scalar output without a cotangent */
    int64_t s2[] = {2};
    const double v2[2] = {1, 2};
    ad_node *t = ad_variable(ctx, AD_FLOAT64, 1, s2, v2);
    ad_node *t2 = ad_mul(ctx, t, t);
    assert_int_equal(ad_hvp(ctx, t2, NULL, 0, 1, &t, NULL, hvs), AD_ERR_SHAPE);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lecture_f_hessian),
        cmocka_unit_test(test_lecture_j_second_derivative),
        cmocka_unit_test(test_tensor_graph_against_differences),
        cmocka_unit_test(test_tensor_graph_symmetric),
        cmocka_unit_test(test_cnn_against_differences),
        cmocka_unit_test(test_cotangent),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_check_finite_traces_the_tangent_adjoint),
        cmocka_unit_test(test_stray_write_named_with_its_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
