/* records.c: the fast path's records as the core sees them (the record half
 * of core/ad_fast_seam.h): which ids are records, writing a record out as a
 * full node ("materializing" it), from a record's handle to its node, what
 * the accessors read of a record in place, and the records' memory. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "fast_internal.h"

size_t ad_fast_state_size(void) { return sizeof(fast_state); }

void ad_fast_free(ad_context *ctx)
{
    fast_state *f = fast_of(ctx);
    for (int k = 0; k < MAX_NODE_CHUNKS; k++) {
        if (f->rec_map_len[k]) munmap(f->rec_chunk[k], f->rec_map_len[k]);
        else free(f->rec_chunk[k]);
    }
}

size_t ad_fast_bytes(const ad_context *ctx)
{
    size_t b = 0;
    for (int k = 0; k < ctx->n_node_chunks; k++)
        if (fast_of(ctx)->rec_chunk[k]) b += ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
    return b;
}

void ad_fast_rewound(ad_context *ctx)
{
    fast_state *f = fast_of(ctx);
    f->compact_ready_lo = f->compact_ready_hi = 0;   /* (compact_prepare: stale node memory) */
    f->compact_ready_bytes = 0;
}

bool ad_fast_holds(const ad_context *ctx, uint32_t id) { return compact_rec(ctx, id) != NULL; }

void ad_fast_forget(ad_context *ctx, uint32_t id)
{
    uint32_t off, k = node_chunk_index(id, &off);
    scalar_rec *c = fast_of(ctx)->rec_chunk[k];
    if (c && c[off].gen) c[off].gen = 0;
}

/* Write record `id`'s full node from r (its inputs are full nodes already),
 * as the scalar path would have made it: a new node's fields
 * (node_fields_init) and a 0-d value (ad_node_set_value), then the record's. */
static void materialize(ad_context *ctx, uint32_t id, scalar_rec *r)
{
    ad_node *n = node_at(ctx, id);
    node_fields_init(n, ctx, id);
    ad_node_set_value(n, (r->flags & REC_F32) ? AD_FLOAT32 : AD_FLOAT64, 0, NULL, 1, AD_CPU);   /* 0-d: cannot fail */
    const ad_op *op = rec_op(ctx, r);
    n->mark = r->mark;
    n->n_in = (uint8_t)rec_n_in(r);
    n->flags |= AD_NODE_BORN_COMPACT | (op ? AD_NODE_RECORDING | AD_NODE_REQUIRES_GRAD : 0) |
                ((r->flags & REC_LEAF) ? AD_NODE_LEAF : 0) | ((r->flags & REC_VARIABLE) ? AD_NODE_REQUIRES_GRAD : 0);
    n->gen = r->gen;
    n->op = op;
    n->inline_value.f64 = r->value.f64;   /* (8 bytes: a float32's too) */
    n->inline_grad.f64 = r->grad.f64;
    n->grad = (r->flags & REC_HAS_GRAD) ? &n->inline_grad : NULL;
    for (int s = 0; s < n->n_in && s < 2; s++) n->in[s] = node_at(ctx, r->in[s]);   /* (a record has two) */
    if (id >= ctx->node_written_hi) ctx->node_written_hi = id + 1;
    r->gen = 0;
}

void ad_fast_materialize_upto(ad_context *ctx, uint32_t id)
{
    if (ctx->n_nodes == 0) return;
    if (id >= ctx->n_nodes) id = ctx->n_nodes - 1;
    for (uint32_t j = ctx->compact_lo; j <= id && j < ctx->n_nodes; j++) {
        scalar_rec *r = compact_rec(ctx, j);
        if (r) materialize(ctx, j, r);
    }
    if (ctx->compact_lo <= id) ctx->compact_lo = id + 1;   /* (records made from now on have larger ids) */
}

/* ---- from a record's handle to its node ---- */
bool ad_fast_record_id(const ad_context *ctx, const ad_node *h, uint32_t *id)
{
    return rec_locate(ctx, ad_node_addr(h), id) && *id < ctx->n_nodes;
}

bool ad_fast_own_id(const ad_context *ctx, const ad_node *h, uint32_t *id)
{
    if (!ad_fast_record_id(ctx, h, id)) return false;
    const scalar_rec *r = rec_at(ctx, *id);
    unsigned tag = ad_handle_tag(h);
    return tag == 0 || tag == (r->gen ? r->gen : node_at(ctx, *id)->gen);
}

static bool holds_record(const ad_context *ctx, const void *p, uint32_t *id) { return rec_locate(ctx, p, id); }

/* h's context and id, and its record (NULL once the node is a full one).
 * false, with a message naming who, if h names no live node. */
static bool lookup(const ad_node *h, const char *who, ad_context **ctx, uint32_t *id, scalar_rec **rec)
{
    if (!(*ctx = ad_live_context_holding(holds_record, ad_node_addr(h), id))) {
        ad_fail(AD_ERR_STATE, "%s: the node belongs to no live context (its context was freed)", who);
        return false;
    }
    if (!ad_fast_own_id(*ctx, h, id)) {
        ad_stale_id(*ctx, *id, who);
        return false;
    }
    *rec = compact_rec(*ctx, *id);
    return true;
}

ad_node *ad_fast_resolve(const ad_node *h, const char *who)
{
    ad_context *ctx;
    uint32_t id;
    scalar_rec *r;
    if (!lookup(h, who, &ctx, &id, &r)) return NULL;
    if (r) ad_fast_materialize_upto(ctx, id);
    return node_at(ctx, id);
}

bool ad_fast_peek_at(const ad_node *h, const char *who, ad_fast_peek *p)
{
    memset(p, 0, sizeof *p);
    scalar_rec *r;
    if (!lookup(h, who, &p->ctx, &p->id, &r)) return false;
    if ((p->compact = r != NULL)) {
        p->value = rec_number(r, false);
        p->grad = rec_number(r, true);
        p->op = rec_op(p->ctx, r);
        p->leaf = (r->flags & REC_LEAF) != 0;
        p->wants_grad = rec_wants_grad(r);
    }
    return true;
}

ad_node *ad_fast_handle_of_id(const ad_context *ctx, uint32_t id)
{
    const scalar_rec *r = compact_rec(ctx, id);
    return r ? compact_handle(r, r->gen) : NULL;
}

ad_node *ad_born_compact_handle(const ad_node *n) { return compact_handle(rec_at(n->ctx, n->id), n->gen); }

const char *ad_fast_op_name(const ad_context *ctx, uint32_t id)
{
    const scalar_rec *r = compact_rec(ctx, id);
    if (!r) return NULL;
    if (r->op) return rec_op(ctx, r)->name;
    return (r->flags & REC_VARIABLE) ? "variable" : "constant";
}
