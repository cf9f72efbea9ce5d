/* bench_scalar.c: the scalar workload acc = sum_i relu(x_i * w_i), n = 10^6,
 * 3n ops (mul, relu, add per term). Reports ns per op for building the
 * graph forward and for the backward pass; the leaves (2n variables) are
 * made before the clock starts. Run with `meson test --benchmark` or
 * directly: bench_scalar [n] [repeats]. The first repeat runs on a fresh
 * arena (page faults included); later ones reuse it after a rewind.
 * Times are the thread's CPU time (user + system, so page faults count):
 * on the shared development machine other jobs' time slices would
 * otherwise be counted as ours. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "autodidact.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || repeats < 1) {
        fprintf(stderr, "usage: bench_scalar [n >= 1] [repeats >= 1]\n");
        return 2;
    }
    ad_context *ctx = ad_context_new();
    ad_node **x = malloc((size_t)n * sizeof *x), **w = malloc((size_t)n * sizeof *w);
    if (!ctx || !x || !w) return 1;
    for (long i = 0; i < n; i++) {
        x[i] = ad_scalar(ctx, (double)(i % 17) / 8.0 - 1.0);
        w[i] = ad_scalar(ctx, (double)(i % 13) / 6.0 - 1.0);
    }
    ad_mark m = ad_context_mark(ctx);
    double best_fwd = 1e30, best_bwd = 1e30, check = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        ad_node *acc = ad_scalar_const(ctx, 0.0);
        for (long i = 0; i < n; i++) acc = ad_add(ctx, acc, ad_relu(ctx, ad_mul(ctx, x[i], w[i])));
        double t1 = now();
        if (!acc || ad_backward(ctx, acc) != AD_OK) {
            fprintf(stderr, "bench_scalar: %s\n", ad_last_error());
            return 1;
        }
        double t2 = now();
        double fwd = (t1 - t0) * 1e9 / (3.0 * (double)n), bwd = (t2 - t1) * 1e9 / (3.0 * (double)n);
        printf("repeat %d%s: forward %.1f ns/op, backward %.1f ns/op\n", r, r == 0 ? " (cold arena)" : "", fwd, bwd);
        if (r > 0 || repeats == 1) {
            best_fwd = fwd < best_fwd ? fwd : best_fwd;
            best_bwd = bwd < best_bwd ? bwd : best_bwd;
        }
        check = ad_grad_scalar(x[1]);
        ad_zero_grad(ctx);
        ad_context_rewind(ctx, m);
    }
    printf("scalar workload n=%ld (3n = %ld ops): best forward %.1f ns/op, best backward %.1f ns/op "
           "(dacc/dx_1 = %g)\n", n, 3 * n, best_fwd, best_bwd, check);
    free(x);
    free(w);
    ad_context_free(ctx);
    return 0;
}
