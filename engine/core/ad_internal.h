/* ad_internal.h: the context's layout and the core's own functions, shared
 * by the files of engine/core and engine/fast (and, for now, the teaching
 * tools in engine/teach that read nodes). Not installed. */
#ifndef AD_INTERNAL_H
#define AD_INTERNAL_H

#include <stdatomic.h>
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
    /* the scalar path's (scalar_path_apply): ids compact_ready_lo <= id < compact_ready_hi
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

    /* Handles (ad_kernel.h): the generation a node made now takes
     * (1..65535, never 0: a tag of 0 is an untagged address), taken from one
     * counter for the whole process when the context is made and by every
     * rewind that drops nodes (context.c: next_generation). */
    uint16_t gen;
    bool grad_enabled;
    bool check_finite;
    bool fast;                /* the scalar path on (ad_set_fast_path; AD_FAST=0 in the environment: off) */
    int dirs;                 /* forward-mode directions k (0: off) */
    /* The newest run of leaves: ids leaf_run_lo <= id < leaf_run_hi are all
     * leaves (leaf_made). While it ends at n_nodes, ad_set_tangent on one of
     * them knows no op uses it yet, without looking at the nodes after it. */
    uint32_t leaf_run_lo, leaf_run_hi;
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

/* ---- the live contexts (context.c) ----
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
/* The live context that holds record memory p (not read), of node *id
 * there; NULL if none. */
ad_context *ad_context_of_record(const void *p, uint32_t *id);

/* ---- making nodes (nodes.c; node memory: engine/fast/node_memory.c) ---- */
/* Make node `id`'s memory ready (its chunk allocated, the next window
 * populated) and set the ready range; free chunk k. */
ad_status ad_nodes_prepare(ad_context *ctx, uint32_t id, const char *who);
void ad_node_chunk_free(ad_context *ctx, int k);
/* Node chunk k allocated, if it is the next one (for node id, in messages). */
ad_status ad_node_chunk_ensure(ad_context *ctx, uint32_t k, uint32_t id, const char *who);
/* Chunks of NODE_MAP_MIN bytes or more are mmap'd, NODE_MAP_ALIGN-aligned,
 * and populated NODE_POPULATE bytes at a time (record chunks REC_POPULATE)
 * ahead of use; a context whose huge-page windows are slower than
 * NODE_SLOW_PS_PER_BYTE twice in a row takes 4 KiB pages (node_memory.c). */
enum { NODE_MAP_MIN = 2 << 20, NODE_MAP_ALIGN = 2 << 20, NODE_POPULATE = 4 << 20, NODE_SLOW_PS_PER_BYTE = 500,
       REC_POPULATE = 1 << 20 };
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14; older kernels say EINVAL */
#endif
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
    if ((id < ctx->ready_lo || id >= ctx->ready_hi) && ad_nodes_prepare(ctx, id, who) != AD_OK) return NULL;
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
/* A leaf was made as node `id` (the newest): it extends the run of leaves
 * that ends just before it, or starts a new one. */
static inline void leaf_made(ad_context *ctx, uint32_t id)
{
    if (id != ctx->leaf_run_hi) ctx->leaf_run_lo = id;
    ctx->leaf_run_hi = id + 1;
}

/* Give n a value buffer of the given shape: inline for a CPU scalar, GPU
 * memory for a node on the GPU. */
ad_status ad_node_set_value(ad_node *n, ad_dtype dt, int ndim, const int64_t *shape, int64_t size, ad_device dev);
/* Drop a half-made node: the nodes from id `nodes` on, and the GPU buffers
 * allocated since the context held `devs` of them. */
void ad_drop_half_made(ad_context *ctx, uint32_t nodes, uint32_t devs);
/* The message naming the op that made (from < 0) or passed on (input
 * `from`) a non-finite element `bad` of out's value (finite.c). */
ad_status ad_report_nonfinite(const ad_node *out, int64_t bad, double bad_value, int from);

/* ---- the fast path's entry points (engine/fast/scalar_path.c) ---- */
/* A compact leaf (float64, on the CPU), NULL where none can be made (the
 * caller makes a full one). */
ad_node *ad_scalar_leaf(ad_context *ctx, double v, bool variable);
/* (ad_apply itself is there too: the scalar path where it applies, else ad_apply_general.) */
/* The general path of ad_apply (core/apply.c): the new node's handle, or NULL with a message. */
ad_node *ad_apply_general(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in, const ad_params *params);
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

/* ---- handles (handles.c) ---- */
/* A node's full node or its compact record, for the accessors that read a
 * scalar's numbers without materializing it. */
typedef struct node_ref {
    const ad_node *n;       /* the full node, or NULL */
    scalar_rec *rec;        /* the record of a compact one, or NULL */
    ad_context *ctx;        /* (with rec) */
    uint32_t id;            /* (with rec) */
} node_ref;
/* The op name of node `id` of ctx, full or compact, for messages. */
const char *ad_op_name_at(const ad_context *ctx, uint32_t id);
/* The node or record behind h; false with a message naming who if none. */
bool ad_node_ref_of(const ad_node *h, const char *who, node_ref *ref);
/* A record's value, or its grad (0 if none), as a double. */
double ad_rec_number(const scalar_rec *r, bool grad);

static inline double ad_buffer_get(const void *data, ad_dtype dt, int64_t i)
{
    return dt == AD_FLOAT32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

#endif
