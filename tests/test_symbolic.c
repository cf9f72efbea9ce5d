/* test_symbolic.c: symbolic differentiation (engine/teach/symbolic.c) against the
 * engine's reverse mode at random points: the lectures' functions and random
 * formulas; the printed derivative, parsed back by the formula language,
 * gives the same numbers; the simplifier's output on small cases; expression
 * swell (the derivative's tree outgrows the graph); bad input. */
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

/* f at x (n variables, alphabetical as ad_expr orders them): engine gradient into g; symbolic
 * derivatives evaluated into s. Returns false if x is outside f's domain. */
static bool both_gradients(const char *formula, const double *x, double *g, double *sv, char *printed, size_t plen)
{
    ad_expr *e = ad_expr_parse(formula, NULL);
    if (!e) fail_msg("'%s' does not parse: %s", formula, ad_last_error());
    int n = ad_expr_var_count(e);
    ad_context *ctx = ad_context_new();
    ad_node *v[8];
    for (int i = 0; i < n; i++) v[i] = ad_set_name(ad_scalar(ctx, x[i]), ad_expr_var_name(e, i));
    ad_node *f = ad_expr_build(e, ctx, v);
    if (!f) {
        ad_context_free(ctx);
        ad_expr_free(e);
        return false;
    }
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = ad_sym_from_graph(s, ctx, f);
    if (!fs) fail_msg("'%s': sym_from_graph: %s", formula, ad_last_error());
    double xs[8];
    for (int j = 0; j < ad_sym_var_count(s); j++) xs[j] = x[ad_expr_var_index(e, ad_sym_var_name(s, j))];
    for (int i = 0; i < n; i++) {
        g[i] = ad_grad_scalar(v[i]);
        int j = ad_sym_var_index(s, ad_expr_var_name(e, i));
        ad_sym *d = j >= 0 ? ad_sym_diff(s, fs, j) : NULL;
        sv[i] = d ? ad_sym_eval(s, d, xs, ad_sym_var_count(s)) : 0;
        if (i == 0 && printed) {
            if (d) ad_sym_print(s, d, printed, plen);
            else snprintf(printed, plen, "0");
        }
    }
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
    ad_expr_free(e);
    return true;
}

static void check_formula(const char *formula, int n, double lo, double hi, int points)
{
    int ok = 0;
    for (int p = 0; p < points * 10 && ok < points; p++) {
        double x[8], g[8], sv[8];
        for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * rand() / RAND_MAX;
        if (!both_gradients(formula, x, g, sv, NULL, 0)) continue;
        for (int i = 0; i < n; i++)
            if (!(fabs(sv[i] - g[i]) <= 1e-9 * fmax(1.0, fabs(g[i]))))
                fail_msg("'%s' at x0 = %g: symbolic ∂/∂x%d = %.17g, engine %.17g", formula, x[0], i, sv[i], g[i]);
        ok++;
    }
    if (ok < points) fail_msg("'%s': only %d points in the domain", formula, ok);
}

static void test_lecture_functions(void **state)
{
    (void)state;
    srand(1);
    check_formula("y*log(x) + sqrt(y*log(x))", 2, 1.1, 5, 20);                     /* 001 chain rule */
    check_formula("cos(sin(x^2) + 3*x^2)", 1, -3, 3, 20);                          /* 004 simple example */
    check_formula("x1*x2 + sin(x1)", 2, -3, 3, 20);                                /* 003 */
    check_formula("exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)", 2, 1.1, 3, 20);     /* 004 quiz #1 */
    check_formula("2*(x*y + max(z, w))", 4, -3, 3, 20);                            /* 003 gates */
    check_formula("y*log(sigmoid(a)) + (1 - y)*log(1 - sigmoid(a))", 2, -2, 2, 20);  /* 004 Case 1 */
    check_formula("x^y + 2^x + e^y", 2, 0.1, 2, 20);                               /* variable exponents */
    check_formula("relu(x)*abs(y) + min(x, y)/tanh(y)", 2, -2, 2, 20);            /* kinks, away from them */
}

/* Random formulas in x and y: the grammar's every op, nested. */
static void gen(char *buf, size_t len, int depth)
{
    static const char *const leaf[] = {"x", "y", "0.5", "2", "3"};
    static const char *const un[] = {"sin", "cos", "tanh", "sigmoid", "exp", "neg"};
    static const char *const bin[] = {"+", "-", "*", "/"};
    int r = rand() % 10;
    if (depth == 0 || r < 2) {
        snprintf(buf, len, "%s", leaf[rand() % 5]);
        return;
    }
    char a[1024], b[1024];
    int n;
    gen(a, sizeof a, depth - 1);
    if (r < 5) n = snprintf(buf, len, "%s(%s)", un[rand() % 6], a);
    else if (r == 5) n = snprintf(buf, len, "log(1 + (%s)^2)", a);
    else if (r == 6) n = snprintf(buf, len, "(%s)^%d", a, 1 + rand() % 3);
    else {
        gen(b, sizeof b, depth - 1);
        n = snprintf(buf, len, "(%s) %s (%s)", a, bin[rand() % 4], b);
    }
    if (n < 0 || (size_t)n >= len) snprintf(buf, len, "%s", leaf[rand() % 5]);   /* too long: cut, it would not parse */
}

static void test_random_formulas(void **state)
{
    (void)state;
    srand(2);
    int checked = 0;
    for (int k = 0; k < 300; k++) {
        char f[4096];
        gen(f, sizeof f, 4);
        ad_expr *e = ad_expr_parse(f, NULL);
        assert_non_null(e);
        int n = ad_expr_var_count(e);
        ad_expr_free(e);
        if (n == 0) continue;
        for (int p = 0; p < 3; p++) {
            double x[2] = {-1.5 + 3.0 * rand() / RAND_MAX, -1.5 + 3.0 * rand() / RAND_MAX}, g[2], sv[2];
            if (!both_gradients(f, x, g, sv, NULL, 0)) continue;
            for (int i = 0; i < n; i++) {
                if (!isfinite(g[i])) continue;   /* a huge value: compare only where the engine's is finite */
                if (!(fabs(sv[i] - g[i]) <= 1e-8 * fmax(1.0, fabs(g[i]))))
                    fail_msg("'%s' at (%g, %g): symbolic %.17g, engine %.17g", f, x[0], x[1], sv[i], g[i]);
                checked++;
            }
        }
    }
    assert_true(checked > 300);
}

/* What --symbolic prints is a formula: parsed back and differentiated by the engine's value, it agrees. */
static void test_printed_formula_round_trip(void **state)
{
    (void)state;
    const char *fs[] = {"cos(sin(x^2) + 3*x^2)", "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)", "x^y",
                        "y*log(x) + sqrt(y*log(x))", "sigmoid(x)*tanh(x)/(1 + x^2)"};
    for (size_t k = 0; k < sizeof fs / sizeof *fs; k++) {
        double x[2] = {1.7, 0.8}, g[2], sv[2];
        char printed[4096];
        assert_true(both_gradients(fs[k], x, g, sv, printed, sizeof printed));
        ad_expr *d = ad_expr_parse(printed, NULL);
        if (!d) fail_msg("the printed derivative '%s' of '%s' does not parse: %s", printed, fs[k], ad_last_error());
        ad_context *ctx = ad_context_new();
        ad_expr *orig = ad_expr_parse(fs[k], NULL);
        ad_node *v[2];
        for (int i = 0; i < ad_expr_var_count(d); i++) {
            int j = ad_expr_var_index(orig, ad_expr_var_name(d, i));
            assert_true(j >= 0);
            v[i] = ad_scalar(ctx, x[j]);
        }
        ad_node *val = ad_expr_build(d, ctx, v);
        assert_non_null(val);
        assert_close(ad_value_scalar(val), g[0], 1e-10 * fmax(1.0, fabs(g[0])));
        ad_context_free(ctx);
        ad_expr_free(d);
        ad_expr_free(orig);
    }
}

static void expect_derivative(const char *formula, const char *want)
{
    double x[4] = {0.7, 1.3, 0.4, 2.0}, g[4], sv[4];
    char printed[1024];
    assert_true(both_gradients(formula, x, g, sv, printed, sizeof printed));
    if (strcmp(printed, want)) fail_msg("d/d(first variable) of '%s' printed '%s', expected '%s'", formula, printed, want);
}

static void test_simplified_output(void **state)
{
    (void)state;
    expect_derivative("x^2", "2*x");
    expect_derivative("3*x + 5", "3");
    expect_derivative("x*y", "y");
    expect_derivative("sin(x)", "cos(x)");
    expect_derivative("x*x*x", "3*x^2");
    expect_derivative("log(x)", "1/x");
    expect_derivative("x^y", "x^y*(y/x)");
    expect_derivative("exp(2*x)", "2*exp(2*x)");
    expect_derivative("relu(x)", "step(x)");
    expect_derivative("max(x, y)", "ge(x, y)");
    expect_derivative("x - x + y", "0");
}

/* Expression swell: the logistic map l_{k+1} = 4 l_k (1 − l_k). The graph grows by 3 nodes a step;
 * the derivative written out as a tree grows geometrically, while its distinct subexpressions
 * (the DAG, what reverse mode and a compiler's sharing see) grow linearly. */
static void test_expression_swell(void **state)
{
    (void)state;
    double prev_ratio = 0;
    for (int depth = 1; depth <= 12; depth++) {
        ad_context *ctx = ad_context_new();
        ad_node *x = ad_set_name(ad_scalar(ctx, 0.3), "x"), *l = x;
        for (int k = 0; k < depth; k++) l = ad_scale(ctx, ad_mul(ctx, l, ad_sub(ctx, ad_scalar_const(ctx, 1), l)), 4);
        ad_sym_ctx *s = ad_sym_ctx_new();
        ad_sym *fs = ad_sym_from_graph(s, ctx, l);
        ad_sym *d = ad_sym_diff(s, fs, 0);
        assert_non_null(d);
        assert_int_equal(ad_backward(ctx, l), AD_OK);
        assert_close(ad_sym_eval(s, d, (double[]){0.3}, 1), ad_grad_scalar(x), 1e-9 * fmax(1, fabs(ad_grad_scalar(x))));
        double ratio = ad_sym_tree_size(d) / (double)ad_context_node_count(ctx);
        if (depth >= 4) assert_true(ratio > 1.5 * prev_ratio);    /* geometric growth against a linear graph */
        assert_true(ad_sym_dag_size(s, d) <= 20 * depth + 10);    /* shared, it stays linear */
        prev_ratio = ratio;
        ad_sym_ctx_free(s);
        ad_context_free(ctx);
    }
}

/* The printer is the parser's inverse: ^ is right-associative and binds tighter than unary minus,
 * so a power as the base of a power needs parentheses, "(x^y)^2", while "x^y^2" is x^(y^2), and
 * "-x^2" is -(x^2). Each text is printed from the graph and parsed back to the same function. */
static void expect_print(const char *formula, const char *want_f, const char *want_dx, double x, double y)
{
    double at[2] = {x, y}, g[2], sv[2];
    char printed[1024];
    assert_true(both_gradients(formula, at, g, sv, printed, sizeof printed));
    if (strcmp(printed, want_dx)) fail_msg("d/dx of '%s' printed '%s', expected '%s'", formula, printed, want_dx);
    ad_expr *e = ad_expr_parse(formula, NULL);
    ad_context *ctx = ad_context_new();
    ad_node *v[2] = {ad_set_name(ad_scalar(ctx, x), "x"), ad_set_name(ad_scalar(ctx, y), "y")};
    ad_node *f = ad_expr_build(e, ctx, v);
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym_print(s, ad_sym_from_graph(s, ctx, f), printed, sizeof printed);
    if (strcmp(printed, want_f)) fail_msg("'%s' printed '%s', expected '%s'", formula, printed, want_f);
    ad_expr *back = ad_expr_parse(printed, NULL);
    assert_non_null(back);
    ad_context *c2 = ad_context_new();
    ad_node *v2[2] = {ad_scalar(c2, x), ad_scalar(c2, y)};
    assert_close(ad_value_scalar(ad_expr_build(back, c2, v2)), ad_value_scalar(f), 1e-12 * fabs(ad_value_scalar(f)));
    ad_context_free(c2);
    ad_expr_free(back);
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
    ad_expr_free(e);
}

static void test_power_parentheses(void **state)
{
    (void)state;
    expect_print("(x^y)^2", "(x^y)^2", "2*x^y*x^y*(y/x)", 1.5, 0.7);
    expect_print("x^y^2", "x^y^2", "x^y^2*(y^2/x)", 1.5, 0.7);
    expect_print("(x^y)^0.5", "(x^y)^0.5", "0.5*(x^y)^(-0.5)*x^y*(y/x)", 1.5, 0.7);
    expect_print("-x^2 + y", "-x^2 + y", "-2*x", 1.5, 0.7);
    expect_print("(-x)^3 + y", "(-x)^3 + y", "-3*(-x)^2", 1.5, 0.7);
    expect_print("x^-2 + y", "x^(-2) + y", "-2*x^(-3)", 1.5, 0.7);
}

/* A chain n deep (sin(sin(...sin(x)))) and a sum of n terms (x_0 + 2 x_1 + ... , left-deep, so
 * also n deep), through the library: differentiated, evaluated and printed without recursion. */
static void test_deep_chain_and_long_sum(void **state)
{
    (void)state;
    enum { N = 1000000 };
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 0.5), "x"), *c = x;
    for (int k = 0; k < N; k++) c = ad_sin(ctx, c);
    assert_int_equal(ad_backward(ctx, c), AD_OK);
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = ad_sym_from_graph(s, ctx, c), *d = ad_sym_diff(s, fs, 0);
    assert_non_null(d);
    assert_close(ad_sym_eval(s, fs, (double[]){0.5}, 1), ad_value_scalar(c), 1e-12);
    assert_close(ad_sym_eval(s, d, (double[]){0.5}, 1), ad_grad_scalar(x), 1e-12 * fabs(ad_grad_scalar(x)));
    size_t len = (size_t)N * 5 + 2;   /* "sin(" and ")" per level, then "x" */
    char *buf = malloc(len);
    assert_int_equal(ad_sym_print(s, fs, buf, len), len - 1);
    assert_int_equal(strncmp(buf, "sin(sin(", 8), 0);
    assert_int_equal(buf[N * 4], 'x');
    assert_int_equal(strspn(buf + N * 4 + 1, ")"), N);
    ad_sym_ctx_free(s);
    ad_context_free(ctx);

    ctx = ad_context_new();
    ad_node *sum = NULL, *v0 = NULL;
    for (int k = 0; k < N; k++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", k);
        ad_node *v = ad_set_name(ad_scalar(ctx, 1.0 / (k + 1)), name), *t = ad_scale(ctx, v, k + 1);
        if (!v0) v0 = v;
        sum = sum ? ad_add(ctx, sum, t) : t;
    }
    s = ad_sym_ctx_new();
    fs = ad_sym_from_graph(s, ctx, sum);
    assert_int_equal(ad_sym_var_count(s), N);
    assert_int_equal(ad_sym_var_index(s, "x999999"), N - 1);
    d = ad_sym_diff(s, fs, N - 1);
    assert_close(ad_sym_eval(s, d, NULL, 0), 1e6, 0);
    double *xs = malloc(N * sizeof *xs);
    for (int k = 0; k < N; k++) xs[k] = 1.0 / (k + 1);
    assert_close(ad_sym_eval(s, fs, xs, N), (double)N, 1e-6);
    buf = realloc(buf, (size_t)N * 20);   /* " + 1000000*x999999" */
    assert_true(ad_sym_print(s, fs, buf, (size_t)N * 20) < (size_t)N * 20);
    assert_int_equal(strncmp(buf, "x0 + 2*x1 + 3*x2", 16), 0);
    assert_non_null(strstr(buf, " + 1000000*x999999"));
    free(xs);
    free(buf);
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
}

/* A text that does not fit is not written at all: an empty string and an error naming the limit,
 * never a prefix with unbalanced parentheses. */
static void test_print_does_not_cut(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 0.5), "x"), *c = x;
    for (int k = 0; k < 100; k++) c = ad_sin(ctx, c);
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = ad_sym_from_graph(s, ctx, c);
    char buf[501];
    assert_int_equal(ad_sym_print(s, fs, buf, sizeof buf), sizeof buf);   /* 100 levels of "sin(" ")", and "x": 501 */
    assert_string_equal(buf, "");
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "output exceeds 500 characters"));
    char big[502];
    assert_int_equal(ad_sym_print(s, fs, big, sizeof big), 501);
    assert_int_equal(strlen(big), 501);
    /* a constant that is not finite has no spelling the parser reads back */
    ad_node *y = ad_set_name(ad_scalar(ctx, 2), "y");
    ad_sym *inf = ad_sym_from_graph(s, ctx, ad_mul(ctx, y, ad_scalar_const(ctx, INFINITY)));
    assert_int_equal(ad_sym_print(s, inf, big, sizeof big), sizeof big);
    assert_string_equal(big, "");
    assert_non_null(strstr(ad_last_error(), "not finite"));
    /* nor has a variable whose name would read back as something else */
    const char *unreadable[] = {"x[0]", "e", "pi", "2x", "a b", ""};
    for (size_t k = 0; k < sizeof unreadable / sizeof *unreadable; k++) {
        ad_sym_ctx *t = ad_sym_ctx_new();
        ad_sym *v = ad_sym_from_graph(t, ctx, ad_sin(ctx, ad_set_name(ad_scalar(ctx, 1), unreadable[k])));
        assert_int_equal(ad_sym_print(t, v, big, sizeof big), sizeof big);
        assert_string_equal(big, "");
        assert_non_null(strstr(ad_last_error(), "would not read back"));
        ad_sym_ctx_free(t);
    }
    ad_sym_ctx *t = ad_sym_ctx_new();
    ad_sym *v = ad_sym_from_graph(t, ctx, ad_sin(ctx, ad_set_name(ad_scalar(ctx, 1), "_e2")));
    assert_int_equal(ad_sym_print(t, v, big, sizeof big), 8);
    assert_string_equal(big, "sin(_e2)");
    ad_sym_ctx_free(t);
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
}

static void test_bad_input(void **state)
{
    (void)state;
    ad_sym_ctx *s = ad_sym_ctx_new();
    assert_null(ad_sym_diff(s, NULL, 0));
    ad_context *ctx = ad_context_new();
    int64_t sh[] = {3};
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, sh, NULL), *y = ad_sum(ctx, v, -1, false);
    assert_null(ad_sym_from_graph(s, ctx, y));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    ad_node *x = ad_scalar(ctx, 1);
    ad_sym *fx = ad_sym_from_graph(s, ctx, ad_sin(ctx, x));
    assert_non_null(fx);
    assert_null(ad_sym_diff(s, fx, 5));   /* no such variable */
    assert_int_equal(ad_sym_var_count(s), 1);
    assert_non_null(ad_sym_var_name(s, 0));
    assert_null(ad_sym_var_name(s, -1));
    assert_null(ad_sym_var_name(s, 1));
    assert_null(ad_sym_var_name(NULL, 0));
    ad_context_free(ctx);
    assert_null(ad_sym_from_graph(s, ctx, x));   /* a freed context */
    ad_sym_ctx_free(s);
}

/* A non-scalar op inside the formula is named as itself (not as the input of
 * the op that reads it), and so is a non-scalar leaf asked for as the root. */
static void test_non_scalar_named(void **state)
{
    (void)state;
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_context *ctx = ad_context_new();
    int64_t sh[] = {3};
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, sh, NULL), *y = ad_sum(ctx, ad_scale(ctx, v, 2), -1, false);
    assert_null(ad_sym_from_graph(s, ctx, y));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "sym_from_graph: node #1 is not a scalar: symbolic differentiation here is of "
                                         "scalar formulas");
    assert_null(ad_sym_from_graph(s, ctx, v));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "sym_from_graph: node #0 is not a scalar: symbolic differentiation here is of "
                                         "scalar formulas");
    ad_context_free(ctx);
    ad_sym_ctx_free(s);
}

/* The one subexpression of a graph of one op on constants, printed. */
static const ad_sym *folded(ad_sym_ctx *s, const ad_context *ctx, const ad_node *root, const char *want)
{
    char text[64];
    const ad_sym *r = ad_sym_from_graph(s, ctx, root);
    assert_non_null(r);
    assert_int_equal(ad_sym_dag_size(s, r), 1);   /* folded into one constant */
    assert_true(ad_sym_print(s, r, text, sizeof text) < sizeof text);
    assert_string_equal(text, want);
    return r;
}

/* Constants fold exactly, where simplifying makes both arguments constants
 * (x - x + 2 is 2, x - x is +0, -(x - x) is -0): max(2, 3) = 3 and
 * min(2, 3) = 2, both ways round. A tie goes to the first argument, as in
 * the engine's max and in ad_sym_eval (a >= b ? a : b): max(-0, +0) is -0
 * and max(+0, -0) is +0, so folding keeps the sign of zero the engine
 * computed. x^0 folds to 1. */
static void test_constant_folding(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 5), "x");
    ad_node *pz = ad_sub(ctx, x, x), *mz = ad_neg(ctx, pz);
    ad_node *two = ad_add(ctx, pz, ad_scalar_const(ctx, 2)), *three = ad_add(ctx, pz, ad_scalar_const(ctx, 3));
    ad_sym_ctx *s = ad_sym_ctx_new();
    folded(s, ctx, ad_max(ctx, two, three), "3");
    folded(s, ctx, ad_max(ctx, three, two), "3");
    folded(s, ctx, ad_min(ctx, two, three), "2");
    folded(s, ctx, ad_min(ctx, three, two), "2");
    ad_node *m1 = ad_max(ctx, mz, pz), *m2 = ad_max(ctx, pz, mz);
    const ad_sym *f1 = ad_sym_from_graph(s, ctx, m1), *f2 = ad_sym_from_graph(s, ctx, m2);
    assert_int_equal(ad_sym_dag_size(s, f1), 1);
    assert_int_equal(ad_sym_dag_size(s, f2), 1);
    assert_true(signbit(ad_sym_eval(s, f1, NULL, 0)));
    assert_false(signbit(ad_sym_eval(s, f2, NULL, 0)));
    assert_true(signbit(ad_value_scalar(m1)));   /* the engine agrees */
    assert_false(signbit(ad_value_scalar(m2)));
    folded(s, ctx, ad_pow(ctx, x, 0), "1");
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
}

/* Hash-consing across the table's growth: up to 3000 terms sin(k·x)
 * summed make up to 11998 distinct subexpressions, so the table (1024 slots
 * at first, kept at most half full) grows up to five times. For sums of
 * several lengths, read from the graph a second time, every subexpression is
 * found, not made again: the same root pointer and DAG size, and the value
 * is the engine's exactly. */
static void test_sharing_after_growth(void **state)
{
    (void)state;
    enum { TERMS = 3000 };
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 0.3), "x"), *sum = NULL;
    static ad_node *partial[TERMS + 1];
    for (int k = 1; k <= TERMS; k++) {
        ad_node *t = ad_sin(ctx, ad_scale(ctx, x, k));
        partial[k] = sum = sum ? ad_add(ctx, sum, t) : t;
    }
    for (int terms = 200; terms <= TERMS; terms += 100) {
        ad_sym_ctx *s = ad_sym_ctx_new();
        const ad_sym *a = ad_sym_from_graph(s, ctx, partial[terms]);
        assert_non_null(a);
        int64_t size = ad_sym_dag_size(s, a);
        assert_int_equal(size, 1 + 4 * (terms - 1) + 1);   /* x; per k > 1: k, k·x, sin, +; sin(x) (1·x is x) */
        const ad_sym *b = ad_sym_from_graph(s, ctx, partial[terms]);
        assert_ptr_equal(a, b);
        assert_int_equal(ad_sym_dag_size(s, b), size);
        assert_true(ad_sym_eval(s, a, (double[]){0.3}, 1) == ad_value_scalar(partial[terms]));
        ad_sym_ctx_free(s);
    }
    ad_context_free(ctx);
}

/* Printing into a buffer exactly as long as the text leaves no room for
 * its NUL: refused (the return is len, the buffer ""); one byte more
 * holds it. */
static void test_print_exact_fit(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 1), "x");
    ad_sym_ctx *s = ad_sym_ctx_new();
    const ad_sym *e = ad_sym_from_graph(s, ctx, ad_sin(ctx, x));
    char buf[8];
    memset(buf, '#', sizeof buf);
    assert_int_equal(ad_sym_print(s, e, buf, 7), 6);
    assert_string_equal(buf, "sin(x)");
    memset(buf, '#', sizeof buf);
    assert_int_equal(ad_sym_print(s, e, buf, 6), 6);
    assert_string_equal(buf, "");
    memset(buf, '#', sizeof buf);
    assert_int_equal(ad_sym_print(s, e, buf, 1), 1);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], '#');   /* nothing written past the one byte given */
    memset(buf, '#', sizeof buf);
    assert_int_equal(ad_sym_print(s, NULL, buf, sizeof buf), 0);   /* no expression: "" */
    assert_string_equal(buf, "");
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lecture_functions), cmocka_unit_test(test_random_formulas),
        cmocka_unit_test(test_printed_formula_round_trip), cmocka_unit_test(test_simplified_output),
        cmocka_unit_test(test_expression_swell), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_power_parentheses), cmocka_unit_test(test_deep_chain_and_long_sum),
        cmocka_unit_test(test_print_does_not_cut), cmocka_unit_test(test_constant_folding),
        cmocka_unit_test(test_sharing_after_growth), cmocka_unit_test(test_print_exact_fit),
        cmocka_unit_test(test_non_scalar_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
