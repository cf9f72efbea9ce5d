/* ad_gradcheck.h: check an op's (or any function's) derivatives against
 * centered finite differences, in float64, and its float32 arithmetic
 * against its float64 one.
 *
 * For f: inputs -> output tensor y (m elements), and each differentiable
 * input x_s (n_s elements), the checks are:
 *   JACOBIAN_REV  the reverse-mode Jacobian against the numerical Jacobian
 *                 (f(x+εe_i) - f(x-εe_i)) / 2ε; its rows come from backward
 *                 sweeps of a block of one-hot cotangents each (ad_backward_block);
 *   JACOBIAN_FWD  the forward-mode Jacobian, one jvp per input column;
 *   DOT_PRODUCT   <r, J v> = <J^T r, v> for random r, v (no differences at all);
 *   DETERMINISM   backward with the same random cotangent twice, bit for bit;
 *   BLOCK         three random cotangents as one block through one sweep (each
 *                 vjp given all three rows) against three passes of one
 *                 cotangent each, the path training takes: equal up to
 *                 rounding (1e-10 of the largest). A vjp right for one
 *                 cotangent and wrong for a block, or the other way, fails;
 *   FAST_REV / FAST_FWD (fast mode, for big inputs) u^T J_num v against
 *                 (J^T u)^T v and u^T (J v) for random u, v;
 *   DEVICE_*      (device AD_CUDA) the GPU's forward, vjp and jvp against the
 *                 CPU's on the same inputs, to |gpu - cpu| <= 1e-9·|cpu| + 1e-12·(1 + max|cpu|).
 *   VALUE         (float32) the forward value in float32 against float64's.
 * An entry passes where |a - n| <= atol + rtol·|n|. Cotangents are random
 * (never all ones), and input grads are pre-filled with random values
 * before a backward pass so that a vjp which overwrites instead of
 * accumulating is caught. Op inputs are drawn by a seeded GSL generator
 * inside the op's domain and at least a margin away from its kinks: where
 * the op gives each element's distance from a kink (ad_op.kink_dist), only
 * the elements within the margin are drawn again, so any size can be drawn.
 * At the kinks themselves (an op with ad_op.kink_side: inputs on ties and
 * zeros, records "<case>, at ties") each Jacobian entry must be the
 * one-sided derivative the op's convention takes, not any subgradient.
 * Guard zones: every buffer a checked kernel writes (the forward's output,
 * the jvp's tangent, the vjp's input grads) is allocated between zones of
 * known bytes (ad_set_guard_zones; poisoned under ASan), looked at after
 * each call: a write past or before one fails the check that ran it, e.g.
 * "relu [float64] jvp wrote past its output's tangent (element 7 of 7)".
 *
 * float32 (options.dtypes & AD_GC_FLOAT32): the inputs are rounded to
 * float32 (xr = (float)x), and f's float32 forward value, reverse-mode
 * Jacobian (a backward pass per one-hot cotangent, the path float32
 * training takes) and forward-mode Jacobian are compared, entry by entry,
 * with f's float64 ones at the same xr (no finite differences: float32 has
 * too few digits for them). An entry passes where
 *     |a32 - a64| <= F·ε32·(|a64| + max(S, 1)),   F = 8·(1 + √K),
 * ε32 = FLT_EPSILON (2^-23), K the number of elements of the inputs and the
 * output together (no sum an op forms is longer, and its rounding grows as
 * √K), S the largest |a64| of the array (the output, or input s's float64
 * Jacobian), taken as 1 at least (a small derivative computed from values
 * of order 1, sigmoid's y(1 - y) near y = 1, carries their rounding).
 * Rounding stays far inside that; a float32 branch that reads the wrong
 * input, offset or length is off by about S. Fast mode compares one random
 * cotangent's vjp and one random direction's jvp instead. float32 runs on
 * the CPU, whatever options.device. These
 * records carry dtype AD_FLOAT32; the others AD_FLOAT64. */
#ifndef AD_GRADCHECK_H
#define AD_GRADCHECK_H

#include <stdbool.h>
#include <stdio.h>
#include "autodidact.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ad_gc_mode { AD_GC_REV = 1, AD_GC_FWD = 2, AD_GC_BOTH = 3 } ad_gc_mode;
/* The dtypes checked (ad_gc_options.dtypes): float64 against finite
 * differences, float32 against float64. */
typedef enum ad_gc_dtypes { AD_GC_FLOAT64 = 1, AD_GC_FLOAT32 = 2, AD_GC_ALL_DTYPES = 3 } ad_gc_dtypes;
/* The orders of derivatives checked (ad_gc_options.orders): first (every
 * check above), second (H·v and symmetry: gc_second.c). */
typedef enum ad_gc_orders { AD_GC_ORDER1 = 1, AD_GC_ORDER2 = 2, AD_GC_BOTH_ORDERS = 3 } ad_gc_orders;

typedef struct ad_gc_options {
    double eps, atol, rtol;   /* defaults 1e-6, 1e-5, 1e-3 */
    unsigned long seed;       /* GSL mt19937 seed for inputs and cotangents */
    int mode;                 /* ad_gc_mode */
    bool fast;                /* random projections instead of full Jacobians */
    bool richardson;          /* 4-point stencil (error O(ε⁴)) instead of 2-point */
    double kink_margin;       /* inputs at least this far from a kink (1e-3) */
    FILE *jacobian_out;       /* print both Jacobians side by side here (small cases) */
    int device;               /* ad_device: AD_CPU (default), or AD_CUDA: f runs on the
                                 GPU (inputs sent, output received, in float64), and
                                 its forward, vjp and jvp are compared with the CPU's */
    int threads;              /* threads for the full Jacobians' columns and row blocks
                                 (1 to 64, default 1; the CPU only). Above 1, f is called from
                                 several threads at once: the registered ops may be,
                                 a function of yours only if it is thread-safe. The
                                 report is the same for every thread count. */
    int dtypes;               /* ad_gc_dtypes (0: AD_GC_FLOAT64). The default is float64
                                 alone: an op or function of one's own may handle
                                 float64 only (a student's do). The command checks both. */
    int orders;               /* ad_gc_orders (0: AD_GC_ORDER1). Second order: for L = <w, f(x)>,
                                 w a random cotangent, H·v by ad_hvp against the difference of
                                 the gradient along v, entry by entry, and <u, H v> = <v, H u>;
                                 float64 on the CPU. A graph with a first-order-only op is
                                 reported not checked, naming the op. */
} ad_gc_options;

void ad_gc_default_options(ad_gc_options *o);

/* A finite-difference stencil: f'(x) ≈ Σ_k weight[k]·f(x + offset[k]·h) / h,
 * exact for polynomials of degree <= order (its error is O(h^order)).
 * gradcheck's numerical derivatives all go through these tables. */
typedef struct ad_gc_stencil {
    const char *name;
    int n;                     /* points */
    double offset[4], weight[4];
    int order;
} ad_gc_stencil;
/* The stencils: [0] central 2-point, [1] Richardson 4-point (options.richardson). */
enum { AD_GC_N_STENCILS = 2 };
const ad_gc_stencil *ad_gc_stencil_at(int k);
const ad_gc_stencil *ad_gc_stencil_for(const ad_gc_options *o);
/* The stencil applied to a scalar function at x with step h. */
double ad_gc_stencil_apply(const ad_gc_stencil *s, double (*f)(double x, void *user), void *user, double x, double h);

/* Checks larger than this are refused with a message (they would run for
 * hours or exhaust memory): a full Jacobian check costs about
 * n_s·(Σ n + m) element operations per input s, a fast check Σ n + m elements. */
#define AD_GC_MAX_FULL_COST 1e9
#define AD_GC_MAX_ELEMENTS ((int64_t)1 << 25)

typedef enum ad_gc_check {
    AD_GC_JACOBIAN_REV,
    AD_GC_JACOBIAN_FWD,
    AD_GC_DOT_PRODUCT,
    AD_GC_DETERMINISM,
    AD_GC_FAST_REV,
    AD_GC_FAST_FWD,
    AD_GC_DEVICE_FORWARD,     /* --device cuda: the GPU's value against the CPU's */
    AD_GC_DEVICE_VJP,         /* ... each input's vjp for one random cotangent */
    AD_GC_DEVICE_JVP,         /* ... the jvp along one random direction */
    AD_GC_BLOCK,              /* a block of cotangents in one sweep against one at a time */
    AD_GC_VALUE,              /* float32: the forward value against float64's */
    AD_GC_CRASH,              /* ad_gradcheck_op_isolated: the check's process crashed or ran
                                 out of time; the message says in what ("vjp crashed (SIGSEGV)") */
    AD_GC_PATHS,              /* a threaded path (ad_op_path): forward, vjp and jvp on 2 (and N)
                                 threads against 1 thread, bit for bit */
    AD_GC_DIRECTION,          /* a path's probe too large for full Jacobians: <u, J v> by reverse
                                 and forward mode against a centered difference along v */
    AD_GC_HVP,                /* order 2: H·v (ad_hvp) against the difference of the gradient along v */
    AD_GC_HVP_SYMMETRY,       /* order 2: <u, H v> = <v, H u> */
    AD_GC_HVP_ADDS            /* order 2: H·v of f(x) + f(x) = 2·(H·v of f): rules add into ġ */
} ad_gc_check;

const char *ad_gc_check_name(ad_gc_check c);

/* The rule every check here compares two values by (numerical against
 * reverse or forward, a block against one cotangent, GPU against CPU, ...):
 * do a and b agree to within tol? Equal values agree, equal infinities of
 * the same sign included (their difference is NaN, so a check on |b - a|
 * alone fails them); an infinity disagrees with anything else, the opposite
 * infinity or a finite number, whatever tol (an infinite tol included); NaN
 * agrees with nothing, not even NaN; otherwise |a - b| <= tol (a NaN tol
 * fails). The determinism check alone asks for the same bits instead. */
bool ad_gc_agree(double a, double b, double tol);
/* |a - b| as the reports give it: 0 for equal values (equal infinities too),
 * +inf where an infinity meets anything else, NaN where either is NaN. */
double ad_gc_abs_err(double a, double b);

/* One result: an (op, case, dtype, input, check). */
typedef struct ad_gc_record {
    char op[64];
    char case_label[128];
    int dtype;                /* ad_dtype: AD_FLOAT64 (against finite differences), or
                                 AD_FLOAT32 (against float64; numerical holds float64's value) */
    int input;                /* the input checked; -1 for checks of all inputs */
    ad_gc_check check;
    bool pass;
    double max_abs_err, max_rel_err;
    char worst[96];           /* "dy[1,2]/dx1[0,3]" or "" */
    double x_at_worst;        /* the input element's value there */
    double numerical, reverse, forward;   /* at the worst element (NAN where not computed) */
    double seconds;
    char message[256];        /* why it failed, or a note */
} ad_gc_record;

typedef struct ad_gc_report {
    ad_gc_record *rec;
    int n, cap;
    int n_fail;
} ad_gc_report;

void ad_gc_report_free(ad_gc_report *r);

/* Any function of tensors, built with the engine. It must build its output
 * from `inputs` (nodes in ctx) only, deterministically. */
typedef ad_node *(*ad_gc_fn)(ad_context *ctx, ad_node *const *inputs, int n_inputs, void *user);

/* Check f at the given inputs (converted to float64). Inputs whose bit is
 * set in nondiff are held constant. Appends records to r. Returns AD_OK if
 * the checks ran (whatever they found), an error if f fails to build. */
ad_status ad_gradcheck_fn(const char *name, const char *label, ad_gc_fn f, void *user, int n_in,
                          const ad_tensor *const *inputs, unsigned nondiff, const ad_gc_options *o, ad_gc_report *r);

/* Check a registered op at one case: inputs drawn from the op's domain
 * (and sample_input hook), away from its kinks. */
ad_status ad_gradcheck_op_case(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, ad_gc_report *r);

/* Every default case of the op (its paths: ad_gradcheck_op_paths). */
ad_status ad_gradcheck_op(const ad_op *op, const ad_gc_options *o, ad_gc_report *r);

/* The op's code paths (ad_op.paths; gc_paths.c): path k's probe case,
 * with the kernels on the path's thread count, by full Jacobians where its
 * cost is small, else by random directions <u, J v> (reverse, forward,
 * centered difference); a threaded path also bit for bit against one thread
 * (2 threads, and options.threads where more). Records name the path. */
ad_status ad_gradcheck_op_path(const ad_op *op, int k, const ad_gc_options *o, ad_gc_report *r);
ad_status ad_gradcheck_op_paths(const ad_op *op, const ad_gc_options *o, ad_gc_report *r);
/* Case c on 1 thread against 2 (and options.threads) threads, bit for bit,
 * for an op with a threaded path (else nothing). */
ad_status ad_gradcheck_case_threads(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, ad_gc_report *r);

/* ad_gradcheck_op and ad_gradcheck_op_paths (c NULL), or ad_gradcheck_op_case
 * and, for an op with a threaded path, ad_gradcheck_case_threads (c), in a child process
 * (fork; POSIX). The child sends each case's records back as the case
 * ends. Where it dies of a signal (SIGSEGV, SIGABRT, SIGFPE, SIGBUS, ...;
 * the child restores their default actions), exits before it is done (a
 * sanitizer's finding: its report, then exit status 1), or runs past time_limit seconds (0: no limit; then it is
 * killed), one failed AD_GC_CRASH record names the case, the dtype and what
 * was running: "vjp crashed (SIGSEGV)", "forward ran past the time limit
 * (60 s) and was stopped". The records of the cases before it are kept,
 * and the cases after it run in a fresh child (time_limit is each child's).
 * Returns what the check returned (its error message carried over), AD_OK
 * after a crash (a result), or an error if the child cannot be started. */
ad_status ad_gradcheck_op_isolated(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, double time_limit,
                                   ad_gc_report *r);

typedef enum ad_gc_format { AD_GC_TEXT, AD_GC_JSON, AD_GC_JUNIT, AD_GC_TAP } ad_gc_format;

/* Write the report: readable text, JSON, JUnit XML (one testcase per
 * record, valid against Jenkins' junit-10 schema) or TAP version 13 (a YAML
 * block under each failure; NaN as .nan). */
ad_status ad_gc_write(FILE *f, const ad_gc_report *r, ad_gc_format fmt);

#ifdef __cplusplus
}
#endif
#endif
