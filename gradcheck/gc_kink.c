/* gc_kink.c: telling a kink (a jump in the derivative) from a wrong rule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

void gc_kink_free(kink_info *k, int64_t n)
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
    ad_status st = gc_eval(R, k->fp);
    R->x[s][i] = x0 - h;
    if (st == AD_OK) st = gc_eval(R, k->fm);
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
bool gc_at_kink(gc_run *R, kink_info *k, int s, int64_t o, int64_t i, double tol)
{
    kink_col *c = kink_column(R, k, s, i);
    if (!c) return false;
    double gap = fabs(c->right[o] - c->left[o]);
    if (!(gap > tol)) return false;
    if (c->flag[o] == 0) {
        double h = R->o->eps / 2, x0 = R->x[s][i];
        R->x[s][i] = x0 + h;
        ad_status st = gc_eval(R, k->fp);
        R->x[s][i] = x0 - h;
        if (st == AD_OK) st = gc_eval(R, k->fm);
        R->x[s][i] = x0;
        for (int64_t q = 0; q < R->m; q++) {
            double g = fabs(c->right[q] - c->left[q]);
            double half = fabs(k->fp[q] - 2 * k->f0[q] + k->fm[q]) / h;   /* the gap at h/2 */
            c->flag[q] = st == AD_OK && half >= 0.75 * g ? 1 : 2;
        }
    }
    return c->flag[o] == 1;
}
