// loss.cu: cross-entropy from logits and mean squared error on the GPU, the
// rules of ops/loss.c.
//   cross_entropy: x (N,C), targets t (N) (class indices held in the dtype),
//   class weights w (C) or none; ℓₙ = w[tₙ]·(lse(x[n,:]) - x[n,tₙ]);
//   sₙ = w[tₙ]/Σw (mean) or w[tₙ] (sum), 0 where tₙ is ignore_index;
//   L = Σ sₙ·(lse - x[n,tₙ])        dx[n,c] += dL·sₙ·(p[n,c] - [c = tₙ])
//   tL = Σ sₙ·(Σ_c p[n,c]·tx[n,c] - tx[n,tₙ])
//   Targets and weights on the host are checked by the op's shape rule;
//   on the device, by the forward kernel (ad_gpu_fault: reported at the
//   next copy to the host), which would otherwise cost a copy to the host,
//   and so a wait for the device, every step. A bad sample weighs 0 in
//   every kernel (no read out of bounds) and the loss is NaN.
//   mse: L = Σ (p - q)²/n over p, q broadcast together   dp += 2·dL·(p - q)/n, dq -= the same
// Scalar results are sums over one block (ad_gpu_block_sum, fixed order);
// dL, the output's gradient, is read on the device.
#include "gpu_internal.h"
#include "ad_elementwise_math.h"   /* max_f: a NaN in the row wins, as in PyTorch */

enum { THREADS = 256 };

typedef struct ce_args {
    int64_t N, C;
    double ignore;   // the ignored target, or a value no class index has
    bool mean;
} ce_args;

static ce_args ce_of(const ad_node *o)
{
    ce_args a = {o->in[0]->value.shape[0], o->in[0]->value.shape[1],
                 o->params->ignore_index >= 0 ? (double)o->params->ignore_index : -1.0,
                 o->params->reduction == AD_REDUCE_MEAN};
    return a;
}

// Is tv a class index (an integer in 0..C-1)? NaN is not.
__device__ inline bool ce_is_class(double tv, const ce_args &a) { return tv >= 0 && tv < (double)a.C && tv == floor(tv); }

// Sample n's weight w[tₙ] (1 without weights), 0 if it is ignored or its
// target is no class index (the forward kernel reports that).
template <typename T> __device__ double ce_weight(const T *t, const T *w, int64_t n, const ce_args &a)
{
    double tv = t[n];
    if (tv == a.ignore || !ce_is_class(tv, a)) return 0;
    return w ? (double)w[(int64_t)tv] : 1.0;
}

// Is sample n bad: its target no class index and not ignored, or its class weight negative (or NaN)?
template <typename T> __device__ bool ce_bad(const T *t, const T *w, int64_t n, const ce_args &a)
{
    double tv = t[n];
    if (tv == a.ignore) return false;
    return !ce_is_class(tv, a) || (w && !((double)w[(int64_t)tv] >= 0));
}

// log Σ_c exp x[n,c], stably
template <typename T> __device__ double ce_lse(const T *x, int64_t n, int64_t C)
{
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++) m = max_f(m, (double)x[n * C + c]);
    for (int64_t c = 0; c < C; c++) s += exp((double)x[n * C + c] - m);
    return m + log(s);
}

// The scale's denominator: Σ w[tₙ] (mean) or 1 (sum). One block.
template <typename T> __device__ double ce_denominator(const T *t, const T *w, const ce_args &a)
{
    double acc = 0;
    for (int64_t n = threadIdx.x; n < a.N; n += blockDim.x) acc += ce_weight(t, w, n, a);
    double total = ad_gpu_block_sum(acc);
    return a.mean ? total : 1.0;
}

// One block: y = L; *denom = the denominator, kept for the vjp. The first
// bad sample, or a mean over no sample, goes into *fault (if it holds none)
// and makes L NaN.
template <typename T>
__global__ void ce_fwd_kernel(const T *x, const T *t, const T *w, T *y, double *denom, ad_gpu_fault *fault, ce_args a)
{
    double first_bad = (double)a.N;
    for (int64_t n = threadIdx.x; n < a.N; n += blockDim.x)
        if (ce_bad(t, w, n, a)) {
            first_bad = (double)n;
            break;
        }
    first_bad = ad_gpu_block_reduce(first_bad, ad_gpu_least());
    double d = ce_denominator(t, w, a), acc = 0;
    bool ok = first_bad == (double)a.N && d > 0;
    for (int64_t n = threadIdx.x; ok && n < a.N; n += blockDim.x) {
        double s = ce_weight(t, w, n, a) / d;
        if (s != 0) acc += s * (ce_lse(x, n, a.C) - (double)x[n * a.C + (int64_t)(double)t[n]]);
    }
    double L = ad_gpu_block_sum(acc);
    if (threadIdx.x == 0) {
        *y = ok ? (T)L : (T)NAN;
        *denom = d;
        if (!ok && fault->code == AD_GPU_FAULT_NONE) {
            int64_t n = (int64_t)first_bad;
            ad_gpu_fault f = {AD_GPU_FAULT_ALL_IGNORED, AD_OP_cross_entropy, 0, 0, a.C};
            if (n < a.N) {
                f.index = n;
                f.value = (double)t[n];
                f.code = ce_is_class(f.value, a) ? AD_GPU_FAULT_NEGATIVE_WEIGHT : AD_GPU_FAULT_CLASS_INDEX;
                if (f.code == AD_GPU_FAULT_NEGATIVE_WEIGHT) f.value = (double)w[(int64_t)(double)t[n]];
            }
            *fault = f;
        }
    }
}

// A thread per sample n.
template <typename T>
__global__ void ce_vjp_kernel(const T *x, const T *t, const T *w, const T *dL, const double *denom, T *dx, ce_args a)
{
    AD_GPU_FOR(n, a.N)
    {
        double s = (double)*dL * ce_weight(t, w, n, a) / *denom;
        if (s == 0) continue;
        double lse = ce_lse(x, n, a.C);
        int64_t tn = (int64_t)(double)t[n];
        for (int64_t c = 0; c < a.C; c++)
            dx[n * a.C + c] += (T)(s * (exp((double)x[n * a.C + c] - lse) - (c == tn ? 1.0 : 0.0)));
    }
}

// One block: ty = tL.
template <typename T>
__global__ void ce_jvp_kernel(const T *x, const T *t, const T *w, const T *tx, const double *denom, T *ty, ce_args a)
{
    double acc = 0;
    for (int64_t n = threadIdx.x; n < a.N; n += blockDim.x) {
        double s = ce_weight(t, w, n, a) / *denom;
        if (s == 0) continue;
        double lse = ce_lse(x, n, a.C), pt = 0;
        for (int64_t c = 0; c < a.C; c++) pt += exp((double)x[n * a.C + c] - lse) * tx[n * a.C + c];
        acc += s * (pt - (double)tx[n * a.C + (int64_t)(double)t[n]]);
    }
    double total = ad_gpu_block_sum(acc);
    if (threadIdx.x == 0) *ty = (T)total;
}

static const void *ce_weights(const ad_node *o) { return o->n_in == 3 ? o->in[2]->value.data : NULL; }

static ad_status ce_forward_cuda(ad_node *o)
{
    // the denominator lives as long as the node: the vjp and jvp read it
    double *denom = (double *)ad_node_alloc_device(o, sizeof(double));
    if (!denom) return ad_last_status();
    o->saved = denom;
    ad_gpu_fault *fault = ad_gpu_fault_record();
    if (!fault) return ad_last_status();
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(1, AD_GPU_BLOCK_SUM, ce_fwd_kernel<T>)((const T *)o->in[0]->value.data,
                                                         (const T *)o->in[1]->value.data, (const T *)ce_weights(o),
                                                         (T *)o->value.data, denom, fault, ce_of(o));
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static void ce_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    if (slot != 0) return;   // targets and weights are constants (checked in the shape rule)
    ce_args a = ce_of(o);
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(a.N, THREADS), THREADS, ce_vjp_kernel<T>)(
            (const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data, (const T *)ce_weights(o), (const T *)g,
            (const double *)o->saved, (T *)gin, a);
    });
    AD_CUDA_LAUNCHED();
}
AD_VJP_BY_ROWS(ce_vjp_cuda, ce_vjp_cuda1)

static void ce_jvp_cuda(ad_node *o, int k)
{
    size_t es = ad_dtype_size((ad_dtype)o->value.dtype);
    for (int d = 0; d < k; d++) {
        const void *tx = ad_tangent_row(o->in[0], d);
        void *ty = ad_tangent_row(o, d);
        if (!tx) {   // only the targets or weights carry a tangent: they are constants
            ad_gpu_note(ad_gpu_memzero(ty, es));
            continue;
        }
        AD_DISPATCH(o->value.dtype, {
            AD_LAUNCH(1, AD_GPU_BLOCK_SUM, ce_jvp_kernel<T>)((const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data,
                                                      (const T *)ce_weights(o), (const T *)tx, (const double *)o->saved,
                                                      (T *)ty, ce_of(o));
        });
        AD_CUDA_LAUNCHED();
    }
}

extern "C" const ad_op_kernels ad_cuda_kernels_cross_entropy = {ce_forward_cuda, ce_vjp_cuda, ce_jvp_cuda, NULL};

// ---- mse ----
// p and q broadcast together (ad_mse_bcast, as on the CPU), n elements.
// One block: y = Σ_io (p - q)·(u - v) · scale, with u, v NULL read as 0 (the
// forward passes u = p, v = q; the jvp the tangents).
template <typename T>
__global__ void mse_dot_kernel(const T *p, const T *q, const T *u, const T *v, int64_t n, ad_bcast bc, double scale, T *y)
{
    double acc = 0;
    for (int64_t io = threadIdx.x; io < n; io += blockDim.x) {
        int64_t ia, ib;
        ad_gpu_bcast_index(bc, io, ia, ib);
        acc += ((double)p[ia] - (double)q[ib]) * ((u ? (double)u[ia] : 0.0) - (v ? (double)v[ib] : 0.0));
    }
    double total = ad_gpu_block_sum(acc);
    if (threadIdx.x == 0) *y = (T)(scale * total);
}

// g (input `slot`) += k·dL·(p - q), summed over the outputs a broadcast
// element was stretched across (a thread per input element gathers).
template <typename T>
__global__ void mse_vjp_kernel(const T *p, const T *q, const T *dL, double k, int64_t n, ad_bcast bc, int slot, T *g)
{
    double kk = k * (double)*dL;
    if (bc.same) {
        AD_GPU_FOR(i, n) g[i] += (T)(kk * ((double)p[i] - (double)q[i]));
        return;
    }
    int64_t n_in = ad_gpu_bcast_input_size(bc, slot);
    AD_GPU_FOR(i, n_in)
    {
        g[i] += (T)(kk * ad_gpu_bcast_gather(bc, slot, i, [&](int64_t io, int64_t ia, int64_t ib) {
                        (void)io;
                        return (double)p[ia] - (double)q[ib];
                    }));
    }
}

static ad_status mse_forward_cuda(ad_node *o)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    const void *p = o->in[0]->value.data, *q = o->in[1]->value.data;
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(1, AD_GPU_BLOCK_SUM, mse_dot_kernel<T>)((const T *)p, (const T *)q, (const T *)p, (const T *)q, n, bc,
                                                   1.0 / (double)n, (T *)o->value.data);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static void mse_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    double k = (slot == 0 ? 2.0 : -2.0) / (double)n;
    int64_t n_in = o->in[slot]->value.size;
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(n_in, THREADS), THREADS, mse_vjp_kernel<T>)(
            (const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data, (const T *)g, k, n, bc, slot, (T *)gin);
    });
    AD_CUDA_LAUNCHED();
}
AD_VJP_BY_ROWS(mse_vjp_cuda, mse_vjp_cuda1)

static void mse_jvp_cuda(ad_node *o, int k)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            AD_LAUNCH(1, AD_GPU_BLOCK_SUM, mse_dot_kernel<T>)(
                (const T *)o->in[0]->value.data, (const T *)o->in[1]->value.data,
                (const T *)ad_tangent_row(o->in[0], d), (const T *)ad_tangent_row(o->in[1], d), n, bc, 2.0 / (double)n,
                (T *)ad_tangent_row(o, d));
        });
    AD_CUDA_LAUNCHED();
}

extern "C" const ad_op_kernels ad_cuda_kernels_mse = {mse_forward_cuda, mse_vjp_cuda, mse_jvp_cuda, NULL};
