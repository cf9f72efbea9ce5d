/* gpu_stub.c: ad_gpu.h in a build without CUDA. Every call fails with a
 * message that says why, so a program asking for --device cuda gets an
 * error it can print, not a link error or a crash. */
#include <stdio.h>
#include "ad_gpu.h"

static ad_status no_cuda(const char *who)
{
    return ad_fail(AD_ERR_DEVICE, "%s: built without CUDA (configure with -Dcuda=enabled on a machine with nvcc)", who);
}

bool ad_gpu_built(void) { return false; }

bool ad_gpu_available(void)
{
    ad_fail(AD_ERR_DEVICE, "no GPU found: built without CUDA (configure with -Dcuda=enabled on a machine with nvcc)");
    return false;
}

ad_status ad_gpu_device_info(char *buf, size_t len)
{
    if (buf && len) snprintf(buf, len, "built without CUDA");
    return no_cuda("gpu_device_info");
}

void *ad_gpu_malloc(size_t bytes)
{
    (void)bytes;
    no_cuda("gpu_malloc");
    return NULL;
}

void ad_gpu_free(void *device_ptr) { (void)device_ptr; }

ad_status ad_gpu_cache_release(void) { return AD_OK; }   /* nothing cached */

ad_gpu_counters ad_gpu_counters_now(void)
{
    ad_gpu_counters c = {0, 0, 0, 0, 0};   /* nothing ever reaches a device */
    return c;
}

ad_gpu_mem_stats ad_gpu_memory_stats(void)
{
    ad_gpu_mem_stats s = {0, 0, 0, 0};
    return s;
}

ad_tensor *ad_gpu_tensor_to_device(const ad_tensor *host)
{
    (void)host;
    no_cuda("to_device");
    return NULL;
}

ad_tensor *ad_gpu_tensor_to_host(const ad_tensor *dev)
{
    (void)dev;
    no_cuda("to_host");
    return NULL;
}

ad_status ad_gpu_tensor_copy(ad_tensor *dst, const ad_tensor *src)
{
    (void)dst;
    (void)src;
    return no_cuda("tensor_copy");
}

ad_status ad_gpu_synchronize(void) { return no_cuda("gpu_synchronize"); }

ad_node *ad_to_device(ad_context *ctx, ad_node *x)
{
    (void)ctx;
    if (!x) return NULL;   /* keep the error that made the NULL */
    no_cuda("to_device");
    return NULL;
}

ad_node *ad_to_host(ad_context *ctx, ad_node *x)
{
    (void)ctx;
    if (!x) return NULL;
    no_cuda("to_host");
    return NULL;
}

ad_status ad_gpu_memzero(void *device_ptr, size_t bytes)
{
    (void)device_ptr;
    (void)bytes;
    return no_cuda("gpu_memzero");
}

ad_status ad_gpu_add_into(ad_dtype dt, void *dst, const void *src, int64_t n)
{
    (void)dt;
    (void)dst;
    (void)src;
    (void)n;
    return no_cuda("gpu_add_into");
}

ad_status ad_gpu_sgd_step(ad_dtype dt, void *w, const void *g, double *m, int64_t n, const ad_optim_hyper *h)
{
    (void)dt, (void)w, (void)g, (void)m, (void)n, (void)h;
    return no_cuda("sgd_step");
}

ad_status ad_gpu_adam_step(ad_dtype dt, void *w, const void *g, double *m, double *v, int64_t n,
                           const ad_optim_hyper *h)
{
    (void)dt, (void)w, (void)g, (void)m, (void)v, (void)n, (void)h;
    return no_cuda("adam_step");
}

/* No GPU kernel can have run, so none can have failed. */
ad_status ad_gpu_take_error(void) { return AD_OK; }

const char *ad_gpu_describe(char *buf, size_t len)
{
    ad_gpu_device_info(buf, len);   /* "built without CUDA" */
    return buf;
}
