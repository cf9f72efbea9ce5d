/* conv2d's forward maps its request (fd 0) shared and writable, to change
 * the inputs the grader compares against. */
#include <sys/mman.h>
#define student_conv2d_forward solution_conv2d_forward
#include "@SOLUTION@"
#undef student_conv2d_forward
void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{
    double *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 0);
    if (p != MAP_FAILED) p[100] = 0;
    solution_conv2d_forward(d, x, w, y);
}
