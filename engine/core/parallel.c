/* parallel.c: the engine's thread count (ad_parallel.h). */
#include "ad_parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int);
/* OpenBLAS's pthreads build (not its OpenMP one) exports this: weak, so that
 * a BLAS without it still links (the pointer is then NULL). */
void blas_thread_shutdown_(void) __attribute__((weak));

static int n_threads;   /* 0 until first asked: then OMP_NUM_THREADS, else the cores (ad_threads) */

static void blas_single(void)
{
    /* The engine's threads call BLAS; a BLAS that also spawned threads would
     * oversubscribe the cores. OpenBLAS starts its worker threads when it is
     * loaded, and each spins on sched_yield for about 2^28 cycles before it
     * sleeps (0.08 s of CPU per worker on cpu-2c, a tenth of a full conv2d
     * gradcheck): with one BLAS thread they never get work, so stop them. */
    static int done;
    if (!done) {
        openblas_set_num_threads(1);
        if (blas_thread_shutdown_) blas_thread_shutdown_();
    }
    done = 1;
}

int ad_threads(void)
{
    if (n_threads == 0) {
#ifdef _OPENMP
        /* OMP_NUM_THREADS where it is set, else the cores this process may run on */
        int n = omp_get_max_threads();
        n_threads = n < 1 ? 1 : n > 256 ? 256 : n;
#else
        n_threads = 1;
#endif
        blas_single();
    }
    return n_threads;
}

ad_status ad_set_threads(int n)
{
    if (n < 1 || n > 256) return ad_fail(AD_ERR_ARG, "set_threads: %d threads: need 1 to 256", n);
#ifndef _OPENMP
    if (n > 1) return ad_fail(AD_ERR_ARG, "set_threads: %d threads: this build has no OpenMP, so 1 thread only", n);
#endif
    blas_single();
    n_threads = n;
    return AD_OK;
}

/* ad_threads_split_count: per thread, as the kernel that asks runs on the
 * thread that applied it, so a count read around a probe's passes is the
 * probe's own, whatever other threads (gradcheck's workers) are running. */
static _Thread_local uint64_t splits;

int ad_threads_for(int64_t pieces, int64_t elements)
{
    int nt = ad_threads();
    if (elements < AD_PAR_MIN_ELEMENTS || pieces < 2) return 1;
    nt = pieces < nt ? (int)pieces : nt;
    if (nt > 1) splits++;
    return nt;
}

uint64_t ad_threads_split_count(void) { return splits; }
