// shape.cu: reshape and transpose on the GPU, the rules of ops/shape.c.
//   reshape:   y = x, new shape (a device copy); dx += dy; ty = tx
//   transpose: y[io] = x[src(io)];  dx[src(io)] += dy[io] (a permutation: no
//              two outputs share a source, so no atomics); ty = permuted tx
#include "gpu_internal.h"

enum { THREADS = 256 };

static size_t bytes_of(const ad_node *o) { return (size_t)o->value.size * ad_dtype_size((ad_dtype)o->value.dtype); }

static ad_status reshape_forward_cuda(ad_node *o)
{
    return AD_GPU_MEMCPY(o->value.data, o->in[0]->value.data, bytes_of(o), cudaMemcpyDeviceToDevice);
}

static void reshape_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    ad_gpu_note(ad_gpu_add_into((ad_dtype)o->value.dtype, gin, g, o->value.size));
}
AD_VJP_BY_ROWS(reshape_vjp_cuda, reshape_vjp_cuda1)

static void reshape_jvp_cuda(ad_node *o, int k)
{
    for (int d = 0; d < k; d++)
        ad_gpu_note(
            AD_GPU_MEMCPY(ad_tangent_row(o, d), ad_tangent_row(o->in[0], d), bytes_of(o), cudaMemcpyDeviceToDevice));
}

extern "C" const ad_op_kernels ad_cuda_kernels_reshape = {reshape_forward_cuda, reshape_vjp_cuda, reshape_jvp_cuda, NULL};

typedef struct perm_geom {
    int64_t n[AD_MAX_DIMS], s[AD_MAX_DIMS];   // output extents, source strides
} perm_geom;

static perm_geom geom_of(const ad_node *o)
{
    perm_geom p;
    ad_transpose_source_strides(o, p.s);
    for (int d = 0; d < AD_MAX_DIMS; d++) p.n[d] = d < o->value.ndim ? o->value.shape[d] : 1;
    return p;
}

__device__ static inline int64_t source_of(const perm_geom &p, int64_t io)
{
    int64_t r = io, ii = 0;
    for (int d = AD_MAX_DIMS - 1; d >= 0; d--) {
        ii += (r % p.n[d]) * p.s[d];
        r /= p.n[d];
    }
    return ii;
}

// y[io] = x[src(io)]
template <typename T> __global__ void permute_kernel(const T *x, T *y, int64_t n, perm_geom p)
{
    AD_GPU_FOR(io, n)
        y[io] = x[source_of(p, io)];
}

template <typename T> __global__ void unpermute_add_kernel(const T *g, T *gin, int64_t n, perm_geom p)
{
    AD_GPU_FOR(io, n)
        gin[source_of(p, io)] += g[io];
}

static ad_status permute(const ad_node *o, const void *x, void *y)
{
    int64_t n = o->value.size;
    AD_DISPATCH(o->value.dtype,
                { AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, permute_kernel<T>)((const T *)x, (T *)y, n, geom_of(o)); });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static ad_status transpose_forward_cuda(ad_node *o) { return permute(o, o->in[0]->value.data, o->value.data); }

static void transpose_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    int64_t n = o->value.size;
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, unpermute_add_kernel<T>)((const T *)g, (T *)gin, n, geom_of(o));
    });
    AD_CUDA_LAUNCHED();
}
AD_VJP_BY_ROWS(transpose_vjp_cuda, transpose_vjp_cuda1)

static void transpose_jvp_cuda(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) ad_gpu_note(permute(o, ad_tangent_row(o->in[0], d), ad_tangent_row(o, d)));
}

extern "C" const ad_op_kernels ad_cuda_kernels_transpose = {transpose_forward_cuda, transpose_vjp_cuda,
                                                            transpose_jvp_cuda, NULL};
