/* reduce.c: sum and mean over one axis or all of them.
 * x is seen as (outer, len, inner) around the axis; the axis counts as in
 * NumPy (-1 the last); AD_ALL_AXES takes all (outer = inner = 1, len = size)
 * and gives a scalar.
 *   y[o,i] = s · Σ_l x[o,l,i]     (s = 1 for sum, 1/len for mean)
 *   dx[o,l,i] += s · dy[o,i]      ty[o,i] = s · Σ_l tx[o,l,i] */
#include "ad_kernel_util.h"
#include "ad_nn.h"

ad_status ad_axis_check(const char *op, int axis, const ad_tensor *x, bool all_ok, int *norm)
{
    char sx[64];
    if (axis == AD_ALL_AXES) {
        if (all_ok) {
            *norm = axis;
            return AD_OK;
        }
        return ad_fail(AD_ERR_SHAPE, "%s: needs one axis of x %s, not AD_ALL_AXES (use -1 for the last)", op,
                       ad_shape_str(x, sx, sizeof sx));
    }
    int nd = x->ndim > 0 ? x->ndim : 1;   /* a 0-d x takes axis 0 or -1, as in PyTorch */
    if (axis < -nd || axis >= nd)
        return ad_fail(AD_ERR_SHAPE, "%s: axis %d is out of range for x %s (valid: %d..%d, negative from the end%s)", op,
                       axis, ad_shape_str(x, sx, sizeof sx), -nd, nd - 1, all_ok ? "; AD_ALL_AXES for all" : "");
    *norm = x->ndim == 0 ? 0 : axis < 0 ? axis + nd : axis;
    return AD_OK;
}

void ad_reduce_split(const ad_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = *inner = 1;
    *len = x->size;
    if (axis == AD_ALL_AXES || x->ndim == 0) return;
    if (axis < 0) axis += x->ndim;
    *len = x->shape[axis];
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

static ad_status reduce_infer_named(const char *name, ad_node *const *in, const ad_params *p, int *nd, int64_t *sh,
                                    ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value;
    int axis = 0;   /* set by ad_axis_check; GCC -O3 cannot see it */
    if (!p) return ad_fail(AD_ERR_ARG, "%s: needs its axis (params)", name);
    if (ad_axis_check(name, p->axis, x, true, &axis) != AD_OK) return ad_last_status();
    *dt = (ad_dtype)x->dtype;
    if (axis == AD_ALL_AXES || x->ndim == 0) {
        *nd = p->keepdim ? x->ndim : 0;
        for (int d = 0; d < *nd; d++) sh[d] = 1;
        return AD_OK;
    }
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d == axis && !p->keepdim) continue;
        sh[k++] = d == axis ? 1 : x->shape[d];
    }
    *nd = k;
    return AD_OK;
}

static double scale_of(const ad_node *o)
{
    int64_t outer, len, inner;
    ad_reduce_split(&o->in[0]->value, o->params->axis, &outer, &len, &inner);
    return o->op == &ad_op_mean ? 1.0 / (double)len : 1.0;
}

/* y = s · Σ over the axis, for values or for a tangent row. */
static void reduce_into(const ad_node *o, const void *x, void *y)
{
    int64_t outer, len, inner;
    ad_reduce_split(&o->in[0]->value, o->params->axis, &outer, &len, &inner);
    double s = scale_of(o);
    AD_DISPATCH(o->value.dtype, {
        const T *X = x;
        T *Y = y;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t i = 0; i < inner; i++) {
                double acc = 0;
                for (int64_t l = 0; l < len; l++) acc += X[(a * len + l) * inner + i];
                Y[a * inner + i] = (T)(s * acc);
            }
    });
}

static ad_status reduce_forward(ad_node *o)
{
    reduce_into(o, o->in[0]->value.data, o->value.data);
    return AD_OK;
}

static void reduce_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    int64_t outer, len, inner;
    ad_reduce_split(&o->in[0]->value, o->params->axis, &outer, &len, &inner);
    double s = scale_of(o);
    AD_DISPATCH(o->value.dtype, {
        const T *G = g;
        T *GI = gin;
        for (int64_t a = 0; a < outer; a++)
            for (int64_t l = 0; l < len; l++)
                for (int64_t i = 0; i < inner; i++) GI[(a * len + l) * inner + i] += (T)(s * G[a * inner + i]);
    });
}
AD_VJP_BY_ROWS(reduce_vjp, reduce_vjp1)

static void reduce_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) reduce_into(o, ad_tangent_row(o->in[0], d), ad_tangent_row(o, d));
}

static ad_status sum_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return reduce_infer_named("sum", in, p, nd, sh, dt);
}

static ad_status mean_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return reduce_infer_named("mean", in, p, nd, sh, dt);
}

static const ad_op_case reduce_cases[] = {
    {"all of (3,4)", 1, {2}, {{3, 4, 1, 1}}, {.axis = AD_ALL_AXES}},
    {"axis 0 of (3,4)", 1, {2}, {{3, 4, 1, 1}}, {.axis = 0}},
    {"axis -1 (the last) of (3,4)", 1, {2}, {{3, 4, 1, 1}}, {.axis = -1}},
    {"axis 1 of (2,3,5), keepdim", 1, {3}, {{2, 3, 5, 1}}, {.axis = 1, .keepdim = 1}},
    {"axis -3 of (2,3,5), keepdim", 1, {3}, {{2, 3, 5, 1}}, {.axis = -3, .keepdim = 1}},
    {"axis 3 of (2,1,2,3)", 1, {4}, {{2, 1, 2, 3}}, {.axis = 3}},
    {"all of a scalar", 1, {0}, {{1, 1, 1, 1}}, {.axis = AD_ALL_AXES}},
    {"axis -1 of a scalar", 1, {0}, {{1, 1, 1, 1}}, {.axis = -1}},
};

/* The tangent rows of a reduction are the reduction of the input's rows;
 * an input without a tangent gives zeros (ad_apply only calls jvp when
 * some input has one, and a reduction has just one input). */
AD_DECLARE_CUDA(sum)
AD_DECLARE_CUDA(mean)
const ad_op ad_op_sum = {
    .name = "sum",
    .summary = "sum over an axis (params.axis: -1 the last, AD_ALL_AXES all; keepdim)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_LINEAR | AD_OP_PARAMS,
    .infer = sum_infer,
    .cpu = {reduce_forward, reduce_vjp, reduce_jvp, NULL},
    .cuda = AD_CUDA_KERNELS(sum),
    .domain = {{-2, 2}},
    .cases = reduce_cases,
    .n_cases = sizeof reduce_cases / sizeof reduce_cases[0],
};

const ad_op ad_op_mean = {
    .name = "mean",
    .summary = "mean over an axis (params.axis: -1 the last, AD_ALL_AXES all; keepdim)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_LINEAR | AD_OP_PARAMS,
    .infer = mean_infer,
    .cpu = {reduce_forward, reduce_vjp, reduce_jvp, NULL},
    .cuda = AD_CUDA_KERNELS(mean),
    .domain = {{-2, 2}},
    .cases = reduce_cases,
    .n_cases = sizeof reduce_cases / sizeof reduce_cases[0],
};

static ad_node *reduce(ad_context *ctx, const ad_op *op, ad_node *x, int axis, bool keepdim)
{
    ad_node *in[1] = {x};
    ad_params p = {.axis = axis, .keepdim = keepdim};
    return ad_apply(ctx, op, in, 1, &p);
}

ad_node *ad_sum(ad_context *ctx, ad_node *x, int axis, bool keepdim) { return reduce(ctx, &ad_op_sum, x, axis, keepdim); }
ad_node *ad_mean(ad_context *ctx, ad_node *x, int axis, bool keepdim) { return reduce(ctx, &ad_op_mean, x, axis, keepdim); }
