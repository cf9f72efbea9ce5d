/* test_ops_elementwise.c: every elementwise op's vjp and jvp against
 * centered finite differences, at several points of its domain, in both
 * dtypes, for each of the op's default cases (scalars, vectors, matrices,
 * broadcasting), plus the documented subgradients at kinks and a few exact
 * values. The Jacobian is built column by column from finite differences
 * here, independently of the gradcheck library. */
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"   /* kink_gap is a kernel: it is given the node (ad_node_of) */

/* A tiny deterministic generator: tests must not depend on libc's rand. */
static double uniform(uint64_t *s, double lo, double hi)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(*s >> 11) / 9007199254740992.0;
}

static ad_node *apply_case(ad_context *ctx, const ad_op *op, ad_node **in, const ad_op_case *c)
{
    return ad_apply(ctx, op, in, c->n_in, (op->flags & AD_OP_PARAMS) ? &c->params : NULL);
}

/* Value of output element o with input values vals[slot] (float64). */
static double eval_out(const ad_op *op, const ad_op_case *c, double *const *vals, int64_t o)
{
    ad_context *ctx = ad_context_new();
    ad_node *in[AD_MAX_INPUTS];
    for (int s = 0; s < c->n_in; s++) in[s] = ad_constant(ctx, AD_FLOAT64, c->ndim[s], c->shape[s], vals[s]);
    ad_node *y = apply_case(ctx, op, in, c);
    assert_non_null(y);
    double v = ad_value_at(y, o);
    ad_context_free(ctx);
    return v;
}

/* ∂y[o]/∂in_s[i] by centered differences (vals restored afterwards). */
static double fd_entry(const ad_op *op, const ad_op_case *c, double *const *vals, int s, int64_t i, int64_t o)
{
    double keep = vals[s][i], h = 1e-6 * fmax(1, fabs(keep));
    vals[s][i] = keep + h;
    double fp = eval_out(op, c, vals, o);
    vals[s][i] = keep - h;
    double fm = eval_out(op, c, vals, o);
    vals[s][i] = keep;
    return (fp - fm) / (2 * h);
}

static int64_t case_size(const ad_op_case *c, int s)
{
    int64_t n = 1;
    for (int d = 0; d < c->ndim[s]; d++) n *= c->shape[s][d];
    return n;
}

/* Check J (from vjp, rows) and J (from jvp, columns) against FD at one point. */
static void check_point(const ad_op *op, const ad_op_case *c, uint64_t *rng, ad_dtype dt)
{
    double *vals[AD_MAX_INPUTS];
    for (int s = 0; s < c->n_in; s++) {
        int64_t n = case_size(c, s);
        vals[s] = malloc((size_t)n * sizeof(double));
        ad_domain d = op->domain[s];
        if (d.lo == 0 && d.hi == 0) d = (ad_domain){-2, 2};
        for (int64_t i = 0; i < n; i++) vals[s][i] = uniform(rng, d.lo, d.hi);
        if (dt == AD_FLOAT32)   /* FD runs in float64 on the float32-rounded point */
            for (int64_t i = 0; i < n; i++) vals[s][i] = (float)vals[s][i];
    }
    ad_context *ctx = ad_context_new();
    ad_node *in[AD_MAX_INPUTS];
    for (int s = 0; s < c->n_in; s++) in[s] = ad_variable(ctx, dt, c->ndim[s], c->shape[s], vals[s]);
    ad_node *y = apply_case(ctx, op, in, c);
    assert_non_null(y);
    if (op->kink_gap && op->kink_gap(ad_node_of(y)) < 1e-2) {   /* too near a kink: skip this draw */
        ad_context_free(ctx);
        for (int s = 0; s < c->n_in; s++) free(vals[s]);
        return;
    }
    int64_t m = ad_value(y).size;
    double tol = dt == AD_FLOAT32 ? 2e-3 : 1e-6;
    /* Reverse mode: row o of J is the grad after a backward with cotangent e_o. */
    double *cot = calloc((size_t)m, sizeof(double));
    for (int64_t o = 0; o < m; o++) {
        ad_zero_grad(ctx);
        memset(cot, 0, (size_t)m * sizeof(double));
        cot[o] = 1;
        ad_tensor *ct = ad_tensor_from(dt, ad_value(y).ndim, ad_value(y).shape, cot);
        ad_backward_opts opts = {.cotangent = ct};
        assert_int_equal(ad_backward_ex(ctx, y, &opts), AD_OK);
        ad_tensor_free(ct);
        for (int s = 0; s < c->n_in; s++) {
            for (int64_t i = 0; i < case_size(c, s); i++) {
                double fd = fd_entry(op, c, vals, s, i, o), rev = ad_grad_at(in[s], i);
                if (fabs(rev - fd) > tol * fmax(1, fabs(fd)))
                    fail_msg("%s [%s, %s]: vjp dy[%lld]/din%d[%lld] = %.10g, finite differences %.10g", op->name,
                             c->label, ad_dtype_name(dt), (long long)o, s, (long long)i, rev, fd);
            }
        }
    }
    free(cot);
    /* Forward mode: one tangent direction per input element, all at once. */
    int64_t total = 0;
    for (int s = 0; s < c->n_in; s++) total += case_size(c, s);
    if (total <= 64) {
        ad_context *fc = ad_context_new();
        assert_int_equal(ad_forward_dirs(fc, (int)total), AD_OK);
        ad_node *fin[AD_MAX_INPUTS];
        int dir = 0;
        for (int s = 0; s < c->n_in; s++) {
            fin[s] = ad_constant(fc, dt, c->ndim[s], c->shape[s], vals[s]);
            for (int64_t i = 0; i < case_size(c, s); i++) ad_set_tangent(fin[s], dir++, NULL, i);
        }
        ad_node *fy = apply_case(fc, op, fin, c);
        assert_non_null(fy);
        ad_zero_grad(ctx);
        dir = 0;
        for (int s = 0; s < c->n_in; s++)
            for (int64_t i = 0; i < case_size(c, s); i++, dir++)
                for (int64_t o = 0; o < m; o++) {
                    double fd = fd_entry(op, c, vals, s, i, o), fwd = ad_tangent_at(fy, dir, o);
                    if (fabs(fwd - fd) > tol * fmax(1, fabs(fd)))
                        fail_msg("%s [%s, %s]: jvp dy[%lld]/din%d[%lld] = %.10g, finite differences %.10g", op->name,
                                 c->label, ad_dtype_name(dt), (long long)o, s, (long long)i, fwd, fd);
                }
        ad_context_free(fc);
    }
    ad_context_free(ctx);
    for (int s = 0; s < c->n_in; s++) free(vals[s]);
}

static void test_every_elementwise_op(void **state)
{
    (void)state;
    int checked = 0;
    for (int k = 0; k < ad_op_count(); k++) {
        const ad_op *op = ad_op_at(k);
        if (!(op->flags & AD_OP_ELEMENTWISE)) continue;
        uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)k;
        for (int c = 0; c < op->n_cases; c++)
            for (int point = 0; point < 3; point++) {
                check_point(op, &op->cases[c], &rng, AD_FLOAT64);
                check_point(op, &op->cases[c], &rng, AD_FLOAT32);
            }
        checked++;
    }
    assert_int_equal(checked, 18);   /* add sub mul div max min neg scale pow exp log sqrt sin cos tanh sigmoid relu abs */
}

/* The documented subgradients at kinks, and exact values. */
static void test_kinks_and_values(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *z = ad_scalar(ctx, 0), *a = ad_scalar(ctx, 2), *b = ad_scalar(ctx, 2);
    ad_node *r = ad_relu(ctx, z), *s = ad_abs(ctx, z), *mx = ad_max(ctx, a, b), *mn = ad_min(ctx, a, b);
    ad_backward(ctx, r);
    assert_close(ad_grad_scalar(z), 0, 0);   /* relu'(0) = 0 */
    ad_zero_grad(ctx);
    ad_backward(ctx, s);
    assert_close(ad_grad_scalar(z), 0, 0);   /* abs'(0) = 0 */
    ad_zero_grad(ctx);
    ad_backward(ctx, mx);                    /* tie: all to a */
    assert_close(ad_grad_scalar(a), 1, 0);
    assert_close(ad_grad_scalar(b), 0, 0);
    ad_zero_grad(ctx);
    ad_backward(ctx, mn);
    assert_close(ad_grad_scalar(a), 1, 0);
    assert_close(ad_grad_scalar(b), 0, 0);
    /* sigmoid is stable far out */
    ad_node *big = ad_sigmoid(ctx, ad_scalar(ctx, -800)), *big2 = ad_sigmoid(ctx, ad_scalar(ctx, 800));
    assert_close(ad_value_scalar(big), 0, 1e-300);
    assert_close(ad_value_scalar(big2), 1, 0);
    assert_close(ad_value_scalar(ad_pow(ctx, ad_scalar(ctx, 2), 10)), 1024, 0);
    assert_close(ad_value_scalar(ad_div(ctx, ad_scalar(ctx, 1), ad_scalar(ctx, 4))), 0.25, 0);
    /* pow with c = 0 has derivative 0 everywhere, also at x = 0 */
    ad_node *x0 = ad_scalar(ctx, 0);
    ad_node *p0 = ad_pow(ctx, x0, 0);
    ad_backward(ctx, p0);
    assert_close(ad_grad_scalar(x0), 0, 0);
    /* pow and scale need their constant */
    ad_node *in[1] = {a};
    assert_null(ad_apply(ctx, &ad_op_pow, in, 1, NULL));
    assert_non_null(strstr(ad_last_error(), "pow: needs its constant"));
    assert_null(ad_scale(ctx, a, NAN));
    assert_non_null(strstr(ad_last_error(), "scale: the constant nan is not finite"));
    ad_context_free(ctx);
}

/* The scalar path (an op's scalar kernels, for 0-d CPU inputs: ad_op.h) gives
 * the same bits as its forward and vjp, which shape-(1) inputs take: values
 * and both grads, in both dtypes, at points of the domain, at kinks and ties,
 * and at NaN and infinities. */
static bool same_number(double a, double b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }

static void test_scalar_path_matches_kernels(void **state)
{
    (void)state;
    const double pts[] = {0.3, -1.25, 0.0, 2.0, 1.7, NAN, INFINITY, -INFINITY};
    const int n_pts = (int)(sizeof pts / sizeof pts[0]);
    int checked = 0;
    for (int i = 0; i < ad_op_count(); i++) {
        const ad_op *op = ad_op_at(i);
        if (!op->scalar) continue;
        assert_true(op->flags & AD_OP_ELEMENTWISE);
        assert_false(op->flags & AD_OP_PARAMS);
        for (int dt = 0; dt < 2; dt++)
            for (int p = 0; p < n_pts; p++)
                for (int q = 0; q < n_pts; q++) {
                    if (op->n_in == 1 && q > 0) break;
                    ad_context *ctx = ad_context_new();
                    int64_t one[1] = {1};
                    ad_node *s0[2], *s1[2];
                    double v[2] = {pts[p], pts[q]};
                    for (int k = 0; k < op->n_in; k++) {
                        s0[k] = ad_variable(ctx, (ad_dtype)dt, 0, NULL, &v[k]);
                        s1[k] = ad_variable(ctx, (ad_dtype)dt, 1, one, &v[k]);
                    }
                    ad_node *y0 = ad_apply(ctx, op, s0, op->n_in, NULL), *y1 = ad_apply(ctx, op, s1, op->n_in, NULL);
                    assert_non_null(y0);
                    assert_non_null(y1);
                    assert_int_equal(ad_value(y0).ndim, 0);
                    assert_int_equal(ad_value(y0).dtype, dt);
                    if (!same_number(ad_value_scalar(y0), ad_value_at(y1, 0)))
                        fail_msg("%s %s at (%g, %g): scalar path %.17g, forward %.17g", op->name,
                                 dt ? "float32" : "float64", v[0], v[1], ad_value_scalar(y0), ad_value_at(y1, 0));
                    /* a second use of each input, so the grads accumulate through += */
                    assert_int_equal(ad_backward(ctx, ad_mul(ctx, y0, s0[0])), AD_OK);
                    assert_int_equal(ad_backward(ctx, ad_mul(ctx, y1, s1[0])), AD_OK);
                    for (int k = 0; k < op->n_in; k++)
                        if (!same_number(ad_grad_scalar(s0[k]), ad_grad_at(s1[k], 0)))
                            fail_msg("%s %s at (%g, %g): grad %d on the scalar path %.17g, by the vjp %.17g", op->name,
                                     dt ? "float32" : "float64", v[0], v[1], k, ad_grad_scalar(s0[k]),
                                     ad_grad_at(s1[k], 0));
                    ad_context_free(ctx);
                    checked++;
                }
    }
    assert_true(checked >= 2 * (6 * n_pts * n_pts + 10 * n_pts));   /* the 6 binary and 10 unary built-ins */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_elementwise_op),
        cmocka_unit_test(test_kinks_and_values),
        cmocka_unit_test(test_scalar_path_matches_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
