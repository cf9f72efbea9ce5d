/* bench_conv2d.c: conv2d's forward and both backward passes (dx, dw) on
 * the two LeNet-5 layers at batch 64, in float32, in GFLOP/s (2·N·K·P·Q·C·R·S
 * flops per pass; the best of 20), with the engine on 1 and 2 threads (or
 * the counts given as arguments), next to OpenBLAS SGEMM on 2048³ on one
 * thread. tests/conv2d_pytorch.py times PyTorch on the same shapes. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include "ad_bench.h"
#include "autodidact.h"
#include "ad_kernel.h"   /* the vjps are called directly, on the node (ad_node_of) */

static void layer(int threads, const char *name, int64_t N, int64_t C, int64_t H, int64_t K, int64_t R, int pad, int reps)
{
    ad_context *ctx = ad_context_new();
    int64_t sx[] = {N, C, H, H}, sw[] = {K, C, R, R}, sb[] = {K};
    ad_node *x = ad_variable(ctx, AD_FLOAT32, 4, sx, NULL), *w = ad_variable(ctx, AD_FLOAT32, 4, sw, NULL);
    ad_node *b = ad_variable(ctx, AD_FLOAT32, 1, sb, NULL);
    for (int64_t i = 0, n = ad_value(x).size; i < n; i++) ad_set_value_at(x, i, (float)((i * 7919) % 1000) / 1000.0f);
    for (int64_t i = 0, n = ad_value(w).size; i < n; i++) ad_set_value_at(w, i, (float)((i * 104729) % 1000) / 1000.0f - 0.5f);
    ad_mark m = ad_context_mark(ctx);
    ad_node *y = ad_conv2d(ctx, x, w, b, 1, pad);
    int64_t P = ad_value(y).shape[2];
    double flops = 2.0 * (double)(N * K * P * P * C * R * R);
    void *g = malloc((size_t)ad_value(y).size * sizeof(float));
    for (int64_t i = 0; i < ad_value(y).size; i++) ((float *)g)[i] = 1e-3f;
    double t_f = 1e30, t_dx = 1e30, t_dw = 1e30;
    for (int r = 0; r < reps; r++) {
        ad_context_rewind(ctx, m);
        double t0 = ad_bench_now();
        y = ad_conv2d(ctx, x, w, b, 1, pad);
        double t1 = ad_bench_now();
        ad_op_conv2d.cpu.vjp(ad_node_of(y), 0, 1, g, ad_grad(x).data);
        double t2 = ad_bench_now();
        ad_op_conv2d.cpu.vjp(ad_node_of(y), 1, 1, g, ad_grad(w).data);
        double t3 = ad_bench_now();
        t_f = t1 - t0 < t_f ? t1 - t0 : t_f;
        t_dx = t2 - t1 < t_dx ? t2 - t1 : t_dx;
        t_dw = t3 - t2 < t_dw ? t3 - t2 : t_dw;
    }
    printf("%d thr  %-44s forward %6.1f GFLOP/s (%.2f ms)   dx %6.1f GFLOP/s (%.2f ms)   dw %6.1f GFLOP/s (%.2f ms)\n", threads, name,
           flops / t_f * 1e-9, t_f * 1e3, flops / t_dx * 1e-9, t_dx * 1e3, flops / t_dw * 1e-9, t_dw * 1e3);
    free(g);
    ad_context_free(ctx);
}

int main(int argc, char **argv)
{
    int counts[16] = {1, 2}, n_counts = 2;
    if (argc > 1)
        for (n_counts = 0; n_counts < argc - 1 && n_counts < 16; n_counts++) counts[n_counts] = atoi(argv[n_counts + 1]);
    for (int i = 0; i < n_counts; i++) {
        if (ad_set_threads(counts[i]) != AD_OK) {
            fprintf(stderr, "bench_conv2d: %s\n", ad_last_error());
            return 1;
        }
        layer(counts[i], "conv1: x (64,1,28,28), w (6,1,5,5), pad 2", 64, 1, 28, 6, 5, 2, 20);
        layer(counts[i], "conv2: x (64,6,14,14), w (16,6,5,5), pad 0", 64, 6, 14, 16, 5, 0, 20);
    }
    int n = 2048;
    float *A = calloc((size_t)n * n, sizeof(float)), *B = calloc((size_t)n * n, sizeof(float)), *C = calloc((size_t)n * n, sizeof(float));
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = ad_bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        double t = ad_bench_now() - t0;
        best = t < best ? t : best;
    }
    printf("       %-44s %6.1f GFLOP/s\n", "OpenBLAS SGEMM 2048^3 (reference)", 2.0 * n * n * (double)n / best * 1e-9);
    free(A), free(B), free(C);
    return 0;
}
