/* ad_kernel.h: what an op's kernels see (include it to write an op, with
 * ad_op.h): the node (ad_node.h), and what a kernel is written with: the
 * block-of-cotangents helper, one body for both dtypes, and arena memory
 * that lives as long as a node. Kernels (forward, vjp, jvp, infer,
 * kink_gap) are given the nodes themselves, whose fields they read;
 * programs hold handles (ad_handle.h). */
#ifndef AD_KERNEL_H
#define AD_KERNEL_H

#include "ad_node.h"     /* struct ad_node: the fields a kernel reads */
#include "ad_handle.h"   /* handles, and from a handle to its node */
#include "ad_guard.h"    /* guard zones around kernels' buffers, for checking kernels */

#ifdef __cplusplus
extern "C" {
#endif

/* A vjp for one cotangent, and the block form made from it: each row of
 * gout through `one` into the same row of gin (pointer arithmetic only, so
 * it serves device buffers too). Rows are gout_r = gout + r·|out| and
 * gin_r = gin + r·|in[slot]| elements of their dtypes. */
typedef void (*ad_vjp_one_fn)(const ad_node *out, int slot, const void *gout, void *gin);
static inline void ad_vjp_rows(ad_vjp_one_fn one, const ad_node *out, int slot, int rows, const void *gout, void *gin)
{
    size_t out_bytes = (size_t)out->value.size * ad_dtype_size((ad_dtype)out->value.dtype);
    size_t in_bytes = (size_t)out->in[slot]->value.size * ad_dtype_size((ad_dtype)out->in[slot]->value.dtype);
    for (int r = 0; r < rows; r++)
        one(out, slot, (const char *)gout + (size_t)r * out_bytes, (char *)gin + (size_t)r * in_bytes);
}
/* Defines `static void name(out, slot, rows, gout, gin)` from `one`. */
#define AD_VJP_BY_ROWS(name, one)                                                                \
    static void name(const ad_node *out, int slot, int rows, const void *gout, void *gin)       \
    {                                                                                            \
        ad_vjp_rows(one, out, slot, rows, gout, gin);                                            \
    }

/* Writing a kernel once for both dtypes:
 *   AD_DISPATCH(dtype, { T *y = out->value.data; ... });
 * runs the body with the typedef T = double or T = float. */
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

/* Pointer to element i of a buffer of dtype dt. */
static inline void *ad_elem_ptr(const void *base, int64_t i, ad_dtype dt)
{
    return (char *)base + (size_t)i * ad_dtype_size(dt);
}

/* Pointer to row `dir` of a node's tangent (NULL if it has none). */
static inline void *ad_tangent_row(const ad_node *n, int dir)
{
    if (!n->tangent) return NULL;
    return (char *)n->tangent + (size_t)dir * (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype);
}

/* Arena memory (zeroed, 32-byte aligned) that lives as long as the node. */
void *ad_node_alloc(ad_node *n, size_t bytes);
/* GPU memory (zeroed) that lives as long as the node, for CUDA kernels that
 * keep device data for their vjp. */
void *ad_node_alloc_device(ad_node *n, size_t bytes);
/* Is this node being recorded for backward (save data for vjp)? */
bool ad_node_recording(const ad_node *n);
/* The context's tangent direction count k. */
int ad_node_dirs(const ad_node *n);

#ifdef __cplusplus
}
#endif
#endif
