/* access.c: reading a node through its handle: values, grads, tangents,
 * views and copies, and walking the graph (inputs, op, name, id). A node the
 * fast path holds as a record (ad_fast_seam.h) is read in place, where that
 * is all a call reads: writing it out as a full node would cost a scalar
 * training loop the fast path's memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"

/* ---- reading ---- */
/* The node behind h, with a message naming who where there is none (NULL,
 * or dropped by a rewind). */
static const ad_node *node_or_fail(const ad_node *h, const char *who)
{
    if (!h) {
        ad_fail(AD_ERR_ARG, "%s: the node is NULL", who);
        return NULL;
    }
    return node_resolve(h, who);
}

/* The same, for reading its numbers: a GPU node's are read after copying it
 * to the host (ad_to_host): reading device memory from the CPU would crash. */
static const ad_node *on_host(const ad_node *h, const char *who)
{
    const ad_node *n = node_or_fail(h, who);
    if (!n || n->value.device == AD_CPU) return n;
    ad_fail(AD_ERR_DEVICE, "%s: node #%u is on the GPU; copy it to the host first (ad_to_host)", who, n->id);
    return NULL;
}

/* ... and element i of it there to read. */
static const ad_node *readable(const ad_node *h, int64_t i, const char *who)
{
    const ad_node *n = on_host(h, who);
    if (!n || (i >= 0 && i < n->value.size)) return n;
    ad_fail(AD_ERR_ARG, "%s: index %lld is outside node #%u's %lld elements", who, (long long)i, n->id,
            (long long)n->value.size);
    return NULL;
}

double ad_value_scalar(const ad_node *h)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) {   /* a record: read in place */
        if (!ad_fast_peek_at(h, "value_scalar", &p)) return NAN;
        if (p.compact) return p.value;
    }
    const ad_node *n = on_host(h, "value_scalar");
    return n ? ad_buffer_get(n->value.data, (ad_dtype)n->value.dtype, 0) : NAN;
}

double ad_grad_scalar(const ad_node *h)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h)) {
        if (!ad_fast_peek_at(h, "grad_scalar", &p)) return NAN;
        if (p.compact) return p.grad;
    }
    const ad_node *n = node_resolve(h, "grad_scalar");
    if (!n || !n->grad) return h && !n ? NAN : 0.0;   /* no grad yet: 0; a dropped node: NaN */
    return on_host(n, "grad_scalar") ? ad_buffer_get(n->grad, (ad_dtype)n->value.dtype, 0) : NAN;
}

double ad_value_at(const ad_node *h, int64_t i)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h) && i == 0) {
        if (!ad_fast_peek_at(h, "value_at", &p)) return NAN;
        if (p.compact) return p.value;
    }
    const ad_node *n = readable(h, i, "value_at");
    return n ? ad_buffer_get(n->value.data, (ad_dtype)n->value.dtype, i) : NAN;
}

double ad_grad_at(const ad_node *h, int64_t i)
{
    ad_fast_peek p;
    if (ad_is_fast_handle(h) && i == 0) {
        if (!ad_fast_peek_at(h, "grad_at", &p)) return NAN;
        if (p.compact) return p.grad;
    }
    const ad_node *n = readable(h, i, "grad_at");
    if (!n) return NAN;
    return n->grad ? ad_buffer_get(n->grad, (ad_dtype)n->value.dtype, i) : 0.0;
}

double ad_tangent_at(const ad_node *h, int dir, int64_t i)
{
    const ad_node *n = readable(h, i, "tangent_at");
    if (!n) return NAN;
    if (dir < 0 || dir >= n->ctx->dirs) {
        ad_fail(AD_ERR_ARG, "tangent_at: direction %d is outside the context's %d", dir, n->ctx->dirs);
        return NAN;
    }
    return n->tangent ? ad_buffer_get(n->tangent, (ad_dtype)n->value.dtype, (int64_t)dir * n->value.size + i) : 0.0;
}

ad_status ad_set_value_at(ad_node *h, int64_t i, double v)
{
    const ad_node *n = readable(h, i, "set_value_at");
    if (!n) return ad_last_status();
    if (n->value.dtype == AD_FLOAT32) ((float *)n->value.data)[i] = (float)v;
    else ((double *)n->value.data)[i] = v;
    return AD_OK;
}

bool ad_has_tangent(const ad_node *h)
{
    const ad_node *n = node_resolve(h, "has_tangent");
    return n && n->tangent;
}

/* A view: the header, data shared; all zero for NULL or a dropped node. */
static ad_tensor view(const ad_node *n, bool grad)
{
    ad_tensor t;
    memset(&t, 0, sizeof t);
    if (n) {
        t = n->value;
        t.owns_data = 0;
        if (grad) t.data = n->grad;
    }
    return t;
}
ad_tensor ad_value(const ad_node *h) { return view(node_resolve(h, "value"), false); }
ad_tensor ad_grad(const ad_node *h) { return view(node_resolve(h, "grad"), true); }

static ad_status copy_out(const ad_node *h, bool grad, double *out, int64_t len, const char *who)
{
    if (!out) return ad_fail(AD_ERR_ARG, "%s: out is NULL", who);
    const ad_node *n = on_host(h, who);
    if (!n) return ad_last_status();
    if (len < n->value.size)
        return ad_fail(AD_ERR_ARG, "%s: room for %lld values, node #%u has %lld", who, (long long)len, n->id,
                       (long long)n->value.size);
    const void *src = grad ? n->grad : n->value.data;
    for (int64_t i = 0; i < n->value.size; i++) out[i] = src ? ad_buffer_get(src, (ad_dtype)n->value.dtype, i) : 0.0;
    return AD_OK;
}
ad_status ad_value_copy_out(const ad_node *h, double *out, int64_t len) { return copy_out(h, false, out, len, "value_copy_out"); }
ad_status ad_grad_copy_out(const ad_node *h, double *out, int64_t len) { return copy_out(h, true, out, len, "grad_copy_out"); }

/* ---- walking the graph ---- */
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
