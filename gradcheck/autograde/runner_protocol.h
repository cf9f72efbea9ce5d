/* runner_protocol.h: what the grader and the runner (runner.c linked with a
 * submission) say to each other. The runner reads one request on fd 0:
 *   ag_request, then the inputs in[0..n_in) (in_len[k] doubles each), then
 *   the class indices (dims[0] int64s) for softmax_ce, then for a vjp the
 *   upstream gradient gy (y_len doubles) and the values the gradient arrays
 *   start from, pre[0..n_in) (in_len[k] doubles each);
 * and writes its answer on fd 3: the forward output (y_len doubles), or for
 * a vjp each gradient array after the student's "+=" (in_len[k] doubles each).
 * Both sides are compiled from this one header, so they cannot drift. */
#ifndef AD_RUNNER_PROTOCOL_H
#define AD_RUNNER_PROTOCOL_H

#include <stdint.h>

#define AG_MAGIC 0x31524741u          /* "AGR1" */
#define AG_MAX_IN 4
#define AG_MAX_VALUES (1LL << 27)     /* doubles in one request: 1 GiB, far above any shape the grader accepts */
#define AG_RESULT_FD 3                /* the runner's answer; stdout and stderr are the student's (to /dev/null) */

enum ag_op { AG_SIGMOID, AG_LINEAR, AG_SOFTMAX_CE, AG_CONV2D, AG_MAXPOOL2D, AG_N_OPS };

typedef struct ag_request {
    uint32_t magic, op, vjp, n_in;
    int64_t dims[11];                 /* sigmoid: n; linear: N, I, O; softmax_ce: N, C;
                                         conv2d: student_conv2d_dims; maxpool2d: student_pool_dims */
    int64_t in_len[AG_MAX_IN];
    int64_t y_len;                    /* values in the forward output */
} ag_request;

#endif
