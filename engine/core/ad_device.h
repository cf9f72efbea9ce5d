/* ad_device.h: what the engine asks of a device backend.
 *
 * A node's data may live on the GPU (value.device == AD_CUDA). The engine
 * itself never touches that memory: it asks for it, zeroes it, adds one
 * buffer into another, copies it and gives it back through the calls below,
 * and nothing else. gpu/ implements them over CUDA (gpu/runtime.cu,
 * allocator.cu, transfer.cu); a build without CUDA links gpu/gpu_stub.c,
 * where each one fails with AD_ERR_DEVICE "built without CUDA". So the
 * engine stands below the GPU backend: gpu/ includes this header, the
 * engine never includes gpu/'s. (ad_gpu.h, the backend's public face,
 * includes this one: a program sees one GPU API.) */
#ifndef AD_DEVICE_H
#define AD_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ad_graph.h"
#include "ad_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Is a CUDA device usable now? false leaves the reason, starting "no GPU
 * found: ", in ad_last_error() (no driver, no device, or a build without CUDA). */
bool ad_gpu_available(void);

/* ---- device memory (a caching allocator on cudaMalloc: ad_gpu.h) ---- */
void *ad_gpu_malloc(size_t bytes);            /* NULL + AD_ERR_DEVICE on failure (OOM included) */
void ad_gpu_free(void *device_ptr);          /* NULL is fine */
ad_status ad_gpu_memzero(void *device_ptr, size_t bytes);
/* dst[i] += src[i] for n elements of dt on the device; src NULL adds 1 to each (a scalar seed). */
ad_status ad_gpu_add_into(ad_dtype dt, void *dst, const void *src, int64_t n);
/* Copy between two tensors of the same shape and dtype, any devices. */
ad_status ad_gpu_tensor_copy(ad_tensor *dst, const ad_tensor *src);

/* vjp and jvp kernels return nothing, so a CUDA kernel that fails records
 * its error (message in ad_last_error) here; the engine collects it after
 * each GPU vjp/jvp. Returns the recorded status and clears it. */
ad_status ad_gpu_take_error(void);

/* A leaf on the GPU: a new variable (or constant) of ctx holding a copy of
 * the host leaf's value, requiring grad as it does. A model trained on the
 * GPU keeps its parameters there: made and initialised on the host, sent
 * once, updated in place by the optimizer. (engine/core/leaf_copies.c) */
ad_node *ad_leaf_to_device(ad_context *ctx, const ad_node *host_leaf);

#ifdef __cplusplus
}
#endif
#endif
