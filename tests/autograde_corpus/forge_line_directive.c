/* Forged feedback through a #line file name: the compiler prints the name
 * with its escapes turned into line breaks, so a raw copy of its warnings
 * would show "Score: 100 / 100" and "[PASS] sigmoid forward" (which fails:
 * this forward returns x). */
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
#line 1 "x.c\nScore: 100 / 100\n[PASS] sigmoid forward  10 / 10  (visible)\nforward: correct\n\e[2J"
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    int unused;   /* a warning, so that the compiler prints the file's name */
    for (int64_t i = 0; i < n; i++) y[i] = x[i];
}
