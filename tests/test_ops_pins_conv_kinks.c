/* test_ops_pins_conv_kinks.c (part of test_ops_pins_conv): conv2d_relu's
 * kinks, element by element, against their definitions.
 *
 * The kinks are the outputs whose pre-activation z = x ⋆ w + b is 0. By
 * ad_op.h's contract, kink_dist gives
 *   - each x element: the least |z| over the outputs whose window holds it;
 *   - each b[k]: the least |z| over channel k's outputs whose window is
 *     padding alone (only b moves those);
 *   - w: INFINITY (drawing it again would move a whole channel's kinks);
 *   - NaN pre-activations: 0 (at the kink);
 * and kink_gap is the least |z| over the outputs that can move: all of them
 * with a bias; without one, a window of padding alone is 0 whatever the
 * inputs (relu(0) there is a constant, not a kink), so it is left out.
 * z is read from conv2d (the same kernel without the ReLU), so the numbers
 * compared are the same bits. Geometry with windows of padding alone at
 * both ends of both axes (pad >= kernel), windows that hold one row or
 * column of the image at each edge, strides of 2 and 3. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"

int test_ops_pins_conv_kinks(void);

/* Rows: the windows start at 2p - 4 = -4, -2, 0, 2, 4, 6 (3 rows each):
 * padding alone at p = 0 and 5, the last row of p = 1's the image's first,
 * the first row of p = 4's the image's last. Columns: 3q - 4 = -4, -1, 2, 5,
 * 8 (2 each): padding alone at q = 0 and 4, q = 1's last column the
 * image's first, q = 3's first its last. */
enum { N = 2, C = 2, H = 5, W = 6, K = 3, R = 3, S = 2, SH = 2, SW = 3, PH = 4, PW = 4 };
enum { P = (H + 2 * PH - R) / SH + 1, Q = (W + 2 * PW - S) / SW + 1 };
enum { NX = N * C * H * W, NW = K * C * R * S, NY = N * K * P * Q };

static bool in_image(int64_t i, int64_t j) { return i >= 0 && i < H && j >= 0 && j < W; }

static bool window_has_x(int64_t p, int64_t q)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t s = 0; s < S; s++)
            if (in_image(p * SH - PH + r, q * SW - PW + s)) return true;
    return false;
}

static double least(double a, double b) { return b < a ? b : a; }

/* One geometry, with or without the bias, in dtype d; nan_at >= 0 puts a
 * NaN into that x element. */
static void check(ad_dtype d, bool bias, int nan_at)
{
    ad_context *ctx = ad_context_new();
    double xv[NX], wv[NW], bv[K];
    for (int i = 0; i < NX; i++) xv[i] = 1.5 * sin(1.7 * i + 0.3);
    for (int i = 0; i < NW; i++) wv[i] = 0.8 * cos(1.1 * i);
    for (int k = 0; k < K; k++) bv[k] = 0.3 * sin(k + 2.0);
    bv[K - 1] = 1e-6;   /* the last channel's windows of padding alone hold the gap (with the bias) */
    if (nan_at >= 0) xv[nan_at] = NAN;
    ad_node *in[3] = {ad_variable(ctx, d, 4, (const int64_t[]){N, C, H, W}, xv),
                      ad_variable(ctx, d, 4, (const int64_t[]){K, C, R, S}, wv),
                      ad_variable(ctx, d, 1, (const int64_t[]){K}, bv)};
    ad_params p = {.stride = {SH, SW}, .pad = {PH, PW}};
    int n_in = bias ? 3 : 2;
    ad_node *z = ad_apply(ctx, &ad_op_conv2d, in, n_in, &p);
    ad_node *y = ad_apply(ctx, &ad_op_conv2d_relu, in, n_in, &p);
    assert_non_null(z);
    assert_non_null(y);
    assert_int_equal(ad_value(z).size, NY);

    double want_x[NX], want_b[K], gap = INFINITY;
    for (int i = 0; i < NX; i++) want_x[i] = INFINITY;
    for (int k = 0; k < K; k++) want_b[k] = INFINITY;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t pp = 0; pp < P; pp++)
                for (int64_t qq = 0; qq < Q; qq++) {
                    double a = fabs(ad_value_at(z, ((n * K + k) * P + pp) * Q + qq));
                    if (a != a) a = 0;   /* NaN: at the kink */
                    if (!window_has_x(pp, qq)) {
                        if (bias) want_b[k] = least(want_b[k], a), gap = least(gap, a);
                        continue;
                    }
                    gap = least(gap, a);
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t r = 0; r < R; r++)
                            for (int64_t s = 0; s < S; s++) {
                                int64_t i = pp * SH - PH + r, j = qq * SW - PW + s;
                                if (in_image(i, j)) {
                                    int64_t e = ((n * C + c) * H + i) * W + j;
                                    want_x[e] = least(want_x[e], a);
                                }
                            }
                }
    const ad_node *o = ad_node_of(y);
    double got[NX + NW];   /* (room for any input; 0 past the input's own, which kink_dist must not read) */
    for (int e = 0; e < NX + NW; e++) got[e] = 0;
    ad_op_conv2d_relu.kink_dist(o, 0, got);
    for (int e = 0; e < NX; e++)
        if (!(got[e] == want_x[e]))
            fail_msg("%s%s: x[%d]'s distance %.17g, the definition %.17g", ad_dtype_name(d), bias ? "" : " (no bias)", e,
                     got[e], want_x[e]);
    for (int e = 0; e < NX + NW; e++) got[e] = 0;
    ad_op_conv2d_relu.kink_dist(o, 1, got);
    for (int e = 0; e < NW; e++)
        if (!(got[e] == INFINITY)) fail_msg("%s: w[%d]'s distance %g, expected inf", ad_dtype_name(d), e, got[e]);
    if (bias) {
        for (int e = 0; e < NX + NW; e++) got[e] = 0;
        ad_op_conv2d_relu.kink_dist(o, 2, got);
        for (int k = 0; k < K; k++)
            if (!(got[k] == want_b[k]))
                fail_msg("%s: b[%d]'s distance %.17g, the definition %.17g", ad_dtype_name(d), k, got[k], want_b[k]);
    }
    if (bias && nan_at < 0) assert_true(gap == fabs(ad_value_at(in[2], K - 1)));   /* (the case is built so) */
    double g = ad_op_conv2d_relu.kink_gap(o);
    if (!(g == gap)) fail_msg("%s%s: kink_gap %.17g, the definition %.17g", ad_dtype_name(d), bias ? "" : " (no bias)", g, gap);
    ad_context_free(ctx);
}

static void test_relu_dist_by_definition(void **state)
{
    (void)state;
    assert_true(P == 6 && Q == 5);
    assert_false(window_has_x(0, 2) || window_has_x(5, 2) || window_has_x(2, 0) || window_has_x(2, 4));
    assert_true(window_has_x(1, 2) && window_has_x(4, 2) && window_has_x(2, 1) && window_has_x(2, 3));
    for (int dt = 0; dt < 2; dt++)
        for (int bias = 0; bias < 2; bias++) check(dt ? AD_FLOAT32 : AD_FLOAT64, bias, -1);
}

/* A NaN in x: the outputs over it are NaN, at the kink: distance 0 for
 * every x element under them, and a gap of 0. x[0] (a corner: few windows)
 * and x[27] (inside, image 1). */
static void test_relu_dist_at_nan(void **state)
{
    (void)state;
    check(AD_FLOAT64, true, 0);
    check(AD_FLOAT64, false, 27);
}

int test_ops_pins_conv_kinks(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_dist_by_definition),
        cmocka_unit_test(test_relu_dist_at_nan),
    };
    return cmocka_run_group_tests_name("ops pins: conv2d_relu's kinks", tests, NULL, NULL);
}
