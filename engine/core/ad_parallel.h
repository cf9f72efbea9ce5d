/* ad_parallel.h: how many CPU threads the engine's kernels use.
 *
 * The CPU kernels that are worth splitting (conv2d, pooling, the
 * elementwise ops on big tensors, the optimizer step) split their work over
 * the engine's own threads (OpenMP); BLAS runs single-threaded inside each of
 * them, so a GEMM never spawns threads of its own.
 *
 * Every kernel splits its work into pieces chosen from the shapes alone,
 * never from the thread count, and adds partial sums in a fixed order: a
 * result is the same, bit for bit, whatever the number of threads. */
#ifndef AD_PARALLEL_H
#define AD_PARALLEL_H

#include <stdint.h>
#include "ad_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The number of threads the kernels use, 1 to 256. Default: OMP_NUM_THREADS
 * where it is set (256 where it says more), else the cores the process may
 * run on (OpenMP's own default). */
int ad_threads(void);
/* Use n threads (1 <= n <= 256). Fails, naming the reason, in a build
 * without OpenMP when n > 1. */
ad_status ad_set_threads(int n);

/* Below this many numbers touched, a kernel runs on one thread: waking a
 * thread costs a few microseconds, about 16K numbers' work. The kernels'
 * threaded paths start here (their ad_op_path thresholds name it). */
#define AD_PAR_MIN_ELEMENTS ((int64_t)1 << 14)

/* For a kernel: the threads to split `pieces` independent pieces over,
 * touching `elements` numbers in all: one where elements < AD_PAR_MIN_ELEMENTS
 * (forking would cost more than the work), never more than there are pieces. */
int ad_threads_for(int64_t pieces, int64_t elements);
/* How many times, on the calling thread, ad_threads_for has given a kernel
 * more than one thread: gradcheck reads it before and after a threaded
 * path's probe, so that a probe which no longer reaches its path (a
 * threshold moved) fails instead of checking the one-thread path twice. */
uint64_t ad_threads_split_count(void);

#ifdef __cplusplus
}
#endif
#endif
