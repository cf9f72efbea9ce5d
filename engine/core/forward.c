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

/* Tangents ride along with values: an op computes its tangent once, when it
 * is made, from its inputs' tangents then. So a tangent set on n after a
 * node that uses n was made never reaches that node (it keeps the 0 it got),
 * nor anything made from it later. The first node made after n that takes n
 * as an input, or whose inputs were not recorded (grad off: it may), with
 * in *why which; UINT32_MAX if none. Leaves are skipped: they use nothing. */
static uint32_t first_user_after(const ad_context *ctx, const ad_node *n, const char **why, const char **name)
{
    /* Only leaves made since n (the usual order: all leaves, then their
     * tangents, then the ops): nothing to look at. */
    if (n->id >= ctx->leaf_run_lo && ctx->n_nodes == ctx->leaf_run_hi) return UINT32_MAX;
    materialize_all(ctx);   /* (records made before forward mode was on: written out, to be read here) */
    for (uint32_t id = n->id + 1; id < ctx->n_nodes; id++) {
        const ad_node *m = node_at(ctx, id);
        if (m->flags & AD_NODE_LEAF) continue;
        *name = m->name ? m->name : m->op ? m->op->name : "an op";   /* (grad off: the op is not kept) */
        int k = (m->flags & AD_NODE_RECORDING) ? m->n_in : 0;
        if (k == 0) return *why = "did not record its inputs (grad off), so it may use it", id;
        for (int s = 0; s < k; s++)
            if (m->in[s] == n) return *why = "takes it as an input", id;
    }
    return UINT32_MAX;
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
    const char *why = NULL, *user = NULL;
    uint32_t late = first_user_after(ctx, n, &why, &user);
    if (late != UINT32_MAX)
        return ad_fail(AD_ERR_STATE,
                       "set_tangent: too late for node #%u (%s): node #%u (%s) was made after it and %s, and took its "
                       "tangent then, so this one would never reach it; call ad_forward_dirs and ad_set_tangent "
                       "before making the ops that use the node (or rewind to a mark taken before them)",
                       n->id, n->name ? n->name : "unnamed", late, user, why);
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
