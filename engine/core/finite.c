/* finite.c: finite checks ("anomaly mode"): is a buffer finite, which node
 * first made a NaN or Inf, and the message that names it. */
#include <math.h>
#include <stdlib.h>
#include "ad_device.h"
#include "ad_internal.h"

bool ad_buffer_finite(const void *data, ad_dtype dt, int64_t n, int64_t *bad)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(ad_buffer_get(data, dt, i))) {
            if (bad) *bad = i;
            return false;
        }
    return true;
}

int ad_values_finite(const ad_tensor *t, const void *data, int64_t *bad, double *bad_value)
{
    int64_t where = 0;
    bool ok;
    if (t->device == AD_CUDA) {
        /* Look at a host copy: only check-finite mode pays for it. */
        ad_tensor view = *t;
        view.data = (void *)data;
        view.owns_data = 0;
        ad_tensor *host = ad_tensor_new((ad_dtype)t->dtype, t->ndim, t->shape);
        if (!host) return AD_FINITE_UNKNOWN;
        if (ad_gpu_tensor_copy(host, &view) != AD_OK) {
            ad_tensor_free(host);
            return AD_FINITE_UNKNOWN;
        }
        ok = ad_buffer_finite(host->data, (ad_dtype)host->dtype, host->size, &where);
        if (!ok && bad_value) *bad_value = ad_tensor_get(host, where);
        ad_tensor_free(host);
    } else {
        ok = ad_buffer_finite(data, (ad_dtype)t->dtype, t->size, &where);
        if (!ok && bad_value) *bad_value = ad_buffer_get(data, (ad_dtype)t->dtype, where);
    }
    if (!ok && bad) *bad = where;
    return ok ? AD_FINITE : AD_NOT_FINITE;
}

ad_node *ad_find_nonfinite(ad_context *ctx)
{
    if (ad_check_context(ctx, "find_nonfinite") != AD_OK) return NULL;
    materialize_all(ctx);
    for (uint32_t id = 0; id < ctx->n_nodes; id++) {
        ad_node *n = node_at(ctx, id);
        int f = ad_values_finite(&n->value, n->value.data, NULL, NULL);
        if (f == AD_FINITE_UNKNOWN) return NULL;   /* the copy's error is set */
        if (f == AD_FINITE) continue;
        bool inputs_finite = true;
        for (int s = 0; s < n->n_in && inputs_finite; s++) {
            f = ad_values_finite(&n->in[s]->value, n->in[s]->value.data, NULL, NULL);
            if (f == AD_FINITE_UNKNOWN) return NULL;
            inputs_finite = f == AD_FINITE;
        }
        if (inputs_finite) return ad_handle_of(n);
    }
    return NULL;
}

/* The message for a non-finite element `bad` of out's value, made by out
 * from finite inputs or (from >= 0) passed on from its input `from`. */
static ad_status report_nonfinite(const ad_node *out, int64_t bad, double bad_value, int from)
{
    char sh[64], ix[64], src[160] = " from finite inputs";
    if (from >= 0) {
        const ad_node *in = out->in[from];
        snprintf(src, sizeof src, ", passing on the non-finite values of its input %d (node #%u %s%s%s)", from, in->id,
                 ad_node_op_name(in), in->name ? " " : "", in->name ? in->name : "");
    }
    return ad_fail(AD_ERR_NONFINITE, "%s: produced %g at %s of its output %s (node #%u%s%s)%s%s", out->op->name,
                   bad_value, ad_index_str(&out->value, bad, ix, sizeof ix), ad_shape_str(&out->value, sh, sizeof sh),
                   out->id, out->name ? " " : "", out->name ? out->name : "", src,
                   out->value.device == AD_CUDA ? " (on the GPU)" : "");
}

/* After out's forward: the first op whose output is not finite fails. It
 * either made the NaN/Inf from finite inputs, or passed on one of its
 * inputs' (a leaf holding NaN, say): NaN propagates, so the first op to
 * carry it is where to look. */
ad_status ad_check_finite_value(const ad_node *out)
{
    int64_t bad;
    double bad_value;
    int f = ad_values_finite(&out->value, out->value.data, &bad, &bad_value);
    if (f == AD_FINITE) return AD_OK;
    if (f == AD_FINITE_UNKNOWN) return AD_ERR_DEVICE;   /* the copy from the GPU failed: its error is the op's */
    int from = -1;
    for (int s = 0; s < out->n_in && from < 0; s++)
        if (ad_values_finite(&out->in[s]->value, out->in[s]->value.data, NULL, NULL) != AD_FINITE) from = s;
    return report_nonfinite(out, bad, bad_value, from);
}

/* After consumer's vjp into input `slot`: the first vjp to leave a
 * non-finite gradient fails, whether it made it from a finite output
 * gradient or passed on a non-finite one (a NaN cotangent, say). */
ad_status ad_check_finite_grad(const ad_node *consumer, int slot, int rows, const void *gout, const void *gin)
{
    const ad_node *in = consumer->in[slot];
    size_t in_row = (size_t)in->value.size * ad_dtype_size((ad_dtype)in->value.dtype);
    size_t out_row = (size_t)consumer->value.size * ad_dtype_size((ad_dtype)consumer->value.dtype);
    for (int r = 0; r < rows; r++) {
        int64_t bad;
        double bad_value;
        int f = ad_values_finite(&in->value, (const char *)gin + r * in_row, &bad, &bad_value);
        if (f == AD_FINITE) continue;
        if (f == AD_FINITE_UNKNOWN) return ad_last_status();   /* the copy from the GPU failed: its error */
        bool made = ad_values_finite(&consumer->value, (const char *)gout + r * out_row, NULL, NULL) == AD_FINITE;
        char ix[64], sh[64], row[48] = "";
        if (rows > 1) snprintf(row, sizeof row, ", cotangent %d of the block", r);
        return ad_fail(AD_ERR_NONFINITE,
                       "%s: its vjp for input %d %s a non-finite gradient %g at %s of input %s (node #%u%s%s) %s",
                       consumer->op->name, slot, made ? "made" : "passed on", bad_value,
                       ad_index_str(&in->value, bad, ix, sizeof ix), ad_shape_str(&in->value, sh, sizeof sh), in->id,
                       in->value.device == AD_CUDA ? ", on the GPU" : "", row,
                       made ? "from a finite output gradient" : "from its output's non-finite gradient");
    }
    return AD_OK;
}
