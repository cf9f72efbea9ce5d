/* test_gpu_sim.cpp: the CPU emulation of CUDA (gpu/sim) catches what it
 * promises to catch. It is how gpu/ is tested without a GPU, so each of its
 * checks is attacked here with the bug it exists for: a kernel that writes
 * one element past its buffer, host code that reads a device pointer, a
 * launch on freed memory or on a host array, a bad launch geometry,
 * divergent barriers, a gemm whose matrix runs off its allocation. Each
 * such bug runs in a child process, which must die saying what went wrong.
 * And what it runs, it must run right: block sums through __syncthreads,
 * every thread of every block once, gemm against a hand loop.
 * Built only with -Dgpu_sim=true. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include "gpu_internal.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
extern "C" {   // CMocka 1.1's header declares its functions without C linkage for C++
#include "ad_test.h"
}

// ---- the kernels under test ----
__global__ void fill_kernel(float *y, int64_t n, float v)
{
    AD_GPU_FOR(i, n) y[i] = v;
}
// one element too many: i <= n
__global__ void overrun_kernel(float *y, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i <= n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = 1;
}
// out[b] = Σ x over block b's slice; every thread's copy of the total must agree
__global__ void block_sum_kernel(const double *x, double *out, int *disagree, int64_t per_block)
{
    double acc = 0;
    for (int64_t i = threadIdx.x; i < per_block; i += blockDim.x) acc += x[blockIdx.x * per_block + i];
    double total = ad_gpu_block_sum(acc);
    double again = ad_gpu_block_sum(1.0);   // the shared buffer is reused at once
    if (threadIdx.x == 0) out[blockIdx.x] = total;
    if (again != AD_GPU_BLOCK_SUM) disagree[0] = 1;
}
// each (block, thread) counts itself
__global__ void count_kernel(int *seen)
{
    seen[(blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x * blockDim.y + threadIdx.y * blockDim.x + threadIdx.x]++;
}
__global__ void divergent_kernel(int *y)
{
    if (threadIdx.x < 5) __syncthreads();
    else __syncthreads();
    y[0] = 0;
}
__global__ void early_exit_kernel(int *y)
{
    if (threadIdx.x == 3) return;
    __syncthreads();
    y[threadIdx.x] = 1;
}

// ---- a child process for each bug ----
// Runs fn in a child with its stderr captured; the child must not exit 0
// (it dies by a signal, or exits non-zero under ASan), and its stderr must
// contain each of the phrases.
static void assert_dies_saying(void (*fn)(void), std::initializer_list<const char *> phrases)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        // die by the signal itself: CMocka's handlers would go on with the next test in the child
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        alarm(60);   // and a child that hangs dies too
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0);   // survived the bug: the parent fails
    }
    close(fd[1]);
    std::string err;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd[0], buf, sizeof buf)) > 0) err.append(buf, (size_t)n);
    close(fd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        print_error("the child survived; its stderr:\n%s\n", err.c_str());
        fail();
    }
    for (const char *p : phrases)
        if (err.find(p) == std::string::npos) {
            print_error("the child's stderr lacks \"%s\":\n%s\n", p, err.c_str());
            fail();
        }
}

static float *device_floats(int64_t n)
{
    void *p = NULL;
    if (cudaMalloc(&p, (size_t)n * sizeof(float)) != cudaSuccess) abort();
    return (float *)p;
}

// ---- what it runs, it runs right ----
static void test_fresh_memory_is_nan(void **state)
{
    (void)state;
    float *d = device_floats(300), h[300];
    assert_int_equal(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int i = 0; i < 300; i++) assert_true(isnan(h[i]));
    AD_LAUNCH(2, 128, fill_kernel)(d, (int64_t)300, 2.5f);
    assert_int_equal(cudaGetLastError(), cudaSuccess);
    assert_int_equal(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int i = 0; i < 300; i++) assert_true(h[i] == 2.5f);   // the grid-stride loop covered 300 with 256 threads
    assert_int_equal(cudaFree(d), cudaSuccess);
}

static void test_every_thread_runs_once(void **state)
{
    (void)state;
    enum { GX = 3, GY = 2, BX = 8, BY = 4, N = GX * GY * BX * BY };
    int *d = NULL, h[N];
    assert_int_equal(cudaMalloc(&d, sizeof h), cudaSuccess);
    assert_int_equal(cudaMemset(d, 0, sizeof h), cudaSuccess);
    AD_LAUNCH(dim3(GX, GY), dim3(BX, BY), count_kernel)(d);
    assert_int_equal(cudaGetLastError(), cudaSuccess);
    assert_int_equal(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int i = 0; i < N; i++) assert_int_equal(h[i], 1);
    cudaFree(d);
}

static void test_block_sums_through_barriers(void **state)
{
    (void)state;
    enum { BLOCKS = 3, PER = 1000 };
    double hx[BLOCKS * PER], out[BLOCKS], expect[BLOCKS] = {0, 0, 0};
    for (int i = 0; i < BLOCKS * PER; i++) {
        hx[i] = (double)((i * 7919) % 1000) / 37.0 - 10.0;
        expect[i / PER] += hx[i];
    }
    double *dx = NULL, *dout = NULL;
    int *dis = NULL, hdis = 0;
    assert_int_equal(cudaMalloc(&dx, sizeof hx), cudaSuccess);
    assert_int_equal(cudaMalloc(&dout, sizeof out), cudaSuccess);
    assert_int_equal(cudaMalloc(&dis, sizeof hdis), cudaSuccess);
    assert_int_equal(cudaMemcpy(dx, hx, sizeof hx, cudaMemcpyHostToDevice), cudaSuccess);
    assert_int_equal(cudaMemset(dis, 0, sizeof hdis), cudaSuccess);
    for (int launch = 0; launch < 2; launch++) {   // the first learns the kernel has barriers
        AD_LAUNCH(BLOCKS, AD_GPU_BLOCK_SUM, block_sum_kernel)(dx, dout, dis, (int64_t)PER);
        assert_int_equal(cudaGetLastError(), cudaSuccess);
        assert_int_equal(cudaMemcpy(out, dout, sizeof out, cudaMemcpyDeviceToHost), cudaSuccess);
        for (int b = 0; b < BLOCKS; b++) assert_close(out[b], expect[b], 1e-9 * fabs(expect[b]) + 1e-9);
    }
    assert_int_equal(cudaMemcpy(&hdis, dis, sizeof hdis, cudaMemcpyDeviceToHost), cudaSuccess);
    assert_int_equal(hdis, 0);
    cudaFree(dx), cudaFree(dout), cudaFree(dis);
}

static void test_bad_geometry_is_a_launch_error(void **state)
{
    (void)state;
    float *d = device_floats(256), h[256];
    AD_LAUNCH(1, 256, fill_kernel)(d, (int64_t)256, 1.0f);
    assert_int_equal(cudaGetLastError(), cudaSuccess);
    AD_LAUNCH(0, 256, fill_kernel)(d, (int64_t)256, 7.0f);   // an empty grid
    assert_int_equal(cudaGetLastError(), cudaErrorInvalidConfiguration);
    assert_int_equal(cudaGetLastError(), cudaSuccess);   // read once, then cleared
    AD_LAUNCH(1, 2048, fill_kernel)(d, (int64_t)256, 7.0f);   // more than 1024 threads a block
    assert_int_equal(cudaGetLastError(), cudaErrorInvalidConfiguration);
    AD_LAUNCH(dim3(1, 70000), 32, fill_kernel)(d, (int64_t)256, 7.0f);   // grid y over 65535
    assert_int_equal(cudaGetLastError(), cudaErrorInvalidConfiguration);
    assert_int_equal(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int i = 0; i < 256; i++) assert_true(h[i] == 1.0f);   // none of them ran
    cudaFree(d);
}

static void test_gemm_matches_a_hand_loop(void **state)
{
    (void)state;
    // column-major C (3,2) = Aᵀ (A stored 4x3, lda 5) · B (4x2, ldb 4) + 0.5 C
    enum { M = 3, N = 2, K = 4, LDA = 5, LDB = 4, LDC = 3 };
    double A[LDA * M], B[LDB * N], C[LDC * N], want[LDC * N];
    for (int i = 0; i < LDA * M; i++) A[i] = (i % LDA < K) ? 0.25 * i - 1 : NAN;   // NaN in the padding: never read
    for (int i = 0; i < LDB * N; i++) B[i] = 1.0 + i * 0.5;
    for (int i = 0; i < LDC * N; i++) C[i] = i;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += A[m * LDA + k] * B[n * LDB + k];
            want[n * LDC + m] = s + 0.5 * C[n * LDC + m];
        }
    double *dA, *dB, *dC;
    cudaMalloc(&dA, sizeof A), cudaMalloc(&dB, sizeof B), cudaMalloc(&dC, sizeof C);
    cudaMemcpy(dA, A, sizeof A, cudaMemcpyHostToDevice), cudaMemcpy(dB, B, sizeof B, cudaMemcpyHostToDevice);
    cudaMemcpy(dC, C, sizeof C, cudaMemcpyHostToDevice);
    cublasHandle_t h;
    assert_int_equal(cublasCreate_v2(&h), CUBLAS_STATUS_SUCCESS);
    double one = 1, half = 0.5;
    assert_int_equal(cublasDgemm_v2(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, dA, LDA, dB, LDB, &half, dC, LDC),
                     CUBLAS_STATUS_SUCCESS);
    cudaMemcpy(C, dC, sizeof C, cudaMemcpyDeviceToHost);
    for (int i = 0; i < LDC * N; i++) assert_close(C[i], want[i], 1e-12);
    // cuBLAS's own argument checks: lda below A's rows as stored (K for Aᵀ)
    assert_int_equal(cublasDgemm_v2(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, dA, K - 1, dB, LDB, &half, dC, LDC),
                     CUBLAS_STATUS_INVALID_VALUE);
    assert_int_equal(cublasDgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, N, K, &one, dA, LDA, dB, LDB, &half, dC, LDC),
                     CUBLAS_STATUS_INVALID_VALUE);
    cublasDestroy_v2(h);
    cudaFree(dA), cudaFree(dB), cudaFree(dC);
}

static void test_out_of_memory_is_an_error(void **state)
{
    (void)state;
    setenv("AD_CUDA_SIM_MEMORY_MB", "64", 1);
    void *p = NULL;
    assert_int_equal(cudaMalloc(&p, (size_t)100 << 20), cudaErrorMemoryAllocation);
    assert_null(p);
    assert_int_equal(cudaGetLastError(), cudaErrorMemoryAllocation);
    unsetenv("AD_CUDA_SIM_MEMORY_MB");
}

// ---- what it catches ----
static void host_reads_device(void)
{
    float *d = device_floats(64);
    volatile float v = d[3];
    (void)v;
}
static void kernel_overruns(void)
{
    float *d = device_floats(256);   // 1 KiB: the data ends at the guard page
    float *next = device_floats(256);   // a neighbour, where the overrun would land without the guard page
    AD_LAUNCH(1, 64, overrun_kernel)(d, (int64_t)256);
    (void)next;
}
static void launch_on_freed(void)
{
    float *d = device_floats(64);
    cudaFree(d);
    AD_LAUNCH(1, 64, fill_kernel)(d, (int64_t)64, 0.0f);
}
static void launch_on_host_array(void)
{
    static float host[64];
    AD_LAUNCH(1, 64, fill_kernel)(host, (int64_t)64, 0.0f);
}
static void barriers_diverge(void)
{
    int *d = NULL;
    cudaMalloc(&d, 64 * sizeof(int));
    AD_LAUNCH(1, 32, divergent_kernel)(d);
}
static void thread_skips_barrier(void)
{
    int *d = NULL;
    cudaMalloc(&d, 64 * sizeof(int));
    AD_LAUNCH(1, 32, early_exit_kernel)(d);
}
static void gemm_runs_off_its_matrix(void)
{
    float *a = device_floats(16), *b = device_floats(16), *c = device_floats(16);
    cublasHandle_t h;
    cublasCreate_v2(&h);
    float one = 1, zero = 0;
    cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 8, &one, a, 4, b, 8, &zero, c, 4);   // A is 4x8: 32 floats
}
static void copy_into_host_as_device(void)
{
    float host[4] = {0}, *d = device_floats(4);
    cudaMemcpy(host, d, sizeof host, cudaMemcpyHostToDevice);   // the kind says dst is on the device
}

static void test_host_reading_device_memory_dies(void **state)
{
    (void)state;
    assert_dies_saying(host_reads_device, {"cuda-sim: invalid device memory access by host code",
                                           "byte 12 of a live allocation of 256 bytes"});
}
static void test_kernel_overrun_dies_naming_it(void **state)
{
    (void)state;
    assert_dies_saying(kernel_overruns, {"kernel overrun_kernel, block (0,0,0) thread (0,0,0)",
                                         "0 bytes past the end of an allocation of 1024 bytes"});
}
static void test_freed_or_host_pointer_args_die(void **state)
{
    (void)state;
    assert_dies_saying(launch_on_freed, {"kernel fill_kernel: argument 0", "in freed device memory"});
    assert_dies_saying(launch_on_host_array, {"kernel fill_kernel: argument 0", "not device memory"});
}
static void test_barrier_misuse_dies(void **state)
{
    (void)state;
    assert_dies_saying(barriers_diverge, {"kernel divergent_kernel", "divergent barriers"});
    assert_dies_saying(thread_skips_barrier, {"kernel early_exit_kernel", "thread 3 exited while thread 0 waits"});
}
static void test_bad_copies_and_gemms_die(void **state)
{
    (void)state;
    assert_dies_saying(gemm_runs_off_its_matrix, {"cublasSgemm", "does not lie within one device allocation"});
    assert_dies_saying(copy_into_host_as_device, {"cudaMemcpy", "the device side is not 16 bytes of one live allocation"});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_memory_is_nan),
        cmocka_unit_test(test_every_thread_runs_once),
        cmocka_unit_test(test_block_sums_through_barriers),
        cmocka_unit_test(test_bad_geometry_is_a_launch_error),
        cmocka_unit_test(test_gemm_matches_a_hand_loop),
        cmocka_unit_test(test_out_of_memory_is_an_error),
        cmocka_unit_test(test_host_reading_device_memory_dies),
        cmocka_unit_test(test_kernel_overrun_dies_naming_it),
        cmocka_unit_test(test_freed_or_host_pointer_args_die),
        cmocka_unit_test(test_barrier_misuse_dies),
        cmocka_unit_test(test_bad_copies_and_gemms_die),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
