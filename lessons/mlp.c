/* mlp: lecture 004's Case 2 (one hidden sigmoid layer) and Quiz #2 (two
 * hidden layers), and the matrix forms of lectures 000 and 001:
 * ∂y_ℓ/∂b_ℓ = diag σ′(·) and ∂y_ℓ/∂y_{ℓ−1} = diag σ′(·) W_ℓ, for ReLU,
 * sigmoid and tanh. Every derivative is the engine's backward pass, set
 * beside the closed form the lecture derives. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ad_gradcheck.h"
#include "lesson.h"


static ad_node *var(ad_context *ctx, int64_t r, int64_t c, gsl_rng *rng)
{
    int64_t s[2] = {r, c};
    ad_node *n = ad_variable(ctx, AD_FLOAT64, r ? 2 : 1, r ? s : s + 1, NULL);
    for (int64_t i = 0; i < n->value.size; i++) ((double *)n->value.data)[i] = gsl_ran_gaussian(rng, 1.0);
    return n;
}

/* Case 2's J as a function of (α, β), for gradcheck; user holds x and y*. */
static ad_node *case2(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    const double *u = user;   /* x₀, x₁, x₂, y* */
    int64_t sx[] = {1, 3};
    ad_node *x = ad_constant(ctx, AD_FLOAT64, 2, sx, u);
    ad_node *y = ad_sigmoid(ctx, ad_linear(ctx, ad_sigmoid(ctx, ad_linear(ctx, x, in[0], NULL)), in[1], NULL));
    ad_node *one = ad_scalar_const(ctx, 1), *ys = ad_scalar_const(ctx, u[3]);
    return ad_sum(ctx, ad_add(ctx, ad_mul(ctx, ys, ad_log(ctx, y)), ad_mul(ctx, ad_sub(ctx, one, ys), ad_log(ctx, ad_sub(ctx, one, y)))), AD_ALL_AXES, false);
}

static double worst_diff(double w, double a, double b) { return fmax(w, fabs(a - b)); }

int main(int argc, char **argv)
{
    lesson L = {.program = "mlp", .title = "MLP backprop: Case 2, Quiz #2 and the layer Jacobians [lectures 004, 000, 001]",
                .in = {{"ystar", 0, -0.5, 1.5, "the label y*, 0 or 1"}}, .n_in = 1};
    lesson_parse(&L, argc, argv);
    double ystar = L.in[0].value;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    ad_context *ctx = ad_context_new();
    /* ---- Case 2: x (1,3) with x₀ = 1, α (4,3), β (1,4) ---- */
    int64_t sx[] = {1, 3};
    double xv[3] = {1, 0.5, -1.5};
    ad_node *x = ad_constant(ctx, AD_FLOAT64, 2, sx, xv), *alpha = var(ctx, 4, 3, rng), *beta = var(ctx, 1, 4, rng);
    ad_node *z = ad_sigmoid(ctx, ad_linear(ctx, x, alpha, NULL));    /* z_j = σ(a_j), a = α x */
    ad_node *y = ad_sigmoid(ctx, ad_linear(ctx, z, beta, NULL));     /* y = σ(b), b = β·z */
    ad_node *one = ad_scalar_const(ctx, 1), *ys = ad_scalar_const(ctx, ystar);
    ad_node *J = ad_sum(ctx, ad_add(ctx, ad_mul(ctx, ys, ad_log(ctx, y)), ad_mul(ctx, ad_sub(ctx, one, ys), ad_log(ctx, ad_sub(ctx, one, y)))), AD_ALL_AXES, false);
    ad_backward(ctx, J);
    double yv = ad_value_at(y, 0), dJdb = ystar - yv, w_case2 = 0;   /* dJ/dy · dy/db = (y* − y) */
    for (int j = 0; j < 4; j++) {
        double zj = ad_value_at(z, j);
        w_case2 = worst_diff(w_case2, ad_grad_at(beta, j), dJdb * zj);   /* dJ/dβ_j = dJ/db · z_j */
        for (int i = 0; i < 3; i++)   /* dJ/dα_ji = dJ/db · β_j · z_j(1 − z_j) · x_i */
            w_case2 = worst_diff(w_case2, ad_grad_at(alpha, j * 3 + i), dJdb * ad_value_at(beta, j) * zj * (1 - zj) * xv[i]);
    }
    double user[4] = {xv[0], xv[1], xv[2], ystar};
    ad_gc_options go;
    ad_gc_default_options(&go);
    ad_gc_report rep = {0};
    ad_tensor at = ad_value(alpha), bt = ad_value(beta);
    const ad_tensor *gin[2] = {&at, &bt};
    ad_gradcheck_fn("case2", "J(α, β)", case2, user, 2, gin, 0, &go, &rep);
    double engine_dJdy = ystar / yv - (1 - ystar) / (1 - yv), slide_dJdy = ystar / yv + (1 - ystar) / (1 - yv);
    /* ---- Quiz #2: y = σ(βᵀ σ(α2 σ(α1 x))), x (1,3), α1 (4,3), α2 (3,4), β (1,3) ---- */
    ad_node *a1 = var(ctx, 4, 3, rng), *a2 = var(ctx, 3, 4, rng), *b2 = var(ctx, 1, 3, rng);
    ad_node *z1 = ad_sigmoid(ctx, ad_linear(ctx, x, a1, NULL)), *z2 = ad_sigmoid(ctx, ad_linear(ctx, z1, a2, NULL));
    ad_node *yq = ad_sigmoid(ctx, ad_linear(ctx, z2, b2, NULL));
    ad_backward(ctx, ad_sum(ctx, yq, AD_ALL_AXES, false));
    double yqv = ad_value_at(yq, 0), s = yqv * (1 - yqv), w_quiz = 0;
    for (int j = 0; j < 3; j++) {
        double z2j = ad_value_at(z2, j), d2 = s * ad_value_at(b2, j) * z2j * (1 - z2j);   /* ∂y/∂(α2 z1)_j */
        w_quiz = worst_diff(w_quiz, ad_grad_at(b2, j), s * z2j);                        /* ∂y/∂β_j = y(1−y) z2_j */
        for (int k = 0; k < 4; k++) w_quiz = worst_diff(w_quiz, ad_grad_at(a2, j * 4 + k), d2 * ad_value_at(z1, k));
    }
    for (int k = 0; k < 4; k++) {
        double z1k = ad_value_at(z1, k), d1 = 0;
        for (int j = 0; j < 3; j++) {
            double z2j = ad_value_at(z2, j);
            d1 += s * ad_value_at(b2, j) * z2j * (1 - z2j) * ad_value_at(a2, j * 4 + k);
        }
        for (int l = 0; l < 3; l++) w_quiz = worst_diff(w_quiz, ad_grad_at(a1, k * 3 + l), d1 * z1k * (1 - z1k) * xv[l]);
    }
    /* ---- the layer Jacobians y = act(x Wᵀ + b), row i by a backward pass with cotangent e_i ---- */
    const char *acts[3] = {"relu", "sigmoid", "tanh"};
    double w_layer[3] = {0, 0, 0};
    for (int a = 0; a < 3; a++) {
        ad_node *W = var(ctx, 4, 3, rng), *bb = var(ctx, 0, 4, rng);
        ad_node *xin = var(ctx, 1, 3, rng);
        ad_node *zz = ad_linear(ctx, xin, W, bb);
        ad_node *yy = a == 0 ? ad_relu(ctx, zz) : a == 1 ? ad_sigmoid(ctx, zz) : ad_tanh(ctx, zz);
        for (int i = 0; i < 4; i++) {
            lesson_backward_unit(ctx, yy, i);
            double zi = ad_value_at(zz, i), yi = ad_value_at(yy, i);
            double d = a == 0 ? (zi > 0) : a == 1 ? yi * (1 - yi) : 1 - yi * yi;   /* σ′(z_i) */
            for (int j = 0; j < 4; j++) w_layer[a] = worst_diff(w_layer[a], ad_grad_at(bb, j), i == j ? d : 0);
            for (int k = 0; k < 3; k++) w_layer[a] = worst_diff(w_layer[a], ad_grad_at(xin, k), d * ad_value_at(W, i * 3 + k));
        }
    }
    if (!L.json) {
        printf("mlp — backpropagation through layers, the engine beside the lectures' closed forms\n\n");
        printf("Case 2 [004]: a = αx, z = σ(a), b = βz, y = σ(b), J = y* log y + (1 − y*) log(1 − y), y* = %g\n", ystar);
        printf("  y = %.6f, J = %.6f; dJ/dβ_j = (y* − y)z_j and dJ/dα_ji = (y* − y)β_j z_j(1 − z_j)x_i:\n"
               "  largest difference from the engine over all 16 entries: %.1e\n"
               "  gradcheck of J(α, β) against finite differences: %d passed, %d failed\n",
               yv, ad_value_scalar(J), w_case2, rep.n - rep.n_fail, rep.n_fail);
        if (fabs(engine_dJdy - slide_dJdy) > 1e-12)
            printf("  Where the lecture differs: its Case 2 writes dJ/dy = y*/y + (1 − y*)/(1 − y); the derivative\n"
                   "  of (1 − y*) log(1 − y) is −(1 − y*)/(1 − y) (Case 1 has it right as (1 − y*)/(y − 1)).\n"
                   "  Here that is %.6f against the correct %.6f.\n", slide_dJdy, engine_dJdy);
        printf("\nQuiz #2 [004]: y = σ(βᵀ σ(α⁽²⁾ σ(α⁽¹⁾ x))), sigmoid throughout:\n"
               "  ∂y/∂β_j = y(1−y) z⁽²⁾_j;  ∂y/∂α⁽²⁾_jk = y(1−y) β_j z⁽²⁾_j(1−z⁽²⁾_j) z⁽¹⁾_k;\n"
               "  ∂y/∂α⁽¹⁾_kl = y(1−y) Σ_j β_j z⁽²⁾_j(1−z⁽²⁾_j) α⁽²⁾_jk · z⁽¹⁾_k(1−z⁽¹⁾_k) x_l\n"
               "  largest difference from the engine over all 27 entries: %.1e\n", w_quiz);
        printf("\nThe layer Jacobians [000, 001] for y = act(xWᵀ + b): ∂y/∂b = diag act′(z), ∂y/∂x = diag act′(z) W\n");
        for (int a = 0; a < 3; a++) printf("  %-8s largest difference over both Jacobians: %.1e\n", acts[a], w_layer[a]);
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "mlp");
        cJSON_AddNumberToObject(doc, "case2_max_diff", w_case2);
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        cJSON_AddNumberToObject(doc, "quiz2_max_diff", w_quiz);
        cJSON_AddNumberToObject(doc, "layer_relu_max_diff", w_layer[0]);
        cJSON_AddNumberToObject(doc, "layer_sigmoid_max_diff", w_layer[1]);
        cJSON_AddNumberToObject(doc, "layer_tanh_max_diff", w_layer[2]);
        cJSON_AddNumberToObject(doc, "dJ_dy", engine_dJdy);
        cJSON_AddNumberToObject(doc, "lecture_dJ_dy", slide_dJdy);
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, J);
    int status = rep.n_fail ? 1 : 0;
    ad_gc_report_free(&rep);
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return status;
}
