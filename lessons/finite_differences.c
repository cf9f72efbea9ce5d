/* finite_differences: forward vs centered differences [lecture 004,
 * ../shared/lectures/004_*]: the error of (J(x+ε) − J(x))/ε and of
 * (J(x+ε) − J(x−ε))/2ε against the true derivative as ε sweeps from 1e-1 to
 * 1e-13, in double and in float, for lesson 2's J = cos(sin(x²) + 3x²).
 * Truncation error falls with ε (as ε for forward, ε² for centered) until
 * rounding error, about (machine epsilon)/ε, takes over. The true
 * derivative is the engine's reverse mode in double. Each difference is
 * divided by the step actually taken: x ± ε rounds (to float64, or to
 * float32 in float), and dividing by the ε asked for instead adds an error
 * of its own that the sweep would blame on the formula. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "lesson.h"

static double J_at(double x, ad_dtype dt)
{
    ad_context *ctx = ad_context_new();
    if (!ctx) return NAN;
    ad_set_check_finite(ctx, true);   /* an overflow is a failure (NaN here), not a number */
    ad_node *xn = ad_constant(ctx, dt, 0, NULL, &x);
    ad_node *t = ad_pow(ctx, xn, 2);
    ad_node *J = ad_cos(ctx, ad_add(ctx, ad_sin(ctx, t), ad_scale(ctx, t, 3)));
    double v = J ? ad_value_scalar(J) : NAN;
    ad_context_free(ctx);
    return v;
}

int main(int argc, char **argv)
{
    lesson L = {.program = "finite_differences",
                .source = "004_586b0e2da8ef059d.txt: \"Other approaches to differentiation\" (the centered finite difference approximation)",
                .code = "engine/core/backward.c (the exact derivative the quotients are measured against), gradcheck/gc_jacobian.c (the engine's own finite-difference checker)",
                .title = "forward vs centered differences as ε shrinks, in double and float [lecture 004]",
                .in = {{"x", 2, -INFINITY, INFINITY, NULL}},
                .n_in = 1,
                .has_dot = true};
    lesson_parse(&L, argc, argv);
    double x0 = L.in[0].value;
    ad_context *ctx = lesson_context(&L);
    ad_node *x = ad_set_name(ad_scalar(ctx, x0), "x");
    ad_node *t = ad_pow(ctx, x, 2);
    ad_node *J = ad_cos(ctx, ad_add(ctx, ad_sin(ctx, t), ad_scale(ctx, t, 3)));
    lesson_backward(&L, ctx, J, NULL);
    double exact = ad_grad_scalar(x);
    if (!isfinite(exact)) lesson_fail(&L, "the engine's dJ/dx at x = %g is not finite", x0);
    double best_err[4] = {INFINITY, INFINITY, INFINITY, INFINITY}, best_eps[4] = {0};
    double err[13][4];
    for (int k = 1; k <= 13; k++) {
        double eps = pow(10.0, -k);
        for (int d = 0; d < 2; d++) {
            ad_dtype dt = d ? AD_FLOAT32 : AD_FLOAT64;
            /* the step as the dtype sees it: x + ε rounded to float in float */
            double xp = d ? (double)(float)(x0 + eps) : x0 + eps, xm = d ? (double)(float)(x0 - eps) : x0 - eps;
            double x0d = d ? (double)(float)x0 : x0;
            double fwd = (J_at(xp, dt) - J_at(x0d, dt)) / (xp - x0d), ctr = (J_at(xp, dt) - J_at(xm, dt)) / (xp - xm);
            /* float: below about ε·|x| < 2^-24|x|, x ± ε rounds back to x: no step at all */
            if (!(xp > x0d)) fwd = ctr = NAN;
            err[k - 1][2 * d] = fabs(fwd - exact);
            err[k - 1][2 * d + 1] = fabs(ctr - exact);
            for (int c = 0; c < 2; c++)
                if (err[k - 1][2 * d + c] < best_err[2 * d + c]) {   /* a NaN (no step) is never the best */
                    best_err[2 * d + c] = err[k - 1][2 * d + c];
                    best_eps[2 * d + c] = eps;
                }
        }
    }
    if (!L.json) {
        printf("finite_differences — J = cos(sin(x²) + 3x²) at x = %g; the true dJ/dx = %.15g (reverse mode)\n\n", x0, exact);
        printf("The error |quotient − dJ/dx| at each step ε: forward (J(x + ε) − J(x))/ε and centered\n"
               "(J(x + ε) − J(x − ε))/2ε, each divided by the step x ± ε actually took in its precision:\n");
        printf("  ");
        ad_explain_pad(stdout, "ε", -7);   /* by display columns: ε is 2 bytes */
        printf("  %-12s %-12s   %-12s %-12s\n", "double fwd", "double ctr", "float fwd", "float ctr");
        for (int k = 1; k <= 13; k++) {
            printf("  1e-%-4d ", k);
            for (int c = 0; c < 4; c++)
                if (isnan(err[k - 1][c])) printf(" %-12s%s", "(no step)", c == 1 ? "  " : "");
                else printf(" %-12.2e%s", err[k - 1][c], c == 1 ? "  " : "");
            printf("\n");
        }
        printf("  (no step: x ± ε rounds back to x in float, so there is no difference to take)\n");
        printf("\nBest ε: double forward 1e%.0f (error %.1e), double centered 1e%.0f (%.1e),\n"
               "        float forward 1e%.0f (%.1e), float centered 1e%.0f (%.1e).\n",
               log10(best_eps[0]), best_err[0], log10(best_eps[1]), best_err[1], log10(best_eps[2]), best_err[2],
               log10(best_eps[3]), best_err[3]);
        printf("Theory: the forward difference's best ε is about √(machine ε) (%.0e in double, %.0e in float),\n"
               "the centered one's about ∛(machine ε) (%.0e, %.0e): centered differences are both more accurate\n"
               "and tolerate a larger step, which is why gradcheck uses them with ε = 1e-6 in double.\n",
               sqrt(DBL_EPSILON), sqrt(FLT_EPSILON), cbrt(DBL_EPSILON), cbrt(FLT_EPSILON));
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "finite_differences");
        cJSON_AddNumberToObject(doc, "exact", exact);
        const char *names[4] = {"double_forward", "double_centered", "float_forward", "float_centered"};
        cJSON_AddNumberToObject(doc, "x", x0);
        cJSON *b = cJSON_AddObjectToObject(doc, "best_eps"), *e = cJSON_AddObjectToObject(doc, "best_error");
        for (int c = 0; c < 4; c++) {
            cJSON_AddNumberToObject(b, names[c], best_eps[c]);
            cJSON_AddNumberToObject(e, names[c], best_err[c]);
        }
        /* the table: one row per ε, null where x ± ε rounds back to x (no step) */
        cJSON *tab = cJSON_AddArrayToObject(doc, "errors");
        for (int k = 1; k <= 13; k++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddNumberToObject(row, "eps", pow(10.0, -k));
            for (int c = 0; c < 4; c++)
                if (isnan(err[k - 1][c])) cJSON_AddNullToObject(row, names[c]);
                else cJSON_AddNumberToObject(row, names[c], err[k - 1][c]);
            cJSON_AddItemToArray(tab, row);
        }
        lesson_print_json(doc);
    }
    for (int c = 0; c < 4; c++)
        if (!(best_err[c] < INFINITY)) lesson_fail(&L, "no ε gave a finite difference (column %d)", c);
    lesson_write_dot(&L, ctx, J);
    lesson_write_html(&L, ctx, J);
    ad_context_free(ctx);
    return lesson_status();
}
