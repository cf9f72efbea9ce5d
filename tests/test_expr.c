/* test_expr.c: formulas as graphs: the lessons' values through the parser,
 * common subexpressions as one node (in the graph and in the DOT picture),
 * every class of bad input with its message and column, and the
 * `autodidact` command's output and exit codes. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "ad_test.h"
#include "autodidact.h"

typedef struct point { const char *name; double v; } point;

/* f and its gradient at the point, through the parser. */
static double eval(const char *formula, const point *pt, int n, double *grad)
{
    ad_expr *e = ad_expr_parse(formula, NULL);
    if (!e) fail_msg("%s: %s", formula, ad_last_error());
    assert_int_equal(ad_expr_var_count(e), n);
    ad_context *ctx = ad_context_new();
    ad_node *vars[8];
    for (int i = 0; i < n; i++) {
        int k = ad_expr_var_index(e, pt[i].name);
        assert_true(k >= 0);
        vars[k] = ad_scalar(ctx, pt[i].v);
    }
    ad_node *f = ad_expr_build(e, ctx, vars);
    if (!f) fail_msg("%s: %s", formula, ad_last_error());
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    for (int i = 0; i < n; i++) grad[i] = ad_grad_scalar(vars[ad_expr_var_index(e, pt[i].name)]);
    double v = ad_value_scalar(f);
    ad_context_free(ctx);
    ad_expr_free(e);
    return v;
}

static void test_lesson_values(void **state)
{
    (void)state;
    double g[3];
    point p1[] = {{"x", 3}, {"y", 2}};
    assert_close(eval("y*log(x) + sqrt(y*log(x))", p1, 2, g), 3.67952838470373, 1e-12);
    assert_close(g[0], 0.891541845207370, 1e-12);
    assert_close(g[1], 1.46918824050999, 1e-12);
    point p2[] = {{"x", 2}};
    assert_close(eval("cos(sin(x^2) + 3*x^2)", p2, 1, g), 0.245100368170016, 1e-12);
    assert_close(g[0], 9.09914854483238, 1e-12);
    point p5[] = {{"x", 2}, {"z", 3}};
    assert_close(eval("exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)", p5, 2, g), 412.191457284121, 1e-9);
    assert_close(g[0], 1208.38121512661, 1e-9);
    assert_close(g[1], 809.707479218564, 1e-9);
}

static void test_precedence_and_numbers(void **state)
{
    (void)state;
    double g[2];
    point px[] = {{"x", 3}};
    assert_close(eval("-x^2", px, 1, g), -9, 0);           /* -(x^2) */
    assert_close(eval("2^3^2 + 0*x", px, 1, g), 512, 0);   /* right-associative */
    assert_close(eval("x - 1 - 1", px, 1, g), 1, 0);       /* left-associative */
    assert_close(eval("x / 2 / 3", px, 1, g), 0.5, 1e-15);
    assert_close(eval("0x1p4 + 1e-1 + .5 + x**2", px, 1, g), 16 + 0.1 + 0.5 + 9, 1e-12);
    assert_close(g[0], 6, 1e-12);
    assert_close(eval("x^-1", px, 1, g), 1.0 / 3, 1e-15);
    assert_close(eval("max(x, 4) + min(x, 4) + pow(x, 2)", px, 1, g), 4 + 3 + 9, 0);
    assert_close(eval("pi*x - e", px, 1, g), M_PI * 3 - M_E, 1e-12);
}

static void test_common_subexpressions(void **state)
{
    (void)state;
    ad_expr *e = ad_expr_parse("y*log(x) + sqrt(y*log(x))", NULL);
    assert_non_null(e);
    assert_int_equal(ad_expr_node_count(e), 6);   /* x y a=log x b=y·a c=√b f=b+c */
    ad_context *ctx = ad_context_new();
    ad_node *v[2] = {ad_scalar(ctx, 3), ad_scalar(ctx, 2)};
    ad_node *f = ad_expr_build(e, ctx, v);
    assert_non_null(f);
    assert_int_equal(ad_context_node_count(ctx), 6);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ad_dot_write(ctx, f, m);
    fclose(m);
    int nodes = 0;
    for (const char *p = buf; (p = strstr(p, "shape=record")); p++) nodes++;
    assert_int_equal(nodes, 6);
    free(buf);
    ad_context_free(ctx);
    ad_expr_free(e);
}

static void expect_parse_error(const char *formula, const char *msg, int col)
{
    int c = 0;
    ad_expr *e = ad_expr_parse(formula, &c);
    if (e) fail_msg("'%s' parsed, expected an error", formula);
    if (!strstr(ad_last_error(), msg)) fail_msg("'%s': message '%s' lacks '%s'", formula, ad_last_error(), msg);
    if (c != col) fail_msg("'%s': column %d, expected %d (%s)", formula, c, col, ad_last_error());
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("(x + y))", "unexpected ')' at column 8", 8);
    expect_parse_error("y*log(x) + s)", "unexpected ')' at column 13", 13);
    expect_parse_error("foo(x)", "unknown function 'foo'", 1);
    expect_parse_error("x +", "unexpected end of formula at column 4", 4);
    expect_parse_error("", "unexpected end of formula at column 1", 1);
    expect_parse_error("(x", "expected ')' but the formula ended", 3);
    expect_parse_error("sin(x", "expected ')' but the formula ended", 6);
    expect_parse_error("max(x, y", "expected ')' but the formula ended", 9);
    expect_parse_error("max(x)", "max takes 2 arguments, 1 given", 1);
    expect_parse_error("sin(x, y)", "sin takes 1 argument, 2 given", 1);
    expect_parse_error("x $ y", "unexpected '$' at column 3", 3);
    expect_parse_error("x y", "unexpected 'y' at column 3", 3);
}

static void expect_build_error(const char *formula, double x, const char *msg)
{
    ad_expr *e = ad_expr_parse(formula, NULL);
    assert_non_null(e);
    ad_context *ctx = ad_context_new();
    ad_node *v[1] = {ad_scalar(ctx, x)};
    ad_clear_error();
    assert_null(ad_expr_build(e, ctx, v));
    assert_int_equal(ad_last_status(), AD_ERR_DOMAIN);
    if (!strstr(ad_last_error(), msg)) fail_msg("'%s': message '%s' lacks '%s'", formula, ad_last_error(), msg);
    ad_context_free(ctx);
    ad_expr_free(e);
}

static void test_domain_errors(void **state)
{
    (void)state;
    expect_build_error("log(x - 5)", 3, "'log(x - 5)': its argument is -2 at this point (log needs > 0)");
    expect_build_error("1/(x-3)", 3, "division by zero");
    expect_build_error("sqrt(x)", -1, "sqrt needs >= 0");
    expect_build_error("sqrt(x)", 0, "not differentiable at 0");
    expect_build_error("x^0.5", -2, "fractional power");
    /* variable exponents: a^b = exp(b·log a) needs a > 0 */
    expect_build_error("x^x", -0.5, "a base <= 0 to a non-integer power is undefined");
    expect_build_error("x^x", -2, "the derivative in the exponent");
    expect_build_error("(x-1)^x", 1, "'(x-1)^x': the base is 0");
    expect_build_error("(-2)^x", 0.5, "the base is -2");
}

/* x^y, e^x and 2^x: values and both partial derivatives against the closed forms at random points. */
static void test_variable_exponents(void **state)
{
    (void)state;
    srand(7);
    for (int k = 0; k < 20; k++) {
        double x = 0.1 + 3.0 * rand() / RAND_MAX, y = -2 + 4.0 * rand() / RAND_MAX;
        ad_expr *e = ad_expr_parse("x^y + e^x + 2^y", NULL);
        assert_non_null(e);
        ad_context *ctx = ad_context_new();
        ad_node *v[2] = {ad_scalar(ctx, x), ad_scalar(ctx, y)};
        ad_node *f = ad_expr_build(e, ctx, v);
        assert_non_null(f);
        assert_int_equal(ad_backward(ctx, f), AD_OK);
        assert_close(ad_value_scalar(f), pow(x, y) + exp(x) + pow(2, y), 1e-12 * fabs(ad_value_scalar(f)));
        assert_close(ad_grad_scalar(v[0]), y * pow(x, y - 1) + exp(x), 1e-11 * (1 + fabs(ad_grad_scalar(v[0]))));
        assert_close(ad_grad_scalar(v[1]), pow(x, y) * log(x) + pow(2, y) * log(2), 1e-11 * (1 + fabs(ad_grad_scalar(v[1]))));
        ad_context_free(ctx);
        ad_expr_free(e);
    }
    /* an overflow names its subexpression (check-finite mode) */
    ad_expr *e = ad_expr_parse("exp(x*x) + 1", NULL);
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    ad_node *v[1] = {ad_scalar(ctx, 100)};
    assert_null(ad_expr_build(e, ctx, v));
    assert_int_equal(ad_last_status(), AD_ERR_NONFINITE);
    if (!strstr(ad_last_error(), "'exp(x*x)' is not finite")) fail_msg("message '%s' lacks the subexpression", ad_last_error());
    ad_context_free(ctx);
    ad_expr_free(e);
}

/* Powers at their edges. A base in [0, 1) to a fractional power is defined
 * (only a base below 0 is not): x^0.5 at 0.25 is 0.5 with slope 1, built
 * and folded; at -0.25 it is refused by its message. A call with more
 * arguments than its function takes is refused by the count. x^y is built
 * as exp(b) with a = log x and b = y·a, and those helpers are named a and b;
 * e^x is exp(x) itself. */
static void test_power_edges(void **state)
{
    (void)state;
    double g[1];
    point q[] = {{"x", 0.25}};
    assert_close(eval("x^0.5", q, 1, g), 0.5, 0);
    assert_close(g[0], 1, 0);
    assert_close(eval("0.25^0.5 + 0*x", q, 1, g), 0.5, 0);
    expect_build_error("x^0.5", -0.25,
                       "'x^0.5': its argument is -0.25 at this point (a negative number to a fractional power is undefined)");
    expect_parse_error("max(x, y, z)", "max takes 2 arguments, 3 given at column 1", 1);
    expect_parse_error("min(x, y, z, w)", "min takes 2 arguments, 4 given at column 1", 1);
    expect_parse_error("pow(x, 2, 3)", "pow takes 2 arguments, 3 given at column 1", 1);
    expect_parse_error("max(x, y, sin(cos(x)))", "max takes 2 arguments, 3 given at column 1", 1);
    ad_expr *e = ad_expr_parse("x^y", NULL);
    assert_non_null(e);
    ad_context *ctx = ad_context_new();
    ad_node *v[2] = {ad_scalar(ctx, 2), ad_scalar(ctx, 3)};
    ad_node *f = ad_expr_build(e, ctx, v);
    assert_non_null(f);
    assert_int_equal(ad_context_node_count(ctx), 5);   /* x y a b f */
    assert_string_equal(ad_node_name(f), "f");
    ad_node *b = ad_node_input(f, 0), *a = ad_node_input(b, 1);
    assert_string_equal(ad_node_name(b), "b");
    assert_string_equal(ad_node_name(a), "a");
    assert_ptr_equal(ad_node_input(a, 0), v[ad_expr_var_index(e, "x")]);
    assert_ptr_equal(ad_node_input(b, 0), v[ad_expr_var_index(e, "y")]);
    assert_close(ad_value_scalar(f), 8, 1e-14);
    ad_context_free(ctx);
    ad_expr_free(e);
    /* e^x is exp(x) with no helper: the variable's own node is left unnamed */
    e = ad_expr_parse("e^x", NULL);
    assert_non_null(e);
    ctx = ad_context_new();
    v[0] = ad_scalar(ctx, 0);
    f = ad_expr_build(e, ctx, v);
    assert_non_null(f);
    assert_int_equal(ad_context_node_count(ctx), 3);   /* x, the constant e, f = exp(x) */
    assert_string_equal(ad_node_name(f), "f");
    assert_null(ad_node_name(v[0]));
    ad_context_free(ctx);
    ad_expr_free(e);
}

/* A string of n copies of a, then mid, then n copies of b (malloc'd). */
static char *repeat3(const char *a, long n, const char *mid, const char *b)
{
    size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
    char *s = malloc((size_t)n * (la + lb) + lm + 1), *p = s;
    assert_non_null(s);
    for (long i = 0; i < n; i++, p += la) memcpy(p, a, la);
    memcpy(p, mid, lm);
    p += lm;
    for (long i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
    *p = '\0';
    return s;
}

/* Deep nesting of every recursive form is an error at the column where the
 * limit is crossed (the reproducers: 60,000 parentheses and 25,000
 * nested sin( crashed the stack); nesting at the limit still parses. */
static void test_depth_limit(void **state)
{
    (void)state;
    struct { const char *open, *mid, *close; int per; } forms[] = {
        {"(", "x", ")", 1}, {"sin(", "x", ")", 4}, {"-", "x", "", 1}, {"x^", "2", "", 2}, {"max(x,", "x", ")", 6},
    };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        char *s = repeat3(forms[k].open, 60000, forms[k].mid, forms[k].close);
        int col = 0;
        ad_clear_error();
        ad_expr *e = ad_expr_parse(s, &col);
        if (e) fail_msg("%.20s... nested 60000 deep parsed", s);
        if (!strstr(ad_last_error(), "nests more than 1000 levels deep"))
            fail_msg("%.20s...: message '%s'", s, ad_last_error());
        assert_true(col > 1 && col < 60000 * forms[k].per);
        free(s);
    }
    /* 999 parentheses around x: within the limit (the expression itself is one level) */
    char *s = repeat3("(", AD_EXPR_MAX_DEPTH - 1, "x", ")");
    ad_expr *e = ad_expr_parse(s, NULL);
    if (!e) fail_msg("%d parentheses: %s", AD_EXPR_MAX_DEPTH - 1, ad_last_error());
    ad_expr_free(e);
    free(s);
}

/* 10^6 terms and 10^5 distinct variables parse and build (the quadratic
 * parser took over 30 s for each); the values are right. bench_expr times
 * the growth. */
static void test_large_formulas(void **state)
{
    (void)state;
    char *s = repeat3("x+", 1000000 - 1, "x", "");
    ad_expr *e = ad_expr_parse(s, NULL);
    if (!e) fail_msg("10^6 terms: %s", ad_last_error());
    assert_int_equal(ad_expr_var_count(e), 1);
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.5);
    ad_node *f = ad_expr_build(e, ctx, &x);
    assert_non_null(f);
    assert_close(ad_value_scalar(f), 500000.0, 0);
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    assert_close(ad_grad_scalar(x), 1e6, 0);
    ad_context_free(ctx);
    ad_expr_free(e);
    free(s);

    enum { NV = 100000 };
    char *v = malloc((size_t)NV * 10), *p = v;
    assert_non_null(v);
    for (int i = 0; i < NV; i++) p += sprintf(p, i ? "+v%d*%d" : "v%d*%d", NV - 1 - i, i % 7);
    e = ad_expr_parse(v, NULL);
    if (!e) fail_msg("10^5 variables: %s", ad_last_error());
    assert_int_equal(ad_expr_var_count(e), NV);
    assert_string_equal(ad_expr_var_name(e, 0), "v0");         /* sorted by name */
    assert_string_equal(ad_expr_var_name(e, 1), "v1");
    assert_string_equal(ad_expr_var_name(e, 2), "v10");
    assert_int_equal(ad_expr_var_index(e, "v99999"), NV - 1);
    ctx = ad_context_new();
    ad_node **vars = malloc(NV * sizeof *vars);
    for (int i = 0; i < NV; i++) vars[i] = ad_scalar(ctx, 1.0);
    f = ad_expr_build(e, ctx, vars);
    assert_non_null(f);
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    /* v_k has coefficient (NV - 1 - k) % 7 */
    for (int k = 0; k < NV; k += 9973) {
        int idx = ad_expr_var_index(e, (snprintf(v, 16, "v%d", k), v));
        assert_close(ad_grad_scalar(vars[idx]), (double)((NV - 1 - k) % 7), 0);
    }
    free(vars);
    ad_context_free(ctx);
    ad_expr_free(e);
    free(v);
}

/* Constant folding makes the checks evaluation makes: a constant
 * subexpression outside its domain, or not finite, is a parse error at it. */
static void test_folding_domain(void **state)
{
    (void)state;
    expect_parse_error("x + log(0)", "'log(0)': its argument is 0 (log needs > 0)", 5);
    expect_parse_error("x*(0/0)", "'0/0': division by zero", 4);
    expect_parse_error("x + 1/(2-2)", "division by zero", 5);
    expect_parse_error("x + sqrt(-1)", "sqrt needs >= 0", 5);
    expect_parse_error("x + (-8)^0.5", "fractional power", 5);
    expect_parse_error("x + 0^-1", "0 to a negative power is infinite", 5);
    expect_parse_error("x + exp(1000)", "'exp(1000)' is inf, not a finite number", 5);
    expect_parse_error("x + 1e308*10", "not a finite number", 5);
    /* within the domain they still fold to one constant */
    point pt[1] = {{"x", 3}};
    double g[1];
    assert_close(eval("x + log(1) + sqrt(0) + 0^2 + 2^-1", pt, 1, g), 3.5, 0);
    assert_close(g[0], 1, 0);
}

/* Misuse of the API fails with a message, never a crash. */
static void test_api_misuse(void **state)
{
    (void)state;
    ad_expr *e = ad_expr_parse("x*y", NULL);
    ad_context *ctx = ad_context_new();
    ad_node *v[2] = {ad_scalar(ctx, 1), NULL};
    ad_clear_error();
    assert_null(ad_expr_build(e, ctx, v));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "variable 1 ('y') is NULL"));
    assert_null(ad_expr_build(e, ctx, NULL));
    assert_non_null(strstr(ad_last_error(), "NULL"));
    ad_clear_error();
    assert_null(ad_expr_parse(NULL, NULL));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    ad_context_free(ctx);
    ad_expr_free(e);
}

static int cli(const char *args, char *out, size_t len) { return ad_test_command("AUTODIDACT", args, out, len); }

static void test_command(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(cli("'y*log(x) + sqrt(y*log(x))' --at x=3,y=2 --variant A --check --random 5", out, sizeof out), 0);
    assert_non_null(strstr(out, "b    = y·a"));
    assert_non_null(strstr(out, "∂f/∂b = ∂f/∂c·∂c/∂b + ∂f/∂f·∂f/∂b"));
    assert_non_null(strstr(out, "∂f/∂x = 0.89154184520737"));
    assert_non_null(strstr(out, "agree"));
    assert_non_null(strstr(out, "42 passed, 0 failed"));   /* 7 checks at the point + 5 random points */
    assert_int_equal(cli("'cos(sin(x^2) + 3*x^2)' --at x=2 --mode reverse --json", out, sizeof out), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    assert_close(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "gradient"), "x")->valuedouble, 9.09914854483238, 1e-12);
    cJSON_Delete(doc);
    /* the quiz: the answer is printed */
    assert_int_equal(cli("'exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)' --at x=2,z=3", out, sizeof out), 0);
    assert_non_null(strstr(out, "∂f/∂x = 1208.38121512661"));
    assert_non_null(strstr(out, "∂f/∂z = 809.707479218564"));
    /* bad input: exit 2 with a message */
    const char *bad[][2] = {
        {"'(x + y))' --at x=1,y=2", "unexpected ')' at column 8"},
        {"'foo(x)' --at x=1", "unknown function 'foo'"},
        {"'x*y' --at x=1,z=2", "unknown variable 'z'"},
        {"'x*y' --at x=1", "no value for y"},
        {"'1/(x-3)' --at x=3", "division by zero"},
        {"'log(x)' --at x=-1", "log needs > 0"},
        {"'x' --at x=abc", "not a finite number"},
        {"", "no formula given"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = cli(bad[i][0], out, sizeof out);
        if (st != 2 || !strstr(out, bad[i][1]))
            fail_msg("autodidact %s: exit %d, output:\n%s(expected exit 2 and '%s')", bad[i][0], st, out, bad[i][1]);
    }
    /* --symbolic: the derivative as a formula, agreeing with the engine; without --at, a point is found */
    char sym[1 << 14];
    assert_int_equal(cli("'x^2*sin(x)' --symbolic --json", sym, sizeof sym), 0);
    cJSON *sd = cJSON_Parse(sym);
    assert_non_null(sd);
    const cJSON *sx = cJSON_GetObjectItem(cJSON_GetObjectItem(sd, "symbolic"), "x");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(sx, "agrees")));
    assert_string_equal(cJSON_GetObjectItem(sx, "formula")->valuestring, "2*x*sin(x) + x^2*cos(x)");
    cJSON_Delete(sd);
    assert_int_equal(cli("'relu(x) + max(x, y)' --at x=0,y=0", sym, sizeof sym), 0);
    assert_non_null(strstr(sym, "is at its kink: the engine takes a subgradient"));
    assert_null(strstr(sym, "DISAGREE"));
    assert_int_equal(cli("'log(x-5)' --symbolic", sym, sizeof sym), 2);
    assert_non_null(strstr(sym, "give a point in the domain with --at"));
}

/* A variable named by 200 letters: the command prints it whole in the tables, the kink's
 * explanation and the --json nodes' expressions (they were cut at 63 and 159 bytes). */
static void test_command_long_names(void **state)
{
    (void)state;
    static char out[1 << 16];
    char v[201], args[1024], want[512];
    memset(v, 'v', 200);
    v[200] = '\0';
    snprintf(args, sizeof args, "'relu(%s)*y' --at %s=0,y=2", v, v);
    assert_int_equal(cli(args, out, sizeof out), 0);
    snprintf(want, sizeof want, "a = relu(%s) is at its kink", v);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "∂f/∂%s += ∂f/∂a · ∂a/∂%s = ", v, v);
    assert_non_null(strstr(out, want));
    snprintf(args, sizeof args, "'relu(%s)*y' --at %s=0,y=2 --json", v, v);
    assert_int_equal(cli(args, out, sizeof out), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    snprintf(want, sizeof want, "relu(%s)", v);
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "nodes"), 2);
    assert_string_equal(cJSON_GetObjectItem(a, "expr")->valuestring, want);
    cJSON_Delete(doc);
}

/* --symbolic prints each formula whole or fails saying so, never a cut formula: the derivative of
 * sin(sin(...sin(x))) 900 deep is about 2.5 million characters, over the command's 1 MiB. A formula
 * that starts with '-', as a printed derivative may, goes after "--" (which --help tells). */
static void test_symbolic_command_output(void **state)
{
    (void)state;
    static char out[1 << 16];
    enum { DEPTH = 900 };
    size_t len = DEPTH * 5 + 64;
    char *args = malloc(len), *p = args;
    p += sprintf(p, "'");
    for (int k = 0; k < DEPTH; k++) p += sprintf(p, "sin(");
    p += sprintf(p, "x");
    for (int k = 0; k < DEPTH; k++) p += sprintf(p, ")");
    sprintf(p, "' --symbolic");
    const char *exe = getenv("AUTODIDACT");
    if (!exe) fail_msg("AUTODIDACT (the command's path) is not set; run through meson test");
    char *cmd = malloc(len + strlen(exe) + 16);
    sprintf(cmd, "%s %s 2>&1", exe, args);
    assert_int_equal(ad_test_popen(cmd, out, sizeof out), 1);   /* (-1 if it did not exit) */
    assert_non_null(strstr(out, "∂f/∂x: sym_print: output exceeds 1048576 characters"));
    assert_null(strstr(out, "∂f/∂x = cos"));   /* no part of it was printed */
    assert_non_null(strstr(out, "  f = sin(sin("));   /* f itself fits, and is printed whole */
    free(cmd);
    free(args);

    assert_int_equal(cli("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "A formula that starts with '-'"));
    assert_non_null(strstr(out, "autodidact --symbolic -- '-x^2'"));
    assert_int_equal(cli("'-x^2' --symbolic", out, sizeof out), 2);   /* read as an option */
    assert_int_equal(cli("--symbolic -- '-x^2'", out, sizeof out), 0);
    assert_non_null(strstr(out, "∂f/∂x = -2*x"));
    assert_int_equal(cli("--symbolic -- '-2*x'", out, sizeof out), 0);   /* the printed text, fed back */
    assert_non_null(strstr(out, "∂f/∂x = -2\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lesson_values), cmocka_unit_test(test_precedence_and_numbers),
        cmocka_unit_test(test_common_subexpressions), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_domain_errors), cmocka_unit_test(test_command), cmocka_unit_test(test_command_long_names), cmocka_unit_test(test_variable_exponents),
        cmocka_unit_test(test_power_edges),
        cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_large_formulas),
        cmocka_unit_test(test_folding_domain), cmocka_unit_test(test_api_misuse),
        cmocka_unit_test(test_symbolic_command_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
