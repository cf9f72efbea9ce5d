/* gpu_stub.c: ad_gpu.h in a build without CUDA: every call says so. */
#include "ad_gpu.h"
#include <stdio.h>

static ad_status no_cuda(const char *who)
{
    return ad_fail(AD_ERR_DEVICE, "%s: this build has no CUDA backend (configure with -Dcuda=enabled where nvcc and "
                                  "cuBLAS are installed)", who);
}

bool ad_gpu_built(void) { return false; }
bool ad_gpu_available(void) { return false; }

const char *ad_gpu_describe(char *buf, size_t len)
{
    snprintf(buf, len, "no GPU: this build has no CUDA backend");
    return buf;
}

ad_tensor *ad_gpu_to_device(const ad_tensor *t)
{
    (void)t;
    no_cuda("gpu_to_device");
    return NULL;
}

ad_status ad_gpu_to_host(const ad_tensor *dev, ad_tensor *host)
{
    (void)dev, (void)host;
    return no_cuda("gpu_to_host");
}

void ad_gpu_free(ad_tensor *dev) { (void)dev; }
size_t ad_gpu_bytes_held(void) { return 0; }

ad_status ad_gpu_unary_forward(const char *op, double c, const ad_tensor *x, ad_tensor *y)
{
    (void)op, (void)c, (void)x, (void)y;
    return no_cuda("gpu_unary_forward");
}

ad_status ad_gpu_unary_vjp(const char *op, double c, const ad_tensor *x, const ad_tensor *y, const ad_tensor *gy,
                           ad_tensor *gx)
{
    (void)op, (void)c, (void)x, (void)y, (void)gy, (void)gx;
    return no_cuda("gpu_unary_vjp");
}
