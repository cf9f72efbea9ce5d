/* finite_differences: forward vs centered differences [lecture 004,
 * ../shared/lectures/004_*]: the error of (J(x+ε) − J(x))/ε and of
 * (J(x+ε) − J(x−ε))/2ε against the true derivative as ε sweeps from 1e-1 to
 * 1e-13, in double and in float, for lesson 2's J = cos(sin(x²) + 3x²).
 * Truncation error falls with ε (as ε for forward, ε² for centered) until
 * rounding error, about (machine epsilon)/ε, takes over. The true
 * derivative is the engine's reverse mode in double. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "lesson.h"

static double J_at(double x, ad_dtype dt)
{
    ad_context *ctx = ad_context_new();
    ad_node *xn = ad_constant(ctx, dt, 0, NULL, &x);
    ad_node *t = ad_pow(ctx, xn, 2);
    ad_node *J = ad_cos(ctx, ad_add(ctx, ad_sin(ctx, t), ad_scale(ctx, t, 3)));
    double v = ad_value_scalar(J);
    ad_context_free(ctx);
    return v;
}

int main(int argc, char **argv)
{
    lesson L = {.program = "finite_differences",
                .title = "forward vs centered differences as ε shrinks, in double and float [lecture 004]",
                .in = {{"x", 2, -INFINITY, INFINITY, NULL}},
                .n_in = 1};
    lesson_parse(&L, argc, argv);
    double x0 = L.in[0].value;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, x0);
    ad_node *t = ad_pow(ctx, x, 2);
    ad_node *J = ad_cos(ctx, ad_add(ctx, ad_sin(ctx, t), ad_scale(ctx, t, 3)));
    ad_backward(ctx, J);
    double exact = ad_grad_scalar(x);
    double best_err[4] = {INFINITY, INFINITY, INFINITY, INFINITY}, best_eps[4] = {0};
    double err[13][4];
    for (int k = 1; k <= 13; k++) {
        double eps = pow(10.0, -k);
        for (int d = 0; d < 2; d++) {
            ad_dtype dt = d ? AD_FLOAT32 : AD_FLOAT64;
            /* the step as the dtype sees it: x + ε rounded to float in float */
            double xp = d ? (double)(float)(x0 + eps) : x0 + eps, xm = d ? (double)(float)(x0 - eps) : x0 - eps;
            double x0d = d ? (double)(float)x0 : x0;
            double fwd = (J_at(xp, dt) - J_at(x0d, dt)) / eps, ctr = (J_at(xp, dt) - J_at(xm, dt)) / (2 * eps);
            err[k - 1][2 * d] = fabs(fwd - exact);
            err[k - 1][2 * d + 1] = fabs(ctr - exact);
            for (int c = 0; c < 2; c++)
                if (err[k - 1][2 * d + c] < best_err[2 * d + c]) {
                    best_err[2 * d + c] = err[k - 1][2 * d + c];
                    best_eps[2 * d + c] = eps;
                }
        }
    }
    if (!L.json) {
        printf("finite_differences — J = cos(sin(x²) + 3x²) at x = %g; the true dJ/dx = %.15g (reverse mode)\n\n", x0, exact);
        printf("  ");
        ad_explain_pad(stdout, "ε", -7);   /* by display columns: ε is 2 bytes */
        printf("  %-12s %-12s   %-12s %-12s\n", "double fwd", "double ctr", "float fwd", "float ctr");
        for (int k = 1; k <= 13; k++)
            printf("  1e-%-4d  %-12.2e %-12.2e   %-12.2e %-12.2e\n", k, err[k - 1][0], err[k - 1][1], err[k - 1][2],
                   err[k - 1][3]);
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
        cJSON *b = cJSON_AddObjectToObject(doc, "best_eps"), *e = cJSON_AddObjectToObject(doc, "best_error");
        for (int c = 0; c < 4; c++) {
            cJSON_AddNumberToObject(b, names[c], best_eps[c]);
            cJSON_AddNumberToObject(e, names[c], best_err[c]);
        }
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, J);
    ad_context_free(ctx);
    return 0;
}
