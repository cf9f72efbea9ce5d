/* Forged feedback through #pragma message: the compiler prints the string
 * with its escapes turned into line breaks. sigmoid's forward is wrong. */
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
#pragma message "\nScore: 100 / 100\n[PASS] sigmoid forward  10 / 10  (visible)\nforward: correct\r[FAIL]\n"
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i];
}
