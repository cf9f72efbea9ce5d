// conv2d.cu: 2-d convolution on the GPU, the rules of ops/conv2d.c, by
// im2col and one cuBLAS GEMM for the whole batch (not one per image: a small
// CNN is bound by kernel launches).
//   x (N,C,H,W), w (K,C,R,S), b (K) -> y (N,K,P,Q)
//   col (C·R·S, L) with L = N·P·Q: column (n,p,q) holds the receptive field
//   of output (p,q) of image n. Then, with dyᵗ the gradient laid out (K, L):
//     yᵗ (K, L)     = w (K, C·R·S) · col            then y[n,k,p,q] = yᵗ[k, (n,p,q)] + b[k]
//     dw (K, C·R·S) += dyᵗ · colᵀ                    one GEMM over the whole batch
//     dcol          = wᵀ · dyᵗ,  dx += col2im(dcol)  col2im gathers (one thread per x element),
//                                                     so no atomics and a fixed summation order
//     db[k]         += Σ over n,p,q of dy[n,k,p,q]   a block per k, a tree in shared memory
//     ty            = conv(tx, w) + conv(x, tw) + tb
// Workspaces come from the caching allocator and go back to it after the
// launches (all work is on one stream, so reuse is ordered after them).
#include "gpu_internal.h"
#include "ad_elementwise_math.h"

enum { THREADS = 256 };

typedef struct geom {
    int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
    __host__ __device__ int64_t crs() const { return C * R * S; }
    __host__ __device__ int64_t pq() const { return P * Q; }
    __host__ __device__ int64_t L() const { return N * P * Q; }
} geom;

static geom geometry(const ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    geom g = {x->shape[0],         x->shape[1],         x->shape[2],        x->shape[3],       w->shape[0],
              w->shape[2],         w->shape[3],         o->value.shape[2],  o->value.shape[3], o->params->stride[0],
              o->params->stride[1], o->params->pad[0], o->params->pad[1]};
    return g;
}

// col[row, col] for row = (c,r,s), col = (n,p,q); zero in the padding.
template <typename T> __global__ void im2col_kernel(const T *x, T *col, geom g)
{
    int64_t L = g.L(), total = g.crs() * L;
    AD_GPU_FOR(i, total)
    {
        int64_t row = i / L, j = i % L;
        int64_t c = row / (g.R * g.S), r = (row / g.S) % g.R, s = row % g.S;
        int64_t n = j / g.pq(), p = (j / g.Q) % g.P, q = j % g.Q;
        int64_t h = p * g.sh - g.ph + r, w = q * g.sw - g.pw + s;
        col[i] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[((n * g.C + c) * g.H + h) * g.W + w] : (T)0;
    }
}

// y[n,k,p,q] (+)= yt[k, (n,p,q)] (+ b[k])
template <typename T> __global__ void from_kl_kernel(const T *yt, const T *b, T *y, geom g, bool accumulate)
{
    int64_t total = g.N * g.K * g.pq();
    AD_GPU_FOR(i, total)
    {
        int64_t n = i / (g.K * g.pq()), k = (i / g.pq()) % g.K, pq = i % g.pq();
        T v = yt[k * g.L() + n * g.pq() + pq] + (b ? b[k] : (T)0);
        y[i] = accumulate ? y[i] + v : v;
    }
}

// dyt[k, (n,p,q)] = dy[n,k,p,q]
template <typename T> __global__ void to_kl_kernel(const T *dy, T *dyt, geom g)
{
    int64_t total = g.N * g.K * g.pq();
    AD_GPU_FOR(i, total)
    {
        int64_t n = i / (g.K * g.pq()), k = (i / g.pq()) % g.K, pq = i % g.pq();
        dyt[k * g.L() + n * g.pq() + pq] = dy[i];
    }
}

// dx[n,c,h,w] += Σ over the (r,s) whose output (p,q) reads x[n,c,h,w]: dcol[(c,r,s), (n,p,q)]
template <typename T> __global__ void col2im_kernel(const T *dcol, T *dx, geom g)
{
    int64_t total = g.N * g.C * g.H * g.W;
    AD_GPU_FOR(i, total)
    {
        int64_t n = i / (g.C * g.H * g.W), c = (i / (g.H * g.W)) % g.C, h = (i / g.W) % g.H, w = i % g.W;
        double acc = 0;
        for (int64_t r = 0; r < g.R; r++) {
            int64_t hp = h + g.ph - r;   // = p·sh
            if (hp < 0 || hp % g.sh) continue;
            int64_t p = hp / g.sh;
            if (p >= g.P) continue;
            for (int64_t s = 0; s < g.S; s++) {
                int64_t wq = w + g.pw - s;
                if (wq < 0 || wq % g.sw) continue;
                int64_t q = wq / g.sw;
                if (q >= g.Q) continue;
                acc += dcol[((c * g.R + r) * g.S + s) * g.L() + n * g.pq() + p * g.Q + q];
            }
        }
        dx[i] += (T)acc;
    }
}

// db[k] += Σ_{n,p,q} dy[n,k,p,q]: block k sums its channel.
template <typename T> __global__ void bias_grad_kernel(const T *dy, T *db, geom g)
{
    int64_t k = blockIdx.x;
    double acc = 0;
    for (int64_t j = threadIdx.x; j < g.N * g.pq(); j += blockDim.x) {
        int64_t n = j / g.pq(), pq = j % g.pq();
        acc += dy[(n * g.K + k) * g.pq() + pq];
    }
    double total = ad_gpu_block_sum(acc);
    if (threadIdx.x == 0) db[k] += (T)total;
}

// ty[n,k,p,q] += tb[k]
template <typename T> __global__ void add_bias_kernel(T *y, const T *b, geom g)
{
    int64_t total = g.N * g.K * g.pq();
    AD_GPU_FOR(i, total) y[i] += b[(i / g.pq()) % g.K];
}

static size_t elems_bytes(ad_dtype dt, int64_t n) { return (size_t)n * ad_dtype_size(dt); }

static ad_status launched(void) { return AD_CUDA_CHECK(cudaGetLastError()); }

// col = im2col(x) into a new workspace (NULL on failure, error set).
static void *im2col(ad_dtype dt, const void *x, const geom &g)
{
    int64_t n = g.crs() * g.L();
    void *col = ad_gpu_malloc(elems_bytes(dt, n));
    if (!col) return NULL;
    AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, im2col_kernel<T>)((const T *)x, (T *)col, g); });
    if (launched() != AD_OK) {
        ad_gpu_free(col);
        return NULL;
    }
    return col;
}

// y (+)= conv(x, w) (+ b): the forward, and each term of the jvp.
static ad_status conv_into(const ad_node *o, const void *x, const void *w, const void *b, void *y, bool accumulate)
{
    geom g = geometry(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    void *col = im2col(dt, x, g);
    if (!col) return ad_last_status();
    void *yt = ad_gpu_malloc(elems_bytes(dt, g.K * g.L()));
    ad_status st = yt ? ad_gpu_gemm(dt, false, false, g.K, g.L(), g.crs(), w, g.crs(), col, g.L(), 0.0, yt, g.L())
                      : ad_last_status();
    if (st == AD_OK) {
        int64_t n = g.N * g.K * g.pq();
        AD_DISPATCH(dt, {
            AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, from_kl_kernel<T>)((const T *)yt, (const T *)b, (T *)y, g, accumulate);
        });
        st = launched();
    }
    ad_gpu_free(yt);
    ad_gpu_free(col);
    return st;
}

static ad_status conv_forward_cuda(ad_node *o)
{
    return conv_into(o, o->in[0]->value.data, o->in[1]->value.data, o->n_in == 3 ? o->in[2]->value.data : NULL,
                     o->value.data, false);
}

static ad_status conv_vjp_status(const ad_node *o, int slot, const void *gout, void *gin)
{
    geom g = geometry(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot == 2) {
        AD_DISPATCH(dt, { AD_LAUNCH((unsigned)g.K, AD_GPU_BLOCK_SUM, bias_grad_kernel<T>)((const T *)gout, (T *)gin, g); });
        return launched();
    }
    // dy laid out (K, L), shared by both GEMMs below
    int64_t ny = g.N * g.K * g.pq();
    void *dyt = ad_gpu_malloc(elems_bytes(dt, ny));
    if (!dyt) return ad_last_status();
    AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(ny, THREADS), THREADS, to_kl_kernel<T>)((const T *)gout, (T *)dyt, g); });
    ad_status st = launched();
    if (st == AD_OK && slot == 1) {   // dw += dyᵗ · colᵀ
        void *col = im2col(dt, o->in[0]->value.data, g);
        st = col ? ad_gpu_gemm(dt, false, true, g.K, g.crs(), g.L(), dyt, g.L(), col, g.L(), 1.0, gin, g.crs())
                 : ad_last_status();
        ad_gpu_free(col);
    } else if (st == AD_OK) {         // dcol = wᵀ · dyᵗ, then dx += col2im(dcol)
        void *dcol = ad_gpu_malloc(elems_bytes(dt, g.crs() * g.L()));
        st = dcol ? ad_gpu_gemm(dt, true, false, g.crs(), g.L(), g.K, o->in[1]->value.data, g.crs(), dyt, g.L(), 0.0,
                                dcol, g.L())
                  : ad_last_status();
        if (st == AD_OK) {
            int64_t nx = g.N * g.C * g.H * g.W;
            AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(nx, THREADS), THREADS, col2im_kernel<T>)((const T *)dcol, (T *)gin, g); });
            st = launched();
        }
        ad_gpu_free(dcol);
    }
    ad_gpu_free(dyt);
    return st;
}

static void conv_vjp_cuda1(const ad_node *o, int slot, const void *gout, void *gin)
{
    ad_gpu_note(conv_vjp_status(o, slot, gout, gin));
}
AD_VJP_BY_ROWS(conv_vjp_cuda, conv_vjp_cuda1)

static void conv_jvp_cuda(ad_node *o, int k)
{
    geom g = geometry(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    int64_t ny = g.N * g.K * g.pq();
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *tx = ad_tangent_row(o->in[0], d), *tw = ad_tangent_row(o->in[1], d);
        void *tb = o->n_in == 3 ? ad_tangent_row(o->in[2], d) : NULL;
        ad_gpu_note(ad_gpu_memzero(t, elems_bytes(dt, ny)));
        if (tx) ad_gpu_note(conv_into(o, tx, o->in[1]->value.data, NULL, t, true));
        if (tw) ad_gpu_note(conv_into(o, o->in[0]->value.data, tw, NULL, t, true));
        if (tb) {
            AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(ny, THREADS), THREADS, add_bias_kernel<T>)((T *)t, (const T *)tb, g); });
            ad_gpu_note(launched());
        }
    }
}

extern "C" const ad_op_kernels ad_cuda_kernels_conv2d = {conv_forward_cuda, conv_vjp_cuda, conv_jvp_cuda, NULL};

// conv2d_relu (ops/conv2d.c): the conv, then ReLU's rules from
// ad_elementwise_math.h. y > 0 exactly where the pre-activation is > 0.
template <typename T> __global__ void relu_inplace_kernel(T *y, int64_t n)
{
    AD_GPU_FOR(i, n) y[i] = (T)relu_f(y[i], 0);
}

// out = v where relu'(y) = 1, else 0, a select as on the CPU (out may be v)
template <typename T> __global__ void relu_mask_kernel(const T *y, const T *v, T *out, int64_t n)
{
    AD_GPU_FOR(i, n) out[i] = relu_d(y[i], y[i], 0) != 0 ? v[i] : (T)0;
}

static ad_status relu_mask(const ad_node *o, const void *v, void *out)
{
    int64_t n = o->value.size;
    AD_DISPATCH(o->value.dtype, {
        AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, relu_mask_kernel<T>)((const T *)o->value.data, (const T *)v, (T *)out, n);
    });
    return launched();
}

static ad_status conv_relu_forward_cuda(ad_node *o)
{
    ad_status st = conv_forward_cuda(o);
    if (st != AD_OK) return st;
    int64_t n = o->value.size;
    AD_DISPATCH(o->value.dtype, { AD_LAUNCH(ad_gpu_blocks(n, THREADS), THREADS, relu_inplace_kernel<T>)((T *)o->value.data, n); });
    return launched();
}

static void conv_relu_vjp_cuda1(const ad_node *o, int slot, const void *gout, void *gin)
{
    void *masked = ad_gpu_malloc(elems_bytes((ad_dtype)o->value.dtype, o->value.size));
    ad_status st = masked ? relu_mask(o, gout, masked) : ad_last_status();
    if (st == AD_OK) st = conv_vjp_status(o, slot, masked, gin);
    ad_gpu_free(masked);
    ad_gpu_note(st);
}
AD_VJP_BY_ROWS(conv_relu_vjp_cuda, conv_relu_vjp_cuda1)

static void conv_relu_jvp_cuda(ad_node *o, int k)
{
    conv_jvp_cuda(o, k);
    for (int d = 0; d < k; d++) ad_gpu_note(relu_mask(o, ad_tangent_row(o, d), ad_tangent_row(o, d)));
}

extern "C" const ad_op_kernels ad_cuda_kernels_conv2d_relu = {conv_relu_forward_cuda, conv_relu_vjp_cuda,
                                                                conv_relu_jvp_cuda, NULL};
