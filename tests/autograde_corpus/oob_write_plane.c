/* conv2d's backward is right, then zeroes one plane more than gx has (a
 * channel loop that runs to C inclusive): a write past gx. */
#define student_conv2d_vjp solution_conv2d_vjp
#include "@SOLUTION@"
#undef student_conv2d_vjp
void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx,
                        double *gw)
{
    solution_conv2d_vjp(d, x, w, gy, gx, gw);
    double *past = gx + d->N * d->C * d->H * d->W;
    for (int64_t i = 0; i < d->H * d->W; i++) past[i] = 0;
}
