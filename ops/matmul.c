/* matmul.c: matmul and linear through CBLAS (OpenBLAS). Every vjp
 * accumulates (beta = 1): with fan-out two consumers add into one grad.
 *   matmul, as torch.matmul: a (..., M, K) · b (..., K, N) -> y (..., M, N),
 *   batch dims broadcast; 1-D a is (1,K), 1-D b is (K,1), the unit dim
 *   dropped (ad_matmul_plan). Per output matrix i, with a_i, b_i the
 *   matrices it reads (the same one for every i along a broadcast dim):
 *     da_i += dy_i · b_iᵀ    db_i += a_iᵀ · dy_i    ty_i = ta_i·b_i + a_i·tb_i
 *   (one gemm after another, so a broadcast matrix sums its batch's grads).
 *   linear: x (..., I), w (O,I), b (O) -> y = x·wᵀ + b (..., O), the leading
 *   dims of x taken as N rows (a 1-D x is one row, y is (O)):
 *   (in code n_in_f = I and n_out = O: <complex.h>, pulled in by cblas.h, defines I)
 *     dx += dy · w         dw += dyᵀ · x         db += Σₙ dy[n,:]
 * Second order (ad_hvp): every vjp above is linear in the other input, so
 * its change along the tangents is the same vjp with that input replaced
 * by its tangent (dy·ḃᵀ, ȧᵀ·dy; dy·ẇ, dyᵀ·ẋ; db's none). */
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

ad_status ad_matmul_plan_make(const ad_tensor *a, const ad_tensor *b, ad_matmul_plan *p, int *nd, int64_t *shape)
{
    char sa[64], sb[64];
    if (a->ndim < 1 || b->ndim < 1)
        return ad_fail(AD_ERR_SHAPE, "matmul: needs at least 1-d inputs, got a %s and b %s (for a scalar use mul)",
                       ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb));
    bool a_vec = a->ndim == 1, b_vec = b->ndim == 1;
    p->M = a_vec ? 1 : a->shape[a->ndim - 2];
    p->K = a->shape[a->ndim - 1];
    int64_t kb = b->shape[b_vec ? 0 : b->ndim - 2];
    p->N = b_vec ? 1 : b->shape[b->ndim - 1];
    if (p->K != kb)
        return ad_fail(AD_ERR_SHAPE, "matmul: a %s has %lld columns but b %s has %lld rows",
                       ad_shape_str(a, sa, sizeof sa), (long long)p->K, ad_shape_str(b, sb, sizeof sb), (long long)kb);
    /* Batch dims: all but a's last 2 (1 for a vector), b's likewise;
     * right-aligned, padded to 2, broadcast. */
    int ba = a_vec ? 0 : a->ndim - 2, bb = b_vec ? 0 : b->ndim - 2;
    int nbd = ba > bb ? ba : bb;
    int64_t da[2] = {1, 1}, db[2] = {1, 1};
    for (int d = 0; d < ba; d++) da[2 - ba + d] = a->shape[d];
    for (int d = 0; d < bb; d++) db[2 - bb + d] = b->shape[d];
    int64_t stride_a = 1, stride_b = 1;
    for (int d = 1; d >= 0; d--) {
        if (da[d] != db[d] && da[d] != 1 && db[d] != 1)
            return ad_fail(AD_ERR_SHAPE, "matmul: the batch dims of a %s and b %s do not broadcast (%lld vs %lld)",
                           ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb), (long long)da[d],
                           (long long)db[d]);
        p->nb[d] = da[d] > db[d] ? da[d] : db[d];
        p->sa[d] = da[d] == 1 ? 0 : stride_a;
        p->sb[d] = db[d] == 1 ? 0 : stride_b;
        stride_a *= da[d];
        stride_b *= db[d];
    }
    p->batch = p->nb[0] * p->nb[1];
    int k = 0;
    for (int d = 2 - nbd; d < 2; d++) shape[k++] = p->nb[d];
    if (!a_vec) shape[k++] = p->M;
    if (!b_vec) shape[k++] = p->N;
    *nd = k;
    return AD_OK;
}

static ad_status matmul_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in;
    (void)p;
    ad_matmul_plan plan;
    ad_status st = ad_check_same_dtype("matmul", in[0], in[1]);
    if (st == AD_OK) st = ad_matmul_plan_make(&in[0]->value, &in[1]->value, &plan, nd, sh);
    *dt = (ad_dtype)in[0]->value.dtype;
    return st;
}

ad_matmul_plan ad_matmul_plan_of(const ad_node *o)
{
    ad_matmul_plan p;
    int nd;
    int64_t sh[AD_MAX_DIMS];
    ad_matmul_plan_make(&o->in[0]->value, &o->in[1]->value, &p, &nd, sh);   /* checked in infer */
    return p;
}

static ad_status matmul_forward(ad_node *o)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    const void *A = o->in[0]->value.data, *B = o->in[1]->value.data;
    for (int64_t i = 0; i < p.batch; i++)
        gemm(dt, false, false, p.M, p.N, p.K, ad_elem_ptr(A, ad_matmul_a_off(&p, i), dt), p.K,
             ad_elem_ptr(B, ad_matmul_b_off(&p, i), dt), p.N, 0.0, ad_elem_ptr(o->value.data, i * p.M * p.N, dt), p.N);
    return AD_OK;
}

/* da += dy·bᵀ (slot 0) or db += aᵀ·dy (slot 1), with `other` the data of
 * the other input, b or a (of its shape and dtype): each is linear in it. */
static void matmul_vjp_with(const ad_node *o, int slot, const void *other, const void *g, void *gin)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    for (int64_t i = 0; i < p.batch; i++) {
        const void *gi = ad_elem_ptr(g, i * p.M * p.N, dt);
        int64_t ao = ad_matmul_a_off(&p, i), bo = ad_matmul_b_off(&p, i);
        if (slot == 0) gemm(dt, false, true, p.M, p.K, p.N, gi, p.N, ad_elem_ptr(other, bo, dt), p.N, 1.0, ad_elem_ptr(gin, ao, dt), p.K);   /* da += dy·bᵀ */
        else gemm(dt, true, false, p.K, p.N, p.M, ad_elem_ptr(other, ao, dt), p.K, gi, p.N, 1.0, ad_elem_ptr(gin, bo, dt), p.N);             /* db += aᵀ·dy */
    }
}

static void matmul_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    matmul_vjp_with(o, slot, o->in[1 - slot]->value.data, g, gin);
}

/* A block of rows cotangents. Unbatched, da's rows stack: the block's dy is
 * (rows·M, N) and da (rows·M, K), one GEMM; otherwise row by row. */
static void matmul_vjp(const ad_node *o, int slot, int rows, const void *g, void *gin)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot == 0 && p.batch == 1 && rows > 1)
        gemm(dt, false, true, rows * p.M, p.K, p.N, g, p.N, o->in[1]->value.data, p.N, 1.0, gin, p.K);   /* da += dy·bᵀ */
    else ad_vjp_rows(matmul_vjp1, o, slot, rows, g, gin);
}

/* Second order (ad_op.h's vjp_tangent). da_i = dy_i·b_iᵀ is linear in b and
 * db_i = a_iᵀ·dy_i in a, so along the tangents ȧ, ḃ they change by
 * dy_i·ḃ_iᵀ and ȧ_iᵀ·dy_i: the vjp with the other input replaced by its
 * tangent (per output matrix i, broadcast matrices summing as in the vjp). */
static void matmul_vjp_tangent(const ad_node *o, int slot, int dir, const void *g, void *gin_dot)
{
    const void *other_dot = ad_tangent_row(o->in[1 - slot], dir);
    if (other_dot) matmul_vjp_with(o, slot, other_dot, g, gin_dot);
}

static void matmul_jvp(ad_node *o, int k)
{
    ad_matmul_plan p = ad_matmul_plan_of(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    const void *A = o->in[0]->value.data, *B = o->in[1]->value.data;
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *ta = ad_tangent_row(o->in[0], d), *tb = ad_tangent_row(o->in[1], d);
        memset(t, 0, (size_t)o->value.size * ad_dtype_size(dt));
        for (int64_t i = 0; i < p.batch; i++) {
            int64_t ao = ad_matmul_a_off(&p, i), bo = ad_matmul_b_off(&p, i);
            void *ti = ad_elem_ptr(t, i * p.M * p.N, dt);
            if (ta) gemm(dt, false, false, p.M, p.N, p.K, ad_elem_ptr(ta, ao, dt), p.K, ad_elem_ptr(B, bo, dt), p.N, 1.0, ti, p.N);
            if (tb) gemm(dt, false, false, p.M, p.N, p.K, ad_elem_ptr(A, ao, dt), p.K, ad_elem_ptr(tb, bo, dt), p.N, 1.0, ti, p.N);
        }
    }
}

static const ad_op_case matmul_cases[] = {
    {"(3,4)·(4,5)", 2, {2, 2}, {{3, 4, 1, 1}, {4, 5, 1, 1}}, {.c = 0}},
    {"(1,7)·(7,1)", 2, {2, 2}, {{1, 7, 1, 1}, {7, 1, 1, 1}}, {.c = 0}},
    {"(5,2)·(2,3)", 2, {2, 2}, {{5, 2, 1, 1}, {2, 3, 1, 1}}, {.c = 0}},
    {"vector (4)·(4,3)", 2, {1, 2}, {{4, 1, 1, 1}, {4, 3, 1, 1}}, {.c = 0}},
    {"(3,4)·vector (4)", 2, {2, 1}, {{3, 4, 1, 1}, {4, 1, 1, 1}}, {.c = 0}},
    {"vector (5)·vector (5): a dot product", 2, {1, 1}, {{5, 1, 1, 1}, {5, 1, 1, 1}}, {.c = 0}},
    {"batched (2,3,4)·(2,4,2)", 2, {3, 3}, {{2, 3, 4, 1}, {2, 4, 2, 1}}, {.c = 0}},
    {"batch broadcast (2,3,4)·(4,2)", 2, {3, 2}, {{2, 3, 4, 1}, {4, 2, 1, 1}}, {.c = 0}},
    {"batch broadcast (3,1,2,3)·(2,3,2)", 2, {4, 3}, {{3, 1, 2, 3}, {2, 3, 2, 1}}, {.c = 0}},
    {"vector (3)·batched (2,3,2)", 2, {1, 3}, {{3, 1, 1, 1}, {2, 3, 2, 1}}, {.c = 0}},
    {"two batch dims (2,3,2,4)·(2,3,4,2)", 2, {4, 4}, {{2, 3, 2, 4}, {2, 3, 4, 2}}, {.c = 0}},
};

static ad_status matmul_complete(ad_op_case *c)
{
    /* a (..., M, K) or (K) given: b is (K, 3) */
    if (c->ndim[0] < 1) return ad_fail(AD_ERR_SHAPE, "matmul: --shape must give input 0 at least 1 dimension");
    c->n_in = 2;
    c->ndim[1] = 2;
    c->shape[1][0] = c->shape[0][c->ndim[0] - 1];
    c->shape[1][1] = 3;
    return AD_OK;
}

AD_DECLARE_CUDA(matmul)
const ad_op ad_op_matmul = {
    .name = "matmul",
    .summary = "a (..., M,K) · b (..., K,N) -> (..., M,N) as torch.matmul (1-D, batched, broadcast batch), CBLAS",
    .n_in = 2,
    .n_in_min = 2,
    .infer = matmul_infer,
    .cpu = {matmul_forward, matmul_vjp, matmul_jvp, matmul_vjp_tangent},
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
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1])
        return ad_fail(AD_ERR_SHAPE, "linear: x %s and w %s do not fit: x is (..., I), w is (O,I)",
                       ad_shape_str(x, sx, sizeof sx), ad_shape_str(w, sw, sizeof sw));
    if (n_in == 3 && (in[2]->value.ndim != 1 || in[2]->value.shape[0] != w->shape[0]))
        return ad_fail(AD_ERR_SHAPE, "linear: bias %s does not fit w %s: it is (O) = (%lld)",
                       ad_shape_str(&in[2]->value, sb, sizeof sb), ad_shape_str(w, sw, sizeof sw),
                       (long long)w->shape[0]);
    *nd = x->ndim;   /* x's shape with its last dim I replaced by O */
    for (int d = 0; d < x->ndim - 1; d++) sh[d] = x->shape[d];
    sh[x->ndim - 1] = w->shape[0];
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
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    gemm(dt, false, true, N, n_out, n_in_f, x->data, n_in_f, w->data, n_in_f, 0.0, o->value.data, n_out);
    if (o->n_in == 3) add_rows(dt, o->value.data, o->in[2]->value.data, N, n_out);
    return AD_OK;
}

/* dx += dy·w (slot 0) or dw += dyᵀ·x (slot 1), with `other` the data of
 * w or x (of its shape and dtype): each is linear in it. */
static void linear_vjp_with(const ad_node *o, int slot, const void *other, const void *g, void *gin)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot == 0) gemm(dt, false, false, N, n_in_f, n_out, g, n_out, other, n_in_f, 1.0, gin, n_in_f);   /* dx += dy·w */
    else gemm(dt, true, false, n_out, n_in_f, N, g, n_out, other, n_in_f, 1.0, gin, n_in_f);             /* dw += dyᵀ·x */
}

static void linear_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    int64_t N = ad_linear_rows(&o->in[0]->value), n_out = o->in[1]->value.shape[0];
    ad_dtype dt = (ad_dtype)o->value.dtype;
    if (slot < 2) linear_vjp_with(o, slot, o->in[1 - slot]->value.data, g, gin);
    else
        AD_DISPATCH(dt, {                                                                 /* db += Σₙ dy */
            const T *G = g;
            T *gb = gin;
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < n_out; j++) gb[j] += G[n * n_out + j];
        });
}

/* A block of rows cotangents: dx's rows stack (dy (rows·N, O) · w), one
 * GEMM; dw and db row by row. */
static void linear_vjp(const ad_node *o, int slot, int rows, const void *g, void *gin)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
    if (slot == 0 && rows > 1)
        gemm((ad_dtype)o->value.dtype, false, false, rows * N, n_in_f, n_out, g, n_out, w->data, n_in_f, 1.0, gin, n_in_f);
    else ad_vjp_rows(linear_vjp1, o, slot, rows, g, gin);
}

/* Second order: dx = dy·w is linear in w and dw = dyᵀ·x in x, so along the
 * tangents they change by dy·ẇ (N,I) and dyᵀ·ẋ (O,I): the vjp with the
 * other input replaced by its tangent. db = Σₙ dy does not move: no term. */
static void linear_vjp_tangent(const ad_node *o, int slot, int dir, const void *g, void *gin_dot)
{
    const void *other_dot = slot < 2 ? ad_tangent_row(o->in[1 - slot], dir) : NULL;
    if (other_dot) linear_vjp_with(o, slot, other_dot, g, gin_dot);
}

static void linear_jvp(ad_node *o, int k)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    int64_t N = ad_linear_rows(x), n_in_f = w->shape[1], n_out = w->shape[0];
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
    {"vector x (3), w (4,3), b (4)", 3, {1, 2, 1}, {{3, 1, 1, 1}, {4, 3, 1, 1}, {4, 1, 1, 1}}, {.c = 0}},
    {"batched x (2,3,4), w (5,4), b (5)", 3, {3, 2, 1}, {{2, 3, 4, 1}, {5, 4, 1, 1}, {5, 1, 1, 1}}, {.c = 0}},
    {"x (2,2,1,3), w (2,3), no bias", 2, {4, 2}, {{2, 2, 1, 3}, {2, 3, 1, 1}}, {.c = 0}},
};

static ad_status linear_complete(ad_op_case *c)
{
    if (c->ndim[0] < 1) return ad_fail(AD_ERR_SHAPE, "linear: --shape must give x as (..., I), at least 1-d");
    c->n_in = 3;
    c->ndim[1] = 2;
    c->shape[1][0] = 4;
    c->shape[1][1] = c->shape[0][c->ndim[0] - 1];
    c->ndim[2] = 1;
    c->shape[2][0] = 4;
    return AD_OK;
}

AD_DECLARE_CUDA(linear)
const ad_op ad_op_linear = {
    .name = "linear",
    .summary = "x (..., I) · wᵀ (O,I) + b (O) -> (..., O) as torch.nn.functional.linear",
    .n_in = 3,
    .n_in_min = 2,
    .flags = AD_OP_BATCHED,   /* (matmul is not: a 2-d a broadcast over b's batch feeds every item) */
    .infer = linear_infer,
    .cpu = {linear_forward, linear_vjp, linear_jvp, linear_vjp_tangent},
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
