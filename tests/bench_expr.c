/* bench_expr.c: the formula parser's growth. Parses (and builds at a point)
 * "x+x+...+x" with n terms and "x1+x2+...+xn" with n distinct variables for
 * n = 10^3 .. 10^6 (variables: .. 10^5 by default), and prints the time per
 * term: linear parsing keeps it flat, a quadratic parser multiplies it by 10
 * at each step. Exits 1 if the time per term grows more than 8x from
 * n = 10^4 to the largest n (a linear parser stays within ~2x, cache
 * effects included; the old parser grew 18x per step in terms, 100x in
 * variables). n = 10^3 is printed but not the baseline: it runs in cache. Run with `meson test --benchmark` or directly:
 * bench_expr [max_terms] [max_vars] [repeats]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_bench.h"
#include "autodidact.h"

/* "x+x+..." (distinct = 0) or "x1+x2+..." (distinct = 1), n terms. */
static char *formula(long n, int distinct)
{
    char *s = malloc((size_t)n * 10 + 2), *p = s;
    if (!s) return NULL;
    for (long i = 0; i < n; i++) p += distinct ? sprintf(p, i ? "+x%ld" : "x%ld", i) : sprintf(p, i ? "+x" : "x");
    return s;
}

/* Median over repeats of parse + build at x = 1: seconds. */
static double time_one(const char *f, int repeats, int *ok)
{
    double t[16];
    *ok = 1;
    for (int r = 0; r < repeats; r++) {
        double t0 = ad_bench_now();
        ad_expr *e = ad_expr_parse(f, NULL);
        if (!e) {
            fprintf(stderr, "bench_expr: %s\n", ad_last_error());
            *ok = 0;
            return 0;
        }
        int nv = ad_expr_var_count(e);
        ad_context *ctx = ad_context_new();
        ad_node **v = malloc((size_t)nv * sizeof *v);
        for (int i = 0; i < nv; i++) v[i] = ad_scalar(ctx, 1.0);
        ad_node *y = ad_expr_build(e, ctx, v);
        if (!y) *ok = 0;
        t[r] = ad_bench_now() - t0;
        free(v);
        ad_context_free(ctx);
        ad_expr_free(e);
    }
    for (int i = 1; i < repeats; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return t[repeats / 2];
}

int main(int argc, char **argv)
{
    long max_terms = argc > 1 ? atol(argv[1]) : 1000000, max_vars = argc > 2 ? atol(argv[2]) : 100000;
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    if (max_terms < 100000 || max_vars < 100000 || repeats < 1 || repeats > 16) {
        fprintf(stderr, "usage: bench_expr [max_terms >= 10^5] [max_vars >= 10^5] [repeats 1..16]\n");
        return 2;
    }
    int status = 0;
    for (int distinct = 0; distinct < 2; distinct++) {
        long max = distinct ? max_vars : max_terms;
        double first = 0, last = 0;
        printf("%s\n", distinct ? "x1+x2+...+xn (n variables)" : "x+x+...+x (n terms)");
        for (long n = 1000; n <= max; n *= 10) {
            char *f = formula(n, distinct);
            if (!f) return 1;
            int ok;
            double t = time_one(f, repeats, &ok);
            free(f);
            if (!ok) return 1;
            double per = 1e9 * t / (double)n;
            printf("  n = %8ld: %9.4f s, %7.1f ns per term\n", n, t, per);
            if (n == 10000) first = per;
            last = per;
        }
        if (last > 8 * first) {
            printf("  NOT LINEAR: the time per term grew %.1fx\n", last / first);
            status = 1;
        } else {
            printf("  time per term grew %.2fx from n = 10^4 to n = %ld\n", last / first, max);
        }
    }
    return status;
}
