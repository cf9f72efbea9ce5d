/* passes.c: what every backward pass shares (ad_backward's sweeps in
 * backward.c, ad_backward_block's, the fast path's over records): a fresh
 * pass number, a node's kernels for its device, and a device's error after
 * a vjp. */
#include "ad_device.h"
#include "ad_internal.h"

uint32_t ad_next_epoch(ad_context *ctx)
{
    uint32_t epoch = ++ctx->epoch;
    if (epoch == 0) {   /* wrapped: clear all marks so none looks current */
        materialize_all(ctx);   /* (the records' marks too: once in 2^32 passes) */
        for (uint32_t id = 0; id < ctx->n_nodes; id++) node_at(ctx, id)->mark = 0;
        epoch = ctx->epoch = 1;
    }
    return epoch;
}

const ad_op_kernels *ad_kernels_of(const ad_node *n)
{
    return n->value.device == AD_CUDA ? n->op->cuda : &n->op->cpu;
}

/* A GPU kernel (or a copy across devices) leaves its error with the gpu
 * module, collected here. The CPU path skips the call. */
ad_status ad_device_status(const ad_node *consumer, int slot)
{
    if (consumer->value.device == AD_CPU && consumer->in[slot]->value.device == AD_CPU) return AD_OK;
    return ad_gpu_take_error();
}
