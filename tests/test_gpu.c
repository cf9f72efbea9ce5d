/* test_gpu.c: the CUDA backend.
 *
 * Without a GPU (or in a build without CUDA) the GPU tests cannot run: the
 * program prints why and exits 77, which meson reports as SKIP. What does run
 * everywhere: the error a program gets when it asks for the GPU anyway. */
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

/* Asking for the GPU where there is none is an AD_ERR_DEVICE error that says why. */
static void test_no_gpu_is_a_clear_error(void **state)
{
    (void)state;
    if (ad_gpu_available()) skip();
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_non_null(strstr(ad_last_error(), ad_gpu_built() ? "no CUDA device" : "built without CUDA"));
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

int main(void)
{
    const struct CMUnitTest no_gpu[] = {cmocka_unit_test(test_no_gpu_is_a_clear_error)};
    const struct CMUnitTest gpu[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_copy_shape_mismatch),
        cmocka_unit_test(test_allocator_reuses_blocks),
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
