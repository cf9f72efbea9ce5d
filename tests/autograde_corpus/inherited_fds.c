/* sigmoid's backward writes to every descriptor it might have inherited
 * from the grader (its output files, its log). */
#include <unistd.h>
#define student_sigmoid_vjp solution_sigmoid_vjp
#include "@SOLUTION@"
#undef student_sigmoid_vjp
void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)
{
    for (int fd = 4; fd < 256; fd++) (void)!write(fd, "{\"score\": 100}\n", 15);
    solution_sigmoid_vjp(n, x, gy, gx);
}
