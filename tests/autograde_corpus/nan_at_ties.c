/* Max-pool's backward puts NaN on every tied maximum: NaN compares false, so
 * a check written as "fail if the error > tol" would pass it. */
#include <math.h>
#define student_maxpool2d_vjp solution_maxpool2d_vjp
#include "@SOLUTION@"
#undef student_maxpool2d_vjp
void student_maxpool2d_vjp(const student_pool_dims *d, const double *x, const double *gy, double *gx)
{
    solution_maxpool2d_vjp(d, x, gy, gx);
    for (int64_t plane = 0; plane < d->N * d->C; plane++)
        for (int64_t p = 0; p < d->P; p++)
            for (int64_t q = 0; q < d->Q; q++) {
                double m = -INFINITY;
                for (int64_t r = 0; r < d->window; r++)
                    for (int64_t s = 0; s < d->window; s++)
                        m = fmax(m, x[plane * d->H * d->W + (p * d->stride + r) * d->W + q * d->stride + s]);
                for (int64_t r = 0; r < d->window; r++)
                    for (int64_t s = 0; s < d->window; s++) {
                        int64_t i = plane * d->H * d->W + (p * d->stride + r) * d->W + q * d->stride + s;
                        if (x[i] == m) gx[i] = NAN;
                    }
            }
}
