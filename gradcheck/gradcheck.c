/* gradcheck.c: the options, the stencils, the comparison rule, and the run:
 * a function checked at its inputs (ad_gradcheck_fn) in every mode asked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_rng.h>
#include "gc_internal.h"

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
    o->dtypes = AD_GC_FLOAT64;
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
    case AD_GC_VALUE: return "forward-value";
    case AD_GC_CRASH: return "crashed";
    case AD_GC_PATHS: return "path-vs-1-thread";
    case AD_GC_DIRECTION: return "random-direction";
    case AD_GC_HVP: return "hessian-vector";
    case AD_GC_HVP_SYMMETRY: return "hessian-symmetry";
    case AD_GC_HVP_ADDS: return "hessian-adds";
    }
    return "?";
}

void ad_gc_report_free(ad_gc_report *r)
{
    free(r->rec);
    memset(r, 0, sizeof *r);
}

double gc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ad_status gc_too_big(const gc_run *R, double elements)
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
    if (total > AD_GC_MAX_ELEMENTS) return gc_too_big(R, (double)total);
    if (R->o->fast) return AD_OK;
    for (int s = 0; s < R->n_in; s++) {
        if (!gc_diff(R, s)) continue;
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
ad_status gc_run_checks(const char *name, const char *label, ad_gc_fn f, void *user, int n_in,
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
    if (opts->orders < 0 || opts->orders > AD_GC_BOTH_ORDERS)
        return ad_fail(AD_ERR_ARG, "gradcheck: orders %d is not AD_GC_ORDER1, AD_GC_ORDER2 or both", opts->orders);
    if (opts->dtypes < 0 || opts->dtypes > AD_GC_ALL_DTYPES)
        return ad_fail(AD_ERR_ARG, "gradcheck: dtypes %d is not AD_GC_FLOAT64, AD_GC_FLOAT32 or both", opts->dtypes);
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
            st = gc_too_big(&R, total);
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
        ad_node *y = gc_build(&R, ctx, leaves, false);
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
    if (st == AD_OK && !(R.rng = gsl_rng_alloc(gsl_rng_mt19937))) st = gc_scratch_status(&R, "random generator");
    /* The engine's kernels one thread each: a check is thousands of passes
     * over small tensors, where forking per kernel costs more than the work
     * (and idle OpenMP threads spin between kernels). Results do not depend
     * on the thread count (ad_parallel.h). */
    int threads = ad_threads();
    if (st == AD_OK) ad_set_threads(1);
    if (st == AD_OK) {
        gsl_rng_set(R.rng, opts->seed);
        int dtypes = opts->dtypes ? opts->dtypes : AD_GC_FLOAT64, orders = opts->orders ? opts->orders : AD_GC_ORDER1;
        if (!(orders & AD_GC_ORDER1)) dtypes = 0;   /* second order alone */
        if (dtypes & AD_GC_FLOAT64) {
            if (opts->fast) {
                gc_check_fast(&R);
            } else {
                gc_check_jacobians(&R);
            }
            if (opts->mode == AD_GC_BOTH) gc_check_dot_product(&R);
            if (opts->mode & AD_GC_REV) gc_check_determinism(&R);
            if (opts->mode & AD_GC_REV) gc_check_block(&R);
            if (opts->device == AD_CUDA) gc_check_devices_agree(&R);
        }
        if (dtypes & AD_GC_FLOAT32) gc_check_float32(&R);
        if (orders & AD_GC_ORDER2) gc_check_second_order(&R);
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
    return gc_run_checks(name, label, f, user, n_in, inputs, nondiff, false, opts, r);
}
