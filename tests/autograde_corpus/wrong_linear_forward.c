/* linear's forward forgets the bias; its backward is right. */
#define student_linear_forward solution_linear_forward
#include "@SOLUTION@"
#undef student_linear_forward
void student_linear_forward(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *b, double *y)
{
    (void)b;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double s = 0;
            for (int64_t i = 0; i < I; i++) s += x[n * I + i] * w[o * I + i];
            y[n * O + o] = s;
        }
}
