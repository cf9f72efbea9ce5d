// elementwise.cu: the CUDA forward, vjp and jvp of every elementwise op.
// The math is not written here: each kernel calls the op's functions from
// ops/ad_elementwise_math.h (AD_HD = __host__ __device__), the same ones the
// CPU kernels in ops/elementwise.c call. Values are computed in double and
// stored as T, as on the CPU, so float32 results agree to float rounding.
//
// Broadcasting: a thread per output element io; ad_bcast's strides give the
// input indices. The vjp of a stretched input sums many outputs into one
// element: a thread per input element gathers them (binary_vjp), so no
// atomics, and the same bits every run.
#include "gpu_internal.h"
#include "ad_elementwise_math.h"

enum { THREADS = 256 };

// ---- binary: y = f(a, b), a and b broadcast onto y ----
template <class OP, typename T> __global__ void binary_fwd(const T *a, const T *b, T *y, int64_t n, ad_bcast bc)
{
    AD_GPU_FOR(io, n)
    {
        int64_t ia, ib;
        ad_gpu_bcast_index(bc, io, ia, ib);
        y[io] = (T)OP::f(a[ia], b[ib]);
    }
}

// gin (the slot's input) += g * dy/d(slot input). With equal shapes a thread
// per element. With broadcasting, a thread per element of the slot's input
// gathers the outputs it was stretched over and sums them in a fixed order:
// the same bits every run (atomics would add in any order).
template <class OP, typename T>
__global__ void binary_vjp(const T *a, const T *b, const T *y, const T *g, T *gin, int64_t n, ad_bcast bc, int slot)
{
    if (bc.same) {
        AD_GPU_FOR(i, n)
        {
            double d = slot == 0 ? OP::da(a[i], b[i], y[i]) : OP::db(a[i], b[i], y[i]);
            gin[i] += (T)(g[i] * d);
        }
        return;
    }
    int64_t n_in = ad_gpu_bcast_input_size(bc, slot);
    AD_GPU_FOR(i, n_in)
    {
        gin[i] += (T)ad_gpu_bcast_gather(bc, slot, i, [&](int64_t io, int64_t ia, int64_t ib) {
            return (double)g[io] * (slot == 0 ? OP::da(a[ia], b[ib], y[io]) : OP::db(a[ia], b[ib], y[io]));
        });
    }
}

// t = da * ta + db * tb (a NULL tangent is zero)
template <class OP, typename T>
__global__ void binary_jvp(const T *a, const T *b, const T *y, const T *ta, const T *tb, T *t, int64_t n, ad_bcast bc)
{
    AD_GPU_FOR(io, n)
    {
        int64_t ia, ib;
        ad_gpu_bcast_index(bc, io, ia, ib);
        double v = 0;
        if (ta) v += OP::da(a[ia], b[ib], y[io]) * ta[ia];
        if (tb) v += OP::db(a[ia], b[ib], y[io]) * tb[ib];
        t[io] = (T)v;
    }
}

// ---- unary: y = f(x, c) ----
template <class OP, typename T> __global__ void unary_fwd(const T *x, T *y, int64_t n, double c)
{
    AD_GPU_FOR(i, n) y[i] = (T)OP::f(x[i], c);
}

template <class OP, typename T> __global__ void unary_vjp(const T *x, const T *y, const T *g, T *gin, int64_t n, double c)
{
    AD_GPU_FOR(i, n) gin[i] += (T)(g[i] * OP::d(x[i], y[i], c));
}

template <class OP, typename T> __global__ void unary_jvp(const T *x, const T *y, const T *tx, T *t, int64_t n, double c)
{
    AD_GPU_FOR(i, n) t[i] = tx ? (T)(OP::d(x[i], y[i], c) * tx[i]) : (T)0;
}

static double param_c(const ad_node *n) { return n->params ? n->params->c : 0.0; }

#define BINARY_CUDA(NAME)                                                                                              \
    struct NAME##_op {                                                                                                 \
        __device__ static double f(double a, double b) { return NAME##_f(a, b); }                                      \
        __device__ static double da(double a, double b, double y) { return NAME##_da(a, b, y); }                       \
        __device__ static double db(double a, double b, double y) { return NAME##_db(a, b, y); }                      \
    };                                                                                                                 \
    static ad_status NAME##_fwd_cuda(ad_node *o)                                                                       \
    {                                                                                                                  \
        ad_bcast bc;                                                                                                   \
        ad_bcast_setup(o, &bc);                                                                                        \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, binary_fwd<NAME##_op, T>)(                                          \
                (const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data, (T *)o->value.data, n, bc);          \
        });                                                                                                            \
        return AD_CUDA_CHECK(cudaGetLastError());                                                                      \
    }                                                                                                                  \
    static void NAME##_vjp_cuda1(const ad_node *o, int slot, const void *gout, void *gin)                             \
    {                                                                                                                  \
        ad_bcast bc;                                                                                                   \
        ad_bcast_setup(o, &bc);                                                                                        \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, binary_vjp<NAME##_op, T>)(                                          \
                (const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data, (const T *)o->value.data,            \
                (const T *)gout, (T *)gin, n, bc, slot);                                                               \
        });                                                                                                            \
        AD_CUDA_LAUNCHED();                                                                                            \
    }                                                                                                                  \
    AD_VJP_BY_ROWS(NAME##_vjp_cuda, NAME##_vjp_cuda1)                                                                  \
    static void NAME##_jvp_cuda(ad_node *o, int k)                                                                     \
    {                                                                                                                  \
        ad_bcast bc;                                                                                                   \
        ad_bcast_setup(o, &bc);                                                                                        \
        int64_t n = o->value.size;                                                                                     \
        for (int d = 0; d < k; d++)                                                                                    \
            AD_DISPATCH(o->value.dtype, {                                                                              \
                AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, binary_jvp<NAME##_op, T>)(                                      \
                    (const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data, (const T *)o->value.data,        \
                    (const T *)ad_tangent_row(o->in[0], d), (const T *)ad_tangent_row(o->in[1], d),                    \
                    (T *)ad_tangent_row(o, d), n, bc);                                                                 \
            });                                                                                                        \
        AD_CUDA_LAUNCHED();                                                                                            \
    }                                                                                                                  \
    extern "C" const ad_op_kernels ad_cuda_kernels_##NAME = {NAME##_fwd_cuda, NAME##_vjp_cuda, NAME##_jvp_cuda, NULL};

#define UNARY_CUDA(NAME)                                                                                               \
    struct NAME##_op {                                                                                                 \
        __device__ static double f(double x, double c) { return NAME##_f(x, c); }                                      \
        __device__ static double d(double x, double y, double c) { return NAME##_d(x, y, c); }                         \
    };                                                                                                                 \
    static ad_status NAME##_fwd_cuda(ad_node *o)                                                                       \
    {                                                                                                                  \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, unary_fwd<NAME##_op, T>)(                                           \
                (const T *)o->in[0]->value.data, (T *)o->value.data, n, param_c(o));                                   \
        });                                                                                                            \
        return AD_CUDA_CHECK(cudaGetLastError());                                                                      \
    }                                                                                                                  \
    static void NAME##_vjp_cuda1(const ad_node *o, int slot, const void *gout, void *gin)                             \
    {                                                                                                                  \
        (void)slot;                                                                                                    \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, unary_vjp<NAME##_op, T>)(                                           \
                (const T *)o->in[0]->value.data, (const T *)o->value.data, (const T *)gout, (T *)gin, n,               \
                param_c(o));                                                                                           \
        });                                                                                                            \
        AD_CUDA_LAUNCHED();                                                                                            \
    }                                                                                                                  \
    AD_VJP_BY_ROWS(NAME##_vjp_cuda, NAME##_vjp_cuda1)                                                                  \
    static void NAME##_jvp_cuda(ad_node *o, int k)                                                                     \
    {                                                                                                                  \
        int64_t n = o->value.size;                                                                                     \
        for (int d = 0; d < k; d++)                                                                                    \
            AD_DISPATCH(o->value.dtype, {                                                                              \
                AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, unary_jvp<NAME##_op, T>)(                                       \
                    (const T *)o->in[0]->value.data, (const T *)o->value.data,                                         \
                    (const T *)ad_tangent_row(o->in[0], d), (T *)ad_tangent_row(o, d), n, param_c(o));                 \
            });                                                                                                        \
        AD_CUDA_LAUNCHED();                                                                                            \
    }                                                                                                                  \
    extern "C" const ad_op_kernels ad_cuda_kernels_##NAME = {NAME##_fwd_cuda, NAME##_vjp_cuda, NAME##_jvp_cuda, NULL};

BINARY_CUDA(add)
BINARY_CUDA(sub)
BINARY_CUDA(mul)
BINARY_CUDA(div)
BINARY_CUDA(max)
BINARY_CUDA(min)

UNARY_CUDA(neg)
UNARY_CUDA(exp)
UNARY_CUDA(log)
UNARY_CUDA(sqrt)
UNARY_CUDA(sin)
UNARY_CUDA(cos)
UNARY_CUDA(tanh)
UNARY_CUDA(sigmoid)
UNARY_CUDA(relu)
UNARY_CUDA(abs)
UNARY_CUDA(pow)
UNARY_CUDA(scale)
