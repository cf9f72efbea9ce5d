/* gpu_internal.h: what the CUDA sources of gpu/ share (not installed).
 * Compiled by nvcc as C++; the engine's headers are C. */
#ifndef AD_GPU_INTERNAL_H
#define AD_GPU_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "ad_error.h"
#include "ad_tensor.h"
#include "ad_graph.h"
#include "ad_op.h"
#include "ad_kernel_util.h"
}
#include "ad_gpu.h"

/* Turn a CUDA / cuBLAS status into an engine error naming the call and its
 * file:line: `if (AD_CUDA_CHECK(cudaMemcpy(...)) != AD_OK) return ...;` */
ad_status ad_gpu_cuda_check(cudaError_t e, const char *call, const char *file, int line);
ad_status ad_gpu_cublas_check(cublasStatus_t s, const char *call, const char *file, int line);
#define AD_CUDA_CHECK(call) ad_gpu_cuda_check((call), #call, __FILE__, __LINE__)
#define AD_CUBLAS_CHECK(call) ad_gpu_cublas_check((call), #call, __FILE__, __LINE__)

/* Record a failed kernel's error for ad_gpu_take_error (vjp/jvp return void). */
void ad_gpu_note(ad_status st);
/* After a launch: a launch error becomes an engine error, recorded. */
#define AD_CUDA_LAUNCHED() ad_gpu_note(AD_CUDA_CHECK(cudaGetLastError()))

/* cuBLAS, loaded on first use (dlopen): linked normally, its 600 MB of
 * libraries would be mapped into every program using libautodidact, GPU or
 * not, and a process under an address-space limit (autograde's sandbox)
 * could not load anything more. The calls the kernels use: */
typedef struct ad_cublas_api {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasGetStatusString) status_string;
    decltype(&cublasDgemm_v2) dgemm;
    decltype(&cublasSgemm_v2) sgemm;
} ad_cublas_api;
/* The loaded table, NULL + AD_ERR_DEVICE when libcublas cannot be loaded. */
const ad_cublas_api *ad_gpu_blas(void);
/* The one cuBLAS handle (made on first use); NULL + AD_ERR_DEVICE if it cannot be. */
cublasHandle_t ad_gpu_cublas(void);

/* 1-D launch geometry for n elements (grid-stride loops cover the rest). */
static inline unsigned ad_gpu_blocks(int64_t n, unsigned threads)
{
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

#endif
