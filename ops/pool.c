/* pool.c: 2-d max-pooling and average-pooling over windows.
 *   x (N,C,H,W) -> y (N,C,P,Q), P = (H - window)/stride + 1.
 * max:  y = the window's max; dx[argmax] += dy. At a tie the first maximum
 *       in row-major window order takes the whole gradient (a valid
 *       subgradient); gradcheck draws inputs away from ties (kink_gap).
 * avg:  y = the window's mean; dx[window] += dy / window². */
#include <math.h>
#include "ad_kernel_util.h"
#include "ad_nn.h"

static ad_status pool_infer_named(const char *name, ad_node *const *in, const ad_params *p, int *nd, int64_t *sh,
                                  ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value;
    char sx[64];
    if (!p) return ad_fail(AD_ERR_ARG, "%s: needs its params (window, stride)", name);
    if (x->ndim != 4) return ad_fail(AD_ERR_SHAPE, "%s: input x %s must be (N,C,H,W)", name, ad_shape_str(x, sx, sizeof sx));
    if (p->window[0] < 1 || p->window[1] < 1 || p->stride[0] < 1 || p->stride[1] < 1)
        return ad_fail(AD_ERR_ARG, "%s: window (%lld,%lld) and stride (%lld,%lld) must be >= 1", name,
                       (long long)p->window[0], (long long)p->window[1], (long long)p->stride[0], (long long)p->stride[1]);
    if (p->window[0] > x->shape[2] || p->window[1] > x->shape[3])
        return ad_fail(AD_ERR_SHAPE, "%s: the %lldx%lld window is larger than the input x %s", name,
                       (long long)p->window[0], (long long)p->window[1], ad_shape_str(x, sx, sizeof sx));
    *nd = 4;
    sh[0] = x->shape[0];
    sh[1] = x->shape[1];
    sh[2] = (x->shape[2] - p->window[0]) / p->stride[0] + 1;
    sh[3] = (x->shape[3] - p->window[1]) / p->stride[1] + 1;
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

/* Visit each output element (plane, p, q) with its window's top-left input
 * index `base` in plane `plane`. */
#define POOL_FOR(o, ...)                                                                                               \
    do {                                                                                                               \
        const ad_tensor *x_ = &(o)->in[0]->value;                                                                      \
        int64_t H = x_->shape[2], W = x_->shape[3], P = (o)->value.shape[2], Q = (o)->value.shape[3];                 \
        int64_t wh = (o)->params->window[0], ww = (o)->params->window[1];                                              \
        int64_t sh_ = (o)->params->stride[0], sw_ = (o)->params->stride[1];                                            \
        for (int64_t plane = 0; plane < x_->shape[0] * x_->shape[1]; plane++)                                          \
            for (int64_t p = 0; p < P; p++)                                                                            \
                for (int64_t q = 0; q < Q; q++) {                                                                      \
                    int64_t io = (plane * P + p) * Q + q;                                                              \
                    int64_t base = plane * H * W + p * sh_ * W + q * sw_;                                              \
                    (void)wh;                                                                                          \
                    (void)ww;                                                                                          \
                    (void)io;                                                                                          \
                    __VA_ARGS__                                                                                        \
                }                                                                                                      \
    } while (0)

/* The index of the window's first maximum. */
#define ARGMAX(X, base, W, wh, ww, best)                                                                               \
    do {                                                                                                               \
        best = (base);                                                                                                 \
        for (int64_t r_ = 0; r_ < (wh); r_++)                                                                          \
            for (int64_t s_ = 0; s_ < (ww); s_++)                                                                      \
                if ((X)[(base) + r_ * (W) + s_] > (X)[best]) best = (base) + r_ * (W) + s_;                            \
    } while (0)

static bool is_max(const ad_node *o) { return o->op == &ad_op_maxpool2d; }

static ad_status pool_forward(ad_node *o)
{
    bool mx = is_max(o);
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        T *Y = o->value.data;
        POOL_FOR(o, {
            if (mx) {
                int64_t best;
                ARGMAX(X, base, W, wh, ww, best);
                Y[io] = X[best];
            } else {
                double s = 0;
                for (int64_t r = 0; r < wh; r++)
                    for (int64_t c = 0; c < ww; c++) s += X[base + r * W + c];
                Y[io] = (T)(s / (double)(wh * ww));
            }
        });
    });
    return AD_OK;
}

/* dx += (routing of dy): the vjp, and the jvp's transpose twin below. */
static void pool_vjp(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    bool mx = is_max(o);
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data, *G = g;
        T *GI = gin;
        POOL_FOR(o, {
            if (mx) {
                int64_t best;
                ARGMAX(X, base, W, wh, ww, best);
                GI[best] += G[io];
            } else {
                T share = (T)(G[io] / (double)(wh * ww));
                for (int64_t r = 0; r < wh; r++)
                    for (int64_t c = 0; c < ww; c++) GI[base + r * W + c] += share;
            }
        });
    });
}

static void pool_jvp(ad_node *o, int k)
{
    bool mx = is_max(o);
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *X = o->in[0]->value.data, *TX = ad_tangent_row(o->in[0], d);
            T *TY = ad_tangent_row(o, d);
            POOL_FOR(o, {
                if (mx) {
                    int64_t best;
                    ARGMAX(X, base, W, wh, ww, best);
                    TY[io] = TX[best];
                } else {
                    double s = 0;
                    for (int64_t r = 0; r < wh; r++)
                        for (int64_t c = 0; c < ww; c++) s += TX[base + r * W + c];
                    TY[io] = (T)(s / (double)(wh * ww));
                }
            });
        });
}

/* Max-pool's kinks are ties: the gap between each window's top two. */
static double maxpool_gap(const ad_node *o)
{
    double gap = INFINITY;
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        POOL_FOR(o, {
            double a = -INFINITY, b = -INFINITY;
            for (int64_t r = 0; r < wh; r++)
                for (int64_t c = 0; c < ww; c++) {
                    double v = X[base + r * W + c];
                    if (v > a) {
                        b = a;
                        a = v;
                    } else if (v > b) {
                        b = v;
                    }
                }
            if (wh * ww > 1) gap = fmin(gap, a - b);
        });
    });
    return gap;
}

static ad_status maxpool_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return pool_infer_named("maxpool2d", in, p, nd, sh, dt);
}

static ad_status avgpool_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return pool_infer_named("avgpool2d", in, p, nd, sh, dt);
}

static const ad_op_case pool_cases[] = {
    {"x (2,3,4,4), window 2, stride 2", 1, {4}, {{2, 3, 4, 4}}, {.window = {2, 2}, .stride = {2, 2}}},
    {"x (1,2,5,7), window 3, stride 2", 1, {4}, {{1, 2, 5, 7}}, {.window = {3, 3}, .stride = {2, 2}}},
    {"x (2,1,5,5), window 2, stride 1 (overlapping)", 1, {4}, {{2, 1, 5, 5}}, {.window = {2, 2}, .stride = {1, 1}}},
};

static ad_status pool_complete(ad_op_case *c)
{
    if (c->ndim[0] != 4) return ad_fail(AD_ERR_SHAPE, "pooling: --shape must give x as (N,C,H,W)");
    return AD_OK;
}

AD_DECLARE_CUDA(maxpool2d)
AD_DECLARE_CUDA(avgpool2d)

const ad_op ad_op_maxpool2d = {
    .name = "maxpool2d",
    .summary = "max over windows (params.window, params.stride); ties: the first maximum",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_PARAMS | AD_OP_NONSMOOTH,
    .infer = maxpool_infer,
    .cpu = {pool_forward, pool_vjp, pool_jvp},
    .cuda = AD_CUDA_KERNELS(maxpool2d),
    .domain = {{-2, 2}},
    .kink_gap = maxpool_gap,
    .cases = pool_cases,
    .n_cases = sizeof pool_cases / sizeof pool_cases[0],
    .complete_case = pool_complete,
};

const ad_op ad_op_avgpool2d = {
    .name = "avgpool2d",
    .summary = "mean over windows (params.window, params.stride)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_PARAMS | AD_OP_LINEAR,
    .infer = avgpool_infer,
    .cpu = {pool_forward, pool_vjp, pool_jvp},
    .cuda = AD_CUDA_KERNELS(avgpool2d),
    .domain = {{-2, 2}},
    .cases = pool_cases,
    .n_cases = sizeof pool_cases / sizeof pool_cases[0],
    .complete_case = pool_complete,
};

static ad_node *pool(ad_context *ctx, const ad_op *op, ad_node *x, int window, int stride)
{
    ad_node *in[1] = {x};
    ad_params p = {.window = {window, window}, .stride = {stride, stride}};
    return ad_apply(ctx, op, in, 1, &p);
}

ad_node *ad_maxpool2d(ad_context *ctx, ad_node *x, int window, int stride) { return pool(ctx, &ad_op_maxpool2d, x, window, stride); }
ad_node *ad_avgpool2d(ad_context *ctx, ad_node *x, int window, int stride) { return pool(ctx, &ad_op_avgpool2d, x, window, stride); }
