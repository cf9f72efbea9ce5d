/* ad_gpu.h: the CUDA backend's public face, present in every build. In a
 * build without CUDA (or on a machine without a GPU) every call fails
 * cleanly with AD_ERR_DEVICE and a message saying which.
 *
 * The lecture's three-step workflow: send (ad_gpu_to_device), compute (the
 * elementwise kernels below), receive (ad_gpu_to_host). Device memory comes
 * from a caching allocator on cudaMalloc; every CUDA or cuBLAS error becomes
 * an engine error naming the call, file and line.
 *
 * STATUS: written and compiled with nvcc, never yet run on a GPU (no GPU was
 * available to the session that wrote it). Device tensors are not yet wired
 * into the graph (ad_apply dispatches on value.device, but nodes are made on
 * the CPU only). */
#ifndef AD_GPU_H
#define AD_GPU_H

#include <stdbool.h>
#include "ad_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Was the library built with CUDA, and is there a usable device? */
bool ad_gpu_built(void);
bool ad_gpu_available(void);
/* "NVIDIA H100 80GB HBM3, compute 9.0, 79.1 GiB" or why there is none. */
const char *ad_gpu_describe(char *buf, size_t len);

/* Send: a new device tensor with t's shape, dtype and values. NULL + message on error. */
ad_tensor *ad_gpu_to_device(const ad_tensor *t);
/* Receive: copy a device tensor's values into a host tensor of the same shape and dtype. */
ad_status ad_gpu_to_host(const ad_tensor *dev, ad_tensor *host);
/* Free a device tensor (its memory goes back to the caching allocator). */
void ad_gpu_free(ad_tensor *dev);
/* Bytes the caching allocator holds (in use + cached). */
size_t ad_gpu_bytes_held(void);

/* Elementwise kernels on device tensors, by op name ("exp", "relu", ...; the
 * math shared with the CPU through ad_elementwise_math.h). c is the constant of
 * pow and scale. y, gx: device tensors of x's shape. */
ad_status ad_gpu_unary_forward(const char *op, double c, const ad_tensor *x, ad_tensor *y);
/* gx += dy ⊙ f'(x) */
ad_status ad_gpu_unary_vjp(const char *op, double c, const ad_tensor *x, const ad_tensor *y, const ad_tensor *gy,
                           ad_tensor *gx);

#ifdef __cplusplus
}
#endif

#endif
