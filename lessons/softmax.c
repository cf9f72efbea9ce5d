/* softmax: lecture 001's softmax examples (../shared/lectures/001_*):
 * μ([1,2,3]), μ([999,0,−2]) and μ([−2,−2,−99]), the naive formula's
 * overflow against the stable one; the softmax Jacobian y_i(δ_ij − y_j)
 * [004] read off the engine's backward passes; cross-entropy with class
 * weights, ignore_index and mean reduction [001]. */
#include <math.h>
#include <stdio.h>
#include "ad_gradcheck.h"
#include "lesson.h"

static ad_node *sm_fn(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    return ad_softmax(ctx, in[0], 0);
}

int main(int argc, char **argv)
{
    lesson L = {.program = "softmax",
                .source = "001_5b955eed8dfe07dd.txt: \"Softmax Regression\", \"Supervised Learning Model for Softmax Regression\"; 004_586b0e2da8ef059d.txt: \"Softmax Layer\"",
                .code = "engine/core/backward.c (the sweep), ops/softmax.c (softmax and log-softmax), ops/loss.c (cross-entropy)", .title = "softmax, its Jacobian, and cross-entropy [lectures 001, 004]",
                .has_dot = true};
    lesson_parse(&L, argc, argv);
    ad_context *ctx = lesson_context(&L);
    int64_t s3[] = {3};
    const double ex[3][3] = {{1, 2, 3}, {999, 0, -2}, {-2, -2, -99}};
    ad_node *mu[3];
    for (int k = 0; k < 3; k++)
        if (!(mu[k] = ad_softmax(ctx, ad_variable(ctx, AD_FLOAT64, 1, s3, ex[k]), 0))) lesson_die(&L, "softmax");
    /* the Jacobian of μ at [1,2,3]: row i is the grad after a backward with cotangent e_i */
    ad_node *x = ad_node_input(mu[0], 0);
    double J[3][3], formula[3][3], worst = 0;
    for (int i = 0; i < 3; i++) {
        if (lesson_backward_unit(ctx, mu[0], i) != AD_OK) lesson_die(&L, "backward");
        for (int j = 0; j < 3; j++) {
            J[i][j] = ad_grad_at(x, j);
            double yi = ad_value_at(mu[0], i), yj = ad_value_at(mu[0], j);
            formula[i][j] = yi * ((i == j) - yj);
            double d = fabs(J[i][j] - formula[i][j]);
            if (!(d <= worst)) worst = d;   /* NaN-propagating maximum */
        }
    }
    /* cross-entropy: 4 samples, 3 classes, weights (1, 2, 0.5), the last target ignored */
    int64_t s43[] = {4, 3}, s4[] = {4};
    double logits[12] = {2, 1, 0.1, 0.5, 2.5, 0.3, 1, 1, 1, 0, 0, 3};
    double targets[4] = {0, 1, 2, -100};
    ad_node *lg = ad_variable(ctx, AD_FLOAT64, 2, s43, logits), *tg = ad_constant(ctx, AD_FLOAT64, 1, s4, targets);
    ad_node *w = ad_constant(ctx, AD_FLOAT64, 1, s3, (double[]){1, 2, 0.5});
    ad_node *ce = ad_cross_entropy(ctx, lg, tg, w, AD_REDUCE_MEAN, -100);
    if (!ce) lesson_die(&L, "cross_entropy");
    /* by hand: Σ w_t·(logsumexp − x_t) / Σ w_t over the three kept samples */
    double num = 0, den = 0;
    for (int n = 0; n < 3; n++) {
        double lse = log(exp(logits[3 * n]) + exp(logits[3 * n + 1]) + exp(logits[3 * n + 2]));
        double wt = n == 0 ? 1 : n == 1 ? 2 : 0.5;
        num += wt * (lse - logits[3 * n + (int)targets[n]]);
        den += wt;
    }
    /* Lecture 001's softmax regression: f_{W,b}(x) = μ(Wx + b), W ∈ R^{k×n},
     * compared with the one-hot vector 𝒫(y) in D_KL(𝒫(y) || f(x)). The slide
     * puts 𝒫(y) in R^n; it must have f's length. Here n = 4 features, k = 3
     * classes, and the engine computes f's length. */
    int64_t s34[] = {3, 4}, s14[] = {1, 4};
    double Wv[12] = {0.1, -0.2, 0.3, 0.0, 0.5, 0.1, -0.1, 0.2, -0.3, 0.4, 0.2, -0.5}, xv4[4] = {1, 2, -1, 0.5};
    ad_node *fW = ad_softmax(ctx, ad_linear(ctx, ad_constant(ctx, AD_FLOAT64, 2, s14, xv4),
                                          ad_constant(ctx, AD_FLOAT64, 2, s34, Wv),
                                          ad_constant(ctx, AD_FLOAT64, 1, s3, (double[]){0.1, 0, -0.1})), 1);
    if (!fW) lesson_die(&L, "softmax regression");
    double onehot_slide = 4, onehot_right = 3, f_len = (double)ad_value(fW).size;
    ad_gc_options go;
    ad_gc_default_options(&go);
    ad_gc_report rep = {0};
    ad_tensor xv = ad_value(x);
    const ad_tensor *ins[1] = {&xv};
    ad_gradcheck_fn("softmax", "at [1,2,3]", sm_fn, NULL, 1, ins, 0, &go, &rep);
    if (!L.json) {
        printf("softmax — μ(x)_i = exp(x_i) / Σ_j exp(x_j), computed stably (x − max x first)\n\n");
        for (int k = 0; k < 3; k++) {
            double naive[3], sum = 0;
            for (int j = 0; j < 3; j++) sum += exp(ex[k][j]);
            char nv[3][48];   /* an entry the naive formula leaves undefined is said so, never printed as a NaN */
            for (int j = 0; j < 3; j++) {
                naive[j] = exp(ex[k][j]) / sum;
                if (isfinite(naive[j])) snprintf(nv[j], sizeof nv[j], "%g", naive[j]);
                else snprintf(nv[j], sizeof nv[j], "undefined: exp(%g)/Σ = inf/inf", ex[k][j]);
            }
            printf("  μ([%g, %g, %g]) = (%.4f, %.4f, %.4f)   naive formula: (%s, %s, %s)\n", ex[k][0], ex[k][1], ex[k][2],
                   ad_value_at(mu[k], 0), ad_value_at(mu[k], 1), ad_value_at(mu[k], 2), nv[0], nv[1], nv[2]);
        }
        printf("  exp(999) overflows to inf, and inf/inf has no value; subtracting the max first keeps every exp <= 1.\n\n");
        printf("The Jacobian ∂μ_i/∂x_j at [1,2,3], row i from a backward pass with cotangent e_i, beside\n"
               "the formula y_i(δ_ij − y_j) [004]:\n"
               "  backward passes, row i                 the formula\n");
        for (int i = 0; i < 3; i++)
            printf("  %9.6f %9.6f %9.6f    %9.6f %9.6f %9.6f\n", J[i][0], J[i][1], J[i][2], formula[i][0], formula[i][1],
                   formula[i][2]);
        printf("  largest difference %.1e\n\n", worst);
        printf("Cross-entropy, 4 samples, class weights (1, 2, 0.5), ignore_index −100 (the 4th sample), mean:\n"
               "  engine %.15g   by hand Σ w_t(log Σ exp − x_t) / Σ w_t = %.15g\n\n", ad_value_scalar(ce), num / den);
        printf("gradcheck of softmax at [1,2,3]:\n");
        ad_gc_write(stdout, &rep, AD_GC_TEXT);
        printf("\nWhere the lecture differs (by computation, the length of the one-hot vector 𝒫(y)):\n");
        lesson_slip(&L, NULL, "001-onehot", "001, Supervised Learning Model for Softmax Regression",
                    "𝒫(y) ∈ ℝⁿ (n features); it is compared with f_{W,b}(x) = μ(Wx + b) ∈ ℝᵏ (k classes)",
                    &onehot_slide, &onehot_right, &f_len, 1, "len(μ(Wx+b)) from the engine (n = 4, k = 3)");
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "softmax");
        for (int k = 0; k < 3; k++) {
            char key[8];
            snprintf(key, sizeof key, "mu%d", k + 1);
            cJSON *a = cJSON_AddArrayToObject(doc, key);
            for (int j = 0; j < 3; j++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ad_value_at(mu[k], j)));
        }
        cJSON_AddNumberToObject(doc, "jacobian_max_diff", worst);
        cJSON_AddNumberToObject(doc, "cross_entropy", ad_value_scalar(ce));
        cJSON_AddNumberToObject(doc, "cross_entropy_by_hand", num / den);
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        cJSON *jac = cJSON_AddArrayToObject(doc, "jacobian"), *jf = cJSON_AddArrayToObject(doc, "jacobian_formula");
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                cJSON_AddItemToArray(jac, cJSON_CreateNumber(J[i][j]));
                cJSON_AddItemToArray(jf, cJSON_CreateNumber(formula[i][j]));
            }
        lesson_slip(&L, doc, "001-onehot", "001, Supervised Learning Model for Softmax Regression",
                    "𝒫(y) ∈ ℝⁿ (n features); it is compared with f_{W,b}(x) = μ(Wx + b) ∈ ℝᵏ (k classes)",
                    &onehot_slide, &onehot_right, &f_len, 1, "len(μ(Wx+b)) from the engine (n = 4, k = 3)");
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, ce);
    lesson_write_html(&L, ctx, ce);
    if (rep.n_fail) lesson_fail(&L, "gradcheck of softmax failed");
    if (!(worst <= 1e-12)) lesson_fail(&L, "the softmax Jacobian differs from y_i(δ_ij − y_j) by %g", worst);
    if (!lesson_check_close(&L, "cross-entropy", ad_value_scalar(ce), num / den, 1e-12)) {}
    int status = lesson_status();
    ad_gc_report_free(&rep);
    ad_context_free(ctx);
    return status;
}
