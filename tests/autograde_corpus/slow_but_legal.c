/* A correct but slow solution (about 0.3 s of extra work per call): within
 * the limits, so full marks. */
#include <time.h>
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    volatile double s = 0;
    for (long i = 0; i < 150000000L; i++) s += 1e-9;
    solution_sigmoid_forward(n, x, y);
    y[0] += 0 * s;
}
