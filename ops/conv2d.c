/* conv2d.c: 2-d convolution (cross-correlation, as in PyTorch) by im2col
 * and GEMM, over the whole batch in the engine's threads (ad_parallel.h).
 *   x (N,C,H,W), w (K,C,R,S), b (K) -> y (N,K,P,Q),
 *   P = (H + 2·pad_h - R)/stride_h + 1, Q likewise.
 * For image n, col (C·R·S, P·Q) holds the receptive fields as columns:
 *   y_n (K, P·Q)  = w (K, C·R·S) · col + b
 *   dw           += dy_n · colᵀ                    (K, C·R·S)
 *   dx_n         += col2im(wᵀ · dy_n)              (C, H, W)
 *   db           += Σ over n, p, q of dy
 *   ty            = conv(tx, w) + conv(x, tw) + tb  (linear in each input)
 *   second order: dx's and dw's vjps with tw for w and tx for x (bilinear)
 *
 * Threads: an image is a piece of work in the forward and in dx (each
 * writes its own y_n, dx_n). dw and db sum over the images, so the batch is
 * cut into groups of consecutive images by N alone (conv_groups), each group
 * sums into its own buffer, and the buffers are added in group order: the
 * same bits whatever the thread count. BLAS is single-threaded inside.
 *
 * im2col and col2im work a row of one tap (c, r, s) at a time: the output
 * columns q whose input column lies in the padding are found once per tap
 * (tap_range), so the interior is a straight copy and the border is
 * zero-filled (im2col) or skipped (col2im), with no bounds test per
 * element. The per-image col stays in cache; dw rebuilds it rather than
 * keeping the whole batch's from the forward (5 MB for conv1 at batch 64,
 * 20 MB at 256, which would come back from memory, not cache; that variant
 * was not built and measured: BENCHMARKS.md says where the time goes).
 *
 * conv2d_relu is the same op followed by ReLU, fused: y = relu(conv(x, w) + b)
 * is made image by image while y_n is in cache, and each vjp masks dy_n by
 * y_n > 0 (where the pre-activation is > 0, ReLU's rule) into a per-thread
 * buffer as it goes. That saves the separate ReLU's two passes over the
 * whole output, its gradient buffer and the pass that zeroes it. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_elementwise_math.h"
#include "ad_kernel_util.h"
#include "ad_nn.h"
#include "ad_parallel.h"

typedef struct geom {
    int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
    int64_t crs, pq, chw;   /* C·R·S, P·Q, C·H·W */
    ad_dtype dt;
    size_t es;              /* bytes per element */
} geom;

static geom geometry(const ad_node *o)
{
    const ad_tensor *x = &o->in[0]->value, *w = &o->in[1]->value;
    geom g = {.N = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3],
              .K = w->shape[0], .R = w->shape[2], .S = w->shape[3],
              .P = o->value.shape[2], .Q = o->value.shape[3],
              .sh = o->params->stride[0], .sw = o->params->stride[1], .ph = o->params->pad[0], .pw = o->params->pad[1],
              .dt = (ad_dtype)o->value.dtype, .es = ad_dtype_size((ad_dtype)o->value.dtype)};
    g.crs = g.C * g.R * g.S;
    g.pq = g.P * g.Q;
    g.chw = g.C * g.H * g.W;
    return g;
}

static ad_status conv_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value, *w = &in[1]->value;
    char sx[64], sw[64], sb[64];
    for (int s = 1; s < n_in; s++)
        if (ad_check_same_dtype("conv2d", in[0], in[s]) != AD_OK) return ad_last_status();
    if (!p) return ad_fail(AD_ERR_ARG, "conv2d: needs its params (stride, pad)");
    if (x->ndim != 4 || w->ndim != 4)
        return ad_fail(AD_ERR_SHAPE, "conv2d: input x %s must be (N,C,H,W) and weight w %s (K,C,R,S)",
                       ad_shape_str(x, sx, sizeof sx), ad_shape_str(w, sw, sizeof sw));
    if (x->shape[1] != w->shape[1])
        return ad_fail(AD_ERR_SHAPE, "conv2d: input x %s has %lld channels but weight w %s expects %lld",
                       ad_shape_str(x, sx, sizeof sx), (long long)x->shape[1], ad_shape_str(w, sw, sizeof sw),
                       (long long)w->shape[1]);
    if (n_in == 3 && (in[2]->value.ndim != 1 || in[2]->value.shape[0] != w->shape[0]))
        return ad_fail(AD_ERR_SHAPE, "conv2d: bias %s must be (K) = (%lld) for weight w %s",
                       ad_shape_str(&in[2]->value, sb, sizeof sb), (long long)w->shape[0], ad_shape_str(w, sw, sizeof sw));
    if (p->stride[0] < 1 || p->stride[1] < 1 || p->pad[0] < 0 || p->pad[1] < 0)
        return ad_fail(AD_ERR_ARG, "conv2d: stride (%lld,%lld) must be >= 1 and padding (%lld,%lld) >= 0",
                       (long long)p->stride[0], (long long)p->stride[1], (long long)p->pad[0], (long long)p->pad[1]);
    int64_t hp = x->shape[2] + 2 * p->pad[0] - w->shape[2], wp = x->shape[3] + 2 * p->pad[1] - w->shape[3];
    if (hp < 0 || wp < 0)
        return ad_fail(AD_ERR_SHAPE, "conv2d: the %lldx%lld kernel of w %s is larger than the padded input x %s (pad %lld,%lld)",
                       (long long)w->shape[2], (long long)w->shape[3], ad_shape_str(w, sw, sizeof sw),
                       ad_shape_str(x, sx, sizeof sx), (long long)p->pad[0], (long long)p->pad[1]);
    *nd = 4;
    sh[0] = x->shape[0];
    sh[1] = w->shape[0];
    sh[2] = hp / p->stride[0] + 1;
    sh[3] = wp / p->stride[1] + 1;
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

/* The output columns q in [lo, hi) whose input column q·stride - pad + s
 * lies inside 0..W-1 (the same rule gives the rows p for tap r). */
static void tap_range(int64_t s, int64_t stride, int64_t pad, int64_t W, int64_t Q, int64_t *lo, int64_t *hi)
{
    int64_t a = pad - s > 0 ? (pad - s + stride - 1) / stride : 0;           /* first q with q·st - pad + s >= 0 */
    int64_t b = W - 1 + pad - s >= 0 ? (W - 1 + pad - s) / stride + 1 : 0;   /* first q past W - 1 */
    *lo = a < Q ? a : Q;
    *hi = b < *lo ? *lo : b > Q ? Q : b;
}

/* Each tap (c, r, s) of image geometry g, with its row `row` of col (the
 * offset of element (p, 0)), the offset `in` in x_n of the input under
 * output (p, 0) for row p, the rows [p0, p1) and columns [q0, q1) whose
 * input lies inside the image. */
#define FOR_TAPS(g, ...)                                                                                               \
    for (int64_t c = 0; c < (g)->C; c++)                                                                               \
        for (int64_t r = 0; r < (g)->R; r++) {                                                                         \
            int64_t p0, p1;                                                                                            \
            tap_range(r, (g)->sh, (g)->ph, (g)->H, (g)->P, &p0, &p1);                                                  \
            for (int64_t s = 0; s < (g)->S; s++) {                                                                     \
                int64_t q0, q1, row = ((c * (g)->R + r) * (g)->S + s) * (g)->P * (g)->Q;                               \
                tap_range(s, (g)->sw, (g)->pw, (g)->W, (g)->Q, &q0, &q1);                                              \
                __VA_ARGS__                                                                                            \
            }                                                                                                          \
        }
#define TAP_INPUT(g, p) ((c * (g)->H + (p) * (g)->sh - (g)->ph + r) * (g)->W - (g)->pw + s)

/* A row of col is short (28 numbers in LeNet's conv1): copied in place, not
 * by a call to memcpy, which GCC would otherwise make of the copy loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_MEMCPY_CALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMCPY_CALLS
#endif

/* im2col: col (C·R·S, P·Q) from image x_n (C,H,W), zero in the padding.
 * col2im: dx_n (C,H,W) += the columns of dcol at their input positions. */
#define DEFINE_COL(T, SFX)                                                                                             \
    NO_MEMCPY_CALLS static void im2col_##SFX(const geom *g, const T *x, T *col)                                        \
    {                                                                                                                  \
        FOR_TAPS(g, {                                                                                                  \
            memset(col + row, 0, (size_t)(p0 * g->Q) * sizeof(T));                                                     \
            for (int64_t p = p0; p < p1; p++) {                                                                        \
                T *out = col + row + p * g->Q;                                                                         \
                const T *in = x + TAP_INPUT(g, p);                                                                     \
                for (int64_t q = 0; q < q0; q++) out[q] = 0;                                                           \
                if (g->sw == 1)                                                                                        \
                    for (int64_t q = q0; q < q1; q++) out[q] = in[q];                                                  \
                else                                                                                                   \
                    for (int64_t q = q0; q < q1; q++) out[q] = in[q * g->sw];                                          \
                for (int64_t q = q1; q < g->Q; q++) out[q] = 0;                                                        \
            }                                                                                                          \
            memset(col + row + p1 * g->Q, 0, (size_t)((g->P - p1) * g->Q) * sizeof(T));                               \
        })                                                                                                             \
    }                                                                                                                  \
    static void col2im_##SFX(const geom *g, const T *col, T *dx)                                                       \
    {                                                                                                                  \
        FOR_TAPS(g, {                                                                                                  \
            for (int64_t p = p0; p < p1; p++) {                                                                        \
                const T *in = col + row + p * g->Q;                                                                    \
                T *out = dx + TAP_INPUT(g, p);                                                                         \
                if (g->sw == 1)                                                                                        \
                    for (int64_t q = q0; q < q1; q++) out[q] += in[q];                                                 \
                else                                                                                                   \
                    for (int64_t q = q0; q < q1; q++) out[q * g->sw] += in[q];                                         \
            }                                                                                                          \
        })                                                                                                             \
    }
DEFINE_COL(float, f)
DEFINE_COL(double, d)

static void im2col(ad_dtype dt, const geom *g, const void *x, void *col)
{
    if (dt == AD_FLOAT32) im2col_f(g, x, col);
    else im2col_d(g, x, col);
}

static void col2im(ad_dtype dt, const geom *g, const void *col, void *dx)
{
    if (dt == AD_FLOAT32) col2im_f(g, col, dx);
    else col2im_d(g, col, dx);
}

static void gemm(ad_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *A, const void *B,
                 double beta, void *C)
{
    int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n);
    if (dt == AD_FLOAT32)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)k, 1.0f, A, lda, B, ldb, (float)beta, C, (int)n);
    else
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                    (int)k, 1.0, A, lda, B, ldb, beta, C, (int)n);
}

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

/* The groups dw and db sum over: from N alone (see the top). Past
 * CONV_GROUPS images a group holds several (conv_paths' "groups"). */
enum { CONV_GROUPS = 16 };
static int64_t conv_groups(int64_t N) { return N < CONV_GROUPS ? N : CONV_GROUPS; }

/* Scratch in the node's arena (rewound with it: no malloc per step): a col
 * per thread, and dw's per-group sums. The forward of a recorded node makes
 * it once for the forward, the jvp and both vjps (which then cannot run out
 * of memory halfway, with no way to say so). */
typedef struct conv_work {
    int nt;            /* threads it has cols for */
    size_t col_bytes;  /* one col (C·R·S, P·Q) */
    char *cols;        /* nt cols */
    char *parts;       /* conv_groups(N) × K × C·R·S */
    char *dys;         /* conv2d_relu: nt masked dy_n (K, P·Q) */
    char *kept;        /* N cols of the forward's x, for dw and the jvp's conv(x, tw); NULL over KEPT_COLS_MAX.
                          Made by the forward, which fills it before anything else can read it */
} conv_work;

/* The forward's cols are kept for dw (and the jvp's conv(x, tw)) when the
 * batch's cols take at most this much, and rebuilt image by image in a
 * per-thread buffer otherwise. Measured on LeNet-5 (2-core EPYC, 2 MB L2
 * per core, 32 MB L3; BENCHMARKS.md): keeping conv1's 5 MB and conv2's 3.8
 * MB at batch 64 saves 6% of the epoch; keeping batch 256's 20 and 15 MB
 * costs 8% (they come back from memory, slower than im2col rebuilds them).
 * Kept or not, dw is the same number as long as x is not written between
 * the forward and the backward (which ad_graph.h's ad_backward rules out,
 * as PyTorch does). */
#define KEPT_COLS_MAX ((size_t)8 << 20)

/* The numbers a pass over images touches, N·P·Q·(K + C·R·S): the kernels
 * split the images over threads where this reaches AD_PAR_MIN_ELEMENTS
 * (ad_threads_for), N >= 2 and more than one thread is set. */
static int64_t conv_work_elems(const geom *g, int64_t images) { return images * g->pq * (g->K + g->crs); }

static bool fused_relu(const ad_node *o) { return o->op == &ad_op_conv2d_relu; }

static conv_work *work_new(const ad_node *o, int nt, bool keep_cols)
{
    geom g = geometry(o);
    size_t es = ad_dtype_size((ad_dtype)o->value.dtype);
    ad_node *m = (ad_node *)o;   /* the arena is the node's context's, not the node */
    conv_work *wk = ad_node_alloc(m, sizeof *wk);
    if (!wk) return NULL;
    wk->nt = nt;
    wk->col_bytes = (size_t)(g.C * g.R * g.S * g.P * g.Q) * es;
    wk->cols = ad_node_alloc(m, (size_t)nt * wk->col_bytes);
    wk->parts = ad_node_alloc(m, (size_t)(conv_groups(g.N) * g.K * g.C * g.R * g.S) * es);
    wk->dys = fused_relu(o) ? ad_node_alloc(m, (size_t)nt * (size_t)(g.K * g.P * g.Q) * es) : NULL;
    bool keep = keep_cols && g.N > 0 && wk->col_bytes <= KEPT_COLS_MAX / (size_t)g.N;
    wk->kept = keep ? ad_node_alloc(m, (size_t)g.N * wk->col_bytes) : NULL;
    return wk->cols && wk->parts && (wk->dys || !fused_relu(o)) && (wk->kept || !keep) ? wk : NULL;
}

/* The node's scratch, for at most `want` threads (*nt says how many). */
static conv_work *work_of(const ad_node *o, int want, int *nt)
{
    conv_work *wk = o->saved ? o->saved : work_new(o, want, false);
    *nt = 1;   /* (never left unset, even where there is no scratch) */
    if (wk) *nt = want < wk->nt ? want : wk->nt;
    return wk;
}

/* ±0 are the only numbers whose bits, shifted left past the sign, are all
 * zero (a NaN has mantissa bits): an OR of words, which vectorises, where
 * `x != 0` compiled to a compare and a select per element. */
#define DEFINE_ALL_ZERO(U, SFX)                                                                                        \
    static bool all_zero_##SFX(const U *w, int64_t len)                                                                \
    {                                                                                                                  \
        for (int64_t i = 0; i < len; i += 512) {                                                                       \
            U any = 0;                                                                                                 \
            int64_t end = i + 512 < len ? i + 512 : len;                                                               \
            for (int64_t j = i; j < end; j++) any |= (U)(w[j] << 1);                                                   \
            if (any) return false;                                                                                     \
        }                                                                                                              \
        return true;                                                                                                   \
    }
typedef uint32_t __attribute__((may_alias)) bits32;   /* may_alias: the words are floats' and doubles' */
typedef uint64_t __attribute__((may_alias)) bits64;
DEFINE_ALL_ZERO(bits32, f)
DEFINE_ALL_ZERO(bits64, d)

/* Is image n's dy all zeros (+0 or -0; a NaN is not)? For an image whose
 * dy is, dx_n and the dw term are zero and their GEMMs are skipped.
 * gradcheck's one-hot cotangents are zero in every image but one (conv2d's
 * reverse-mode Jacobian at batch 4: 3/4 of its arithmetic; the same test on
 * the jvp's tangent images measured no gain). The test reads
 * the slice once, 1/(C·R·S) of the GEMM's work, and stops at the first
 * block with a nonzero. Skipping w^T·0 also skips the NaN that a NaN or
 * infinite weight would make there; the forward has made that NaN in y. */
static bool dy_zero(const geom *g, const void *gout, int64_t n)
{
    int64_t len = g->K * g->pq;
    const char *dy = (const char *)gout + (size_t)(n * len) * g->es;
    return g->dt == AD_FLOAT32 ? all_zero_f((const bits32 *)(const void *)dy, len)
                               : all_zero_d((const bits64 *)(const void *)dy, len);
}

/* Image n's col of x: the kept one where there are kept cols and x is the
 * node's own input (with `fill`, in the forward: the kept one, filled here),
 * else this thread's buffer, filled here. */
static char *col_of(const ad_node *o, const geom *g, const conv_work *wk, const void *x, int64_t n, bool fill)
{
    if (wk->kept && (fill || x == o->in[0]->value.data)) {
        char *col = wk->kept + (size_t)n * wk->col_bytes;
        if (fill) im2col(g->dt, g, (const char *)x + (size_t)(n * g->chw) * g->es, col);
        return col;
    }
    char *col = wk->cols + (size_t)THREAD_ID() * wk->col_bytes;
    im2col(g->dt, g, (const char *)x + (size_t)(n * g->chw) * g->es, col);
    return col;
}

/* y (+)= conv(x, w) [+ b], then relu(y) if `relu`: the forward (which fills
 * the kept cols, where there are any), and each term of the jvp. */
static ad_status conv_into(const ad_node *o, const void *x, const void *w, const void *b, void *y, bool accumulate,
                           bool relu, bool fill_kept)
{
    geom g = geometry(o);
    int nt;
    conv_work *wk = work_of(o, ad_threads_for(g.N, conv_work_elems(&g, g.N)), &nt);
    if (!wk) return ad_last_status();
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t n = 0; n < g.N; n++) {
        char *col = col_of(o, &g, wk, x, n, fill_kept);
        char *yn = (char *)y + (size_t)(n * g.K * g.pq) * g.es;
        double beta = accumulate ? 1.0 : 0.0;
        if (b) {   /* start y_n from the bias: GEMM adds onto it, no second pass */
            AD_DISPATCH(g.dt, {
                T *Y = (T *)yn;
                const T *B = b;
                for (int64_t k = 0; k < g.K; k++)
                    for (int64_t i = 0; i < g.pq; i++) Y[k * g.pq + i] = accumulate ? Y[k * g.pq + i] + B[k] : B[k];
            });
            beta = 1.0;
        }
        gemm(g.dt, false, false, g.K, g.pq, g.crs, w, col, beta, yn);
        if (relu)   /* while y_n is in cache */
            AD_DISPATCH(g.dt, {
                T *Y = (T *)yn;
                for (int64_t i = 0; i < g.K * g.pq; i++) Y[i] = Y[i] <= 0 ? 0 : Y[i];   /* relu_f, in T: vectorised */
            });
    }
    return AD_OK;
}

/* Σ of x[0..n), or with y of Σ x where y > 0 (conv2d_relu's db, no buffer),
 * with eight running sums (in a fixed order: the same bits on any machine).
 * The eight sums are GCC/Clang vectors of 16 bytes (SSE2's and NEON's
 * width; wider ones are compared lane by lane in scalar code) and the mask
 * is a bitwise and: written as `acc[j] += y[j] <= 0 ? 0 : x[j]`, GCC kept it
 * scalar, compares and branches, 11% of a LeNet step. A NaN y keeps x
 * (!(NaN <= 0)), as relu_d. */
#define DEFINE_ROW_SUM(T, I, SFX)                                                                                      \
    typedef T lanes_##SFX __attribute__((vector_size(16)));                                                            \
    typedef I mask_##SFX __attribute__((vector_size(16)));                                                             \
    enum { LANES_##SFX = 16 / sizeof(T), VECS_##SFX = 8 / LANES_##SFX };                                                \
    static inline lanes_##SFX keep_where_positive_##SFX(const T *x, const T *y)                                        \
    {                                                                                                                  \
        lanes_##SFX xv, yv, zero = {0};                                                                                \
        memcpy(&xv, x, sizeof xv);                                                                                     \
        if (!y) return xv;                                                                                             \
        memcpy(&yv, y, sizeof yv);                                                                                     \
        return (lanes_##SFX)((mask_##SFX)xv & ~(yv <= zero));                                                          \
    }                                                                                                                  \
    static T row_sum_##SFX(const T *x, const T *y, int64_t n)                                                          \
    {                                                                                                                  \
        lanes_##SFX acc[VECS_##SFX] = {{0}};                                                                           \
        int64_t i = 0;                                                                                                 \
        for (; i + 8 <= n; i += 8)                                                                                     \
            for (int v = 0; v < VECS_##SFX; v++)                                                                       \
                acc[v] += keep_where_positive_##SFX(x + i + v * LANES_##SFX, y ? y + i + v * LANES_##SFX : NULL);      \
        T sum[8];                                                                                                      \
        memcpy(sum, acc, sizeof sum);                                                                                  \
        for (; i < n; i++) {                                                                                           \
            T xs = x[i], ys = y ? y[i] : 1;                                                                            \
            sum[0] += ys <= 0 ? 0 : xs;                                                                                \
        }                                                                                                              \
        return ((sum[0] + sum[4]) + (sum[1] + sum[5])) + ((sum[2] + sum[6]) + (sum[3] + sum[7]));                      \
    }
DEFINE_ROW_SUM(float, int32_t, f)
DEFINE_ROW_SUM(double, int64_t, d)

/* The dy_n the conv's vjps see: dy_n itself, or for conv2d_relu dy_n·relu'
 * in this thread's buffer. relu' is 0 where the pre-activation is <= 0,
 * else 1 (a NaN's included), which is where y <= 0, else 1 (relu keeps a
 * NaN). Masked entries are 0 even where dy is NaN or inf, as PyTorch's
 * relu(conv2d(...)) gives (its ReLU selects; the engine's separate relu
 * multiplies by 0, so the two differ there alone). */
static const char *dy_of(const ad_node *o, const geom *g, const conv_work *wk, const void *gout, int64_t j)
{
    /* j counts images through a block of cotangents (row j / N, image j % N) */
    const char *gn = (const char *)gout + (size_t)(j * g->K * g->pq) * g->es;
    if (!fused_relu(o)) return gn;
    char *buf = wk->dys + (size_t)THREAD_ID() * (size_t)(g->K * g->pq) * g->es;
    int64_t len = g->K * g->pq;
    AD_DISPATCH(g->dt, {
        const T *G = (const T *)gn, *Y = (const T *)o->value.data + (j % g->N) * len;
        T *D = (T *)buf;
        int64_t i = 0;
        if (g->dt == AD_FLOAT32)   /* relu_d's rule, four lanes at a time (row_sum's helper) */
            for (; i + LANES_f <= len; i += LANES_f) {
                lanes_f d = keep_where_positive_f((const float *)G + i, (const float *)Y + i);
                memcpy((float *)D + i, &d, sizeof d);
            }
        for (; i < len; i++) {
            T gv = G[i], yv = Y[i];
            D[i] = yv <= 0 ? 0 : gv;
        }
    });
    return buf;
}

static ad_status conv_forward(ad_node *o)
{
    bool recording = ad_node_recording(o);
    if (recording && !(o->saved = work_new(o, ad_threads(), true))) return ad_last_status();
    return conv_into(o, o->in[0]->value.data, o->in[1]->value.data, o->n_in == 3 ? o->in[2]->value.data : NULL,
                     o->value.data, false, fused_relu(o), recording);
}

/* dw or db: each group of images sums into part[grp] (K·len elements);
 * the parts are then added into gin in group order. dw's cols are those of
 * x (x's shape: the node's own input, or a tangent of it: see col_of). */
static void conv_vjp_params(const ad_node *o, int slot, const void *x, const void *gout, void *gin)
{
    geom g = geometry(o);
    int64_t G = conv_groups(g.N), len = slot == 1 ? g.crs : 1;
    int nt;
    conv_work *wk = work_of(o, ad_threads_for(G, conv_work_elems(&g, g.N)), &nt);
    if (!wk) return;   /* only for a node not recorded; the arena's message stands */
    char *parts = wk->parts;
    memset(parts, 0, (size_t)(G * g.K * len) * g.es);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t grp = 0; grp < G; grp++) {
        char *part = parts + (size_t)(grp * g.K * len) * g.es;
        for (int64_t n = g.N * grp / G; n < g.N * (grp + 1) / G; n++) {
            if (slot == 1) {   /* part += dy_n · colᵀ */
                if (dy_zero(&g, gout, n)) continue;
                const char *col = col_of(o, &g, wk, x, n, false);
                gemm(g.dt, false, true, g.K, g.crs, g.pq, dy_of(o, &g, wk, gout, n), col, 1.0, part);
            } else {           /* part[k] += Σ_i dy_n[k, i] (· relu'(y_n[k, i])) */
                size_t at = (size_t)(n * g.K * g.pq) * g.es;
                const void *gn = (const char *)gout + at, *yn = fused_relu(o) ? (const char *)o->value.data + at : NULL;
                AD_DISPATCH(g.dt, {
                    T *PB = (T *)part;
                    for (int64_t k = 0; k < g.K; k++)
                        PB[k] += g.dt == AD_FLOAT32
                                     ? (T)row_sum_f((const float *)gn + k * g.pq, yn ? (const float *)yn + k * g.pq : NULL, g.pq)
                                     : (T)row_sum_d((const double *)gn + k * g.pq, yn ? (const double *)yn + k * g.pq : NULL, g.pq);
                });
            }
        }
    }
    AD_DISPATCH(g.dt, {
        T *GI = gin;
        const T *P = (const T *)parts;
        for (int64_t grp = 0; grp < G; grp++)
            for (int64_t i = 0; i < g.K * len; i++) GI[i] += P[grp * g.K * len + i];
    });
}

static void conv_vjp_params1(const ad_node *o, int slot, const void *gout, void *gin)
{
    conv_vjp_params(o, slot, o->in[0]->value.data, gout, gin);
}

/* dx_j += col2im(wᵀ · dy_j), image by image, w of w's shape (the node's
 * own, or a tangent of it): a block of rows cotangents is rows·N images
 * (gout (rows, N, K, P, Q), gin (rows, N, C, H, W)) */
static void conv_vjp_x(const ad_node *o, const void *w, int rows, const void *gout, void *gin)
{
    geom g = geometry(o);
    int64_t images = rows * g.N;
    int nt;
    conv_work *wk = work_of(o, ad_threads_for(images, conv_work_elems(&g, images)), &nt);
    if (!wk) return;   /* only for a node not recorded; the arena's message stands */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t j = 0; j < images; j++) {
        if (dy_zero(&g, gout, j)) continue;
        char *col = wk->cols + (size_t)THREAD_ID() * wk->col_bytes;
        gemm(g.dt, true, false, g.crs, g.pq, g.K, w, dy_of(o, &g, wk, gout, j), 0.0, col);
        col2im(g.dt, &g, col, (char *)gin + (size_t)(j * g.chw) * g.es);
    }
}

static void conv_vjp(const ad_node *o, int slot, int rows, const void *gout, void *gin)
{
    if (slot == 0) conv_vjp_x(o, o->in[1]->value.data, rows, gout, gin);
    else   /* dw and db: each row of the block sums over the images into its own */
        ad_vjp_rows(conv_vjp_params1, o, slot, rows, gout, gin);
}

/* Second order (ad_op.h's vjp_tangent). The conv is bilinear in (x, w):
 * dx = col2im(wᵀ·dy) is linear in w and dw = Σₙ dy_n·col(x_n)ᵀ in x, so
 * along the tangents they change by the same vjps with tw for w (x's term)
 * and tx for x (w's term; col_of rebuilds tx's cols, never the forward's
 * kept cols of x). db = Σ dy does not move. For conv2d_relu, dy_of masks dy
 * by relu'(y), which is constant between kinks, so the terms are conv2d's
 * for the masked dy. */
static void conv_vjp_tangent(const ad_node *o, int slot, int dir, const void *gout, void *gin_dot)
{
    const void *other_dot = slot < 2 ? ad_tangent_row(o->in[1 - slot], dir) : NULL;
    if (!other_dot) return;
    if (slot == 0) conv_vjp_x(o, other_dot, 1, gout, gin_dot);
    else conv_vjp_params(o, 1, other_dot, gout, gin_dot);
}

static void conv_jvp(ad_node *o, int k)
{
    size_t bytes = (size_t)o->value.size * ad_dtype_size((ad_dtype)o->value.dtype);
    for (int d = 0; d < k; d++) {
        void *t = ad_tangent_row(o, d), *tx = ad_tangent_row(o->in[0], d), *tw = ad_tangent_row(o->in[1], d);
        void *tb = o->n_in == 3 ? ad_tangent_row(o->in[2], d) : NULL;
        memset(t, 0, bytes);
        /* ty = conv(tx, w) + conv(x, tw) + tb: the bias rides on the first term */
        if (tx) conv_into(o, tx, o->in[1]->value.data, tb, t, true, false, false);
        if (tw) conv_into(o, o->in[0]->value.data, tw, tx ? NULL : tb, t, true, false, false);
        geom g = geometry(o);
        AD_DISPATCH(o->value.dtype, {
            T *TY = t;
            const T *TB = tb, *Y = o->value.data;
            if (tb && !tx && !tw)
                for (int64_t n = 0; n < g.N; n++)
                    for (int64_t kk = 0; kk < g.K; kk++)
                        for (int64_t i = 0; i < g.pq; i++) TY[(n * g.K + kk) * g.pq + i] += TB[kk];
            if (fused_relu(o))   /* ty = the conv's ty where relu' = 1, else 0 (a select, as dy_of) */
                for (int64_t i = 0; i < o->value.size; i++) TY[i] = relu_d(Y[i], Y[i], 0) != 0 ? TY[i] : 0;
        });
    }
}

static const ad_op_case conv_cases[] = {
    {"x (2,3,7,7), w (4,3,3,3), b, stride 1, pad 1", 3, {4, 4, 1},
     {{2, 3, 7, 7}, {4, 3, 3, 3}, {4, 1, 1, 1}}, {.stride = {1, 1}, .pad = {1, 1}}},
    {"x (2,2,9,8), w (3,2,3,2), b, stride 2, pad 0", 3, {4, 4, 1},
     {{2, 2, 9, 8}, {3, 2, 3, 2}, {3, 1, 1, 1}}, {.stride = {2, 2}, .pad = {0, 0}}},
    {"x (1,1,6,6), w (2,1,5,5), no bias, stride 1, pad 2", 2, {4, 4},
     {{1, 1, 6, 6}, {2, 1, 5, 5}}, {.stride = {1, 1}, .pad = {2, 2}}},
    {"x (3,2,5,5), w (2,2,3,3), b, stride 2, pad 1", 3, {4, 4, 1},
     {{3, 2, 5, 5}, {2, 2, 3, 3}, {2, 1, 1, 1}}, {.stride = {2, 2}, .pad = {1, 1}}},
    /* The edges of tap_range and the kernels' branches: a 1x1 kernel (col is
     * x itself), stride > kernel (inputs no tap reads: gradient 0), padding
     * = kernel - 1 (taps that see only padding at the edges), one output
     * position (the kernel covers the image), stride and padding (h, w)
     * apart (sh, ph for rows, sw, pw for columns: a mutant that swaps them
     * passes every square case; sw = 1 and sw > 1 copy differently), and 17
     * images (over CONV_GROUPS = 16: a group holds two). */
    {"x (2,2,3,4), w (3,2,1,1), b, stride 1, pad 0 (1x1 kernel)", 3, {4, 4, 1},
     {{2, 2, 3, 4}, {3, 2, 1, 1}, {3, 1, 1, 1}}, {.stride = {1, 1}, .pad = {0, 0}}},
    {"x (1,2,7,7), w (2,2,2,2), b, stride 3, pad 0 (stride > kernel)", 3, {4, 4, 1},
     {{1, 2, 7, 7}, {2, 2, 2, 2}, {2, 1, 1, 1}}, {.stride = {3, 3}, .pad = {0, 0}}},
    {"x (1,1,4,4), w (2,1,3,3), b, stride 1, pad 2 (pad = kernel - 1)", 3, {4, 4, 1},
     {{1, 1, 4, 4}, {2, 1, 3, 3}, {2, 1, 1, 1}}, {.stride = {1, 1}, .pad = {2, 2}}},
    {"x (2,2,3,4), w (2,2,3,4), b, stride 1, pad 0 (output 1x1)", 3, {4, 4, 1},
     {{2, 2, 3, 4}, {2, 2, 3, 4}, {2, 1, 1, 1}}, {.stride = {1, 1}, .pad = {0, 0}}},
    {"x (1,2,6,5), w (2,2,3,2), b, stride (2,1), pad (1,0)", 3, {4, 4, 1},
     {{1, 2, 6, 5}, {2, 2, 3, 2}, {2, 1, 1, 1}}, {.stride = {2, 1}, .pad = {1, 0}}},
    {"x (1,2,5,6), w (2,2,2,3), b, stride (1,2), pad (0,1)", 3, {4, 4, 1},
     {{1, 2, 5, 6}, {2, 2, 2, 3}, {2, 1, 1, 1}}, {.stride = {1, 2}, .pad = {0, 1}}},
    {"x (17,1,3,3), w (2,1,2,2), b, stride 1, pad 0 (17 images)", 3, {4, 4, 1},
     {{17, 1, 3, 3}, {2, 1, 2, 2}, {2, 1, 1, 1}}, {.stride = {1, 1}, .pad = {0, 0}}},
};

/* The kernels' paths (ad_op_path), each side of each threshold above:
 *   serial       N·P·Q·(K + C·R·S) < AD_PAR_MIN_ELEMENTS, or one thread;
 *   threaded     from there on 2+ threads (images over threads for the forward
 *                and dx, CONV_GROUPS groups for dw and db, a col per thread);
 *   groups       N > CONV_GROUPS: each group of dw's and db's sums holds several images;
 *   cols rebuilt the batch's cols over KEPT_COLS_MAX: dw and the jvp rebuild
 *                each image's col in the thread's buffer instead of reading the forward's;
 *   short rows   P·Q < 8: db's row sums (eight lanes) take the scalar tail alone.
 * A probe is just past (or, serial, just below) its threshold. The cols-rebuilt
 * probe is over 8 MB in float32 (8.4 MB; 16.9 in float64). */
#define CONV_PROBE(LABEL, N, C, H, W, K, R, S, STRIDE, PAD)                                                            \
    {LABEL, 3, {4, 4, 1}, {{N, C, H, W}, {K, C, R, S}, {K, 1, 1, 1}}, {.stride = {STRIDE, STRIDE}, .pad = {PAD, PAD}}}
static const ad_op_path conv_paths[] = {
    {"serial", "N·P·Q·(K+C·R·S) < 16384 or 1 thread", 0, 1, NULL,
     CONV_PROBE("x (14,3,6,6), w (4,3,3,3), b, pad 1: 15624 numbers", 14, 3, 6, 6, 4, 3, 3, 1, 1)},
    {"threaded", "N·P·Q·(K+C·R·S) >= 16384, N >= 2, on 2+ threads", AD_PAR_MIN_ELEMENTS, 2, "serial",
     CONV_PROBE("x (18,3,6,6), w (4,3,3,3), b, pad 1: 20088 numbers", 18, 3, 6, 6, 4, 3, 3, 1, 1)},
    {"groups", "N > 16: a group of dw's and db's sums holds several images", CONV_GROUPS + 1, 1, NULL,
     CONV_PROBE("x (18,1,5,5), w (2,1,3,3), b", 18, 1, 5, 5, 2, 3, 3, 1, 0)},
    {"cols rebuilt", "the batch's cols over 8 MB: dw and the jvp rebuild them", (int64_t)KEPT_COLS_MAX, 2, NULL,
     CONV_PROBE("x (168,1,22,22), w (2,1,7,7), b: cols 8.4 MB in float32", 168, 1, 22, 22, 2, 7, 7, 1, 0)},
    {"short rows", "P·Q < 8: db's row sums take the scalar tail alone", 0, 1, NULL,
     CONV_PROBE("x (2,2,3,3), w (3,2,2,2), b: P·Q = 4", 2, 2, 3, 3, 3, 2, 2, 1, 0)},
};
_Static_assert(AD_PAR_MIN_ELEMENTS == 16384 && CONV_GROUPS == 16 && KEPT_COLS_MAX == (size_t)8 << 20,
               "conv_paths' texts and probes give these numbers");

/* From x's shape (and R,S where --kernel set them): w (K,C,R,S), b (K). */
static ad_status conv_complete(ad_op_case *c)
{
    if (c->ndim[0] != 4) return ad_fail(AD_ERR_SHAPE, "conv2d: --shape must give x as (N,C,H,W), e.g. 2x3x8x8");
    int64_t K = c->ndim[1] == 4 ? c->shape[1][0] : 4, R = c->ndim[1] == 4 ? c->shape[1][2] : 3,
            S = c->ndim[1] == 4 ? c->shape[1][3] : 3;
    c->n_in = 3;
    c->ndim[1] = 4;
    c->shape[1][0] = K;
    c->shape[1][1] = c->shape[0][1];
    c->shape[1][2] = R;
    c->shape[1][3] = S;
    c->ndim[2] = 1;
    c->shape[2][0] = K;
    return AD_OK;
}

/* conv2d_relu's kinks (gradcheck only): each output's pre-activation at 0.
 * The pre-activations, run again from the node's inputs, as doubles (NULL:
 * out of memory; gradcheck then draws again). */
static double *conv_relu_pre(const ad_node *o)
{
    size_t bytes = (size_t)o->value.size * ad_dtype_size((ad_dtype)o->value.dtype);
    void *pre = calloc(1, bytes);
    double *d = malloc((size_t)o->value.size * sizeof *d);
    if (!pre || !d || conv_into(o, o->in[0]->value.data, o->in[1]->value.data,
                                o->n_in == 3 ? o->in[2]->value.data : NULL, pre, false, false, false) != AD_OK) {
        free(pre);
        free(d);
        return NULL;
    }
    AD_DISPATCH(o->value.dtype, {
        const T *P = pre;
        for (int64_t i = 0; i < o->value.size; i++) d[i] = fabs((double)P[i]);
    });
    free(pre);
    return d;
}

/* Does output (p, q)'s window hold an element of the image, not only
 * padding? A window of padding alone without a bias is 0 whatever the
 * inputs: relu(0) there is a constant, not a kink. */
static bool window_in_image(const geom *g, int64_t p, int64_t q)
{
    int64_t i0 = p * g->sh - g->ph, j0 = q * g->sw - g->pw;
    return i0 + g->R > 0 && i0 < g->H && j0 + g->S > 0 && j0 < g->W;
}

/* The least |pre-activation| over the outputs that can move (NaN: at the kink). */
static double conv_relu_gap(const ad_node *o)
{
    double *a = conv_relu_pre(o);
    if (!a) return 0;   /* cannot tell: gradcheck draws again */
    geom g = geometry(o);
    double gap = INFINITY;
    for (int64_t i = 0; i < o->value.size; i++) {
        int64_t pq = i % g.pq;
        if (o->n_in < 3 && !window_in_image(&g, pq / g.Q, pq % g.Q)) continue;
        gap = a[i] < gap ? a[i] : a[i] == a[i] ? gap : 0;
    }
    free(a);
    return gap;
}

/* The same element by element (ad_op.kink_dist), for the elements gradcheck
 * draws again: each x element gets the least |pre| of the outputs whose
 * window it is in; b[k] that of channel k's outputs whose window is padding
 * alone (only b moves them). w and the rest of b stay INFINITY though they
 * take part in every kink of their channel: drawing them again would move a
 * whole channel's kinks at once, and at LeNet's sizes some output of every
 * channel is always near 0, so the draws would never settle. Every kink still
 * has an element at its distance (the least is the gap, which gradcheck
 * checks), and drawing those again moves it. */
static void conv_relu_dist(const ad_node *o, int slot, double *dist)
{
    for (int64_t j = 0; j < o->in[slot]->value.size; j++) dist[j] = INFINITY;
    double *a = conv_relu_pre(o);
    geom g = geometry(o);
    for (int64_t n = 0; n < g.N && slot != 1; n++)
        for (int64_t k = 0; k < g.K; k++)
            for (int64_t p = 0; p < g.P; p++)
                for (int64_t q = 0; q < g.Q; q++) {
                    int64_t i = ((n * g.K + k) * g.P + p) * g.Q + q;
                    double d = !a ? 0 : a[i] == a[i] ? a[i] : 0;   /* (no numbers, or NaN: draw again) */
                    if (!window_in_image(&g, p, q)) {
                        if (slot == 2 && d < dist[k]) dist[k] = d;
                        continue;
                    }
                    for (int64_t c = 0; c < g.C && slot == 0; c++)
                        for (int64_t r = 0; r < g.R; r++)
                            for (int64_t s = 0; s < g.S; s++) {
                                int64_t ih = p * g.sh - g.ph + r, iw = q * g.sw - g.pw + s;
                                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                int64_t j = ((n * g.C + c) * g.H + ih) * g.W + iw;
                                if (d < dist[j]) dist[j] = d;
                            }
                }
    free(a);
}

/* The two ops: the same kernels (fused_relu tells them apart), cases and checks. */
#define CONV_OP(NAME, SUMMARY, FLAGS, GAP, DIST)                                                                       \
    AD_DECLARE_CUDA(NAME)                                                                                              \
    const ad_op ad_op_##NAME = {                                                                                       \
        .name = #NAME,                                                                                                 \
        .summary = SUMMARY,                                                                                            \
        .n_in = 3,                                                                                                     \
        .n_in_min = 2,                                                                                                 \
        .flags = AD_OP_PARAMS | AD_OP_BATCHED | (FLAGS),                                                               \
        .infer = conv_infer,                                                                                           \
        .cpu = {conv_forward, conv_vjp, conv_jvp, conv_vjp_tangent},                                                   \
        .cuda = AD_CUDA_KERNELS(NAME),                                                                                 \
        .domain = {{-2, 2}, {-2, 2}, {-2, 2}},                                                                         \
        .kink_gap = GAP,                                                                                               \
        .kink_dist = DIST,                                                                                             \
        .cases = conv_cases,                                                                                           \
        .n_cases = sizeof conv_cases / sizeof conv_cases[0],                                                           \
        .complete_case = conv_complete,                                                                                \
        .paths = conv_paths,                                                                                           \
        .n_paths = sizeof conv_paths / sizeof conv_paths[0],                                                           \
    };
CONV_OP(conv2d, "x (N,C,H,W) ⋆ w (K,C,R,S) + b (K), stride, zero padding; im2col + GEMM", 0, NULL, NULL)
CONV_OP(conv2d_relu, "relu(x (N,C,H,W) ⋆ w (K,C,R,S) + b (K)), conv2d and ReLU fused (one pass over y)",
        AD_OP_NONSMOOTH, conv_relu_gap, conv_relu_dist)

static ad_node *conv_apply(ad_context *ctx, const ad_op *op, ad_node *x, ad_node *w, ad_node *b, const int stride[2],
                           const int pad[2])
{
    ad_node *in[3] = {x, w, b};
    ad_params p = {.stride = {stride[0], stride[1]}, .pad = {pad[0], pad[1]}};
    return ad_apply(ctx, op, in, b ? 3 : 2, &p);
}

ad_node *ad_conv2d_ex(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, const int stride[2], const int pad[2])
{
    return conv_apply(ctx, &ad_op_conv2d, x, w, b, stride, pad);
}

ad_node *ad_conv2d_relu(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, int stride, int padding)
{
    int s[2] = {stride, stride}, p[2] = {padding, padding};
    return conv_apply(ctx, &ad_op_conv2d_relu, x, w, b, s, p);
}

ad_node *ad_conv2d(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, int stride, int padding)
{
    int s[2] = {stride, stride}, p[2] = {padding, padding};
    return ad_conv2d_ex(ctx, x, w, b, s, p);
}
