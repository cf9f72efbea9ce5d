/* ad_context.h: what a context is made of (struct ad_context), how node id
 * maps to node memory, and the set of live contexts. The core's files read it
 * through ad_internal.h. Not installed. */
#ifndef AD_CONTEXT_H
#define AD_CONTEXT_H

#include <stdatomic.h>
#include "ad_fast_seam.h"
#include "ad_kernel.h"

/* Node chunks grow geometrically: chunk k holds NODE_CHUNK0 << k nodes, so
 * 22 chunks hold 2^32 nodes and id -> node is a few bit operations. Nodes
 * never move, so pointers to them stay valid until the context is freed. */
enum { NODE_CHUNK0_LOG2 = 10, NODE_CHUNK0 = 1 << NODE_CHUNK0_LOG2, MAX_NODE_CHUNKS = 22 };

typedef struct data_chunk {
    char *base;
    size_t cap;
} data_chunk;

struct ad_context {
    ad_node *node_chunk[MAX_NODE_CHUNKS];
    int n_node_chunks;
    uint32_t n_nodes;
    /* node_new's fast path: ids ready_lo <= id < ready_hi are ready_chunk[id -
     * ready_lo], memory that is allocated and populated. Empty after a rewind. */
    uint32_t ready_lo, ready_hi;
    ad_node *ready_chunk;

    /* The fast path's records (ad_fast_seam.h; its own state follows the
     * context): the three bounds the core needs of them. */
    uint32_t compact_lo;      /* every node below this id is a full one */
    uint32_t rec_hi;          /* no id at or above this has a record (ever made ready) */
    uint32_t node_written_hi; /* node memory at or above this id holds no gen (never written, or cleared) */

    /* Bump allocator for tensor data, grads, tangents, params, saved data. */
    data_chunk *chunks;
    uint32_t n_chunks, cap_chunks;
    uint32_t cur_chunk;
    size_t cur_off;

    /* GPU memory of nodes on AD_CUDA (values, grads, tangents), in the order
     * it was taken, so a rewind gives back what came after its mark. */
    void **dev_ptrs;
    uint32_t n_dev, cap_dev;

    /* Marks that can still be rewound to, oldest first (positions and seqs
     * increase): a rewind to one drops every later one. */
    uint64_t serial;          /* this context's number, never reused */
    ad_mark *marks;
    uint32_t n_marks, cap_marks;
    uint64_t next_seq;

    /* Handles (ad_kernel.h): the generation a node made now takes
     * (1..65535, never 0: a tag of 0 is an untagged address), taken from one
     * counter for the whole process when the context is made and by every
     * rewind that drops nodes (context.c: next_generation). */
    uint16_t gen;
    bool grad_enabled;
    bool check_finite;
    bool fast;                /* the scalar path on (ad_set_fast_path; AD_FAST=0 in the environment: off) */
    bool guards;              /* guard zones around each arena buffer (ad_set_guard_zones; guard.c) */
    bool guards_used;         /* they were on once: arena memory may be poisoned (ASan) where reused */
    int dirs;                 /* forward-mode directions k (0: off) */
    /* The newest run of leaves: ids leaf_run_lo <= id < leaf_run_hi are all
     * leaves (leaf_made). While it ends at n_nodes, ad_set_tangent on one of
     * them knows no op uses it yet, without looking at the nodes after it. */
    uint32_t leaf_run_lo, leaf_run_hi;
    uint32_t epoch;           /* backward pass counter, for node marks */
};
/* Where the fast path's state starts in a context's allocation (ad_fast_seam.h). */
#define AD_FAST_STATE_OFFSET ((sizeof(struct ad_context) + 63) & ~(size_t)63)

static inline uint32_t node_chunk_index(uint32_t id, uint32_t *offset)
{
    uint32_t j = (id >> NODE_CHUNK0_LOG2) + 1;   /* >= 1 */
    uint32_t k = 31u - (uint32_t)__builtin_clz(j);
    *offset = id - (uint32_t)(NODE_CHUNK0 * ((1u << k) - 1u));
    return k;
}

static inline ad_node *node_at(const ad_context *ctx, uint32_t id)
{
    uint32_t off, k = node_chunk_index(id, &off);
    return &ctx->node_chunk[k][off];
}

/* Is n one of ctx's nodes? By address only (n is not read: it may point into
 * a freed context): within chunk k, on a node boundary, below the count. */
static inline bool node_in_chunk(const ad_context *ctx, const ad_node *n, int k, bool *inside)
{
    uintptr_t off = (uintptr_t)n - (uintptr_t)ctx->node_chunk[k];   /* wraps when below: one compare */
    *inside = off < ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
    return *inside && off % sizeof(ad_node) == 0 &&
           (uint32_t)NODE_CHUNK0 * ((1u << k) - 1u) + (uint32_t)(off / sizeof(ad_node)) < ctx->n_nodes;
}

/* The same over every chunk, newest first (where inputs usually are), after
 * the chunk *hint (the last one found, updated; NULL: none). */
static inline bool node_in_context(const ad_context *ctx, const ad_node *n, int *hint)
{
    bool inside;
    if (hint && *hint >= 0 && *hint < ctx->n_node_chunks) {
        bool yes = node_in_chunk(ctx, n, *hint, &inside);
        if (inside) return yes;
    }
    for (int k = ctx->n_node_chunks - 1; k >= 0; k--) {
        bool yes = node_in_chunk(ctx, n, k, &inside);
        if (inside) {
            if (hint) *hint = k;
            return yes;
        }
    }
    return false;
}

/* ---- the live contexts (live.c) ----
 * The thread's cache of the last context found live, valid while no context
 * has been freed since (ad_free_generation unchanged): two loads decide that
 * a context pointer is live on the hot path. initial-exec: the library is
 * linked in, never dlopen'd late, so the cache is read straight off the
 * thread pointer, not through __tls_get_addr. */
#define AD_TLS _Thread_local __attribute__((tls_model("initial-exec")))
extern atomic_uint_fast64_t ad_free_generation;
extern AD_TLS const ad_context *ad_cached_ctx;
extern AD_TLS uint_fast64_t ad_cached_generation;
static inline bool ad_context_is_cached(const ad_context *ctx)
{
    return ctx == ad_cached_ctx &&
           atomic_load_explicit(&ad_free_generation, memory_order_acquire) == ad_cached_generation;
}
/* The live context whose memory holds p (not read) by holds(ctx, p, id),
 * with the id it gives; NULL if none. The thread's cached context first. */
ad_context *ad_live_context_holding(bool (*holds)(const ad_context *, const void *, uint32_t *), const void *p,
                                    uint32_t *id);
/* Add a new context to the live set (false: out of memory); take one out. */
bool ad_live_add(const ad_context *ctx);
void ad_live_remove(const ad_context *ctx);

#endif
