/* handles.c: from a handle to its node. A handle is a node's address with
 * its generation in the top bits (ad_kernel.h), or, for a compact node of
 * the fast path, its record's address with bit 0 set; this file finds the
 * node (or record) behind one, and says why one is refused. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"

/* The op name of node `id` of ctx, full or compact, for messages. */
const char *ad_op_name_at(const ad_context *ctx, uint32_t id)
{
    const scalar_rec *r = compact_rec(ctx, id);
    if (!r) return ad_node_op_name(node_at(ctx, id));
    if (r->op) return ctx->scalar_ops[r->op - 1]->name;
    return (r->flags & REC_VARIABLE) ? "variable" : "constant";
}

/* Why a handle to node `id` of ctx no longer names it; NULL. */
static ad_node *stale_message(const ad_context *ctx, uint32_t id, const char *who)
{
    if (id >= ctx->n_nodes)
        ad_fail(AD_ERR_STATE, "%s: node #%u was dropped by a rewind of its context (the context has %u nodes now); "
                "make it again after the rewind, or take the mark before making it", who, id, ctx->n_nodes);
    else
        ad_fail(AD_ERR_STATE, "%s: node #%u was dropped by a rewind of its context, and a node made since has taken "
                "its place (now a %s); make it again after the rewind, or take the mark before making it", who, id,
                ad_op_name_at(ctx, id));
    return NULL;
}

/* A compact node's handle h (bit 0): its context, id and record (NULL once
 * the node is a full one). false, with a message naming who, if h names no
 * live node. */
static bool compact_lookup(const ad_node *h, const char *who, ad_context **ctx, uint32_t *id, scalar_rec **rec)
{
    if (!(*ctx = ad_context_of_record(ad_node_addr(h), id))) {
        ad_fail(AD_ERR_STATE, "%s: the node belongs to no live context (its context was freed)", who);
        return false;
    }
    if (!own_compact_id(*ctx, h, id)) {
        stale_message(*ctx, *id, who);
        return false;
    }
    *rec = compact_rec(*ctx, *id);
    return true;
}

ad_node *ad_resolve_compact(const ad_node *h, const char *who)
{
    ad_context *ctx;
    uint32_t id;
    scalar_rec *r;
    if (!compact_lookup(h, who, &ctx, &id, &r)) return NULL;
    if (r) ad_materialize_upto(ctx, id);
    return node_at(ctx, id);
}

bool ad_node_ref_of(const ad_node *h, const char *who, node_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    if (!h) {
        ad_fail(AD_ERR_ARG, "%s: the node is NULL", who);
        return false;
    }
    if (!((uintptr_t)h & 1)) return (ref->n = node_resolve(h, who)) != NULL;
    if (!compact_lookup(h, who, &ref->ctx, &ref->id, &ref->rec)) return false;
    if (!ref->rec) ref->n = node_at(ref->ctx, ref->id);
    return true;
}
double ad_rec_number(const scalar_rec *r, bool grad)
{
    if (grad && !(r->flags & REC_HAS_GRAD)) return 0.0;
    if (r->flags & REC_F32) return (double)(grad ? r->grad.f32 : r->value.f32);
    return grad ? r->grad.f64 : r->value.f64;
}

ad_node *ad_stale_handle(const ad_node *h, const char *who)
{
    const ad_node *n = ad_node_addr(h);   /* (a full node's: node_resolve took a compact one elsewhere) */
    return stale_message(n->ctx, n->id, who);
}

ad_status ad_not_own_node(const ad_context *ctx, const ad_node *h, ad_status foreign, const char *who,
                          const char *what)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s: %s", who, what);
    const ad_node *n = ad_node_addr(h);
    int k = -1;
    uint32_t id = 0;
    bool ours = ((uintptr_t)h & 1) ? rec_locate(ctx, n, &id) && id < ctx->n_nodes
                                   : h && node_in_context(ctx, n, &k) && ((id = node_id_in_chunk(ctx, n, k)), true);
    if (ours) {   /* its memory is ctx's, below the count: a later node's now */
        stale_message(ctx, id, prefix);
        return AD_ERR_STATE;
    }
    return ad_fail(foreign, "%s does not belong to this context (made in another context, or dropped by a rewind)",
                   prefix);
}

bool ad_node_in_context(const ad_context *ctx, const ad_node *h)
{
    if (!ctx || !h) return false;
    uint32_t id;
    if ((uintptr_t)h & 1) return own_compact_id(ctx, h, &id);
    const ad_node *n = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    return node_in_context(ctx, n, NULL) && (tag == 0 || tag == n->gen);
}

ad_node *ad_born_compact_handle(const ad_node *n) { return compact_handle(rec_at(n->ctx, n->id), n->gen); }

ad_node *ad_node_by_id(const ad_context *ctx, uint32_t id)
{
    if (!ad_context_alive(ctx) || id >= ctx->n_nodes) return NULL;
    const scalar_rec *r = compact_rec(ctx, id);
    return r ? compact_handle(r, r->gen) : ad_handle_of(node_at(ctx, id));
}
