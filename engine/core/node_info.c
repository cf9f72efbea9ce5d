/* node_info.c: what a node is, besides its numbers (access.c): its id,
 * context, op, params and inputs (walking the graph), its name, whether it
 * is a leaf and whether it requires grad. A node the fast path holds as a
 * record (ad_fast_seam.h) is read in place where that is all a call reads. */
#include <string.h>
#include "ad_internal.h"

uint32_t ad_node_id(const ad_node *h)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) return ad_fast_peek_at(h, "node_id", &p) ? p.id : 0;
    const ad_node *n = node_or_fail(h, "node_id");
    return n ? n->id : 0;
}

ad_context *ad_node_context(const ad_node *h)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) return ad_fast_peek_at(h, "node_context", &p) ? p.ctx : NULL;
    const ad_node *n = node_or_fail(h, "node_context");
    return n ? n->ctx : NULL;
}

int ad_node_input_count(const ad_node *h)
{
    const ad_node *n = node_or_fail(h, "node_input_count");
    return n ? n->n_in : 0;
}

ad_node *ad_node_input(const ad_node *h, int slot)
{
    const ad_node *n = node_or_fail(h, "node_input");
    if (!n) return NULL;
    if (slot < 0 || slot >= n->n_in) {
        ad_fail(AD_ERR_ARG, "node_input: node #%u (%s) has %d recorded inputs, slot %d asked", n->id,
                ad_node_op_name(n), n->n_in, slot);
        return NULL;
    }
    return ad_handle_of(n->in[slot]);
}

const ad_op *ad_node_op(const ad_node *h)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) {
        if (!ad_fast_peek_at(h, "node_op", &p)) return NULL;
        if (p.compact) return p.op;
    }
    const ad_node *n = node_or_fail(h, "node_op");
    return n ? n->op : NULL;
}

const ad_params *ad_node_params(const ad_node *h)
{
    const ad_node *n = node_or_fail(h, "node_params");
    return n ? n->params : NULL;
}

const char *ad_node_name(const ad_node *h)
{
    const ad_node *n = node_or_fail(h, "node_name");
    return n ? n->name : NULL;
}

bool ad_node_is_leaf(const ad_node *h)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) {
        if (!ad_fast_peek_at(h, "node_is_leaf", &p)) return false;
        if (p.compact) return p.leaf;
    }
    const ad_node *n = node_or_fail(h, "node_is_leaf");
    return n && (n->flags & AD_NODE_LEAF) != 0;
}

const char *ad_node_op_name(const ad_node *h)
{
    if (!h) return "null";
    ad_fast_peek p;
    if (ad_is_fast_handle(h) && ad_fast_peek_at(h, "node_op_name", &p) && p.compact) return ad_op_name_at(p.ctx, p.id);
    const ad_node *n = node_resolve(h, "node_op_name");
    if (!n) return "dropped";
    if (n->op) return n->op->name;
    if (n->flags & AD_NODE_LEAF) return (n->flags & AD_NODE_REQUIRES_GRAD) ? "variable" : "constant";
    return "constant";   /* an op result computed without recording */
}

/* ---- names and requires-grad ---- */
ad_node *ad_set_name(ad_node *h, const char *name)
{
    ad_node *n = node_resolve(h, "set_name");
    if (!n || !name) return n ? h : NULL;
    size_t len = strlen(name) + 1;
    char *copy = ad_arena_alloc(n->ctx, len);
    if (copy) {
        memcpy(copy, name, len);
        n->name = copy;
    }
    return h;
}

void ad_set_requires_grad(ad_node *h, bool on)
{
    ad_node *n = node_resolve(h, "set_requires_grad");
    if (!n) return;
    if (on) {
        n->flags |= AD_NODE_REQUIRES_GRAD;
        if (n->flags & AD_NODE_LEAF) ad_node_ensure_grad(n, false);
    } else {
        n->flags &= (uint8_t)~AD_NODE_REQUIRES_GRAD;
    }
}

bool ad_requires_grad(const ad_node *h)
{
    if (!h) return false;
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) {
        if (!ad_fast_peek_at(h, "requires_grad", &p)) return false;
        if (p.compact) return p.wants_grad;
    }
    const ad_node *n = node_resolve(h, "requires_grad");
    return n && (n->flags & AD_NODE_REQUIRES_GRAD) != 0;
}
