/* gpu/sim/cublas_v2.h: the cuBLAS calls gpu/ makes, emulated on the CPU with
 * OpenBLAS (-Dgpu_sim=true; see cuda_runtime.h beside it). The arguments are
 * checked as cuBLAS checks them, and every matrix must lie in device memory
 * within its allocation. */
#ifndef AD_CUDA_SIM_CUBLAS_H
#define AD_CUDA_SIM_CUBLAS_H

#include "cuda_runtime.h"

#define CUBLAS_VER_MAJOR 13
typedef struct ad_sim_cublas *cublasHandle_t;
enum cublasStatus_t {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_INVALID_VALUE = 7,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle);
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
const char *cublasGetStatusString(cublasStatus_t s);
/* Column-major C (m,n) = alpha op(A) op(B) + beta C, alpha and beta on the host. */
cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                              float *C, int ldc);
cublasStatus_t cublasDgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const double *alpha, const double *A, int lda, const double *B, int ldb,
                              const double *beta, double *C, int ldc);

#endif
