/* gpu_check.h: CUDA and cuBLAS errors as engine errors naming the call,
 * the file and the line (llm.c's cudaCheck idea, returning instead of
 * exiting). Internal to gpu/. */
#ifndef AD_GPU_CHECK_H
#define AD_GPU_CHECK_H

#include <cuda_runtime.h>
extern "C" {
#include "ad_error.h"
}

#define AD_CUDA_TRY(call)                                                                                              \
    do {                                                                                                               \
        cudaError_t err_ = (call);                                                                                     \
        if (err_ != cudaSuccess)                                                                                       \
            return ad_fail(err_ == cudaErrorMemoryAllocation ? AD_ERR_NOMEM : AD_ERR_DEVICE, "%s failed at %s:%d: %s", \
                           #call, __FILE__, __LINE__, cudaGetErrorString(err_));                                       \
    } while (0)

#endif
