/* runner.c: the main() that autograde links with a submission into one
 * static program, the runner. The grader starts it inside the sandbox, after
 * the seccomp filter, the limits and the unprivileged user are in place, so
 * everything the submission's code does, load-time code included
 * (constructors, .preinit_array, IFUNC resolvers), runs sandboxed.
 * It reads one request on fd 0, calls the student's function and writes the
 * arrays it returns to fd 3 (runner_protocol.h). It uses read, write and
 * malloc only: no stdio, so a student's printf cannot corrupt the answer.
 *
 * Every array the student's code gets is guarded: it ends at a page boundary
 * followed by unmapped pages (as many as it has, up to GUARD_MAX), and starts
 * after an unmapped page and canary bytes filling the rest of its first
 * page. A read or write past the end faults in the guard, where the SIGSEGV
 * handler names the array and the element; a write before the start breaks
 * the canaries, checked after the call. Either way the test fails: code
 * whose in-range values are right but which touches memory it was not
 * given must not score. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include "ad_student.h"
#include "runner_protocol.h"

static int read_all(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(0, p, len);
        if (n <= 0) return -1;
        p += n, len -= (size_t)n;
    }
    return 0;
}

static int write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(AG_RESULT_FD, p, len);
        if (n <= 0) return -1;
        p += n, len -= (size_t)n;
    }
    return 0;
}

enum { GUARD_MAX = 1 << 20, CANARY = 0xa5 };

static struct guarded {
    char *map, *start;          /* the mapping; the array, which ends at a page boundary */
    size_t map_len, bytes, lead;   /* lead: unmapped bytes at the mapping's start */
} bufs[AG_N_BUFS];

/* A zeroed array of n elements of `size` bytes for buffer id. */
static void *guarded_alloc(int id, int64_t n, size_t size)
{
    if (n < 1 || n > AG_MAX_VALUES) _exit(125);
    size_t page = (size_t)getpagesize(), bytes = (size_t)n * size, data = (bytes + page - 1) / page * page;
    size_t after = data < GUARD_MAX ? data : GUARD_MAX;
    char *map = mmap(NULL, page + data + after, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + page, data, PROT_READ | PROT_WRITE) != 0) _exit(125);
    struct guarded *g = &bufs[id];
    *g = (struct guarded){map, map + page + data - bytes, page + data + after, bytes, page};
    memset(map + page, CANARY, data - bytes);
    return g->start;
}

static double *read_doubles(int id, int64_t n)
{
    double *a = guarded_alloc(id, n, sizeof *a);
    if (read_all(a, (size_t)n * sizeof *a) != 0) _exit(125);
    return a;
}

/* Report a fault on buffer id and leave: nothing else is sent. */
static void fault(int id, int64_t element, uint32_t access)
{
    ag_reply r = {AG_REPLY_MAGIC, AG_REPLY_FAULT, id, access, element};
    write_all(&r, sizeof r);
    _exit(AG_EXIT_FAULT);
}

static size_t elem_size(int id) { return id == AG_BUF_TARGETS || id == AG_BUF_DIMS ? sizeof(int64_t) : sizeof(double); }

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    const char *a = si->si_addr;
    uint32_t access = AG_ACCESS_UNKNOWN;
#if defined(__x86_64__)
    access = ((const ucontext_t *)ctx)->uc_mcontext.gregs[REG_ERR] & 2 ? AG_ACCESS_WRITE : AG_ACCESS_READ;
#else
    (void)ctx;
#endif
    for (int id = 0; id < AG_N_BUFS; id++) {
        const struct guarded *g = &bufs[id];
        if (!g->map || a < g->map || a >= g->map + g->map_len || (a >= g->start && a < g->start + g->bytes)) continue;
        int64_t e = (int64_t)elem_size(id), off = a - g->start;
        fault(id, off >= 0 ? off / e : -((-off + e - 1) / e), access);
    }
    signal(sig, SIG_DFL);   /* not one of ours: the fault happens again and kills the runner */
}

/* The canaries before each array: a write there is a write before it. */
static void check_canaries(void)
{
    for (int id = 0; id < AG_N_BUFS; id++) {
        const struct guarded *g = &bufs[id];
        const char *c = g->map + g->lead;
        for (; g->map && c < g->start; c++)
            if (*(const unsigned char *)c != CANARY) {
                int64_t e = (int64_t)elem_size(id);
                fault(id, -((g->start - c + e - 1) / e), AG_ACCESS_WRITE);
            }
    }
}

int main(void)
{
    ag_request q;
    if (read_all(&q, sizeof q) != 0 || q.magic != AG_MAGIC || q.op >= AG_N_OPS || q.n_in < 1 || q.n_in > AG_MAX_IN)
        _exit(125);
    double *in[AG_MAX_IN] = {0}, *out[AG_MAX_IN] = {0}, *gy = NULL;
    int64_t *targets = NULL;
    for (uint32_t k = 0; k < q.n_in; k++) in[k] = read_doubles(AG_BUF_IN + (int)k, q.in_len[k]);
    if (q.op == AG_SOFTMAX_CE) {
        targets = guarded_alloc(AG_BUF_TARGETS, q.dims[0], sizeof *targets);
        if (read_all(targets, (size_t)q.dims[0] * sizeof *targets) != 0) _exit(125);
    }
    if (q.vjp) {
        gy = read_doubles(AG_BUF_GY, q.y_len);
        for (uint32_t k = 0; k < q.n_in; k++) out[k] = read_doubles(AG_BUF_OUT + (int)k, q.in_len[k]);
    } else {
        out[0] = guarded_alloc(AG_BUF_OUT, q.y_len, sizeof(double));
    }
    const int64_t *d = q.dims;
    student_conv2d_dims *cd = NULL;
    student_pool_dims *pd = NULL;
    if (q.op == AG_CONV2D) {
        cd = guarded_alloc(AG_BUF_DIMS, sizeof *cd / sizeof(int64_t), sizeof(int64_t));
        *cd = (student_conv2d_dims){d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10]};
    } else if (q.op == AG_MAXPOOL2D) {
        pd = guarded_alloc(AG_BUF_DIMS, sizeof *pd / sizeof(int64_t), sizeof(int64_t));
        *pd = (student_pool_dims){d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]};
    }
    /* the handler runs on a stack of its own, so that a stack overflow
     * still ends in a plain crash rather than a second fault */
    static char alt[1 << 16];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0 || sigaction(SIGBUS, &sa, NULL) != 0) _exit(125);
    switch (q.op) {
    case AG_SIGMOID:
        if (q.vjp) student_sigmoid_vjp(d[0], in[0], gy, out[0]);
        else student_sigmoid_forward(d[0], in[0], out[0]);
        break;
    case AG_LINEAR:
        if (q.vjp) student_linear_vjp(d[0], d[1], d[2], in[0], in[1], gy, out[0], out[1], out[2]);
        else student_linear_forward(d[0], d[1], d[2], in[0], in[1], in[2], out[0]);
        break;
    case AG_SOFTMAX_CE:
        if (q.vjp) student_softmax_ce_vjp(d[0], d[1], in[0], targets, gy[0], out[0]);
        else student_softmax_ce_forward(d[0], d[1], in[0], targets, out[0]);
        break;
    case AG_CONV2D:
        if (q.vjp) student_conv2d_vjp(cd, in[0], in[1], gy, out[0], out[1]);
        else student_conv2d_forward(cd, in[0], in[1], out[0]);
        break;
    default:
        if (q.vjp) student_maxpool2d_vjp(pd, in[0], gy, out[0]);
        else student_maxpool2d_forward(pd, in[0], out[0]);
        break;
    }
    check_canaries();
    ag_reply ok = {AG_REPLY_MAGIC, AG_REPLY_OK, -1, 0, 0};
    if (write_all(&ok, sizeof ok) != 0) _exit(124);
    if (q.vjp) {
        for (uint32_t k = 0; k < q.n_in; k++)
            if (write_all(out[k], (size_t)q.in_len[k] * sizeof(double)) != 0) _exit(124);
    } else if (write_all(out[0], (size_t)q.y_len * sizeof(double)) != 0) {
        _exit(124);
    }
    _exit(0);   /* not exit(): the submission's atexit handlers and destructors have nothing to add */
}
