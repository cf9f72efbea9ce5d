/* sgd_variants: gradient descent and its stochastic variants [lectures 001,
 * 002] on one finite-sum problem, least squares
 *   F(θ) = (1/n) Σᵢ (aᵢᵀθ − bᵢ)²,  n = 200 examples, d = 5,
 * with the data drawn by a seeded generator. GD takes one step per epoch on
 * the full gradient; SGD n steps on one random example each (IID indices,
 * with replacement); minibatch SGD n/B steps on B IID indices each, as
 * lecture 001 defines it ("i(k,1), ..., i(k,B) IID"); cyclic SGD visits the
 * examples in order; shuffled cyclic in a new order each epoch; and the
 * shuffled cyclic *minibatch* variant (what a shuffling data loader does:
 * consecutive batches of one permutation, no repeats within an epoch),
 * which is not lecture 001's minibatch SGD. Every gradient comes from the
 * engine's backward pass. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lesson.h"

enum { N = 200, D = 5, MAX_EPOCHS = 100, METHODS = 6 };
static double A[N * D], B[N];

/* F over the rows idx[0..count) (all rows if idx is NULL), as a graph */
static ad_node *loss_of(ad_context *ctx, ad_node *theta, const int64_t *idx, int64_t count)
{
    int64_t sa[] = {count, D}, sb[] = {count, 1};
    ad_node *a = ad_constant(ctx, AD_FLOAT64, 2, sa, NULL), *b = ad_constant(ctx, AD_FLOAT64, 2, sb, NULL);
    for (int64_t r = 0; r < count; r++) {
        int64_t i = idx ? idx[r] : r;
        for (int64_t j = 0; j < D; j++) ad_set_value_at(a, r * D + j, A[i * D + j]);
        ad_set_value_at(b, r, B[i]);
    }
    return ad_mse(ctx, ad_linear(ctx, a, theta, NULL), b);
}

/* ∇ of F over the rows idx[0..count) at θ, by the engine's backward pass, into g[D]. */
static void grad_over(const lesson *L, ad_context *ctx, const double *theta, const int64_t *idx, int64_t count, double *g)
{
    int64_t sth[] = {1, D};
    ad_mark mk = ad_context_mark(ctx);
    ad_node *th = ad_variable(ctx, AD_FLOAT64, 2, sth, theta), *l = th ? loss_of(ctx, th, idx, count) : NULL;
    if (!l) lesson_die(L, "the loss");
    lesson_backward(L, ctx, l, NULL);
    for (int j = 0; j < D; j++) g[j] = ad_grad_at(th, j);
    ad_context_rewind(ctx, mk);
}

int main(int argc, char **argv)
{
    lesson L = {.program = "sgd_variants",
                .source = "001_5b955eed8dfe07dd.txt: \"Gradient Descent\", \"Stochastic Gradient Descent\", \"Mini-batch SGD\", \"Cyclic (mini-batch) SGD\", \"Shuffled Cyclic (mini-batch) SGD\"; 002_0f7aa9a5934bce5e.txt: \"Gradient Descent in Parameter Space\"",
                .code = "engine/core/backward.c (the gradient each step takes), engine/train/optim.c (SGD, momentum, Adam, AdamW: one update rule each, in engine/train/ad_optim_math.h)",
                .title = "GD, SGD, minibatch SGD, cyclic and shuffled cyclic SGD on one least-squares problem [001, 002]",
                .in = {{"lr", 0.02, 0, 1, "the step size α (GD takes 10α)"},
                       {"batch", 20, 0, N + 1, "the minibatch size B, 1..200"},
                       {"epochs", 10, 0, MAX_EPOCHS + 1, "1..100"},
                       {"seed", 7, -1, 4294967296.0, "the seed of the sampling (the data's is fixed)"}},
                .n_in = 4,
                .has_variant = true};
    lesson_parse(&L, argc, argv);
    double lr = L.in[0].value;
    int Bsz = (int)L.in[1].value, EPOCHS = (int)L.in[2].value;
    if (L.in[1].value != Bsz || L.in[2].value != EPOCHS) lesson_usage_error(L.program, "%s takes whole numbers", "--batch/--epochs");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    double theta_true[D] = {1, -2, 0.5, 3, -1};
    for (int i = 0; i < N; i++) {
        B[i] = gsl_ran_gaussian(rng, 0.1);
        for (int j = 0; j < D; j++) {
            A[i * D + j] = gsl_ran_gaussian(rng, 1.0);
            B[i] += A[i * D + j] * theta_true[j];
        }
    }
    const char *names[METHODS] = {"GD", "SGD", "minibatch SGD", "cyclic SGD", "shuffled cyclic SGD",
                                  "shuffled minibatch"};
    static double curve[METHODS][MAX_EPOCHS + 1];
    int64_t steps_taken[METHODS] = {0}, repeats_in_epoch[METHODS] = {0};
    ad_context *ctx = lesson_context(&L);
    for (int m = 0; m < METHODS; m++) {
        int64_t sth[] = {1, D};
        ad_node *theta = ad_variable(ctx, AD_FLOAT64, 2, sth, NULL);   /* θ = 0 */
        ad_optimizer *opt = ad_sgd_new(&theta, 1, m == 0 ? lr * 10 : lr, 0);
        ad_mark mk = ad_context_mark(ctx);
        int64_t order[N];
        gsl_rng_set(rng, (unsigned long)L.in[3].value);
        curve[m][0] = ad_value_scalar(loss_of(ctx, theta, NULL, N));
        ad_context_rewind(ctx, mk);
        for (int e = 1; e <= EPOCHS; e++) {
            if (m == 4 || m == 5) ad_shuffle(order, N, rng);   /* σ ~ randomPermutation(N), every epoch */
            int steps = m == 0 ? 1 : m == 2 || m == 5 ? N / Bsz : N;
            bool seen[N] = {false};
            for (int s = 0; s < steps; s++) {
                int64_t one = 0, batch[N];   /* = 0: GCC -O3 cannot see that each method sets what it reads */
                ad_node *l;
                if (m == 0) l = loss_of(ctx, theta, NULL, N);
                else if (m == 2) {   /* lecture 001: i(k, j) ~ Uniform{1..N}, j = 1..B, IID */
                    for (int j = 0; j < Bsz; j++) batch[j] = (int64_t)gsl_rng_uniform_int(rng, N);
                    l = loss_of(ctx, theta, batch, Bsz);
                } else if (m == 5) {
                    l = loss_of(ctx, theta, order + (int64_t)Bsz * s, Bsz);
                } else {
                    one = m == 1 ? (int64_t)gsl_rng_uniform_int(rng, N) : m == 3 ? s : order[s];
                    l = loss_of(ctx, theta, &one, 1);
                }
                /* how often an epoch reuses an example: IID sampling repeats, a permutation does not */
                if (m == 1 || m == 2 || m == 4 || m == 5) {
                    int cnt = m == 1 || m == 4 ? 1 : Bsz;
                    for (int j = 0; j < cnt; j++) {
                        int64_t i = m == 1 || m == 4 ? one : m == 2 ? batch[j] : order[(int64_t)Bsz * s + j];
                        repeats_in_epoch[m] += seen[i];
                        seen[i] = true;
                    }
                }
                steps_taken[m]++;
                if (!l) {   /* check-finite: the loss overflowed */
                    fprintf(stderr, "sgd_variants: FAILED: %s diverged in epoch %d, step %d (step size %g): %s\n",
                            names[m], e, s + 1, m == 0 ? lr * 10 : lr, ad_last_error());
                    return 1;
                }
                lesson_backward(&L, ctx, l, NULL);
                ad_optimizer_step(opt);
                ad_optimizer_zero_grad(opt);
                ad_context_rewind(ctx, mk);
            }
            ad_node *Fe = loss_of(ctx, theta, NULL, N);
            if (!Fe) {
                fprintf(stderr, "sgd_variants: FAILED: %s diverged by the end of epoch %d: %s\n", names[m], e,
                        ad_last_error());
                return 1;
            }
            curve[m][e] = ad_value_scalar(Fe);
            ad_context_rewind(ctx, mk);
        }
        ad_optimizer_free(opt);
    }
    /* Lecture 001's shuffled cyclic SGD pseudocode steps with ∇f_σ(k), k the global step count; within
     * epoch e, k runs from (e−1)N to eN − 1, so σ(k) names an example (1..N) only in the first epoch.
     * Its formula line, σ^⌊k/N⌋(mod(k, N) + 1), and σ(i) with i the position in the epoch, do. */
    double valid_slide = 0, valid_right = 0, needed = (double)EPOCHS * N;
    for (int64_t k = 0; k < (int64_t)EPOCHS * N; k++) {
        valid_slide += k < N;           /* σ(k) defined only for k in 0..N−1 */
        valid_right += (k % N) < N;     /* σ(i), i = mod(k, N): always */
    }
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("sgd_variants — F(θ) = (1/n) Σᵢ (aᵢᵀθ − bᵢ)², n = %d, d = %d, from θ = 0; step %g (GD: %g), B = %d\n\n", N,
               D, lr, lr * 10, Bsz);
        printf("F(θ) at the end of each epoch (epoch 0: the start), by method:\n");
        printf("  %-6s", "epoch");
        for (int m = 0; m < METHODS; m++) printf(" %19s", names[m]);
        printf("\n");
        for (int e = 0; e <= EPOCHS; e++) {
            printf("  %-6d", e);
            for (int m = 0; m < METHODS; m++) printf(" %19.6f", curve[m][e]);
            printf("\n");
        }
        printf("\nOne epoch costs every method n example-gradients; GD spends them on one exact step, SGD on n\n"
               "noisy ones, which is why SGD gets much further per epoch. With a fixed step SGD stalls at a\n"
               "noise floor (here about the data's noise, 0.01) instead of converging; shuffling each epoch\n"
               "avoids the bias of a fixed cyclic order.\n");
        printf("\nMinibatch SGD is lecture 001's: B IID indices per step (%lld repeated examples over the run,\n"
               "an unbiased gradient estimate each step). \"shuffled minibatch\" takes consecutive batches of one\n"
               "permutation per epoch (%lld repeats): what a shuffling data loader does, shuffled cyclic\n"
               "minibatch SGD in lecture 001's terms, not an instance of SGD (no unbiasedness per step).\n",
               (long long)repeats_in_epoch[2], (long long)repeats_in_epoch[5]);
        printf("\nWhere the lecture differs (by computation, steps of %d epochs that name an example):\n", EPOCHS);
    }
    lesson_slip(&L, doc, "001-shuffled-sigma-k", "001, Shuffled Cyclic (mini-batch) SGD pseudocode",
                "θ^{k+1} = θ^k − α_k ∇f_σ(k)(θ^k) indexes the permutation by the global step k, which passes N "
                "after the first epoch; it is σ(i), i the position within the epoch (as the formula "
                "σ^⌊k/N⌋(mod(k,N)+1) on the slide before says)",
                &valid_slide, &valid_right, &needed, 1, "steps taken (each uses one example)");
    if (!L.json)
        printf("    The slide's %.0f: its pseudocode's ∇f_σ(k) reads the permutation σ of 1..N at the global step k,\n"
               "    which counts on across epochs (k = 0 .. %.0f); σ(k) names an example only while k < N = %d, in\n"
               "    the first epoch, so %.0f of the %.0f steps use one. The right %.0f: σ(i), i = mod(k, N) + 1 the\n"
               "    position within the epoch (the loop's own i, and the formula σ^⌊k/N⌋(mod(k,N)+1) of the slide\n"
               "    before), names an example at every step. They differ by the %.0f steps after the first epoch.\n",
               valid_slide, needed - 1, N, valid_slide, needed, valid_right, valid_right - valid_slide);
    /* The slide after the pseudocode lists "Shuffled cyclic SGD advantage:" twice; the second list
     * ("Not as simple", "Theory not as strong as regular SGD") is the disadvantages. Why the theory is
     * weaker, computed: an SGD step draws i uniformly, so E[∇f_i(θ)] = ∇F(θ) at every step (the
     * unbiasedness the convergence proofs use). A shuffled epoch draws without replacement: once the
     * first N − 1 examples of σ are known, the last is fixed, and its step's expected gradient is that
     * example's ∇f_σ(N)(θ), not ∇F(θ). At θ = 0 with the run's first-epoch permutation (same seed): */
    double theta0[D] = {0}, gF[D], g_last[D], g_cond[D];
    int64_t perm[N], rest[N], n_rest = 0;
    gsl_rng_set(rng, (unsigned long)L.in[3].value);
    ad_shuffle(perm, N, rng);   /* σ for epoch 1, as shuffled cyclic SGD drew it */
    bool before[N] = {false};
    for (int s = 0; s < N - 1; s++) before[perm[s]] = true;
    for (int64_t i = 0; i < N; i++)
        if (!before[i]) rest[n_rest++] = i;   /* the examples the last step may still take */
    grad_over(&L, ctx, theta0, NULL, N, gF);                 /* ∇F(0): what an SGD step has in expectation */
    grad_over(&L, ctx, theta0, perm + N - 1, 1, g_last);     /* ∇f_σ(N)(0) */
    grad_over(&L, ctx, theta0, rest, n_rest, g_cond);        /* E[∇f_σ(N) | σ(1..N−1)]: the mean over what is left */
    if (!L.json)
        printf("\n    The slide after lists \"Shuffled cyclic SGD advantage:\" twice; the second list (not as simple;\n"
               "    theory not as strong as regular SGD) holds the disadvantages. The weaker theory, computed at θ = 0:\n"
               "    the last step of epoch 1, given its first %d examples, can take only example %lld (%lld left), so\n"
               "    its expected gradient is that example's, not ∇F as at every SGD step:\n",
               N - 1, (long long)perm[N - 1] + 1, (long long)n_rest);
    lesson_slip(&L, doc, "001-shuffled-last-step", "001, Shuffled Cyclic (mini-batch) SGD, the second \"advantage\" list",
                "the second list headed \"advantage\" lists disadvantages (\"Theory not as strong as regular SGD\"): "
                "an SGD step's expected gradient is ∇F(θ); the last step of a shuffled epoch, given the earlier "
                "ones, has E = ∇f_σ(N)(θ) (θ = 0, epoch 1's σ; the 5 components)",
                gF, g_last, g_cond, D, "the mean gradient over the examples not yet taken");
    if (L.json) {
        cJSON_AddStringToObject(doc, "lesson", "sgd_variants");
        cJSON_AddNumberToObject(doc, "lr", lr);
        cJSON_AddNumberToObject(doc, "batch", Bsz);
        cJSON_AddNumberToObject(doc, "epochs", EPOCHS);
        cJSON_AddNumberToObject(doc, "last_step_example", (double)perm[N - 1]);   /* 0-based, epoch 1 */
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        cJSON *st = cJSON_AddObjectToObject(doc, "steps"), *rp = cJSON_AddObjectToObject(doc, "repeated_examples");
        for (int m = 0; m < METHODS; m++) {
            cJSON_AddNumberToObject(st, names[m], (double)steps_taken[m]);
            cJSON_AddNumberToObject(rp, names[m], (double)repeats_in_epoch[m]);
        }
        cJSON *o = cJSON_AddObjectToObject(doc, "loss");
        for (int m = 0; m < METHODS; m++) {
            cJSON *a = cJSON_AddArrayToObject(o, names[m]);
            for (int e = 0; e <= EPOCHS; e++) cJSON_AddItemToArray(a, cJSON_CreateNumber(curve[m][e]));
        }
        lesson_print_json(doc);
    }
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return lesson_status();
}
