/* handles.c: from a handle to its node. A handle is a node's address with
 * its generation in the top bits (ad_kernel.h), or, for a node the fast path
 * made as a record, the record's address with bit 0 set (ad_fast_seam.h
 * finds those); this file says why a handle is refused. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"

const char *ad_op_name_at(const ad_context *ctx, uint32_t id)
{
    const char *name = node_is_record(ctx, id) ? ad_fast_op_name(ctx, id) : NULL;
    return name ? name : ad_node_op_name(node_at(ctx, id));
}

ad_node *ad_stale_id(const ad_context *ctx, uint32_t id, const char *who)
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

ad_node *ad_stale_handle(const ad_node *h, const char *who)
{
    const ad_node *n = ad_node_addr(h);   /* (a full node's: node_resolve gives a record's to the fast path) */
    return ad_stale_id(n->ctx, n->id, who);
}

ad_status ad_not_own_node(const ad_context *ctx, const ad_node *h, ad_status foreign, const char *who,
                          const char *what)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s: %s", who, what);
    const ad_node *n = ad_node_addr(h);
    int k = -1;
    uint32_t id = 0;
    bool ours = ad_is_fast_handle(h) ? ad_fast_record_id(ctx, h, &id)
                                     : h && node_in_context(ctx, n, &k) && ((id = node_id_in_chunk(ctx, n, k)), true);
    if (ours) {   /* its memory is ctx's, below the count: a later node's now */
        ad_stale_id(ctx, id, prefix);
        return AD_ERR_STATE;
    }
    return ad_fail(foreign, "%s does not belong to this context (made in another context, or dropped by a rewind)",
                   prefix);
}

bool ad_node_in_context(const ad_context *ctx, const ad_node *h)
{
    if (!ctx || !h) return false;
    uint32_t id;
    if (ad_is_fast_handle(h)) return ad_fast_own_id(ctx, h, &id);
    const ad_node *n = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    return node_in_context(ctx, n, NULL) && (tag == 0 || tag == n->gen);
}

ad_node *ad_node_by_id(const ad_context *ctx, uint32_t id)
{
    if (!ad_context_alive(ctx) || id >= ctx->n_nodes) return NULL;
    ad_node *h = node_is_record(ctx, id) ? ad_fast_handle_of_id(ctx, id) : NULL;
    return h ? h : ad_handle_of(node_at(ctx, id));
}
