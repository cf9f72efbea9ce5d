/* ad_elementwise_kinks.h: where the elementwise ops are not differentiable
 * and what they take there, for gradcheck (ad_op_check.h: kink_gap, kink_dist,
 * kink_side). Included by elementwise.c alone: relu and abs have their kink
 * at x = 0, max and min at a tie a = b. */
#ifndef AD_ELEMENTWISE_KINKS_H
#define AD_ELEMENTWISE_KINKS_H

#include <math.h>
#include "ad_elementwise_math.h"
#include "ad_kernel_util.h"

/* Kink gaps: how far the current inputs are from where the op is not
 * differentiable, so gradcheck can draw again when too close. */
static double abs_gap_unary(const ad_node *o)
{
    double gap = INFINITY;
    for (int64_t i = 0; i < o->in[0]->value.size; i++) gap = min_f(gap, fabs(ad_value_at(o->in[0], i)));   /* NaN: no gap */
    return gap;
}

static double tie_gap_binary(const ad_node *o)
{
    ad_bcast bc;
    ad_bcast_setup(o, &bc);
    double gap = INFINITY;
    AD_DISPATCH(o->value.dtype, {
        const T *a = o->in[0]->value.data, *b = o->in[1]->value.data;
        AD_BCAST_FOR(bc, { gap = min_f(gap, fabs((double)a[ia] - (double)b[ib])); });
    });
    return gap;
}

/* The same element by element (ad_op.kink_dist): relu's and abs's kink is
 * x = 0, so element j is |x_j| from it; max's and min's is a tie a = b, so
 * an element is |a - b| from it, the least over the pairs broadcasting puts
 * it in (a scalar b meets every a). NaN: at the kink (0), drawn again. */
static void abs_dist_unary(const ad_node *o, int slot, double *dist)
{
    (void)slot;
    for (int64_t i = 0; i < o->in[0]->value.size; i++) {
        double a = fabs(ad_value_at(o->in[0], i));
        dist[i] = a == a ? a : 0;
    }
}

static void tie_dist_binary(const ad_node *o, int slot, double *dist)
{
    for (int64_t i = 0; i < o->in[slot]->value.size; i++) dist[i] = INFINITY;
    ad_bcast bc;
    ad_bcast_setup(o, &bc);
    AD_DISPATCH(o->value.dtype, {
        const T *a = o->in[0]->value.data, *b = o->in[1]->value.data;
        AD_BCAST_FOR(bc, {
            double g = fabs((double)a[ia] - (double)b[ib]);
            int64_t j = slot == 0 ? ia : ib;
            if (!(g >= dist[j])) dist[j] = g == g ? g : 0;
        });
    });
}
/* The side each op's derivative at its kink is taken from (ad_op.kink_side;
 * ad_elementwise_math.h states the conventions): relu'(0) = 0 is the left
 * side's (v = -1); abs'(0) = 0 neither side's, their average (v = 0); max
 * and min give a tie to a, as if a were a little above b for max (v = +1
 * on a) and a little below for min (v = -1 on a), b unmoved. */
static void fill(const ad_node *o, int slot, double *v, double value)
{
    for (int64_t i = 0; i < o->in[slot]->value.size; i++) v[i] = value;
}
static void relu_side(const ad_node *o, int slot, double *v) { fill(o, slot, v, -1); }
static void abs_side(const ad_node *o, int slot, double *v) { fill(o, slot, v, 0); }
static void max_side(const ad_node *o, int slot, double *v) { fill(o, slot, v, slot == 0 ? 1 : 0); }
static void min_side(const ad_node *o, int slot, double *v) { fill(o, slot, v, slot == 0 ? -1 : 0); }
/* A unary op's kink_side from its GAP (relu names its own): KINK_SIDE_##GAP. */
#define KINK_SIDE_NULL NULL
#define KINK_SIDE_abs_gap_unary abs_side

/* Each GAP's kink_dist: KINK_DIST_##GAP (pasted before NULL expands). */
#define KINK_DIST_NULL NULL
#define KINK_DIST_abs_gap_unary abs_dist_unary
#define KINK_DIST_tie_gap_binary tie_dist_binary

#endif
