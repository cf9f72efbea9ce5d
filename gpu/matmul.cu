// matmul.cu: matmul and linear through cuBLAS. The same rules as ops/matmul.c,
//   matmul: a (..., M,K) · b (..., K,N) -> y (..., M,N), per output matrix (ad_matmul_plan)
//     da += dy · bᵀ      db += aᵀ · dy      ty = ta·b + a·tb
//   linear: x (..., I) as N rows, w (O,I), b (O) -> y = x·wᵀ + b (..., O)
//     dx += dy · w       dw += dyᵀ · x      db += Σₙ dy[n,:]
// and every vjp accumulates (beta = 1), as fan-out needs.
#include "gpu_internal.h"

// Row-major C (m,n) = op(A)·op(B) + beta·C on the device. cuBLAS is
// column-major, and a row-major matrix is its transpose in column-major, so
// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap.
ad_status ad_gpu_gemm(ad_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *A, int64_t lda,
                          const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    cublasHandle_t h = ad_gpu_cublas();
    if (!h) return AD_ERR_DEVICE;
    const ad_cublas_api *b = ad_gpu_blas();
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    ad_gpu_count(&ad_gpu_counts.gemm_calls);
    if (dt == AD_FLOAT32) {
        float one = 1.0f, fb = (float)beta;
        return AD_CUBLAS_CHECK(b->sgemm(h, opb, opa, (int)n, (int)m, (int)k, &one, (const float *)B, (int)ldb,
                                        (const float *)A, (int)lda, &fb, (float *)C, (int)ldc));
    }
    double one = 1.0;
    return AD_CUBLAS_CHECK(b->dgemm(h, opb, opa, (int)n, (int)m, (int)k, &one, (const double *)B, (int)ldb,
                                    (const double *)A, (int)lda, &beta, (double *)C, (int)ldc));
}

// One gemm per output matrix i (the plan of ops/matmul.c: 1-D, batched,
// broadcast batch dims), one after another on the stream, so a broadcast
// matrix's grad sums its batch's contributions.
static ad_status matmul_forward_cuda(ad_node *o)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    const void *A = o->in[0]->value.data, *B = o->in[1]->value.data;
    ad_status st = AD_OK;
    for (int64_t i = 0; i < p.batch && st == AD_OK; i++)
        st = ad_gpu_gemm(dt, false, false, p.M, p.N, p.K, ad_elem_ptr(A, ad_matmul_a_off(&p, i), dt), p.K,
                         ad_elem_ptr(B, ad_matmul_b_off(&p, i), dt), p.N, 0.0, ad_elem_ptr(o->value.data, i * p.M * p.N, dt), p.N);
    return st;
}

static void matmul_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    const void *A = o->in[0]->value.data, *B = o->in[1]->value.data;
    for (int64_t i = 0; i < p.batch; i++) {
        const void *gi = ad_elem_ptr(g, i * p.M * p.N, dt);
        int64_t ao = ad_matmul_a_off(&p, i), bo = ad_matmul_b_off(&p, i);
        if (slot == 0)   // da += dy·bᵀ
            ad_gpu_note(ad_gpu_gemm(dt, false, true, p.M, p.K, p.N, gi, p.N, ad_elem_ptr(B, bo, dt), p.N, 1.0,
                                    ad_elem_ptr(gin, ao, dt), p.K));
        else             // db += aᵀ·dy
            ad_gpu_note(ad_gpu_gemm(dt, true, false, p.K, p.N, p.M, ad_elem_ptr(A, ao, dt), p.K, gi, p.N, 1.0,
                                    ad_elem_ptr(gin, bo, dt), p.N));
    }
}
AD_VJP_BY_ROWS(matmul_vjp_cuda, matmul_vjp_cuda1)

static void matmul_jvp_cuda(ad_node *o, int k)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    const void *A = o->in[0]->value.data, *B = o->in[1]->value.data;
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *ta = ad_tangent_row(o->in[0], d), *tb = ad_tangent_row(o->in[1], d);
        ad_gpu_note(ad_gpu_memzero(t, (size_t)o->value.size * ad_dtype_size(dt)));
        for (int64_t i = 0; i < p.batch; i++) {
            int64_t ao = ad_matmul_a_off(&p, i), bo = ad_matmul_b_off(&p, i);
            void *ti = ad_elem_ptr(t, i * p.M * p.N, dt);
            if (ta)
                ad_gpu_note(ad_gpu_gemm(dt, false, false, p.M, p.N, p.K, ad_elem_ptr(ta, ao, dt), p.K, ad_elem_ptr(B, bo, dt),
                                        p.N, 1.0, ti, p.N));
            if (tb)
                ad_gpu_note(ad_gpu_gemm(dt, false, false, p.M, p.N, p.K, ad_elem_ptr(A, ao, dt), p.K, ad_elem_ptr(tb, bo, dt),
                                        p.N, 1.0, ti, p.N));
        }
    }
}

extern "C" const ad_op_kernels ad_cuda_kernels_matmul = {matmul_forward_cuda, matmul_vjp_cuda, matmul_jvp_cuda, NULL};

// ---- linear ----
enum { THREADS = 256 };

// y (N,O) += b broadcast over the rows
template <typename T> __global__ void add_rows_kernel(T *y, const T *b, int64_t N, int64_t n_out)
{
    AD_GPU_FOR(i, N * n_out)
        y[i] += b[i % n_out];
}

// gb (O) += Σₙ g[n,:]: a thread per column, summing down it in order (deterministic, unlike atomics)
template <typename T> __global__ void sum_rows_kernel(T *gb, const T *g, int64_t N, int64_t n_out)
{
    AD_GPU_FOR(j, n_out) {
        double acc = 0;
        for (int64_t n = 0; n < N; n++) acc += g[n * n_out + j];
        gb[j] += (T)acc;
    }
}

static ad_status add_rows(ad_dtype dt, void *y, const void *b, int64_t N, int64_t n_out)
{
    AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(N * n_out, THREADS), THREADS, add_rows_kernel<T>)((T *)y, (const T *)b, N, n_out); });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static ad_status linear_forward_cuda(ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    ad_status st = ad_gpu_gemm(dt, false, true, N, n_out, n_in_f, x->data, n_in_f, w->data, n_in_f, 0.0, o->value.data, n_out);
    if (st == AD_OK && o->n_in == 3) st = add_rows(dt, o->value.data, o->in[2]->value.data, N, n_out);
    return st;
}

static void linear_vjp_cuda1(const ad_node *o, int slot, const void *g, void *gin)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot == 0) ad_gpu_note(ad_gpu_gemm(dt, false, false, N, n_in_f, n_out, g, n_out, w->data, n_in_f, 1.0, gin, n_in_f));
    else if (slot == 1) ad_gpu_note(ad_gpu_gemm(dt, true, false, n_out, n_in_f, N, g, n_out, x->data, n_in_f, 1.0, gin, n_in_f));
    else {
        AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(n_out, THREADS), THREADS, sum_rows_kernel<T>)((T *)gin, (const T *)g, N, n_out); });
        AD_CUDA_LAUNCHED();
    }
}
AD_VJP_BY_ROWS(linear_vjp_cuda, linear_vjp_cuda1)

static void linear_jvp_cuda(ad_node *o, int k)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *tx = ad_tangent_row(o->in[0], d), *tw = ad_tangent_row(o->in[1], d);
        ad_gpu_note(ad_gpu_memzero(t, (size_t)(N * n_out) * ad_dtype_size(dt)));
        if (tx) ad_gpu_note(ad_gpu_gemm(dt, false, true, N, n_out, n_in_f, tx, n_in_f, w->data, n_in_f, 1.0, t, n_out));
        if (tw) ad_gpu_note(ad_gpu_gemm(dt, false, true, N, n_out, n_in_f, x->data, n_in_f, tw, n_in_f, 1.0, t, n_out));
        if (o->n_in == 3 && o->in[2]->tangent) ad_gpu_note(add_rows(dt, t, ad_tangent_row(o->in[2], d), N, n_out));
    }
}

extern "C" const ad_op_kernels ad_cuda_kernels_linear = {linear_forward_cuda, linear_vjp_cuda, linear_jvp_cuda, NULL};
