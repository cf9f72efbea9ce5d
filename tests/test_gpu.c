/* test_gpu.c: the CUDA backend.
 *
 * Without a GPU (or in a build without CUDA) the GPU tests cannot run: the
 * program prints why and exits 77, which meson reports as SKIP. What does run
 * everywhere: the error a program gets when it asks for the GPU anyway. */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include "ad_gradcheck.h"
#include "ad_test.h"
#include "autodidact.h"

/* Asking for the GPU where there is none is an AD_ERR_DEVICE error that says why. */
static void test_no_gpu_is_a_clear_error(void **state)
{
    (void)state;
    if (ad_gpu_available()) skip();
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_non_null(strstr(ad_last_error(), ad_gpu_built() ? "no GPU found" : "built without CUDA"));
    ad_clear_error();
    assert_null(ad_gpu_malloc(64));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    int64_t shape[1] = {3};
    ad_tensor *h = ad_tensor_from(AD_FLOAT64, 1, shape, (double[]){1, 2, 3});
    ad_clear_error();
    assert_null(ad_gpu_tensor_to_device(h));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    char info[256];
    assert_int_equal(ad_gpu_device_info(info, sizeof info), AD_ERR_DEVICE);
    assert_true(strlen(info) > 0);
    ad_tensor_free(h);
    /* The graph-level send is refused the same way, and a NULL input keeps the earlier error. */
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT32, 1, shape, (double[]){1, 2, 3});
    ad_clear_error();
    assert_null(ad_to_device(ctx, x));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_null(ad_to_host(ctx, NULL));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_int_equal(ad_context_node_count(ctx), 1);   /* nothing half-made left behind */
    /* Parameters cannot be sent either, and gradcheck on the GPU says why. */
    ad_clear_error();
    assert_null(ad_leaf_to_device(ctx, x));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_int_equal(ad_context_node_count(ctx), 1);
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.device = AD_CUDA;
    ad_gc_report r = {0};
    ad_clear_error();
    assert_int_equal(ad_gradcheck_op(&ad_op_add, &o, &r), AD_ERR_DEVICE);
    assert_int_equal(r.n, 0);
    ad_gc_report_free(&r);
    ad_context_free(ctx);
}

/* Send, receive: the values come back bit for bit, in both dtypes. */
static void test_round_trip(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 5};
    double v[15];
    for (int i = 0; i < 15; i++) v[i] = 0.1 * i - 0.7;
    for (int dt = AD_FLOAT64; dt <= AD_FLOAT32; dt++) {
        ad_tensor *h = ad_tensor_from((ad_dtype)dt, 2, shape, v);
        ad_tensor *d = ad_gpu_tensor_to_device(h);
        assert_non_null(d);
        assert_int_equal(d->device, AD_CUDA);
        ad_tensor *back = ad_gpu_tensor_to_host(d);
        assert_non_null(back);
        assert_int_equal(back->device, AD_CPU);
        assert_memory_equal(back->data, h->data, 15 * ad_dtype_size((ad_dtype)dt));
        ad_tensor_free(back);
        ad_tensor_free(d);
        ad_tensor_free(h);
    }
}

/* The counters count what ran: one launch for an elementwise op, one gemm
 * for a matmul, one copy each way for a send and a receive. */
static void test_counters_count_what_ran(void **state)
{
    (void)state;
    int64_t shape[2] = {2, 2};
    ad_context *ctx = ad_context_new();
    ad_set_grad_enabled(ctx, false);
    ad_node *xh = ad_constant(ctx, AD_FLOAT32, 2, shape, (double[]){1, 2, 3, 4});
    ad_gpu_counters c0 = ad_gpu_counters_now();
    ad_node *x = ad_to_device(ctx, xh);
    ad_gpu_counters c1 = ad_gpu_counters_now();
    assert_int_equal(c1.copies_to_device - c0.copies_to_device, 1);
    assert_int_equal(c1.copies_to_host - c0.copies_to_host, 0);
    ad_node *y = ad_mul(ctx, x, x);
    ad_gpu_counters c2 = ad_gpu_counters_now();
    assert_int_equal(c2.kernel_launches - c1.kernel_launches, 1);
    assert_int_equal(c2.gemm_calls - c1.gemm_calls, 0);
    ad_node *z = ad_matmul(ctx, y, x);
    ad_gpu_counters c3 = ad_gpu_counters_now();
    assert_int_equal(c3.gemm_calls - c2.gemm_calls, 1);
    ad_node *zh = ad_to_host(ctx, z);
    ad_gpu_counters c4 = ad_gpu_counters_now();
    assert_int_equal(c4.copies_to_host - c3.copies_to_host, 1);
    assert_int_equal(c4.kernel_launches - c3.kernel_launches, 0);
    /* (x∘x)·x = [[1,4],[9,16]]·[[1,2],[3,4]] */
    assert_close(ad_value_at(zh, 0), 13, 0);
    assert_close(ad_value_at(zh, 3), 82, 0);
    ad_context_free(ctx);
}

/* A sum over a long axis takes the one-block path (a block per output,
 * its threads summing strided, then a tree): it matches the CPU's. */
static void test_long_reductions_match_cpu(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 1000};
    ad_context *ctx = ad_context_new();
    ad_set_grad_enabled(ctx, false);
    ad_node *xh = ad_constant(ctx, AD_FLOAT64, 2, shape, NULL);
    for (int64_t i = 0; i < 3000; i++) ad_set_value_at(xh, i, sin(0.37 * (double)i));
    for (int axis = -1; axis <= 1; axis++) {   /* all, rows (len 3: the thread path), columns (len 1000) */
        ad_node *cpu = ad_sum(ctx, xh, axis < 0 ? AD_ALL_AXES : axis, false);
        ad_node *gpu = ad_to_host(ctx, ad_sum(ctx, ad_to_device(ctx, xh), axis < 0 ? AD_ALL_AXES : axis, false));
        assert_non_null(gpu);
        assert_int_equal(ad_value(gpu).size, ad_value(cpu).size);
        for (int64_t i = 0; i < ad_value(cpu).size; i++) assert_close(ad_value_at(gpu, i), ad_value_at(cpu, i), 1e-11);
    }
    ad_context_free(ctx);
}

/* A send queues its copy from a ring of page-locked staging buffers and
 * does not wait for the device: six sends in a row (the ring has four), each
 * different, arrive intact. (The CPU emulation runs a queued copy as late as
 * CUDA may, reading the staging buffer then: one refilled too early shows.) */
static void test_sends_in_a_row_arrive_intact(void **state)
{
    (void)state;
    enum { SENDS = 6, N = 300000 };   /* 1.2 MB each: a size class the cache is emptied of first */
    ad_gpu_cache_release();
    int64_t shape[1] = {N};
    ad_context *ctx = ad_context_new();
    ad_set_grad_enabled(ctx, false);
    ad_node *h[SENDS], *d[SENDS];
    for (int i = 0; i < SENDS; i++) {
        h[i] = ad_constant(ctx, AD_FLOAT32, 1, shape, NULL);
        for (int64_t j = 0; j < N; j += 997) ad_set_value_at(h[i], j, (double)(i + 1));
    }
    ad_gpu_counters c0 = ad_gpu_counters_now();
    for (int i = 0; i < SENDS; i++) assert_non_null(d[i] = ad_to_device(ctx, h[i]));
    ad_gpu_counters c1 = ad_gpu_counters_now();
    assert_int_equal(c1.copies_to_device - c0.copies_to_device, SENDS);
    assert_int_equal(c1.copies_to_host - c0.copies_to_host, 0);
    for (int i = 0; i < SENDS; i++) {
        ad_node *back = ad_to_host(ctx, d[i]);
        assert_non_null(back);
        for (int64_t j = 0; j < N; j += 997) assert_close(ad_value_at(back, j), (double)(i + 1), 0);
        assert_close(ad_value_at(back, 1), 0, 0);
    }
    ad_context_free(ctx);
}

/* A mismatched copy is a shape error naming both shapes. */
static void test_copy_shape_mismatch(void **state)
{
    (void)state;
    int64_t a[2] = {2, 3}, b[1] = {6};
    ad_tensor *h = ad_tensor_new(AD_FLOAT32, 2, a);
    ad_tensor *h2 = ad_tensor_new(AD_FLOAT32, 1, b);
    ad_tensor *d = ad_gpu_tensor_to_device(h2);
    assert_non_null(d);
    assert_int_equal(ad_gpu_tensor_copy(d, h), AD_ERR_SHAPE);
    assert_non_null(strstr(ad_last_error(), "(2,3)"));
    assert_non_null(strstr(ad_last_error(), "(6)"));
    ad_tensor_free(d);
    ad_tensor_free(h);
    ad_tensor_free(h2);
}

/* The cache hands a freed block out again instead of calling cudaMalloc. */
static void test_allocator_reuses_blocks(void **state)
{
    (void)state;
    ad_gpu_mem_stats s0 = ad_gpu_memory_stats();
    void *p = ad_gpu_malloc(1000);
    assert_non_null(p);
    ad_gpu_mem_stats s1 = ad_gpu_memory_stats();
    assert_int_equal(s1.in_use_bytes - s0.in_use_bytes, 1024);   /* rounded to its size class */
    ad_gpu_free(p);
    void *q = ad_gpu_malloc(900);                                 /* same class */
    assert_ptr_equal(q, p);
    ad_gpu_mem_stats s2 = ad_gpu_memory_stats();
    assert_int_equal(s2.cache_hits, s1.cache_hits + 1);
    assert_int_equal(s2.cuda_mallocs, s1.cuda_mallocs);
    ad_gpu_free(q);
    assert_int_equal(ad_gpu_cache_release(), AD_OK);
    assert_int_equal(ad_gpu_memory_stats().cached_bytes, 0);
    /* Far more than any GPU has: out of memory is an engine error, not a crash. */
    ad_clear_error();
    assert_null(ad_gpu_malloc((size_t)1 << 46));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_non_null(strstr(ad_last_error(), "gpu_malloc"));
}

/* ---- every op with a CUDA kernel: CPU and GPU on the same inputs ----
 * One run per device: leaves on the CPU; on the GPU path they are sent
 * (to_device), the op runs on the GPU, and the result is received (to_host),
 * so backward and forward mode cross the copies too. Compared: the value,
 * each input's vjp (leaf grads, from one random cotangent) and the jvp (one
 * random tangent direction). */
typedef struct run_result {
    double *y, *t;              /* value and tangent of the output */
    double *g[AD_MAX_INPUTS];   /* each input's gradient */
    int64_t ny, nin[AD_MAX_INPUTS];
} run_result;

static void run_op(const ad_op *op, const ad_op_case *c, ad_dtype dt, double *const *vals, const double *tan_vals_flat,
                   const double *cot, int64_t n_cot, bool gpu, run_result *r)
{
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *leaf[AD_MAX_INPUTS], *in[AD_MAX_INPUTS];
    int64_t off = 0;
    for (int s = 0; s < c->n_in; s++) {
        bool nondiff = (op->nondiff_inputs >> s) & 1u;
        leaf[s] = nondiff ? ad_constant(ctx, dt, c->ndim[s], c->shape[s], vals[s])
                          : ad_variable(ctx, dt, c->ndim[s], c->shape[s], vals[s]);
        assert_non_null(leaf[s]);
        r->nin[s] = ad_value(leaf[s]).size;
        if (!nondiff) assert_int_equal(ad_set_tangent(leaf[s], 0, tan_vals_flat + off, -1), AD_OK);
        off += ad_value(leaf[s]).size;
        in[s] = gpu ? ad_to_device(ctx, leaf[s]) : leaf[s];
        if (!in[s]) fail_msg("%s: to_device: %s", op->name, ad_last_error());
    }
    ad_node *y = ad_apply(ctx, op, in, c->n_in, &c->params);
    if (y && gpu) y = ad_to_host(ctx, y);
    if (!y) fail_msg("%s (%s) on the %s: %s", op->name, c->label, gpu ? "GPU" : "CPU", ad_last_error());
    r->ny = ad_value(y).size;
    if (r->ny > n_cot) fail_msg("%s (%s): output of %lld elements, the test has %lld cotangent values", op->name, c->label,
                                (long long)r->ny, (long long)n_cot);
    r->y = malloc((size_t)r->ny * sizeof(double));
    r->t = malloc((size_t)r->ny * sizeof(double));
    for (int64_t i = 0; i < r->ny; i++) {
        r->y[i] = ad_value_at(y, i);
        r->t[i] = ad_tangent_at(y, 0, i);
    }
    ad_tensor *ct = ad_tensor_from(dt, ad_value(y).ndim, ad_value(y).shape, cot);
    ad_backward_opts o = {AD_BACKWARD_PUSH, ct, NULL, NULL};
    if (ad_requires_grad(y) && ad_backward_ex(ctx, y, &o) != AD_OK)
        fail_msg("%s (%s) backward on the %s: %s", op->name, c->label, gpu ? "GPU" : "CPU", ad_last_error());
    for (int s = 0; s < c->n_in; s++) {
        r->g[s] = malloc((size_t)r->nin[s] * sizeof(double));
        for (int64_t i = 0; i < r->nin[s]; i++) r->g[s][i] = ad_grad_at(leaf[s], i);
    }
    ad_tensor_free(ct);
    ad_context_free(ctx);
}

static void free_result(run_result *r, int n_in)
{
    free(r->y);
    free(r->t);
    for (int s = 0; s < n_in; s++) free(r->g[s]);
}

static void assert_all_close(const char *what, const ad_op *op, const ad_op_case *c, const double *gpu,
                             const double *cpu, int64_t n, double rtol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(gpu[i] - cpu[i]) <= rtol * (1.0 + fabs(cpu[i]))))
            fail_msg("%s (%s) %s[%lld]: GPU %.17g, CPU %.17g", op->name, c->label, what, (long long)i, gpu[i], cpu[i]);
}

static void test_every_cuda_op_matches_cpu(void **state)
{
    (void)state;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 20261124);
    int checked = 0;
    for (int i = 0; i < ad_op_count(); i++) {
        const ad_op *op = ad_op_at(i);
        if (!op->cuda) continue;
        for (int ci = 0; ci < op->n_cases; ci++) {
            const ad_op_case *c = &op->cases[ci];
            for (int dt = AD_FLOAT64; dt <= AD_FLOAT32; dt++) {
                double *vals[AD_MAX_INPUTS] = {0};
                int64_t total = 0;
                for (int s = 0; s < c->n_in; s++) {
                    int64_t size;
                    assert_int_equal(ad_shape_check("test", c->ndim[s], c->shape[s], &size), AD_OK);
                    vals[s] = malloc((size_t)size * sizeof(double));
                    ad_domain d = op->domain[s];
                    if (d.lo == 0 && d.hi == 0) d = (ad_domain){-2, 2};
                    if (op->sample_input) {
                        ad_tensor *t = ad_tensor_new(AD_FLOAT64, c->ndim[s], c->shape[s]);
                        op->sample_input(c, s, t, rng);
                        ad_tensor_copy_out(t, vals[s], size);
                        ad_tensor_free(t);
                    }
                    if (!op->sample_input || !((op->nondiff_inputs >> s) & 1u))
                        for (int64_t k = 0; k < size; k++) vals[s][k] = d.lo + (d.hi - d.lo) * gsl_rng_uniform(rng);
                    total += size;
                }
                double *tan = malloc((size_t)total * sizeof(double));
                for (int64_t k = 0; k < total; k++) tan[k] = gsl_rng_uniform(rng) - 0.5;
                double cot[4096];
                for (int k = 0; k < 4096; k++) cot[k] = gsl_rng_uniform(rng) - 0.5;
                run_result rc = {0}, rg = {0};
                run_op(op, c, (ad_dtype)dt, vals, tan, cot, 4096, false, &rc);
                run_op(op, c, (ad_dtype)dt, vals, tan, cot, 4096, true, &rg);
                /* float64: the same double arithmetic, different order at most;
                 * float32: float rounding (both compute in double, store in float). */
                double rtol = dt == AD_FLOAT64 ? 1e-12 : 1e-5;
                assert_int_equal(rg.ny, rc.ny);
                assert_all_close("forward", op, c, rg.y, rc.y, rc.ny, rtol);
                assert_all_close("jvp", op, c, rg.t, rc.t, rc.ny, rtol);
                for (int s = 0; s < c->n_in; s++) assert_all_close("vjp", op, c, rg.g[s], rc.g[s], rc.nin[s], rtol);
                free_result(&rc, c->n_in);
                free_result(&rg, c->n_in);
                for (int s = 0; s < c->n_in; s++) free(vals[s]);
                free(tan);
                checked++;
            }
        }
    }
    gsl_rng_free(rng);
    print_message("%d op cases compared CPU vs GPU (forward, vjp, jvp; float64 and float32)\n", checked);
    assert_true(checked >= 2 * (6 * 5 + 10 * 4));   /* at least the elementwise ops' cases */
}

/* ---- parameters on the GPU, and the optimizer steps there ----
 * w (5) float64, loss = mse(w, c): five steps of SGD with momentum and of
 * Adam from the same start on both devices give the same weights. */
static void train_quadratic(bool gpu, bool adam, double *w_out)
{
    ad_context *ctx = ad_context_new();
    int64_t shape[1] = {5};
    double w0[5] = {0.5, -1, 2, 0.25, -0.75}, c[5] = {1, 2, -1, 0, 0.5};
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 1, shape, w0), *cn = ad_constant(ctx, AD_FLOAT64, 1, shape, c);
    if (gpu) {
        w = ad_leaf_to_device(ctx, w);
        cn = ad_to_device(ctx, cn);
        assert_non_null(w);
        assert_non_null(cn);
        assert_int_equal(ad_value(w).device, AD_CUDA);
        assert_true(ad_requires_grad(w));
    }
    ad_optimizer *opt = adam ? ad_adam_new(&w, 1, 0.1, 0.9, 0.999, 1e-8) : ad_sgd_new(&w, 1, 0.1, 0.9);
    assert_non_null(opt);
    ad_mark mk = ad_context_mark(ctx);
    for (int step = 0; step < 5; step++) {
        ad_node *loss = ad_mse(ctx, w, cn);
        assert_non_null(loss);
        assert_int_equal(ad_backward(ctx, loss), AD_OK);
        assert_int_equal(ad_optimizer_step(opt), AD_OK);
        ad_optimizer_zero_grad(opt);
        assert_int_equal(ad_context_rewind(ctx, mk), AD_OK);
    }
    ad_node *wh = gpu ? ad_to_host(ctx, w) : w;
    assert_non_null(wh);
    for (int i = 0; i < 5; i++) w_out[i] = ad_value_at(wh, i);
    ad_optimizer_free(opt);
    ad_context_free(ctx);
}

static void test_optimizers_on_gpu_match_cpu(void **state)
{
    (void)state;
    for (int adam = 0; adam <= 1; adam++) {
        double cpu[5], gpu[5];
        train_quadratic(false, adam, cpu);
        train_quadratic(true, adam, gpu);
        for (int i = 0; i < 5; i++) assert_close(gpu[i], cpu[i], 1e-12 * (1 + fabs(cpu[i])));
        /* and they moved: the steps ran */
        assert_true(fabs(cpu[0] - 0.5) > 0.05);
    }
}

/* A small CNN in float32, three Adam steps, on both devices: the losses
 * and the final weights agree to float32 rounding. The network is LeNet's
 * shape in miniature: conv, relu, max-pool, flatten, linear, cross-entropy. */
static void train_small_cnn(bool gpu, double *losses, double *w_out, int64_t n_w)
{
    ad_context *ctx = ad_context_new();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    int64_t sx[] = {4, 1, 8, 8}, sy[] = {4}, sk[] = {3, 1, 3, 3}, sb[] = {3}, sf[] = {5, 48}, sfb[] = {5};
    double xv[256], yv[4] = {0, 3, 1, 4}, kv[27], bv[3] = {0.1, -0.1, 0}, fv[240], fbv[5] = {0};
    for (int i = 0; i < 256; i++) xv[i] = gsl_rng_uniform(rng) - 0.5;
    for (int i = 0; i < 27; i++) kv[i] = (gsl_rng_uniform(rng) - 0.5) * 0.8;
    for (int i = 0; i < 240; i++) fv[i] = (gsl_rng_uniform(rng) - 0.5) * 0.4;
    ad_node *p[4] = {ad_variable(ctx, AD_FLOAT32, 4, sk, kv), ad_variable(ctx, AD_FLOAT32, 1, sb, bv),
                     ad_variable(ctx, AD_FLOAT32, 2, sf, fv), ad_variable(ctx, AD_FLOAT32, 1, sfb, fbv)};
    ad_node *x = ad_constant(ctx, AD_FLOAT32, 4, sx, xv), *y = ad_constant(ctx, AD_FLOAT32, 1, sy, yv);
    if (gpu) {
        for (int i = 0; i < 4; i++) assert_non_null(p[i] = ad_leaf_to_device(ctx, p[i]));
        assert_non_null(x = ad_to_device(ctx, x));
        assert_non_null(y = ad_to_device(ctx, y));
    }
    ad_optimizer *opt = ad_adam_new(p, 4, 0.01, 0.9, 0.999, 1e-8);
    ad_mark mk = ad_context_mark(ctx);
    for (int step = 0; step < 3; step++) {
        ad_node *h = ad_maxpool2d(ctx, ad_relu(ctx, ad_conv2d(ctx, x, p[0], p[1], 1, 1)), 2, 2);   /* (4,3,4,4) */
        ad_node *loss = ad_cross_entropy(ctx, ad_linear(ctx, ad_flatten(ctx, h), p[2], p[3]), y, NULL, AD_REDUCE_MEAN, -1);
        if (!loss) fail_msg("small CNN on the %s: %s", gpu ? "GPU" : "CPU", ad_last_error());
        assert_int_equal(ad_backward(ctx, loss), AD_OK);
        assert_int_equal(ad_optimizer_step(opt), AD_OK);
        ad_node *lh = gpu ? ad_to_host(ctx, loss) : loss;
        losses[step] = ad_value_scalar(lh);
        ad_optimizer_zero_grad(opt);
        ad_context_rewind(ctx, mk);
    }
    ad_node *wh = gpu ? ad_to_host(ctx, p[2]) : p[2];
    for (int64_t i = 0; i < n_w; i++) w_out[i] = ad_value_at(wh, i);
    ad_optimizer_free(opt);
    gsl_rng_free(rng);
    ad_context_free(ctx);
}

static void test_small_cnn_trains_the_same_on_both(void **state)
{
    (void)state;
    double lc[3], lg[3], wc[240], wg[240];
    train_small_cnn(false, lc, wc, 240);
    train_small_cnn(true, lg, wg, 240);
    for (int s = 0; s < 3; s++) assert_close(lg[s], lc[s], 1e-5 * (1 + fabs(lc[s])));
    assert_true(lc[2] < lc[0]);   /* it learns */
    for (int i = 0; i < 240; i++) assert_close(wg[i], wc[i], 1e-5 * (1 + fabs(wc[i])));
}

/* gradcheck --device cuda, through the library: every registered op, every
 * default case, all checks on the GPU in float64 plus the CPU-vs-GPU ones. */
static void test_gradcheck_every_op_on_gpu(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.device = AD_CUDA;
    ad_gc_report r = {0};
    int ops = 0, device_checks = 0;
    for (int i = 0; i < ad_op_count(); i++) {
        if (ad_gradcheck_op(ad_op_at(i), &o, &r) != AD_OK) fail_msg("gradcheck %s on the GPU: %s", ad_op_at(i)->name, ad_last_error());
        ops++;
    }
    for (int k = 0; k < r.n; k++) device_checks += r.rec[k].check >= AD_GC_DEVICE_FORWARD;
    if (r.n_fail) {
        ad_gc_write(stdout, &r, AD_GC_TEXT);
        fail_msg("%d of %d GPU checks failed", r.n_fail, r.n);
    }
    print_message("%d ops, %d checks on the GPU, %d of them CPU-vs-GPU\n", ops, r.n, device_checks);
    assert_int_equal(ops, AD_OP_COUNT);
    assert_true(device_checks >= 3 * AD_OP_COUNT);
    ad_gc_report_free(&r);
}

/* Check-finite mode traces a NaN made on the GPU to its op; a bad class
 * index on the GPU is the same clear error as on the CPU. */
static void test_gpu_errors_name_the_op(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    int64_t shape[1] = {3};
    ad_node *x = ad_to_device(ctx, ad_constant(ctx, AD_FLOAT64, 1, shape, (double[]){1, -2, 3}));
    assert_non_null(x);
    ad_clear_error();
    assert_null(ad_log(ctx, x));
    assert_int_equal(ad_last_status(), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "log"));
    assert_non_null(strstr(ad_last_error(), "[1]"));
    assert_non_null(strstr(ad_last_error(), "on the GPU"));
    ad_context_free(ctx);
}

/* Targets on the GPU are checked by the forward kernel, not copied to the
 * host (a wait for the device every step): a bad one is the op's error at
 * the next copy to the host, named as on the CPU, the loss is NaN, and the
 * error is reported once. */
static ad_node *gpu_ce(ad_context *ctx, const double *targets, const double *weights, int red, int64_t ignore)
{
    int64_t sl[2] = {2, 3}, st[1] = {2}, sw[1] = {3};
    ad_node *logits = ad_to_device(ctx, ad_constant(ctx, AD_FLOAT32, 2, sl, (double[]){1, 2, 3, 4, 5, 6}));
    ad_node *t = ad_to_device(ctx, ad_constant(ctx, AD_FLOAT32, 1, st, targets));
    ad_node *w = weights ? ad_to_device(ctx, ad_constant(ctx, AD_FLOAT32, 1, sw, weights)) : NULL;
    ad_node *loss = ad_cross_entropy(ctx, logits, t, w, red, ignore);
    assert_non_null(loss);
    return loss;
}

static void test_gpu_bad_targets_reported_at_receive(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_gpu_counters c0 = ad_gpu_counters_now();
    ad_node *loss = gpu_ce(ctx, (double[]){2, 7}, NULL, AD_REDUCE_MEAN, -1);
    ad_gpu_counters c1 = ad_gpu_counters_now();
    assert_int_equal(c1.copies_to_host - c0.copies_to_host, 0);   /* no wait for the device to check them */
    ad_clear_error();
    assert_null(ad_to_host(ctx, loss));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "cross_entropy: target 7 at [1] is not a class index in 0..2"));
    assert_non_null(strstr(ad_last_error(), "found on the GPU"));
    /* reported once: the loss itself comes back, NaN */
    ad_node *h = ad_to_host(ctx, loss);
    assert_non_null(h);
    assert_true(isnan(ad_value_scalar(h)));
    /* a fractional target, a negative one, NaN */
    for (int i = 0; i < 3; i++) {
        double bad[3] = {1.5, -2, NAN};   /* (-1 is ignore_index here: ignored, as on the CPU) */
        ad_node *l = gpu_ce(ctx, (double[]){0, bad[i]}, NULL, AD_REDUCE_SUM, -1);
        ad_clear_error();
        if (ad_to_host(ctx, l)) fail_msg("bad target %g came back without an error", bad[i]);
        assert_non_null(strstr(ad_last_error(), "at [1] is not a class index in 0..2"));
    }
    /* the ignored target is no error; a negative class weight is; all ignored under mean is */
    ad_node *ok = ad_to_host(ctx, gpu_ce(ctx, (double[]){2, 7}, NULL, AD_REDUCE_MEAN, 7));
    assert_non_null(ok);
    double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
    assert_close(ad_value_scalar(ok), lse - 3, 1e-6);
    ad_node *neg = gpu_ce(ctx, (double[]){0, 1}, (double[]){1, -2, 1}, AD_REDUCE_MEAN, -1);
    ad_clear_error();
    assert_int_equal(ad_gpu_synchronize(), AD_ERR_ARG);   /* a synchronize reports it too */
    assert_non_null(strstr(ad_last_error(), "cross_entropy: class weight -2 of the target at [1] is negative"));
    (void)neg;
    ad_node *all = gpu_ce(ctx, (double[]){1, 1}, NULL, AD_REDUCE_MEAN, 1);
    ad_clear_error();
    assert_null(ad_to_host(ctx, all));
    assert_non_null(strstr(ad_last_error(), "every target is ignored"));
    /* the first bad sample is the one named, as on the CPU */
    int64_t sl[2] = {300, 2}, st[1] = {300};
    double *tv = calloc(300, sizeof(double));
    tv[299] = 5, tv[260] = 9, tv[17] = 3;
    ad_node *big = ad_cross_entropy(ctx, ad_to_device(ctx, ad_constant(ctx, AD_FLOAT64, 2, sl, NULL)),
                                    ad_to_device(ctx, ad_constant(ctx, AD_FLOAT64, 1, st, tv)), NULL, AD_REDUCE_MEAN, -1);
    free(tv);
    ad_clear_error();
    assert_null(ad_to_host(ctx, big));
    assert_non_null(strstr(ad_last_error(), "target 3 at [17] is not a class index in 0..1"));
    ad_context_free(ctx);
    /* check-finite mode copies each output to the host: the op itself fails, with the same message */
    ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    int64_t sl2[2] = {2, 3}, st2[1] = {2};
    ad_node *logits = ad_to_device(ctx, ad_constant(ctx, AD_FLOAT32, 2, sl2, (double[]){1, 2, 3, 4, 5, 6}));
    ad_node *t = ad_to_device(ctx, ad_constant(ctx, AD_FLOAT32, 1, st2, (double[]){2, 7}));
    ad_clear_error();
    assert_null(ad_cross_entropy(ctx, logits, t, NULL, AD_REDUCE_MEAN, -1));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "cross_entropy: target 7 at [1] is not a class index in 0..2"));
    ad_context_free(ctx);
}

/* A build with CUDA has a CUDA kernel (forward, vjp, jvp) for every op in
 * the registry; a build without has none. Runs with or without a GPU. */
static void test_every_op_has_cuda_kernels(void **state)
{
    (void)state;
    for (int i = 0; i < AD_OP_COUNT; i++) {
        const ad_op *op = ad_op_at(i);
        if (!ad_gpu_built()) {
            assert_null(op->cuda);
            continue;
        }
        if (!op->cuda || !op->cuda->forward || !op->cuda->vjp || !op->cuda->jvp)
            fail_msg("op %s has no complete set of CUDA kernels", op->name);
    }
}

int main(void)
{
    const struct CMUnitTest no_gpu[] = {cmocka_unit_test(test_no_gpu_is_a_clear_error),
                                        cmocka_unit_test(test_every_op_has_cuda_kernels)};
    const struct CMUnitTest gpu[] = {
        cmocka_unit_test(test_every_op_has_cuda_kernels),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_counters_count_what_ran),
        cmocka_unit_test(test_long_reductions_match_cpu),
        cmocka_unit_test(test_sends_in_a_row_arrive_intact),
        cmocka_unit_test(test_copy_shape_mismatch),
        cmocka_unit_test(test_allocator_reuses_blocks),
        cmocka_unit_test(test_every_cuda_op_matches_cpu),
        cmocka_unit_test(test_optimizers_on_gpu_match_cpu),
        cmocka_unit_test(test_small_cnn_trains_the_same_on_both),
        cmocka_unit_test(test_gpu_errors_name_the_op),
        cmocka_unit_test(test_gpu_bad_targets_reported_at_receive),
        cmocka_unit_test(test_gradcheck_every_op_on_gpu),
    };
    if (!ad_gpu_available()) {
        char why[512];
        snprintf(why, sizeof why, "%s", ad_last_error());
        int failed = cmocka_run_group_tests(no_gpu, NULL, NULL);
        if (failed) return 1;
        printf("SKIP: GPU tests not run: %s\n", why);
        return 77;   /* meson: skipped */
    }
    char info[256];
    ad_gpu_device_info(info, sizeof info);
    printf("# GPU: %s\n", info);
    return cmocka_run_group_tests(gpu, NULL, NULL);
}
