/* gpu/sim/cuda_runtime.h: the part of the CUDA runtime API that gpu/ uses,
 * emulated on the CPU (-Dgpu_sim=true; gpu/sim/cuda_sim.cpp says how and
 * why). Found before the toolkit's header because gpu/sim comes first on the
 * include path of the emulation build; the real build never sees it.
 *
 * This is a test instrument, not a backend: it runs the kernels' source, as
 * written, one CUDA thread at a time on one CPU thread, so index arithmetic,
 * launch geometry, barriers, kernel arguments and every host <-> device copy
 * are exercised without a GPU. It cannot show what only hardware shows:
 * nvcc's code generation, races between threads running at once, the real
 * cuBLAS, timing. */
#ifndef AD_CUDA_SIM_RUNTIME_H
#define AD_CUDA_SIM_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <tuple>
#include <type_traits>

/* ---- the language: qualifiers and built-in variables ---- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
/* A block's shared memory: blocks run one after another on one CPU thread,
 * so a static per host thread is exactly one block's copy. */
#define __shared__ static thread_local

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

/* Every thread of the block must reach the same __syncthreads (the call site
 * is how the emulator tells one from another). */
void ad_sim_syncthreads(const char *file, int line);
#define __syncthreads() ad_sim_syncthreads(__FILE__, __LINE__)

/* ---- the runtime API ---- */
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
};
typedef enum cudaError_t cudaError;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor;
    int multiProcessorCount;
};
#define CUDART_VERSION 13000

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaMalloc(void **ptr, size_t bytes);
template <class T> cudaError_t cudaMalloc(T **ptr, size_t bytes) { return cudaMalloc((void **)ptr, bytes); }
cudaError_t cudaFree(void *ptr);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void *ptr, int value, size_t bytes);

/* Page-locked host memory, asynchronous copies and events (the default
 * stream only). A copy queued by cudaMemcpyAsync runs as late as CUDA lets
 * it: just before the next call that uses the device or waits for it
 * (cudaEventSynchronize, cudaDeviceSynchronize, a copy, a launch), reading
 * its source then, so a source reused too early shows. Its pointers are
 * checked as cudaMemcpy's, and an event must be recorded before a wait. */
typedef struct ad_sim_stream *cudaStream_t;
typedef struct ad_sim_event *cudaEvent_t;
enum { cudaEventDefault = 0, cudaEventDisableTiming = 2 };
cudaError_t cudaMallocHost(void **ptr, size_t bytes);
cudaError_t cudaFreeHost(void *ptr);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);

/* ---- launching: AD_LAUNCH(grid, block, kernel)(args...) in gpu_internal.h ----
 * The kernel runs for every (block, thread) of the geometry, one at a time;
 * `thread` is called with the built-in variables set. Before it runs, the
 * geometry is checked as the hardware checks it (a bad one is
 * cudaErrorInvalidConfiguration from cudaGetLastError, nothing runs) and
 * every pointer argument must point into device memory. */
struct ad_sim_kernel {
    const char *name;   /* as written at the launch, e.g. "binary_fwd<add_op, T>" */
    const void *id;     /* the kernel function itself */
    dim3 grid, block;
};
void ad_sim_launch(const ad_sim_kernel &k, void (*thread)(void *), void *closure);
/* A kernel's pointer argument (number `index`, from 0) must be NULL or point
 * into a live device allocation: anything else would fault on a GPU. */
void ad_sim_check_pointer_arg(const ad_sim_kernel &k, int index, const void *p);

template <class... P> struct ad_sim_launch_site {
    ad_sim_kernel k;
    void (*kernel)(P...);
    template <class... A> void operator()(A &&...a) const
    {
        static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
        // The arguments are evaluated and converted once, as a launch copies them to the device.
        std::tuple<std::decay_t<P>...> args(static_cast<P>(a)...);
        int index = 0;
        std::apply([&](const auto &...x) { (check(index++, x), ...); }, args);
        auto run = [&] { std::apply(kernel, args); };   // each thread gets its own copy of each argument
        ad_sim_launch(k, [](void *c) { (*static_cast<decltype(run) *>(c))(); }, &run);
    }
    template <class X> void check(int index, const X &x) const
    {
        if constexpr (std::is_pointer_v<X>) ad_sim_check_pointer_arg(k, index, (const void *)x);
        (void)index, (void)x;
    }
};
template <class... P>
ad_sim_launch_site<P...> ad_sim_launch_site_of(const char *name, dim3 grid, dim3 block, void (*kernel)(P...))
{
    return ad_sim_launch_site<P...>{{name, (const void *)kernel, grid, block}, kernel};
}

#endif
