// optim.cu: the optimizer steps on the GPU, the formulas of engine/optim.c
// (the state m, v in float64 whatever the parameter's dtype, as on the CPU).
//   SGD with momentum: m = μ·m + g,  w -= lr·m
//   Adam: m = β₁m + (1-β₁)g,  v = β₂v + (1-β₂)g²,  w -= lr·(m/c₁)/(√(v/c₂) + ε)
#include "gpu_internal.h"

enum { THREADS = 256 };

template <typename T> __global__ void sgd_kernel(T *w, const T *g, double *m, int64_t n, double lr, double mu)
{
    AD_GPU_FOR(j, n)
    {
        m[j] = mu * m[j] + (double)g[j];
        w[j] = (T)(w[j] - lr * m[j]);
    }
}

template <typename T>
__global__ void adam_kernel(T *w, const T *g, double *m, double *v, int64_t n, ad_gpu_adam_hyper h)
{
    AD_GPU_FOR(j, n)
    {
        double gj = g[j];
        m[j] = h.beta1 * m[j] + (1 - h.beta1) * gj;
        v[j] = h.beta2 * v[j] + (1 - h.beta2) * gj * gj;
        w[j] = (T)(w[j] - h.lr * (m[j] / h.c1) / (sqrt(v[j] / h.c2) + h.eps));
    }
}

extern "C" ad_status ad_gpu_sgd_step(ad_dtype dt, void *w, const void *g, double *m, int64_t n, double lr,
                                     double momentum)
{
    if (n <= 0) return AD_OK;
    AD_DISPATCH(dt, {
        sgd_kernel<T><<<ad_gpu_blocks(n, THREADS), THREADS>>>((T *)w, (const T *)g, m, n, lr, momentum);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

extern "C" ad_status ad_gpu_adam_step(ad_dtype dt, void *w, const void *g, double *m, double *v, int64_t n,
                                      const ad_gpu_adam_hyper *h)
{
    if (n <= 0) return AD_OK;
    AD_DISPATCH(dt, {
        adam_kernel<T><<<ad_gpu_blocks(n, THREADS), THREADS>>>((T *)w, (const T *)g, m, v, n, *h);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}
