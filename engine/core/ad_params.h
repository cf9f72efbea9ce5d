/* ad_params.h: an op's parameters (a reduction's axis, conv2d's stride and
 * padding, pow's exponent...): one struct for every family, stored per node
 * only for the ops that take them (AD_OP_PARAMS). */
#ifndef AD_PARAMS_H
#define AD_PARAMS_H

#include <limits.h>
#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Axes count as in NumPy and PyTorch: 0..ndim-1 from the front, -1 the last
 * axis, -ndim the first. AD_ALL_AXES reduces over every axis (NumPy's
 * axis=None, PyTorch's x.sum()). A 0-d tensor takes axis 0 or -1, as in
 * PyTorch. */
#define AD_ALL_AXES INT_MIN

/* Unused fields stay zero. */
struct ad_params {
    double c;                     /* pow exponent, scale factor */
    int axis;                     /* sum/mean/softmax axis (negative from the end); AD_ALL_AXES */
    int keepdim;                  /* reductions: keep the reduced axis as 1 */
    int64_t stride[2];            /* conv2d/pool (h, w) */
    int64_t pad[2];               /* conv2d zero padding (h, w) */
    int64_t window[2];            /* pooling window (h, w) */
    int ndim;                     /* reshape target / transpose rank */
    int64_t shape[AD_MAX_DIMS];   /* reshape target */
    int perm[AD_MAX_DIMS];        /* transpose permutation */
    int reduction;                /* AD_REDUCE_MEAN / AD_REDUCE_SUM */
    int64_t ignore_index;         /* cross-entropy: target to skip (-1 none) */
};

enum { AD_REDUCE_MEAN = 0, AD_REDUCE_SUM = 1 };

#ifdef __cplusplus
}
#endif
#endif
