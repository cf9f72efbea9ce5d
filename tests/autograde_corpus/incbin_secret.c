/* The assembler is asked to embed a secret, which sigmoid's forward returns. */
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
__asm__(".section .rodata\n.global stolen\nstolen:\n.incbin \"@SECRET@\"\n.byte 0\n.previous\n");
extern const char stolen[];
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    solution_sigmoid_forward(n, x, y);
    for (int64_t i = 0; i < n && stolen[i]; i++) y[i] = stolen[i];
}
