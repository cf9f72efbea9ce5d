/* student_check: run gradcheck on YOUR functions, on your own machine, before
 * you submit. It registers each ad_student.h function pair as an engine op
 * (ad_op_register) whose forward and vjp call your code, then checks the
 * vjp against finite differences of your forward (reverse mode; there is
 * no jvp to check). Build it with your file:
 *   cc -o student_check yours.c student_check.c $(pkg-config --cflags --libs autodidact) \
 *      -lautodidact_gradcheck -lgsl -lm
 *   ./student_check [--op NAME] [--format text|json|junit|tap]
 * No sandbox here: this is your code on your machine. */
#include <getopt.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>
#include "ad_gradcheck.h"
#include "ad_student.h"
#include "ad_kernel.h"   /* the adapters are op kernels: they read the nodes they are given */

static ad_status same_shape(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n, (void)p;
    *nd = in[0]->value.ndim;
    memcpy(sh, in[0]->value.shape, sizeof in[0]->value.shape);
    *dt = AD_FLOAT64;
    return in[0]->value.dtype == AD_FLOAT64 ? AD_OK : ad_fail(AD_ERR_DTYPE, "student ops take float64");
}

static const double *V(const ad_node *o, int k) { return o->in[k]->value.data; }

/* sigmoid */
static ad_status sig_fwd(ad_node *o)
{
    student_sigmoid_forward(o->value.size, V(o, 0), o->value.data);
    return AD_OK;
}
static void sig_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    student_sigmoid_vjp(o->value.size, V(o, 0), g, gi);
}
AD_VJP_BY_ROWS(sig_vjp, sig_vjp1)

/* linear: x (N,I), w (O,I), b (O) */
static ad_status lin_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n, (void)p;
    *nd = 2, sh[0] = in[0]->value.shape[0], sh[1] = in[1]->value.shape[0], *dt = AD_FLOAT64;
    return AD_OK;
}
/* Your vjp fills all gradients at once; the engine asks for one input's at
 * a time: the forward keeps scratch arrays for every input's gradient (the
 * engine's arena: a failed allocation fails the forward, with a message),
 * the vjp runs yours into them and adds the one asked for. */
static ad_status keep_scratch(ad_node *o)
{
    size_t n = 0;
    for (int k = 0; k < o->n_in; k++) n += (size_t)o->in[k]->value.size;
    if (ad_node_recording(o) && !(o->saved = ad_node_alloc(o, n * sizeof(double)))) return ad_last_status();
    return AD_OK;
}
/* The kept arrays, zeroed: input k's at t[k]. */
static void scratch_of(const ad_node *o, double **t)
{
    double *p = o->saved;
    for (int k = 0; k < o->n_in; k++) {
        t[k] = p;
        memset(p, 0, (size_t)o->in[k]->value.size * sizeof(double));
        p += o->in[k]->value.size;
    }
}
static void add_input(const ad_node *o, int s, double *const *t, void *gi)
{
    for (int64_t i = 0; i < o->in[s]->value.size; i++) ((double *)gi)[i] += t[s][i];
}

static ad_status lin_fwd(ad_node *o)
{
    const int64_t *xs = o->in[0]->value.shape;
    student_linear_forward(xs[0], xs[1], o->in[1]->value.shape[0], V(o, 0), V(o, 1), V(o, 2), o->value.data);
    return keep_scratch(o);
}
static void lin_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    const int64_t *xs = o->in[0]->value.shape;
    double *t[3];
    scratch_of(o, t);
    student_linear_vjp(xs[0], xs[1], o->in[1]->value.shape[0], V(o, 0), V(o, 1), g, t[0], t[1], t[2]);
    add_input(o, s, t, gi);
}
AD_VJP_BY_ROWS(lin_vjp, lin_vjp1)

/* softmax cross-entropy: logits (N,C) and the class indices t (N), held as
 * doubles in a second input that is not differentiated; a scalar loss. */
static ad_status sce_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n, (void)p, (void)sh;
    *nd = 0, *dt = AD_FLOAT64;
    return in[0]->value.ndim == 2 && in[1]->value.ndim == 1 && in[1]->value.shape[0] == in[0]->value.shape[0]
               ? AD_OK
               : ad_fail(AD_ERR_SHAPE, "student_softmax_ce: logits (N,C) and targets (N)");
}
/* The class indices as int64, in t (N of them). */
static void targets_of(const ad_node *o, int64_t *t)
{
    for (int64_t i = 0; i < o->in[1]->value.size; i++) t[i] = (int64_t)V(o, 1)[i];
}
static ad_status sce_fwd(ad_node *o)
{
    const int64_t *s = o->in[0]->value.shape;
    int64_t *t = malloc((size_t)s[0] * sizeof *t);
    if (!t) return ad_fail(AD_ERR_NOMEM, "student_softmax_ce: out of memory");
    targets_of(o, t);
    student_softmax_ce_forward(s[0], s[1], V(o, 0), t, o->value.data);
    free(t);
    return AD_OK;
}
static void sce_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    const int64_t *sh = o->in[0]->value.shape;
    int64_t *t = malloc((size_t)sh[0] * sizeof *t);
    if (s != 0 || !t) {   /* the targets have no gradient; out of memory leaves gi as it is, and the check fails */
        free(t);
        return;
    }
    targets_of(o, t);
    student_softmax_ce_vjp(sh[0], sh[1], V(o, 0), t, *(const double *)g, gi);
    free(t);
}
AD_VJP_BY_ROWS(sce_vjp, sce_vjp1)
/* gradcheck's draws: logits from the domain, targets class indices */
static void sce_sample(const ad_op_case *c, int slot, ad_tensor *t, void *rng)
{
    for (int64_t i = 0; i < t->size; i++)
        ad_tensor_set(t, i, slot == 0 ? -3 + 6 * gsl_rng_uniform(rng)
                                      : (double)gsl_rng_uniform_int(rng, (unsigned long)c->shape[0][1]));
}

/* conv2d: x (N,C,H,W), w (K,C,R,S), params stride/pad */
static student_conv2d_dims conv_dims(ad_node *const *in, const ad_params *p)
{
    const int64_t *x = in[0]->value.shape, *w = in[1]->value.shape;
    student_conv2d_dims d = {x[0], x[1], x[2], x[3], w[0], w[2], w[3], p->stride[0], p->pad[0], 0, 0};
    d.P = (d.H + 2 * d.pad - d.R) / d.stride + 1, d.Q = (d.W + 2 * d.pad - d.S) / d.stride + 1;
    return d;
}
static ad_status conv_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    student_conv2d_dims d = conv_dims(in, p);
    *nd = 4, sh[0] = d.N, sh[1] = d.K, sh[2] = d.P, sh[3] = d.Q, *dt = AD_FLOAT64;
    return AD_OK;
}
static ad_status conv_fwd(ad_node *o)
{
    student_conv2d_dims d = conv_dims(o->in, o->params);
    student_conv2d_forward(&d, V(o, 0), V(o, 1), o->value.data);
    return keep_scratch(o);
}
static void conv_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    student_conv2d_dims d = conv_dims(o->in, o->params);
    double *t[2];
    scratch_of(o, t);
    student_conv2d_vjp(&d, V(o, 0), V(o, 1), g, t[0], t[1]);
    add_input(o, s, t, gi);
}
AD_VJP_BY_ROWS(conv_vjp, conv_vjp1)

/* max-pool: params window/stride */
static student_pool_dims pool_dims(ad_node *const *in, const ad_params *p)
{
    const int64_t *x = in[0]->value.shape;
    student_pool_dims d = {x[0], x[1], x[2], x[3], p->window[0], p->stride[0], 0, 0};
    d.P = (d.H - d.window) / d.stride + 1, d.Q = (d.W - d.window) / d.stride + 1;
    return d;
}
static ad_status pool_infer(ad_node *const *in, int n, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n;
    student_pool_dims d = pool_dims(in, p);
    *nd = 4, sh[0] = d.N, sh[1] = d.C, sh[2] = d.P, sh[3] = d.Q, *dt = AD_FLOAT64;
    return AD_OK;
}
static ad_status pool_fwd(ad_node *o)
{
    student_pool_dims d = pool_dims(o->in, o->params);
    student_maxpool2d_forward(&d, V(o, 0), o->value.data);
    return AD_OK;
}
static void pool_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    student_pool_dims d = pool_dims(o->in, o->params);
    student_maxpool2d_vjp(&d, V(o, 0), g, gi);
}
AD_VJP_BY_ROWS(pool_vjp, pool_vjp1)

static const ad_op_case sig_cases[] = {{"(7)", 1, {1}, {{7, 1, 1, 1}}, {.c = 0}}};
static const ad_op_case lin_cases[] = {{"x (3,4), w (2,4), b (2)", 3, {2, 2, 1}, {{3, 4, 1, 1}, {2, 4, 1, 1}, {2, 1, 1, 1}}, {.c = 0}}};
static const ad_op_case sce_cases[] = {{"logits (4,3)", 2, {2, 1}, {{4, 3, 1, 1}, {4, 1, 1, 1}}, {.c = 0}},
                                        {"logits (1,5)", 2, {2, 1}, {{1, 5, 1, 1}, {1, 1, 1, 1}}, {.c = 0}}};
static const ad_op_case conv_cases[] = {
    {"x (2,2,5,5), w (3,2,3,3), stride 1, pad 1", 2, {4, 4}, {{2, 2, 5, 5}, {3, 2, 3, 3}}, {.stride = {1, 1}, .pad = {1, 1}}},
    {"x (1,2,7,7), w (2,2,3,3), stride 2, pad 0", 2, {4, 4}, {{1, 2, 7, 7}, {2, 2, 3, 3}}, {.stride = {2, 2}, .pad = {0, 0}}}};
static const ad_op_case pool_cases[] = {{"x (2,2,4,4), window 2, stride 2", 1, {4}, {{2, 2, 4, 4}}, {.window = {2, 2}, .stride = {2, 2}}}};

static double pool_gap(const ad_node *o) { return ad_op_maxpool2d.kink_gap(o); }

static const ad_op student_ops[] = {
    {.name = "student_sigmoid", .n_in = 1, .n_in_min = 1, .infer = same_shape, .cpu = {sig_fwd, sig_vjp, NULL},
     .domain = {{-3, 3}}, .cases = sig_cases, .n_cases = 1},
    {.name = "student_linear", .n_in = 3, .n_in_min = 3, .infer = lin_infer, .cpu = {lin_fwd, lin_vjp, NULL},
     .domain = {{-2, 2}, {-2, 2}, {-2, 2}}, .cases = lin_cases, .n_cases = 1},
    {.name = "student_softmax_ce", .n_in = 2, .n_in_min = 2, .infer = sce_infer, .cpu = {sce_fwd, sce_vjp, NULL},
     .domain = {{-3, 3}, {0, 0}}, .nondiff_inputs = 1u << 1, .sample_input = sce_sample, .cases = sce_cases,
     .n_cases = 2},
    {.name = "student_conv2d", .n_in = 2, .n_in_min = 2, .flags = AD_OP_PARAMS, .infer = conv_infer,
     .cpu = {conv_fwd, conv_vjp, NULL}, .domain = {{-2, 2}, {-2, 2}}, .cases = conv_cases, .n_cases = 2},
    {.name = "student_maxpool2d", .n_in = 1, .n_in_min = 1, .flags = AD_OP_PARAMS | AD_OP_NONSMOOTH,
     .infer = pool_infer, .cpu = {pool_fwd, pool_vjp, NULL}, .domain = {{-2, 2}}, .kink_gap = pool_gap,
     .cases = pool_cases, .n_cases = 1},
};

enum { N_STUDENT_OPS = sizeof student_ops / sizeof student_ops[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: student_check [--op NAME] [--format text|json|junit|tap]\n"
               "Checks each of your ad_student.h backward functions (vjp) against finite differences of your\n"
               "forward, with gradcheck. It does not check the forwards themselves: autograde does.\n"
               "  --op NAME       only this function pair: sigmoid, linear, softmax_ce, conv2d or maxpool2d\n"
               "                  (default: all of them)\n"
               "  --format FMT    the report: text (default), json, junit or tap\n"
               "  --help          this message\n"
               "  --version       the version of autodidact it was built with\n"
               "Exit status: 0 every check passed, 1 a check failed, 2 a usage error.\n");
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"op", required_argument, NULL, 'o'}, {"format", required_argument, NULL, 'f'},
                                          {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
                                          {NULL, 0, NULL, 0}};
    static const char *const formats[] = {"text", "json", "junit", "tap"};
    const char *only = NULL;
    ad_gc_format format = AD_GC_TEXT;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, ":", longs, NULL)) != -1;) {
        if (c == 'h') return usage(stdout), 0;
        if (c == 'V') return printf("student_check (autodidact %s)\n", ad_version()), 0;
        if (c == 'o') {
            only = optarg;
            continue;
        }
        if (c == 'f') {
            int k = 0;
            while (k < 4 && strcmp(optarg, formats[k])) k++;
            if (k == 4) return fprintf(stderr, "student_check: --format takes text, json, junit or tap, not '%s'\n", optarg), 2;
            format = (ad_gc_format)k;
            continue;
        }
        fprintf(stderr, "student_check: %s option '%s'\n", c == ':' ? "a value is missing after the" : "unknown",
                argv[optind - 1]);
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "student_check: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    bool found = !only;
    for (int i = 0; only && i < N_STUDENT_OPS; i++) found = found || !strcmp(only, student_ops[i].name + 8);
    if (!found) {
        fprintf(stderr, "student_check: --op takes sigmoid, linear, softmax_ce, conv2d or maxpool2d, not '%s'\n", only);
        return 2;
    }
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.mode = AD_GC_REV;   /* your ops have no jvp */
    ad_gc_report r = {0};
    int errors = 0;
    for (int i = 0; i < N_STUDENT_OPS; i++) {
        if (only && strcmp(only, student_ops[i].name + 8)) continue;   /* after "student_" */
        if (ad_op_register(&student_ops[i]) != AD_OK || ad_gradcheck_op(&student_ops[i], &o, &r) != AD_OK) {
            fprintf(stderr, "student_check: %s\n", ad_last_error());
            errors++;
        }
    }
    ad_gc_write(stdout, &r, format);
    int failed = r.n_fail + errors;
    ad_gc_report_free(&r);
    return failed ? 1 : 0;
}
