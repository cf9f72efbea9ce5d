/* test_lesson_newton.c: the newton lesson, run as a student runs it, its
 * numbers recomputed here from the math (from the inputs its --json reports,
 * never from the engine): at the defaults and at seeded random inputs,
 *   - Newton (conjugate gradient on ad_hvp products) reaches ‖∇ℓ‖ < 1e-10
 *     within 10 iterations, at a θ* where the gradient written out in plain
 *     C, −(y* − σ(xᵀθ))x + λθ, vanishes, while gradient descent takes many
 *     more steps;
 *   - the loss at the start and at θ*, ℓ(θ) = −[y* log σ + (1 − y*) log(1 − σ)] + (λ/2)‖θ‖²;
 *   - the Hessian from H·eⱼ against σ(1 − σ)xxᵀ + λI (1e-10), computed here;
 *   - the H·v/gradient cost ratio printed, finite, and below 20 (a loose
 *     bound: timings are noisy; the lesson's point is a small constant);
 *   - the text's sections in order. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include "ad_test.h"
#include "ad_test_lesson.h"
#include "ad_test_structure.h"

enum { D = 3, DRAWS = 6 };

static double sigm(double a) { return 1 / (1 + exp(-a)); }

/* ℓ(θ) and its gradient for one example x = (1, x₁, x₂), label y*, L2 weight λ. */
static double loss(const double *x, double ys, double lambda, const double *th, double *g)
{
    double a = x[0] * th[0] + x[1] * th[1] + x[2] * th[2], s = sigm(a), sq = 0;
    for (int j = 0; j < D; j++) {
        sq += th[j] * th[j];
        if (g) g[j] = -(ys - s) * x[j] + lambda * th[j];
    }
    return -(ys * log(s) + (1 - ys) * log(1 - s)) + lambda / 2 * sq;
}

static void check(const char *args)
{
    cJSON *d = st_json("newton", args);
    const cJSON *in = st_obj(d, "inputs"), *nt = st_obj(d, "newton"), *gd = st_obj(d, "gd"), *h = st_obj(d, "hessian");
    const double x[D] = {1, st_num(in, "x1"), st_num(in, "x2")}, ys = st_num(in, "ystar"), lambda = st_num(in, "lambda");
    /* Newton reached the minimum in a handful of iterations */
    if (!cJSON_IsTrue(st_obj(nt, "reached"))) fail_msg("%s: Newton did not reach ‖∇ℓ‖ < 1e-10", st_what);
    double gn = st_num(nt, "final_grad_norm"), iters = st_num(nt, "iterations"), hvps = st_num(nt, "hvps");
    if (!(gn < 1e-10)) fail_msg("%s: Newton's last ‖∇ℓ‖ is %g", st_what, gn);
    if (!(iters >= 1 && iters <= 10)) fail_msg("%s: Newton took %g iterations", st_what, iters);
    /* CG: at least one product per iteration, at most d per iteration (exact in d steps, plus rounding) */
    if (!(hvps >= iters && hvps <= 2 * D * iters)) fail_msg("%s: %g H·v products for %g iterations", st_what, hvps, iters);
    /* θ*: the gradient written out here vanishes there, and ℓ(θ*) is the lesson's */
    double th[D], g[D], g2 = 0, th0[D];
    for (int j = 0; j < D; j++) th[j] = st_at(nt, "theta", j), th0[j] = st_at(d, "theta0", j);
    double l_star = loss(x, ys, lambda, th, g);
    for (int j = 0; j < D; j++) g2 += g[j] * g[j];
    if (!(sqrt(g2) < 1e-9)) fail_msg("%s: at Newton's θ* the gradient −(y* − σ)x + λθ has norm %g", st_what, sqrt(g2));
    st_close(st_num(nt, "final_loss"), l_star, 1e-12, "ℓ(θ*)");
    const cJSON *row0 = cJSON_GetArrayItem(st_obj(d, "table"), 0);
    st_close(st_num(row0, "gd_loss"), loss(x, ys, lambda, th0, NULL), 1e-12, "ℓ(θ⁰), gradient descent's column");
    st_close(st_num(row0, "newton_loss"), loss(x, ys, lambda, th0, NULL), 1e-12, "ℓ(θ⁰), Newton's column");
    /* gradient descent: many more steps (at the defaults 1953 of them; at any input, more than Newton's) */
    double gd_steps = st_num(gd, "iterations");
    if (!(gd_steps > iters)) fail_msg("%s: gradient descent took %g steps, Newton %g", st_what, gd_steps, iters);
    /* the Hessian: H·eⱼ from the lesson against σ(1 − σ)xxᵀ + λI from here */
    double s = sigm(x[0] * th[0] + x[1] * th[1] + x[2] * th[2]);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double want = s * (1 - s) * x[i] * x[j] + (i == j ? lambda : 0);
            st_close(st_at(h, "hvp", i * D + j), want, 1e-10, "H·eⱼ from ad_hvp");
            st_close(st_at(h, "closed_form", i * D + j), want, 1e-12, "the lesson's closed-form H");
        }
    if (!(st_num(h, "max_diff") < 1e-10)) fail_msg("%s: H differs from the closed form by %g", st_what, st_num(h, "max_diff"));
    /* the cost ratio: finite, positive, a small constant */
    const cJSON *tm = st_obj(d, "timing");
    assert_int_equal(cJSON_GetArraySize(tm), 2);
    for (int k = 0; k < 2; k++) {
        double r = st_num(cJSON_GetArrayItem(tm, k), "hvp_over_gradient");
        if (!(isfinite(r) && r > 0.2 && r < 20)) fail_msg("%s: H·v/gradient measured %g", st_what, r);
    }
    cJSON_Delete(d);
}

static void test_newton_defaults(void **state)
{
    (void)state;
    st_seed_init();
    check("");
    cJSON *d = st_json("newton", "");
    /* logistic_regression's defaults: x = (1, 2, −1), y* = 1, λ = 0.1, α = 0.1, θ⁰ = (0.1, −0.5, 0.3) */
    st_close(st_num(st_obj(d, "inputs"), "lambda"), 0.1, 0, "λ");
    st_close(st_num(st_obj(d, "gd"), "lr"), 0.1, 0, "α");
    /* with one example the minimum lies along x: θ* = (1 − σ(xᵀθ*))x/λ, so θ*₀ = −θ*₂ and θ*₁ = 2θ*₀ */
    const cJSON *th = st_obj(st_obj(d, "newton"), "theta");
    st_close(cJSON_GetArrayItem(th, 1)->valuedouble, 2 * cJSON_GetArrayItem(th, 0)->valuedouble, 1e-12, "θ*₁ = 2θ*₀");
    st_close(cJSON_GetArrayItem(th, 2)->valuedouble, -cJSON_GetArrayItem(th, 0)->valuedouble, 1e-12, "θ*₂ = −θ*₀");
    /* H's eigenvalues: λ twice (orthogonal to x), λ + σ(1 − σ)‖x‖² along x; GD's rate 1 − αλ */
    double t0 = cJSON_GetArrayItem(th, 0)->valuedouble, s = sigm(t0 * (1 + 4 + 1));
    const cJSON *h = st_obj(d, "hessian");
    st_close(st_at(h, "eigenvalues", 0), 0.1, 1e-12, "H's least eigenvalue");
    st_close(st_at(h, "eigenvalues", 1), 0.1, 1e-12, "H's second eigenvalue");
    st_close(st_at(h, "eigenvalues", 2), 0.1 + s * (1 - s) * 6, 1e-12, "H's largest eigenvalue");
    st_close(st_num(h, "gd_rate"), 0.99, 1e-12, "gradient descent's rate 1 − αλ");
    /* many more steps: ln(‖g⁰‖/1e-10)/(αλ) is about 2000 */
    double gd_steps = st_num(st_obj(d, "gd"), "iterations");
    if (!(gd_steps > 1000 && cJSON_IsTrue(st_obj(st_obj(d, "gd"), "reached"))))
        fail_msg("%s: gradient descent took %g steps", st_what, gd_steps);
    cJSON_Delete(d);
    /* the text: its sections in order, and the ratio printed beside each model */
    const char *o = st_run("newton", "");
    const char *labels[] = {"[shared/lectures/004_", "[the code: engine/core/hvp.c (ad_hvp",
                            "logistic_regression's example: x = (1, 2, -1)", "One example is separable",
                            "L2 term, λ = 0.1", "Gradient descent [001]: θ ← θ − α∇ℓ(θ), α = 0.1",
                            "conjugate gradient: one H·v product (one ad_hvp sweep) per CG iteration",
                            "GD ℓ(θ)", "Newton ‖∇ℓ‖", "H·v so far", "Newton reached ‖∇ℓ‖ < 1e-10 after",
                            "Gradient descent reached it after", "θ* = (", "Why: H's eigenvalues",
                            "The Hessian at θ*, column j = H·eⱼ", "ad_hvp  [", "closed form [", "largest difference",
                            "The cost of one H·v against one gradient", "this example, n = 1, d = 3",
                            "n = 1000, d = 100", "A small constant"};
    const char *p = st_in_order(o, labels, sizeof labels / sizeof *labels);
    (void)p;
    for (int k = 0; k < 2; k++) {
        double v[4];
        int n = st_row(o, k ? "n = 1000, d = 100 (seeded features)" : "this example, n = 1, d = 3", v, 4);
        /* "n = 1, d = 3": the label's own numbers are skipped by starting after it; the row is µs, µs, ratio× */
        if (n != 3 || !(isfinite(v[2]) && v[2] > 0.2 && v[2] < 20))
            fail_msg("%s: the %s row prints %d numbers, the ratio %g", st_what, k ? "n = 1000" : "n = 1", n, n == 3 ? v[2] : NAN);
    }
}

static void test_newton_random_inputs(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k < DRAWS; k++) {
        /* α·L < 2 for gradient descent to converge: L ≤ λ + ‖x‖²/4 ≤ 1 + 19/4, so α < 0.3 */
        char args[256];
        double ys = k % 3 == 2 ? st_draw(0.05, 0.95) : k % 3;
        snprintf(args, sizeof args, "--x1 %.17g --x2 %.17g --ystar %.17g --lambda %.17g --lr %.17g", st_draw(-3, 3),
                 st_draw(-3, 3), ys, st_draw(0.05, 1), st_draw(0.05, 0.3));
        check(args);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newton_defaults),
        cmocka_unit_test(test_newton_random_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
