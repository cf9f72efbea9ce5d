/* gc_guard.c: guard zones around every buffer gradcheck has a kernel
 * write (engine/core/guard.c makes them): the forward's output, the jvp's
 * tangent, the vjp's input gradients. gradcheck's contexts allocate with
 * guards on, and after each call the zones of the buffers it wrote are
 * looked at: a kernel that writes one element past its output (a loop one
 * row too long, a plane past the last) fails the check with the op, the
 * mode, the dtype and the buffer named, where before it landed in the
 * arena's next buffer and changed nothing gradcheck compared. */
#include <string.h>
#include "gc_internal.h"

ad_context *gc_context_new(void)
{
    ad_context *ctx = ad_context_new();
    if (ctx) ad_set_guard_zones(ctx, true);
    return ctx;
}

/* The error for a changed zone: element index from the byte offset (floor:
 * the 8 bytes before a float64 buffer are its element -1). */
static ad_status guard_error(const gc_run *R, ad_dtype dt, const char *mode, const char *buf, int64_t where,
                             int64_t count, int rows)
{
    int64_t esz = (int64_t)ad_dtype_size(dt);
    int64_t elem = where >= 0 ? where / esz : -((-where + esz - 1) / esz);
    char shape[64] = "";
    if (rows > 1) snprintf(shape, sizeof shape, ", %d rows of %lld", rows, (long long)(count / rows));
    return ad_fail(AD_ERR_STATE, "%s [%s] %s wrote %s %s (element %lld of %lld%s)", R->name, ad_dtype_name(dt),
                   mode, where < 0 ? "before" : "past", buf, (long long)elem, (long long)count, shape);
}

ad_status gc_guard_buffer(const gc_run *R, const void *p, ad_dtype dt, int64_t count, int rows, const char *mode,
                          const char *buf)
{
    int64_t where = 0;
    if (!p || ad_guard_intact(p, (size_t)count * ad_dtype_size(dt), &where)) return AD_OK;
    return guard_error(R, dt, mode, buf, where, count, rows);
}

/* One node's buffer: its value, its tangent (k rows) or its grad; none
 * where the node holds it inline (1 element) or it is on the GPU. */
static ad_status guard_node(const gc_run *R, const ad_node *h, int what, const char *mode, const char *name)
{
    const ad_node *n = ad_node_of(h);
    if (!n || n->value.device != AD_CPU) return AD_OK;
    ad_dtype dt = (ad_dtype)n->value.dtype;
    char buf[64];
    if (what == GC_GUARD_VALUE) {
        if (n->value.data == (const void *)&n->inline_value) return AD_OK;
        snprintf(buf, sizeof buf, "its %s", name);
        return gc_guard_buffer(R, n->value.data, dt, n->value.size, 1, mode, buf);
    }
    if (what == GC_GUARD_TANGENT) {
        int k = ad_node_dirs(n);
        snprintf(buf, sizeof buf, "its %s's tangent", name);
        return gc_guard_buffer(R, n->tangent, dt, (int64_t)k * n->value.size, k, mode, buf);
    }
    if (n->grad == (const void *)&n->inline_grad) return AD_OK;
    snprintf(buf, sizeof buf, "%s's gradient", name);
    return gc_guard_buffer(R, n->grad, dt, n->value.size, 1, mode, buf);
}

ad_status gc_guard_after(const gc_run *R, ad_node *const *leaves, const ad_node *y, int phase)
{
    ad_status st = AD_OK;
    char name[32];
    if (phase == GC_PHASE_VJP) {   /* the vjp's buffers: the input grads it added into */
        for (int s = 0; s < R->n_in && st == AD_OK; s++) {
            if (!gc_diff(R, s)) continue;
            snprintf(name, sizeof name, "input %d", s);
            st = guard_node(R, leaves[s], GC_GUARD_GRAD, "vjp", name);
        }
        return st;
    }
    /* forward (and jvp): the output it wrote, its tangent, and the inputs it only reads */
    if (y) st = guard_node(R, y, GC_GUARD_VALUE, "forward", "output");
    if (y && st == AD_OK && phase == GC_PHASE_JVP) st = guard_node(R, y, GC_GUARD_TANGENT, "jvp", "output");
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        snprintf(name, sizeof name, "input %d", s);
        st = guard_node(R, leaves[s], GC_GUARD_VALUE, phase == GC_PHASE_JVP ? "forward or jvp" : "forward", name);
    }
    return st;
}
