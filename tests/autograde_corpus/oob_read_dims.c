/* conv2d's forward is right and also reads past the end of its dims struct. */
#define student_conv2d_forward solution_conv2d_forward
#include "@SOLUTION@"
#undef student_conv2d_forward
void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{
    volatile int64_t past = ((const volatile int64_t *)d)[sizeof *d / sizeof(int64_t)];
    (void)past;
    solution_conv2d_forward(d, x, w, y);
}
