/* linear's backward starts a thread (that could outlive the test). */
#include <pthread.h>
#define student_linear_vjp solution_linear_vjp
#include "@SOLUTION@"
#undef student_linear_vjp
static void *spin(void *arg) { for (;;) (void)arg; return 0; }
void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy,
                        double *gx, double *gw, double *gb)
{
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    solution_linear_vjp(N, I, O, x, w, gy, gx, gw, gb);
}
