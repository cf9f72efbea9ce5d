/* matmul.c: matmul and linear through CBLAS (OpenBLAS). Every vjp
 * accumulates (beta = 1): with fan-out two consumers add into one grad.
 *   matmul: a (M,K) · b (K,N) -> y (M,N)
 *     da += dy · bᵀ        db += aᵀ · dy         ty = ta·b + a·tb
 *   linear: x (N,I), w (O,I), b (O) -> y = x·wᵀ + b (N,O)
 *   (in code n_in_f = I and n_out = O: <complex.h>, pulled in by cblas.h, defines I)
 *     dx += dy · w         dw += dyᵀ · x         db += Σₙ dy[n,:] */
#include <cblas.h>
#include <string.h>
#include "ad_kernel_util.h"
#include "ad_nn.h"

/* C (m,n) = alpha·op(A)·op(B) + beta·C, row-major, in the node's dtype. */
static void gemm(ad_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *A, int64_t lda,
                 const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    if (dt == AD_FLOAT32)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)k, 1.0f, A, (int)lda, B, (int)ldb, (float)beta, C, (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)k, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static ad_status matmul_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in;
    (void)p;
    const ad_tensor *a = &in[0]->value, *b = &in[1]->value;
    char sa[64], sb[64];
    ad_status st = ad_check_same_dtype("matmul", in[0], in[1]);
    if (st != AD_OK) return st;
    if (a->ndim != 2 || b->ndim != 2)
        return ad_fail(AD_ERR_SHAPE, "matmul: needs two matrices, got a %s and b %s", ad_shape_str(a, sa, sizeof sa),
                       ad_shape_str(b, sb, sizeof sb));
    if (a->shape[1] != b->shape[0])
        return ad_fail(AD_ERR_SHAPE, "matmul: a %s has %lld columns but b %s has %lld rows",
                       ad_shape_str(a, sa, sizeof sa), (long long)a->shape[1], ad_shape_str(b, sb, sizeof sb),
                       (long long)b->shape[0]);
    *nd = 2;
    sh[0] = a->shape[0];
    sh[1] = b->shape[1];
    *dt = (ad_dtype)a->dtype;
    return AD_OK;
}

static ad_status matmul_forward(ad_node *o)
{
    const ad_tensor *a = &o->in[0]->value, *b = &o->in[1]->value;
    gemm((ad_dtype)o->value.dtype, false, false, a->shape[0], b->shape[1], a->shape[1], a->data, a->shape[1], b->data,
         b->shape[1], 0.0, o->value.data, b->shape[1]);
    return AD_OK;
}

static void matmul_vjp(const ad_node *o, int slot, const void *g, void *gin)
{
    const ad_tensor *a = &o->in[0]->value, *b = &o->in[1]->value;
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot == 0) gemm(dt, false, true, M, K, N, g, N, b->data, N, 1.0, gin, K);   /* da += dy·bᵀ */
    else gemm(dt, true, false, K, N, M, a->data, K, g, N, 1.0, gin, N);              /* db += aᵀ·dy */
}

static void matmul_jvp(ad_node *o, int k)
{
    const ad_tensor *a = &o->in[0]->value, *b = &o->in[1]->value;
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *ta = ad_tangent_row(o->in[0], d), *tb = ad_tangent_row(o->in[1], d);
        memset(t, 0, (size_t)(M * N) * ad_dtype_size(dt));
        if (ta) gemm(dt, false, false, M, N, K, ta, K, b->data, N, 1.0, t, N);
        if (tb) gemm(dt, false, false, M, N, K, a->data, K, tb, N, 1.0, t, N);
    }
}

static const ad_op_case matmul_cases[] = {
    {"(3,4)·(4,5)", 2, {2, 2}, {{3, 4, 1, 1}, {4, 5, 1, 1}}, {.c = 0}},
    {"(1,7)·(7,1)", 2, {2, 2}, {{1, 7, 1, 1}, {7, 1, 1, 1}}, {.c = 0}},
    {"(5,2)·(2,3)", 2, {2, 2}, {{5, 2, 1, 1}, {2, 3, 1, 1}}, {.c = 0}},
};

static ad_status matmul_complete(ad_op_case *c)
{
    /* a (M,K) given: b is (K, 3) */
    if (c->ndim[0] != 2) return ad_fail(AD_ERR_SHAPE, "matmul: --shape must give a matrix for input 0");
    c->n_in = 2;
    c->ndim[1] = 2;
    c->shape[1][0] = c->shape[0][1];
    c->shape[1][1] = 3;
    return AD_OK;
}

AD_DECLARE_CUDA(matmul)
const ad_op ad_op_matmul = {
    .name = "matmul",
    .summary = "a (M,K) · b (K,N) -> (M,N), CBLAS",
    .n_in = 2,
    .n_in_min = 2,
    .infer = matmul_infer,
    .cpu = {matmul_forward, matmul_vjp, matmul_jvp},
    .cuda = AD_CUDA_KERNELS(matmul),
    .domain = {{-2, 2}, {-2, 2}},
    .cases = matmul_cases,
    .n_cases = sizeof matmul_cases / sizeof matmul_cases[0],
    .complete_case = matmul_complete,
};

/* ---- linear ---- */
static ad_status linear_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)p;
    const ad_tensor *x = &in[0]->value, *w = &in[1]->value;
    char sx[64], sw[64], sb[64];
    ad_status st = ad_check_same_dtype("linear", in[0], in[1]);
    if (st == AD_OK && n_in == 3) st = ad_check_same_dtype("linear", in[0], in[2]);
    if (st != AD_OK) return st;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return ad_fail(AD_ERR_SHAPE, "linear: x %s and w %s do not fit: x is (N,I), w is (O,I)",
                       ad_shape_str(x, sx, sizeof sx), ad_shape_str(w, sw, sizeof sw));
    if (n_in == 3 && (in[2]->value.ndim != 1 || in[2]->value.shape[0] != w->shape[0]))
        return ad_fail(AD_ERR_SHAPE, "linear: bias %s does not fit w %s: it is (O) = (%lld)",
                       ad_shape_str(&in[2]->value, sb, sizeof sb), ad_shape_str(w, sw, sizeof sw),
                       (long long)w->shape[0]);
    *nd = 2;
    sh[0] = x->shape[0];
    sh[1] = w->shape[0];
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

/* y (N,O) += bias broadcast over rows */
static void add_rows(ad_dtype dt, void *y, const void *b, int64_t N, int64_t n_out)
{
    AD_DISPATCH(dt, {
        T *Y = y;
        const T *B = b;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < n_out; j++) Y[n * n_out + j] += B[j];
    });
}

static ad_status linear_forward(ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = x->shape[0], n_in_f = x->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    gemm(dt, false, true, N, n_out, n_in_f, x->data, n_in_f, w->data, n_in_f, 0.0, o->value.data, n_out);
    if (o->n_in == 3) add_rows(dt, o->value.data, o->in[2]->value.data, N, n_out);
    return AD_OK;
}

static void linear_vjp(const ad_node *o, int slot, const void *g, void *gin)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = x->shape[0], n_in_f = x->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot == 0) gemm(dt, false, false, N, n_in_f, n_out, g, n_out, w->data, n_in_f, 1.0, gin, n_in_f);        /* dx += dy·w */
    else if (slot == 1) gemm(dt, true, false, n_out, n_in_f, N, g, n_out, x->data, n_in_f, 1.0, gin, n_in_f);    /* dw += dyᵀ·x */
    else
        AD_DISPATCH(dt, {                                                                 /* db += Σₙ dy */
            const T *G = g;
            T *gb = gin;
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < n_out; j++) gb[j] += G[n * n_out + j];
        });
}

static void linear_jvp(ad_node *o, int k)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = x->shape[0], n_in_f = x->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *tx = ad_tangent_row(o->in[0], d), *tw = ad_tangent_row(o->in[1], d);
        memset(t, 0, (size_t)(N * n_out) * ad_dtype_size(dt));
        if (tx) gemm(dt, false, true, N, n_out, n_in_f, tx, n_in_f, w->data, n_in_f, 1.0, t, n_out);
        if (tw) gemm(dt, false, true, N, n_out, n_in_f, x->data, n_in_f, tw, n_in_f, 1.0, t, n_out);
        if (o->n_in == 3 && o->in[2]->tangent) add_rows(dt, t, ad_tangent_row(o->in[2], d), N, n_out);
    }
}

static const ad_op_case linear_cases[] = {
    {"x (4,3), w (5,3), b (5)", 3, {2, 2, 1}, {{4, 3, 1, 1}, {5, 3, 1, 1}, {5, 1, 1, 1}}, {.c = 0}},
    {"x (2,7), w (3,7), no bias", 2, {2, 2}, {{2, 7, 1, 1}, {3, 7, 1, 1}}, {.c = 0}},
    {"x (1,1), w (2,1), b (2)", 3, {2, 2, 1}, {{1, 1, 1, 1}, {2, 1, 1, 1}, {2, 1, 1, 1}}, {.c = 0}},
};

static ad_status linear_complete(ad_op_case *c)
{
    if (c->ndim[0] != 2) return ad_fail(AD_ERR_SHAPE, "linear: --shape must give x as a matrix (N,I)");
    c->n_in = 3;
    c->ndim[1] = 2;
    c->shape[1][0] = 4;
    c->shape[1][1] = c->shape[0][1];
    c->ndim[2] = 1;
    c->shape[2][0] = 4;
    return AD_OK;
}

AD_DECLARE_CUDA(linear)
const ad_op ad_op_linear = {
    .name = "linear",
    .summary = "x (N,I) · wᵀ (O,I) + b (O) -> (N,O)",
    .n_in = 3,
    .n_in_min = 2,
    .infer = linear_infer,
    .cpu = {linear_forward, linear_vjp, linear_jvp},
    .cuda = AD_CUDA_KERNELS(linear),
    .domain = {{-2, 2}, {-2, 2}, {-2, 2}},
    .cases = linear_cases,
    .n_cases = sizeof linear_cases / sizeof linear_cases[0],
    .complete_case = linear_complete,
};

ad_node *ad_matmul(ad_context *ctx, ad_node *a, ad_node *b)
{
    ad_node *in[2] = {a, b};
    return ad_apply(ctx, &ad_op_matmul, in, 2, NULL);
}

ad_node *ad_linear(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b)
{
    ad_node *in[3] = {x, w, b};
    return ad_apply(ctx, &ad_op_linear, in, b ? 3 : 2, NULL);
}
