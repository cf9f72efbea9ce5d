/* sigmoid's backward calls exit(0) before returning anything. */
#include <stdlib.h>
#define student_sigmoid_vjp solution_sigmoid_vjp
#include "@SOLUTION@"
#undef student_sigmoid_vjp
void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)
{
    (void)n, (void)x, (void)gy, (void)gx;
    exit(0);
}
