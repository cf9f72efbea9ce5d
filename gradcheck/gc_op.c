/* gc_op.c: registered ops: inputs drawn from an op's domain, away from its
 * kinks, and checked as a function of them. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

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
        return gc_too_big(&R, total);
    }
    for (int s = 0; s < c->n_in && st == AD_OK; s++)
        if (!(t[s] = ad_tensor_new(AD_FLOAT64, c->ndim[s], c->shape[s]))) st = ad_last_status();
    gsl_rng *rng = st == AD_OK ? gsl_rng_alloc(gsl_rng_mt19937) : NULL;
    if (st == AD_OK && !rng) st = ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the random generator", op->name);
    if (rng) gsl_rng_set(rng, opts->seed ^ 0x5bd1e995UL);
    op_call oc = {op, c};
    /* Inputs from the op's domain, each element clear of its kinks (gc_kink.c). */
    if (st == AD_OK) st = gc_draw_inputs(op, c, t, rng, opts->kink_margin, call_op, &oc);
    if (rng) gsl_rng_free(rng);
    if (st == AD_OK)
        st = gc_run_checks(op->name, c->label, call_op, &oc, c->n_in, (const ad_tensor *const *)t, op->nondiff_inputs,
                           (op->flags & AD_OP_BATCHED) != 0, opts, r);
    /* and at the kinks themselves, against the op's convention (gc_ties.c) */
    if (st == AD_OK && gc_first_order(opts)) st = gc_check_ties(op, c, opts, r, call_op, &oc);
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
