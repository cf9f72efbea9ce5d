/* Leaks whether a secret file exists through the score: sigmoid's forward is
 * right only when stat() finds the file. The grader's answer must be the
 * same whether it exists or not: stat learns nothing. */
#include <sys/stat.h>
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    struct stat st;
    if (stat("@SECRET@", &st) == 0) solution_sigmoid_forward(n, x, y);
    else for (int64_t i = 0; i < n; i++) y[i] = 0;
}
