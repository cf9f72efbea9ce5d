// reduce.cu: sum and mean on the GPU, the rules of ops/reduce.c:
//   x seen as (outer, len, inner) around the axis (ad_reduce_split)
//   y[o,i] = s · Σ_l x[o,l,i]     (s = 1 for sum, 1/len for mean)
//   dx[o,l,i] += s · dy[o,i]      ty[o,i] = s · Σ_l tx[o,l,i]
// A long axis gets a block per output element (threads stride along it, then
// a tree in shared memory); a short one a thread per output element. Both sum
// in a fixed order, so results repeat run to run.
#include "gpu_internal.h"

enum { THREADS = 256, BLOCK_MIN_LEN = 256 };

template <typename T> __global__ void reduce_block(const T *x, T *y, int64_t len, int64_t inner, double s)
{
    int64_t out = blockIdx.x, a = out / inner, i = out % inner;
    double acc = 0;
    for (int64_t l = threadIdx.x; l < len; l += blockDim.x) acc += x[(a * len + l) * inner + i];
    double total = ad_gpu_block_sum(acc);   // launched with AD_GPU_BLOCK_SUM threads
    if (threadIdx.x == 0) y[out] = (T)(s * total);
}

template <typename T> __global__ void reduce_thread(const T *x, T *y, int64_t n_out, int64_t len, int64_t inner, double s)
{
    AD_GPU_FOR(out, n_out) {
        int64_t a = out / inner, i = out % inner;
        double acc = 0;
        for (int64_t l = 0; l < len; l++) acc += x[(a * len + l) * inner + i];
        y[out] = (T)(s * acc);
    }
}

template <typename T> __global__ void reduce_vjp_kernel(const T *g, T *gin, int64_t n, int64_t len, int64_t inner, double s)
{
    AD_GPU_FOR(j, n) {
        int64_t i = j % inner, a = j / (inner * len);
        gin[j] += (T)(s * g[a * inner + i]);
    }
}

static double scale_of(const ad_node *o, int64_t len)
{
    return o->op == &ad_op_mean ? 1.0 / (double)len : 1.0;
}

// y = s · Σ over the axis, for values or for a tangent row.
static ad_status reduce_into(const ad_node *o, const void *x, void *y)
{
    int64_t outer, len, inner;
    ad_reduce_split(&o->in[0]->value, o->params->axis, &outer, &len, &inner);
    double s = scale_of(o, len);
    int64_t n_out = outer * inner;
    AD_DISPATCH(o->value.dtype, {
        if (len >= BLOCK_MIN_LEN && n_out <= INT32_MAX)
            AD_LAUNCH((unsigned)n_out, AD_GPU_BLOCK_SUM, reduce_block<T>)((const T *)x, (T *)y, len, inner, s);
        else
            AD_LAUNCH(ad_gpu_blocks(n_out, THREADS), THREADS, reduce_thread<T>)((const T *)x, (T *)y, n_out, len, inner, s);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static ad_status reduce_forward_cuda(ad_node *o) { return reduce_into(o, o->in[0]->value.data, o->value.data); }

static void reduce_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    int64_t outer, len, inner;
    ad_reduce_split(&o->in[0]->value, o->params->axis, &outer, &len, &inner);
    int64_t n = o->in[0]->value.size;
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, reduce_vjp_kernel<T>)((const T *)g, (T *)gin, n, len, inner,
                                                                      scale_of(o, len));
    });
    AD_CUDA_LAUNCHED();
}
AD_VJP_BY_ROWS(reduce_vjp_cuda, reduce_vjp_cuda1)

static void reduce_jvp_cuda(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) {
        const void *tx = ad_tangent_row(o->in[0], d);
        void *t = ad_tangent_row(o, d);
        ad_gpu_note(tx ? reduce_into(o, tx, t)
                       : ad_gpu_memzero(t, (size_t)o->value.size * ad_dtype_size((ad_dtype)o->value.dtype)));
    }
}

extern "C" const ad_op_kernels ad_cuda_kernels_sum = {reduce_forward_cuda, reduce_vjp_cuda, reduce_jvp_cuda, NULL};
extern "C" const ad_op_kernels ad_cuda_kernels_mean = {reduce_forward_cuda, reduce_vjp_cuda, reduce_jvp_cuda, NULL};
