/* gc_float32.c: the float32 check (options.dtypes & AD_GC_FLOAT32).
 *
 * The inputs, rounded to float32 (xr = (float)x, so both dtypes see the
 * same numbers), go through f twice: in float32 and in float64. The float32
 * forward value, reverse-mode Jacobian (one one-hot cotangent per backward
 * pass, the path float32 training takes) and forward-mode Jacobian (blocks
 * of one-hot tangents) are compared with the float64 ones of the same f at
 * xr, entry by entry, under the rule of ad_gradcheck.h:
 *     |a32 - a64| <= F·ε32·(|a64| + max(S, 1)),   F = 8·(1 + √K),
 * ε32 = FLT_EPSILON, K the elements of the inputs and the output together
 * (a bound on the length of any sum the op can form, whose rounding grows
 * as √K for random signs), S the largest |a64| of the array compared (the
 * output, or input s's float64 Jacobian): an entry near 0 of a row of large
 * ones carries the large ones' rounding. S is taken as 1 at least: a small
 * derivative computed from values of order 1 (sigmoid's y(1 - y) at y near
 * 1) carries their rounding, not its own. A float32 branch that reads the
 * wrong buffer, offset or length is off by about S, F·ε32 times more. Fast
 * mode compares one random cotangent's vjp and one random direction's jvp
 * instead of the Jacobians. */
#include <float.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

/* f built once from float32 leaves holding xr: the forward value and the
 * graph every backward pass of the reverse check runs on. */
typedef struct f32_graph {
    ad_context *ctx;
    ad_node *leaves[AD_MAX_INPUTS];
    ad_node *y;
} f32_graph;

/* F = 8·(1 + √K), K the elements of the inputs and the output. */
static double gc_float32_factor(const gc_run *R)
{
    double k = (double)R->m;
    for (int s = 0; s < R->n_in; s++) k += (double)R->n[s];
    return 8 * (1 + sqrt(k));
}

static ad_node *f32_leaves(gc_run *R, ad_context *ctx, ad_node **leaves, bool variables)
{
    for (int s = 0; s < R->n_in; s++) {
        leaves[s] = (variables && gc_diff(R, s)) ? ad_variable(ctx, AD_FLOAT32, R->ndim[s], R->shape[s], R->x[s])
                                                 : ad_constant(ctx, AD_FLOAT32, R->ndim[s], R->shape[s], R->x[s]);
        if (!leaves[s]) return NULL;
    }
    return leaves[0];
}

static ad_status f32_build(gc_run *R, f32_graph *G)
{
    if (!(G->ctx = gc_context_new())) return ad_last_status();   /* guard zones (gc_guard.c) */
    if (!f32_leaves(R, G->ctx, G->leaves, true)) return ad_last_status();
    gc_set_phase(GC_PHASE_FORWARD, AD_FLOAT32);
    if (!(G->y = R->f(G->ctx, G->leaves, R->n_in, R->user))) return ad_last_status();
    ad_status st = gc_guard_after(R, G->leaves, G->y, GC_PHASE_FORWARD);
    if (st != AD_OK) return st;
    const ad_tensor v = ad_value(G->y);
    if (v.size != R->m)
        return ad_fail(AD_ERR_SHAPE, "gradcheck %s: in float32 the output has %lld elements, in float64 %lld", R->name,
                       (long long)v.size, (long long)R->m);
    if (v.dtype != AD_FLOAT32)
        return ad_fail(AD_ERR_STATE, "gradcheck %s: float32 inputs gave a %s output", R->name,
                       ad_dtype_name((ad_dtype)v.dtype));
    return AD_OK;
}

/* Row o of every differentiable input's float32 Jacobian: one backward pass
 * with the one-hot cotangent e_o (cot: m floats, zero on entry and on
 * return) into grads pre-filled with pre[s], subtracted afterwards, so that
 * a float32 vjp which overwrites instead of accumulating shows. */
static ad_status f32_row(gc_run *R, f32_graph *G, int64_t o, float *cot, double *const *pre, double **row)
{
    ad_status st = AD_OK;
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!gc_diff(R, s)) continue;
        ad_tensor g = ad_grad(G->leaves[s]);
        st = g.data ? ad_tensor_copy_in(&g, pre[s], R->n[s])
                    : ad_fail(AD_ERR_STATE, "gradcheck %s: float32 input %d has no grad", R->name, s);
    }
    ad_tensor ct = ad_value(G->y);
    ct.data = cot;
    cot[o] = 1;
    ad_backward_opts opts = {.cotangent = &ct};
    gc_set_phase(GC_PHASE_VJP, AD_FLOAT32);
    if (st == AD_OK) st = ad_backward_ex(G->ctx, G->y, &opts);
    if (st == AD_OK) st = gc_guard_after(R, G->leaves, G->y, GC_PHASE_VJP);
    cot[o] = 0;
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!gc_diff(R, s)) continue;
        ad_tensor g = ad_grad(G->leaves[s]);
        st = ad_tensor_copy_out(&g, row[s], R->n[s]);
        for (int64_t j = 0; j < R->n[s]; j++) row[s][j] -= pre[s][j];
    }
    return st;
}

/* Columns c0 .. c0+k-1 of input s's float32 forward-mode Jacobian (or, with
 * v, the one direction v): k rows of m into t. A fresh context each call. */
static ad_status f32_cols(gc_run *R, int s, int64_t c0, int k, double *const *v, double *t)
{
    ad_context *ctx = gc_context_new();
    if (!ctx) return ad_last_status();
    ad_set_grad_enabled(ctx, false);
    ad_node *leaves[AD_MAX_INPUTS];
    ad_status st = f32_leaves(R, ctx, leaves, false) ? ad_forward_dirs(ctx, k) : ad_last_status();
    for (int u = 0; u < R->n_in && st == AD_OK; u++) {
        if (v && v[u]) st = ad_set_tangent(leaves[u], 0, v[u], -1);
        else if (!v && u == s)
            for (int d = 0; d < k && st == AD_OK; d++) st = ad_set_tangent(leaves[u], d, NULL, c0 + d);
    }
    gc_set_phase(GC_PHASE_JVP, AD_FLOAT32);
    ad_node *y = st == AD_OK ? R->f(ctx, leaves, R->n_in, R->user) : NULL;
    if (st == AD_OK && !y) st = ad_last_status();
    if (st == AD_OK) st = gc_guard_after(R, leaves, y, GC_PHASE_JVP);
    for (int d = 0; d < k && st == AD_OK; d++)
        for (int64_t o = 0; o < R->m; o++) t[(int64_t)d * R->m + o] = ad_tangent_at(y, d, o);
    ad_context_free(ctx);
    return st;
}

/* The largest |a[j]|, j < n (NaN counts as infinity: the comparison fails anyway). */
static double largest(const double *a, int64_t n)
{
    double m = 0;
    for (int64_t j = 0; j < n; j++)
        if (!(fabs(a[j]) <= m)) m = a[j] != a[j] ? INFINITY : fabs(a[j]);
    return m;
}

/* One float32 record, built aside (the report's array moves as it grows)
 * and appended when done: its worst entry so far (largest
 * error/tolerance), and max(S, 1). */
typedef struct f32_check {
    ad_gc_record rec;
    double worst;
    double scale;   /* max(S, 1) */
} f32_check;

static void f32_start(gc_run *R, f32_check *c, int input, ad_gc_check check, double scale)
{
    gc_record_init(R, &c->rec, input, check);
    c->rec.dtype = AD_FLOAT32;
    c->worst = -1;
    c->scale = scale > 1 ? scale : 1;   /* NaN: the comparisons fail anyway */
    snprintf(c->rec.message, sizeof c->rec.message,
             "float32 against float64 at the inputs rounded to float32, to %.3g·ε32·(|float64| + %.3g)",
             gc_float32_factor(R), c->scale);
}

/* Entry (o, i) (o < 0: a vector indexed by i in input s's or, s < 0, the
 * output's index space): a32 against a64. */
static void f32_compare(gc_run *R, f32_check *c, int s, int64_t o, int64_t i, double a32, double a64)
{
    ad_gc_record *rec = &c->rec;
    double err = ad_gc_abs_err(a32, a64), tol = gc_float32_factor(R) * FLT_EPSILON * (fabs(a64) + c->scale);
    if (err > rec->max_abs_err || err != err) rec->max_abs_err = err;
    if (fabs(a64) > 0 && err / fabs(a64) > rec->max_rel_err) rec->max_rel_err = err / fabs(a64);
    if (ad_gc_agree(a32, a64, tol)) return;
    double ratio = err / tol;
    if (!(ratio < INFINITY)) ratio = INFINITY;   /* NaN, or a zero tolerance */
    if (!(ratio > c->worst)) return;
    c->worst = ratio;
    rec->pass = false;
    char oi[48], ii[48];
    ad_tensor tin = s >= 0 ? gc_input_shape(R, s) : R->out;
    ad_index_str(&tin, i, ii, sizeof ii);
    if (o >= 0) {
        snprintf(rec->worst, sizeof rec->worst, "dy%s/dx%d%s", ad_index_str(&R->out, o, oi, sizeof oi), s, ii);
    } else if (s >= 0) {
        snprintf(rec->worst, sizeof rec->worst, "dx%d%s", s, ii);
    } else {
        snprintf(rec->worst, sizeof rec->worst, "y%s", ii);
    }
    if (s >= 0) rec->x_at_worst = R->x[s][i];
    rec->numerical = a64;   /* the reference: float64's */
    if (rec->check == AD_GC_JACOBIAN_FWD || rec->check == AD_GC_FAST_FWD || rec->check == AD_GC_VALUE)
        rec->forward = a32;   /* the value: the forward pass's */
    else rec->reverse = a32;
    snprintf(rec->message, sizeof rec->message,
             "float32 against float64 at the inputs rounded to float32; the tolerance there %.3g = "
             "%.3g·ε32·(|float64| + %.3g)",
             tol, gc_float32_factor(R), c->scale);
}

static void f32_finish(gc_run *R, f32_check *c, double t0, ad_status st)
{
    if (st != AD_OK) gc_fail_note(&c->rec, st);
    ad_gc_record *rec = gc_new_record(R, c->rec.input, c->rec.check);
    *rec = c->rec;
    gc_finish_record(R, rec, t0);
}

/* The forward value: y32 against y64. */
static void value_check(gc_run *R, f32_graph *G, ad_status st)
{
    double t0 = gc_now();
    scratch sc = {0};
    double *y64 = gc_scratch_alloc(&sc, R->m, false), *y32 = gc_scratch_alloc(&sc, R->m, false);
    if (st == AD_OK && sc.failed) st = gc_scratch_status(R, "float32 check");
    if (st == AD_OK) st = gc_eval(R, y64);
    if (st == AD_OK) {
        ad_tensor v = ad_value(G->y);
        st = ad_tensor_copy_out(&v, y32, R->m);
    }
    f32_check c;
    f32_start(R, &c, -1, AD_GC_VALUE, st == AD_OK ? largest(y64, R->m) : 0);
    for (int64_t o = 0; o < R->m && st == AD_OK; o++) f32_compare(R, &c, -1, -1, o, y32[o], y64[o]);
    gc_scratch_free(&sc);
    f32_finish(R, &c, t0, st);
}

/* The full Jacobians: input s's float64 one (jac64[s], m × n_s by rows,
 * from the float64 reverse sweep, or from forward mode where only forward
 * mode is checked) gives S; then the float32 rows, one backward pass each,
 * and the float32 columns, a block of JB tangents each. */
static void jacobian_checks(gc_run *R, f32_graph *G, ad_status st)
{
    int64_t m = R->m, B = gc_block_rows(R);
    bool rev = R->o->mode & AD_GC_REV, fwd = R->o->mode & AD_GC_FWD;
    scratch sc = {0};
    double *jac64[AD_MAX_INPUTS] = {0}, *row[AD_MAX_INPUTS] = {0}, *pre[AD_MAX_INPUTS] = {0};
    double *tile[AD_MAX_INPUTS] = {0}, *cot = gc_scratch_alloc(&sc, B * m, true);
    double *b32 = gc_scratch_alloc(&sc, JB * m, false), *b64 = gc_scratch_alloc(&sc, JB * m, false);
    float *cot32 = calloc((size_t)(m ? m : 1), sizeof(float));
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
        jac64[s] = gc_scratch_alloc(&sc, m * R->n[s], false);
        row[s] = gc_scratch_alloc(&sc, R->n[s], false);
        pre[s] = gc_scratch_alloc(&sc, R->n[s], false);
        tile[s] = gc_scratch_alloc(&sc, B * R->n[s], false);
        for (int64_t j = 0; pre[s] && j < R->n[s]; j++) pre[s][j] = (float)gsl_ran_flat(R->rng, -1, 1);
    }
    if (st == AD_OK && (sc.failed || !cot32)) st = gc_scratch_status(R, "float32 Jacobians");
    /* input s's float64 Jacobian, by rows */
    R->grad_y = NULL;   /* the graph of the float64 checks was built at x, not xr */
    unsigned long prefill = gsl_rng_get(R->rng);
    for (int64_t o0 = 0; rev && o0 < m && st == AD_OK; o0 += B) {
        int rows = (int)(m - o0 < B ? m - o0 : B);
        st = gc_jacobian_rows(R, o0, rows, cot, tile, prefill, o0 > 0);
        for (int s = 0; s < R->n_in && st == AD_OK; s++)
            if (jac64[s]) memcpy(jac64[s] + o0 * R->n[s], tile[s], (size_t)(rows * R->n[s]) * sizeof(double));
    }
    for (int s = 0; s < R->n_in && !rev && st == AD_OK; s++)
        for (int64_t c0 = 0; jac64[s] && c0 < R->n[s] && st == AD_OK; c0 += JB) {
            int k = (int)(R->n[s] - c0 < JB ? R->n[s] - c0 : JB);
            st = gc_jvp_cols(R, s, c0, k, NULL, b64);
            for (int d = 0; d < k && st == AD_OK; d++)
                for (int64_t o = 0; o < m; o++) jac64[s][o * R->n[s] + c0 + d] = b64[(int64_t)d * m + o];
        }
    f32_check rc[AD_MAX_INPUTS], fc[AD_MAX_INPUTS];
    double t0 = gc_now();
    for (int s = 0; s < R->n_in; s++)   /* a record for every differentiable input, failed ones too */
        if (gc_diff(R, s) && rev)
            f32_start(R, &rc[s], s, AD_GC_JACOBIAN_REV, st == AD_OK ? largest(jac64[s], m * R->n[s]) : 0);
    ad_status st_rev = st;
    for (int64_t o = 0; rev && o < m && st_rev == AD_OK; o++) {
        st_rev = f32_row(R, G, o, cot32, pre, row);
        for (int s = 0; s < R->n_in && st_rev == AD_OK; s++)
            for (int64_t i = 0; jac64[s] && i < R->n[s]; i++)
                f32_compare(R, &rc[s], s, o, i, row[s][i], jac64[s][o * R->n[s] + i]);
    }
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s) && rev) f32_finish(R, &rc[s], t0, st_rev);
    for (int s = 0; s < R->n_in && fwd; s++) {
        if (!gc_diff(R, s)) continue;
        t0 = gc_now();
        f32_start(R, &fc[s], s, AD_GC_JACOBIAN_FWD, st == AD_OK ? largest(jac64[s], m * R->n[s]) : 0);
        ad_status st_fwd = st;
        for (int64_t c0 = 0; c0 < R->n[s] && st_fwd == AD_OK; c0 += JB) {
            int k = (int)(R->n[s] - c0 < JB ? R->n[s] - c0 : JB);
            st_fwd = gc_jvp_cols(R, s, c0, k, NULL, b64);
            if (st_fwd == AD_OK) st_fwd = f32_cols(R, s, c0, k, NULL, b32);
            for (int d = 0; d < k && st_fwd == AD_OK; d++)
                for (int64_t o = 0; o < m; o++)
                    f32_compare(R, &fc[s], s, o, c0 + d, b32[(int64_t)d * m + o], b64[(int64_t)d * m + o]);
        }
        f32_finish(R, &fc[s], t0, st_fwd);
    }
    free(cot32);
    gc_scratch_free(&sc);
}

/* Fast mode: one random cotangent u and one random direction v: the float32
 * vjp J^T u against float64's, element by element, and the jvp J v. */
static void fast_checks(gc_run *R, f32_graph *G, ad_status st)
{
    double t0 = gc_now();
    scratch sc = {0};
    double *u = gc_scratch_alloc(&sc, R->m, false), *t32 = gc_scratch_alloc(&sc, R->m, false);
    double *t64 = gc_scratch_alloc(&sc, R->m, false), *v[AD_MAX_INPUTS], *g64[AD_MAX_INPUTS];
    double *g32[AD_MAX_INPUTS] = {0}, *zero[AD_MAX_INPUTS] = {0};
    for (int64_t o = 0; u && o < R->m; o++) u[o] = (float)gsl_ran_gaussian(R->rng, 1.0);
    gc_random_dirs(R, &sc, v, g64);
    for (int s = 0; s < R->n_in; s++)
        if (gc_diff(R, s)) {
            g32[s] = gc_scratch_alloc(&sc, R->n[s], false);
            zero[s] = gc_scratch_alloc(&sc, R->n[s], true);
            for (int64_t j = 0; v[s] && j < R->n[s]; j++) v[s][j] = (float)v[s][j];
        }
    float *u32 = malloc((size_t)(R->m ? R->m : 1) * sizeof(float));
    if (st == AD_OK && (sc.failed || !u32)) st = gc_scratch_status(R, "float32 fast check");
    R->grad_y = NULL;
    for (int pass = 0; pass < 2; pass++) {
        bool rev = pass == 0;
        if (!(R->o->mode & (rev ? AD_GC_REV : AD_GC_FWD))) continue;
        ad_status st2 = st;
        if (rev && st2 == AD_OK) {
            st2 = gc_vjp_all(R, GC_ONE, u, g64, gsl_rng_get(R->rng), false);
            /* the cotangent u through the float32 graph: f32_row with u in place of e_o */
            for (int s = 0; s < R->n_in && st2 == AD_OK; s++)
                if (gc_diff(R, s)) {
                    ad_tensor g = ad_grad(G->leaves[s]);
                    st2 = ad_tensor_copy_in(&g, zero[s], R->n[s]);
                }
            for (int64_t o = 0; o < R->m; o++) u32[o] = (float)u[o];
            ad_tensor ct = ad_value(G->y);
            ct.data = u32;
            ad_backward_opts opts = {.cotangent = &ct};
            gc_set_phase(GC_PHASE_VJP, AD_FLOAT32);
            if (st2 == AD_OK) st2 = ad_backward_ex(G->ctx, G->y, &opts);
            if (st2 == AD_OK) st2 = gc_guard_after(R, G->leaves, G->y, GC_PHASE_VJP);
            for (int s = 0; s < R->n_in && st2 == AD_OK; s++)
                if (gc_diff(R, s)) {
                    ad_tensor g = ad_grad(G->leaves[s]);
                    st2 = ad_tensor_copy_out(&g, g32[s], R->n[s]);
                }
        } else if (st2 == AD_OK) {
            st2 = gc_jvp_cols(R, -1, 0, 1, v, t64);
            if (st2 == AD_OK) st2 = f32_cols(R, -1, 0, 1, v, t32);
        }
        double scale = 0;
        if (st2 == AD_OK && rev) {
            for (int s = 0; s < R->n_in; s++)
                if (g64[s]) scale = fmax(scale, largest(g64[s], R->n[s]));
        } else if (st2 == AD_OK) {
            scale = largest(t64, R->m);
        }
        f32_check c;
        f32_start(R, &c, -1, rev ? AD_GC_FAST_REV : AD_GC_FAST_FWD, scale);
        for (int s = 0; rev && s < R->n_in && st2 == AD_OK; s++)
            for (int64_t j = 0; g64[s] && j < R->n[s]; j++) f32_compare(R, &c, s, -1, j, g32[s][j], g64[s][j]);
        for (int64_t o = 0; !rev && o < R->m && st2 == AD_OK; o++) f32_compare(R, &c, -1, -1, o, t32[o], t64[o]);
        f32_finish(R, &c, t0, st2);
    }
    free(u32);
    gc_scratch_free(&sc);
}

void gc_check_float32(gc_run *R)
{
    /* xr: the inputs rounded to float32, in R->x for both dtypes' evaluations */
    double *x[AD_MAX_INPUTS] = {0};
    ad_status st = AD_OK;
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!(x[s] = malloc((size_t)(R->n[s] ? R->n[s] : 1) * sizeof(double)))) {
            st = gc_scratch_status(R, "float32 inputs");
            break;
        }
        memcpy(x[s], R->x[s], (size_t)R->n[s] * sizeof(double));
        for (int64_t j = 0; j < R->n[s]; j++) R->x[s][j] = (float)R->x[s][j];
    }
    ad_device device = R->device;
    R->device = AD_CPU;   /* float32 on the CPU, whatever --device */
    f32_graph G = {0};
    if (st == AD_OK) st = f32_build(R, &G);
    value_check(R, &G, st);
    if (R->o->fast) fast_checks(R, &G, st);
    else jacobian_checks(R, &G, st);
    ad_context_free(G.ctx);
    R->device = device;
    R->grad_y = NULL;
    for (int s = 0; s < R->n_in; s++)
        if (x[s]) {
            memcpy(R->x[s], x[s], (size_t)R->n[s] * sizeof(double));
            free(x[s]);
        }
}
