/* gc_second.c: second derivatives (options.orders & AD_GC_ORDER2).
 *
 * For L(x) = <w, f(x)>, w a random cotangent, ad_hvp gives H·v, the
 * Hessian of L times a direction v over the differentiable inputs, by
 * forward-over-reverse: every op's second-order rule (ad_op.h's
 * vjp_tangent) on the way is used. Two checks:
 *   HVP        H·v against the finite difference of the gradient along v,
 *              (∇L(x + εv) - ∇L(x - εv)) / 2ε (the options' stencil), the
 *              gradient by reverse mode (itself checked at order 1), entry
 *              by entry: |a - n| <= atol + rtol·|n|, a record per input;
 *   SYMMETRY   <u, H v> against <v, H u> for random u, v: equal for any
 *              twice-differentiable f, to rounding (1e-9 of the sum of the
 *              products' magnitudes). No differences at all.
 *   ADDS       H·v of f(x) + f(x), two uses of the same inputs, against
 *              twice H·v of f: a rule must add its term into the input's
 *              ġ (ad_op.h), where the other use's is already; one that
 *              overwrites it gives one use's. Equal to rounding (1e-12).
 * HVP is checked along v, and where two or more inputs are differentiable
 * along v on each input alone too (the others' tangents absent, a path
 * every rule has: a target with no tangent, a bias held fixed); and with v
 * on none of them (check_no_tangent: then exactly 0).
 * In float64, on the CPU (ad_hvp's own limits). A graph with an op that has
 * no second-order rule (first-order only) is not checked: the record says
 * which op, and is shown as not checked. Ops with kinks (relu, max, ...)
 * are drawn clear of them at order 2 as at order 1: there, their second
 * derivatives are 0; at the kinks they do not exist. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

/* The first op in y's graph with no second-order rule, or NULL. */
static const ad_op *first_order_only(ad_node *y)
{
    ad_context *ctx = ad_node_context(y);
    for (uint32_t id = 0; id <= ad_node_id(y); id++) {
        const ad_node *n = ad_node_of(ad_node_by_id(ctx, id));
        const ad_op *op = n ? n->op : NULL;
        if (op && !ad_op_second_order(op)) return op;
    }
    return NULL;
}

/* The graph H·v is taken of: L = <w, y> for y = f(x), f(x) + f(x) (two
 * uses of the inputs: check_adds), or f(x) + d·d with d a 0-d leaf that
 * carries the tangent where no input of f does (check_no_tangent: ad_hvp
 * refuses a graph no tangent reaches). */
typedef enum { Y_F, Y_F_TWICE, Y_F_PLUS_DD } hvp_graph;

/* hv[s] = (H·v) at input s for L at R->x (v[s] NULL: input s held, or
 * moved not at all). *only_first: the op without a second-order rule,
 * where there is one (nothing is computed then). */
static ad_status hvp_at(gc_run *R, const double *w, double *const *v, double **hv, const ad_op **only_first,
                        hvp_graph graph)
{
    ad_context *ctx = gc_context_new();
    if (!ctx) return ad_last_status();
    ad_node *leaves[AD_MAX_INPUTS], *wrt[AD_MAX_INPUTS + 1], *d = NULL;
    void *out[AD_MAX_INPUTS + 1];
    double hd = 0;   /* d's H·v (not judged) */
    int n_wrt = 0;
    ad_status st = gc_build_along(R, ctx, leaves, v);
    ad_node *y = st == AD_OK ? gc_call_f(R, ctx, leaves) : NULL;
    if (y && graph == Y_F_TWICE) y = ad_add(ctx, y, gc_call_f(R, ctx, leaves));
    if (y && graph == Y_F_PLUS_DD) {
        d = ad_scalar(ctx, 0.5);
        y = d && ad_set_tangent(d, 0, (const double[]){1}, -1) == AD_OK ? ad_add(ctx, y, ad_mul(ctx, d, d)) : NULL;
    }
    if (st == AD_OK && !y) st = ad_last_status();
    if (st == AD_OK && (*only_first = first_order_only(y))) {
        ad_context_free(ctx);
        return AD_OK;
    }
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) {
            memset(hv[s], 0, (size_t)R->n[s] * sizeof(double));
            wrt[n_wrt] = leaves[s];
            out[n_wrt++] = hv[s];
        }
    if (d) {
        wrt[n_wrt] = d;
        out[n_wrt++] = &hd;
    }
    if (st == AD_OK) {
        ad_tensor cot = ad_value(y);
        cot.data = (void *)w;
        gc_set_phase(GC_PHASE_VJP, AD_FLOAT64);
        st = ad_hvp(ctx, y, &cot, 0, n_wrt, wrt, NULL, out);
    }
    ad_context_free(ctx);
    return st;
}

/* num[s] = the stencil's difference of ∇L along v, at every differentiable
 * input (one that v does not move included: its gradient moves with the
 * others), R->x moved and put back exactly. */
static ad_status gradient_difference(gc_run *R, const double *w, double *const *v, double **num, double **g,
                                     double **keep)
{
    const ad_gc_stencil *sten = ad_gc_stencil_for(R->o);
    const double h = R->o->eps;
    ad_status st = AD_OK;
    for (int s = 0; s < R->n_in; s++) {
        if (num[s]) memset(num[s], 0, (size_t)R->n[s] * sizeof(double));
        if (v[s]) memcpy(keep[s], R->x[s], (size_t)R->n[s] * sizeof(double));
    }
    for (int k = 0; k < sten->n && st == AD_OK; k++) {
        for (int s = 0; s < R->n_in; s++)
            for (int64_t j = 0; v[s] && j < R->n[s]; j++) R->x[s][j] = keep[s][j] + sten->offset[k] * h * v[s][j];
        st = gc_vjp_all(R, GC_ONE, w, g, 1, false);
        for (int s = 0; s < R->n_in; s++)
            for (int64_t j = 0; num[s] && j < R->n[s] && st == AD_OK; j++) num[s][j] += sten->weight[k] * g[s][j] / h;
    }
    for (int s = 0; s < R->n_in; s++)
        if (v[s]) memcpy(R->x[s], keep[s], (size_t)R->n[s] * sizeof(double));
    return st;
}

static void not_checked(gc_run *R, const ad_op *op, double t0)
{
    ad_gc_record *rec = gc_new_record(R, -1, AD_GC_HVP);
    snprintf(rec->message, sizeof rec->message,
             "not checked: op %s is first-order only (it has no second-order rule: ad_op.h, vjp_tangent)", op->name);
    gc_finish_record(R, rec, t0);
}

/* H·v against differences of the gradient, a record per differentiable
 * input; `along` says which inputs v moves ("" for all of them). */
static void check_hvp(gc_run *R, const double *w, double *const *v, const char *along, bool *skipped)
{
    double t0 = gc_now();
    scratch scr = {0}, *sc = &scr;
    double *hv[AD_MAX_INPUTS] = {0}, *num[AD_MAX_INPUTS] = {0}, *g[AD_MAX_INPUTS] = {0}, *keep[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) {
            hv[s] = gc_scratch_alloc(sc, R->n[s], false);
            num[s] = gc_scratch_alloc(sc, R->n[s], false);
            g[s] = gc_scratch_alloc(sc, R->n[s], false);
            keep[s] = gc_scratch_alloc(sc, R->n[s], false);
        }
    const ad_op *only_first = NULL;
    ad_status st = sc->failed ? gc_scratch_status(R, "second-order check") : hvp_at(R, w, v, hv, &only_first, Y_F);
    if (st == AD_OK && only_first) {
        not_checked(R, only_first, t0);
        *skipped = true;
        gc_scratch_free(sc);
        return;
    }
    if (st == AD_OK) st = gradient_difference(R, w, v, num, g, keep);
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
        ad_gc_record *rec = gc_new_record(R, s, AD_GC_HVP);
        if (st != AD_OK) {
            gc_fail_note(rec, st);
            gc_finish_record(R, rec, t0);
            continue;
        }
        ad_tensor shape = gc_input_shape(R, s);
        double worst_excess = -INFINITY;
        for (int64_t j = 0; j < R->n[s]; j++) {
            double a = hv[s][j], n = num[s][j], tol = R->o->atol + R->o->rtol * fabs(n);
            double err = ad_gc_abs_err(a, n), excess = ad_gc_agree(a, n, tol) ? err - tol : INFINITY;
            if (!(err <= rec->max_abs_err)) rec->max_abs_err = err;   /* (NaN stays) */
            double rel = err / (fabs(n) > 1e-300 ? fabs(n) : 1);
            if (!(rel <= rec->max_rel_err)) rec->max_rel_err = rel;
            if (excess > worst_excess || j == 0) {
                worst_excess = excess;
                char idx[64];
                snprintf(rec->worst, sizeof rec->worst, "(H·v)_x%d%s", s, ad_index_str(&shape, j, idx, sizeof idx));
                rec->numerical = n;
                rec->reverse = a;
                rec->x_at_worst = R->x[s][j];
            }
            if (excess == INFINITY) rec->pass = false;
        }
        snprintf(rec->message, sizeof rec->message,
                 "H·v by ad_hvp (forward-over-reverse) against the %s difference of the gradient along v%s",
                 ad_gc_stencil_for(R->o)->name, along);
        gc_finish_record(R, rec, t0);
    }
    gc_scratch_free(sc);
}

/* a[s] and b[s], one value per element of input s, for each differentiable s. */
static void two_buffers_per_input(gc_run *R, scratch *sc, double **a, double **b)
{
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) {
            a[s] = gc_scratch_alloc(sc, R->n[s], false);
            b[s] = gc_scratch_alloc(sc, R->n[s], false);
        }
}

/* <u, H v> = <v, H u>. */
static void check_symmetry(gc_run *R, const double *w, double *const *v)
{
    double t0 = gc_now();
    scratch scr = {0}, *sc = &scr;
    ad_gc_record *rec = gc_new_record(R, -1, AD_GC_HVP_SYMMETRY);
    double *u[AD_MAX_INPUTS], *hu[AD_MAX_INPUTS] = {0}, *hv[AD_MAX_INPUTS] = {0};
    gc_random_dirs(R, sc, u, NULL);
    two_buffers_per_input(R, sc, hu, hv);
    const ad_op *only_first = NULL;
    ad_status st = sc->failed ? gc_scratch_status(R, "symmetry check") : hvp_at(R, w, v, hv, &only_first, Y_F);
    if (st == AD_OK) st = hvp_at(R, w, u, hu, &only_first, Y_F);
    if (st != AD_OK) {
        gc_fail_note(rec, st);
    } else {
        double u_hv = 0, v_hu = 0, scale = 0;
        for (int s = 0; s < R->n_in; s++)
            for (int64_t j = 0; hv[s] && j < R->n[s]; j++) {
                u_hv += u[s][j] * hv[s][j];
                v_hu += v[s][j] * hu[s][j];
                scale += fabs(u[s][j] * hv[s][j]) + fabs(v[s][j] * hu[s][j]);
            }
        gc_judge_identity(rec, u_hv, v_hu, scale, 1e-9);
        rec->numerical = v_hu;
        rec->reverse = u_hv;
        snprintf(rec->message, sizeof rec->message, "<u, Hv> = %.17g, <v, Hu> = %.17g", u_hv, v_hu);
    }
    gc_scratch_free(sc);
    gc_finish_record(R, rec, t0);
}

/* Where v moves none of f's inputs (no tangent row on any of them: a rule
 * must then add nothing), H·v at each input is exactly 0 (the graph
 * Y_F_PLUS_DD: a leaf beside f carries the tangent). */
static void check_no_tangent(gc_run *R, const double *w)
{
    double t0 = gc_now();
    scratch scr = {0}, *sc = &scr;
    double *hv[AD_MAX_INPUTS] = {0}, *none[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) hv[s] = gc_scratch_alloc(sc, R->n[s], false);
    const ad_op *only_first = NULL;
    ad_status st = sc->failed ? gc_scratch_status(R, "second-order check")
                              : hvp_at(R, w, none, hv, &only_first, Y_F_PLUS_DD);
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
        ad_gc_record *rec = gc_new_record(R, s, AD_GC_HVP);
        if (st != AD_OK) {
            gc_fail_note(rec, st);
        } else {
            rec->pass = true;
            for (int64_t j = 0; j < R->n[s]; j++)
                if (!(hv[s][j] == 0)) {   /* (NaN fails too) */
                    rec->pass = false;
                    rec->max_abs_err = fabs(hv[s][j]);
                    rec->reverse = hv[s][j];
                    snprintf(rec->message, sizeof rec->message,
                             "H·v where no input carries a tangent is %.17g at element %lld of input %d, not 0: "
                             "a rule added a term without its input's tangent", hv[s][j], (long long)j, s);
                    break;
                }
            if (rec->pass)
                snprintf(rec->message, sizeof rec->message,
                         "H·v where no input carries a tangent (v on none of them) is exactly 0");
        }
        gc_finish_record(R, rec, t0);
    }
    gc_scratch_free(sc);
}

/* H·v of f(x) + f(x) = 2·(H·v of f), entry by entry, one record. */
static void check_adds(gc_run *R, const double *w, double *const *v)
{
    double t0 = gc_now();
    scratch scr = {0}, *sc = &scr;
    ad_gc_record *rec = gc_new_record(R, -1, AD_GC_HVP_ADDS);
    double *once[AD_MAX_INPUTS] = {0}, *twice[AD_MAX_INPUTS] = {0};
    two_buffers_per_input(R, sc, once, twice);
    const ad_op *only_first = NULL;
    ad_status st = sc->failed ? gc_scratch_status(R, "second-order check") : hvp_at(R, w, v, once, &only_first, Y_F);
    if (st == AD_OK) st = hvp_at(R, w, v, twice, &only_first, Y_F_TWICE);
    if (st != AD_OK) {
        gc_fail_note(rec, st);
    } else {
        /* each entry judged as gc_judge_identity judges one (1e-12 of |2·once|,
         * at least 1e-14); the record shows the worst: a failed entry before
         * any that agrees, the largest error among them */
        bool shown = false, shown_failed = false;
        double shown_err = 0;
        rec->pass = true;
        for (int s = 0; s < R->n_in; s++)
            for (int64_t j = 0; once[s] && j < R->n[s]; j++) {
                double a = twice[s][j], b = 2 * once[s][j], tol = 1e-12 * fabs(b);
                if (!(tol > 1e-14)) tol = 1e-14;
                double err = ad_gc_abs_err(a, b);
                bool failed = !ad_gc_agree(a, b, tol);
                if (!(err <= rec->max_abs_err)) rec->max_abs_err = err;   /* (NaN stays) */
                if (failed) rec->pass = false;
                bool worse = !shown || (failed && !shown_failed) || (failed == shown_failed && !(err <= shown_err));
                if (!worse) continue;
                shown = true, shown_failed = failed, shown_err = err;
                rec->max_rel_err = fabs(b) > 0 ? err / fabs(b) : err;
                rec->reverse = a;
                rec->numerical = b;
                snprintf(rec->message, sizeof rec->message,
                         "H·v of f(x) + f(x) against twice H·v of f(x): %.17g against %.17g at input %d, element %lld",
                         a, b, s, (long long)j);
            }
        if (rec->pass)
            snprintf(rec->message, sizeof rec->message,
                     "H·v of f(x) + f(x) is twice H·v of f(x): each rule adds into the input's adjoint tangent");
    }
    gc_scratch_free(sc);
    gc_finish_record(R, rec, t0);
}

void gc_check_second_order(gc_run *R)
{
    if (R->device != AD_CPU) {
        ad_gc_record *rec = gc_new_record(R, -1, AD_GC_HVP);
        snprintf(rec->message, sizeof rec->message, "not checked: second order runs on the CPU (ad_hvp)");
        gc_finish_record(R, rec, gc_now());
        return;
    }
    scratch sc = {0};
    double *w = gc_scratch_alloc(&sc, R->m, false), *v[AD_MAX_INPUTS];
    for (int64_t o = 0; w && o < R->m; o++) w[o] = gsl_ran_gaussian(R->rng, 1.0);
    gc_random_dirs(R, &sc, v, NULL);
    bool skipped = false;
    if (sc.failed) {
        ad_gc_record *rec = gc_new_record(R, -1, AD_GC_HVP);
        gc_fail_note(rec, gc_scratch_status(R, "second-order check"));
        gc_finish_record(R, rec, gc_now());
    } else {
        check_hvp(R, w, v, "", &skipped);
        if (!skipped) {
            check_symmetry(R, w, v);
            check_adds(R, w, v);
            check_no_tangent(R, w);
            int n_diff = 0;
            for (int s = 0; s < R->n_in; s++) n_diff += gc_diff(R, s);
            for (int s = 0; s < R->n_in && n_diff > 1; s++) {
                if (!gc_diff(R, s)) continue;
                double *alone[AD_MAX_INPUTS] = {0};
                alone[s] = v[s];
                char along[48];
                snprintf(along, sizeof along, " on input %d alone", s);
                check_hvp(R, w, alone, along, &skipped);
            }
        }
    }
    gc_scratch_free(&sc);
}
