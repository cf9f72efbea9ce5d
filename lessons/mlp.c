/* mlp: lecture 004's Case 2 (one hidden sigmoid layer) laid out as the
 * lecture's Forward / Backward table, its Quiz #2 (two hidden layers) worked
 * through, lecture 001's MLP exercise (∂y_ℓ/∂b_ℓ = diag σ′(·),
 * ∂y_ℓ/∂y_{ℓ−1} = diag σ′(·) W_ℓ and ∂y_L/∂W_ℓ) and lecture 000's ∂L/∂W of a
 * fully-connected layer. Every derivative is the engine's backward pass, set
 * beside the closed form the lecture derives; where a slide's formula is off
 * the lesson evaluates it and the right one against finite differences.
 * Lectures: ../shared/lectures/004_*, 001_*, 000_*. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ad_gradcheck.h"
#include "lesson.h"

static ad_node *var(ad_context *ctx, int64_t r, int64_t c, gsl_rng *rng)
{
    int64_t s[2] = {r, c};
    ad_node *n = ad_variable(ctx, AD_FLOAT64, r ? 2 : 1, r ? s : s + 1, NULL);
    if (!n) return NULL;
    for (int64_t i = 0, size = ad_value(n).size; i < size; i++) ad_set_value_at(n, i, gsl_ran_gaussian(rng, 1.0));
    return n;
}

static ad_node *data_of(ad_context *ctx, const ad_node *n, bool requires_grad)
{
    ad_tensor t = ad_value(n);
    return ad_from_tensor(ctx, &t, requires_grad);
}

/* J = y* log y + (1 − y*) log(1 − y), summed to a scalar */
static ad_node *case2_loss(ad_context *ctx, ad_node *y, double ystar)
{
    ad_node *one = ad_scalar_const(ctx, 1), *ys = ad_scalar_const(ctx, ystar);
    return ad_sum(ctx, ad_add(ctx, ad_mul(ctx, ys, ad_log(ctx, y)),
                              ad_mul(ctx, ad_sub(ctx, one, ys), ad_log(ctx, ad_sub(ctx, one, y)))), AD_ALL_AXES, false);
}

/* Case 2's J as a function of (α, β), for gradcheck; user holds x and y*. */
static ad_node *case2(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    const double *u = user;   /* x₀, x₁, x₂, y* */
    int64_t sx[] = {1, 3};
    ad_node *x = ad_constant(ctx, AD_FLOAT64, 2, sx, u);
    ad_node *y = ad_sigmoid(ctx, ad_linear(ctx, ad_sigmoid(ctx, ad_linear(ctx, x, in[0], NULL)), in[1], NULL));
    return case2_loss(ctx, y, u[3]);
}

/* NaN-propagating running maximum of |a − b|. */
static double worst_diff(double w, double a, double b)
{
    double d = fabs(a - b);
    return d <= w ? w : d;
}

/* Lecture 001's MLP with L = 3 sigmoid layers, widths 3 → 3 → 2 → 1:
 * y_ℓ = σ(W_ℓ y_{ℓ−1} + b_ℓ). Returns y_L; ys[ℓ] = y_ℓ, zs[ℓ] = W_ℓ y_{ℓ−1} + b_ℓ. */
static ad_node *mlp001(ad_context *ctx, ad_node *x, ad_node *const *W, ad_node *const *b, ad_node **ys, ad_node **zs)
{
    ys[0] = x;
    for (int l = 1; l <= 3; l++) {
        zs[l] = ad_linear(ctx, ys[l - 1], W[l], b[l]);   /* (1,n_{ℓ−1}) (n_ℓ,n_{ℓ−1})ᵀ + (n_ℓ) */
        ys[l] = ad_sigmoid(ctx, zs[l]);
    }
    return ad_sum(ctx, ys[3], AD_ALL_AXES, false);
}

/* y_L with W_1[k] moved by h (a fresh graph): for finite differences. */
static double mlp001_at(ad_node *const *W, ad_node *const *b, const ad_node *x, int k, double h)
{
    ad_context *c = ad_context_new();
    ad_set_check_finite(c, true);
    ad_node *Wc[4] = {NULL}, *bc[4] = {NULL}, *ys[4], *zs[4];
    for (int l = 1; l <= 3; l++) Wc[l] = data_of(c, W[l], false), bc[l] = data_of(c, b[l], false);
    ad_set_value_at(Wc[1], k, ad_value_at(Wc[1], k) + h);
    ad_node *y = mlp001(c, data_of(c, x, false), Wc, bc, ys, zs);
    double v = y ? ad_value_scalar(y) : NAN;
    ad_context_free(c);
    return v;
}

/* Lecture 000's FC layer h¹ = W h⁰ (3×3) with L = Σᵢ tᵢ·tanh(h¹ᵢ): L at W[k] moved by h. */
static const double fc_t[3] = {1.0, -2.0, 0.5};
static ad_node *fc_loss(ad_context *ctx, ad_node *W, ad_node *h0, ad_node **h1)
{
    int64_t s3[] = {3};
    *h1 = ad_linear(ctx, h0, W, NULL);   /* (1,3)(3,3)ᵀ: h¹ = W h⁰ as a row */
    return ad_sum(ctx, ad_mul(ctx, ad_tanh(ctx, *h1), ad_constant(ctx, AD_FLOAT64, 1, s3, fc_t)), AD_ALL_AXES, false);
}

static double fc_at(const ad_node *W, const ad_node *h0, int k, double h)
{
    ad_context *c = ad_context_new();
    ad_set_check_finite(c, true);
    ad_node *Wc = data_of(c, W, false), *h1;
    ad_set_value_at(Wc, k, ad_value_at(Wc, k) + h);
    ad_node *L = fc_loss(c, Wc, data_of(c, h0, false), &h1);
    double v = L ? ad_value_scalar(L) : NAN;
    ad_context_free(c);
    return v;
}

static void print_row(const char *label, const double *v, int n)
{
    int w = 0;   /* width in code points: the labels' ∂, α, ⁽¹⁾ are several bytes each */
    for (const char *p = label; *p; p++) w += ((unsigned char)*p & 0xC0) != 0x80;
    printf("  %s%*s", label, w < 40 ? 40 - w : 1, "");
    for (int i = 0; i < n; i++) printf(" %10.6f", v[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    lesson L = {.program = "mlp",
                .source = "004_586b0e2da8ef059d.txt: \"Case 2: Neural Network\", \"Derivative of a Sigmoid\", \"Differentiation Quiz #2\"; 001_5b955eed8dfe07dd.txt: \"Backprop for multi-layer perceptron\" (i)-(iii); 000_b20c894f9e115dfe.txt: \"Multi-Layer Perceptrons\" (a), (b)",
                .code = "engine/core/backward.c (backpropagation through the layers), ops/matmul.c (a layer's product and its vjp), engine/train/optim.c (the SGD step)", .title = "MLP backprop: Case 2, Quiz #2 and the layer Jacobians [lectures 004, 001, 000]",
                .in = {{"ystar", 0, -0.5, 1.5, "the label y*, 0 or 1", "y*"},
                       {"x1", 0.5, -INFINITY, INFINITY, "Case 2's input x₁ (x₀ = 1 carries the bias)", "x₁"},
                       {"x2", -1.5, -INFINITY, INFINITY, "Case 2's input x₂", "x₂"},
                       {"seed", 3, -1, 4294967296.0, "the seed of the random weights"}},
                .n_in = 4,
                .has_variant = true,
                .has_dot = true};
    lesson_parse(&L, argc, argv);
    double ystar = L.in[0].value;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)L.in[3].value);
    ad_context *ctx = lesson_context(&L);
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;

    /* ---- Case 2 [004]: x (1,3) with x₀ = 1, α (4,3), β (1,4) ---- */
    int64_t sx[] = {1, 3};
    double xv[3] = {1, L.in[1].value, L.in[2].value};
    ad_node *x = ad_set_name(ad_variable(ctx, AD_FLOAT64, 2, sx, xv), "x"), *alpha = var(ctx, 4, 3, rng),
            *beta = var(ctx, 1, 4, rng);
    ad_node *a = ad_set_name(ad_linear(ctx, x, alpha, NULL), "a");   /* a_j = Σ_i α_ji x_i */
    ad_node *z = ad_set_name(ad_sigmoid(ctx, a), "z");                /* z_j = σ(a_j) */
    ad_node *b = ad_set_name(ad_linear(ctx, z, beta, NULL), "b");    /* b = Σ_j β_j z_j */
    ad_node *y = ad_set_name(ad_sigmoid(ctx, b), "y");                /* y = σ(b) */
    ad_node *J = ad_set_name(case2_loss(ctx, y, ystar), "J");
    lesson_backward(&L, ctx, J, NULL);
    /* The lecture's Backward column, each factor from the engine's forward values. */
    double yv = ad_value_at(y, 0), bv = ad_value_at(b, 0);
    double dJdy = ystar / yv - (1 - ystar) / (1 - yv), dydb = exp(-bv) / ((exp(-bv) + 1) * (exp(-bv) + 1));
    double dJdb = dJdy * dydb, av[4], zv[4], dJdbeta[4], dJdz[4], dJda[4], dJdalpha[12], dJdx[3] = {0, 0, 0};
    double w_case2 = 0;
    for (int j = 0; j < 4; j++) {
        av[j] = ad_value_at(a, j), zv[j] = ad_value_at(z, j);
        dJdbeta[j] = dJdb * zv[j];                                              /* db/dβ_j = z_j */
        dJdz[j] = dJdb * ad_value_at(beta, j);                                  /* db/dz_j = β_j */
        dJda[j] = dJdz[j] * exp(-av[j]) / ((exp(-av[j]) + 1) * (exp(-av[j]) + 1));
        for (int i = 0; i < 3; i++) {
            dJdalpha[j * 3 + i] = dJda[j] * xv[i];                              /* da_j/dα_ji = x_i */
            dJdx[i] += dJda[j] * ad_value_at(alpha, j * 3 + i);                 /* da_j/dx_i = α_ji */
        }
        w_case2 = worst_diff(w_case2, ad_grad_at(beta, j), dJdbeta[j]);
        w_case2 = worst_diff(w_case2, ad_grad_at(z, j), dJdz[j]);
        w_case2 = worst_diff(w_case2, ad_grad_at(a, j), dJda[j]);
        for (int i = 0; i < 3; i++) w_case2 = worst_diff(w_case2, ad_grad_at(alpha, j * 3 + i), dJdalpha[j * 3 + i]);
    }
    w_case2 = worst_diff(w_case2, ad_grad_at(y, 0), dJdy);
    w_case2 = worst_diff(w_case2, ad_grad_at(b, 0), dJdb);
    for (int i = 0; i < 3; i++) w_case2 = worst_diff(w_case2, ad_grad_at(x, i), dJdx[i]);
    if (!(w_case2 <= 1e-12)) lesson_fail(&L, "Case 2: the lecture's column and the engine differ by %g", w_case2);
    double user[4] = {xv[0], xv[1], xv[2], ystar};
    ad_gc_options go;
    ad_gc_default_options(&go);
    ad_gc_report rep = {0};
    ad_tensor at = ad_value(alpha), bt = ad_value(beta);
    const ad_tensor *gin[2] = {&at, &bt};
    ad_gradcheck_fn("case2", "J(α, β)", case2, user, 2, gin, 0, &go, &rep);
    if (rep.n_fail) lesson_fail(&L, "gradcheck of Case 2's J(α, β) failed");
    /* Case 2's slide writes dJ/dy = y* / y + (1 − y*) / (1 − y). */
    double slide_dJdy = ystar / yv + (1 - ystar) / (1 - yv), h = 1e-6;
    double fd_dJdy = ((ystar * log(yv + h) + (1 - ystar) * log(1 - yv - h)) -
                      (ystar * log(yv - h) + (1 - ystar) * log(1 - yv + h))) / (2 * h);
    if (!L.json) {
        printf("mlp — backpropagation through layers, the engine beside the lectures' closed forms\n\n");
        printf("Case 2 [004, Backpropagation, Case 2: Neural Network], y* = %g, x = (1, %g, %g)\n", ystar, xv[1], xv[2]);
        printf("(4 hidden units; no bias unit z₀: the engine's linear layer takes none here)\n");
        printf("Forward                                 value(s)\n");
        print_row("x_i", xv, 3);
        print_row("a_j = Σ_i α_ji x_i", av, 4);
        print_row("z_j = 1/(1 + exp(−a_j))", zv, 4);
        print_row("b = Σ_j β_j z_j", &bv, 1);
        print_row("y = 1/(1 + exp(−b))", &yv, 1);
        double Jv = ad_value_scalar(J);
        print_row("J = y* log y + (1 − y*) log(1 − y)", &Jv, 1);
        printf("Backward (the lecture's formulas; the engine's adjoints agree to %.1e)\n", w_case2);
        print_row("dJ/dy = y*/y − (1 − y*)/(1 − y)", &dJdy, 1);
        print_row("dy/db = exp(−b)/(exp(−b) + 1)²", &dydb, 1);
        print_row("dJ/db = dJ/dy · dy/db", &dJdb, 1);
        print_row("dJ/dβ_j = dJ/db · z_j", dJdbeta, 4);
        print_row("dJ/dz_j = dJ/db · β_j", dJdz, 4);
        print_row("dJ/da_j = dJ/dz_j · dz_j/da_j", dJda, 4);
        for (int j = 0; j < 4; j++) {
            char lab[64];
            snprintf(lab, sizeof lab, "dJ/dα_%di = dJ/da_%d · x_i", j + 1, j + 1);
            print_row(lab, dJdalpha + 3 * j, 3);
        }
        print_row("dJ/dx_i = Σ_j dJ/da_j · α_ji", dJdx, 3);
        printf("  gradcheck of J(α, β) against finite differences: %d passed, %d failed\n\n", rep.n - rep.n_fail,
               rep.n_fail);
        printf("Where the lecture differs (by computation, dJ/dy):\n");
    } else {
        cJSON *c2 = cJSON_AddObjectToObject(doc, "case2");
        lesson_json_array(c2, "x", xv, 3);
        lesson_json_tensor(c2, "alpha", alpha);   /* the example's weights, for a test to recompute from */
        lesson_json_tensor(c2, "beta", beta);
        lesson_json_array(c2, "a", av, 4);
        lesson_json_array(c2, "z", zv, 4);
        cJSON_AddNumberToObject(c2, "b", bv);
        cJSON_AddNumberToObject(c2, "y", yv);
        cJSON_AddNumberToObject(c2, "J", ad_value_scalar(J));
        cJSON_AddNumberToObject(c2, "dJ_dy", dJdy);
        cJSON_AddNumberToObject(c2, "dy_db", dydb);
        cJSON_AddNumberToObject(c2, "dJ_db", dJdb);
        lesson_json_array(c2, "dJ_dbeta", dJdbeta, 4);
        lesson_json_array(c2, "dJ_dz", dJdz, 4);
        lesson_json_array(c2, "dJ_da", dJda, 4);
        lesson_json_array(c2, "dJ_dalpha", dJdalpha, 12);
        lesson_json_array(c2, "dJ_dx", dJdx, 3);
        cJSON_AddNumberToObject(c2, "engine_max_diff", w_case2);
        cJSON_AddNumberToObject(doc, "case2_max_diff", w_case2);
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        cJSON_AddNumberToObject(doc, "dJ_dy", dJdy);
        cJSON_AddNumberToObject(doc, "lecture_dJ_dy", slide_dJdy);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
    }
    lesson_slip(&L, doc, "004-case2-dJdy", "004, Backpropagation, Case 2: Neural Network (Backward)",
                "dJ/dy = y*/y + (1 − y*)/(1 − y); d/dy (1 − y*) log(1 − y) is −(1 − y*)/(1 − y) (Case 1 "
                "has it right as (1 − y*)/(y − 1)); the two agree only when y* = 1",
                &slide_dJdy, &dJdy, &fd_dJdy, 1, "finite differences of J(y)");
    /* Case 2's index ranges. Case 1 writes a = Σ_{j=0}^D θ_j x_j: there D counts the inputs (x₀ = 1
     * the bias feature). Case 2 keeps the letter for another quantity: a_j = Σ_{i=0}^M α_ji x_i
     * names the inputs M, and b = Σ_{j=0}^D β_j z_j makes D the number of hidden units, j = 0 the
     * bias unit z₀ = 1. z₀ is no function of x (there is no a₀), so in dJ/dx_i = Σ_{j=0}^D
     * dJ/da_j α_ji the j = 0 term is empty and the sum is over the hidden units j = 1..D. Here
     * M = 2 (x = (1, x₁, x₂)) and D = 4: read with Case 1's D (= M = 2) the sum stops at a₂. */
    const int M_in = 2, D_hidden = 4;
    double ranges_slide[3] = {0, 0, 0}, ranges_right[3] = {0, 0, 0}, ranges_ref[3];
    for (int i = 0; i < 3; i++) {
        for (int j = 1; j <= M_in; j++) ranges_slide[i] += dJda[j - 1] * ad_value_at(alpha, (j - 1) * 3 + i);
        for (int j = 1; j <= D_hidden; j++) ranges_right[i] += dJda[j - 1] * ad_value_at(alpha, (j - 1) * 3 + i);
        ranges_ref[i] = ad_grad_at(x, i);   /* the engine's backward pass, no sum written by hand */
    }
    if (!L.json)
        printf("\nCase 2's index ranges: inputs x₀..x_M (M = %d, x₀ = 1), hidden units z₁..z_D (D = %d); Case 1's D\n"
               "was the inputs' count, a = Σ_{j=0}^D θ_j x_j. dJ/dx_i = Σ_{j=0}^D dJ/da_j α_ji over j = 0..%d (D as in\n"
               "Case 1) adds an a₀ that does not exist (z₀ = 1 is the bias unit, no function of x) and stops at a₂:\n",
               M_in, D_hidden, M_in);
    lesson_slip(&L, doc, "004-case2-ranges", "004, Backpropagation, Case 2: Neural Network (Backward, dJ/dx_i)",
                "dJ/dx_i = Σ_{j=0}^D dJ/da_j α_ji reuses Case 1's D (there the inputs' count, here M = 2) and starts "
                "at j = 0, the bias unit z₀ = 1, which has no a₀; it is Σ_{j=1}^D over the D = 4 hidden units",
                ranges_slide, ranges_right, ranges_ref, 3, "the engine's ∂J/∂x");

    /* ---- Quiz #2 [004]: y = σ(βᵀ σ((α⁽²⁾)ᵀ σ((α⁽¹⁾)ᵀ x))), D⁽⁰⁾ = 3, D⁽¹⁾ = 4, D⁽²⁾ = 3 ----
     * With the transposes as written, (α⁽¹⁾)ᵀx needs α⁽¹⁾ to be D⁽⁰⁾×D⁽¹⁾; the slide says D⁽ⁱ⁾×D⁽ⁱ⁻¹⁾.
     * The engine decides: it multiplies xᵀα⁽¹⁾ (= ((α⁽¹⁾)ᵀx)ᵀ) with α⁽¹⁾ of each shape. */
    double quiz_slide[2] = {4, 3}, quiz_right[2] = {3, 4}, quiz_ref[2] = {NAN, NAN};
    {
        int64_t s43[] = {4, 3}, s34[] = {3, 4};
        ad_node *xs = ad_constant(ctx, AD_FLOAT64, 2, sx, xv);
        bool was = ad_set_grad_enabled(ctx, false);
        ad_node *try_slide = ad_matmul(ctx, xs, ad_constant(ctx, AD_FLOAT64, 2, s43, NULL));
        const char *slide_err = try_slide ? NULL : ad_last_error();
        char err_copy[256] = "";
        if (slide_err) snprintf(err_copy, sizeof err_copy, "%s", slide_err);
        ad_node *try_right = ad_matmul(ctx, xs, ad_constant(ctx, AD_FLOAT64, 2, s34, NULL));
        ad_set_grad_enabled(ctx, was);
        const double *accepted = try_right ? quiz_right : try_slide ? quiz_slide : NULL;
        if (accepted) quiz_ref[0] = accepted[0], quiz_ref[1] = accepted[1];
        if (!L.json)
            printf("\nQuiz #2 [004, Differentiation Quiz #2]: the engine multiplies xᵀα⁽¹⁾ with α⁽¹⁾ of the slide's\n"
                   "shape D⁽¹⁾×D⁽⁰⁾ = 4x3: %s\n", try_slide ? "accepted" : err_copy);
    }
    lesson_slip(&L, doc, "004-quiz2-shapes", "004, Differentiation Quiz #2",
                "α⁽ⁱ⁾ is said to be D⁽ⁱ⁾×D⁽ⁱ⁻¹⁾, but y uses (α⁽ⁱ⁾)ᵀ, so it must be D⁽ⁱ⁻¹⁾×D⁽ⁱ⁾ "
                "(shape of α⁽¹⁾ with D⁽⁰⁾ = 3, D⁽¹⁾ = 4)",
                quiz_slide, quiz_right, quiz_ref, 2, "the shape the engine accepts");
    /* the network in the slide's own orientation, α⁽ⁱ⁾ stored D⁽ⁱ⁻¹⁾×D⁽ⁱ⁾ so that (α⁽ⁱ⁾)ᵀ applies */
    ad_node *a1 = ad_set_name(var(ctx, 3, 4, rng), "α⁽¹⁾"), *a2 = ad_set_name(var(ctx, 4, 3, rng), "α⁽²⁾"),
            *bq = ad_set_name(var(ctx, 3, 1, rng), "β");
    ad_node *xq = ad_constant(ctx, AD_FLOAT64, 2, sx, xv);
    ad_node *z1 = ad_sigmoid(ctx, ad_matmul(ctx, xq, a1));   /* z⁽¹⁾ = σ((α⁽¹⁾)ᵀx), as a row (1,4) */
    ad_node *z2 = ad_sigmoid(ctx, ad_matmul(ctx, z1, a2));   /* z⁽²⁾ = σ((α⁽²⁾)ᵀz⁽¹⁾), (1,3) */
    ad_node *yq = ad_sigmoid(ctx, ad_matmul(ctx, z2, bq));   /* y = σ(βᵀz⁽²⁾), (1,1) */
    if (!yq) lesson_die(&L, "Quiz #2");
    lesson_backward(&L, ctx, ad_sum(ctx, yq, AD_ALL_AXES, false), NULL);
    double yqv = ad_value_at(yq, 0), s = yqv * (1 - yqv), w_quiz = 0;
    double g_beta[3], g_a2[12], g_a1[12], d2[3], d1[4];
    for (int j = 0; j < 3; j++) {
        double z2j = ad_value_at(z2, j);
        d2[j] = s * ad_value_at(bq, j) * z2j * (1 - z2j);                   /* ∂y/∂(pre-activation of z⁽²⁾_j) */
        g_beta[j] = s * z2j;                                                /* ∂y/∂β_j = y(1−y) z⁽²⁾_j */
        w_quiz = worst_diff(w_quiz, ad_grad_at(bq, j), g_beta[j]);
    }
    for (int k = 0; k < 4; k++) {
        double z1k = ad_value_at(z1, k);
        d1[k] = 0;
        for (int j = 0; j < 3; j++) {
            g_a2[k * 3 + j] = d2[j] * z1k;                                  /* ∂y/∂α⁽²⁾_kj = d2_j z⁽¹⁾_k */
            w_quiz = worst_diff(w_quiz, ad_grad_at(a2, k * 3 + j), g_a2[k * 3 + j]);
            d1[k] += d2[j] * ad_value_at(a2, k * 3 + j);
        }
        d1[k] *= z1k * (1 - z1k);
        for (int l = 0; l < 3; l++) {
            g_a1[l * 4 + k] = d1[k] * xv[l];                                /* ∂y/∂α⁽¹⁾_lk = d1_k x_l */
            w_quiz = worst_diff(w_quiz, ad_grad_at(a1, l * 4 + k), g_a1[l * 4 + k]);
        }
    }
    if (!(w_quiz <= 1e-12)) lesson_fail(&L, "Quiz #2: the closed forms and the engine differ by %g", w_quiz);
    if (!L.json) {
        printf("Worked through, sigmoid throughout, α⁽ⁱ⁾ stored D⁽ⁱ⁻¹⁾×D⁽ⁱ⁾ so that y is exactly the slide's formula:\n");
        printf("  z⁽¹⁾ = σ((α⁽¹⁾)ᵀx), z⁽²⁾ = σ((α⁽²⁾)ᵀz⁽¹⁾), y = σ(βᵀz⁽²⁾) = %.15g\n", yqv);
        printf("  δ = y(1 − y) = %.6f\n", s);
        print_row("∂y/∂β_j = δ z⁽²⁾_j", g_beta, 3);
        print_row("δ⁽²⁾_j = δ β_j z⁽²⁾_j(1 − z⁽²⁾_j)", d2, 3);
        for (int k = 0; k < 4; k++) {
            char lab[64];
            snprintf(lab, sizeof lab, "∂y/∂α⁽²⁾_%dj = δ⁽²⁾_j z⁽¹⁾_%d", k + 1, k + 1);
            print_row(lab, g_a2 + 3 * k, 3);
        }
        print_row("δ⁽¹⁾_k = Σ_j δ⁽²⁾_j α⁽²⁾_kj z⁽¹⁾_k(1−z⁽¹⁾_k)", d1, 4);
        for (int l = 0; l < 3; l++) {
            char lab[64];
            snprintf(lab, sizeof lab, "∂y/∂α⁽¹⁾_%dk = δ⁽¹⁾_k x_%d", l + 1, l);
            print_row(lab, g_a1 + 4 * l, 4);
        }
        printf("  largest difference from the engine over all 27 entries: %.1e\n", w_quiz);
    } else {
        cJSON *q = cJSON_AddObjectToObject(doc, "quiz2");
        cJSON_AddNumberToObject(q, "y", yqv);
        cJSON_AddNumberToObject(q, "delta", s);
        lesson_json_array(q, "dy_dbeta", g_beta, 3);
        lesson_json_array(q, "dy_dalpha2", g_a2, 12);
        lesson_json_array(q, "dy_dalpha1", g_a1, 12);
        lesson_json_array(q, "delta2", d2, 3);
        lesson_json_array(q, "delta1", d1, 4);
        cJSON_AddNumberToObject(doc, "quiz2_max_diff", w_quiz);
    }

    /* ---- Lecture 001's exercise: L = 3 layers 3 → 3 → 2 → 1, σ = sigmoid ---- */
    ad_node *W[4] = {NULL}, *bb[4] = {NULL}, *ys[4], *zs[4];
    int64_t widths[4] = {3, 3, 2, 1};
    for (int l = 1; l <= 3; l++) W[l] = var(ctx, widths[l], widths[l - 1], rng), bb[l] = var(ctx, 0, widths[l], rng);
    ad_node *x001 = var(ctx, 1, 3, rng);
    ad_node *yL = mlp001(ctx, x001, W, bb, ys, zs);
    if (!yL) lesson_die(&L, "lecture 001's MLP");
    lesson_backward(&L, ctx, yL, NULL);
    /* (iii) for ℓ = 1: ∂y_L/∂W_1[i][j] = (∂y_L/∂y_1)_i σ′(z_1)_i (y_0)_j. The slide has y_1 for y_0. */
    double dW_slide[9], dW_right[9], dW_fd[9], dW_engine[9];
    for (int i = 0; i < 3; i++) {
        double y1i = ad_value_at(ys[1], i), sp = y1i * (1 - y1i), g = ad_grad_at(ys[1], i);
        for (int j = 0; j < 3; j++) {
            dW_slide[i * 3 + j] = g * sp * ad_value_at(ys[1], j);
            dW_right[i * 3 + j] = g * sp * ad_value_at(ys[0], j);
            dW_engine[i * 3 + j] = ad_grad_at(W[1], i * 3 + j);
            double hh = 1e-6;
            dW_fd[i * 3 + j] = (mlp001_at(W, bb, x001, i * 3 + j, hh) - mlp001_at(W, bb, x001, i * 3 + j, -hh)) / (2 * hh);
        }
    }
    /* (ii) ∂y_L/∂b_1 = (∂y_3/∂y_2)(∂y_2/∂y_1)(∂y_1/∂b_1), 1×2 · 2×3 · 3×3, σ′ = y(1 − y):
     * from the left (backpropagation: a row vector times each Jacobian) and from the right */
    double s1[3], s2[2], s3 = ad_value_at(ys[3], 0) * (1 - ad_value_at(ys[3], 0)), v2[3] = {0, 0, 0}, left[3], right[3];
    double M[2][3];   /* (∂y_2/∂y_1)(∂y_1/∂b_1), the right-to-left order's first product */
    for (int k = 0; k < 3; k++) s1[k] = ad_value_at(ys[1], k) * (1 - ad_value_at(ys[1], k));
    for (int j = 0; j < 2; j++) s2[j] = ad_value_at(ys[2], j) * (1 - ad_value_at(ys[2], j));
    for (int j = 0; j < 2; j++)
        for (int k = 0; k < 3; k++) {
            double J2 = s2[j] * ad_value_at(W[2], j * 3 + k);   /* ∂y_2/∂y_1 = diag σ′(z_2) W_2 */
            v2[k] += s3 * ad_value_at(W[3], j) * J2;            /* ∂y_3/∂y_2 = diag σ′(z_3) W_3, 1×2 */
            M[j][k] = J2 * s1[k];
        }
    double w_ii = 0, engine_b1[3];
    for (int k = 0; k < 3; k++) {
        engine_b1[k] = ad_grad_at(bb[1], k);   /* (i)'s backward passes below reuse the grads */
        left[k] = v2[k] * s1[k];
        right[k] = s3 * ad_value_at(W[3], 0) * M[0][k] + s3 * ad_value_at(W[3], 1) * M[1][k];
        w_ii = worst_diff(worst_diff(w_ii, ad_grad_at(bb[1], k), left[k]), ad_grad_at(bb[1], k), right[k]);
    }
    if (!(w_ii <= 1e-12)) lesson_fail(&L, "(ii) ∂y_L/∂b_1: the products and the engine differ by %g", w_ii);
    double w_eng = 0;
    for (int k = 0; k < 9; k++) w_eng = worst_diff(w_eng, dW_engine[k], dW_right[k]);
    if (!(w_eng <= 1e-12)) lesson_fail(&L, "∂y_L/∂W_1: the engine and the formula differ by %g", w_eng);
    /* (i) the layer Jacobians, rows by backward passes with cotangent e_i, for ReLU, sigmoid, tanh */
    const char *acts[3] = {"relu", "sigmoid", "tanh"};
    double w_layer[3] = {0, 0, 0};
    for (int act = 0; act < 3; act++) {
        ad_node *Wl = var(ctx, 4, 3, rng), *bl = var(ctx, 0, 4, rng), *xin = var(ctx, 1, 3, rng);
        ad_node *zz = ad_linear(ctx, xin, Wl, bl);
        ad_node *yy = act == 0 ? ad_relu(ctx, zz) : act == 1 ? ad_sigmoid(ctx, zz) : ad_tanh(ctx, zz);
        if (!yy) lesson_die(&L, "layer");
        for (int i = 0; i < 4; i++) {
            if (lesson_backward_unit(ctx, yy, i) != AD_OK) lesson_die(&L, "backward");
            double zi = ad_value_at(zz, i), yi = ad_value_at(yy, i);
            double d = act == 0 ? (zi > 0) : act == 1 ? yi * (1 - yi) : 1 - yi * yi;   /* σ′(z_i) */
            for (int j = 0; j < 4; j++) w_layer[act] = worst_diff(w_layer[act], ad_grad_at(bl, j), i == j ? d : 0);
            for (int k = 0; k < 3; k++)
                w_layer[act] = worst_diff(w_layer[act], ad_grad_at(xin, k), d * ad_value_at(Wl, i * 3 + k));
        }
        if (!(w_layer[act] <= 1e-12)) lesson_fail(&L, "%s layer Jacobian differs by %g", acts[act], w_layer[act]);
    }
    if (!L.json) {
        printf("\nLecture 001's exercise [001, Backprop for multi-layer perceptron], y_ℓ = σ(W_ℓ y_{ℓ−1} + b_ℓ),\n"
               "widths 3 → 3 → 2 → 1, σ = sigmoid; y_L = %.15g\n", ad_value_scalar(yL));
        printf("(i) The layer Jacobians, row i by a backward pass with cotangent e_i: ∂y_ℓ/∂b_ℓ = diag σ′(z_ℓ),\n"
               "    ∂y_ℓ/∂y_{ℓ−1} = diag σ′(z_ℓ) W_ℓ (z_ℓ = W_ℓ y_{ℓ−1} + b_ℓ):\n");
        for (int act = 0; act < 3; act++) printf("    %-8s largest difference over both Jacobians: %.1e\n", acts[act], w_layer[act]);
        int64_t n1 = widths[1], n2 = widths[2], n3 = widths[3];   /* the Jacobians: n3×n2, n2×n1, n1×n1 */
        printf("(ii) ∂y_L/∂b_1 = (∂y_3/∂y_2)(∂y_2/∂y_1)(∂y_1/∂b_1), %dx%d · %dx%d · %dx%d. Backpropagation multiplies\n"
               "    from the left: a row vector times each Jacobian in turn, %d + %d = %d multiply-adds;\n"
               "    from the right the first product is a %dx%d matrix, %d + %d = %d:\n",
               (int)n3, (int)n2, (int)n2, (int)n1, (int)n1, (int)n1, (int)(n3 * n2 * n1), (int)(n3 * n1 * n1),
               (int)(n3 * n2 * n1 + n3 * n1 * n1), (int)n2, (int)n1, (int)(n2 * n1 * n1), (int)(n3 * n2 * n1),
               (int)(n2 * n1 * n1 + n3 * n2 * n1));
        print_row("from the left (backpropagation)", left, 3);
        print_row("from the right", right, 3);
        print_row("the engine's ∂y_L/∂b_1", engine_b1, 3);
        printf("(iii) ∂y_L/∂W_1 (3x3, row-major), the engine's gradient:\n");
        print_row("engine", dW_engine, 9);
        printf("\nWhere the lecture differs (by computation, ∂y_L/∂W_1, all 9 entries):\n");
    } else {
        cJSON *e = cJSON_AddObjectToObject(doc, "mlp001");
        cJSON_AddNumberToObject(e, "yL", ad_value_scalar(yL));
        lesson_json_array(e, "dyL_dW1", dW_engine, 9);
        lesson_json_array(e, "dyL_db1_left", left, 3);
        lesson_json_array(e, "dyL_db1_right", right, 3);
        lesson_json_array(e, "dyL_db1", engine_b1, 3);
        ad_node *const params[7] = {W[1], bb[1], W[2], bb[2], W[3], bb[3], ys[0]};   /* for a test to recompute from */
        const char *keys[7] = {"W1", "b1", "W2", "b2", "W3", "b3", "y0"};
        for (int p = 0; p < 7; p++) {
            double v[9];
            for (int i = 0; i < ad_value(params[p]).size; i++) v[i] = ad_value_at(params[p], i);
            lesson_json_array(e, keys[p], v, (int)ad_value(params[p]).size);
        }
        lesson_json_array(e, "dyL_dW1_formula", dW_right, 9);
        cJSON_AddNumberToObject(doc, "layer_relu_max_diff", w_layer[0]);
        cJSON_AddNumberToObject(doc, "layer_sigmoid_max_diff", w_layer[1]);
        cJSON_AddNumberToObject(doc, "layer_tanh_max_diff", w_layer[2]);
    }
    lesson_slip(&L, doc, "001-dyL-dWl", "001, Backprop for multi-layer perceptron (iii)",
                "∂y_L/∂W_ℓ = (∂y_L/∂y_ℓ)ᵀ diag(σ′(W_ℓ y_{ℓ−1} + b_ℓ)) y_ℓᵀ ends in y_ℓᵀ; the layer's input is "
                "y_{ℓ−1}, so it is diag(σ′(·)) (∂y_L/∂y_ℓ)ᵀ y_{ℓ−1}ᵀ (ℓ = 1, where both are 3x3)",
                dW_slide, dW_right, dW_fd, 9, "finite differences");

    /* ---- Lecture 000's FC layer h¹ = W h⁰ (3×3), L = Σ t_i tanh(h¹_i) ----
     * The slide's ∂L/∂W has rows ∂L/∂h⁽ˡ⁻¹⁾_i · h⁽ˡ⁻¹⁾ᵀ; they are ∂L/∂h⁽ˡ⁾_i · h⁽ˡ⁻¹⁾ᵀ
     * (from its own (b): ∂L/∂w_i = ∂L/∂h_i^l · h^(l−1)ᵀ). */
    ad_node *Wfc = var(ctx, 3, 3, rng), *h0 = var(ctx, 1, 3, rng), *h1;
    ad_node *Lfc = fc_loss(ctx, Wfc, h0, &h1);
    if (!Lfc) lesson_die(&L, "lecture 000's FC layer");
    lesson_backward(&L, ctx, Lfc, NULL);
    double fc_slide[9], fc_right[9], fc_fd[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            fc_slide[i * 3 + j] = ad_grad_at(h0, i) * ad_value_at(h0, j);
            fc_right[i * 3 + j] = ad_grad_at(h1, i) * ad_value_at(h0, j);
            fc_fd[i * 3 + j] = (fc_at(Wfc, h0, i * 3 + j, 1e-6) - fc_at(Wfc, h0, i * 3 + j, -1e-6)) / 2e-6;
            double e = fabs(ad_grad_at(Wfc, i * 3 + j) - fc_right[i * 3 + j]);
            if (!(e <= 1e-12)) lesson_fail(&L, "∂L/∂W[%d][%d]: the engine and the outer product differ by %g", i, j, e);
        }
    if (!L.json) {
        printf("\nLecture 000's fully-connected layer h⁽ˡ⁾ = W h⁽ˡ⁻¹⁾ (3x3), L = Σ_i t_i tanh(h⁽ˡ⁾_i), t = (1, −2, 0.5):\n");
        print_row("∂L/∂h⁽ˡ⁻¹⁾ = ∂L/∂h⁽ˡ⁾ W (engine)", (double[]){ad_grad_at(h0, 0), ad_grad_at(h0, 1), ad_grad_at(h0, 2)}, 3);
        print_row("∂L/∂W (engine, row-major)", (double[]){ad_grad_at(Wfc, 0), ad_grad_at(Wfc, 1), ad_grad_at(Wfc, 2),
                                                         ad_grad_at(Wfc, 3), ad_grad_at(Wfc, 4), ad_grad_at(Wfc, 5),
                                                         ad_grad_at(Wfc, 6), ad_grad_at(Wfc, 7), ad_grad_at(Wfc, 8)}, 9);
        printf("\nWhere the lecture differs (by computation, ∂L/∂W, all 9 entries):\n");
    } else {
        cJSON *f = cJSON_AddObjectToObject(doc, "fc000");
        cJSON_AddNumberToObject(f, "L", ad_value_scalar(Lfc));
        lesson_json_tensor(f, "h0", h0);
        lesson_json_tensor(f, "h1", h1);
        lesson_json_tensor(f, "W", Wfc);
    }
    lesson_slip(&L, doc, "000-dLdW-rows", "000, Multi-Layer Perceptrons (b), the matrix ∂L/∂W",
                "row i of ∂L/∂W is written ∂L/∂h_i^(l−1) · h^(l−1)ᵀ; it is ∂L/∂h_i^(l) · h^(l−1)ᵀ (the output's "
                "gradient, as the slide's own (b) says)",
                fc_slide, fc_right, fc_fd, 9, "finite differences");
    /* The same matrix's last row is written ∂L/∂h₂ · h⁽ˡ⁻¹⁾ᵀ: W⁽ˡ⁾ has one row per output, C₂ of
     * them (the slide's own h⁽ˡ⁾ = W⁽ˡ⁾ h⁽ˡ⁻¹⁾ lists h₁ˡ..h_{C₂}ˡ), so its last row is
     * ∂L/∂h_{C₂}⁽ˡ⁾ · h⁽ˡ⁻¹⁾ᵀ. Here C₂ = 3: row 3 as the slide labels it (row 2's values) and as it is. */
    const int C2 = 3;
    double last_slide[3], last_right[3];
    for (int j = 0; j < 3; j++) {
        last_slide[j] = ad_grad_at(h1, 1) * ad_value_at(h0, j);        /* ∂L/∂h₂⁽ˡ⁾ · h⁽ˡ⁻¹⁾_j */
        last_right[j] = ad_grad_at(h1, C2 - 1) * ad_value_at(h0, j);   /* ∂L/∂h_{C₂}⁽ˡ⁾ · h⁽ˡ⁻¹⁾_j */
    }
    lesson_slip(&L, doc, "000-dLdW-last-row", "000, Multi-Layer Perceptrons (b), the matrix ∂L/∂W",
                "the matrix's last row is written ∂L/∂h₂ · h^(l−1)ᵀ; W has C₂ rows, one per output, so it is "
                "∂L/∂h_{C₂}^(l) · h^(l−1)ᵀ (C₂ = 3 here; the row of ∂L/∂W, 3 entries)",
                last_slide, last_right, fc_fd + 3 * (C2 - 1), 3, "finite differences");

    if (doc) lesson_print_json(doc);
    lesson_write_dot(&L, ctx, J);
    lesson_write_html(&L, ctx, J);
    ad_gc_report_free(&rep);
    gsl_rng_free(rng);
    ad_context_free(ctx);
    return lesson_status();
}
