// softmax.cu: softmax and log-softmax on the GPU, the rules of ops/softmax.c
// (stable: the row's max is subtracted before exp). x is seen as
// (outer, len, inner) around the axis; a thread owns one row (a, i) and walks
// it with stride inner.
//   softmax:     y = exp(x - m) / Σ exp(x - m)
//                dx += y ⊙ (dy - Σ dy·y)          ty = y ⊙ (tx - Σ y·tx)
//   log-softmax: y = x - m - log Σ exp(x - m)
//                dx += dy - p · Σ dy  (p = e^y)   ty = tx - Σ p·tx
#include "gpu_internal.h"
#include "ad_elementwise_math.h"   /* max_f: a NaN in the row wins, as in PyTorch */

enum { THREADS = 128 };

template <typename T> __global__ void softmax_fwd(const T *X, T *Y, int64_t rows, int64_t len, int64_t inner, bool lg)
{
    AD_GPU_FOR(r, rows)
    {
        int64_t base = (r / inner) * len * inner + r % inner;
        double m = -INFINITY, s = 0;
        for (int64_t l = 0; l < len; l++) m = max_f(m, (double)X[base + l * inner]);
        for (int64_t l = 0; l < len; l++) s += exp((double)X[base + l * inner] - m);
        for (int64_t l = 0; l < len; l++) {
            double x = X[base + l * inner];
            Y[base + l * inner] = lg ? (T)(x - m - log(s)) : (T)(exp(x - m) / s);
        }
    }
}

template <typename T>
__global__ void softmax_vjp_k(const T *Y, const T *G, T *GI, int64_t rows, int64_t len, int64_t inner, bool lg)
{
    AD_GPU_FOR(r, rows)
    {
        int64_t base = (r / inner) * len * inner + r % inner;
        double dot = 0;
        for (int64_t l = 0; l < len; l++) {
            int64_t k = base + l * inner;
            dot += lg ? (double)G[k] : (double)G[k] * Y[k];
        }
        for (int64_t l = 0; l < len; l++) {
            int64_t k = base + l * inner;
            GI[k] += lg ? (T)(G[k] - exp((double)Y[k]) * dot) : (T)(Y[k] * (G[k] - dot));
        }
    }
}

template <typename T>
__global__ void softmax_jvp_k(const T *Y, const T *TX, T *TY, int64_t rows, int64_t len, int64_t inner, bool lg)
{
    AD_GPU_FOR(r, rows)
    {
        int64_t base = (r / inner) * len * inner + r % inner;
        double dot = 0;
        for (int64_t l = 0; l < len; l++) {
            int64_t k = base + l * inner;
            dot += (lg ? exp((double)Y[k]) : (double)Y[k]) * TX[k];
        }
        for (int64_t l = 0; l < len; l++) {
            int64_t k = base + l * inner;
            TY[k] = lg ? (T)(TX[k] - dot) : (T)(Y[k] * (TX[k] - dot));
        }
    }
}

static void split(const ad_node *o, int64_t *rows, int64_t *len, int64_t *inner)
{
    int64_t outer;
    ad_reduce_split(&o->in[0]->value, o->params->axis, &outer, len, inner);
    *rows = outer * *inner;
}

static bool is_log(const ad_node *o) { return o->op == &ad_op_log_softmax; }

static ad_status softmax_forward_cuda(ad_node *o)
{
    int64_t rows, len, inner;
    split(o, &rows, &len, &inner);
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(rows, THREADS), THREADS, softmax_fwd<T>)((const T *)o->in[0]->value.data,
                                                                   (T *)o->value.data, rows, len, inner, is_log(o));
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static void softmax_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    int64_t rows, len, inner;
    split(o, &rows, &len, &inner);
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(rows, THREADS), THREADS, softmax_vjp_k<T>)((const T *)o->value.data, (const T *)g, (T *)gin,
                                                                     rows, len, inner, is_log(o));
    });
    AD_CUDA_LAUNCHED();
}
AD_VJP_BY_ROWS(softmax_vjp_cuda, softmax_vjp_cuda1)

// ad_apply calls jvp only when the one input has a tangent, so TX is never NULL.
static void softmax_jvp_cuda(ad_node *o, int kdirs)
{
    int64_t rows, len, inner;
    split(o, &rows, &len, &inner);
    for (int d = 0; d < kdirs; d++)
        AD_DISPATCH(o->value.dtype, {
            AD_LAUNCH(ad_gpu_blocks(rows, THREADS), THREADS, softmax_jvp_k<T>)(
                (const T *)o->value.data, (const T *)ad_tangent_row(o->in[0], d), (T *)ad_tangent_row(o, d), rows, len,
                inner, is_log(o));
        });
    AD_CUDA_LAUNCHED();
}

extern "C" const ad_op_kernels ad_cuda_kernels_softmax = {softmax_forward_cuda, softmax_vjp_cuda, softmax_jvp_cuda, NULL};
extern "C" const ad_op_kernels ad_cuda_kernels_log_softmax = {softmax_forward_cuda, softmax_vjp_cuda,
                                                              softmax_jvp_cuda, NULL};
