/* bench_gpu.c: the GPU backend's throughput, for BENCHMARKS.md.
 *   1. matmul through the engine (cuBLAS SGEMM/DGEMM) from 256³ to 8192³:
 *      the large sizes are cuBLAS's own large-GEMM figure, the reference;
 *   2. conv2d on the LeNet-5 layers at batch 64 and 256, and one larger
 *      layer, forward and forward + backward, in GFLOP/s;
 *   3. one LeNet-5 training step (forward, backward, Adam) at batch 64 and
 *      256 on synthetic data, in ms and images/s.
 *      With it, what one step asks of the device (ad_gpu_counters): kernel
 *      launches, cuBLAS gemms, and copies each way (a copy to the host is a
 *      host sync).
 * Every figure is the mean over repeats after warm-up, timed around
 * ad_gpu_synchronize. Without a GPU it says why and exits 77 (skipped).
 * --lenet-only runs part 3 alone (the launch counts, on the CPU emulation of
 * CUDA too, where parts 1 and 2 would take hours). */
#include <getopt.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "ad_bench.h"
#include "autodidact.h"
#include "lenet_model.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_gpu: %s: %s\n", what, ad_last_error());
    exit(1);
}

/* A device constant (or variable) of the shape, filled with small random values on the host first. */
static ad_node *device_tensor(ad_context *ctx, gsl_rng *rng, ad_dtype dt, int nd, const int64_t *shape, bool grad)
{
    ad_node *h = grad ? ad_variable(ctx, dt, nd, shape, NULL) : ad_constant(ctx, dt, nd, shape, NULL);
    if (!h) die("host tensor");
    for (int64_t i = 0; i < ad_value(h).size; i++) ad_set_value_at(h, i, gsl_rng_uniform(rng) - 0.5);
    ad_node *d = ad_leaf_to_device(ctx, h);
    if (!d) die("sending to the GPU");
    return d;
}

static void bench_matmul(gsl_rng *rng)
{
    printf("\nmatmul through the engine (cuBLAS), y = a·b, (n,n)·(n,n), no-grad\n");
    printf("  %-8s %-6s %12s %12s\n", "dtype", "n", "ms", "GFLOP/s");
    int sizes[] = {256, 1024, 4096, 8192};
    for (int dt = AD_FLOAT32; dt >= AD_FLOAT64; dt--)
        for (int k = 0; k < 4; k++) {
            int64_t n = sizes[k], shape[2] = {n, n};
            ad_context *ctx = ad_context_new();
            ad_set_grad_enabled(ctx, false);
            ad_node *a = device_tensor(ctx, rng, (ad_dtype)dt, 2, shape, false);
            ad_node *b = device_tensor(ctx, rng, (ad_dtype)dt, 2, shape, false);
            ad_mark m = ad_context_mark(ctx);
            int reps = n >= 4096 ? 10 : 100;
            for (int w = 0; w < 3; w++) {
                if (!ad_matmul(ctx, a, b)) die("matmul");
                ad_context_rewind(ctx, m);
            }
            ad_gpu_synchronize();
            double t0 = ad_bench_now();
            for (int r = 0; r < reps; r++) {
                if (!ad_matmul(ctx, a, b)) die("matmul");
                ad_context_rewind(ctx, m);
            }
            if (ad_gpu_synchronize() != AD_OK) die("matmul");
            double s = (ad_bench_now() - t0) / reps;
            printf("  %-8s %-6lld %12.3f %12.0f\n", dt == AD_FLOAT32 ? "float32" : "float64", (long long)n, 1e3 * s,
                   2.0 * (double)n * n * n / s * 1e-9);
            ad_context_free(ctx);
        }
}

static void bench_conv(gsl_rng *rng, const char *label, const int64_t *sx, const int64_t *sw, int pad)
{
    ad_context *ctx = ad_context_new();
    int64_t sb[1] = {sw[0]};
    ad_node *x = device_tensor(ctx, rng, AD_FLOAT32, 4, sx, true), *w = device_tensor(ctx, rng, AD_FLOAT32, 4, sw, true),
            *b = device_tensor(ctx, rng, AD_FLOAT32, 1, sb, true);
    ad_mark m = ad_context_mark(ctx);
    double times[2];
    int64_t P = sx[2] + 2 * pad - sw[2] + 1, Q = sx[3] + 2 * pad - sw[3] + 1;
    double flops = 2.0 * (double)sx[0] * sw[0] * P * Q * sw[1] * sw[2] * sw[3];
    for (int with_backward = 0; with_backward <= 1; with_backward++) {
        ad_set_grad_enabled(ctx, with_backward);
        int reps = 50;
        for (int r = -3; r < reps; r++) {   /* three warm-ups */
            if (r == 0) {
                ad_gpu_synchronize();
                times[with_backward] = ad_bench_now();
            }
            ad_node *y = ad_conv2d(ctx, x, w, b, 1, pad);
            if (!y) die("conv2d");
            if (with_backward && ad_backward(ctx, ad_sum(ctx, y, AD_ALL_AXES, false)) != AD_OK) die("conv2d backward");
            ad_context_rewind(ctx, m);
        }
        if (ad_gpu_synchronize() != AD_OK) die("conv2d");
        times[with_backward] = (ad_bench_now() - times[with_backward]) / reps;
    }
    /* forward + backward computes y, dx, dw (3 GEMM-sized passes) plus the sum and db */
    printf("  %-44s %9.3f ms %8.0f GFLOP/s %9.3f ms %8.0f GFLOP/s\n", label, 1e3 * times[0], flops / times[0] * 1e-9,
           1e3 * times[1], 3 * flops / times[1] * 1e-9);
    ad_context_free(ctx);
}

static void bench_lenet_step(gsl_rng *rng, int64_t B)
{
    ad_context *ctx = ad_context_new();
    lenet m;
    if (!lenet_init(&m, ctx, rng)) die("lenet_init");
    for (int i = 0; i < N_PARAMS; i++)
        if (!(m.p[i] = ad_leaf_to_device(ctx, m.p[i]))) die("sending the parameters");
    ad_optimizer *opt = ad_adam_new(m.p, N_PARAMS, 1e-3, 0.9, 0.999, 1e-8);
    int64_t sx[] = {B, 1, 28, 28}, sy[] = {B};
    ad_node *xh = ad_constant(ctx, AD_FLOAT32, 4, sx, NULL), *yh = ad_constant(ctx, AD_FLOAT32, 1, sy, NULL);
    for (int64_t i = 0; i < ad_value(xh).size; i++) ad_set_value_at(xh, i, gsl_rng_uniform(rng));
    for (int64_t i = 0; i < B; i++) ad_set_value_at(yh, i, (double)gsl_rng_uniform_int(rng, 10));
    int reps = 200;
    /* the loss log on the device, received after the timed steps, as lenet receives it once an epoch */
    int64_t sl[1] = {reps};
    ad_tensor *log_host = ad_tensor_new(AD_FLOAT32, 1, sl), *log = log_host ? ad_gpu_tensor_to_device(log_host) : NULL;
    if (!log) die("the loss log");
    ad_mark mk = ad_context_mark(ctx);
    ad_gpu_counters c0 = {0};
    double t0 = 0;
    for (int r = -10; r < reps; r++) {
        if (r == 0) {
            ad_gpu_synchronize();
            t0 = ad_bench_now();
            c0 = ad_gpu_counters_now();
        }
        /* as lenet does it: send the batch, train, add the loss into the log */
        ad_node *x = ad_to_device(ctx, xh), *y = ad_to_device(ctx, yh);
        ad_node *loss = ad_cross_entropy(ctx, lenet_forward(&m, ctx, x), y, NULL, AD_REDUCE_MEAN, -1);
        if (!loss || ad_backward(ctx, loss) != AD_OK || ad_optimizer_step(opt) != AD_OK) die("lenet step");
        if (r >= 0 && ad_gpu_add_into(AD_FLOAT32, (float *)log->data + r, ad_value(loss).data, 1) != AD_OK)
            die("logging the loss");
        ad_optimizer_zero_grad(opt);
        ad_context_rewind(ctx, mk);
    }
    if (ad_gpu_synchronize() != AD_OK) die("lenet step");
    double s = (ad_bench_now() - t0) / reps;
    ad_gpu_counters c1 = ad_gpu_counters_now();
    if (ad_gpu_tensor_copy(log_host, log) != AD_OK) die("receiving the losses");
    for (int r = 0; r < reps; r++)
        if (!isfinite(ad_tensor_get(log_host, r))) die("a non-finite loss");
    printf("  batch %-4lld %8.3f ms per step %10.0f images/s  (%.2f s per 60,000-image epoch, without the test pass)\n",
           (long long)B, 1e3 * s, (double)B / s, 60000.0 / (double)B * s);
    printf("             per step: %.0f kernel launches, %.0f cuBLAS gemms, %.0f copies to the device, %.0f to the host "
           "(host syncs), %.0f on the device\n",
           (double)(c1.kernel_launches - c0.kernel_launches) / reps, (double)(c1.gemm_calls - c0.gemm_calls) / reps,
           (double)(c1.copies_to_device - c0.copies_to_device) / reps,
           (double)(c1.copies_to_host - c0.copies_to_host) / reps,
           (double)(c1.copies_on_device - c0.copies_on_device) / reps);
    ad_tensor_free(log), ad_tensor_free(log_host);
    ad_optimizer_free(opt);
    ad_context_free(ctx);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"lenet-only", no_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    bool lenet_only = false;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c != 'l') {
            fprintf(stderr, "usage: bench_gpu [--lenet-only]\n");
            return 2;
        }
        lenet_only = true;
    }
    if (optind < argc) {
        fprintf(stderr, "bench_gpu: unexpected argument '%s'\nusage: bench_gpu [--lenet-only]\n", argv[optind]);
        return 2;
    }
    if (!ad_gpu_available()) {
        printf("SKIP: no GPU benchmarks: %s\n", ad_last_error());
        return 77;
    }
    char info[256];
    printf("GPU: %s\n", ad_gpu_describe(info, sizeof info));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    if (!lenet_only) {
        bench_matmul(rng);
        printf("\nconv2d, float32 (im2col + one cuBLAS SGEMM per pass); GFLOP/s counts 2·N·K·P·Q·C·R·S per pass\n");
        printf("  %-44s %12s %16s %12s %16s\n", "layer", "forward", "", "fwd+bwd", "(3 passes)");
        for (int64_t B = 64; B <= 256; B *= 4) {
            int64_t x1[] = {B, 1, 28, 28}, w1[] = {6, 1, 5, 5}, x2[] = {B, 6, 14, 14}, w2[] = {16, 6, 5, 5};
            char l1[64], l2[64];
            snprintf(l1, sizeof l1, "conv1 x (%lld,1,28,28) w (6,1,5,5) pad 2", (long long)B);
            snprintf(l2, sizeof l2, "conv2 x (%lld,6,14,14) w (16,6,5,5)", (long long)B);
            bench_conv(rng, l1, x1, w1, 2);
            bench_conv(rng, l2, x2, w2, 0);
        }
        int64_t xb[] = {64, 64, 56, 56}, wb[] = {64, 64, 3, 3};
        bench_conv(rng, "x (64,64,56,56) w (64,64,3,3) pad 1", xb, wb, 1);
    }
    printf("\nLeNet-5 training step on the GPU (send batch, forward, backward, Adam, log the loss), float32\n");
    bench_lenet_step(rng, 64);
    bench_lenet_step(rng, 256);
    gsl_rng_free(rng);
    return 0;
}
