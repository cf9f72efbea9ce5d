/* ad_internal.h: the context's layout, shared by the engine's own files
 * (context.c, backward.c, forward.c, dot.c). Not installed. */
#ifndef AD_INTERNAL_H
#define AD_INTERNAL_H

#include "ad_kernel.h"

/* Node chunks grow geometrically: chunk k holds NODE_CHUNK0 << k nodes, so
 * 22 chunks hold 2^32 nodes and id -> node is a few bit operations. Nodes
 * never move, so pointers to them stay valid until the context is freed. */
enum { NODE_CHUNK0_LOG2 = 10, NODE_CHUNK0 = 1 << NODE_CHUNK0_LOG2, MAX_NODE_CHUNKS = 22 };

typedef struct data_chunk {
    char *base;
    size_t cap;
} data_chunk;

/* Node chunks of NODE_MAP_MIN bytes or more are mmap'd (map/map_len, for
 * munmap), 2 MiB-aligned, in transparent huge pages, and populated
 * NODE_POPULATE bytes at a time as nodes are made (populated: bytes of the
 * chunk done so far). Smaller ones are malloc'd (map NULL). */
typedef struct node_chunk_mem {
    void *map;
    size_t map_len;
    size_t populated;
} node_chunk_mem;

/* A compact scalar node: what the scalar path makes for an op with scalar
 * kernels (ad_op.h) on 0-d CPU inputs, and what ad_scalar and
 * ad_scalar_const make. A full node is 168 bytes, and a
 * scalar graph's first forward pass is bound by the fresh memory it writes
 * (on cpu-2c a first touch costs 0.3 to 0.4 ns a byte); this is 32. Records sit in
 * chunks beside the node chunks, record `id` at the node's offset; its handle
 * is the record's address with bit 0 set. The node keeps its id and its
 * place in the node chunk, but that memory is written only when the node is
 * "materialized": when anything other than the scalar path, the backward
 * sweep, zero_grad or the scalar accessors asks for it (ad_node_of, the
 * general path of ad_apply, explain...), every compact node up to it is
 * written out as a full node and its record's gen set to 0. */
typedef struct scalar_rec {
    uint32_t mark;          /* as ad_node's */
    uint8_t flags;          /* REC_* */
    uint8_t op;             /* ctx->scalar_ops[op - 1]; 0: none (made with nothing to record) */
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

struct ad_context {
    ad_node *node_chunk[MAX_NODE_CHUNKS];
    int n_node_chunks;
    uint32_t n_nodes;
    /* node_new's fast path: ids ready_lo <= id < ready_hi are ready_chunk[id -
     * ready_lo], memory that is allocated and populated. Empty after a rewind. */
    uint32_t ready_lo, ready_hi;
    ad_node *ready_chunk;
    node_chunk_mem chunk_mem[MAX_NODE_CHUNKS];
    bool node_small_pages;    /* huge pages were slow here: 4 KiB ones from now on */
    int chunk_hint;           /* the scalar path's: the chunk its last input was in */
    int rec_hint;             /* ... and its last compact input that was not among the newest */
    uint32_t node_slow_windows;   /* slow huge-page windows in a row */

    /* Compact scalar nodes (scalar_rec above). */
    scalar_rec *rec_chunk[MAX_NODE_CHUNKS];   /* NULL until a compact node is made in chunk k */
    size_t rec_map_len[MAX_NODE_CHUNKS];      /* mmap'd length (0: calloc'd) */
    size_t rec_populated[MAX_NODE_CHUNKS];    /* bytes of an mmap'd one populated so far */
    /* apply_scalar's fast path: ids compact_ready_lo <= id < compact_ready_hi
     * have their node chunk allocated and their records populated. Emptied
     * by a rewind, so that compact_prepare sees the next compact node after
     * one (it clears stale node memory and lowers compact_lo). */
    uint32_t compact_ready_lo, compact_ready_hi;
    scalar_rec *compact_ready_rec;  /* record compact_ready_lo */
    size_t compact_ready_bytes;     /* (hi - lo) records */
    uint32_t compact_lo;      /* every node below this id is a full one */
    uint32_t rec_hi;          /* no id at or above this has a record (ever made ready) */
    uint32_t node_written_hi; /* node memory at or above this id holds no gen (never written, or cleared) */
    const ad_op *scalar_ops[MAX_SCALAR_OPS];  /* the ops compact nodes refer to */
    int n_scalar_ops;
    /* ops checked for compact nodes: index into scalar_ops, input counts */
    struct { const ad_op *op; uint8_t index, n_in_min, n_in_max; } scalar_op_cache[SCALAR_OP_CACHE];

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

    /* Handles (ad_kernel.h): the generation a node made now takes, moved on
     * (1..65535, never 0: a tag of 0 is an untagged address) by every rewind
     * that drops nodes. */
    uint16_t gen;
    bool grad_enabled;
    bool check_finite;
    bool fast;                /* the scalar path on (ad_set_fast_path; AD_FAST=0 in the environment: off) */
    int dirs;                 /* forward-mode directions k (0: off) */
    uint32_t epoch;           /* backward pass counter, for node marks */
};

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

/* Handles. node_resolve gives the node behind handle h: NULL for NULL (no
 * message: the caller says what a NULL means) and, with a message naming
 * `who`, for a handle whose node a rewind dropped (its generation no longer
 * the node's, or its id at or past the count). An untagged address (tag 0:
 * the engine's own calls, a kernel's nodes) passes unchecked. A compact
 * node's handle (bit 0) goes to ad_resolve_compact, which materializes it. */
ad_node *ad_stale_handle(const ad_node *h, const char *who);
ad_node *ad_resolve_compact(const ad_node *h, const char *who);
static inline ad_node *node_resolve(const ad_node *h, const char *who)
{
    if (__builtin_expect((uintptr_t)h & 1, 0)) return ad_resolve_compact(h, who);
    ad_node *n = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    if (__builtin_expect(tag != 0 && (tag != n->gen || n->id >= n->ctx->n_nodes), 0)) return ad_stale_handle(h, who);
    return n;
}

/* The id of node memory n in chunk k (n known to be there). */
static inline uint32_t node_id_in_chunk(const ad_context *ctx, const ad_node *n, int k)
{
    return (uint32_t)NODE_CHUNK0 * ((1u << k) - 1u) + (uint32_t)((const char *)n - (const char *)ctx->node_chunk[k]) /
                                                           (uint32_t)sizeof(ad_node);
}
/* Record `id` (its chunk allocated). */
static inline scalar_rec *rec_at(const ad_context *ctx, uint32_t id)
{
    uint32_t off, k = node_chunk_index(id, &off);
    return &ctx->rec_chunk[k][off];
}
/* The compact record of node `id`, NULL if that node is a full one. */
static inline scalar_rec *compact_rec(const ad_context *ctx, uint32_t id)
{
    if (id >= ctx->rec_hi) return NULL;
    uint32_t off, k = node_chunk_index(id, &off);
    scalar_rec *c = ctx->rec_chunk[k];
    return c && c[off].gen ? &c[off] : NULL;
}
/* Is p the place of one of ctx's records, of any id (p is not read)? Its id
 * in *id (at or past the count for a dropped node). rec_in_chunk looks in
 * chunk k only (*inside: p is in its memory, on a record's start or not);
 * rec_locate in every chunk, newest first. */
static inline bool rec_in_chunk(const ad_context *ctx, const void *p, int k, uint32_t *id, bool *inside)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)ctx->rec_chunk[k];   /* wraps when below: one compare */
    *inside = ctx->rec_chunk[k] && off < ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
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
/* Write every compact node with an id up to `id` out as a full node (inputs
 * first: ids are a topological order). Writes memory only: cannot fail. */
void ad_materialize_upto(ad_context *ctx, uint32_t id);
/* ... all of them. */
static inline void materialize_all(const ad_context *ctx)
{
    if (ctx->n_nodes > ctx->compact_lo) ad_materialize_upto((ad_context *)ctx, ctx->n_nodes - 1);
}

/* The id behind a compact node's handle h (bit 0: a record's address) if
 * it is one of ctx's live nodes, compact or materialized since; else false.
 * Nothing is read before the address is known to be ctx's (h may point into
 * a freed context). */
static inline bool own_compact_id(const ad_context *ctx, const ad_node *h, uint32_t *id)
{
    if (!rec_locate(ctx, ad_node_addr(h), id) || *id >= ctx->n_nodes) return false;
    const scalar_rec *r = rec_at(ctx, *id);
    unsigned tag = ad_handle_tag(h);
    return tag == 0 || tag == (r->gen ? r->gen : node_at(ctx, *id)->gen);
}
/* The record behind handle h if it is one of ctx's live compact nodes (not
 * materialized), its id in *id; else NULL. */
static inline scalar_rec *own_compact(const ad_context *ctx, const ad_node *h, uint32_t *id)
{
    if (!((uintptr_t)h & 1) || !own_compact_id(ctx, h, id)) return NULL;
    return compact_rec(ctx, *id);
}

/* The node behind handle h if it is one of ctx's live nodes, else NULL (no
 * message). By address first: h's memory is read only once it is known to
 * be in ctx's (h may point into a freed context). A live compact node is
 * materialized (with every compact node before it): callers read its fields. */
static inline ad_node *own_node(const ad_context *ctx, const ad_node *h)
{
    if ((uintptr_t)h & 1) {
        uint32_t id;
        if (!own_compact_id(ctx, h, &id)) return NULL;
        if (compact_rec(ctx, id)) ad_materialize_upto((ad_context *)ctx, id);
        return node_at(ctx, id);
    }
    ad_node *n = ad_node_addr(h);
    if (!n || !node_in_context(ctx, n, NULL)) return NULL;
    unsigned tag = ad_handle_tag(h);
    return tag == 0 || tag == n->gen ? n : NULL;
}
/* Why own_node refused h, as a message naming who and what ("the output",
 * "input 1"): a node a rewind dropped, or one from elsewhere (another
 * context; dropped, its memory not yet reused). Returns `foreign`, the
 * caller's status for the second; AD_ERR_STATE for the first. */
ad_status ad_not_own_node(const ad_context *ctx, const ad_node *h, ad_status foreign, const char *who,
                          const char *what);

/* The engine's own node flags, beside ad_graph.h's public ones: set when
 * the value is made, so that the scalar path reads a node's first 64 bytes
 * and not its value's header. */
enum {
    AD_NODE_SCALAR = 1u << 6,   /* a 0-d CPU value, held inline (value.data == &inline_value) */
    AD_NODE_F32 = 1u << 7,      /* (with AD_NODE_SCALAR) its dtype is float32 */
};
static inline double scalar_value(const ad_node *n)
{
    return (n->flags & AD_NODE_F32) ? (double)n->inline_value.f32 : n->inline_value.f64;
}

/* A CPU scalar's grad is its node's inline_grad (NULL until backward first
 * touches it). Make sure it is there, zeroed if `zero`: the scalar path of
 * ad_node_ensure_grad, inline for backward's sweep. */
static inline void scalar_ensure_grad(ad_node *n, bool zero)
{
    if (!n->grad || zero) n->inline_grad.f64 = 0;
    if (!n->grad) n->grad = &n->inline_grad;
}
static inline bool node_is_cpu_scalar(const ad_node *n) { return n->value.size == 1 && n->value.device == AD_CPU; }

/* Arena allocation (zeroed, 32-byte aligned). NULL + message on failure. */
void *ad_arena_alloc(ad_context *ctx, size_t bytes);
/* GPU memory owned by the context, zeroed if asked (returned to the gpu module's cache
 * by a rewind past it or by ad_context_free). NULL + message on failure. */
void *ad_device_alloc(ad_context *ctx, size_t bytes, bool zero);
/* Make sure n->grad exists; zero it if `zero`. */
ad_status ad_node_ensure_grad(ad_node *n, bool zero);
/* Check that ctx is live, for an error message naming `who`. */
ad_status ad_check_context(const ad_context *ctx, const char *who);
/* Is every element of the buffer finite? Index of the first that is not in *bad. */
bool ad_buffer_finite(const void *data, ad_dtype dt, int64_t n, int64_t *bad);
/* The same for data laid out as t (t's value, or a grad of t's shape), on
 * either device: a GPU buffer is copied to the host to look. bad and
 * bad_value (may be NULL): the first non-finite element and its value.
 * AD_FINITE, AD_NOT_FINITE, or AD_FINITE_UNKNOWN when the copy from the GPU
 * failed (its error set: a kernel's fault, reported at that copy). */
enum { AD_FINITE_UNKNOWN = -1, AD_NOT_FINITE = 0, AD_FINITE = 1 };
int ad_values_finite(const ad_tensor *t, const void *data, int64_t *bad, double *bad_value);

#endif
