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

/* Launch a kernel: AD_LAUNCH(grid, block, kernel<T>)(args...) is
 * kernel<T><<<grid, block>>>(args...). Written as a macro so that the CPU
 * emulation of CUDA (gpu/sim, -Dgpu_sim=true), which a C++ compiler builds,
 * can run the same source. */
/* Each launch is counted (ad_gpu_counters). */
#ifdef AD_CUDA_SIM
#define AD_LAUNCH(grid, block, ...)                                                                                    \
    ad_gpu_count(&ad_gpu_counts.kernel_launches),                                                                      \
        ad_sim_launch_site_of(#__VA_ARGS__, dim3(grid), dim3(block), __VA_ARGS__)
#else
#define AD_LAUNCH(grid, block, ...) ad_gpu_count(&ad_gpu_counts.kernel_launches), __VA_ARGS__<<<(grid), (block)>>>
#endif
extern ad_gpu_counters ad_gpu_counts;
static inline void ad_gpu_count(uint64_t *c) { __atomic_fetch_add(c, 1, __ATOMIC_RELAXED); }

/* cudaMemcpy, counted by direction, its error an engine error naming the
 * call site. A copy to the host waits for the device, so after one a fault a
 * kernel recorded is reported (ad_gpu_copied, ad_gpu_fault below). */
#define AD_GPU_MEMCPY(dst, src, bytes, kind)                                                                           \
    ad_gpu_copied((kind), (ad_gpu_count_copy(kind), AD_CUDA_CHECK(cudaMemcpy((dst), (src), (bytes), (kind)))))
static inline void ad_gpu_count_copy(cudaMemcpyKind kind)
{
    if (kind == cudaMemcpyHostToDevice) ad_gpu_count(&ad_gpu_counts.copies_to_device);
    else if (kind == cudaMemcpyDeviceToHost) ad_gpu_count(&ad_gpu_counts.copies_to_host);
    else if (kind == cudaMemcpyDeviceToDevice) ad_gpu_count(&ad_gpu_counts.copies_on_device);
}

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

/* Row-major C (m,n) = op(A)·op(B) + beta·C on the device through cuBLAS,
 * with the leading dimensions of row-major storage (gpu/matmul.cu). */
ad_status ad_gpu_gemm(ad_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *A, int64_t lda,
                      const void *B, int64_t ldb, double beta, void *C, int64_t ldc);

/* A reduction over one block of AD_GPU_BLOCK_SUM threads, in a fixed tree
 * order (so results repeat run to run); every thread gets the result. */
enum { AD_GPU_BLOCK_SUM = 256 };
template <class Op> __device__ inline double ad_gpu_block_reduce(double v, Op op)
{
    __shared__ double part[AD_GPU_BLOCK_SUM];
    part[threadIdx.x] = v;
    __syncthreads();
    for (int w = AD_GPU_BLOCK_SUM / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) part[threadIdx.x] = op(part[threadIdx.x], part[threadIdx.x + w]);
        __syncthreads();
    }
    double total = part[0];
    __syncthreads();   // part may be reused by the next call
    return total;
}
struct ad_gpu_plus {
    __device__ double operator()(double a, double b) const { return a + b; }
};
struct ad_gpu_least {
    __device__ double operator()(double a, double b) const { return b < a ? b : a; }
};
__device__ inline double ad_gpu_block_sum(double v) { return ad_gpu_block_reduce(v, ad_gpu_plus()); }

/* A bad input that only a kernel can see (the data is on the device, and
 * copying it to the host to check would wait for the device every step):
 * the kernel records the first one here, in device memory, and the next
 * receive (a copy to the host, ad_gpu_synchronize) reports it as the op's
 * error, as CUDA reports a kernel's fault at the next synchronising call.
 * What each code means, and its message: transfer.cu, deferred_message. */
typedef struct ad_gpu_fault {
    int32_t code;    // 0: none
    int32_t op;      // the ad_op_id that found it
    int64_t index;   // where
    double value;    // what it was
    int64_t limit;   // what it had to be below
} ad_gpu_fault;
enum { AD_GPU_FAULT_NONE, AD_GPU_FAULT_CLASS_INDEX, AD_GPU_FAULT_NEGATIVE_WEIGHT, AD_GPU_FAULT_ALL_IGNORED };
/* The device's fault record, made (zeroed) on first use; NULL with the error set if it cannot be. */
ad_gpu_fault *ad_gpu_fault_record(void);
/* Read the fault record after a copy to the host: AD_OK, or the recorded
 * fault as an engine error (and the record cleared). */
ad_status ad_gpu_take_fault(void);
/* A copy's status, st, and then, for a copy to the host that worked, the fault record's. */
static inline ad_status ad_gpu_copied(cudaMemcpyKind kind, ad_status st)
{
    return st == AD_OK && kind == cudaMemcpyDeviceToHost ? ad_gpu_take_fault() : st;
}

/* Broadcasting (ad_bcast, the CPU's strides): output element io reads a at
 * ia and b at ib. */
__device__ inline void ad_gpu_bcast_index(const ad_bcast &bc, int64_t io, int64_t &ia, int64_t &ib)
{
    if (bc.same) {
        ia = ib = io;
        return;
    }
    int64_t r = io;
    ia = ib = 0;
    for (int d = AD_MAX_DIMS - 1; d >= 0; d--) {
        int64_t i = r % bc.n[d];
        r /= bc.n[d];
        ia += i * bc.sa[d];
        ib += i * bc.sb[d];
    }
}

/* The element count of input `slot` (0: a, 1: b) of a broadcast. */
__device__ inline int64_t ad_gpu_bcast_input_size(const ad_bcast &bc, int slot)
{
    const int64_t *st = slot == 0 ? bc.sa : bc.sb;
    int64_t n = 1;
    for (int d = 0; d < AD_MAX_DIMS; d++) n *= st[d] == 0 ? 1 : bc.n[d];
    return n;
}

/* The vjp of a broadcast input: Σ f(io, ia, ib) over the outputs io that read
 * element i of input `slot`, in a fixed order. A thread per input element
 * gathers (no atomics, the same bits every run). bc must not be `same`. */
template <class F> __device__ double ad_gpu_bcast_gather(const ad_bcast &bc, int slot, int64_t i, F f)
{
    const int64_t *st = slot == 0 ? bc.sa : bc.sb;
    int64_t m[AD_MAX_DIMS], j[AD_MAX_DIMS], hi[AD_MAX_DIMS], r = i;
    for (int d = 0; d < AD_MAX_DIMS; d++) {
        m[d] = st[d] == 0 ? 1 : bc.n[d];   // the input's shape, padded to 4-d
        hi[d] = st[d] == 0 ? bc.n[d] : 1;  // the dims it was stretched along
    }
    for (int d = AD_MAX_DIMS - 1; d >= 0; d--) {
        j[d] = r % m[d];
        r /= m[d];
    }
    double acc = 0;
    for (int64_t k0 = 0; k0 < hi[0]; k0++)
        for (int64_t k1 = 0; k1 < hi[1]; k1++)
            for (int64_t k2 = 0; k2 < hi[2]; k2++)
                for (int64_t k3 = 0; k3 < hi[3]; k3++) {
                    int64_t k[AD_MAX_DIMS] = {st[0] ? j[0] : k0, st[1] ? j[1] : k1, st[2] ? j[2] : k2, st[3] ? j[3] : k3};
                    int64_t io = ((k[0] * bc.n[1] + k[1]) * bc.n[2] + k[2]) * bc.n[3] + k[3];
                    int64_t ia = 0, ib = 0;
                    for (int d = 0; d < AD_MAX_DIMS; d++) {
                        ia += k[d] * bc.sa[d];
                        ib += k[d] * bc.sb[d];
                    }
                    acc += f(io, ia, ib);
                }
    return acc;
}

/* Grid-stride loop over [0, n). */
#define AD_GPU_FOR(i, n)                                                                                               \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* 1-D launch geometry for n elements (grid-stride loops cover the rest). */
static inline unsigned ad_gpu_blocks(int64_t n, unsigned threads)
{
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

#endif
