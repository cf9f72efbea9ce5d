/* forward.c: forward mode. The context carries k tangent directions; a leaf
 * is given its tangent rows with ad_set_tangent, and every op made after
 * that computes its own tangent with its jvp (see ad_apply). With k = 2 and
 * the unit tangents dx = (1, 0), dy = (0, 1), one pass gives both columns of
 * the lecture's forward-mode table, d/dx and d/dy. */
#include <string.h>
#include "ad_internal.h"

enum { MAX_DIRS = 64 };

ad_status ad_forward_dirs(ad_context *ctx, int k)
{
    ad_status st = ad_check_context(ctx, "forward_dirs");
    if (st != AD_OK) return st;
    if (k < 0 || k > MAX_DIRS)
        return ad_fail(AD_ERR_ARG, "forward_dirs: %d directions asked; 0 to %d are supported", k, MAX_DIRS);
    ad_clear_tangents(ctx);
    ctx->dirs = k;
    return AD_OK;
}

int ad_forward_dir_count(const ad_context *ctx) { return ad_context_alive(ctx) ? ctx->dirs : 0; }

void ad_clear_tangents(ad_context *ctx)
{
    if (ad_check_context(ctx, "clear_tangents") != AD_OK) return;
    for (uint32_t id = 0; id < ctx->n_nodes; id++)
        if (!node_is_record(ctx, id)) node_at(ctx, id)->tangent = NULL;   /* (a record has none) */
}

ad_status ad_set_tangent(ad_node *h, int dir, const double *values, int64_t index)
{
    if (!h) return ad_fail(AD_ERR_ARG, "set_tangent: node is NULL");
    ad_node *n = node_resolve(h, "set_tangent");
    if (!n) return ad_last_status();
    ad_context *ctx = n->ctx;
    ad_status st = ad_check_context(ctx, "set_tangent");
    if (st != AD_OK) return st;
    if (ctx->dirs <= 0)
        return ad_fail(AD_ERR_STATE, "set_tangent: forward mode is off; call ad_forward_dirs(ctx, k) first");
    if (dir < 0 || dir >= ctx->dirs)
        return ad_fail(AD_ERR_ARG, "set_tangent: direction %d out of range 0..%d", dir, ctx->dirs - 1);
    if (n->value.device != AD_CPU) return ad_fail(AD_ERR_DEVICE, "set_tangent: the node is on the GPU");
    if (!values && (index < 0 || index >= n->value.size))
        return ad_fail(AD_ERR_ARG, "set_tangent: index %lld out of range for %lld elements", (long long)index,
                       (long long)n->value.size);
    if ((st = ad_check_tangent_in_time(n)) != AD_OK) return st;   /* (checks.c) */
    size_t esz = ad_dtype_size((ad_dtype)n->value.dtype);
    if (!n->tangent) {
        n->tangent = ad_arena_alloc(ctx, (size_t)ctx->dirs * (size_t)n->value.size * esz);
        if (!n->tangent) return AD_ERR_NOMEM;
    }
    ad_tensor row = n->value;
    row.data = (char *)n->tangent + (size_t)dir * (size_t)n->value.size * esz;
    if (values) return ad_tensor_copy_in(&row, values, n->value.size);
    memset(row.data, 0, (size_t)n->value.size * esz);
    ad_tensor_set(&row, index, 1.0);
    return AD_OK;
}
