/* gc_pool.c: the worker threads of the full Jacobians. */
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gc_internal.h"

void gc_pool_free(gc_pool *P)
{
    for (int t = 0; t < P->n; t++) {
        free(P->tmp[t]);
        free(P->col[t]);
        if (t == 0) continue;
        gc_run *W = P->run[t];
        ad_context_free(W->eval_ctx);
        ad_context_free(W->grad_ctx);
        ad_context_free(W->fwd_ctx);
        for (int s = 0; s < W->n_in; s++) {
            free(W->x[s]);
            free(W->pre[s]);
        }
        free(W);
    }
    P->n = 0;
}

/* Copies of the run at its current inputs. Where memory runs short the
 * pool has fewer workers; with no room even for the caller's scratch, an
 * error. Jacobians of under 2^15 entries in all take the caller alone:
 * starting threads (tens of microseconds a round) would cost more than
 * their share of the work. */
ad_status gc_pool_init(gc_pool *P, gc_run *R)
{
    double entries = 0;
    for (int s = 0; s < R->n_in; s++) entries += gc_diff(R, s) ? (double)R->n[s] * (double)R->m : 0;
    int want = R->device == AD_CPU && R->o->threads > 1 && entries >= 32768 ? R->o->threads : 1;
    if (want > GC_MAX_THREADS) want = GC_MAX_THREADS;
    P->n = 0;
    for (int t = 0; t < want; t++) {
        gc_run *W = t == 0 ? R : malloc(sizeof *W);
        double *tmp = malloc((size_t)(R->m > 0 ? R->m : 1) * sizeof(double));
        double *col = malloc((size_t)(R->m > 0 ? R->m : 1) * sizeof(double));
        bool ok = W && tmp && col;
        if (ok && t > 0) {
            *W = *R;
            W->eval_ctx = W->grad_ctx = W->fwd_ctx = NULL;
            W->grad_y = NULL;
            W->rng = NULL;
            W->pre_made = false;
            for (int s = 0; s < R->n_in; s++) W->pre[s] = NULL;
            for (int s = 0; s < R->n_in; s++) {
                W->x[s] = malloc((size_t)(R->n[s] ? R->n[s] : 1) * sizeof(double));
                if (W->x[s]) memcpy(W->x[s], R->x[s], (size_t)R->n[s] * sizeof(double));
                else ok = false;
            }
            if (!ok) {
                for (int s = 0; s < R->n_in; s++) free(W->x[s]);
            }
        }
        if (!ok) {
            if (t > 0) free(W);
            free(tmp);
            free(col);
            break;
        }
        P->run[t] = W;
        P->tmp[t] = tmp;
        P->col[t] = col;
        P->n = t + 1;
    }
    return P->n > 0 ? AD_OK : gc_scratch_status(R, "Jacobians' scratch");
}

typedef struct gc_task {
    const gc_pool *P;
    int t, stride;                    /* worker t takes items first + t, + t + stride, ... */
    gc_item_fn fn;
    void *job;
    int64_t first, count;
    int64_t fail_item;                /* the first item that failed (-1: none) */
    ad_status st;
    char msg[1024];                   /* its message (a worker's error state is its own) */
    pthread_t tid;
} gc_task;

/* Task k's items on worker w (its own, or the caller's for a task whose
 * thread could not start). */
static void task_items(gc_task *k, int w)
{
    k->fail_item = -1;
    k->st = AD_OK;
    for (int64_t j = k->t; j < k->count; j += k->stride) {
        ad_status st = k->fn(k->P, w, k->P->run[w], k->first + j, j, k->job);
        if (st != AD_OK) {
            k->fail_item = k->first + j;
            k->st = st;
            snprintf(k->msg, sizeof k->msg, "%s", ad_last_error());
            return;
        }
    }
}

static void *task_thread(void *arg)
{
    gc_task *k = arg;
    task_items(k, k->t);
    return NULL;
}

/* Items first .. first+count-1 over the workers; the status of the lowest
 * item that failed, with its message set on this thread. */
ad_status gc_pool_run(const gc_pool *P, int64_t first, int64_t count, gc_item_fn fn, void *job)
{
    if (P->n < 1) return ad_fail(AD_ERR_STATE, "gradcheck: no worker to run on");   /* (gc_pool_init failed) */
    gc_task task[GC_MAX_THREADS];
    int n = count < P->n ? (int)(count > 1 ? count : 1) : P->n, started = 1;
    for (int t = 0; t < n; t++) task[t] = (gc_task){.P = P, .t = t, .stride = n, .fn = fn, .job = job, .first = first,
                                                    .count = count, .fail_item = -1};
    for (; started < n; started++)
        if (pthread_create(&task[started].tid, NULL, task_thread, &task[started]) != 0) break;
    task_items(&task[0], 0);
    for (int t = started; t < n; t++) task_items(&task[t], 0);   /* threads that could not start */
    for (int t = 1; t < started; t++) pthread_join(task[t].tid, NULL);
    const gc_task *bad = NULL;
    for (int t = 0; t < n; t++)
        if (task[t].fail_item >= 0 && (!bad || task[t].fail_item < bad->fail_item)) bad = &task[t];
    return bad ? ad_fail(bad->st, "%s", bad->msg) : AD_OK;
}
