// runtime.cu: device discovery, the error checks, the one cuBLAS handle,
// and explicit host <-> device copies (send, compute, receive).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu_internal.h"

ad_status ad_gpu_cuda_check(cudaError_t e, const char *call, const char *file, int line)
{
    if (e == cudaSuccess) return AD_OK;
    // Clear the sticky-free "last error" so the next call does not report it again.
    (void)cudaGetLastError();
    return ad_fail(AD_ERR_DEVICE, "%s:%d: %s failed: %s (%s)", file, line, call, cudaGetErrorString(e),
                   cudaGetErrorName(e));
}

ad_status ad_gpu_cublas_check(cublasStatus_t s, const char *call, const char *file, int line)
{
    if (s == CUBLAS_STATUS_SUCCESS) return AD_OK;
    const ad_cublas_api *b = ad_gpu_blas();
    return ad_fail(AD_ERR_DEVICE, "%s:%d: %s failed: %s (cuBLAS status %d)", file, line, call,
                   b ? b->status_string(s) : "?", (int)s);
}

extern "C" bool ad_gpu_built(void) { return true; }

ad_gpu_counters ad_gpu_counts;

extern "C" ad_gpu_counters ad_gpu_counters_now(void)
{
    ad_gpu_counters c;
    c.kernel_launches = __atomic_load_n(&ad_gpu_counts.kernel_launches, __ATOMIC_RELAXED);
    c.gemm_calls = __atomic_load_n(&ad_gpu_counts.gemm_calls, __ATOMIC_RELAXED);
    c.copies_to_device = __atomic_load_n(&ad_gpu_counts.copies_to_device, __ATOMIC_RELAXED);
    c.copies_to_host = __atomic_load_n(&ad_gpu_counts.copies_to_host, __ATOMIC_RELAXED);
    c.copies_on_device = __atomic_load_n(&ad_gpu_counts.copies_on_device, __ATOMIC_RELAXED);
    return c;
}

// The device count is asked once: cudaGetDeviceCount initialises the driver.
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static cudaError_t probe_err = cudaSuccess;
static int probe_count = 0;
static void probe(void)
{
    probe_err = cudaGetDeviceCount(&probe_count);
    if (probe_err != cudaSuccess) (void)cudaGetLastError();
}

extern "C" bool ad_gpu_available(void)
{
    pthread_once(&probe_once, probe);
    if (probe_err != cudaSuccess) {
        // Without a driver at all CUDA says "driver version is insufficient": say what is missing.
        void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!driver)
            ad_fail(AD_ERR_DEVICE, "no GPU found: no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded; CUDA says %s)",
                    cudaGetErrorName(probe_err));
        else
            ad_fail(AD_ERR_DEVICE, "no GPU found: CUDA says %s (%s)", cudaGetErrorString(probe_err),
                    cudaGetErrorName(probe_err));
        if (driver) dlclose(driver);
        return false;
    }
    if (probe_count < 1) {
        ad_fail(AD_ERR_DEVICE, "no GPU found: the CUDA driver reports 0 devices");
        return false;
    }
    return true;
}

extern "C" ad_status ad_gpu_device_info(char *buf, size_t len)
{
    if (!ad_gpu_available()) {
        if (buf && len) snprintf(buf, len, "%s", ad_last_error());
        return AD_ERR_DEVICE;
    }
    int dev = 0, rt = 0;
    cudaDeviceProp p;
    if (AD_CUDA_CHECK(cudaGetDevice(&dev)) != AD_OK || AD_CUDA_CHECK(cudaGetDeviceProperties(&p, dev)) != AD_OK ||
        AD_CUDA_CHECK(cudaRuntimeGetVersion(&rt)) != AD_OK) {
        if (buf && len) snprintf(buf, len, "%s", ad_last_error());
        return AD_ERR_DEVICE;
    }
    if (buf && len)
        snprintf(buf, len, "%s, sm_%d%d, %.1f GiB, CUDA runtime %d.%d", p.name, p.major, p.minor,
                 (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), rt / 1000, (rt % 1000) / 10);
    return AD_OK;
}

extern "C" ad_status ad_gpu_synchronize(void)
{
    if (!ad_gpu_available()) return AD_ERR_DEVICE;
    ad_status st = AD_CUDA_CHECK(cudaDeviceSynchronize());
    return st == AD_OK ? ad_gpu_take_fault() : st;
}

// ---- cuBLAS, loaded on first use ----
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static ad_cublas_api blas;
static bool blas_ok = false;
static char blas_why[512];

static void load_blas(void)
{
#ifdef AD_CUDA_SIM
    // the CPU emulation's cuBLAS (gpu/sim), linked in
    blas = ad_cublas_api{cublasCreate_v2, cublasGetStatusString, cublasDgemm_v2, cublasSgemm_v2};
    blas_ok = true;
    return;
#endif
    // The soname of the toolkit we compiled against, then the unversioned name.
    char soname[64];
    snprintf(soname, sizeof soname, "libcublas.so.%d", CUBLAS_VER_MAJOR);
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libcublas.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(blas_why, sizeof blas_why, "cannot load %s: %s", soname, dlerror());
        return;
    }
#define LOAD(field, sym)                                                                                               \
    if (!(blas.field = (decltype(blas.field))dlsym(h, #sym))) {                                                        \
        snprintf(blas_why, sizeof blas_why, "%s has no %s", soname, #sym);                                            \
        return;                                                                                                        \
    }
    LOAD(create, cublasCreate_v2)
    LOAD(status_string, cublasGetStatusString)
    LOAD(dgemm, cublasDgemm_v2)
    LOAD(sgemm, cublasSgemm_v2)
#undef LOAD
    blas_ok = true;   // the handle stays loaded for the life of the process
}

const ad_cublas_api *ad_gpu_blas(void)
{
    pthread_once(&blas_once, load_blas);
    if (blas_ok) return &blas;
    ad_fail(AD_ERR_DEVICE, "cuBLAS: %s", blas_why);
    return NULL;
}

// One handle for the process: creating one costs milliseconds and memory.
static pthread_mutex_t cublas_lock = PTHREAD_MUTEX_INITIALIZER;
static cublasHandle_t cublas_handle = NULL;

cublasHandle_t ad_gpu_cublas(void)
{
    if (!ad_gpu_available()) return NULL;
    const ad_cublas_api *b = ad_gpu_blas();
    if (!b) return NULL;
    pthread_mutex_lock(&cublas_lock);
    if (!cublas_handle && AD_CUBLAS_CHECK(b->create(&cublas_handle)) != AD_OK) cublas_handle = NULL;
    cublasHandle_t h = cublas_handle;
    pthread_mutex_unlock(&cublas_lock);
    return h;
}

// ---- explicit copies ----

static ad_tensor *tensor_header_like(const ad_tensor *t, ad_device dev, const char *who)
{
    ad_tensor *o = (ad_tensor *)calloc(1, sizeof *o);
    if (!o) {
        ad_fail(AD_ERR_NOMEM, "%s: cannot allocate a tensor header", who);
        return NULL;
    }
    *o = *t;
    o->device = (uint8_t)dev;
    o->owns_data = 1;
    o->data = NULL;
    return o;
}

extern "C" ad_status ad_gpu_tensor_copy(ad_tensor *dst, const ad_tensor *src)
{
    char s1[64], s2[64];
    if (!dst || !src) return ad_fail(AD_ERR_ARG, "tensor_copy: NULL tensor");
    if (!ad_shape_equal(dst, src) || dst->dtype != src->dtype)
        return ad_fail(AD_ERR_SHAPE, "tensor_copy: destination %s %s does not match source %s %s",
                       ad_shape_str(dst, s1, sizeof s1), ad_dtype_name((ad_dtype)dst->dtype),
                       ad_shape_str(src, s2, sizeof s2), ad_dtype_name((ad_dtype)src->dtype));
    if ((dst->device == AD_CUDA || src->device == AD_CUDA) && !ad_gpu_available()) return AD_ERR_DEVICE;
    cudaMemcpyKind kind = src->device == AD_CUDA ? (dst->device == AD_CUDA ? cudaMemcpyDeviceToDevice
                                                                              : cudaMemcpyDeviceToHost)
                                                  : (dst->device == AD_CUDA ? cudaMemcpyHostToDevice
                                                                              : cudaMemcpyHostToHost);
    size_t bytes = (size_t)src->size * ad_dtype_size((ad_dtype)src->dtype);
    return AD_GPU_MEMCPY(dst->data, src->data, bytes, kind);
}

extern "C" ad_tensor *ad_gpu_tensor_to_device(const ad_tensor *host)
{
    if (!host) {
        if (ad_last_status() == AD_OK) ad_fail(AD_ERR_ARG, "to_device: NULL tensor");
        return NULL;
    }
    if (host->device != AD_CPU) {
        ad_fail(AD_ERR_DEVICE, "to_device: the tensor is already on the GPU");
        return NULL;
    }
    ad_tensor *d = tensor_header_like(host, AD_CUDA, "to_device");
    if (!d) return NULL;
    d->data = ad_gpu_malloc((size_t)host->size * ad_dtype_size((ad_dtype)host->dtype));
    if (!d->data || ad_gpu_tensor_copy(d, host) != AD_OK) {
        ad_tensor_free(d);
        return NULL;
    }
    return d;
}

extern "C" ad_tensor *ad_gpu_tensor_to_host(const ad_tensor *dev)
{
    if (!dev) {
        if (ad_last_status() == AD_OK) ad_fail(AD_ERR_ARG, "to_host: NULL tensor");
        return NULL;
    }
    if (dev->device != AD_CUDA) {
        ad_fail(AD_ERR_DEVICE, "to_host: the tensor is already on the CPU");
        return NULL;
    }
    ad_tensor *h = ad_tensor_new((ad_dtype)dev->dtype, dev->ndim, dev->shape);
    if (!h) return NULL;
    if (ad_gpu_tensor_copy(h, dev) != AD_OK) {
        ad_tensor_free(h);
        return NULL;
    }
    return h;
}

extern "C" const char *ad_gpu_describe(char *buf, size_t len)
{
    ad_gpu_device_info(buf, len);   // fills buf either way
    return buf;
}
