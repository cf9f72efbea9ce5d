/* conv2d.c: 2-d convolution (cross-correlation, as in PyTorch) by im2col
 * and GEMM, one image at a time.
 *   x (N,C,H,W), w (K,C,R,S), b (K) -> y (N,K,P,Q),
 *   P = (H + 2·pad_h - R)/stride_h + 1, Q likewise.
 * For image n, col (C·R·S, P·Q) holds the receptive fields as columns:
 *   y_n (K, P·Q)  = w (K, C·R·S) · col + b
 *   dw           += dy_n · colᵀ                    (K, C·R·S)
 *   dx_n         += col2im(wᵀ · dy_n)              (C, H, W)
 *   db           += Σ over n, p, q of dy
 *   ty            = conv(tx, w) + conv(x, tw) + tb  (linear in each input) */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "ad_kernel_util.h"
#include "ad_nn.h"

typedef struct geom {
    int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
} geom;

static geom geometry(const ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[2], w->shape[3],
              o->value.shape[2], o->value.shape[3], o->params->stride[0], o->params->stride[1], o->params->pad[0],
              o->params->pad[1]};
    return g;
}

static ad_status conv_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value, *w = &in[1]->value;
    char sx[64], sw[64], sb[64];
    for (int s = 1; s < n_in; s++)
        if (ad_check_same_dtype("conv2d", in[0], in[s]) != AD_OK) return ad_last_status();
    if (!p) return ad_fail(AD_ERR_ARG, "conv2d: needs its params (stride, pad)");
    if (x->ndim != 4 || w->ndim != 4)
        return ad_fail(AD_ERR_SHAPE, "conv2d: input x %s must be (N,C,H,W) and weight w %s (K,C,R,S)",
                       ad_shape_str(x, sx, sizeof sx), ad_shape_str(w, sw, sizeof sw));
    if (x->shape[1] != w->shape[1])
        return ad_fail(AD_ERR_SHAPE, "conv2d: input x %s has %lld channels but weight w %s expects %lld",
                       ad_shape_str(x, sx, sizeof sx), (long long)x->shape[1], ad_shape_str(w, sw, sizeof sw),
                       (long long)w->shape[1]);
    if (n_in == 3 && (in[2]->value.ndim != 1 || in[2]->value.shape[0] != w->shape[0]))
        return ad_fail(AD_ERR_SHAPE, "conv2d: bias %s must be (K) = (%lld) for weight w %s",
                       ad_shape_str(&in[2]->value, sb, sizeof sb), (long long)w->shape[0], ad_shape_str(w, sw, sizeof sw));
    if (p->stride[0] < 1 || p->stride[1] < 1 || p->pad[0] < 0 || p->pad[1] < 0)
        return ad_fail(AD_ERR_ARG, "conv2d: stride (%lld,%lld) must be >= 1 and padding (%lld,%lld) >= 0",
                       (long long)p->stride[0], (long long)p->stride[1], (long long)p->pad[0], (long long)p->pad[1]);
    int64_t hp = x->shape[2] + 2 * p->pad[0] - w->shape[2], wp = x->shape[3] + 2 * p->pad[1] - w->shape[3];
    if (hp < 0 || wp < 0)
        return ad_fail(AD_ERR_SHAPE, "conv2d: the %lldx%lld kernel of w %s is larger than the padded input x %s (pad %lld,%lld)",
                       (long long)w->shape[2], (long long)w->shape[3], ad_shape_str(w, sw, sizeof sw),
                       ad_shape_str(x, sx, sizeof sx), (long long)p->pad[0], (long long)p->pad[1]);
    *nd = 4;
    sh[0] = x->shape[0];
    sh[1] = w->shape[0];
    sh[2] = hp / p->stride[0] + 1;
    sh[3] = wp / p->stride[1] + 1;
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

/* col (C·R·S, P·Q) from image x_n (C,H,W); zero where the window is in the padding. */
#define IM2COL(T, X, COL, g)                                                                                           \
    for (int64_t c = 0; c < (g).C; c++)                                                                                \
        for (int64_t r = 0; r < (g).R; r++)                                                                            \
            for (int64_t s = 0; s < (g).S; s++) {                                                                      \
                T *row = (COL) + ((c * (g).R + r) * (g).S + s) * (g).P * (g).Q;                                        \
                for (int64_t p = 0; p < (g).P; p++) {                                                                  \
                    int64_t h = p * (g).sh - (g).ph + r;                                                               \
                    for (int64_t q = 0; q < (g).Q; q++) {                                                              \
                        int64_t w_ = q * (g).sw - (g).pw + s;                                                          \
                        row[p * (g).Q + q] = (h >= 0 && h < (g).H && w_ >= 0 && w_ < (g).W)                            \
                                                 ? (X)[(c * (g).H + h) * (g).W + w_]                                   \
                                                 : (T)0;                                                               \
                    }                                                                                                  \
                }                                                                                                      \
            }

static void gemm(ad_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *A, const void *B,
                 double beta, void *C)
{
    int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n);
    if (dt == AD_FLOAT32)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)k, 1.0f, A, lda, B, ldb, (float)beta, C, (int)n);
    else
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)k, 1.0, A, lda, B, ldb, beta, C, (int)n);
}

/* y (+)= conv(x, w) [+ b]: the forward, and each term of the jvp. */
static void conv_into(const ad_node *o, const void *x, const void *w, const void *b, void *y, double beta)
{
    geom g = geometry(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    size_t es = ad_dtype_size(dt);
    int64_t crs = g.C * g.R * g.S, pq = g.P * g.Q;
    void *col = malloc((size_t)(crs * pq) * es);
    if (!col) return;   /* cannot happen for the sizes the arena already holds */
    for (int64_t n = 0; n < g.N; n++) {
        AD_DISPATCH(dt, {
            const T *X = (const T *)x + n * g.C * g.H * g.W;
            T *COL = col;
            IM2COL(T, X, COL, g);
        });
        char *yn = (char *)y + (size_t)(n * g.K * pq) * es;
        gemm(dt, false, false, g.K, pq, crs, w, col, beta, yn);
        if (b)
            AD_DISPATCH(dt, {
                T *Y = (T *)yn;
                const T *B = b;
                for (int64_t k = 0; k < g.K; k++)
                    for (int64_t i = 0; i < pq; i++) Y[k * pq + i] += B[k];
            });
    }
    free(col);
}

static ad_status conv_forward(ad_node *o)
{
    conv_into(o, o->in[0]->value.data, o->in[1]->value.data, o->n_in == 3 ? o->in[2]->value.data : NULL,
              o->value.data, 0.0);
    return AD_OK;
}

static void conv_vjp(const ad_node *o, int slot, const void *gout, void *gin)
{
    geom g = geometry(o);
    ad_dtype dt = (ad_dtype)o->value.dtype;
    size_t es = ad_dtype_size(dt);
    int64_t crs = g.C * g.R * g.S, pq = g.P * g.Q;
    if (slot == 2) {   /* db[k] += Σ dy[n,k,:,:] */
        AD_DISPATCH(dt, {
            const T *G = gout;
            T *GB = gin;
            for (int64_t n = 0; n < g.N; n++)
                for (int64_t k = 0; k < g.K; k++)
                    for (int64_t i = 0; i < pq; i++) GB[k] += G[(n * g.K + k) * pq + i];
        });
        return;
    }
    void *col = malloc((size_t)(crs * pq) * es);
    if (!col) return;
    for (int64_t n = 0; n < g.N; n++) {
        const char *gn = (const char *)gout + (size_t)(n * g.K * pq) * es;
        if (slot == 1) {   /* dw += dy_n · colᵀ */
            AD_DISPATCH(dt, {
                const T *X = (const T *)o->in[0]->value.data + n * g.C * g.H * g.W;
                T *COL = col;
                IM2COL(T, X, COL, g);
            });
            gemm(dt, false, true, g.K, crs, pq, gn, col, 1.0, gin);
        } else {           /* dcol = wᵀ · dy_n, then scatter-add into dx_n */
            gemm(dt, true, false, crs, pq, g.K, o->in[1]->value.data, gn, 0.0, col);
            AD_DISPATCH(dt, {
                const T *COL = col;
                T *DX = (T *)gin + n * g.C * g.H * g.W;
                for (int64_t c = 0; c < g.C; c++)
                    for (int64_t r = 0; r < g.R; r++)
                        for (int64_t s = 0; s < g.S; s++) {
                            const T *row = COL + ((c * g.R + r) * g.S + s) * pq;
                            for (int64_t p = 0; p < g.P; p++) {
                                int64_t h = p * g.sh - g.ph + r;
                                if (h < 0 || h >= g.H) continue;
                                for (int64_t q = 0; q < g.Q; q++) {
                                    int64_t w_ = q * g.sw - g.pw + s;
                                    if (w_ >= 0 && w_ < g.W) DX[(c * g.H + h) * g.W + w_] += row[p * g.Q + q];
                                }
                            }
                        }
            });
        }
    }
    free(col);
}

static void conv_jvp(ad_node *o, int k)
{
    size_t bytes = (size_t)o->value.size * ad_dtype_size((ad_dtype)o->value.dtype);
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *tx = ad_tangent_row(o->in[0], d), *tw = ad_tangent_row(o->in[1], d);
        void *tb = o->n_in == 3 ? ad_tangent_row(o->in[2], d) : NULL;
        memset(t, 0, bytes);
        if (tx) conv_into(o, tx, o->in[1]->value.data, NULL, t, 1.0);
        if (tw) conv_into(o, o->in[0]->value.data, tw, NULL, t, 1.0);
        if (tb) {   /* + tb broadcast over n, p, q: a conv of zeros plus the bias */
            geom g = geometry(o);
            AD_DISPATCH(o->value.dtype, {
                T *TY = t;
                const T *TB = tb;
                for (int64_t n = 0; n < g.N; n++)
                    for (int64_t kk = 0; kk < g.K; kk++)
                        for (int64_t i = 0; i < g.P * g.Q; i++) TY[(n * g.K + kk) * g.P * g.Q + i] += TB[kk];
            });
        }
    }
}

static const ad_op_case conv_cases[] = {
    {"x (2,3,7,7), w (4,3,3,3), b, stride 1, pad 1", 3, {4, 4, 1},
     {{2, 3, 7, 7}, {4, 3, 3, 3}, {4, 1, 1, 1}}, {.stride = {1, 1}, .pad = {1, 1}}},
    {"x (2,2,9,8), w (3,2,3,2), b, stride 2, pad 0", 3, {4, 4, 1},
     {{2, 2, 9, 8}, {3, 2, 3, 2}, {3, 1, 1, 1}}, {.stride = {2, 2}, .pad = {0, 0}}},
    {"x (1,1,6,6), w (2,1,5,5), no bias, stride 1, pad 2", 2, {4, 4},
     {{1, 1, 6, 6}, {2, 1, 5, 5}}, {.stride = {1, 1}, .pad = {2, 2}}},
    {"x (3,2,5,5), w (2,2,3,3), b, stride 2, pad 1", 3, {4, 4, 1},
     {{3, 2, 5, 5}, {2, 2, 3, 3}, {2, 1, 1, 1}}, {.stride = {2, 2}, .pad = {1, 1}}},
};

/* From x's shape (and R,S where --kernel set them): w (K,C,R,S), b (K). */
static ad_status conv_complete(ad_op_case *c)
{
    if (c->ndim[0] != 4) return ad_fail(AD_ERR_SHAPE, "conv2d: --shape must give x as (N,C,H,W), e.g. 2x3x8x8");
    int64_t K = c->ndim[1] == 4 ? c->shape[1][0] : 4, R = c->ndim[1] == 4 ? c->shape[1][2] : 3,
            S = c->ndim[1] == 4 ? c->shape[1][3] : 3;
    c->n_in = 3;
    c->ndim[1] = 4;
    c->shape[1][0] = K;
    c->shape[1][1] = c->shape[0][1];
    c->shape[1][2] = R;
    c->shape[1][3] = S;
    c->ndim[2] = 1;
    c->shape[2][0] = K;
    return AD_OK;
}

AD_DECLARE_CUDA(conv2d)

const ad_op ad_op_conv2d = {
    .name = "conv2d",
    .summary = "x (N,C,H,W) ⋆ w (K,C,R,S) + b (K), stride, zero padding; im2col + GEMM",
    .n_in = 3,
    .n_in_min = 2,
    .flags = AD_OP_PARAMS,
    .infer = conv_infer,
    .cpu = {conv_forward, conv_vjp, conv_jvp},
    .cuda = AD_CUDA_KERNELS(conv2d),
    .domain = {{-2, 2}, {-2, 2}, {-2, 2}},
    .cases = conv_cases,
    .n_cases = sizeof conv_cases / sizeof conv_cases[0],
    .complete_case = conv_complete,
};

ad_node *ad_conv2d_ex(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, const int stride[2], const int pad[2])
{
    ad_node *in[3] = {x, w, b};
    ad_params p = {.stride = {stride[0], stride[1]}, .pad = {pad[0], pad[1]}};
    return ad_apply(ctx, &ad_op_conv2d, in, b ? 3 : 2, &p);
}

ad_node *ad_conv2d(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, int stride, int padding)
{
    int s[2] = {stride, stride}, p[2] = {padding, padding};
    return ad_conv2d_ex(ctx, x, w, b, s, p);
}
