/* tensor.c: standalone tensors and shape helpers (see ad_tensor.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_tensor.h"
#include "ad_device.h"

/* A bound that keeps size * sizeof(double) far from overflow. */
#define AD_MAX_ELEMENTS (INT64_C(1) << 40)

const char *ad_dtype_name(ad_dtype dt) { return dt == AD_FLOAT32 ? "float32" : "float64"; }

ad_status ad_shape_check(const char *who, int ndim, const int64_t *shape, int64_t *size_out)
{
    if (ndim < 0 || ndim > AD_MAX_DIMS)
        return ad_fail(AD_ERR_SHAPE, "%s: %d dimensions given; tensors have 0 to %d", who, ndim, AD_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ad_fail(AD_ERR_ARG, "%s: shape is NULL for a %d-d tensor", who, ndim);
    int64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            char buf[96];
            return ad_fail(AD_ERR_SHAPE, "%s: shape %s has a dimension <= 0 (dim %d)", who,
                           ad_shape_str_n(ndim, shape, buf, sizeof buf), i);
        }
        if (size > AD_MAX_ELEMENTS / shape[i]) {
            char buf[96];
            return ad_fail(AD_ERR_SHAPE, "%s: shape %s has more than 2^40 elements", who,
                           ad_shape_str_n(ndim, shape, buf, sizeof buf));
        }
        size *= shape[i];
    }
    if (size_out) *size_out = size;
    return AD_OK;
}

static ad_tensor *tensor_alloc(const char *who, ad_dtype dt, int ndim, const int64_t *shape)
{
    int64_t size;
    if (dt != AD_FLOAT64 && dt != AD_FLOAT32) {
        ad_fail(AD_ERR_DTYPE, "%s: unknown dtype %d", who, (int)dt);
        return NULL;
    }
    if (ad_shape_check(who, ndim, shape, &size) != AD_OK) return NULL;
    ad_tensor *t = calloc(1, sizeof *t);
    void *data = calloc((size_t)size, ad_dtype_size(dt));
    if (!t || !data) {
        free(t);
        free(data);
        ad_fail(AD_ERR_NOMEM, "%s: cannot allocate %lld elements", who, (long long)size);
        return NULL;
    }
    t->data = data;
    t->size = size;
    t->ndim = (uint8_t)ndim;
    t->dtype = (uint8_t)dt;
    t->device = AD_CPU;
    t->owns_data = 1;
    for (int i = 0; i < AD_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

ad_tensor *ad_tensor_new(ad_dtype dt, int ndim, const int64_t *shape)
{
    return tensor_alloc("tensor_new", dt, ndim, shape);
}

ad_tensor *ad_tensor_from(ad_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    ad_tensor *t = tensor_alloc("tensor_from", dt, ndim, shape);
    if (t && values) ad_tensor_copy_in(t, values, t->size);
    return t;
}

void ad_tensor_free(ad_tensor *t)
{
    if (!t) return;
    /* A device tensor's memory goes back to the GPU allocator's cache. */
    if (t->owns_data) {
        if (t->device == AD_CUDA) ad_gpu_free(t->data);
        else free(t->data);
    }
    free(t);
}

/* The slow element paths refuse GPU memory (a host read of it would crash). */
/* Can element i of t be read or written here? Else a message naming who. */
static int unusable(const ad_tensor *t, int64_t i, const char *who)
{
    if (!t) {
        ad_fail(AD_ERR_ARG, "%s: the tensor is NULL", who);
        return 1;
    }
    if (t->device != AD_CPU) {
        ad_fail(AD_ERR_DEVICE, "%s: the tensor is on the GPU; copy it to the host first", who);
        return 1;
    }
    if (i < 0 || i >= t->size) {
        ad_fail(AD_ERR_ARG, "%s: index %lld is outside the tensor's %lld elements", who, (long long)i,
                (long long)t->size);
        return 1;
    }
    return 0;
}

double ad_tensor_get(const ad_tensor *t, int64_t i)
{
    if (unusable(t, i, "tensor_get")) return NAN;
    return t->dtype == AD_FLOAT32 ? (double)((const float *)t->data)[i] : ((const double *)t->data)[i];
}

void ad_tensor_set(ad_tensor *t, int64_t i, double v)
{
    if (unusable(t, i, "tensor_set")) return;
    if (t->dtype == AD_FLOAT32) ((float *)t->data)[i] = (float)v;
    else ((double *)t->data)[i] = v;
}

void ad_tensor_fill(ad_tensor *t, double v)
{
    if ((!t || t->size > 0) && unusable(t, 0, "tensor_fill")) return;
    for (int64_t i = 0; i < t->size; i++) ad_tensor_set(t, i, v);
}

ad_status ad_tensor_copy_out(const ad_tensor *t, double *out, int64_t n)
{
    if (!t || !out) return ad_fail(AD_ERR_ARG, "tensor_copy_out: NULL argument");
    if (t->device != AD_CPU) return ad_fail(AD_ERR_DEVICE, "tensor_copy_out: tensor is on the GPU; copy it to the host first");
    if (n < t->size)
        return ad_fail(AD_ERR_ARG, "tensor_copy_out: room for %lld values, tensor has %lld", (long long)n, (long long)t->size);
    for (int64_t i = 0; i < t->size; i++) out[i] = ad_tensor_get(t, i);
    return AD_OK;
}

ad_status ad_tensor_copy_in(ad_tensor *t, const double *in, int64_t n)
{
    if (!t || !in) return ad_fail(AD_ERR_ARG, "tensor_copy_in: NULL argument");
    if (t->device != AD_CPU) return ad_fail(AD_ERR_DEVICE, "tensor_copy_in: tensor is on the GPU");
    if (n != t->size)
        return ad_fail(AD_ERR_ARG, "tensor_copy_in: %lld values given, tensor has %lld", (long long)n, (long long)t->size);
    for (int64_t i = 0; i < n; i++) ad_tensor_set(t, i, in[i]);
    return AD_OK;
}

int ad_shape_equal(const ad_tensor *a, const ad_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *ad_shape_str_n(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t k = 0;
    if (len == 0) return buf;
    k += (size_t)snprintf(buf + k, len - k, "(");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < len) snprintf(buf + k, len - k, ")");
    return buf;
}

char *ad_shape_str(const ad_tensor *t, char *buf, size_t len)
{
    return ad_shape_str_n(t->ndim, t->shape, buf, len);
}

char *ad_index_str(const ad_tensor *t, int64_t flat, char *buf, size_t len)
{
    int64_t idx[AD_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = flat % t->shape[d];
        flat /= t->shape[d];
    }
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < t->ndim && k < len; d++)
        k += (size_t)snprintf(buf + k, len - k, d ? ",%lld" : "%lld", (long long)idx[d]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}
