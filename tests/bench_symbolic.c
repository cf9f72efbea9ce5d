/* bench_symbolic.c: the symbolic engine's growth. For n = 10^4, 10^5, 10^6
 * (up to max_n):
 *   chain: sin(sin(...sin(x))), n deep;
 *   sum:   1*x0 + 2*x1 + ... + n*x(n-1), n terms (a left-deep tree, n deep,
 *          with n distinct constants and n variables);
 * each built as an engine graph (not timed), then timed: ad_sym_from_graph,
 * ad_sym_diff (by x, or by the last variable), ad_sym_eval of f and of the
 * derivative, ad_sym_print of f. Prints the CPU time per term: linear work keeps
 * it flat. Exits 1 if it grows more than 8x from n = 10^4 to the largest n
 * (hash-consing whose hash left the constants' low bits alike took 26.6 s at
 * 40,000 terms; the recursive differentiator, evaluator and printer
 * overflowed the stack before 10^6). Run with `meson test --benchmark` or
 * directly: bench_symbolic [max_n [first_n]] (first_n: 10^4 by default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "autodidact.h"

/* CPU time, not wall time: on a shared machine the wall clock also counts other programs. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The graph of the chain (sum = 0) or of the sum (sum = 1) with n terms; *x: the values of its variables. */
static ad_node *build(ad_context *ctx, long n, int sum, double *x)
{
    ad_node *r = NULL;
    if (!sum) {
        x[0] = 0.5;
        r = ad_set_name(ad_scalar(ctx, x[0]), "x");
        for (long k = 0; k < n; k++) r = ad_sin(ctx, r);
        return r;
    }
    for (long k = 0; k < n; k++) {
        char name[24];
        snprintf(name, sizeof name, "x%ld", k);
        x[k] = 1.0 / (double)(k + 1);
        ad_node *t = ad_scale(ctx, ad_set_name(ad_scalar(ctx, x[k]), name), (double)(k + 1));
        r = r ? ad_add(ctx, r, t) : t;
    }
    return r;
}

/* Seconds for the symbolic work on one graph; 0 on a failure (printed). */
static double time_one(long n, int sum, char *buf, size_t len)
{
    ad_context *ctx = ad_context_new();
    double *x = malloc((size_t)n * sizeof *x);
    ad_node *f = build(ctx, n, sum, x);
    double t0 = now();
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = ad_sym_from_graph(s, ctx, f);
    ad_sym *d = fs ? ad_sym_diff(s, fs, ad_sym_var_count(s) - 1) : NULL;
    double v = d ? ad_sym_eval(s, fs, x, ad_sym_var_count(s)) + ad_sym_eval(s, d, x, ad_sym_var_count(s)) : 0;
    size_t printed = d ? ad_sym_print(s, fs, buf, len) : len;
    double t = now() - t0;
    if (!d || printed >= len || v != v) {
        fprintf(stderr, "bench_symbolic: n = %ld: %s\n", n, ad_last_error());
        t = 0;
    }
    ad_sym_ctx_free(s);
    free(x);
    ad_context_free(ctx);
    return t;
}

int main(int argc, char **argv)
{
    long max_n = argc > 1 ? atol(argv[1]) : 1000000, first_n = argc > 2 ? atol(argv[2]) : 10000;
    size_t len = (size_t)(max_n > 0 ? max_n : 1) * 24 + 64;
    char *buf = malloc(len);
    if (!buf) return 1;
    int status = 0;
    static const char *const what[2] = {"chain sin(sin(...)), n deep", "sum 1*x0 + 2*x1 + ..., n terms"};
    for (int sum = 0; sum < 2; sum++) {
        printf("%s: from_graph + diff + eval + print\n", what[sum]);
        double base = 0;
        for (long n = first_n > 0 ? first_n : 10000; n <= max_n; n *= 10) {
            double t = time_one(n, sum, buf, len);
            if (t == 0) {
                status = 1;
                break;
            }
            double per = 1e9 * t / (double)n;
            printf("  n = %8ld: %8.3f s, %7.1f ns per term\n", n, t, per);
            fflush(stdout);
            if (base == 0) base = per;
            else if (per > 8 * base) {
                printf("  FAIL: %.1fx the time per term of the first n: not linear\n", per / base);
                status = 1;
            }
        }
    }
    free(buf);
    return status;
}
