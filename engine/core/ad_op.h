/* ad_op.h: the op interface, the heart of the design: what an op is, as the
 * engine sees it (the engine calls an op only through this record), and
 * the registry every tool iterates.
 *
 * Each op is defined once, in one file of ops/, as a `const ad_op` with
 * everything side by side: name, arity, shape rule, forward, vjp, jvp, the
 * domain gradcheck should sample, its default check cases, and CUDA slots.
 * ad_op_list.h lists them all; the enum and the table are generated from
 * that list, so they cannot get out of step. gradcheck, the DOT export and
 * the autograder iterate the table: a new op is checked once registered.
 *
 * Conventions:
 *  - vjp(out, slot, rows, gout, gin): for each of `rows` cotangents, ADD
 *    J_slot^T * gout_r into gin_r. gout holds rows cotangents of out->value's
 *    shape one after another, gin rows gradients of out->in[slot]->value's
 *    (row r at r * size elements of the dtype). rows = 1 is backpropagation,
 *    the special case; a block (rows > 1) is many rows of the Jacobian in one
 *    sweep (ad_backward_block: gradcheck's Jacobians), where linear's dx and
 *    matmul's da stack the rows into one GEMM and conv2d's dx runs rows·N
 *    images. A vjp written for one cotangent loops over the rows with
 *    AD_VJP_BY_ROWS (ad_kernel.h). gradcheck checks both: the Jacobian's rows come
 *    in blocks, and block-vs-one compares a block with one cotangent at a
 *    time. Always +=, never =: with fan-out (b = a + a) both slots write the
 *    same buffer.
 *  - jvp(out, k): SET out->tangent (k rows of out->value.size) to
 *    sum_slot J_slot * in[slot]->tangent; an input's NULL tangent is zero.
 *  - forward(out): compute out->value from out->in[]. An op may keep data
 *    for its vjp in out->saved (arena memory from ad_node_alloc) when
 *    ad_node_recording(out) is true.
 *  - All inputs of an op share one dtype and device. */
#ifndef AD_OP_H
#define AD_OP_H

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

/* Op parameters: one struct for every family, stored per node only for the
 * ops that take them. Unused fields stay zero. */
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

/* Op flags. */
enum {
    AD_OP_ELEMENTWISE = 1u << 0,  /* J is diagonal (with broadcasting); the output's shape is the
                                     inputs' broadcast, so ad_apply skips the shape rule when all
                                     inputs are 0-d of one dtype (and the op takes no params) */
    AD_OP_LINEAR = 1u << 1,       /* jvp is the forward applied to tangents */
    AD_OP_NONSMOOTH = 1u << 2,    /* has kinks: gradcheck samples away from them */
    AD_OP_PARAMS = 1u << 3,       /* takes ad_params */
    AD_OP_TO_CUDA = 1u << 4,      /* output on the GPU whatever the input (the send copy) */
    AD_OP_TO_CPU = 1u << 5,       /* output on the CPU whatever the input (the receive copy) */
    AD_OP_BATCHED = 1u << 6,      /* dim 0 of input 0 and of the output is a batch (images, rows):
                                     output item n depends on input 0 through its item n alone.
                                     gradcheck then perturbs an element of every item at once for
                                     input 0's numerical Jacobian (after checking, at two columns,
                                     that the items are independent) */
};

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

/* The scalar path's kernels (optional, for an elementwise op without
 * params): the op's math on one element, in double. y = f(a, b) (a unary op:
 * f(x, 0)); d(a, b, y, slot) is dy/d(input slot). For 0-d CPU inputs ad_apply
 * and the backward sweep call these instead of forward and vjp, reading only
 * the nodes' first 64 bytes, and round to the dtype exactly as those do. */
typedef struct ad_scalar_kernels {
    double (*f)(double a, double b);
    double (*d)(double a, double b, double y, int slot);
} ad_scalar_kernels;

/* The elementary functions of the lectures' scalar formulas: an op that is
 * one of them says which (ad_op.math), and the teaching tools write it and
 * differentiate it symbolically by that (engine/teach/symbolic.c holds the
 * rule of each). */
typedef enum ad_math_fn {
    AD_MATH_NONE = 0,
    AD_MATH_add, AD_MATH_sub, AD_MATH_mul, AD_MATH_div, AD_MATH_max, AD_MATH_min,
    AD_MATH_neg, AD_MATH_pow, AD_MATH_scale,   /* pow: x^c, scale: c·x, c the op's params.c */
    AD_MATH_exp, AD_MATH_log, AD_MATH_sqrt, AD_MATH_sin, AD_MATH_cos, AD_MATH_tanh, AD_MATH_sigmoid,
    AD_MATH_relu, AD_MATH_abs,
} ad_math_fn;

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

/* Kernels for one device. */
typedef struct ad_op_kernels {
    ad_status (*forward)(ad_node *out);
    void (*vjp)(const ad_node *out, int slot, int rows, const void *gout, void *gin);
    void (*jvp)(ad_node *out, int k);
} ad_op_kernels;

struct ad_op {
    const char *name;
    const char *summary;          /* one line, for `gradcheck --list` */
    int n_in;                     /* max inputs */
    int n_in_min;                 /* min inputs (optional trailing ones, e.g. bias) */
    unsigned flags;
    /* Check inputs and params; set the output's ndim, shape and dtype, or
     * fail with a message naming the op and the shapes. */
    ad_status (*infer)(ad_node *const *in, int n_in, const ad_params *p,
                       int *ndim, int64_t *shape, ad_dtype *dt);
    ad_op_kernels cpu;
    const ad_op_kernels *cuda;    /* NULL where there is no CUDA kernel */
    /* --- for gradcheck --- */
    ad_domain domain[AD_MAX_INPUTS];   /* {0,0} means the default [-2, 2] */
    unsigned nondiff_inputs;           /* bit i: input i is not differentiable
                                          (indices, targets): held constant */
    /* Distance of the current inputs from the nearest kink (relu at 0, max
     * at a tie, a pooling window's top two); NULL for smooth ops. */
    double (*kink_gap)(const ad_node *out);
    /* The same element by element (optional): for each element j of input
     * `slot`, its distance from the nearest kink it takes part in, into
     * dist[j] (in[slot]->value.size of them; INFINITY where none; NaN counts
     * as at a kink). gradcheck then draws again only the elements nearer
     * than its margin, so inputs of any size can be drawn clear of the kinks
     * (NULL: it draws every element again until kink_gap is clear). An op
     * may leave INFINITY on an element that takes part in too many kinks to
     * draw again (conv2d_relu's w: a whole channel's), as long as every kink
     * has some element at its distance: the least of dist over all inputs
     * must be kink_gap, which gradcheck checks at every draw. */
    void (*kink_dist)(const ad_node *out, int slot, double *dist);
    /* The side the op takes its derivative from at a kink (optional): a
     * direction v for input `slot` (in[slot]->value.size numbers) such that
     * at a kink the op's derivative is the limit of its derivative at
     * x + δ·v as δ → 0+ (max gives a tie to a: v = +1 on a, 0 on b; relu'(0)
     * = 0: v = -1). v all 0: the average of the two sides (abs'(0) = 0).
     * gradcheck checks the derivatives at ties and zeros against that side's
     * difference, where its other checks accept any value between the sides. */
    void (*kink_side)(const ad_node *out, int slot, double *v);
    /* Fill an input that gradcheck cannot draw uniformly from its domain
     * (class targets, say): write t's values for this case. rng is a
     * gsl_rng *. NULL: uniform from domain[slot]. */
    void (*sample_input)(const ad_op_case *c, int slot, ad_tensor *t, void *rng);
    const ad_op_case *cases;      /* default cases for gradcheck */
    int n_cases;
    /* Complete a case from what the user gave on the command line: the first
     * input's shape and the params; derive the other inputs' shapes. NULL:
     * every input takes the first input's shape. */
    ad_status (*complete_case)(ad_op_case *c);
    const ad_scalar_kernels *scalar;   /* NULL: 0-d inputs take forward and vjp */
    /* --- for the teaching tools (engine/teach), so none looks an op up by its name --- */
    ad_math_fn math;              /* the elementary function it is (the symbolic engine's
                                     derivative rule); AD_MATH_NONE for a tensor op */
    const char *infix;            /* a binary op written between its inputs in the lecture's
                                     notation, spaces included (" + ", "·"); NULL: as a function */
    /* --- for gradcheck: the kernels' code paths (ad_op_path); NULL, 0: one path --- */
    const ad_op_path *paths;
    int n_paths;
};

/* ---- the registry ----
 * The table of ops every tool iterates: the built-in ones (ops/, listed in
 * ops/ad_op_list.h; their enum and symbols are in ad_op_builtin.h, included
 * by ad_ops.h), then those registered at run time. The table itself is
 * ops/registry.c: the engine defines what an op is, ops/ fills the table. */
/* Built-in ops and registered ones, in order. */
int ad_op_count(void);
const ad_op *ad_op_at(int i);
const ad_op *ad_op_find(const char *name);
/* Register an op at run time (a student's, a test's deliberately wrong one).
 * The op must outlive its use. Fails if the name is taken or the op is
 * malformed (no name, no forward). */
ad_status ad_op_register(const ad_op *op);
ad_status ad_op_unregister(const ad_op *op);

/* Where the engine and PyTorch differ on purpose (ops/conventions.c):
 * `gradcheck --list` prints them, tests/conformance.py checks each. */
typedef struct ad_convention {
    const char *name;   /* "tie-first" */
    const char *ops;    /* "max, min" */
    const char *text;   /* what the engine does, and what PyTorch does */
} ad_convention;
extern const ad_convention ad_conventions[];
extern const int ad_n_conventions;

/* ---- applying an op ---- */
/* The one path every op call takes: checks the context and the inputs,
 * infers the shape, allocates the node, runs forward, runs jvp if any input
 * has a tangent, records the node if grad mode is on and an input requires
 * grad. Returns NULL with a message on error; a NULL input keeps the
 * earlier message. params is copied. */
ad_node *ad_apply(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in,
                  const ad_params *params);

#ifdef __cplusplus
}
#endif
#endif
