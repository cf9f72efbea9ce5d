/* hvp.c: second order. Hessian-vector products by forward-over-reverse.
 *
 * For a scalar L(x) the Hessian-vector product H·v is the derivative of the
 * gradient along v: H·v = d/dε ∇L(x + εv) at ε = 0. Forward mode computes
 * exactly such derivatives, so we differentiate the reverse sweep itself in
 * forward mode:
 *  1. the forward pass already carries tangents: with v as the leaves'
 *     tangents (ad_set_tangent), every node holds its value y and ẏ = dy/dε;
 *  2. the reverse sweep carries, beside each node's adjoint ḡ = ∂L/∂y, its
 *     tangent ġ = dḡ/dε. An op y = f(x_1..x_k) adds into input s
 *         ḡ_s += J_sᵀ ḡ                                       (the vjp)
 *     and, differentiating that line by the product rule,
 *         ġ_s += J_sᵀ ġ  +  (dJ_s/dε)ᵀ ḡ                      (its tangent)
 *     The first term is the op's own vjp applied to ġ; the second is the
 *     op's second-order rule (ad_op.h's vjp_tangent): for y = f(x)
 *     elementwise it is ḡ·f''(x)·ẋ, for y = a·b it is ḡ·ḃ into a's.
 *  3. at a leaf x, ġ is (H·v) restricted to x's elements.
 * One sweep costs about two vjps and one rule per edge: H·v costs a small
 * constant times a gradient, however many inputs there are (a full Hessian
 * of n inputs is n such products). JAX calls this jvp(grad(f)).
 *
 * Why forward-over-reverse, and not a reverse sweep that records its own
 * graph (PyTorch's create_graph): every vjp here is a kernel, not a
 * composition of ops, so a recorded backward would mean writing every vjp
 * again as ops; the tangent of a vjp is one short rule beside it, in the
 * op's own file, checked by gradcheck --order 2 like everything else. */
#include <stdio.h>
#include <stdlib.h>
#include "ad_internal.h"

bool ad_op_second_order(const ad_op *op)
{
    return op && (op->cpu.vjp_tangent || (op->flags & (AD_OP_LINEAR | AD_OP_PIECEWISE_LINEAR)));
}

/* The sweep's two buffers per node id in [lo, y]: the adjoint ḡ and its
 * tangent ġ, zeroed, from the context's arena (as node grads are: reused
 * after a rewind, where fresh heap memory would cost a page fault per page
 * on every sweep); in a context with guard zones (gradcheck's) each lies
 * between zones, looked at after every call that writes it. */
typedef struct hvp_bufs {
    void **g, **gdot;
    size_t *bytes;
    bool guarded;
} hvp_bufs;

static void bufs_free(hvp_bufs *b)
{
    free(b->g);
    free(b->gdot);
    free(b->bytes);
}

/* After n's kernels wrote into input s's ḡ and ġ: fail, naming the op and
 * the call, where one wrote outside the buffer (guarded contexts only). */
static ad_status check_zones(const hvp_bufs *b, const ad_node *n, int s, uint32_t i)
{
    const char *what[2] = {"vjp wrote outside input %d's adjoint", "vjp or second-order rule (vjp_tangent) wrote "
                                                                    "outside input %d's adjoint tangent"};
    void *buf[2] = {b->g[i], b->gdot[i]};
    for (int k = 0; k < 2 && b->guarded; k++) {
        int64_t where;
        if (ad_guard_intact(buf[k], b->bytes[i], &where)) continue;
        char msg[160];
        snprintf(msg, sizeof msg, what[k], s);
        return ad_fail(AD_ERR_ARG, "hvp: op %s (node #%u): %s (byte %lld of %zu)", n->op->name, n->id, msg,
                       (long long)where, b->bytes[i]);
    }
    return AD_OK;
}

/* What ad_hvp refuses before it sweeps: a node on the GPU, an op the
 * sweep cannot pass through (first-order only), named; and a graph in which
 * no node carries a tangent (v never reached it: H·v would be 0 whatever H). */
static ad_status check_graph(ad_context *ctx, const ad_node *y, uint32_t epoch, uint32_t lo)
{
    bool moved = false;
    for (uint32_t id = lo; id <= y->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (n->mark != epoch) continue;
        moved = moved || n->tangent;
        if (n->value.device != AD_CPU)
            return ad_fail(AD_ERR_DEVICE, "hvp: node #%u (%s) is on the GPU; second order runs on the CPU", id,
                           n->op ? n->op->name : "a leaf");
        if (n->op && !ad_op_second_order(n->op))   /* (a GPU node was refused above: the CPU's kernels) */
            return ad_fail(AD_ERR_ARG,
                           "hvp: op %s (node #%u) is first-order only: it has no second-order rule (vjp_tangent)",
                           n->op->name, id);
    }
    if (!moved)
        return ad_fail(AD_ERR_STATE, "hvp: no node on the way to the output carries a tangent: set v on the leaves "
                       "(ad_set_tangent) before making the ops that use them, and again after a rewind, which drops "
                       "tangents");
    return AD_OK;
}

static ad_status hvp_sweep(ad_context *ctx, ad_node *y, const void *cotangent, int dir, int n_wrt,
                           ad_node *const *wrt, void *const *grads, void *const *hvs)
{
    /* 1. What y depends on: ids in [lo, y], marked with this pass's epoch. */
    uint32_t epoch = ad_next_epoch(ctx), lo;
    y->mark = epoch;
    ad_status st = ad_mark_inputs(ctx, y, epoch, false, "hvp", &lo);
    if (st == AD_OK) st = check_graph(ctx, y, epoch, lo);
    if (st != AD_OK) return st;
    /* 2. Zeroed ḡ and ġ for every node on the way. */
    uint32_t span = y->id + 1 - lo;
    hvp_bufs b = {calloc(span, sizeof(void *)), calloc(span, sizeof(void *)), calloc(span, sizeof(size_t)),
                  ctx->guards};
    for (uint32_t id = lo; id <= y->id && b.g && b.gdot && b.bytes; id++) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch) continue;
        b.bytes[id - lo] = (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype);
        b.g[id - lo] = ad_arena_alloc(ctx, b.bytes[id - lo]);
        b.gdot[id - lo] = ad_arena_alloc(ctx, b.bytes[id - lo]);
        if (!b.g[id - lo] || !b.gdot[id - lo]) break;
    }
    if (!b.g || !b.gdot || !b.bytes || !b.g[y->id - lo] || !b.gdot[y->id - lo]) {
        bufs_free(&b);
        return ad_fail(AD_ERR_NOMEM, "hvp: out of memory for the adjoints of %u nodes", span);
    }
    /* 3. The seed: ḡ_y = w (or 1 for a scalar y), ġ_y = 0 (w does not move with x). */
    ad_tensor gy = y->value;
    gy.data = b.g[y->id - lo];
    if (cotangent) st = ad_buffer_add(y, gy.data, cotangent, y->value.size);
    else ad_tensor_set(&gy, 0, 1.0);
    /* 4. The sweep, the push variant's (backward.c), ids from y down. */
    for (uint32_t id = y->id + 1; st == AD_OK && id-- > lo;) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        const ad_op_kernels *k = ad_kernels_of(n);
        void *g = b.g[id - lo], *gdot = b.gdot[id - lo];
        for (int s = 0; s < n->n_in && st == AD_OK; s++) {
            ad_node *in = n->in[s];
            if (!node_wants_grad(in)) continue;
            void *gin = b.g[in->id - lo], *gin_dot = b.gdot[in->id - lo];
            k->vjp(n, s, 1, g, gin);                                  /* ḡ_s += J_sᵀ ḡ */
            k->vjp(n, s, 1, gdot, gin_dot);                           /* ġ_s += J_sᵀ ġ */
            if (k->vjp_tangent) k->vjp_tangent(n, s, dir, g, gin_dot);   /* ġ_s += (dJ_s/dε)ᵀ ḡ */
            if ((st = check_zones(&b, n, s, in->id - lo)) != AD_OK) break;
            if (ctx->check_finite && (st = ad_check_finite_grad(n, s, 1, g, gin)) == AD_OK)
                st = ad_check_finite_grad(n, s, 1, gdot, gin_dot);
        }
    }
    /* 5. The nodes asked for: ḡ into grads, ġ into hvs. */
    for (int i = 0; i < n_wrt && st == AD_OK; i++) {
        if (wrt[i]->mark != epoch) continue;   /* y does not depend on it: both are 0 */
        int64_t count = wrt[i]->value.size;
        st = ad_buffer_add(wrt[i], hvs[i], b.gdot[wrt[i]->id - lo], count);
        if (st == AD_OK && grads && grads[i]) st = ad_buffer_add(wrt[i], grads[i], b.g[wrt[i]->id - lo], count);
    }
    bufs_free(&b);
    return st;
}

ad_status ad_hvp(ad_context *ctx, ad_node *handle, const ad_tensor *cotangent, int dir, int n_wrt,
                 ad_node *const *wrt_handles, void *const *grads, void *const *hvs)
{
    ad_node *y;
    ad_status st = ad_check_output(ctx, handle, "hvp", &y);
    if (st != AD_OK) return st;
    if ((st = ad_check_cotangent(y, cotangent)) != AD_OK) return st;
    if (ctx->dirs < 1)
        return ad_fail(AD_ERR_STATE, "hvp: forward mode is off; build the graph after ad_forward_dirs(ctx, k) and "
                       "ad_set_tangent(leaf, dir, v, -1): v is the vector H multiplies");
    if (dir < 0 || dir >= ctx->dirs)
        return ad_fail(AD_ERR_ARG, "hvp: direction %d out of range 0..%d", dir, ctx->dirs - 1);
    if (n_wrt < 1 || !wrt_handles || !hvs)
        return ad_fail(AD_ERR_ARG, "hvp: needs 1 or more nodes with their H·v buffers (got %d)", n_wrt);
    ad_node **wrt = malloc((size_t)n_wrt * sizeof *wrt);   /* the nodes behind the handles */
    if (!wrt) return ad_fail(AD_ERR_NOMEM, "hvp: out of memory for a list of %d nodes", n_wrt);
    st = ad_check_wrt(ctx, "hvp", n_wrt, wrt_handles, hvs, "H·v", wrt);
    if (st == AD_OK) st = hvp_sweep(ctx, y, cotangent ? cotangent->data : NULL, dir, n_wrt, wrt, grads, hvs);
    free(wrt);
    return st;
}
