/* gc_kink.c: telling a kink (a jump in the derivative) from a wrong rule,
 * and drawing an op's inputs clear of its kinks. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

void gc_kink_free(kink_info *k, int64_t n)
{
    for (int64_t i = 0; k->col && i < n; i++) free(k->col[i]);
    free(k->col);
    k->col = NULL;
}

/* Column i's one-sided differences: f at x ± h e_i, the same evaluations
 * (bit for bit) as the stencil's points ±h. NULL if they cannot be made. */
static kink_col *kink_column(gc_run *R, kink_info *k, int s, int64_t i)
{
    int64_t m = R->m;
    if (!k->col && !(k->col = calloc((size_t)(R->n[s] ? R->n[s] : 1), sizeof *k->col))) return NULL;
    if (k->col[i]) return k->col[i];
    kink_col *c = malloc(sizeof *c + (size_t)(m ? m : 1) * (2 * sizeof(double) + 1));
    if (!c) return NULL;
    c->left = (double *)(c + 1);
    c->right = c->left + m;
    c->flag = (char *)(c->right + m);
    memset(c->flag, 0, (size_t)m);
    double h = R->o->eps, x0 = R->x[s][i];
    R->x[s][i] = x0 + h;
    ad_status st = gc_eval(R, k->fp);
    R->x[s][i] = x0 - h;
    if (st == AD_OK) st = gc_eval(R, k->fm);
    R->x[s][i] = x0;
    if (st != AD_OK) {
        free(c);
        return NULL;
    }
    for (int64_t q = 0; q < m; q++) {
        c->right[q] = (k->fp[q] - k->f0[q]) / h;
        c->left[q] = (k->f0[q] - k->fm[q]) / h;
    }
    return k->col[i] = c;
}

/* Is x_s[i] within reach of a kink (max at a tie, relu at 0) for output o?
 * There the one-sided differences part by a jump that stays as the step
 * shrinks; on a smooth function they part by about h·f'', which halves with
 * h. So: the gap at h exceeds the tolerance, and the gap at h/2 (two more
 * evaluations, made only for columns that need them) keeps 3/4 of it. */
bool gc_at_kink(gc_run *R, kink_info *k, int s, int64_t o, int64_t i, double tol)
{
    kink_col *c = kink_column(R, k, s, i);
    if (!c) return false;
    double gap = fabs(c->right[o] - c->left[o]);
    if (!(gap > tol)) return false;
    if (c->flag[o] == 0) {
        double h = R->o->eps / 2, x0 = R->x[s][i];
        R->x[s][i] = x0 + h;
        ad_status st = gc_eval(R, k->fp);
        R->x[s][i] = x0 - h;
        if (st == AD_OK) st = gc_eval(R, k->fm);
        R->x[s][i] = x0;
        for (int64_t q = 0; q < R->m; q++) {
            double g = fabs(c->right[q] - c->left[q]);
            double half = fabs(k->fp[q] - 2 * k->f0[q] + k->fm[q]) / h;   /* the gap at h/2 */
            c->flag[q] = st == AD_OK && half >= 0.75 * g ? 1 : 2;
        }
    }
    return c->flag[o] == 1;
}

/* ---- drawing inputs clear of the kinks ---- */

/* Every element of the case's inputs, fresh. */
static void draw_all(const ad_op *op, const ad_op_case *c, ad_tensor **t, gsl_rng *rng)
{
    for (int s = 0; s < c->n_in; s++) {
        ad_domain d = gc_domain_of(op, s);
        if (!gc_drawn_uniformly(op, s)) op->sample_input(c, s, t[s], rng);
        else
            for (int64_t j = 0; j < t[s]->size; j++) ad_tensor_set(t[s], j, gsl_ran_flat(rng, d.lo, d.hi));
    }
}

ad_node *gc_op_at(ad_context *ctx, const ad_op_case *c, ad_tensor **t, ad_gc_fn f, void *user)
{
    ad_node *in[AD_MAX_INPUTS];
    for (int s = 0; s < c->n_in; s++)
        if (!(in[s] = ad_from_tensor(ctx, t[s], true))) return NULL;
    gc_set_phase(GC_PHASE_FORWARD, AD_FLOAT64);
    ad_node *y = f(ctx, in, c->n_in, user);
    return y ? ad_node_of(y) : NULL;   /* (kink_gap and kink_dist are kernels: given the node) */
}

/* Draw the inputs, then make them clear of the op's kinks by `margin`
 * (kink_gap(y) >= margin). Constructively where the op says element by
 * element how far each is from a kink (kink_dist): only the elements nearer
 * than margin are drawn again, round after round. Each element lands in a
 * gap with probability about 2·margin/(hi - lo) (5e-4 for relu's), so
 * whatever the size a round or two clears them all: n = 20,000 relu inputs
 * hold some 10 such elements, where a draw of all of them at once is clear
 * with probability (1 - 5e-4)^20000 = 4.5e-5, and rejection sampling over
 * the whole tensor (what an op without kink_dist still gets) never ends.
 * kink_dist is kink_gap element by element, so at every draw, clear or not,
 * the least distance of any element of any input must be the gap, exactly
 * (both are the same differences in double): a kink_dist that misses a
 * window or a pair, or a kink_gap that invents one, fails the op here, and
 * the draws of any size depend on kink_dist being right. */
ad_status gc_draw_inputs(const ad_op *op, const ad_op_case *c, ad_tensor **t, gsl_rng *rng, double margin, ad_gc_fn f,
                         void *user)
{
    enum { ROUNDS = 200 };
    ad_status st = AD_OK;
    int64_t biggest = 1;
    for (int s = 0; s < c->n_in; s++) biggest = t[s]->size > biggest ? t[s]->size : biggest;
    double *dist = op->kink_dist ? malloc((size_t)biggest * sizeof *dist) : NULL;
    if (op->kink_dist && !dist)
        return ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the inputs' distances from the kinks", op->name);
    draw_all(op, c, t, rng);
    bool clear = !op->kink_gap;
    for (int round = 0; round < ROUNDS && !clear && st == AD_OK; round++) {
        ad_context *ctx = ad_context_new();
        ad_node *y = ctx ? gc_op_at(ctx, c, t, f, user) : NULL;
        double gap = y ? op->kink_gap(y) : 0, least = INFINITY;
        int64_t moved = 0;
        if (!y) st = ad_last_status();
        for (int s = 0; s < c->n_in && op->kink_dist && st == AD_OK; s++) {
            op->kink_dist(y, s, dist);
            ad_domain d = gc_domain_of(op, s);
            for (int64_t j = 0; j < t[s]->size; j++) {
                if (least == least && !(dist[j] >= least)) least = dist[j];   /* (a NaN stays: it equals no gap) */
                if (!(gap >= margin) && !(dist[j] >= margin) && gc_drawn_uniformly(op, s)) {   /* (NaN: drawn again too) */
                    ad_tensor_set(t[s], j, gsl_ran_flat(rng, d.lo, d.hi));
                    moved++;
                }
            }
        }
        if (st == AD_OK && op->kink_dist && !(least == gap))   /* (both inf: no kink at all, a 1x1 window) */
            st = ad_fail(AD_ERR_ARG, "gradcheck %s [%s]: kink_dist and kink_gap disagree: the least distance of an "
                         "element from a kink is %g, the gap %g", op->name, c->label, least, gap);
        else if (st == AD_OK && gap >= margin) clear = true;
        /* No kink_dist: every element again (rejection sampling). */
        else if (st == AD_OK && moved == 0) draw_all(op, c, t, rng);
        ad_context_free(ctx);
    }
    free(dist);
    if (st == AD_OK && !clear)
        st = ad_fail(AD_ERR_DOMAIN, "gradcheck %s [%s]: no draw of inputs in %d landed %g away from the op's kinks",
                     op->name, c->label, ROUNDS, margin);
    return st;
}
