/* node_memory.c: where nodes live. Node chunks grow geometrically
 * (ad_internal.h: chunk k holds NODE_CHUNK0 << k nodes, so id -> node is a
 * few bit operations and nodes never move); this file allocates them and
 * populates their memory ahead of the nodes being made. For the first read
 * of the engine: a chunk is calloc'd memory, and node_new (ad_internal.h)
 * takes the next node of it; the rest is speed. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "fast_internal.h"

/* Node chunks. A first pass over fresh memory is paid mostly in page faults,
 * one per 4 KiB page. So chunks of NODE_MAP_MIN bytes and more are mmap'd,
 * 2 MiB-aligned, advised to use huge pages, and populated NODE_POPULATE bytes
 * at a time (MADV_POPULATE_WRITE: one call instead of a fault a page) just
 * ahead of the nodes being made. On a virtual machine a huge page can be
 * memory the host took back, and clearing it is then slower than 4 KiB pages
 * would be; so each window is timed, and a context whose huge-page windows
 * were slow (NODE_SLOW_PS_PER_BYTE) twice in a row (one slow window may be
 * other work) takes 4 KiB pages from then on. Where the kernel refuses
 * either advice the memory faults in page by page, correct and slower.
 * BENCHMARKS.md ("Node memory") has the measurements behind these choices. */
/* (NODE_MAP_MIN ... REC_POPULATE: fast_internal.h, shared with the record chunks of scalar_path.c) */

static ad_node *chunk_alloc(ad_context *ctx, uint32_t k)
{
    size_t bytes = ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
    node_chunk_mem *m = &fast_of(ctx)->chunk_mem[k];
    m->map = NULL;
    m->map_len = 0;
    m->populated = 0;
    /* zeroed: a compact node's memory is read (its gen, 0) before it is written */
    if (bytes < NODE_MAP_MIN) return calloc(1, bytes);
    size_t len = bytes + NODE_MAP_ALIGN;
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return NULL;
    uintptr_t start = ((uintptr_t)map + NODE_MAP_ALIGN - 1) & ~(uintptr_t)(NODE_MAP_ALIGN - 1);
#ifdef MADV_HUGEPAGE
    if (!fast_of(ctx)->node_small_pages) madvise((void *)start, bytes, MADV_HUGEPAGE);   /* advice: refused is fine */
#endif
    m->map = map;
    m->map_len = len;
    return (ad_node *)start;
}

static int64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Populate bytes [from, to) of chunk k; see above. */
static void chunk_populate(ad_context *ctx, uint32_t k, size_t from, size_t to)
{
    fast_state *f = fast_of(ctx);
    char *base = (char *)ctx->node_chunk[k];
    int64_t t0 = thread_ns();
    /* refused (an old kernel): the pages fault in one by one instead */
    madvise(base + from, to - from, MADV_POPULATE_WRITE);
    /* (a chunk's tail short of 2 MiB is in 4 KiB pages whatever the advice: not judged) */
    if (f->node_small_pages || to % NODE_MAP_ALIGN) return;
    bool slow = (thread_ns() - t0) * 1000 > (int64_t)(to - from) * NODE_SLOW_PS_PER_BYTE;
    f->node_slow_windows = slow ? f->node_slow_windows + 1 : 0;
    if (f->node_slow_windows < 2) return;
    f->node_small_pages = true;
#ifdef MADV_NOHUGEPAGE
    size_t bytes = ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
    if (to < bytes) madvise(base + to, bytes - to, MADV_NOHUGEPAGE);
#endif
}

void ad_node_chunk_free(ad_context *ctx, int k)
{
    const node_chunk_mem *m = &fast_of(ctx)->chunk_mem[k];
    if (m->map) munmap(m->map, m->map_len);
    else free(ctx->node_chunk[k]);
}

/* Node chunk k, allocated if it is the next one. */
ad_status ad_node_chunk_ensure(ad_context *ctx, uint32_t k, uint32_t id, const char *who)
{
    if (k < (uint32_t)ctx->n_node_chunks) return AD_OK;
    ad_node *chunk = chunk_alloc(ctx, k);
    if (!chunk) return ad_fail(AD_ERR_NOMEM, "%s: out of memory for node %u", who, id);
    ctx->node_chunk[k] = chunk;
    /* A handle keeps its generation in the top bits of the address, which
     * user addresses leave zero (Linux maps above 2^47 only when asked). */
    uintptr_t end = (uintptr_t)(chunk + ((size_t)NODE_CHUNK0 << k));
    if (ad_handle_tag((const ad_node *)end) != 0) {
        ad_node_chunk_free(ctx, (int)k);
        return ad_fail(AD_ERR_NOMEM, "%s: node memory at %p reaches the address bits that handles keep their "
                       "generation in", who, (void *)chunk);
    }
    ctx->n_node_chunks = (int)k + 1;
    return AD_OK;
}

/* The slow path of node_new: make node `id`'s memory ready (its chunk
 * allocated, the next window populated) and set the ready range. */
ad_status ad_nodes_prepare(ad_context *ctx, uint32_t id, const char *who)
{
    /* (the ready range ends below 2^32 - 1: the last id comes here) */
    if (id == UINT32_MAX) return ad_fail(AD_ERR_NOMEM, "%s: the context holds the most nodes it can (2^32 - 1)", who);
    uint32_t off, k = node_chunk_index(id, &off);
    ad_status st = ad_node_chunk_ensure(ctx, k, id, who);
    if (st != AD_OK) return st;
    uint32_t cap = (uint32_t)NODE_CHUNK0 << k, hi = cap;
    node_chunk_mem *m = &fast_of(ctx)->chunk_mem[k];
    if (m->map) {
        size_t bytes = (size_t)cap * sizeof(ad_node), need = ((size_t)off + 1) * sizeof(ad_node);
        if (m->populated < need) {
            /* from the 2 MiB window that holds the node: compact nodes made
             * since the last window leave their memory unwritten (a gap) */
            size_t window = (need - sizeof(ad_node)) & ~(size_t)(NODE_MAP_ALIGN - 1);
            if (m->populated < window) m->populated = window;
            size_t end = m->populated + NODE_POPULATE;
            if (end < need) end = need;
            end = (end + NODE_MAP_ALIGN - 1) & ~(size_t)(NODE_MAP_ALIGN - 1);
            if (end > bytes) end = bytes;
            chunk_populate(ctx, k, m->populated, end);
            m->populated = end;
        }
        hi = (uint32_t)(m->populated / sizeof(ad_node));
    }
    ctx->ready_chunk = &ctx->node_chunk[k][off];
    ctx->ready_lo = id;
    ctx->ready_hi = id + (hi - off);
    return AD_OK;
}
