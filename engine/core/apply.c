/* apply.c: the general path of ad_apply, the one path every op call takes:
 * check the inputs, infer the output's shape, make the node, run the op's
 * forward, its jvp if an input carries a tangent, and keep the inputs for
 * backward if grad mode is on and an input requires grad. (ad_apply itself,
 * in engine/fast/scalar_path.c, first offers a scalar op to the fast path
 * when it is on, and otherwise comes straight here.) */
#include <stdlib.h>
#include <string.h>
#include "ad_device.h"
#include "ad_internal.h"

/* Returns the new node's handle, or NULL with a message. */
ad_node *ad_apply_general(ad_context *ctx, const ad_op *op, ad_node *const *handles, int n_in, const ad_params *params)
{
    const char *who = op && op->name ? op->name : "apply";
    if (!op) {
        ad_fail(AD_ERR_ARG, "apply: op is NULL");
        return NULL;
    }
    ad_node *in[AD_MAX_INPUTS];   /* the nodes behind the handles */
    if (ad_check_inputs(ctx, op, handles, n_in, in) != AD_OK) return NULL;
    bool any_grad = false, any_tangent = false, all_0d = n_in > 0;
    ad_device device = n_in > 0 ? (ad_device)in[0]->value.device : AD_CPU;   /* all inputs share it */
    for (int s = 0; s < n_in; s++) {
        any_grad = any_grad || (in[s]->flags & AD_NODE_REQUIRES_GRAD);
        any_tangent = any_tangent || in[s]->tangent;
        all_0d = all_0d && in[s]->value.ndim == 0 && in[s]->value.dtype == in[0]->value.dtype;
    }
    /* The output lives where the inputs do, except for the two copy ops. */
    ad_device out_dev = (op->flags & AD_OP_TO_CUDA) ? AD_CUDA : (op->flags & AD_OP_TO_CPU) ? AD_CPU : device;
    const ad_op_kernels *kern = out_dev == AD_CUDA ? op->cuda : &op->cpu;
    if (out_dev == AD_CUDA && !kern) {
        ad_fail(AD_ERR_DEVICE, "%s: no CUDA kernel for this op", who);
        return NULL;
    }
    if (!op->infer || !kern->forward) {
        ad_fail(AD_ERR_ARG, "%s: the op has no shape rule or no forward", who);
        return NULL;
    }
    int ndim = 0;
    int64_t shape[AD_MAX_DIMS] = {1, 1, 1, 1};
    ad_dtype dt = AD_FLOAT64;
    int64_t size = 1;
    /* The scalar path: an elementwise op on 0-d inputs of one dtype makes a
     * 0-d output of that dtype (AD_OP_ELEMENTWISE's contract), so its shape
     * rule has nothing to say; ops with params keep theirs (it checks them). */
    bool scalar = all_0d && (op->flags & AD_OP_ELEMENTWISE) && !(op->flags & AD_OP_PARAMS) && out_dev == device;
    if (scalar) {
        dt = (ad_dtype)in[0]->value.dtype;
    } else {
        if (op->infer(in, n_in, params, &ndim, shape, &dt) != AD_OK) return NULL;
        if (ad_shape_check(who, ndim, shape, &size) != AD_OK) return NULL;
    }

    uint32_t first_free = ctx->n_nodes, first_dev = ctx->n_dev;
    ad_node *out = node_new(ctx, who);
    if (!out) return NULL;
    bool recording = ctx->grad_enabled && any_grad;
    out->op = op;
    out->n_in = (uint8_t)n_in;
    for (int s = 0; s < n_in; s++) out->in[s] = in[s];
    out->flags = recording ? (AD_NODE_RECORDING | AD_NODE_REQUIRES_GRAD) : 0;
    if (params) {
        ad_params *p = ad_arena_alloc(ctx, sizeof *p);
        if (!p) goto fail;
        *p = *params;
        out->params = p;
    }
    if (ad_node_set_value(out, dt, ndim, shape, size, out_dev) != AD_OK) goto fail;
    if (kern->forward(out) != AD_OK) goto fail;
    /* Anomaly mode (ad_set_check_finite): the first op whose output is not finite fails, named. */
    if (ctx->check_finite && ad_check_finite_value(out) != AD_OK) goto fail;
    if (any_tangent && ctx->dirs > 0) {
        if (!kern->jvp) {
            ad_fail(AD_ERR_ARG, "%s: the op has no jvp, so forward mode cannot pass through it", who);
            goto fail;
        }
        size_t tbytes = (size_t)ctx->dirs * (size_t)size * ad_dtype_size(dt);
        out->tangent = out_dev == AD_CUDA ? ad_device_alloc(ctx, tbytes, true) : ad_arena_alloc(ctx, tbytes);
        if (!out->tangent) goto fail;
        kern->jvp(out, ctx->dirs);
        /* jvp returns nothing: a GPU kernel leaves its error with the gpu module. */
        if ((device == AD_CUDA || out_dev == AD_CUDA) && ad_gpu_take_error() != AD_OK) goto fail;
    }
    if (!recording) {
        /* Nothing kept for backward: the result is a plain constant. */
        out->op = NULL;
        out->n_in = 0;
        memset(out->in, 0, sizeof out->in);
        out->saved = NULL;
    }
    return ad_handle_of(out);
fail:
    ad_drop_half_made(ctx, first_free, first_dev);
    return NULL;
}

ad_node *ad_resolve(const ad_node *h, const char *who) { return node_resolve(h, who); }
