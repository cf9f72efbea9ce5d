/* gpu_power_iteration: lecture 001's "Power iteration example on PyTorch"
 * (../shared/lectures/001_*): send A and x₀ to the device once, compute
 * x ← Ax/|Ax| 100 times there, read x back once; then compare the Rayleigh
 * quotient xᵀAx / xᵀx with the dominant eigenvalue from GSL's symmetric
 * eigensolver. Where there is no GPU (or no CUDA in the build) the same
 * three steps run on the CPU, and the lesson says why.
 * Where it departs from the lecture: the lecture's loop is x = A*x with no
 * normalisation, so |x| grows (or shrinks) like |λ₁|^k and overflows
 * float64 once k·log|λ₁| passes about 709. Dividing by |Ax| each step keeps
 * x's direction, which is all the eigenvector is; the lesson runs the
 * lecture's unnormalised loop too (on the CPU) and reports where it ends. */
#include <float.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson.h"

/* dst = src, two nodes of one shape on one device. */
static ad_status copy_value(ad_node *dst, const ad_node *src)
{
    ad_tensor d = ad_value(dst), s = ad_value(src);
    if (d.device == AD_CUDA) return ad_gpu_tensor_copy(&d, &s);
    memcpy(d.data, s.data, (size_t)s.size * ad_dtype_size((ad_dtype)s.dtype));
    return AD_OK;
}

int main(int argc, char **argv)
{
    lesson L = {.program = "gpu_power_iteration",
                .source = "001_5b955eed8dfe07dd.txt: \"PyTorch Demo\", \"Power iteration example on PyTorch\"",
                .code = "engine/core/ad_device.h (what the GPU backend gives the core), gpu/matmul.cu (the GEMM on the GPU), gpu/runtime.cu (the device)",
                .title = "power iteration x <- Ax, 100 steps, data sent once [lecture 001]",
                .in = {{"n", 200, 1, 4097, "the matrix size, 2..4096"}, {"steps", 100, 0, 100001, "1..100000"}},
                .n_in = 2};
    lesson_parse(&L, argc, argv);
    int n = (int)L.in[0].value, steps = (int)L.in[1].value;
    char why[256] = "", dev[256] = "";
    bool gpu = ad_gpu_available();
    if (gpu) ad_gpu_describe(dev, sizeof dev);
    else snprintf(why, sizeof why, "%s", ad_last_error());
    const char *where = gpu ? "GPU" : "CPU";
    /* A symmetric with a clear dominant eigenvalue: B + Bᵀ plus a rank-one spike */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    double *A = malloc((size_t)n * n * sizeof *A), *x0 = malloc((size_t)n * sizeof *x0), *u = malloc((size_t)n * sizeof *u);
    for (int i = 0; i < n; i++) u[i] = gsl_ran_gaussian(rng, 1.0) / sqrt(n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = gsl_ran_gaussian(rng, 1.0 / sqrt(n)) + 5 * u[i] * u[j];
    for (int i = 0; i < n; i++) x0[i] = 1.0;
    /* 1. send A and x₀ once (on the CPU they stay where they are); no-grad mode throughout */
    ad_context *ctx = lesson_context(&L);
    ad_set_grad_enabled(ctx, false);
    int64_t sa[] = {n, n}, sx[] = {n, 1};
    ad_node *An = ad_constant(ctx, AD_FLOAT64, 2, sa, A), *x = ad_constant(ctx, AD_FLOAT64, 2, sx, x0);
    if (gpu) {
        An = ad_to_device(ctx, An);
        x = ad_to_device(ctx, x);
        if (!An || !x) lesson_die(&L, "sending A and x0 to the GPU");
    }
    /* 2. x ← Ax / |Ax| on the device, each step's nodes freed by the rewind */
    ad_mark m = ad_context_mark(ctx);
    for (int s = 0; s < steps; s++) {
        ad_node *y = ad_matmul(ctx, An, x);
        ad_node *xn = ad_div(ctx, y, ad_sqrt(ctx, ad_sum(ctx, ad_mul(ctx, y, y), AD_ALL_AXES, false)));
        if (!xn || copy_value(x, xn) != AD_OK) lesson_die(&L, "a power-iteration step");
        ad_context_rewind(ctx, m);
    }
    /* the Rayleigh quotient xᵀAx / xᵀx, on the device too */
    ad_node *lam = ad_div(ctx, ad_sum(ctx, ad_mul(ctx, x, ad_matmul(ctx, An, x)), AD_ALL_AXES, false),
                          ad_sum(ctx, ad_mul(ctx, x, x), AD_ALL_AXES, false));
    /* 3. read back once: x and the quotient */
    ad_node *x_host = gpu ? ad_to_host(ctx, x) : x, *lam_host = gpu ? ad_to_host(ctx, lam) : lam;
    if (!x_host || !lam_host) lesson_die(&L, "receiving x and the Rayleigh quotient");
    double lambda = ad_value_scalar(lam_host);
    double *xv = malloc((size_t)n * sizeof *xv);
    double norm2 = 0;
    for (int i = 0; i < n; i++) {
        xv[i] = ad_value_at(x_host, i);
        norm2 += xv[i] * xv[i];
    }
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
    if (!isfinite(lambda)) lesson_fail(&L, "the Rayleigh quotient is not finite");
    /* The lecture's loop as written, x ← Ax with no normalisation, on the CPU with finite checking:
     * it overflows (or underflows to 0) where k·log|λ₁| leaves float64's range. */
    int raw_steps_done = 0;
    double raw_norm = NAN;
    char raw_error[256] = "";
    {
        ad_context *c2 = lesson_context(&L);
        ad_set_grad_enabled(c2, false);
        ad_node *A2 = ad_constant(c2, AD_FLOAT64, 2, sa, A), *xr = ad_constant(c2, AD_FLOAT64, 2, sx, x0);
        ad_mark m2 = ad_context_mark(c2);
        for (int s = 0; s < steps; s++) {
            ad_node *y = ad_matmul(c2, A2, xr);
            if (!y) {
                snprintf(raw_error, sizeof raw_error, "%s", ad_last_error());
                break;
            }
            copy_value(xr, y);
            ad_context_rewind(c2, m2);
            raw_steps_done = s + 1;
        }
        double nr = 0;
        for (int i = 0; i < n; i++) nr += ad_value_at(xr, i) * ad_value_at(xr, i);
        raw_norm = sqrt(nr);
        ad_context_free(c2);
    }
    double overflow_at = fabs(top) > 1 ? log(DBL_MAX) / log(fabs(top)) : INFINITY;
    if (!L.json) {
        printf("gpu_power_iteration — lecture 001's power iteration, %d×%d symmetric A, %d steps\n\n", n, n, steps);
        if (gpu) printf("On the GPU: %s\n", dev);
        else printf("No GPU run: %s. The same three steps on the CPU:\n", why);
        printf("  1. send A and x₀ = (1, …, 1) once\n"
               "  2. x ← Ax / |Ax|, %d times (the engine's matmul, sum, sqrt, div; no-grad mode)\n"
               "  3. read x and xᵀAx / xᵀx back once\n", steps);
        printf("  Step 2 departs from the lecture, which computes x = A*x without normalising: its |x| grows like\n"
               "  |λ₁|^k = %.3f^k and overflows float64 after about %.0f steps. Run as written here: ", fabs(top),
               overflow_at);
        if (raw_error[0]) printf("it overflowed at step %d (%s).\n\n", raw_steps_done + 1, raw_error);
        else printf("%d steps, |x| = %.6g (finite: fewer steps than the overflow).\n\n", raw_steps_done, raw_norm);
        printf("x, the dominant eigenvector: (%.6f, %.6f, …, %.6f), |x| = %.12f\n", xv[0], xv[n > 1 ? 1 : 0], xv[n - 1],
               sqrt(norm2));
        printf("Rayleigh quotient xᵀAx / xᵀx = %.12f\nGSL's eigensolver, dominant eigenvalue = %.12f\n"
               "difference %.1e; the convergence rate is |λ₂/λ₁| = %.3f per step\n", lambda, top, err,
               fabs(second / top));
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "gpu_power_iteration");
        cJSON_AddStringToObject(doc, "device", where);
        if (gpu) cJSON_AddStringToObject(doc, "gpu", dev);
        else cJSON_AddStringToObject(doc, "why_not_gpu", why);
        cJSON_AddNumberToObject(doc, "rayleigh_quotient", lambda);
        cJSON_AddNumberToObject(doc, "gsl_dominant_eigenvalue", top);
        cJSON_AddNumberToObject(doc, "ratio_lambda2_lambda1", fabs(second / top));
        cJSON_AddNumberToObject(doc, "n", n);
        cJSON_AddNumberToObject(doc, "steps", steps);
        cJSON_AddBoolToObject(doc, "normalised", true);
        lesson_json_array(doc, "x_first_last", (double[]){xv[0], xv[n - 1]}, 2);
        lesson_json_array(doc, "x_first_two", (double[]){xv[0], xv[n > 1 ? 1 : 0]}, 2);
        cJSON_AddNumberToObject(doc, "x_norm", sqrt(norm2));
        cJSON_AddNumberToObject(doc, "error", err);
        cJSON *raw = cJSON_AddObjectToObject(doc, "unnormalised_as_in_lecture");
        cJSON_AddNumberToObject(raw, "steps_done", raw_steps_done);
        cJSON_AddBoolToObject(raw, "overflowed", raw_error[0] != 0);
        if (!raw_error[0]) cJSON_AddNumberToObject(raw, "norm", raw_norm);
        if (isfinite(overflow_at)) cJSON_AddNumberToObject(raw, "predicted_overflow_step", overflow_at);
        lesson_print_json(doc);
    }
    gsl_eigen_symm_free(w);
    gsl_vector_free(eval);
    gsl_matrix_free(M);
    free(A), free(x0), free(u), free(xv);
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return lesson_status();
}
