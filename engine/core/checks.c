/* checks.c: what the core refuses, and the message that says why: an op
 * call's inputs (ad_apply), a backward pass's output and cotangent, a
 * tangent set too late to reach the nodes that use its node. Every
 * message names the call and, where there are shapes, the shapes. */
#include <stdio.h>
#include "ad_internal.h"

/* An op call's inputs (ad_apply): a live context, as many inputs as the op
 * takes, each a live node of ctx, all on one device. The nodes behind the
 * handles go into in[]. */
ad_status ad_check_inputs(ad_context *ctx, const ad_op *op, ad_node *const *handles, int n_in, ad_node **in)
{
    const char *who = op->name ? op->name : "apply";
    ad_status st = ad_check_context(ctx, who);
    if (st != AD_OK) return st;
    if (n_in < 1)   /* (as the registry: an op takes 1 to AD_MAX_INPUTS inputs) */
        return ad_fail(AD_ERR_ARG, "%s: an op call takes 1 to %d inputs, %d given", who, AD_MAX_INPUTS, n_in);
    if (n_in < op->n_in_min || n_in > op->n_in || n_in > AD_MAX_INPUTS)
        return ad_fail(AD_ERR_ARG, "%s: takes %d to %d inputs, %d given", who, op->n_in_min, op->n_in, n_in);
    for (int s = 0; s < n_in; s++) {
        if (!handles || !handles[s]) {
            /* Keep the error that made the NULL, if there is one. */
            if (ad_last_status() == AD_OK) ad_fail(AD_ERR_ARG, "%s: input %d is NULL", who, s);
            return ad_last_status();
        }
        if (!(in[s] = own_node(ctx, handles[s]))) {
            char input[32];
            snprintf(input, sizeof input, "input %d", s);
            return ad_not_own_node(ctx, handles[s], AD_ERR_STATE, who, input);
        }
        if (s > 0 && in[s]->value.device != in[0]->value.device)
            return ad_fail(AD_ERR_DEVICE, "%s: input %d is on the %s, input 0 on the %s", who, s,
                           in[s]->value.device == AD_CUDA ? "GPU" : "CPU",
                           in[0]->value.device == AD_CUDA ? "GPU" : "CPU");
    }
    return AD_OK;
}

/* The checks every backward entry makes of the context and the output
 * (handle h; its node in *y). */
ad_status ad_check_output(ad_context *ctx, const ad_node *h, const char *who, ad_node **y)
{
    ad_status st = ad_check_context(ctx, who);
    if (st != AD_OK) return st;
    if (!h) {
        if (ad_last_status() != AD_OK) return ad_last_status();   /* keep the error that made the NULL */
        return ad_fail(AD_ERR_ARG, "%s: output is NULL", who);
    }
    if (!(*y = own_node(ctx, h))) return ad_not_own_node(ctx, h, AD_ERR_STATE, who, "the output");
    if (!node_wants_grad(*y))
        return ad_fail(AD_ERR_STATE,
                       "%s: the output does not require grad (no variable feeds it, or it was made with grad mode off)",
                       who);
    return AD_OK;
}

/* The nodes a block or second-order pass is asked for (ad_backward_block,
 * ad_hvp): each a live node of ctx that requires grad, listed once, with its
 * buffer bufs[i] (named buf_name in the message). The nodes behind the handles go into wrt[]. */
ad_status ad_check_wrt(ad_context *ctx, const char *who, int n_wrt, ad_node *const *handles, void *const *bufs,
                       const char *buf_name, ad_node **wrt)
{
    for (int i = 0; i < n_wrt; i++) {
        char what[48];
        snprintf(what, sizeof what, "node %d of the list", i);
        if (!handles[i] || !bufs[i])
            return ad_fail(AD_ERR_ARG, "%s: node %d of %d is NULL or has no %s buffer", who, i, n_wrt, buf_name);
        if (!(wrt[i] = own_node(ctx, handles[i]))) return ad_not_own_node(ctx, handles[i], AD_ERR_STATE, who, what);
        if (!node_wants_grad(wrt[i]))
            return ad_fail(AD_ERR_STATE, "%s: node #%u (%d of the list) does not require grad", who, wrt[i]->id, i);
        for (int j = 0; j < i; j++)
            if (wrt[j] == wrt[i])
                return ad_fail(AD_ERR_ARG, "%s: node #%u is listed twice (%d and %d)", who, wrt[i]->id, j, i);
    }
    return AD_OK;
}

/* A backward pass's cotangent: none for a scalar output (its seed is 1),
 * else one of the output's shape, dtype and device. */
ad_status ad_check_cotangent(const ad_node *y, const ad_tensor *cot)
{
    char sh[64], sh2[64];
    if (!cot) {
        if (y->value.size != 1)
            return ad_fail(AD_ERR_SHAPE,
                           "backward: the output has shape %s, not a scalar; give a cotangent of that shape "
                           "(ad_backward_ex) or reduce it to a scalar first",
                           ad_shape_str(&y->value, sh, sizeof sh));
    } else if (!ad_shape_equal(cot, &y->value) || cot->dtype != y->value.dtype || cot->device != y->value.device) {
        /* The whole shape, not just the size: a (3,2) cotangent for a (2,3)
         * output would otherwise be read in flat order (PyTorch refuses it too). */
        return ad_fail(AD_ERR_SHAPE, "backward: cotangent %s %s%s does not match the output %s %s%s",
                       ad_shape_str(cot, sh, sizeof sh), ad_dtype_name((ad_dtype)cot->dtype),
                       cot->device == AD_CUDA ? " on the GPU" : "", ad_shape_str(&y->value, sh2, sizeof sh2),
                       ad_dtype_name((ad_dtype)y->value.dtype), y->value.device == AD_CUDA ? " on the GPU" : "");
    }
    return AD_OK;
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

/* ad_set_tangent's check that n's tangent can still reach every node that
 * uses n: none made after n takes it as an input. */
ad_status ad_check_tangent_in_time(const ad_node *n)
{
    const char *why = NULL, *user = NULL;
    uint32_t late = first_user_after(n->ctx, n, &why, &user);
    if (late == UINT32_MAX) return AD_OK;
    return ad_fail(AD_ERR_STATE,
                   "set_tangent: too late for node #%u (%s): node #%u (%s) was made after it and %s, and took its "
                   "tangent then, so this one would never reach it; call ad_forward_dirs and ad_set_tangent "
                   "before making the ops that use the node (or rewind to a mark taken before them)",
                   n->id, n->name ? n->name : "unnamed", late, user, why);
}
