// allocator.cu: a caching allocator on cudaMalloc.
//
// cudaMalloc and cudaFree synchronise the whole device and take far longer
// than the kernels of a small net, so a training step that allocated fresh
// buffers would spend its time in the allocator. Blocks are rounded up to a
// power of two (from 256 bytes: cudaMalloc's own alignment), and a freed block
// goes onto its size class's free list instead of back to CUDA. The cost is
// up to 2x memory per block; ad_gpu_cache_release returns the cache, and a
// cudaMalloc that fails for lack of memory releases the cache and tries once
// more before reporting out-of-memory as an engine error.
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "gpu_internal.h"

enum { MIN_CLASS = 8, N_CLASSES = 48, N_BUCKETS = 1024 };   // class c holds blocks of 2^c bytes

typedef struct block {
    void *ptr;
    int cls;
    struct block *next;
} block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block *free_list[N_CLASSES];   // cached blocks by class
static block *live[N_BUCKETS];        // handed-out blocks, hashed by pointer, to find a block's class on free
static ad_gpu_mem_stats stats;

static int class_of(size_t bytes)
{
    int c = MIN_CLASS;
    while (c < N_CLASSES - 1 && ((size_t)1 << c) < bytes) c++;
    return c;
}

static unsigned bucket_of(const void *p) { return (unsigned)(((uintptr_t)p >> 8) % N_BUCKETS); }

static ad_status release_cache_locked(void)
{
    ad_status st = AD_OK;
    for (int c = 0; c < N_CLASSES; c++) {
        while (free_list[c]) {
            block *b = free_list[c];
            free_list[c] = b->next;
            if (AD_CUDA_CHECK(cudaFree(b->ptr)) != AD_OK) st = AD_ERR_DEVICE;
            stats.cached_bytes -= (size_t)1 << b->cls;
            free(b);
        }
    }
    return st;
}

extern "C" void *ad_gpu_malloc(size_t bytes)
{
    if (!ad_gpu_available()) return NULL;
    if (bytes == 0) bytes = 1;
    if (bytes > ((size_t)1 << (N_CLASSES - 1))) {
        ad_fail(AD_ERR_DEVICE, "gpu_malloc: %zu bytes is more than the allocator's largest block", bytes);
        return NULL;
    }
    int c = class_of(bytes);
    size_t cap = (size_t)1 << c;
    pthread_mutex_lock(&lock);
    block *b = free_list[c];
    if (b) {
        free_list[c] = b->next;
        stats.cached_bytes -= cap;
        stats.cache_hits++;
#ifdef AD_CUDA_SIM
        // The CPU emulation fills reused blocks with NaN, as it does fresh ones: a kernel that reads what
        // nobody wrote since shows it in its results (on a GPU it reads the block's last owner's data).
        (void)cudaMemset(b->ptr, 0xff, cap);
#endif
    } else {
        b = (block *)malloc(sizeof *b);
        void *p = NULL;
        cudaError_t e = b ? cudaMalloc(&p, cap) : cudaErrorMemoryAllocation;
        if (e == cudaErrorMemoryAllocation && b) {
            // Out of memory: give the cache back to CUDA and try once more.
            (void)cudaGetLastError();
            release_cache_locked();
            e = cudaMalloc(&p, cap);
        }
        if (!b || AD_CUDA_CHECK(e) != AD_OK) {
            if (!b) ad_fail(AD_ERR_NOMEM, "gpu_malloc: no host memory for the block record");
            else ad_fail(AD_ERR_DEVICE, "gpu_malloc: cannot allocate %zu bytes on the GPU (%zu in use, %zu cached): %s",
                         bytes, stats.in_use_bytes, stats.cached_bytes, ad_last_error());
            free(b);
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        b->ptr = p;
        b->cls = c;
        stats.cuda_mallocs++;
    }
    unsigned h = bucket_of(b->ptr);
    b->next = live[h];
    live[h] = b;
    stats.in_use_bytes += cap;
    void *p = b->ptr;
    pthread_mutex_unlock(&lock);
    return p;
}

extern "C" void ad_gpu_free(void *ptr)
{
    if (!ptr) return;
    pthread_mutex_lock(&lock);
    block **pp = &live[bucket_of(ptr)];
    while (*pp && (*pp)->ptr != ptr) pp = &(*pp)->next;
    block *b = *pp;
    if (b) {
        *pp = b->next;
        b->next = free_list[b->cls];
        free_list[b->cls] = b;
        stats.in_use_bytes -= (size_t)1 << b->cls;
        stats.cached_bytes += (size_t)1 << b->cls;
    } else {
        // Not ours: a caller bug. Report it rather than corrupt the cache.
        ad_fail(AD_ERR_ARG, "gpu_free: %p was not allocated by ad_gpu_malloc (or was freed twice)", ptr);
    }
    pthread_mutex_unlock(&lock);
}

extern "C" ad_status ad_gpu_cache_release(void)
{
    pthread_mutex_lock(&lock);
    ad_status st = release_cache_locked();
    pthread_mutex_unlock(&lock);
    return st;
}

extern "C" ad_gpu_mem_stats ad_gpu_memory_stats(void)
{
    pthread_mutex_lock(&lock);
    ad_gpu_mem_stats s = stats;
    pthread_mutex_unlock(&lock);
    return s;
}
