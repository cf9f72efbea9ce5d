// optim.cu: the optimizer steps on the GPU, each element updated by
// engine/train/ad_optim_math.h, as on the CPU (SGD with momentum, Adam, AdamW, L2
// weight decay; the state m, v in float64 whatever the parameter's dtype).
#include "gpu_internal.h"

enum { THREADS = 256 };

template <typename T> __global__ void sgd_kernel(T *w, const T *g, double *m, int64_t n, ad_optim_hyper h)
{
    AD_GPU_FOR(j, n) w[j] = (T)ad_sgd_update(w[j], g[j], &m[j], &h);
}

template <typename T>
__global__ void adam_kernel(T *w, const T *g, double *m, double *v, int64_t n, ad_optim_hyper h)
{
    AD_GPU_FOR(j, n) w[j] = (T)ad_adam_update(w[j], g[j], &m[j], &v[j], &h);
}

extern "C" ad_status ad_gpu_sgd_step(ad_dtype dt, void *w, const void *g, double *m, int64_t n,
                                     const ad_optim_hyper *h)
{
    if (n <= 0) return AD_OK;
    AD_DISPATCH(dt, {
        AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, sgd_kernel<T>)((T *)w, (const T *)g, m, n, *h);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

extern "C" ad_status ad_gpu_adam_step(ad_dtype dt, void *w, const void *g, double *m, double *v, int64_t n,
                                      const ad_optim_hyper *h)
{
    if (n <= 0) return AD_OK;
    AD_DISPATCH(dt, {
        AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, adam_kernel<T>)((T *)w, (const T *)g, m, v, n, *h);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}
