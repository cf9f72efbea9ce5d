/* test_gpu.c: the CUDA backend.
 *  - built without CUDA: every ad_gpu_* call fails cleanly, saying so;
 *  - built with CUDA, no GPU: the calls fail cleanly naming why, and the
 *    CPU-vs-GPU comparison is skipped (exit 77, which meson reports as SKIP);
 *  - with a GPU: every unary elementwise op's forward and vjp on the GPU
 *    against the CPU's, float64, to 1e-12 (and float32 to 1e-5). */
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_gpu.h"
#include "autodidact.h"

static const char *const unary_ops[] = {"neg", "scale", "pow", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs"};

static void test_without_gpu_fails_cleanly(void **state)
{
    (void)state;
    int64_t s[] = {4};
    ad_tensor *t = ad_tensor_new(AD_FLOAT64, 1, s);
    ad_clear_error();
    assert_null(ad_gpu_to_device(t));
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_true(strstr(ad_last_error(), "no CUDA backend") || strstr(ad_last_error(), "no GPU found"));
    assert_int_equal(ad_gpu_unary_forward("exp", 0, t, t), ad_gpu_built() ? AD_ERR_ARG : AD_ERR_DEVICE);
    ad_tensor_free(t);
}

static void test_cpu_vs_gpu(void **state)
{
    (void)state;
    int64_t s[] = {1000};
    for (size_t k = 0; k < sizeof unary_ops / sizeof unary_ops[0]; k++)
        for (int dt = 0; dt < 2; dt++) {
            const ad_op *op = ad_op_find(unary_ops[k]);
            double c = !strcmp(unary_ops[k], "pow") ? 2.5 : 1.5;
            ad_dtype d = dt ? AD_FLOAT32 : AD_FLOAT64;
            ad_context *ctx = ad_context_new();
            ad_node *x = ad_variable(ctx, d, 1, s, NULL);
            for (int64_t i = 0; i < 1000; i++) ad_tensor_set(&x->value, i, op->domain[0].lo + (op->domain[0].hi - op->domain[0].lo) * (i + 0.5) / 1000);
            ad_node *in[1] = {x};
            ad_params p = {.c = c};
            ad_node *y = ad_apply(ctx, op, in, 1, &p);
            ad_tensor *gy = ad_tensor_new(d, 1, s);
            for (int64_t i = 0; i < 1000; i++) ad_tensor_set(gy, i, 0.001 * i - 0.3);
            ad_backward_opts o = {.cotangent = gy};
            assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
            ad_tensor xv = ad_value(x), yv = ad_value(y);
            ad_tensor *dx = ad_gpu_to_device(&xv), *dy = ad_gpu_to_device(&yv), *dgy = ad_gpu_to_device(gy);
            ad_tensor *dgx = ad_gpu_to_device(gy), *host = ad_tensor_new(d, 1, s);
            assert_non_null(dgx);
            assert_int_equal(ad_gpu_unary_forward(unary_ops[k], c, dx, dy), AD_OK);
            assert_int_equal(ad_gpu_to_host(dy, host), AD_OK);
            double tol = dt ? 1e-5 : 1e-12;
            for (int64_t i = 0; i < 1000; i++) assert_close(ad_tensor_get(host, i), ad_value_at(y, i), tol * (1 + fabs(ad_value_at(y, i))));
            /* gx starts as gy on the device: the kernel must add to it */
            assert_int_equal(ad_gpu_unary_vjp(unary_ops[k], c, dx, dy, dgy, dgx), AD_OK);
            assert_int_equal(ad_gpu_to_host(dgx, host), AD_OK);
            for (int64_t i = 0; i < 1000; i++) {
                double want = ad_grad_at(x, i) + ad_tensor_get(gy, i);
                assert_close(ad_tensor_get(host, i), want, tol * (1 + fabs(want)));
            }
            ad_gpu_free(dx), ad_gpu_free(dy), ad_gpu_free(dgy), ad_gpu_free(dgx);
            ad_tensor_free(gy), ad_tensor_free(host);
            ad_context_free(ctx);
        }
}

int main(void)
{
    char why[256];
    if (!ad_gpu_available()) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_without_gpu_fails_cleanly)};
        int rc = cmocka_run_group_tests(t, NULL, NULL);
        if (rc != 0 || !ad_gpu_built()) return rc;
        printf("SKIP the CPU-vs-GPU comparison: %s\n", ad_gpu_describe(why, sizeof why));
        return 77;
    }
    printf("GPU: %s\n", ad_gpu_describe(why, sizeof why));
    const struct CMUnitTest t[] = {cmocka_unit_test(test_cpu_vs_gpu)};
    return cmocka_run_group_tests(t, NULL, NULL);
}
