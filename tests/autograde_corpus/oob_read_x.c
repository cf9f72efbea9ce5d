/* sigmoid's forward is right and also reads x[n], one past the end. */
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    volatile double past = x[n];
    (void)past;
    solution_sigmoid_forward(n, x, y);
}
