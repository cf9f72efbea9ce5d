// pool.cu: max- and average-pooling on the GPU, the rules of ops/pool.c.
//   x (N,C,H,W) -> y (N,C,P,Q), window (wh,ww), stride (sh,sw), no padding.
//   max: y = the window's first maximum (row-major order, as on the CPU; a NaN
//        in the window makes it NaN: ad_pool_rule.h); dx[argmax] += dy.       avg: y = the window's mean; dx[window] += dy/(wh·ww).
// The vjp gathers: one thread per input element visits the windows that
// contain it (recomputing their argmax), so overlapping windows need no
// atomics and the sums run in a fixed order.
#include "gpu_internal.h"
#include "ad_pool_rule.h"

enum { THREADS = 256 };

typedef struct pgeom {
    int64_t planes, H, W, P, Q, wh, ww, sh, sw;
    bool max;
} pgeom;

static pgeom geometry(const ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value;
    pgeom g = {x->shape[0] * x->shape[1], x->shape[2],          x->shape[3],          o->value.shape[2],
               o->value.shape[3],        o->params->window[0], o->params->window[1], o->params->stride[0],
               o->params->stride[1],     o->op == &ad_op_maxpool2d};
    return g;
}

// Index in x of output (plane,p,q)'s window's first maximum.
template <typename T> __device__ int64_t window_argmax(const T *x, const pgeom &g, int64_t plane, int64_t p, int64_t q)
{
    int64_t base = plane * g.H * g.W + p * g.sh * g.W + q * g.sw, best = base;
    for (int64_t r = 0; r < g.wh; r++)
        for (int64_t s = 0; s < g.ww; s++)
            if (AD_POOL_TAKES(x[base + r * g.W + s], x[best])) best = base + r * g.W + s;
    return best;
}

// y = pool(v), where v is x (forward) or a tangent (jvp; max routes it by x's argmax)
template <typename T> __global__ void pool_fwd_kernel(const T *x, const T *v, T *y, pgeom g)
{
    AD_GPU_FOR(i, g.planes * g.P * g.Q)
    {
        int64_t plane = i / (g.P * g.Q), p = (i / g.Q) % g.P, q = i % g.Q;
        if (g.max) {
            y[i] = v[window_argmax(x, g, plane, p, q)];
        } else {
            int64_t base = plane * g.H * g.W + p * g.sh * g.W + q * g.sw;
            double s = 0;
            for (int64_t r = 0; r < g.wh; r++)
                for (int64_t c = 0; c < g.ww; c++) s += v[base + r * g.W + c];
            y[i] = (T)(s / (double)(g.wh * g.ww));
        }
    }
}

template <typename T> __global__ void pool_vjp_kernel(const T *x, const T *dy, T *dx, pgeom g)
{
    AD_GPU_FOR(i, g.planes * g.H * g.W)
    {
        int64_t plane = i / (g.H * g.W), h = (i / g.W) % g.H, w = i % g.W;
        // windows p with p·sh <= h < p·sh + wh, likewise q
        int64_t p0 = h >= g.wh ? (h - g.wh) / g.sh + 1 : 0, p1 = h / g.sh;
        int64_t q0 = w >= g.ww ? (w - g.ww) / g.sw + 1 : 0, q1 = w / g.sw;
        if (p1 >= g.P) p1 = g.P - 1;
        if (q1 >= g.Q) q1 = g.Q - 1;
        double acc = 0;
        for (int64_t p = p0; p <= p1; p++)
            for (int64_t q = q0; q <= q1; q++) {
                int64_t o = (plane * g.P + p) * g.Q + q;
                if (!g.max) acc += (double)dy[o] / (double)(g.wh * g.ww);
                else if (window_argmax(x, g, plane, p, q) == i) acc += dy[o];
            }
        dx[i] += (T)acc;
    }
}

static ad_status pool_forward_cuda(ad_node *o)
{
    pgeom g = geometry(o);
    const void *x = o->in[0]->value.data;
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(g.planes * g.P * g.Q, THREADS), THREADS, pool_fwd_kernel<T>)((const T *)x, (const T *)x,
                                                                                        (T *)o->value.data, g);
    });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static void pool_vjp_cuda1(const ad_node *o, int slot, const void *gout, void *gin)
{
    (void)slot;
    pgeom g = geometry(o);
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(g.planes * g.H * g.W, THREADS), THREADS, pool_vjp_kernel<T>)(
            (const T *)o->in[0]->value.data, (const T *)gout, (T *)gin, g);
    });
    AD_CUDA_LAUNCHED();
}
AD_VJP_BY_ROWS(pool_vjp_cuda, pool_vjp_cuda1)

// ad_apply calls jvp only when the one input has a tangent.
static void pool_jvp_cuda(ad_node *o, int k)
{
    pgeom g = geometry(o);
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            AD_LAUNCH(ad_gpu_blocks(g.planes * g.P * g.Q, THREADS), THREADS, pool_fwd_kernel<T>)(
                (const T *)o->in[0]->value.data, (const T *)ad_tangent_row(o->in[0], d), (T *)ad_tangent_row(o, d), g);
        });
    AD_CUDA_LAUNCHED();
}

extern "C" const ad_op_kernels ad_cuda_kernels_maxpool2d = {pool_forward_cuda, pool_vjp_cuda, pool_jvp_cuda, NULL};
extern "C" const ad_op_kernels ad_cuda_kernels_avgpool2d = {pool_forward_cuda, pool_vjp_cuda, pool_jvp_cuda, NULL};
