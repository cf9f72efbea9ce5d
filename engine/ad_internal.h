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
    uint32_t node_slow_windows;   /* slow huge-page windows in a row */

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
    if (hint && *hint < ctx->n_node_chunks) {
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
 * the engine's own calls, a kernel's nodes) passes unchecked. */
ad_node *ad_stale_handle(const ad_node *h, const char *who);
static inline ad_node *node_resolve(const ad_node *h, const char *who)
{
    ad_node *n = ad_node_of(h);
    unsigned tag = ad_handle_tag(h);
    if (__builtin_expect(tag != 0 && (tag != n->gen || n->id >= n->ctx->n_nodes), 0)) return ad_stale_handle(h, who);
    return n;
}

/* The node behind handle h if it is one of ctx's live nodes, else NULL (no
 * message). By address first: h's node is read only once it is known to be
 * in ctx's memory (h may point into a freed context). */
static inline ad_node *own_node(const ad_context *ctx, const ad_node *h)
{
    ad_node *n = ad_node_of(h);
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
 * bad_value (may be NULL): the first non-finite element and its value. */
bool ad_values_finite(const ad_tensor *t, const void *data, int64_t *bad, double *bad_value);

#endif
