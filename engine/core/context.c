/* context.c: contexts: making and freeing them (the set of live ones: live.c), their
 * settings (grad mode, the fast path, finite checks), the data arena, the
 * GPU memory they own, and marks and rewinds. Nodes: nodes.c; reading them:
 * access.c; making an op's node: apply.c. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ad_device.h"
#include "ad_internal.h"
#include "ad_op.h"

/* ---- generations ----
 * The generation a node takes when made, carried in its handles (ad_kernel.h).
 * One counter for the whole process, not one per context: a rewind that drops
 * nodes moves its context to the next generation, and a new context starts
 * at the next one too, so a handle kept from a freed context does not match
 * the node of a new context that lands at the same address (as it would if
 * every context counted from 1). 1..65535: a tag of 0 is an untagged address. */
static uint16_t next_generation(void)
{
    static atomic_uint counter;
    unsigned g;
    do g = (atomic_fetch_add(&counter, 1) + 1) & 0xFFFFu;
    while (g == 0);
    return (uint16_t)g;
}

/* ---- contexts ---- */

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
    /* the fast path's state follows the context (ad_fast_seam.h) */
    size_t bytes = AD_FAST_STATE_OFFSET + ad_fast_state_size();
    ad_context *ctx = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (ctx) memset(ctx, 0, bytes);
    if (!ctx || !ad_live_add(ctx)) {
        free(ctx);
        ad_fail(AD_ERR_NOMEM, "context_new: out of memory");
        return NULL;
    }
    static atomic_uint_fast64_t serials;
    ctx->serial = atomic_fetch_add(&serials, 1) + 1;   /* 0 is no context's */
    ctx->grad_enabled = true;
    ctx->fast = fast_path_default();
    ctx->gen = next_generation();
    ctx->compact_lo = UINT32_MAX;
    return ctx;
}

void ad_context_free(ad_context *ctx)
{
    if (!ctx || !ad_context_alive(ctx)) return;   /* double free is harmless */
    ad_live_remove(ctx);
    for (uint32_t i = 0; i < ctx->n_dev; i++) ad_gpu_free(ctx->dev_ptrs[i]);
    free(ctx->dev_ptrs);
    free(ctx->marks);
    for (int k = 0; k < ctx->n_node_chunks; k++) ad_node_chunk_free(ctx, k);
    ad_fast_free(ctx);
    for (uint32_t i = 0; i < ctx->n_chunks; i++) {
        if (ctx->guards_used && ctx->chunks[i].base) ad_guard_unpoison(ctx->chunks[i].base, ctx->chunks[i].cap);
        free(ctx->chunks[i].base);
    }
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
    for (int k = 0; k < ctx->n_node_chunks; k++) b += ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
    b += ad_fast_bytes(ctx);
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

/* `bytes` (a multiple of ARENA_ALIGN) of the arena, zeroed. */
static void *arena_take(ad_context *ctx, size_t bytes)
{
    if (ctx->n_chunks > 0 && ctx->cur_off + bytes <= ctx->chunks[ctx->cur_chunk].cap) {
        void *p = ctx->chunks[ctx->cur_chunk].base + ctx->cur_off;
        ctx->cur_off += bytes;
        if (ctx->guards_used) ad_guard_unpoison(p, bytes);   /* (it may have held a zone before a rewind) */
        memset(p, 0, bytes);
        return p;
    }
    /* Move to the next chunk: reuse it if it is big enough (after a rewind),
     * else replace it with a bigger one. */
    uint32_t next = ctx->n_chunks == 0 ? 0 : ctx->cur_chunk + 1;
    size_t prev_cap = ctx->n_chunks ? ctx->chunks[ctx->cur_chunk].cap : 0;
    if (next < ctx->n_chunks && ctx->chunks[next].cap < bytes) {
        if (ctx->guards_used) ad_guard_unpoison(ctx->chunks[next].base, ctx->chunks[next].cap);
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
    if (ctx->guards_used) ad_guard_unpoison(ctx->chunks[next].base, bytes);
    memset(ctx->chunks[next].base, 0, bytes);
    return ctx->chunks[next].base;
oom:
    ad_fail(AD_ERR_NOMEM, "out of memory: the context needs %zu more bytes", bytes);
    return NULL;
}

void *ad_arena_alloc(ad_context *ctx, size_t bytes)
{
    if (__builtin_expect(ctx->guards, 0)) {   /* zone, buffer, zone (guard.c) */
        char *base = arena_take(ctx, AD_GUARD_BYTES + ad_guard_span(bytes) + AD_GUARD_BYTES);
        if (!base) return NULL;
        ad_guard_arm(base + AD_GUARD_BYTES, bytes);
        return base + AD_GUARD_BYTES;
    }
    bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    return arena_take(ctx, bytes ? bytes : ARENA_ALIGN);
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
    if (m.nodes < ctx->n_nodes) ctx->gen = next_generation();
    ctx->n_nodes = m.nodes;
    if (ctx->leaf_run_hi > m.nodes) {   /* the run of leaves keeps what is left of it */
        ctx->leaf_run_hi = m.nodes;
        if (ctx->leaf_run_lo > m.nodes) ctx->leaf_run_lo = m.nodes;
    }
    ctx->cur_chunk = m.chunk;
    ctx->cur_off = m.offset;
    while (ctx->n_dev > m.device_allocs) ad_gpu_free(ctx->dev_ptrs[--ctx->n_dev]);
    /* Anything made after the mark is gone: drop pointers into it. (A GPU
     * node's grad is never inline, whatever its size.) */
    ad_fast_rewound(ctx);
    for (uint32_t id = 0; id < ctx->n_nodes; id++) {
        if (node_is_record(ctx, id)) continue;   /* no tangent, its grad inline */
        ad_node *n = node_at(ctx, id);
        n->tangent = NULL;
        if (!(n->flags & AD_NODE_LEAF) && (n->value.size > 1 || n->value.device == AD_CUDA)) n->grad = NULL;
    }
    return AD_OK;
}
