/* ad_optim_math.h: one parameter element's optimizer update, written once
 * for the CPU (engine/train/optim.c) and the GPU (gpu/optim.cu). The state m, v
 * is float64 whatever the parameter's dtype.
 *   L2 weight decay (SGD, Adam):  g ← g + λ·w         (the gradient of λ/2·‖w‖²)
 *   SGD with momentum:            m ← μ·m + g,  w ← w - lr·m
 *   Adam:                         m ← β₁m + (1-β₁)g,  v ← β₂v + (1-β₂)g²,
 *                                 w ← w - lr·(m/c₁)/(√(v/c₂) + ε),  cᵢ = 1 - βᵢᵗ
 *   AdamW (decoupled, Loshchilov & Hutter; PyTorch's AdamW):
 *                                 w ← w·(1 - lr·λ) first, then Adam with g unchanged */
#ifndef AD_OPTIM_MATH_H
#define AD_OPTIM_MATH_H

#include <math.h>
#include <stdint.h>
#include "ad_tensor.h"

#if defined(__CUDACC__)
#define AD_OPT_HD __host__ __device__
#else
#define AD_OPT_HD
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ad_optim_hyper {
    double lr, momentum, beta1, beta2, eps;
    double c1, c2;            /* Adam's bias corrections 1 - β₁ᵗ, 1 - β₂ᵗ */
    double weight_decay;      /* λ of the L2 term added to the gradient (0: none) */
    double decoupled_decay;   /* AdamW's λ (0: none) */
} ad_optim_hyper;

AD_OPT_HD static inline double ad_sgd_update(double w, double g, double *m, const ad_optim_hyper *h)
{
    if (h->weight_decay != 0) g += h->weight_decay * w;
    *m = h->momentum * *m + g;
    return w - h->lr * *m;
}

AD_OPT_HD static inline double ad_adam_update(double w, double g, double *m, double *v, const ad_optim_hyper *h)
{
    if (h->weight_decay != 0) g += h->weight_decay * w;
    if (h->decoupled_decay != 0) w *= 1 - h->lr * h->decoupled_decay;
    *m = h->beta1 * *m + (1 - h->beta1) * g;
    *v = h->beta2 * *v + (1 - h->beta2) * g * g;
    return w - h->lr * (*m / h->c1) / (sqrt(*v / h->c2) + h->eps);
}

/* The same steps over a whole parameter on the GPU, implemented by gpu/
 * (gpu/optim.cu; AD_ERR_DEVICE in a build without CUDA): w (n elements of
 * dt) with its grad g, the state m, v float64 device arrays; each element's
 * update is the one above, as on the CPU. */
ad_status ad_gpu_sgd_step(ad_dtype dt, void *w, const void *g, double *m, int64_t n, const ad_optim_hyper *h);
ad_status ad_gpu_adam_step(ad_dtype dt, void *w, const void *g, double *m, double *v, int64_t n,
                           const ad_optim_hyper *h);

#ifdef __cplusplus
}
#endif
#endif
