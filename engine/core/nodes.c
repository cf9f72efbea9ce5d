/* nodes.c: making nodes: a node's value buffer and grad, leaves (ad_variable,
 * ad_constant, ad_scalar...). */
#include <stdlib.h>
#include <string.h>
#include "ad_device.h"
#include "ad_internal.h"

/* Give n a value buffer of the given shape: inline for a CPU scalar, GPU
 * memory for a node on the GPU. */
ad_status ad_node_set_value(ad_node *n, ad_dtype dt, int ndim, const int64_t *shape, int64_t size, ad_device dev)
{
    n->value.dtype = (uint8_t)dt;
    n->value.device = (uint8_t)dev;
    n->value.ndim = (uint8_t)ndim;
    n->value.size = size;
    for (int i = 0; i < AD_MAX_DIMS; i++) n->value.shape[i] = i < ndim ? shape[i] : 1;
    if (dev == AD_CUDA) {
        /* not zeroed: every forward (and every copy) writes all of its output,
         * and a memset per node would be one more kernel launch per op */
        n->value.data = ad_device_alloc(n->ctx, (size_t)size * ad_dtype_size(dt), false);
        return n->value.data ? AD_OK : AD_ERR_DEVICE;
    }
    if (size == 1) {
        n->value.data = &n->inline_value;
        n->inline_value.f64 = 0;
        if (ndim == 0) n->flags |= AD_NODE_SCALAR | (dt == AD_FLOAT32 ? AD_NODE_F32 : 0);
        return AD_OK;
    }
    n->value.data = ad_arena_alloc(n->ctx, (size_t)size * ad_dtype_size(dt));
    return n->value.data ? AD_OK : AD_ERR_NOMEM;
}

ad_status ad_node_ensure_grad(ad_node *n, bool zero)
{
    if (node_is_cpu_scalar(n)) {
        scalar_ensure_grad(n, zero);
        return AD_OK;
    }
    size_t bytes = (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype);
    if (n->value.device == AD_CUDA) {
        if (!n->grad) return (n->grad = ad_device_alloc(n->ctx, bytes, true)) ? AD_OK : AD_ERR_DEVICE;   /* zeroed */
        return zero ? ad_gpu_memzero(n->grad, bytes) : AD_OK;
    }
    if (!n->grad) {
        n->grad = ad_arena_alloc(n->ctx, bytes);   /* zeroed */
        if (!n->grad) return AD_ERR_NOMEM;
    } else if (zero) {
        memset(n->grad, 0, bytes);
    }
    return AD_OK;
}

/* Drop a half-made node: the nodes from id `nodes` on, and the GPU buffers
 * allocated since the context held `devs` of them. */
void ad_drop_half_made(ad_context *ctx, uint32_t nodes, uint32_t devs)
{
    ctx->n_nodes = nodes;
    while (ctx->n_dev > devs) ad_gpu_free(ctx->dev_ptrs[--ctx->n_dev]);
}

/* ---- leaves ---- */
/* A leaf on device dev, its value not yet written (zero on the CPU). */
ad_node *ad_leaf_on(ad_context *ctx, const char *who, ad_dtype dt, int ndim, const int64_t *shape,
                    bool requires_grad, ad_device dev)
{
    int64_t size;
    if (ad_check_context(ctx, who) != AD_OK) return NULL;
    if (dt != AD_FLOAT64 && dt != AD_FLOAT32) {
        ad_fail(AD_ERR_DTYPE, "%s: unknown dtype %d (use AD_FLOAT64 or AD_FLOAT32)", who, (int)dt);
        return NULL;
    }
    if (ad_shape_check(who, ndim, shape, &size) != AD_OK) return NULL;
    ad_node *n = node_new(ctx, who);
    if (!n) return NULL;
    uint32_t first_dev = ctx->n_dev;
    if (ad_node_set_value(n, dt, ndim, shape, size, dev) != AD_OK) goto fail;
    n->flags |= AD_NODE_LEAF | (requires_grad ? AD_NODE_REQUIRES_GRAD : 0);   /* (node_set_value's kept) */
    /* A variable's grad lives as long as the variable (it survives rewinds). */
    if (requires_grad && ad_node_ensure_grad(n, false) != AD_OK) goto fail;
    leaf_made(ctx, n->id);
    return n;
fail:
    ad_drop_half_made(ctx, n->id, first_dev);
    return NULL;
}

static ad_node *leaf_new(ad_context *ctx, const char *who, ad_dtype dt, int ndim, const int64_t *shape,
                         const double *values, bool requires_grad)
{
    ad_node *n = ad_leaf_on(ctx, who, dt, ndim, shape, requires_grad, AD_CPU);
    if (n && values) ad_tensor_copy_in(&n->value, values, n->value.size);
    return n;
}

ad_node *ad_variable(ad_context *ctx, ad_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    return ad_handle_of(leaf_new(ctx, "variable", dt, ndim, shape, values, true));
}

ad_node *ad_constant(ad_context *ctx, ad_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    return ad_handle_of(leaf_new(ctx, "constant", dt, ndim, shape, values, false));
}

ad_node *ad_scalar(ad_context *ctx, double v)
{
    ad_node *h = ad_check_context(ctx, "scalar") == AD_OK ? ad_scalar_leaf(ctx, v, true) : NULL;
    return h ? h : ad_handle_of(leaf_new(ctx, "scalar", AD_FLOAT64, 0, NULL, &v, true));
}
ad_node *ad_scalar_const(ad_context *ctx, double v)
{
    ad_node *h = ad_check_context(ctx, "scalar_const") == AD_OK ? ad_scalar_leaf(ctx, v, false) : NULL;
    return h ? h : ad_handle_of(leaf_new(ctx, "scalar_const", AD_FLOAT64, 0, NULL, &v, false));
}
