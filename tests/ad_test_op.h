/* ad_test_op.h: what the tests that register ops of their own share
 * (test_gradcheck_crash, _dtype, _guard, _paths): a shape rule, and the
 * right kernels of y = 2x, which those tests break one at a time. */
#ifndef AD_TEST_OP_H
#define AD_TEST_OP_H

#include <string.h>
#include "ad_kernel.h"

/* The shape rule of an elementwise op: the output is shaped as input 0. */
static inline ad_status ad_test_same_shape(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh,
                                           ad_dtype *dt)
{
    (void)n, (void)p;
    *nd = in[0]->value.ndim;
    memcpy(sh, in[0]->value.shape, sizeof in[0]->value.shape);
    *dt = (ad_dtype)in[0]->value.dtype;
    return AD_OK;
}

/* y = 2x, in either dtype: the forward, the vjp (dx += 2·dy, one row and a
 * block of rows) and the jvp (ty = 2·tx, each direction). */
static inline ad_status ad_test_twice_fwd(ad_node *o)
{
    AD_DISPATCH(o->value.dtype, {
        const T *x = o->in[0]->value.data;
        T *y = o->value.data;
        for (int64_t i = 0; i < o->value.size; i++) y[i] = 2 * x[i];
    });
    return AD_OK;
}
static inline void ad_test_twice_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    AD_DISPATCH(o->value.dtype, {
        const T *gy = g;
        T *gx = gi;
        for (int64_t i = 0; i < o->value.size; i++) gx[i] += 2 * gy[i];
    });
}
static inline void ad_test_twice_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    ad_vjp_rows(ad_test_twice_vjp1, o, s, rows, g, gi);
}
static inline void ad_test_twice_jvp(ad_node *o, int k)
{
    AD_DISPATCH(o->value.dtype, {
        for (int d = 0; d < k; d++) {
            const T *t = ad_tangent_row(o->in[0], d);
            T *ty = ad_tangent_row(o, d);
            for (int64_t i = 0; i < o->value.size; i++) ty[i] = t ? 2 * t[i] : 0;
        }
    });
}

#endif
