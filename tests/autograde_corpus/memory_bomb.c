/* conv2d's backward allocates and touches memory without end. */
#include <stdlib.h>
#include <string.h>
#define student_conv2d_vjp solution_conv2d_vjp
#include "@SOLUTION@"
#undef student_conv2d_vjp
void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx,
                        double *gw)
{
    for (;;) {
        char *p = malloc(64 << 20);
        memset(p, 1, 64 << 20);   /* a NULL from the memory limit crashes here */
    }
    solution_conv2d_vjp(d, x, w, gy, gx, gw);
}
