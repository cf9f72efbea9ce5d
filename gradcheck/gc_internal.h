/* gc_internal.h: what gradcheck's files share (not installed): one run's
 * state, its evaluations and scratch, the worker pool, and each check. */
#ifndef GC_INTERNAL_H
#define GC_INTERNAL_H

#include <stdatomic.h>
#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "ad_gradcheck.h"
#include "ad_kernel.h"   /* the run reads its own nodes' buffers in place (ad_node_of) */

/* None of these leave libautodidact_gradcheck. */
#pragma GCC visibility push(hidden)

/* ---- one run: f, its inputs (float64 copies), and scratch ---- */
typedef struct gc_run {
    const char *name, *label;
    ad_gc_fn f;
    void *user;
    int n_in;
    unsigned nondiff;
    double *x[AD_MAX_INPUTS];             /* current input values */
    int ndim[AD_MAX_INPUTS];
    int64_t shape[AD_MAX_INPUTS][AD_MAX_DIMS];
    int64_t n[AD_MAX_INPUTS];
    ad_tensor out;                         /* output shape (data unused) */
    int64_t m;
    int64_t items;                         /* input 0's batch items (AD_OP_BATCHED): the numerical
                                              Jacobian perturbs one element of each at once; 1: none */
    ad_device device;                      /* where f runs now */
    const ad_gc_options *o;
    gsl_rng *rng;
    ad_gc_report *r;
    /* Contexts reused across the thousands of evaluations a Jacobian takes:
     * leaves made once, then each evaluation rewinds to the mark. */
    ad_context *eval_ctx, *grad_ctx, *fwd_ctx;
    ad_node *eval_leaves[AD_MAX_INPUTS], *grad_leaves[AD_MAX_INPUTS], *fwd_leaves[AD_MAX_INPUTS];
    ad_mark eval_mark, grad_mark, fwd_mark;
    ad_node *grad_y;   /* the graph built in grad_ctx, reused while x is unchanged */
    /* gc_vjp_all's pre-fill of the input grads (n_s each), made for pre_seed. */
    double *pre[AD_MAX_INPUTS];
    unsigned long pre_seed;
    bool pre_made;
} gc_run;

/* What the check is doing, for a check run in a child process
 * (ad_gradcheck_op_isolated): written into a page shared with the parent
 * before each forward, vjp and jvp, and read by the parent where the child
 * dies. gc_phase_slot is NULL outside such a child. */
enum { GC_PHASE_NONE, GC_PHASE_FORWARD, GC_PHASE_VJP, GC_PHASE_JVP };
/* Atomic: the check's worker threads set it at once (the last word is as
 * good as any: each names the phase its thread is in), and the parent reads
 * it from another process once the child is gone. */
typedef struct gc_phase {
    _Atomic int phase, dtype, case_index;
} gc_phase;
extern gc_phase *gc_phase_slot;
static inline void gc_set_phase(int phase, ad_dtype dtype)
{
    if (!gc_phase_slot) return;
    atomic_store_explicit(&gc_phase_slot->phase, phase, memory_order_relaxed);
    atomic_store_explicit(&gc_phase_slot->dtype, (int)dtype, memory_order_relaxed);
}

/* Do the options ask for first derivatives (the default), or second alone? */
static inline bool gc_first_order(const ad_gc_options *o) { return !o->orders || (o->orders & AD_GC_ORDER1); }

/* Is input s differentiable (not held constant)? */
static inline bool gc_diff(const gc_run *R, int s) { return !(R->nondiff & (1u << s)); }

/* The run itself (gradcheck.c): ad_gradcheck_fn, and for an AD_OP_BATCHED op
 * (batched0) the batch items of input 0, where the shapes have them. */
ad_status gc_run_checks(const char *name, const char *label, ad_gc_fn f, void *user, int n_in,
                        const ad_tensor *const *inputs, unsigned nondiff, bool batched0, const ad_gc_options *opts,
                        ad_gc_report *r);
/* The error for inputs and output of more than AD_GC_MAX_ELEMENTS elements. */
ad_status gc_too_big(const gc_run *R, double elements);
double gc_now(void);

/* ---- records (gc_eval.c) ---- */
void gc_record_init(const gc_run *R, ad_gc_record *rec, int input, ad_gc_check check);
ad_gc_record *gc_new_record(gc_run *R, int input, ad_gc_check check);
void gc_finish_record(gc_run *R, ad_gc_record *rec, double t0);
/* The check could not run: rec fails with the engine's last error. */
void gc_fail_note(ad_gc_record *rec, ad_status st);
/* Input s's shape as a tensor header (no data), for its index strings. */
ad_tensor gc_input_shape(const gc_run *R, int s);

/* The buffers of one check, allocated together: a failed allocation makes
 * the check fail with "out of memory" instead of writing through NULL. */
typedef struct scratch {
    void *p[16];
    int n;
    bool failed;
} scratch;
double *gc_scratch_alloc(scratch *sc, int64_t count, bool zero);
void gc_scratch_free(scratch *sc);
ad_status gc_scratch_status(const gc_run *R, const char *what);

/* ---- evaluations (gc_eval.c) ---- */
ad_node *gc_build(gc_run *R, ad_context *ctx, ad_node **leaves, bool variables);
/* f of the leaves, on R->device (sent and received around it on the GPU). */
ad_node *gc_call_f(gc_run *R, ad_context *ctx, ad_node **leaves);
/* The leaves for second order: variables carrying tangent v[s] (gc_second.c). */
ad_status gc_build_along(gc_run *R, ad_context *ctx, ad_node **leaves, double *const *v);
ad_status gc_eval(gc_run *R, double *out);
ad_status gc_numeric_dir(gc_run *R, int s, int64_t i, int64_t every, double *const *v, double *col, double *tmp);
/* rows = GC_ONE: one cotangent through ad_backward_ex, the path training takes. */
enum { GC_ONE = 0 };
ad_status gc_vjp_all(gc_run *R, int rows, const double *cot, double **g, unsigned long prefill_seed,
                     bool reuse_graph);
ad_status gc_jvp_cols(gc_run *R, int s, int64_t col0, int k, double *const *v, double *t);

/* ---- guard zones (gc_guard.c) ----
 * Every context gradcheck evaluates in allocates with guard zones (ad_guard.h),
 * and after each forward, jvp and backward the zones of the buffers the
 * kernel wrote are looked at: a changed zone is an error naming the op, the
 * dtype, the mode and the buffer ("relu [float64] jvp wrote past its
 * output's tangent (element 7 of 7)"), which fails the check that ran it. */
enum { GC_GUARD_VALUE, GC_GUARD_TANGENT, GC_GUARD_GRAD };
ad_context *gc_context_new(void);
/* After a call of phase GC_PHASE_FORWARD or GC_PHASE_JVP (y's value, its
 * tangent, the leaves' values) or GC_PHASE_VJP (the differentiable leaves' grads). */
ad_status gc_guard_after(const gc_run *R, ad_node *const *leaves, const ad_node *y, int phase);
/* A buffer of count elements (rows rows of them) from ad_guarded_alloc or a guarded arena. */
ad_status gc_guard_buffer(const gc_run *R, const void *p, ad_dtype dt, int64_t count, int rows, const char *mode,
                          const char *buf);

/* ---- kinks (gc_kink.c) ---- */
/* What compare needs to recognise a kink in input s's Jacobian: y at x and,
 * made only for the columns i where some entry fails (a correct rule on a
 * smooth function has none), the one-sided differences at the step h and a
 * per-entry cache. */
typedef struct kink_col {
    double *left, *right;   /* m each: (f(x) - f(x-h))/h and (f(x+h) - f(x))/h along x_s[i] */
    char *flag;             /* m: 0 not looked at, 1 a kink, 2 none */
} kink_col;

typedef struct kink_info {
    const double *f0;
    kink_col **col;         /* n_s, NULL until column i is needed */
    double *fp, *fm;        /* m each: scratch */
} kink_info;
void gc_kink_free(kink_info *k, int64_t n);
bool gc_at_kink(gc_run *R, kink_info *k, int s, int64_t o, int64_t i, double tol);
/* Is input s of the op drawn uniformly from its domain (not filled by its
 * sample_input: class targets)? Its domain ({0,0}: [-2, 2]). */
static inline bool gc_drawn_uniformly(const ad_op *op, int s)
{
    return !(op->sample_input && (op->nondiff_inputs & (1u << s)));
}
static inline ad_domain gc_domain_of(const ad_op *op, int s)
{
    ad_domain d = op->domain[s];
    return d.lo == 0 && d.hi == 0 ? (ad_domain){-2, 2} : d;
}
/* The op f(user) on the case's inputs t in ctx: its output's node, or NULL (the error set). */
ad_node *gc_op_at(ad_context *ctx, const ad_op_case *c, ad_tensor **t, ad_gc_fn f, void *user);
/* The derivatives at ties and zeros against the op's kink_side (gc_ties.c):
 * for an op with one, in float64 and not in fast mode; records labelled
 * "<case>, at ties". */
ad_status gc_check_ties(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, ad_gc_report *r, ad_gc_fn f,
                        void *user);
/* Draw a registered op's inputs t (the case's shapes) from its domains (or
 * sample_input), then clear of its kinks by margin: each element within
 * margin of a kink (ad_op.kink_dist) drawn again alone, round by round, or
 * for an op without kink_dist the whole draw again; f(user) calls the op. */
ad_status gc_draw_inputs(const ad_op *op, const ad_op_case *c, ad_tensor **t, gsl_rng *rng, double margin, ad_gc_fn f,
                         void *user);

/* ---- worker threads ----
 * The numerical Jacobian's columns, the forward-mode Jacobian's column
 * blocks and the reverse sweep's row blocks are independent of each other.
 * With options.threads > 1 (on the CPU) workers compute them, each on a
 * copy of the run: its own input values and contexts. The comparisons stay
 * on the calling thread, in order, so the report does not depend on the
 * thread count (the numbers are the same bits). */
enum { GC_MAX_THREADS = 64 };

typedef struct gc_pool {
    int n;                            /* workers; worker 0 is the calling thread, on R itself */
    gc_run *run[GC_MAX_THREADS];
    double *tmp[GC_MAX_THREADS];      /* m doubles each: gc_numeric_dir's scratch */
    double *col[GC_MAX_THREADS];      /* m doubles each: a column of all the batch's items */
} gc_pool;

/* One item (a column, a block) on worker t's run W; slot: the item's place in this call. */
typedef ad_status (*gc_item_fn)(const gc_pool *P, int t, gc_run *W, int64_t item, int64_t slot, void *job);
ad_status gc_pool_init(gc_pool *P, gc_run *R);
void gc_pool_free(gc_pool *P);
ad_status gc_pool_run(const gc_pool *P, int64_t first, int64_t count, gc_item_fn fn, void *job);

/* Full Jacobians, none of them stored row-major in full: the numerical one
 * of input s is kept by columns (numT[i·m + o], as gc_numeric_dir makes them);
 * forward mode makes blocks of JB columns, compared as they come; reverse
 * mode makes blocks of RB rows, one backward sweep (a block of cotangents
 * e_o) giving those rows of every input's Jacobian at once. */
enum { JB = 64, RB = 16 };
int gc_block_rows(const gc_run *R);
ad_status gc_jacobian_rows(gc_run *R, int64_t o0, int rows, double *cot, double **tile, unsigned long prefill,
                           bool reuse_graph);

/* ---- the checks: each appends its records to R->r ---- */
void gc_check_jacobians(gc_run *R);                 /* gc_jacobian.c */
void gc_print_jacobian(gc_run *R, int s, const double *numT);   /* gc_jacobian_print.c */
void gc_random_dirs(gc_run *R, scratch *sc, double **v, double **g);   /* gc_checks.c */
void gc_judge_identity(ad_gc_record *rec, double a, double b, double scale, double rel);
void gc_check_dot_product(gc_run *R);
void gc_check_determinism(gc_run *R);
void gc_check_block(gc_run *R);
void gc_check_fast(gc_run *R);
void gc_check_devices_agree(gc_run *R);             /* gc_device.c */
void gc_check_float32(gc_run *R);                   /* gc_float32.c */
void gc_check_second_order(gc_run *R);              /* gc_second.c */

/* ---- the kernels' code paths (gc_paths.c) ---- */
/* What an isolated check runs one by one (gc_isolate.c): the units of op
 * (its cases, then its paths) or of the one case c (it, then, where the op
 * has a threaded path, c on 1 and 2+ threads). */
int gc_units(const ad_op *op, const ad_op_case *c);
ad_status gc_run_unit(const ad_op *op, const ad_op_case *c, int k, const ad_gc_options *o, ad_gc_report *r);
const char *gc_unit_label(const ad_op *op, const ad_op_case *c, int k);

#pragma GCC visibility pop

#endif
