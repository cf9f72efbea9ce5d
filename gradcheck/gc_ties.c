/* gc_ties.c: the derivatives at the kinks themselves. Everywhere else
 * gradcheck draws inputs away from an op's kinks, and where an entry still
 * meets one it accepts any value between the two one-sided derivatives; so
 * the engine's own conventions (max's and min's tie to a, max-pool's to the
 * first maximum, relu'(0) = 0, abs'(0) = 0) were never checked: a tie sent
 * to b passed. Here the inputs are put on ties and zeros, and each
 * Jacobian entry must be the convention's value exactly (to the options'
 * atol and rtol), nothing between.
 *
 * The convention is the op's kink_side v: at a kink the derivative is the
 * limit of the derivative at x + δ·v as δ → 0+, a one-sided derivative. The
 * kinks of these ops are where pieces of a piecewise-linear function meet,
 * so the derivative at x + δ·v, for δ well below the distance to any other
 * kink, is that limit itself; it is taken by centered differences of step
 * eps there (δ = 1000·eps: the nudged order of any two elements is kept
 * through the ±eps steps). v all 0 (abs) is the centered difference at x,
 * the two sides' average. Inputs lie on the lattice {-1, -0.5, 0, 0.5, 1}
 * (within the domain), where an element is 0, or equal to its partner, one
 * time in five; a draw with no exact kink is drawn again. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

enum { TIE_DRAWS = 100 };

/* The lattice points within the domain of input s, into pts; their count. */
static int lattice(const ad_op *op, int s, double *pts)
{
    ad_domain d = gc_domain_of(op, s);
    int n = 0;
    for (int k = -2; k <= 2; k++)
        if (k / 2.0 >= d.lo && k / 2.0 <= d.hi) pts[n++] = k / 2.0;
    return n;
}

/* Inputs on the lattice with at least one exact kink (kink_gap 0). */
static ad_status draw_ties(const ad_op *op, const ad_op_case *c, ad_tensor **t, gsl_rng *rng, ad_gc_fn f, void *user,
                           bool *found)
{
    *found = false;
    for (int draw = 0; draw < TIE_DRAWS && !*found; draw++) {
        for (int s = 0; s < c->n_in; s++) {
            double pts[5];
            int n = lattice(op, s, pts);
            if (!gc_drawn_uniformly(op, s)) op->sample_input(c, s, t[s], rng);
            else if (n < 2) return AD_OK;   /* a domain too narrow for the lattice: no ties to check */
            else
                for (int64_t j = 0; j < t[s]->size; j++) ad_tensor_set(t[s], j, pts[gsl_rng_uniform_int(rng, (unsigned long)n)]);
        }
        ad_context *ctx = ad_context_new();
        ad_node *y = ctx ? gc_op_at(ctx, c, t, f, user) : NULL;
        ad_status st = y ? AD_OK : ad_last_status();
        if (y) *found = op->kink_gap(y) == 0;
        ad_context_free(ctx);
        if (st != AD_OK) return st;
    }
    return AD_OK;
}

/* The worst entry of one record. */
typedef struct tie_worst {
    double ratio, num, got;
    int64_t o, i;
    bool any;
} tie_worst;

static void tie_compare(gc_run *R, ad_gc_record *rec, tie_worst *w, int64_t o, int64_t i, double num, double got)
{
    double tol = R->o->atol + R->o->rtol * fabs(num), err = ad_gc_abs_err(got, num);
    if (!ad_gc_agree(got, num, tol)) rec->pass = false;
    if (err > rec->max_abs_err) rec->max_abs_err = err;
    if (fabs(num) > 0 && err / fabs(num) > rec->max_rel_err) rec->max_rel_err = err / fabs(num);
    double ratio = err == 0 ? 0 : err != err ? INFINITY : err / tol;
    if (!w->any || ratio > w->ratio) *w = (tie_worst){ratio, num, got, o, i, true};
}

static void tie_finish(gc_run *R, ad_gc_record *rec, const tie_worst *w, int s, const double *xs, double t0)
{
    if (w->any) {
        char oi[48], ii[48];
        ad_tensor tin = gc_input_shape(R, s);
        snprintf(rec->worst, sizeof rec->worst, "dy%s/dx%d%s", ad_index_str(&R->out, w->o, oi, sizeof oi), s,
                 ad_index_str(&tin, w->i, ii, sizeof ii));
        rec->x_at_worst = xs[w->i];
        rec->numerical = w->num;
        if (rec->check == AD_GC_JACOBIAN_REV) rec->reverse = w->got;
        else rec->forward = w->got;
    }
    snprintf(rec->message, sizeof rec->message, "%s",
             rec->pass ? "at ties and zeros: each entry is the one-sided derivative the op's convention takes "
                         "(kink_side), not any value between the sides"
                       : "at ties and zeros, an entry is not the one-sided derivative the op's convention takes "
                         "(kink_side): numerical is that side's");
    gc_finish_record(R, rec, t0);
}

/* The checks at x (R->x, on the lattice): numerical columns at x + δ·v,
 * reverse rows (blocks of one-hot cotangents) and forward columns at x. */
static void tie_checks(gc_run *R, const ad_op *op, ad_node *y)
{
    int64_t m = R->m;
    double delta = 1000 * R->o->eps;
    scratch sc = {0};
    double *tmp = gc_scratch_alloc(&sc, m, false), *numT[AD_MAX_INPUTS] = {0}, *keep[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++) {
        keep[s] = gc_scratch_alloc(&sc, R->n[s], false);
        if (gc_diff(R, s)) numT[s] = gc_scratch_alloc(&sc, R->n[s] * m, false);
    }
    ad_status st = sc.failed ? gc_scratch_status(R, "checks at ties") : AD_OK;
    /* the side: x + δ·v, every input moved together */
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        memcpy(keep[s], R->x[s], (size_t)R->n[s] * sizeof(double));
        double *v = numT[s] ? numT[s] : tmp;   /* (v fits in either: n_s <= n_s·m, or the input is not moved) */
        if (!gc_diff(R, s)) continue;
        op->kink_side(y, s, v);
        for (int64_t j = 0; j < R->n[s]; j++) R->x[s][j] += delta * v[j];
    }
    for (int s = 0; s < R->n_in && st == AD_OK; s++)
        for (int64_t i = 0; gc_diff(R, s) && i < R->n[s] && st == AD_OK; i++)
            st = gc_numeric_dir(R, s, i, 0, NULL, numT[s] + i * m, tmp);
    for (int s = 0; s < R->n_in; s++) memcpy(R->x[s], keep[s], (size_t)R->n[s] * sizeof(double));
    char why[256];
    if (st != AD_OK) snprintf(why, sizeof why, "could not run: %s", ad_last_error());
    for (int mode = 0; mode < 2; mode++) {
        bool rev = mode == 0;
        if (!(R->o->mode & (rev ? AD_GC_REV : AD_GC_FWD))) continue;
        for (int s = 0; s < R->n_in; s++) {
            if (!gc_diff(R, s)) continue;
            double t0 = gc_now();
            ad_gc_record rec;
            tie_worst w = {0};
            gc_record_init(R, &rec, s, rev ? AD_GC_JACOBIAN_REV : AD_GC_JACOBIAN_FWD);
            ad_status st2 = st;
            scratch sc2 = {0};
            if (rev) {   /* rows of every input's Jacobian, RB at a time */
                int B = gc_block_rows(R);
                double *cot = gc_scratch_alloc(&sc2, (int64_t)B * m, true), *tile[AD_MAX_INPUTS] = {0};
                for (int u = 0; u < R->n_in; u++)
                    if (gc_diff(R, u)) tile[u] = gc_scratch_alloc(&sc2, (int64_t)B * R->n[u], false);
                if (st2 == AD_OK && sc2.failed) st2 = gc_scratch_status(R, "checks at ties");
                for (int64_t o0 = 0; o0 < m && st2 == AD_OK; o0 += B) {
                    int rows = (int)(m - o0 < B ? m - o0 : B);
                    st2 = gc_jacobian_rows(R, o0, rows, cot, tile, gsl_rng_get(R->rng), false);
                    for (int r = 0; r < rows && st2 == AD_OK; r++)
                        for (int64_t i = 0; i < R->n[s]; i++)
                            tie_compare(R, &rec, &w, o0 + r, i, numT[s][i * m + o0 + r], tile[s][(int64_t)r * R->n[s] + i]);
                }
            } else {   /* columns, JB at a time */
                double *t = gc_scratch_alloc(&sc2, (int64_t)JB * m, false);
                if (st2 == AD_OK && sc2.failed) st2 = gc_scratch_status(R, "checks at ties");
                for (int64_t c0 = 0; c0 < R->n[s] && st2 == AD_OK; c0 += JB) {
                    int k = (int)(R->n[s] - c0 < JB ? R->n[s] - c0 : JB);
                    st2 = gc_jvp_cols(R, s, c0, k, NULL, t);
                    for (int d = 0; d < k && st2 == AD_OK; d++)
                        for (int64_t o = 0; o < m; o++) tie_compare(R, &rec, &w, o, c0 + d, numT[s][(c0 + d) * m + o], t[(int64_t)d * m + o]);
                }
            }
            gc_scratch_free(&sc2);
            ad_gc_record *out = gc_new_record(R, s, rec.check);
            if (st2 != AD_OK) {
                if (st == AD_OK) snprintf(why, sizeof why, "could not run: %s", ad_last_error());
                *out = rec;
                out->pass = false;
                snprintf(out->message, sizeof out->message, "%s", why);
                gc_finish_record(R, out, t0);
                continue;
            }
            *out = rec;
            tie_finish(R, out, &w, s, R->x[s], t0);
        }
    }
    gc_scratch_free(&sc);
}

ad_status gc_check_ties(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, ad_gc_report *r, ad_gc_fn f,
                        void *user)
{
    if (!op->kink_side || !op->kink_gap || o->fast || !((o->dtypes ? o->dtypes : AD_GC_FLOAT64) & AD_GC_FLOAT64))
        return AD_OK;
    char label[128];
    snprintf(label, sizeof label, "%s, at ties", c->label);
    gc_run R = {.name = op->name, .label = label, .f = f, .user = user, .n_in = c->n_in, .nondiff = op->nondiff_inputs,
                .items = 1, .device = AD_CPU, .o = o, .r = r};
    ad_tensor *t[AD_MAX_INPUTS] = {0};
    ad_status st = AD_OK;
    for (int s = 0; s < c->n_in && st == AD_OK; s++) {
        if (!(t[s] = ad_tensor_new(AD_FLOAT64, c->ndim[s], c->shape[s]))) st = ad_last_status();
        else if (!(R.x[s] = malloc((size_t)(t[s]->size ? t[s]->size : 1) * sizeof(double))))
            st = gc_scratch_status(&R, "inputs at ties");
    }
    if (st == AD_OK && !(R.rng = gsl_rng_alloc(gsl_rng_mt19937))) st = gc_scratch_status(&R, "random generator");
    bool found = false;
    int threads = ad_threads();
    ad_set_threads(1);   /* (as gc_run_checks: small tensors, many passes) */
    if (st == AD_OK) {
        gsl_rng_set(R.rng, o->seed ^ 0x7135UL);
        st = draw_ties(op, c, t, R.rng, f, user, &found);
    }
    ad_context *ctx = st == AD_OK && found ? ad_context_new() : NULL;
    ad_node *y = ctx ? gc_op_at(ctx, c, t, f, user) : NULL;
    if (st == AD_OK && found && !y) st = ad_last_status();
    if (y) {
        for (int s = 0; s < c->n_in; s++) {
            R.ndim[s] = t[s]->ndim;
            memcpy(R.shape[s], t[s]->shape, sizeof R.shape[s]);
            R.n[s] = t[s]->size;
            memcpy(R.x[s], t[s]->data, (size_t)t[s]->size * sizeof(double));
        }
        R.out = ad_value(y);
        R.out.data = NULL;
        R.m = R.out.size;
        tie_checks(&R, op, y);
    }
    ad_set_threads(threads);
    ad_context_free(ctx);
    ad_context_free(R.eval_ctx);
    ad_context_free(R.grad_ctx);
    ad_context_free(R.fwd_ctx);
    if (R.rng) gsl_rng_free(R.rng);
    for (int s = 0; s < AD_MAX_INPUTS; s++) {
        ad_tensor_free(t[s]);
        free(R.x[s]);
        free(R.pre[s]);
    }
    return st;
}
