/* backward.c: reverse mode.
 *
 * Node ids are a topological order (inputs are made before the ops that use
 * them), so the backward pass is one sweep over ids from the output down,
 * with no recursion and no sort. Two variants, as the 10-601 lecture teaches:
 *  - PUSH (Version B, the default): each node, once its adjoint is complete,
 *    pushes its contribution J^T * adjoint into each input's grad (+=).
 *  - PULL (Version A): each node computes its adjoint by pulling, from each
 *    of its consumers, that consumer's J^T * adjoint. Needs consumer lists.
 * Leaves accumulate across calls (call ad_zero_grad between steps); the
 * adjoints of intermediate nodes are recomputed fresh by every pass. */
#include <stdlib.h>
#include <string.h>
#include "ad_device.h"
#include "ad_internal.h"
#include "ad_kernel.h"

/* dL/dy += the cotangent (checked: ad_check_cotangent), or += 1 for a scalar y. */
static ad_status seed_output(ad_node *y, const ad_tensor *cot, uint32_t epoch)
{
    ad_status st = node_touch(y, epoch);
    if (st != AD_OK) return st;
    if (y->value.device == AD_CUDA)   /* grad += cotangent (or += 1 for a scalar), on the device */
        return ad_gpu_add_into((ad_dtype)y->value.dtype, y->grad, cot ? cot->data : NULL, y->value.size);
    ad_tensor g = y->value;
    g.data = y->grad;
    if (!cot) {
        ad_tensor_set(&g, 0, ad_tensor_get(&g, 0) + 1.0);
    } else {
        AD_DISPATCH(y->value.dtype, {
            T *G = g.data;
            const T *C = cot->data;
            for (int64_t i = 0; i < cot->size; i++) G[i] += C[i];
        });
    }
    return AD_OK;
}

/* One step of the push sweep (ad_internal.h): node n, its adjoint complete,
 * adds J^T grad[n] into each input's grad; the fast path's sweep over records
 * takes this step for the full nodes it meets. */
ad_status ad_push_node(ad_context *ctx, ad_node *n, const ad_backward_opts *o, uint32_t epoch, uint32_t *pending)
{
    if ((n->flags & AD_NODE_SCALAR) && n->op->scalar && ctx->fast) {   /* the fast path's step (ad_fast_seam.h) */
        ad_status st = ad_fast_scalar_vjps(ctx, n, o, epoch, pending);
        if (st != AD_ERR_ARG) return st;   /* (AD_ERR_ARG: not for it, no message set) */
    }
    const ad_op_kernels *k = ad_kernels_of(n);
    for (int s = 0; s < n->n_in; s++) {
        ad_node *in = n->in[s];
        if (!node_wants_grad(in)) continue;
        if (!k->vjp) return ad_fail(AD_ERR_ARG, "backward: op %s has no vjp for input %d", n->op->name, s);
        *pending += in->mark != epoch && in->op;   /* (read before node_touch marks it) */
        ad_status st = node_touch(in, epoch);
        if (st != AD_OK) return st;
        k->vjp(n, s, 1, n->grad, in->grad);   /* grad[in] += J^T grad[n] */
        if ((st = ad_device_status(n, s)) != AD_OK) return st;
        if (ctx->check_finite && (st = ad_check_finite_grad(n, s, 1, n->grad, in->grad)) != AD_OK) return st;
        if (o->hook) {
            ad_backward_step step = {ad_handle_of(n), s, ad_handle_of(in), false};
            o->hook(&step, o->hook_user);
        }
    }
    return AD_OK;
}

/* Version B: the push sweep from output y (its adjoint seeded). */
static ad_status backward_push(ad_context *ctx, ad_node *y, const ad_backward_opts *o, uint32_t epoch)
{
    /* The sweep stops once every touched node with an op has been visited
     * (pending counts those not yet visited): below the lowest of them no node
     * has anything to pass on, and leaves are touched, never visited. A
     * context that holds many nodes older than the graph (lesson 17's 200,000
     * scalar leaves before its MLP, bench_scalar's 2n) costs nothing per pass.
     * (A count, not the lowest id: a node's id is not in its first 64 bytes.) */
    uint32_t pending = y->op != NULL;
    for (uint32_t id = y->id + 1; pending > 0 && id-- > 0;) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;   /* not on the way to y, or a leaf */
        pending--;
        ad_status st = ad_push_node(ctx, n, o, epoch, &pending);
        if (st != AD_OK) return st;
    }
    return AD_OK;
}

/* Mark, with this pass's epoch, every node y (marked by the caller) depends
 * on through nodes that want grads, giving each a grad buffer as touch does
 * when `grads`; *lo: the lowest id marked. An op without a vjp on the way
 * fails, named, before anything else is done. */
ad_status ad_mark_inputs(ad_context *ctx, const ad_node *y, uint32_t epoch, bool grads, const char *who,
                         uint32_t *lo)
{
    *lo = y->id;
    for (uint32_t id = y->id + 1; id-- > *lo;) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        for (int s = 0; s < n->n_in; s++) {
            ad_node *in = n->in[s];
            if (!node_wants_grad(in)) continue;
            if (!ad_kernels_of(n)->vjp)
                return ad_fail(AD_ERR_ARG, "%s: op %s has no vjp for input %d", who, n->op->name, s);
            if (!grads) in->mark = epoch;
            else {
                ad_status st = node_touch(in, epoch);
                if (st != AD_OK) return st;
            }
            if (in->id < *lo) *lo = in->id;
        }
    }
    return AD_OK;
}

static ad_status backward_pull(ad_context *ctx, ad_node *y, const ad_backward_opts *o, uint32_t epoch)
{
    /* 1. Which nodes does y depend on? All have ids in [lo, n_ids): the
     * lists below cover that span only, so the nodes a context holds below
     * the graph cost nothing (as in the push sweep). */
    uint32_t n_ids = y->id + 1, lo;
    ad_status st = ad_mark_inputs(ctx, y, epoch, true, "backward", &lo);
    if (st != AD_OK) return st;
    uint32_t span = n_ids - lo;   /* node id -> list index id - lo */
    /* 2. Consumer lists (compressed rows): for each node, the (consumer, slot)
     * edges that use it, consumers in decreasing id order. */
    uint32_t *start = calloc((size_t)span + 1, sizeof *start);
    if (!start) return ad_fail(AD_ERR_NOMEM, "backward: out of memory for consumer lists");
    size_t n_edges = 0;
    for (uint32_t id = lo; id < n_ids; id++) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        for (int s = 0; s < n->n_in; s++)
            if (node_wants_grad(n->in[s])) {
                start[n->in[s]->id - lo + 1]++;
                n_edges++;
            }
    }
    for (uint32_t i = 0; i < span; i++) start[i + 1] += start[i];
    uint64_t *edge = malloc((n_edges ? n_edges : 1) * sizeof *edge);   /* consumer id << 2 | slot */
    uint32_t *fill = malloc((size_t)span * sizeof *fill);
    if (!edge || !fill) {
        free(start);
        free(edge);
        free(fill);
        return ad_fail(AD_ERR_NOMEM, "backward: out of memory for consumer lists");
    }
    memcpy(fill, start, (size_t)span * sizeof *fill);
    for (uint32_t id = n_ids; id-- > lo;) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        for (int s = 0; s < n->n_in; s++)
            if (node_wants_grad(n->in[s])) edge[fill[n->in[s]->id - lo]++] = ((uint64_t)id << 2) | (uint64_t)s;
    }
    /* 3. Sweep: each node pulls its adjoint from its consumers, which all
     * have larger ids and so are final already. */
    for (uint32_t id = n_ids; id-- > lo && st == AD_OK;) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || n == y) continue;
        for (uint32_t e = start[id - lo]; e < start[id - lo + 1] && st == AD_OK; e++) {
            ad_node *c = node_at(ctx, (uint32_t)(edge[e] >> 2));
            int slot = (int)(edge[e] & 3);
            ad_kernels_of(c)->vjp(c, slot, 1, c->grad, n->grad);
            st = ad_device_status(c, slot);
            if (ctx->check_finite && st == AD_OK) st = ad_check_finite_grad(c, slot, 1, c->grad, n->grad);
            if (o->hook) {
                ad_backward_step step = {ad_handle_of(c), slot, ad_handle_of(n), e + 1 == start[id - lo + 1]};
                o->hook(&step, o->hook_user);
            }
        }
    }
    free(start);
    free(edge);
    free(fill);
    return st;
}

ad_status ad_backward_ex(ad_context *ctx, ad_node *handle, const ad_backward_opts *opts)
{
    ad_backward_opts defaults = {AD_BACKWARD_PUSH, NULL, NULL, NULL};
    const ad_backward_opts *o = opts ? opts : &defaults;
    ad_status st;
    if (ad_fast_backward(ctx, handle, o, &st)) return st;   /* an output the fast path holds */
    ad_node *y;
    st = ad_check_output(ctx, handle, "backward", &y);
    if (st != AD_OK) return st;
    if (o->variant != AD_BACKWARD_PUSH && o->variant != AD_BACKWARD_PULL)
        return ad_fail(AD_ERR_ARG, "backward: unknown variant %d", (int)o->variant);
    if ((st = ad_check_cotangent(y, o->cotangent)) != AD_OK) return st;
    uint32_t epoch = ad_next_epoch(ctx);
    if ((st = seed_output(y, o->cotangent, epoch)) != AD_OK) return st;
    if (o->variant == AD_BACKWARD_PULL) return backward_pull(ctx, y, o, epoch);
    return backward_push(ctx, y, o, epoch);
}

ad_status ad_backward(ad_context *ctx, ad_node *y) { return ad_backward_ex(ctx, y, NULL); }

void ad_node_zero_grad(ad_node *h)
{
    ad_node *n = node_resolve(h, "node_zero_grad");
    if (n && n->grad) ad_node_ensure_grad(n, true);
}

void ad_zero_grad(ad_context *ctx)
{
    if (ad_check_context(ctx, "zero_grad") != AD_OK) return;
    /* the fast path zeroes the span where its records are, [compact_lo, end) */
    uint32_t end = ctx->compact_lo < ctx->n_nodes ? ad_fast_zero_grad(ctx) : ctx->n_nodes;
    for (uint32_t id = 0; id < ctx->n_nodes; id++) {
        if (id == ctx->compact_lo && id < end) id = end;
        if (id < ctx->n_nodes) ad_node_zero_grad(node_at(ctx, id));
    }
}
