/* formula_hessian.c: the formula command's --hessian: second derivatives.
 *
 * The Hessian ∇²f holds ∂²f/∂x_i∂x_j. Its column j is H·e_j, the change
 * of the gradient as x_j moves, and one reverse sweep that carries
 * tangents (ad_hvp: forward-over-reverse) gives a whole column: so n
 * variables cost n sweeps, each a small constant times one gradient. Beside
 * it: the same columns from differences of the gradient, and with
 * --symbolic each ∂²f/∂x_i∂x_j as a formula (the symbolic derivative
 * differentiated again). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formula_hessian.h"
#include "lesson.h"

enum { MAX_VARS = LESSON_MAX_INPUTS, SYM_TEXT_MAX = 1 << 20 };

bool formula_sym_text(const ad_sym_ctx *s, const ad_sym *e, const char *var, int order, char *buf, size_t size)
{
    if (ad_sym_print(s, e, buf, size) < size) return true;
    char why[512];
    snprintf(why, sizeof why, "%s", ad_last_error());
    ad_fail(ad_last_status(), "%s%s: %s", var ? (order == 2 ? "∂²f/∂" : "∂f/∂") : "f", var ? var : "", why);
    return false;
}

/* Column j of ∇²f at x: H·e_j by ad_hvp, into col (nv). */
static ad_status hessian_column(const ad_expr *e, const double *x, int nv, int j, double *col)
{
    ad_context *ctx = ad_context_new();
    ad_status st = ad_forward_dirs(ctx, 1);
    ad_node *vars[MAX_VARS];
    void *out[MAX_VARS];
    for (int i = 0; i < nv && st == AD_OK; i++) {
        vars[i] = ad_scalar(ctx, x[i]);
        col[i] = 0;
        out[i] = &col[i];
        if (!vars[i]) st = ad_last_status();
    }
    if (st == AD_OK) st = ad_set_tangent(vars[j], 0, NULL, 0);   /* v = e_j */
    ad_node *f = st == AD_OK ? ad_expr_build(e, ctx, vars) : NULL;
    if (st == AD_OK && !f) st = ad_last_status();
    if (st == AD_OK) st = ad_hvp(ctx, f, NULL, 0, nv, vars, NULL, out);
    ad_context_free(ctx);
    return st;
}

/* ∇f at p by reverse mode, into g (nv). */
static ad_status gradient_at(const ad_expr *e, const double *p, int nv, double *g)
{
    ad_context *ctx = ad_context_new();
    ad_node *vars[MAX_VARS];
    ad_status st = AD_OK;
    for (int i = 0; i < nv && st == AD_OK; i++)
        if (!(vars[i] = ad_scalar(ctx, p[i]))) st = ad_last_status();
    ad_node *f = st == AD_OK ? ad_expr_build(e, ctx, vars) : NULL;
    if (st == AD_OK && !f) st = ad_last_status();
    if (st == AD_OK) st = ad_backward(ctx, f);
    for (int i = 0; i < nv && st == AD_OK; i++) g[i] = ad_grad_scalar(vars[i]);
    ad_context_free(ctx);
    return st;
}

/* Column j by differences of the gradient, 4 points (error O(h⁴)):
 * (8[∇f(x+h) - ∇f(x-h)] - [∇f(x+2h) - ∇f(x-2h)]) / 12h along e_j. */
static const double FD_OFFSET[4] = {1, -1, 2, -2}, FD_WEIGHT[4] = {8.0 / 12, -8.0 / 12, -1.0 / 12, 1.0 / 12};
static ad_status difference_column(const ad_expr *e, const double *x, int nv, int j, double *col)
{
    double p[MAX_VARS], g[MAX_VARS], h = 5e-4 * fmax(1.0, fabs(x[j]));
    memcpy(p, x, (size_t)nv * sizeof *p);
    for (int i = 0; i < nv; i++) col[i] = 0;
    for (int k = 0; k < 4; k++) {
        p[j] = x[j] + FD_OFFSET[k] * h;
        ad_status st = gradient_at(e, p, nv, g);
        if (st != AD_OK) return st;
        for (int i = 0; i < nv; i++) col[i] += FD_WEIGHT[k] * g[i] / h;
    }
    return AD_OK;
}

static void print_matrix(const char *title, const char *const *names, int nv, double (*m)[MAX_VARS])
{
    printf("%s\n%10s", title, "");
    for (int j = 0; j < nv; j++) printf(" %22s", names[j]);
    printf("\n");
    for (int i = 0; i < nv; i++) {
        printf("  %-8s", names[i]);
        for (int j = 0; j < nv; j++) printf(" %22.15g", m[i][j]);
        printf("\n");
    }
}

static cJSON *json_matrix(int nv, double (*m)[MAX_VARS])
{
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < nv; i++) {
        cJSON *r = cJSON_CreateArray();
        for (int j = 0; j < nv; j++) cJSON_AddItemToArray(r, cJSON_CreateNumber(isfinite(m[i][j]) ? m[i][j] : 0));
        cJSON_AddItemToArray(rows, r);
    }
    return rows;
}

/* --symbolic --hessian: ∂²f/∂x_i∂x_j (i <= j) as formulas, evaluated beside H. */
static ad_status print_symbolic(const ad_expr *e, const char *const *names, const double *x, int nv,
                                double (*H)[MAX_VARS], unsigned kinks, cJSON *doc)
{
    ad_context *ctx = ad_context_new();
    ad_node *vars[MAX_VARS];
    for (int i = 0; i < nv; i++) vars[i] = ad_set_name(ad_scalar(ctx, x[i]), names[i]);
    ad_node *f = ad_expr_build(e, ctx, vars);
    ad_sym_ctx *s = f ? ad_sym_ctx_new() : NULL;
    ad_sym *fs = s ? ad_sym_from_graph(s, ctx, f) : NULL;
    char *buf = fs ? malloc(SYM_TEXT_MAX + 1) : NULL;
    ad_status st = buf ? AD_OK : ad_last_status() != AD_OK ? ad_last_status() : ad_fail(AD_ERR_NOMEM, "out of memory");
    double xs[MAX_VARS];   /* the symbolic variables' values, in their own order */
    int ns = s ? ad_sym_var_count(s) : 0;
    for (int i = 0; i < ns; i++) xs[i] = x[0];
    for (int i = 0; i < nv && s; i++)
        if (ad_sym_var_index(s, names[i]) >= 0) xs[ad_sym_var_index(s, names[i])] = x[i];
    cJSON *sym = doc && st == AD_OK ? cJSON_AddObjectToObject(doc, "symbolic") : NULL;
    if (!doc && st == AD_OK) printf("\nSymbolic second derivatives (each first derivative differentiated again):\n");
    for (int i = 0; i < nv && st == AD_OK; i++) {
        int vi = ad_sym_var_index(s, names[i]);
        ad_sym *di = vi >= 0 ? ad_sym_diff(s, fs, vi) : NULL;
        for (int j = i; j < nv && st == AD_OK; j++) {
            int vj = ad_sym_var_index(s, names[j]);
            ad_sym *dij = di && vj >= 0 ? ad_sym_diff(s, di, vj) : NULL;
            char var[160];
            snprintf(var, sizeof var, "%s∂%s", names[i], names[j]);
            if (di && vj >= 0 && !dij) st = ad_last_status();
            else if (!dij) snprintf(buf, SYM_TEXT_MAX + 1, "0");
            else if (!formula_sym_text(s, dij, var, 2, buf, SYM_TEXT_MAX + 1)) st = ad_last_status();
            if (st != AD_OK) break;
            double v = dij ? ad_sym_eval(s, dij, xs, ns) : 0;
            bool judged = !(kinks & (1u << i)) && !(kinks & (1u << j));
            bool ok = fabs(v - H[i][j]) <= 1e-9 * fmax(1.0, fabs(H[i][j]));   /* false for NaN */
            if (!doc)
                printf("  ∂²f/∂%s = %s\n        = %.15g at the point; ad_hvp: %.15g %s\n", var, buf, v, H[i][j],
                       !judged ? "(at a kink: not judged)" : ok ? "(agree)" : "(DIFFER)");
            if (sym) {
                cJSON *o = cJSON_AddObjectToObject(sym, var);
                cJSON_AddStringToObject(o, "formula", buf);
                cJSON_AddNumberToObject(o, "value", isfinite(v) ? v : 0);
                cJSON_AddBoolToObject(o, "agrees", ok);
            }
            if (judged && !ok) st = ad_fail(AD_ERR_ARG, "the symbolic ∂²f/∂%s is %g, ad_hvp's %g", var, v, H[i][j]);
        }
    }
    free(buf);
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
    return st;
}

ad_status formula_hessian(const ad_expr *e, const char *const *names, const double *x, int nv, unsigned kinks,
                          bool symbolic, cJSON *doc)
{
    double H[MAX_VARS][MAX_VARS] = {{0}}, D[MAX_VARS][MAX_VARS] = {{0}}, col[MAX_VARS];
    ad_status st = AD_OK;
    cJSON *h = doc ? cJSON_AddObjectToObject(doc, "hessian") : NULL;   /* (its "symbolic" too) */
    for (int j = 0; j < nv && st == AD_OK; j++) {
        if ((st = hessian_column(e, x, nv, j, col)) != AD_OK) break;
        for (int i = 0; i < nv; i++) H[i][j] = col[i];
        if ((st = difference_column(e, x, nv, j, col)) != AD_OK) break;
        for (int i = 0; i < nv; i++) D[i][j] = col[i];
    }
    if (st != AD_OK) return st;
    /* How far apart: H against the differences (where no kink is on the way), H against Hᵀ. */
    double worst = 0, asym = 0, largest = 1;
    int wi = 0, wj = 0;
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nv; j++) {
            double d = fabs(H[i][j] - D[i][j]) / fmax(1.0, fabs(D[i][j]));
            if (!(kinks & (1u << i)) && !(kinks & (1u << j)) && !(d <= worst)) worst = d, wi = i, wj = j;
            double a = fabs(H[i][j] - H[j][i]);
            if (!(a <= asym)) asym = a;
            if (!(fabs(H[i][j]) <= largest)) largest = fabs(H[i][j]);
        }
    bool agree = worst <= 1e-6, symmetric = asym <= 1e-12 * largest;   /* false for NaN */
    if (h) {
        cJSON_AddItemToObject(h, "matrix", json_matrix(nv, H));
        cJSON_AddItemToObject(h, "finite_differences", json_matrix(nv, D));
        cJSON_AddNumberToObject(h, "largest_relative_difference", isfinite(worst) ? worst : 1e308);
        cJSON_AddNumberToObject(h, "largest_asymmetry", isfinite(asym) ? asym : 1e308);
        cJSON_AddBoolToObject(h, "agrees", agree && symmetric);
    } else {
        print_matrix("\nHessian ∇²f: column j is one Hessian-vector product H·e_j, a reverse sweep carrying\n"
                     "tangents (forward-over-reverse, ad_hvp):", names, nv, H);
        print_matrix("\nThe same by differences of the gradient, (8[∇f(x+h) − ∇f(x−h)] − [∇f(x+2h) − ∇f(x−2h)]) / 12h\n"
                     "along e_j, h = 0.0005·max(1, |x_j|):", names, nv, D);
        printf("\n  largest |H − differences| / max(1, |differences|) = %.3g %s\n"
               "  largest |H − Hᵀ| = %.3g %s (∂²f/∂x∂y = ∂²f/∂y∂x: Schwarz)\n",
               worst, agree ? "(agree)" : "(DIFFER)", asym, symmetric ? "(symmetric)" : "(NOT SYMMETRIC)");
        if (kinks) printf("  (entries through a kink are shown, not judged: there f has no second derivative)\n");
    }
    if (!agree) st = ad_fail(AD_ERR_ARG, "--hessian: ∂²f/∂%s∂%s is %g by ad_hvp, %g by differences of the gradient",
                             names[wi], names[wj], H[wi][wj], D[wi][wj]);
    else if (!symmetric) st = ad_fail(AD_ERR_ARG, "--hessian: the Hessian is not symmetric (largest |H − Hᵀ| = %g)", asym);
    if (symbolic) {
        ad_status s2 = print_symbolic(e, names, x, nv, H, kinks, h);
        if (st == AD_OK) st = s2;
    }
    return st;
}
