// cuda_sim.cpp: CUDA emulated on the CPU, to test gpu/ without a GPU
// (meson -Dgpu_sim=true). The headers beside this file say what it covers.
//
// Why: the backend's kernels had never run anywhere, and a GPU is lent for
// minutes at a time. Here they run in every CI build, their source as
// written, with the checks a GPU and compute-sanitizer would make and a few
// they cannot:
//   - device memory lives in one reserved address range, and only a CUDA
//     call can touch it: between calls it is mapped PROT_NONE, so host code
//     that reads a device pointer faults here as it would on a GPU;
//   - each allocation ends at a guard page (an overrun by one element
//     faults); freed memory is never handed out again (a use after free
//     faults); fresh memory holds NaN bytes (a read of memory nobody wrote
//     shows in the results);
//   - a launch's geometry is checked as the hardware checks it, every
//     pointer argument must point into device memory, and every thread of a
//     block must reach the same __syncthreads;
//   - a fault in device memory says which kernel, block and thread, or which
//     host code, made it, then dies as the fault would (under ASan, with
//     ASan's report);
//   - a cudaMemcpyAsync runs as late as CUDA allows, reading its source
//     then: a staging buffer refilled before its copy ran sends the new data.
//
// How: a block's threads run one after another on one CPU thread. A kernel
// whose first launch never reached __syncthreads runs each thread as a plain
// call; one that did runs each thread as a fiber (ucontext) that yields at
// every __syncthreads, so all threads of a block reach a barrier before any
// leaves it. Every CUDA call holds one lock: the emulated device does one
// thing at a time, like the default stream.
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <atomic>
#include <map>
#include <mutex>
#include <unordered_set>
#include <vector>
#include <cblas.h>
#include "cublas_v2.h"
#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_ASAN 1
#endif
#endif
#ifdef SIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

namespace {

[[noreturn]] void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cuda-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

std::recursive_mutex device_lock;   // recursive: cuBLAS's emulation calls the copy checks
void run_queued();                   // the copies cudaMemcpyAsync queued (below)
thread_local cudaError_t last_error = cudaSuccess;

cudaError_t fail(cudaError_t e)
{
    if (last_error == cudaSuccess) last_error = e;
    return e;
}

// ---- device memory ----
const size_t page = (size_t)sysconf(_SC_PAGESIZE);
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct allocation {
    char *map;        // first page
    size_t map_len;   // pages holding data (the guard page follows)
    size_t bytes;     // asked for; the data ends at map + map_len (when a multiple of 256 bytes)
    mutable bool open;
};
char *arena;           // reserved once, PROT_NONE where not handed out and open
size_t arena_len;
size_t arena_used;     // bump pointer: freed ranges are never reused
std::map<uintptr_t, allocation> live;    // by the data's first byte
std::map<uintptr_t, allocation> freed;   // for the fault report
bool device_open = false;                // inside a CUDA call: live memory opens on first touch

// What the emulated device is doing, for a fault report.
struct {
    const ad_sim_kernel *kernel;
    const char *call;   // a runtime or cuBLAS call, when no kernel runs
} now;

// The allocations opened during this call (closed again when it ends).
// Opening every live allocation for every call costs two mprotects each,
// hundreds per call; a call touches a handful, so each opens on its first
// fault (on_segv) or up front where the call names it.
enum { MAX_OPEN = 4096 };
const allocation *opened[MAX_OPEN];
int n_opened;
std::atomic_flag open_lock = ATOMIC_FLAG_INIT;   // OpenBLAS's threads fault too

void open_allocation(const allocation *a)
{
    while (open_lock.test_and_set(std::memory_order_acquire)) {}
    if (!a->open) {
        if (n_opened == MAX_OPEN || mprotect(a->map, a->map_len, PROT_READ | PROT_WRITE) != 0) {
            open_lock.clear(std::memory_order_release);
            die("cannot open device memory for this call (%d allocations open)", n_opened);
        }
        a->open = true;
        opened[n_opened++] = a;
    }
    open_lock.clear(std::memory_order_release);
}

void claim_segv();

// Device memory is reachable for the span of one CUDA call (nested calls keep it so).
struct device_window {
    bool outer;
    explicit device_window(const char *call) : outer(!device_open)
    {
        if (!outer) return;
        claim_segv();
        device_open = true;
        now.call = call;
    }
    ~device_window()
    {
        if (!outer) return;
        for (int i = 0; i < n_opened; i++) {
            if (mprotect(opened[i]->map, opened[i]->map_len, PROT_NONE) != 0) die("mprotect: %s", strerror(errno));
            opened[i]->open = false;
        }
        n_opened = 0;
        device_open = false;
        now.call = nullptr;
    }
};

// The live allocation holding [p, p + len), or null.
const allocation *allocation_of(const void *p, size_t len)
{
    uintptr_t u = (uintptr_t)p;
    auto it = live.upper_bound(u);
    if (it == live.begin()) return nullptr;
    --it;
    const allocation &a = it->second;
    uintptr_t end = it->first + a.bytes;
    return u >= it->first && u <= end && len <= end - u ? &a : nullptr;
}

// The live allocation whose pages hold p (its data, or the slack before it), or null.
const allocation *mapping_of(const void *p)
{
    const char *c = (const char *)p;
    auto it = live.upper_bound((uintptr_t)p);
    for (int i = 0; i < 2; i++) {   // the next allocation (p in its slack) or the one before
        if (it != live.end() && c >= it->second.map && c < it->second.map + it->second.map_len) return &it->second;
        if (it == live.begin()) break;
        --it;
    }
    return nullptr;
}
bool in_arena(const void *p) { return arena && (const char *)p >= arena && (const char *)p < arena + arena_len; }

// The allocation nearest below p in `m` (live or freed), for a report.
const std::pair<const uintptr_t, allocation> *nearest(const std::map<uintptr_t, allocation> &m, uintptr_t u)
{
    auto it = m.upper_bound(u);
    if (it == m.begin()) return nullptr;
    --it;
    return &*it;
}

struct sigaction previous_segv;

void describe_fault(uintptr_t u, char *buf, size_t len)
{
    auto *l = nearest(live, u), *f = nearest(freed, u);
    const std::pair<const uintptr_t, allocation> *a = l;
    bool was_freed = false;
    if (f && (!l || f->first > l->first)) a = f, was_freed = true;
    if (!a) {
        snprintf(buf, len, "device address %#lx lies before every allocation", (unsigned long)u);
        return;
    }
    long off = (long)(u - a->first);
    if (was_freed && off < (long)round_up(a->second.bytes, page))
        snprintf(buf, len, "device address %#lx is byte %ld of a freed allocation of %zu bytes (use after free)",
                 (unsigned long)u, off, a->second.bytes);
    else if (off >= (long)a->second.bytes)
        snprintf(buf, len, "device address %#lx is %ld bytes past the end of an allocation of %zu bytes at %#lx",
                 (unsigned long)u, off - (long)a->second.bytes, a->second.bytes, (unsigned long)a->first);
    else
        snprintf(buf, len, "device address %#lx is byte %ld of a live allocation of %zu bytes", (unsigned long)u, off,
                 a->second.bytes);
}

void on_segv(int sig, siginfo_t *info, void *uctx)
{
    if (device_open && in_arena(info->si_addr)) {
        // a CUDA call's first touch of a live allocation: open it, and the access runs again
        if (const allocation *a = mapping_of(info->si_addr)) {
            if (!a->open) {
                open_allocation(a);
                return;
            }
        }
    }
    if (in_arena(info->si_addr)) {
        char what[256], who[512];
        describe_fault((uintptr_t)info->si_addr, what, sizeof what);
        if (now.kernel)
            snprintf(who, sizeof who, "kernel %s, block (%u,%u,%u) thread (%u,%u,%u) of grid (%u,%u,%u) x (%u,%u,%u)",
                     now.kernel->name, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z,
                     now.kernel->grid.x, now.kernel->grid.y, now.kernel->grid.z, now.kernel->block.x,
                     now.kernel->block.y, now.kernel->block.z);
        else if (now.call)
            snprintf(who, sizeof who, "%s", now.call);
        else
            snprintf(who, sizeof who, "host code, outside any CUDA call (device memory is reached by cudaMemcpy)");
        char msg[900];
        int n = snprintf(msg, sizeof msg, "cuda-sim: invalid device memory access by %s: %s\n", who, what);
        if (write(2, msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1)) < 0) {}
    }
    // Die as the fault would have: the previous handler (ASan's, or the default) takes the same fault again.
    sigaction(SIGSEGV, &previous_segv, nullptr);
    (void)sig, (void)uctx;
}

size_t memory_limit()
{
    // AD_CUDA_SIM_MEMORY_MB sets the device's size (to test out-of-memory paths); 16 GiB by default.
    const char *s = getenv("AD_CUDA_SIM_MEMORY_MB");
    long mb = s ? atol(s) : 0;
    return (mb > 0 ? (size_t)mb : (size_t)16384) << 20;
}

void init_locked()
{
    if (arena) return;
    arena_len = memory_limit() + ((size_t)1 << 30);   // room for the guard pages
    void *p = mmap(nullptr, arena_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) die("cannot reserve %zu bytes of address space for device memory", arena_len);
    arena = (char *)p;
}

// Put on_segv first in line for SIGSEGV, keeping whoever was there (ASan, a
// test harness, the default) to die by. Done at every CUDA call: a test
// harness such as CMocka sets its own handler for each test and restores the
// one before it after.
void claim_segv()
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old);
    if (!(old.sa_flags & SA_SIGINFO) || old.sa_sigaction != on_segv) previous_segv = old;
}

size_t bytes_in_use()
{
    size_t n = 0;
    for (auto &[p, a] : live) n += a.bytes;
    return n;
}

// ---- kernels ----
enum thread_state { RUNNING, AT_BARRIER, EXITED };
struct fiber {
    ucontext_t uc;
    char *stack = nullptr;
    thread_state state = RUNNING;
    const char *bar_file = nullptr;
    int bar_line = 0;
    void *fake_stack = nullptr;   // ASan's, while switched out
    uint3 tid;
};
#ifdef SIM_ASAN
// ASan's swapcontext clears the shadow of the stack switched to, by remapping it when the shadow is over
// 64 KiB (a stack over 512 KiB): at every switch, minutes of system time per test. 128 KiB stays under.
const size_t stack_len = 128 << 10;
const size_t stack_top_used = 32 << 10;
#else
const size_t stack_len = 128 << 10;
#endif

ucontext_t scheduler;
std::vector<fiber> fibers;
fiber *running = nullptr;        // the fiber now running; null in a plain call
void (*thread_fn)(void *);
void *thread_closure;
bool barrier_seen;               // in this launch
std::unordered_set<const void *> barrier_free;   // kernels whose first launch had no __syncthreads
#ifdef SIM_ASAN
const void *sched_stack_bottom;   // the scheduler's stack, for ASan's fiber switches
size_t sched_stack_size;
void *sched_fake_stack;
#endif

void switch_to_scheduler(fiber *f, bool dying)
{
#ifdef SIM_ASAN
    __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake_stack, sched_stack_bottom, sched_stack_size);
#endif
    if (dying) {
        setcontext(&scheduler);
        die("setcontext returned");
    }
    swapcontext(&f->uc, &scheduler);
#ifdef SIM_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &sched_stack_bottom, &sched_stack_size);
#endif
}

void fiber_entry()
{
    fiber *f = running;
#ifdef SIM_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &sched_stack_bottom, &sched_stack_size);
#endif
    thread_fn(thread_closure);
    f->state = EXITED;
    switch_to_scheduler(f, true);
}

void resume(fiber &f)
{
    running = &f;
    threadIdx = f.tid;
#ifdef SIM_ASAN
    __sanitizer_start_switch_fiber(&sched_fake_stack, f.stack, stack_len);
#endif
    swapcontext(&scheduler, &f.uc);
#ifdef SIM_ASAN
    __sanitizer_finish_switch_fiber(sched_fake_stack, nullptr, nullptr);
#endif
    running = nullptr;
}

uint3 thread_index(unsigned t, const dim3 &b) { return {t % b.x, t / b.x % b.y, t / (b.x * b.y)}; }

void run_block_fibers(const ad_sim_kernel &k, unsigned nthreads)
{
    if (fibers.size() < nthreads) fibers.resize(nthreads);
    for (unsigned t = 0; t < nthreads; t++) {
        fiber &f = fibers[t];
        if (!f.stack) {
            // the stack with a guard page below it (kernels recurse nowhere, but an overflow must not go unseen)
            void *p = mmap(nullptr, stack_len + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
            if (p == MAP_FAILED) die("cannot map a fiber stack");
            mprotect(p, page, PROT_NONE);
            f.stack = (char *)p + page;
        }
#ifdef SIM_ASAN
        // What an earlier block's thread left poisoned: the frames that never returned (fiber_entry's and the
        // switch's), at the top of the stack. Only the top: unpoisoning all of it, for every thread of every
        // block, has ASan release and fault in shadow pages, minutes of system time per test.
        __asan_unpoison_memory_region(f.stack + stack_len - stack_top_used, stack_top_used);
#endif
        getcontext(&f.uc);
        f.uc.uc_stack.ss_sp = f.stack;
        f.uc.uc_stack.ss_size = stack_len;
        f.uc.uc_link = nullptr;
        makecontext(&f.uc, fiber_entry, 0);
        f.state = RUNNING;
        f.tid = thread_index(t, k.block);
    }
    for (;;) {
        for (unsigned t = 0; t < nthreads; t++)
            if (fibers[t].state != EXITED) {
                fibers[t].state = RUNNING;
                resume(fibers[t]);
            }
        // Every thread has now exited or waits at a barrier: all must wait at the same one, or all exit.
        const fiber *first_waiting = nullptr, *first_exited = nullptr;
        for (unsigned t = 0; t < nthreads; t++) {
            const fiber &f = fibers[t];
            if (f.state == EXITED) {
                if (!first_exited) first_exited = &f;
                continue;
            }
            if (!first_waiting) first_waiting = &f;
            else if (f.bar_line != first_waiting->bar_line || strcmp(f.bar_file, first_waiting->bar_file) != 0)
                die("kernel %s, block (%u,%u,%u): thread %u waits at __syncthreads at %s:%d, thread %u at %s:%d "
                    "(divergent barriers: a GPU hangs or corrupts here)",
                    k.name, blockIdx.x, blockIdx.y, blockIdx.z, first_waiting->tid.x, first_waiting->bar_file,
                    first_waiting->bar_line, f.tid.x, f.bar_file, f.bar_line);
        }
        if (!first_waiting) return;
        if (first_exited)
            die("kernel %s, block (%u,%u,%u): thread %u exited while thread %u waits at __syncthreads at %s:%d "
                "(every thread of a block must reach it)",
                k.name, blockIdx.x, blockIdx.y, blockIdx.z, first_exited->tid.x, first_waiting->tid.x,
                first_waiting->bar_file, first_waiting->bar_line);
    }
}

void run_block_plain(const ad_sim_kernel &k, unsigned nthreads)
{
    for (unsigned t = 0; t < nthreads; t++) {
        threadIdx = thread_index(t, k.block);
        thread_fn(thread_closure);
    }
}

const char *config_error(const ad_sim_kernel &k)
{
    const dim3 &g = k.grid, &b = k.block;
    if (g.x < 1 || g.y < 1 || g.z < 1) return "a grid dimension is 0";
    if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) return "the grid is larger than the device allows";
    if (b.x < 1 || b.y < 1 || b.z < 1) return "a block dimension is 0";
    if (b.x > 1024 || b.y > 1024 || b.z > 64 || (uint64_t)b.x * b.y * b.z > 1024)
        return "the block has more than 1024 threads";
    return nullptr;
}

// ---- cuBLAS ----
struct ad_sim_cublas_state {
    int unused;
};

// Column-major rows x cols with leading dimension ld, as cuBLAS reads it, must lie in one allocation.
bool matrix_in_device(const void *p, int rows, int cols, int ld, size_t es)
{
    if (rows == 0 || cols == 0) return true;
    size_t len = ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * es;
    return allocation_of(p, len) != nullptr;
}

template <class T, class Gemm>
cublasStatus_t gemm(const char *call, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                    const T *alpha, const T *A, int lda, const T *B, int ldb, const T *beta, T *C, int ldc, Gemm blas)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    auto is_op = [](cublasOperation_t o) { return o == CUBLAS_OP_N || o == CUBLAS_OP_T; };
    int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;   // A as stored
    int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    // cuBLAS's own argument checks (its documentation's CUBLAS_STATUS_INVALID_VALUE)
    if (!is_op(ta) || !is_op(tb) || m < 0 || n < 0 || k < 0 || lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) ||
        ldc < (m > 1 ? m : 1) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (in_arena(alpha) || in_arena(beta)) die("%s: alpha and beta are read from the host, not device memory", call);
    if ((k > 0 && (!matrix_in_device(A, ar, ac, lda, sizeof(T)) || !matrix_in_device(B, br, bc, ldb, sizeof(T)))) ||
        !matrix_in_device(C, m, n, ldc, sizeof(T)))
        die("%s (m %d, n %d, k %d, lda %d, ldb %d, ldc %d): a matrix does not lie within one device allocation "
            "(A %p, B %p, C %p)",
            call, m, n, k, lda, ldb, ldc, (const void *)A, (const void *)B, (const void *)C);
    device_window w(call);
    for (const void *p : {(const void *)A, (const void *)B, (const void *)C})   // up front: OpenBLAS's threads read them
        if (const allocation *a = allocation_of(p, 0)) open_allocation(a);
    blas(CblasColMajor, ta == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, tb == CUBLAS_OP_T ? CblasTrans : CblasNoTrans, m,
         n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}

}   // namespace

// ---- the language ----
void ad_sim_syncthreads(const char *file, int line)
{
    barrier_seen = true;
    fiber *f = running;
    if (!f)
        die("kernel %s reached __syncthreads at %s:%d, but ran without fibers: its first launch never did "
            "(a barrier that only some launches reach is not supported)",
            now.kernel ? now.kernel->name : "?", file, line);
    f->state = AT_BARRIER;
    f->bar_file = file;
    f->bar_line = line;
    switch_to_scheduler(f, false);
}

void ad_sim_check_pointer_arg(const ad_sim_kernel &k, int index, const void *p)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    if (p && !allocation_of(p, 0))
        die("kernel %s: argument %d is %p, %s", k.name, index, p,
            in_arena(p) ? "in freed device memory" : "not device memory (a host pointer?)");
}

void ad_sim_launch(const ad_sim_kernel &k, void (*thread)(void *), void *closure)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    init_locked();
    run_queued();
    if (config_error(k)) {
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (running || now.kernel) die("kernel %s launched from inside kernel %s", k.name, now.kernel->name);
    device_window w(k.name);
    now.kernel = &k;
    gridDim = k.grid;
    blockDim = k.block;
    thread_fn = thread;
    thread_closure = closure;
    barrier_seen = false;
    bool plain = barrier_free.count(k.id) > 0 && !getenv("AD_CUDA_SIM_ALWAYS_FIBERS");
    unsigned nthreads = k.block.x * k.block.y * k.block.z;
    for (unsigned z = 0; z < k.grid.z; z++)
        for (unsigned y = 0; y < k.grid.y; y++)
            for (unsigned x = 0; x < k.grid.x; x++) {
                blockIdx = {x, y, z};
                if (plain) run_block_plain(k, nthreads);
                else run_block_fibers(k, nthreads);
            }
    if (!plain && !barrier_seen) barrier_free.insert(k.id);
    now.kernel = nullptr;
}

// ---- the runtime API ----
cudaError_t cudaGetDeviceCount(int *count)
{
    if (!count) return fail(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device)
{
    if (!device) return fail(cudaErrorInvalidValue);
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device)
{
    if (!prop || device != 0) return fail(cudaErrorInvalidValue);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "CUDA emulated on the CPU (cuda-sim: no GPU)");
    prop->totalGlobalMem = memory_limit();
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *version)
{
    if (!version) return fail(cudaErrorInvalidValue);
    *version = CUDART_VERSION;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();   // every other call has finished when it returns
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    }
    return "cudaErrorUnknown";
}
const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    }
    return "unknown error";
}

cudaError_t cudaMalloc(void **ptr, size_t bytes)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    init_locked();
    claim_segv();   // so that host code reading this memory is reported (device_window does it for the other calls)
    if (!ptr) return fail(cudaErrorInvalidValue);
    *ptr = nullptr;
    size_t data_len = round_up(bytes ? bytes : 1, 256);   // cudaMalloc's alignment
    size_t map_len = round_up(data_len, page);
    if (bytes_in_use() + bytes > memory_limit() || arena_used + map_len + page > arena_len)
        return fail(cudaErrorMemoryAllocation);
    allocation a{arena + arena_used, map_len, bytes, false};
    arena_used += map_len + page;   // and a guard page
    // NaN in every float and double: a kernel that reads memory nobody wrote shows it in its results
    if (mprotect(a.map, map_len, PROT_READ | PROT_WRITE) != 0) die("mprotect: %s", strerror(errno));
    memset(a.map, 0xff, map_len);
    mprotect(a.map, map_len, PROT_NONE);
    char *data = a.map + map_len - data_len;   // so the data ends at the guard page (when bytes is a multiple of 256)
    live[(uintptr_t)data] = a;
    *ptr = data;
    return cudaSuccess;
}

cudaError_t cudaFree(void *ptr)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();   // cudaFree waits for the device
    if (!ptr) return cudaSuccess;
    auto it = live.find((uintptr_t)ptr);
    if (it == live.end()) return fail(cudaErrorInvalidDevicePointer);
    allocation a = it->second;
    live.erase(it);
    mprotect(a.map, a.map_len, PROT_NONE);
    madvise(a.map, a.map_len, MADV_DONTNEED);
    freed[(uintptr_t)ptr] = a;
    return cudaSuccess;
}

namespace {
// A copy checked as cudaMemcpy checks it, and done if `run`.
cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, bool run)
{
    init_locked();
    if (bytes == 0) return cudaSuccess;
    if (!dst || !src) return fail(cudaErrorInvalidValue);
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault) dst_dev = in_arena(dst), src_dev = in_arena(src);
    else if (kind != cudaMemcpyHostToHost && kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToHost &&
             kind != cudaMemcpyDeviceToDevice)
        return fail(cudaErrorInvalidMemcpyDirection);
    // A pointer on the wrong side of the copy is a bug a GPU may or may not catch (unified addressing): here it is one.
    if ((dst_dev && !allocation_of(dst, bytes)) || (src_dev && !allocation_of(src, bytes)))
        die("cudaMemcpy(%p, %p, %zu bytes, kind %d): the device side is not %zu bytes of one live allocation", dst, src,
            bytes, (int)kind, bytes);
    if ((!dst_dev && in_arena(dst)) || (!src_dev && in_arena(src)))
        die("cudaMemcpy(%p, %p, %zu bytes, kind %d): the host side is device memory", dst, src, bytes, (int)kind);
    if (!run) return cudaSuccess;
    device_window w("cudaMemcpy");
    for (const void *p : {(const void *)dst, src})
        if (const allocation *a = allocation_of(p, 0)) open_allocation(a);
    memmove(dst, src, bytes);
    return cudaSuccess;
}

// Copies queued by cudaMemcpyAsync run as late as CUDA lets them: just
// before the next call that uses the device or waits for it. Their source is
// read then, as a GPU reads it then, so a caller that refills a staging
// buffer before the copy from it is done sends the new data, and shows it.
struct queued_copy {
    void *dst;
    const void *src;
    size_t bytes;
    cudaMemcpyKind kind;
};
std::vector<queued_copy> queued;

void run_queued()
{
    std::vector<queued_copy> q;
    q.swap(queued);
    for (const queued_copy &c : q) copy(c.dst, c.src, c.bytes, c.kind, true);
}
}   // namespace

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();
    return copy(dst, src, bytes, kind, true);
}

cudaError_t cudaMemset(void *ptr, int value, size_t bytes)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();
    if (bytes == 0) return cudaSuccess;
    if (!ptr || !allocation_of(ptr, bytes)) {
        if (ptr && !in_arena(ptr)) die("cudaMemset(%p, %d, %zu): not device memory", ptr, value, bytes);
        return fail(cudaErrorInvalidValue);
    }
    device_window w("cudaMemset");
    open_allocation(allocation_of(ptr, bytes));
    memset(ptr, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t bytes)
{
    if (!ptr) return fail(cudaErrorInvalidValue);
    *ptr = malloc(bytes ? bytes : 1);   // host memory like any other, here
    return *ptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void *ptr)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();   // cudaFreeHost waits for the device
    if (in_arena(ptr)) return fail(cudaErrorInvalidValue);
    free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream)
{
    std::lock_guard<std::recursive_mutex> g(device_lock);
    if (stream) return fail(cudaErrorInvalidValue);   // gpu/ uses the default stream only
    cudaError_t e = copy(dst, src, bytes, kind, false);
    if (e == cudaSuccess && bytes) queued.push_back({dst, src, bytes, kind});
    return e;
}

struct ad_sim_event {
    bool recorded;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags)
{
    if (!event || (flags & ~2u)) return fail(cudaErrorInvalidValue);
    *event = new ad_sim_event{false};
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    if (!event || stream) return fail(cudaErrorInvalidValue);
    event->recorded = true;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    if (!event) return fail(cudaErrorInvalidValue);
    // CUDA returns at once for an event never recorded; here it is a bug in the caller's bookkeeping
    if (!event->recorded) die("cudaEventSynchronize on an event that was never recorded");
    std::lock_guard<std::recursive_mutex> g(device_lock);
    run_queued();   // everything queued before the event (and after: the emulator keeps no finer order)
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    delete event;
    return cudaSuccess;
}

// ---- cuBLAS ----
cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = (cublasHandle_t) new ad_sim_cublas_state();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    delete (ad_sim_cublas_state *)handle;
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}
cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                              float *C, int ldc)
{
    return gemm("cublasSgemm", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, cblas_sgemm);
}
cublasStatus_t cublasDgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const double *alpha, const double *A, int lda, const double *B, int ldb,
                              const double *beta, double *C, int ldc)
{
    return gemm("cublasDgemm", h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, cblas_dgemm);
}
