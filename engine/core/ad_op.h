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
 *  - vjp_tangent(out, slot, dir, gout, gin_dot): second order (ad_hvp,
 *    hvp.c). ADD to gin_dot the change of J_slot^T·gout as the op's
 *    inputs move along their tangents in direction dir:
 *        gin_dot += (d/dε J_slot(x + ε·ẋ))^T · gout,
 *    ẋ the inputs' tangent rows dir (ad_tangent_row: NULL is 0), with
 *    out's own tangent row (ẏ = J·ẋ) at hand. For y = a·b elementwise it
 *    is gout·ḃ into a's; for y = f(x), gout·f''(x)·ẋ. (The rest of the
 *    tangent of the cotangent, J_slot^T·ġout, is the op's vjp applied to
 *    ġout: the sweep does that.) NULL for an op whose J does not move with
 *    its inputs: AD_OP_LINEAR or AD_OP_PIECEWISE_LINEAR. An op with none
 *    of the three is first-order only, and ad_hvp refuses it by name.
 *  - forward(out): compute out->value from out->in[]. An op may keep data
 *    for its vjp in out->saved (arena memory from ad_node_alloc) when
 *    ad_node_recording(out) is true.
 *  - All inputs of an op share one dtype and device. */
#ifndef AD_OP_H
#define AD_OP_H

#include "ad_graph.h"
#include "ad_params.h"     /* ad_params: an op's parameters (axis, stride, exponent...) */
#include "ad_op_check.h"   /* what gradcheck reads of an op besides its kernels */
#include "ad_registry.h"   /* the table of ops every tool iterates */

#ifdef __cplusplus
extern "C" {
#endif
/* Op flags. */
enum {
    AD_OP_ELEMENTWISE = 1u << 0,  /* J is diagonal (with broadcasting); the output's shape is the
                                     inputs' broadcast, so ad_apply skips the shape rule when all
                                     inputs are 0-d of one dtype (and the op takes no params) */
    AD_OP_LINEAR = 1u << 1,       /* jvp is the forward applied to tangents; second derivatives 0 */
    AD_OP_NONSMOOTH = 1u << 2,    /* has kinks: gradcheck samples away from them */
    AD_OP_PARAMS = 1u << 3,       /* takes ad_params */
    AD_OP_TO_CUDA = 1u << 4,      /* output on the GPU whatever the input (the send copy) */
    AD_OP_TO_CPU = 1u << 5,       /* output on the CPU whatever the input (the receive copy) */
    AD_OP_BATCHED = 1u << 6,      /* dim 0 of input 0 and of the output is a batch (images, rows):
                                     output item n depends on input 0 through its item n alone.
                                     gradcheck then perturbs an element of every item at once for
                                     input 0's numerical Jacobian (after checking, at two columns,
                                     that the items are independent) */
    AD_OP_PIECEWISE_LINEAR = 1u << 7, /* linear on each piece (relu, abs, max, min, maxpool2d): J is
                                     constant between kinks, so its second derivatives are 0 wherever
                                     they exist; at a kink (relu's 0, max's ties) they do not */
};

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

/* Kernels for one device. */
typedef struct ad_op_kernels {
    ad_status (*forward)(ad_node *out);
    void (*vjp)(const ad_node *out, int slot, int rows, const void *gout, void *gin);
    void (*jvp)(ad_node *out, int k);
    void (*vjp_tangent)(const ad_node *out, int slot, int dir, const void *gout, void *gin_dot);
} ad_op_kernels;

struct ad_op {
    const char *name;
    const char *summary;          /* one line, for `gradcheck --list` */
    int n_in;                     /* max inputs (every op takes 1 to AD_MAX_INPUTS) */
    int n_in_min;                 /* min inputs (optional trailing ones, e.g. bias) */
    unsigned flags;
    /* Check inputs and params; set the output's ndim, shape and dtype, or
     * fail with a message naming the op and the shapes. */
    ad_status (*infer)(ad_node *const *in, int n_in, const ad_params *p,
                       int *ndim, int64_t *shape, ad_dtype *dt);
    ad_op_kernels cpu;
    const ad_op_kernels *cuda;    /* NULL where there is no CUDA kernel */
    /* --- for gradcheck (ad_op_check.h says what each is) --- */
    ad_domain domain[AD_MAX_INPUTS];   /* {0,0} means the default [-2, 2] */
    unsigned nondiff_inputs;           /* bit i: input i is not differentiable
                                          (indices, targets): held constant */
    ad_kink_gap_fn kink_gap;           /* NULL for smooth ops */
    ad_kink_dist_fn kink_dist;
    ad_kink_side_fn kink_side;
    ad_sample_input_fn sample_input;   /* NULL: uniform from domain[slot] */
    const ad_op_case *cases;           /* default cases for gradcheck */
    int n_cases;
    ad_complete_case_fn complete_case; /* NULL: every input takes the first input's shape */
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
