/* autograde: grade a student's implementation of ad_student.h.
 *   autograde --assignment assignment.json --submission student.c --out DIR
 * Compiles the submission into a shared object, runs each test in its own
 * sandboxed child (sandbox.h), and compares what the child returns with the
 * engine's own ops: the forward against the reference forward, each
 * gradient against the reference vjp and against finite differences of the
 * reference forward. Writes DIR/results.json (Gradescope's format),
 * DIR/junit.xml and DIR/report.txt, whatever the submission does. */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ad_student.h"
#include "autodidact.h"
#include "sandbox.h"

#ifndef AD_STUDENT_INCLUDE
#define AD_STUDENT_INCLUDE "."
#endif

enum { MAX_ARR = 4 };

/* One test: the op, its shapes and what is checked. */
typedef struct test_spec {
    char name[128], op[32], part[16], visibility[32];
    int64_t shape[4], kernel[3], stride, pad, window;
    double points, atol, rtol;
    bool ties;
} test_spec;

/* The arrays of one test: inputs (x, w, b / logits, targets...), the
 * upstream gradient, and the outputs the student returns. */
typedef struct test_data {
    const test_spec *t;
    int n_in;                        /* array inputs */
    double *in[MAX_ARR];
    int64_t in_len[MAX_ARR];
    const char *in_name[MAX_ARR];
    int64_t *targets;                /* softmax_ce */
    double *gy;                      /* upstream gradient (vjp) */
    int64_t out_len[MAX_ARR], n_out; /* outputs: y (forward) or one grad per differentiable input */
    double *pre[MAX_ARR];            /* values the grads start from */
    student_conv2d_dims cd;
    student_pool_dims pd;
    const char *so_path;
    void *so;
} test_data;

static const char *str(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double number(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* ---- building a test's arrays ---- */
static double *rand_array(gsl_rng *r, int64_t n, bool ties)
{
    double *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = ties ? (double)gsl_rng_uniform_int(r, 3) : gsl_ran_flat(r, -2, 2);
    return a;
}

static int setup_data(test_data *d, const test_spec *t, gsl_rng *r, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->t = t;
    const int64_t *s = t->shape;
    if (!strcmp(t->op, "sigmoid")) {
        d->n_in = 1, d->in_len[0] = s[0], d->in_name[0] = "x";
        d->out_len[0] = s[0];
    } else if (!strcmp(t->op, "linear")) {
        d->n_in = 3, d->in_len[0] = s[0] * s[1], d->in_len[1] = s[2] * s[1], d->in_len[2] = s[2];
        d->in_name[0] = "the input x", d->in_name[1] = "the weight w", d->in_name[2] = "the bias b";
        d->out_len[0] = s[0] * s[2];
    } else if (!strcmp(t->op, "softmax_ce")) {
        d->n_in = 1, d->in_len[0] = s[0] * s[1], d->in_name[0] = "the logits";
        d->targets = malloc((size_t)s[0] * sizeof *d->targets);
        for (int64_t n = 0; n < s[0]; n++) d->targets[n] = (int64_t)gsl_rng_uniform_int(r, (unsigned long)s[1]);
        d->out_len[0] = 1;
    } else if (!strcmp(t->op, "conv2d")) {
        student_conv2d_dims c = {s[0], s[1], s[2], s[3], t->kernel[0], t->kernel[1], t->kernel[2], t->stride, t->pad, 0, 0};
        c.P = (c.H + 2 * c.pad - c.R) / c.stride + 1, c.Q = (c.W + 2 * c.pad - c.S) / c.stride + 1;
        if (c.stride < 1 || c.P < 1 || c.Q < 1) return snprintf(err, errlen, "conv2d: the kernel does not fit"), -1;
        d->cd = c;
        d->n_in = 2, d->in_len[0] = c.N * c.C * c.H * c.W, d->in_len[1] = c.K * c.C * c.R * c.S;
        d->in_name[0] = "the input x", d->in_name[1] = "the weight w";
        d->out_len[0] = c.N * c.K * c.P * c.Q;
    } else if (!strcmp(t->op, "maxpool2d")) {
        student_pool_dims p = {s[0], s[1], s[2], s[3], t->window, t->stride, 0, 0};
        if (p.window < 1 || p.stride < 1 || p.window > p.H || p.window > p.W)
            return snprintf(err, errlen, "maxpool2d: the window does not fit"), -1;
        p.P = (p.H - p.window) / p.stride + 1, p.Q = (p.W - p.window) / p.stride + 1;
        d->pd = p;
        d->n_in = 1, d->in_len[0] = p.N * p.C * p.H * p.W, d->in_name[0] = "the input x";
        d->out_len[0] = p.N * p.C * p.P * p.Q;
    } else {
        return snprintf(err, errlen, "unknown op '%s' (sigmoid, linear, softmax_ce, conv2d, maxpool2d)", t->op), -1;
    }
    for (int k = 0; k < d->n_in; k++) d->in[k] = rand_array(r, d->in_len[k], t->ties);
    if (!strcmp(t->part, "vjp")) {
        d->gy = rand_array(r, d->out_len[0], false);
        d->n_out = d->n_in;
        for (int k = 0; k < d->n_in; k++) {
            d->out_len[k] = d->in_len[k];
            d->pre[k] = rand_array(r, d->in_len[k], false);   /* "=" instead of "+=" shows */
        }
    } else {
        d->n_out = 1;
    }
    return 0;
}

static void free_data(test_data *d)
{
    for (int k = 0; k < MAX_ARR; k++) free(d->in[k]), free(d->pre[k]);
    free(d->targets);
    free(d->gy);
}

/* ---- the child: the student's code ---- */
static int child_setup(void *user)
{
    test_data *d = user;
    d->so = dlopen(d->so_path, RTLD_NOW | RTLD_LOCAL);
    return d->so ? 0 : -1;
}

#define SYM(name) ((__typeof__(&name))dlsym(d->so, #name))

static void child_body(int fd, void *user)
{
    test_data *d = user;
    const test_spec *t = d->t;
    bool vjp = !strcmp(t->part, "vjp");
    double *out[MAX_ARR];
    for (int k = 0; k < d->n_out; k++) {
        out[k] = calloc((size_t)d->out_len[k], sizeof(double));
        if (vjp) memcpy(out[k], d->pre[k], (size_t)d->out_len[k] * sizeof(double));
    }
    const int64_t *s = t->shape;
    if (!strcmp(t->op, "sigmoid")) {
        if (vjp) SYM(student_sigmoid_vjp)(s[0], d->in[0], d->gy, out[0]);
        else SYM(student_sigmoid_forward)(s[0], d->in[0], out[0]);
    } else if (!strcmp(t->op, "linear")) {
        if (vjp) SYM(student_linear_vjp)(s[0], s[1], s[2], d->in[0], d->in[1], d->gy, out[0], out[1], out[2]);
        else SYM(student_linear_forward)(s[0], s[1], s[2], d->in[0], d->in[1], d->in[2], out[0]);
    } else if (!strcmp(t->op, "softmax_ce")) {
        if (vjp) SYM(student_softmax_ce_vjp)(s[0], s[1], d->in[0], d->targets, d->gy[0], out[0]);
        else SYM(student_softmax_ce_forward)(s[0], s[1], d->in[0], d->targets, out[0]);
    } else if (!strcmp(t->op, "conv2d")) {
        if (vjp) SYM(student_conv2d_vjp)(&d->cd, d->in[0], d->in[1], d->gy, out[0], out[1]);
        else SYM(student_conv2d_forward)(&d->cd, d->in[0], d->in[1], out[0]);
    } else {
        if (vjp) SYM(student_maxpool2d_vjp)(&d->pd, d->in[0], d->gy, out[0]);
        else SYM(student_maxpool2d_forward)(&d->pd, d->in[0], out[0]);
    }
    for (int k = 0; k < d->n_out; k++) sandbox_write(fd, out[k], (size_t)d->out_len[k] * sizeof(double));
}

/* ---- the reference: the engine's own ops ---- */
static ad_node *reference(ad_context *ctx, const test_data *d, double *const *x, bool vars)
{
    const test_spec *t = d->t;
    const int64_t *s = t->shape;
    ad_node *in[MAX_ARR];
    int64_t shapes[MAX_ARR][4];
    int nd[MAX_ARR];
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
        for (int64_t n = 0; n < s[0]; n++) ((double *)tg->value.data)[n] = (double)d->targets[n];
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
    double s = 0;
    for (int64_t o = 0; y && o < d->out_len[0] && o < y->value.size; o++) s += d->gy[o] * ad_value_at(y, o);
    ad_context_free(ctx);
    return s;
}

/* "[k,c,r,s]" for element i of input k (or of the output when k < 0) */
static void index_name(const test_data *d, int k, int64_t i, char *buf, size_t len)
{
    const test_spec *t = d->t;
    const int64_t *s = t->shape;
    int64_t dims[4] = {0}, nd = 1;
    if (!strcmp(t->op, "conv2d") && k == 1) nd = 4, dims[0] = t->kernel[0], dims[1] = s[1], dims[2] = t->kernel[1], dims[3] = t->kernel[2];
    else if ((!strcmp(t->op, "conv2d") || !strcmp(t->op, "maxpool2d")) && k == 0) nd = 4, memcpy(dims, s, sizeof dims);
    else if (!strcmp(t->op, "conv2d") && k < 0) nd = 4, dims[0] = s[0], dims[1] = t->kernel[0], dims[2] = d->cd.P, dims[3] = d->cd.Q;
    else if (!strcmp(t->op, "maxpool2d") && k < 0) nd = 4, dims[0] = s[0], dims[1] = s[1], dims[2] = d->pd.P, dims[3] = d->pd.Q;
    else if (!strcmp(t->op, "linear") && k == 0) nd = 2, dims[0] = s[0], dims[1] = s[1];
    else if (!strcmp(t->op, "linear") && k == 1) nd = 2, dims[0] = s[2], dims[1] = s[1];
    else if (!strcmp(t->op, "linear") && k < 0) nd = 2, dims[0] = s[0], dims[1] = s[2];
    else if (!strcmp(t->op, "softmax_ce") && k == 0) nd = 2, dims[0] = s[0], dims[1] = s[1];
    else dims[0] = d->in_len[k < 0 ? 0 : k];
    ad_tensor tmp = {.ndim = (uint8_t)nd};
    for (int j = 0; j < 4; j++) tmp.shape[j] = j < nd ? dims[j] : 1;
    ad_index_str(&tmp, i, buf, len);
}

/* Max-pool with ties: any split of each window's gradient among its maxima
 * is valid. Windows must not overlap (stride >= window) for this check. */
static bool valid_pool_subgradient(const test_data *d, const double *g)
{
    const student_pool_dims *p = &d->pd;
    const double *x = d->in[0];
    double *used = calloc((size_t)d->in_len[0], sizeof *used);
    bool ok = p->stride >= p->window;
    for (int64_t plane = 0; ok && plane < p->N * p->C; plane++)
        for (int64_t a = 0; ok && a < p->P; a++)
            for (int64_t b = 0; ok && b < p->Q; b++) {
                int64_t base = plane * p->H * p->W + a * p->stride * p->W + b * p->stride;
                double m = -INFINITY, sum = 0, gyv = d->gy[(plane * p->P + a) * p->Q + b];
                for (int64_t r = 0; r < p->window; r++)
                    for (int64_t c = 0; c < p->window; c++) m = fmax(m, x[base + r * p->W + c]);
                for (int64_t r = 0; r < p->window; r++)
                    for (int64_t c = 0; c < p->window; c++) {
                        int64_t i = base + r * p->W + c;
                        used[i] = 1;
                        if (x[i] < m && fabs(g[i]) > 1e-9) ok = false;          /* mass on a non-maximum */
                        if (x[i] == m && g[i] * gyv < -1e-12) ok = false;       /* a negative share */
                        if (x[i] == m) sum += g[i];
                    }
                if (fabs(sum - gyv) > 1e-9 * (1 + fabs(gyv))) ok = false;       /* the shares add up */
            }
    for (int64_t i = 0; ok && i < d->in_len[0]; i++)
        if (!used[i] && fabs(g[i]) > 1e-9) ok = false;
    free(used);
    return ok;
}

typedef struct test_result {
    double score, max_score, seconds;
    char output[2048];
    bool passed;
} test_result;

static void say(test_result *r, const char *fmt, ...)
{
    size_t n = strlen(r->output);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->output + n, sizeof r->output - n, fmt, ap);
    va_end(ap);
}

/* Compare the child's outputs with the reference; partial credit per check. */
static void grade(test_data *d, double *const *got, test_result *r)
{
    const test_spec *t = d->t;
    bool vjp = !strcmp(t->part, "vjp");
    ad_context *ctx = ad_context_new();
    ad_node *y = reference(ctx, d, d->in, vjp);
    int checks = 0, passed = 0;
    if (!y) {
        say(r, "the grader could not build the reference: %s\n", ad_last_error());
        ad_context_free(ctx);
        return;
    }
    if (!vjp) {
        checks = 1;
        int64_t bad = -1;
        for (int64_t o = 0; o < d->out_len[0]; o++) {
            double ref = ad_value_at(y, o), g = got[0][o];
            if (!isfinite(g) || fabs(g - ref) > t->atol + t->rtol * fabs(ref)) {
                bad = o;
                break;
            }
        }
        char ix[64];
        if (bad < 0) {
            passed = 1;
            say(r, "forward: correct\n");
        } else {
            index_name(d, -1, bad, ix, sizeof ix);
            say(r, "forward: wrong at y%s: yours %.9g, expected %.9g\n", ix, got[0][bad], ad_value_at(y, bad));
        }
    } else {
        ad_tensor cot = y->value;
        cot.data = d->gy;
        ad_backward_opts o = {.cotangent = &cot};
        ad_backward_ex(ctx, y, &o);
        for (int k = 0; k < d->n_in; k++) {
            checks++;
            ad_node *leaf = ad_node_by_id(ctx, (uint32_t)k);
            double *g = malloc((size_t)d->in_len[k] * sizeof *g);
            for (int64_t i = 0; i < d->in_len[k]; i++) g[i] = got[k][i] - d->pre[k][i];   /* what the student added */
            int64_t bad = -1;
            for (int64_t i = 0; i < d->in_len[k] && bad < 0; i++) {
                double ref = ad_grad_at(leaf, i);
                if (!isfinite(g[i]) || fabs(g[i] - ref) > t->atol + t->rtol * fabs(ref)) bad = i;
            }
            bool tie_ok = bad >= 0 && t->ties && !strcmp(t->op, "maxpool2d") && valid_pool_subgradient(d, g);
            char ix[64];
            if (bad < 0 || tie_ok) {
                passed++;
                say(r, "gradient w.r.t. %s: correct%s\n", d->in_name[k],
                    tie_ok ? " (a different valid subgradient at the ties: accepted)" : "");
            } else {
                /* finite differences of the reference forward, at the bad element */
                double keep = d->in[k][bad], h = 1e-6 * fmax(1, fabs(keep));
                d->in[k][bad] = keep + h;
                double fp = projected(d, d->in);
                d->in[k][bad] = keep - h;
                double fm = projected(d, d->in);
                d->in[k][bad] = keep;
                index_name(d, k, bad, ix, sizeof ix);
                say(r, "gradient w.r.t. %s is wrong at %s: yours %.9g, expected %.9g (finite differences of the "
                       "reference forward: %.9g)%s\n",
                    d->in_name[k], ix, g[bad], ad_grad_at(leaf, bad), (fp - fm) / (2 * h),
                    fabs(got[k][bad] - ad_grad_at(leaf, bad)) < 1e-9 * (1 + fabs(got[k][bad]))
                        ? "; it looks like you set the gradient (=) instead of adding to it (+=)" : "");
            }
            free(g);
        }
    }
    r->score = t->points * passed / (checks ? checks : 1);
    r->passed = passed == checks;
    ad_context_free(ctx);
}

/* ---- compiling the submission ---- */
static int compile(const char *src, const char *so, const char *include, char *log, size_t loglen)
{
    int p[2];
    if (pipe(p) != 0) return snprintf(log, loglen, "cannot make a pipe"), -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        char inc[4096];
        snprintf(inc, sizeof inc, "-I%s", include);
        execlp("cc", "cc", "-std=c11", "-O2", "-fPIC", "-shared", "-Wall", inc, "-o", so, src, "-lm", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < loglen && (k = read(p[0], log + n, loglen - 1 - n)) > 0) n += (size_t)k;
    log[n] = '\0';
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- reports ---- */
static void xml_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', f);
        else fputc(*s, f);
    }
}

static int write_reports(const char *dir, const test_spec *tests, const test_result *res, int n, const char *general,
                         double seconds)
{
    char path[4096];
    double score = 0, max = 0;
    for (int i = 0; i < n; i++) score += res[i].score, max += res[i].max_score;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "score", round(score * 1000) / 1000);
    cJSON_AddNumberToObject(doc, "execution_time", round(seconds * 1000) / 1000);
    cJSON_AddStringToObject(doc, "output", general);
    cJSON *arr = cJSON_AddArrayToObject(doc, "tests");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", tests[i].name);
        cJSON_AddNumberToObject(o, "score", round(res[i].score * 1000) / 1000);
        cJSON_AddNumberToObject(o, "max_score", res[i].max_score);
        cJSON_AddStringToObject(o, "status", res[i].passed ? "passed" : "failed");
        cJSON_AddStringToObject(o, "output", res[i].output);
        cJSON_AddStringToObject(o, "visibility", tests[i].visibility);
        cJSON_AddItemToArray(arr, o);
    }
    char *js = cJSON_Print(doc);
    snprintf(path, sizeof path, "%s/results.json", dir);
    FILE *f = fopen(path, "w");
    int rc = f ? 0 : -1;
    if (f) fprintf(f, "%s\n", js), fclose(f);
    free(js);
    cJSON_Delete(doc);
    snprintf(path, sizeof path, "%s/junit.xml", dir);
    if ((f = fopen(path, "w"))) {
        int fails = 0;
        for (int i = 0; i < n; i++) fails += !res[i].passed;
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"autograde\" tests=\"%d\" failures=\"%d\">\n", n, fails);
        for (int i = 0; i < n; i++) {
            fputs("  <testcase classname=\"autograde\" name=\"", f);
            xml_put(f, tests[i].name);
            fprintf(f, "\" time=\"%.3f\"", res[i].seconds);
            if (res[i].passed) fputs("/>\n", f);
            else {
                fputs(">\n    <failure message=\"", f);
                xml_put(f, res[i].output);
                fputs("\"/>\n  </testcase>\n", f);
            }
        }
        fputs("</testsuite>\n", f);
        fclose(f);
    } else rc = -1;
    snprintf(path, sizeof path, "%s/report.txt", dir);
    if ((f = fopen(path, "w"))) {
        fprintf(f, "Score: %g / %g\n%s\n", score, max, general);
        for (int i = 0; i < n; i++)
            fprintf(f, "\n[%s] %s  %g / %g  (%s)\n%s", res[i].passed ? "PASS" : "FAIL", tests[i].name, res[i].score,
                    res[i].max_score, tests[i].visibility, res[i].output);
        fclose(f);
    } else rc = -1;
    return rc;
}

static int parse_tests(const char *path, test_spec **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, errlen, "cannot open the assignment %s", path), -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    buf[got] = '\0';
    fclose(f);
    cJSON *doc = cJSON_Parse(buf);
    free(buf);
    const cJSON *tests = doc ? cJSON_GetObjectItemCaseSensitive(doc, "tests") : NULL;
    if (!cJSON_IsArray(tests)) {
        cJSON_Delete(doc);
        return snprintf(err, errlen, "%s: not JSON with a \"tests\" array", path), -1;
    }
    int n = cJSON_GetArraySize(tests);
    test_spec *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(tests, i), *sh = cJSON_GetObjectItemCaseSensitive(o, "shape"),
                    *kn = cJSON_GetObjectItemCaseSensitive(o, "kernel");
        snprintf(t[i].name, sizeof t[i].name, "%s", str(o, "name", "unnamed test"));
        snprintf(t[i].op, sizeof t[i].op, "%s", str(o, "op", ""));
        snprintf(t[i].part, sizeof t[i].part, "%s", str(o, "part", "vjp"));
        snprintf(t[i].visibility, sizeof t[i].visibility, "%s", str(o, "visibility", "visible"));
        const char *vis[] = {"visible", "hidden", "after_due_date", "after_published"};
        bool vis_ok = false;
        for (int v = 0; v < 4; v++) vis_ok = vis_ok || !strcmp(t[i].visibility, vis[v]);
        if (!vis_ok || (strcmp(t[i].part, "vjp") && strcmp(t[i].part, "forward")) || !cJSON_IsArray(sh)) {
            snprintf(err, errlen, "%s: test %d (%s): needs \"shape\", \"part\" forward|vjp and a visibility of visible, "
                                  "hidden, after_due_date or after_published", path, i + 1, t[i].name);
            free(t);
            cJSON_Delete(doc);
            return -1;
        }
        for (int k = 0; k < 4 && k < cJSON_GetArraySize(sh); k++) t[i].shape[k] = (int64_t)cJSON_GetArrayItem(sh, k)->valuedouble;
        for (int k = 0; k < 3 && cJSON_IsArray(kn) && k < cJSON_GetArraySize(kn); k++)
            t[i].kernel[k] = (int64_t)cJSON_GetArrayItem(kn, k)->valuedouble;
        t[i].stride = (int64_t)number(o, "stride", 1);
        t[i].pad = (int64_t)number(o, "padding", 0);
        t[i].window = (int64_t)number(o, "window", 2);
        t[i].points = number(o, "points", 1);
        t[i].atol = number(o, "atol", 1e-6);
        t[i].rtol = number(o, "rtol", 1e-4);
        t[i].ties = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ties"));
        for (int k = 0; k < 4; k++)
            if (cJSON_GetArraySize(sh) > k && (t[i].shape[k] < 1 || t[i].shape[k] > 4096)) {
                snprintf(err, errlen, "%s: test %d (%s): shape entries must be 1..4096", path, i + 1, t[i].name);
                free(t);
                cJSON_Delete(doc);
                return -1;
            }
    }
    cJSON_Delete(doc);
    *out = t;
    return n;
}


int main(int argc, char **argv)
{
    const char *assignment = NULL, *submission = NULL, *out = NULL, *include = AD_STUDENT_INCLUDE;
    unsigned long seed = 2026;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--assignment")) assignment = argv[i + 1];
        else if (!strcmp(argv[i], "--submission")) submission = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--include")) include = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "autograde: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!assignment || !submission || !out) {
        fprintf(stderr, "usage: autograde --assignment assignment.json --submission student.c --out DIR "
                        "[--include DIR] [--seed N]\n");
        return 2;
    }
    double t0 = sandbox_now();
    mkdir(out, 0755);
    char err[1024];
    test_spec *tests = NULL;
    int n = parse_tests(assignment, &tests, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "autograde: %s\n", err);
        return 2;
    }
    test_result *res = calloc((size_t)(n ? n : 1), sizeof *res);
    for (int i = 0; i < n; i++) res[i].max_score = tests[i].points;
    char tmpl[] = "/tmp/autograde.XXXXXX";
    char *work = mkdtemp(tmpl);
    char so[4096], cwd[4096], general[8192 + 256], log[8192];
    snprintf(so, sizeof so, "%s/submission.so", work ? work : "/tmp");
    snprintf(cwd, sizeof cwd, "%s/cwd", work ? work : "/tmp");
    mkdir(cwd, 0700);
    if (!work || compile(submission, so, include, log, sizeof log) != 0) {
        snprintf(general, sizeof general, "Your file did not compile, so no test could run. The compiler said:\n%s", log);
        for (int i = 0; i < n; i++) say(&res[i], "not run: the submission did not compile\n");
    } else {
        snprintf(general, sizeof general, "Compiled. %d tests run, each in its own sandbox.", n);
        for (int i = 0; i < n; i++) {
            double ts = sandbox_now();
            gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
            gsl_rng_set(rng, seed + (unsigned long)i);
            test_data d;
            if (setup_data(&d, &tests[i], rng, err, sizeof err) != 0) {
                say(&res[i], "the assignment's test is malformed: %s\n", err);
            } else {
                d.so_path = so;
                size_t bytes = 0;
                for (int k = 0; k < d.n_out; k++) bytes += (size_t)d.out_len[k] * sizeof(double);
                double *buf = malloc(bytes), *got[MAX_ARR];
                size_t off = 0;
                for (int k = 0; k < d.n_out; k++) got[k] = buf + off, off += (size_t)d.out_len[k];
                sandbox_limits lim = {2, 5, (size_t)1 << 29};
                char detail[512];
                sandbox_outcome oc = sandbox_run(&lim, cwd, child_setup, child_body, &d, buf, bytes, detail, sizeof detail);
                if (oc == SANDBOX_OK) grade(&d, got, &res[i]);
                else say(&res[i], "%s\n", detail);
                free(buf);
            }
            free_data(&d);
            gsl_rng_free(rng);
            res[i].seconds = sandbox_now() - ts;
        }
    }
    unlink(so);
    rmdir(cwd);
    if (work) rmdir(work);
    int rc = write_reports(out, tests, res, n, general, sandbox_now() - t0);
    double score = 0, max = 0;
    for (int i = 0; i < n; i++) score += res[i].score, max += res[i].max_score;
    printf("autograde: %g / %g (%s/results.json, junit.xml, report.txt)\n", score, max, out);
    free(tests);
    free(res);
    return rc == 0 ? 0 : 1;
}
