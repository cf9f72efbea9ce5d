/* ad_op_check.h: what gradcheck reads of an op besides its kernels: the
 * interval it draws each input from, its check cases, where its kinks are
 * and which side it takes there, and its kernels' code paths. The fields of
 * struct ad_op under "for gradcheck" have these types. */
#ifndef AD_OP_CHECK_H
#define AD_OP_CHECK_H

#include "ad_graph.h"
#include "ad_params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The interval gradcheck draws an input from. */
typedef struct ad_domain { double lo, hi; } ad_domain;

/* A check case: input shapes and parameters that exercise the op. */
typedef struct ad_op_case {
    const char *label;            /* e.g. "batch 2, 3 channels, stride 2" */
    int n_in;
    int ndim[AD_MAX_INPUTS];
    int64_t shape[AD_MAX_INPUTS][AD_MAX_DIMS];
    ad_params params;
} ad_op_case;

/* Distance of the current inputs from the nearest kink (relu at 0, max at
 * a tie, a pooling window's top two); NULL for smooth ops. */
typedef double (*ad_kink_gap_fn)(const ad_node *out);

/* The same element by element (optional): for each element j of input
 * `slot`, its distance from the nearest kink it takes part in, into dist[j]
 * (in[slot]->value.size of them; INFINITY where none; NaN counts as at a
 * kink). gradcheck then draws again only the elements nearer than its
 * margin, so inputs of any size can be drawn clear of the kinks (NULL: it
 * draws every element again until kink_gap is clear). An op may leave
 * INFINITY on an element that takes part in too many kinks to draw again
 * (conv2d_relu's w: a whole channel's), as long as every kink has some
 * element at its distance: the least of dist over all inputs must be
 * kink_gap, which gradcheck checks at every draw. */
typedef void (*ad_kink_dist_fn)(const ad_node *out, int slot, double *dist);

/* The side the op takes its derivative from at a kink (optional): a
 * direction v for input `slot` (in[slot]->value.size numbers) such that at
 * a kink the op's derivative is the limit of its derivative at x + δ·v as
 * δ → 0+ (max gives a tie to a: v = +1 on a, 0 on b; relu'(0) = 0: v = -1).
 * v all 0: the average of the two sides (abs'(0) = 0). gradcheck checks the
 * derivatives at ties and zeros against that side's difference, where its
 * other checks accept any value between the sides. */
typedef void (*ad_kink_side_fn)(const ad_node *out, int slot, double *v);

/* Fill an input that gradcheck cannot draw uniformly from its domain (class
 * targets, say): write t's values for this case. rng is a gsl_rng *. */
typedef void (*ad_sample_input_fn)(const ad_op_case *c, int slot, ad_tensor *t, void *rng);

/* Complete a case from what the user gave on the command line: the first
 * input's shape and the params; derive the other inputs' shapes. */
typedef ad_status (*ad_complete_case_fn)(ad_op_case *c);

/* A code path of an op's CPU kernels: where a kernel switches path by size,
 * by thread count or by layout (relu's blocked loop, conv2d's threads and
 * kept columns), the op lists each side as a path, with the threshold that
 * selects it (a named constant beside the kernel, used by both), so
 * gradcheck can check every path and not only the one its small default
 * cases happen to take. A path with threads >= 2 is taken only when the
 * kernels run on that many threads (ad_set_threads): gradcheck runs its
 * probe on one thread (the path `reference`, same inputs) and on several,
 * and compares forward, vjp and jvp bit for bit (ad_parallel.h promises the
 * same bits on any thread count). */
typedef struct ad_op_path {
    const char *name;        /* "blocked" */
    const char *when;        /* the rule, for reports: "n >= 16384, 2+ threads" */
    int64_t threshold;       /* the size at which it starts, in the op's own measure (0: by layout or threads) */
    int threads;             /* 1, or the kernel threads it needs (2: any count above 1); a
                                threaded path's kernels take their count from
                                ad_threads_for, and gradcheck fails a probe in which no
                                kernel was given 2+ threads (it did not reach the path) */
    const char *reference;   /* threads >= 2: the path the probe takes on one thread; else NULL */
    ad_op_case probe;        /* a case that takes this path (at a threshold's edge) */
} ad_op_path;

/* Can second order (ad_hvp, gradcheck --order 2) pass through the op? It
 * has a second-order rule (its CPU kernels' vjp_tangent), or needs none
 * (AD_OP_LINEAR, AD_OP_PIECEWISE_LINEAR); else it is first-order only. */
bool ad_op_second_order(const ad_op *op);

#ifdef __cplusplus
}
#endif
#endif
