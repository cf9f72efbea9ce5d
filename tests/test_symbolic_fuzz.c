/* test_symbolic_fuzz.c: the symbolic engine's printer against the formula
 * parser, on random formulas. For each formula f (nested ^ with constant and
 * variable exponents, unary minus, every function the parser knows, the
 * constants pi and e):
 *   parse f, build it at a random point, run reverse mode: f(p) and ∇f(p);
 *   ad_sym_from_graph, then ad_sym_diff in every variable;
 *   print f and each ∂f/∂v, parse the text back, build it at p;
 * and the printed f must give f(p), the printed ∂f/∂v the engine's ∂f/∂v,
 * and ad_sym_eval both, to a relative tolerance. Points outside the domain
 * (a build that fails its checks, a value or gradient that is not finite)
 * are skipped, and so are points where f or its gradient is ill-conditioned
 * (well_conditioned). A text that does not parse is a failure, except a derivative
 * through relu, abs, max or min: the subgradients step, sign, ge and le are
 * the symbolic engine's own and the parser has no such functions (their
 * values are still checked through ad_sym_eval).
 *
 * Usage: test_symbolic_fuzz [formulas [seed]] (default 10000 formulas, seed 1).
 * Exit 0 when every check passed, 1 on the first mismatch (printed). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autodidact.h"

enum { NV = 3, TEXT_MAX = 1 << 16 };
static const char *const var_names[NV] = {"x", "y", "z"};

static uint64_t rng;
static unsigned next(unsigned n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng >> 33) % n;
}
static double uniform(double lo, double hi) { return lo + (hi - lo) * (double)next(1u << 30) / (double)(1u << 30); }

/* Appends printf-style; at depth <= 4 a formula stays far shorter than the buffer. */
typedef struct text { char s[4096]; size_t n; } text;
static void add(text *t, const char *fmt, const char *a)
{
    int k = snprintf(t->s + t->n, sizeof t->s - t->n, fmt, a);
    if (k > 0) t->n = t->n + (size_t)k < sizeof t->s ? t->n + (size_t)k : sizeof t->s - 1;
}

/* A random formula of the given depth. Operands of ^ and unary minus are
 * written without parentheses where they are atoms, so "-x^2", "x^y^2" and
 * "(x^y)^2" all occur. */
static void gen(text *t, int depth)
{
    static const char *const consts[] = {"0.5", "2", "3", "1.5", "pi", "e", "0.1", "1e-3"};
    static const char *const fns[] = {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg"};
    static const char *const expos[] = {"2", "3", "0.5", "-1", "(-2)", "1.5", "-0.5", "4"};
    static const char *const ops[] = {" + ", " - ", "*", "/"};
    unsigned r = depth <= 0 ? next(2) : 2 + next(12);
    switch (r) {
    case 0: add(t, "%s", var_names[next(NV)]); break;
    case 1: add(t, "%s", consts[next(8)]); break;
    case 2: add(t, "%s", "-"); gen(t, depth - 1); break;                    /* -A: A may be x^2 */
    case 3: case 4: add(t, "%s(", fns[next(10)]); gen(t, depth - 1); add(t, "%s", ")"); break;
    case 5:
        add(t, "%s(", next(2) ? "max" : "min");
        gen(t, depth - 1);
        add(t, "%s", ", ");
        gen(t, depth - 1);
        add(t, "%s", ")");
        break;
    case 6: add(t, "%s", "pow("); gen(t, depth - 1); add(t, ", %s)", expos[next(8)]); break;
    case 7: add(t, "%s", var_names[next(NV)]); add(t, next(2) ? "^%s" : "**%s", expos[next(8)]); break;   /* x^c */
    case 8: add(t, "%s^", var_names[next(NV)]); gen(t, depth - 1); break;                      /* x^B, B may be y^z */
    case 9:                                                                                     /* (A^B)^c */
        add(t, "%s", "(");
        add(t, "%s^", next(2) ? var_names[next(NV)] : "(sigmoid(x) + 0.5)");
        add(t, "%s", var_names[next(NV)]);
        add(t, ")^%s", expos[next(8)]);
        break;
    case 10: add(t, "-%s^", var_names[next(NV)]); add(t, "%s", var_names[next(NV)]); break;    /* -x^y */
    default:
        add(t, "%s", "(");
        gen(t, depth - 1);
        add(t, "%s", ops[next(4)]);
        gen(t, depth - 1);
        add(t, "%s", ")");
        break;
    }
}

/* The formula text built at p (variables by name; absent ones are not used):
 * its value, or NAN when the build fails its domain checks. *parsed: whether it parsed. */
static double value_of(const char *formula, const double *p, bool *parsed)
{
    ad_expr *e = ad_expr_parse(formula, NULL);
    *parsed = e != NULL;
    if (!e) return NAN;
    ad_context *ctx = ad_context_new();
    ad_node *v[NV];
    int n = ad_expr_var_count(e);
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < NV && strcmp(var_names[k], ad_expr_var_name(e, i))) k++;
        v[i] = ad_scalar(ctx, k < NV ? p[k] : NAN);
    }
    ad_node *f = n <= NV ? ad_expr_build(e, ctx, v) : NULL;
    double r = f ? ad_value_scalar(f) : NAN;
    ad_context_free(ctx);
    ad_expr_free(e);
    return r;
}

/* Relative agreement, to a scale of at least 1 and |f(p)|. Differentiation reorders sums and
 * products, so rounding in the largest terms stands out where they cancel, and f's size bounds
 * theirs: in x^x^4*((-(y*pi))/(-(e*y))) the factor in y is constant, but its quotient rule gives
 * rounding noise (5e-4 from the engine, 8e-4 symbolically) times x^x^4 = 8e12; in
 * y^((x/x)/tanh(1e-3)) - cos(tanh(-x^z)) the engine's two 1e231 paths through x/x cancel and swallow
 * the 9e-4 from the cosine (its ∂f/∂x is 0), which the symbolic x/x = 1 keeps. */
static double f_scale = 1;
static bool agree(double a, double b) { return fabs(a - b) <= 1e-7 * fmax(f_scale, fmax(fabs(a), fabs(b))); }

static bool has_subgradient(const char *t)
{
    return strstr(t, "step(") || strstr(t, "sign(") || strstr(t, "ge(") || strstr(t, "le(");
}

static char printed[TEXT_MAX];

/* f built at p in ctx, its value and gradient (g[i]: by the formula's variable i) by reverse mode;
 * NULL where p is outside the domain or a value or gradient is not finite. */
static ad_node *engine_at(ad_context *ctx, const ad_expr *e, const double *p, ad_node **v, double *fv, double *g)
{
    int n = ad_expr_var_count(e);
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (strcmp(var_names[k], ad_expr_var_name(e, i))) k++;
        v[i] = ad_set_name(ad_scalar(ctx, p[k]), var_names[k]);
    }
    ad_node *f = ad_expr_build(e, ctx, v);
    if (!f || !isfinite(*fv = ad_value_scalar(f)) || ad_backward(ctx, f) != AD_OK) return NULL;
    for (int i = 0; i < n; i++)
        if (!isfinite(g[i] = ad_grad_scalar(v[i]))) return NULL;
    return f;
}

/* Whether f and its gradient are well conditioned at p: moving p by 1e-12 of itself moves neither
 * by more than the tolerance. Where it does (cos(x^-6) at x = 0.035, the cosine of 5e8), the
 * rounding of equal formulas written differently ((x^x)^16 or pow(pow(x^x, 4), 4)) differs by as
 * much, and no comparison means anything. */
static bool well_conditioned(const ad_expr *e, const double *p, double fv, const double *g)
{
    double q[NV], fq, gq[NV];
    for (int i = 0; i < NV; i++) q[i] = p[i] * (1 + 1e-12);
    ad_context *ctx = ad_context_new();
    ad_node *v[NV];
    bool ok = engine_at(ctx, e, q, v, &fq, gq) && agree(fq, fv);
    for (int i = 0; ok && i < ad_expr_var_count(e); i++) ok = agree(gq[i], g[i]);
    ad_context_free(ctx);
    return ok;
}

/* One formula at one point: 1 checked, 0 skipped (outside the domain, or ill-conditioned there),
 * -1 a failure (printed). */
static int check_at(const char *formula, const ad_expr *e, const double *p)
{
    int n = ad_expr_var_count(e);
    ad_context *ctx = ad_context_new();
    ad_node *v[NV];
    double fv, g[NV];
    ad_node *f = engine_at(ctx, e, p, v, &fv, g);
    int result = 0;
    if (!f) goto out;
    f_scale = fmax(1.0, fabs(fv));
    if (!well_conditioned(e, p, fv, g)) goto out;
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = ad_sym_from_graph(s, ctx, f);
    double xs[NV];
    for (int j = 0; fs && j < ad_sym_var_count(s); j++) xs[j] = p[ad_sym_var_name(s, j)[0] - 'x'];
    const char *what = NULL;
    double got = 0, want = 0;
    bool parsed;
    if (!fs) what = "ad_sym_from_graph failed";
    else if (ad_sym_print(s, fs, printed, sizeof printed) >= sizeof printed) what = "f's text is too long";
    else if (got = value_of(printed, p, &parsed), want = fv, !parsed) what = "printed f does not parse";
    else if (!agree(got, want)) what = "printed f, parsed back, differs from f";
    for (int i = 0; !what && i < n; i++) {
        int j = ad_sym_var_index(s, ad_expr_var_name(e, i));
        ad_sym *d = j >= 0 ? ad_sym_diff(s, fs, j) : NULL;
        want = g[i];
        if (j < 0) {
            snprintf(printed, sizeof printed, "0");
            if ((got = 0, !agree(got, want))) what = "f does not depend on the variable, but its gradient is not 0";
            continue;
        }
        if (!d) what = "ad_sym_diff failed";
        else if (got = ad_sym_eval(s, d, xs, ad_sym_var_count(s)), !agree(got, want)) what = "ad_sym_eval of ∂f differs";
        else if (ad_sym_print(s, d, printed, sizeof printed) >= sizeof printed) what = "∂f's text is too long";
        else if (has_subgradient(printed)) continue;
        else if (got = value_of(printed, p, &parsed), !parsed) what = "printed ∂f does not parse";
        else if (isfinite(got) && !agree(got, want)) what = "printed ∂f, parsed back, differs from the gradient";
        if (what) printf("  (∂f/∂%s)\n", ad_expr_var_name(e, i));
    }
    if (what) {
        printf("FAIL: %s\n  formula: %s\n  at x=%.17g y=%.17g z=%.17g\n  printed: %s\n  got %.17g, want %.17g\n  (%s)\n",
               what, formula, p[0], p[1], p[2], printed, got, want, ad_last_error());
        result = -1;
    } else {
        result = 1;
    }
    ad_sym_ctx_free(s);
out:
    ad_context_free(ctx);
    return result;
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 10000;
    unsigned long seed = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    long checked = 0, points = 0;
    for (long k = 0; k < count; k++) {
        text t = {.n = 0};
        gen(&t, 1 + (int)next(4));
        ad_expr *e = ad_expr_parse(t.s, NULL);
        if (!e) continue;   /* constants folded out of the domain ("log(-2)"): the parser's business */
        bool any = false;
        for (int tries = 0; tries < 4; tries++) {
            double p[NV];
            for (int i = 0; i < NV; i++) p[i] = tries % 2 ? uniform(-2.5, 2.5) : uniform(0.2, 2.5);
            int r = check_at(t.s, e, p);
            if (r < 0) {
                printf("seed %lu, formula %ld\n", seed, k);
                ad_expr_free(e);
                return 1;
            }
            points += r;
            any = any || r;
        }
        checked += any;
        ad_expr_free(e);
    }
    printf("%ld formulas, %ld checked at %ld points in their domains (seed %lu)\n", count, checked, points, seed);
    if (checked < count / 2) {
        printf("FAIL: fewer than half the formulas had a point in their domain\n");
        return 1;
    }
    return 0;
}
