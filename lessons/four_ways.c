/* four_ways: lecture 003's "How do we compute gradients?" — analytic
 * ("manual"), symbolic, numerical and automatic differentiation (forward and
 * reverse mode) — side by side on the lectures' functions:
 *   001  f(x, y) = y log x + √(y log x)                 at (3, 2)
 *   003  f(x₁, x₂) = x₁x₂ + sin x₁                       at (2, 3)
 *   004  J = cos(sin(x²) + 3x²)                          at 2
 *   004  Quiz #1: y = exp(xz) + xz/log x + sin(log x)/(xz) at (2, 3)
 * Manual: the derivative worked out by hand (below, in C). Symbolic: the
 * engine's ad_symbolic applied to the graph, printed as a formula.
 * Numerical: centered differences (lecture 004's formula) and their error.
 * Automatic: forward mode (one pass per input) and reverse mode (one pass).
 * Then expression swell [001: "AutoDiff is not ... symbolic
 * differentiation"]: the logistic map l_{k+1} = 4l_k(1 − l_k), whose
 * derivative written out grows geometrically with depth while the graph
 * (and reverse mode's work) grows linearly; one depth's derivative (--written,
 * 3 by default) is written out. A formula is written out whole or not at
 * all: one longer than FORMULA_MAX characters prints a line saying so, with
 * its size as a tree, never a prefix. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <string.h>
#include "lesson.h"

typedef struct lecture_fn {
    const char *lecture, *formula;
    int n;
    double at[2];
    void (*manual)(const double *v, double *g);   /* v and g in the formula's variable order (alphabetical) */
    const char *manual_text;
} lecture_fn;

/* By hand. Variables in alphabetical order, as the formula language sorts them. */
static void m_chain(const double *v, double *g)   /* (x, y) */
{
    double x = v[0], y = v[1], s = 1 + 1 / (2 * sqrt(y * log(x)));
    g[0] = y / x * s;
    g[1] = log(x) * s;
}
/* The formulas are typed in the expression language's ASCII (x1*x2); the
 * lecture writes x₁x₂. Print a digit that follows a letter as a subscript,
 * as the lecture does (--ascii turns it back). Two static buffers: slot. */
static const char *subscripted(const char *s, int slot)
{
    static char buf[2][8192];
    static const char *const sub[10] = {"₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉"};
    size_t k = 0;
    bool after_name = false;
    for (; *s && k + 4 < sizeof buf[slot]; s++) {
        if (*s >= '0' && *s <= '9' && after_name) {
            memcpy(buf[slot] + k, sub[*s - '0'], 3);   /* each subscript digit is 3 bytes of UTF-8 */
            k += 3;
            continue;
        }
        after_name = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (after_name && *s >= '0' && *s <= '9');
        buf[slot][k++] = *s;
    }
    buf[slot][k] = '\0';
    return buf[slot];
}

/* A lecture's function as the lecture writes it: subscripts, · for *, √ for
 * sqrt, ² for ^2 (the symbolic derivatives stay in the expression language,
 * which `autodidact` reads back). */
static const char *lecture_notation(const char *formula)
{
    static char buf[1024];
    static const char *const from[3] = {"*", "sqrt", "^2"}, *const to[3] = {"·", "√", "²"};
    const char *s = subscripted(formula, 0);
    size_t k = 0;
    while (*s && k + 8 < sizeof buf) {
        int r = 0;
        while (r < 3 && strncmp(s, from[r], strlen(from[r]))) r++;
        if (r < 3) {
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s", to[r]);
            s += strlen(from[r]);
        } else buf[k++] = *s++;
    }
    buf[k] = '\0';
    return buf;
}

static void m_fvr(const double *v, double *g)   /* (x1, x2) */
{
    g[0] = v[1] + cos(v[0]);
    g[1] = v[0];
}
static void m_cos_sin(const double *v, double *g)   /* (x) */
{
    double x = v[0];
    g[0] = -sin(sin(x * x) + 3 * x * x) * (2 * x * cos(x * x) + 6 * x);
}
static void m_quiz(const double *v, double *g)   /* (x, z) */
{
    double x = v[0], z = v[1], l = log(x);
    g[0] = z * exp(x * z) + z / l - z / (l * l) + cos(l) / (x * x * z) - sin(l) / (x * x * z);
    g[1] = x * exp(x * z) + x / l - sin(l) / (x * z * z);
}

static const lecture_fn fns[] = {
    {"001", "y*log(x) + sqrt(y*log(x))", 2, {3, 2}, m_chain,
     "∂f/∂x = (y/x)(1 + 1/(2√(y log x))), ∂f/∂y = log x (1 + 1/(2√(y log x)))"},
    {"003", "x1*x2 + sin(x1)", 2, {2, 3}, m_fvr, "∂f/∂x₁ = x₂ + cos x₁, ∂f/∂x₂ = x₁"},
    {"004", "cos(sin(x^2) + 3*x^2)", 1, {2, 0}, m_cos_sin, "∂f/∂x = −sin(sin x² + 3x²)(2x cos x² + 6x)"},
    {"004", "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)", 2, {2, 3}, m_quiz,
     "∂f/∂x = z e^{xz} + z/log x − z/log²x + cos(log x)/(x²z) − sin(log x)/(x²z), "
     "∂f/∂z = x e^{xz} + x/log x − sin(log x)/(xz²)"},
};
enum { N_FNS = sizeof fns / sizeof fns[0] };

/* The longest formula written out: a line's worth of lecture, not a file. */
enum { FORMULA_MAX = 4095 };

/* e written out into text (FORMULA_MAX + 1 bytes): true; or false, with
 * text saying why it is not ("not written out: sym_print: output exceeds
 * 4095 characters (written out as a tree, the expression has ...
 * subexpressions)"). */
static bool write_formula(const ad_sym_ctx *s, const ad_sym *e, char *text)
{
    if (ad_sym_print(s, e, text, FORMULA_MAX + 1) <= FORMULA_MAX) return true;
    snprintf(text, FORMULA_MAX + 1, "not written out: %s", ad_last_error());
    ad_clear_error();
    return false;
}

static ad_node *build_formula(ad_context *ctx, ad_node *const *x, void *user) { return ad_expr_build(user, ctx, x); }

int main(int argc, char **argv)
{
    lesson L = {.program = "four_ways",
                .source = "003_2b494b62304cfecb.txt: \"How do we compute gradients?\"; 001_5b955eed8dfe07dd.txt: \"AutoDiff is not finite differencing, symbolic differentiation\"; 004_586b0e2da8ef059d.txt: \"Other approaches to differentiation\"",
                .code = "engine/core/forward.c (forward mode), engine/core/backward.c (reverse mode), engine/teach/symbolic.c (symbolic differentiation)",
                .title = "manual, symbolic, numerical and automatic differentiation side by side [003, 001, 004]",
                .in = {{"eps", 1e-6, 0, 1, "the finite-difference step ε, in (0, 1)"},
                       {"depth", 10, 0, 31, "the logistic map's depth for expression swell, 1..30"},
                       {"x0", 0.3, 0, 1, "the logistic map's start l₀, in (0, 1)"},
                       {"written", 3, -1, 31, "the depth whose derivative is written out as a formula, 0..30\n"
                                              "(0: none; one over --depth is not reached)"}},
                .n_in = 4,
                .has_variant = true};
    lesson_parse(&L, argc, argv);
    double eps = L.in[0].value, x0 = L.in[2].value;
    for (int i = 1; i <= 3; i += 2)   /* --depth, --written */
        if (L.in[i].value != floor(L.in[i].value)) lesson_usage_error(L.program, "--%s takes a whole number", L.in[i].name);
    int depth = (int)L.in[1].value, written = (int)L.in[3].value;
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    cJSON *arr = doc ? cJSON_AddArrayToObject(doc, "functions") : NULL;
    if (doc) {
        cJSON_AddStringToObject(doc, "lesson", L.program);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        cJSON *in = cJSON_AddObjectToObject(doc, "inputs");
        for (int i = 0; i < L.n_in; i++) cJSON_AddNumberToObject(in, L.in[i].name, L.in[i].value);
    }
    if (!L.json)
        printf("four_ways — lecture 003's four ways to compute gradients, on the lectures' functions\n"
               "(numerical: centered differences with ε = %g; reverse mode as Version %s)\n", eps,
               L.variant == AD_BACKWARD_PULL ? "A" : "B");
    for (int k = 0; k < N_FNS; k++) {
        const lecture_fn *F = &fns[k];
        ad_expr *e = ad_expr_parse(F->formula, NULL);
        if (!e) lesson_die(&L, "parsing");
        int n = ad_expr_var_count(e);
        const double *v = F->at;
        double manual[2], sym[2], num[2], fwd[2], rev[2];
        /* manual */
        F->manual(v, manual);
        /* automatic, reverse mode: one forward pass storing values, one backward pass */
        ad_context *ctx = lesson_context(&L);
        ad_node *in[2];
        for (int i = 0; i < n; i++) in[i] = ad_set_name(ad_scalar(ctx, v[i]), ad_expr_var_name(e, i));
        ad_node *f = ad_expr_build(e, ctx, in);
        if (!f) lesson_die(&L, F->formula);
        lesson_backward(&L, ctx, f, NULL);
        for (int i = 0; i < n; i++) rev[i] = ad_grad_scalar(in[i]);
        uint32_t graph_nodes = ad_context_node_count(ctx);
        /* symbolic: from the same graph */
        ad_sym_ctx *s = ad_sym_ctx_new();
        ad_sym *fs = s ? ad_sym_from_graph(s, ctx, f) : NULL;
        if (!fs) lesson_die(&L, "symbolic");
        char text[2][FORMULA_MAX + 1];
        bool text_whole[2] = {false, false};
        double tree[2] = {0, 0};
        for (int i = 0; i < n; i++) {
            int j = ad_sym_var_index(s, ad_expr_var_name(e, i));
            double xs[2];
            for (int q = 0; q < ad_sym_var_count(s); q++) xs[q] = v[ad_expr_var_index(e, ad_sym_var_name(s, q))];
            ad_sym *d = ad_sym_diff(s, fs, j);
            if (!d) lesson_die(&L, "symbolic differentiation");
            text_whole[i] = write_formula(s, d, text[i]);
            sym[i] = ad_sym_eval(s, d, xs, ad_sym_var_count(s));
            tree[i] = ad_sym_tree_size(d);
        }
        ad_sym_ctx_free(s);
        ad_context_free(ctx);
        /* automatic, forward mode: one pass per input, each carrying one tangent */
        for (int i = 0; i < n; i++) {
            ad_context *c = lesson_context(&L);
            if (ad_forward_dirs(c, 1) != AD_OK) lesson_die(&L, "forward mode");
            ad_node *fin[2];
            for (int q = 0; q < n; q++) fin[q] = ad_scalar(c, v[q]);
            ad_set_tangent(fin[i], 0, NULL, 0);
            ad_node *ff = ad_expr_build(e, c, fin);
            if (!ff) lesson_die(&L, "forward mode");
            fwd[i] = ad_tangent_at(ff, 0, 0);
            ad_context_free(c);
        }
        /* numerical: centered differences, divided by the step taken */
        for (int i = 0; i < n; i++) {
            double p[2] = {v[0], v[1]}, m[2] = {v[0], v[1]};
            p[i] += eps;
            m[i] -= eps;
            num[i] = (lesson_eval(build_formula, e, p, n) - lesson_eval(build_formula, e, m, n)) / (p[i] - m[i]);
        }
        if (!L.json) {
            printf("\n[%s] f = %s at", F->lecture, lecture_notation(F->formula));
            for (int i = 0; i < n; i++) printf("%s %s = %g", i ? "," : "", subscripted(ad_expr_var_name(e, i), 0), v[i]);
            printf("\n  manual (by hand): %s\n", F->manual_text);
            for (int i = 0; i < n; i++)
                printf(text_whole[i] ? "  symbolic ∂f/∂%s = %s\n" : "  symbolic ∂f/∂%s (%s)\n",
                       subscripted(ad_expr_var_name(e, i), 0), text_whole[i] ? subscripted(text[i], 1) : text[i]);
            printf("  %-26s", "");
            for (int i = 0; i < n; i++) {
                printf(" ");
                ad_explain_pad(stdout, subscripted(ad_expr_var_name(e, i), 0), 22);
            }
            printf("\n");
            const char *rows[5] = {"manual", "symbolic (formula, evaluated)", "numerical (centered)",
                                   "forward mode", "reverse mode"};
            const double *vals[5] = {manual, sym, num, fwd, rev};
            for (int r = 0; r < 5; r++) {
                printf("  %-30s", rows[r]);
                for (int i = 0; i < n; i++) printf(" %22.15g", vals[r][i]);
                printf("\n");
            }
            printf("  numerical error against reverse mode:");
            for (int i = 0; i < n; i++) printf(" %.1e", fabs(num[i] - rev[i]));
            printf("\n  cost: forward mode %d pass%s (one per input), reverse mode 1 backward pass after the forward one;\n"
                   "  the graph has %u nodes; the symbolic derivative%s, written out, %s %g nodes\n",
                   n, n > 1 ? "es" : "", graph_nodes, n > 1 ? "s" : "", n > 1 ? "have" : "has",
                   tree[0] + (n > 1 ? tree[1] : 0));
        }
        for (int i = 0; i < n; i++) {
            char what[96];
            snprintf(what, sizeof what, "[%s] manual ∂/∂%s against reverse mode", F->lecture, ad_expr_var_name(e, i));
            lesson_check_close(&L, what, manual[i], rev[i], 1e-12);
            snprintf(what, sizeof what, "[%s] symbolic ∂/∂%s against reverse mode", F->lecture, ad_expr_var_name(e, i));
            lesson_check_close(&L, what, sym[i], rev[i], 1e-12);
            snprintf(what, sizeof what, "[%s] forward mode ∂/∂%s against reverse mode", F->lecture, ad_expr_var_name(e, i));
            lesson_check_close(&L, what, fwd[i], rev[i], 1e-12);
            if (!isfinite(num[i])) lesson_fail(&L, "[%s] the finite difference is not finite", F->lecture);
        }
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "lecture", F->lecture);
            cJSON_AddStringToObject(o, "formula", F->formula);
            cJSON *vars = cJSON_AddArrayToObject(o, "variables");
            for (int i = 0; i < n; i++) cJSON_AddItemToArray(vars, cJSON_CreateString(ad_expr_var_name(e, i)));
            lesson_json_array(o, "at", v, n);
            lesson_json_array(o, "manual", manual, n);
            lesson_json_array(o, "symbolic", sym, n);
            cJSON *st = cJSON_AddArrayToObject(o, "symbolic_formula");
            for (int i = 0; i < n; i++)   /* null: too long to write out */
                cJSON_AddItemToArray(st, text_whole[i] ? cJSON_CreateString(text[i]) : cJSON_CreateNull());
            lesson_json_array(o, "numerical", num, n);
            lesson_json_array(o, "forward_mode", fwd, n);
            lesson_json_array(o, "reverse_mode", rev, n);
            cJSON_AddNumberToObject(o, "forward_passes", n);
            cJSON_AddNumberToObject(o, "reverse_passes", 1);
            cJSON_AddNumberToObject(o, "graph_nodes", graph_nodes);
            lesson_json_array(o, "symbolic_tree_size", tree, n);
            cJSON_AddItemToArray(arr, o);
        }
        ad_expr_free(e);
    }

    /* Expression swell: the logistic map, depth 1..depth. */
    if (!L.json)
        printf("\nExpression swell: l₀ = x, l_{k+1} = 4·l_k·(1 − l_k), d l_n/dx at x = %g\n"
               "  %5s %12s %18s %14s %22s %22s\n", x0, "depth", "graph nodes", "symbolic, as tree",
               "symbolic, DAG", "symbolic value", "reverse mode");
    cJSON *sw = doc ? cJSON_AddArrayToObject(doc, "swell") : NULL;
    for (int dpt = 1; dpt <= depth; dpt++) {
        ad_context *ctx = lesson_context(&L);
        ad_node *x = ad_set_name(ad_scalar(ctx, x0), "x"), *l = x;
        for (int k = 0; k < dpt; k++) l = ad_scale(ctx, ad_mul(ctx, l, ad_sub(ctx, ad_scalar_const(ctx, 1), l)), 4);
        if (!l) lesson_die(&L, "the logistic map");
        lesson_backward(&L, ctx, l, NULL);
        ad_sym_ctx *s = ad_sym_ctx_new();
        ad_sym *fs = s ? ad_sym_from_graph(s, ctx, l) : NULL;
        ad_sym *d = fs ? ad_sym_diff(s, fs, 0) : NULL;
        if (!d) lesson_die(&L, "symbolic differentiation");
        double tree = ad_sym_tree_size(d), val = ad_sym_eval(s, d, &x0, 1), rv = ad_grad_scalar(x);
        int64_t dag = ad_sym_dag_size(s, d);
        uint32_t nodes = ad_context_node_count(ctx);
        lesson_check_close(&L, "the logistic map's symbolic derivative against reverse mode", val, rv, 1e-9);
        if (!L.json)
            printf("  %5d %12u %18.0f %14lld %22.15g %22.15g\n", dpt, nodes, tree, (long long)dag, val, rv);
        if (sw) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "depth", dpt);
            cJSON_AddNumberToObject(o, "graph_nodes", nodes);
            cJSON_AddNumberToObject(o, "symbolic_tree_size", tree);
            cJSON_AddNumberToObject(o, "symbolic_dag_size", (double)dag);
            cJSON_AddNumberToObject(o, "symbolic_value", val);
            cJSON_AddNumberToObject(o, "reverse_mode", rv);
            cJSON_AddItemToArray(sw, o);
        }
        if (dpt == written && !L.json) {
            static char buf[FORMULA_MAX + 1];
            if (write_formula(s, d, buf)) printf("        (depth %d written out: %s)\n", dpt, buf);
            else printf("        (depth %d %s)\n", dpt, buf);
        }
        ad_sym_ctx_free(s);
        ad_context_free(ctx);
    }
    if (!L.json)
        printf("  The graph grows by 4 nodes a step and reverse mode does one vjp per node: its cost is linear\n"
               "  in depth. The derivative written out as a formula grows geometrically (each step's product\n"
               "  rule repeats l_k); sharing its repeated subexpressions (the DAG column) is what reverse mode\n"
               "  does by construction. That is lecture 001's point that autodiff is not symbolic\n"
               "  differentiation, and why symbolic derivatives of deep networks are not written out.\n");
    if (doc) lesson_print_json(doc);
    return lesson_status();
}
