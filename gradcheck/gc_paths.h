/* gc_paths.h: what gc_paths.c (the checks of the kernels' paths) and
 * gc_paths_probe.c (a probe's inputs, passes and records) share. Not
 * installed; hidden in libautodidact_gradcheck. */
#ifndef GC_PATHS_H
#define GC_PATHS_H

#include <gsl/gsl_rng.h>
#include "gc_internal.h"

#pragma GCC visibility push(hidden)

/* The distance from the kinks the direction check's inputs keep (see
 * FD_STEP in gc_paths.c), and the draws tried for it. */
#define KINK_MARGIN 1e-5
enum { MAX_DRAWS = 50, MAX_BUFS = 40 };

/* One probe: an op's case checked as one of its paths. */
typedef struct probe {
    const ad_op *op;
    const ad_op_case *c;
    char label[128];           /* the records' case label */
    const char *path, *when, *reference;
    /* the user's case on 2+ threads (not one of the op's path probes): below
     * every threshold no kernel splits its work, and then there is nothing
     * to compare, which its record says ("not checked"), not a failure */
    bool users_case;
    int64_t n[AD_MAX_INPUTS], m, k;   /* k: the elements of the inputs and the output */
    double *x[AD_MAX_INPUTS], *pre[AD_MAX_INPUTS], *v[AD_MAX_INPUTS], *u;
    double *xp[AD_MAX_INPUTS], *xm[AD_MAX_INPUTS];   /* x ± h v; xm also the thread check's reflected x */
    void *buf[MAX_BUFS];
    int n_buf;
} probe;

/* One pass through the kernels: the value, each input's grad (the pre-fill
 * plus the vjp of u; NULL for a constant input) and the tangent along v, as
 * doubles (a float32 widens exactly, so equal doubles are equal bits). */
typedef struct pass {
    double *y, *g[AD_MAX_INPUTS], *t;
} pass;

/* The passes a probe's checks compare, made once: qa, qb (1 thread and
 * several; or the pass at x and at x + h v), qc (x - h v), q64 (float64's,
 * which float32's is compared with). */
typedef struct passes {
    pass qa, qb, qc, q64;
} passes;

static inline bool gcp_diff(const probe *P, int s) { return !(P->op->nondiff_inputs & (1u << s)); }

/* P's sizes (n, m, k) from its case and its buffers; the full-Jacobian cost
 * Σ_s n_s·(Σ n + m) into *cost. */
ad_status gcp_probe_setup(probe *P, passes *Q, double *cost);
void gcp_probe_free(probe *P);
/* Inputs (float32 numbers: both dtypes see the same), pre-fill, u and v
 * drawn from seed: with the op's kinks planted (the thread check's), or a
 * margin KINK_MARGIN away from them (the direction check's). */
ad_status gcp_draw_with_kinks(probe *P, unsigned long seed);
ad_status gcp_draw_off_kinks(probe *P, unsigned long seed);
/* The op at x in dtype dt on `threads` kernel threads: its value and, with
 * `all`, the vjp of u into the pre-filled grads and the jvp along v. */
ad_status gcp_run_pass(const probe *P, double *const *x, ad_dtype dt, int threads, bool all, pass *q);
/* A new record of P (passing until said otherwise), and its end. */
ad_gc_record *gcp_new_rec(const probe *P, ad_gc_report *r, ad_gc_check check, ad_dtype dt);
void gcp_finish(ad_gc_report *r, ad_gc_record *rec, double t0, ad_status st);

#pragma GCC visibility pop

#endif
