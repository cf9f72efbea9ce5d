/* softmax cross-entropy's backward reads a file outside its directory. */
#include <stdio.h>
#define student_softmax_ce_vjp solution_softmax_ce_vjp
#include "@SOLUTION@"
#undef student_softmax_ce_vjp
void student_softmax_ce_vjp(int64_t N, int64_t C, const double *logits, const int64_t *t, double gloss, double *glogits)
{
    FILE *f = fopen("/etc/passwd", "r");
    if (f) fclose(f);
    solution_softmax_ce_vjp(N, C, logits, t, gloss, glogits);
}
