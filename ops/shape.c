/* shape.c: reshape (and flatten) and transpose: ops that move elements.
 *   reshape: same elements in a new shape (one -1 inferred); dx += dy, ty = tx.
 *   transpose: y[i_perm] = x[i]; dx[i] += dy[i_perm]; ty = tx permuted
 *              (perm entries negative from the end, as torch.permute). */
#include <string.h>
#include "ad_kernel_util.h"
#include "ad_nn.h"

/* The target shape with its one -1 (if any) filled in from x's size, as
 * NumPy and PyTorch do: (2,6) -> (-1,4) gives (3,4). */
static ad_status reshape_target(const ad_tensor *x, const ad_params *p, int64_t *sh)
{
    char sx[64], st[64];
    int infer_at = -1;
    memcpy(sh, p->shape, sizeof p->shape);
    for (int d = 0; d < p->ndim && d < AD_MAX_DIMS; d++) {
        if (p->shape[d] != -1) continue;
        if (infer_at >= 0)
            return ad_fail(AD_ERR_SHAPE, "reshape: the shape %s has more than one -1; only one dimension can be inferred",
                           ad_shape_str_n(p->ndim, p->shape, st, sizeof st));
        infer_at = d;
        sh[d] = 1;
    }
    int64_t size;
    if (ad_shape_check("reshape", p->ndim, sh, &size) != AD_OK) return ad_last_status();
    if (infer_at >= 0) {
        if (x->size % size != 0)
            return ad_fail(AD_ERR_SHAPE, "reshape: x %s has %lld elements, which the shape %s cannot hold for any -1 "
                           "(%lld is not a multiple of %lld)",
                           ad_shape_str(x, sx, sizeof sx), (long long)x->size,
                           ad_shape_str_n(p->ndim, p->shape, st, sizeof st), (long long)x->size, (long long)size);
        sh[infer_at] = x->size / size;
        size = x->size;
    }
    if (size != x->size)
        return ad_fail(AD_ERR_SHAPE, "reshape: x %s has %lld elements, the shape %s has %lld",
                       ad_shape_str(x, sx, sizeof sx), (long long)x->size, ad_shape_str_n(p->ndim, p->shape, st, sizeof st),
                       (long long)size);
    return AD_OK;
}

static ad_status reshape_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    const ad_tensor *x = &in[0]->value;
    if (!p) return ad_fail(AD_ERR_ARG, "reshape: needs the target shape (params.ndim, params.shape)");
    if (reshape_target(x, p, sh) != AD_OK) return ad_last_status();
    *nd = p->ndim;
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

static size_t bytes_of(const ad_node *o) { return (size_t)o->value.size * ad_dtype_size((ad_dtype)o->value.dtype); }

static ad_status reshape_forward(ad_node *o)
{
    memcpy(o->value.data, o->in[0]->value.data, bytes_of(o));
    return AD_OK;
}

static void reshape_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    AD_DISPATCH(o->value.dtype, {
        const T *G = g;
        T *GI = gin;
        for (int64_t i = 0; i < o->value.size; i++) GI[i] += G[i];
    });
}
AD_VJP_BY_ROWS(reshape_vjp, reshape_vjp1)

static void reshape_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) memcpy(ad_tangent_row(o, d), ad_tangent_row(o->in[0], d), bytes_of(o));
}

static const ad_op_case reshape_cases[] = {
    {"(2,6) -> (3,4)", 1, {2}, {{2, 6, 1, 1}}, {.ndim = 2, .shape = {3, 4, 1, 1}}},
    {"(2,3,2,2) -> (2,12)", 1, {4}, {{2, 3, 2, 2}}, {.ndim = 2, .shape = {2, 12, 1, 1}}},
    {"(5) -> scalar-like (5,1,1)", 1, {1}, {{5, 1, 1, 1}}, {.ndim = 3, .shape = {5, 1, 1, 1}}},
    {"(2,3,4) -> (-1,4), inferred (6,4)", 1, {3}, {{2, 3, 4, 1}}, {.ndim = 2, .shape = {-1, 4, 1, 1}}},
    {"(6) -> (2,-1,3), inferred (2,1,3)", 1, {1}, {{6, 1, 1, 1}}, {.ndim = 3, .shape = {2, -1, 3, 1}}},
};

static ad_status reshape_complete(ad_op_case *c)
{
    /* --shape gives x: reshape it to a column (size, 1). */
    int64_t size = 1;
    for (int d = 0; d < c->ndim[0]; d++) size *= c->shape[0][d];
    c->params.ndim = 2;
    c->params.shape[0] = size;
    c->params.shape[1] = 1;
    return AD_OK;
}

AD_DECLARE_CUDA(reshape)
const ad_op ad_op_reshape = {
    .name = "reshape",
    .summary = "the same elements in a new shape (params.ndim, params.shape; one -1 is inferred)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_LINEAR | AD_OP_PARAMS,
    .infer = reshape_infer,
    .cpu = {reshape_forward, reshape_vjp, reshape_jvp, NULL},
    .cuda = AD_CUDA_KERNELS(reshape),
    .domain = {{-2, 2}},
    .cases = reshape_cases,
    .n_cases = sizeof reshape_cases / sizeof reshape_cases[0],
    .complete_case = reshape_complete,
};

/* ---- transpose ---- */
static ad_status transpose_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    const ad_tensor *x = &in[0]->value;
    char sx[64];
    if (!p) return ad_fail(AD_ERR_ARG, "transpose: needs its permutation (params.perm)");
    int seen = 0;
    for (int i = 0; i < x->ndim; i++) {
        int a = p->perm[i] < 0 ? p->perm[i] + x->ndim : p->perm[i];   /* negative from the end, as torch.permute */
        if (a < 0 || a >= x->ndim || (seen & (1 << a)))
            return ad_fail(AD_ERR_SHAPE,
                           "transpose: (%d,%d,%d,%d) is not a permutation of the %d axes of x %s (each axis once, "
                           "%d..%d, negative from the end)",
                           p->perm[0], p->perm[1], p->perm[2], p->perm[3], x->ndim, ad_shape_str(x, sx, sizeof sx),
                           -x->ndim, x->ndim - 1);
        seen |= 1 << a;
        sh[i] = x->shape[a];
    }
    *nd = x->ndim;
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

/* For each output element (row-major), the flat index of its source. */
void ad_transpose_source_strides(const ad_node *o, int64_t *s)
{
    const ad_tensor *x = &o->in[0]->value;
    int64_t in_stride[AD_MAX_DIMS], acc = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        in_stride[d] = acc;
        acc *= x->shape[d];
    }
    for (int d = 0; d < AD_MAX_DIMS; d++) {
        int a = d < x->ndim && o->params->perm[d] < 0 ? o->params->perm[d] + x->ndim : o->params->perm[d];
        s[d] = d < x->ndim ? in_stride[a] : 0;
    }
}

#define PERMUTE_FOR(o, BODY)                                                                                           \
    do {                                                                                                               \
        int64_t s_[AD_MAX_DIMS], n_[AD_MAX_DIMS], io = 0;                                                              \
        ad_transpose_source_strides(o, s_);                                                                                         \
        for (int d_ = 0; d_ < AD_MAX_DIMS; d_++) n_[d_] = d_ < (o)->value.ndim ? (o)->value.shape[d_] : 1;            \
        for (int64_t a = 0; a < n_[0]; a++)                                                                            \
            for (int64_t b = 0; b < n_[1]; b++)                                                                        \
                for (int64_t c = 0; c < n_[2]; c++)                                                                    \
                    for (int64_t e = 0; e < n_[3]; e++, io++) {                                                        \
                        int64_t ii = a * s_[0] + b * s_[1] + c * s_[2] + e * s_[3];                                    \
                        BODY                                                                                           \
                    }                                                                                                  \
    } while (0)

static void permute(const ad_node *o, const void *x, void *y)
{
    AD_DISPATCH(o->value.dtype, {
        const T *X = x;
        T *Y = y;
        PERMUTE_FOR(o, { Y[io] = X[ii]; });
    });
}

static ad_status transpose_forward(ad_node *o)
{
    permute(o, o->in[0]->value.data, o->value.data);
    return AD_OK;
}

static void transpose_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    (void)slot;
    AD_DISPATCH(o->value.dtype, {
        const T *G = g;
        T *GI = gin;
        PERMUTE_FOR(o, { GI[ii] += G[io]; });
    });
}
AD_VJP_BY_ROWS(transpose_vjp, transpose_vjp1)

static void transpose_jvp(ad_node *o, int k)
{
    for (int d = 0; d < k; d++) permute(o, ad_tangent_row(o->in[0], d), ad_tangent_row(o, d));
}

static const ad_op_case transpose_cases[] = {
    {"(3,4) -> (4,3)", 1, {2}, {{3, 4, 1, 1}}, {.perm = {1, 0, 2, 3}}},
    {"(2,3,4) perm (2,0,1)", 1, {3}, {{2, 3, 4, 1}}, {.perm = {2, 0, 1, 3}}},
    {"(2,3,2,2) perm (0,2,3,1)", 1, {4}, {{2, 3, 2, 2}}, {.perm = {0, 2, 3, 1}}},
    {"(2,3,4) perm (-1,0,-2): negative axes", 1, {3}, {{2, 3, 4, 1}}, {.perm = {-1, 0, -2, 3}}},
};

static ad_status transpose_complete(ad_op_case *c)
{
    /* --shape gives x: reverse its axes. */
    for (int d = 0; d < AD_MAX_DIMS; d++) c->params.perm[d] = d < c->ndim[0] ? c->ndim[0] - 1 - d : d;
    return AD_OK;
}

AD_DECLARE_CUDA(transpose)
const ad_op ad_op_transpose = {
    .name = "transpose",
    .summary = "permute the axes (params.perm)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_LINEAR | AD_OP_PARAMS,
    .infer = transpose_infer,
    .cpu = {transpose_forward, transpose_vjp, transpose_jvp, NULL},
    .cuda = AD_CUDA_KERNELS(transpose),
    .domain = {{-2, 2}},
    .cases = transpose_cases,
    .n_cases = sizeof transpose_cases / sizeof transpose_cases[0],
    .complete_case = transpose_complete,
};

ad_node *ad_reshape(ad_context *ctx, ad_node *x, int ndim, const int64_t *shape)
{
    ad_node *in[1] = {x};
    ad_params p = {.ndim = ndim};
    if (ndim < 0 || ndim > AD_MAX_DIMS || (ndim > 0 && !shape)) {
        ad_fail(AD_ERR_SHAPE, "reshape: %d dimensions asked; 0 to %d are allowed", ndim, AD_MAX_DIMS);
        return NULL;
    }
    for (int d = 0; d < AD_MAX_DIMS; d++) p.shape[d] = d < ndim ? shape[d] : 1;
    return ad_apply(ctx, &ad_op_reshape, in, 1, &p);
}

ad_node *ad_flatten(ad_context *ctx, ad_node *handle)
{
    const ad_node *x = ad_resolve(handle, "flatten");
    if (!x) return NULL;   /* NULL keeps the error that made it */
    if (x->value.ndim < 1) {
        ad_fail(AD_ERR_SHAPE, "flatten: needs at least a batch axis; x is a scalar");
        return NULL;
    }
    int64_t shape[2] = {x->value.shape[0], x->value.size / x->value.shape[0]};
    return ad_reshape(ctx, handle, 2, shape);
}

ad_node *ad_transpose(ad_context *ctx, ad_node *x, const int *perm)
{
    ad_node *in[1] = {x};
    ad_params p = {.perm = {0, 1, 2, 3}};
    if (!perm) {
        ad_fail(AD_ERR_ARG, "transpose: perm is NULL");
        return NULL;
    }
    const ad_node *xn = ad_resolve(x, "transpose");   /* NULL: ad_apply says why */
    for (int d = 0; xn && d < xn->value.ndim; d++) p.perm[d] = perm[d];
    return ad_apply(ctx, &ad_op_transpose, in, 1, &p);
}
