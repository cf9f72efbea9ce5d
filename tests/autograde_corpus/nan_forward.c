/* sigmoid's forward returns NaN everywhere and conv2d's forward +Inf. */
#include <math.h>
#define student_sigmoid_forward solution_sigmoid_forward
#define student_conv2d_forward solution_conv2d_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
#undef student_conv2d_forward
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = NAN + x[i];
}
void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{
    solution_conv2d_forward(d, x, w, y);
    y[0] = INFINITY;
}
