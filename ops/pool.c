/* pool.c: 2-d max-pooling and average-pooling over windows.
 *   x (N,C,H,W) -> y (N,C,P,Q), P = (H - window)/stride + 1.
 * max:  y = the window's max; dx[argmax] += dy. At a tie the first maximum
 *       in row-major window order takes the whole gradient (a valid
 *       subgradient); gradcheck draws inputs away from ties (kink_gap).
 *       A NaN in the window makes y NaN (ad_pool_rule.h, as PyTorch).
 *       Between ties the choice, and so J, is constant: its second
 *       derivatives are 0 (AD_OP_PIECEWISE_LINEAR, like relu; avg is linear).
 * avg:  y = the window's mean; dx[window] += dy / window².
 * Each plane (n, c) is a piece of work for the engine's threads: its
 * windows read and write only that plane, so any thread count gives the same
 * bits. A recorded max-pool keeps each output's argmax (its offset in the
 * plane) for the vjp, which then touches only dx's maxima, not all of x. */
#include <math.h>
#include <stdint.h>
#include "ad_kernel_util.h"
#include "ad_nn.h"
#include "ad_parallel.h"
#include "ad_pool_rule.h"

static ad_status pool_infer_named(const char *name, ad_node *const *in, const ad_params *p, int *nd, int64_t *sh,
                                  ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value;
    char sx[64];
    if (!p) return ad_fail(AD_ERR_ARG, "%s: needs its params (window, stride)", name);
    if (x->ndim != 4) return ad_fail(AD_ERR_SHAPE, "%s: input x %s must be (N,C,H,W)", name, ad_shape_str(x, sx, sizeof sx));
    if (p->window[0] < 1 || p->window[1] < 1 || p->stride[0] < 1 || p->stride[1] < 1)
        return ad_fail(AD_ERR_ARG, "%s: window (%lld,%lld) and stride (%lld,%lld) must be >= 1", name,
                       (long long)p->window[0], (long long)p->window[1], (long long)p->stride[0], (long long)p->stride[1]);
    if (p->window[0] > x->shape[2] || p->window[1] > x->shape[3])
        return ad_fail(AD_ERR_SHAPE, "%s: the %lldx%lld window is larger than the input x %s", name,
                       (long long)p->window[0], (long long)p->window[1], ad_shape_str(x, sx, sizeof sx));
    *nd = 4;
    sh[0] = x->shape[0];
    sh[1] = x->shape[1];
    sh[2] = (x->shape[2] - p->window[0]) / p->stride[0] + 1;
    sh[3] = (x->shape[3] - p->window[1]) / p->stride[1] + 1;
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

typedef struct pgeom {
    int64_t planes, H, W, P, Q, wh, ww, sh, sw;
} pgeom;

static pgeom pool_geometry(const ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value;
    pgeom g = {x->shape[0] * x->shape[1], x->shape[2],          x->shape[3],          o->value.shape[2],
               o->value.shape[3],        o->params->window[0], o->params->window[1], o->params->stride[0],
               o->params->stride[1]};
    return g;
}

static bool is_max(const ad_node *o) { return o->op == &ad_op_maxpool2d; }

/* The offset (in x) of the window's chosen element, from x + base. Called
 * with constant wh, ww for the common 2×2 window so the loop unrolls. */
#define DEFINE_BEST(T, SFX)                                                                                            \
    static inline int64_t best_##SFX(const T *x, int64_t W, int64_t wh, int64_t ww)                                   \
    {                                                                                                                  \
        int64_t best = 0;                                                                                              \
        T b = x[0];                                                                                                    \
        for (int64_t r = 0; r < wh; r++)                                                                               \
            for (int64_t s = 0; s < ww; s++) {                                                                         \
                T v = x[r * W + s];                                                                                    \
                int t = AD_POOL_TAKES(v, b);                                                                           \
                b = t ? v : b;                                                                                         \
                best = t ? r * W + s : best;                                                                           \
            }                                                                                                          \
        return best;                                                                                                   \
    }
DEFINE_BEST(float, f)
DEFINE_BEST(double, d)
#define BEST(T, x, W, wh, ww)                                                                                          \
    (sizeof(T) == sizeof(float) ? best_f((const float *)(const void *)(x), W, wh, ww)                                 \
                                : best_d((const double *)(const void *)(x), W, wh, ww))

/* Plane by plane, over the engine's threads: BODY sees plane, X (that
 * plane of x) and io0 (the plane's first output index). */
#define FOR_PLANES(g, ...)                                                                                             \
    do {                                                                                                               \
        int nt_ = ad_threads_for((g).planes, (g).planes * (g).H * (g).W);                                              \
        _Pragma("omp parallel for num_threads(nt_) if (nt_ > 1) schedule(static)")                                    \
        for (int64_t plane = 0; plane < (g).planes; plane++) {                                                         \
            int64_t io0 = plane * (g).P * (g).Q;                                                                       \
            int64_t xo = plane * (g).H * (g).W;                                                                        \
            (void)io0;                                                                                                 \
            (void)xo;                                                                                                  \
            __VA_ARGS__                                                                                                \
        }                                                                                                              \
    } while (0)

/* The max-pool forward of an output row under the common 2×2 window at
 * stride 2: a pairwise tournament with the same rule (the winner of a, b
 * meets the winner of c, d and keeps its place on a tie or if it is NaN,
 * which is the first maximum, or first NaN, in row-major order). at[q] is
 * the argmax's offset from x0. Four outputs at a time with SSE2 where there
 * is SSE2 (every x86-64), so each output costs a few selects, no branch. */
#define TOURNAMENT(T, a, b, c, d, m, i)                                                                                \
    do {                                                                                                               \
        int t1_ = AD_POOL_TAKES(b, a), t2_ = AD_POOL_TAKES(d, c);                                                      \
        T m1_ = t1_ ? b : a, m2_ = t2_ ? d : c;                                                                        \
        int t_ = AD_POOL_TAKES(m2_, m1_);                                                                              \
        m = t_ ? m2_ : m1_;                                                                                            \
        i = t_ ? 2 + t2_ : t1_;   /* 0 a, 1 b, 2 c, 3 d */                                                             \
    } while (0)
#define DEFINE_MAX22(T, SFX)                                                                                           \
    static int64_t max22_vec_##SFX(const T *x0, int64_t W, int64_t Q, T *y, int32_t *at);                             \
    static void max22_##SFX(const T *x0, int64_t W, int64_t Q, T *y, int32_t *at)                                      \
    {                                                                                                                  \
        const T *x1 = x0 + W;                                                                                          \
        for (int64_t q = max22_vec_##SFX(x0, W, Q, y, at); q < Q; q++) {                                               \
            int i;                                                                                                     \
            TOURNAMENT(T, x0[2 * q], x0[2 * q + 1], x1[2 * q], x1[2 * q + 1], y[q], i);                                \
            at[q] = (int32_t)(2 * q + (i & 1) + (i >> 1) * W);                                                         \
        }                                                                                                              \
    }
#if defined(__SSE2__)
#include <emmintrin.h>
/* The rule on four lanes: all ones where v takes b's place. */
static inline __m128 takes4(__m128 v, __m128 b)
{
    return _mm_or_ps(_mm_cmpgt_ps(v, b), _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(b, b)));
}
static inline __m128 sel4(__m128 t, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(t, a), _mm_andnot_ps(t, b)); }
/* Outputs [0, Q - Q % 4) of max22_f; returns where the scalar loop goes on. */
static int64_t max22_vec_f(const float *x0, int64_t W, int64_t Q, float *y, int32_t *at)
{
    const float *x1 = x0 + W;
    const __m128i one = _mm_set1_epi32(1), wv = _mm_set1_epi32((int32_t)W);
    int64_t q = 0;
    for (; q + 4 <= Q; q += 4) {
        __m128 r0a = _mm_loadu_ps(x0 + 2 * q), r0b = _mm_loadu_ps(x0 + 2 * q + 4);
        __m128 r1a = _mm_loadu_ps(x1 + 2 * q), r1b = _mm_loadu_ps(x1 + 2 * q + 4);
        __m128 a = _mm_shuffle_ps(r0a, r0b, _MM_SHUFFLE(2, 0, 2, 0)), b = _mm_shuffle_ps(r0a, r0b, _MM_SHUFFLE(3, 1, 3, 1));
        __m128 c = _mm_shuffle_ps(r1a, r1b, _MM_SHUFFLE(2, 0, 2, 0)), d = _mm_shuffle_ps(r1a, r1b, _MM_SHUFFLE(3, 1, 3, 1));
        __m128 t1 = takes4(b, a), t2 = takes4(d, c), m1 = sel4(t1, b, a), m2 = sel4(t2, d, c), t = takes4(m2, m1);
        _mm_storeu_ps(y + q, sel4(t, m2, m1));
        /* offset = 2q (+1 for the right column) (+W for the lower row) */
        __m128i right = _mm_and_si128(_mm_castps_si128(sel4(t, t2, t1)), one);
        __m128i lower = _mm_and_si128(_mm_castps_si128(t), wv);
        __m128i col = _mm_add_epi32(_mm_setr_epi32((int32_t)(2 * q), (int32_t)(2 * q + 2), (int32_t)(2 * q + 4), (int32_t)(2 * q + 6)), right);
        _mm_storeu_si128((__m128i *)(void *)(at + q), _mm_add_epi32(col, lower));
    }
    return q;
}
#else
static int64_t max22_vec_f(const float *x0, int64_t W, int64_t Q, float *y, int32_t *at)
{
    (void)x0, (void)W, (void)Q, (void)y, (void)at;
    return 0;
}
#endif
static int64_t max22_vec_d(const double *x0, int64_t W, int64_t Q, double *y, int32_t *at)
{
    (void)x0, (void)W, (void)Q, (void)y, (void)at;
    return 0;   /* float64 takes the scalar loop */
}
DEFINE_MAX22(float, f)
DEFINE_MAX22(double, d)

/* The max-pool forward of one plane (y and, if arg, each argmax). */
#define MAX_PLANE(T, X, Y, ARG, g, WH, WW)                                                                             \
    for (int64_t p = 0; p < (g).P; p++)                                                                                \
        for (int64_t q = 0; q < (g).Q; q++) {                                                                          \
            int64_t base = p * (g).sh * (g).W + q * (g).sw;                                                            \
            int64_t at = base + BEST(T, (X) + base, (g).W, WH, WW);                                                    \
            (Y)[p * (g).Q + q] = (X)[at];                                                                              \
            if (ARG) (ARG)[p * (g).Q + q] = (int32_t)at;                                                               \
        }

static ad_status pool_forward(ad_node *o)
{
    pgeom g = pool_geometry(o);
    bool mx = is_max(o);
    int32_t *arg = NULL;
    /* keep the argmax for the vjp (offsets within a plane fit 32 bits) */
    if (mx && ad_node_recording(o) && g.H * g.W <= INT32_MAX &&
        !(arg = o->saved = ad_node_alloc(o, (size_t)o->value.size * sizeof(int32_t))))
        return ad_last_status();
    AD_DISPATCH(o->value.dtype, {
        const T *XA = o->in[0]->value.data;
        T *YA = o->value.data;
        FOR_PLANES(g, {
            const T *X = XA + xo;
            T *Y = YA + io0;
            int32_t *A = arg ? arg + io0 : NULL;
            if (mx && g.wh == 2 && g.ww == 2 && g.sh == 2 && g.sw == 2 && A) {
                for (int64_t p = 0; p < g.P; p++) {
                    int32_t *Ap = A + p * g.Q;
                    const T *x0 = X + 2 * p * g.W;
                    if (sizeof(T) == sizeof(float)) max22_f((const float *)(const void *)x0, g.W, g.Q, (float *)(void *)(Y + p * g.Q), Ap);
                    else max22_d((const double *)(const void *)x0, g.W, g.Q, (double *)(void *)(Y + p * g.Q), Ap);
                    for (int64_t q = 0; q < g.Q; q++) Ap[q] += (int32_t)(2 * p * g.W);
                }
            } else if (mx && g.wh == 2 && g.ww == 2) {
                MAX_PLANE(T, X, Y, A, g, 2, 2);
            } else if (mx) {
                MAX_PLANE(T, X, Y, A, g, g.wh, g.ww);
            } else {
                for (int64_t p = 0; p < g.P; p++)
                    for (int64_t q = 0; q < g.Q; q++) {
                        const T *win = X + p * g.sh * g.W + q * g.sw;
                        double s = 0;
                        for (int64_t r = 0; r < g.wh; r++)
                            for (int64_t c = 0; c < g.ww; c++) s += win[r * g.W + c];
                        Y[p * g.Q + q] = (T)(s / (double)(g.wh * g.ww));
                    }
            }
        });
    });
    return AD_OK;
}

/* dx += (routing of dy): the max-pool's to each argmax (kept, or found
 * again for a node not recorded), the average's shared over the window. */
static void pool_vjp1(const ad_node *o, int slot, const void *gout, void *gin)
{
    (void)slot;
    pgeom g = pool_geometry(o);
    bool mx = is_max(o);
    const int32_t *arg = o->saved;
    AD_DISPATCH(o->value.dtype, {
        const T *XA = o->in[0]->value.data, *GA = gout;
        T *GIA = gin;
        FOR_PLANES(g, {
            const T *X = XA + xo, *G = GA + io0;
            T *GI = GIA + xo;
            for (int64_t p = 0; p < g.P; p++)
                for (int64_t q = 0; q < g.Q; q++) {
                    int64_t io = p * g.Q + q, base = p * g.sh * g.W + q * g.sw;
                    if (mx) {
                        GI[arg ? arg[io0 + io] : base + BEST(T, X + base, g.W, g.wh, g.ww)] += G[io];
                    } else {
                        T share = (T)(G[io] / (double)(g.wh * g.ww));
                        for (int64_t r = 0; r < g.wh; r++)
                            for (int64_t c = 0; c < g.ww; c++) GI[base + r * g.W + c] += share;
                    }
                }
        });
    });
}
AD_VJP_BY_ROWS(pool_vjp, pool_vjp1)

/* ty = the same routing of tx (max: by x's argmax). */
static void pool_jvp(ad_node *o, int k)
{
    pgeom g = pool_geometry(o);
    bool mx = is_max(o);
    for (int d = 0; d < k; d++)
        AD_DISPATCH(o->value.dtype, {
            const T *XA = o->in[0]->value.data, *TXA = ad_tangent_row(o->in[0], d);
            T *TYA = ad_tangent_row(o, d);
            FOR_PLANES(g, {
                const T *X = XA + xo, *TX = TXA + xo;
                T *TY = TYA + io0;
                for (int64_t p = 0; p < g.P; p++)
                    for (int64_t q = 0; q < g.Q; q++) {
                        int64_t base = p * g.sh * g.W + q * g.sw;
                        if (mx) {
                            TY[p * g.Q + q] = TX[base + BEST(T, X + base, g.W, g.wh, g.ww)];
                        } else {
                            double s = 0;
                            for (int64_t r = 0; r < g.wh; r++)
                                for (int64_t c = 0; c < g.ww; c++) s += TX[base + r * g.W + c];
                            TY[p * g.Q + q] = (T)(s / (double)(g.wh * g.ww));
                        }
                    }
            });
        });
}

/* The same element by element (ad_op.kink_dist): each window's gap between
 * its top two goes to both of them (either drawn again parts the tie), the
 * least over the windows an element is in; INFINITY for the rest. */
static void maxpool_dist(const ad_node *o, int slot, double *dist)
{
    (void)slot;
    pgeom g = pool_geometry(o);
    /* (a window of one element has no runner-up: b = -inf, gap = inf, dist unchanged) */
    for (int64_t i = 0; i < o->in[0]->value.size; i++) dist[i] = INFINITY;
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        for (int64_t plane = 0; plane < g.planes; plane++)
            for (int64_t p = 0; p < g.P; p++)
                for (int64_t q = 0; q < g.Q; q++) {
                    int64_t base = plane * g.H * g.W + p * g.sh * g.W + q * g.sw, ja = base, jb = base;
                    double a = -INFINITY, b = -INFINITY;
                    for (int64_t r = 0; r < g.wh; r++)
                        for (int64_t c = 0; c < g.ww; c++) {
                            int64_t j = base + r * g.W + c;
                            double v = X[j];
                            if (v != v) a = b = NAN, ja = jb = j;   /* NaN: as at a tie */
                            else if (v > a) b = a, jb = ja, a = v, ja = j;
                            else if (v > b) b = v, jb = j;
                        }
                    double gap = a - b;
                    if (gap != gap) gap = 0;
                    if (gap < dist[ja]) dist[ja] = gap;
                    if (gap < dist[jb]) dist[jb] = gap;
                }
    });
}

/* The side of a tie max-pool takes (ad_op.kink_side): the first maximum in
 * row-major order, as if each element were a little above the ones after
 * it: v decreasing along the plane, -(offset in the plane)/(H·W). */
static void maxpool_side(const ad_node *o, int slot, double *v)
{
    (void)slot;
    pgeom g = pool_geometry(o);
    int64_t hw = g.H * g.W;
    for (int64_t i = 0; i < o->in[0]->value.size; i++) v[i] = -(double)(i % hw) / (double)hw;
}

/* Max-pool's kinks are ties: the gap between each window's top two. */
static double maxpool_gap(const ad_node *o)
{
    pgeom g = pool_geometry(o);
    double gap = INFINITY;
    AD_DISPATCH(o->value.dtype, {
        const T *X = o->in[0]->value.data;
        for (int64_t plane = 0; plane < g.planes; plane++)
            for (int64_t p = 0; p < g.P; p++)
                for (int64_t q = 0; q < g.Q; q++) {
                    const T *win = X + plane * g.H * g.W + p * g.sh * g.W + q * g.sw;
                    double a = -INFINITY, b = -INFINITY;
                    for (int64_t r = 0; r < g.wh; r++)
                        for (int64_t c = 0; c < g.ww; c++) {
                            double v = win[r * g.W + c];
                            if (v > a) {
                                b = a;
                                a = v;
                            } else if (v > b) {
                                b = v;
                            }
                        }
                    if (g.wh * g.ww > 1 && a - b < gap) gap = a - b;
                }
    });
    return gap;
}

static ad_status maxpool_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return pool_infer_named("maxpool2d", in, p, nd, sh, dt);
}

static ad_status avgpool_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    return pool_infer_named("avgpool2d", in, p, nd, sh, dt);
}

/* The paths and edges of the kernels above: the 2x2 stride-2 window (max22:
 * four outputs a lane group in float32, so Q = 9 takes two groups and the
 * scalar tail; an odd W leaves a column out), the 2x2 window at another
 * stride, any other window; overlapping windows (stride < window), gaps
 * (stride > window: elements no window reads, gradient 0), a 1x1 window
 * (no tie possible), one window covering the plane (output 1x1), and rows
 * and columns that differ (window and stride (h, w) apart: a mutant that
 * swaps them passes every square case). */
static const ad_op_case pool_cases[] = {
    {"x (2,3,4,4), window 2, stride 2", 1, {4}, {{2, 3, 4, 4}}, {.window = {2, 2}, .stride = {2, 2}}},
    {"x (1,2,5,7), window 3, stride 2", 1, {4}, {{1, 2, 5, 7}}, {.window = {3, 3}, .stride = {2, 2}}},
    {"x (2,1,5,5), window 2, stride 1 (overlapping)", 1, {4}, {{2, 1, 5, 5}}, {.window = {2, 2}, .stride = {1, 1}}},
    {"x (1,2,4,19), window 2, stride 2 (Q = 9, W odd)", 1, {4}, {{1, 2, 4, 19}}, {.window = {2, 2}, .stride = {2, 2}}},
    {"x (1,2,7,7), window 2, stride 3 (stride > window)", 1, {4}, {{1, 2, 7, 7}}, {.window = {2, 2}, .stride = {3, 3}}},
    {"x (1,2,3,4), window 1, stride 1 (1x1 window)", 1, {4}, {{1, 2, 3, 4}}, {.window = {1, 1}, .stride = {1, 1}}},
    {"x (2,2,4,4), window 4, stride 4 (output 1x1)", 1, {4}, {{2, 2, 4, 4}}, {.window = {4, 4}, .stride = {4, 4}}},
    {"x (1,2,5,6), window 2, stride (1,2): not the 2x2 stride-2 kernel", 1, {4}, {{1, 2, 5, 6}},
     {.window = {2, 2}, .stride = {1, 2}}},
    {"x (1,2,6,5), window 2, stride (2,1): not the 2x2 stride-2 kernel", 1, {4}, {{1, 2, 6, 5}},
     {.window = {2, 2}, .stride = {2, 1}}},
    {"x (1,2,6,7), window (2,3), stride 2: not the 2x2 kernel", 1, {4}, {{1, 2, 6, 7}},
     {.window = {2, 3}, .stride = {2, 2}}},
    {"x (1,2,6,7), window (2,3), stride (2,1) (rows and columns apart)", 1, {4}, {{1, 2, 6, 7}},
     {.window = {2, 3}, .stride = {2, 1}}},
    /* and the other way round: a 3x2 window must not take the 2x2 kernel */
    {"x (1,2,7,6), window (3,2), stride (1,2) (rows and columns apart)", 1, {4}, {{1, 2, 7, 6}},
     {.window = {3, 2}, .stride = {1, 2}}},
};

static ad_status pool_complete(ad_op_case *c)
{
    if (c->ndim[0] != 4) return ad_fail(AD_ERR_SHAPE, "pooling: --shape must give x as (N,C,H,W)");
    return AD_OK;
}

/* The kernels' paths (ad_op_path):
 *   serial     planes·H·W < AD_PAR_MIN_ELEMENTS (planes = N·C), or one thread;
 *   threaded   from there on 2+ threads, planes >= 2: the planes over the threads;
 *   2x2 sse    (max) a 2×2 window at stride 2, recorded: the tournament, four
 *              outputs at a time in float32 with SSE2 (Q >= 4), the rest scalar.
 * Other windows and strides take MAX_PLANE: the default cases. */
static const ad_op_path maxpool_paths[] = {
    {"serial", "N·C·H·W < 16384 or 1 thread", 0, 1, NULL,
     {"x (2,4,45,45), window 2, stride 2: 16200 numbers", 1, {4}, {{2, 4, 45, 45}}, {.window = {2, 2}, .stride = {2, 2}}}},
    {"threaded", "N·C·H·W >= 16384, N·C >= 2, on 2+ threads", AD_PAR_MIN_ELEMENTS, 2, "serial",
     {"x (2,4,46,46), window 2, stride 2: 16928 numbers", 1, {4}, {{2, 4, 46, 46}}, {.window = {2, 2}, .stride = {2, 2}}}},
    {"2x2 sse", "window 2x2, stride 2: the tournament, float32 4 outputs at a time (Q >= 4)", 4, 1, NULL,
     {"x (2,2,4,18), window 2, stride 2: Q = 9", 1, {4}, {{2, 2, 4, 18}}, {.window = {2, 2}, .stride = {2, 2}}}},
};
static const ad_op_path avgpool_paths[] = {
    {"serial", "N·C·H·W < 16384 or 1 thread", 0, 1, NULL,
     {"x (2,4,45,45), window 2, stride 2: 16200 numbers", 1, {4}, {{2, 4, 45, 45}}, {.window = {2, 2}, .stride = {2, 2}}}},
    {"threaded", "N·C·H·W >= 16384, N·C >= 2, on 2+ threads", AD_PAR_MIN_ELEMENTS, 2, "serial",
     {"x (2,4,46,46), window 2, stride 2: 16928 numbers", 1, {4}, {{2, 4, 46, 46}}, {.window = {2, 2}, .stride = {2, 2}}}},
};
_Static_assert(AD_PAR_MIN_ELEMENTS == 16384, "the paths' texts and probes give this number");

AD_DECLARE_CUDA(maxpool2d)
AD_DECLARE_CUDA(avgpool2d)

const ad_op ad_op_maxpool2d = {
    .name = "maxpool2d",
    .summary = "max over windows (params.window, params.stride); ties: the first maximum",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_PARAMS | AD_OP_NONSMOOTH | AD_OP_PIECEWISE_LINEAR | AD_OP_BATCHED,
    .infer = maxpool_infer,
    .cpu = {pool_forward, pool_vjp, pool_jvp, NULL},
    .cuda = AD_CUDA_KERNELS(maxpool2d),
    .domain = {{-2, 2}},
    .kink_gap = maxpool_gap,
    .kink_dist = maxpool_dist,
    .kink_side = maxpool_side,
    .cases = pool_cases,
    .n_cases = sizeof pool_cases / sizeof pool_cases[0],
    .complete_case = pool_complete,
    .paths = maxpool_paths,
    .n_paths = sizeof maxpool_paths / sizeof maxpool_paths[0],
};

const ad_op ad_op_avgpool2d = {
    .name = "avgpool2d",
    .summary = "mean over windows (params.window, params.stride)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_PARAMS | AD_OP_LINEAR | AD_OP_BATCHED,
    .infer = avgpool_infer,
    .cpu = {pool_forward, pool_vjp, pool_jvp, NULL},
    .cuda = AD_CUDA_KERNELS(avgpool2d),
    .domain = {{-2, 2}},
    .cases = pool_cases,
    .n_cases = sizeof pool_cases / sizeof pool_cases[0],
    .complete_case = pool_complete,
    .paths = avgpool_paths,
    .n_paths = sizeof avgpool_paths / sizeof avgpool_paths[0],
};

static ad_node *pool(ad_context *ctx, const ad_op *op, ad_node *x, int window, int stride)
{
    ad_node *in[1] = {x};
    ad_params p = {.window = {window, window}, .stride = {stride, stride}};
    return ad_apply(ctx, op, in, 1, &p);
}

ad_node *ad_maxpool2d(ad_context *ctx, ad_node *x, int window, int stride) { return pool(ctx, &ad_op_maxpool2d, x, window, stride); }
ad_node *ad_avgpool2d(ad_context *ctx, ad_node *x, int window, int stride) { return pool(ctx, &ad_op_avgpool2d, x, window, stride); }
