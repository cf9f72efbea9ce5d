/* gc_paths_probe.c: a path's probe (gc_paths.h): its inputs drawn, its
 * passes through the kernels on a given thread count in either dtype, and
 * its records. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_parallel.h"
#include "gc_paths.h"

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
        if (P->op->sample_input && !gcp_diff(P, s)) {
            ad_tensor *t = ad_tensor_new(AD_FLOAT64, c->ndim[s], c->shape[s]);
            if (!t) return ad_last_status();
            P->op->sample_input(c, s, t, rng);
            ad_status st = ad_tensor_copy_out(t, P->x[s], P->n[s]);
            ad_tensor_free(t);
            if (st != AD_OK) return st;
        } else {
            for (int64_t j = 0; j < P->n[s]; j++) P->x[s][j] = flat32(rng, d.lo, d.hi);
        }
        for (int64_t j = 0; j < P->n[s] && gcp_diff(P, s); j++) {
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
        leaves[s] = variables && gcp_diff(P, s) ? ad_variable(ctx, dt, c->ndim[s], c->shape[s], x[s])
                                            : ad_constant(ctx, dt, c->ndim[s], c->shape[s], x[s]);
        if (!leaves[s]) return ad_last_status();
    }
    return AD_OK;
}

/* The op at x in dtype dt on `threads` kernel threads: the value and, with
 * `all`, the vjp of u into the pre-filled grads and the jvp along v. */
ad_status gcp_run_pass(const probe *P, double *const *x, ad_dtype dt, int threads, bool all, pass *q)
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
            for (int64_t j = 0; j < P->n[s] && gcp_diff(P, s); j++) {
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
            if (gcp_diff(P, s)) st = ad_grad_copy_out(leaves[s], q->g[s], P->n[s]);
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
        if (gcp_diff(P, s)) st = ad_set_tangent(leaves[s], 0, P->v[s], -1);
    gc_set_phase(GC_PHASE_JVP, dt);
    if (st == AD_OK && !(y = ad_apply(ctx, P->op, leaves, P->c->n_in, &P->c->params))) st = ad_last_status();
    for (int64_t i = 0; i < P->m && st == AD_OK; i++) q->t[i] = ad_tangent_at(y, 0, i);
    ad_context_free(ctx);
    return st;
}

ad_gc_record *gcp_new_rec(const probe *P, ad_gc_report *r, ad_gc_check check, ad_dtype dt)
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

void gcp_finish(ad_gc_report *r, ad_gc_record *rec, double t0, ad_status st)
{
    if (st != AD_OK) gc_fail_note(rec, st);
    rec->seconds = gc_now() - t0;
    if (!rec->pass) r->n_fail++;
}

/* The inputs with the op's kinks planted (a nonsmooth op, 0 in input 0's
 * domain): input 0 exactly 0 at its first and last elements and every 997th,
 * and equal to its neighbour every 997th from 500 (max-pool's ties). */
static void plant_kinks(const probe *P, double *x0)
{
    ad_domain d = P->op->domain[0];
    bool zero_ok = (d.lo == 0 && d.hi == 0) || (d.lo <= 0 && d.hi >= 0);
    if (!(P->op->flags & AD_OP_NONSMOOTH) || !gcp_diff(P, 0) || !zero_ok || P->n[0] < 2) return;
    for (int64_t j = 0; j < P->n[0]; j += 997) x0[j] = 0;
    for (int64_t j = 500; j + 1 < P->n[0]; j += 997) x0[j + 1] = x0[j];
    x0[P->n[0] - 1] = 0;
}

/* P's sizes (n, m, k) from its case, and its buffers; the full-Jacobian
 * cost into *cost. */
ad_status gcp_probe_setup(probe *P, passes *Q, double *cost)
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
        if (gcp_diff(P, s)) *cost += (double)P->n[s] * (total + (double)P->m);
    }
    return st == AD_OK ? probe_alloc(P, Q) : st;
}

/* Inputs drawn (seeded by seed) with the kinks planted: the threaded check's. */
ad_status gcp_draw_with_kinks(probe *P, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) return no_memory(P);
    gsl_rng_set(rng, seed ^ 0x7f4a7c15UL);
    ad_status st = draw(P, rng);
    gsl_rng_free(rng);
    if (st == AD_OK) plant_kinks(P, P->x[0]);
    return st;
}

/* Draw again, as draw() drew them, the elements of P's inputs nearer than
 * KINK_MARGIN to a kink of y (the op at them), where the op says which
 * (kink_dist), of the differentiable inputs: how many were drawn, or -1
 * out of memory. */
static int64_t redraw_near_kinks(probe *P, const ad_node *y, gsl_rng *rng)
{
    int64_t moved = 0;
    for (int s = 0; s < P->c->n_in && P->op->kink_dist; s++) {
        if (!gcp_diff(P, s)) continue;   /* (left as drawn, perhaps by sample_input) */
        double *dist = malloc((size_t)(P->n[s] ? P->n[s] : 1) * sizeof *dist);
        if (!dist) return -1;
        P->op->kink_dist(y, s, dist);
        ad_domain d = P->op->domain[s];
        if (d.lo == 0 && d.hi == 0) d = (ad_domain){-2, 2};
        for (int64_t j = 0; j < P->n[s]; j++)
            if (!(dist[j] >= KINK_MARGIN)) {   /* (NaN: drawn again too) */
                P->x[s][j] = flat32(rng, d.lo, d.hi);
                moved++;
            }
        free(dist);
    }
    return moved;
}

/* Inputs drawn a margin KINK_MARGIN from the kinks: the direction check's.
 * Constructively where the op has kink_dist (only the elements near a kink
 * are drawn again, round after round, so any size settles: gc_kink.c says
 * why), else by drawing everything again until kink_gap is clear. */
ad_status gcp_draw_off_kinks(probe *P, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng) return no_memory(P);
    gsl_rng_set(rng, seed ^ 0x9e3779b9UL);
    ad_status st = draw(P, rng);
    bool drawn = st == AD_OK && !P->op->kink_gap;
    for (int k = 0; k < MAX_DRAWS && st == AD_OK && !drawn; k++) {
        ad_context *ctx = ad_set_threads(1) == AD_OK ? ad_context_new() : NULL;
        ad_node *leaves[AD_MAX_INPUTS], *y = NULL;
        /* variables: a recorded node keeps its inputs, which kink_gap reads */
        st = ctx ? leaves_of(P, ctx, P->x, AD_FLOAT64, true, leaves) : ad_last_status();
        if (st == AD_OK && !(y = ad_apply(ctx, P->op, leaves, P->c->n_in, &P->c->params))) st = ad_last_status();
        if (st == AD_OK) drawn = P->op->kink_gap(ad_node_of(y)) >= KINK_MARGIN;
        int64_t moved = st == AD_OK && !drawn ? redraw_near_kinks(P, ad_node_of(y), rng) : 0;
        if (moved < 0) st = no_memory(P);
        else if (st == AD_OK && !drawn && moved == 0) st = draw(P, rng);   /* no kink_dist: all of it again */
        ad_context_free(ctx);
    }
    gsl_rng_free(rng);
    if (st == AD_OK && !drawn)
        st = ad_fail(AD_ERR_DOMAIN, "gradcheck %s: path %s: no draw of inputs in %d landed %g away from the kinks",
                     P->op->name, P->path, MAX_DRAWS, KINK_MARGIN);
    return st;
}

void gcp_probe_free(probe *P)
{
    for (int i = 0; i < P->n_buf; i++) free(P->buf[i]);
    P->n_buf = 0;
}
