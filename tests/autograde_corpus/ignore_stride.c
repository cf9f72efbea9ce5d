/* conv2d that ignores the stride (forward and backward). */
#define student_conv2d_forward solution_conv2d_forward
#define student_conv2d_vjp solution_conv2d_vjp
#include "@SOLUTION@"
#undef student_conv2d_forward
#undef student_conv2d_vjp
void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{
    student_conv2d_dims e = *d;
    e.stride = 1;
    solution_conv2d_forward(&e, x, w, y);
}
void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx,
                        double *gw)
{
    student_conv2d_dims e = *d;
    e.stride = 1;
    solution_conv2d_vjp(&e, x, w, gy, gx, gw);
}
