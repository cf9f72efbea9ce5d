/* sigmoid's backward is right on gx[0..n) and also writes gx[n]: a write
 * past the array it was given, which must fail whatever the values. */
#define student_sigmoid_vjp solution_sigmoid_vjp
#include "@SOLUTION@"
#undef student_sigmoid_vjp
void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)
{
    solution_sigmoid_vjp(n, x, gy, gx);
    gx[n] = 0.0;   /* one past the end */
}
