/* max-pool that gives a tied window's gradient to its LAST maximum: a
 * different but valid subgradient, full marks. */
#define student_maxpool2d_vjp solution_maxpool2d_vjp
#include "@SOLUTION@"
#undef student_maxpool2d_vjp
void student_maxpool2d_vjp(const student_pool_dims *d, const double *x, const double *gy, double *gx)
{
    for (int64_t plane = 0; plane < d->N * d->C; plane++)
        for (int64_t p = 0; p < d->P; p++)
            for (int64_t q = 0; q < d->Q; q++) {
                int64_t best = -1;
                for (int64_t r = 0; r < d->window; r++)
                    for (int64_t s = 0; s < d->window; s++) {
                        int64_t i = plane * d->H * d->W + (p * d->stride + r) * d->W + q * d->stride + s;
                        if (best < 0 || x[i] >= x[best]) best = i;
                    }
                gx[best] += gy[(plane * d->P + p) * d->Q + q];
            }
}
