/* newton: Newton's method against gradient descent [lecture 001, "Gradient
 * Descent"] on lecture 004's logistic regression (Case 1, with the L2
 * regularizer of "Backprop Objectives"): logistic_regression's loss at
 * logistic_regression's example,
 *   ℓ(θ) = −(1/n) Σᵢ [yᵢ* log σ(aᵢ) + (1 − yᵢ*) log(1 − σ(aᵢ))] + (λ/2)‖θ‖²,  aᵢ = Σⱼ Xᵢⱼθⱼ.
 * Gradient descent steps along −g (g = ∇ℓ(θ)): θ ← θ − αg.
 * Newton minimises the second-order Taylor model instead,
 *   ℓ(θ + p) ≈ ℓ(θ) + gᵀp + ½pᵀHp   (H = ∇²ℓ(θ), the Hessian),
 * whose minimum is where Hp = −g: θ ← θ − H⁻¹g. H is never formed here:
 * conjugate gradient solves Hp = −g touching H only through products H·v,
 * and each product is one ad_hvp sweep (forward-over-reverse,
 * engine/core/hvp.c). Then H built column by column from H·eⱼ against the
 * closed form (1/n) Xᵀ diag(σ(1 − σ)) X + λI, and the measured cost of one
 * H·v against one gradient: a small constant, whatever the size of θ. */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson.h"

enum { D = 3, GD_MAX = 20000, NEWTON_MAX = 50, CG_MAX = 10 * D, ROWS = 64, REPS_MAX = 201 };
static const double TOL = 1e-10;   /* "at the minimum": ‖∇ℓ‖ below this */

/* n examples of d features (row-major; column 0 is x₀ = 1, the bias), labels y*, the L2 weight λ. */
typedef struct problem {
    int64_t n, d;
    const double *X, *ystar;
    double lambda;
} problem;

/* ℓ(θ) as a graph. aᵢ = Σⱼ Xᵢⱼθⱼ is a broadcasting product (θ multiplies
 * every row of X) summed over each row. */
static ad_node *loss_of(ad_context *ctx, const problem *P, ad_node *theta)
{
    int64_t sx[] = {P->n, P->d}, sn[] = {P->n};
    ad_node *X = ad_constant(ctx, AD_FLOAT64, 2, sx, P->X), *ys = ad_constant(ctx, AD_FLOAT64, 1, sn, P->ystar);
    ad_node *one = ad_scalar_const(ctx, 1);
    ad_node *y = ad_sigmoid(ctx, ad_sum(ctx, ad_mul(ctx, X, theta), 1, false));
    ad_node *J = ad_add(ctx, ad_mul(ctx, ys, ad_log(ctx, y)), ad_mul(ctx, ad_sub(ctx, one, ys), ad_log(ctx, ad_sub(ctx, one, y))));
    ad_node *l2 = ad_scale(ctx, ad_sum(ctx, ad_mul(ctx, theta, theta), AD_ALL_AXES, false), P->lambda / 2);
    return ad_add(ctx, ad_neg(ctx, ad_mean(ctx, J, AD_ALL_AXES, false)), l2);
}

static double dot(const double *a, const double *b, int64_t d)
{
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += a[j] * b[j];
    return s;
}

/* ℓ(θ), and g = ∇ℓ(θ) by one backward pass (g NULL: the forward pass only).
 * NaN where ℓ is not finite (check-finite stops the graph there). */
static double loss_grad(const lesson *L, ad_context *ctx, const problem *P, const double *theta, double *g)
{
    ad_mark m = ad_context_mark(ctx);
    int64_t sd[] = {P->d};
    ad_node *th = ad_variable(ctx, AD_FLOAT64, 1, sd, theta), *l = th ? loss_of(ctx, P, th) : NULL;
    double v = l ? ad_value_scalar(l) : NAN;
    if (l && g) {
        lesson_backward(L, ctx, l, NULL);
        for (int64_t j = 0; j < P->d; j++) g[j] = ad_grad_at(th, j);
    }
    ad_context_rewind(ctx, m);
    return v;
}

/* H·v by one ad_hvp sweep, in a context that carries one tangent direction
 * (ad_forward_dirs(ctx, 1)). θ's tangent is v, so the forward pass gives
 * every node its derivative along v; the reverse sweep carries, beside each
 * adjoint ∂ℓ/∂node, the adjoint's derivative along v, which at θ is
 * d/dε ∇ℓ(θ + εv) = H·v. The same sweep gives g (NULL: not wanted). */
static void hvp(const lesson *L, ad_context *ctx, const problem *P, const double *theta, const double *v, double *Hv,
                double *g)
{
    ad_mark m = ad_context_mark(ctx);
    int64_t sd[] = {P->d};
    ad_node *th = ad_variable(ctx, AD_FLOAT64, 1, sd, theta);
    if (!th || ad_set_tangent(th, 0, v, -1) != AD_OK) lesson_die(L, "θ's tangent");
    ad_node *l = loss_of(ctx, P, th);
    memset(Hv, 0, (size_t)P->d * sizeof *Hv);   /* ad_hvp adds into its buffers */
    if (g) memset(g, 0, (size_t)P->d * sizeof *g);
    void *hvs[1] = {Hv}, *gs[1] = {g};
    if (!l || ad_hvp(ctx, l, NULL, 0, 1, &th, g ? gs : NULL, hvs) != AD_OK) lesson_die(L, "H·v");
    ad_context_rewind(ctx, m);
}

/* Conjugate gradient on Hp = −g, that is: the minimum of the quadratic
 * model q(p) = gᵀp + ½pᵀHp. From p = 0 (residual r = −g − Hp = −g), each
 * iteration steps along a direction s that is H-conjugate to those before
 * (sᵢᵀHsⱼ = 0), by the step α = rᵀr / sᵀHs that minimises q along it; in
 * exact arithmetic it ends within d iterations (within as many as H has
 * distinct eigenvalues). It needs H only as H·s: one ad_hvp per iteration
 * (d ≤ D here: the lesson's problem; the timed one never runs CG). It stops
 * at ‖r‖ ≤ η‖g‖ with η = min(0.5, ‖g‖): a rough solve far from the
 * minimum, a precise one near it, which keeps Newton's quadratic
 * convergence (Nocedal & Wright, Numerical Optimization, Algorithm 7.1).
 * Returns the number of H·v products. */
static int conjugate_gradient(const lesson *L, ad_context *hctx, const problem *P, const double *theta,
                              const double *g, double *p)
{
    int64_t d = P->d;
    double r[D], s[D], Hs[D], gnorm = sqrt(dot(g, g, d)), eta = fmin(0.5, gnorm);
    for (int64_t j = 0; j < d; j++) p[j] = 0, r[j] = s[j] = -g[j];
    double rr = dot(r, r, d);
    int k = 0;
    while (sqrt(rr) > eta * gnorm && k < CG_MAX) {
        hvp(L, hctx, P, theta, s, Hs, NULL);
        k++;
        double sHs = dot(s, Hs, d);
        if (!(sHs > 0)) break;   /* no positive curvature along s (never here: H − λI is positive semidefinite) */
        double alpha = rr / sHs;
        for (int64_t j = 0; j < d; j++) p[j] += alpha * s[j], r[j] -= alpha * Hs[j];
        double rr_new = dot(r, r, d);
        for (int64_t j = 0; j < d; j++) s[j] = r[j] + rr_new / rr * s[j];   /* the next conjugate direction */
        rr = rr_new;
    }
    return k;
}

/* One optimizer's history: ℓ and ‖∇ℓ‖ at each iterate (θ⁰ = the start). */
typedef struct history {
    double loss[GD_MAX + 1], gnorm[GD_MAX + 1], step[NEWTON_MAX + 1];
    int hvps[NEWTON_MAX + 1];   /* Newton: H·v products used up to this iterate */
    int iters;                  /* the first k with ‖∇ℓ‖ < TOL, or the last k run */
    bool reached;
    double theta[D];
} history;

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median time of one gradient (build ℓ, ad_backward) and of one H·v
 * (build ℓ with θ's tangent, ad_hvp): what a GD step and a CG iteration
 * each pay. reps repetitions, the two interleaved, after a few to warm up;
 * plain contexts (check-finite's scan would add to the times), one thread
 * (the ratio counts work, not how well each kernel splits over cores). */
static void time_costs(const lesson *L, const problem *P, const double *theta, const double *v, int reps,
                       double *t_grad, double *t_hvp)
{
    ad_context *gctx = ad_context_new(), *hctx = ad_context_new();
    if (!gctx || !hctx || ad_forward_dirs(hctx, 1) != AD_OK) lesson_die(L, "the timing contexts");
    double *g = malloc((size_t)P->d * sizeof *g), *Hv = malloc((size_t)P->d * sizeof *Hv), tg[REPS_MAX], th[REPS_MAX];
    if (!g || !Hv) lesson_die(L, "the timing buffers");
    int threads = ad_threads();
    ad_set_threads(1);
    for (int r = -5; r < reps; r++) {
        double t0 = lesson_now();
        double l = loss_grad(L, gctx, P, theta, g);
        double t1 = lesson_now();
        hvp(L, hctx, P, theta, v, Hv, NULL);
        double t2 = lesson_now();
        if (!isfinite(l)) lesson_die(L, "the timed loss");
        if (r >= 0) tg[r] = t1 - t0, th[r] = t2 - t1;
    }
    ad_set_threads(threads);
    qsort(tg, (size_t)reps, sizeof *tg, by_value);
    qsort(th, (size_t)reps, sizeof *th, by_value);
    *t_grad = tg[reps / 2], *t_hvp = th[reps / 2];
    free(g), free(Hv);
    ad_context_free(gctx), ad_context_free(hctx);
}

int main(int argc, char **argv)
{
    lesson L = {.program = "newton",
                .source = "004_586b0e2da8ef059d.txt: \"Case 1: Logistic Regression\"; \"Backprop Objectives\" (the L2 regularizer); 001_5b955eed8dfe07dd.txt: \"Gradient Descent (GD)\"",
                .code = "engine/core/hvp.c (ad_hvp: H·v by forward-over-reverse), engine/core/backward.c (ad_backward: the gradient), ops/ad_elementwise_math.h (each op's second derivative), ops/elementwise.c (the second-order rules, vjp_tangent)",
                .title = "Newton's method (conjugate gradient on H·v products) against gradient descent on Case 1's logistic regression [004, 001]",
                .in = {{"x1", 2, -10, 10, "the example's first feature (as logistic_regression's), |x₁| < 10", "x₁"},
                       {"x2", -1, -10, 10, "the example's second feature, |x₂| < 10", "x₂"},
                       {"ystar", 1, -INFINITY, INFINITY, "the label y*: 0 or 1 (values between are a soft label)", "y*"},
                       {"lambda", 0.1, 1e-3, 100, "the L2 weight λ in −J + (λ/2)‖θ‖²; one example needs λ > 0", "λ"},
                       {"lr", 0.1, 0, 10, "gradient descent's step α (logistic_regression's SGD takes 0.1)", "α"}},
                .n_in = 5};
    lesson_parse(&L, argc, argv);
    if (!(L.in[2].value >= 0 && L.in[2].value <= 1)) lesson_usage_error(L.program, "--ystar %s: a label is in [0, 1]", "");
    const double X[D] = {1, L.in[0].value, L.in[1].value}, ystar = L.in[2].value, lr = L.in[4].value;
    const problem P = {1, D, X, &ystar, L.in[3].value};
    const double theta0[D] = {0.1, -0.5, 0.3};   /* logistic_regression's θ */
    ad_context *ctx = lesson_context(&L), *hctx = lesson_context(&L);
    if (ad_forward_dirs(hctx, 1) != AD_OK) lesson_die(&L, "one tangent direction");
    static history gd, nt;
    double g[D], th[D];

    /* Gradient descent [001]: θᵏ⁺¹ = θᵏ − α∇ℓ(θᵏ), until ‖∇ℓ‖ < TOL or GD_MAX steps. */
    memcpy(th, theta0, sizeof th);
    for (int k = 0;; k++) {
        gd.loss[k] = loss_grad(&L, ctx, &P, th, g);
        gd.gnorm[k] = sqrt(dot(g, g, D));
        gd.iters = k;
        if (!isfinite(gd.loss[k])) {
            fprintf(stderr, "newton: FAILED: gradient descent diverged at step %d (α = %g is too large for ℓ's "
                    "curvature): %s\n", k, lr, ad_last_error());
            return 1;
        }
        if ((gd.reached = gd.gnorm[k] < TOL) || k == GD_MAX) break;
        for (int j = 0; j < D; j++) th[j] -= lr * g[j];
    }
    memcpy(gd.theta, th, sizeof th);

    /* Newton: p solves Hp = −g (conjugate gradient), θ ← θ + t·p. t = 1, the
     * Newton step, unless that would raise ℓ (beyond rounding) or overflow
     * it: then t halves. Far from the minimum the quadratic model can
     * mislead; near it the full step is taken and converges quadratically. */
    memcpy(th, theta0, sizeof th);
    for (int k = 0;; k++) {
        double f = nt.loss[k] = loss_grad(&L, ctx, &P, th, g);
        nt.gnorm[k] = sqrt(dot(g, g, D));
        nt.iters = k;
        if (!isfinite(f)) lesson_die(&L, "Newton's loss");
        if ((nt.reached = nt.gnorm[k] < TOL) || k == NEWTON_MAX) break;
        double p[D], trial[D], t = 1;
        nt.hvps[k + 1] = nt.hvps[k] + conjugate_gradient(&L, hctx, &P, th, g, p);
        for (;; t /= 2) {
            for (int j = 0; j < D; j++) trial[j] = th[j] + t * p[j];
            double ft = loss_grad(&L, ctx, &P, trial, NULL);
            if ((isfinite(ft) && ft <= f + 1e-12 * fmax(1, fabs(f))) || t < 1e-10) break;
        }
        nt.step[k + 1] = t;
        memcpy(th, trial, sizeof th);
    }
    memcpy(nt.theta, th, sizeof th);
    if (!nt.reached) lesson_fail(&L, "Newton's method did not reach ‖∇ℓ‖ < %g in %d iterations", TOL, NEWTON_MAX);

    /* The Hessian at θ*, column j = H·eⱼ (one ad_hvp each), against the
     * closed form: ℓ's data term depends on θ through aᵢ = xᵢᵀθ only, and
     * d²/da² of −[y* log σ(a) + (1 − y*) log(1 − σ(a))] is σ(a)(1 − σ(a)),
     * so H = (1/n) Σᵢ σᵢ(1 − σᵢ) xᵢxᵢᵀ + λI = (1/n) Xᵀ diag(σ(1 − σ)) X + λI.
     * And against differences of the gradient, (∇ℓ(θ + heⱼ) − ∇ℓ(θ − heⱼ))/2h. */
    double H[D][D], Hc[D][D], Hfd[D][D], hdiff = 0, fddiff = 0, ghvp[D], gbw[D], gdiff = 0;
    const double *ts = nt.theta;
    loss_grad(&L, ctx, &P, ts, gbw);
    for (int j = 0; j < D; j++) {
        double e[D] = {0}, col[D], gp[D], gm[D], tp[D], tm[D], h = 1e-5;
        e[j] = 1;
        hvp(&L, hctx, &P, ts, e, col, ghvp);
        for (int i = 0; i < D; i++) tp[i] = ts[i] + h * e[i], tm[i] = ts[i] - h * e[i];
        loss_grad(&L, ctx, &P, tp, gp);
        loss_grad(&L, ctx, &P, tm, gm);
        for (int i = 0; i < D; i++) {
            H[i][j] = col[i];
            Hfd[i][j] = (gp[i] - gm[i]) / (tp[j] - tm[j]);
            double dg = fabs(ghvp[i] - gbw[i]);   /* the gradient ad_hvp returns is ad_backward's */
            gdiff = dg > gdiff || isnan(dg) ? dg : gdiff;
        }
    }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int64_t r = 0; r < P.n; r++) {
                const double *x = P.X + r * D, sg = 1 / (1 + exp(-dot(x, ts, D)));
                s += sg * (1 - sg) * x[i] * x[j];
            }
            Hc[i][j] = s / (double)P.n + (i == j ? P.lambda : 0);
            double dh = fabs(H[i][j] - Hc[i][j]), df = fabs(H[i][j] - Hfd[i][j]);
            hdiff = dh > hdiff || isnan(dh) ? dh : hdiff;
            fddiff = df > fddiff || isnan(df) ? df : fddiff;
        }
    if (!(hdiff < 1e-10)) lesson_fail(&L, "H from ad_hvp differs from the closed form by %g", hdiff);
    if (!(fddiff < 1e-6)) lesson_fail(&L, "H from ad_hvp differs from differences of the gradient by %g", fddiff);
    if (!(gdiff < 1e-13)) lesson_fail(&L, "the gradient from ad_hvp differs from ad_backward's by %g", gdiff);

    /* The cost of H·v against ∇ℓ: this example, and the same loss on n = 1000
     * examples of d = 100 features (seeded Gaussian features, labels i mod 2). */
    enum { BN = 1000, BD = 100 };
    static double bx[BN * BD], by[BN], bth[BD], bv[BD];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    for (int i = 0; i < BN; i++) {
        by[i] = i % 2;
        for (int j = 0; j < BD; j++) bx[i * BD + j] = j ? gsl_ran_gaussian(rng, 1) : 1;
    }
    for (int j = 0; j < BD; j++) bth[j] = gsl_ran_gaussian(rng, 0.1), bv[j] = gsl_ran_gaussian(rng, 1);
    gsl_rng_free(rng);
    const problem big = {BN, BD, bx, by, P.lambda};
    double tgrad[2], thvp[2], ratio[2];
    const double v1[D] = {1, -1, 0.5};
    const int reps[2] = {REPS_MAX, 41};
    time_costs(&L, &P, nt.theta, v1, reps[0], &tgrad[0], &thvp[0]);
    time_costs(&L, &big, bth, bv, reps[1], &tgrad[1], &thvp[1]);
    for (int s = 0; s < 2; s++) {
        ratio[s] = thvp[s] / tgrad[s];
        if (!(isfinite(ratio[s]) && ratio[s] > 0)) lesson_fail(&L, "the measured H·v/gradient ratio is %g", ratio[s]);
    }

    /* H's eigenvalues at θ* set gradient descent's pace: along an eigenvector
     * of eigenvalue μ the error is multiplied by 1 − αμ at each step. */
    double eig[D];
    {
        gsl_matrix_view m = gsl_matrix_view_array(&Hc[0][0], D, D);
        gsl_matrix *copy = gsl_matrix_alloc(D, D);
        gsl_vector_view ev = gsl_vector_view_array(eig, D);
        gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(D);
        gsl_matrix_memcpy(copy, &m.matrix);
        if (!copy || !w || gsl_eigen_symm(copy, &ev.vector, w)) lesson_die(&L, "H's eigenvalues");
        gsl_eigen_symm_free(w);
        gsl_matrix_free(copy);
        qsort(eig, D, sizeof *eig, by_value);
    }
    double rate = fmax(fabs(1 - lr * eig[0]), fabs(1 - lr * eig[D - 1]));

    /* The table's rows: every Newton iterate, then gradient descent at 10, 30, 100, ... and its last step. */
    static const int marks[] = {10, 30, 100, 300, 1000, 3000, 10000};
    int rows[ROWS], nrows = 0;
    for (int k = 0; k <= nt.iters; k++) rows[nrows++] = k;
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (marks[i] > nt.iters && marks[i] < gd.iters) rows[nrows++] = marks[i];
    if (gd.iters > nt.iters) rows[nrows++] = gd.iters;
    double gd_dist = 0;
    for (int j = 0; j < D; j++) gd_dist += (gd.theta[j] - nt.theta[j]) * (gd.theta[j] - nt.theta[j]);
    gd_dist = sqrt(gd_dist);
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("newton — Newton's method against gradient descent on Case 1's logistic regression [004, 001]\n\n");
        printf("logistic_regression's example: x = (1, %g, %g) (x₀ = 1 carries the bias), y* = %g, and its θ to start\n"
               "from, (0.1, −0.5, 0.3). The loss, Case 1's −J with the L2 term of Backprop Objectives:\n"
               "  ℓ(θ) = −(1/n) Σᵢ [yᵢ* log σ(aᵢ) + (1 − yᵢ*) log(1 − σ(aᵢ))] + (λ/2)‖θ‖²,  aᵢ = Σⱼ Xᵢⱼθⱼ,  n = 1\n",
               X[1], X[2], ystar);
        if (ystar == 0 || ystar == 1)
            printf("One example is separable: −J alone keeps falling as θ runs off to infinity along ±x (σ(a) → y*),\n"
                   "so it has no minimum. The L2 term, λ = %g, makes every eigenvalue of H at least λ: ℓ has one\n"
                   "finite minimum θ*.\n\n", P.lambda);
        else
            printf("With a soft label −J alone is least wherever σ(a) = y*: a whole plane of θ (its Hessian\n"
                   "σ(1 − σ)xxᵀ has rank 1). The L2 term, λ = %g, makes every eigenvalue of H at least λ: ℓ has one\n"
                   "minimum θ*.\n\n", P.lambda);
        printf("Gradient descent [001]: θ ← θ − α∇ℓ(θ), α = %g (logistic_regression's SGD step is 0.1).\n"
               "Newton: θ ← θ + t·p, where p solves H p = −∇ℓ(θ) (the minimum of the quadratic Taylor model), by\n"
               "conjugate gradient: one H·v product (one ad_hvp sweep) per CG iteration; H is never formed.\n"
               "t = 1 unless the full step would raise ℓ, then halved.\n\n", lr);
        /* the header padded by display columns (ℓ, ‖, ∇ and · are several bytes each) */
        const char *head[] = {"GD ℓ(θ)", "GD ‖∇ℓ‖", "Newton ℓ(θ)", "Newton ‖∇ℓ‖", "H·v so far"};
        const int width[] = {17, 9, 17, 11, 10};
        printf("  %5s", "k");
        for (int c = 0; c < 5; c++) {
            printf("  ");
            ad_explain_pad(stdout, head[c], c == 4 ? width[c] : -width[c]);
        }
        printf("  t\n");
        for (int r = 0; r < nrows; r++) {
            int k = rows[r];
            printf("  %5d", k);
            if (k <= gd.iters) printf("  %17.15f  %-9.3e", gd.loss[k], gd.gnorm[k]);
            else if (k <= nt.iters) printf("  %17s  %9s", "", "");
            if (k <= nt.iters) printf("  %17.15f  %-11.3e  %10d", nt.loss[k], nt.gnorm[k], nt.hvps[k]);
            if (k <= nt.iters && k) printf("  %g", nt.step[k]);
            printf("\n");
        }
        printf("\nNewton %s ‖∇ℓ‖ < %g after %d iterations: %d gradients and %d H·v products.\n",
               nt.reached ? "reached" : "did NOT reach", TOL, nt.iters, nt.iters + 1, nt.hvps[nt.iters]);
        if (gd.reached)
            printf("Gradient descent reached it after %d steps: %d gradients.\n", gd.iters, gd.iters + 1);
        else
            printf("Gradient descent had not reached it after %d steps (‖∇ℓ‖ = %.3e).\n", gd.iters, gd.gnorm[gd.iters]);
        printf("θ* = (%.12f, %.12f, %.12f); gradient descent's last θ is %.1e from it.\n", nt.theta[0], nt.theta[1],
               nt.theta[2], gd_dist);
        printf("\nWhy: H's eigenvalues at θ* are %.6f, %.6f, %.6f. Gradient descent multiplies the error\n"
               "along each eigenvector by 1 − αμ per step, here at best %.6f: the flattest direction (μ = %.6f)\n"
               "sets its pace. Newton's step minimises the quadratic model exactly, whatever H's condition\n"
               "number (here %.2f), and near θ* the error is squared at each step: ‖∇ℓ‖ at k + 1 over ‖∇ℓ‖² at k\n"
               "is", eig[0], eig[1], eig[2], rate, eig[0], eig[D - 1] / eig[0]);
        for (int k = 1; k <= nt.iters; k++) printf("%s %.2f", k > 1 ? "," : "", nt.gnorm[k] / (nt.gnorm[k - 1] * nt.gnorm[k - 1]));
        printf(" (bounded: quadratic convergence).\n");
        printf("\nThe Hessian at θ*, column j = H·eⱼ by one ad_hvp sweep each, beside the closed form\n"
               "(1/n) Xᵀ diag(σ(1 − σ)) X + λI computed in plain C (σ = σ(Xθ*)):\n");
        for (int i = 0; i < D; i++) {
            printf("  %s", i == 0 ? "ad_hvp  [" : "        [");
            for (int j = 0; j < D; j++) printf(" %15.12f", H[i][j] + 0.0);
            printf(" ]   %s", i == 0 ? "closed form [" : "            [");
            for (int j = 0; j < D; j++) printf(" %15.12f", Hc[i][j] + 0.0);
            printf(" ]\n");
        }
        printf("  largest difference %.1e; against differences of the gradient, (∇ℓ(θ* + heⱼ) − ∇ℓ(θ* − heⱼ))/2h\n"
               "  with h = 1e-5: %.1e. The gradient each sweep returns beside H·eⱼ is ad_backward's to %.1e.\n",
               hdiff, fddiff, gdiff);
        printf("\nThe cost of one H·v against one gradient (the median of %d and %d runs, on one thread; each\n"
               "builds ℓ's graph, then runs ad_backward or ad_hvp):\n", reps[0], reps[1]);
        printf("  %-38s %12s %12s  H·v / gradient\n", "model", "gradient", "H·v");
        const char *names[2] = {"this example, n = 1, d = 3", "n = 1000, d = 100 (seeded features)"};
        for (int s = 0; s < 2; s++) printf("  %-38s %9.2f µs %9.2f µs  %.2f×\n", names[s], 1e6 * tgrad[s], 1e6 * thvp[s], ratio[s]);
        printf("\nA small constant (%.1f and %.1f here: with d = 3 the work per node dominates, with d = 100 the\n"
               "arithmetic). The forward pass with θ's tangent v computes each node's value and its derivative\n"
               "along v (two forward passes' work); the reverse sweep carries, beside each adjoint, the\n"
               "adjoint's derivative along v: each op applies its vjp to both and adds its second-order rule\n"
               "(for y = f(x) elementwise: the adjoint · f′′(x) · x's tangent). So second-order information along\n"
               "one direction costs about as much as a gradient, however many parameters there are; the full\n"
               "Hessian would take d products and hold d² numbers. Newton-CG never forms it: it used %d\n"
               "products in all, here.\n",
               ratio[0], ratio[1], nt.hvps[nt.iters]);
    } else {
        cJSON_AddStringToObject(doc, "lesson", "newton");
        cJSON *in = cJSON_AddObjectToObject(doc, "inputs");
        for (int i = 0; i < L.n_in; i++) cJSON_AddNumberToObject(in, L.in[i].name, L.in[i].value);
        cJSON_AddNumberToObject(doc, "tolerance", TOL);
        lesson_json_array(doc, "theta0", theta0, D);
        cJSON *table = cJSON_AddArrayToObject(doc, "table");
        for (int r = 0; r < nrows; r++) {
            int k = rows[r];
            cJSON *row = cJSON_CreateObject();
            cJSON_AddNumberToObject(row, "k", k);
            if (k <= gd.iters) {
                cJSON_AddNumberToObject(row, "gd_loss", gd.loss[k]);
                cJSON_AddNumberToObject(row, "gd_grad_norm", gd.gnorm[k]);
            }
            if (k <= nt.iters) {
                cJSON_AddNumberToObject(row, "newton_loss", nt.loss[k]);
                cJSON_AddNumberToObject(row, "newton_grad_norm", nt.gnorm[k]);
                cJSON_AddNumberToObject(row, "hvps", nt.hvps[k]);
                if (k) cJSON_AddNumberToObject(row, "step", nt.step[k]);
            }
            cJSON_AddItemToArray(table, row);
        }
        const history *hs[2] = {&gd, &nt};
        const char *keys[2] = {"gd", "newton"};
        for (int s = 0; s < 2; s++) {
            cJSON *o = cJSON_AddObjectToObject(doc, keys[s]);
            cJSON_AddNumberToObject(o, "iterations", hs[s]->iters);
            cJSON_AddBoolToObject(o, "reached", hs[s]->reached);
            cJSON_AddNumberToObject(o, "gradients", hs[s]->iters + 1);
            cJSON_AddNumberToObject(o, "final_loss", hs[s]->loss[hs[s]->iters]);
            cJSON_AddNumberToObject(o, "final_grad_norm", hs[s]->gnorm[hs[s]->iters]);
            lesson_json_array(o, "theta", hs[s]->theta, D);
        }
        cJSON_AddNumberToObject(cJSON_GetObjectItem(doc, "newton"), "hvps", nt.hvps[nt.iters]);
        cJSON_AddNumberToObject(cJSON_GetObjectItem(doc, "gd"), "lr", lr);
        cJSON *h = cJSON_AddObjectToObject(doc, "hessian");
        lesson_json_array(h, "hvp", &H[0][0], D * D);
        lesson_json_array(h, "closed_form", &Hc[0][0], D * D);
        lesson_json_array(h, "finite_differences", &Hfd[0][0], D * D);
        cJSON_AddNumberToObject(h, "max_diff", hdiff);
        cJSON_AddNumberToObject(h, "max_diff_finite_differences", fddiff);
        cJSON_AddNumberToObject(h, "gradient_max_diff", gdiff);
        lesson_json_array(h, "eigenvalues", eig, D);
        cJSON_AddNumberToObject(h, "condition_number", eig[D - 1] / eig[0]);
        cJSON_AddNumberToObject(h, "gd_rate", rate);
        cJSON *tm = cJSON_AddArrayToObject(doc, "timing");
        for (int s = 0; s < 2; s++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "n", s ? BN : 1);
            cJSON_AddNumberToObject(o, "d", s ? BD : D);
            cJSON_AddNumberToObject(o, "repetitions", reps[s]);
            cJSON_AddNumberToObject(o, "gradient_seconds", tgrad[s]);
            cJSON_AddNumberToObject(o, "hvp_seconds", thvp[s]);
            cJSON_AddNumberToObject(o, "hvp_over_gradient", ratio[s]);
            cJSON_AddItemToArray(tm, o);
        }
        lesson_print_json(doc);
    }
    ad_context_free(ctx);
    ad_context_free(hctx);
    return lesson_status();
}
