/* gpu_power_iteration: lecture 001's "Power iteration example on PyTorch"
 * (../shared/lectures/001_*): send A and x₀ to the device once, compute
 * x ← Ax 100 times there, read x back once; then compare the Rayleigh
 * quotient xᵀAx / xᵀx with the dominant eigenvalue from GSL's symmetric
 * eigensolver. This lesson's GPU path (ad_to_device, matmul on the device,
 * ad_to_host) is not written yet (README, Status): the lesson says so and
 * runs the same three steps on the CPU, with the engine's matmul (OpenBLAS). */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson.h"

int main(int argc, char **argv)
{
    lesson L = {.program = "gpu_power_iteration",
                .title = "power iteration x <- Ax, 100 steps, data sent once [lecture 001]",
                .in = {{"n", 200, 1, 4097, "the matrix size, 2..4096"}, {"steps", 100, 0, 100001, "1..100000"}},
                .n_in = 2};
    lesson_parse(&L, argc, argv);
    int n = (int)L.in[0].value, steps = (int)L.in[1].value;
    char why[256];
    const char *where = "CPU";
    if (!ad_gpu_built()) snprintf(why, sizeof why, "this build has no CUDA backend");
    else if (!ad_gpu_available()) ad_gpu_describe(why, sizeof why);
    else {
        char dev[200];
        snprintf(why, sizeof why, "found %s, but this lesson's GPU path is not written yet", ad_gpu_describe(dev, sizeof dev));
    }
    /* A symmetric with a clear dominant eigenvalue: B + Bᵀ plus a rank-one spike */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    double *A = malloc((size_t)n * n * sizeof *A), *x0 = malloc((size_t)n * sizeof *x0), *u = malloc((size_t)n * sizeof *u);
    for (int i = 0; i < n; i++) u[i] = gsl_ran_gaussian(rng, 1.0) / sqrt(n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = gsl_ran_gaussian(rng, 1.0 / sqrt(n)) + 5 * u[i] * u[j];
    for (int i = 0; i < n; i++) x0[i] = 1.0;
    /* send, compute, receive: on the CPU here, in the engine's no-grad mode */
    ad_context *ctx = ad_context_new();
    ad_set_grad_enabled(ctx, false);
    int64_t sa[] = {n, n}, sx[] = {n, 1};
    ad_node *An = ad_constant(ctx, AD_FLOAT64, 2, sa, A), *x = ad_constant(ctx, AD_FLOAT64, 2, sx, x0);
    ad_mark m = ad_context_mark(ctx);
    double *xv = malloc((size_t)n * sizeof *xv);
    for (int s = 0; s < steps; s++) {
        ad_node *y = ad_matmul(ctx, An, x);
        if (!y) lesson_die(&L, "matmul");
        /* normalise so the iterate neither overflows nor vanishes */
        double norm = 0;
        for (int i = 0; i < n; i++) norm += ad_value_at(y, i) * ad_value_at(y, i);
        norm = sqrt(norm);
        for (int i = 0; i < n; i++) xv[i] = ad_value_at(y, i) / norm;
        ad_context_rewind(ctx, m);
        memcpy(x->value.data, xv, (size_t)n * sizeof *xv);
    }
    /* Rayleigh quotient */
    ad_node *Ax = ad_matmul(ctx, An, x);
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) num += xv[i] * ad_value_at(Ax, i), den += xv[i] * xv[i];
    double lambda = num / den;
    /* GSL's symmetric eigensolver */
    gsl_matrix *M = gsl_matrix_alloc((size_t)n, (size_t)n);
    for (int i = 0; i < n * n; i++) M->data[i] = A[i];
    gsl_vector *eval = gsl_vector_alloc((size_t)n);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc((size_t)n);
    gsl_eigen_symm(M, eval, w);
    /* the two eigenvalues largest in magnitude */
    double top = 0, second = 0;
    for (int i = 0; i < n; i++) {
        double v = gsl_vector_get(eval, i);
        if (fabs(v) > fabs(top)) second = top, top = v;
        else if (fabs(v) > fabs(second)) second = v;
    }
    double err = fabs(lambda - top);
    if (!L.json) {
        printf("gpu_power_iteration — lecture 001's power iteration, %d×%d symmetric A, %d steps\n\n", n, n, steps);
        printf("No GPU run: %s. The same three steps on the %s:\n", why, where);
        printf("  1. send A and x₀ = (1, …, 1) once\n  2. x ← Ax / |Ax|, %d times (the engine's matmul, no-grad mode)\n"
               "  3. read x back once\n\n", steps);
        printf("Rayleigh quotient xᵀAx / xᵀx = %.12f\nGSL's eigensolver, dominant eigenvalue = %.12f\n"
               "difference %.1e; the convergence rate is |λ₂/λ₁| = %.3f per step\n", lambda, top, err,
               fabs(second / top));
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "gpu_power_iteration");
        cJSON_AddStringToObject(doc, "device", where);
        cJSON_AddStringToObject(doc, "why_not_gpu", why);
        cJSON_AddNumberToObject(doc, "rayleigh_quotient", lambda);
        cJSON_AddNumberToObject(doc, "gsl_dominant_eigenvalue", top);
        cJSON_AddNumberToObject(doc, "ratio_lambda2_lambda1", fabs(second / top));
        lesson_print_json(doc);
    }
    gsl_eigen_symm_free(w);
    gsl_vector_free(eval);
    gsl_matrix_free(M);
    free(A), free(x0), free(u), free(xv);
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return 0;
}
