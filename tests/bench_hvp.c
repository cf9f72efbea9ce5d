/* bench_hvp.c: what a Hessian-vector product costs beside a gradient, on
 * LeNet-5 (lessons/lenet_model.c: two conv+ReLU+max-pool, three linear
 * layers, cross-entropy; float32), the batch given (default 64).
 *   gradient  the forward pass and ad_backward: ∇L;
 *   H·v       the forward pass carrying tangents v (one direction over
 *             every parameter) and ad_hvp: ∇L and H·v in one sweep.
 * Each the median of --reps runs (default 20; the two alternate), after 3
 * warm-up runs, on --threads threads (default: the engine's); the
 * ratio is the point: second-order information along one direction costs a
 * small constant times a gradient. --json prints one JSON object for
 * tests/bench_hvp_vs_pytorch.py, which times PyTorch beside it. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_bench.h"
#include "autodidact.h"
#include "lenet_model.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct setup {
    ad_context *ctx;
    lenet m;
    ad_node *x, *t;
    double *v[N_PARAMS];   /* the direction (hvp): set again after every rewind, which drops tangents */
    ad_mark mark;
} setup;

/* The model, a batch of inputs in [0, 1) and labels; with tangents (hvp)
 * on every parameter: v drawn from N(0, 1), the same for every run. */
static bool make(setup *S, int batch, bool hvp)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    S->ctx = ad_context_new();
    bool ok = rng && S->ctx && (!hvp || ad_forward_dirs(S->ctx, 1) == AD_OK) && lenet_init(&S->m, S->ctx, rng);
    int64_t sx[] = {batch, 1, 28, 28}, st[] = {batch};
    S->x = ok ? ad_constant(S->ctx, AD_FLOAT32, 4, sx, NULL) : NULL;
    S->t = ok ? ad_constant(S->ctx, AD_FLOAT32, 1, st, NULL) : NULL;
    ok = ok && S->x && S->t;
    for (int64_t i = 0; ok && i < ad_value(S->x).size; i++) ad_set_value_at(S->x, i, gsl_rng_uniform(rng));
    for (int64_t i = 0; ok && i < batch; i++) ad_set_value_at(S->t, i, (double)gsl_rng_uniform_int(rng, 10));
    for (int p = 0; ok && hvp && p < N_PARAMS; p++) {
        int64_t n = ad_value(S->m.p[p]).size;
        ok = (S->v[p] = malloc((size_t)n * sizeof(double))) != NULL;
        for (int64_t i = 0; ok && i < n; i++) S->v[p][i] = gsl_ran_gaussian(rng, 1.0);
    }
    gsl_rng_free(rng);
    if (ok) S->mark = ad_context_mark(S->ctx);
    return ok;
}

/* One run: seconds, or a negative number on an error (printed). */
static double run(setup *S, bool hvp, void **grads, void **hvs)
{
    ad_context_rewind(S->ctx, S->mark);
    for (int p = 0; hvp && p < N_PARAMS; p++)
        if (ad_set_tangent(S->m.p[p], 0, S->v[p], -1) != AD_OK) {
            fprintf(stderr, "bench_hvp: %s\n", ad_last_error());
            return -1;
        }
    double t0 = ad_bench_now();
    ad_node *loss = ad_cross_entropy(S->ctx, lenet_forward(&S->m, S->ctx, S->x), S->t, NULL, AD_REDUCE_MEAN, -1);
    ad_status st = !loss ? ad_last_status()
                   : hvp ? ad_hvp(S->ctx, loss, NULL, 0, N_PARAMS, S->m.p, grads, hvs)
                         : ad_backward(S->ctx, loss);
    double t = ad_bench_now() - t0;
    if (!hvp) ad_zero_grad(S->ctx);
    if (st != AD_OK) {
        fprintf(stderr, "bench_hvp: %s\n", ad_last_error());
        return -1;
    }
    return t;
}

int main(int argc, char **argv)
{
    int batch = 64, reps = 20;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ad_set_threads(atoi(argv[++i]));
        else {
            fprintf(stderr, "usage: bench_hvp [--batch N] [--reps N] [--threads N] [--json]\n");
            return 2;
        }
    }
    if (batch < 1 || reps < 1) {
        fprintf(stderr, "bench_hvp: --batch and --reps must be >= 1\n");
        return 2;
    }
    setup G = {0}, H = {0};
    if (!make(&G, batch, false) || !make(&H, batch, true)) {
        fprintf(stderr, "bench_hvp: %s\n", ad_last_error());
        return 1;
    }
    void *grads[N_PARAMS], *hvs[N_PARAMS];
    for (int p = 0; p < N_PARAMS; p++) {
        size_t bytes = (size_t)ad_value(H.m.p[p]).size * sizeof(float);
        grads[p] = calloc(1, bytes);
        hvs[p] = calloc(1, bytes);
    }
    double *tg = malloc((size_t)reps * sizeof *tg), *th = malloc((size_t)reps * sizeof *th);
    int status = 0;
    for (int r = -3; r < reps && status == 0; r++) {   /* alternating; the first 3 warm up */
        double a = run(&G, false, NULL, NULL), b = run(&H, true, grads, hvs);
        if (a < 0 || b < 0) status = 1;
        else if (r >= 0) tg[r] = a, th[r] = b;
    }
    if (status == 0) {
        qsort(tg, (size_t)reps, sizeof *tg, cmp);
        qsort(th, (size_t)reps, sizeof *th, cmp);
        double g = tg[reps / 2], h = th[reps / 2];
        if (json)
            printf("{\"batch\": %d, \"reps\": %d, \"threads\": %d, \"gradient_ms\": %.4f, \"hvp_ms\": %.4f, \"ratio\": %.3f}\n",
                   batch, reps, ad_threads(), 1e3 * g, 1e3 * h, h / g);
        else
            printf("LeNet-5, batch %d, float32, %d threads, median of %d:\n"
                   "  gradient (forward + ad_backward):                 %8.3f ms\n"
                   "  H·v and gradient (forward with tangents + ad_hvp): %8.3f ms\n"
                   "  ratio H·v / gradient: %.2f\n",
                   batch, ad_threads(), reps, 1e3 * g, 1e3 * h, h / g);
    }
    for (int p = 0; p < N_PARAMS; p++) free(grads[p]), free(hvs[p]), free(H.v[p]);
    free(tg);
    free(th);
    ad_context_free(G.ctx);
    ad_context_free(H.ctx);
    return status;
}
