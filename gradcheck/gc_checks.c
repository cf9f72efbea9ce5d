/* gc_checks.c: the checks that need no full Jacobian: the dot product,
 * determinism, a block of cotangents against one at a time, and fast mode's
 * random projections. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

/* Random directions v[s] (NULL for held inputs) and room for the grads g[s]. */
void gc_random_dirs(gc_run *R, scratch *sc, double **v, double **g)
{
    for (int s = 0; s < R->n_in; s++) {
        v[s] = NULL;
        if (g) g[s] = NULL;
        if (!gc_diff(R, s)) continue;
        v[s] = gc_scratch_alloc(sc, R->n[s], false);
        if (g) g[s] = gc_scratch_alloc(sc, R->n[s], false);
        for (int64_t j = 0; v[s] && j < R->n[s]; j++) v[s][j] = gsl_ran_gaussian(R->rng, 1.0);
    }
}

/* Two sides of an identity that holds exactly up to rounding (a dot product
 * computed two ways): they must agree to rel·scale (at least 1e-14), scale
 * the sum of the magnitudes of the terms summed. */
void gc_judge_identity(ad_gc_record *rec, double a, double b, double scale, double rel)
{
    double err = ad_gc_abs_err(a, b), tol = rel * scale;
    rec->max_abs_err = err;
    rec->max_rel_err = scale > 0 ? err / scale : err;
    rec->pass = ad_gc_agree(a, b, tol > 1e-14 ? tol : 1e-14);
}

/* <r, J v> (forward) against <J^T r, v> (reverse): exact up to rounding. */
void gc_check_dot_product(gc_run *R)
{
    double t0 = gc_now();
    ad_gc_record *rec = gc_new_record(R, -1, AD_GC_DOT_PRODUCT);
    scratch sc = {0};
    double *r = gc_scratch_alloc(&sc, R->m, false), *jv = gc_scratch_alloc(&sc, R->m, false);
    double *v[AD_MAX_INPUTS], *g[AD_MAX_INPUTS];
    for (int64_t o = 0; r && o < R->m; o++) r[o] = gsl_ran_gaussian(R->rng, 1.0);
    gc_random_dirs(R, &sc, v, g);
    ad_status st = sc.failed ? gc_scratch_status(R, "dot-product check") : gc_jvp_cols(R, -1, 0, 1, v, jv);
    if (st == AD_OK) st = gc_vjp_all(R, GC_ONE, r, g, gsl_rng_get(R->rng), false);
    if (st != AD_OK) {
        gc_fail_note(rec, st);
    } else {
        double lhs = 0, rhs = 0, scale = 0;
        for (int64_t o = 0; o < R->m; o++) {
            lhs += r[o] * jv[o];
            scale += fabs(r[o] * jv[o]);
        }
        for (int s = 0; s < R->n_in; s++)
            for (int64_t j = 0; v[s] && j < R->n[s]; j++) {
                rhs += g[s][j] * v[s][j];
                scale += fabs(g[s][j] * v[s][j]);
            }
        gc_judge_identity(rec, lhs, rhs, scale, 1e-10);
        rec->forward = lhs;
        rec->reverse = rhs;
        snprintf(rec->message, sizeof rec->message, "<r, Jv> = %.17g (forward), <J^T r, v> = %.17g (reverse)", lhs,
                 rhs);
    }
    gc_scratch_free(&sc);
    gc_finish_record(R, rec, t0);
}

/* The same backward twice must give the same bits. */
void gc_check_determinism(gc_run *R)
{
    double t0 = gc_now();
    ad_gc_record *rec = gc_new_record(R, -1, AD_GC_DETERMINISM);
    scratch sc = {0};
    double *r = gc_scratch_alloc(&sc, R->m, false), *g1[AD_MAX_INPUTS] = {0}, *g2[AD_MAX_INPUTS] = {0};
    for (int64_t o = 0; r && o < R->m; o++) r[o] = gsl_ran_gaussian(R->rng, 1.0);
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) {
            g1[s] = gc_scratch_alloc(&sc, R->n[s], false);
            g2[s] = gc_scratch_alloc(&sc, R->n[s], false);
        }
    /* The same pre-filled grads both times, so equal passes give equal bits. */
    unsigned long prefill = gsl_rng_get(R->rng);
    ad_status st = sc.failed ? gc_scratch_status(R, "determinism check") : gc_vjp_all(R, GC_ONE, r, g1, prefill, false);
    if (st == AD_OK) st = gc_vjp_all(R, GC_ONE, r, g2, prefill, false);
    if (st != AD_OK) gc_fail_note(rec, st);
    for (int s = 0; s < R->n_in && st == AD_OK; s++)
        for (int64_t j = 0; g1[s] && j < R->n[s]; j++)
            if (memcmp(&g1[s][j], &g2[s][j], sizeof(double)) != 0 && rec->pass) {
                rec->pass = false;
                rec->reverse = g1[s][j];
                rec->numerical = g2[s][j];
                rec->max_abs_err = fabs(g1[s][j] - g2[s][j]);
                snprintf(rec->message, sizeof rec->message,
                         "two backward passes with the same cotangent differ at input %d element %lld: %.17g vs %.17g",
                         s, (long long)j, g1[s][j], g2[s][j]);
            }
    gc_scratch_free(&sc);
    gc_finish_record(R, rec, t0);
}

/* A block of BLOCK_ROWS random cotangents through one backward sweep
 * against one pass per cotangent (the path training takes): the same
 * numbers up to rounding, to 1e-10 of the largest of the row. */
enum { BLOCK_ROWS = 3 };
void gc_check_block(gc_run *R)
{
    double t0 = gc_now();
    ad_gc_record *rec = gc_new_record(R, -1, AD_GC_BLOCK);
    scratch sc = {0};
    double *cot = gc_scratch_alloc(&sc, BLOCK_ROWS * R->m, false), *blk[AD_MAX_INPUTS] = {0}, *one[AD_MAX_INPUTS] = {0};
    for (int64_t o = 0; cot && o < BLOCK_ROWS * R->m; o++) cot[o] = gsl_ran_gaussian(R->rng, 1.0);
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) {
            blk[s] = gc_scratch_alloc(&sc, BLOCK_ROWS * R->n[s], false);
            one[s] = gc_scratch_alloc(&sc, R->n[s], false);
        }
    unsigned long prefill = gsl_rng_get(R->rng);
    ad_status st = sc.failed ? gc_scratch_status(R, "block check") : gc_vjp_all(R, BLOCK_ROWS, cot, blk, prefill, false);
    double worst = 0;
    for (int r = 0; r < BLOCK_ROWS && st == AD_OK; r++) {
        st = gc_vjp_all(R, GC_ONE, cot + r * R->m, one, prefill, true);
        for (int s = 0; s < R->n_in && st == AD_OK; s++) {
            if (!one[s]) continue;
            const double *b = blk[s] + r * R->n[s], *a = one[s];
            double scale = 0;
            for (int64_t j = 0; j < R->n[s]; j++) {
                if (fabs(a[j]) > scale) scale = fabs(a[j]);
                if (fabs(b[j]) > scale) scale = fabs(b[j]);
            }
            for (int64_t j = 0; j < R->n[s]; j++) {
                double err = ad_gc_abs_err(b[j], a[j]), tol = 1e-10 * scale;
                if (err > rec->max_abs_err || err != err) rec->max_abs_err = err;
                if (fabs(a[j]) > 0 && err / fabs(a[j]) > rec->max_rel_err) rec->max_rel_err = err / fabs(a[j]);
                if (ad_gc_agree(b[j], a[j], tol)) continue;
                double ratio = err / tol;
                if (!(ratio < INFINITY)) ratio = INFINITY;   /* NaN, or an infinity against a tol of 0 or inf */
                if (!rec->pass && !(ratio > worst)) continue;
                worst = ratio;
                rec->pass = false;
                char ix[48];
                ad_tensor t = gc_input_shape(R, s);
                ad_index_str(&t, j, ix, sizeof ix);
                snprintf(rec->worst, sizeof rec->worst, "dx%d%s", s, ix);
                rec->x_at_worst = R->x[s][j];
                rec->numerical = a[j];   /* the reference: one cotangent alone */
                rec->reverse = b[j];
                snprintf(rec->message, sizeof rec->message,
                         "row %d of a block of %d cotangents in one backward sweep gives %.17g at %s; the same "
                         "cotangent alone gives %.17g",
                         r, BLOCK_ROWS, b[j], rec->worst, a[j]);
            }
        }
    }
    if (st != AD_OK) gc_fail_note(rec, st);
    gc_scratch_free(&sc);
    gc_finish_record(R, rec, t0);
}

/* Fast mode: u^T J_num v against (J^T u)^T v and u^T (J v). */
void gc_check_fast(gc_run *R)
{
    double t0 = gc_now();
    scratch sc = {0};
    double *u = gc_scratch_alloc(&sc, R->m, false), *jv_num = gc_scratch_alloc(&sc, R->m, false);
    double *tmp = gc_scratch_alloc(&sc, R->m, false), *jv = gc_scratch_alloc(&sc, R->m, false);
    double *v[AD_MAX_INPUTS], *g[AD_MAX_INPUTS];
    for (int64_t o = 0; u && o < R->m; o++) u[o] = gsl_ran_gaussian(R->rng, 1.0);
    gc_random_dirs(R, &sc, v, g);
    ad_status st = sc.failed ? gc_scratch_status(R, "fast check") : gc_numeric_dir(R, -1, -1, 0, v, jv_num, tmp);
    double num = 0;
    for (int64_t o = 0; st == AD_OK && o < R->m; o++) num += u[o] * jv_num[o];
    for (int pass = 0; pass < 2; pass++) {
        ad_gc_check kind = pass == 0 ? AD_GC_FAST_REV : AD_GC_FAST_FWD;
        if (!(R->o->mode & (pass == 0 ? AD_GC_REV : AD_GC_FWD))) continue;
        ad_gc_record *rec = gc_new_record(R, -1, kind);
        double a = 0;
        ad_status st2 = st;
        if (st2 == AD_OK && pass == 0) {
            st2 = gc_vjp_all(R, GC_ONE, u, g, gsl_rng_get(R->rng), false);
            for (int s = 0; s < R->n_in && st2 == AD_OK; s++)
                for (int64_t j = 0; v[s] && j < R->n[s]; j++) a += g[s][j] * v[s][j];
        } else if (st2 == AD_OK) {
            st2 = gc_jvp_cols(R, -1, 0, 1, v, jv);
            for (int64_t o = 0; o < R->m && st2 == AD_OK; o++) a += u[o] * jv[o];
        }
        if (st2 != AD_OK) {
            gc_fail_note(rec, st2);
        } else {
            double err = ad_gc_abs_err(a, num), tol = R->o->atol + R->o->rtol * fabs(num);
            rec->pass = ad_gc_agree(a, num, tol);
            rec->max_abs_err = err;
            rec->max_rel_err = fabs(num) > 0 ? err / fabs(num) : err;
            rec->numerical = num;
            if (pass == 0) rec->reverse = a;
            else rec->forward = a;
            snprintf(rec->message, sizeof rec->message, "u^T J v: numerical %.12g, %s %.12g", num,
                     pass == 0 ? "reverse" : "forward", a);
        }
        gc_finish_record(R, rec, t0);
    }
    gc_scratch_free(&sc);
}
