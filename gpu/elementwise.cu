// elementwise.cu: the unary elementwise ops on the GPU. The math is the
// CPU's own (ad_elementwise_math.h, whose functions are __host__ __device__),
// so each derivative is written once for both.
// STATUS: compiled with nvcc; never yet run on a GPU.
#include <string.h>
#include "gpu_check.h"
extern "C" {
#include "ad_gpu.h"
}
#include "ad_elementwise_math.h"

namespace {

#define UNARY_FUNCTOR(NAME)                                                                                            \
    struct NAME##_op {                                                                                                 \
        __device__ double f(double x, double c) const { return NAME##_f(x, c); }                                       \
        __device__ double d(double x, double y, double c) const { return NAME##_d(x, y, c); }                          \
    };
UNARY_FUNCTOR(neg)
UNARY_FUNCTOR(scale)
UNARY_FUNCTOR(pow)
UNARY_FUNCTOR(exp)
UNARY_FUNCTOR(log)
UNARY_FUNCTOR(sqrt)
UNARY_FUNCTOR(sin)
UNARY_FUNCTOR(cos)
UNARY_FUNCTOR(tanh)
UNARY_FUNCTOR(sigmoid)
UNARY_FUNCTOR(relu)
UNARY_FUNCTOR(abs)

template <typename T, typename Op> __global__ void forward_kernel(int64_t n, const T *x, T *y, double c, Op op)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = (T)op.f((double)x[i], c);
}

// gx += gy ⊙ f'(x): accumulate, never overwrite (fan-out adds into one grad)
template <typename T, typename Op>
__global__ void vjp_kernel(int64_t n, const T *x, const T *y, const T *gy, T *gx, double c, Op op)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) gx[i] += (T)((double)gy[i] * op.d((double)x[i], (double)y[i], c));
}

const int threads = 256;

template <typename Op> ad_status launch(bool vjp, Op op, double c, const ad_tensor *x, const ad_tensor *y,
                                        const ad_tensor *gy, ad_tensor *out)
{
    int64_t n = x->size;
    unsigned blocks = (unsigned)((n + threads - 1) / threads);
    if (x->dtype == AD_FLOAT32) {
        if (vjp)
            vjp_kernel<float, Op><<<blocks, threads>>>(n, (const float *)x->data, (const float *)y->data,
                                                       (const float *)gy->data, (float *)out->data, c, op);
        else forward_kernel<float, Op><<<blocks, threads>>>(n, (const float *)x->data, (float *)out->data, c, op);
    } else {
        if (vjp)
            vjp_kernel<double, Op><<<blocks, threads>>>(n, (const double *)x->data, (const double *)y->data,
                                                        (const double *)gy->data, (double *)out->data, c, op);
        else forward_kernel<double, Op><<<blocks, threads>>>(n, (const double *)x->data, (double *)out->data, c, op);
    }
    AD_CUDA_TRY(cudaGetLastError());
    AD_CUDA_TRY(cudaDeviceSynchronize());
    return AD_OK;
}

ad_status dispatch(bool vjp, const char *name, double c, const ad_tensor *x, const ad_tensor *y, const ad_tensor *gy,
                   ad_tensor *out)
{
    const char *who = vjp ? "gpu_unary_vjp" : "gpu_unary_forward";
    if (!name || !x || !out || (vjp && (!y || !gy)))
        return ad_fail(AD_ERR_ARG, "%s: NULL argument", who);
    const ad_tensor *all[4] = {x, y, gy, out};
    for (int k = 0; k < 4; k++)
        if (all[k] && (all[k]->device != AD_CUDA || all[k]->size != x->size || all[k]->dtype != x->dtype))
            return ad_fail(AD_ERR_ARG, "%s %s: every tensor must be on the GPU with x's size and dtype", who, name);
#define TRY_OP(NAME)                                                                                                   \
    if (!strcmp(name, #NAME)) return launch(vjp, NAME##_op(), c, x, y, gy, out);
    TRY_OP(neg) TRY_OP(scale) TRY_OP(pow) TRY_OP(exp) TRY_OP(log) TRY_OP(sqrt)
    TRY_OP(sin) TRY_OP(cos) TRY_OP(tanh) TRY_OP(sigmoid) TRY_OP(relu) TRY_OP(abs)
#undef TRY_OP
    return ad_fail(AD_ERR_ARG, "%s: no GPU kernel for op '%s'", who, name);
}

}  // namespace

extern "C" ad_status ad_gpu_unary_forward(const char *op, double c, const ad_tensor *x, ad_tensor *y)
{
    return dispatch(false, op, c, x, NULL, NULL, y);
}

extern "C" ad_status ad_gpu_unary_vjp(const char *op, double c, const ad_tensor *x, const ad_tensor *y,
                                      const ad_tensor *gy, ad_tensor *gx)
{
    return dispatch(true, op, c, x, y, gy, gx);
}
