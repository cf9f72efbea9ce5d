// device.cu: devices, the caching allocator, and host<->device copies.
// STATUS: compiled with nvcc; never yet run on a GPU.
#include <mutex>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>
#include "gpu_check.h"
extern "C" {
#include "ad_gpu.h"
}

namespace {

// Freed device blocks are kept for reuse: cudaMalloc/cudaFree synchronise
// the device and cost far more than a small kernel.
struct block {
    void *ptr;
    size_t bytes;
};
std::mutex pool_lock;
std::vector<block> free_blocks;
size_t held = 0;

ad_status device_alloc(size_t bytes, void **out)
{
    bytes = (bytes + 255) & ~(size_t)255;
    {
        std::lock_guard<std::mutex> g(pool_lock);
        for (size_t i = 0; i < free_blocks.size(); i++)
            if (free_blocks[i].bytes >= bytes && free_blocks[i].bytes <= 2 * bytes) {
                *out = free_blocks[i].ptr;
                free_blocks.erase(free_blocks.begin() + (long)i);
                return AD_OK;
            }
    }
    cudaError_t err = cudaMalloc(out, bytes);
    if (err == cudaErrorMemoryAllocation) {   // give the cache back and try once more
        cudaGetLastError();
        std::lock_guard<std::mutex> g(pool_lock);
        for (block &b : free_blocks) {
            cudaFree(b.ptr);
            held -= b.bytes;
        }
        free_blocks.clear();
        err = cudaMalloc(out, bytes);
    }
    if (err != cudaSuccess)
        return ad_fail(err == cudaErrorMemoryAllocation ? AD_ERR_NOMEM : AD_ERR_DEVICE,
                       "cudaMalloc of %zu bytes failed at %s:%d: %s", bytes, __FILE__, __LINE__, cudaGetErrorString(err));
    std::lock_guard<std::mutex> g(pool_lock);
    held += bytes;
    return AD_OK;
}

void device_release(void *ptr, size_t bytes)
{
    std::lock_guard<std::mutex> g(pool_lock);
    free_blocks.push_back({ptr, (bytes + 255) & ~(size_t)255});
}

}  // namespace

extern "C" bool ad_gpu_built(void) { return true; }

extern "C" bool ad_gpu_available(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return n > 0;
}

extern "C" const char *ad_gpu_describe(char *buf, size_t len)
{
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        snprintf(buf, len, "no GPU found (%s)", err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device");
        cudaGetLastError();
        return buf;
    }
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, 0);
    snprintf(buf, len, "%s, compute %d.%d, %.1f GiB", p.name, p.major, p.minor, (double)p.totalGlobalMem / (1 << 30));
    return buf;
}

extern "C" ad_tensor *ad_gpu_to_device(const ad_tensor *t)
{
    if (!t || t->device != AD_CPU) {
        ad_fail(AD_ERR_ARG, "gpu_to_device: needs a host tensor");
        return NULL;
    }
    if (!ad_gpu_available()) {
        char why[256];
        ad_fail(AD_ERR_DEVICE, "gpu_to_device: %s", ad_gpu_describe(why, sizeof why));
        return NULL;
    }
    ad_tensor *d = (ad_tensor *)calloc(1, sizeof *d);
    if (!d) {
        ad_fail(AD_ERR_NOMEM, "gpu_to_device: out of host memory");
        return NULL;
    }
    *d = *t;
    d->device = AD_CUDA;
    d->owns_data = 1;
    size_t bytes = (size_t)t->size * ad_dtype_size((ad_dtype)t->dtype);
    d->data = NULL;
    if (device_alloc(bytes, &d->data) != AD_OK) {
        free(d);
        return NULL;
    }
    cudaError_t err = cudaMemcpy(d->data, t->data, bytes, cudaMemcpyHostToDevice);
    if (err != cudaSuccess) {
        ad_fail(AD_ERR_DEVICE, "gpu_to_device: cudaMemcpy failed at %s:%d: %s", __FILE__, __LINE__, cudaGetErrorString(err));
        device_release(d->data, bytes);
        free(d);
        return NULL;
    }
    return d;
}

extern "C" ad_status ad_gpu_to_host(const ad_tensor *dev, ad_tensor *host)
{
    if (!dev || !host || dev->device != AD_CUDA || host->device != AD_CPU || dev->size != host->size ||
        dev->dtype != host->dtype)
        return ad_fail(AD_ERR_ARG, "gpu_to_host: needs a device tensor and a host tensor of the same size and dtype");
    AD_CUDA_TRY(cudaMemcpy(host->data, dev->data, (size_t)dev->size * ad_dtype_size((ad_dtype)dev->dtype),
                           cudaMemcpyDeviceToHost));
    return AD_OK;
}

extern "C" void ad_gpu_free(ad_tensor *dev)
{
    if (!dev) return;
    if (dev->device == AD_CUDA && dev->data) device_release(dev->data, (size_t)dev->size * ad_dtype_size((ad_dtype)dev->dtype));
    free(dev);
}

extern "C" size_t ad_gpu_bytes_held(void)
{
    std::lock_guard<std::mutex> g(pool_lock);
    return held;
}
