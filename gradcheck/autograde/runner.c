/* runner.c: the main() that autograde links with a submission into one
 * static program, the runner. The grader starts it inside the sandbox, after
 * the seccomp filter, the limits and the unprivileged user are in place, so
 * everything the submission's code does, load-time code included
 * (constructors, .preinit_array, IFUNC resolvers), runs sandboxed.
 * It reads one request on fd 0, calls the student's function and writes the
 * arrays it returns to fd 3 (runner_protocol.h). It uses read, write and
 * malloc only: no stdio, so a student's printf cannot corrupt the answer. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
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

static double *read_doubles(int64_t n)
{
    if (n < 1 || n > AG_MAX_VALUES) _exit(125);
    double *a = malloc((size_t)n * sizeof *a);
    if (!a || read_all(a, (size_t)n * sizeof *a) != 0) _exit(125);
    return a;
}

int main(void)
{
    ag_request q;
    if (read_all(&q, sizeof q) != 0 || q.magic != AG_MAGIC || q.op >= AG_N_OPS || q.n_in < 1 || q.n_in > AG_MAX_IN)
        _exit(125);
    double *in[AG_MAX_IN] = {0}, *out[AG_MAX_IN] = {0}, *gy = NULL;
    int64_t *targets = NULL;
    for (uint32_t k = 0; k < q.n_in; k++) in[k] = read_doubles(q.in_len[k]);
    if (q.op == AG_SOFTMAX_CE) {
        if (q.dims[0] < 1 || q.dims[0] > AG_MAX_VALUES || !(targets = malloc((size_t)q.dims[0] * sizeof *targets)) ||
            read_all(targets, (size_t)q.dims[0] * sizeof *targets) != 0)
            _exit(125);
    }
    if (q.vjp) {
        gy = read_doubles(q.y_len);
        for (uint32_t k = 0; k < q.n_in; k++) out[k] = read_doubles(q.in_len[k]);
    } else {
        if (q.y_len < 1 || q.y_len > AG_MAX_VALUES || !(out[0] = calloc((size_t)q.y_len, sizeof(double)))) _exit(125);
    }
    const int64_t *d = q.dims;
    student_conv2d_dims cd = {d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10]};
    student_pool_dims pd = {d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]};
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
        if (q.vjp) student_conv2d_vjp(&cd, in[0], in[1], gy, out[0], out[1]);
        else student_conv2d_forward(&cd, in[0], in[1], out[0]);
        break;
    default:
        if (q.vjp) student_maxpool2d_vjp(&pd, in[0], gy, out[0]);
        else student_maxpool2d_forward(&pd, in[0], out[0]);
        break;
    }
    if (q.vjp) {
        for (uint32_t k = 0; k < q.n_in; k++)
            if (write_all(out[k], (size_t)q.in_len[k] * sizeof(double)) != 0) _exit(124);
    } else if (write_all(out[0], (size_t)q.y_len * sizeof(double)) != 0) {
        _exit(124);
    }
    _exit(0);   /* not exit(): the submission's atexit handlers and destructors have nothing to add */
}
