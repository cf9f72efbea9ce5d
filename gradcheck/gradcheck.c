/* gradcheck.c: the checks of ad_gradcheck.h. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ad_gradcheck.h"
#include "ad_kernel.h"   /* the run reads its own nodes' buffers in place (ad_node_of) */

void ad_gc_default_options(ad_gc_options *o)
{
    memset(o, 0, sizeof *o);
    o->eps = 1e-6;
    o->atol = 1e-5;
    o->rtol = 1e-3;
    o->seed = 1;
    o->mode = AD_GC_BOTH;
    o->kink_margin = 1e-3;
    o->threads = 1;
}

/* Central: (f(x+h) - f(x-h)) / 2h. Richardson: the central difference at h
 * and 2h combined as (4·D(h) - D(2h)) / 3 to cancel the h² term:
 * (8[f(x+h) - f(x-h)] - [f(x+2h) - f(x-2h)]) / 12h. */
static const ad_gc_stencil stencils[AD_GC_N_STENCILS] = {
    {"central", 2, {1, -1}, {1.0 / 2, -1.0 / 2}, 2},
    {"richardson", 4, {1, -1, 2, -2}, {8.0 / 12, -8.0 / 12, -1.0 / 12, 1.0 / 12}, 4},
};

const ad_gc_stencil *ad_gc_stencil_at(int k) { return k >= 0 && k < AD_GC_N_STENCILS ? &stencils[k] : NULL; }
const ad_gc_stencil *ad_gc_stencil_for(const ad_gc_options *o) { return &stencils[o && o->richardson ? 1 : 0]; }

double ad_gc_stencil_apply(const ad_gc_stencil *s, double (*f)(double x, void *user), void *user, double x, double h)
{
    double d = 0;
    for (int k = 0; k < s->n; k++) d += s->weight[k] * f(x + s->offset[k] * h, user);
    return d / h;
}

bool ad_gc_agree(double a, double b, double tol)
{
    if (a != a || b != b) return false;   /* NaN, either side */
    if (a == b) return true;              /* equal infinities too */
    if (isinf(a) || isinf(b)) return false;
    return fabs(a - b) <= tol;            /* false for a NaN tol */
}

double ad_gc_abs_err(double a, double b) { return a == b ? 0 : fabs(a - b); }

const char *ad_gc_check_name(ad_gc_check c)
{
    switch (c) {
    case AD_GC_JACOBIAN_REV: return "reverse-jacobian";
    case AD_GC_JACOBIAN_FWD: return "forward-jacobian";
    case AD_GC_DOT_PRODUCT: return "dot-product";
    case AD_GC_DETERMINISM: return "determinism";
    case AD_GC_FAST_REV: return "fast-reverse";
    case AD_GC_FAST_FWD: return "fast-forward";
    case AD_GC_DEVICE_FORWARD: return "cpu-vs-gpu-forward";
    case AD_GC_DEVICE_VJP: return "cpu-vs-gpu-vjp";
    case AD_GC_DEVICE_JVP: return "cpu-vs-gpu-jvp";
    case AD_GC_BLOCK: return "block-vs-one";
    }
    return "?";
}

void ad_gc_report_free(ad_gc_report *r)
{
    free(r->rec);
    memset(r, 0, sizeof *r);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- one run: f, its inputs (float64 copies), and scratch ---- */
typedef struct gc_run {
    const char *name, *label;
    ad_gc_fn f;
    void *user;
    int n_in;
    unsigned nondiff;
    double *x[AD_MAX_INPUTS];             /* current input values */
    int ndim[AD_MAX_INPUTS];
    int64_t shape[AD_MAX_INPUTS][AD_MAX_DIMS];
    int64_t n[AD_MAX_INPUTS];
    ad_tensor out;                         /* output shape (data unused) */
    int64_t m;
    int64_t items;                         /* input 0's batch items (AD_OP_BATCHED): the numerical
                                              Jacobian perturbs one element of each at once; 1: none */
    ad_device device;                      /* where f runs now */
    const ad_gc_options *o;
    gsl_rng *rng;
    ad_gc_report *r;
    /* Contexts reused across the thousands of evaluations a Jacobian takes:
     * leaves made once, then each evaluation rewinds to the mark. */
    ad_context *eval_ctx, *grad_ctx, *fwd_ctx;
    ad_node *eval_leaves[AD_MAX_INPUTS], *grad_leaves[AD_MAX_INPUTS], *fwd_leaves[AD_MAX_INPUTS];
    ad_mark eval_mark, grad_mark, fwd_mark;
    ad_node *grad_y;   /* the graph built in grad_ctx, reused while x is unchanged */
    /* vjp_all's pre-fill of the input grads (n_s each), made for pre_seed. */
    double *pre[AD_MAX_INPUTS];
    unsigned long pre_seed;
    bool pre_made;
} gc_run;

/* A passing record of (input, check) with nothing measured yet. */
static void record_init(const gc_run *R, ad_gc_record *rec, int input, ad_gc_check check)
{
    memset(rec, 0, sizeof *rec);
    snprintf(rec->op, sizeof rec->op, "%s", R->name);
    snprintf(rec->case_label, sizeof rec->case_label, "%s", R->label ? R->label : "");
    rec->input = input;
    rec->check = check;
    rec->pass = true;
    rec->numerical = rec->reverse = rec->forward = rec->x_at_worst = NAN;
}

static ad_gc_record *new_record(gc_run *R, int input, ad_gc_check check)
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
    record_init(R, rec, input, check);
    return rec;
}

static void finish_record(gc_run *R, ad_gc_record *rec, double t0)
{
    rec->seconds = now() - t0;
    if (!rec->pass) R->r->n_fail++;
}

static bool diff(const gc_run *R, int s) { return !(R->nondiff & (1u << s)); }

/* Input s's shape as a tensor header (no data), for its index strings ("[1,0,2]"). */
static ad_tensor input_shape(const gc_run *R, int s)
{
    ad_tensor t = {.ndim = (uint8_t)R->ndim[s]};
    memcpy(t.shape, R->shape[s], sizeof t.shape);
    return t;
}

/* The buffers of one check, allocated together: a failed allocation makes
 * the check fail with "out of memory" instead of writing through NULL. */
typedef struct scratch {
    void *p[16];
    int n;
    bool failed;
} scratch;

static double *sc_alloc(scratch *sc, int64_t count, bool zero)
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

static void sc_free(scratch *sc)
{
    for (int i = 0; i < sc->n; i++) free(sc->p[i]);
    sc->n = 0;
}

/* The status for a failed scratch allocation. */
static ad_status sc_status(const gc_run *R, const char *what)
{
    return ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the %s", R->name, what);
}

/* f of the leaves (host nodes), on R->device: on the GPU the leaves are sent
 * (ad_to_device) and the output received (ad_to_host), so every check below
 * reads host values and grads, and gradients and tangents cross the copies
 * like any op's. */
static ad_node *call_f(gc_run *R, ad_context *ctx, ad_node **leaves)
{
    if (R->device == AD_CPU) return R->f(ctx, leaves, R->n_in, R->user);
    ad_node *in[AD_MAX_INPUTS];
    for (int s = 0; s < R->n_in; s++)
        if (!(in[s] = ad_to_device(ctx, leaves[s]))) return NULL;
    return ad_to_host(ctx, R->f(ctx, in, R->n_in, R->user));
}

/* Build f from leaves holding R->x. kind: 0 constants, 1 variables (for
 * backward), 2 constants with tangents (forward mode, dirs set by caller). */
static ad_node *build(gc_run *R, ad_context *ctx, ad_node **leaves, bool variables)
{
    for (int s = 0; s < R->n_in; s++) {
        leaves[s] = (variables && diff(R, s)) ? ad_variable(ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s])
                                              : ad_constant(ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s]);
        if (!leaves[s]) return NULL;
    }
    return call_f(R, ctx, leaves);
}

/* Make the leaves of a reused context (once), or refresh their values
 * from R->x and rewind to just after them. */
static ad_status leaves_ready(gc_run *R, ad_context **ctx, ad_node **leaves, ad_mark *mark, bool variables)
{
    if (!*ctx) {
        *ctx = ad_context_new();
        if (!*ctx) return ad_last_status();
        if (!variables) ad_set_grad_enabled(*ctx, false);
        for (int s = 0; s < R->n_in; s++) {
            leaves[s] = (variables && diff(R, s)) ? ad_variable(*ctx, AD_FLOAT64, R->ndim[s], R->shape[s], R->x[s])
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
    ad_node *y = call_f(R, R->eval_ctx, R->eval_leaves);
    if (!y) return ad_last_status();
    const ad_tensor *v = &ad_node_of(y)->value;
    if (v->dtype == AD_FLOAT64 && v->device == AD_CPU && v->data) {
        *y_out = v->data;
        return AD_OK;
    }
    *y_out = out;
    return ad_tensor_copy_out(v, out, R->m);
}

/* y = f(x) into out (m doubles). */
static ad_status eval(gc_run *R, double *out)
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
static ad_status numeric_dir(gc_run *R, int s, int64_t i, int64_t every, double *const *v, double *col, double *tmp)
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
        if (!diff(R, s)) continue;
        if (!R->pre[s] && !(R->pre[s] = malloc((size_t)(R->n[s] ? R->n[s] : 1) * sizeof(double))))
            return sc_status(R, "pre-filled grads");
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

/* Reverse mode. rows = ONE: one cotangent (cot: m), the path training
 * takes (ad_backward_ex into the leaves' grads). rows >= 1: a block of rows
 * cotangents (cot: rows × m) through ad_backward_block, every vjp called
 * once with all of them. Row r of the grads of the differentiable inputs
 * goes into g[s] + r·n_s. The grads start filled with nonzero values
 * (prefill_for), subtracted afterwards: a vjp that overwrites instead of
 * accumulating shows. */
enum { ONE = 0 };
static ad_status vjp_all(gc_run *R, int rows, const double *cot, double **g, unsigned long prefill_seed,
                         bool reuse_graph)
{
    ad_status st = prefill_for(R, prefill_seed);
    if (st == AD_OK && (!reuse_graph || !R->grad_y)) {
        /* A fresh graph: each backward pass of the determinism test runs on its own build. */
        st = leaves_ready(R, &R->grad_ctx, R->grad_leaves, &R->grad_mark, true);
        R->grad_y = st == AD_OK ? call_f(R, R->grad_ctx, R->grad_leaves) : NULL;
        if (st == AD_OK && !R->grad_y) st = ad_last_status();
    }
    ad_context *ctx = R->grad_ctx;
    ad_node **leaves = R->grad_leaves, *y = R->grad_y;
    if (st == AD_OK && !ad_requires_grad(y))
        st = ad_fail(AD_ERR_STATE, "%s: the output does not depend on any differentiable input", R->name);
    ad_node *wrt[AD_MAX_INPUTS];
    void *dst[AD_MAX_INPUTS];
    int n_wrt = 0;
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!diff(R, s)) continue;
        size_t bytes = (size_t)R->n[s] * sizeof(double);
        if (rows == ONE) {
            memcpy(ad_node_of(leaves[s])->grad, R->pre[s], bytes);
        } else {
            for (int r = 0; r < rows; r++) memcpy(g[s] + (int64_t)r * R->n[s], R->pre[s], bytes);
            wrt[n_wrt] = leaves[s];
            dst[n_wrt++] = g[s];
        }
    }
    if (st == AD_OK && rows == ONE) {
        ad_tensor ct = ad_value(y);
        ct.data = (void *)cot;
        ad_backward_opts opts = {.cotangent = &ct};
        st = ad_backward_ex(ctx, y, &opts);
    } else if (st == AD_OK) {
        st = ad_backward_block(ctx, y, rows, cot, n_wrt, wrt, dst);
    }
    for (int s = 0; s < R->n_in && st == AD_OK; s++) {
        if (!diff(R, s)) continue;
        const double *pre = R->pre[s];
        if (rows == ONE) {
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
static ad_status jvp_cols(gc_run *R, int s, int64_t col0, int k, double *const *v, double *t)
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
    ad_node *y = st == AD_OK ? call_f(R, ctx, leaves) : NULL;
    if (st == AD_OK && !y) st = ad_last_status();
    const ad_node *yn = ad_node_of(y);
    if (st == AD_OK && yn->tangent && yn->value.dtype == AD_FLOAT64 && yn->value.device == AD_CPU)
        memcpy(t, yn->tangent, (size_t)k * (size_t)R->m * sizeof(double));   /* row d: direction d */
    else
        for (int d = 0; d < k && st == AD_OK; d++)
            for (int64_t o = 0; o < R->m; o++) t[(int64_t)d * R->m + o] = ad_tangent_at(y, d, o);
    return st;
}

static void fail_note(ad_gc_record *rec, ad_status st)
{
    rec->pass = false;
    snprintf(rec->message, sizeof rec->message, "could not run: %s", ad_last_error());
    (void)st;
}

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

/* What compare needs to recognise a kink in input s's Jacobian: y at x and,
 * made only for the columns i where some entry fails (a correct rule on a
 * smooth function has none), the one-sided differences at the step h and a
 * per-entry cache. */
typedef struct kink_col {
    double *left, *right;   /* m each: (f(x) - f(x-h))/h and (f(x+h) - f(x))/h along x_s[i] */
    char *flag;             /* m: 0 not looked at, 1 a kink, 2 none */
} kink_col;

typedef struct kink_info {
    const double *f0;
    kink_col **col;         /* n_s, NULL until column i is needed */
    double *fp, *fm;        /* m each: scratch */
} kink_info;

static void kink_free(kink_info *k, int64_t n)
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
    ad_status st = eval(R, k->fp);
    R->x[s][i] = x0 - h;
    if (st == AD_OK) st = eval(R, k->fm);
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
static bool at_kink(gc_run *R, kink_info *k, int s, int64_t o, int64_t i, double tol)
{
    kink_col *c = kink_column(R, k, s, i);
    if (!c) return false;
    double gap = fabs(c->right[o] - c->left[o]);
    if (!(gap > tol)) return false;
    if (c->flag[o] == 0) {
        double h = R->o->eps / 2, x0 = R->x[s][i];
        R->x[s][i] = x0 + h;
        ad_status st = eval(R, k->fp);
        R->x[s][i] = x0 - h;
        if (st == AD_OK) st = eval(R, k->fm);
        R->x[s][i] = x0;
        for (int64_t q = 0; q < R->m; q++) {
            double g = fabs(c->right[q] - c->left[q]);
            double half = fabs(k->fp[q] - 2 * k->f0[q] + k->fm[q]) / h;   /* the gap at h/2 */
            c->flag[q] = st == AD_OK && half >= 0.75 * g ? 1 : 2;
        }
    }
    return c->flag[o] == 1;
}

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
        if (a == a && at_kink(R, k, s, o, i, tol)) {
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
    ad_tensor tin = input_shape(R, s);
    snprintf(rec->worst, sizeof rec->worst, "dy%s/dx%d%s", ad_index_str(&R->out, w->o, oi, sizeof oi), s,
             ad_index_str(&tin, w->i, ii, sizeof ii));
    rec->x_at_worst = R->x[s][w->i];
    rec->numerical = w->num;
    rec->reverse = w->rev;
    rec->forward = w->fwd;
}

/* ---- worker threads ----
 * The numerical Jacobian's columns, the forward-mode Jacobian's column
 * blocks and the reverse sweep's row blocks are independent of each other.
 * With options.threads > 1 (on the CPU) workers compute them, each on a
 * copy of the run: its own input values and contexts. The comparisons stay
 * on the calling thread, in order, so the report does not depend on the
 * thread count (the numbers are the same bits). */
enum { GC_MAX_THREADS = 64 };

typedef struct gc_pool {
    int n;                            /* workers; worker 0 is the calling thread, on R itself */
    gc_run *run[GC_MAX_THREADS];
    double *tmp[GC_MAX_THREADS];      /* m doubles each: numeric_dir's scratch */
    double *col[GC_MAX_THREADS];      /* m doubles each: a column of all the batch's items */
} gc_pool;

/* One item (a column, a block) on worker t's run W; slot: the item's place in this call. */
typedef ad_status (*gc_item_fn)(const gc_pool *P, int t, gc_run *W, int64_t item, int64_t slot, void *job);

static void pool_free(gc_pool *P)
{
    for (int t = 0; t < P->n; t++) {
        free(P->tmp[t]);
        free(P->col[t]);
        if (t == 0) continue;
        gc_run *W = P->run[t];
        ad_context_free(W->eval_ctx);
        ad_context_free(W->grad_ctx);
        ad_context_free(W->fwd_ctx);
        for (int s = 0; s < W->n_in; s++) {
            free(W->x[s]);
            free(W->pre[s]);
        }
        free(W);
    }
    P->n = 0;
}

/* Copies of the run at its current inputs. Where memory runs short the
 * pool has fewer workers; with no room even for the caller's scratch, an
 * error. Jacobians of under 2^15 entries in all take the caller alone:
 * starting threads (tens of microseconds a round) would cost more than
 * their share of the work. */
static ad_status pool_init(gc_pool *P, gc_run *R)
{
    double entries = 0;
    for (int s = 0; s < R->n_in; s++) entries += diff(R, s) ? (double)R->n[s] * (double)R->m : 0;
    int want = R->device == AD_CPU && R->o->threads > 1 && entries >= 32768 ? R->o->threads : 1;
    if (want > GC_MAX_THREADS) want = GC_MAX_THREADS;
    P->n = 0;
    for (int t = 0; t < want; t++) {
        gc_run *W = t == 0 ? R : malloc(sizeof *W);
        double *tmp = malloc((size_t)(R->m > 0 ? R->m : 1) * sizeof(double));
        double *col = malloc((size_t)(R->m > 0 ? R->m : 1) * sizeof(double));
        bool ok = W && tmp && col;
        if (ok && t > 0) {
            *W = *R;
            W->eval_ctx = W->grad_ctx = W->fwd_ctx = NULL;
            W->grad_y = NULL;
            W->rng = NULL;
            W->pre_made = false;
            for (int s = 0; s < R->n_in; s++) W->pre[s] = NULL;
            for (int s = 0; s < R->n_in; s++) {
                W->x[s] = malloc((size_t)(R->n[s] ? R->n[s] : 1) * sizeof(double));
                if (W->x[s]) memcpy(W->x[s], R->x[s], (size_t)R->n[s] * sizeof(double));
                else ok = false;
            }
            if (!ok) {
                for (int s = 0; s < R->n_in; s++) free(W->x[s]);
            }
        }
        if (!ok) {
            if (t > 0) free(W);
            free(tmp);
            free(col);
            break;
        }
        P->run[t] = W;
        P->tmp[t] = tmp;
        P->col[t] = col;
        P->n = t + 1;
    }
    return P->n > 0 ? AD_OK : sc_status(R, "Jacobians' scratch");
}

typedef struct gc_task {
    const gc_pool *P;
    int t, stride;                    /* worker t takes items first + t, + t + stride, ... */
    gc_item_fn fn;
    void *job;
    int64_t first, count;
    int64_t fail_item;                /* the first item that failed (-1: none) */
    ad_status st;
    char msg[1024];                   /* its message (a worker's error state is its own) */
    pthread_t tid;
} gc_task;

/* Task k's items on worker w (its own, or the caller's for a task whose
 * thread could not start). */
static void task_items(gc_task *k, int w)
{
    k->fail_item = -1;
    k->st = AD_OK;
    for (int64_t j = k->t; j < k->count; j += k->stride) {
        ad_status st = k->fn(k->P, w, k->P->run[w], k->first + j, j, k->job);
        if (st != AD_OK) {
            k->fail_item = k->first + j;
            k->st = st;
            snprintf(k->msg, sizeof k->msg, "%s", ad_last_error());
            return;
        }
    }
}

static void *task_thread(void *arg)
{
    gc_task *k = arg;
    task_items(k, k->t);
    return NULL;
}

/* Items first .. first+count-1 over the workers; the status of the lowest
 * item that failed, with its message set on this thread. */
static ad_status pool_run(const gc_pool *P, int64_t first, int64_t count, gc_item_fn fn, void *job)
{
    if (P->n < 1) return ad_fail(AD_ERR_STATE, "gradcheck: no worker to run on");   /* (pool_init failed) */
    gc_task task[GC_MAX_THREADS];
    int n = count < P->n ? (int)(count > 1 ? count : 1) : P->n, started = 1;
    for (int t = 0; t < n; t++) task[t] = (gc_task){.P = P, .t = t, .stride = n, .fn = fn, .job = job, .first = first,
                                                    .count = count, .fail_item = -1};
    for (; started < n; started++)
        if (pthread_create(&task[started].tid, NULL, task_thread, &task[started]) != 0) break;
    task_items(&task[0], 0);
    for (int t = started; t < n; t++) task_items(&task[t], 0);   /* threads that could not start */
    for (int t = 1; t < started; t++) pthread_join(task[t].tid, NULL);
    const gc_task *bad = NULL;
    for (int t = 0; t < n; t++)
        if (task[t].fail_item >= 0 && (!bad || task[t].fail_item < bad->fail_item)) bad = &task[t];
    return bad ? ad_fail(bad->st, "%s", bad->msg) : AD_OK;
}

/* Full Jacobians, none of them stored row-major in full: the numerical one
 * of input s is kept by columns (numT[i·m + o], as numeric_dir makes them);
 * forward mode makes blocks of JB columns, compared as they come; reverse
 * mode makes blocks of RB rows, one backward sweep (a block of cotangents
 * e_o) giving those rows of every input's Jacobian at once. */
enum { JB = 64, RB = 16 };

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
    record_init(R, &j->rec, s, c);
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
static int block_rows(const gc_run *R)
{
    int64_t fit = ((int64_t)32 << 20) / (8 * (R->m > 0 ? R->m : 1));
    return fit >= RB ? RB : fit < 1 ? 1 : (int)fit;
}

/* Rows o0 .. o0+rows-1 of every input's reverse-mode Jacobian, in one
 * backward sweep: a block of one-hot cotangents (cot: rows × m, all zero on
 * entry and on return), row r of input s's into tile[s] + r·n_s. */
static ad_status jacobian_rows(gc_run *R, int64_t o0, int rows, double *cot, double **tile, unsigned long prefill,
                               bool reuse_graph)
{
    for (int r = 0; r < rows; r++) cot[(int64_t)r * R->m + o0 + r] = 1;
    ad_status st = vjp_all(R, rows, cot, tile, prefill, reuse_graph);
    for (int r = 0; r < rows; r++) cot[(int64_t)r * R->m + o0 + r] = 0;
    return st;
}

/* The reverse sweep: block_rows rows of every input's Jacobian per backward
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
    return jacobian_rows(W, o0, rows, j->cot[t], j->tile[slot], j->prefill, item >= P->n);
}

static ad_status reverse_sweep(gc_run *R, const gc_pool *P, double **numT, bool *num_ok, jac_check *rc,
                               kink_info *kinks)
{
    int64_t m = R->m;
    rows_job J = {.B = block_rows(R), .prefill = gsl_rng_get(R->rng)};
    scratch sc = {0};
    double *cot_all = sc_alloc(&sc, P->n * J.B * m, true), *tile_all[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++)
        if (diff(R, s)) tile_all[s] = sc_alloc(&sc, P->n * J.B * R->n[s], false);
    ad_status st = sc.failed ? sc_status(R, "Jacobians") : AD_OK;
    for (int t = 0; t < P->n && st == AD_OK; t++) {
        J.cot[t] = cot_all + t * J.B * m;
        for (int s = 0; s < R->n_in; s++) J.tile[t][s] = tile_all[s] ? tile_all[s] + t * J.B * R->n[s] : NULL;
    }
    int64_t blocks = (m + J.B - 1) / J.B;
    for (int64_t b0 = 0; b0 < blocks && st == AD_OK; b0 += P->n) {
        int64_t round = blocks - b0 < P->n ? blocks - b0 : P->n;
        st = pool_run(P, b0, round, rows_item, &J);   /* one graph per worker, m/B backward sweeps in all */
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
    sc_free(&sc);
    return st;
}

/* Row o, element i of input s's reverse-mode Jacobian (for the forward
 * record's worst entry): the sweep's block that holds row o, again. */
static double reverse_entry(gc_run *R, int s, int64_t o, int64_t i)
{
    int64_t B = block_rows(R), o0 = o - o % B;
    int rows = (int)(R->m - o0 < B ? R->m - o0 : B);
    scratch sc = {0};
    double *cot = sc_alloc(&sc, (int64_t)rows * R->m, true), *tile[AD_MAX_INPUTS] = {0}, v = NAN;
    for (int u = 0; u < R->n_in; u++) tile[u] = diff(R, u) ? sc_alloc(&sc, (int64_t)rows * R->n[u], false) : NULL;
    if (!sc.failed && jacobian_rows(R, o0, rows, cot, tile, R->pre_seed, true) == AD_OK)
        v = tile[s][(o - o0) * R->n[s] + i];
    sc_free(&sc);
    return v;
}

/* Every entry of input s's Jacobians (small cases: --jacobian). numT is the
 * numerical one by columns; the reverse- and forward-mode ones are made here
 * again (rows, and blocks of columns), as the checks keep neither. */
static void print_jacobian(gc_run *R, int s, const double *numT)
{
    FILE *f = R->o->jacobian_out;
    int64_t m = R->m, n = R->n[s];
    scratch sc = {0};
    double *rev = (R->o->mode & AD_GC_REV) ? sc_alloc(&sc, m * n, false) : NULL;
    double *fwd = (R->o->mode & AD_GC_FWD) ? sc_alloc(&sc, m * n, false) : NULL;
    int64_t B = block_rows(R);
    double *cot = sc_alloc(&sc, B * m, true), *blk = sc_alloc(&sc, JB * m, false), *tile[AD_MAX_INPUTS] = {0};
    for (int u = 0; u < R->n_in; u++) tile[u] = diff(R, u) ? sc_alloc(&sc, B * R->n[u], false) : NULL;
    if (sc.failed) {
        fprintf(f, "Jacobian of %s w.r.t. input %d: out of memory to print it\n", R->name, s);
        sc_free(&sc);
        return;
    }
    for (int64_t o0 = 0; rev && o0 < m; o0 += B) {   /* the rows as the reverse sweep makes them */
        int rows = (int)(m - o0 < B ? m - o0 : B);
        ad_status st = jacobian_rows(R, o0, rows, cot, tile, R->pre_seed, o0 > 0);
        for (int64_t k = 0; k < rows * n; k++) rev[o0 * n + k] = st == AD_OK ? tile[s][k] : NAN;
    }
    for (int64_t c0 = 0; fwd && c0 < n; c0 += JB) {   /* the columns as the forward check makes them */
        int k = (int)(n - c0 < JB ? n - c0 : JB);
        ad_status st = jvp_cols(R, s, c0, k, NULL, blk);
        for (int d = 0; d < k; d++)
            for (int64_t o = 0; o < m; o++) fwd[o * n + c0 + d] = st == AD_OK ? blk[(int64_t)d * m + o] : NAN;
    }
    char oi[48], ii[48];
    ad_tensor tin = input_shape(R, s);
    fprintf(f, "Jacobian of %s [%s] w.r.t. input %d (%lld x %lld): every entry, mismatches marked\n", R->name,
            R->label ? R->label : "", s, (long long)R->m, (long long)R->n[s]);
    fprintf(f, "  %-22s %16s %16s %16s\n", "entry", "numerical", "reverse", "forward");
    for (int64_t o = 0; o < m; o++)
        for (int64_t i = 0; i < n; i++) {
            int64_t k = o * n + i;
            double nv = numT[i * m + o], tol = R->o->atol + R->o->rtol * fabs(nv);
            bool bad_r = rev && !ad_gc_agree(rev[k], nv, tol), bad_f = fwd && !ad_gc_agree(fwd[k], nv, tol);
            char entry[100];
            snprintf(entry, sizeof entry, "dy%s/dx%d%s", ad_index_str(&R->out, o, oi, sizeof oi), s,
                     ad_index_str(&tin, i, ii, sizeof ii));
            fprintf(f, "  %-22s %16.9g %16.9g %16.9g%s%s\n", entry, nv, rev ? rev[k] : NAN, fwd ? fwd[k] : NAN,
                    bad_r ? "  <-- reverse differs" : "", bad_f ? "  <-- forward differs" : "");
        }
    sc_free(&sc);
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
    if (j->items <= 1) return numeric_dir(W, j->s, i, 0, NULL, j->numT + i * m, P->tmp[t]);
    int64_t len = W->n[j->s] / j->items, mlen = m / j->items;
    ad_status st = numeric_dir(W, j->s, i, len, NULL, P->col[t], P->tmp[t]);
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
        if (numeric_dir(R, 0, probe[k], 0, NULL, P->col[0], P->tmp[0]) != AD_OK) return false;
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
    return jvp_cols(W, j->s, c0, (int)(n - c0 < JB ? n - c0 : JB), NULL, j->blk + slot * JB * W->m);
}

static void check_jacobians(gc_run *R)
{
    int64_t m = R->m;
    scratch sc = {0};
    double *f0 = sc_alloc(&sc, m, false), *fp = sc_alloc(&sc, m, false), *fm = sc_alloc(&sc, m, false);
    double *numT[AD_MAX_INPUTS] = {0};
    for (int s = 0; s < R->n_in; s++)
        if (diff(R, s)) numT[s] = sc_alloc(&sc, m * R->n[s], false);
    jac_check rc[AD_MAX_INPUTS], fc[AD_MAX_INPUTS];
    kink_info kinks[AD_MAX_INPUTS];
    bool num_ok[AD_MAX_INPUTS] = {0};
    double t_num[AD_MAX_INPUTS] = {0};
    ad_status st0 = sc.failed ? sc_status(R, "Jacobians") : eval(R, f0);
    gc_pool P;
    ad_status stp = pool_init(&P, R);   /* at x: the workers copy it */
    if (st0 == AD_OK) st0 = stp;
    fwd_job fj = {.blk = sc_alloc(&sc, (P.n > 0 ? P.n : 1) * JB * m, false)};
    if (st0 == AD_OK && sc.failed) st0 = sc_status(R, "Jacobians");
    char why[256];
    if (st0 != AD_OK) snprintf(why, sizeof why, "could not run: %s", ad_last_error());
    /* The numerical Jacobians, by columns. */
    for (int s = 0; s < R->n_in; s++) {
        jac_init(R, &rc[s], s, AD_GC_JACOBIAN_REV);
        jac_init(R, &fc[s], s, AD_GC_JACOBIAN_FWD);
        kinks[s] = (kink_info){f0, NULL, fp, fm};
        if (!diff(R, s)) continue;
        double t0 = now();
        numeric_job job = {s, numT[s], 1};
        char note[sizeof rc[s].rec.message] = "";
        if (s == 0 && R->items > 1 && st0 == AD_OK && items_independent(R, &P, note, sizeof note)) job.items = R->items;
        ad_status st = st0 == AD_OK ? pool_run(&P, 0, R->n[s] / job.items, numeric_item, &job) : st0;
        t_num[s] = now() - t0;
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
        double t0 = now();
        ad_status st = st0 == AD_OK ? reverse_sweep(R, &P, numT, num_ok, rc, kinks) : st0;
        rev_ok = st == AD_OK;
        if (st != AD_OK && st0 == AD_OK) {
            snprintf(why, sizeof why, "could not run: %s", ad_last_error());
            for (int s = 0; s < R->n_in; s++)
                if (num_ok[s]) jac_fail(R, &rc[s], why);
        }
        double t_rev = now() - t0;
        int64_t n_all = 0;
        for (int s = 0; s < R->n_in; s++) n_all += diff(R, s) ? R->n[s] : 0;
        for (int s = 0; s < R->n_in; s++)
            if (diff(R, s)) {
                rc[s].seconds = t_num[s] + t_rev * (double)R->n[s] / (double)(n_all ? n_all : 1);
                put_worst(R, &rc[s].rec, &rc[s].w, s);   /* none after a failure: jac_fail clears it */
            }
    }
    for (int s = 0; s < R->n_in; s++) {
        if (!diff(R, s)) continue;
        if (R->o->mode & AD_GC_FWD) {
            double t0 = now();
            jac_check *j = &fc[s];
            int64_t n = R->n[s];
            int64_t blocks = (n + JB - 1) / JB;
            fj.s = s;
            for (int64_t b0 = 0; num_ok[s] && b0 < blocks; b0 += P.n) {   /* a round: a block per worker */
                int64_t round = blocks - b0 < P.n ? blocks - b0 : P.n;
                ad_status st = pool_run(&P, b0, round, fwd_item, &fj);
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
            j->seconds = t_num[s] + now() - t0;
        }
        if (R->o->jacobian_out && num_ok[s]) print_jacobian(R, s, numT[s]);
        kink_free(&kinks[s], R->n[s]);
    }
    pool_free(&P);
    /* The records, in input order. */
    for (int s = 0; s < R->n_in; s++) {
        if (!diff(R, s)) continue;
        for (int c = 0; c < 2; c++) {
            jac_check *j = c == 0 ? &rc[s] : &fc[s];
            if (!(R->o->mode & (c == 0 ? AD_GC_REV : AD_GC_FWD))) continue;
            ad_gc_record *rec = new_record(R, s, j->rec.check);
            *rec = j->rec;
            rec->seconds = j->seconds;
            if (!rec->pass) R->r->n_fail++;
        }
    }
    sc_free(&sc);
}

/* Random directions v[s] (NULL for held inputs) and room for the grads g[s]. */
static void random_dirs(gc_run *R, scratch *sc, double **v, double **g)
{
    for (int s = 0; s < R->n_in; s++) {
        v[s] = NULL;
        if (g) g[s] = NULL;
        if (!diff(R, s)) continue;
        v[s] = sc_alloc(sc, R->n[s], false);
        if (g) g[s] = sc_alloc(sc, R->n[s], false);
        for (int64_t j = 0; v[s] && j < R->n[s]; j++) v[s][j] = gsl_ran_gaussian(R->rng, 1.0);
    }
}

/* <r, J v> (forward) against <J^T r, v> (reverse): exact up to rounding. */
static void check_dot_product(gc_run *R)
{
    double t0 = now();
    ad_gc_record *rec = new_record(R, -1, AD_GC_DOT_PRODUCT);
    scratch sc = {0};
    double *r = sc_alloc(&sc, R->m, false), *jv = sc_alloc(&sc, R->m, false);
    double *v[AD_MAX_INPUTS], *g[AD_MAX_INPUTS];
    for (int64_t o = 0; r && o < R->m; o++) r[o] = gsl_ran_gaussian(R->rng, 1.0);
    random_dirs(R, &sc, v, g);
    ad_status st = sc.failed ? sc_status(R, "dot-product check") : jvp_cols(R, -1, 0, 1, v, jv);
    if (st == AD_OK) st = vjp_all(R, ONE, r, g, gsl_rng_get(R->rng), false);
    if (st != AD_OK) {
        fail_note(rec, st);
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
        double err = ad_gc_abs_err(lhs, rhs), tol = 1e-10 * scale;
        rec->max_abs_err = err;
        rec->max_rel_err = scale > 0 ? err / scale : err;
        rec->forward = lhs;
        rec->reverse = rhs;
        rec->pass = ad_gc_agree(lhs, rhs, tol > 1e-14 ? tol : 1e-14);
        snprintf(rec->message, sizeof rec->message, "<r, Jv> = %.17g (forward), <J^T r, v> = %.17g (reverse)", lhs,
                 rhs);
    }
    sc_free(&sc);
    finish_record(R, rec, t0);
}

/* The same backward twice must give the same bits. */
static void check_determinism(gc_run *R)
{
    double t0 = now();
    ad_gc_record *rec = new_record(R, -1, AD_GC_DETERMINISM);
    scratch sc = {0};
    double *r = sc_alloc(&sc, R->m, false), *g1[AD_MAX_INPUTS] = {0}, *g2[AD_MAX_INPUTS] = {0};
    for (int64_t o = 0; r && o < R->m; o++) r[o] = gsl_ran_gaussian(R->rng, 1.0);
    for (int s = 0; s < R->n_in; s++)
        if (diff(R, s)) {
            g1[s] = sc_alloc(&sc, R->n[s], false);
            g2[s] = sc_alloc(&sc, R->n[s], false);
        }
    /* The same pre-filled grads both times, so equal passes give equal bits. */
    unsigned long prefill = gsl_rng_get(R->rng);
    ad_status st = sc.failed ? sc_status(R, "determinism check") : vjp_all(R, ONE, r, g1, prefill, false);
    if (st == AD_OK) st = vjp_all(R, ONE, r, g2, prefill, false);
    if (st != AD_OK) fail_note(rec, st);
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
    sc_free(&sc);
    finish_record(R, rec, t0);
}

/* A block of BLOCK_ROWS random cotangents through one backward sweep
 * against one pass per cotangent (the path training takes): the same
 * numbers up to rounding, to 1e-10 of the largest of the row. */
enum { BLOCK_ROWS = 3 };
static void check_block(gc_run *R)
{
    double t0 = now();
    ad_gc_record *rec = new_record(R, -1, AD_GC_BLOCK);
    scratch sc = {0};
    double *cot = sc_alloc(&sc, BLOCK_ROWS * R->m, false), *blk[AD_MAX_INPUTS] = {0}, *one[AD_MAX_INPUTS] = {0};
    for (int64_t o = 0; cot && o < BLOCK_ROWS * R->m; o++) cot[o] = gsl_ran_gaussian(R->rng, 1.0);
    for (int s = 0; s < R->n_in; s++)
        if (diff(R, s)) {
            blk[s] = sc_alloc(&sc, BLOCK_ROWS * R->n[s], false);
            one[s] = sc_alloc(&sc, R->n[s], false);
        }
    unsigned long prefill = gsl_rng_get(R->rng);
    ad_status st = sc.failed ? sc_status(R, "block check") : vjp_all(R, BLOCK_ROWS, cot, blk, prefill, false);
    double worst = 0;
    for (int r = 0; r < BLOCK_ROWS && st == AD_OK; r++) {
        st = vjp_all(R, ONE, cot + r * R->m, one, prefill, true);
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
                ad_tensor t = input_shape(R, s);
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
    if (st != AD_OK) fail_note(rec, st);
    sc_free(&sc);
    finish_record(R, rec, t0);
}

/* Fast mode: u^T J_num v against (J^T u)^T v and u^T (J v). */
static void check_fast(gc_run *R)
{
    double t0 = now();
    scratch sc = {0};
    double *u = sc_alloc(&sc, R->m, false), *jv_num = sc_alloc(&sc, R->m, false);
    double *tmp = sc_alloc(&sc, R->m, false), *jv = sc_alloc(&sc, R->m, false);
    double *v[AD_MAX_INPUTS], *g[AD_MAX_INPUTS];
    for (int64_t o = 0; u && o < R->m; o++) u[o] = gsl_ran_gaussian(R->rng, 1.0);
    random_dirs(R, &sc, v, g);
    ad_status st = sc.failed ? sc_status(R, "fast check") : numeric_dir(R, -1, -1, 0, v, jv_num, tmp);
    double num = 0;
    for (int64_t o = 0; st == AD_OK && o < R->m; o++) num += u[o] * jv_num[o];
    for (int pass = 0; pass < 2; pass++) {
        ad_gc_check kind = pass == 0 ? AD_GC_FAST_REV : AD_GC_FAST_FWD;
        if (!(R->o->mode & (pass == 0 ? AD_GC_REV : AD_GC_FWD))) continue;
        ad_gc_record *rec = new_record(R, -1, kind);
        double a = 0;
        ad_status st2 = st;
        if (st2 == AD_OK && pass == 0) {
            st2 = vjp_all(R, ONE, u, g, gsl_rng_get(R->rng), false);
            for (int s = 0; s < R->n_in && st2 == AD_OK; s++)
                for (int64_t j = 0; v[s] && j < R->n[s]; j++) a += g[s][j] * v[s][j];
        } else if (st2 == AD_OK) {
            st2 = jvp_cols(R, -1, 0, 1, v, jv);
            for (int64_t o = 0; o < R->m && st2 == AD_OK; o++) a += u[o] * jv[o];
        }
        if (st2 != AD_OK) {
            fail_note(rec, st2);
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
        finish_record(R, rec, t0);
    }
    sc_free(&sc);
}

/* Compare n GPU values with n CPU values into rec (a DEVICE_* check);
 * input s names the index space, -1 the output's. */
static void compare_devices(gc_run *R, ad_gc_record *rec, int s, const double *gpu, const double *cpu, int64_t n)
{
    const char *what = rec->check == AD_GC_DEVICE_FORWARD ? "forward" : rec->check == AD_GC_DEVICE_VJP ? "vjp" : "jvp";
    double scale = 0, worst = 0;
    for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(cpu[j]));
    for (int64_t j = 0; j < n; j++) {
        double err = ad_gc_abs_err(gpu[j], cpu[j]), tol = 1e-9 * fabs(cpu[j]) + 1e-12 * (1 + scale);
        if (err > rec->max_abs_err || err != err) rec->max_abs_err = err;
        if (fabs(cpu[j]) > 0 && err / fabs(cpu[j]) > rec->max_rel_err) rec->max_rel_err = err / fabs(cpu[j]);
        if (!ad_gc_agree(gpu[j], cpu[j], tol) && (rec->pass || !(err / tol <= worst))) {
            char ix[48];
            ad_tensor t = s >= 0 ? input_shape(R, s) : R->out;
            worst = err / tol;
            if (!(worst < INFINITY)) worst = INFINITY;   /* NaN: an infinity against an infinite tol */
            rec->pass = false;
            ad_index_str(&t, j, ix, sizeof ix);
            if (s >= 0) {
                snprintf(rec->worst, sizeof rec->worst, "dx%d%s", s, ix);
                rec->x_at_worst = R->x[s][j];
            } else {
                snprintf(rec->worst, sizeof rec->worst, "y%s", ix);
            }
            rec->numerical = cpu[j];   /* the reference: the CPU's */
            if (rec->check == AD_GC_DEVICE_JVP) rec->forward = gpu[j];
            else rec->reverse = gpu[j];
            snprintf(rec->message, sizeof rec->message, "%s at %s: GPU %.17g, CPU %.17g", what, rec->worst, gpu[j],
                     cpu[j]);
        }
    }
}

/* --device cuda: forward, vjp and jvp on the GPU against the CPU's, at the
 * same inputs with the same random cotangent and direction. */
static void check_devices_agree(gc_run *R)
{
    scratch sc = {0};
    double *r = sc_alloc(&sc, R->m, false), *v[AD_MAX_INPUTS];
    for (int64_t o = 0; r && o < R->m; o++) r[o] = gsl_ran_gaussian(R->rng, 1.0);
    random_dirs(R, &sc, v, NULL);
    unsigned long prefill = gsl_rng_get(R->rng);
    double *y[2], *t[2], *g[2][AD_MAX_INPUTS] = {{0}};
    ad_status st[2];
    for (int k = 0; k < 2; k++) {   /* k = 0: the CPU, 1: the GPU */
        R->device = k ? AD_CUDA : AD_CPU;
        y[k] = sc_alloc(&sc, R->m, false);
        t[k] = sc_alloc(&sc, R->m, false);
        for (int s = 0; s < R->n_in; s++) g[k][s] = diff(R, s) ? sc_alloc(&sc, R->n[s], false) : NULL;
        st[k] = sc.failed ? sc_status(R, "device comparison") : eval(R, y[k]);
        if (st[k] == AD_OK && (R->o->mode & AD_GC_REV)) st[k] = vjp_all(R, ONE, r, g[k], prefill, false);
        if (st[k] == AD_OK && (R->o->mode & AD_GC_FWD)) st[k] = jvp_cols(R, -1, 0, 1, v, t[k]);
    }
    R->device = AD_CUDA;
    R->grad_y = NULL;   /* the graph in grad_ctx was rebuilt on each device: build afresh next time */
    for (int c = AD_GC_DEVICE_FORWARD; c <= AD_GC_DEVICE_JVP; c++) {
        if ((c == AD_GC_DEVICE_VJP && !(R->o->mode & AD_GC_REV)) || (c == AD_GC_DEVICE_JVP && !(R->o->mode & AD_GC_FWD)))
            continue;
        double t0 = now();
        ad_gc_record *rec = new_record(R, -1, (ad_gc_check)c);
        if (st[0] != AD_OK || st[1] != AD_OK) {
            rec->pass = false;
            snprintf(rec->message, sizeof rec->message, "could not run on the %s: %s", st[1] != AD_OK ? "GPU" : "CPU",
                     ad_last_error());
        } else if (c == AD_GC_DEVICE_FORWARD) {
            compare_devices(R, rec, -1, y[1], y[0], R->m);
        } else if (c == AD_GC_DEVICE_JVP) {
            compare_devices(R, rec, -1, t[1], t[0], R->m);
        } else {
            for (int s = 0; s < R->n_in; s++)
                if (g[0][s]) compare_devices(R, rec, s, g[1][s], g[0][s], R->n[s]);
        }
        finish_record(R, rec, t0);
    }
    sc_free(&sc);
}

static ad_status too_big(const gc_run *R, double elements)
{
    return ad_fail(AD_ERR_ARG,
                   "gradcheck %s: the inputs and output hold %.0f elements, more than gradcheck checks (%lld); a "
                   "smaller --shape checks the same derivative rule",
                   R->name, elements, (long long)AD_GC_MAX_ELEMENTS);
}

/* Refuse a check that would run for hours or exhaust memory: every full
 * Jacobian costs n_s evaluations of f over `total` elements, and holds
 * m·n_s entries (three times: numerical, reverse, forward). */
static ad_status size_guard(const gc_run *R, int64_t total)
{
    if (total > AD_GC_MAX_ELEMENTS) return too_big(R, (double)total);
    if (R->o->fast) return AD_OK;
    for (int s = 0; s < R->n_in; s++) {
        if (!diff(R, s)) continue;
        double cost = (double)R->n[s] * (double)total, entries = (double)R->n[s] * (double)R->m;
        if (entries > (double)AD_GC_MAX_ELEMENTS)
            return ad_fail(AD_ERR_ARG,
                           "gradcheck %s: the full Jacobian with respect to input %d is %lld x %lld, more entries than "
                           "gradcheck holds (%lld); use --fast (random projections u^T J v, for inputs of any size) "
                           "or a smaller --shape",
                           R->name, s, (long long)R->m, (long long)R->n[s], (long long)AD_GC_MAX_ELEMENTS);
        if (cost > AD_GC_MAX_FULL_COST)
            return ad_fail(AD_ERR_ARG,
                           "gradcheck %s: the full Jacobian with respect to input %d is %lld x %lld; building it takes "
                           "%.2g element evaluations, more than gradcheck runs (%.2g); use --fast (random projections "
                           "u^T J v, for inputs of any size) or a smaller --shape",
                           R->name, s, (long long)R->m, (long long)R->n[s], cost, AD_GC_MAX_FULL_COST);
    }
    return AD_OK;
}

/* ad_gradcheck_fn, and for an AD_OP_BATCHED op (batched0) the batch items
 * of input 0, where the shapes have them: input 0 at least 2-d, and the
 * output's first dimension the same. */
static ad_status gradcheck_run(const char *name, const char *label, ad_gc_fn f, void *user, int n_in,
                               const ad_tensor *const *inputs, unsigned nondiff, bool batched0,
                               const ad_gc_options *opts, ad_gc_report *r)
{
    ad_gc_options defaults;
    if (!opts) {
        ad_gc_default_options(&defaults);
        opts = &defaults;
    }
    if (!f || !r || n_in < 1 || n_in > AD_MAX_INPUTS || !inputs)
        return ad_fail(AD_ERR_ARG, "gradcheck: needs a function, 1 to %d inputs and a report", AD_MAX_INPUTS);
    if (!(opts->eps > 0) || !(opts->atol >= 0) || !(opts->rtol >= 0))
        return ad_fail(AD_ERR_ARG, "gradcheck: eps must be > 0 and atol, rtol >= 0 (got %g, %g, %g)", opts->eps,
                       opts->atol, opts->rtol);
    if (opts->threads < 0 || opts->threads > GC_MAX_THREADS)
        return ad_fail(AD_ERR_ARG, "gradcheck: threads must be 0 to %d (got %d)", GC_MAX_THREADS, opts->threads);
    if (opts->device != AD_CPU && opts->device != AD_CUDA)
        return ad_fail(AD_ERR_ARG, "gradcheck: device %d is neither AD_CPU nor AD_CUDA", opts->device);
    if (opts->device == AD_CUDA && !ad_gpu_available()) return ad_last_status();
    gc_run R = {.name = name ? name : "f", .label = label, .f = f, .user = user, .n_in = n_in, .nondiff = nondiff,
                .device = (ad_device)opts->device, .o = opts, .r = r};
    ad_status st = AD_OK;
    int64_t total = 0;
    for (int s = 0; s < n_in && st == AD_OK; s++) {
        if (!inputs[s]) {
            st = ad_fail(AD_ERR_ARG, "gradcheck %s: input %d is NULL", R.name, s);
            break;
        }
        R.ndim[s] = inputs[s]->ndim;
        memcpy(R.shape[s], inputs[s]->shape, sizeof R.shape[s]);
        R.n[s] = inputs[s]->size;
        if ((total += R.n[s]) > AD_GC_MAX_ELEMENTS) {
            st = too_big(&R, total);
            break;
        }
        if (!(R.x[s] = malloc((size_t)(R.n[s] ? R.n[s] : 1) * sizeof(double))))
            st = ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for a copy of input %d", R.name, s);
        else st = ad_tensor_copy_out(inputs[s], R.x[s], R.n[s]);
    }
    /* The output's shape, from one evaluation. */
    if (st == AD_OK) {
        ad_context *ctx = ad_context_new();
        ad_node *leaves[AD_MAX_INPUTS];
        ad_node *y = build(&R, ctx, leaves, false);
        if (!y) st = ad_last_status();
        else {
            R.out = ad_value(y);
            R.out.data = NULL;
            R.m = R.out.size;
            int64_t b = R.ndim[0] >= 2 ? R.shape[0][0] : 0;
            R.items = batched0 && b >= 2 && R.out.ndim >= 1 && R.out.shape[0] == b ? b : 1;
        }
        ad_context_free(ctx);
    }
    if (st == AD_OK) st = size_guard(&R, total + R.m);
    if (st == AD_OK && !(R.rng = gsl_rng_alloc(gsl_rng_mt19937))) st = sc_status(&R, "random generator");
    /* The engine's kernels one thread each: a check is thousands of passes
     * over small tensors, where forking per kernel costs more than the work
     * (and idle OpenMP threads spin between kernels). Results do not depend
     * on the thread count (ad_parallel.h). */
    int threads = ad_threads();
    if (st == AD_OK) ad_set_threads(1);
    if (st == AD_OK) {
        gsl_rng_set(R.rng, opts->seed);
        if (opts->fast) {
            check_fast(&R);
        } else {
            check_jacobians(&R);
        }
        if (opts->mode == AD_GC_BOTH) check_dot_product(&R);
        if (opts->mode & AD_GC_REV) check_determinism(&R);
        if (opts->mode & AD_GC_REV) check_block(&R);
        if (opts->device == AD_CUDA) check_devices_agree(&R);
        gsl_rng_free(R.rng);
    }
    ad_set_threads(threads);
    ad_context_free(R.eval_ctx);
    ad_context_free(R.grad_ctx);
    ad_context_free(R.fwd_ctx);
    for (int s = 0; s < n_in; s++) {
        free(R.x[s]);
        free(R.pre[s]);
    }
    return st;
}

ad_status ad_gradcheck_fn(const char *name, const char *label, ad_gc_fn f, void *user, int n_in,
                          const ad_tensor *const *inputs, unsigned nondiff, const ad_gc_options *opts, ad_gc_report *r)
{
    return gradcheck_run(name, label, f, user, n_in, inputs, nondiff, false, opts, r);
}

/* ---- registered ops ---- */
typedef struct op_call {
    const ad_op *op;
    const ad_op_case *c;
} op_call;

static ad_node *call_op(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    const op_call *oc = user;
    return ad_apply(ctx, oc->op, in, n, &oc->c->params);
}

ad_status ad_gradcheck_op_case(const ad_op *op, const ad_op_case *c, const ad_gc_options *opts, ad_gc_report *r)
{
    ad_gc_options defaults;
    if (!opts) {
        ad_gc_default_options(&defaults);
        opts = &defaults;
    }
    if (!op || !c) return ad_fail(AD_ERR_ARG, "gradcheck: op or case is NULL");
    if (c->n_in < op->n_in_min || c->n_in > op->n_in)
        return ad_fail(AD_ERR_ARG, "gradcheck %s: the case has %d inputs; the op takes %d to %d", op->name, c->n_in,
                       op->n_in_min, op->n_in);
    ad_tensor *t[AD_MAX_INPUTS] = {0};
    ad_status st = AD_OK;
    /* the inputs' size before allocating them (a --shape can ask for 2^62 elements) */
    double total = 0;
    for (int s = 0; s < c->n_in; s++) {
        double n = 1;
        for (int d = 0; d < c->ndim[s]; d++) n *= (double)c->shape[s][d];
        total += n;
    }
    if (total > (double)AD_GC_MAX_ELEMENTS) {
        gc_run R = {.name = op->name};
        return too_big(&R, total);
    }
    for (int s = 0; s < c->n_in && st == AD_OK; s++)
        if (!(t[s] = ad_tensor_new(AD_FLOAT64, c->ndim[s], c->shape[s]))) st = ad_last_status();
    gsl_rng *rng = st == AD_OK ? gsl_rng_alloc(gsl_rng_mt19937) : NULL;
    if (st == AD_OK && !rng) st = ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the random generator", op->name);
    if (rng) gsl_rng_set(rng, opts->seed ^ 0x5bd1e995UL);
    op_call oc = {op, c};
    /* Draw until the inputs are a margin away from every kink. */
    bool drawn = false;
    for (int attempt = 0; attempt < 200 && st == AD_OK && !drawn; attempt++) {
        for (int s = 0; s < c->n_in; s++) {
            ad_domain d = op->domain[s];
            if (d.lo == 0 && d.hi == 0) d = (ad_domain){-2, 2};
            if (op->sample_input && (op->nondiff_inputs & (1u << s))) op->sample_input(c, s, t[s], rng);
            else
                for (int64_t j = 0; j < t[s]->size; j++) ad_tensor_set(t[s], j, gsl_ran_flat(rng, d.lo, d.hi));
        }
        if (!op->kink_gap) {
            drawn = true;
            break;
        }
        ad_context *ctx = ad_context_new();
        ad_node *in[AD_MAX_INPUTS];
        for (int s = 0; s < c->n_in; s++) in[s] = ad_from_tensor(ctx, t[s], true);
        ad_node *y = call_op(ctx, in, c->n_in, &oc);
        if (!y) st = ad_last_status();
        else drawn = op->kink_gap(ad_node_of(y)) >= opts->kink_margin;   /* a kernel: given the node */
        ad_context_free(ctx);
    }
    if (rng) gsl_rng_free(rng);
    if (st == AD_OK && !drawn)
        st = ad_fail(AD_ERR_DOMAIN, "gradcheck %s [%s]: no draw of inputs in 200 landed %g away from the op's kinks",
                     op->name, c->label, opts->kink_margin);
    if (st == AD_OK)
        st = gradcheck_run(op->name, c->label, call_op, &oc, c->n_in, (const ad_tensor *const *)t, op->nondiff_inputs,
                           (op->flags & AD_OP_BATCHED) != 0, opts, r);
    for (int s = 0; s < AD_MAX_INPUTS; s++) ad_tensor_free(t[s]);
    return st;
}

ad_status ad_gradcheck_op(const ad_op *op, const ad_gc_options *o, ad_gc_report *r)
{
    if (!op) return ad_fail(AD_ERR_ARG, "gradcheck: op is NULL");
    if (op->n_cases == 0) return ad_fail(AD_ERR_ARG, "gradcheck %s: the op has no default cases to check", op->name);
    for (int k = 0; k < op->n_cases; k++) {
        ad_status st = ad_gradcheck_op_case(op, &op->cases[k], o, r);
        if (st != AD_OK) return st;
    }
    return AD_OK;
}
