/* ad_gpu.h: the CUDA backend's public face, present in every build.
 *
 * The lecture's three-step workflow is explicit here: send (host -> device),
 * compute, receive (device -> host). Nothing moves between host and device
 * behind your back.
 *
 * Built without CUDA (meson -Dcuda=disabled, or no nvcc found), every call
 * fails with AD_ERR_DEVICE "built without CUDA"; built with it on a machine
 * with no usable GPU, with "no GPU found: <the driver's reason>".
 * Every CUDA and cuBLAS error (out of memory included) becomes an engine
 * error naming the call, its file:line and CUDA's own message: never a crash. */
#ifndef AD_GPU_H
#define AD_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ad_device.h"       /* what the engine asks of the backend: memory, copies, device leaves */
#include "ad_optim_math.h"   /* the optimizer steps on the device: ad_gpu_sgd_step, ad_gpu_adam_step */

#ifdef __cplusplus
extern "C" {
#endif

/* Was the library built with the CUDA backend? (true does not mean a GPU is there.) */
bool ad_gpu_built(void);
/* One line about the device, e.g. "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB, CUDA runtime 13.0",
 * into buf. AD_ERR_DEVICE (buf gets the reason) when there is none. */
ad_status ad_gpu_device_info(char *buf, size_t len);

/* The device info line, or why there is no device (the message of
 * ad_gpu_device_info), into buf; returns buf. For messages to print. */
const char *ad_gpu_describe(char *buf, size_t len);

/* ---- the caching allocator on cudaMalloc ----
 * Freed blocks are kept in size classes (powers of two from 256 bytes) and
 * handed out again, because cudaMalloc/cudaFree synchronise the device and
 * cost far more than a kernel. ad_gpu_free returns a block to the cache;
 * ad_gpu_cache_release gives every cached block back to CUDA. */
/* ad_gpu_malloc and ad_gpu_free: ad_device.h. */
ad_status ad_gpu_cache_release(void);
typedef struct ad_gpu_mem_stats {
    size_t in_use_bytes;      /* handed out, not yet freed (rounded to size classes) */
    size_t cached_bytes;      /* freed, kept for reuse */
    size_t cuda_mallocs;      /* calls that reached cudaMalloc */
    size_t cache_hits;        /* requests served from the cache */
} ad_gpu_mem_stats;
ad_gpu_mem_stats ad_gpu_memory_stats(void);

/* ---- what the backend has asked of the device ----
 * Counts since the process started, for "launches per training step": take
 * the difference around the step. Each copy to the host waits for the
 * device to finish what was queued (a host sync); cuBLAS launches one or
 * more kernels of its own per gemm, not counted in kernel_launches. */
typedef struct ad_gpu_counters {
    uint64_t kernel_launches;    /* gpu/'s own kernels */
    uint64_t gemm_calls;         /* cuBLAS gemms */
    uint64_t copies_to_device;   /* host -> device */
    uint64_t copies_to_host;     /* device -> host: each one a host sync */
    uint64_t copies_on_device;   /* device -> device */
} ad_gpu_counters;
ad_gpu_counters ad_gpu_counters_now(void);

/* ---- explicit copies (tensor level) ----
 * A new tensor with t's shape and dtype on the other side; free with
 * ad_gpu_tensor_free (device) or ad_tensor_free (host). */
ad_tensor *ad_gpu_tensor_to_device(const ad_tensor *host);
ad_tensor *ad_gpu_tensor_to_host(const ad_tensor *dev);

/* ---- graph nodes across devices ----
 * Copies as ops, so the gradient flows back across: y = to_device(x) is the
 * identity with y on the GPU; its vjp copies y's gradient back into x's.
 * x on the wrong side is an AD_ERR_DEVICE error. A node made from GPU
 * inputs is on the GPU and runs the op's CUDA kernel (the op's .cuda slot). */
ad_node *ad_to_device(ad_context *ctx, ad_node *x);   /* send:    x (CPU) -> same shape on the GPU */
ad_node *ad_to_host(ad_context *ctx, ad_node *x);     /* receive: x (GPU) -> same shape on the CPU */

/* Wait for all queued device work; reports an asynchronous kernel error. */
ad_status ad_gpu_synchronize(void);

#ifdef __cplusplus
}
#endif

#endif
