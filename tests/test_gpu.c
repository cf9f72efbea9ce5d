/* test_gpu.c: the CUDA backend.
 *
 * Without a GPU (or in a build without CUDA) the GPU tests cannot run: the
 * program prints why and exits 77, which meson reports as SKIP. What does run
 * everywhere: the error a program gets when it asks for the GPU anyway. */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
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
        r->nin[s] = leaf[s]->value.size;
        if (!nondiff) assert_int_equal(ad_set_tangent(leaf[s], 0, tan_vals_flat + off, -1), AD_OK);
        off += leaf[s]->value.size;
        in[s] = gpu ? ad_to_device(ctx, leaf[s]) : leaf[s];
        if (!in[s]) fail_msg("%s: to_device: %s", op->name, ad_last_error());
    }
    ad_node *y = ad_apply(ctx, op, in, c->n_in, &c->params);
    if (y && gpu) y = ad_to_host(ctx, y);
    if (!y) fail_msg("%s (%s) on the %s: %s", op->name, c->label, gpu ? "GPU" : "CPU", ad_last_error());
    r->ny = y->value.size;
    if (r->ny > n_cot) fail_msg("%s (%s): output of %lld elements, the test has %lld cotangent values", op->name, c->label,
                                (long long)r->ny, (long long)n_cot);
    r->y = malloc((size_t)r->ny * sizeof(double));
    r->t = malloc((size_t)r->ny * sizeof(double));
    for (int64_t i = 0; i < r->ny; i++) {
        r->y[i] = ad_value_at(y, i);
        r->t[i] = ad_tangent_at(y, 0, i);
    }
    ad_tensor *ct = ad_tensor_from(dt, y->value.ndim, y->value.shape, cot);
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
                 * float32: float rounding, and atomics summing in any order. */
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

int main(void)
{
    const struct CMUnitTest no_gpu[] = {cmocka_unit_test(test_no_gpu_is_a_clear_error)};
    const struct CMUnitTest gpu[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_copy_shape_mismatch),
        cmocka_unit_test(test_allocator_reuses_blocks),
        cmocka_unit_test(test_every_cuda_op_matches_cpu),
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
