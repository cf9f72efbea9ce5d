/* leaf_copies.c: leaves made from data held elsewhere: a tensor's
 * (ad_from_tensor) and a CPU leaf's, copied to the GPU (ad_leaf_to_device). */
#include <string.h>
#include "ad_device.h"
#include "ad_internal.h"

ad_node *ad_from_tensor(ad_context *ctx, const ad_tensor *t, bool requires_grad)
{
    if (!t) {
        ad_fail(AD_ERR_ARG, "from_tensor: tensor is NULL");
        return NULL;
    }
    if (t->device != AD_CPU) {
        ad_fail(AD_ERR_DEVICE, "from_tensor: the tensor is on the GPU; use the gpu module's copy");
        return NULL;
    }
    ad_node *n = ad_leaf_on(ctx, "from_tensor", (ad_dtype)t->dtype, t->ndim, t->shape, requires_grad, AD_CPU);
    if (n) memcpy(n->value.data, t->data, (size_t)t->size * ad_dtype_size((ad_dtype)t->dtype));
    return ad_handle_of(n);
}

ad_node *ad_leaf_to_device(ad_context *ctx, const ad_node *host_handle)
{
    const ad_node *host = node_resolve(host_handle, "leaf_to_device");
    if (!host) return NULL;   /* keep the error that made the NULL */
    if (ad_check_context(ctx, "leaf_to_device") != AD_OK) return NULL;
    if (!(host->flags & AD_NODE_LEAF) || host->value.device != AD_CPU) {
        ad_fail(AD_ERR_ARG, "leaf_to_device: node #%u is not a leaf on the CPU", host->id);
        return NULL;
    }
    if (!ad_gpu_available()) return NULL;
    uint32_t first_dev = ctx->n_dev;
    ad_node *n = ad_leaf_on(ctx, "leaf_to_device", (ad_dtype)host->value.dtype, host->value.ndim, host->value.shape,
                         ad_requires_grad(host), AD_CUDA);
    if (!n) return NULL;
    if (ad_gpu_tensor_copy(&n->value, &host->value) != AD_OK) {
        ad_drop_half_made(ctx, n->id, first_dev);
        return NULL;
    }
    if (host->name) ad_set_name(n, host->name);
    return ad_handle_of(n);
}
