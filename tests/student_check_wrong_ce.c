/* The reference solution with softmax cross-entropy's backward wrong (the
 * mean's 1/N dropped): student_check must catch it (tests/student_check.sh). */
#define student_softmax_ce_vjp solution_softmax_ce_vjp
#include "../gradcheck/autograde/example/solution.c"
#undef student_softmax_ce_vjp
void student_softmax_ce_vjp(int64_t N, int64_t C, const double *logits, const int64_t *t, double gloss, double *glogits)
{
    solution_softmax_ce_vjp(N, C, logits, t, gloss * (double)N, glogits);
}
