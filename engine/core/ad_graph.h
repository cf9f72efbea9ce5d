/* ad_graph.h: contexts, nodes, reverse mode, forward mode, no-grad.
 *
 * A context is an arena that owns the nodes of one graph and all their data;
 * ad_context_free frees them all at once. Every op call (ad_add, ad_conv2d...)
 * computes its value eagerly and, when grad mode is on and an input requires
 * grad, records a node {op, inputs, params} for the backward pass.
 *
 * Nodes are numbered in creation order. Since an op's inputs always exist
 * before the op, creation order is already a topological order: the backward
 * pass is one iterative sweep over the ids in reverse (no recursion, so a
 * chain of 10^6 nodes is fine) visiting only nodes reachable from the output.
 *
 * Forward mode: give leaves tangents in k directions (ad_set_tangent); every
 * later op then computes its tangent with its jvp as it is created, so
 * tangents ride along with the values. */
#ifndef AD_GRAPH_H
#define AD_GRAPH_H

#include <stdbool.h>
#include "ad_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ad_context ad_context;
typedef struct ad_node ad_node;
typedef struct ad_op ad_op;
typedef struct ad_params ad_params;

enum { AD_MAX_INPUTS = 3 };

/* A node is an opaque handle: read it through the accessors below
 * (ad_value, ad_grad, ad_node_input...). A handle carries its node's
 * generation, so that one kept past a rewind that dropped its node is
 * refused by name, even once a new node has taken its memory. Op kernels
 * see the nodes themselves (ad_kernel.h). */

/* ---- contexts ---- */
ad_context *ad_context_new(void);
/* Free the context and every node in it. Later calls with ctx fail cleanly. */
void ad_context_free(ad_context *ctx);
/* Is ctx a live context (made by ad_context_new and not freed)? */
bool ad_context_alive(const ad_context *ctx);
/* Number of nodes, and bytes held by the arena. */
uint32_t ad_context_node_count(const ad_context *ctx);
size_t ad_context_bytes(const ad_context *ctx);

/* Marks: free every node made after a mark, keeping the memory for reuse.
 * A training loop makes its parameters, takes a mark, and rewinds to it
 * after each step. Rewinding drops all tangents and the grads of
 * non-leaf nodes made before the mark (leaves keep theirs).
 * A rewind checks its mark: one from another context, one made stale by a
 * rewind to an earlier mark (its nodes are gone and their memory reused), or
 * one altered or made up by hand is refused (AD_ERR_STATE, with the reason)
 * and the context is left as it was. The fields are for reading only.
 * A handle to a node the rewind dropped is refused by every call that takes
 * it (AD_ERR_STATE), even once a new node has taken its memory. */
typedef struct ad_mark {
    uint32_t nodes;            /* the node count at the mark */
    uint32_t chunk;
    size_t offset;
    uint32_t device_allocs;
    uint64_t context_serial;   /* which context (serials are never reused) */
    uint64_t seq;              /* which of the context's marks */
} ad_mark;
ad_mark ad_context_mark(ad_context *ctx);
ad_status ad_context_rewind(ad_context *ctx, ad_mark m);

/* Grad mode. With it off nothing is recorded and nothing is kept for
 * backward; results are plain constants. Returns the previous setting. */
bool ad_set_grad_enabled(ad_context *ctx, bool on);
bool ad_grad_enabled(const ad_context *ctx);

/* The fast path for scalar graphs: an elementwise op on 0-d CPU inputs
 * makes a 32-byte record instead of a full node, and its backward calls the
 * op's scalar kernels (ad_op.h) instead of its vjp; values, grads and
 * tangents are the same bit for bit (tests/test_fast_path.c checks it on
 * random graphs). On by default; off for every new context when the
 * environment has AD_FAST=0, so that every op takes the one general path
 * (ad_apply's) a reader can step through. Returns the previous setting;
 * switching applies to the ops made after it. */
bool ad_set_fast_path(ad_context *ctx, bool on);
bool ad_fast_path(const ad_context *ctx);

/* Finite checking ("anomaly mode"): the first op whose forward, or whose vjp
 * during backward, gives NaN/Inf fails with AD_ERR_NONFINITE and a message
 * naming the op, the node and the element, and saying whether the op made
 * it from finite inputs or passed on an input's (NaN propagates through
 * every op, so the first to carry it is the one to name). Off by default. */
void ad_set_check_finite(ad_context *ctx, bool on);
/* After the fact: the first node (in creation order) whose value is not
 * finite although all its inputs are; NULL if none. */
ad_node *ad_find_nonfinite(ad_context *ctx);

/* ---- leaves ---- */
/* A variable requires grad; a constant does not. values: the shape's size
 * numbers, converted to dt; NULL: zeros. */
ad_node *ad_variable(ad_context *ctx, ad_dtype dt, int ndim, const int64_t *shape, const double *values);
ad_node *ad_constant(ad_context *ctx, ad_dtype dt, int ndim, const int64_t *shape, const double *values);
ad_node *ad_scalar(ad_context *ctx, double v);        /* float64 variable */
ad_node *ad_scalar_const(ad_context *ctx, double v);  /* float64 constant */
/* A leaf that copies t (any dtype). requires_grad as given. */
ad_node *ad_from_tensor(ad_context *ctx, const ad_tensor *t, bool requires_grad);
/* Give a node a name for tables and DOT (the string is copied). */
ad_node *ad_set_name(ad_node *n, const char *name);
void ad_set_requires_grad(ad_node *n, bool on);
bool ad_requires_grad(const ad_node *n);

/* ---- reading values ---- */
double ad_value_scalar(const ad_node *n);        /* element 0 as double */
double ad_grad_scalar(const ad_node *n);         /* 0 if no grad yet */
double ad_value_at(const ad_node *n, int64_t i);
double ad_grad_at(const ad_node *n, int64_t i);
double ad_tangent_at(const ad_node *n, int dir, int64_t i);
bool ad_has_tangent(const ad_node *n);          /* false: every direction's tangent is 0 */
/* Views (no copy): the node's header (shape, size, dtype, device) and its
 * data, which a program may write through to fill a leaf (initial weights).
 * The grad view has data NULL if there is no grad. A view lives as long as
 * its node: a rewind that drops the node leaves it pointing at memory a new
 * node will take. NULL or a dropped node: all zero (data NULL). */
ad_tensor ad_value(const ad_node *n);
ad_tensor ad_grad(const ad_node *n);
/* Write element i of n's value (a leaf's, before building on it: see
 * ad_backward). Fails, writing nothing, for an i outside n or a GPU node. */
ad_status ad_set_value_at(ad_node *n, int64_t i, double v);
/* Copy the value, or the grad (zeros if none), out as doubles: len is the
 * room in out, at least the node's size. */
ad_status ad_value_copy_out(const ad_node *n, double *out, int64_t len);
ad_status ad_grad_copy_out(const ad_node *n, double *out, int64_t len);

/* ---- reverse mode ---- */
typedef enum ad_backward_variant {
    AD_BACKWARD_PUSH = 0,  /* Version B: each node pushes increments to its inputs (default) */
    AD_BACKWARD_PULL = 1   /* Version A: each node pulls from its consumers */
} ad_backward_variant;

/* One step of a backward pass, for lessons and tracing: the contribution
 * (dL/d consumer)·(d consumer/d input) added to input's grad through the
 * consumer's input `slot` (input == ad_node_input(consumer, slot); both are
 * handles). With PULL, `done` is set on the last contribution to `input`
 * (its adjoint is then final). */
typedef struct ad_backward_step {
    const ad_node *consumer;
    int slot;
    const ad_node *input;
    bool done;
} ad_backward_step;
typedef void (*ad_backward_hook)(const ad_backward_step *step, void *user);

typedef struct ad_backward_opts {
    ad_backward_variant variant;
    const ad_tensor *cotangent;    /* dL/dy seed; NULL: y must be a scalar, seed 1 */
    ad_backward_hook hook;         /* called after each contribution, may be NULL */
    void *hook_user;
} ad_backward_opts;

/* dL/dy = 1 for a scalar y, accumulated (+=) into the grads of every node
 * that requires grad and from which y is reachable. The graph is
 * differentiated at the values its forward saw: do not write a node's value
 * between making the ops that read it and their backward (an op may keep
 * data from its forward, as conv2d keeps its im2col columns; PyTorch
 * refuses such a write). Change a leaf's value, then build the graph again. */
ad_status ad_backward(ad_context *ctx, ad_node *y);
ad_status ad_backward_ex(ad_context *ctx, ad_node *y, const ad_backward_opts *opts);
/* Many cotangents in one sweep: the vector-Jacobian products of `rows`
 * cotangents with respect to the nodes wrt[0..n_wrt), each vjp called once
 * with the whole block (ad_op.h). cotangents: rows × y's size elements of
 * y's dtype, on y's device, one cotangent after another. grads[i]: rows ×
 * wrt[i]'s size elements, its dtype and device; row r gets += (∂y/∂wrt[i])ᵀ
 * times cotangent r. Node grads are not touched; nodes between use scratch
 * freed before the return; no hook is called. gradcheck takes the rows of
 * its reverse-mode Jacobians this way, a block of one-hot cotangents at a
 * time. (PyTorch: torch.autograd.grad with is_grads_batched=True.) */
ad_status ad_backward_block(ad_context *ctx, ad_node *y, int rows, const void *cotangents, int n_wrt,
                            ad_node *const *wrt, void *const *grads);
/* Zero (release) every grad in the context. */
void ad_zero_grad(ad_context *ctx);
/* Zero one node's grad. */
void ad_node_zero_grad(ad_node *n);

/* ---- forward mode ---- */
/* Set the number of tangent directions k (1..64) carried by later ops;
 * resets all tangents. An op's tangent is computed once, when the op is
 * made, so call this, and ad_set_tangent, before making the ops. */
ad_status ad_forward_dirs(ad_context *ctx, int k);
int ad_forward_dir_count(const ad_context *ctx);
/* Set leaf n's tangent in direction dir to values (one double per element
 * of n), or to the unit vector e_index if values is NULL and index >= 0.
 * AD_ERR_STATE, naming both nodes, once an op that uses n has been made
 * (or one made with grad off, whose inputs are not known): that op took
 * n's tangent (none) when it was made and would never see this one.
 * Rewinding to a mark taken before the op makes it possible again. */
ad_status ad_set_tangent(ad_node *n, int dir, const double *values, int64_t index);
/* Drop all tangents (forward mode off). */
void ad_clear_tangents(ad_context *ctx);

/* ---- second order ---- */
/* Hessian-vector products, by forward-over-reverse (hvp.c). Build the graph
 * in forward mode with v as the leaves' tangents in direction dir
 * (ad_forward_dirs, then ad_set_tangent on the leaves, then the ops); then
 * ad_hvp runs one reverse sweep from y that carries, beside each adjoint,
 * its tangent along v. With L = <w, y> (w the cotangent: y's shape, dtype
 * and device; NULL for a scalar y, w = 1), for each wrt[i]:
 *     hvs[i]   += (∇²L · v) at wrt[i]'s elements (the Hessian's rows for
 *                 wrt[i], times v over every node that carries a tangent);
 *     grads[i] += ∂L/∂wrt[i]  (grads, or grads[i], may be NULL: not wanted).
 * Buffers: wrt[i]'s size elements of its dtype. Node grads are not touched;
 * the sweep's own two buffers per node come from the context's arena (a
 * rewind frees them, as it frees the nodes). A rewind drops tangents: set v
 * again after one (a graph no tangent reaches is refused: H·v would be 0).
 * CPU only; an op with no second-order rule on the way is refused by name
 * (ad_op.h: vjp_tangent). Costs a small constant times one gradient
 * (LeNet-5: 2.5, BENCHMARKS.md). */
ad_status ad_hvp(ad_context *ctx, ad_node *y, const ad_tensor *cotangent, int dir, int n_wrt, ad_node *const *wrt,
                 void *const *grads, void *const *hvs);

/* ---- walking the graph ---- */
ad_node *ad_node_by_id(const ad_context *ctx, uint32_t id);
uint32_t ad_node_id(const ad_node *n);             /* creation index in its context */
ad_context *ad_node_context(const ad_node *n);
/* The recorded inputs: n_in of them for a recorded op result, none for a
 * leaf or a result made with grad mode off. ad_node_input: NULL (with a
 * message) for a slot outside 0..count-1. */
int ad_node_input_count(const ad_node *n);
ad_node *ad_node_input(const ad_node *n, int slot);
const ad_op *ad_node_op(const ad_node *n);         /* NULL for a leaf or an unrecorded result */
const ad_params *ad_node_params(const ad_node *n); /* NULL if the op takes none */
const char *ad_node_name(const ad_node *n);        /* ad_set_name's, or NULL */
bool ad_node_is_leaf(const ad_node *n);            /* made by ad_variable, ad_constant... */
/* Does this node belong to ctx? (pointer check without dereferencing) */
bool ad_node_in_context(const ad_context *ctx, const ad_node *n);
const char *ad_node_op_name(const ad_node *n);   /* "leaf", "const", "add"... */

#ifdef __cplusplus
}
#endif
#endif
