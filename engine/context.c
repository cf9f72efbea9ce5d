/* context.c: contexts (arenas), nodes, leaves, accessors, and ad_apply, the
 * one path every op call takes. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "ad_device.h"
#include "ad_internal.h"
#include "ad_op.h"

/* ---- the set of live contexts ----
 * "ops on freed contexts" must fail cleanly, so a context pointer is checked
 * against this set before it is dereferenced. A thread-local cache of the
 * last context found live, valid while no context has been freed since,
 * keeps the check to two loads on the hot path. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static const ad_context **live;
static size_t n_live, cap_live;
static atomic_uint_fast64_t free_generation;
/* initial-exec: the library is linked in, never dlopen'd late, so the cache
 * is read straight off the thread pointer, not through __tls_get_addr. */
#define AD_TLS _Thread_local __attribute__((tls_model("initial-exec")))
static AD_TLS const ad_context *cached_ctx;
static AD_TLS uint_fast64_t cached_generation;

static bool live_add(const ad_context *ctx)
{
    bool ok = true;
    pthread_mutex_lock(&live_lock);
    if (n_live == cap_live) {
        size_t cap = cap_live ? 2 * cap_live : 16;
        const ad_context **p = realloc(live, cap * sizeof *p);
        if (p) {
            live = p;
            cap_live = cap;
        } else {
            ok = false;
        }
    }
    if (ok) live[n_live++] = ctx;
    pthread_mutex_unlock(&live_lock);
    return ok;
}

static void live_remove(const ad_context *ctx)
{
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < n_live; i++)
        if (live[i] == ctx) {
            live[i] = live[--n_live];
            break;
        }
    if (n_live == 0) {
        free(live);
        live = NULL;
        cap_live = 0;
    }
    atomic_fetch_add(&free_generation, 1);
    pthread_mutex_unlock(&live_lock);
}

bool ad_context_alive(const ad_context *ctx)
{
    if (!ctx) return false;
    uint_fast64_t gen = atomic_load_explicit(&free_generation, memory_order_acquire);
    if (ctx == cached_ctx && gen == cached_generation) return true;
    bool found = false;
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < n_live && !found; i++) found = live[i] == ctx;
    gen = atomic_load(&free_generation);
    pthread_mutex_unlock(&live_lock);
    if (found) {
        cached_ctx = ctx;
        cached_generation = gen;
    }
    return found;
}

ad_status ad_check_context(const ad_context *ctx, const char *who)
{
    if (!ctx) return ad_fail(AD_ERR_ARG, "%s: context is NULL", who);
    if (!ad_context_alive(ctx))
        return ad_fail(AD_ERR_STATE, "%s: the context is not live (already freed, or not made by ad_context_new)", who);
    return AD_OK;
}

/* ---- contexts ---- */
static void chunk_free(ad_context *ctx, int k);

/* A new context takes the scalar path unless the environment says AD_FAST=0
 * (read once: a student steps through the plain path in a debugger without
 * changing the program). */
static bool fast_path_default(void)
{
    static atomic_int cached;   /* 0: not read yet; 1: on; 2: off */
    int v = atomic_load(&cached);
    if (!v) {
        const char *e = getenv("AD_FAST");
        v = e && !strcmp(e, "0") ? 2 : 1;
        atomic_store(&cached, v);
    }
    return v == 1;
}

ad_context *ad_context_new(void)
{
    ad_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx || !live_add(ctx)) {
        free(ctx);
        ad_fail(AD_ERR_NOMEM, "context_new: out of memory");
        return NULL;
    }
    static atomic_uint_fast64_t serials;
    ctx->serial = atomic_fetch_add(&serials, 1) + 1;   /* 0 is no context's */
    ctx->grad_enabled = true;
    ctx->fast = fast_path_default();
    ctx->gen = 1;
    ctx->compact_lo = UINT32_MAX;
    return ctx;
}

void ad_context_free(ad_context *ctx)
{
    if (!ctx || !ad_context_alive(ctx)) return;   /* double free is harmless */
    live_remove(ctx);
    for (uint32_t i = 0; i < ctx->n_dev; i++) ad_gpu_free(ctx->dev_ptrs[i]);
    free(ctx->dev_ptrs);
    free(ctx->marks);
    for (int k = 0; k < ctx->n_node_chunks; k++) chunk_free(ctx, k);
    for (int k = 0; k < MAX_NODE_CHUNKS; k++) {
        if (ctx->rec_map_len[k]) munmap(ctx->rec_chunk[k], ctx->rec_map_len[k]);
        else free(ctx->rec_chunk[k]);
    }
    for (uint32_t i = 0; i < ctx->n_chunks; i++) free(ctx->chunks[i].base);
    free(ctx->chunks);
    free(ctx);
}

uint32_t ad_context_node_count(const ad_context *ctx)
{
    return ad_context_alive(ctx) ? ctx->n_nodes : 0;
}

size_t ad_context_bytes(const ad_context *ctx)
{
    if (!ad_context_alive(ctx)) return 0;
    size_t b = 0;
    for (int k = 0; k < ctx->n_node_chunks; k++) {
        b += ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
        if (ctx->rec_chunk[k]) b += ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
    }
    for (uint32_t i = 0; i < ctx->n_chunks; i++) b += ctx->chunks[i].cap;
    return b;
}

bool ad_set_grad_enabled(ad_context *ctx, bool on)
{
    if (ad_check_context(ctx, "set_grad_enabled") != AD_OK) return false;
    bool was = ctx->grad_enabled;
    ctx->grad_enabled = on;
    return was;
}

bool ad_grad_enabled(const ad_context *ctx)
{
    return ad_context_alive(ctx) && ctx->grad_enabled;
}

bool ad_set_fast_path(ad_context *ctx, bool on)
{
    if (ad_check_context(ctx, "set_fast_path") != AD_OK) return false;
    bool was = ctx->fast;
    ctx->fast = on;
    return was;
}

bool ad_fast_path(const ad_context *ctx) { return ad_context_alive(ctx) && ctx->fast; }

void ad_set_check_finite(ad_context *ctx, bool on)
{
    if (ad_check_context(ctx, "set_check_finite") == AD_OK) ctx->check_finite = on;
}

/* ---- the data arena ---- */
enum { DATA_CHUNK_MIN = 1 << 16, ARENA_ALIGN = 32 };

void *ad_arena_alloc(ad_context *ctx, size_t bytes)
{
    bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (bytes == 0) bytes = ARENA_ALIGN;
    if (ctx->n_chunks > 0 && ctx->cur_off + bytes <= ctx->chunks[ctx->cur_chunk].cap) {
        void *p = ctx->chunks[ctx->cur_chunk].base + ctx->cur_off;
        ctx->cur_off += bytes;
        memset(p, 0, bytes);
        return p;
    }
    /* Move to the next chunk: reuse it if it is big enough (after a rewind),
     * else replace it with a bigger one. */
    uint32_t next = ctx->n_chunks == 0 ? 0 : ctx->cur_chunk + 1;
    size_t prev_cap = ctx->n_chunks ? ctx->chunks[ctx->cur_chunk].cap : 0;
    if (next < ctx->n_chunks && ctx->chunks[next].cap < bytes) {
        free(ctx->chunks[next].base);
        ctx->chunks[next].base = NULL;
        ctx->chunks[next].cap = 0;
    }
    if (next >= ctx->n_chunks || !ctx->chunks[next].base) {
        size_t cap = prev_cap ? 2 * prev_cap : DATA_CHUNK_MIN;
        if (cap > ((size_t)1 << 28)) cap = (size_t)1 << 28;
        if (cap < bytes) cap = bytes;
        if (next >= ctx->cap_chunks) {
            uint32_t nc = ctx->cap_chunks ? 2 * ctx->cap_chunks : 8;
            data_chunk *p = realloc(ctx->chunks, nc * sizeof *p);
            if (!p) goto oom;
            ctx->chunks = p;
            ctx->cap_chunks = nc;
        }
        char *base = aligned_alloc(ARENA_ALIGN, cap);
        if (!base) goto oom;
        ctx->chunks[next].base = base;
        ctx->chunks[next].cap = cap;
        if (next >= ctx->n_chunks) ctx->n_chunks = next + 1;
    }
    ctx->cur_chunk = next;
    ctx->cur_off = bytes;
    memset(ctx->chunks[next].base, 0, bytes);
    return ctx->chunks[next].base;
oom:
    ad_fail(AD_ERR_NOMEM, "out of memory: the context needs %zu more bytes", bytes);
    return NULL;
}

void *ad_node_alloc(ad_node *n, size_t bytes) { return ad_arena_alloc(ad_node_of(n)->ctx, bytes); }
void *ad_node_alloc_device(ad_node *n, size_t bytes) { return ad_device_alloc(ad_node_of(n)->ctx, bytes, true); }

/* ---- GPU memory of the context ----
 * The arena cannot hold it, so the context keeps a list; the gpu module's
 * caching allocator makes giving it back and taking it again cheap. */
void *ad_device_alloc(ad_context *ctx, size_t bytes, bool zero)
{
    if (ctx->n_dev == ctx->cap_dev) {
        uint32_t nc = ctx->cap_dev ? 2 * ctx->cap_dev : 64;
        void **p = realloc(ctx->dev_ptrs, nc * sizeof *p);
        if (!p) {
            ad_fail(AD_ERR_NOMEM, "out of memory: the context's list of GPU buffers");
            return NULL;
        }
        ctx->dev_ptrs = p;
        ctx->cap_dev = nc;
    }
    void *d = ad_gpu_malloc(bytes);
    if (!d) return NULL;
    if (zero && ad_gpu_memzero(d, bytes) != AD_OK) {
        ad_gpu_free(d);
        return NULL;
    }
    ctx->dev_ptrs[ctx->n_dev++] = d;
    return d;
}
bool ad_node_recording(const ad_node *n) { return (ad_node_of(n)->flags & AD_NODE_RECORDING) != 0; }
int ad_node_dirs(const ad_node *n) { return ad_node_of(n)->ctx->dirs; }

static bool same_position(const ad_mark *a, const ad_mark *b)
{
    return a->nodes == b->nodes && a->chunk == b->chunk && a->offset == b->offset &&
           a->device_allocs == b->device_allocs;
}

ad_mark ad_context_mark(ad_context *ctx)
{
    ad_mark m = {0, 0, 0, 0, 0, 0};
    if (ad_check_context(ctx, "context_mark") != AD_OK) return m;
    m.nodes = ctx->n_nodes;
    m.chunk = ctx->cur_chunk;
    m.offset = ctx->cur_off;
    m.device_allocs = ctx->n_dev;
    m.context_serial = ctx->serial;
    /* The same place as the newest mark: the same mark (a loop that marks
     * after each rewind keeps the list at one entry). */
    if (ctx->n_marks > 0 && same_position(&ctx->marks[ctx->n_marks - 1], &m)) return ctx->marks[ctx->n_marks - 1];
    if (ctx->n_marks == ctx->cap_marks) {
        uint32_t cap = ctx->cap_marks ? 2 * ctx->cap_marks : 8;
        ad_mark *p = cap > ctx->cap_marks ? realloc(ctx->marks, cap * sizeof *p) : NULL;
        if (!p) {
            ad_fail(AD_ERR_NOMEM, "context_mark: out of memory for the list of marks");
            m.context_serial = 0;   /* a rewind to it fails */
            return m;
        }
        ctx->marks = p;
        ctx->cap_marks = cap;
    }
    m.seq = ++ctx->next_seq;
    ctx->marks[ctx->n_marks++] = m;
    return m;
}

ad_status ad_context_rewind(ad_context *ctx, ad_mark m)
{
    ad_status st = ad_check_context(ctx, "context_rewind");
    if (st != AD_OK) return st;
    if (m.context_serial != ctx->serial)
        return ad_fail(AD_ERR_STATE, "context_rewind: the mark was not taken in this context (%s)",
                       m.context_serial ? "it belongs to another one" : "it is not a mark from ad_context_mark");
    /* binary search: seqs increase along the list */
    uint32_t lo = 0, hi = ctx->n_marks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ctx->marks[mid].seq < m.seq) lo = mid + 1;
        else hi = mid;
    }
    if (lo == ctx->n_marks || ctx->marks[lo].seq != m.seq)
        return ad_fail(AD_ERR_STATE, "context_rewind: the mark is stale: a rewind to an earlier mark dropped the nodes "
                                     "after it (%u nodes now, mark at %u)", ctx->n_nodes, m.nodes);
    if (!same_position(&ctx->marks[lo], &m))
        return ad_fail(AD_ERR_STATE, "context_rewind: the mark was altered (it says %u nodes; the context's mark %llu "
                                     "is at %u)", m.nodes, (unsigned long long)m.seq, ctx->marks[lo].nodes);
    ctx->n_marks = lo + 1;
    /* Nodes are dropped: those made from now on take a new generation, so a
     * handle to a dropped node does not match the node that takes its memory. */
    if (m.nodes < ctx->n_nodes && ++ctx->gen == 0) ctx->gen = 1;
    ctx->n_nodes = m.nodes;
    ctx->cur_chunk = m.chunk;
    ctx->cur_off = m.offset;
    while (ctx->n_dev > m.device_allocs) ad_gpu_free(ctx->dev_ptrs[--ctx->n_dev]);
    /* Anything made after the mark is gone: drop pointers into it. (A GPU
     * node's grad is never inline, whatever its size.) */
    ctx->compact_ready_lo = ctx->compact_ready_hi = 0;   /* (compact_prepare: stale node memory) */
    ctx->compact_ready_bytes = 0;
    for (uint32_t id = 0; id < ctx->n_nodes; id++) {
        if (compact_rec(ctx, id)) continue;   /* no tangent, its grad inline */
        ad_node *n = node_at(ctx, id);
        n->tangent = NULL;
        if (!(n->flags & AD_NODE_LEAF) && (n->value.size > 1 || n->value.device == AD_CUDA)) n->grad = NULL;
    }
    return AD_OK;
}

/* ---- nodes ---- */
/* Node chunks. A cold pass over fresh memory paid mostly for page faults: on
 * cpu-2c a 4 KiB fault costs about 1.2 us, 0.3 ns a byte, about 50 ns per
 * 168-byte node. Chunks of 2 MiB and more are therefore mmap'd, 2 MiB-aligned,
 * marked MADV_HUGEPAGE and populated 4 MiB at a time (MADV_POPULATE_WRITE) just
 * ahead of the nodes being made: about 0.05 ns a byte.
 * But on cpu-2c (a VM) a huge page is sometimes memory the host has taken back
 * (a free 2 MiB block is handed back to it): clearing it then faults on the
 * host 512 times and costs about 2 ns a byte, 7x a 4 KiB page (measured: the
 * huge pages a run gets are fast while recently freed ones last, then slow).
 * So each window is timed, and a context whose huge-page windows took longer
 * than 4 KiB pages would have, twice in a row (NODE_SLOW_PS_PER_BYTE: well over
 * cpu-2c's 0.3 ns a byte in 4 KiB pages; one window slowed by other work does
 * not decide it), takes 4 KiB pages from then on. Where the kernel refuses
 * either advice the memory faults page by page. */
enum { NODE_MAP_MIN = 2 << 20, NODE_MAP_ALIGN = 2 << 20, NODE_POPULATE = 4 << 20, NODE_SLOW_PS_PER_BYTE = 500,
       REC_POPULATE = 1 << 20 };
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14; older kernels say EINVAL */
#endif

static ad_node *chunk_alloc(ad_context *ctx, uint32_t k)
{
    size_t bytes = ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
    node_chunk_mem *m = &ctx->chunk_mem[k];
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
    if (!ctx->node_small_pages) madvise((void *)start, bytes, MADV_HUGEPAGE);   /* advice: refused is fine */
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
    char *base = (char *)ctx->node_chunk[k];
    int64_t t0 = thread_ns();
    /* refused (an old kernel): the pages fault in one by one instead */
    madvise(base + from, to - from, MADV_POPULATE_WRITE);
    /* (a chunk's tail short of 2 MiB is in 4 KiB pages whatever the advice: not judged) */
    if (ctx->node_small_pages || to % NODE_MAP_ALIGN) return;
    bool slow = (thread_ns() - t0) * 1000 > (int64_t)(to - from) * NODE_SLOW_PS_PER_BYTE;
    ctx->node_slow_windows = slow ? ctx->node_slow_windows + 1 : 0;
    if (ctx->node_slow_windows < 2) return;
    ctx->node_small_pages = true;
#ifdef MADV_NOHUGEPAGE
    size_t bytes = ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
    if (to < bytes) madvise(base + to, bytes - to, MADV_NOHUGEPAGE);
#endif
}

static void chunk_free(ad_context *ctx, int k)
{
    if (ctx->chunk_mem[k].map) munmap(ctx->chunk_mem[k].map, ctx->chunk_mem[k].map_len);
    else free(ctx->node_chunk[k]);
}

/* Node chunk k, allocated if it is the next one. */
static ad_status node_chunk_ensure(ad_context *ctx, uint32_t k, uint32_t id, const char *who)
{
    if (k < (uint32_t)ctx->n_node_chunks) return AD_OK;
    ad_node *chunk = chunk_alloc(ctx, k);
    if (!chunk) return ad_fail(AD_ERR_NOMEM, "%s: out of memory for node %u", who, id);
    ctx->node_chunk[k] = chunk;
    /* A handle keeps its generation in the top bits of the address, which
     * user addresses leave zero (Linux maps above 2^47 only when asked). */
    uintptr_t end = (uintptr_t)(chunk + ((size_t)NODE_CHUNK0 << k));
    if (ad_handle_tag((const ad_node *)end) != 0) {
        chunk_free(ctx, (int)k);
        return ad_fail(AD_ERR_NOMEM, "%s: node memory at %p reaches the address bits that handles keep their "
                       "generation in", who, (void *)chunk);
    }
    ctx->n_node_chunks = (int)k + 1;
    return AD_OK;
}

/* The slow path of node_new: make node `id`'s memory ready (its chunk
 * allocated, the next window populated) and set the ready range. */
static ad_status nodes_prepare(ad_context *ctx, uint32_t id, const char *who)
{
    /* (the ready range ends below 2^32 - 1: the last id comes here) */
    if (id == UINT32_MAX) return ad_fail(AD_ERR_NOMEM, "%s: the context holds the most nodes it can (2^32 - 1)", who);
    uint32_t off, k = node_chunk_index(id, &off);
    ad_status st = node_chunk_ensure(ctx, k, id, who);
    if (st != AD_OK) return st;
    uint32_t cap = (uint32_t)NODE_CHUNK0 << k, hi = cap;
    node_chunk_mem *m = &ctx->chunk_mem[k];
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

/* Node `id`'s memory n as a new node's: no op, no inputs, no value. Every
 * field set one by one, in order (a field added to ad_node must be set here
 * too): a memset of the whole node compiles to a `rep stos`, whose start-up
 * was a third of the scalar path's time. */
static inline __attribute__((always_inline)) void node_fields_init(ad_node *n, ad_context *ctx, uint32_t id)
{
    n->mark = 0;
    n->n_in = n->flags = 0;
    n->gen = ctx->gen;
    n->op = NULL;
    n->grad = NULL;
    n->inline_value.f64 = n->inline_grad.f64 = 0;
    for (int s = 0; s < AD_MAX_INPUTS; s++) n->in[s] = NULL;
    n->value.data = NULL;
    n->value.size = 0;
    for (int d = 0; d < AD_MAX_DIMS; d++) n->value.shape[d] = 1;
    n->value.ndim = n->value.dtype = n->value.device = n->value.owns_data = 0;
    n->tangent = n->saved = NULL;
    n->params = NULL;
    n->name = NULL;
    n->ctx = ctx;
    n->id = id;
}

static inline __attribute__((always_inline)) ad_node *node_new(ad_context *ctx, const char *who)
{
    uint32_t id = ctx->n_nodes;
    if ((id < ctx->ready_lo || id >= ctx->ready_hi) && nodes_prepare(ctx, id, who) != AD_OK) return NULL;
    ad_node *n = ctx->ready_chunk + (id - ctx->ready_lo);
    node_fields_init(n, ctx, id);
    ctx->n_nodes = id + 1;
    if (__builtin_expect(id >= ctx->node_written_hi, 0)) ctx->node_written_hi = id + 1;
    if (__builtin_expect(id < ctx->rec_hi, 0)) {   /* a compact node's id before a rewind: its record is stale */
        uint32_t off, k = node_chunk_index(id, &off);
        if (ctx->rec_chunk[k] && ctx->rec_chunk[k][off].gen) ctx->rec_chunk[k][off].gen = 0;
    }
    return n;
}

/* ---- compact nodes (scalar_rec, ad_internal.h) ---- */
/* The op name of node `id` of ctx, full or compact, for messages. */
static const char *op_name_at(const ad_context *ctx, uint32_t id)
{
    const scalar_rec *r = compact_rec(ctx, id);
    if (!r) return ad_node_op_name(node_at(ctx, id));
    if (r->op) return ctx->scalar_ops[r->op - 1]->name;
    return (r->flags & REC_VARIABLE) ? "variable" : "constant";
}

/* Why a handle to node `id` of ctx no longer names it; NULL. */
static ad_node *stale_message(const ad_context *ctx, uint32_t id, const char *who)
{
    if (id >= ctx->n_nodes)
        ad_fail(AD_ERR_STATE, "%s: node #%u was dropped by a rewind of its context (the context has %u nodes now); "
                "make it again after the rewind, or take the mark before making it", who, id, ctx->n_nodes);
    else
        ad_fail(AD_ERR_STATE, "%s: node #%u was dropped by a rewind of its context, and a node made since has taken "
                "its place (now a %s); make it again after the rewind, or take the mark before making it", who, id,
                op_name_at(ctx, id));
    return NULL;
}

/* The live context that holds record memory p (not read), of node *id
 * there; NULL if none. The thread's cached context first, then the live set. */
static ad_context *context_of_record(const void *p, uint32_t *id)
{
    const ad_context *found = NULL;
    if (cached_ctx && atomic_load_explicit(&free_generation, memory_order_acquire) == cached_generation &&
        rec_locate(cached_ctx, p, id))
        found = cached_ctx;
    if (!found) {
        pthread_mutex_lock(&live_lock);
        for (size_t i = 0; i < n_live && !found; i++)
            if (rec_locate(live[i], p, id)) found = live[i];
        pthread_mutex_unlock(&live_lock);
    }
    return (ad_context *)found;
}

/* A compact node's handle h (bit 0): its context, id and record (NULL once
 * the node is a full one). false, with a message naming who, if h names no
 * live node. */
static bool compact_lookup(const ad_node *h, const char *who, ad_context **ctx, uint32_t *id, scalar_rec **rec)
{
    if (!(*ctx = context_of_record(ad_node_addr(h), id))) {
        ad_fail(AD_ERR_STATE, "%s: the node belongs to no live context (its context was freed)", who);
        return false;
    }
    if (!own_compact_id(*ctx, h, id)) {
        stale_message(*ctx, *id, who);
        return false;
    }
    *rec = compact_rec(*ctx, *id);
    return true;
}

ad_node *ad_resolve_compact(const ad_node *h, const char *who)
{
    ad_context *ctx;
    uint32_t id;
    scalar_rec *r;
    if (!compact_lookup(h, who, &ctx, &id, &r)) return NULL;
    if (r) ad_materialize_upto(ctx, id);
    return node_at(ctx, id);
}

static ad_status node_set_value(ad_node *n, ad_dtype dt, int ndim, const int64_t *shape, int64_t size, ad_device dev);
/* Write compact node `id`'s full node from its record r (its inputs are full
 * nodes already), as apply_scalar would have made it: a new node's fields
 * (node_fields_init) and a 0-d value (node_set_value), then the record's. */
static void materialize(ad_context *ctx, uint32_t id, scalar_rec *r)
{
    ad_node *n = node_at(ctx, id);
    node_fields_init(n, ctx, id);
    node_set_value(n, (r->flags & REC_F32) ? AD_FLOAT32 : AD_FLOAT64, 0, NULL, 1, AD_CPU);   /* 0-d: cannot fail */
    const ad_op *op = r->op ? ctx->scalar_ops[r->op - 1] : NULL;
    n->mark = r->mark;
    n->n_in = (uint8_t)rec_n_in(r);
    n->flags |= AD_NODE_BORN_COMPACT | (op ? AD_NODE_RECORDING | AD_NODE_REQUIRES_GRAD : 0) |
                ((r->flags & REC_LEAF) ? AD_NODE_LEAF : 0) | ((r->flags & REC_VARIABLE) ? AD_NODE_REQUIRES_GRAD : 0);
    n->gen = r->gen;
    n->op = op;
    n->inline_value.f64 = r->value.f64;   /* (8 bytes: a float32's too) */
    n->inline_grad.f64 = r->grad.f64;
    n->grad = (r->flags & REC_HAS_GRAD) ? &n->inline_grad : NULL;
    for (int s = 0; s < n->n_in && s < 2; s++) n->in[s] = node_at(ctx, r->in[s]);   /* (a record has two) */
    if (id >= ctx->node_written_hi) ctx->node_written_hi = id + 1;
    r->gen = 0;
}

void ad_materialize_upto(ad_context *ctx, uint32_t id)
{
    if (ctx->n_nodes == 0) return;
    if (id >= ctx->n_nodes) id = ctx->n_nodes - 1;
    for (uint32_t j = ctx->compact_lo; j <= id && j < ctx->n_nodes; j++) {
        scalar_rec *r = compact_rec(ctx, j);
        if (r) materialize(ctx, j, r);
    }
    if (ctx->compact_lo <= id) ctx->compact_lo = id + 1;   /* (compact nodes made from now on have larger ids) */
}

/* A node's full node or its compact record, for the accessors that read a
 * scalar's numbers without materializing it. */
typedef struct node_ref {
    const ad_node *n;       /* the full node, or NULL */
    scalar_rec *rec;        /* the record of a compact one, or NULL */
    ad_context *ctx;        /* (with rec) */
    uint32_t id;            /* (with rec) */
} node_ref;
static bool node_ref_of(const ad_node *h, const char *who, node_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    if (!h) {
        ad_fail(AD_ERR_ARG, "%s: the node is NULL", who);
        return false;
    }
    if (!((uintptr_t)h & 1)) return (ref->n = node_resolve(h, who)) != NULL;
    if (!compact_lookup(h, who, &ref->ctx, &ref->id, &ref->rec)) return false;
    if (!ref->rec) ref->n = node_at(ref->ctx, ref->id);
    return true;
}
static double rec_number(const scalar_rec *r, bool grad)
{
    if (grad && !(r->flags & REC_HAS_GRAD)) return 0.0;
    if (r->flags & REC_F32) return (double)(grad ? r->grad.f32 : r->value.f32);
    return grad ? r->grad.f64 : r->value.f64;
}

ad_node *ad_stale_handle(const ad_node *h, const char *who)
{
    const ad_node *n = ad_node_addr(h);   /* (a full node's: node_resolve took a compact one elsewhere) */
    return stale_message(n->ctx, n->id, who);
}

ad_status ad_not_own_node(const ad_context *ctx, const ad_node *h, ad_status foreign, const char *who,
                          const char *what)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s: %s", who, what);
    const ad_node *n = ad_node_addr(h);
    int k = -1;
    uint32_t id = 0;
    bool ours = ((uintptr_t)h & 1) ? rec_locate(ctx, n, &id) && id < ctx->n_nodes
                                   : h && node_in_context(ctx, n, &k) && ((id = node_id_in_chunk(ctx, n, k)), true);
    if (ours) {   /* its memory is ctx's, below the count: a later node's now */
        stale_message(ctx, id, prefix);
        return AD_ERR_STATE;
    }
    return ad_fail(foreign, "%s does not belong to this context (made in another context, or dropped by a rewind)",
                   prefix);
}

bool ad_node_in_context(const ad_context *ctx, const ad_node *h)
{
    if (!ctx || !h) return false;
    uint32_t id;
    if ((uintptr_t)h & 1) return own_compact_id(ctx, h, &id);
    const ad_node *n = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    return node_in_context(ctx, n, NULL) && (tag == 0 || tag == n->gen);
}

/* A compact node's handle: its record's address, bit 0, its generation. */
static inline ad_node *compact_handle(const scalar_rec *r, uint16_t gen)
{
#if UINTPTR_MAX > 0xffffffffu
    return (ad_node *)((uintptr_t)r | 1u | (uintptr_t)gen << AD_HANDLE_TAG_SHIFT);
#else
    (void)gen;
    return (ad_node *)((uintptr_t)r | 1u);
#endif
}

ad_node *ad_born_compact_handle(const ad_node *n) { return compact_handle(rec_at(n->ctx, n->id), n->gen); }

ad_node *ad_node_by_id(const ad_context *ctx, uint32_t id)
{
    if (!ad_context_alive(ctx) || id >= ctx->n_nodes) return NULL;
    const scalar_rec *r = compact_rec(ctx, id);
    return r ? compact_handle(r, r->gen) : ad_handle_of(node_at(ctx, id));
}

/* Give n a value buffer of the given shape: inline for a CPU scalar, GPU
 * memory for a node on the GPU. */
static ad_status node_set_value(ad_node *n, ad_dtype dt, int ndim, const int64_t *shape, int64_t size, ad_device dev)
{
    n->value.dtype = (uint8_t)dt;
    n->value.device = (uint8_t)dev;
    n->value.ndim = (uint8_t)ndim;
    n->value.size = size;
    for (int i = 0; i < AD_MAX_DIMS; i++) n->value.shape[i] = i < ndim ? shape[i] : 1;
    if (dev == AD_CUDA) {
        /* not zeroed: every forward (and every copy) writes all of its output,
         * and a memset per node would be one more kernel launch per op */
        n->value.data = ad_device_alloc(n->ctx, (size_t)size * ad_dtype_size(dt), false);
        return n->value.data ? AD_OK : AD_ERR_DEVICE;
    }
    if (size == 1) {
        n->value.data = &n->inline_value;
        n->inline_value.f64 = 0;
        if (ndim == 0) n->flags |= AD_NODE_SCALAR | (dt == AD_FLOAT32 ? AD_NODE_F32 : 0);
        return AD_OK;
    }
    n->value.data = ad_arena_alloc(n->ctx, (size_t)size * ad_dtype_size(dt));
    return n->value.data ? AD_OK : AD_ERR_NOMEM;
}

ad_status ad_node_ensure_grad(ad_node *n, bool zero)
{
    if (node_is_cpu_scalar(n)) {
        scalar_ensure_grad(n, zero);
        return AD_OK;
    }
    size_t bytes = (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype);
    if (n->value.device == AD_CUDA) {
        if (!n->grad) return (n->grad = ad_device_alloc(n->ctx, bytes, true)) ? AD_OK : AD_ERR_DEVICE;   /* zeroed */
        return zero ? ad_gpu_memzero(n->grad, bytes) : AD_OK;
    }
    if (!n->grad) {
        n->grad = ad_arena_alloc(n->ctx, bytes);   /* zeroed */
        if (!n->grad) return AD_ERR_NOMEM;
    } else if (zero) {
        memset(n->grad, 0, bytes);
    }
    return AD_OK;
}

/* Drop a half-made node: the nodes from id `nodes` on, and the GPU buffers
 * allocated since the context held `devs` of them. */
static void drop_half_made(ad_context *ctx, uint32_t nodes, uint32_t devs)
{
    ctx->n_nodes = nodes;
    while (ctx->n_dev > devs) ad_gpu_free(ctx->dev_ptrs[--ctx->n_dev]);
}

/* ---- leaves ---- */
static ad_node *leaf_on(ad_context *ctx, const char *who, ad_dtype dt, int ndim, const int64_t *shape,
                        bool requires_grad, ad_device dev)
{
    int64_t size;
    if (ad_check_context(ctx, who) != AD_OK) return NULL;
    if (dt != AD_FLOAT64 && dt != AD_FLOAT32) {
        ad_fail(AD_ERR_DTYPE, "%s: unknown dtype %d (use AD_FLOAT64 or AD_FLOAT32)", who, (int)dt);
        return NULL;
    }
    if (ad_shape_check(who, ndim, shape, &size) != AD_OK) return NULL;
    ad_node *n = node_new(ctx, who);
    if (!n) return NULL;
    uint32_t first_dev = ctx->n_dev;
    if (node_set_value(n, dt, ndim, shape, size, dev) != AD_OK) goto fail;
    n->flags |= AD_NODE_LEAF | (requires_grad ? AD_NODE_REQUIRES_GRAD : 0);   /* (node_set_value's kept) */
    /* A variable's grad lives as long as the variable (it survives rewinds). */
    if (requires_grad && ad_node_ensure_grad(n, false) != AD_OK) goto fail;
    return n;
fail:
    drop_half_made(ctx, n->id, first_dev);
    return NULL;
}

static ad_node *leaf_new(ad_context *ctx, const char *who, ad_dtype dt, int ndim, const int64_t *shape,
                         const double *values, bool requires_grad)
{
    ad_node *n = leaf_on(ctx, who, dt, ndim, shape, requires_grad, AD_CPU);
    if (n && values) ad_tensor_copy_in(&n->value, values, n->value.size);
    return n;
}

ad_node *ad_leaf_to_device(ad_context *ctx, const ad_node *host_handle)
{
    const ad_node *host = node_resolve(host_handle, "leaf_to_device");
    if (!host) return NULL;   /* keep the error that made the NULL */
    if (ad_check_context(ctx, "leaf_to_device") != AD_OK) return NULL;
    if (!(host->flags & AD_NODE_LEAF) || host->value.device != AD_CPU) {
        ad_fail(AD_ERR_ARG, "leaf_to_device: node #%u is not a leaf on the CPU", host->id);
        return NULL;
    }
    if (!ad_gpu_available()) return NULL;
    uint32_t first_dev = ctx->n_dev;
    ad_node *n = leaf_on(ctx, "leaf_to_device", (ad_dtype)host->value.dtype, host->value.ndim, host->value.shape,
                         ad_requires_grad(host), AD_CUDA);
    if (!n) return NULL;
    if (ad_gpu_tensor_copy(&n->value, &host->value) != AD_OK) {
        drop_half_made(ctx, n->id, first_dev);
        return NULL;
    }
    if (host->name) ad_set_name(n, host->name);
    return ad_handle_of(n);
}

ad_node *ad_variable(ad_context *ctx, ad_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    return ad_handle_of(leaf_new(ctx, "variable", dt, ndim, shape, values, true));
}

ad_node *ad_constant(ad_context *ctx, ad_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    return ad_handle_of(leaf_new(ctx, "constant", dt, ndim, shape, values, false));
}

static ad_node *scalar_leaf(ad_context *ctx, double v, bool variable);
ad_node *ad_scalar(ad_context *ctx, double v)
{
    ad_node *h = ad_check_context(ctx, "scalar") == AD_OK ? scalar_leaf(ctx, v, true) : NULL;
    return h ? h : ad_handle_of(leaf_new(ctx, "scalar", AD_FLOAT64, 0, NULL, &v, true));
}
ad_node *ad_scalar_const(ad_context *ctx, double v)
{
    ad_node *h = ad_check_context(ctx, "scalar_const") == AD_OK ? scalar_leaf(ctx, v, false) : NULL;
    return h ? h : ad_handle_of(leaf_new(ctx, "scalar_const", AD_FLOAT64, 0, NULL, &v, false));
}

ad_node *ad_from_tensor(ad_context *ctx, const ad_tensor *t, bool requires_grad)
{
    if (!t) {
        ad_fail(AD_ERR_ARG, "from_tensor: tensor is NULL");
        return NULL;
    }
    if (t->device != AD_CPU) {
        ad_fail(AD_ERR_DEVICE, "from_tensor: the tensor is on the GPU; use the gpu module's copy");
        return NULL;
    }
    ad_node *n = leaf_new(ctx, "from_tensor", (ad_dtype)t->dtype, t->ndim, t->shape, NULL, requires_grad);
    if (n) memcpy(n->value.data, t->data, (size_t)t->size * ad_dtype_size((ad_dtype)t->dtype));
    return ad_handle_of(n);
}

ad_node *ad_set_name(ad_node *h, const char *name)
{
    ad_node *n = node_resolve(h, "set_name");
    if (!n || !name) return n ? h : NULL;
    size_t len = strlen(name) + 1;
    char *copy = ad_arena_alloc(n->ctx, len);
    if (copy) {
        memcpy(copy, name, len);
        n->name = copy;
    }
    return h;
}

void ad_set_requires_grad(ad_node *h, bool on)
{
    ad_node *n = node_resolve(h, "set_requires_grad");
    if (!n) return;
    if (on) {
        n->flags |= AD_NODE_REQUIRES_GRAD;
        if (n->flags & AD_NODE_LEAF) ad_node_ensure_grad(n, false);
    } else {
        n->flags &= (uint8_t)~AD_NODE_REQUIRES_GRAD;
    }
}

bool ad_requires_grad(const ad_node *h)
{
    node_ref r;
    if (!h || !node_ref_of(h, "requires_grad", &r)) return false;
    return r.rec ? rec_wants_grad(r.rec) : (r.n->flags & AD_NODE_REQUIRES_GRAD) != 0;
}

/* ---- reading ---- */
/* The node behind h, with a message naming who where there is none (NULL,
 * or dropped by a rewind). */
static const ad_node *node_or_fail(const ad_node *h, const char *who)
{
    if (!h) {
        ad_fail(AD_ERR_ARG, "%s: the node is NULL", who);
        return NULL;
    }
    return node_resolve(h, who);
}

/* The same, for reading its numbers: a GPU node's are read after copying it
 * to the host (ad_to_host): reading device memory from the CPU would crash. */
static const ad_node *on_host(const ad_node *h, const char *who)
{
    const ad_node *n = node_or_fail(h, who);
    if (!n || n->value.device == AD_CPU) return n;
    ad_fail(AD_ERR_DEVICE, "%s: node #%u is on the GPU; copy it to the host first (ad_to_host)", who, n->id);
    return NULL;
}

/* ... and element i of it there to read. */
static const ad_node *readable(const ad_node *h, int64_t i, const char *who)
{
    const ad_node *n = on_host(h, who);
    if (!n || (i >= 0 && i < n->value.size)) return n;
    ad_fail(AD_ERR_ARG, "%s: index %lld is outside node #%u's %lld elements", who, (long long)i, n->id,
            (long long)n->value.size);
    return NULL;
}

static double buffer_get(const void *data, ad_dtype dt, int64_t i)
{
    return dt == AD_FLOAT32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

double ad_value_scalar(const ad_node *h)
{
    node_ref r;
    if ((uintptr_t)h & 1) {   /* a compact node: read in place */
        if (!node_ref_of(h, "value_scalar", &r)) return NAN;
        if (r.rec) return rec_number(r.rec, false);
    }
    const ad_node *n = on_host(h, "value_scalar");
    return n ? buffer_get(n->value.data, (ad_dtype)n->value.dtype, 0) : NAN;
}

double ad_grad_scalar(const ad_node *h)
{
    node_ref r;
    if ((uintptr_t)h & 1) {
        if (!node_ref_of(h, "grad_scalar", &r)) return NAN;
        if (r.rec) return rec_number(r.rec, true);
    }
    const ad_node *n = node_resolve(h, "grad_scalar");
    if (!n || !n->grad) return h && !n ? NAN : 0.0;   /* no grad yet: 0; a dropped node: NaN */
    return on_host(n, "grad_scalar") ? buffer_get(n->grad, (ad_dtype)n->value.dtype, 0) : NAN;
}

double ad_value_at(const ad_node *h, int64_t i)
{
    node_ref r;
    if (((uintptr_t)h & 1) && i == 0) {
        if (!node_ref_of(h, "value_at", &r)) return NAN;
        if (r.rec) return rec_number(r.rec, false);
    }
    const ad_node *n = readable(h, i, "value_at");
    return n ? buffer_get(n->value.data, (ad_dtype)n->value.dtype, i) : NAN;
}

double ad_grad_at(const ad_node *h, int64_t i)
{
    node_ref r;
    if (((uintptr_t)h & 1) && i == 0) {
        if (!node_ref_of(h, "grad_at", &r)) return NAN;
        if (r.rec) return rec_number(r.rec, true);
    }
    const ad_node *n = readable(h, i, "grad_at");
    if (!n) return NAN;
    return n->grad ? buffer_get(n->grad, (ad_dtype)n->value.dtype, i) : 0.0;
}

double ad_tangent_at(const ad_node *h, int dir, int64_t i)
{
    const ad_node *n = readable(h, i, "tangent_at");
    if (!n) return NAN;
    if (dir < 0 || dir >= n->ctx->dirs) {
        ad_fail(AD_ERR_ARG, "tangent_at: direction %d is outside the context's %d", dir, n->ctx->dirs);
        return NAN;
    }
    return n->tangent ? buffer_get(n->tangent, (ad_dtype)n->value.dtype, (int64_t)dir * n->value.size + i) : 0.0;
}

ad_status ad_set_value_at(ad_node *h, int64_t i, double v)
{
    const ad_node *n = readable(h, i, "set_value_at");
    if (!n) return ad_last_status();
    if (n->value.dtype == AD_FLOAT32) ((float *)n->value.data)[i] = (float)v;
    else ((double *)n->value.data)[i] = v;
    return AD_OK;
}

bool ad_has_tangent(const ad_node *h)
{
    const ad_node *n = node_resolve(h, "has_tangent");
    return n && n->tangent;
}

/* A view: the header, data shared; all zero for NULL or a dropped node. */
static ad_tensor view(const ad_node *n, bool grad)
{
    ad_tensor t;
    memset(&t, 0, sizeof t);
    if (n) {
        t = n->value;
        t.owns_data = 0;
        if (grad) t.data = n->grad;
    }
    return t;
}
ad_tensor ad_value(const ad_node *h) { return view(node_resolve(h, "value"), false); }
ad_tensor ad_grad(const ad_node *h) { return view(node_resolve(h, "grad"), true); }

static ad_status copy_out(const ad_node *h, bool grad, double *out, int64_t len, const char *who)
{
    if (!out) return ad_fail(AD_ERR_ARG, "%s: out is NULL", who);
    const ad_node *n = on_host(h, who);
    if (!n) return ad_last_status();
    if (len < n->value.size)
        return ad_fail(AD_ERR_ARG, "%s: room for %lld values, node #%u has %lld", who, (long long)len, n->id,
                       (long long)n->value.size);
    const void *src = grad ? n->grad : n->value.data;
    for (int64_t i = 0; i < n->value.size; i++) out[i] = src ? buffer_get(src, (ad_dtype)n->value.dtype, i) : 0.0;
    return AD_OK;
}
ad_status ad_value_copy_out(const ad_node *h, double *out, int64_t len) { return copy_out(h, false, out, len, "value_copy_out"); }
ad_status ad_grad_copy_out(const ad_node *h, double *out, int64_t len) { return copy_out(h, true, out, len, "grad_copy_out"); }

/* ---- walking the graph ---- */
uint32_t ad_node_id(const ad_node *h)
{
    node_ref r;
    if (!node_ref_of(h, "node_id", &r)) return 0;
    return r.rec ? r.id : r.n->id;
}

ad_context *ad_node_context(const ad_node *h)
{
    node_ref r;
    if (!node_ref_of(h, "node_context", &r)) return NULL;
    return r.rec ? r.ctx : r.n->ctx;
}

int ad_node_input_count(const ad_node *h)
{
    const ad_node *n = node_or_fail(h, "node_input_count");
    return n ? n->n_in : 0;
}

ad_node *ad_node_input(const ad_node *h, int slot)
{
    const ad_node *n = node_or_fail(h, "node_input");
    if (!n) return NULL;
    if (slot < 0 || slot >= n->n_in) {
        ad_fail(AD_ERR_ARG, "node_input: node #%u (%s) has %d recorded inputs, slot %d asked", n->id,
                ad_node_op_name(n), n->n_in, slot);
        return NULL;
    }
    return ad_handle_of(n->in[slot]);
}

const ad_op *ad_node_op(const ad_node *h)
{
    node_ref r;
    if (!node_ref_of(h, "node_op", &r)) return NULL;
    if (r.rec) return r.rec->op ? r.ctx->scalar_ops[r.rec->op - 1] : NULL;
    return r.n->op;
}

const ad_params *ad_node_params(const ad_node *h)
{
    const ad_node *n = node_or_fail(h, "node_params");
    return n ? n->params : NULL;
}

const char *ad_node_name(const ad_node *h)
{
    const ad_node *n = node_or_fail(h, "node_name");
    return n ? n->name : NULL;
}

bool ad_node_is_leaf(const ad_node *h)
{
    node_ref r;
    if (!node_ref_of(h, "node_is_leaf", &r)) return false;
    return r.rec ? (r.rec->flags & REC_LEAF) != 0 : (r.n->flags & AD_NODE_LEAF) != 0;
}

const char *ad_node_op_name(const ad_node *h)
{
    if (!h) return "null";
    node_ref r;
    if (((uintptr_t)h & 1) && node_ref_of(h, "node_op_name", &r) && r.rec) return op_name_at(r.ctx, r.id);
    const ad_node *n = node_resolve(h, "node_op_name");
    if (!n) return "dropped";
    if (n->op) return n->op->name;
    if (n->flags & AD_NODE_LEAF) return (n->flags & AD_NODE_REQUIRES_GRAD) ? "variable" : "constant";
    return "constant";   /* an op result computed without recording */
}

/* ---- finite checks ---- */
bool ad_buffer_finite(const void *data, ad_dtype dt, int64_t n, int64_t *bad)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(buffer_get(data, dt, i))) {
            if (bad) *bad = i;
            return false;
        }
    return true;
}

int ad_values_finite(const ad_tensor *t, const void *data, int64_t *bad, double *bad_value)
{
    int64_t where = 0;
    bool ok;
    if (t->device == AD_CUDA) {
        /* Look at a host copy: only check-finite mode pays for it. */
        ad_tensor view = *t;
        view.data = (void *)data;
        view.owns_data = 0;
        ad_tensor *host = ad_tensor_new((ad_dtype)t->dtype, t->ndim, t->shape);
        if (!host) return AD_FINITE_UNKNOWN;
        if (ad_gpu_tensor_copy(host, &view) != AD_OK) {
            ad_tensor_free(host);
            return AD_FINITE_UNKNOWN;
        }
        ok = ad_buffer_finite(host->data, (ad_dtype)host->dtype, host->size, &where);
        if (!ok && bad_value) *bad_value = ad_tensor_get(host, where);
        ad_tensor_free(host);
    } else {
        ok = ad_buffer_finite(data, (ad_dtype)t->dtype, t->size, &where);
        if (!ok && bad_value) *bad_value = buffer_get(data, (ad_dtype)t->dtype, where);
    }
    if (!ok && bad) *bad = where;
    return ok ? AD_FINITE : AD_NOT_FINITE;
}

ad_node *ad_find_nonfinite(ad_context *ctx)
{
    if (ad_check_context(ctx, "find_nonfinite") != AD_OK) return NULL;
    materialize_all(ctx);
    for (uint32_t id = 0; id < ctx->n_nodes; id++) {
        ad_node *n = node_at(ctx, id);
        int f = ad_values_finite(&n->value, n->value.data, NULL, NULL);
        if (f == AD_FINITE_UNKNOWN) return NULL;   /* the copy's error is set */
        if (f == AD_FINITE) continue;
        bool inputs_finite = true;
        for (int s = 0; s < n->n_in && inputs_finite; s++) {
            f = ad_values_finite(&n->in[s]->value, n->in[s]->value.data, NULL, NULL);
            if (f == AD_FINITE_UNKNOWN) return NULL;
            inputs_finite = f == AD_FINITE;
        }
        if (inputs_finite) return ad_handle_of(n);
    }
    return NULL;
}

/* ---- applying an op ---- */
static ad_status report_nonfinite(const ad_node *out, int64_t bad, double bad_value, int from)
{
    char sh[64], ix[64], src[160] = " from finite inputs";
    if (from >= 0) {
        const ad_node *in = out->in[from];
        snprintf(src, sizeof src, ", passing on the non-finite values of its input %d (node #%u %s%s%s)", from, in->id,
                 ad_node_op_name(in), in->name ? " " : "", in->name ? in->name : "");
    }
    return ad_fail(AD_ERR_NONFINITE, "%s: produced %g at %s of its output %s (node #%u%s%s)%s%s", out->op->name,
                   bad_value, ad_index_str(&out->value, bad, ix, sizeof ix), ad_shape_str(&out->value, sh, sizeof sh),
                   out->id, out->name ? " " : "", out->name ? out->name : "", src,
                   out->value.device == AD_CUDA ? " (on the GPU)" : "");
}

/* apply_scalar's view of an input: its full node (NULL for a compact one),
 * its id and its value. */
typedef struct scalar_arg {
    ad_node *full;
    uint32_t id;
    double v;
} scalar_arg;
/* beside the node flags in apply_scalar's all/any: a compact input; a full
 * input 0 or 1 (shifted down, REC_IN0_FULL and REC_IN1_FULL) */
enum { ARG_COMPACT = 1u << 8, ARG_FULL0 = REC_IN0_FULL << 5, ARG_FULL1 = REC_IN1_FULL << 5 };

/* off / sizeof(ad_node) for an offset within a chunk (below 2^40), by a
 * multiply: GCC emits a 64-bit div (about 40 cycles) for the division here. */
static inline uint32_t node_index_at(uintptr_t off)
{
#ifdef __SIZEOF_INT128__
    const uint64_t recip = UINT64_MAX / sizeof(ad_node) + 1;   /* exact for off < 2^40: the error is below 2^-24 */
    return (uint32_t)(((unsigned __int128)off * recip) >> 64);
#else
    return (uint32_t)(off / sizeof(ad_node));
#endif
}
static inline size_t chunk_node_bytes(int k) { return ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node); }
static inline uint32_t chunk_first_id(int k) { return (uint32_t)NODE_CHUNK0 * ((1u << k) - 1u); }

/* The node behind handle h if it is one of ctx's, live; its flags (with
 * ARG_COMPACT for a compact one) and-ed into *all and or-ed into *any.
 * false otherwise. Which chunk: the last one found (ctx->chunk_hint), then
 * the newest, then the others. */
static inline __attribute__((always_inline)) bool scalar_input(ad_context *ctx, const ad_node *h, scalar_arg *a,
                                                               unsigned *all, unsigned *any, unsigned full_bit)
{
    ad_node *x = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    if ((uintptr_t)h & 1) {   /* a compact node's record: the newest first */
        const scalar_rec *r = (const scalar_rec *)x;
        uintptr_t off = (uintptr_t)r - (uintptr_t)ctx->compact_ready_rec;   /* wraps when below */
        bool inside;
        if (off < ctx->compact_ready_bytes && off % sizeof(scalar_rec) == 0) {
            a->id = ctx->compact_ready_lo + (uint32_t)(off / sizeof(scalar_rec));
        } else if (!rec_in_chunk(ctx, r, ctx->rec_hint, &a->id, &inside)) {   /* the chunk of the last one */
            /* then the others, by a loop of its own: calling rec_locate here
             * made every op 1 ns slower (GCC laid the hot path out worse) */
            if (inside) return false;
            int k = ctx->n_node_chunks - 1;
            while (k >= 0 && !(rec_in_chunk(ctx, r, k, &a->id, &inside), inside)) k--;
            if (k < 0 || !rec_in_chunk(ctx, r, k, &a->id, &inside)) return false;
            ctx->rec_hint = k;
        }
        if (a->id >= ctx->n_nodes) return false;
        if (r->gen) {
            if (tag != 0 && tag != r->gen) return false;   /* dropped: the general path says so */
            bool f32 = (r->flags & REC_F32) != 0;
            unsigned f = ARG_COMPACT | AD_NODE_SCALAR | (f32 ? AD_NODE_F32 : 0) |
                         (rec_wants_grad(r) ? AD_NODE_REQUIRES_GRAD : 0);
            *all &= f;
            *any |= f;
            a->full = NULL;
            a->v = f32 ? (double)r->value.f32 : r->value.f64;
            return true;
        }
        x = node_at(ctx, a->id);   /* materialized since: its full node */
    } else {
        if (!x) return false;
        int k = ctx->chunk_hint;
        uintptr_t off = (uintptr_t)x - (uintptr_t)ctx->node_chunk[k];   /* wraps when below: one compare */
        if (__builtin_expect(off >= chunk_node_bytes(k), 0)) {
            for (k = ctx->n_node_chunks - 1; k >= 0; k--) {
                off = (uintptr_t)x - (uintptr_t)ctx->node_chunk[k];
                if (off < chunk_node_bytes(k)) break;
            }
            if (k < 0) return false;
            ctx->chunk_hint = k;
        }
        uint32_t q = node_index_at(off);
        if ((uintptr_t)q * sizeof(ad_node) != off) return false;
        a->id = chunk_first_id(k) + q;
        if (a->id >= ctx->n_nodes) return false;
    }
    if (tag != 0 && tag != x->gen) return false;
    *all &= x->flags;
    *any |= x->flags | full_bit;
    a->full = x;
    a->v = scalar_value(x);   /* (meaningless unless AD_NODE_SCALAR, which the caller checks) */
    return true;
}

/* Can op make compact nodes: an elementwise op without params, with scalar
 * kernels, its forward and infer, on one or two CPU inputs? */
static bool op_compact_capable(const ad_op *op)
{
    return (op->flags & (AD_OP_ELEMENTWISE | AD_OP_PARAMS | AD_OP_TO_CUDA | AD_OP_TO_CPU)) == AD_OP_ELEMENTWISE &&
           op->scalar && op->infer && op->cpu.forward && op->n_in_min >= 1 && op->n_in_min <= 2;
}
/* op's number among the context's scalar ops (1...) if it can make compact
 * nodes with n_in inputs, else 0: a cache by address (an op is checked once
 * per context), then the list. */
static __attribute__((noinline)) int scalar_op_index_slow(ad_context *ctx, const ad_op *op, unsigned slot, int n_in)
{
    if (!op_compact_capable(op)) return 0;
    int i = 0;
    while (i < ctx->n_scalar_ops && ctx->scalar_ops[i] != op) i++;
    if (i == ctx->n_scalar_ops) {
        if (i == MAX_SCALAR_OPS) return 0;
        ctx->scalar_ops[ctx->n_scalar_ops++] = op;
    }
    ctx->scalar_op_cache[slot].op = op;
    ctx->scalar_op_cache[slot].index = (uint8_t)(i + 1);
    ctx->scalar_op_cache[slot].n_in_min = (uint8_t)op->n_in_min;
    ctx->scalar_op_cache[slot].n_in_max = (uint8_t)(op->n_in < 2 ? op->n_in : 2);
    return n_in >= op->n_in_min && n_in <= ctx->scalar_op_cache[slot].n_in_max ? i + 1 : 0;
}
static inline int scalar_op_index(ad_context *ctx, const ad_op *op, int n_in)
{
    unsigned slot = (unsigned)((uintptr_t)op >> 6) % SCALAR_OP_CACHE;   /* (ops are over 64 bytes apart) */
    if (ctx->scalar_op_cache[slot].op == op)
        return n_in >= ctx->scalar_op_cache[slot].n_in_min && n_in <= ctx->scalar_op_cache[slot].n_in_max
                   ? ctx->scalar_op_cache[slot].index
                   : 0;
    return scalar_op_index_slow(ctx, op, slot, n_in);
}

/* The slow path of making a compact node: node `id`'s chunk and its record
 * chunk allocated (not populated: a record is written where it is made, and
 * the node memory only if it is materialized), the ready range set. false
 * (the general path then makes a full node, or says why it cannot). */
static __attribute__((noinline)) bool compact_prepare(ad_context *ctx, uint32_t id)
{
    if (id == UINT32_MAX) return false;
    uint32_t off, k = node_chunk_index(id, &off);
    if (node_chunk_ensure(ctx, k, id, "apply") != AD_OK) return false;
    if (!ctx->rec_chunk[k]) {
        size_t bytes = ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
        scalar_rec *c;
        if (bytes < NODE_MAP_MIN) {
            c = calloc(1, bytes);
        } else {
            c = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (c == MAP_FAILED) c = NULL;
            else ctx->rec_map_len[k] = bytes;
        }
        if (!c) return false;
        ctx->rec_chunk[k] = c;
    }
    /* An mmap'd record chunk is populated a window at a time just ahead of
     * the records made (MADV_POPULATE_WRITE: one call, not a fault a page;
     * refused by kernels before 5.14, when the pages fault in one by one). */
    uint32_t cap = (uint32_t)NODE_CHUNK0 << k, hi = cap;
    if (ctx->rec_map_len[k]) {
        size_t need = ((size_t)off + 1) * sizeof(scalar_rec), done = ctx->rec_populated[k];
        if (done < need) {
            /* from the window that holds the record: the ids before it may be
             * full nodes' (bench_scalar's leaves fill most of the chunk its
             * first compact node is made in), whose records stay unwritten */
            size_t from = (need - sizeof(scalar_rec)) & ~(size_t)(REC_POPULATE - 1);
            if (from < done) from = done;
            size_t end = (from + REC_POPULATE) & ~(size_t)(REC_POPULATE - 1);
            if (end > ctx->rec_map_len[k]) end = ctx->rec_map_len[k];
            madvise((char *)ctx->rec_chunk[k] + from, end - from, MADV_POPULATE_WRITE);
            ctx->rec_populated[k] = done = end;
        }
        hi = (uint32_t)(done / sizeof(scalar_rec));
    }
    ctx->compact_ready_lo = chunk_first_id((int)k);
    ctx->compact_ready_hi = ctx->compact_ready_lo + hi;
    ctx->compact_ready_bytes = (size_t)hi * sizeof(scalar_rec);
    /* what the fast path then need not do per node: the bounds that
     * compact_rec and materialization go by, and (after a rewind past full
     * nodes) stale node memory from here on, whose gen would match an old
     * handle, cleared */
    if (ctx->rec_hi < ctx->compact_ready_hi) ctx->rec_hi = ctx->compact_ready_hi;
    if (ctx->compact_lo > id) ctx->compact_lo = id;
    for (uint32_t j = id; j < ctx->node_written_hi; j++) node_at(ctx, j)->gen = 0;
    if (ctx->node_written_hi > id) ctx->node_written_hi = id;
    ctx->compact_ready_rec = ctx->rec_chunk[k];
    return true;
}

/* The record of the next node, made ready (compact_prepare); NULL where
 * none can be (the caller makes a full node instead). */
static inline __attribute__((always_inline)) scalar_rec *compact_next(ad_context *ctx)
{
    uint32_t id = ctx->n_nodes;
    if ((id < ctx->compact_ready_lo || id >= ctx->compact_ready_hi) && !compact_prepare(ctx, id)) return NULL;
    return ctx->compact_ready_rec + (id - ctx->compact_ready_lo);
}

/* ad_scalar and ad_scalar_const: a compact leaf (float64, on the CPU), in a
 * live context that is not checking finiteness and not in forward mode;
 * NULL otherwise (the caller makes a full one). A variable's grad is there
 * from the start, 0, and lives as long as it (as a full variable's). */
static ad_node *scalar_leaf(ad_context *ctx, double v, bool variable)
{
    if (!ctx->fast || ctx->check_finite || ctx->dirs > 0) return NULL;
    scalar_rec *r = compact_next(ctx);
    if (!r) return NULL;
    r->mark = 0;
    r->flags = (uint8_t)(REC_LEAF | (variable ? REC_VARIABLE | REC_HAS_GRAD : 0));
    r->op = 0;
    r->gen = ctx->gen;
    r->in[0] = r->in[1] = 0;
    r->value.f64 = v;
    r->grad.f64 = 0;
    ctx->n_nodes++;
    return compact_handle(r, r->gen);
}

/* The scalar path: an elementwise op without params on 0-d CPU inputs of one
 * dtype, in a context that is live (the thread's cached one), not checking
 * finiteness and not in forward mode. An op with scalar kernels on one or
 * two inputs makes a compact node (a 32-byte record: scalar_rec); any other
 * makes the full node ad_apply's general path would make. Only the checks
 * that can fail here are made, and only the inputs' first 64 bytes (flags and
 * inline values) or records are read. Anything else (an error to report
 * included, and a compact input to a full node, which the general path
 * materializes) returns false and takes the general path. Sets *out, a
 * handle (NULL if the op's forward failed), when it returns true. */
static bool apply_scalar(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in, ad_node **out)
{
    if (ctx != cached_ctx || atomic_load_explicit(&free_generation, memory_order_acquire) != cached_generation ||
        !ctx->fast || ctx->check_finite || ctx->dirs > 0 || !in)
        return false;
    int op_index = scalar_op_index(ctx, op, n_in);   /* > 0: the op (checked) makes compact nodes */
    unsigned kind = op->flags & (AD_OP_ELEMENTWISE | AD_OP_PARAMS | AD_OP_TO_CUDA | AD_OP_TO_CPU);
    if (!op_index && (kind != AD_OP_ELEMENTWISE || n_in < op->n_in_min || n_in > op->n_in || n_in < 1 ||
                      n_in > AD_MAX_INPUTS || !op->infer || !op->cpu.forward))
        return false;
    unsigned all = ~0u, any = 0;
    /* in three variables and not an array: the array's two 8-byte stores read
     * back as one 16-byte load (to copy them into the node) cannot be
     * forwarded, which cost 3 ns an op */
    scalar_arg a0, a1 = {NULL, 0, 0}, a2 = {NULL, 0, 0};
    if (!scalar_input(ctx, in[0], &a0, &all, &any, ARG_FULL0) ||
        (n_in > 1 && !scalar_input(ctx, in[1], &a1, &all, &any, ARG_FULL1)) ||
        (n_in > 2 && !scalar_input(ctx, in[2], &a2, &all, &any, 0)))
        return false;
    /* every input 0-d on the CPU, and float32 all of them or none */
    if (!(all & AD_NODE_SCALAR) || ((all ^ any) & AD_NODE_F32)) return false;
    bool recording = ctx->grad_enabled && (any & AD_NODE_REQUIRES_GRAD);
    bool f32 = (any & AD_NODE_F32) != 0;
    if (op_index > 0) {   /* a compact node */
        scalar_rec *r = compact_next(ctx);
        if (!r) return false;
        double y = op->scalar->f(a0.v, n_in > 1 ? a1.v : 0);   /* rounded to the dtype as the op's forward does */
        r->mark = 0;
        r->flags = (uint8_t)((f32 ? REC_F32 : 0) | (recording ? n_in << REC_N_IN_SHIFT : 0) |
                             ((any >> 5) & (REC_IN0_FULL | REC_IN1_FULL)));
        r->op = recording ? (uint8_t)op_index : 0;
        r->gen = ctx->gen;
        r->in[0] = recording ? a0.id : 0;
        r->in[1] = recording ? a1.id : 0;
        if (f32) {
            r->value.f64 = 0;
            r->value.f32 = (float)y;
        } else {
            r->value.f64 = y;
        }
        r->grad.f64 = 0;
        ctx->n_nodes++;
        *out = compact_handle(r, r->gen);
        return true;
    }
    if (any & ARG_COMPACT) return false;   /* a full node's inputs are full nodes: the general path writes them */
    ad_node *o = node_new(ctx, op->name ? op->name : "apply");
    if (!o) {
        *out = NULL;
        return true;
    }
    o->value.dtype = f32 ? AD_FLOAT32 : AD_FLOAT64;
    o->value.size = 1;
    o->value.data = &o->inline_value;
    o->op = op;
    o->n_in = (uint8_t)n_in;
    /* all three, unused ones NULL (a loop to n_in compiled to a `rep movsb`) */
    o->in[0] = a0.full;
    o->in[1] = a1.full;
    o->in[2] = a2.full;
    o->flags = AD_NODE_SCALAR | (f32 ? AD_NODE_F32 : 0) | (recording ? AD_NODE_RECORDING | AD_NODE_REQUIRES_GRAD : 0);
    if (op->scalar && n_in <= 2) {   /* rounded to the dtype as the op's forward does */
        double y = op->scalar->f(a0.v, n_in > 1 ? a1.v : 0);
        if (f32) o->inline_value.f32 = (float)y;
        else o->inline_value.f64 = y;
    } else if (op->cpu.forward(o) != AD_OK) {
        drop_half_made(ctx, o->id, ctx->n_dev);
        *out = NULL;
        return true;
    }
    if (!recording) {   /* as in the general path: a plain constant */
        o->op = NULL;
        o->n_in = 0;
        for (int s = 0; s < AD_MAX_INPUTS; s++) o->in[s] = NULL;
        o->saved = NULL;
    }
    *out = ad_handle_of(o);
    return true;
}

/* Every other call (noinline: the scalar path does not pay for its frame). */
static __attribute__((noinline)) ad_node *apply_general(ad_context *ctx, const ad_op *op, ad_node *const *handles,
                                                        int n_in, const ad_params *params)
{
    const char *who = op && op->name ? op->name : "apply";
    if (!op) {
        ad_fail(AD_ERR_ARG, "apply: op is NULL");
        return NULL;
    }
    if (ad_check_context(ctx, who) != AD_OK) return NULL;
    if (n_in < op->n_in_min || n_in > op->n_in || n_in > AD_MAX_INPUTS) {
        ad_fail(AD_ERR_ARG, "%s: takes %d to %d inputs, %d given", who, op->n_in_min, op->n_in, n_in);
        return NULL;
    }
    bool any_grad = false, any_tangent = false, all_0d = n_in > 0;
    ad_device device = AD_CPU;
    ad_node *in[AD_MAX_INPUTS];   /* the nodes behind the handles */
    for (int s = 0; s < n_in; s++) {
        if (!handles || !handles[s]) {
            /* Keep the error that made the NULL, if there is one. */
            if (ad_last_status() == AD_OK) ad_fail(AD_ERR_ARG, "%s: input %d is NULL", who, s);
            return NULL;
        }
        if (!(in[s] = own_node(ctx, handles[s]))) {
            char input[32];
            snprintf(input, sizeof input, "input %d", s);
            ad_not_own_node(ctx, handles[s], AD_ERR_STATE, who, input);
            return NULL;
        }
        if (s > 0 && in[s]->value.device != in[0]->value.device) {
            ad_fail(AD_ERR_DEVICE, "%s: input %d is on the %s, input 0 on the %s", who, s,
                    in[s]->value.device == AD_CUDA ? "GPU" : "CPU", in[0]->value.device == AD_CUDA ? "GPU" : "CPU");
            return NULL;
        }
        any_grad = any_grad || (in[s]->flags & AD_NODE_REQUIRES_GRAD);
        any_tangent = any_tangent || in[s]->tangent;
        device = (ad_device)in[s]->value.device;
        all_0d = all_0d && in[s]->value.ndim == 0 && in[s]->value.dtype == in[0]->value.dtype;
    }
    /* The output lives where the inputs do, except for the two copy ops. */
    ad_device out_dev = (op->flags & AD_OP_TO_CUDA) ? AD_CUDA : (op->flags & AD_OP_TO_CPU) ? AD_CPU : device;
    const ad_op_kernels *kern = out_dev == AD_CUDA ? op->cuda : &op->cpu;
    if (out_dev == AD_CUDA && !kern) {
        ad_fail(AD_ERR_DEVICE, "%s: no CUDA kernel for this op", who);
        return NULL;
    }
    if (!op->infer || !kern->forward) {
        ad_fail(AD_ERR_ARG, "%s: the op has no shape rule or no forward", who);
        return NULL;
    }
    int ndim = 0;
    int64_t shape[AD_MAX_DIMS] = {1, 1, 1, 1};
    ad_dtype dt = AD_FLOAT64;
    int64_t size = 1;
    /* The scalar path: an elementwise op on 0-d inputs of one dtype makes a
     * 0-d output of that dtype (AD_OP_ELEMENTWISE's contract), so its shape
     * rule has nothing to say; ops with params keep theirs (it checks them). */
    bool scalar = all_0d && (op->flags & AD_OP_ELEMENTWISE) && !(op->flags & AD_OP_PARAMS) && out_dev == device;
    if (scalar) {
        dt = (ad_dtype)in[0]->value.dtype;
    } else {
        if (op->infer(in, n_in, params, &ndim, shape, &dt) != AD_OK) return NULL;
        if (ad_shape_check(who, ndim, shape, &size) != AD_OK) return NULL;
    }

    uint32_t first_free = ctx->n_nodes, first_dev = ctx->n_dev;
    ad_node *out = node_new(ctx, who);
    if (!out) return NULL;
    bool recording = ctx->grad_enabled && any_grad;
    out->op = op;
    out->n_in = (uint8_t)n_in;
    for (int s = 0; s < n_in; s++) out->in[s] = in[s];
    out->flags = recording ? (AD_NODE_RECORDING | AD_NODE_REQUIRES_GRAD) : 0;
    if (params) {
        ad_params *p = ad_arena_alloc(ctx, sizeof *p);
        if (!p) goto fail;
        *p = *params;
        out->params = p;
    }
    if (node_set_value(out, dt, ndim, shape, size, out_dev) != AD_OK) goto fail;
    if (kern->forward(out) != AD_OK) goto fail;
    if (ctx->check_finite) {
        /* The first op whose output is not finite fails: it either made the
         * NaN/Inf from finite inputs, or passed on one of its inputs' (a leaf
         * holding NaN, say): NaN propagates, so the first op to carry it is
         * where to look. */
        int64_t bad;
        double bad_value;
        int f = ad_values_finite(&out->value, out->value.data, &bad, &bad_value);
        if (f == AD_FINITE_UNKNOWN) goto fail;   /* the copy from the GPU failed: its error is the op's */
        if (f == AD_NOT_FINITE) {
            int from = -1;
            for (int s = 0; s < n_in && from < 0; s++)
                if (ad_values_finite(&in[s]->value, in[s]->value.data, NULL, NULL) != AD_FINITE) from = s;
            report_nonfinite(out, bad, bad_value, from);
            goto fail;
        }
    }
    if (any_tangent && ctx->dirs > 0) {
        if (!kern->jvp) {
            ad_fail(AD_ERR_ARG, "%s: the op has no jvp, so forward mode cannot pass through it", who);
            goto fail;
        }
        size_t tbytes = (size_t)ctx->dirs * (size_t)size * ad_dtype_size(dt);
        out->tangent = out_dev == AD_CUDA ? ad_device_alloc(ctx, tbytes, true) : ad_arena_alloc(ctx, tbytes);
        if (!out->tangent) goto fail;
        kern->jvp(out, ctx->dirs);
        /* jvp returns nothing: a GPU kernel leaves its error with the gpu module. */
        if ((device == AD_CUDA || out_dev == AD_CUDA) && ad_gpu_take_error() != AD_OK) goto fail;
    }
    if (!recording) {
        /* Nothing kept for backward: the result is a plain constant. */
        out->op = NULL;
        out->n_in = 0;
        memset(out->in, 0, sizeof out->in);
        out->saved = NULL;
    }
    return out;
fail:
    drop_half_made(ctx, first_free, first_dev);
    return NULL;
}

ad_node *ad_apply(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in, const ad_params *params)
{
    ad_node *fast;
    if (op && !params && apply_scalar(ctx, op, in, n_in, &fast)) return fast;
    return ad_handle_of(apply_general(ctx, op, in, n_in, params));
}

ad_node *ad_resolve(const ad_node *h, const char *who) { return node_resolve(h, who); }
