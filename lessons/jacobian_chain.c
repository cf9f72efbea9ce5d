/* jacobian_chain: autodiff as a product of Jacobians [lectures 001, 003]:
 * for f = f_N ∘ … ∘ f_1 the Jacobian is D_N ⋯ D_1; forward mode multiplies
 * it from the input side, reverse mode from the output side, and the best
 * order (matrix-chain dynamic programming) can beat both. Then, checked on
 * the engine: the chained product equals the engine's Jacobian; ReLU's
 * Jacobian is diagonal (and never stored); an FC layer's Jacobian is W. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lesson.h"

enum { MAXN = 8 };

/* Multiply-adds to form D_N ⋯ D_1 where D_k is d[k] × d[k−1]. */
static double cost_forward(const double *d, int n)   /* ((D_N (D_{N−1} … (D_2 D_1)))): from the input */
{
    double c = 0;
    for (int k = 2; k <= n; k++) c += d[k] * d[k - 1] * d[0];
    return c;
}

static double cost_reverse(const double *d, int n)   /* (((D_N D_{N−1}) …) D_1): from the output */
{
    double c = 0;
    for (int k = n - 1; k >= 1; k--) c += d[n] * d[k] * d[k - 1];
    return c;
}

static double cost_optimal(const double *d, int n)   /* matrix-chain order by dynamic programming */
{
    double m[MAXN + 1][MAXN + 1] = {{0}};
    for (int len = 2; len <= n; len++)
        for (int i = 1; i + len - 1 <= n; i++) {
            int j = i + len - 1;
            m[i][j] = INFINITY;
            for (int k = i; k < j; k++) m[i][j] = fmin(m[i][j], m[i][k] + m[k + 1][j] + d[j] * d[k] * d[i - 1]);
        }
    return m[1][n];
}

int main(int argc, char **argv)
{
    lesson L = {.program = "jacobian_chain", .title = "autodiff as a product of Jacobians: orders, costs, ReLU and FC [001, 003]"};
    lesson_parse(&L, argc, argv);
    /* widths d_0 (input) … d_N (output) */
    const double chains[3][6] = {{4096, 1024, 1024, 256, 10, 1}, {1, 10, 256, 1024, 1024, 4096}, {100, 1000, 10, 1000, 10, 100}};
    const char *what[3] = {"many inputs, one output (a loss)", "one input, many outputs", "wide in the middle"};
    double costs[3][3];
    for (int c = 0; c < 3; c++) {
        costs[c][0] = cost_forward(chains[c], 5);
        costs[c][1] = cost_reverse(chains[c], 5);
        costs[c][2] = cost_optimal(chains[c], 5);
    }
    /* the engine: a chain x (1,4) -> tanh(W1) (1,5) -> tanh(W2) (1,3) -> W3 (1,2) */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    ad_context *ctx = ad_context_new();
    int64_t dims[4] = {4, 5, 3, 2}, sx[] = {1, 4};
    double xv[4] = {0.3, -0.2, 0.5, 0.1};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, sx, xv), *h = x, *W[3], *layer_out[3];
    for (int l = 0; l < 3; l++) {
        int64_t sw[] = {dims[l + 1], dims[l]};
        W[l] = ad_variable(ctx, AD_FLOAT64, 2, sw, NULL);
        for (int64_t i = 0; i < W[l]->value.size; i++) ((double *)W[l]->value.data)[i] = gsl_ran_gaussian(rng, 0.7);
        h = ad_linear(ctx, h, W[l], NULL);
        if (l < 2) h = ad_tanh(ctx, h);
        layer_out[l] = h;
    }
    /* per-layer Jacobians by hand: D_l = diag(1 − y²) W_l (tanh layers), D_3 = W_3 */
    double J[2][4], P[5][4];
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++) {
            double y = ad_value_at(layer_out[0], i);
            P[i][k] = (1 - y * y) * ad_value_at(W[0], i * 4 + k);
        }
    double Q[3][4];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) {
            double y = ad_value_at(layer_out[1], i), s = 0;
            for (int j = 0; j < 5; j++) s += (1 - y * y) * ad_value_at(W[1], i * 5 + j) * P[j][k];
            Q[i][k] = s;
        }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) {
            double s = 0;
            for (int j = 0; j < 3; j++) s += ad_value_at(W[2], i * 3 + j) * Q[j][k];
            J[i][k] = s;
        }
    double worst = 0;
    for (int i = 0; i < 2; i++) {   /* row i of the engine's Jacobian: backward with cotangent e_i */
        lesson_backward_unit(ctx, h, i);
        for (int k = 0; k < 4; k++) worst = fmax(worst, fabs(ad_grad_at(x, k) - J[i][k]));
    }
    /* FC layer: y = x Wᵀ, its Jacobian ∂y/∂x is W itself */
    ad_node *fc = ad_linear(ctx, x, W[0], NULL);
    double fc_worst = 0;
    for (int i = 0; i < 5; i++) {
        lesson_backward_unit(ctx, fc, i);
        for (int k = 0; k < 4; k++) fc_worst = fmax(fc_worst, fabs(ad_grad_at(x, k) - ad_value_at(W[0], i * 4 + k)));
    }
    /* ReLU on a minibatch of 100 × 4096: the vjp touches 409,600 numbers, the Jacobian has 409,600² */
    int64_t sr[] = {100, 4096};
    ad_node *r_in = ad_variable(ctx, AD_FLOAT32, 2, sr, NULL);
    for (int64_t i = 0; i < r_in->value.size; i++) ((float *)r_in->value.data)[i] = (float)gsl_ran_gaussian(rng, 1);
    ad_node *r = ad_sum(ctx, ad_relu(ctx, r_in), AD_ALL_AXES, false);
    ad_zero_grad(ctx);
    ad_backward(ctx, r);
    int64_t nonzero = 0;
    for (int64_t i = 0; i < r_in->value.size; i++) nonzero += ad_grad_at(r_in, i) != 0;
    double n1 = 4096, nb = 409600;
    if (!L.json) {
        printf("jacobian_chain — f = f₅ ∘ … ∘ f₁, Jacobian D₅D₄D₃D₂D₁ with D_k of size d_k × d_{k−1}\n\n");
        printf("  %-34s %-34s %14s %14s %14s\n", "widths d₀ … d₅", "", "forward order", "reverse order", "optimal (DP)");
        for (int c = 0; c < 3; c++) {
            char w[128];
            snprintf(w, sizeof w, "%g,%g,%g,%g,%g,%g", chains[c][0], chains[c][1], chains[c][2], chains[c][3], chains[c][4],
                     chains[c][5]);
            printf("  %-34s %-34s %14.3g %14.3g %14.3g\n", w, what[c], costs[c][0], costs[c][1], costs[c][2]);
        }
        printf("  (multiply-adds to form the whole Jacobian)\n\n");
        printf("On the engine, a chain x (4) → tanh(W₁x) (5) → tanh(W₂·) (3) → W₃· (2): the product of the layer\n"
               "Jacobians diag(1 − y²)W against the engine's Jacobian (a backward pass per output): largest\n"
               "difference %.1e\n\n", worst);
        printf("ReLU's Jacobian is diagonal: for one 4096-vector it has %.0f entries (%.0f MiB in float32), of\n"
               "which only the 4096 on the diagonal can be nonzero. For a minibatch of 100 it is %.0f × %.0f =\n"
               "%.3g entries, %.0f GB in float32. Backprop never forms it: the engine's relu vjp touched the\n"
               "409,600 inputs once (%lld of them got a nonzero gradient, the positive ones).\n\n",
               n1 * n1, n1 * n1 * 4 / 1048576, nb, nb, nb * nb, nb * nb * 4 / 1e9, (long long)nonzero);
        printf("An FC layer y = xWᵀ has ∂y/∂x = W: largest difference between the engine's Jacobian and W: %.1e\n",
               fc_worst);
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "jacobian_chain");
        cJSON *arr = cJSON_AddArrayToObject(doc, "chains");
        for (int c = 0; c < 3; c++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "forward", costs[c][0]);
            cJSON_AddNumberToObject(o, "reverse", costs[c][1]);
            cJSON_AddNumberToObject(o, "optimal", costs[c][2]);
            cJSON_AddItemToArray(arr, o);
        }
        cJSON_AddNumberToObject(doc, "chain_max_diff", worst);
        cJSON_AddNumberToObject(doc, "fc_max_diff", fc_worst);
        cJSON_AddNumberToObject(doc, "relu_nonzero_grads", (double)nonzero);
        lesson_print_json(doc);
    }
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return 0;
}
