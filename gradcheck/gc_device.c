/* gc_device.c: --device cuda: the GPU's forward, vjp and jvp against the CPU's. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

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
            ad_tensor t = s >= 0 ? gc_input_shape(R, s) : R->out;
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
void gc_check_devices_agree(gc_run *R)
{
    scratch sc = {0};
    double *r = gc_scratch_alloc(&sc, R->m, false), *v[AD_MAX_INPUTS];
    for (int64_t o = 0; r && o < R->m; o++) r[o] = gsl_ran_gaussian(R->rng, 1.0);
    gc_random_dirs(R, &sc, v, NULL);
    unsigned long prefill = gsl_rng_get(R->rng);
    double *y[2], *t[2], *g[2][AD_MAX_INPUTS] = {{0}};
    ad_status st[2];
    for (int k = 0; k < 2; k++) {   /* k = 0: the CPU, 1: the GPU */
        R->device = k ? AD_CUDA : AD_CPU;
        y[k] = gc_scratch_alloc(&sc, R->m, false);
        t[k] = gc_scratch_alloc(&sc, R->m, false);
        for (int s = 0; s < R->n_in; s++) g[k][s] = gc_diff(R, s) ? gc_scratch_alloc(&sc, R->n[s], false) : NULL;
        st[k] = sc.failed ? gc_scratch_status(R, "device comparison") : gc_eval(R, y[k]);
        if (st[k] == AD_OK && (R->o->mode & AD_GC_REV)) st[k] = gc_vjp_all(R, GC_ONE, r, g[k], prefill, false);
        if (st[k] == AD_OK && (R->o->mode & AD_GC_FWD)) st[k] = gc_jvp_cols(R, -1, 0, 1, v, t[k]);
    }
    R->device = AD_CUDA;
    R->grad_y = NULL;   /* the graph in grad_ctx was rebuilt on each device: build afresh next time */
    for (int c = AD_GC_DEVICE_FORWARD; c <= AD_GC_DEVICE_JVP; c++) {
        if ((c == AD_GC_DEVICE_VJP && !(R->o->mode & AD_GC_REV)) || (c == AD_GC_DEVICE_JVP && !(R->o->mode & AD_GC_FWD)))
            continue;
        double t0 = gc_now();
        ad_gc_record *rec = gc_new_record(R, -1, (ad_gc_check)c);
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
        gc_finish_record(R, rec, t0);
    }
    gc_scratch_free(&sc);
}
