/* gc_eval.c: one run's evaluations: f, its reverse-mode sweeps, its
 * forward-mode tangents and its numerical derivatives, and the records and
 * scratch buffers every check shares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

/* A passing record of (input, check) with nothing measured yet. */
void gc_record_init(const gc_run *R, ad_gc_record *rec, int input, ad_gc_check check)
{
    memset(rec, 0, sizeof *rec);
    rec->dtype = AD_FLOAT64;
    snprintf(rec->op, sizeof rec->op, "%s", R->name);
    snprintf(rec->case_label, sizeof rec->case_label, "%s", R->label ? R->label : "");
    rec->input = input;
    rec->check = check;
    rec->pass = true;
    rec->numerical = rec->reverse = rec->forward = rec->x_at_worst = NAN;
}

ad_gc_record *gc_new_record(gc_run *R, int input, ad_gc_check check)
{
    if (R->r->n == R->r->cap) {
        int cap = R->r->cap ? 2 * R->r->cap : 64;
        ad_gc_record *p = realloc(R->r->rec, (size_t)cap * sizeof *p);
        if (!p) {
            /* No room to record the result: count it as a failure, and let
             * the check write into a spare record that is not kept. */
            static _Thread_local ad_gc_record spare;
            R->r->n_fail++;
            ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the report", R->name);
            memset(&spare, 0, sizeof spare);
            return &spare;
        }
        R->r->rec = p;
        R->r->cap = cap;
    }
    ad_gc_record *rec = &R->r->rec[R->r->n++];
    gc_record_init(R, rec, input, check);
    return rec;
}

void gc_finish_record(gc_run *R, ad_gc_record *rec, double t0)
{
    rec->seconds = gc_now() - t0;
    if (!rec->pass) R->r->n_fail++;
}

/* Input s's shape as a tensor header (no data), for its index strings ("[1,0,2]"). */
ad_tensor gc_input_shape(const gc_run *R, int s)
{
    ad_tensor t = {.ndim = (uint8_t)R->ndim[s]};
    memcpy(t.shape, R->shape[s], sizeof t.shape);
    return t;
}

double *gc_scratch_alloc(scratch *sc, int64_t count, bool zero)
{
    if (sc->failed || sc->n == 16) {
        sc->failed = true;
        return NULL;
    }
    size_t bytes = (size_t)(count > 0 ? count : 1) * sizeof(double);
    double *p = zero ? calloc(1, bytes) : malloc(bytes);
    if (!p) sc->failed = true;
    return sc->p[sc->n++] = p;
}

void gc_scratch_free(scratch *sc)
{
    for (int i = 0; i < sc->n; i++) free(sc->p[i]);
    sc->n = 0;
}

/* The status for a failed scratch allocation. */
ad_status gc_scratch_status(const gc_run *R, const char *what)
{
    return ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the %s", R->name, what);
}

/* f of the leaves (host nodes), on R->device: on the GPU the leaves are sent
 * (ad_to_device) and the output received (ad_to_host), so every check below
 * reads host values and grads, and gradients and tangents cross the copies
 * like any op's. */
ad_node *gc_call_f(gc_run *R, ad_context *ctx, ad_node **leaves)
{
    if (R->device == AD_CPU) return R->f(ctx, leaves, R->n_in, R->user);
    ad_node *in[AD_MAX_INPUTS];
    for (int s = 0; s < R->n_in; s++)
        if (!(in[s] = ad_to_device(ctx, leaves[s]))) return NULL;
    return ad_to_host(ctx, R->f(ctx, in, R->n_in, R->user));
}

/* Build f from leaves holding R->x. kind: 0 constants, 1 variables (for
 * backward), 2 constants with tangents (forward mode, dirs set by caller). */
ad_node *gc_build(gc_run *R, ad_context *ctx, ad_node **leaves, bool variables)
{
    for (int s = 0; s < R->n_in; s++) {
        leaves[s] = (variables && gc_diff(R, s)) ? ad_variable(ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s])
                                              : ad_constant(ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s]);
        if (!leaves[s]) return NULL;
    }
    gc_set_phase(GC_PHASE_FORWARD, AD_FLOAT64);
    return gc_call_f(R, ctx, leaves);
}

/* Leaves holding R->x in a fresh ctx, for second order: the differentiable
 * inputs variables with tangent v[s] in direction 0 (forward mode on, one
 * direction), the others constants. f is then built by the caller. */
ad_status gc_build_along(gc_run *R, ad_context *ctx, ad_node **leaves, double *const *v)
{
    ad_status st = ad_forward_dirs(ctx, 1);
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        leaves[s] = gc_diff(R, s) ? ad_variable(ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s])
                                  : ad_constant(ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s]);
        if (!leaves[s]) st = ad_last_status();
        else if (gc_diff(R, s) && v[s]) st = ad_set_tangent(leaves[s], 0, v[s], -1);
    }
    gc_set_phase(GC_PHASE_FORWARD, AD_FLOAT64);
    return st;
}

/* Make the leaves of a reused context (once), or refresh their values
 * from R->x and rewind to just after them. */
static ad_status leaves_ready(gc_run *R, ad_context **ctx, ad_node **leaves, ad_mark *mark, bool variables)
{
    if (!*ctx) {
        *ctx = gc_context_new();   /* guard zones around every buffer (gc_guard.c) */
        if (!*ctx) return ad_last_status();
        if (!variables) ad_set_grad_enabled(*ctx, false);
        for (int s = 0; s < R->n_in; s++) {
            leaves[s] = (variables && gc_diff(R, s)) ? ad_variable(*ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s])
                                                  : ad_constant(*ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s]);
            if (!leaves[s]) return ad_last_status();
        }
        *mark = ad_context_mark(*ctx);
        return AD_OK;
    }
    ad_status st = ad_context_rewind(*ctx, *mark);
    for (int s = 0; s < R->n_in && st == AD_OK; s++)
        memcpy(ad_node_of(leaves[s])->value.data, R->x[s], (size_t)R->n[s] * sizeof(double));
    return st;
}

/* y = f(x): a pointer to its m values, y's own (float64 on the host: valid
 * until the next evaluation) or else copied into out. */
static ad_status eval_ref(gc_run *R, double *out, const double **y_out)
{
    ad_status st = leaves_ready(R, &R->eval_ctx, R->eval_leaves, &R->eval_mark, false);
    if (st != AD_OK) return st;
    gc_set_phase(GC_PHASE_FORWARD, AD_FLOAT64);
    ad_node *y = gc_call_f(R, R->eval_ctx, R->eval_leaves);
    if (!y) return ad_last_status();
    if ((st = gc_guard_after(R, R->eval_leaves, y, GC_PHASE_FORWARD)) != AD_OK) return st;
    const ad_tensor *v = &ad_node_of(y)->value;
    if (v->dtype == AD_FLOAT64 && v->device == AD_CPU && v->data) {
        *y_out = v->data;
        return AD_OK;
    }
    *y_out = out;
    return ad_tensor_copy_out(v, out, R->m);
}

/* y = f(x) into out (m doubles). */
ad_status gc_eval(gc_run *R, double *out)
{
    const double *y = out;
    ad_status st = eval_ref(R, out, &y);
    if (st == AD_OK && y != out) memcpy(out, y, (size_t)R->m * sizeof(double));
    return st;
}

/* Numerical directional derivative of y along the input perturbation
 * x_s[i] (i >= 0; with every > 0, x_s[i], x_s[i + every], ... at once) or
 * along all inputs by v (i < 0), with the options' stencil: into col (m).
 * tmp: m doubles of scratch. */
ad_status gc_numeric_dir(gc_run *R, int s, int64_t i, int64_t every, double *const *v, double *col, double *tmp)
{
    const double h = R->o->eps;
    const ad_gc_stencil *sten = ad_gc_stencil_for(R->o);
    /* the elements perturbed: i, i + stride, ... (one: i alone), their values held to put back
     * (i < 0, a direction v: s is not an input, and no stride) */
    int64_t stride = i < 0 ? 0 : every > 0 ? every : R->n[s];
    double *keep[AD_MAX_INPUTS] = {0}, one, *held = &one;
    ad_status st = AD_OK;
    if (i >= 0 && every > 0 && !(held = malloc((size_t)(R->n[s] / every + 1) * sizeof(double))))
        st = ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the perturbed elements of input %d", R->name, s);
    if (i < 0)
        for (int t = 0; t < R->n_in && st == AD_OK; t++)
            if (v[t]) {
                if (!(keep[t] = malloc((size_t)R->n[t] * sizeof(double))))
                    st = ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for a copy of input %d", R->name, t);
                else memcpy(keep[t], R->x[t], (size_t)R->n[t] * sizeof(double));
            }
    for (int k = 0; k < sten->n && st == AD_OK; k++) {
        double step = sten->offset[k] * h;
        const double *y = NULL;
        if (i >= 0) {   /* x0 + step and back to x0 exactly: (x0 + step) - step need not be x0 */
            for (int64_t j = i, g = 0; j < R->n[s]; j += stride, g++) {
                held[g] = R->x[s][j];
                R->x[s][j] = held[g] + step;
            }
            st = eval_ref(R, tmp, &y);
            for (int64_t j = i, g = 0; j < R->n[s]; j += stride, g++) R->x[s][j] = held[g];
        } else {
            for (int t = 0; t < R->n_in; t++)
                if (v[t])
                    for (int64_t j = 0; j < R->n[t]; j++) R->x[t][j] = keep[t][j] + step * v[t][j];
            st = eval_ref(R, tmp, &y);
        }
        if (st != AD_OK) break;
        double wk = sten->weight[k];
        if (k == 0)
            for (int64_t o = 0; o < R->m; o++) col[o] = wk * y[o] / h;
        else
            for (int64_t o = 0; o < R->m; o++) col[o] += wk * y[o] / h;
    }
    for (int t = 0; t < R->n_in; t++)
        if (keep[t]) {
            memcpy(R->x[t], keep[t], (size_t)R->n[t] * sizeof(double));
            free(keep[t]);
        }
    if (held != &one) free(held);
    return st;
}

/* The pre-fill of the input grads for a seed: splitmix64 (cheap: the
 * Jacobian's m backward passes each pre-fill Σ n_s grads), values in
 * [-1, 1), never 0. Made once per seed, kept in R->pre. */
static ad_status prefill_for(gc_run *R, unsigned long seed)
{
    if (R->pre_made && R->pre_seed == seed) return AD_OK;
    uint64_t x = seed;
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
        if (!R->pre[s] && !(R->pre[s] = malloc((size_t)(R->n[s] ? R->n[s] : 1) * sizeof(double))))
            return gc_scratch_status(R, "pre-filled grads");
        for (int64_t j = 0; j < R->n[s]; j++) {
            uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            z ^= z >> 31;
            double u = 2.0 * ((double)(z >> 11) * 0x1p-53) - 1.0;   /* any nonzero values will do */
            R->pre[s][j] = u != 0 ? u : 0.5;
        }
    }
    R->pre_seed = seed;
    R->pre_made = true;
    return AD_OK;
}

/* Reverse mode. rows = GC_ONE: one cotangent (cot: m), the path training
 * takes (ad_backward_ex into the leaves' grads). rows >= 1: a block of rows
 * cotangents (cot: rows × m) through ad_backward_block, every vjp called
 * once with all of them. Row r of the grads of the differentiable inputs
 * goes into g[s] + r·n_s. The grads start filled with nonzero values
 * (prefill_for), subtracted afterwards: a vjp that overwrites instead of
 * accumulating shows. */
ad_status gc_vjp_all(gc_run *R, int rows, const double *cot, double **g, unsigned long prefill_seed,
                         bool reuse_graph)
{
    ad_status st = prefill_for(R, prefill_seed);
    if (st == AD_OK && (!reuse_graph || !R->grad_y)) {
        /* A fresh graph: each backward pass of the determinism test runs on its own build. */
        st = leaves_ready(R, &R->grad_ctx, R->grad_leaves, &R->grad_mark, true);
        gc_set_phase(GC_PHASE_FORWARD, AD_FLOAT64);
        R->grad_y = st == AD_OK ? gc_call_f(R, R->grad_ctx, R->grad_leaves) : NULL;
        if (st == AD_OK && !R->grad_y) st = ad_last_status();
        if (st == AD_OK) st = gc_guard_after(R, R->grad_leaves, R->grad_y, GC_PHASE_FORWARD);
    }
    ad_context *ctx = R->grad_ctx;
    ad_node **leaves = R->grad_leaves, *y = R->grad_y;
    if (st == AD_OK && !ad_requires_grad(y))
        st = ad_fail(AD_ERR_STATE, "%s: the output does not depend on any differentiable input", R->name);
    ad_node *wrt[AD_MAX_INPUTS];
    void *dst[AD_MAX_INPUTS];
    /* A block's grads go to guarded buffers of their own (g[s] may be a slice
     * of a larger one, where a write past the last row would land unseen),
     * copied into g[s] after the zones are looked at. */
    double *stage[AD_MAX_INPUTS] = {0};
    int n_wrt = 0;
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!gc_diff(R, s)) continue;
        size_t bytes = (size_t)R->n[s] * sizeof(double);
        if (rows == GC_ONE) {
            memcpy(ad_node_of(leaves[s])->grad, R->pre[s], bytes);
        } else if (!(stage[s] = ad_guarded_alloc((size_t)rows * bytes))) {
            st = ad_last_status();
        } else {
            for (int r = 0; r < rows; r++) memcpy(stage[s] + (int64_t)r * R->n[s], R->pre[s], bytes);
            wrt[n_wrt] = leaves[s];
            dst[n_wrt++] = stage[s];
        }
    }
    gc_set_phase(GC_PHASE_VJP, AD_FLOAT64);
    if (st == AD_OK && rows == GC_ONE) {
        ad_tensor ct = ad_value(y);
        ct.data = (void *)cot;
        ad_backward_opts opts = {.cotangent = &ct};
        st = ad_backward_ex(ctx, y, &opts);
    } else if (st == AD_OK) {
        st = ad_backward_block(ctx, y, rows, cot, n_wrt, wrt, dst);
    }
    if (st == AD_OK && rows == GC_ONE) st = gc_guard_after(R, leaves, y, GC_PHASE_VJP);
    for (int s = 0; s < R->n_in && st == AD_OK && rows != GC_ONE; s++) {
        if (!stage[s]) continue;
        char buf[48];
        snprintf(buf, sizeof buf, "input %d's gradient", s);
        st = gc_guard_buffer(R, stage[s], AD_FLOAT64, (int64_t)rows * R->n[s], rows, "vjp", buf);
        if (st == AD_OK) memcpy(g[s], stage[s], (size_t)rows * (size_t)R->n[s] * sizeof(double));
    }
    for (int s = 0; s < R->n_in; s++) ad_guarded_free(stage[s], (size_t)(rows > 0 ? rows : 1) * (size_t)R->n[s] * sizeof(double));
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!gc_diff(R, s)) continue;
        const double *pre = R->pre[s];
        if (rows == GC_ONE) {
            const double *gr = ad_node_of(leaves[s])->grad;
            for (int64_t j = 0; j < R->n[s]; j++) g[s][j] = gr[j] - pre[j];
        } else {
            for (int r = 0; r < rows; r++) {
                double *gs = g[s] + (int64_t)r * R->n[s];
                for (int64_t j = 0; j < R->n[s]; j++) gs[j] -= pre[j];
            }
        }
    }
    return st;
}

/* Forward mode: k tangent columns at once. dir d of input s is column
 * col0 + d of input s (one input at a time) or, with v != NULL, the single
 * direction v. Output tangents into t (k rows of m). */
ad_status gc_jvp_cols(gc_run *R, int s, int64_t col0, int k, double *const *v, double *t)
{
    /* One context for every call: rewinding to just after the leaves drops
     * the last call's tangents and nodes. */
    ad_status st = leaves_ready(R, &R->fwd_ctx, R->fwd_leaves, &R->fwd_mark, false);
    ad_context *ctx = R->fwd_ctx;
    ad_node **leaves = R->fwd_leaves;
    if (st == AD_OK) st = ad_forward_dirs(ctx, k);
    for (int u = 0; u < R->n_in && st == AD_OK; u++) {
        if (v && v[u]) st = ad_set_tangent(leaves[u], 0, v[u], -1);
        else if (!v && u == s)
            for (int d = 0; d < k && st == AD_OK; d++) st = ad_set_tangent(leaves[u], d, NULL, col0 + d);
    }
    gc_set_phase(GC_PHASE_JVP, AD_FLOAT64);
    ad_node *y = st == AD_OK ? gc_call_f(R, ctx, leaves) : NULL;
    if (st == AD_OK && !y) st = ad_last_status();
    if (st == AD_OK) st = gc_guard_after(R, leaves, y, GC_PHASE_JVP);
    const ad_node *yn = ad_node_of(y);
    if (st == AD_OK && yn->tangent && yn->value.dtype == AD_FLOAT64 && yn->value.device == AD_CPU)
        memcpy(t, yn->tangent, (size_t)k * (size_t)R->m * sizeof(double));   /* row d: direction d */
    else
        for (int d = 0; d < k && st == AD_OK; d++)
            for (int64_t o = 0; o < R->m; o++) t[(int64_t)d * R->m + o] = ad_tangent_at(y, d, o);
    return st;
}

void gc_fail_note(ad_gc_record *rec, ad_status st)
{
    rec->pass = false;
    snprintf(rec->message, sizeof rec->message, "could not run: %s", ad_last_error());
    (void)st;
}
