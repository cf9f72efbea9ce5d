/* test_gradcheck_params.c: a case for every parameter value an op's code
 * treats apart, and the derivatives at ties against the ops' conventions.
 *   - pow: a derivative special-cased wrongly at c = 1 (issue 28's survivor:
 *     the cases had c = 2, 3, 0.5, -1.5) fails at the c = 1 case alone;
 *   - max with its tie sent to b instead of a passes every check away from
 *     ties (the subgradient is in between) and fails at ties;
 *   - the case lists hold the edges: pow's exponents, conv2d's and the
 *     pooling ops' 1x1 kernels, strides past the kernel, full padding,
 *     output 1x1, and rows and columns apart;
 *   - the built-in ops pass at ties, with records saying so. */
#include <math.h>
#include <string.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"

static ad_gc_options options(void)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    return o;
}

/* The failing records' case labels, joined ("|a|b|"), into buf. */
static const char *failing_cases(const ad_gc_report *r, char *buf, size_t len)
{
    snprintf(buf, len, "|");
    for (int i = 0; i < r->n; i++) {
        if (r->rec[i].pass) continue;
        char one[160];
        snprintf(one, sizeof one, "%s|", r->rec[i].case_label);
        if (!strstr(buf, one)) strncat(buf, one, len - strlen(buf) - 1);
    }
    return buf;
}

/* pow's rule with the special case at c = 1 written wrongly (x for 1). */
static double bad_pow_d(double x, double c) { return c == 0 ? 0 : c == 1 ? x : c * pow(x, c - 1); }
static void bad_pow_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    AD_DISPATCH(o->value.dtype, {
        const T *x = o->in[0]->value.data, *gy = g;
        T *gx = gi;
        for (int64_t i = 0; i < o->value.size; i++) gx[i] += (T)(gy[i] * bad_pow_d(x[i], o->params->c));
    });
}
AD_VJP_BY_ROWS(bad_pow_vjp, bad_pow_vjp1)
static void bad_pow_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *x = o->in[0]->value.data, *tx = ad_tangent_row(o->in[0], d);
            T *t = ad_tangent_row(o, d);
            for (int64_t i = 0; i < o->value.size; i++) t[i] = tx ? (T)(bad_pow_d(x[i], o->params->c) * tx[i]) : 0;
        });
}

static void test_pow_wrong_at_c_1(void **state)
{
    (void)state;
    ad_op bad = ad_op_pow;
    bad.name = "pow_wrong_at_1";
    bad.cpu.vjp = bad_pow_vjp;
    bad.cpu.jvp = bad_pow_jvp;
    ad_gc_options o = options();
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op(&bad, &o, &r), AD_OK);
    char buf[1024];
    assert_string_equal(failing_cases(&r, buf, sizeof buf), "|vector (5), c = 1|");
    ad_gc_report_free(&r);
    assert_int_equal(ad_gradcheck_op(&ad_op_pow, &o, &r), AD_OK);   /* the right rule passes every exponent */
    assert_int_equal(r.n_fail, 0);
    ad_gc_report_free(&r);
}

/* max with its tie sent to b: dy/da = [a > b], dy/db = [a <= b]. */
static void tie_to_b_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    ad_bcast bc;
    ad_bcast_setup(o, &bc);
    AD_DISPATCH(o->value.dtype, {
        const T *a = o->in[0]->value.data, *b = o->in[1]->value.data, *gy = g;
        T *gx = gi;
        if (s == 0) AD_BCAST_FOR(bc, { gx[ia] += a[ia] > b[ib] ? gy[io] : 0; });
        else AD_BCAST_FOR(bc, { gx[ib] += a[ia] > b[ib] ? 0 : gy[io]; });
    });
}
AD_VJP_BY_ROWS(tie_to_b_vjp, tie_to_b_vjp1)
static void tie_to_b_jvp(ad_node *o, int k)
{
    ad_bcast bc;
    ad_bcast_setup(o, &bc);
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *a = o->in[0]->value.data, *b = o->in[1]->value.data;
            const T *ta = ad_tangent_row(o->in[0], d), *tb = ad_tangent_row(o->in[1], d);
            T *t = ad_tangent_row(o, d);
            AD_BCAST_FOR(bc, { t[io] = a[ia] > b[ib] ? (ta ? ta[ia] : 0) : (tb ? tb[ib] : 0); });
        });
}

static void test_max_tie_to_b_fails_at_ties_alone(void **state)
{
    (void)state;
    ad_op bad = ad_op_max;
    bad.name = "max_tie_to_b";
    bad.cpu.vjp = tie_to_b_vjp;
    bad.cpu.jvp = tie_to_b_jvp;
    bad.scalar = NULL;   /* (0-d inputs through the kernels above, not the scalar path's rule) */
    ad_gc_options o = options();
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op(&bad, &o, &r), AD_OK);
    int at_ties = 0, failed_at_ties = 0;
    for (int i = 0; i < r.n; i++) {
        bool tie = strstr(r.rec[i].case_label, ", at ties") != NULL;
        at_ties += tie;
        failed_at_ties += tie && !r.rec[i].pass;
        if (!tie) assert_true(r.rec[i].pass);   /* away from ties the rule is right */
    }
    assert_int_equal(at_ties, ad_op_max.n_cases * 4);   /* every case: both inputs, both modes */
    assert_true(failed_at_ties >= 5);
    for (int i = 0; i < r.n; i++)
        if (!r.rec[i].pass) assert_non_null(strstr(r.rec[i].message, "not the one-sided derivative the op's convention"));
    ad_gc_report_free(&r);
}

/* The ops with a convention at their kinks pass there, and say so. */
static void test_builtin_ops_pass_at_ties(void **state)
{
    (void)state;
    const ad_op *ops[] = {&ad_op_max, &ad_op_min, &ad_op_relu, &ad_op_abs, &ad_op_maxpool2d};
    ad_gc_options o = options();
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        ad_gc_report r = {0};
        assert_int_equal(ad_gradcheck_op(ops[k], &o, &r), AD_OK);
        assert_int_equal(r.n_fail, 0);
        int at_ties = 0;
        for (int i = 0; i < r.n; i++)
            if (strstr(r.rec[i].case_label, ", at ties")) {
                at_ties++;
                assert_non_null(strstr(r.rec[i].message, "one-sided derivative the op's convention takes"));
            }
        /* both modes for each input of every case, but max-pool's 1x1 window (no tie can be) */
        assert_int_equal(at_ties, 2 * ops[k]->n_in * (ops[k]->n_cases - (ops[k] == &ad_op_maxpool2d)));
        ad_gc_report_free(&r);
    }
}

/* ---- the case lists hold the edges ---- */
static bool pow_has(double c)
{
    for (int k = 0; k < ad_op_pow.n_cases; k++)
        if (ad_op_pow.cases[k].params.c == c) return true;
    return false;
}

static void test_pow_exponents(void **state)
{
    (void)state;
    const double special[] = {0, 1, 2, -1, 0.5};
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++) assert_true(pow_has(special[k]));
    bool other = false;   /* and one that is none of them, not an integer */
    for (int k = 0; k < ad_op_pow.n_cases; k++) {
        double c = ad_op_pow.cases[k].params.c;
        other |= c != floor(c) && c != 0.5;
    }
    assert_true(other);
}

/* For conv2d (x, w: kernel R x S, pad) and the pooling ops (window, no pad). */
typedef struct edges {
    bool one_by_one, stride_past_kernel, full_pad, output_1x1, rows_cols_apart;
} edges;

static edges edges_of(const ad_op *op, bool conv)
{
    edges e = {0};
    for (int k = 0; k < op->n_cases; k++) {
        const ad_op_case *c = &op->cases[k];
        const ad_params *p = &c->params;
        int64_t R = conv ? c->shape[1][2] : p->window[0], S = conv ? c->shape[1][3] : p->window[1];
        int64_t H = c->shape[0][2], W = c->shape[0][3];
        int64_t P = (H + 2 * p->pad[0] - R) / p->stride[0] + 1, Q = (W + 2 * p->pad[1] - S) / p->stride[1] + 1;
        e.one_by_one |= R == 1 && S == 1;
        e.stride_past_kernel |= p->stride[0] > R && p->stride[1] > S;
        e.full_pad |= conv && p->pad[0] == R - 1 && p->pad[1] == S - 1 && R > 1;
        e.output_1x1 |= P == 1 && Q == 1;
        e.rows_cols_apart |= p->stride[0] != p->stride[1] && (conv ? p->pad[0] != p->pad[1] : R != S);
    }
    return e;
}

static void test_conv_and_pool_edges(void **state)
{
    (void)state;
    edges c = edges_of(&ad_op_conv2d, true);
    assert_true(c.one_by_one && c.stride_past_kernel && c.full_pad && c.output_1x1 && c.rows_cols_apart);
    const ad_op *pools[] = {&ad_op_maxpool2d, &ad_op_avgpool2d};
    for (int k = 0; k < 2; k++) {
        edges p = edges_of(pools[k], false);
        assert_true(p.one_by_one && p.stride_past_kernel && p.output_1x1 && p.rows_cols_apart);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pow_wrong_at_c_1),          cmocka_unit_test(test_max_tie_to_b_fails_at_ties_alone),
        cmocka_unit_test(test_builtin_ops_pass_at_ties),  cmocka_unit_test(test_pow_exponents),
        cmocka_unit_test(test_conv_and_pool_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
