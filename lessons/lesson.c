/* lesson.c: the lessons' shared command line, FD check and JSON output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_cli.h"
#include "lesson.h"

void lesson_parse(lesson *L, int argc, char **argv)
{
    /* The table: one option per input, then what every lesson has. */
    static char help[LESSON_MAX_INPUTS][512];
    ad_cli_option opt[LESSON_MAX_INPUTS + 3];
    int n = 0;
    for (int i = 0; i < L->n_in; i++, n++) {
        snprintf(help[i], sizeof help[i], "input %s (default %g)%s%s", L->in[i].name, L->in[i].value,
                 L->in[i].why ? ";\n" : "", L->in[i].why ? L->in[i].why : "");
        opt[n] = (ad_cli_option){L->in[i].name, "VALUE", help[i]};
    }
    const int o_variant = n++, o_json = n++, o_dot = n++;
    opt[o_variant] = (ad_cli_option){"variant", "A|B", LESSON_VARIANT_HELP};
    opt[o_json] = (ad_cli_option){"json", NULL, "print the results as JSON only"};
    opt[o_dot] = (ad_cli_option){"dot", "FILE", "write the computation graph with values and gradients for\n"
                                                "Graphviz (render it: dot -Tsvg FILE > graph.svg)"};
    ad_cli cli = {.program = L->program, .summary = L->title, .description = L->usage_extra, .options = opt,
                  .n_options = n};
    ad_cli_start(&cli, argc, argv);
    const char *val;
    for (int k; (k = ad_cli_next(&cli, &val)) != AD_CLI_END;) {
        if (k == AD_CLI_ARG) ad_cli_usage_error(&cli, "unexpected argument '%s'", val);
        else if (k == o_json) L->json = true;
        else if (k == o_dot) L->dot_path = val;
        else if (k == o_variant) {
            if (!strcmp(val, "A") || !strcmp(val, "a")) L->variant = AD_BACKWARD_PULL;
            else if (!strcmp(val, "B") || !strcmp(val, "b")) L->variant = AD_BACKWARD_PUSH;
            else ad_cli_usage_error(&cli, "--variant takes A or B, not '%s'", val);
        } else {
            double v = ad_cli_double(&cli, val, -INFINITY, INFINITY);
            const lesson_input *in = &L->in[k];
            if (!(v > in->lo && v < in->hi))
                ad_cli_usage_error(&cli, "--%s %s is outside the domain (%g, %g)%s%s", in->name, val, in->lo, in->hi,
                                   in->why ? ": " : "", in->why ? in->why : "");
            L->in[k].value = v;
        }
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
