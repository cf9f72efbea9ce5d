/* A sign error in sigmoid's backward. */
#define student_sigmoid_vjp solution_sigmoid_vjp
#include "@SOLUTION@"
#undef student_sigmoid_vjp
void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)
{
    for (int64_t i = 0; i < n; i++) {
        double y = 1 / (1 + exp(-x[i]));
        gx[i] -= gy[i] * y * (1 - y);
    }
}
