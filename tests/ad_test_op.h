/* ad_test_op.h: what the tests that register ops of their own share
 * (test_gradcheck_crash, _dtype, _guard, _paths, _second, test_hvp): a
 * shape rule, and the right kernels of y = 2x and of y = x³, which those
 * tests break one at a time; and y = a·b (+ c) with scalar kernels, on 0-d
 * inputs (test_fast_pins, test_engine_pins_seam). */
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

/* y = x³ (float64): the forward, the vjp (dx += 3x²·dy), the jvp (ty =
 * 3x²·tx) and the second-order rule (ad_op.h's vjp_tangent: dx' += 6x·ẋ·dy). */
static inline ad_status ad_test_cube_fwd(ad_node *o)
{
    const double *x = o->in[0]->value.data;
    double *y = o->value.data;
    for (int64_t i = 0; i < o->value.size; i++) y[i] = x[i] * x[i] * x[i];
    return AD_OK;
}
static inline void ad_test_cube_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    const double *x = o->in[0]->value.data, *gy = g;
    double *gx = gi;
    for (int64_t i = 0; i < o->value.size; i++) gx[i] += 3 * x[i] * x[i] * gy[i];
}
static inline void ad_test_cube_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    ad_vjp_rows(ad_test_cube_vjp1, o, s, rows, g, gi);
}
static inline void ad_test_cube_jvp(ad_node *o, int k)
{
    const double *x = o->in[0]->value.data;
    for (int d = 0; d < k; d++) {
        const double *t = ad_tangent_row(o->in[0], d);
        double *ty = ad_tangent_row(o, d);
        for (int64_t i = 0; i < o->value.size; i++) ty[i] = t ? 3 * x[i] * x[i] * t[i] : 0;
    }
}
static inline void ad_test_cube_vjp_tangent(const ad_node *o, int s, int dir, const void *g, void *gi_dot)
{
    (void)s;
    const double *x = o->in[0]->value.data, *gy = g, *t = ad_tangent_row(o->in[0], dir);
    double *gd = gi_dot;
    for (int64_t i = 0; t && i < o->value.size; i++) gd[i] += 6 * x[i] * t[i] * gy[i];
}

/* y = a·b, plus c where a third input is given, on 0-d inputs: scalar
 * kernels (ad_op.h: they take two inputs, so c has none), the forward, and
 * the shape rule (0-d, input 0's dtype). For the scalar path's tests. */
static inline double ad_test_ab_f(double a, double b) { return a * b; }
static inline double ad_test_ab_d(double a, double b, double y, int slot)
{
    (void)y;
    return slot == 0 ? b : slot == 1 ? a : 0;
}
static const ad_scalar_kernels ad_test_ab_scalar = {ad_test_ab_f, ad_test_ab_d};
static inline ad_status ad_test_ab_plus_c_fwd(ad_node *o)
{
    double c = o->n_in > 2 ? ad_tensor_get(&o->in[2]->value, 0) : 0;
    ad_tensor_set(&o->value, 0, ad_tensor_get(&o->in[0]->value, 0) * ad_tensor_get(&o->in[1]->value, 0) + c);
    return AD_OK;
}
static inline ad_status ad_test_0d_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh,
                                         ad_dtype *dt)
{
    (void)n, (void)p, (void)sh;
    *nd = 0;
    *dt = (ad_dtype)in[0]->value.dtype;
    return AD_OK;
}

#endif
