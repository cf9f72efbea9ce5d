/* autodidact: any formula, step by step.
 *   autodidact 'y*log(x) + sqrt(y*log(x))' --at x=3,y=2
 *   autodidact 'cos(sin(x^2) + 3*x^2)' --at x=2 --mode reverse --dot g.dot
 * Prints the node table (shared subexpressions once), the forward-mode
 * table with one tangent column per variable, the reverse-mode steps
 * (Version A or B), the gradient and a finite-difference cross-check.
 *   autodidact 'x^y + sin(x*y)' --symbolic
 * Prints the node table (shared subexpressions once), the forward-mode
 * table with one tangent column per variable, the reverse-mode steps
 * (Version A or B), the gradient and a finite-difference cross-check; with
 * --symbolic, the symbolic derivatives instead of the tables (computed from
 * the graph by ad_symbolic, simplified, checked against the engine's
 * gradient at the point).
 * Exit status: 0 fine, 1 a check found a mismatch, 2 bad input. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_cli.h"
#include "ad_gradcheck.h"
#include "formula_hessian.h"
#include "lesson.h"
#include "lesson_html.h"
#include "lesson_trace.h"

/* MAX_VARS: as the lessons; SYM_TEXT_MAX: the longest formula --symbolic prints (1 MiB; a longer
 * one is an error, "output exceeds ... characters", never a cut formula). */
enum { MAX_VARS = LESSON_MAX_INPUTS, SYM_TEXT_MAX = 1 << 20 };

enum { O_AT, O_SYMBOLIC, O_HESSIAN, O_MODE, O_VARIANT, O_JSON, O_DOT, O_HTML, O_CHECK, O_RANDOM, O_BOX, O_SEED, N_OPTIONS };
static const ad_cli_option options[N_OPTIONS] = {
    [O_AT] = {"at", "x=3,y=2", "the point: NAME=VALUE for every variable (repeatable); optional\n"
                               "with --symbolic"},
    [O_SYMBOLIC] = {"symbolic", NULL, "print the symbolic derivatives (simplified formulas) instead of the\n"
                                      "tables, each checked against the engine's gradient at the point\n"
                                      "(without --at: the first of 1, 2, 0.5, 3 in the formula's domain)"},
    [O_HESSIAN] = {"hessian", NULL, "also the Hessian: each column one Hessian-vector product (ad_hvp,\n"
                                    "forward-over-reverse), beside differences of the gradient, checked\n"
                                    "for symmetry; with --symbolic, each second derivative as a formula"},
    [O_MODE] = {"mode", "forward|reverse|both", "which tables to show (default both)"},
    [O_VARIANT] = {"variant", "A|B", LESSON_VARIANT_HELP},
    [O_JSON] = {"json", NULL, "results as JSON only"},
    [O_DOT] = {"dot", "FILE", "the graph with values and gradients, for Graphviz"},
    [O_HTML] = {"html", "FILE", "one self-contained HTML page that draws the graph and steps through\n"
                                "the tables' rows (open it in a browser)"},
    [O_CHECK] = {"check", NULL, "run gradcheck on the formula at the point"},
    [O_RANDOM] = {"random", "N", "with --check: also at N random points in the box (0..100000)"},
    [O_BOX] = {"box", "LO:HI", "the box is the point + [LO, HI] in every variable (default -0.5:0.5)"},
    [O_SEED] = {"seed", "N", "seed for --random (default 1)"},
};

static ad_cli cli = {
    .program = "autodidact",
    .summary = "any formula's derivatives, step by step, in forward and reverse mode",
    .synopsis = "FORMULA --at NAME=VALUE[,NAME=VALUE...] [options]\n"
                "       autodidact lesson [NAME [options]]",
    .description =
        "Prints the node table (a shared subexpression is one node), the forward-mode table with one\n"
        "tangent column per variable, the reverse-mode steps, the gradient and a finite-difference check.\n"
        "\n"
        "FORMULA, e.g. 'y*log(x) + sqrt(y*log(x))': + - * / ^ (or **), parentheses, numbers in C\n"
        "syntax, variables, pi, e, and exp log sqrt sin cos tanh sigmoid relu abs neg max(a,b) min(a,b)\n"
        "pow(x,c); a^b with a variable exponent needs a > 0 (x^y, 2^x, e^x).\n"
        "A formula that starts with '-' (as one printed by --symbolic may) goes after '--', which ends\n"
        "the options: autodidact --symbolic -- '-x^2'.\n"
        "\n"
        "autodidact lesson NAME [options] runs one of the course's lesson programs (installed in\n"
        "libexec/autodidact/); autodidact lesson lists them. (A formula that is just the variable\n"
        "'lesson' is written '(lesson)'.)",
    .options = options,
    .n_options = N_OPTIONS,
    .notes = "Exit status: 0 fine, 1 --check found a mismatch, 2 bad input.",
};

static _Noreturn void bad_input(const char *fmt, const char *arg) { ad_cli_usage_error(&cli, fmt, arg); }

/* `autodidact lesson NAME args...`: exec the lesson. Installed, the lessons
 * are in AD_LESSON_DIR_FROM_BIN relative to this program; in the build tree
 * they are beside it. Only the names in AD_LESSONS are run. */
static int run_lesson(int argc, char **argv)
{
    const char *names = AD_LESSONS;
    if (argc < 3) {
        printf("usage: autodidact lesson NAME [options]   (NAME --help for a lesson's options)\nlessons: %s\n", names);
        return 0;
    }
    const char *name = argv[2];
    size_t len = strlen(name);
    bool known = false;
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, " ");
        known = known || (n == len && !strncmp(p, name, n));
        p += n + (p[n] == ' ');
    }
    if (!known) {
        fprintf(stderr, "autodidact: no lesson '%s'; the lessons are: %s\n", name, names);
        return 2;
    }
    char self[4096], path[8192];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "autodidact: cannot find my own location (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(path, sizeof path, "%s/%s/%s", self, AD_LESSON_DIR_FROM_BIN, name);
    if (access(path, X_OK) != 0) snprintf(path, sizeof path, "%s/%s", self, name);
    argv[2] = path;
    execv(path, argv + 2);
    fprintf(stderr, "autodidact: cannot run the lesson %s: %s\n", path, strerror(errno));
    return 1;
}

static ad_node *build_fn(ad_context *ctx, ad_node *const *x, void *user) { return ad_expr_build(user, ctx, x); }

/* Nodes at a kink or tie (relu or abs at 0, max or min of equal inputs): the engine takes one
 * subgradient there and finite differences, which average the two one-sided slopes, see another.
 * Returns the variables (bit i = vars[i]) whose derivatives pass through such a node, and
 * describes the first in *why (memory of its own, for names of any length; NULL when there is no
 * kink; free it). */
static unsigned find_kinks(ad_context *ctx, const ad_node *f, ad_node *const *vars, int nv, char **why)
{
    uint32_t last = ad_node_id(f);
    unsigned *dep = calloc(last + 1, sizeof *dep), kinks = 0;
    *why = NULL;
    if (!dep) return 0;
    for (uint32_t id = 0; id <= last; id++) {
        ad_node *n = ad_node_by_id(ctx, id);
        for (int i = 0; i < nv; i++)
            if (n == vars[i]) dep[id] |= 1u << i;
        for (int s = 0, n_in = ad_node_input_count(n); s < n_in; s++) dep[id] |= dep[ad_node_id(ad_node_input(n, s))];
        const ad_op *op = ad_node_op(n);
        ad_math_fn fn = op ? op->math : AD_MATH_NONE;   /* which function the node is (ad_op.h) */
        const char *rule = NULL;
        if ((fn == AD_MATH_relu || fn == AD_MATH_abs) && ad_value_scalar(ad_node_input(n, 0)) == 0)
            rule = fn == AD_MATH_relu ? "relu′(0) = 0 (lecture 004's choice; lecture 000 takes 1)"
                                      : "abs′(0) = 0 (the subgradient in [−1, 1] closest to both sides)";
        else if ((fn == AD_MATH_max || fn == AD_MATH_min) &&
                 ad_value_scalar(ad_node_input(n, 0)) == ad_value_scalar(ad_node_input(n, 1)))
            rule = "at a tie the whole gradient goes to the first input";
        if (!rule) continue;
        if (!kinks) {
            static const char fmt[] = "%s = %s is at its kink: the engine takes a subgradient, %s; a centered "
                                      "difference averages the two one-sided slopes, so it sees their mean "
                                      "instead. Both are valid: the function has no derivative here";
            char *nm = ad_explain_name_alloc(n), *ex = ad_explain_expr_alloc(n);
            int k = nm && ex ? snprintf(NULL, 0, fmt, nm, ex, rule) : -1;
            if (k >= 0 && (*why = malloc((size_t)k + 1))) snprintf(*why, (size_t)k + 1, fmt, nm, ex, rule);
            free(nm);
            free(ex);
        }
        kinks |= dep[id];
    }
    free(dep);
    return kinks;
}

static ad_node *gc_fn(ad_context *ctx, ad_node *const *x, int n, void *user)
{
    (void)n;
    return ad_expr_build(user, ctx, x);
}

/* --symbolic: each ∂f/∂x_i as a simplified formula, from the graph, evaluated at the point beside the
 * engine's gradient. A mismatch (away from a kink, where both are subgradients) is a failed check. */
static ad_status print_symbolic(const ad_context *ctx, const ad_node *f, const char *const *names, const double *x,
                                const double *grad, int nv, cJSON *doc)
{
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = s ? ad_sym_from_graph(s, ctx, f) : NULL;
    if (!fs) {
        ad_sym_ctx_free(s);
        return ad_last_status();
    }
    /* the symbolic variables in the formula's order (a variable may not appear in the graph) */
    double xs[MAX_VARS];
    int ns = ad_sym_var_count(s);
    for (int j = 0; j < ns; j++) xs[j] = x[0];
    for (int i = 0; i < nv; i++) {
        int j = ad_sym_var_index(s, names[i]);
        if (j >= 0) xs[j] = x[i];
    }
    char *buf = malloc(SYM_TEXT_MAX + 1);
    ad_status st = AD_OK;
    if (!buf) st = ad_fail(AD_ERR_NOMEM, "out of memory for the formulas' text");
    else if (!formula_sym_text(s, fs, NULL, 1, buf, SYM_TEXT_MAX + 1)) st = ad_last_status();
    cJSON *sym = doc && st == AD_OK ? cJSON_AddObjectToObject(doc, "symbolic") : NULL;
    if (sym) cJSON_AddStringToObject(sym, "f", buf);
    if (!doc && st == AD_OK)
        printf("Symbolic derivatives, computed from the graph and simplified (step(u) = 1{u > 0}, sign(u),\n"
               "ge(a, b) = 1{a >= b}, le(a, b) = 1{a <= b} are the engine's subgradients at kinks):\n  f = %s\n", buf);
    for (int i = 0; st == AD_OK && i < nv; i++) {
        int j = ad_sym_var_index(s, names[i]);
        ad_sym *ds = j >= 0 ? ad_sym_diff(s, fs, j) : NULL;
        if (j >= 0 && !ds) {
            st = ad_last_status();
            break;
        }
        if (!ds) snprintf(buf, SYM_TEXT_MAX + 1, "0");
        else if (!formula_sym_text(s, ds, names[i], 1, buf, SYM_TEXT_MAX + 1)) {
            st = ad_last_status();
            break;
        }
        double v = ds ? ad_sym_eval(s, ds, xs, ns) : 0;
        bool ok = fabs(v - grad[i]) <= 1e-9 * fmax(1.0, fabs(grad[i]));   /* false for NaN */
        if (!doc)
            printf("  ∂f/∂%s = %s\n        = %.15g at the point; the engine's reverse mode: %.15g %s\n", names[i], buf, v,
                   grad[i], ok ? "(agree)" : "(DIFFER)");
        if (sym) {
            cJSON *o = cJSON_AddObjectToObject(sym, names[i]);
            cJSON_AddStringToObject(o, "formula", buf);
            cJSON_AddNumberToObject(o, "value", isfinite(v) ? v : 0);
            cJSON_AddBoolToObject(o, "agrees", ok);
            cJSON_AddNumberToObject(o, "tree_size", ds ? ad_sym_tree_size(ds) : 1);
            cJSON_AddNumberToObject(o, "dag_size", (double)(ds ? ad_sym_dag_size(s, ds) : 1));
        }
        if (!ok) st = ad_fail(AD_ERR_ARG, "the symbolic ∂f/∂%s is %g, the engine's %g", names[i], v, grad[i]);
    }
    free(buf);
    if (!doc) printf("\n");
    ad_sym_ctx_free(s);
    return st;
}

int main(int argc, char **argv)
{
    const char *formula = NULL, *dot = NULL, *html = NULL;
    char *at[16];
    int n_at = 0;
    bool json = false, check = false, show_fwd = true, show_rev = true, symbolic = false, hessian = false;
    ad_backward_variant variant = AD_BACKWARD_PUSH;
    long random_n = 0;
    unsigned long seed = 1;
    double box_lo = -0.5, box_hi = 0.5;
    if (argc >= 2 && !strcmp(argv[1], "lesson")) return run_lesson(argc, argv);
    ad_cli_start(&cli, argc, argv);
    const char *v;
    static const char *const modes[] = {"forward", "reverse", "both", NULL}, *const variants[] = {"A", "B", NULL};
    for (int k; (k = ad_cli_next(&cli, &v)) != AD_CLI_END;) {
        switch (k) {
        case AD_CLI_ARG:
            if (formula) bad_input("one formula only; '%s' is extra (quote the formula)", v);
            formula = v;
            break;
        case O_JSON: json = true; break;
        case O_CHECK: check = true; break;
        case O_SYMBOLIC: symbolic = true; break;
        case O_HESSIAN: hessian = true; break;
        case O_AT:
            if (n_at == 16) bad_input("%s", "--at given more than 16 times");
            at[n_at++] = (char *)v;
            break;
        case O_DOT: dot = v; break;
        case O_HTML: html = v; break;
        case O_MODE: {
            int m = ad_cli_choice(&cli, v, modes);
            show_fwd = m != 1;
            show_rev = m != 0;
            break;
        }
        case O_VARIANT: variant = ad_cli_choice(&cli, v, variants) == 0 ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH; break;
        case O_RANDOM: random_n = ad_cli_long(&cli, v, 0, 100000); break;
        case O_SEED: seed = (unsigned long)ad_cli_long(&cli, v, 0, 2147483647L); break;
        case O_BOX: {
            char extra;
            if (sscanf(v, "%lf:%lf%c", &box_lo, &box_hi, &extra) != 2 || !isfinite(box_lo) || !isfinite(box_hi) ||
                !(box_lo < box_hi))
                bad_input("--box needs LO:HI with LO < HI, not '%s'", v);
            break;
        }
        }
    }
    if (!formula) bad_input("%s", "no formula given");

    int col;
    ad_expr *e = ad_expr_parse(formula, &col);
    if (!e) {
        fprintf(stderr, "autodidact: %s\n  %s\n  %*s^\n", ad_last_error(), formula, col > 0 ? col - 1 : 0, "");
        return 2;
    }
    int nv = ad_expr_var_count(e);
    int status = 0;
    ad_context *ctx = NULL;
    cJSON *doc = NULL;
    if (nv > MAX_VARS) {
        fprintf(stderr, "autodidact: the formula has more than %d variables\n", MAX_VARS);
        status = 2;
        goto done;
    }
    double x[MAX_VARS];
    bool given[MAX_VARS] = {false};
    for (int k = 0; k < n_at; k++) {
        char *save, *item = strtok_r(at[k], ",", &save);
        for (; item; item = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(item, '=');
            if (!eq) {
                fprintf(stderr, "autodidact: --at takes NAME=VALUE pairs, not '%s'\n", item);
                status = 2;
                goto done;
            }
            *eq = '\0';
            int idx = ad_expr_var_index(e, item);
            if (idx < 0) {
                fprintf(stderr, "autodidact: unknown variable '%s': the formula's variables are", item);
                for (int i = 0; i < nv; i++) fprintf(stderr, " %s", ad_expr_var_name(e, i));
                fprintf(stderr, nv ? "\n" : " none\n");
                status = 2;
                goto done;
            }
            char *end;
            errno = 0;
            x[idx] = strtod(eq + 1, &end);
            if (end == eq + 1 || *end || errno || !isfinite(x[idx])) {
                fprintf(stderr, "autodidact: '%s' is not a finite number\n", eq + 1);
                status = 2;
                goto done;
            }
            given[idx] = true;
        }
    }
    if (symbolic) {
        /* A point is needed only to build the graph (its domain checks): try a few. */
        static const double candidates[] = {1, 2, 0.5, 3};
        for (size_t c = 0; c < sizeof candidates / sizeof *candidates; c++) {
            for (int i = 0; i < nv; i++)
                if (!given[i]) x[i] = candidates[c];
            ad_context *probe = ad_context_new();
            ad_node *pv[MAX_VARS];
            for (int i = 0; i < nv; i++) pv[i] = ad_scalar(probe, x[i]);
            bool ok = ad_expr_build(e, probe, pv) != NULL;
            ad_context_free(probe);
            if (ok) break;
        }
        for (int i = 0; i < nv; i++) given[i] = true;
        show_fwd = show_rev = false;
    }
    for (int i = 0; i < nv; i++)
        if (!given[i]) {
            fprintf(stderr, "autodidact: no value for %s: give it with --at %s=VALUE\n", ad_expr_var_name(e, i),
                    ad_expr_var_name(e, i));
            status = 2;
            goto done;
        }

    /* One pass builds the graph with every tangent column at once. */
    ctx = ad_context_new();
    ad_forward_dirs(ctx, nv > 0 ? nv : 0);
    ad_node *vars[MAX_VARS];
    const char *names[MAX_VARS];
    for (int i = 0; i < nv; i++) {
        names[i] = ad_expr_var_name(e, i);
        vars[i] = ad_set_name(ad_scalar(ctx, x[i]), names[i]);
        ad_set_tangent(vars[i], i, NULL, 0);
    }
    ad_set_check_finite(ctx, true);
    ad_node *f = ad_expr_build(e, ctx, vars);
    if (!f || !ad_requires_grad(f)) {
        if (f) fprintf(stderr, "autodidact: '%s' has no variables: nothing to differentiate\n", formula);
        else fprintf(stderr, "autodidact: %s%s\n", ad_last_error(),
                     symbolic && n_at == 0 ? " (--symbolic tried 1, 2, 0.5 and 3: give a point in the domain with --at)" : "");
        status = 2;
        goto done;
    }
    /* The tables go through the trace: printed unless --json, each row recorded for --html. */
    if (html) lesson_trace_enable();
    FILE *text = json ? NULL : stdout;
    ad_status st = AD_OK;
    if (!json) {
        printf("f = %s   at", formula);
        for (int i = 0; i < nv; i++) printf("%s %s = %g", i ? "," : "", names[i], x[i]);
        printf(symbolic ? "\n" : "\n\nNodes in topological order (a shared subexpression is one node):\n");
    }
    if (!symbolic && (text || html)) st = lesson_trace_nodes(text, ctx, f);
    if (show_fwd && st == AD_OK && (text || html)) {
        if (text) printf("\nForward mode: one tangent column per variable, all in one pass (k = %d):\n", nv);
        st = lesson_trace_forward(text, ctx, f, names);
    }
    if (st != AD_OK) {
        fprintf(stderr, "autodidact: %s\n", ad_last_error());
        status = 1;
        goto done;
    }
    if (show_rev && (text || html)) {
        if (text)
            printf("\nReverse mode, Version %s (%s):\n", variant == AD_BACKWARD_PULL ? "A" : "B",
                   variant == AD_BACKWARD_PULL ? "each adjoint the sum over its consumers" : "each node pushes increments");
        st = lesson_trace_reverse(text, ctx, f, variant);
    } else {
        ad_backward_opts o = {.variant = variant};
        st = ad_backward_ex(ctx, f, &o);
    }
    if (st != AD_OK) {
        fprintf(stderr, "autodidact: %s\n", ad_last_error());
        status = 2;
        goto done;
    }
    double grad[MAX_VARS];
    for (int i = 0; i < nv; i++) grad[i] = ad_grad_scalar(vars[i]);
    doc = json ? cJSON_CreateObject() : NULL;
    if (doc) {
        cJSON_AddStringToObject(doc, "formula", formula);
        cJSON *p = cJSON_AddObjectToObject(doc, "at");
        for (int i = 0; i < nv; i++) cJSON_AddNumberToObject(p, names[i], x[i]);
        cJSON_AddNumberToObject(doc, "f", ad_value_scalar(f));
        cJSON *g = cJSON_AddObjectToObject(doc, "gradient"), *fm = cJSON_AddObjectToObject(doc, "forward_mode");
        for (int i = 0; i < nv; i++) {
            cJSON_AddNumberToObject(g, names[i], grad[i]);
            cJSON_AddNumberToObject(fm, names[i], ad_tangent_at(f, i, 0));
        }
        cJSON *nodes = cJSON_AddArrayToObject(doc, "nodes");
        for (uint32_t id = 0, last = ad_node_id(f); id <= last; id++) {
            ad_node *n = ad_node_by_id(ctx, id);
            if (!ad_node_name(n)) continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", ad_node_name(n));
            lesson_json_text(o, "expr", ad_explain_expr_alloc(n));
            cJSON_AddNumberToObject(o, "value", ad_value_scalar(n));
            cJSON_AddNumberToObject(o, "grad", ad_grad_scalar(n));
            cJSON_AddItemToArray(nodes, o);
        }
    } else {
        printf("\nGradient:\n  f = %.15g\n", ad_value_scalar(f));
        for (int i = 0; i < nv; i++) printf("  ∂f/∂%s = %.15g\n", names[i], grad[i]);
        printf("\n");
    }
    if (symbolic && print_symbolic(ctx, f, names, x, grad, nv, json ? doc : NULL) != AD_OK) {
        fprintf(stderr, "autodidact: --symbolic: %s\n", ad_last_error());
        status = 1;
        goto done;
    }
    /* The finite-difference cross-check, through the lessons' helper. */
    lesson L = {.program = "autodidact", .n_in = nv, .json = json};
    for (int i = 0; i < nv; i++) L.in[i] = (lesson_input){names[i], x[i], -INFINITY, INFINITY, NULL, NULL};
    char *kink_why;
    L.kink_mask = find_kinks(ctx, f, vars, nv, &kink_why);
    L.kink_why = kink_why;
    lesson_fd_report(&L, build_fn, e, grad, "f", doc);
    free(kink_why);
    if (lesson_status()) status = 1;
    if (hessian && formula_hessian(e, names, x, nv, L.kink_mask, symbolic, doc) != AD_OK) {
        fprintf(stderr, "autodidact: %s\n", ad_last_error());
        status = 1;
    }

    if (check && nv > AD_MAX_INPUTS) {
        fprintf(stderr, "autodidact: --check handles formulas of up to %d variables\n", AD_MAX_INPUTS);
        status = 2;
        goto done;
    }
    if (check) {
        ad_gc_options o;
        ad_gc_default_options(&o);
        ad_gc_report r = {0};
        ad_tensor *t[MAX_VARS];
        for (int i = 0; i < nv; i++) t[i] = ad_tensor_from(AD_FLOAT64, 0, NULL, &x[i]);
        ad_gradcheck_fn("formula", "at the point", gc_fn, e, nv, (const ad_tensor *const *)t, 0, &o, &r);
        uint64_t s = seed * 6364136223846793005ULL + 1;
        int done = 0;
        for (int tries = 0; done < random_n && tries < 100 * (random_n + 1); tries++) {
            double y[MAX_VARS];
            for (int i = 0; i < nv; i++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                y[i] = x[i] + box_lo + (box_hi - box_lo) * (double)(s >> 11) / 9007199254740992.0;
            }
            /* skip points outside the formula's domain */
            ad_context *probe = ad_context_new();
            ad_node *pv[MAX_VARS];
            for (int i = 0; i < nv; i++) pv[i] = ad_scalar(probe, y[i]);
            bool ok = ad_expr_build(e, probe, pv) != NULL;
            ad_context_free(probe);
            if (!ok) continue;
            for (int i = 0; i < nv; i++) ad_tensor_set(t[i], 0, y[i]);
            char label[64];
            snprintf(label, sizeof label, "random point %d", ++done);
            o.seed = seed + (unsigned long)done;
            ad_gradcheck_fn("formula", label, gc_fn, e, nv, (const ad_tensor *const *)t, 0, &o, &r);
        }
        if (!json) {
            printf("\ngradcheck at the point%s:\n", random_n ? " and the random points" : "");
            ad_gc_write(stdout, &r, AD_GC_TEXT);
        } else {
            cJSON *c = cJSON_AddObjectToObject(doc, "check");
            cJSON_AddNumberToObject(c, "passed", r.n - r.n_fail);
            cJSON_AddNumberToObject(c, "failed", r.n_fail);
        }
        if (r.n_fail) status = 1;
        for (int i = 0; i < nv; i++) ad_tensor_free(t[i]);
        ad_gc_report_free(&r);
    }
    if (dot) {
        if (ad_dot_save(ctx, f, dot) != AD_OK) {
            fprintf(stderr, "autodidact: %s\n", ad_last_error());
            status = 1;
            goto done;
        }
        if (!json) printf("\nGraph written to %s (render: dot -Tsvg %s > graph.svg)\n", dot, dot);
    }
    if (html) {
        lesson_html_fill_steps(ctx, f, variant);
        char *title = lesson_strf("autodidact — f = %s", formula);
        st = lesson_html_write(html, title, ctx, f);
        free(title);
        if (st != AD_OK) {
            fprintf(stderr, "autodidact: %s\n", ad_last_error());
            status = 1;
            goto done;
        }
        if (!json) printf("\nPage written to %s (open it in a browser)\n", html);
    }
    if (doc) {
        lesson_print_json(doc);   /* frees it */
        doc = NULL;
    }
done:
    lesson_trace_clear();
    cJSON_Delete(doc);
    ad_context_free(ctx);
    ad_expr_free(e);
    return status;
}
