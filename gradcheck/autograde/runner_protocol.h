/* runner_protocol.h: what the grader and the runner (runner.c linked with a
 * submission) say to each other. The runner reads one request on fd 0:
 *   ag_request, then the inputs in[0..n_in) (in_len[k] doubles each), then
 *   the class indices (dims[0] int64s) for softmax_ce, then for a vjp the
 *   upstream gradient gy (y_len doubles) and the values the gradient arrays
 *   start from, pre[0..n_in) (in_len[k] doubles each);
 * and writes its answer on fd 3: an ag_reply, then (status AG_REPLY_OK) the
 * forward output (y_len doubles), or for a vjp each gradient array after
 * the student's "+=" (in_len[k] doubles each). A memory error in the
 * student's code is an ag_reply with status AG_REPLY_FAULT alone, and the
 * exit status AG_EXIT_FAULT.
 * Both sides are compiled from this one header, so they cannot drift. */
#ifndef AD_RUNNER_PROTOCOL_H
#define AD_RUNNER_PROTOCOL_H

#include <stdint.h>

#define AG_MAGIC 0x31524741u          /* "AGR1" */
#define AG_MAX_IN 4
#define AG_MAX_VALUES (1LL << 27)     /* doubles in one request: 1 GiB, far above any shape the grader accepts */
#define AG_RESULT_FD 3                /* the runner's answer; stdout and stderr are the student's (to /dev/null) */

enum ag_op { AG_SIGMOID, AG_LINEAR, AG_SOFTMAX_CE, AG_CONV2D, AG_MAXPOOL2D, AG_N_OPS };

/* The arrays the runner hands to student code, each in guarded memory
 * (runner.c): an ag_reply names one of them by these numbers. */
enum ag_buffer { AG_BUF_IN = 0, AG_BUF_TARGETS = AG_MAX_IN, AG_BUF_GY, AG_BUF_OUT, AG_BUF_DIMS = AG_BUF_OUT + AG_MAX_IN,
                 AG_N_BUFS };
enum ag_access { AG_ACCESS_UNKNOWN, AG_ACCESS_READ, AG_ACCESS_WRITE };
#define AG_REPLY_MAGIC 0x31504c52u    /* "RLP1" */
enum { AG_REPLY_OK = 1, AG_REPLY_FAULT = 2, AG_EXIT_FAULT = 123 };

typedef struct ag_reply {
    uint32_t magic, status;
    int32_t buffer;                   /* a fault: which array (enum ag_buffer) */
    uint32_t access;                  /* enum ag_access */
    int64_t element;                  /* the element touched: < 0 before the array, >= its length past it */
} ag_reply;

_Static_assert(sizeof(ag_reply) % sizeof(double) == 0, "the answer's doubles follow the reply aligned");

typedef struct ag_request {
    uint32_t magic, op, vjp, n_in;
    int64_t dims[11];                 /* sigmoid: n; linear: N, I, O; softmax_ce: N, C;
                                         conv2d: student_conv2d_dims; maxpool2d: student_pool_dims */
    int64_t in_len[AG_MAX_IN];
    int64_t y_len;                    /* values in the forward output */
} ag_request;

#endif
