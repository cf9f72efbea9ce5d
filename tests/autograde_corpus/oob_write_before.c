/* linear's backward is right and also writes gb[-1]: a write before the
 * array, into the canaries in front of it. */
#define student_linear_vjp solution_linear_vjp
#include "@SOLUTION@"
#undef student_linear_vjp
void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy, double *gx,
                        double *gw, double *gb)
{
    solution_linear_vjp(N, I, O, x, w, gy, gx, gw, gb);
    gb[-1] = 0;
}
