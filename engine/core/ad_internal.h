/* ad_internal.h: the core's own functions, shared by the files of
 * engine/core (and engine/fast, engine/teach, which read nodes); the
 * context's layout is ad_context.h. Not installed. */
#ifndef AD_INTERNAL_H
#define AD_INTERNAL_H

#include "ad_context.h"

/* Handles. node_resolve gives the node behind handle h: NULL for NULL (no
 * message: the caller says what a NULL means) and, with a message naming
 * `who`, for a handle whose node a rewind dropped (its generation no longer
 * the node's, or its id at or past the count). An untagged address (tag 0:
 * the engine's own calls, a kernel's nodes) passes unchecked. A record's
 * handle (bit 0: the fast path's) goes to ad_fast_resolve. */
ad_node *ad_stale_handle(const ad_node *h, const char *who);
/* The message for a handle to node `id` of ctx that no longer names it (a
 * rewind dropped the node); NULL. */
ad_node *ad_stale_id(const ad_context *ctx, uint32_t id, const char *who);
static inline ad_node *node_resolve(const ad_node *h, const char *who)
{
    if (__builtin_expect(ad_is_fast_handle(h), 0)) return ad_fast_resolve(h, who);
    ad_node *n = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    if (__builtin_expect(tag != 0 && (tag != n->gen || n->id >= n->ctx->n_nodes), 0)) return ad_stale_handle(h, who);
    return n;
}

/* node_resolve, with a message naming who for NULL too (the accessors,
 * for which a NULL handle is the caller's mistake). */
static inline ad_node *node_or_fail(const ad_node *h, const char *who)
{
    if (!h) {
        ad_fail(AD_ERR_ARG, "%s: the node is NULL", who);
        return NULL;
    }
    return node_resolve(h, who);
}

/* The id of node memory n in chunk k (n known to be there). */
static inline uint32_t node_id_in_chunk(const ad_context *ctx, const ad_node *n, int k)
{
    return (uint32_t)NODE_CHUNK0 * ((1u << k) - 1u) + (uint32_t)((const char *)n - (const char *)ctx->node_chunk[k]) /
                                                           (uint32_t)sizeof(ad_node);
}
/* Is node `id` one of the fast path's records still (ad_fast_seam.h), whose
 * node memory must not be read? Only ids in [compact_lo, rec_hi) can be. */
static inline bool node_is_record(const ad_context *ctx, uint32_t id)
{
    return id >= ctx->compact_lo && id < ctx->rec_hi && ad_fast_holds(ctx, id);
}
/* Make every node a full one (materialize every record). */
static inline void materialize_all(const ad_context *ctx)
{
    if (ctx->n_nodes > ctx->compact_lo) ad_fast_materialize_upto((ad_context *)ctx, ctx->n_nodes - 1);
}

/* The node behind handle h if it is one of ctx's live nodes, else NULL (no
 * message). By address first: h's memory is read only once it is known to
 * be in ctx's (h may point into a freed context). A record's node is
 * materialized (with every record before it): callers read its fields. */
static inline ad_node *own_node(const ad_context *ctx, const ad_node *h)
{
    if (ad_is_fast_handle(h)) {
        uint32_t id;
        if (!ad_fast_own_id(ctx, h, &id)) return NULL;
        if (node_is_record(ctx, id)) ad_fast_materialize_upto((ad_context *)ctx, id);
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

/* ---- reverse mode (backward.c), shared with the fast path's sweep ---- */
static inline bool node_wants_grad(const ad_node *n) { return (n->flags & AD_NODE_REQUIRES_GRAD) != 0; }
ad_status ad_node_ensure_grad(ad_node *n, bool zero);
/* First touch of a node in this pass: give it a grad buffer; zero an
 * intermediate's (its adjoint is recomputed), keep a leaf's (it accumulates). */
static inline ad_status node_touch(ad_node *n, uint32_t epoch)
{
    if (n->mark == epoch) return AD_OK;
    n->mark = epoch;
    if (n->flags & AD_NODE_SCALAR) {   /* a CPU scalar's grad is inline: no call */
        scalar_ensure_grad(n, !(n->flags & AD_NODE_LEAF));
        return AD_OK;
    }
    return ad_node_ensure_grad(n, !(n->flags & AD_NODE_LEAF));
}
/* What every backward pass shares (passes.c): a fresh pass number (marks
 * equal to it are this pass's); a node's kernels for its device; the GPU's
 * error after a vjp (vjp returns nothing; AD_OK on the CPU). */
uint32_t ad_next_epoch(ad_context *ctx);
const ad_op_kernels *ad_kernels_of(const ad_node *n);
ad_status ad_device_status(const ad_node *consumer, int slot);
/* What the core refuses (checks.c): an op call's inputs (the nodes behind
 * the handles into in[]); a backward entry's context and output handle h
 * (its node in *y); a backward pass's cotangent for output y. */
ad_status ad_check_inputs(ad_context *ctx, const ad_op *op, ad_node *const *handles, int n_in, ad_node **in);
ad_status ad_check_output(ad_context *ctx, const ad_node *h, const char *who, ad_node **y);
ad_status ad_check_cotangent(const ad_node *y, const ad_tensor *cot);
/* ... and the list of nodes a block or second-order pass is asked for. */
ad_status ad_check_wrt(ad_context *ctx, const char *who, int n_wrt, ad_node *const *handles, void *const *bufs,
                       const char *buf_name, ad_node **wrt);
/* dst += src: count elements of n's dtype, on n's device (backward_block.c). */
ad_status ad_buffer_add(const ad_node *n, void *dst, const void *src, int64_t count);
/* ad_set_tangent's: n's tangent can still reach every node that uses n. */
ad_status ad_check_tangent_in_time(const ad_node *n);
/* Mark what y depends on (backward.c: Version A's first step, and the block
 * sweep's). */
ad_status ad_mark_inputs(ad_context *ctx, const ad_node *y, uint32_t epoch, bool grads, const char *who,
                         uint32_t *lo);
/* The push sweep's step for full node n (visited: its adjoint complete):
 * grad[in] += J^T grad[n] for each input that wants a grad; *pending counts
 * the nodes with an op touched and not yet visited. */
ad_status ad_push_node(ad_context *ctx, ad_node *n, const ad_backward_opts *o, uint32_t epoch, uint32_t *pending);
/* After consumer's vjp into input `slot` (rows cotangents): fail, naming the
 * op, if it left a non-finite gradient (ad_set_check_finite). */
ad_status ad_check_finite_grad(const ad_node *consumer, int slot, int rows, const void *gout, const void *gin);

/* Arena allocation (zeroed, 32-byte aligned). NULL + message on failure. */
void *ad_arena_alloc(ad_context *ctx, size_t bytes);
/* Guard zones (guard.c): fill (and under ASan poison) the zones around
 * buffer p of `bytes` bytes; make n bytes at p addressable again (ASan; a
 * no-op otherwise), for memory that may have held a zone. */
void ad_guard_arm(void *p, size_t bytes);
void ad_guard_unpoison(void *p, size_t bytes);
/* GPU memory owned by the context, zeroed if asked (returned to the gpu module's cache
 * by a rewind past it or by ad_context_free). NULL + message on failure. */
void *ad_device_alloc(ad_context *ctx, size_t bytes, bool zero);
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

/* ---- making nodes (nodes.c; node memory: ad_fast_seam.h) ---- */
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
    if (__builtin_expect(id < ctx->rec_hi, 0)) ad_fast_forget(ctx, id);   /* a record's id before a rewind */
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
/* A new leaf of ctx on device dev (nodes.c), its value zero on the CPU and
 * not yet written on the GPU; NULL with a message naming who. */
ad_node *ad_leaf_on(ad_context *ctx, const char *who, ad_dtype dt, int ndim, const int64_t *shape,
                    bool requires_grad, ad_device dev);
/* Anomaly mode, after out's forward: AD_OK if out's value is finite, else
 * a message naming the op that made the non-finite element or the input it
 * passed it on from (finite.c). */
ad_status ad_check_finite_value(const ad_node *out);

/* The general path of ad_apply (core/apply.c): the new node's handle, or NULL with a message. */
ad_node *ad_apply_general(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in, const ad_params *params);
/* The op name of node `id` of ctx, full or a record, for messages. */
const char *ad_op_name_at(const ad_context *ctx, uint32_t id);

static inline double ad_buffer_get(const void *data, ad_dtype dt, int64_t i)
{
    return dt == AD_FLOAT32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

#endif
