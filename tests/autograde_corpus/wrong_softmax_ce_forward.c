/* softmax cross-entropy's forward sums over the batch instead of taking the
 * mean; its backward is right. */
#define student_softmax_ce_forward solution_softmax_ce_forward
#include "@SOLUTION@"
#undef student_softmax_ce_forward
void student_softmax_ce_forward(int64_t N, int64_t C, const double *logits, const int64_t *t, double *loss)
{
    solution_softmax_ce_forward(N, C, logits, t, loss);
    *loss *= (double)N;
}
