/* max-pool's forward steps by the window instead of the stride (the same
 * when they are equal, as in the backward's test); its backward is right. */
#define student_maxpool2d_forward solution_maxpool2d_forward
#include "@SOLUTION@"
#undef student_maxpool2d_forward
void student_maxpool2d_forward(const student_pool_dims *d, const double *x, double *y)
{
    for (int64_t plane = 0; plane < d->N * d->C; plane++)
        for (int64_t p = 0; p < d->P; p++)
            for (int64_t q = 0; q < d->Q; q++) {
                double m = -1e300;
                for (int64_t r = 0; r < d->window; r++)
                    for (int64_t s = 0; s < d->window; s++) {
                        int64_t h = p * d->window + r, v = q * d->window + s;
                        if (h < d->H && v < d->W && x[(plane * d->H + h) * d->W + v] > m) m = x[(plane * d->H + h) * d->W + v];
                    }
                y[(plane * d->P + p) * d->Q + q] = m;
            }
}
