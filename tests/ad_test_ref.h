/* ad_test_ref.h: what the op tests share to check an op against its
 * definition rather than against itself: conv2d computed by its sum, and the
 * kernel contract that a jvp SETS its tangent. Include after ad_test.h. */
#ifndef AD_TEST_REF_H
#define AD_TEST_REF_H

#include "autodidact.h"
#include "ad_kernel.h"

/* y[n,k,p,q] = b[k] + Σ_{c,r,s} w[k,c,r,s]·x[n,c, p·sh − ph + r, q·sw − pw + s]
 * (0 outside x; b may be NULL): conv2d by its definition, row-major,
 * stride and padding given per direction. */
static inline void ad_test_conv2d_ref(const double *x, const double *w, const double *b, double *y, int64_t N,
                                      int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t sh,
                                      int64_t sw, int64_t ph, int64_t pw, int64_t P, int64_t Q)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++) {
                    double acc = b ? b[k] : 0;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t r = 0; r < R; r++)
                            for (int64_t s = 0; s < S; s++) {
                                int64_t i = p * sh - ph + r, j = q * sw - pw + s;
                                if (i >= 0 && i < H && j >= 0 && j < W)
                                    acc += x[((n * C + c) * H + i) * W + j] * w[((k * C + c) * R + r) * S + s];
                            }
                    y[((n * K + k) * P + p) * Q + q] = acc;
                }
}

/* A jvp SETS its tangent (ad_op.h). The engine hands it zeroed arena
 * memory, so only a call over a dirty buffer tells SET from +=: y's tangent
 * (one direction, n elements, `want` after the op was applied) is filled
 * with 1e6, the op's CPU jvp called again, and it must leave `want` exactly. */
static inline void ad_test_jvp_sets(ad_node *y, const char *op, const double *want, int n)
{
    for (int i = 0; i < n; i++) assert_close(ad_tangent_at(y, 0, i), want[i], 0);
    ad_node *o = ad_node_of(y);
    for (int i = 0; i < n; i++) {
        if (o->value.dtype == AD_FLOAT32) ((float *)o->tangent)[i] = 1e6f;
        else ((double *)o->tangent)[i] = 1e6;
    }
    ad_op_find(op)->cpu.jvp(o, 1);
    for (int i = 0; i < n; i++) assert_close(ad_tangent_at(y, 0, i), want[i], 0);
}

#endif
