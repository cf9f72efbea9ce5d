/* gc_jacobian_print.c: every entry of the Jacobians side by side (--print-jacobian). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

/* Every entry of input s's Jacobians (small cases: --jacobian). numT is the
 * numerical one by columns; the reverse- and forward-mode ones are made here
 * again (rows, and blocks of columns), as the checks keep neither. */
void gc_print_jacobian(gc_run *R, int s, const double *numT)
{
    FILE *f = R->o->jacobian_out;
    int64_t m = R->m, n = R->n[s];
    scratch sc = {0};
    double *rev = (R->o->mode & AD_GC_REV) ? gc_scratch_alloc(&sc, m * n, false) : NULL;
    double *fwd = (R->o->mode & AD_GC_FWD) ? gc_scratch_alloc(&sc, m * n, false) : NULL;
    int64_t B = gc_block_rows(R);
    double *cot = gc_scratch_alloc(&sc, B * m, true), *blk = gc_scratch_alloc(&sc, JB * m, false), *tile[AD_MAX_INPUTS] = {0};
    for (int u = 0; u < R->n_in; u++) tile[u] = gc_diff(R, u) ? gc_scratch_alloc(&sc, B * R->n[u], false) : NULL;
    if (sc.failed) {
        fprintf(f, "Jacobian of %s w.r.t. input %d: out of memory to print it\n", R->name, s);
        gc_scratch_free(&sc);
        return;
    }
    for (int64_t o0 = 0; rev && o0 < m; o0 += B) {   /* the rows as the reverse sweep makes them */
        int rows = (int)(m - o0 < B ? m - o0 : B);
        ad_status st = gc_jacobian_rows(R, o0, rows, cot, tile, R->pre_seed, o0 > 0);
        for (int64_t k = 0; k < rows * n; k++) rev[o0 * n + k] = st == AD_OK ? tile[s][k] : NAN;
    }
    for (int64_t c0 = 0; fwd && c0 < n; c0 += JB) {   /* the columns as the forward check makes them */
        int k = (int)(n - c0 < JB ? n - c0 : JB);
        ad_status st = gc_jvp_cols(R, s, c0, k, NULL, blk);
        for (int d = 0; d < k; d++)
            for (int64_t o = 0; o < m; o++) fwd[o * n + c0 + d] = st == AD_OK ? blk[(int64_t)d * m + o] : NAN;
    }
    char oi[48], ii[48];
    ad_tensor tin = gc_input_shape(R, s);
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
    gc_scratch_free(&sc);
}
