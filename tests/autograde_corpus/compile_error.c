/* Does not compile: every test fails, with the compiler's message. */
#include "ad_student.h"
void student_sigmoid_forward(int64_t n, const double *x, double *y) { y[0] = x[0] + }
