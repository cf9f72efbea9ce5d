/* autograde_memorize ASSIGNMENT BASE_SEED: the memorizing attack on the
 * grader, made as a student who has read this repository would make it.
 * It draws every test's inputs the way the grader drew them before it took
 * a fresh seed per grading (a fixed seed plus the test index), computes the
 * answers with the reference solution, and prints a C table of them keyed
 * by the test's first input values. tests/autograde_corpus/memorized.c
 * includes that table (test_autograde substitutes it for @MEMORIZED_TABLE@)
 * and implements nothing else: a grader whose inputs can be predicted gives
 * it full marks. */
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_student.h"
#include "assignment.h"
#include "grade.h"

enum { KEY = 8 };   /* first input values compared: tied max-pool inputs repeat 0, 1 and 2 */

static void print_array(const char *name, int id, const double *a, int64_t n)
{
    printf("static const double %s%d[] = {", name, id);
    for (int64_t i = 0; i < n; i++) printf("%s%a", i ? ", " : "", a[i]);
    printf("};\n");
}

/* The reference answer: the forward output, or each gradient array after
 * the solution's "+=" onto the values the grader fills it with. */
static int64_t answer(const test_data *d, double *out)
{
    const int64_t *q = d->req.dims;
    student_conv2d_dims cd = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10]};
    student_pool_dims pd = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]};
    double *g[AG_MAX_IN];
    int64_t n = 0;
    if (!d->req.vjp) n = d->y_len;
    for (int k = 0; d->req.vjp && k < d->n_in; k++) {
        g[k] = out + n;
        memcpy(g[k], d->pre[k], (size_t)d->in_len[k] * sizeof(double));
        n += d->in_len[k];
    }
    double *const *x = d->in;
    switch (d->req.op) {
    case AG_SIGMOID:
        if (d->req.vjp) student_sigmoid_vjp(q[0], x[0], d->gy, g[0]);
        else student_sigmoid_forward(q[0], x[0], out);
        break;
    case AG_LINEAR:
        if (d->req.vjp) student_linear_vjp(q[0], q[1], q[2], x[0], x[1], d->gy, g[0], g[1], g[2]);
        else student_linear_forward(q[0], q[1], q[2], x[0], x[1], x[2], out);
        break;
    case AG_SOFTMAX_CE:
        if (d->req.vjp) student_softmax_ce_vjp(q[0], q[1], x[0], d->targets, d->gy[0], g[0]);
        else student_softmax_ce_forward(q[0], q[1], x[0], d->targets, out);
        break;
    case AG_CONV2D:
        if (d->req.vjp) student_conv2d_vjp(&cd, x[0], x[1], d->gy, g[0], g[1]);
        else student_conv2d_forward(&cd, x[0], x[1], out);
        break;
    default:
        if (d->req.vjp) student_maxpool2d_vjp(&pd, x[0], d->gy, g[0]);
        else student_maxpool2d_forward(&pd, x[0], out);
    }
    return n;
}

int main(int argc, char **argv)
{
    assignment a;
    char err[1024];
    if (argc != 3) {
        fprintf(stderr, "usage: autograde_memorize ASSIGNMENT BASE_SEED\n");
        return 2;
    }
    if (assignment_load(argv[1], &a, err, sizeof err) != 0) {
        fprintf(stderr, "autograde_memorize: %s\n", err);
        return 2;
    }
    unsigned long base = strtoul(argv[2], NULL, 10);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    printf("/* made by autograde_memorize %s %lu */\n", argv[1], base);
    for (int i = 0; i < a.n_tests; i++) {
        test_data d;
        gsl_rng_set(rng, base + (unsigned long)i);
        if (test_data_setup(&d, &a.tests[i], rng, err, sizeof err) != 0) {
            fprintf(stderr, "autograde_memorize: test %d: %s\n", i + 1, err);
            return 1;
        }
        double *out = malloc(test_data_answer_bytes(&d));
        int64_t n = answer(&d, out), nk = d.in_len[0] < KEY ? d.in_len[0] : KEY;
        print_array("key", i, d.in[0], nk);
        print_array("ans", i, out, n);
        free(out);
        test_data_free(&d);
    }
    printf("static const struct memo { int op, vjp; int64_t nkey, n; const double *key, *ans; } memo[] = {\n");
    for (int i = 0; i < a.n_tests; i++) {
        gsl_rng_set(rng, base + (unsigned long)i);
        test_data d;
        test_data_setup(&d, &a.tests[i], rng, err, sizeof err);
        int64_t nk = d.in_len[0] < KEY ? d.in_len[0] : KEY;
        printf("    {%u, %u, %lld, %lld, key%d, ans%d},\n", d.req.op, d.req.vjp, (long long)nk,
               (long long)(test_data_answer_bytes(&d) / sizeof(double)), i, i);
        test_data_free(&d);
    }
    printf("};\n");
    gsl_rng_free(rng);
    assignment_free(&a);
    return 0;
}
