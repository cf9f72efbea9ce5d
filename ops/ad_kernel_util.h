/* ad_kernel_util.h: helpers for writing op kernels once for both dtypes.
 *
 *   AD_DISPATCH(dtype, { T *y = out->value.data; ... });
 * runs the body with the typedef T = double or T = float. */
#ifndef AD_KERNEL_UTIL_H
#define AD_KERNEL_UTIL_H

#include "ad_op.h"

#define AD_DISPATCH(dt, ...)                                                                                           \
    do {                                                                                                               \
        if ((dt) == AD_FLOAT32) {                                                                                      \
            typedef float T;                                                                                           \
            __VA_ARGS__                                                                                                \
        } else {                                                                                                       \
            typedef double T;                                                                                          \
            __VA_ARGS__                                                                                                \
        }                                                                                                              \
    } while (0)

/* Pointer to row `dir` of a node's tangent (NULL if it has none). */
static inline void *ad_tangent_row(const ad_node *n, int dir)
{
    if (!n->tangent) return NULL;
    return (char *)n->tangent + (size_t)dir * (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype);
}

/* numpy broadcasting of a binary op's inputs onto its output, padded to 4-d:
 * output element (i0,i1,i2,i3) reads a at sum_d i_d sa[d], b at sum_d i_d sb[d]
 * (stride 0 along a stretched dim). `same`: all three one shape, index = io. */
typedef struct ad_bcast {
    int64_t n[AD_MAX_DIMS];
    int64_t sa[AD_MAX_DIMS], sb[AD_MAX_DIMS];
    bool same;
} ad_bcast;
void ad_bcast_setup(const ad_node *out, ad_bcast *bc);

/* A reduction over `axis` sees x as (outer, len, inner) around it; a
 * negative axis counts from the end; AD_ALL_AXES takes all (outer = inner =
 * 1, len = size). The axis must have passed ad_axis_check. */
void ad_reduce_split(const ad_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner);

/* Check `axis` against x's ndim and return it in 0..ndim-1 (0 for a 0-d x;
 * AD_ALL_AXES stays as it is where all_ok). Otherwise fail with a message
 * naming the op, the axis, x's shape and the valid range. */
ad_status ad_axis_check(const char *op, int axis, const ad_tensor *x, bool all_ok, int *norm);

/* transpose: for output element (i0,i1,i2,i3) (row-major), its source in x
 * is at sum_d i_d s[d]. */
void ad_transpose_source_strides(const ad_node *o, int64_t *s);

/* Check that two inputs share a dtype; error names the op and both shapes. */
ad_status ad_check_same_dtype(const char *op, const ad_node *a, const ad_node *b);

#endif
