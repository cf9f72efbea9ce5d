/* softmax.c: softmax and log-softmax along an axis, computed stably (the
 * row's max subtracted before exp, so [999, 0, -2] gives (1, 0, 0), not
 * NaN; a NaN in the row makes the row NaN). x is seen as (outer, len,
 * inner) around the axis, which counts as in NumPy (-1 the last).
 *   softmax:     y = exp(x - m) / Σ exp(x - m)
 *                dx += y ⊙ (dy - Σ dy·y)          ty = y ⊙ (tx - Σ y·tx)
 *   log-softmax: y = x - m - log Σ exp(x - m)
 *                dx += dy - p · Σ dy  (p = e^y)   ty = tx - Σ p·tx
 * Second order (ad_hvp): the change of dx along the tangents, with ty the
 * output's tangent (already made by the jvp):
 *   softmax:     ty ⊙ (dy - Σ dy·y) - y ⊙ Σ dy·ty
 *   log-softmax: -tp · Σ dy,  tp = p ⊙ ty  (p = e^y moves by e^y·ty) */
#include <math.h>
#include "ad_elementwise_math.h"   /* max_f: a NaN in the row wins, as in PyTorch */
#include "ad_kernel_util.h"
#include "ad_nn.h"

static void split(const ad_node *o, int64_t *outer, int64_t *len, int64_t *inner)
{
    ad_reduce_split(&o->in[0]->value, o->params->axis, outer, len, inner);
}

static ad_status infer_named(const char *name, ad_node *const *in, const ad_params *p, int *nd, int64_t *sh,
                             ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value;
    int axis;
    if (!p) return ad_fail(AD_ERR_ARG, "%s: needs its axis (params)", name);
    if (ad_axis_check(name, p->axis, x, false, &axis) != AD_OK) return ad_last_status();
    *nd = x->ndim;
    for (int d = 0; d < AD_MAX_DIMS; d++) sh[d] = x->shape[d];
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

static bool is_log(const ad_node *o) { return o->op == &ad_op_log_softmax; }

static ad_status softmax_forward(ad_node *o)
{
    int64_t outer, len, inner;
    split(o, &outer, &len, &inner);
    bool lg = is_log(o);
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        T *Y = o->value.data;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t i = 0; i < inner; i++) {
                const T *x = X + a * len * inner + i;
                T *y = Y + a * len * inner + i;
                double m = -INFINITY, s = 0;
                for (int64_t l = 0; l < len; l++) m = max_f(m, (double)x[l * inner]);
                for (int64_t l = 0; l < len; l++) s += exp((double)x[l * inner] - m);
                for (int64_t l = 0; l < len; l++)
                    y[l * inner] = lg ? (T)((double)x[l * inner] - m - log(s)) : (T)(exp((double)x[l * inner] - m) / s);
            }
    });
    return AD_OK;
}

/* For one row: p = softmax probabilities from y; returns Σ w·p or Σ w·(y). */
static void softmax_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    int64_t outer, len, inner;
    split(o, &outer, &len, &inner);
    bool lg = is_log(o);
    AD_DISPATCH(o->value.dtype, {
        const T *Y = o->value.data, *G = g;
        T *GI = gin;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t base = a * len * inner + i;
                double dot = 0;
                for (int64_t l = 0; l < len; l++)
                    dot += lg ? (double)G[base + l * inner] : (double)G[base + l * inner] * Y[base + l * inner];
                for (int64_t l = 0; l < len; l++) {
                    int64_t k = base + l * inner;
                    GI[k] += lg ? (T)(G[k] - exp((double)Y[k]) * dot) : (T)(Y[k] * (G[k] - dot));
                }
            }
    });
}
AD_VJP_BY_ROWS(softmax_vjp, softmax_vjp1)

/* Second order (ad_op.h's vjp_tangent): the vjp's dx differentiated along
 * the input's tangent, through y and its tangent ty (see the top). */
static void softmax_vjp_tangent(const ad_node *o, int slot, int dir, const void *g, void *gin_dot)
{
    (void)slot;
    int64_t outer, len, inner;
    split(o, &outer, &len, &inner);
    bool lg = is_log(o);
    const void *ty = ad_tangent_row(o, dir);
    if (!ty) return;   /* the input does not move */
    AD_DISPATCH(o->value.dtype, {
        const T *Y = o->value.data, *TY = ty, *G = g;
        T *GD = gin_dot;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t base = a * len * inner + i;
                double dot = 0, tdot = 0;   /* Σ dy·y (log: Σ dy), Σ dy·ty */
                for (int64_t l = 0; l < len; l++) {
                    int64_t k = base + l * inner;
                    dot += lg ? (double)G[k] : (double)G[k] * Y[k];
                    tdot += (double)G[k] * TY[k];
                }
                for (int64_t l = 0; l < len; l++) {
                    int64_t k = base + l * inner;
                    GD[k] += lg ? (T)(-exp((double)Y[k]) * TY[k] * dot) : (T)(TY[k] * (G[k] - dot) - Y[k] * tdot);
                }
            }
    });
}

static void softmax_jvp(ad_node *o, int kdirs)
{
    int64_t outer, len, inner;
    split(o, &outer, &len, &inner);
    bool lg = is_log(o);
    for (int d = 0; d < kdirs; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *Y = o->value.data, *TX = ad_tangent_row(o->in[0], d);
            T *TY = ad_tangent_row(o, d);
            for (int64_t a = 0; a < outer; a++)
                for (int64_t i = 0; i < inner; i++) {
                    int64_t base = a * len * inner + i;
                    double dot = 0;   /* Σ p·tx */
                    for (int64_t l = 0; l < len; l++) {
                        int64_t k = base + l * inner;
                        dot += (lg ? exp((double)Y[k]) : (double)Y[k]) * TX[k];
                    }
                    for (int64_t l = 0; l < len; l++) {
                        int64_t k = base + l * inner;
                        TY[k] = lg ? (T)(TX[k] - dot) : (T)(Y[k] * (TX[k] - dot));
                    }
                }
        });
}

static ad_status softmax_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return infer_named("softmax", in, p, nd, sh, dt);
}

static ad_status log_softmax_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return infer_named("log_softmax", in, p, nd, sh, dt);
}

/* gradcheck --op softmax --shape S starts from the first case: the last axis. */
static const ad_op_case softmax_cases[] = {
    {"(3) along -1", 1, {1}, {{3, 1, 1, 1}}, {.axis = -1}},
    {"(4,5) along 1", 1, {2}, {{4, 5, 1, 1}}, {.axis = 1}},
    {"(3,4,2) along 1", 1, {3}, {{3, 4, 2, 1}}, {.axis = 1}},
    {"(2,3) along 0", 1, {2}, {{2, 3, 1, 1}}, {.axis = 0}},
    {"(2,3,4) along -1 (the last)", 1, {3}, {{2, 3, 4, 1}}, {.axis = -1}},
    {"(3,2,2) along -3 (the first)", 1, {3}, {{3, 2, 2, 1}}, {.axis = -3}},
};

AD_DECLARE_CUDA(softmax)
AD_DECLARE_CUDA(log_softmax)
const ad_op ad_op_softmax = {
    .name = "softmax",
    .summary = "exp(x) / Σ exp(x) along params.axis (-1 the last), stable",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_PARAMS,
    .infer = softmax_infer,
    .cpu = {softmax_forward, softmax_vjp, softmax_jvp, softmax_vjp_tangent},
    .cuda = AD_CUDA_KERNELS(softmax),
    .domain = {{-3, 3}},
    .cases = softmax_cases,
    .n_cases = sizeof softmax_cases / sizeof softmax_cases[0],
};

const ad_op ad_op_log_softmax = {
    .name = "log_softmax",
    .summary = "x - log Σ exp(x) along params.axis (-1 the last), stable",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_PARAMS,
    .infer = log_softmax_infer,
    .cpu = {softmax_forward, softmax_vjp, softmax_jvp, softmax_vjp_tangent},
    .cuda = AD_CUDA_KERNELS(log_softmax),
    .domain = {{-3, 3}},
    .cases = softmax_cases,
    .n_cases = sizeof softmax_cases / sizeof softmax_cases[0],
};

ad_node *ad_softmax(ad_context *ctx, ad_node *x, int axis)
{
    ad_node *in[1] = {x};
    ad_params p = {.axis = axis};
    return ad_apply(ctx, &ad_op_softmax, in, 1, &p);
}

ad_node *ad_log_softmax(ad_context *ctx, ad_node *x, int axis)
{
    ad_node *in[1] = {x};
    ad_params p = {.axis = axis};
    return ad_apply(ctx, &ad_op_log_softmax, in, 1, &p);
}
