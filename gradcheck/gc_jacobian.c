/* gc_jacobian.c: the full Jacobians, numerical against reverse and forward
 * mode, entry by entry. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

/* The worst entry of a Jacobian check so far: the largest error/tolerance,
 * ties to the smallest (o, i), so that the entry reported does not depend on
 * the order the entries are compared in (rows for reverse mode, columns for
 * numerical and forward mode). */
typedef struct worst_t {
    bool any;
    double ratio;
    int64_t o, i;
    double num, rev, fwd;
} worst_t;

/* At a kink any value between the one-sided derivatives is a valid
 * subgradient: the engine's convention (a tie's gradient to the first
 * input) and PyTorch's (split evenly, which is what the centered difference
 * sees) both pass. err becomes the distance from a to that interval.
 * Compare one entry (o, i) of input s's Jacobian: a (the reverse or forward
 * value) against num; inline, as it runs for each of the m·n_s entries. */
static inline void compare(gc_run *R, ad_gc_record *rec, worst_t *w, int s, int64_t o, int64_t i, double num,
                           double rev, double fwd, double a, kink_info *k)
{
    /* Exact agreement (most entries of a sparse Jacobian: both 0) changes
     * nothing once some entry has a nonzero error: the worst stays. */
    if (a == num && w->ratio > 0) return;
    double err = ad_gc_abs_err(a, num), tol = R->o->atol + R->o->rtol * fabs(num);
    if (!ad_gc_agree(a, num, tol)) {
        bool ok = false;
        if (a == a && gc_at_kink(R, k, s, o, i, tol)) {
            double l = k->col[i]->left[o], r = k->col[i]->right[o];
            double lo = l < r ? l : r, hi = l < r ? r : l;
            double nearest = a < lo ? lo : a > hi ? hi : a;   /* the accepted value nearest a */
            err = ad_gc_abs_err(a, nearest);
            ok = ad_gc_agree(a, nearest, tol);
            if (ok && rec->message[0] == '\0')
                snprintf(rec->message, sizeof rec->message,
                         "at a kink (one-sided derivatives %.6g and %.6g): any value between them is accepted", l, r);
        }
        if (!ok) rec->pass = false;
    }
    if (err > rec->max_abs_err) rec->max_abs_err = err;
    if (fabs(num) > 0 && err / fabs(num) > rec->max_rel_err) rec->max_rel_err = err / fabs(num);
    double ratio = err == 0 ? 0 : err / tol;
    if (ratio != ratio) ratio = INFINITY;   /* a NaN entry outranks every number */
    if (!w->any || ratio > w->ratio || (ratio == w->ratio && (o < w->o || (o == w->o && i < w->i)))) {
        *w = (worst_t){true, ratio, o, i, num, rev, fwd};
    }
}

/* The worst entry into the record. */
static void put_worst(gc_run *R, ad_gc_record *rec, const worst_t *w, int s)
{
    if (!w->any) return;
    char oi[48], ii[48];
    ad_tensor tin = gc_input_shape(R, s);
    snprintf(rec->worst, sizeof rec->worst, "dy%s/dx%d%s", ad_index_str(&R->out, w->o, oi, sizeof oi), s,
             ad_index_str(&tin, w->i, ii, sizeof ii));
    rec->x_at_worst = R->x[s][w->i];
    rec->numerical = w->num;
    rec->reverse = w->rev;
    rec->forward = w->fwd;
}

/* A record built aside (the checks of all inputs run interleaved) and
 * appended in the usual order: input 0 reverse, input 0 forward, input 1 ... */
typedef struct jac_check {
    ad_gc_record rec;
    worst_t w;
    double seconds;
} jac_check;

static void jac_init(gc_run *R, jac_check *j, int s, ad_gc_check c)
{
    memset(j, 0, sizeof *j);
    gc_record_init(R, &j->rec, s, c);
}

/* The check could not run: only the reason, no entries (the worst so far is dropped too). */
static void jac_fail(gc_run *R, jac_check *j, const char *why)
{
    jac_init(R, j, j->rec.input, j->rec.check);
    j->rec.pass = false;
    snprintf(j->rec.message, sizeof j->rec.message, "%s", why);
}

/* Rows per backward sweep: RB, fewer where RB cotangents of the output
 * would take over 32 MB (every node between holds as many rows). */
int gc_block_rows(const gc_run *R)
{
    int64_t fit = ((int64_t)32 << 20) / (8 * (R->m > 0 ? R->m : 1));
    return fit >= RB ? RB : fit < 1 ? 1 : (int)fit;
}

/* Rows o0 .. o0+rows-1 of every input's reverse-mode Jacobian, in one
 * backward sweep: a block of one-hot cotangents (cot: rows × m, all zero on
 * entry and on return), row r of input s's into tile[s] + r·n_s. */
ad_status gc_jacobian_rows(gc_run *R, int64_t o0, int rows, double *cot, double **tile, unsigned long prefill,
                               bool reuse_graph)
{
    for (int r = 0; r < rows; r++) cot[(int64_t)r * R->m + o0 + r] = 1;
    ad_status st = gc_vjp_all(R, rows, cot, tile, prefill, reuse_graph);
    for (int r = 0; r < rows; r++) cot[(int64_t)r * R->m + o0 + r] = 0;
    return st;
}

/* The reverse sweep: gc_block_rows rows of every input's Jacobian per backward
 * sweep, a round of one block per worker at a time; each round's blocks are
 * then compared with the numerical columns, in order. */
typedef struct rows_job {
    int64_t B;
    double *cot[GC_MAX_THREADS];                      /* per worker: B·m, zero between uses */
    double *tile[GC_MAX_THREADS][AD_MAX_INPUTS];      /* per slot of a round: B·n_s each */
    unsigned long prefill;
} rows_job;

static ad_status rows_item(const gc_pool *P, int t, gc_run *W, int64_t item, int64_t slot, void *job)
{
    rows_job *j = job;
    int64_t o0 = item * j->B;
    int rows = (int)(W->m - o0 < j->B ? W->m - o0 : j->B);
    /* each worker builds its graph in the first round, then replays it */
    return gc_jacobian_rows(W, o0, rows, j->cot[t], j->tile[slot], j->prefill, item >= P->n);
}

static ad_status reverse_sweep(gc_run *R, const gc_pool *P, double **numT, bool *num_ok, jac_check *rc,
                               kink_info *kinks)
{
    int64_t m = R->m;
    rows_job J = {.B = gc_block_rows(R), .prefill = gsl_rng_get(R->rng)};
    scratch sc = {0};
    double *cot_all = gc_scratch_alloc(&sc, P->n * J.B * m, true), *tile_all[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) tile_all[s] = gc_scratch_alloc(&sc, P->n * J.B * R->n[s], false);
    ad_status st = sc.failed ? gc_scratch_status(R, "Jacobians") : AD_OK;
    for (int t = 0; t < P->n && st == AD_OK; t++) {
        J.cot[t] = cot_all + t * J.B * m;
        for (int s = 0; s < R->n_in; s++) J.tile[t][s] = tile_all[s] ? tile_all[s] + t * J.B * R->n[s] : NULL;
    }
    int64_t blocks = (m + J.B - 1) / J.B;
    for (int64_t b0 = 0; b0 < blocks && st == AD_OK; b0 += P->n) {
        int64_t round = blocks - b0 < P->n ? blocks - b0 : P->n;
        st = gc_pool_run(P, b0, round, rows_item, &J);   /* one graph per worker, m/B backward sweeps in all */
        for (int64_t k = 0; k < round && st == AD_OK; k++) {
            int64_t o0 = (b0 + k) * J.B;
            int rows = (int)(m - o0 < J.B ? m - o0 : J.B);
            for (int s = 0; s < R->n_in; s++) {
                if (!J.tile[k][s] || !num_ok[s]) continue;
                int64_t n = R->n[s];
                const double *tile = J.tile[k][s];
                for (int64_t i = 0; i < n; i++) {
                    const double *nc = numT[s] + i * m + o0;
                    for (int r = 0; r < rows; r++) {
                        double a = tile[(int64_t)r * n + i];
                        compare(R, &rc[s].rec, &rc[s].w, s, o0 + r, i, nc[r], a, NAN, a, &kinks[s]);
                    }
                }
            }
        }
    }
    gc_scratch_free(&sc);
    return st;
}

/* Row o, element i of input s's reverse-mode Jacobian (for the forward
 * record's worst entry): the sweep's block that holds row o, again. */
static double reverse_entry(gc_run *R, int s, int64_t o, int64_t i)
{
    int64_t B = gc_block_rows(R), o0 = o - o % B;
    int rows = (int)(R->m - o0 < B ? R->m - o0 : B);
    scratch sc = {0};
    double *cot = gc_scratch_alloc(&sc, (int64_t)rows * R->m, true), *tile[AD_MAX_INPUTS] = {0}, v = NAN;
    for (int u = 0; u < R->n_in; u++) tile[u] = gc_diff(R, u) ? gc_scratch_alloc(&sc, (int64_t)rows * R->n[u], false) : NULL;
    if (!sc.failed && gc_jacobian_rows(R, o0, rows, cot, tile, R->pre_seed, true) == AD_OK)
        v = tile[s][(o - o0) * R->n[s] + i];
    gc_scratch_free(&sc);
    return v;
}

/* Column i of input s's numerical Jacobian; with items > 1 (input 0 of an
 * AD_OP_BATCHED op), element i of every item at once: the item's own rows
 * of the result are its column's, its other rows 0 (output item g depends
 * on input 0's item g alone). */
typedef struct numeric_job {
    int s;
    double *numT;
    int64_t items;
} numeric_job;

static ad_status numeric_item(const gc_pool *P, int t, gc_run *W, int64_t i, int64_t slot, void *job)
{
    (void)slot;
    numeric_job *j = job;
    int64_t m = W->m;
    if (j->items <= 1) return gc_numeric_dir(W, j->s, i, 0, NULL, j->numT + i * m, P->tmp[t]);
    int64_t len = W->n[j->s] / j->items, mlen = m / j->items;
    ad_status st = gc_numeric_dir(W, j->s, i, len, NULL, P->col[t], P->tmp[t]);
    for (int64_t g = 0; g < j->items && st == AD_OK; g++) {
        double *dst = j->numT + (g * len + i) * m;
        memset(dst, 0, (size_t)m * sizeof(double));
        memcpy(dst + g * mlen, P->col[t] + g * mlen, (size_t)mlen * sizeof(double));
    }
    return st;
}

/* Before perturbing input 0's items together: is each output item moved by
 * its own input item alone? Two columns made singly (the first element of
 * item 0, the last of the last item) must leave every other item's outputs
 * exactly unchanged. A failed check (an op whose AD_OP_BATCHED is wrong)
 * says so in note: the columns are then made one at a time. */
static bool items_independent(gc_run *R, const gc_pool *P, char *note, size_t len)
{
    int64_t n = R->n[0], per_in = n / R->items, per_out = R->m / R->items;
    const int64_t probe[2] = {0, n - 1};
    for (int k = 0; k < 2; k++) {
        int64_t g = probe[k] / per_in;
        if (gc_numeric_dir(R, 0, probe[k], 0, NULL, P->col[0], P->tmp[0]) != AD_OK) return false;
        for (int64_t o = 0; o < R->m; o++)
            if (o / per_out != g && !(P->col[0][o] == 0)) {
                snprintf(note, len,
                         "input 0's batch items are not independent: output item %lld moved (%.3g) when item %lld "
                         "was perturbed, so the op's AD_OP_BATCHED is wrong; the numerical Jacobian was made one "
                         "column at a time",
                         (long long)(o / per_out), P->col[0][o], (long long)g);
                return false;
            }
    }
    return true;
}

/* Block b of input s's forward-mode Jacobian: columns b·JB .. into the
 * round's slot (JB·m doubles per slot). */
typedef struct fwd_job {
    int s;
    double *blk;
} fwd_job;

static ad_status fwd_item(const gc_pool *P, int t, gc_run *W, int64_t b, int64_t slot, void *job)
{
    (void)P, (void)t;
    fwd_job *j = job;
    int64_t c0 = b * JB, n = W->n[j->s];
    return gc_jvp_cols(W, j->s, c0, (int)(n - c0 < JB ? n - c0 : JB), NULL, j->blk + slot * JB * W->m);
}

void gc_check_jacobians(gc_run *R)
{
    int64_t m = R->m;
    scratch sc = {0};
    double *f0 = gc_scratch_alloc(&sc, m, false), *fp = gc_scratch_alloc(&sc, m, false), *fm = gc_scratch_alloc(&sc, m, false);
    double *numT[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) numT[s] = gc_scratch_alloc(&sc, m * R->n[s], false);
    jac_check rc[AD_MAX_INPUTS], fc[AD_MAX_INPUTS];
    kink_info kinks[AD_MAX_INPUTS];
    bool num_ok[AD_MAX_INPUTS] = {0};
    double t_num[AD_MAX_INPUTS] = {0};
    ad_status st0 = sc.failed ? gc_scratch_status(R, "Jacobians") : gc_eval(R, f0);
    gc_pool P;
    ad_status stp = gc_pool_init(&P, R);   /* at x: the workers copy it */
    if (st0 == AD_OK) st0 = stp;
    fwd_job fj = {.blk = gc_scratch_alloc(&sc, (P.n > 0 ? P.n : 1) * JB * m, false)};
    if (st0 == AD_OK && sc.failed) st0 = gc_scratch_status(R, "Jacobians");
    char why[256];
    if (st0 != AD_OK) snprintf(why, sizeof why, "could not run: %s", ad_last_error());
    /* The numerical Jacobians, by columns. */
    for (int s = 0; s < R->n_in; s++) {
        jac_init(R, &rc[s], s, AD_GC_JACOBIAN_REV);
        jac_init(R, &fc[s], s, AD_GC_JACOBIAN_FWD);
        kinks[s] = (kink_info){f0, NULL, fp, fm};
        if (!gc_diff(R, s)) continue;
        double t0 = gc_now();
        numeric_job job = {s, numT[s], 1};
        char note[sizeof rc[s].rec.message] = "";
        if (s == 0 && R->items > 1 && st0 == AD_OK && items_independent(R, &P, note, sizeof note)) job.items = R->items;
        ad_status st = st0 == AD_OK ? gc_pool_run(&P, 0, R->n[s] / job.items, numeric_item, &job) : st0;
        t_num[s] = gc_now() - t0;
        snprintf(rc[s].rec.message, sizeof rc[s].rec.message, "%s", note);
        snprintf(fc[s].rec.message, sizeof fc[s].rec.message, "%s", note);
        num_ok[s] = st == AD_OK;
        if (st0 != AD_OK) {
            jac_fail(R, &rc[s], why);
            jac_fail(R, &fc[s], why);
        } else if (st != AD_OK) {
            char w2[256];
            snprintf(w2, sizeof w2, "could not run: %s", ad_last_error());
            jac_fail(R, &rc[s], w2);
            jac_fail(R, &fc[s], w2);
        }
    }
    bool rev_ok = false;
    if (R->o->mode & AD_GC_REV) {
        double t0 = gc_now();
        ad_status st = st0 == AD_OK ? reverse_sweep(R, &P, numT, num_ok, rc, kinks) : st0;
        rev_ok = st == AD_OK;
        if (st != AD_OK && st0 == AD_OK) {
            snprintf(why, sizeof why, "could not run: %s", ad_last_error());
            for (int s = 0; s < R->n_in; s++)
                if (num_ok[s]) jac_fail(R, &rc[s], why);
        }
        double t_rev = gc_now() - t0;
        int64_t n_all = 0;
        for (int s = 0; s < R->n_in; s++) n_all += gc_diff(R, s) ? R->n[s] : 0;
        for (int s = 0; s < R->n_in; s++)
            if (gc_diff(R, s)) {
                rc[s].seconds = t_num[s] + t_rev * (double)R->n[s] / (double)(n_all ? n_all : 1);
                put_worst(R, &rc[s].rec, &rc[s].w, s);   /* none after a failure: jac_fail clears it */
            }
    }
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
        if (R->o->mode & AD_GC_FWD) {
            double t0 = gc_now();
            jac_check *j = &fc[s];
            int64_t n = R->n[s];
            int64_t blocks = (n + JB - 1) / JB;
            fj.s = s;
            for (int64_t b0 = 0; num_ok[s] && b0 < blocks; b0 += P.n) {   /* a round: a block per worker */
                int64_t round = blocks - b0 < P.n ? blocks - b0 : P.n;
                ad_status st = gc_pool_run(&P, b0, round, fwd_item, &fj);
                if (st != AD_OK) {
                    snprintf(why, sizeof why, "could not run: %s", ad_last_error());
                    jac_fail(R, j, why);
                    break;
                }
                for (int64_t c0 = b0 * JB; c0 < (b0 + round) * JB && c0 < n; c0++) {
                    const double *nc = numT[s] + c0 * m, *t = fj.blk + (c0 - b0 * JB) * m;
                    for (int64_t o = 0; o < m; o++) compare(R, &j->rec, &j->w, s, o, c0, nc[o], NAN, t[o], t[o], &kinks[s]);
                }
            }
            if (j->w.any) {
                if (rev_ok) j->w.rev = reverse_entry(R, s, j->w.o, j->w.i);
                put_worst(R, &j->rec, &j->w, s);
            }
            j->seconds = t_num[s] + gc_now() - t0;
        }
        if (R->o->jacobian_out && num_ok[s]) gc_print_jacobian(R, s, numT[s]);
        gc_kink_free(&kinks[s], R->n[s]);
    }
    gc_pool_free(&P);
    /* The records, in input order. */
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
        for (int c = 0; c < 2; c++) {
            jac_check *j = c == 0 ? &rc[s] : &fc[s];
            if (!(R->o->mode & (c == 0 ? AD_GC_REV : AD_GC_FWD))) continue;
            ad_gc_record *rec = gc_new_record(R, s, j->rec.check);
            *rec = j->rec;
            rec->seconds = j->seconds;
            if (!rec->pass) R->r->n_fail++;
        }
    }
    gc_scratch_free(&sc);
}
