/* ad_node.h: what a graph node is: the op that made it, its inputs, its
 * value, its grad (the adjoint, dL/dvalue) and its tangents (forward mode).
 * Kernels read these fields; programs hold handles (ad_handle.h) and read a
 * node through the accessors (ad_graph.h). */
#ifndef AD_NODE_H
#define AD_NODE_H

#include "ad_op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Node flags. */
enum {
    AD_NODE_REQUIRES_GRAD = 1u << 0, /* gradients flow to / through it */
    AD_NODE_LEAF = 1u << 1,          /* made by ad_variable/ad_constant */
    AD_NODE_RECORDING = 1u << 2,     /* recorded for backward (op, inputs kept) */
    /* bits 3, 6 and 7 are the engine's own (the scalar path's, ad_internal.h) */
    AD_NODE_BORN_COMPACT = 1u << 3,  /* made as a compact scalar node: its handles carry bit 0 */
};

/* A scalar's number, as a node holds it inline. */
typedef union ad_scalar_num {
    double f64;
    float f32;
} ad_scalar_num;

/* A graph node, as kernels see it.
 * The order is for the scalar path: what making an op and the backward sweep
 * read of a node (mark, flags, op, grad, the inline numbers, the inputs) is in
 * the first 64 bytes; the value's header next; what scalar graphs rarely
 * touch last. (The scalar path is bound by the memory it touches.) */
struct ad_node {
    uint32_t mark;                   /* backward bookkeeping */
    uint8_t n_in;
    uint8_t flags;
    uint16_t gen;                    /* the context's generation when made (handles) */
    const ad_op *op;                 /* NULL for a leaf or a no-grad result */
    void *grad;                      /* dL/dvalue, value.size elements of the
                                        value's dtype; NULL until backward */
    /* Inline storage for a scalar's value and grad: scalar graphs need no
     * arena allocation beyond the node itself. */
    ad_scalar_num inline_value, inline_grad;
    ad_node *in[AD_MAX_INPUTS];      /* recorded inputs (n_in of them) */
    ad_tensor value;                 /* the forward value (data in the arena) */
    void *tangent;                   /* k * value.size elements: row d is the
                                        derivative along direction d; NULL = 0 */
    const ad_params *params;         /* op parameters, NULL if none */
    void *saved;                     /* op's own data kept for backward */
    const char *name;                /* label for tables and DOT, may be NULL */
    ad_context *ctx;                 /* the owning context */
    uint32_t id;                     /* creation index within the context */
};

#ifdef __cplusplus
}
#endif
#endif
