/* ad_tensor.h: dense tensors, float64 or float32, up to 4 dimensions,
 * row-major and contiguous. A scalar is a 0-d tensor (ndim 0, size 1).
 *
 * An ad_tensor is a small header that points at its data. Tensors made with
 * ad_tensor_new own their data (free with ad_tensor_free); the value and grad
 * of a graph node are views whose data lives in the node's context. */
#ifndef AD_TENSOR_H
#define AD_TENSOR_H

#include <stdint.h>
#include <stdio.h>
#include "ad_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { AD_MAX_DIMS = 4 };

typedef enum ad_dtype { AD_FLOAT64 = 0, AD_FLOAT32 = 1 } ad_dtype;
typedef enum ad_device { AD_CPU = 0, AD_CUDA = 1 } ad_device;

typedef struct ad_tensor {
    void *data;                     /* size elements of dtype, on device */
    int64_t size;                   /* product of shape (1 for a scalar) */
    int64_t shape[AD_MAX_DIMS];     /* shape[0..ndim-1]; the rest are 1 */
    uint8_t ndim;
    uint8_t dtype;                  /* ad_dtype */
    uint8_t device;                 /* ad_device */
    uint8_t owns_data;              /* freed by ad_tensor_free */
} ad_tensor;

/* Bytes per element of a dtype (8 or 4). */
static inline size_t ad_dtype_size(ad_dtype dt) { return dt == AD_FLOAT32 ? 4 : 8; }
const char *ad_dtype_name(ad_dtype dt);

/* Validate a shape and compute its size; error names `who`. */
ad_status ad_shape_check(const char *who, int ndim, const int64_t *shape, int64_t *size_out);

/* New zero-filled CPU tensor. NULL (with a message) on bad shape or no memory. */
ad_tensor *ad_tensor_new(ad_dtype dt, int ndim, const int64_t *shape);
/* New tensor filled from a double array of ad size elements (converted to dt). */
ad_tensor *ad_tensor_from(ad_dtype dt, int ndim, const int64_t *shape, const double *values);
void ad_tensor_free(ad_tensor *t);

/* Element access through double, for any dtype (slow path: tests, lessons).
 * A NULL tensor, a GPU tensor or an index outside 0..size-1 is an error with
 * a message (get returns NaN, set and fill write nothing), never a stray access. */
double ad_tensor_get(const ad_tensor *t, int64_t flat_index);
void ad_tensor_set(ad_tensor *t, int64_t flat_index, double v);
void ad_tensor_fill(ad_tensor *t, double v);
/* Copy all elements out as doubles (n must be >= t->size). */
ad_status ad_tensor_copy_out(const ad_tensor *t, double *out, int64_t n);
/* Copy n doubles in (n must equal t->size). */
ad_status ad_tensor_copy_in(ad_tensor *t, const double *in, int64_t n);

/* Same shape? */
int ad_shape_equal(const ad_tensor *a, const ad_tensor *b);
/* "(2,3,8,8)" or "()" for a scalar, into buf; returns buf. */
char *ad_shape_str(const ad_tensor *t, char *buf, size_t len);
char *ad_shape_str_n(int ndim, const int64_t *shape, char *buf, size_t len);
/* Flat index -> "[i,j,k]" into buf. */
char *ad_index_str(const ad_tensor *t, int64_t flat_index, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
