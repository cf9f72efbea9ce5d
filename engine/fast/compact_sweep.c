/* compact_sweep.c: reverse mode over the fast path's records. The same push
 * sweep as core/backward.c (Version B: ids from the output down, each node
 * once its adjoint is complete pushing grad[in] += dy/din * grad[node] into
 * its inputs), where a node may be a 32-byte record (fast_internal.h) and a
 * 0-d op's derivative comes from its scalar kernel `d` (ad_op.h) instead of
 * its vjp. The numbers are the vjp's, bit for bit: `(T)(g * d)` added in T,
 * as every elementwise vjp rounds (tests/test_fast_path.c compares). */
#include "fast_internal.h"

/* Full node n, 0-d on the CPU, whose op has scalar kernels: its step of the
 * push sweep by `d`, reading only the nodes' first 64 bytes. AD_ERR_ARG,
 * before anything is done and with no message, when an input is not a 0-d
 * CPU node of n's dtype (an op that says it is elementwise but is not): the
 * vjp does it then. */
ad_status ad_fast_scalar_vjps(ad_context *ctx, ad_node *n, const ad_backward_opts *o, uint32_t epoch,
                              uint32_t *pending)
{
    const ad_scalar_kernels *sk = n->op->scalar;
    if (n->n_in < 1 || n->n_in > 2 || !n->op->cpu.vjp) return AD_ERR_ARG;
    for (int s = 0; s < n->n_in; s++)
        if (!(n->in[s]->flags & AD_NODE_SCALAR) || ((n->in[s]->flags ^ n->flags) & AD_NODE_F32)) return AD_ERR_ARG;
    double a = scalar_value(n->in[0]), b = n->n_in > 1 ? scalar_value(n->in[1]) : 0, y = scalar_value(n);
    bool f32 = (n->flags & AD_NODE_F32) != 0;
    for (int s = 0; s < n->n_in; s++) {
        ad_node *in = n->in[s];
        if (!node_wants_grad(in)) continue;
        *pending += in->mark != epoch && in->op;   /* (read before node_touch marks it) */
        node_touch(in, epoch);                     /* a CPU scalar's: cannot fail */
        if (f32) in->inline_grad.f32 += (float)((double)n->inline_grad.f32 * sk->d(a, b, y, s));
        else in->inline_grad.f64 += n->inline_grad.f64 * sk->d(a, b, y, s);
        ad_status st;
        if (ctx->check_finite && (st = ad_check_finite_grad(n, s, 1, n->grad, in->grad)) != AD_OK) return st;
        if (o->hook) {
            ad_backward_step step = {ad_handle_of(n), s, ad_handle_of(in), false};
            o->hook(&step, o->hook_user);
        }
    }
    return AD_OK;
}

/* The same step for record r, whose inputs are records or full 0-d CPU
 * nodes of its dtype: no hook and no finiteness check here (ad_fast_backward
 * takes no pass that asks for them). */
static void compact_vjps(ad_context *ctx, const scalar_rec *r, uint32_t epoch, uint32_t *pending)
{
    const ad_scalar_kernels *sk = rec_op(ctx, r)->scalar;
    int n_in = rec_n_in(r);
    bool f32 = (r->flags & REC_F32) != 0;
    scalar_rec *rin[2] = {NULL, NULL};
    ad_node *nin[2] = {NULL, NULL};
    double v[2] = {0, 0};
    for (int s = 0; s < n_in; s++) {
        if (!(r->flags & (REC_IN0_FULL << s)) && (rin[s] = compact_rec(ctx, r->in[s])))
            v[s] = f32 ? (double)rin[s]->value.f32 : rin[s]->value.f64;
        else
            v[s] = scalar_value(nin[s] = node_at(ctx, r->in[s]));
    }
    double y = f32 ? (double)r->value.f32 : r->value.f64;
    for (int s = 0; s < n_in; s++) {
        double d = sk->d(v[0], v[1], y, s);
        if (rin[s]) {
            scalar_rec *in = rin[s];
            if (!rec_wants_grad(in)) continue;   /* a constant, or made with nothing to record */
            if (in->mark != epoch) {   /* first touch: an intermediate's adjoint starts at 0, a leaf's adds up */
                in->mark = epoch;
                if (in->op) {
                    ++*pending;
                    in->grad.f64 = 0;
                    in->flags |= REC_HAS_GRAD;
                }
            }
            if (f32) in->grad.f32 += (float)((double)r->grad.f32 * d);
            else in->grad.f64 += r->grad.f64 * d;
        } else {
            ad_node *in = nin[s];
            if (!node_wants_grad(in)) continue;
            *pending += in->mark != epoch && in->op;   /* (read before node_touch marks it) */
            node_touch(in, epoch);                     /* a CPU scalar's: cannot fail */
            if (f32) in->inline_grad.f32 += (float)((double)r->grad.f32 * d);
            else in->inline_grad.f64 += r->grad.f64 * d;
        }
    }
}

bool ad_fast_backward(ad_context *ctx, ad_node *h, const ad_backward_opts *o, ad_status *st)
{
    uint32_t yid;
    scalar_rec *y;
    if (o->variant != AD_BACKWARD_PUSH || o->hook || o->cotangent || !ad_is_fast_handle(h) ||
        !ad_context_alive(ctx) || ctx->check_finite || !ad_fast_own_id(ctx, h, &yid) || !(y = compact_rec(ctx, yid)) ||
        !y->op)
        return false;
    if (ctx->epoch == UINT32_MAX) return false;   /* the pass counter wraps now: the core's pass (its wrap writes every record out) */
    /* seed: dy/dy = 1, in a fresh pass */
    uint32_t epoch = ad_next_epoch(ctx);
    y->mark = epoch;
    y->flags |= REC_HAS_GRAD;
    if (y->flags & REC_F32) y->grad.f32 = 1.0f;
    else y->grad.f64 = 1.0;
    /* the push sweep of core/backward.c, with records on the way (only when
     * the output is one: a full node's inputs are full nodes) */
    uint32_t pending = 1;
    *st = AD_OK;
    for (uint32_t id = yid + 1; pending > 0 && id-- > 0;) {
        scalar_rec *r = compact_rec(ctx, id);
        if (r) {
            if (r->mark != epoch || !r->op) continue;
            pending--;
            compact_vjps(ctx, r, epoch, &pending);
            continue;
        }
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        pending--;
        if ((*st = ad_push_node(ctx, n, o, epoch, &pending)) != AD_OK) break;
    }
    return true;
}

uint32_t ad_fast_zero_grad(ad_context *ctx)
{
    uint32_t id = ctx->compact_lo;
    for (; id < ctx->n_nodes && id < ctx->rec_hi; id++) {
        scalar_rec *r = compact_rec(ctx, id);
        if (!r) ad_node_zero_grad(node_at(ctx, id));
        else if (r->flags & REC_HAS_GRAD) r->grad.f64 = 0;   /* (8 bytes: a float32's too) */
    }
    return id;
}
