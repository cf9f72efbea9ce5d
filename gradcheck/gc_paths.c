/* gc_paths.c: every code path of an op's kernels (ad_op.paths, ad_op_check.h).
 *
 * The default cases are small and run on one thread, so a kernel that
 * switches path by size (relu's blocks), by thread count (conv2d's images
 * over threads, a col per thread) or by layout (max-pool's SSE tournament)
 * would be checked on one side of each switch only. Each path names a probe
 * case on its side of the threshold; for path p:
 *   - a one-thread path's probe small enough for full Jacobians
 *     (PATH_FULL_COST) is checked as any case (ad_gradcheck_op_case);
 *   - a larger one, and every threaded path's, by random directions on one
 *     thread (check_directions): for random u, v,
 *         <u, J v> by reverse mode (<J^T u, v>) and by forward mode,
 *     against each other to rounding and against the centered difference
 *         <u, (f(x + h v) - f(x - h v)) / 2h>
 *     in float64; in float32, against each other and float64's, and its
 *     value against float64's;
 *   - a threaded path (p.threads >= 2) also differentially (check_threads):
 *     the same inputs, with exact kinks planted (relu at 0, max-pool's ties:
 *     both sides must agree there too), through the kernels on 1 thread (the
 *     path p.reference) and on 2 threads (and on --threads N where N > 2);
 *     forward, vjp and jvp compared bit for bit, which ad_parallel.h
 *     promises; then again at the inputs reflected in the domain (so that no
 *     element hides behind a zero derivative), each threaded pass 3 times and
 *     on until 20 ms have run (a race on a shared buffer shows only where the
 *     threads overlap in time). Two threads run even on one core: the split
 *     is by the shapes, not the cores.
 *     Tied to the one-thread pass bit for bit, the threaded path inherits the
 *     direction check's verdict.
 * Every record's case label names the path; a failure's message names the
 * path, its rule, the other path and the element. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_parallel.h"
#include "gc_paths.h"

/* Probes of a one-thread path up to this cost (Σ_s n_s·(Σ n + m), as
 * AD_GC_MAX_FULL_COST) get full Jacobians: conv2d's groups probe (3.7e5)
 * does, its serial one (5.9e6, 3 s of a debug build) does not. A threaded
 * path never does: thousands of passes each waking threads cost minutes on
 * a busy machine (conv2d's threaded probe: 71 s for one Jacobian on 2 cores). */
#define PATH_FULL_COST 1e6
/* The centered difference's step. The direction check's inputs keep
 * KINK_MARGIN (1e-5, gc_paths.h) from the kinks: the step moves an input by
 * h·|v| <= h and a pre-activation or a pooling window's gap by at most
 * 1000·h on the probes, so no kink lies between x - h v and x + h v. */
#define FD_STEP 1e-8
enum { N_THREAD_COUNTS = 2, THREAD_REPEATS = 3, THREAD_MAX_REPEATS = 24 };
#define THREAD_SECONDS 0.02

/* The first element where a and b differ in their bits, or -1. */
static int64_t first_diff(const double *a, const double *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) return i;
    return -1;
}

/* Path P on `threads` threads against one thread, in dtype dt, at P->x (the
 * inputs with kinks planted) and at its reflection: one record. */
static void check_threads(probe *P, passes *Q, ad_dtype dt, int threads, ad_gc_report *r)
{
    double t0 = gc_now();
    ad_gc_record *rec = gcp_new_rec(P, r, AD_GC_PATHS, dt);
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
            for (int64_t j = 0; j < P->n[s]; j++)
                P->xm[s][j] = gcp_diff(P, s) ? (float)(d.lo + d.hi - P->x[s][j]) : P->x[s][j];
        }
        which = k == 0 ? "" : " (inputs reflected)";
        st = gcp_run_pass(P, x, dt, 1, true, &one);
        /* the threads' passes THREAD_REPEATS times, and on until they have
         * run THREAD_SECONDS (at most THREAD_MAX_REPEATS): a race (two threads
         * on one scratch buffer) shows only where they overlap in time, which
         * on a loaded machine a short pass seldom gives */
        double t_rep = gc_now();
        uint64_t splits = ad_threads_split_count();
        for (int rep = 0; (rep < THREAD_REPEATS || gc_now() - t_rep < THREAD_SECONDS) && rep < THREAD_MAX_REPEATS &&
                          st == AD_OK && !what;
             rep++) {
            st = gcp_run_pass(P, x, dt, threads, true, &many);
            if (st == AD_OK && (at = first_diff(one.y, many.y, P->m)) >= 0) what = "forward", a = one.y, b = many.y;
            for (int s = 0; s < P->c->n_in && st == AD_OK && !what; s++)
                if (gcp_diff(P, s) && (at = first_diff(one.g[s], many.g[s], P->n[s])) >= 0) {
                    snprintf(whatbuf, sizeof whatbuf, "vjp of input %d", s);
                    what = whatbuf, a = one.g[s], b = many.g[s];
                }
            if (st == AD_OK && !what && (at = first_diff(one.t, many.t, P->m)) >= 0)
                what = "jvp", a = one.t, b = many.t;
        }
        if (st == AD_OK && !what && ad_threads_split_count() == splits) {   /* the path never ran */
            rec->numerical = rec->reverse = rec->forward = NAN;
            if (P->users_case)
                snprintf(rec->message, sizeof rec->message,
                         "not checked: at this size no kernel of %s splits its work over %d threads (each runs "
                         "one below its threshold), so there is no threaded pass to compare; the case's own "
                         "checks above are the whole check", P->op->name, threads);
            else
                snprintf(rec->message, sizeof rec->message,
                         "path %s (%s): no kernel split its work over %d threads in the probe's passes%s: the "
                         "probe does not reach the path, so its check would compare the 1-thread path with "
                         "itself", P->path, P->when, threads, which);
            rec->pass = P->users_case;
            gcp_finish(r, rec, t0, st);
            return;
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
    gcp_finish(r, rec, t0, st);
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
        for (int64_t j = 0; j < P->n[k] && gcp_diff(P, k); j++) {
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
    ad_gc_record *rec = gcp_new_rec(P, r, AD_GC_DIRECTION, dt);
    if (!rec) return;
    pass q = Q->qa, plus = Q->qb, minus = Q->qc;
    const pass *ref64 = &Q->q64;
    ad_status st = gcp_run_pass(P, P->x, dt, threads, true, &q);
    double srev, spre, rev = st == AD_OK ? rev_dot(P, &q, &srev, &spre) : NAN;
    double fwd = dot(P->u, q.t, P->m, false), S = srev + dot(P->u, q.t, P->m, true);
    double F = dot(P->u, q.y, P->m, true), K = (double)P->k;
    rec->reverse = rev, rec->forward = fwd;
    char th[32];
    snprintf(th, sizeof th, "%d thread%s", threads, threads > 1 ? "s" : "");
    if (st == AD_OK && dt == AD_FLOAT64) {
        for (int s = 0; s < P->c->n_in; s++)
            for (int64_t j = 0; j < P->n[s]; j++) {
                double dv = gcp_diff(P, s) ? FD_STEP * P->v[s][j] : 0;
                P->xp[s][j] = P->x[s][j] + dv, P->xm[s][j] = P->x[s][j] - dv;
            }
        st = gcp_run_pass(P, P->xp, dt, threads, false, &plus);
        if (st == AD_OK) st = gcp_run_pass(P, P->xm, dt, threads, false, &minus);
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
        else if (!ad_gc_agree(rev, rev64, tol) || !ad_gc_agree(fwd, fwd64, tol) || !ad_gc_agree(rev, fwd, tol))
            snprintf(rec->message, sizeof rec->message,
                     "path %s (%s) on %s: <u, J v> in float32 by reverse mode %.9g and forward mode %.9g, in "
                     "float64 %.12g and %.12g: error %.3g, tolerance %.3g", P->path, P->when, th, rev, fwd, rev64,
                     fwd64, rec->max_abs_err, tol);
        rec->pass = !rec->message[0];
    }
    gcp_finish(r, rec, t0, st);
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
        ad_gc_record *rec = gcp_new_rec(P, r, AD_GC_PATHS, AD_FLOAT64);
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
    ad_status st = gcp_probe_setup(P, &Q, &cost);
    int dtypes = o->dtypes ? o->dtypes : AD_GC_FLOAT64;
    if (st == AD_OK && cost <= PATH_FULL_COST && threads_needed == 1) {   /* full Jacobians */
        int from = r->n;
        st = ad_gradcheck_op_case(P->op, P->c, o, r);
        for (int i = from; i < r->n; i++) snprintf(r->rec[i].case_label, sizeof r->rec[i].case_label, "%s", P->label);
    } else if (st == AD_OK) {
        /* random directions, on one thread: a threaded path's kernels are
         * then tied to these by the bit-for-bit check below (and every
         * pass on threads waits for the cores: 5 ms on a loaded machine) */
        st = gcp_draw_off_kinks(P, o->seed);
        if (st == AD_OK && (dtypes & AD_GC_FLOAT32)) st = gcp_run_pass(P, P->x, AD_FLOAT64, 1, true, &Q.q64);
        if (st == AD_OK && (dtypes & AD_GC_FLOAT64)) check_directions(P, &Q, AD_FLOAT64, 1, r);
        if (st == AD_OK && (dtypes & AD_GC_FLOAT32)) check_directions(P, &Q, AD_FLOAT32, 1, r);
    }
    /* threaded: bit for bit against one thread, kinks and ties included */
    if (st == AD_OK && n_counts > 0) st = gcp_draw_with_kinks(P, o->seed);
    if (st == AD_OK) check_thread_counts(P, &Q, counts, n_counts, dtypes, r);
    ad_set_threads(keep);
    return st;
}

/* "path blocked, 2+ threads: n = 16390, the last block partial" */
static void path_label(const ad_op_path *p, char *buf, size_t len)
{
    snprintf(buf, len, "path %s%s: %s", p->name, p->threads > 1 ? ", 2+ threads" : "",
             p->probe.label ? p->probe.label : "");
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
    if (!gc_first_order(opts)) return AD_OK;   /* the paths' checks are first-order */
    const ad_op_path *p = &op->paths[k];
    probe P = {.op = op, .c = &p->probe, .path = p->name, .when = p->when ? p->when : "", .reference = p->reference};
    path_label(p, P.label, sizeof P.label);
    ad_status st = check_probe(&P, p->threads, opts, r);
    gcp_probe_free(&P);
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
    if (!threaded(op) || !gc_first_order(o)) return AD_OK;   /* one thread whatever the count; first order */
    probe P = {.op = op, .c = c, .path = "threaded", .when = "the case on 2+ threads", .reference = NULL,
               .users_case = true};
    snprintf(P.label, sizeof P.label, "%s, on 1 and 2+ threads", c->label ? c->label : "");
    int counts[N_THREAD_COUNTS], n_counts = thread_counts(o, counts), keep = ad_threads();
    if (!threads_possible(&P, r)) return AD_OK;
    /* the bit-for-bit comparison alone: the case itself had the full checks */
    passes Q;
    double cost;
    ad_status st = gcp_probe_setup(&P, &Q, &cost);
    if (st == AD_OK) st = gcp_draw_with_kinks(&P, o->seed);
    if (st == AD_OK) check_thread_counts(&P, &Q, counts, n_counts, o->dtypes ? o->dtypes : AD_GC_FLOAT64, r);
    ad_set_threads(keep);
    gcp_probe_free(&P);
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
    return k < op->n_cases ? ad_gradcheck_op_case(op, &op->cases[k], o, r)
                           : ad_gradcheck_op_path(op, k - op->n_cases, o, r);
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
