/* linear's weight gradient written transposed: gw[i][o] instead of gw[o][i]. */
#define student_linear_vjp solution_linear_vjp
#include "@SOLUTION@"
#undef student_linear_vjp
void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy,
                        double *gx, double *gw, double *gb)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double g = gy[n * O + o];
            gb[o] += g;
            for (int64_t i = 0; i < I; i++) {
                gx[n * I + i] += g * w[o * I + i];
                gw[i * O + o] += g * x[n * I + i];
            }
        }
}
