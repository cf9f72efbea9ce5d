/* live.c: the set of live contexts.
 *
 * Every public call takes a context or a node handle from the program, and a
 * program may pass one it has already freed. So a context pointer is looked
 * up in this set before it is dereferenced: "ops on freed contexts" fail with
 * a message, never a crash. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "ad_internal.h"

/* The set, under a lock; and a thread-local cache of the last context found
 * live, valid while no context has been freed since (ad_free_generation
 * unchanged), which keeps the check to two loads on the hot path. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static const ad_context **live;
static size_t n_live, cap_live;
atomic_uint_fast64_t ad_free_generation;
AD_TLS const ad_context *ad_cached_ctx;
AD_TLS uint_fast64_t ad_cached_generation;

bool ad_live_add(const ad_context *ctx)
{
    bool ok = true;
    pthread_mutex_lock(&live_lock);
    if (n_live == cap_live) {
        size_t cap = cap_live ? 2 * cap_live : 16;
        const ad_context **p = realloc(live, cap * sizeof *p);
        if (p) {
            live = p;
            cap_live = cap;
        } else {
            ok = false;
        }
    }
    if (ok) live[n_live++] = ctx;
    pthread_mutex_unlock(&live_lock);
    return ok;
}

void ad_live_remove(const ad_context *ctx)
{
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < n_live; i++)
        if (live[i] == ctx) {
            live[i] = live[--n_live];
            break;
        }
    if (n_live == 0) {
        free(live);
        live = NULL;
        cap_live = 0;
    }
    atomic_fetch_add(&ad_free_generation, 1);
    pthread_mutex_unlock(&live_lock);
}

bool ad_context_alive(const ad_context *ctx)
{
    if (!ctx) return false;
    if (ad_context_is_cached(ctx)) return true;
    bool found = false;
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < n_live && !found; i++) found = live[i] == ctx;
    uint_fast64_t gen = atomic_load(&ad_free_generation);
    pthread_mutex_unlock(&live_lock);
    if (found) {
        ad_cached_ctx = ctx;
        ad_cached_generation = gen;
    }
    return found;
}

ad_status ad_check_context(const ad_context *ctx, const char *who)
{
    if (!ctx) return ad_fail(AD_ERR_ARG, "%s: context is NULL", who);
    if (!ad_context_alive(ctx))
        return ad_fail(AD_ERR_STATE, "%s: the context is not live (already freed, or not made by ad_context_new)", who);
    return AD_OK;
}

ad_context *ad_live_context_holding(bool (*holds)(const ad_context *, const void *, uint32_t *), const void *p,
                                    uint32_t *id)
{
    const ad_context *found = NULL;
    if (ad_cached_ctx && ad_context_is_cached(ad_cached_ctx) && holds(ad_cached_ctx, p, id)) found = ad_cached_ctx;
    if (!found) {
        pthread_mutex_lock(&live_lock);
        for (size_t i = 0; i < n_live && !found; i++)
            if (holds(live[i], p, id)) found = live[i];
        pthread_mutex_unlock(&live_lock);
    }
    return (ad_context *)found;
}
