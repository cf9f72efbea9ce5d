/* fast_internal.h: the fast path's own data: compact scalar records, node
 * memory, and the state that keeps them, which lives right after the context in the same
 * allocation (fast_of). The core knows none of this: it calls the fast path
 * through core/ad_fast_seam.h. Not installed. */
#ifndef AD_FAST_INTERNAL_H
#define AD_FAST_INTERNAL_H

#include "ad_internal.h"

/* A compact scalar node: what the scalar path makes for an op with scalar
 * kernels (ad_op.h) on 0-d CPU inputs, and what ad_scalar and
 * ad_scalar_const make. A full node is 168 bytes, and a scalar graph's first
 * forward pass is bound by the fresh memory it writes; this is 32. Records
 * sit in chunks beside the node chunks, record `id` at the node's offset; its
 * handle is the record's address with bit 0 set. The node keeps its id and
 * its place in the node chunk, but that memory is written only when the node
 * is "materialized": when anything other than the scalar path, the push
 * sweep, zero_grad or the scalar accessors asks for it (ad_node_of, the
 * general path of ad_apply, explain...), every compact node up to it is
 * written out as a full node and its record's gen set to 0. */
typedef struct scalar_rec {
    uint32_t mark;          /* as ad_node's */
    uint8_t flags;          /* REC_* */
    uint8_t op;             /* fast->scalar_ops[op - 1]; 0: none (made with nothing to record) */
    uint16_t gen;           /* the generation it was made in; 0: the id's node is a full one */
    uint32_t in[2];         /* its inputs' ids (REC_N_IN of them) */
    ad_scalar_num value, grad;
} scalar_rec;
enum {
    REC_F32 = 1u << 0,       /* float32 (else float64) */
    REC_HAS_GRAD = 1u << 1,  /* grad is set (a full node's grad != NULL) */
    REC_N_IN_SHIFT = 2,      /* 2 bits: the input count */
    REC_IN0_FULL = 1u << 4,  /* input 0 was a full node when this one was made (so it is one still: */
    REC_IN1_FULL = 1u << 5,  /* only a compact node changes kind); the sweep need not read its record */
    REC_LEAF = 1u << 6,      /* made by ad_scalar or ad_scalar_const (no op, no inputs) */
    REC_VARIABLE = 1u << 7,  /* (a leaf) made by ad_scalar: wants a grad, which it has from the start */
};
/* Does a compact node want a grad: an op's result recorded, or a variable? */
static inline bool rec_wants_grad(const scalar_rec *r) { return r->op || (r->flags & REC_VARIABLE); }
static inline int rec_n_in(const scalar_rec *r) { return (r->flags >> REC_N_IN_SHIFT) & 3; }
enum { MAX_SCALAR_OPS = 255, SCALAR_OP_CACHE = 64 };

/* Node memory (node_memory.c). Chunks of NODE_MAP_MIN bytes or more are
 * mmap'd (map/map_len, for munmap), NODE_MAP_ALIGN-aligned, in transparent
 * huge pages, and populated NODE_POPULATE bytes at a time as nodes are made
 * (populated: bytes of the chunk done so far; record chunks REC_POPULATE);
 * smaller ones are calloc'd (map NULL). A context whose huge-page windows are
 * slower than NODE_SLOW_PS_PER_BYTE twice in a row takes 4 KiB pages. */
enum { NODE_MAP_MIN = 2 << 20, NODE_MAP_ALIGN = 2 << 20, NODE_POPULATE = 4 << 20, NODE_SLOW_PS_PER_BYTE = 500,
       REC_POPULATE = 1 << 20 };
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14; older kernels say EINVAL */
#endif
typedef struct node_chunk_mem {
    void *map;
    size_t map_len;
    size_t populated;
} node_chunk_mem;

/* The fast path's state of one context. The core's fields it also goes by:
 * compact_lo, rec_hi and node_written_hi (ad_internal.h). */
typedef struct fast_state {
    node_chunk_mem chunk_mem[MAX_NODE_CHUNKS];
    bool node_small_pages;        /* huge pages were slow here: 4 KiB ones from now on */
    uint32_t node_slow_windows;   /* slow huge-page windows in a row */
    scalar_rec *rec_chunk[MAX_NODE_CHUNKS];   /* NULL until a compact node is made in chunk k */
    size_t rec_map_len[MAX_NODE_CHUNKS];      /* mmap'd length (0: calloc'd) */
    size_t rec_populated[MAX_NODE_CHUNKS];    /* bytes of an mmap'd one populated so far */
    /* ids compact_ready_lo <= id < compact_ready_hi have their node chunk
     * allocated and their records populated. Emptied by a rewind, so that
     * compact_prepare sees the next compact node after one (it clears stale
     * node memory and lowers compact_lo). */
    uint32_t compact_ready_lo, compact_ready_hi;
    scalar_rec *compact_ready_rec;  /* record compact_ready_lo */
    size_t compact_ready_bytes;     /* (hi - lo) records */
    int chunk_hint;           /* the chunk the scalar path's last full input was in */
    int rec_hint;             /* ... and its last compact input that was not among the newest */
    const ad_op *scalar_ops[MAX_SCALAR_OPS];  /* the ops compact nodes refer to */
    int n_scalar_ops;
    /* ops checked for compact nodes: index into scalar_ops, input counts */
    struct { const ad_op *op; uint8_t index, n_in_min, n_in_max; } scalar_op_cache[SCALAR_OP_CACHE];
} fast_state;

/* The state sits AD_FAST_STATE_OFFSET bytes after the context: an address
 * computed at compile time, with no pointer to load on the hot path. */
static inline fast_state *fast_of(const ad_context *ctx)
{
    return (fast_state *)((char *)(uintptr_t)ctx + AD_FAST_STATE_OFFSET);
}

/* Record `id` (its chunk allocated). */
static inline scalar_rec *rec_at(const ad_context *ctx, uint32_t id)
{
    uint32_t off, k = node_chunk_index(id, &off);
    return &fast_of(ctx)->rec_chunk[k][off];
}
/* The compact record of node `id`, NULL if that node is a full one. */
static inline scalar_rec *compact_rec(const ad_context *ctx, uint32_t id)
{
    if (id >= ctx->rec_hi) return NULL;
    uint32_t off, k = node_chunk_index(id, &off);
    scalar_rec *c = fast_of(ctx)->rec_chunk[k];
    return c && c[off].gen ? &c[off] : NULL;
}
static inline const ad_op *rec_op(const ad_context *ctx, const scalar_rec *r)
{
    return r->op ? fast_of(ctx)->scalar_ops[r->op - 1] : NULL;
}
/* Is p the place of one of ctx's records, of any id (p is not read)? Its id
 * in *id (at or past the count for a dropped node). rec_in_chunk looks in
 * chunk k only (*inside: p is in its memory, on a record's start or not);
 * rec_locate in every chunk, newest first. */
static inline bool rec_in_chunk(const ad_context *ctx, const void *p, int k, uint32_t *id, bool *inside)
{
    scalar_rec *chunk = fast_of(ctx)->rec_chunk[k];
    uintptr_t off = (uintptr_t)p - (uintptr_t)chunk;   /* wraps when below: one compare */
    *inside = chunk && off < ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
    *id = (uint32_t)NODE_CHUNK0 * ((1u << k) - 1u) + (uint32_t)(off / sizeof(scalar_rec));
    return *inside && off % sizeof(scalar_rec) == 0;
}
static inline bool rec_locate(const ad_context *ctx, const void *p, uint32_t *id)
{
    bool inside;
    for (int k = ctx->n_node_chunks - 1; k >= 0; k--) {
        bool yes = rec_in_chunk(ctx, p, k, id, &inside);
        if (inside) return yes;
    }
    return false;
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
/* A record's value, or its grad (0 if none), as a double. */
static inline double rec_number(const scalar_rec *r, bool grad)
{
    if (grad && !(r->flags & REC_HAS_GRAD)) return 0.0;
    if (r->flags & REC_F32) return (double)(grad ? r->grad.f32 : r->value.f32);
    return grad ? r->grad.f64 : r->value.f64;
}

#endif
