/* lesson.c: the lessons' shared command line, FD check and JSON output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson.h"

static void usage(const lesson *L, FILE *f)
{
    fprintf(f, "%s — %s\n\nusage: %s", L->program, L->title, L->program);
    for (int i = 0; i < L->n_in; i++) fprintf(f, " [--%s VALUE]", L->in[i].name);
    fprintf(f, " [--variant A|B] [--json] [--dot FILE] [--help]\n\n");
    for (int i = 0; i < L->n_in; i++)
        fprintf(f, "  --%-8s input %s (default %g)%s%s\n", L->in[i].name, L->in[i].name, L->in[i].value,
                L->in[i].why ? "; " : "", L->in[i].why ? L->in[i].why : "");
    fprintf(f, "  --variant  backward pass: A (each node pulls from its consumers) or B (each node\n"
               "             pushes increments to its inputs); default %s\n", L->variant == AD_BACKWARD_PULL ? "A" : "B");
    fprintf(f, 
               "  --json     print the results as JSON only\n"
               "  --dot FILE write the computation graph with values and gradients for Graphviz\n"
               "             (render it: dot -Tsvg FILE > graph.svg)\n");
    if (L->usage_extra) fprintf(f, "\n%s\n", L->usage_extra);
}

_Noreturn void lesson_usage_error(const char *program, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", program);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see %s --help)\n", program);
    exit(2);
}

static _Noreturn void usage_error(const lesson *L, const char *fmt, const char *arg)
{
    lesson_usage_error(L->program, fmt, arg);
}

void lesson_parse(lesson *L, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(L, stdout);
            exit(0);
        }
        if (!strcmp(arg, "--json")) {
            L->json = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) usage_error(L, "unexpected argument '%s'", arg);
        /* --name value or --name=value */
        char key[64];
        const char *eq = strchr(arg + 2, '='), *val;
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (klen >= sizeof key) usage_error(L, "unknown option '%s'", arg);
        memcpy(key, arg + 2, klen);
        key[klen] = '\0';
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else usage_error(L, "option '%s' needs a value", arg);
        if (!strcmp(key, "dot")) {
            L->dot_path = val;
            continue;
        }
        if (!strcmp(key, "variant")) {
            if (!strcmp(val, "A") || !strcmp(val, "a")) L->variant = AD_BACKWARD_PULL;
            else if (!strcmp(val, "B") || !strcmp(val, "b")) L->variant = AD_BACKWARD_PUSH;
            else usage_error(L, "--variant takes A or B, not '%s'", val);
            continue;
        }
        int k = -1;
        for (int j = 0; j < L->n_in; j++)
            if (!strcmp(key, L->in[j].name)) k = j;
        if (k < 0) usage_error(L, "unknown option '--%s'", key);
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (end == val || *end || errno == ERANGE || !isfinite(v))
            usage_error(L, "'%s' is not a finite number", val);
        if (!(v > L->in[k].lo && v < L->in[k].hi)) {
            fprintf(stderr, "%s: --%s %s is outside the domain (%g, %g)%s%s\n", L->program, key, val, L->in[k].lo,
                    L->in[k].hi, L->in[k].why ? ": " : "", L->in[k].why ? L->in[k].why : "");
            exit(2);
        }
        L->in[k].value = v;
    }
}

static double eval_at(lesson_fn f, void *user, const double *x, int n)
{
    ad_context *ctx = ad_context_new();
    ad_node *leaves[LESSON_MAX_INPUTS];
    for (int i = 0; i < n; i++) leaves[i] = ad_scalar_const(ctx, x[i]);
    ad_node *y = f(ctx, leaves, user);
    double v = y ? ad_value_scalar(y) : NAN;
    ad_context_free(ctx);
    return v;
}

double lesson_central_difference(lesson_fn f, void *user, const double *x, int n, int i)
{
    double xp[LESSON_MAX_INPUTS], xm[LESSON_MAX_INPUTS];
    double h = 1e-6 * fmax(1.0, fabs(x[i]));
    memcpy(xp, x, (size_t)n * sizeof *x);
    memcpy(xm, x, (size_t)n * sizeof *x);
    xp[i] += h;
    xm[i] -= h;
    return (eval_at(f, user, xp, n) - eval_at(f, user, xm, n)) / (2 * h);
}

double lesson_fd_report(const lesson *L, lesson_fn f, void *user, const double *grads, const char *fname,
                        cJSON *json)
{
    double x[LESSON_MAX_INPUTS], worst = 0;
    for (int i = 0; i < L->n_in; i++) x[i] = L->in[i].value;
    cJSON *fd = json ? cJSON_AddObjectToObject(json, "finite_difference") : NULL;
    if (!L->json) printf("Finite-difference check (centered, h = 1e-6·max(1,|x|)):\n");
    for (int i = 0; i < L->n_in; i++) {
        double num = lesson_central_difference(f, user, x, L->n_in, i);
        double diff = fabs(num - grads[i]);
        worst = fmax(worst, diff / fmax(1.0, fabs(grads[i])));   /* relative where the derivative is large */
        if (!L->json)
            printf("  ∂%s/∂%s ≈ %.12f   engine %.12f   |diff| = %.1e\n", fname, L->in[i].name, num, grads[i], diff);
        if (fd) cJSON_AddNumberToObject(fd, L->in[i].name, num);
    }
    if (fd) cJSON_AddNumberToObject(fd, "max_rel_diff", worst);
    if (!L->json)
        printf("  %s: largest difference %.1e (relative to max(1, |∂|))\n", worst < 1e-6 ? "agree" : "DISAGREE", worst);
    return worst;
}

ad_status lesson_backward_unit(ad_context *ctx, ad_node *y, int64_t i)
{
    ad_tensor *cot = ad_tensor_new((ad_dtype)y->value.dtype, y->value.ndim, y->value.shape);
    if (!cot) return ad_last_status();
    ad_tensor_set(cot, i, 1.0);
    ad_backward_opts o = {.cotangent = cot};
    ad_zero_grad(ctx);
    ad_status st = ad_backward_ex(ctx, y, &o);
    ad_tensor_free(cot);
    return st;
}

void lesson_print_json(cJSON *doc)
{
    char *s = cJSON_Print(doc);
    if (s) puts(s);
    free(s);
    cJSON_Delete(doc);
}

_Noreturn void lesson_die(const lesson *L, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", L->program, what, ad_last_error());
    exit(1);
}

void lesson_write_dot(const lesson *L, ad_context *ctx, const ad_node *root)
{
    if (!L->dot_path) return;
    if (ad_dot_save(ctx, root, L->dot_path) != AD_OK) lesson_die(L, "--dot");
    if (!L->json) printf("Graph written to %s (render: dot -Tsvg %s > graph.svg)\n", L->dot_path, L->dot_path);
}
