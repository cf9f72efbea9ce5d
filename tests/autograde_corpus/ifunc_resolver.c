/* An IFUNC resolver (run while the program is relocated, before any
 * constructor and before the C library is set up, hence the raw system
 * calls) opens a file to write into it through mmap, which RLIMIT_FSIZE
 * does not stop. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#define student_sigmoid_forward solution_sigmoid_forward
#include "@SOLUTION@"
#undef student_sigmoid_forward
static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
typedef void sigmoid_fn(int64_t, const double *, double *);
static sigmoid_fn *resolve_sigmoid(void)
{
    long fd = raw6(SYS_openat, AT_FDCWD, (long)"@CANARY@/canary.txt", O_RDWR, 0, 0, 0);
    if (fd >= 0) {
        char *p = (char *)raw6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if ((long)p > 0) p[0] = 'X';
    }
    return solution_sigmoid_forward;
}
void student_sigmoid_forward(int64_t n, const double *x, double *y) __attribute__((ifunc("resolve_sigmoid")));
