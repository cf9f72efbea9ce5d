/* test_gradcheck_second.c: gradcheck at order 2 (gc_second.c) against
 * planted wrong second-order rules. y = x³ with its right rule passes
 * H·v and symmetry; with a rule off by a factor, one with the wrong sign,
 * and one that forgets the gradient it is scaled by, H·v fails, naming the
 * op; y = a·b with a rule that takes the wrong input's tangent fails; an op
 * with no rule is reported not checked, by name, and fails nothing; a rule
 * writing past its buffer fails, named; a rule that overwrites ġ instead of
 * adding to it fails hessian-adds, and one that needs both inputs'
 * tangents fails along v on one input alone, and one that adds a term
 * where its input has no tangent fails where v moves none; the command runs --order 2
 * and refuses an order it does not know. */
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"
#include "ad_test_op.h"
#include "ad_test_report.h"

/* ---- y = x³, its rule broken three ways ---- */
static void cube_rule_half(const ad_node *o, int s, int dir, const void *g, void *gd)   /* 3x instead of 6x */
{
    const double *x = o->in[0]->value.data, *gy = g, *t = ad_tangent_row(o->in[0], dir);
    (void)s;
    for (int64_t i = 0; t && i < o->value.size; i++) ((double *)gd)[i] += 3 * x[i] * t[i] * gy[i];
}
static void cube_rule_sign(const ad_node *o, int s, int dir, const void *g, void *gd)
{
    const double *x = o->in[0]->value.data, *gy = g, *t = ad_tangent_row(o->in[0], dir);
    (void)s;
    for (int64_t i = 0; t && i < o->value.size; i++) ((double *)gd)[i] -= 6 * x[i] * t[i] * gy[i];
}
static void cube_rule_no_g(const ad_node *o, int s, int dir, const void *g, void *gd)   /* ḡ left out */
{
    const double *x = o->in[0]->value.data, *t = ad_tangent_row(o->in[0], dir);
    (void)s, (void)g;
    for (int64_t i = 0; t && i < o->value.size; i++) ((double *)gd)[i] += 6 * x[i] * t[i];
}

static void cube_rule_past(const ad_node *o, int s, int dir, const void *g, void *gd)   /* right, and one past */
{
    ad_test_cube_vjp_tangent(o, s, dir, g, gd);
    ((double *)gd)[o->value.size] += 1;
}
/* a vjp right, and one past ḡ's end where it is called for ḡ (g holds the
 * seed's cotangent, not 0); the same vjp makes ġ's term, from ġ = 0 there */
static void cube_vjp_past(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    ad_test_cube_vjp(o, s, rows, g, gi);
    if (((const double *)g)[0] != 0) ((double *)gi)[o->value.size] += 1;
}

static void cube_rule_sets(const ad_node *o, int s, int dir, const void *g, void *gd)   /* = where += belongs */
{
    const double *x = o->in[0]->value.data, *gy = g, *t = ad_tangent_row(o->in[0], dir);
    (void)s;
    for (int64_t i = 0; t && i < o->value.size; i++) ((double *)gd)[i] = 6 * x[i] * t[i] * gy[i];
}

static void cube_rule_without_tangent(const ad_node *o, int s, int dir, const void *g, void *gd)   /* no ẋ: as ẋ = 1 */
{
    const double *x = o->in[0]->value.data, *gy = g, *t = ad_tangent_row(o->in[0], dir);
    (void)s;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gd)[i] += 6 * x[i] * (t ? t[i] : 1) * gy[i];
}

static const ad_op_case vec_case[] = {{"vector (5)", 1, {1}, {{5, 1, 1, 1}}, {.c = 0}}};
#define CUBE(NAME, RULE)                                                                                               \
    {.name = NAME, .summary = "x^3", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape,                           \
     .cpu = {ad_test_cube_fwd, ad_test_cube_vjp, ad_test_cube_jvp, RULE}, .domain = {{-2, 2}}, .cases = vec_case,      \
     .n_cases = 1}
static const ad_op cube = CUBE("cube", ad_test_cube_vjp_tangent);
static const ad_op cube_half = CUBE("cube_half", cube_rule_half);
static const ad_op cube_sign = CUBE("cube_sign", cube_rule_sign);
static const ad_op cube_no_g = CUBE("cube_no_g", cube_rule_no_g);
static const ad_op cube_first_order = CUBE("cube_first_order", NULL);
static const ad_op cube_past = CUBE("cube_past", cube_rule_past);
static const ad_op cube_vjp_writes_past = {
    .name = "cube_vjp_past", .summary = "x^3", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape,
    .cpu = {ad_test_cube_fwd, cube_vjp_past, ad_test_cube_jvp, ad_test_cube_vjp_tangent}, .domain = {{-2, 2}},
    .cases = vec_case, .n_cases = 1};
static const ad_op cube_sets = CUBE("cube_sets", cube_rule_sets);
static const ad_op cube_untangent = CUBE("cube_without_tangent", cube_rule_without_tangent);

/* ---- y = a·b (same shapes), a's rule taking ȧ where ḃ belongs ---- */
static ad_status prod_fwd(ad_node *o)
{
    const double *a = o->in[0]->value.data, *b = o->in[1]->value.data;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)o->value.data)[i] = a[i] * b[i];
    return AD_OK;
}
static void prod_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    const double *other = o->in[1 - s]->value.data, *gy = g;
    for (int64_t i = 0; i < o->value.size; i++) ((double *)gi)[i] += other[i] * gy[i];
}
static void prod_vjp(const ad_node *o, int s, int rows, const void *g, void *gi) { ad_vjp_rows(prod_vjp1, o, s, rows, g, gi); }
static void prod_jvp(ad_node *o, int k)
{
    const double *a = o->in[0]->value.data, *b = o->in[1]->value.data;
    for (int d = 0; d < k; d++) {
        const double *ta = ad_tangent_row(o->in[0], d), *tb = ad_tangent_row(o->in[1], d);
        double *ty = ad_tangent_row(o, d);
        for (int64_t i = 0; i < o->value.size; i++) ty[i] = (ta ? ta[i] * b[i] : 0) + (tb ? a[i] * tb[i] : 0);
    }
}
/* right: a's term ḡ·ḃ, b's ḡ·ȧ; wrong: each its own tangent */
static void prod_rule(const ad_node *o, int s, int dir, const void *g, void *gd, bool own)
{
    const double *t = ad_tangent_row(o->in[own ? s : 1 - s], dir), *gy = g;
    for (int64_t i = 0; t && i < o->value.size; i++) ((double *)gd)[i] += t[i] * gy[i];
}
static void prod_rule_right(const ad_node *o, int s, int dir, const void *g, void *gd) { prod_rule(o, s, dir, g, gd, false); }
/* right where both tangents are there; nothing where its own input has none */
static void prod_rule_both(const ad_node *o, int s, int dir, const void *g, void *gd)
{
    if (ad_tangent_row(o->in[s], dir)) prod_rule(o, s, dir, g, gd, false);
}
static void prod_rule_own(const ad_node *o, int s, int dir, const void *g, void *gd) { prod_rule(o, s, dir, g, gd, true); }

static const ad_op_case pair_case[] = {{"vectors (4)", 2, {1, 1}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, {.c = 0}}};
#define PROD(NAME, RULE)                                                                                               \
    {.name = NAME, .summary = "a*b", .n_in = 2, .n_in_min = 2, .infer = ad_test_same_shape,                           \
     .cpu = {prod_fwd, prod_vjp, prod_jvp, RULE}, .domain = {{-2, 2}, {-2, 2}}, .cases = pair_case, .n_cases = 1}
static const ad_op prod = PROD("prod", prod_rule_right);
static const ad_op prod_own = PROD("prod_own_tangent", prod_rule_own);
static const ad_op prod_both = PROD("prod_needs_both", prod_rule_both);

/* Order-2 records of op at its case; the number failed. */
static int check(const ad_op *op, ad_gc_report *r)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.orders = AD_GC_ORDER2;
    memset(r, 0, sizeof *r);
    assert_int_equal(ad_gradcheck_op(op, &o, r), AD_OK);
    return r->n_fail;
}

static void test_right_rules_pass(void **state)
{
    (void)state;
    const ad_op *ops[] = {&cube, &prod};
    for (int k = 0; k < 2; k++) {
        ad_gc_report r;
        assert_int_equal(check(ops[k], &r), 0);
        int hvp = 0, alone = 0, none = 0, sym = 0, adds = 0;
        for (int i = 0; i < r.n; i++) {
            bool hv = r.rec[i].check == AD_GC_HVP && r.rec[i].pass && !strstr(r.rec[i].message, "not checked");
            bool untouched = hv && strstr(r.rec[i].message, "no input carries a tangent");
            hvp += hv && !untouched && !strstr(r.rec[i].message, "alone");
            alone += hv && strstr(r.rec[i].message, "alone");
            none += untouched;
            sym += r.rec[i].check == AD_GC_HVP_SYMMETRY && r.rec[i].pass;
            adds += r.rec[i].check == AD_GC_HVP_ADDS && r.rec[i].pass;
            assert_true(r.rec[i].check == AD_GC_HVP || r.rec[i].check == AD_GC_HVP_SYMMETRY ||
                        r.rec[i].check == AD_GC_HVP_ADDS);   /* order 2 alone */
        }
        assert_int_equal(hvp, ops[k]->n_in);   /* a record per input */
        /* with two inputs, v on each alone too: a record per input each time */
        assert_int_equal(alone, ops[k]->n_in > 1 ? ops[k]->n_in * ops[k]->n_in : 0);
        assert_int_equal(none, ops[k]->n_in);   /* v on none of the inputs: 0 at each */
        assert_int_equal(sym, 1);
        assert_int_equal(adds, 1);
        ad_gc_report_free(&r);
    }
}

static void test_wrong_rules_fail_named(void **state)
{
    (void)state;
    const ad_op *ops[] = {&cube_half, &cube_sign, &cube_no_g, &prod_own};
    for (int k = 0; k < 4; k++) {
        ad_gc_report r;
        assert_true(check(ops[k], &r) >= 1);
        bool named = false;
        for (int i = 0; i < r.n; i++)
            if (!r.rec[i].pass && r.rec[i].check == AD_GC_HVP) {
                assert_string_equal(r.rec[i].op, ops[k]->name);
                assert_non_null(strstr(r.rec[i].worst, "(H·v)_x"));
                named = true;
            }
        if (!named) fail_msg("%s: no failed hessian-vector record", ops[k]->name);
        /* the report names it too */
        char *text = ad_test_report_text(&r, AD_GC_TEXT);
        char want[96];
        snprintf(want, sizeof want, "FAIL  %s [float64]", ops[k]->name);
        assert_non_null(strstr(text, want));
        assert_non_null(strstr(text, "hessian-vector"));
        free(text);
        ad_gc_report_free(&r);
    }
}

/* A rule that sets ġ where it must add: right for one use of its input,
 * wrong where the input has two (f(x) + f(x)): hessian-adds fails, named. */
static void test_rule_that_sets_fails_adds(void **state)
{
    (void)state;
    ad_gc_report r;
    assert_true(check(&cube_sets, &r) >= 1);
    bool named = false;
    for (int i = 0; i < r.n; i++) {
        if (r.rec[i].check == AD_GC_HVP) assert_true(r.rec[i].pass);   /* one use: right */
        if (r.rec[i].check != AD_GC_HVP_ADDS) continue;
        assert_false(r.rec[i].pass);
        assert_string_equal(r.rec[i].op, "cube_sets");
        assert_non_null(strstr(r.rec[i].message, "H·v of f(x) + f(x) against twice H·v of f(x)"));
        named = true;
    }
    assert_true(named);
    char *text = ad_test_report_text(&r, AD_GC_TEXT);
    assert_non_null(strstr(text, "FAIL  cube_sets [float64] [vector (5)] hessian-adds"));
    free(text);
    ad_gc_report_free(&r);
}

/* A rule that adds its term where its input has no tangent row (as if ẋ
 * were 1): right along v, wrong where v moves no input of the op. */
static void test_rule_without_tangent_fails_where_none(void **state)
{
    (void)state;
    ad_gc_report r;
    assert_int_equal(check(&cube_untangent, &r), 1);
    for (int i = 0; i < r.n; i++) {
        if (r.rec[i].pass) continue;
        assert_int_equal(r.rec[i].check, AD_GC_HVP);
        assert_string_equal(r.rec[i].op, "cube_without_tangent");
        assert_non_null(strstr(r.rec[i].message, "H·v where no input carries a tangent is "));
        assert_non_null(strstr(r.rec[i].message, "a rule added a term without its input's tangent"));
    }
    ad_gc_report_free(&r);
}

/* A rule right only where both inputs carry tangents: along v on both it
 * passes; along v on one input alone the other input's H·v is 0 where it
 * must be ḡ·v: failed, named, the direction said. */
static void test_rule_needing_both_tangents_fails_alone(void **state)
{
    (void)state;
    ad_gc_report r;
    assert_true(check(&prod_both, &r) >= 1);
    int failed_alone = 0;
    for (int i = 0; i < r.n; i++) {
        if (r.rec[i].check != AD_GC_HVP) continue;
        bool alone = strstr(r.rec[i].message, "alone") != NULL;
        if (!alone) assert_true(r.rec[i].pass);
        if (alone && !r.rec[i].pass) {
            assert_string_equal(r.rec[i].op, "prod_needs_both");
            failed_alone++;
        }
    }
    assert_int_equal(failed_alone, 2);   /* v on a alone: b's H·v; v on b alone: a's */
    ad_gc_report_free(&r);
}

static void test_first_order_only_not_checked(void **state)
{
    (void)state;
    ad_gc_report r;
    assert_int_equal(check(&cube_first_order, &r), 0);
    assert_int_equal(r.n, 1);
    assert_true(r.rec[0].pass);
    assert_non_null(strstr(r.rec[0].message, "not checked: op cube_first_order is first-order only"));
    char *text = ad_test_report_text(&r, AD_GC_TEXT);
    assert_non_null(strstr(text, "SKIP  cube_first_order"));
    assert_non_null(strstr(text, "0 passed, 0 failed, 1 not checked"));
    free(text);
    ad_gc_report_free(&r);
}

/* A rule that writes one element past its buffer: ad_hvp's buffers have
 * guard zones in gradcheck's contexts, so the write fails the check, naming
 * the op (under ASan the zone is poisoned: the child stops, reported as crashed). */
static void test_rule_writing_past_its_buffer(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.orders = AD_GC_ORDER2;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_isolated(&cube_past, NULL, &o, 60, &r), AD_OK);
    assert_true(r.n_fail >= 1);
    bool named = false;
    for (int i = 0; i < r.n; i++) {
        if (r.rec[i].pass) continue;
        assert_string_equal(r.rec[i].op, "cube_past");
        if (AD_TEST_UNDER_ASAN) named = named || r.rec[i].check == AD_GC_CRASH;
        else named = named || strstr(r.rec[i].message, "hvp: op cube_past (node #1): vjp or second-order rule "
                                                        "(vjp_tangent) wrote outside input 0's adjoint tangent (byte 40 of 40)");
    }
    if (!named) fail_msg("no record names cube_past's stray write: %s", r.n ? r.rec[0].message : "(none)");
    ad_gc_report_free(&r);
    /* the vjp writing past ḡ: the adjoint's own message */
    memset(&r, 0, sizeof r);
    assert_int_equal(ad_gradcheck_op_isolated(&cube_vjp_writes_past, NULL, &o, 60, &r), AD_OK);
    named = false;
    for (int i = 0; i < r.n; i++) {
        if (r.rec[i].pass || r.rec[i].check != AD_GC_HVP) continue;
        if (AD_TEST_UNDER_ASAN) named = true;   /* (the child stops at the write: crashed) */
        else named = named || strstr(r.rec[i].message, "hvp: op cube_vjp_past (node #1): vjp wrote outside input 0's "
                                                        "adjoint (byte 40 of 40)");
    }
    for (int i = 0; i < r.n && AD_TEST_UNDER_ASAN; i++) named = named || r.rec[i].check == AD_GC_CRASH;
    if (!named) fail_msg("no record names cube_vjp_past's stray write: %s", r.n ? r.rec[0].message : "(none)");
    ad_gc_report_free(&r);
}

static void test_command(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(ad_test_command("GRADCHECK", "--op div --order 2", out, sizeof out), 0);
    assert_non_null(strstr(out, "PASS  div [float64] [scalars] input 1 hessian-vector"));
    assert_non_null(strstr(out, "hessian-symmetry"));
    assert_null(strstr(out, "reverse-jacobian"));   /* order 2 alone */
    assert_int_equal(ad_test_command("GRADCHECK", "--op sin --order both --dtype float64", out, sizeof out), 0);
    assert_non_null(strstr(out, "reverse-jacobian"));
    assert_non_null(strstr(out, "hessian-vector"));
    assert_int_equal(ad_test_command("GRADCHECK", "--op sin --order 3", out, sizeof out), 2);
    assert_non_null(strstr(out, "--order"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_rules_pass),
        cmocka_unit_test(test_wrong_rules_fail_named),
        cmocka_unit_test(test_rule_that_sets_fails_adds),
        cmocka_unit_test(test_rule_needing_both_tangents_fails_alone),
        cmocka_unit_test(test_rule_without_tangent_fails_where_none),
        cmocka_unit_test(test_first_order_only_not_checked),
        cmocka_unit_test(test_rule_writing_past_its_buffer),
        cmocka_unit_test(test_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
