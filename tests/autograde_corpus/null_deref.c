/* linear's backward dereferences NULL: that test crashes, the rest are graded. */
#include <stddef.h>
#define student_linear_vjp solution_linear_vjp
#include "@SOLUTION@"
#undef student_linear_vjp
void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy,
                        double *gx, double *gw, double *gb)
{
    double *volatile nothing = NULL;
    gx[0] += *nothing;
    solution_linear_vjp(N, I, O, x, w, gy, gx, gw, gb);
}
