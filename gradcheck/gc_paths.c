/* gc_paths.c: every code path of an op's kernels (ad_op.paths, ad_op.h).
 *
 * The default cases are small and run on one thread, so a kernel that
 * switches path by size (relu's blocks), by thread count (conv2d's images
 * over threads, a col per thread) or by layout (max-pool's SSE tournament)
 * would be checked on one side of each switch only. Each path names a probe
 * case on its side of the threshold; for path p:
 *   - a probe small enough for full Jacobians (PATH_FULL_COST) is checked as
 *     any case (ad_gradcheck_op_case), its kernels on p's thread count;
 *   - a larger one, by random directions (check_directions): for random u, v
 *         <u, J v> by reverse mode (<J^T u, v>) and by forward mode,
 *     against each other to rounding and against the centered difference
 *         <u, (f(x + h v) - f(x - h v)) / 2h>,
 *     in float64; in float32, against float64's <u, J v> and value;
 *   - a threaded path (p.threads >= 2), also differentially
 *     (check_threads): the same inputs, with exact kinks planted (relu at 0,
 *     max-pool's ties: both paths must agree there too), through the kernels
 *     on 1 thread (the path p.reference) and on 2 threads (and on --threads N
 *     where N > 2); forward, vjp and jvp compared bit for bit, which
 *     ad_parallel.h promises. Two threads run even on one core: the split is
 *     by the shapes, not by the cores.
 * Every record's case label names the path; a failure's message names the
 * path, its rule, the other path and the element. */
#include <float.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_parallel.h"
#include "gc_internal.h"

/* Probes of a one-thread path up to this cost (Σ_s n_s·(Σ n + m), as
 * AD_GC_MAX_FULL_COST) get full Jacobians: conv2d's groups probe (3.7e5)
 * does, its serial one (5.9e6, 3 s of a debug build) does not. A threaded
 * path never does: thousands of passes each waking threads cost minutes on
 * a busy machine (conv2d's threaded probe: 71 s for one Jacobian on 2 cores). */
#define PATH_FULL_COST 1e6
/* The centered difference's step, and the distance from the kinks the
 * direction check's inputs keep: the step moves an input by h·|v| <= h and
 * a pre-activation or a pooling window's gap by at most 1000·h on the probes,
 * so no kink lies between x - h v and x + h v. */
#define FD_STEP 1e-8
#define KINK_MARGIN 1e-5
enum { MAX_DRAWS = 50, MAX_BUFS = 40, N_THREAD_COUNTS = 2, THREAD_REPEATS = 3 };

typedef struct probe {
    const ad_op *op;
    const ad_op_case *c;
    char label[128];           /* the records' case label */
    const char *path, *when, *reference;
    int64_t n[AD_MAX_INPUTS], m, k;   /* k: the elements of the inputs and the output */
    double *x[AD_MAX_INPUTS], *pre[AD_MAX_INPUTS], *v[AD_MAX_INPUTS], *u;
    double *xp[AD_MAX_INPUTS], *xm[AD_MAX_INPUTS];   /* x ± h v */
    void *buf[MAX_BUFS];
    int n_buf;
} probe;

/* One pass through the kernels: the value, each input's grad (the pre-fill
 * plus the vjp of u; NULL for a constant input) and the tangent along v, as
 * doubles (a float32 widens exactly, so equal doubles are equal bits). */
typedef struct pass {
    double *y, *g[AD_MAX_INPUTS], *t;
} pass;
/* The passes a probe's checks compare, made once: qa, qb (1 thread and
 * several; or the pass at x and at x + h v), qc (x - h v), q64 (float64's,
 * which float32's is compared with). */
typedef struct passes {
    pass qa, qb, qc, q64;
} passes;

static bool diff(const probe *P, int s) { return !(P->op->nondiff_inputs & (1u << s)); }

static double *take(probe *P, int64_t count)
{
    if (P->n_buf == MAX_BUFS) return NULL;
    return P->buf[P->n_buf++] = calloc((size_t)(count > 0 ? count : 1), sizeof(double));
}

static ad_status no_memory(const probe *P)
{
    return ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for path %s's probe", P->op->name, P->path);
}

static ad_status pass_alloc(probe *P, pass *q)
{
    bool ok = (q->y = take(P, P->m)) && (q->t = take(P, P->m));
    for (int s = 0; s < P->c->n_in && ok; s++) ok = (q->g[s] = take(P, P->n[s])) != NULL;
    return ok ? AD_OK : no_memory(P);
}

/* The inputs, pre-fill, direction, cotangent (P->n, P->m set) and passes. */
static ad_status probe_alloc(probe *P, passes *Q)
{
    bool ok = (P->u = take(P, P->m)) != NULL;
    for (int s = 0; s < P->c->n_in && ok; s++)
        ok = (P->xp[s] = take(P, P->n[s])) && (P->xm[s] = take(P, P->n[s]));
    if (!ok) return no_memory(P);
    ad_status st = pass_alloc(P, &Q->qa);
    if (st == AD_OK) st = pass_alloc(P, &Q->qb);
    if (st == AD_OK) st = pass_alloc(P, &Q->qc);
    if (st == AD_OK) st = pass_alloc(P, &Q->q64);
    return st;
}

/* A value drawn as a float32 number, so both dtypes see the same inputs. */
static double flat32(gsl_rng *rng, double lo, double hi) { return (float)gsl_ran_flat(rng, lo, hi); }

/* Inputs from the op's domain (or its sample_input), the pre-fill of the
 * grads, the cotangent u and the direction v: all float32 numbers. */
static ad_status draw(probe *P, gsl_rng *rng)
{
    const ad_op_case *c = P->c;
    for (int s = 0; s < c->n_in; s++) {
        ad_domain d = P->op->domain[s];
        if (d.lo == 0 && d.hi == 0) d = (ad_domain){-2, 2};
        if (P->op->sample_input && !diff(P, s)) {
            ad_tensor *t = ad_tensor_new(AD_FLOAT64, c->ndim[s], c->shape[s]);
            if (!t) return ad_last_status();
            P->op->sample_input(c, s, t, rng);
            ad_status st = ad_tensor_copy_out(t, P->x[s], P->n[s]);
            ad_tensor_free(t);
            if (st != AD_OK) return st;
        } else {
            for (int64_t j = 0; j < P->n[s]; j++) P->x[s][j] = flat32(rng, d.lo, d.hi);
        }
        for (int64_t j = 0; j < P->n[s] && diff(P, s); j++) {
            P->pre[s][j] = flat32(rng, 0.25, 1) * (j % 2 ? 1 : -1);   /* nonzero: a vjp's = for += shows */
            P->v[s][j] = flat32(rng, -1, 1);
        }
    }
    for (int64_t i = 0; i < P->m; i++) P->u[i] = flat32(rng, -1, 1);
    return AD_OK;
}

/* The leaves of x in dtype dt: variables (differentiable inputs, with
 * grads) or constants (with tangents v where forward). */
static ad_status leaves_of(const probe *P, ad_context *ctx, double *const *x, ad_dtype dt, bool variables,
                           ad_node **leaves)
{
    for (int s = 0; s < P->c->n_in; s++) {
        const ad_op_case *c = P->c;
        leaves[s] = variables && diff(P, s) ? ad_variable(ctx, dt, c->ndim[s], c->shape[s], x[s])
                                            : ad_constant(ctx, dt, c->ndim[s], c->shape[s], x[s]);
        if (!leaves[s]) return ad_last_status();
    }
    return AD_OK;
}

/* The op at x in dtype dt on `threads` kernel threads: the value and, with
 * `all`, the vjp of u into the pre-filled grads and the jvp along v. */
static ad_status run_pass(const probe *P, double *const *x, ad_dtype dt, int threads, bool all, pass *q)
{
    ad_status st = ad_set_threads(threads);
    ad_context *ctx = st == AD_OK ? ad_context_new() : NULL;
    if (st == AD_OK && !ctx) st = ad_last_status();
    ad_node *leaves[AD_MAX_INPUTS], *y = NULL;
    if (st == AD_OK) st = leaves_of(P, ctx, x, dt, all, leaves);
    gc_set_phase(GC_PHASE_FORWARD, dt);
    if (st == AD_OK && !(y = ad_apply(ctx, P->op, leaves, P->c->n_in, &P->c->params))) st = ad_last_status();
    if (st == AD_OK) st = ad_value_copy_out(y, q->y, P->m);
    void *cot = NULL;
    if (st == AD_OK && all && ad_requires_grad(y)) {
        size_t es = ad_dtype_size(dt);
        for (int s = 0; s < P->c->n_in; s++)   /* the pre-fill, in the grads' own dtype */
            for (int64_t j = 0; j < P->n[s] && diff(P, s); j++) {
                char *g = ad_node_of(leaves[s])->grad;
                if (dt == AD_FLOAT32) ((float *)(void *)g)[j] = (float)P->pre[s][j];
                else ((double *)(void *)g)[j] = P->pre[s][j];
            }
        ad_tensor ct = ad_value(y);
        if (!(cot = malloc((size_t)(P->m ? P->m : 1) * es))) st = no_memory(P);
        for (int64_t i = 0; i < P->m && st == AD_OK; i++)
            if (dt == AD_FLOAT32) ((float *)cot)[i] = (float)P->u[i];
            else ((double *)cot)[i] = P->u[i];
        ct.data = cot;
        gc_set_phase(GC_PHASE_VJP, dt);
        if (st == AD_OK) st = ad_backward_ex(ctx, y, &(ad_backward_opts){.cotangent = &ct});
        for (int s = 0; s < P->c->n_in && st == AD_OK; s++)
            if (diff(P, s)) st = ad_grad_copy_out(leaves[s], q->g[s], P->n[s]);
    }
    free(cot);
    ad_context_free(ctx);
    if (st != AD_OK || !all) return st;
    /* forward mode: a context without grad, one direction */
    if (!(ctx = ad_context_new())) return ad_last_status();
    ad_set_grad_enabled(ctx, false);
    st = ad_forward_dirs(ctx, 1);
    if (st == AD_OK) st = leaves_of(P, ctx, x, dt, false, leaves);
    for (int s = 0; s < P->c->n_in && st == AD_OK; s++)
        if (diff(P, s)) st = ad_set_tangent(leaves[s], 0, P->v[s], -1);
    gc_set_phase(GC_PHASE_JVP, dt);
    if (st == AD_OK && !(y = ad_apply(ctx, P->op, leaves, P->c->n_in, &P->c->params))) st = ad_last_status();
    for (int64_t i = 0; i < P->m && st == AD_OK; i++) q->t[i] = ad_tangent_at(y, 0, i);
    ad_context_free(ctx);
    return st;
}

static ad_gc_record *new_rec(const probe *P, ad_gc_report *r, ad_gc_check check, ad_dtype dt)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        ad_gc_record *p = realloc(r->rec, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        r->rec = p, r->cap = cap;
    }
    ad_gc_record *rec = &r->rec[r->n++];
    memset(rec, 0, sizeof *rec);
    snprintf(rec->op, sizeof rec->op, "%s", P->op->name);
    snprintf(rec->case_label, sizeof rec->case_label, "%s", P->label);
    rec->dtype = dt;
    rec->input = -1;
    rec->check = check;
    rec->pass = true;
    rec->x_at_worst = rec->numerical = rec->reverse = rec->forward = NAN;
    return rec;
}

static void finish(ad_gc_report *r, ad_gc_record *rec, double t0, ad_status st)
{
    if (st != AD_OK) gc_fail_note(rec, st);
    rec->seconds = gc_now() - t0;
    if (!rec->pass) r->n_fail++;
}

/* The first element where a and b differ in their bits, or -1. */
static int64_t first_diff(const double *a, const double *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) return i;
    return -1;
}

/* Path P on `threads` threads against one thread, in dtype dt, at xk (the
 * inputs with kinks planted): one record. */
static void check_threads(probe *P, passes *Q, ad_dtype dt, int threads, ad_gc_report *r)
{
    double t0 = gc_now();
    ad_gc_record *rec = new_rec(P, r, AD_GC_PATHS, dt);
    if (!rec) return;
    pass one = Q->qa, many = Q->qb;
    const char *what = NULL, *which = "";
    int64_t at = -1;
    const double *a = NULL, *b = NULL;
    char whatbuf[48];
    ad_status st = AD_OK;
    /* at x, then at its reflection lo + hi - x (in the domain): an element
     * whose derivative is 0 at one (relu's x < 0) is not at the other, so a
     * skipped or misplaced element cannot hide behind a zero */
    for (int k = 0; k < 2 && st == AD_OK && !what; k++) {
        double *const *x = k == 0 ? P->x : P->xm;
        for (int s = 0; s < P->c->n_in && k == 1; s++) {
            ad_domain d = P->op->domain[s];
            if (d.lo == 0 && d.hi == 0) d = (ad_domain){-2, 2};
            for (int64_t j = 0; j < P->n[s]; j++) P->xm[s][j] = diff(P, s) ? (float)(d.lo + d.hi - P->x[s][j]) : P->x[s][j];
        }
        which = k == 0 ? "" : " (inputs reflected)";
        st = run_pass(P, x, dt, 1, true, &one);
        /* the threads' passes THREAD_REPEATS times: a race (two threads on
         * one scratch buffer) shows only where they overlap in time */
        for (int rep = 0; rep < THREAD_REPEATS && st == AD_OK && !what; rep++) {
            st = run_pass(P, x, dt, threads, true, &many);
            if (st == AD_OK && (at = first_diff(one.y, many.y, P->m)) >= 0) what = "forward", a = one.y, b = many.y;
            for (int s = 0; s < P->c->n_in && st == AD_OK && !what; s++)
                if (diff(P, s) && (at = first_diff(one.g[s], many.g[s], P->n[s])) >= 0) {
                    snprintf(whatbuf, sizeof whatbuf, "vjp of input %d", s);
                    what = whatbuf, a = one.g[s], b = many.g[s];
                }
            if (st == AD_OK && !what && (at = first_diff(one.t, many.t, P->m)) >= 0) what = "jvp", a = one.t, b = many.t;
        }
    }
    if (what) {
        rec->pass = false;
        rec->numerical = a[at], rec->reverse = rec->forward = b[at];
        rec->max_abs_err = ad_gc_abs_err(a[at], b[at]);
        snprintf(rec->message, sizeof rec->message,
                 "path %s (%s): %s on %d threads differs from %s%s on 1 thread at element %lld%s: %.9g against "
                 "%.9g",
                 P->path, P->when, what, threads, P->reference ? "path " : "",
                 P->reference ? P->reference : "the same case", (long long)at, which, b[at], a[at]);
    } else if (st == AD_OK) {
        snprintf(rec->message, sizeof rec->message, "forward, vjp and jvp: the same bits on 1 and %d threads",
                 threads);
    }
    finish(r, rec, t0, st);
}

static double dot(const double *a, const double *b, int64_t n, bool absolute)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += absolute ? fabs(a[i] * b[i]) : a[i] * b[i];
    return s;
}

/* <J^T u, v> from a pass's grads (the pre-fill taken off), its size
 * Σ|(J^T u)_j v_j|, and the pre-fill's Σ|pre_j v_j| (its rounding). */
static double rev_dot(const probe *P, const pass *q, double *size, double *pre_size)
{
    double s = 0;
    *size = *pre_size = 0;
    for (int k = 0; k < P->c->n_in; k++)
        for (int64_t j = 0; j < P->n[k] && diff(P, k); j++) {
            double g = q->g[k][j] - P->pre[k][j];
            s += g * P->v[k][j];
            *size += fabs(g * P->v[k][j]);
            *pre_size += fabs(P->pre[k][j] * P->v[k][j]);
        }
    return s;
}

/* <u, J v> three ways on `threads` threads (see the top), one record per
 * dtype. float64: reverse against forward to |rev - fwd| <= 4Kε64·(S + Sp),
 * S = Σ|u_i (Jv)_i| + Σ|(J^T u)_j v_j| the terms' size, Sp the pre-fill's;
 * the centered difference to 1e-6·(S + F), F = Σ|u_i y_i| (its rounding is
 * about ε64·F/h = 2e-8·F, the rounding of x ± h v about 4e-8·S). float32:
 * both products and each value against float64's at the same inputs, to
 * 8(1 + √K)·ε32 times the size, as gc_float32.c. */
static void check_directions(probe *P, passes *Q, ad_dtype dt, int threads, ad_gc_report *r)
{
    double t0 = gc_now();
    ad_gc_record *rec = new_rec(P, r, AD_GC_DIRECTION, dt);
    if (!rec) return;
    pass q = Q->qa, plus = Q->qb, minus = Q->qc;
    const pass *ref64 = &Q->q64;
    ad_status st = run_pass(P, P->x, dt, threads, true, &q);
    double srev, spre, rev = st == AD_OK ? rev_dot(P, &q, &srev, &spre) : NAN;
    double fwd = dot(P->u, q.t, P->m, false), S = srev + dot(P->u, q.t, P->m, true);
    double F = dot(P->u, q.y, P->m, true), K = (double)P->k;
    rec->reverse = rev, rec->forward = fwd;
    char th[32];
    snprintf(th, sizeof th, "%d thread%s", threads, threads > 1 ? "s" : "");
    if (st == AD_OK && dt == AD_FLOAT64) {
        for (int s = 0; s < P->c->n_in; s++)
            for (int64_t j = 0; j < P->n[s]; j++) {
                double dv = diff(P, s) ? FD_STEP * P->v[s][j] : 0;
                P->xp[s][j] = P->x[s][j] + dv, P->xm[s][j] = P->x[s][j] - dv;
            }
        st = run_pass(P, P->xp, dt, threads, false, &plus);
        if (st == AD_OK) st = run_pass(P, P->xm, dt, threads, false, &minus);
        double fd = 0;
        for (int64_t i = 0; i < P->m && st == AD_OK; i++) fd += P->u[i] * (plus.y[i] - minus.y[i]) / (2 * FD_STEP);
        double tol_ad = 4 * K * DBL_EPSILON * (S + spre), tol_fd = 1e-6 * (S + F);
        rec->numerical = fd;
        rec->max_abs_err = fmax(ad_gc_abs_err(rev, fwd), fmax(ad_gc_abs_err(fd, fwd), ad_gc_abs_err(fd, rev)));
        if (st == AD_OK && !ad_gc_agree(rev, fwd, tol_ad))
            snprintf(rec->message, sizeof rec->message,
                     "path %s (%s) on %s: <u, J v> by reverse mode %.12g and by forward mode %.12g differ by %.3g "
                     "(tolerance %.3g)", P->path, P->when, th, rev, fwd, ad_gc_abs_err(rev, fwd), tol_ad);
        else if (st == AD_OK && (!ad_gc_agree(fd, fwd, tol_fd) || !ad_gc_agree(fd, rev, tol_fd)))
            snprintf(rec->message, sizeof rec->message,
                     "path %s (%s) on %s: <u, J v> by reverse mode %.12g, forward mode %.12g, centered difference "
                     "along v %.12g (step %g): error %.3g, tolerance %.3g", P->path, P->when, th, rev, fwd, fd,
                     FD_STEP, fmax(ad_gc_abs_err(fd, fwd), ad_gc_abs_err(fd, rev)), tol_fd);
        rec->pass = st == AD_OK && !rec->message[0];
    } else if (st == AD_OK) {   /* float32 against float64's pass (ref64, at the same inputs) */
        double s64, p64, rev64 = rev_dot(P, ref64, &s64, &p64), fwd64 = dot(P->u, ref64->t, P->m, false);
        double S64 = s64 + dot(P->u, ref64->t, P->m, true), fac = 8 * (1 + sqrt(K)) * FLT_EPSILON;
        double tol = fac * (S64 + spre + p64), ymax = 1;
        for (int64_t i = 0; i < P->m; i++) ymax = fmax(ymax, fabs(ref64->y[i]));
        rec->numerical = rev64;
        rec->max_abs_err = fmax(ad_gc_abs_err(rev, rev64), ad_gc_abs_err(fwd, fwd64));
        int64_t bad = -1;
        for (int64_t i = 0; i < P->m && bad < 0; i++)
            if (!ad_gc_agree(q.y[i], ref64->y[i], fac * (fabs(ref64->y[i]) + ymax))) bad = i;
        if (bad >= 0)
            snprintf(rec->message, sizeof rec->message,
                     "path %s (%s) on %s: the float32 value at element %lld is %.9g, float64's %.17g", P->path,
                     P->when, th, (long long)bad, q.y[bad], ref64->y[bad]);
        else if (!ad_gc_agree(rev, rev64, tol) || !ad_gc_agree(fwd, fwd64, tol))
            snprintf(rec->message, sizeof rec->message,
                     "path %s (%s) on %s: <u, J v> in float32 by reverse mode %.9g and forward mode %.9g, in "
                     "float64 %.12g and %.12g: error %.3g, tolerance %.3g", P->path, P->when, th, rev, fwd, rev64,
                     fwd64, rec->max_abs_err, tol);
        rec->pass = !rec->message[0];
    }
    finish(r, rec, t0, st);
}

/* The inputs with the op's kinks planted (a nonsmooth op, 0 in input 0's
 * domain): input 0 exactly 0 at its first and last elements and every 997th,
 * and equal to its neighbour every 997th from 500 (max-pool's ties). */
static void plant_kinks(const probe *P, double *x0)
{
    ad_domain d = P->op->domain[0];
    bool zero_ok = (d.lo == 0 && d.hi == 0) || (d.lo <= 0 && d.hi >= 0);
    if (!(P->op->flags & AD_OP_NONSMOOTH) || !diff(P, 0) || !zero_ok || P->n[0] < 2) return;
    for (int64_t j = 0; j < P->n[0]; j += 997) x0[j] = 0;
    for (int64_t j = 500; j + 1 < P->n[0]; j += 997) x0[j + 1] = x0[j];
    x0[P->n[0] - 1] = 0;
}

/* The kernels' thread counts to check a threaded path on: 2, and --threads
 * N where N > 2. */
static int thread_counts(const ad_gc_options *o, int *t)
{
    int k = 0;
    t[k++] = 2;
    if (o->threads > 2) t[k++] = o->threads;
    return k;
}

/* P's sizes (n, m, k) from its case, and its buffers; the full-Jacobian
 * cost into *cost. */
static ad_status probe_setup(probe *P, passes *Q, double *cost)
{
    const ad_op_case *c = P->c;
    double total = 0;
    for (int s = 0; s < c->n_in; s++) {
        P->n[s] = 1;
        for (int d = 0; d < c->ndim[s]; d++) P->n[s] *= c->shape[s][d];
        total += (double)P->n[s];
    }
    if (total > (double)AD_GC_MAX_ELEMENTS)
        return ad_fail(AD_ERR_ARG, "gradcheck %s: path %s's probe has %.0f input elements; at most %lld", P->op->name,
                       P->path, total, (long long)AD_GC_MAX_ELEMENTS);
    /* the output's size: one forward of zeros (any values have its shape) */
    ad_status st = AD_OK;
    ad_node *leaves[AD_MAX_INPUTS], *y = NULL;
    double *zero[AD_MAX_INPUTS] = {0};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) st = no_memory(P);
    for (int s = 0; s < c->n_in && st == AD_OK; s++)   /* (draw's inputs: valid targets, weights) */
        if (!(P->x[s] = zero[s] = take(P, P->n[s])) || !(P->pre[s] = take(P, P->n[s])) || !(P->v[s] = take(P, P->n[s])))
            st = no_memory(P);
    if (st == AD_OK && !(P->u = take(P, 1))) st = no_memory(P);
    P->m = 0;
    if (st == AD_OK) st = draw(P, rng);
    if (rng) gsl_rng_free(rng);
    ad_context *ctx = st == AD_OK ? ad_context_new() : NULL;
    if (st == AD_OK) st = ctx ? leaves_of(P, ctx, zero, AD_FLOAT64, false, leaves) : ad_last_status();
    if (st == AD_OK && !(y = ad_apply(ctx, P->op, leaves, c->n_in, &c->params))) st = ad_last_status();
    if (st == AD_OK) P->m = ad_value(y).size;
    ad_context_free(ctx);
    P->k = P->m;
    *cost = 0;
    for (int s = 0; s < c->n_in; s++) {
        P->k += P->n[s];
        if (diff(P, s)) *cost += (double)P->n[s] * (total + (double)P->m);
    }
    return st == AD_OK ? probe_alloc(P, Q) : st;
}

/* Inputs drawn (seeded by seed) with the kinks planted: the threaded check's. */
static ad_status draw_with_kinks(probe *P, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) return no_memory(P);
    gsl_rng_set(rng, seed ^ 0x7f4a7c15UL);
    ad_status st = draw(P, rng);
    gsl_rng_free(rng);
    if (st == AD_OK) plant_kinks(P, P->x[0]);
    return st;
}

/* Inputs drawn a margin KINK_MARGIN from the kinks: the direction check's. */
static ad_status draw_off_kinks(probe *P, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) return no_memory(P);
    gsl_rng_set(rng, seed ^ 0x9e3779b9UL);
    ad_status st = AD_OK;
    bool drawn = false;
    for (int k = 0; k < MAX_DRAWS && st == AD_OK && !drawn; k++) {
        st = draw(P, rng);
        if (st != AD_OK || !P->op->kink_gap) {
            drawn = st == AD_OK;
            break;
        }
        ad_context *ctx = ad_set_threads(1) == AD_OK ? ad_context_new() : NULL;
        ad_node *leaves[AD_MAX_INPUTS], *y = NULL;
        /* variables: a recorded node keeps its inputs, which kink_gap reads */
        st = ctx ? leaves_of(P, ctx, P->x, AD_FLOAT64, true, leaves) : ad_last_status();
        if (st == AD_OK && !(y = ad_apply(ctx, P->op, leaves, P->c->n_in, &P->c->params))) st = ad_last_status();
        if (st == AD_OK) drawn = P->op->kink_gap(ad_node_of(y)) >= KINK_MARGIN;
        ad_context_free(ctx);
    }
    gsl_rng_free(rng);
    if (st == AD_OK && !drawn)
        st = ad_fail(AD_ERR_DOMAIN, "gradcheck %s: path %s: no draw of inputs in %d landed %g away from the kinks",
                     P->op->name, P->path, MAX_DRAWS, KINK_MARGIN);
    return st;
}

/* The threaded check of P on each thread count, in each dtype. */
static void check_thread_counts(probe *P, passes *Q, const int *counts, int n_counts, int dtypes, ad_gc_report *r)
{
    for (int i = 0; i < n_counts; i++) {
        if (dtypes & AD_GC_FLOAT64) check_threads(P, Q, AD_FLOAT64, counts[i], r);
        if (dtypes & AD_GC_FLOAT32) check_threads(P, Q, AD_FLOAT32, counts[i], r);
    }
}

/* A build without OpenMP runs one thread: a threaded path cannot run there,
 * and a passing note says so. Returns whether threads can be checked. */
static bool threads_possible(probe *P, ad_gc_report *r)
{
    int keep = ad_threads();
    bool ok = ad_set_threads(2) == AD_OK;
    if (!ok) {
        ad_gc_record *rec = new_rec(P, r, AD_GC_PATHS, AD_FLOAT64);
        if (rec) snprintf(rec->message, sizeof rec->message, "not checked: %s", ad_last_error());
    }
    ad_set_threads(keep);
    return ok;
}

/* Check P (its probe case) with its kernels on threads_needed threads (1, or
 * 2+): full Jacobians where affordable, else random directions; on more
 * threads than one, bit for bit against one thread too. */
static ad_status check_probe(probe *P, int threads_needed, const ad_gc_options *o, ad_gc_report *r)
{
    int counts[N_THREAD_COUNTS], n_counts = 0, keep = ad_threads();
    if (threads_needed > 1) {
        if (!threads_possible(P, r)) return AD_OK;
        n_counts = thread_counts(o, counts);
    }
    passes Q;
    double cost;
    ad_status st = probe_setup(P, &Q, &cost);
    int dtypes = o->dtypes ? o->dtypes : AD_GC_FLOAT64;
    if (st == AD_OK && cost <= PATH_FULL_COST && threads_needed == 1) {   /* full Jacobians */
        int from = r->n;
        st = ad_gradcheck_op_case(P->op, P->c, o, r);
        for (int i = from; i < r->n; i++) snprintf(r->rec[i].case_label, sizeof r->rec[i].case_label, "%s", P->label);
    } else if (st == AD_OK) {
        /* random directions, on one thread: a threaded path's kernels are
         * then tied to these by the bit-for-bit check below (and every
         * pass on threads waits for the cores: 5 ms on a loaded machine) */
        st = draw_off_kinks(P, o->seed);
        if (st == AD_OK && (dtypes & AD_GC_FLOAT32)) st = run_pass(P, P->x, AD_FLOAT64, 1, true, &Q.q64);
        if (st == AD_OK && (dtypes & AD_GC_FLOAT64)) check_directions(P, &Q, AD_FLOAT64, 1, r);
        if (st == AD_OK && (dtypes & AD_GC_FLOAT32)) check_directions(P, &Q, AD_FLOAT32, 1, r);
    }
    /* threaded: bit for bit against one thread, kinks and ties included */
    if (st == AD_OK && n_counts > 0) st = draw_with_kinks(P, o->seed);
    if (st == AD_OK) check_thread_counts(P, &Q, counts, n_counts, dtypes, r);
    ad_set_threads(keep);
    return st;
}

static void probe_free(probe *P)
{
    for (int i = 0; i < P->n_buf; i++) free(P->buf[i]);
    P->n_buf = 0;
}

/* "path blocked, 2+ threads: n = 16390, the last block partial" */
static void path_label(const ad_op_path *p, char *buf, size_t len)
{
    snprintf(buf, len, "path %s%s: %s", p->name, p->threads > 1 ? ", 2+ threads" : "", p->probe.label ? p->probe.label : "");
}

ad_status ad_gradcheck_op_path(const ad_op *op, int k, const ad_gc_options *opts, ad_gc_report *r)
{
    ad_gc_options defaults;
    if (!opts) {
        ad_gc_default_options(&defaults);
        opts = &defaults;
    }
    if (!op || !r || k < 0 || k >= op->n_paths)
        return ad_fail(AD_ERR_ARG, "gradcheck: no path %d of op %s", k, op && op->name ? op->name : "(null)");
    const ad_op_path *p = &op->paths[k];
    probe P = {.op = op, .c = &p->probe, .path = p->name, .when = p->when ? p->when : "", .reference = p->reference};
    path_label(p, P.label, sizeof P.label);
    ad_status st = check_probe(&P, p->threads, opts, r);
    probe_free(&P);
    return st;
}

ad_status ad_gradcheck_op_paths(const ad_op *op, const ad_gc_options *o, ad_gc_report *r)
{
    for (int k = 0; op && k < op->n_paths; k++) {
        ad_status st = ad_gradcheck_op_path(op, k, o, r);
        if (st != AD_OK) return st;
    }
    return AD_OK;
}

/* Does the op have a path its kernels take on several threads alone? */
static bool threaded(const ad_op *op)
{
    for (int k = 0; op && k < op->n_paths; k++)
        if (op->paths[k].threads > 1) return true;
    return false;
}

ad_status ad_gradcheck_case_threads(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, ad_gc_report *r)
{
    if (!op || !c || !o || !r) return ad_fail(AD_ERR_ARG, "gradcheck: op, case, options or report is NULL");
    probe P = {.op = op, .c = c, .path = "threaded", .when = "the case on 2+ threads", .reference = NULL};
    snprintf(P.label, sizeof P.label, "%s, on 1 and 2+ threads", c->label ? c->label : "");
    int counts[N_THREAD_COUNTS], n_counts = thread_counts(o, counts), keep = ad_threads();
    if (!threads_possible(&P, r)) return AD_OK;
    /* the bit-for-bit comparison alone: the case itself had the full checks */
    passes Q;
    double cost;
    ad_status st = probe_setup(&P, &Q, &cost);
    if (st == AD_OK) st = draw_with_kinks(&P, o->seed);
    if (st == AD_OK) check_thread_counts(&P, &Q, counts, n_counts, o->dtypes ? o->dtypes : AD_GC_FLOAT64, r);
    ad_set_threads(keep);
    probe_free(&P);
    return st;
}

/* ---- the units an isolated check runs (gc_isolate.c): the op's cases, then
 * its paths; or the one case given, then (an op with a threaded path) that
 * case on 1 and 2+ threads ---- */
int gc_units(const ad_op *op, const ad_op_case *c)
{
    return c ? 1 + threaded(op) : op->n_cases + (op->n_cases ? op->n_paths : 0);
}

ad_status gc_run_unit(const ad_op *op, const ad_op_case *c, int k, const ad_gc_options *o, ad_gc_report *r)
{
    if (c) return k == 0 ? ad_gradcheck_op_case(op, c, o, r) : ad_gradcheck_case_threads(op, c, o, r);
    return k < op->n_cases ? ad_gradcheck_op_case(op, &op->cases[k], o, r) : ad_gradcheck_op_path(op, k - op->n_cases, o, r);
}

const char *gc_unit_label(const ad_op *op, const ad_op_case *c, int k)
{
    static char label[128];   /* (read in the parent, after the child died: one at a time) */
    if (c) return c->label ? c->label : "";
    if (k < op->n_cases) return op->cases[k].label ? op->cases[k].label : "";
    if (k - op->n_cases >= op->n_paths) return "";
    path_label(&op->paths[k - op->n_cases], label, sizeof label);
    return label;
}
