/* jacobian_chain: autodiff as a product of Jacobians [lectures 001, 003],
 * in lecture 001's convention: g = f₁ ∘ f₂ ∘ ⋯ ∘ f_N with f_i: R^{n_i} → R^{n_{i−1}},
 * so the input is in R^{n_N}, the output in R^{n_0}, and
 *   ∇g = Df₁ Df₂ ⋯ Df_N,  Df_i of size n_{i−1} × n_i.
 * Forward mode multiplies from the input side, Df₁(Df₂(⋯(Df_{N−1}Df_N))),
 * reverse mode from the output side, ((Df₁Df₂)Df₃)⋯Df_N; the lecture claims
 * reverse order is optimal when n₀ ≤ n₁ ≤ ⋯ ≤ n_N ("proof by dynamic
 * programming"): the lesson runs the matrix-chain DP on the widths given
 * (--n0 … --n5) and on random non-decreasing widths, and compares. Then,
 * on the engine: the chained product equals the engine's Jacobian; ReLU's
 * Jacobian is diagonal (and never stored); an FC layer's Jacobian is W. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lesson.h"

enum { MAXN = 8, N_MAT = 5 };

/* Multiply-adds to form Df₁ ⋯ Df_N, Df_i of size n[i−1] × n[i]. */
static double cost_forward(const double *n, int N)   /* Df₁(Df₂(⋯(Df_{N−1}Df_N))): from the input */
{
    double c = 0;
    for (int i = N - 1; i >= 1; i--) c += n[i - 1] * n[i] * n[N];
    return c;
}

static double cost_reverse(const double *n, int N)   /* ((Df₁Df₂)Df₃)⋯Df_N: from the output */
{
    double c = 0;
    for (int i = 2; i <= N; i++) c += n[0] * n[i - 1] * n[i];
    return c;
}

static double cost_optimal(const double *n, int N)   /* matrix-chain order by dynamic programming */
{
    double m[MAXN + 1][MAXN + 1] = {{0}};
    for (int len = 2; len <= N; len++)
        for (int i = 1; i + len - 1 <= N; i++) {
            int j = i + len - 1;
            m[i][j] = INFINITY;
            for (int k = i; k < j; k++) {
                double c = m[i][k] + m[k + 1][j] + n[i - 1] * n[k] * n[j];
                if (c < m[i][j]) m[i][j] = c;
            }
        }
    return m[1][N];
}

int main(int argc, char **argv)
{
    lesson L = {.program = "jacobian_chain",
                .source = "001_5b955eed8dfe07dd.txt: \"Autodiff by Jacobian multiplication\"; 003_2b494b62304cfecb.txt: \"Jacobian of ReLU\", \"Jacobians of FC-Layer\"",
                .code = "engine/core/backward.c (reverse mode: a row of the Jacobian a sweep), engine/core/backward_block.c (many rows in one sweep), engine/core/forward.c (forward mode: a column a direction)",
                .title = "autodiff as a product of Jacobians: orders, costs, ReLU and FC [001, 003]",
                .in = {{"n0", 1, 0, 1e6, "the output's width n₀ (f₁: ℝ^{n₁} → ℝ^{n₀}), 1..999999"},
                       {"n1", 10, 0, 1e6, NULL}, {"n2", 256, 0, 1e6, NULL}, {"n3", 1024, 0, 1e6, NULL},
                       {"n4", 1024, 0, 1e6, NULL}, {"n5", 4096, 0, 1e6, "the input's width n₅ (f₅: ℝ^{n₅} → ℝ^{n₄})"}},
                .n_in = 6};
    lesson_parse(&L, argc, argv);
    /* widths n₀ (output) … n₅ (input), lecture 001's order; the last row is the command line's */
    double chains[4][6] = {{1, 10, 256, 1024, 1024, 4096}, {4096, 1024, 1024, 256, 10, 1}, {100, 10, 1000, 10, 1000, 100}};
    for (int i = 0; i < 6; i++) {
        if (L.in[i].value != floor(L.in[i].value)) lesson_usage_error(L.program, "--%s takes a whole number", L.in[i].name);
        chains[3][i] = L.in[i].value;
    }
    const char *what[4] = {"many inputs, one output (a loss)", "one input, many outputs", "wide in the middle",
                           "the widths given (--n0 … --n5)"};
    double costs[4][3];
    for (int c = 0; c < 4; c++) {
        costs[c][0] = cost_forward(chains[c], N_MAT);
        costs[c][1] = cost_reverse(chains[c], N_MAT);
        costs[c][2] = cost_optimal(chains[c], N_MAT);
    }
    /* The claim: with n₀ ≤ n₁ ≤ ⋯ ≤ n_N, reverse order costs what the DP's optimum costs. */
    bool given_sorted = true;
    for (int i = 1; i < 6; i++) given_sorted = given_sorted && chains[3][i - 1] <= chains[3][i];
    gsl_rng *trial_rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(trial_rng, 11);
    int trials = 2000, claim_holds = 0, unsorted_reverse_optimal = 0;
    for (int t = 0; t < trials; t++) {
        double n[6], u[6];
        for (int i = 0; i < 6; i++) u[i] = 1 + (double)gsl_rng_uniform_int(trial_rng, 2000);
        memcpy(n, u, sizeof n);
        for (int i = 1; i < 6; i++)   /* insertion sort: a random non-decreasing sequence */
            for (int j = i; j > 0 && n[j - 1] > n[j]; j--) {
                double tmp = n[j];
                n[j] = n[j - 1], n[j - 1] = tmp;
            }
        claim_holds += cost_reverse(n, N_MAT) == cost_optimal(n, N_MAT);
        unsorted_reverse_optimal += cost_reverse(u, N_MAT) == cost_optimal(u, N_MAT);
    }
    gsl_rng_free(trial_rng);
    /* the engine: a chain x (1,4) -> tanh(W1) (1,5) -> tanh(W2) (1,3) -> W3 (1,2) */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    ad_context *ctx = lesson_context(&L);
    int64_t dims[4] = {4, 5, 3, 2}, sx[] = {1, 4};
    double xv[4] = {0.3, -0.2, 0.5, 0.1};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, sx, xv), *h = x, *W[3], *layer_out[3];
    for (int l = 0; l < 3; l++) {
        int64_t sw[] = {dims[l + 1], dims[l]};
        W[l] = ad_variable(ctx, AD_FLOAT64, 2, sw, NULL);
        for (int64_t i = 0, n = ad_value(W[l]).size; i < n; i++) ad_set_value_at(W[l], i, gsl_ran_gaussian(rng, 0.7));
        h = ad_linear(ctx, h, W[l], NULL);
        if (l < 2) h = ad_tanh(ctx, h);
        if (!h) lesson_die(&L, "the chain");
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
        if (lesson_backward_unit(ctx, h, i) != AD_OK) lesson_die(&L, "backward");
        for (int k = 0; k < 4; k++) {
            double d = fabs(ad_grad_at(x, k) - J[i][k]);
            if (!(d <= worst)) worst = d;   /* NaN-propagating maximum */
        }
    }
    /* FC layer: y = x Wᵀ, its Jacobian ∂y/∂x is W itself */
    ad_node *fc = ad_linear(ctx, x, W[0], NULL);
    double fc_worst = 0;
    for (int i = 0; i < 5; i++) {
        if (lesson_backward_unit(ctx, fc, i) != AD_OK) lesson_die(&L, "backward");
        for (int k = 0; k < 4; k++) {
            double d = fabs(ad_grad_at(x, k) - ad_value_at(W[0], i * 4 + k));
            if (!(d <= fc_worst)) fc_worst = d;
        }
    }
    /* ReLU on a minibatch of 100 × 4096: the vjp touches 409,600 numbers, the Jacobian has 409,600² */
    int64_t sr[] = {100, 4096};
    ad_node *r_in = ad_variable(ctx, AD_FLOAT32, 2, sr, NULL);
    for (int64_t i = 0, n = ad_value(r_in).size; i < n; i++) ad_set_value_at(r_in, i, gsl_ran_gaussian(rng, 1));
    ad_node *r = ad_sum(ctx, ad_relu(ctx, r_in), AD_ALL_AXES, false);
    ad_zero_grad(ctx);
    lesson_backward(&L, ctx, r, NULL);
    int64_t nonzero = 0;
    for (int64_t i = 0; i < ad_value(r_in).size; i++) nonzero += ad_grad_at(r_in, i) != 0;
    double n1 = 4096, nb = 409600;
    if (!L.json) {
        printf("jacobian_chain — lecture 001's g = f₁ ∘ f₂ ∘ ⋯ ∘ f₅, f_i: ℝ^{n_i} → ℝ^{n_{i−1}}: the input is in\n"
               "ℝ^{n₅}, the output in ℝ^{n₀}, and ∇g = Df₁ Df₂ ⋯ Df₅ with Df_i of size n_{i−1} × n_i\n\n");
        printf("  ");
        ad_explain_pad(stdout, "widths n₀ … n₅", -34);   /* by display columns, not bytes */
        printf(" %-34s %14s %14s %14s\n", "", "forward order", "reverse order", "optimal (DP)");
        for (int c = 0; c < 4; c++) {
            char w[128];
            snprintf(w, sizeof w, "%g,%g,%g,%g,%g,%g", chains[c][0], chains[c][1], chains[c][2], chains[c][3], chains[c][4],
                     chains[c][5]);
            printf("  %-34s ", w);
            ad_explain_pad(stdout, what[c], -34);
            printf(" %14.3g %14.3g %14.3g\n", costs[c][0], costs[c][1], costs[c][2]);
        }
        printf("  (multiply-adds to form the whole Jacobian; forward: Df₁(Df₂(⋯(Df₄Df₅))), reverse: ((Df₁Df₂)Df₃)⋯Df₅)\n\n");
        printf("Lecture 001: reverse order is \"optimal if n₀ ≤ n₁ ≤ ⋯ ≤ n_N\". The widths given are %snon-decreasing;\n"
               "reverse order costs %.4g, the DP's optimum %.4g: %s.\n"
               "Over %d random non-decreasing width sequences (1..2000), reverse order matched the DP's optimum in\n"
               "%d; over the same widths unsorted, in %d: the claim holds, and needs its hypothesis.\n\n",
               given_sorted ? "" : "not ", costs[3][1], costs[3][2],
               costs[3][1] == costs[3][2] ? "reverse order is optimal here" : "reverse order is not optimal here",
               trials, claim_holds, unsorted_reverse_optimal);
        printf("On the engine, a chain x (4) → tanh(W·x) (5) → tanh(W·) (3) → W· (2), i.e. f₃, f₂, f₁ in the lecture's\n"
               "numbering (n₃ = 4, n₂ = 5, n₁ = 3, n₀ = 2): the product of the layer Jacobians diag(1 − y²)W\n"
               "against the engine's Jacobian (a backward pass per output): largest difference %.1e\n\n", worst);
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
        for (int c = 0; c < 4; c++) {
            cJSON *o = cJSON_CreateObject();
            lesson_json_array(o, "widths", chains[c], 6);
            cJSON_AddNumberToObject(o, "forward", costs[c][0]);
            cJSON_AddNumberToObject(o, "reverse", costs[c][1]);
            cJSON_AddNumberToObject(o, "optimal", costs[c][2]);
            cJSON_AddItemToArray(arr, o);
        }
        cJSON_AddBoolToObject(doc, "given_non_decreasing", given_sorted);
        cJSON_AddBoolToObject(doc, "given_reverse_optimal", costs[3][1] == costs[3][2]);
        cJSON_AddNumberToObject(doc, "claim_trials", trials);
        cJSON_AddNumberToObject(doc, "claim_holds", claim_holds);
        cJSON_AddNumberToObject(doc, "unsorted_reverse_optimal", unsorted_reverse_optimal);
        cJSON_AddNumberToObject(doc, "chain_max_diff", worst);
        cJSON_AddNumberToObject(doc, "fc_max_diff", fc_worst);
        cJSON_AddNumberToObject(doc, "relu_nonzero_grads", (double)nonzero);
        lesson_print_json(doc);
    }
    if (claim_holds != trials) lesson_fail(&L, "reverse order missed the optimum on %d sorted chains", trials - claim_holds);
    if (!(worst <= 1e-12)) lesson_fail(&L, "the chained Jacobian differs from the engine's by %g", worst);
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return lesson_status();
}
