/* ad_bench.h: what the benchmark programs share (bench_conv2d, _expr,
 * _gpu, _hvp): the wall clock they time by. (bench_scalar times thread CPU
 * time instead, its own clock.) */
#ifndef AD_BENCH_H
#define AD_BENCH_H

#include <time.h>

/* Seconds on the monotonic clock. */
static inline double ad_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
