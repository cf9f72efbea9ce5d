/* ad_fast_seam.h: the one interface between the core and the fast path
 * (engine/fast/). Everything the core knows of the fast path is here; the
 * fast path implements it. Reading the core, take these calls as "the fast
 * path may hold this node or this call; if not, the core does it".
 *
 * What the fast path does: a scalar graph (micrograd's kind) would spend
 * most of its time on memory if every 0-d value were a full 168-byte node, so
 * the fast path keeps such a node as a 32-byte record instead, and writes it
 * out as a full node ("materializes" it) the moment anything asks for the
 * node itself. A handle with bit 0 set is a record's (ad_is_fast_handle). With
 * the fast path off (ad_set_fast_path, AD_FAST=0) no record is ever made,
 * and every call below finds nothing to do. Not installed. */
#ifndef AD_FAST_SEAM_H
#define AD_FAST_SEAM_H

#include "ad_kernel.h"

/* The fast path's state: ad_fast_state_size() bytes, zeroed, right after the
 * context (at AD_FAST_STATE_OFFSET, ad_internal.h) in the same allocation. */
size_t ad_fast_state_size(void);
void ad_fast_free(ad_context *ctx);              /* the records' memory (ad_context_free) */
size_t ad_fast_bytes(const ad_context *ctx);     /* ... how much it is (ad_context_bytes) */
void ad_fast_rewound(ad_context *ctx);           /* a rewind dropped nodes: forget where the next record goes */

/* Is handle h a record's (bit 0)? Such a handle stays a record's handle
 * after its node is materialized. */
static inline bool ad_is_fast_handle(const ad_node *h) { return ((uintptr_t)h & 1) != 0; }
/* Is node `id` a record still (its node memory not written)? Only ids in
 * [ctx->compact_lo, ctx->rec_hi) can be: the inline node_is_record
 * (ad_internal.h) asks only there. */
bool ad_fast_holds(const ad_context *ctx, uint32_t id);
/* Write every record with an id up to `id` out as a full node (inputs first:
 * ids are a topological order). Writes memory only: cannot fail. */
void ad_fast_materialize_upto(ad_context *ctx, uint32_t id);
/* node_new is making a full node at `id`, where a record of a node a rewind
 * dropped may still sit: that record is stale now. */
void ad_fast_forget(ad_context *ctx, uint32_t id);

/* From a record's handle h to its node: ad_fast_resolve materializes it and
 * returns the node (NULL with a message naming `who` for a node that a
 * rewind dropped or whose context was freed). ad_fast_own_id: is h one of
 * ctx's live nodes (compact, or materialized since), its id in *id; nothing
 * is read before h is known to be ctx's memory. ad_fast_record_id: is h's
 * address one of ctx's record places, of a node below the count (live or
 * dropped and taken by another): for the messages that say which. */
ad_node *ad_fast_resolve(const ad_node *h, const char *who);
bool ad_fast_own_id(const ad_context *ctx, const ad_node *h, uint32_t *id);
bool ad_fast_record_id(const ad_context *ctx, const ad_node *h, uint32_t *id);
/* The handle of node `id` if it was made as a record (NULL if not: the
 * core makes it from the node), and the op name of a record (NULL if id is
 * not a record). */
ad_node *ad_fast_handle_of_id(const ad_context *ctx, uint32_t id);
const char *ad_fast_op_name(const ad_context *ctx, uint32_t id);

/* What the accessors read of a record's node without materializing it. false,
 * with a message naming who, for a handle that names no live node. With
 * `compact` false the node has been materialized: read node_at(ctx, id). */
typedef struct ad_fast_peek {
    ad_context *ctx;
    uint32_t id;
    bool compact;          /* the fields below are the record's */
    double value, grad;    /* grad 0 when it has none yet */
    const ad_op *op;       /* NULL: a leaf, or made with nothing to record */
    bool leaf, wants_grad;
} ad_fast_peek;
bool ad_fast_peek_at(const ad_node *h, const char *who, ad_fast_peek *p);

/* Reverse mode. ad_fast_backward takes a whole ad_backward_ex call whose
 * output is a record (the plain push sweep, no hook, no cotangent, finite
 * checks off), *st its status; false: the core's sweep does it.
 * ad_fast_scalar_vjps is the push sweep's step for a full 0-d CPU node whose
 * op has scalar kernels: the op's derivative `d` instead of its vjp, the
 * same numbers; AD_ERR_ARG, with nothing done and no message, where it does
 * not apply. ad_fast_zero_grad zeroes the grads of the nodes from
 * ctx->compact_lo on, records and full nodes, up to the id it returns, past
 * which there is no record (ad_zero_grad does the rest). */
bool ad_fast_backward(ad_context *ctx, ad_node *h, const ad_backward_opts *o, ad_status *st);
ad_status ad_fast_scalar_vjps(ad_context *ctx, ad_node *n, const ad_backward_opts *o, uint32_t epoch,
                              uint32_t *pending);
uint32_t ad_fast_zero_grad(ad_context *ctx);

/* Node memory (fast/node_memory.c): chunk k holds NODE_CHUNK0 << k nodes
 * (ad_internal.h); the fast path allocates them and populates their memory
 * ahead of use. ad_nodes_prepare makes node `id`'s memory ready (its chunk
 * allocated, the next window populated) and sets the context's ready range
 * (node_new's slow path); ad_node_chunk_ensure allocates chunk k if it is the
 * next one (for node `id`, in messages); ad_node_chunk_free frees chunk k. */
ad_status ad_nodes_prepare(ad_context *ctx, uint32_t id, const char *who);
ad_status ad_node_chunk_ensure(ad_context *ctx, uint32_t k, uint32_t id, const char *who);
void ad_node_chunk_free(ad_context *ctx, int k);

/* Making nodes: ad_apply (the op calls' entry) stands in fast/scalar_path.c
 * and hands what the fast path does not take to ad_apply_general. A compact
 * leaf (ad_scalar, ad_scalar_const), NULL where none can be made (the core
 * makes a full one). */
ad_node *ad_scalar_leaf(ad_context *ctx, double v, bool variable);

#endif
