/* access.c: reading a node's numbers through its handle: values, grads,
 * tangents, views and copies (node_info.c: what else a node is). A node the
 * fast path holds as a record (ad_fast_seam.h) is read in place, where that
 * is all a call reads: writing it out as a full node would cost a scalar
 * training loop the fast path's memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"

/* The node behind h (node_or_fail), for reading its numbers: a GPU node's
 * are read after copying it to the host (ad_to_host): reading device memory
 * from the CPU would crash. */
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
