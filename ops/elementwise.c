/* elementwise.c: the elementwise ops. Each op's math is one pair of
 * functions in ad_elementwise_math.h; the macros below turn each pair into
 * a forward, a vjp and a jvp for both dtypes, and an ad_op entry.
 *
 * Binary ops broadcast numpy-style (shapes aligned on the right, a dim of 1
 * stretches): a (2,1,3) with b (4,1) gives (2,4,3); a scalar goes with any
 * shape. The vjp of a broadcast input sums over the dims it was stretched
 * along, which falls out of accumulating into the input's own index. */
#include <math.h>
#include "ad_elementwise_math.h"
#include "ad_kernel_util.h"
#include "ad_ops.h"
#include "ad_parallel.h"

/* ---- broadcasting (ad_bcast in ad_kernel_util.h: the CUDA kernels use it too) ---- */
static void pad4(const ad_tensor *t, int64_t *dims)
{
    int off = AD_MAX_DIMS - t->ndim;
    for (int d = 0; d < AD_MAX_DIMS; d++) dims[d] = d < off ? 1 : t->shape[d - off];
}

static void strides4(const ad_tensor *t, const int64_t *out, int64_t *s)
{
    int64_t dims[AD_MAX_DIMS], stride = 1;
    pad4(t, dims);
    for (int d = AD_MAX_DIMS - 1; d >= 0; d--) {
        s[d] = (dims[d] == 1 && out[d] != 1) ? 0 : stride;
        stride *= dims[d];
    }
}

void ad_bcast_make(const ad_tensor *a, const ad_tensor *b, int nd, const int64_t *shape, ad_bcast *bc)
{
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= shape[d];
    /* The common cases first: scalars (the scalar-graph hot path) and equal
     * shapes need no strides. */
    bc->same = a->size == n && b->size == n;
    if (bc->same) {
        bc->n[0] = n;
        bc->n[1] = bc->n[2] = bc->n[3] = 1;
        return;
    }
    for (int d = 0; d < AD_MAX_DIMS; d++) bc->n[d] = d < AD_MAX_DIMS - nd ? 1 : shape[d - (AD_MAX_DIMS - nd)];
    strides4(a, bc->n, bc->sa);
    strides4(b, bc->n, bc->sb);
}

void ad_bcast_setup(const ad_node *out, ad_bcast *bc)
{
    ad_bcast_make(&out->in[0]->value, &out->in[1]->value, out->value.ndim, out->value.shape, bc);
}

ad_status ad_check_same_dtype(const char *op, const ad_node *a, const ad_node *b)
{
    if (a->value.dtype == b->value.dtype) return AD_OK;
    char sa[64], sb[64];
    return ad_fail(AD_ERR_DTYPE, "%s: inputs have different dtypes: %s %s and %s %s (convert one first)", op,
                   ad_dtype_name((ad_dtype)a->value.dtype), ad_shape_str(&a->value, sa, sizeof sa),
                   ad_dtype_name((ad_dtype)b->value.dtype), ad_shape_str(&b->value, sb, sizeof sb));
}

ad_status ad_bcast_shape(const char *op, const ad_tensor *a, const ad_tensor *b, int *ndim, int64_t *shape)
{
    int64_t da[AD_MAX_DIMS], db[AD_MAX_DIMS];
    pad4(a, da);
    pad4(b, db);
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = AD_MAX_DIMS - nd; d < AD_MAX_DIMS; d++) {
        if (da[d] != db[d] && da[d] != 1 && db[d] != 1) {
            char sa[64], sb[64];
            return ad_fail(AD_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
                           ad_shape_str(a, sa, sizeof sa), ad_shape_str(b, sb, sizeof sb), d - AD_MAX_DIMS,
                           (long long)da[d], (long long)db[d]);
        }
        shape[d - (AD_MAX_DIMS - nd)] = da[d] > db[d] ? da[d] : db[d];
    }
    *ndim = nd;
    return AD_OK;
}

/* Shared by every binary op: the numpy broadcast of the two shapes. */
static ad_status binary_infer(const char *op, ad_node *const *in, int *ndim, int64_t *shape, ad_dtype *dt)
{
    ad_status st = ad_check_same_dtype(op, in[0], in[1]);
    if (st != AD_OK) return st;
    *dt = (ad_dtype)in[0]->value.dtype;
    return ad_bcast_shape(op, &in[0]->value, &in[1]->value, ndim, shape);
}

static ad_status unary_infer(ad_node *const *in, int *ndim, int64_t *shape, ad_dtype *dt)
{
    *ndim = in[0]->value.ndim;
    for (int d = 0; d < AD_MAX_DIMS; d++) shape[d] = in[0]->value.shape[d];
    *dt = (ad_dtype)in[0]->value.dtype;
    return AD_OK;
}

static double param_c(const ad_node *n) { return n->params ? n->params->c : 0.0; }

/* ---- kernels from the math ---- */
#define DEFINE_BINARY(NAME)                                                                                            \
    static ad_status NAME##_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh,              \
                                  ad_dtype *dt)                                                                        \
    {                                                                                                                  \
        (void)n_in;                                                                                                    \
        (void)p;                                                                                                       \
        return binary_infer(#NAME, in, nd, sh, dt);                                                                    \
    }                                                                                                                  \
    static ad_status NAME##_forward(ad_node *o)                                                                        \
    {                                                                                                                  \
        if (o->value.size == 1) { /* the scalar path (1 element out: 1 in each), no broadcast to set up */         \
            AD_DISPATCH(o->value.dtype, {                                                                              \
                *(T *)o->value.data = (T)NAME##_f(*(const T *)o->in[0]->value.data, *(const T *)o->in[1]->value.data); \
            });                                                                                                        \
            return AD_OK;                                                                                              \
        }                                                                                                              \
        ad_bcast bc;                                                                                                   \
        ad_bcast_setup(o, &bc);                                                                                        \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            const T *a = o->in[0]->value.data, *b = o->in[1]->value.data;                                              \
            T *y = o->value.data;                                                                                      \
            AD_BCAST_FOR(bc, { y[io] = (T)NAME##_f(a[ia], b[ib]); });                                                     \
        });                                                                                                            \
        return AD_OK;                                                                                                  \
    }                                                                                                                  \
    static void NAME##_vjp1(const ad_node *o, int slot, const void *gout, void *gin)                                   \
    {                                                                                                                  \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            const T *a = o->in[0]->value.data, *b = o->in[1]->value.data, *y = o->value.data, *g = gout;               \
            T *gi = gin;                                                                                               \
            if (o->value.size == 1) { /* the scalar path */                                                            \
                *gi += (T)(*g * (slot == 0 ? NAME##_da(*a, *b, *y) : NAME##_db(*a, *b, *y)));                          \
                return;                                                                                                \
            }                                                                                                          \
            ad_bcast bc;                                                                                               \
            ad_bcast_setup(o, &bc);                                                                                    \
            if (slot == 0) AD_BCAST_FOR(bc, { gi[ia] += (T)(g[io] * NAME##_da(a[ia], b[ib], y[io])); });                \
            else AD_BCAST_FOR(bc, { gi[ib] += (T)(g[io] * NAME##_db(a[ia], b[ib], y[io])); });                          \
        });                                                                                                            \
    }                                                                                                                  \
    AD_VJP_BY_ROWS(NAME##_vjp, NAME##_vjp1)                                                                            \
    static void NAME##_jvp(ad_node *o, int k)                                                                          \
    {                                                                                                                  \
        ad_bcast bc;                                                                                                   \
        ad_bcast_setup(o, &bc);                                                                                        \
        for (int d = 0; d < k; d++)                                                                                    \
            AD_DISPATCH(o->value.dtype, {                                                                              \
                const T *a = o->in[0]->value.data, *b = o->in[1]->value.data, *y = o->value.data;                      \
                const T *ta = ad_tangent_row(o->in[0], d), *tb = ad_tangent_row(o->in[1], d);                          \
                T *t = ad_tangent_row(o, d);                                                                           \
                AD_BCAST_FOR(bc, {                                                                                        \
                    double v = 0;                                                                                      \
                    if (ta) v += NAME##_da(a[ia], b[ib], y[io]) * ta[ia];                                              \
                    if (tb) v += NAME##_db(a[ia], b[ib], y[io]) * tb[ib];                                              \
                    t[io] = (T)v;                                                                                      \
                });                                                                                                    \
            });                                                                                                        \
    }

/* The second-order rule (ad_op.h's vjp_tangent). The vjp adds ḡ·f_a into
 * a's grad (f_a = ∂f/∂a); moving a and b along their tangents ȧ, ḃ changes
 * f_a by f_aa·ȧ + f_ab·ḃ, so a's adds ḡ·(f_aa·ȧ + f_ab·ḃ), and b's
 * ḡ·(f_ab·ȧ + f_bb·ḃ). For mul (f_ab = 1, the others 0) that is ḡ·ḃ and ḡ·ȧ. */
#define DEFINE_BINARY_VJP_TANGENT(NAME)                                                                                \
    static void NAME##_vjp_tangent(const ad_node *o, int slot, int dir, const void *gout, void *gin_dot)              \
    {                                                                                                                  \
        ad_bcast bc;                                                                                                   \
        ad_bcast_setup(o, &bc);                                                                                        \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            const T *a = o->in[0]->value.data, *b = o->in[1]->value.data, *y = o->value.data, *g = gout;               \
            const T *ta = ad_tangent_row(o->in[0], dir), *tb = ad_tangent_row(o->in[1], dir);                          \
            T *gd = gin_dot;                                                                                           \
            AD_BCAST_FOR(bc, {                                                                                         \
                double da = ta ? (double)ta[ia] : 0.0;                                                                 \
                double db = tb ? (double)tb[ib] : 0.0;                                                                 \
                double ab = NAME##_dab(a[ia], b[ib], y[io]);                                                           \
                if (slot == 0) gd[ia] += (T)(g[io] * (NAME##_daa(a[ia], b[ib], y[io]) * da + ab * db));                \
                else gd[ib] += (T)(g[io] * (ab * da + NAME##_dbb(a[ia], b[ib], y[io]) * db));                          \
            });                                                                                                        \
        });                                                                                                            \
    }

#define DEFINE_UNARY_FORWARD(NAME)                                                                                     \
    static ad_status NAME##_forward(ad_node *o)                                                                        \
    {                                                                                                                  \
        double c = param_c(o);                                                                                         \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            const T *x = o->in[0]->value.data;                                                                         \
            T *y = o->value.data;                                                                                      \
            for (int64_t i = 0; i < n; i++) y[i] = (T)NAME##_f(x[i], c);                                               \
        });                                                                                                            \
        return AD_OK;                                                                                                  \
    }
#define DEFINE_UNARY_VJP(NAME)                                                                                         \
    static void NAME##_vjp1(const ad_node *o, int slot, const void *gout, void *gin)                                   \
    {                                                                                                                  \
        (void)slot;                                                                                                    \
        double c = param_c(o);                                                                                         \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            const T *x = o->in[0]->value.data, *y = o->value.data, *g = gout;                                          \
            T *gi = gin;                                                                                               \
            for (int64_t i = 0; i < n; i++) gi[i] += (T)(g[i] * NAME##_d(x[i], y[i], c));                              \
        });                                                                                                            \
    }                                                                                                                  \
    AD_VJP_BY_ROWS(NAME##_vjp, NAME##_vjp1)
#define DEFINE_UNARY_JVP(NAME)                                                                                         \
    static void NAME##_jvp(ad_node *o, int k)                                                                          \
    {                                                                                                                  \
        double c = param_c(o);                                                                                         \
        int64_t n = o->value.size;                                                                                     \
        for (int d = 0; d < k; d++)                                                                                    \
            AD_DISPATCH(o->value.dtype, {                                                                              \
                const T *x = o->in[0]->value.data, *y = o->value.data, *tx = ad_tangent_row(o->in[0], d);              \
                T *t = ad_tangent_row(o, d);                                                                           \
                for (int64_t i = 0; i < n; i++) t[i] = tx ? (T)(NAME##_d(x[i], y[i], c) * tx[i]) : (T)0;               \
            });                                                                                                        \
    }
#define DEFINE_UNARY(NAME) DEFINE_UNARY_FORWARD(NAME) DEFINE_UNARY_VJP(NAME) DEFINE_UNARY_JVP(NAME)
/* The unary rule: the vjp adds ḡ·f'(x); along ẋ, f'(x) changes by f''(x)·ẋ. */
#define DEFINE_UNARY_VJP_TANGENT(NAME)                                                                                 \
    static void NAME##_vjp_tangent(const ad_node *o, int slot, int dir, const void *gout, void *gin_dot)              \
    {                                                                                                                  \
        (void)slot;                                                                                                    \
        double c = param_c(o);                                                                                         \
        int64_t n = o->value.size;                                                                                     \
        AD_DISPATCH(o->value.dtype, {                                                                                  \
            const T *x = o->in[0]->value.data, *y = o->value.data, *g = gout, *tx = ad_tangent_row(o->in[0], dir);     \
            T *gd = gin_dot;                                                                                           \
            for (int64_t i = 0; tx && i < n; i++) gd[i] += (T)(g[i] * NAME##_d2(x[i], y[i], c) * tx[i]);               \
        });                                                                                                            \
    }
/* An op whose J does not move (linear, or linear on each piece) needs no rule (ad_op.h). */
#define SECOND_ORDER_RULE(NAME, FLAGS) (((FLAGS) & (AD_OP_LINEAR | AD_OP_PIECEWISE_LINEAR)) ? NULL : NAME##_vjp_tangent)

/* ---- default gradcheck cases ---- */
static const ad_op_case unary_cases[] = {
    {"scalar", 1, {0}, {{1, 1, 1, 1}}, {.c = 0}},
    {"vector (7)", 1, {1}, {{7, 1, 1, 1}}, {.c = 0}},
    {"matrix (3,4)", 1, {2}, {{3, 4, 1, 1}}, {.c = 0}},
    {"4-d (2,3,2,2)", 1, {4}, {{2, 3, 2, 2}}, {.c = 0}},
};

static const ad_op_case binary_cases[] = {
    {"scalars", 2, {0, 0}, {{1, 1, 1, 1}, {1, 1, 1, 1}}, {.c = 0}},
    {"same shape (3,4)", 2, {2, 2}, {{3, 4, 1, 1}, {3, 4, 1, 1}}, {.c = 0}},
    {"scalar with (2,3)", 2, {0, 2}, {{1, 1, 1, 1}, {2, 3, 1, 1}}, {.c = 0}},
    {"(3,2) with scalar", 2, {2, 0}, {{3, 2, 1, 1}, {1, 1, 1, 1}}, {.c = 0}},
    {"broadcast (2,1,3) with (4,1)", 2, {3, 2}, {{2, 1, 3, 1}, {4, 1, 1, 1}}, {.c = 0}},
    /* all four dims: the first (i0 of AD_BCAST_FOR) > 1, a's stride there
     * 6, b's 0 (b is 3-d), each input stretched along a dim of its own */
    {"4-d broadcast (2,3,1,2) with (3,4,1)", 2, {4, 3}, {{2, 3, 1, 2}, {3, 4, 1, 1}}, {.c = 0}},
};

#define N_CASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Kink gaps, distances and sides (relu, abs, max, min): ad_elementwise_kinks.h. */
#include "ad_elementwise_kinks.h"

static ad_status binary_complete_case(ad_op_case *c)
{
    /* The user gave input 0's shape: input 1 takes the same. */
    c->n_in = 2;
    c->ndim[1] = c->ndim[0];
    for (int d = 0; d < AD_MAX_DIMS; d++) c->shape[1][d] = c->shape[0][d];
    return AD_OK;
}

#define DOMAIN_DEFAULT {{-2, 2}, {-2, 2}}

/* The scalar path's kernels from the same math (ad_op.h's ad_scalar_kernels). */
#define DEFINE_BINARY_SCALAR(NAME)                                                                                     \
    static double NAME##_scalar_d(double a, double b, double y, int slot)                                              \
    {                                                                                                                  \
        return slot == 0 ? NAME##_da(a, b, y) : NAME##_db(a, b, y);                                                    \
    }                                                                                                                  \
    static const ad_scalar_kernels NAME##_scalar = {NAME##_f, NAME##_scalar_d};
#define DEFINE_UNARY_SCALAR(NAME)                                                                                      \
    static double NAME##_scalar_d(double x, double b, double y, int slot)                                              \
    {                                                                                                                  \
        (void)b;                                                                                                       \
        (void)slot;                                                                                                    \
        return NAME##_d(x, y, 0);                                                                                      \
    }                                                                                                                  \
    static const ad_scalar_kernels NAME##_scalar = {NAME##_f, NAME##_scalar_d};

#define BINARY_OP(NAME, INFIX, SUMMARY, FLAGS, GAP, SIDE, ...)                                                         \
    DEFINE_BINARY(NAME)                                                                                                \
    DEFINE_BINARY_VJP_TANGENT(NAME)                                                                                    \
    DEFINE_BINARY_SCALAR(NAME)                                                                                         \
    AD_DECLARE_CUDA(NAME)                                                                                              \
    const ad_op ad_op_##NAME = {                                                                                       \
        .name = #NAME,                                                                                                 \
        .summary = SUMMARY,                                                                                            \
        .n_in = 2,                                                                                                     \
        .n_in_min = 2,                                                                                                 \
        .flags = AD_OP_ELEMENTWISE | (FLAGS),                                                                          \
        .infer = NAME##_infer,                                                                                         \
        .cpu = {NAME##_forward, NAME##_vjp, NAME##_jvp, SECOND_ORDER_RULE(NAME, FLAGS)},                                \
        .cuda = AD_CUDA_KERNELS(NAME),                                                                                 \
        .domain = __VA_ARGS__,                                                                                         \
        .kink_gap = GAP,                                                                                               \
        .kink_dist = KINK_DIST_##GAP,                                                                                  \
        .kink_side = SIDE,                                                                                             \
        .cases = binary_cases,                                                                                         \
        .n_cases = N_CASES(binary_cases),                                                                              \
        .complete_case = binary_complete_case,                                                                         \
        .scalar = &NAME##_scalar,                                                                                      \
        .math = AD_MATH_##NAME,                                                                                        \
        .infix = INFIX,                                                                                                \
    };

static ad_status plain_unary_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh,
                                   ad_dtype *dt)
{
    (void)n_in;
    (void)p;
    return unary_infer(in, nd, sh, dt);
}

#define UNARY_OP(NAME, SUMMARY, FLAGS, LO, HI, GAP)                                                                    \
    DEFINE_UNARY(NAME)                                                                                                 \
    DEFINE_UNARY_VJP_TANGENT(NAME)                                                                                     \
    UNARY_OP_ENTRY(NAME, SUMMARY, FLAGS, LO, HI, GAP, KINK_DIST_##GAP, KINK_SIDE_##GAP, NULL, 0)
#define UNARY_OP_ENTRY(NAME, SUMMARY, FLAGS, LO, HI, GAP, DIST, SIDE, PATHS, N_PATHS)                                  \
    DEFINE_UNARY_SCALAR(NAME)                                                                                          \
    AD_DECLARE_CUDA(NAME)                                                                                              \
    const ad_op ad_op_##NAME = {                                                                                       \
        .name = #NAME,                                                                                                 \
        .summary = SUMMARY,                                                                                            \
        .n_in = 1,                                                                                                     \
        .n_in_min = 1,                                                                                                 \
        .flags = AD_OP_ELEMENTWISE | (FLAGS),                                                                          \
        .infer = plain_unary_infer,                                                                                    \
        .cpu = {NAME##_forward, NAME##_vjp, NAME##_jvp, SECOND_ORDER_RULE(NAME, FLAGS)},                                \
        .cuda = AD_CUDA_KERNELS(NAME),                                                                                 \
        .domain = {{LO, HI}},                                                                                          \
        .kink_gap = GAP,                                                                                               \
        .kink_dist = DIST,                                                                                             \
        .kink_side = SIDE,                                                                                             \
        .cases = unary_cases,                                                                                          \
        .n_cases = N_CASES(unary_cases),                                                                               \
        .scalar = &NAME##_scalar,                                                                                      \
        .math = AD_MATH_##NAME,                                                                                        \
        .paths = PATHS,                                                                                                \
        .n_paths = N_PATHS,                                                                                            \
    };

BINARY_OP(add, " + ", "a + b, broadcasting", AD_OP_LINEAR, NULL, NULL, DOMAIN_DEFAULT)
BINARY_OP(sub, " - ", "a - b, broadcasting", AD_OP_LINEAR, NULL, NULL, DOMAIN_DEFAULT)
BINARY_OP(mul, "·", "a * b elementwise, broadcasting", 0, NULL, NULL, DOMAIN_DEFAULT)
BINARY_OP(div, " / ", "a / b elementwise, broadcasting (b drawn from [0.5, 2])", 0, NULL, NULL, {{-2, 2}, {0.5, 2}})
BINARY_OP(max, NULL, "max(a, b) elementwise; at a tie the gradient goes to a", AD_OP_NONSMOOTH | AD_OP_PIECEWISE_LINEAR, tie_gap_binary, max_side,
          DOMAIN_DEFAULT)
BINARY_OP(min, NULL, "min(a, b) elementwise; at a tie the gradient goes to a", AD_OP_NONSMOOTH | AD_OP_PIECEWISE_LINEAR, tie_gap_binary, min_side,
          DOMAIN_DEFAULT)

UNARY_OP(neg, "-x", AD_OP_LINEAR, -2, 2, NULL)
UNARY_OP(exp, "e^x", 0, -2, 2, NULL)
UNARY_OP(log, "natural log, x > 0", 0, 0.2, 3, NULL)
UNARY_OP(sqrt, "square root, x > 0", 0, 0.2, 3, NULL)
UNARY_OP(sin, "sin x", 0, -3, 3, NULL)
UNARY_OP(cos, "cos x", 0, -3, 3, NULL)
UNARY_OP(tanh, "tanh x", 0, -2, 2, NULL)
UNARY_OP(sigmoid, "1 / (1 + e^-x), computed stably", 0, -4, 4, NULL)
/* relu: the hot activation of a CNN gets its own forward and vjp: relu_f
 * and relu_d's rules written in T, which the compiler vectorises (through
 * the double-valued functions it does not), the product in T (relu_d is
 * exactly 0 or 1, so the bits are the generic kernel's, a NaN g·0 included), and big tensors
 * split over the engine's threads (each element on its own: any thread
 * count gives the same bits). */
#define DEFINE_RELU(T, SFX)                                                                                            \
    static void relu_fwd_##SFX(const T *x, T *y, int64_t n)                                                            \
    {                                                                                                                  \
        int nt = n < RELU_BLOCKED_MIN ? 1 : ad_threads_for(n / RELU_BLOCK + 1, n); /* (path small: one thread) */    \
        if (nt == 1) { /* no OpenMP region at all: even an if(0) one costs a team's setup (the scalar path) */      \
            for (int64_t i = 0; i < n; i++) y[i] = (T)relu_f(x[i], 0);                                                 \
            return;                                                                                                    \
        }                                                                                                              \
        _Pragma("omp parallel for num_threads(nt) schedule(static)")                                                   \
        for (int64_t i0 = 0; i0 < n; i0 += RELU_BLOCK)                                                                 \
            for (int64_t i = i0; i < (i0 + RELU_BLOCK < n ? i0 + RELU_BLOCK : n); i++) y[i] = x[i] <= 0 ? 0 : x[i];    \
    }                                                                                                                  \
    static void relu_vjp_##SFX(const T *x, const T *g, T *gi, int64_t n)                                               \
    {                                                                                                                  \
        int nt = n < RELU_BLOCKED_MIN ? 1 : ad_threads_for(n / RELU_BLOCK + 1, n);                                     \
        if (nt == 1) {                                                                                                 \
            for (int64_t i = 0; i < n; i++) gi[i] += g[i] * (T)relu_d(x[i], 0, 0);                                     \
            return;                                                                                                    \
        }                                                                                                              \
        _Pragma("omp parallel for num_threads(nt) schedule(static)")                                                   \
        for (int64_t i0 = 0; i0 < n; i0 += RELU_BLOCK) {                                                               \
            int64_t end = i0 + RELU_BLOCK < n ? i0 + RELU_BLOCK : n;                                                 \
            for (int64_t i = i0; i < end; i++) {                                                                       \
                T m = !(x[i] <= 0); /* (a named mask: GCC 12 vectorises it) */                                        \
                gi[i] += g[i] * m;                                                                                   \
            }                                                                                                        \
        }                                                                                                            \
    }
/* relu's two paths (ad_op_path), chosen by these constants alone:
 *   small    n < RELU_BLOCKED_MIN, or one thread: one loop over the elements;
 *   blocked  n >= RELU_BLOCKED_MIN on 2+ threads: blocks of RELU_BLOCK
 *            elements over the threads (the last block partial).
 * RELU_BLOCKED_MIN is the engine's AD_PAR_MIN_ELEMENTS (below it
 * ad_threads_for gives one thread anyway), at least two blocks. */
enum { RELU_BLOCK = 1 << 13 };
#define RELU_BLOCKED_MIN AD_PAR_MIN_ELEMENTS
_Static_assert(RELU_BLOCKED_MIN >= 2 * RELU_BLOCK, "the blocked path starts at two blocks or more");
/* The probes: just below the threshold, and just past it with a partial
 * last block (2 full blocks and 6 elements). */
static const ad_op_path relu_paths[] = {
    {"small", "n < 16384 or 1 thread: one loop", 0, 1, NULL,
     {"n = 16383, just below the threshold", 1, {1}, {{RELU_BLOCKED_MIN - 1, 1, 1, 1}}, {.c = 0}}},
    {"blocked", "n >= 16384 on 2+ threads: blocks of 8192", RELU_BLOCKED_MIN, 2, "small",
     {"n = 16390, the last block partial", 1, {1}, {{RELU_BLOCKED_MIN + 6, 1, 1, 1}}, {.c = 0}}},
};
_Static_assert(RELU_BLOCKED_MIN == 16384 && RELU_BLOCK == 8192, "relu_paths' texts give the numbers");
DEFINE_RELU(float, f)
DEFINE_RELU(double, d)

static ad_status relu_forward(ad_node *o)
{
    if (o->value.dtype == AD_FLOAT32) relu_fwd_f(o->in[0]->value.data, o->value.data, o->value.size);
    else relu_fwd_d(o->in[0]->value.data, o->value.data, o->value.size);
    return AD_OK;
}

static void relu_vjp1(const ad_node *o, int slot, const void *gout, void *gin)
{
    (void)slot;
    if (o->value.dtype == AD_FLOAT32) relu_vjp_f(o->in[0]->value.data, gout, gin, o->value.size);
    else relu_vjp_d(o->in[0]->value.data, gout, gin, o->value.size);
}
AD_VJP_BY_ROWS(relu_vjp, relu_vjp1)

DEFINE_UNARY_JVP(relu)
DEFINE_UNARY_VJP_TANGENT(relu)
UNARY_OP_ENTRY(relu, "max(x, 0); relu'(0) = 0", AD_OP_NONSMOOTH | AD_OP_PIECEWISE_LINEAR, -2, 2, abs_gap_unary, abs_dist_unary, relu_side,
               relu_paths, N_CASES(relu_paths))
UNARY_OP(abs, "|x|; abs'(0) = 0", AD_OP_NONSMOOTH | AD_OP_PIECEWISE_LINEAR, -2, 2, abs_gap_unary)

/* ---- ops with a constant: pow (x^c) and scale (c*x) ---- */
static ad_status const_unary_infer(const char *op, ad_node *const *in, const ad_params *p, int *nd, int64_t *sh,
                                   ad_dtype *dt)
{
    if (!p) return ad_fail(AD_ERR_ARG, "%s: needs its constant (params.c)", op);
    if (!isfinite(p->c)) return ad_fail(AD_ERR_ARG, "%s: the constant %g is not finite", op, p->c);
    return unary_infer(in, nd, sh, dt);
}

static ad_status pow_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in;
    return const_unary_infer("pow", in, p, nd, sh, dt);
}

static ad_status scale_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in;
    return const_unary_infer("scale", in, p, nd, sh, dt);
}

DEFINE_UNARY(pow)
DEFINE_UNARY_VJP_TANGENT(pow)
DEFINE_UNARY(scale)
AD_DECLARE_CUDA(pow)
AD_DECLARE_CUDA(scale)

/* Every exponent pow's code or the C library's pow treats apart: c = 0
 * (pow_d's own branch: y = 1, dy/dx = 0, where c·x^(c-1) would be 0·x^-1),
 * c = 1 (x^0 = 1: y = x), c = 2 (an integer power), c = -1 (1/x), c = 0.5
 * (a square root), and exponents that are none of these. */
static const ad_op_case pow_cases[] = {
    {"scalar, c = 2", 1, {0}, {{1, 1, 1, 1}}, {.c = 2}},
    {"vector (6), c = 3", 1, {1}, {{6, 1, 1, 1}}, {.c = 3}},
    {"matrix (3,4), c = 0.5", 1, {2}, {{3, 4, 1, 1}}, {.c = 0.5}},
    {"(2,3,2), c = -1.5", 1, {3}, {{2, 3, 2, 1}}, {.c = -1.5}},
    {"vector (5), c = 0", 1, {1}, {{5, 1, 1, 1}}, {.c = 0}},
    {"vector (5), c = 1", 1, {1}, {{5, 1, 1, 1}}, {.c = 1}},
    {"vector (5), c = -1", 1, {1}, {{5, 1, 1, 1}}, {.c = -1}},
    {"vector (5), c = 2.7 (not an integer)", 1, {1}, {{5, 1, 1, 1}}, {.c = 2.7}},
};

static const ad_op_case scale_cases[] = {
    {"scalar, c = 3", 1, {0}, {{1, 1, 1, 1}}, {.c = 3}},
    {"matrix (3,4), c = -0.25", 1, {2}, {{3, 4, 1, 1}}, {.c = -0.25}},
    {"4-d (2,2,2,3), c = 7", 1, {4}, {{2, 2, 2, 3}}, {.c = 7}},
};

const ad_op ad_op_pow = {
    .name = "pow",
    .summary = "x^c for a constant c (x drawn from [0.2, 2] so any c is defined)",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_ELEMENTWISE | AD_OP_PARAMS,
    .infer = pow_infer,
    .cpu = {pow_forward, pow_vjp, pow_jvp, pow_vjp_tangent},
    .cuda = AD_CUDA_KERNELS(pow),
    .domain = {{0.2, 2}},
    .cases = pow_cases,
    .n_cases = N_CASES(pow_cases),
    .math = AD_MATH_pow,
};

const ad_op ad_op_scale = {
    .name = "scale",
    .summary = "c * x for a constant c",
    .n_in = 1,
    .n_in_min = 1,
    .flags = AD_OP_ELEMENTWISE | AD_OP_LINEAR | AD_OP_PARAMS,
    .infer = scale_infer,
    .cpu = {scale_forward, scale_vjp, scale_jvp, NULL},   /* linear: no second-order rule */
    .cuda = AD_CUDA_KERNELS(scale),
    .domain = {{-2, 2}},
    .cases = scale_cases,
    .n_cases = N_CASES(scale_cases),
    .math = AD_MATH_scale,
};

/* ---- the public calls ---- */
static ad_node *apply1(ad_context *ctx, const ad_op *op, ad_node *x)
{
    ad_node *in[1] = {x};
    return ad_apply(ctx, op, in, 1, NULL);
}

static ad_node *apply2(ad_context *ctx, const ad_op *op, ad_node *a, ad_node *b)
{
    ad_node *in[2] = {a, b};
    return ad_apply(ctx, op, in, 2, NULL);
}

ad_node *ad_add(ad_context *ctx, ad_node *a, ad_node *b) { return apply2(ctx, &ad_op_add, a, b); }
ad_node *ad_sub(ad_context *ctx, ad_node *a, ad_node *b) { return apply2(ctx, &ad_op_sub, a, b); }
ad_node *ad_mul(ad_context *ctx, ad_node *a, ad_node *b) { return apply2(ctx, &ad_op_mul, a, b); }
ad_node *ad_div(ad_context *ctx, ad_node *a, ad_node *b) { return apply2(ctx, &ad_op_div, a, b); }
ad_node *ad_max(ad_context *ctx, ad_node *a, ad_node *b) { return apply2(ctx, &ad_op_max, a, b); }
ad_node *ad_min(ad_context *ctx, ad_node *a, ad_node *b) { return apply2(ctx, &ad_op_min, a, b); }
ad_node *ad_neg(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_neg, x); }
ad_node *ad_exp(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_exp, x); }
ad_node *ad_log(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_log, x); }
ad_node *ad_sqrt(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_sqrt, x); }
ad_node *ad_sin(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_sin, x); }
ad_node *ad_cos(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_cos, x); }
ad_node *ad_tanh(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_tanh, x); }
ad_node *ad_sigmoid(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_sigmoid, x); }
ad_node *ad_relu(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_relu, x); }
ad_node *ad_abs(ad_context *ctx, ad_node *x) { return apply1(ctx, &ad_op_abs, x); }

ad_node *ad_pow(ad_context *ctx, ad_node *x, double c)
{
    ad_node *in[1] = {x};
    ad_params p = {.c = c};
    return ad_apply(ctx, &ad_op_pow, in, 1, &p);
}

ad_node *ad_scale(ad_context *ctx, ad_node *x, double c)
{
    ad_node *in[1] = {x};
    ad_params p = {.c = c};
    return ad_apply(ctx, &ad_op_scale, in, 1, &p);
}
