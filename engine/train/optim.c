/* optim.c: SGD (with momentum), Adam and AdamW, with weight decay;
 * shuffling and batch gathering. Each element's update is
 * ad_optim_math.h's (the GPU uses the same); on the CPU a big parameter is
 * cut into blocks over the engine's threads (elements are independent: any
 * thread count gives the same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"
#include "ad_device.h"
#include "ad_kernel.h"
#include "ad_optim_math.h"
#include "ad_parallel.h"
#include "ad_train.h"

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW } opt_kind;

struct ad_optimizer {
    opt_kind kind;
    int n;
    ad_node **p;       /* handles: a step refuses a parameter a rewind dropped */
    double **m, **v;   /* per-parameter state, in double whatever the dtype; on
                          the parameter's device (GPU memory for a GPU leaf) */
    double lr, momentum, beta1, beta2, eps;
    double weight_decay;   /* λ: L2 on the gradient (SGD, Adam), decoupled (AdamW) */
    long t;            /* Adam's step count */
    bool gpu;          /* the parameters (all on one device) and the state are on the GPU */
};

/* Zeroed state for one parameter, where the parameters live. */
static double *state_new(const ad_node *p, bool gpu)
{
    size_t bytes = (size_t)p->value.size * sizeof(double);
    if (!gpu) return calloc(1, bytes);
    double *d = ad_gpu_malloc(bytes);
    if (d && ad_gpu_memzero(d, bytes) != AD_OK) {
        ad_gpu_free(d);
        d = NULL;
    }
    return d;
}

/* (Reads no node: the optimizer may outlive its parameters' context.) */
static void state_free(bool gpu, double *s)
{
    if (gpu) ad_gpu_free(s);
    else free(s);
}

static ad_optimizer *opt_new(opt_kind kind, ad_node *const *params, int n, const char *who)
{
    if (!params || n < 1) {
        ad_fail(AD_ERR_ARG, "%s: no parameters given", who);
        return NULL;
    }
    const ad_node *first = node_resolve(params[0], who);
    for (int i = 0; i < n; i++) {
        const ad_node *p = node_resolve(params[i], who);
        if (params[i] && !p) return NULL;   /* dropped by a rewind: said */
        if (!p || !(p->flags & AD_NODE_LEAF) || !(p->flags & AD_NODE_REQUIRES_GRAD)) {
            ad_fail(AD_ERR_ARG, "%s: parameter %d is not a variable (a leaf that requires grad)", who, i);
            return NULL;
        }
        if (p->value.device != first->value.device) {
            ad_fail(AD_ERR_DEVICE, "%s: parameter %d is on the %s, parameter 0 on the %s", who, i,
                    p->value.device == AD_CUDA ? "GPU" : "CPU", first->value.device == AD_CUDA ? "GPU" : "CPU");
            return NULL;
        }
    }
    ad_optimizer *o = calloc(1, sizeof *o);
    if (!o) goto oom;
    o->kind = kind;
    o->n = n;
    o->gpu = first->value.device == AD_CUDA;
    o->p = calloc((size_t)n, sizeof *o->p);
    o->m = calloc((size_t)n, sizeof *o->m);
    o->v = calloc((size_t)n, sizeof *o->v);
    if (!o->p || !o->m || !o->v) goto oom;
    for (int i = 0; i < n; i++) {
        o->p[i] = params[i];
        o->m[i] = state_new(ad_node_of(params[i]), o->gpu);
        o->v[i] = kind != OPT_SGD ? state_new(ad_node_of(params[i]), o->gpu) : NULL;
        if (!o->m[i] || (kind != OPT_SGD && !o->v[i])) goto oom;
    }
    return o;
oom:;
    bool gpu_said_why = o && o->gpu && ad_last_status() == AD_ERR_DEVICE;   /* its message stands */
    ad_optimizer_free(o);
    if (!gpu_said_why) ad_fail(AD_ERR_NOMEM, "%s: out of memory for the optimizer's state", who);
    return NULL;
}

ad_optimizer *ad_sgd_new(ad_node *const *params, int n, double lr, double momentum)
{
    if (!(lr > 0) || !(momentum >= 0 && momentum < 1)) {
        ad_fail(AD_ERR_ARG, "sgd: lr must be > 0 and momentum in [0, 1) (got %g, %g)", lr, momentum);
        return NULL;
    }
    ad_optimizer *o = opt_new(OPT_SGD, params, n, "sgd");
    if (o) {
        o->lr = lr;
        o->momentum = momentum;
    }
    return o;
}

static ad_optimizer *adam_like(opt_kind kind, const char *who, ad_node *const *params, int n, double lr, double beta1,
                               double beta2, double eps)
{
    if (!(lr > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) {
        ad_fail(AD_ERR_ARG, "%s: needs lr > 0, betas in [0, 1), eps > 0 (got %g, %g, %g, %g)", who, lr, beta1, beta2, eps);
        return NULL;
    }
    ad_optimizer *o = opt_new(kind, params, n, who);
    if (o) {
        o->lr = lr;
        o->beta1 = beta1;
        o->beta2 = beta2;
        o->eps = eps;
    }
    return o;
}

ad_optimizer *ad_adam_new(ad_node *const *params, int n, double lr, double beta1, double beta2, double eps)
{
    return adam_like(OPT_ADAM, "adam", params, n, lr, beta1, beta2, eps);
}

ad_optimizer *ad_adamw_new(ad_node *const *params, int n, double lr, double beta1, double beta2, double eps,
                           double weight_decay)
{
    ad_optimizer *o = adam_like(OPT_ADAMW, "adamw", params, n, lr, beta1, beta2, eps);
    if (o && ad_optimizer_set_weight_decay(o, weight_decay) != AD_OK) {
        ad_optimizer_free(o);
        return NULL;
    }
    return o;
}

ad_status ad_optimizer_set_weight_decay(ad_optimizer *o, double weight_decay)
{
    if (!o) return ad_fail(AD_ERR_ARG, "optimizer_set_weight_decay: NULL optimizer");
    if (!(weight_decay >= 0) || !isfinite(weight_decay))
        return ad_fail(AD_ERR_ARG, "optimizer_set_weight_decay: weight decay must be a finite number >= 0 (got %g)",
                       weight_decay);
    o->weight_decay = weight_decay;
    return AD_OK;
}

/* w, m, v [0, n): each element by ad_optim_math.h, blocks over the threads. */
#define DEFINE_STEP(T, SFX)                                                                                            \
    static void step_##SFX(bool sgd, T *w, const T *g, double *m, double *v, int64_t n, const ad_optim_hyper *hp)     \
    {                                                                                                                  \
        enum { BLOCK = 4096 };                                                                                         \
        int nt = ad_threads_for(n / BLOCK + 1, 4 * n);                                                                 \
        _Pragma("omp parallel for num_threads(nt) if (nt > 1) schedule(static)")                                       \
        for (int64_t j0 = 0; j0 < n; j0 += BLOCK) {                                                                    \
            /* A copy private to the block: stores to m, v (doubles, like h's fields) cannot change it, so the     \
             * compiler hoists the weight-decay tests and vectorises; through the shared hp it could do neither */ \
            const ad_optim_hyper hh = *hp, *h = &hh;                                                                   \
            int64_t end = j0 + BLOCK < n ? j0 + BLOCK : n;                                                             \
            if (sgd)                                                                                                   \
                for (int64_t j = j0; j < end; j++) w[j] = (T)ad_sgd_update(w[j], g[j], &m[j], h);                      \
            else                                                                                                       \
                for (int64_t j = j0; j < end; j++) w[j] = (T)ad_adam_update(w[j], g[j], &m[j], &v[j], h);              \
        }                                                                                                              \
    }
DEFINE_STEP(float, f)
DEFINE_STEP(double, d)

ad_status ad_optimizer_step(ad_optimizer *o)
{
    if (!o) return ad_fail(AD_ERR_ARG, "optimizer_step: NULL optimizer");
    o->t++;
    ad_optim_hyper h = {o->lr, o->momentum, o->beta1, o->beta2, o->eps, 1 - pow(o->beta1, (double)o->t),
                        1 - pow(o->beta2, (double)o->t), o->kind == OPT_ADAMW ? 0 : o->weight_decay,
                        o->kind == OPT_ADAMW ? o->weight_decay : 0};
    bool sgd = o->kind == OPT_SGD;
    for (int i = 0; i < o->n; i++) {
        ad_node *p = node_resolve(o->p[i], "optimizer_step");
        if (!p) return ad_last_status();
        if (!p->grad) continue;
        double *m = o->m[i], *v = o->v[i];
        ad_dtype dt = (ad_dtype)p->value.dtype;
        if (o->gpu) {
            ad_status st = sgd ? ad_gpu_sgd_step(dt, p->value.data, p->grad, m, p->value.size, &h)
                               : ad_gpu_adam_step(dt, p->value.data, p->grad, m, v, p->value.size, &h);
            if (st != AD_OK) return st;
        } else if (dt == AD_FLOAT32) {
            step_f(sgd, p->value.data, p->grad, m, v, p->value.size, &h);
        } else {
            step_d(sgd, p->value.data, p->grad, m, v, p->value.size, &h);
        }
    }
    return AD_OK;
}

void ad_optimizer_zero_grad(ad_optimizer *o)
{
    for (int i = 0; o && i < o->n; i++) ad_node_zero_grad(o->p[i]);
}

void ad_optimizer_set_lr(ad_optimizer *o, double lr)
{
    if (o && lr > 0) o->lr = lr;
}

void ad_optimizer_free(ad_optimizer *o)
{
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (o->m) state_free(o->gpu, o->m[i]);
        if (o->v) state_free(o->gpu, o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->p);
    free(o);
}

void ad_shuffle(int64_t *idx, int64_t n, gsl_rng *rng)
{
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)gsl_rng_uniform_int(rng, (unsigned long)(i + 1));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

ad_status ad_gather_rows(const ad_tensor *src, const int64_t *idx, int64_t count, ad_tensor *dst)
{
    if (!src || !idx || !dst) return ad_fail(AD_ERR_ARG, "gather_rows: NULL argument");
    if (src->ndim < 1 || dst->ndim != src->ndim || dst->shape[0] != count || src->dtype != dst->dtype)
        return ad_fail(AD_ERR_SHAPE, "gather_rows: destination does not fit %lld rows of the source", (long long)count);
    int64_t row = src->size / src->shape[0];
    if (dst->size != row * count) return ad_fail(AD_ERR_SHAPE, "gather_rows: row sizes differ");
    size_t bytes = (size_t)row * ad_dtype_size((ad_dtype)src->dtype);
    for (int64_t i = 0; i < count; i++) {
        if (idx[i] < 0 || idx[i] >= src->shape[0])
            return ad_fail(AD_ERR_ARG, "gather_rows: row %lld is out of range 0..%lld", (long long)idx[i],
                           (long long)src->shape[0] - 1);
        memcpy((char *)dst->data + (size_t)i * bytes, (const char *)src->data + (size_t)idx[i] * bytes, bytes);
    }
    return AD_OK;
}
