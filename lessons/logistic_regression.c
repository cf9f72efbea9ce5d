/* logistic_regression: Case 1 of lecture 004's backpropagation
 * (../shared/lectures/004_*): for one example,
 *   a = Σⱼ θⱼxⱼ,  y = 1/(1 + exp(−a)),  J = y* log y + (1 − y*) log(1 − y),
 * the forward/backward table from the engine next to the lecture's closed
 * form dJ/dθⱼ = (y* − y)xⱼ; then SGD on two Fashion-MNIST classes
 * (T-shirt/top vs Trouser), maximising the mean of J. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "lesson.h"

/* J for a batch: x (B,D), θ (1,D), b (1), y* (B,1) -> mean J */
static ad_node *mean_J(ad_context *ctx, ad_node *x, ad_node *theta, ad_node *bias, ad_node *ystar)
{
    ad_node *y = ad_sigmoid(ctx, ad_linear(ctx, x, theta, bias));
    ad_node *one = ad_scalar_const(ctx, 1);
    ad_node *J = ad_add(ctx, ad_mul(ctx, ystar, ad_log(ctx, y)), ad_mul(ctx, ad_sub(ctx, one, ystar), ad_log(ctx, ad_sub(ctx, one, y))));
    return ad_mean(ctx, J, AD_ALL_AXES, false);
}

/* The example: x (x₀ = 1 carries the bias), the label y*, and λ for the
 * L2-regularised objective. */
typedef struct example { double x[3], ystar, lambda; } example;

/* the one-example graph, for the table */
static ad_node *case1(ad_context *ctx, ad_node *const *in, void *user)
{
    const example *ex = user;
    const double *x = ex->x;
    static const char *const un[3] = {"u₀", "u₁", "u₂"};
    ad_node *u[3];
    for (int j = 0; j < 3; j++) u[j] = ad_set_name(ad_scale(ctx, in[j], x[j]), un[j]);   /* uⱼ = θⱼxⱼ */
    ad_node *a = ad_set_name(ad_add(ctx, ad_set_name(ad_add(ctx, u[0], u[1]), "s"), u[2]), "a");
    ad_node *y = ad_set_name(ad_sigmoid(ctx, a), "y");
    ad_node *ystar = ad_set_name(ad_scalar_const(ctx, ex->ystar), "y*"), *one = ad_scalar_const(ctx, 1);
    ad_node *l1 = ad_set_name(ad_log(ctx, y), "l₁");                                     /* log y */
    ad_node *l2 = ad_set_name(ad_log(ctx, ad_set_name(ad_sub(ctx, one, y), "q")), "l₂");  /* log(1 − y) */
    /* 1 − y*, a given like y* (no θ in it): named as the lecture writes it, not a new letter */
    ad_node *w = ad_set_name(ad_sub(ctx, one, ystar), "(1-y*)");
    return ad_set_name(ad_add(ctx, ad_set_name(ad_mul(ctx, ystar, l1), "p"), ad_set_name(ad_mul(ctx, w, l2), "r")), "J");
}

/* Lecture 004's objective "instantiate ... a regularizer (e.g. L2)": the
 * loss to minimise, ℓ(θ) = −J(θ) + (λ/2)‖θ‖², whose gradient is
 * −(y* − y)x + λθ. */
static ad_node *case1_l2(ad_context *ctx, ad_node *const *in, void *user)
{
    const example *ex = user;
    ad_node *J = case1(ctx, in, user);
    ad_node *sq = ad_add(ctx, ad_add(ctx, ad_mul(ctx, in[0], in[0]), ad_mul(ctx, in[1], in[1])), ad_mul(ctx, in[2], in[2]));
    return ad_set_name(ad_add(ctx, ad_neg(ctx, J), ad_scale(ctx, sq, ex->lambda / 2)), "ℓ");
}

int main(int argc, char **argv)
{
    lesson L = {.program = "logistic_regression",
                .source = "004_586b0e2da8ef059d.txt: \"Backpropagation\", \"Case 1: Logistic Regression\"; \"Backprop Objectives\" (the L2 regularizer)",
                .code = "engine/core/backward.c (the backward column), ops/elementwise.c (sigmoid, log, mul), engine/train/optim.c (the SGD step)",
                .title = "logistic regression, Case 1 of lecture 004: one example by hand, then SGD on Fashion-MNIST",
                .in = {{"theta0", 0.1, -INFINITY, INFINITY, NULL, "θ₀"}, {"theta1", -0.5, -INFINITY, INFINITY, NULL, "θ₁"},
                       {"theta2", 0.3, -INFINITY, INFINITY, NULL, "θ₂"}, {"x1", 2, -INFINITY, INFINITY, NULL, "x₁"},
                       {"x2", -1, -INFINITY, INFINITY, NULL, "x₂"},
                       {"ystar", 1, -INFINITY, INFINITY, "the label y*: 0 or 1 (values between are a soft label)", "y*"},
                       {"lambda", 0.1, -INFINITY, INFINITY, "the L2 weight λ in −J + (λ/2)‖θ‖², >= 0", "λ"},
                       {"epochs", 3, -1, 101, "0..100 passes of SGD"}},
                .n_in = 8,
                .has_variant = true,
                .has_dot = true};
    lesson_parse(&L, argc, argv);
    if (L.in[5].value < 0 || L.in[5].value > 1) lesson_usage_error(L.program, "--ystar %s: a label is in [0, 1]", "");
    if (L.in[6].value < 0) lesson_usage_error(L.program, "--lambda %s: the L2 weight is >= 0", "");
    example ex = {{1, L.in[3].value, L.in[4].value}, L.in[5].value, L.in[6].value};
    const double *x = ex.x;
    ad_context *ctx = lesson_context(&L);
    const char *tn[3] = {"θ₀", "θ₁", "θ₂"};
    ad_node *th[3];
    for (int j = 0; j < 3; j++) th[j] = ad_set_name(ad_scalar(ctx, L.in[j].value), tn[j]);
    ad_node *J = case1(ctx, th, &ex);
    if (!J) lesson_die(&L, "building J");
    if (L.json) {   /* the rows below, unprinted: recorded for --html */
        lesson_show_nodes(&L, ctx, J);
        lesson_explain_reverse(&L, ctx, J, L.variant);
    }
    ad_node *y_node = ad_node_input(ad_node_input(ad_node_input(J, 0), 1), 0);   /* J = p + r, p = y*·l₁, l₁ = log y */
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("logistic_regression — Case 1 [lecture 004, Backpropagation]: x = (1, %g, %g) (x₀ = 1 carries the\n"
               "bias), y* = %g\n\n", x[1], x[2], ex.ystar);
        printf("Forward: a = Σⱼ θⱼxⱼ, y = 1/(1 + exp(−a)), J = y* log y + (1 − y*) log(1 − y)\n");
        lesson_show_nodes(&L, ctx, J);
        printf("\nBackward (Version %s):\n", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_explain_reverse(&L, ctx, J, L.variant);
    }
    double y = ad_value_scalar(y_node);
    double g[3], closed[3], worst = 0;
    for (int j = 0; j < 3; j++) {
        g[j] = ad_grad_scalar(th[j]);
        closed[j] = (ex.ystar - y) * x[j];   /* the lecture's chain: dJ/dy · dy/da · xⱼ */
        double d = fabs(g[j] - closed[j]);
        if (!(d <= worst)) worst = d;        /* NaN-propagating maximum */
    }
    if (!(worst <= 1e-12)) lesson_fail(&L, "the engine's dJ/dθ differs from (y* − y)x by %g", worst);
    /* the lecture's backward column, each factor from the engine's node values */
    double dJdy = ex.ystar / y + (1 - ex.ystar) / (y - 1), a_val = ad_value_scalar(ad_node_input(y_node, 0));
    double dyda = exp(-a_val) / ((exp(-a_val) + 1) * (exp(-a_val) + 1)), dJda = dJdy * dyda;
    if (!L.json) {
        printf("\nThe lecture's Backward column, factor by factor:\n"
               "  dJ/dy = y*/y + (1 − y*)/(y − 1) = %.15g\n"
               "  dy/da = exp(−a)/(exp(−a) + 1)² = %.15g,  dJ/da = %.15g\n"
               "  dJ/dθⱼ = dJ/da · xⱼ,  dJ/dxⱼ = dJ/da · θⱼ = (%.6g, %.6g, %.6g)\n",
               dJdy, dyda, dJda, dJda * L.in[0].value, dJda * L.in[1].value, dJda * L.in[2].value);
        /* padded by display columns: θ, ⱼ, − are several bytes each */
        printf("\n  %-4s ", "");
        ad_explain_pad(stdout, "engine dJ/dθⱼ", 18);
        fputc(' ', stdout);
        ad_explain_pad(stdout, "closed form (y*−y)xⱼ", 22);
        fputc('\n', stdout);
        for (int j = 0; j < 3; j++) {
            printf("  ");
            ad_explain_pad(stdout, tn[j], -4);
            printf(" %18.15f %22.15f\n", g[j], closed[j]);
        }
        printf("  largest difference %.1e\n\n", worst);
    }
    L.n_in = 3;   /* finite differences in θ₀, θ₁, θ₂ (the first three inputs) */
    lesson_fd_report(&L, case1, &ex, g, "J", doc);
    /* The L2-regularised loss ℓ = −J + (λ/2)‖θ‖²: engine, closed form, finite differences. */
    double greg[3], creg[3];
    {
        ad_context *c3 = lesson_context(&L);
        ad_node *t3[3];
        for (int j = 0; j < 3; j++) t3[j] = ad_scalar(c3, L.in[j].value);
        ad_node *l = case1_l2(c3, t3, &ex);
        lesson_backward(&L, c3, l, NULL);
        for (int j = 0; j < 3; j++) {
            greg[j] = ad_grad_scalar(t3[j]);
            creg[j] = -(ex.ystar - y) * x[j] + ex.lambda * L.in[j].value;
            lesson_check_close(&L, "dℓ/dθ against −(y* − y)x + λθ", greg[j], creg[j], 1e-12);
        }
        if (!L.json) {
            printf("\nL2 regularisation [004, Backprop Objectives]: minimise ℓ(θ) = −J(θ) + (λ/2)‖θ‖², λ = %g.\n"
                   "  Its gradient is −(y* − y)x + λθ: the data term plus λθ (what weight decay subtracts).\n",
                   ex.lambda);
            for (int j = 0; j < 3; j++)
                printf("  dℓ/d%s: engine %.15f   closed form %.15f\n", tn[j], greg[j], creg[j]);
        }
        cJSON *reg = doc ? cJSON_AddObjectToObject(doc, "l2") : NULL;
        if (reg) {
            cJSON_AddNumberToObject(reg, "lambda", ex.lambda);
            cJSON_AddNumberToObject(reg, "loss", ad_value_scalar(l));
            lesson_json_array(reg, "grad", greg, 3);
            lesson_json_array(reg, "closed_form", creg, 3);
        }
        lesson_fd_report(&L, case1_l2, &ex, greg, "ℓ", reg);
        ad_context_free(c3);
    }
    L.n_in = 8;
    /* SGD on two Fashion-MNIST classes */
    int epochs = (int)L.in[7].value;
    ad_tensor *trx = NULL, *try_ = NULL, *tex = NULL, *tey = NULL;
    double acc = NAN;
    double first_J = NAN, last_J = NAN, epoch_J[101];
    bool have_data = false;
    if (epochs > 0 && ad_fashion_mnist_load(NULL, true, AD_FLOAT64, &trx, &try_) == AD_OK) {
        have_data = ad_fashion_mnist_load(NULL, false, AD_FLOAT64, &tex, &tey) == AD_OK;
        if (!have_data) ad_tensor_free(trx), ad_tensor_free(try_);   /* the test split failed: keep no half */
    }
    /* the first 2,000 training images of classes 0 and 1, and every test image of them */
    int64_t *tr = NULL, *te = NULL, ntr = 0, nte = 0;
    if (have_data) {
        tr = malloc((size_t)try_->size * sizeof *tr);
        te = malloc((size_t)tey->size * sizeof *te);
        if (!tr || !te) {
            fprintf(stderr, "logistic_regression: out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < try_->size && ntr < 2000; i++)
            if (ad_tensor_get(try_, i) < 2) tr[ntr++] = i;
        for (int64_t i = 0; i < tey->size; i++)
            if (ad_tensor_get(tey, i) < 2) te[nte++] = i;
        if (ntr < 32 || nte == 0) {   /* not one batch to train on, or nothing to test on */
            if (!L.json)
                printf("\n(Fashion-MNIST has %lld training and %lld test images of classes 0 and 1, too few for the "
                       "SGD part: skipping it)\n", (long long)ntr, (long long)nte);
            free(tr), free(te);
            ad_tensor_free(trx), ad_tensor_free(try_), ad_tensor_free(tex), ad_tensor_free(tey);
            have_data = false;
            epochs = 0;
        }
    }
    if (have_data) {
        ad_context *c2 = lesson_context(&L);
        int64_t st[] = {1, 784}, sb[] = {1};
        ad_node *theta = ad_variable(c2, AD_FLOAT64, 2, st, NULL), *bias = ad_variable(c2, AD_FLOAT64, 1, sb, NULL);
        ad_node *ps[2] = {theta, bias};
        ad_optimizer *opt = ad_sgd_new(ps, 2, 0.1, 0);
        ad_mark mk = ad_context_mark(c2);
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 1);
        int64_t order[2000], idx[32];
        for (int e = 0; e < epochs; e++) {
            ad_shuffle(order, ntr, rng);
            double sumJ = 0;
            for (int64_t s = 0; s + 32 <= ntr; s += 32) {
                for (int k = 0; k < 32; k++) idx[k] = tr[order[s + k]];
                int64_t sx[] = {32, 784}, sy[] = {32, 1}, s4[] = {32, 1, 28, 28};
                ad_node *xb = ad_constant(c2, AD_FLOAT64, 2, sx, NULL), *yb = ad_constant(c2, AD_FLOAT64, 2, sy, NULL);
                ad_tensor xv = ad_value(xb), yv = ad_value(yb);
                xv.ndim = 4, xv.shape[0] = 32, xv.shape[1] = 1, xv.shape[2] = 28, xv.shape[3] = 28;
                (void)s4;
                yv.ndim = 1;
                ad_node *mj = NULL;
                if (ad_gather_rows(trx, idx, 32, &xv) != AD_OK || ad_gather_rows(try_, idx, 32, &yv) != AD_OK ||
                    !(mj = mean_J(c2, xb, theta, bias, yb))) {
                    fprintf(stderr, "logistic_regression: %s\n", ad_last_error());
                    return 1;
                }
                sumJ += ad_value_scalar(mj);
                if (!mj) lesson_die(&L, "SGD step");
                lesson_backward(&L, c2, ad_neg(c2, mj), NULL);   /* maximise J: descend on −J */
                ad_optimizer_step(opt);
                ad_optimizer_zero_grad(opt);
                ad_context_rewind(c2, mk);
            }
            if (e == 0) first_J = sumJ / (double)(ntr / 32);
            last_J = sumJ / (double)(ntr / 32);
            epoch_J[e] = last_J;
            if (!L.json) printf("%sepoch %d: mean J over the epoch %.4f\n", e ? "" : "\nSGD, batch 32, step 0.1, on 2,000 T-shirt/top and Trouser images:\n", e + 1, last_J);
        }
        /* test accuracy */
        int64_t correct = 0;
        for (int64_t k = 0; k < nte; k++) {
            double a = ad_value_at(bias, 0);
            for (int j = 0; j < 784; j++) a += ad_value_at(theta, j) * ad_tensor_get(tex, te[k] * 784 + j);
            correct += (a > 0) == (ad_tensor_get(tey, te[k]) > 0.5);
        }
        acc = (double)correct / (double)nte;
        if (!L.json) printf("test accuracy on the %lld test images of the two classes: %.2f%%\n", (long long)nte, 100 * acc);
        gsl_rng_free(rng);
        ad_optimizer_free(opt);
        ad_context_free(c2);
        free(tr), free(te);
        ad_tensor_free(trx), ad_tensor_free(try_), ad_tensor_free(tex), ad_tensor_free(tey);
    } else if (epochs > 0 && !L.json) {
        printf("\n(Fashion-MNIST not found: %s; skipping the SGD part)\n", ad_last_error());
    }
    if (doc) {
        cJSON_AddStringToObject(doc, "lesson", "logistic_regression");
        cJSON_AddNumberToObject(doc, "closed_form_max_diff", worst);
        cJSON_AddNumberToObject(doc, "J", ad_value_scalar(J));
        cJSON *in = cJSON_AddObjectToObject(doc, "inputs");
        for (int i = 0; i < L.n_in; i++) cJSON_AddNumberToObject(in, L.in[i].name, L.in[i].value);
        cJSON_AddNumberToObject(doc, "y", y);
        lesson_json_array(doc, "dJ_dtheta", g, 3);
        lesson_json_array(doc, "closed_form_dJ_dtheta", closed, 3);
        cJSON_AddNumberToObject(doc, "dJ_dy", dJdy);
        cJSON_AddNumberToObject(doc, "dy_da", dyda);
        cJSON_AddNumberToObject(doc, "dJ_da", dJda);
        double dJdx[3] = {dJda * L.in[0].value, dJda * L.in[1].value, dJda * L.in[2].value};
        lesson_json_array(doc, "dJ_dx", dJdx, 3);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_json_backward_steps(&L, doc, "backward_steps", ctx, J, L.variant);
        lesson_json_nodes(doc, ctx, J);
        if (isfinite(acc)) {
            cJSON_AddNumberToObject(doc, "first_epoch_J", first_J);
            cJSON_AddNumberToObject(doc, "last_epoch_J", last_J);
            lesson_json_array(doc, "epoch_J", epoch_J, epochs);
            cJSON_AddNumberToObject(doc, "test_accuracy", acc);
        }
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, J);
    lesson_write_html(&L, ctx, J);
    ad_context_free(ctx);
    return lesson_status();
}
