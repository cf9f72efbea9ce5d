/* conv2d's backward recurses without end. */
#define student_conv2d_vjp solution_conv2d_vjp
#include "@SOLUTION@"
#undef student_conv2d_vjp
static double deep(volatile double *p, long n) { volatile double big[64]; big[n % 64] = *p; return deep(big, n + 1) + big[0]; }
void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx, double *gw)
{
    double s = 1;
    gx[0] += 0 * deep(&s, 0);
    solution_conv2d_vjp(d, x, w, gy, gx, gw);
}
