/* ad_kernel_util.h: what several ops' kernels share: numpy broadcasting,
 * reduction axes, and the shape plans of matmul, mse, linear and transpose,
 * which the CPU kernels here and the CUDA kernels in gpu/ both read (the
 * dtype helpers, AD_DISPATCH and friends, are the engine's: ad_kernel.h). */
#ifndef AD_KERNEL_UTIL_H
#define AD_KERNEL_UTIL_H

#include "ad_kernel.h"
#include "ad_op_builtin.h"

/* An op's CUDA kernels, where the build has them: `.cuda = AD_CUDA_KERNELS(add)`
 * points at `ad_cuda_kernels_add` (in gpu/), NULL in a build without CUDA. */
#ifdef AD_HAVE_CUDA
#define AD_DECLARE_CUDA(sym) extern const ad_op_kernels ad_cuda_kernels_##sym;
#define AD_CUDA_KERNELS(sym) (&ad_cuda_kernels_##sym)
#else
#define AD_DECLARE_CUDA(sym)
#define AD_CUDA_KERNELS(sym) NULL
#endif

/* numpy broadcasting of a binary op's inputs onto its output, padded to 4-d:
 * output element (i0,i1,i2,i3) reads a at sum_d i_d sa[d], b at sum_d i_d sb[d]
 * (stride 0 along a stretched dim). `same`: all three one shape, index = io. */
typedef struct ad_bcast {
    int64_t n[AD_MAX_DIMS];
    int64_t sa[AD_MAX_DIMS], sb[AD_MAX_DIMS];
    bool same;
} ad_bcast;
/* A binary op's two inputs onto its output. */
void ad_bcast_setup(const ad_node *out, ad_bcast *bc);
/* a and b onto the shape (nd, shape) (ad_bcast_shape's). */
void ad_bcast_make(const ad_tensor *a, const ad_tensor *b, int nd, const int64_t *shape, ad_bcast *bc);
/* The numpy broadcast of a's and b's shapes; fails naming op and both shapes. */
ad_status ad_bcast_shape(const char *op, const ad_tensor *a, const ad_tensor *b, int *nd, int64_t *shape);

/* Visit every output element io with its input indices ia, ib. */
#define AD_BCAST_FOR(bc, BODY)                                                                                            \
    do {                                                                                                               \
        if ((bc).same) {                                                                                               \
            int64_t n_ = (bc).n[0] * (bc).n[1] * (bc).n[2] * (bc).n[3];                                                 \
            for (int64_t io = 0; io < n_; io++) {                                                                      \
                int64_t ia = io, ib = io;                                                                              \
                BODY                                                                                                   \
            }                                                                                                          \
        } else {                                                                                                       \
            int64_t io = 0;                                                                                            \
            for (int64_t i0 = 0; i0 < (bc).n[0]; i0++)                                                                 \
                for (int64_t i1 = 0; i1 < (bc).n[1]; i1++)                                                             \
                    for (int64_t i2 = 0; i2 < (bc).n[2]; i2++)                                                         \
                        for (int64_t i3 = 0; i3 < (bc).n[3]; i3++, io++) {                                             \
                            int64_t ia = i0 * (bc).sa[0] + i1 * (bc).sa[1] + i2 * (bc).sa[2] + i3 * (bc).sa[3];        \
                            int64_t ib = i0 * (bc).sb[0] + i1 * (bc).sb[1] + i2 * (bc).sb[2] + i3 * (bc).sb[3];        \
                            BODY                                                                                       \
                        }                                                                                              \
        }                                                                                                              \
    } while (0)


/* A reduction over `axis` sees x as (outer, len, inner) around it; a
 * negative axis counts from the end; AD_ALL_AXES takes all (outer = inner =
 * 1, len = size). The axis must have passed ad_axis_check. */
void ad_reduce_split(const ad_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner);

/* Check `axis` against x's ndim and return it in 0..ndim-1 (0 for a 0-d x;
 * AD_ALL_AXES stays as it is where all_ok). Otherwise fail with a message
 * naming the op, the axis, x's shape and the valid range. */
ad_status ad_axis_check(const char *op, int axis, const ad_tensor *x, bool all_ok, int *norm);

/* matmul as torch.matmul: a (..., M, K) · b (..., K, N) -> (..., M, N), the
 * batch dims (at most 2) broadcast numpy-style; a 1-D a is a row (1,K) and a
 * 1-D b a column (K,1), their unit dim dropped from the result (two vectors:
 * their dot product, a scalar). Output matrix i (0..batch-1, row-major over
 * the batch dims nb) reads a's matrix at ad_matmul_a_off(p, i) elements and
 * b's at ad_matmul_b_off(p, i); it is written at i·M·N. Batch strides sa, sb
 * count matrices and are 0 along a broadcast dim. */
typedef struct ad_matmul_plan {
    int64_t M, K, N, batch;
    int64_t nb[2], sa[2], sb[2];
} ad_matmul_plan;
/* Fill p from a's and b's shapes and give the output's ndim and shape; fail
 * with a message naming both shapes where torch.matmul would refuse them. */
ad_status ad_matmul_plan_make(const ad_tensor *a, const ad_tensor *b, ad_matmul_plan *p, int *nd, int64_t *shape);
/* The plan of a matmul node (its shapes were checked when it was made). */
ad_matmul_plan ad_matmul_plan_of(const ad_node *o);
static inline int64_t ad_matmul_a_off(const ad_matmul_plan *p, int64_t i)
{
    return (i / p->nb[1] * p->sa[0] + i % p->nb[1] * p->sa[1]) * p->M * p->K;
}
static inline int64_t ad_matmul_b_off(const ad_matmul_plan *p, int64_t i)
{
    return (i / p->nb[1] * p->sb[0] + i % p->nb[1] * p->sb[1]) * p->K * p->N;
}
/* mse's two inputs broadcast together: bc, and the element count. */
int64_t ad_mse_bcast(const ad_node *o, ad_bcast *bc);

/* linear's x (..., I) as rows: N = the product of the leading dims (1 for a
 * 1-D x). */
static inline int64_t ad_linear_rows(const ad_tensor *x) { return x->size / x->shape[x->ndim - 1]; }

/* transpose: for output element (i0,i1,i2,i3) (row-major), its source in x
 * is at sum_d i_d s[d]. */
void ad_transpose_source_strides(const ad_node *o, int64_t *s);

/* Check that two inputs share a dtype; error names the op and both shapes. */
ad_status ad_check_same_dtype(const char *op, const ad_node *a, const ad_node *b);

#endif
