/* loss.c: cross-entropy from logits, and mean squared error.
 *
 * cross_entropy: logits x (N,C), targets t (N) holding class indices,
 * class weights w (C) or none, reduction mean or sum, ignore_index.
 *   ℓₙ = w[tₙ] · (log Σ_c exp x[n,c] - x[n,tₙ])        (skipped if tₙ ignored)
 *   mean: L = Σₙ ℓₙ / Σₙ w[tₙ]   (PyTorch's weighted mean)    sum: L = Σₙ ℓₙ
 *   dx[n,c] += dL · sₙ · (p[n,c] - [c = tₙ])    sₙ = w[tₙ]/Σw (mean) or w[tₙ]
 * Targets and weights are data, not parameters: they must be constants.
 * Second order (ad_hvp): along the logits' tangent tx only p moves, so dx
 * changes by dL · sₙ · tp[n,c], tp[n,c] = p[n,c]·(tx[n,c] - Σ_c' p[n,c']·tx[n,c']).
 *
 * mse: L = mean((p - t)²) over p and t broadcast together (n elements);
 * dp += dL·2(p - t)/n, dt -= the same, summed where an input was stretched;
 * second order: along the tangents dp changes by dL·2(tp - tt)/n, dt by minus that. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include "ad_elementwise_math.h"   /* max_f: a NaN in the row wins, as in PyTorch */
#include "ad_kernel_util.h"
#include "ad_nn.h"

static double at(const ad_node *n, int64_t i) { return ad_value_at(n, i); }

/* Every target t (N) a class index in 0..C-1 or ignore_index, its class
 * weight (w (C), or none) not negative, and under mean some weight > 0. */
static ad_status ce_check_targets(const ad_tensor *t, const ad_tensor *w, int64_t C, const ad_params *p)
{
    double wsum = 0;
    for (int64_t n = 0; n < t->shape[0]; n++) {
        double tv = ad_tensor_get(t, n);
        if (tv == (double)p->ignore_index) continue;
        if (tv != floor(tv) || tv < 0 || tv >= (double)C)
            return ad_fail(AD_ERR_ARG, "cross_entropy: target %g at [%lld] is not a class index in 0..%lld", tv,
                           (long long)n, (long long)C - 1);
        double wt = w ? ad_tensor_get(w, (int64_t)tv) : 1.0;
        if (!(wt >= 0)) return ad_fail(AD_ERR_ARG, "cross_entropy: class weight %g of class %g is negative", wt, tv);
        wsum += wt;
    }
    if (p->reduction == AD_REDUCE_MEAN && !(wsum > 0))
        return ad_fail(AD_ERR_ARG, "cross_entropy: every target is ignored (or weighs 0): the mean is undefined");
    return AD_OK;
}

static ad_status ce_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value, *t = &in[1]->value;
    char sx[64], st[64];
    if (!p) return ad_fail(AD_ERR_ARG, "cross_entropy: needs its params (reduction, ignore_index)");
    if (x->ndim != 2) return ad_fail(AD_ERR_SHAPE, "cross_entropy: logits %s must be (N,C)", ad_shape_str(x, sx, sizeof sx));
    int64_t N = x->shape[0], C = x->shape[1];
    if (t->ndim != 1 || t->shape[0] != N)
        return ad_fail(AD_ERR_SHAPE, "cross_entropy: targets %s must be (N) = (%lld) for logits %s",
                       ad_shape_str(t, st, sizeof st), (long long)N, ad_shape_str(x, sx, sizeof sx));
    for (int s = 1; s < n_in; s++) {
        if (ad_check_same_dtype("cross_entropy", in[0], in[s]) != AD_OK) return ad_last_status();
        if (ad_requires_grad(in[s]))
            return ad_fail(AD_ERR_ARG, "cross_entropy: %s must be a constant (they are data, not differentiable)",
                           s == 1 ? "the targets" : "the class weights");
    }
    if (n_in == 3 && (in[2]->value.ndim != 1 || in[2]->value.shape[0] != C))
        return ad_fail(AD_ERR_SHAPE, "cross_entropy: class weights %s must be (C) = (%lld)",
                       ad_shape_str(&in[2]->value, st, sizeof st), (long long)C);
    if (p->reduction != AD_REDUCE_MEAN && p->reduction != AD_REDUCE_SUM)
        return ad_fail(AD_ERR_ARG, "cross_entropy: reduction %d is neither mean nor sum", p->reduction);
    /* The targets and weights are checked here when they are on the host.
     * On the GPU the forward kernel checks them (gpu/loss.cu): copying
     * them here would wait for the device every step. A bad target there
     * is the same error, reported at the next copy to the host. */
    if (t->device == AD_CPU && ce_check_targets(t, n_in == 3 ? &in[2]->value : NULL, C, p) != AD_OK)
        return ad_last_status();
    *nd = 0;
    *dt = (ad_dtype)x->dtype;
    (void)sh;
    return AD_OK;
}

/* Per-sample scale sₙ (0 for an ignored sample), from the targets. */
static double sample_scale(const ad_node *o, int64_t n, double denom)
{
    double tv = at(o->in[1], n);
    if (tv == (double)o->params->ignore_index) return 0;
    double w = o->n_in == 3 ? at(o->in[2], (int64_t)tv) : 1.0;
    return o->params->reduction == AD_REDUCE_MEAN ? w / denom : w;
}

static double weight_sum(const ad_node *o)
{
    double s = 0;
    for (int64_t n = 0; n < o->in[0]->value.shape[0]; n++) {
        double tv = at(o->in[1], n);
        if (tv != (double)o->params->ignore_index) s += o->n_in == 3 ? at(o->in[2], (int64_t)tv) : 1.0;
    }
    return s;
}

/* log Σ exp of row n, stably */
#define LSE(X, n, C, out)                                                                                              \
    do {                                                                                                               \
        double m_ = -INFINITY, s_ = 0;                                                                                 \
        for (int64_t c_ = 0; c_ < (C); c_++) m_ = max_f(m_, (double)(X)[(n) * (C) + c_]);                               \
        for (int64_t c_ = 0; c_ < (C); c_++) s_ += exp((double)(X)[(n) * (C) + c_] - m_);                              \
        (out) = m_ + log(s_);                                                                                          \
    } while (0)

static ad_status ce_forward(ad_node *o)
{
    int64_t N = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    double denom = weight_sum(o), L = 0;
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        for (int64_t n = 0; n < N; n++) {
            double s = sample_scale(o, n, denom), lse;
            if (s == 0) continue;
            LSE(X, n, C, lse);
            L += s * (lse - (double)X[n * C + (int64_t)at(o->in[1], n)]);
        }
        *(T *)o->value.data = (T)L;
    });
    return AD_OK;
}

static void ce_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    if (slot != 0) return;   /* targets and weights are constants (checked in infer) */
    int64_t N = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    double denom = weight_sum(o);
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        T *GI = gin;
        double dL = (double)*(const T *)g;
        for (int64_t n = 0; n < N; n++) {
            double s = sample_scale(o, n, denom), lse;
            if (s == 0) continue;
            LSE(X, n, C, lse);
            int64_t t = (int64_t)at(o->in[1], n);
            for (int64_t c = 0; c < C; c++)
                GI[n * C + c] += (T)(dL * s * (exp((double)X[n * C + c] - lse) - (c == t ? 1.0 : 0.0)));
        }
    });
}
AD_VJP_BY_ROWS(ce_vjp, ce_vjp1)

/* Second order (ad_op.h's vjp_tangent): dx's change along tx (see the top);
 * never called for the targets or the weights (constants). */
static void ce_vjp_tangent(const ad_node *o, int slot, int dir, const void *g, void *gin_dot)
{
    const void *tx = ad_tangent_row(o->in[0], dir);
    if (slot != 0 || !tx) return;
    int64_t N = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    double denom = weight_sum(o);
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data, *TX = tx;
        T *GD = gin_dot;
        double dL = (double)*(const T *)g;
        for (int64_t n = 0; n < N; n++) {
            double s = sample_scale(o, n, denom), lse, ptx = 0;   /* ptx = Σ_c p·tx */
            if (s == 0) continue;
            LSE(X, n, C, lse);
            for (int64_t c = 0; c < C; c++) ptx += exp((double)X[n * C + c] - lse) * TX[n * C + c];
            for (int64_t c = 0; c < C; c++)
                GD[n * C + c] += (T)(dL * s * exp((double)X[n * C + c] - lse) * (TX[n * C + c] - ptx));
        }
    });
}

static void ce_jvp(ad_node *o, int k)
{
    int64_t N = o->in[0]->value.shape[0], C = o->in[0]->value.shape[1];
    double denom = weight_sum(o);
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *X = o->in[0]->value.data, *TX = ad_tangent_row(o->in[0], d);
            double acc = 0;
            for (int64_t n = 0; n < N && TX; n++) {
                double s = sample_scale(o, n, denom), lse, pt = 0;
                if (s == 0) continue;
                LSE(X, n, C, lse);
                for (int64_t c = 0; c < C; c++) pt += exp((double)X[n * C + c] - lse) * TX[n * C + c];
                acc += s * (pt - (double)TX[n * C + (int64_t)at(o->in[1], n)]);
            }
            *(T *)ad_tangent_row(o, d) = (T)acc;
        });
}

/* gradcheck's draws: targets are class indices (some ignored, where the
 * case ignores a class; the first never is, so a mean is defined, and at
 * least one other is, the last if chance ignored none: N = 6 at 1/4 each
 * leaves all in with probability (3/4)^5 = 0.24, and the ignored sample's
 * branch would go unchecked); weights are positive. */
static void ce_sample(const ad_op_case *c, int slot, ad_tensor *t, void *rng)
{
    gsl_rng *r = rng;
    int64_t C = c->shape[0][1];
    for (int64_t i = 0; i < t->size; i++) {
        if (slot == 2) ad_tensor_set(t, i, 0.5 + 1.5 * gsl_rng_uniform(r));
        else if (i > 0 && c->params.ignore_index >= 0 && gsl_rng_uniform(r) < 0.25)
            ad_tensor_set(t, i, (double)c->params.ignore_index);
        else if (i == 0 && c->params.ignore_index >= 0 && c->params.ignore_index < C && C > 1) {
            /* a class other than the ignored one */
            int64_t k = (int64_t)gsl_rng_uniform_int(r, (unsigned long)(C - 1));
            ad_tensor_set(t, i, (double)(k >= c->params.ignore_index ? k + 1 : k));
        } else ad_tensor_set(t, i, (double)gsl_rng_uniform_int(r, (unsigned long)C));
    }
    if (slot != 1 || c->params.ignore_index < 0 || t->size < 2) return;
    for (int64_t i = 1; i < t->size; i++)
        if (ad_tensor_get(t, i) == (double)c->params.ignore_index) return;
    ad_tensor_set(t, t->size - 1, (double)c->params.ignore_index);
}

static const ad_op_case ce_cases[] = {
    {"logits (4,3), mean", 2, {2, 1}, {{4, 3, 1, 1}, {4, 1, 1, 1}}, {.reduction = AD_REDUCE_MEAN, .ignore_index = -1}},
    {"logits (5,4), class weights, sum", 3, {2, 1, 1}, {{5, 4, 1, 1}, {5, 1, 1, 1}, {4, 1, 1, 1}},
     {.reduction = AD_REDUCE_SUM, .ignore_index = -1}},
    {"logits (6,3), class weights, ignore_index 1, mean", 3, {2, 1, 1}, {{6, 3, 1, 1}, {6, 1, 1, 1}, {3, 1, 1, 1}},
     {.reduction = AD_REDUCE_MEAN, .ignore_index = 1}},
    {"logits (1,5), mean", 2, {2, 1}, {{1, 5, 1, 1}, {1, 1, 1, 1}}, {.reduction = AD_REDUCE_MEAN, .ignore_index = -1}},
};

static ad_status ce_complete(ad_op_case *c)
{
    if (c->ndim[0] != 2) return ad_fail(AD_ERR_SHAPE, "cross_entropy: --shape must give the logits as (N,C)");
    c->n_in = 2;
    c->ndim[1] = 1;
    c->shape[1][0] = c->shape[0][0];
    return AD_OK;
}

AD_DECLARE_CUDA(cross_entropy)
AD_DECLARE_CUDA(mse)

const ad_op ad_op_cross_entropy = {
    .name = "cross_entropy",
    .summary = "softmax cross-entropy from logits (N,C), targets (N), class weights (C); mean or sum",
    .n_in = 3,
    .n_in_min = 2,
    .flags = AD_OP_PARAMS,
    .infer = ce_infer,
    .cpu = {ce_forward, ce_vjp, ce_jvp, ce_vjp_tangent},
    .cuda = AD_CUDA_KERNELS(cross_entropy),
    .domain = {{-3, 3}, {0, 0}, {0.5, 2}},
    .nondiff_inputs = (1u << 1) | (1u << 2),
    .sample_input = ce_sample,
    .cases = ce_cases,
    .n_cases = sizeof ce_cases / sizeof ce_cases[0],
    .complete_case = ce_complete,
};

/* ---- mse ---- */
/* p and t broadcast numpy-style (as torch's mse_loss does) onto the shape
 * they make together, n elements: L = Σ_io (p[ip] - t[it])² / n, and a
 * broadcast input's grad sums over the elements it was stretched across. */
static ad_status mse_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    (void)p;
    int bnd;
    int64_t bsh[AD_MAX_DIMS];
    if (ad_check_same_dtype("mse", in[0], in[1]) != AD_OK) return ad_last_status();
    if (ad_bcast_shape("mse", &in[0]->value, &in[1]->value, &bnd, bsh) != AD_OK) return ad_last_status();
    *nd = 0;
    (void)sh;
    *dt = (ad_dtype)in[0]->value.dtype;
    return AD_OK;
}

/* The broadcast of the two inputs; returns the element count n. */
int64_t ad_mse_bcast(const ad_node *o, ad_bcast *bc)
{
    int nd;
    int64_t sh[AD_MAX_DIMS], n = 1;
    ad_bcast_shape("mse", &o->in[0]->value, &o->in[1]->value, &nd, sh);   /* checked in infer */
    ad_bcast_make(&o->in[0]->value, &o->in[1]->value, nd, sh, bc);
    for (int d = 0; d < nd; d++) n *= sh[d];
    return n;
}

static ad_status mse_forward(ad_node *o)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    AD_DISPATCH(o->value.dtype, {
        const T *P = o->in[0]->value.data, *Q = o->in[1]->value.data;
        double s = 0;
        AD_BCAST_FOR(bc, { s += ((double)P[ia] - Q[ib]) * ((double)P[ia] - Q[ib]); });
        *(T *)o->value.data = (T)(s / (double)n);
    });
    return AD_OK;
}

static void mse_vjp1(const ad_node *o, int slot, const void *g, void *gin)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    AD_DISPATCH(o->value.dtype, {
        const T *P = o->in[0]->value.data, *Q = o->in[1]->value.data;
        T *GI = gin;
        double k = 2.0 * (double)*(const T *)g / (double)n;
        if (slot == 0) AD_BCAST_FOR(bc, { GI[ia] += (T)(k * ((double)P[ia] - Q[ib])); });
        else AD_BCAST_FOR(bc, { GI[ib] -= (T)(k * ((double)P[ia] - Q[ib])); });
    });
}
AD_VJP_BY_ROWS(mse_vjp, mse_vjp1)

/* Second order: the vjp's 2·dL·(p - t)/n along the tangents (see the top). */
static void mse_vjp_tangent(const ad_node *o, int slot, int dir, const void *g, void *gin_dot)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    AD_DISPATCH(o->value.dtype, {
        const T *TP = ad_tangent_row(o->in[0], dir), *TQ = ad_tangent_row(o->in[1], dir);
        T *GD = gin_dot;
        double k = (slot == 0 ? 2.0 : -2.0) * (double)*(const T *)g / (double)n;   /* t's term: minus p's */
        if (TP || TQ)
            AD_BCAST_FOR(bc, {
                T d = (T)(k * ((TP ? (double)TP[ia] : 0.0) - (TQ ? (double)TQ[ib] : 0.0)));
                GD[slot == 0 ? ia : ib] += d;
            });
    });
}

static void mse_jvp(ad_node *o, int kdirs)
{
    ad_bcast bc;
    int64_t n = ad_mse_bcast(o, &bc);
    for (int d = 0; d < kdirs; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *P = o->in[0]->value.data, *Q = o->in[1]->value.data;
            const T *TP = ad_tangent_row(o->in[0], d), *TQ = ad_tangent_row(o->in[1], d);
            double s = 0;
            AD_BCAST_FOR(bc, {
                s += ((double)P[ia] - Q[ib]) * ((TP ? (double)TP[ia] : 0.0) - (TQ ? (double)TQ[ib] : 0.0));
            });
            *(T *)ad_tangent_row(o, d) = (T)(2.0 * s / (double)n);
        });
}

static const ad_op_case mse_cases[] = {
    {"(5)", 2, {1, 1}, {{5, 1, 1, 1}, {5, 1, 1, 1}}, {.c = 0}},
    {"(3,4)", 2, {2, 2}, {{3, 4, 1, 1}, {3, 4, 1, 1}}, {.c = 0}},
    {"scalar", 2, {0, 0}, {{1, 1, 1, 1}, {1, 1, 1, 1}}, {.c = 0}},
    {"(3,4) against a broadcast target (4)", 2, {2, 1}, {{3, 4, 1, 1}, {4, 1, 1, 1}}, {.c = 0}},
    {"(2,1,3) against (4,1): both broadcast to (2,4,3)", 2, {3, 2}, {{2, 1, 3, 1}, {4, 1, 1, 1}}, {.c = 0}},
    {"(4) against (3,4): the prediction broadcast", 2, {1, 2}, {{4, 1, 1, 1}, {3, 4, 1, 1}}, {.c = 0}},
};

const ad_op ad_op_mse = {
    .name = "mse",
    .summary = "mean((prediction - target)²) -> a scalar; the two broadcast (as torch mse_loss)",
    .n_in = 2,
    .n_in_min = 2,
    .infer = mse_infer,
    .cpu = {mse_forward, mse_vjp, mse_jvp, mse_vjp_tangent},
    .cuda = AD_CUDA_KERNELS(mse),
    .domain = {{-2, 2}, {-2, 2}},
    .cases = mse_cases,
    .n_cases = sizeof mse_cases / sizeof mse_cases[0],
};

ad_node *ad_cross_entropy(ad_context *ctx, ad_node *logits, ad_node *targets, ad_node *class_weights, int reduction,
                          int64_t ignore_index)
{
    ad_node *in[3] = {logits, targets, class_weights};
    ad_params p = {.reduction = reduction, .ignore_index = ignore_index};
    return ad_apply(ctx, &ad_op_cross_entropy, in, class_weights ? 3 : 2, &p);
}

ad_node *ad_mse(ad_context *ctx, ad_node *pred, ad_node *target)
{
    ad_node *in[2] = {pred, target};
    return ad_apply(ctx, &ad_op_mse, in, 2, NULL);
}
