/* grade.c: see grade.h. */
#define _GNU_SOURCE
#include "grade.h"
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "autodidact.h"

/* n values from [-2·scale, 2·scale], or with ties from {0, 1, 2}·scale */
static double *rand_array(gsl_rng *r, int64_t n, bool ties, double scale)
{
    double *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; a && i < n; i++)
        a[i] = scale * (ties ? (double)gsl_rng_uniform_int(r, 3) : gsl_ran_flat(r, -2, 2));
    return a;
}

int test_data_setup(test_data *d, const test_spec *t, gsl_rng *r, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->t = t;
    const int64_t *s = t->shape;
    ag_request *q = &d->req;
    q->magic = AG_MAGIC;
    q->vjp = !strcmp(t->part, "vjp");
    if (!strcmp(t->op, "sigmoid")) {
        q->op = AG_SIGMOID, q->dims[0] = s[0];
        d->n_in = 1, d->in_len[0] = s[0], d->in_name[0] = "x";
        d->y_len = s[0];
    } else if (!strcmp(t->op, "linear")) {
        q->op = AG_LINEAR, q->dims[0] = s[0], q->dims[1] = s[1], q->dims[2] = s[2];
        d->n_in = 3, d->in_len[0] = s[0] * s[1], d->in_len[1] = s[2] * s[1], d->in_len[2] = s[2];
        d->in_name[0] = "the input x", d->in_name[1] = "the weight w", d->in_name[2] = "the bias b";
        d->y_len = s[0] * s[2];
    } else if (!strcmp(t->op, "softmax_ce")) {
        q->op = AG_SOFTMAX_CE, q->dims[0] = s[0], q->dims[1] = s[1];
        d->n_in = 1, d->in_len[0] = s[0] * s[1], d->in_name[0] = "the logits";
        d->targets = malloc((size_t)s[0] * sizeof *d->targets);
        for (int64_t n = 0; d->targets && n < s[0]; n++)
            d->targets[n] = (int64_t)gsl_rng_uniform_int(r, (unsigned long)s[1]);
        d->y_len = 1;
    } else if (!strcmp(t->op, "conv2d")) {
        int64_t N = s[0], C = s[1], H = s[2], W = s[3], K = t->kernel[0], R = t->kernel[1], S = t->kernel[2];
        int64_t P = (H + 2 * t->pad - R) / t->stride + 1, Q = (W + 2 * t->pad - S) / t->stride + 1;
        if (H + 2 * t->pad < R || W + 2 * t->pad < S)
            return snprintf(err, errlen, "conv2d: the %lldx%lld kernel does not fit the padded %lldx%lld input",
                            (long long)R, (long long)S, (long long)H, (long long)W), -1;
        if (N * K * P * Q > AG_MAX_TEST_VALUES) return snprintf(err, errlen, "conv2d: the output is too large"), -1;
        int64_t dims[11] = {N, C, H, W, K, R, S, t->stride, t->pad, P, Q};
        q->op = AG_CONV2D, memcpy(q->dims, dims, sizeof dims);
        d->n_in = 2, d->in_len[0] = N * C * H * W, d->in_len[1] = K * C * R * S;
        d->in_name[0] = "the input x", d->in_name[1] = "the weight w";
        d->y_len = N * K * P * Q;
    } else {   /* maxpool2d (assignment.c admits no other op) */
        int64_t w = t->window;
        if (w > s[2] || w > s[3])
            return snprintf(err, errlen, "maxpool2d: the window %lld does not fit the %lldx%lld input", (long long)w,
                            (long long)s[2], (long long)s[3]), -1;
        int64_t P = (s[2] - w) / t->stride + 1, Q = (s[3] - w) / t->stride + 1;
        int64_t dims[8] = {s[0], s[1], s[2], s[3], w, t->stride, P, Q};
        q->op = AG_MAXPOOL2D, memcpy(q->dims, dims, sizeof dims);
        d->n_in = 1, d->in_len[0] = s[0] * s[1] * s[2] * s[3], d->in_name[0] = "the input x";
        d->y_len = s[0] * s[1] * P * Q;
    }
    q->n_in = (uint32_t)d->n_in, q->y_len = d->y_len;
    bool ok = !(q->op == AG_SOFTMAX_CE && !d->targets);
    for (int k = 0; k < d->n_in; k++) {
        q->in_len[k] = d->in_len[k];
        ok = ok && (d->in[k] = rand_array(r, d->in_len[k], t->ties, t->scale));
    }
    if (q->vjp) {
        ok = ok && (d->gy = rand_array(r, d->y_len, false, 1));
        for (int k = 0; k < d->n_in; k++)   /* "=" instead of "+=" shows */
            ok = ok && (d->pre[k] = rand_array(r, d->in_len[k], false, 1));
    }
    if (!ok) {
        test_data_free(d);
        return snprintf(err, errlen, "the grader ran out of memory for the test's arrays"), -1;
    }
    return 0;
}

void test_data_free(test_data *d)
{
    for (int k = 0; k < AG_MAX_IN; k++) free(d->in[k]), free(d->pre[k]), d->in[k] = d->pre[k] = NULL;
    free(d->targets), free(d->gy);
    d->targets = NULL, d->gy = NULL;
}

size_t test_data_answer_bytes(const test_data *d)
{
    size_t n = 0;
    if (!d->req.vjp) return (size_t)d->y_len * sizeof(double);
    for (int k = 0; k < d->n_in; k++) n += (size_t)d->in_len[k] * sizeof(double);
    return n;
}

static int put(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) return -1;
        p += n, len -= (size_t)n;
    }
    return 0;
}

int test_data_request_fd(const test_data *d)
{
    int fd = memfd_create("autograde-request", MFD_CLOEXEC);
    if (fd < 0) return -1;
    int rc = put(fd, &d->req, sizeof d->req);
    for (int k = 0; k < d->n_in; k++) rc |= put(fd, d->in[k], (size_t)d->in_len[k] * sizeof(double));
    if (d->targets) rc |= put(fd, d->targets, (size_t)d->req.dims[0] * sizeof(int64_t));
    if (d->req.vjp) {
        rc |= put(fd, d->gy, (size_t)d->y_len * sizeof(double));
        for (int k = 0; k < d->n_in; k++) rc |= put(fd, d->pre[k], (size_t)d->in_len[k] * sizeof(double));
    }
    if (rc != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the reference: the engine's own ops ---- */
static ad_node *reference(ad_context *ctx, const test_data *d, double *const *x, bool vars)
{
    const test_spec *t = d->t;
    const int64_t *s = t->shape;
    ad_node *in[AG_MAX_IN];
    int64_t shapes[AG_MAX_IN][4];
    int nd[AG_MAX_IN];
    if (!strcmp(t->op, "sigmoid")) nd[0] = 1, shapes[0][0] = s[0];
    else if (!strcmp(t->op, "linear"))
        nd[0] = nd[1] = 2, nd[2] = 1, shapes[0][0] = s[0], shapes[0][1] = s[1], shapes[1][0] = s[2], shapes[1][1] = s[1],
        shapes[2][0] = s[2];
    else if (!strcmp(t->op, "softmax_ce")) nd[0] = 2, shapes[0][0] = s[0], shapes[0][1] = s[1];
    else if (!strcmp(t->op, "conv2d")) {
        nd[0] = nd[1] = 4;
        memcpy(shapes[0], s, 4 * sizeof(int64_t));
        int64_t w[4] = {t->kernel[0], s[1], t->kernel[1], t->kernel[2]};
        memcpy(shapes[1], w, sizeof w);
    } else nd[0] = 4, memcpy(shapes[0], s, 4 * sizeof(int64_t));
    for (int k = 0; k < d->n_in; k++)
        in[k] = vars ? ad_variable(ctx, AD_FLOAT64, nd[k], shapes[k], x[k]) : ad_constant(ctx, AD_FLOAT64, nd[k], shapes[k], x[k]);
    if (!strcmp(t->op, "sigmoid")) return ad_sigmoid(ctx, in[0]);
    if (!strcmp(t->op, "linear")) return ad_linear(ctx, in[0], in[1], in[2]);
    if (!strcmp(t->op, "softmax_ce")) {
        int64_t st[1] = {s[0]};
        ad_node *tg = ad_constant(ctx, AD_FLOAT64, 1, st, NULL);
        if (!tg) return NULL;
        for (int64_t n = 0; n < s[0]; n++) ad_set_value_at(tg, n, (double)d->targets[n]);
        return ad_cross_entropy(ctx, in[0], tg, NULL, AD_REDUCE_MEAN, -1);
    }
    if (!strcmp(t->op, "conv2d")) return ad_conv2d(ctx, in[0], in[1], NULL, (int)t->stride, (int)t->pad);
    return ad_maxpool2d(ctx, in[0], (int)t->window, (int)t->stride);
}

/* <gy, f(x)> at x, for finite differences of the reference forward */
static double projected(const test_data *d, double *const *x)
{
    ad_context *ctx = ad_context_new();
    ad_node *y = reference(ctx, d, x, false);
    double s = y ? 0 : NAN;
    for (int64_t o = 0; y && o < d->y_len && o < ad_value(y).size; o++) s += d->gy[o] * ad_value_at(y, o);
    ad_context_free(ctx);
    return s;
}

/* "[k,c,r,s]" for element i of input k (or of the output when k < 0) */
static void index_name(const test_data *d, int k, int64_t i, char *buf, size_t len)
{
    const test_spec *t = d->t;
    const int64_t *s = t->shape, *q = d->req.dims;
    int64_t dims[4] = {0}, nd = 1;
    if (!strcmp(t->op, "conv2d") && k == 1) nd = 4, dims[0] = t->kernel[0], dims[1] = s[1], dims[2] = t->kernel[1], dims[3] = t->kernel[2];
    else if ((!strcmp(t->op, "conv2d") || !strcmp(t->op, "maxpool2d")) && k == 0) nd = 4, memcpy(dims, s, sizeof dims);
    else if (!strcmp(t->op, "conv2d") && k < 0) nd = 4, dims[0] = s[0], dims[1] = t->kernel[0], dims[2] = q[9], dims[3] = q[10];
    else if (!strcmp(t->op, "maxpool2d") && k < 0) nd = 4, dims[0] = s[0], dims[1] = s[1], dims[2] = q[6], dims[3] = q[7];
    else if (!strcmp(t->op, "linear") && k == 0) nd = 2, dims[0] = s[0], dims[1] = s[1];
    else if (!strcmp(t->op, "linear") && k == 1) nd = 2, dims[0] = s[2], dims[1] = s[1];
    else if (!strcmp(t->op, "linear") && k < 0) nd = 2, dims[0] = s[0], dims[1] = s[2];
    else if (!strcmp(t->op, "softmax_ce") && k == 0) nd = 2, dims[0] = s[0], dims[1] = s[1];
    else dims[0] = k < 0 ? d->y_len : d->in_len[k];
    ad_tensor tmp = {.ndim = (uint8_t)nd};
    for (int j = 0; j < 4; j++) tmp.shape[j] = j < nd ? dims[j] : 1;
    ad_index_str(&tmp, i, buf, len);
}

/* got agrees with ref: both finite and within tolerance, or ref not finite
 * and got the very same (NaN where the reference is NaN, the same infinity).
 * Written so that a NaN anywhere else fails. */
static bool agrees(double got, double ref, double atol, double rtol)
{
    if (!isfinite(ref)) return isnan(ref) ? isnan(got) : got == ref;
    return isfinite(got) && fabs(got - ref) <= atol + rtol * fabs(ref);
}

/* Max-pool with ties: any split of each window's gradient among its maxima
 * is valid. Windows must not overlap (stride >= window) for this check.
 * Every test is written as "ok only if": a NaN or Inf in g fails it. */
static bool valid_pool_subgradient(const test_data *d, const double *g)
{
    const int64_t *q = d->req.dims;
    int64_t H = q[2], W = q[3], win = q[4], stride = q[5], P = q[6], Q = q[7];
    const double *x = d->in[0];
    bool *used = calloc((size_t)d->in_len[0], sizeof *used);
    bool ok = used && stride >= win;
    for (int64_t plane = 0; ok && plane < q[0] * q[1]; plane++)
        for (int64_t a = 0; ok && a < P; a++)
            for (int64_t b = 0; ok && b < Q; b++) {
                int64_t base = plane * H * W + a * stride * W + b * stride;
                double m = x[base], sum = 0, gyv = d->gy[(plane * P + a) * Q + b];
                for (int64_t r = 0; r < win; r++)
                    for (int64_t c = 0; c < win; c++)
                        if (x[base + r * W + c] > m) m = x[base + r * W + c];
                for (int64_t r = 0; r < win; r++)
                    for (int64_t c = 0; c < win; c++) {
                        int64_t i = base + r * W + c;
                        used[i] = true;
                        if (!isfinite(g[i])) ok = false;
                        else if (x[i] != m && !(fabs(g[i]) <= 1e-9)) ok = false;      /* mass on a non-maximum */
                        else if (x[i] == m && !(g[i] * gyv >= -1e-12)) ok = false;    /* a share of the wrong sign */
                        if (x[i] == m) sum += g[i];
                    }
                if (!(fabs(sum - gyv) <= 1e-9 * (1 + fabs(gyv)))) ok = false;       /* the shares add up */
            }
    for (int64_t i = 0; ok && i < d->in_len[0]; i++)
        if (!used[i] && !(fabs(g[i]) <= 1e-9)) ok = false;
    free(used);
    return ok;
}

unsigned long test_seed(const test_spec *t, uint64_t grading_seed, int i)
{
    if (t->pinned) return (unsigned long)t->seed;
    /* splitmix64: neighbouring seeds and indices give unrelated streams
     * (MT19937 takes 32 bits of its seed) */
    uint64_t z = grading_seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (unsigned long)((z ^ (z >> 31)) & 0xffffffffu);
}

/* Array `id` of the runner (enum ag_buffer): its name in ad_student.h and its length. */
static const char *buffer_name(const test_data *d, int id, int64_t *len)
{
    static const char *const in[AG_N_OPS][AG_MAX_IN] = {{"x"}, {"x", "w", "b"}, {"logits"}, {"x", "w"}, {"x"}};
    static const char *const grad[AG_N_OPS][AG_MAX_IN] = {{"gx"}, {"gx", "gw", "gb"}, {"glogits"}, {"gx", "gw"}, {"gx"}};
    static const char *const fwd[AG_N_OPS] = {"y", "y", "loss", "y", "y"};
    uint32_t op = d->req.op;
    if (id >= AG_BUF_IN && id < AG_BUF_IN + d->n_in) return *len = d->in_len[id - AG_BUF_IN], in[op][id - AG_BUF_IN];
    if (id == AG_BUF_TARGETS && op == AG_SOFTMAX_CE) return *len = d->req.dims[0], "t";
    if (id == AG_BUF_GY && d->req.vjp) return *len = d->y_len, "gy";
    if (id == AG_BUF_OUT && !d->req.vjp) return *len = d->y_len, fwd[op];
    if (id >= AG_BUF_OUT && id < AG_BUF_OUT + d->n_in && d->req.vjp)
        return *len = d->in_len[id - AG_BUF_OUT], grad[op][id - AG_BUF_OUT];
    if (id == AG_BUF_DIMS && (op == AG_CONV2D || op == AG_MAXPOOL2D)) return *len = op == AG_CONV2D ? 11 : 8, "d";
    return *len = 0, NULL;
}

void say_fault(test_result *r, const test_data *d, const ag_reply *rep)
{
    int64_t len;
    const char *name = buffer_name(d, rep->buffer, &len);
    const char *verb = rep->access == AG_ACCESS_WRITE ? "wrote" : rep->access == AG_ACCESS_READ ? "read" : "touched memory";
    if (!name) {
        say(r, "your code made a memory error (it touched memory it was not given), so this test fails\n");
        return;
    }
    say(r, "your code %s %s %s (element %lld; %s has %lld, elements 0 to %lld): a memory error, so this test fails "
           "whatever the values\n",
        verb, rep->element < 0 ? "before" : "past", name, (long long)rep->element, name, (long long)len,
        (long long)len - 1);
}

void say(test_result *r, const char *fmt, ...)
{
    size_t n = strlen(r->output);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->output + n, sizeof r->output - n, fmt, ap);
    va_end(ap);
}

void grade(test_data *d, double *const *got, test_result *r)
{
    const test_spec *t = d->t;
    bool vjp = d->req.vjp;
    ad_context *ctx = ad_context_new();
    ad_node *y = ctx ? reference(ctx, d, d->in, vjp) : NULL;
    int checks = 0, passed = 0;
    if (!y) {
        say(r, "the grader could not build the reference: %s\n", ad_last_error());
        ad_context_free(ctx);
        return;
    }
    char ix[64];
    if (!vjp) {
        checks = 1;
        int64_t bad = -1;
        for (int64_t o = 0; o < d->y_len && bad < 0; o++)
            if (!agrees(got[0][o], ad_value_at(y, o), t->atol, t->rtol)) bad = o;
        if (bad < 0) {
            passed = 1;
            say(r, "forward: correct\n");
        } else {
            index_name(d, -1, bad, ix, sizeof ix);
            say(r, "forward: wrong at y%s: yours %.9g, expected %.9g\n", ix, got[0][bad], ad_value_at(y, bad));
        }
    } else {
        ad_tensor cot = ad_value(y);
        cot.data = d->gy;
        ad_backward_opts o = {.cotangent = &cot};
        ad_backward_ex(ctx, y, &o);
        for (int k = 0; k < d->n_in; k++) {
            checks++;
            ad_node *leaf = ad_node_by_id(ctx, (uint32_t)k);
            double *g = malloc((size_t)d->in_len[k] * sizeof *g);
            if (!g) {
                say(r, "the grader ran out of memory\n");
                continue;
            }
            for (int64_t i = 0; i < d->in_len[k]; i++) g[i] = got[k][i] - d->pre[k][i];   /* what the student added */
            int64_t bad = -1;
            for (int64_t i = 0; i < d->in_len[k] && bad < 0; i++)
                if (!agrees(g[i], ad_grad_at(leaf, i), t->atol, t->rtol)) bad = i;
            bool tie_ok = bad >= 0 && t->ties && !strcmp(t->op, "maxpool2d") && valid_pool_subgradient(d, g);
            if (bad < 0 || tie_ok) {
                passed++;
                say(r, "gradient w.r.t. %s: correct%s\n", d->in_name[k],
                    tie_ok ? " (a different valid subgradient at the ties: accepted)" : "");
            } else {
                /* finite differences of the reference forward, at the bad element */
                double keep = d->in[k][bad], h = 1e-6 * (fabs(keep) > 1 ? fabs(keep) : 1);
                d->in[k][bad] = keep + h;
                double fp = projected(d, d->in);
                d->in[k][bad] = keep - h;
                double fm = projected(d, d->in);
                d->in[k][bad] = keep;
                double ref = ad_grad_at(leaf, bad);
                index_name(d, k, bad, ix, sizeof ix);
                say(r, "gradient w.r.t. %s is wrong at %s: yours %.9g, expected %.9g (finite differences of the "
                       "reference forward: %.9g)%s\n",
                    d->in_name[k], ix, g[bad], ref, (fp - fm) / (2 * h),
                    agrees(got[k][bad], ref, 1e-9, 1e-9) ? "; it looks like you set the gradient (=) instead of adding "
                                                           "to it (+=)" : "");
            }
            free(g);
        }
    }
    r->score = t->points * passed / (checks ? checks : 1);
    r->passed = passed == checks;
    ad_context_free(ctx);
}
