/* softmax's backward sleeps in a system call instead of spinning. */
#define _DEFAULT_SOURCE
#include <unistd.h>
#define student_softmax_ce_vjp solution_softmax_ce_vjp
#include "@SOLUTION@"
#undef student_softmax_ce_vjp
void student_softmax_ce_vjp(int64_t N, int64_t C, const double *l, const int64_t *t, double g, double *gl)
{
    sleep(1000);
    solution_softmax_ce_vjp(N, C, l, t, g, gl);
}
