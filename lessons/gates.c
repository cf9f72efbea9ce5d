/* gates: f = 2(xy + max(z, w)) [lecture 003, ../shared/lectures/003_*]:
 * the patterns in the backward flow. The add gate distributes its gradient
 * to both inputs unchanged, the max gate routes it to the larger input
 * only, the mul gate switches: each input gets the other's value times the
 * gradient. Every number comes from the engine's backward pass. */
#include <math.h>
#include <stdio.h>
#include "lesson.h"

/* The lecture's names: w₁ = xy, w₂ = max{z, w}, w₃ = w₁ + w₂, f = 2·w₃ */
static ad_node *gates(ad_context *ctx, ad_node *const *in, void *user)
{
    (void)user;
    ad_node *w1 = ad_set_name(ad_mul(ctx, in[0], in[1]), "w₁");
    ad_node *w2 = ad_set_name(ad_max(ctx, in[2], in[3]), "w₂");
    ad_node *w3 = ad_set_name(ad_add(ctx, w1, w2), "w₃");
    return ad_set_name(ad_scale(ctx, w3, 2), "f");
}

int main(int argc, char **argv)
{
    lesson L = {
        .program = "gates",
                .source = "003_2b494b62304cfecb.txt: \"Patterns in backward flow\" (add, max and mul gates); 000_b20c894f9e115dfe.txt and 004_586b0e2da8ef059d.txt: \"ReLU Layer\"",
                .code = "engine/core/backward.c (backward_push: each node passes Jᵀ·grad[node] on to its inputs), ops/elementwise.c (add, max, mul: their vjps are the gates)",
        .title = "f = 2(xy + max(z, w)): add distributes, max routes, mul switches [lecture 003]",
        .in = {{"x", 3, -INFINITY, INFINITY, NULL}, {"y", -4, -INFINITY, INFINITY, NULL},
               {"z", 2, -INFINITY, INFINITY, NULL}, {"w", -1, -INFINITY, INFINITY, NULL}},
        .n_in = 4,
        .has_variant = true,
        .has_dot = true,
    };
    lesson_parse(&L, argc, argv);
    ad_context *ctx = lesson_context(&L);
    ad_node *in[4];
    for (int i = 0; i < 4; i++) in[i] = ad_set_name(ad_scalar(ctx, L.in[i].value), L.in[i].name);
    ad_node *f = gates(ctx, in, NULL);
    if (!f) lesson_die(&L, "building f");
    if (!L.json) {
        printf("gates — f = 2(xy + max(z, w)) at x = %g, y = %g, z = %g, w = %g   [lecture 003]\n\n", L.in[0].value,
               L.in[1].value, L.in[2].value, L.in[3].value);
        lesson_show_nodes(&L, ctx, f);
        printf("\nBackward pass (Version %s):\n", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_explain_reverse(&L, ctx, f, L.variant);
    } else {   /* the same rows, unprinted: recorded for --html */
        lesson_show_nodes(&L, ctx, f);
        lesson_explain_reverse(&L, ctx, f, L.variant);
    }
    ad_node *w3 = ad_node_input(f, 0), *w1 = ad_node_input(w3, 0), *w2 = ad_node_input(w3, 1);
    double g[4];
    for (int i = 0; i < 4; i++) g[i] = ad_grad_scalar(in[i]);
    bool tie = L.in[2].value == L.in[3].value;
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("\nThe gates, read off the engine's gradients:\n");
        printf("  add gate w₃ = w₁ + w₂: distributor. ∂f/∂w₃ = %g goes unchanged to both: ∂f/∂w₁ = %g, ∂f/∂w₂ = %g\n",
               ad_grad_scalar(w3), ad_grad_scalar(w1), ad_grad_scalar(w2));
        if (tie)
            printf("  max gate w₂ = max{z, w}: router. z = w = %g is a tie: the engine routes ∂f/∂w₂ = %g to z, its\n"
                   "      first input, and 0 to w: ∂f/∂z = %g, ∂f/∂w = %g (one subgradient of several, see below)\n",
                   L.in[2].value, ad_grad_scalar(w2), g[2], g[3]);
        else
            printf("  max gate w₂ = max{z, w}: router. The larger input (%s = %g) gets ∂f/∂w₂ = %g, the other gets 0:\n"
                   "      ∂f/∂z = %g, ∂f/∂w = %g\n",
                   L.in[2].value > L.in[3].value ? "z" : "w", ad_value_scalar(w2), ad_grad_scalar(w2), g[2], g[3]);
        printf("  mul gate w₁ = x·y: switcher. Each input gets the other's value times ∂f/∂w₁ = %g:\n"
               "      ∂f/∂x = y·%g = %g, ∂f/∂y = x·%g = %g\n\n",
               ad_grad_scalar(w1), ad_grad_scalar(w1), g[0], ad_grad_scalar(w1), g[1]);
        printf("f = %g, gradient (∂f/∂x, ∂f/∂y, ∂f/∂z, ∂f/∂w) = (%g, %g, %g, %g)\n\n", ad_value_scalar(f), g[0], g[1],
               g[2], g[3]);
    } else {
        cJSON_AddStringToObject(doc, "lesson", "gates");
        cJSON_AddNumberToObject(doc, "f", ad_value_scalar(f));
        cJSON *gr = cJSON_AddArrayToObject(doc, "grad");
        for (int i = 0; i < 4; i++) cJSON_AddItemToArray(gr, cJSON_CreateNumber(g[i]));
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        cJSON_AddBoolToObject(doc, "tie", tie);
        lesson_json_backward_steps(&L, doc, "backward_steps", ctx, f, L.variant);
        lesson_json_nodes(doc, ctx, f);
    }
    static char why[400];
    if (tie) {
        /* At z = w, max{z, w} has one-sided slopes 1 (moving z up) and 0
         * (moving z down): the centered difference sees their average. */
        double g2 = ad_grad_scalar(w2);
        snprintf(why, sizeof why,
                 "z = w is a tie of max{z, w}: every (s, 1 - s)·∂f/∂w₂ with 0 <= s <= 1 is a subgradient; the "
                 "engine takes s = 1 (the first input wins ties), giving "
                 "(%g, %g); the centered difference averages the one-sided slopes, s = 1/2: (%g, %g)",
                 g2, 0.0, g2 / 2, g2 / 2);
        L.kink_mask = 1u << 2 | 1u << 3;
        L.kink_why = why;
    }
    lesson_fd_report(&L, gates, NULL, g, "f", doc);
    if (tie) {
        /* Lecture 004 (Subderivatives): ∂y/∂a = 1 if a > b, 0 otherwise, for
         * y = max(a, b), and by symmetry ∂y/∂b = 1 if b > a: at a tie both
         * are 0. Any subgradient (g_z, g_w) must sum to the derivative along
         * (1, 1), where max is linear: d/dt f(z + t, w + t). */
        double g2 = ad_grad_scalar(w2);
        double slide = 0 * g2 + 0 * g2, right = g[2] + g[3];
        double xs[4] = {L.in[0].value, L.in[1].value, L.in[2].value, L.in[3].value}, h = 1e-6;
        double xp[4] = {xs[0], xs[1], xs[2] + h, xs[3] + h}, xm[4] = {xs[0], xs[1], xs[2] - h, xs[3] - h};
        ad_context *c2 = lesson_context(&L);
        ad_node *lp[4], *lm[4];
        for (int i = 0; i < 4; i++) lp[i] = ad_scalar_const(c2, xp[i]), lm[i] = ad_scalar_const(c2, xm[i]);
        ad_node *fp = gates(c2, lp, NULL), *fm = gates(c2, lm, NULL);
        if (!fp || !fm) lesson_die(&L, "the diagonal difference");
        double diag = (ad_value_scalar(fp) - ad_value_scalar(fm)) / (xp[2] - xm[2]);
        ad_context_free(c2);
        if (!L.json) printf("\nWhere the lecture's rule fails at the tie (by computation, ∂f/∂z + ∂f/∂w):\n");
        lesson_slip(&L, doc, "004-max-tie", "004, Max-Pooling Layer, Subderivatives",
                    "∂y/∂a = 1 if a > b, 0 otherwise, applied to both inputs, gives (0, 0) at a tie: not a "
                    "subgradient; one input must take the gradient (>= for one of them)",
                    &slide, &right, &diag, 1, "the derivative along (1, 1)");
    }
    {
        /* max(0, x) is the ReLU gate: the lectures disagree on its derivative
         * at 0. Ask the engine which it takes. */
        ad_context *c3 = lesson_context(&L);
        ad_node *x0 = ad_scalar(c3, 0.0), *r = ad_relu(c3, x0);
        lesson_backward(&L, c3, r, NULL);
        double d0 = ad_grad_scalar(x0);
        ad_context_free(c3);
        if (!L.json)
            printf("\nReLU = max(0, x) at x = 0, where the lectures disagree: lecture 000 (ReLU Layer) takes\n"
                   "1{h >= 0}, so 1; lecture 004 (ReLU Layer) takes 1 if x > 0 else 0, so 0; lecture 001 calls ReLU\n"
                   "\"differentiable\" and picks none. Both are subgradients. The engine takes %g (lecture %s's).\n",
                   d0, d0 == 0 ? "004" : "000");
        else {
            cJSON *rl = cJSON_AddObjectToObject(doc, "relu_derivative_at_0");
            cJSON_AddNumberToObject(rl, "engine", d0);
            cJSON_AddNumberToObject(rl, "lecture_000", 1);
            cJSON_AddNumberToObject(rl, "lecture_004", 0);
        }
        /* What each convention gives in a gradient at an exact zero: a unit
         * L = ReLU(w·x + b) at w = 2, x = 1, b = −2, its pre-activation
         * exactly 0. ∂L/∂w = ReLU′(0)·x: 1·x under 000's 1{h >= 0}, 0·x under
         * 004's 1{x > 0}; the engine's from a backward pass; the one-sided
         * slopes in w, (L(w) − L(w − h))/h and (L(w + h) − L(w))/h, are 0 and x. */
        const double w0 = 2, xin = 1, b0 = -2, h = 1e-6;
        c3 = lesson_context(&L);
        ad_node *w = ad_scalar(c3, w0);
        ad_node *unit = ad_relu(c3, ad_add(c3, ad_scale(c3, w, xin), ad_scalar_const(c3, b0)));
        lesson_backward(&L, c3, unit, NULL);
        double g_engine = ad_grad_scalar(w);
        ad_context_free(c3);
        double g000 = 1 * xin, g004 = 0 * xin;
        double left = (fmax(0, w0 * xin + b0) - fmax(0, (w0 - h) * xin + b0)) / h;
        double right = (fmax(0, (w0 + h) * xin + b0) - fmax(0, w0 * xin + b0)) / h;
        if (!L.json) {
            printf("In a gradient: L = ReLU(w·x + b) at w = %g, x = %g, b = %g, the pre-activation exactly 0:\n"
                   "  ∂L/∂w = ReLU′(0)·x: lecture 000 gives %g, lecture 004 gives %g, the engine %g (a backward pass);\n"
                   "  the one-sided slopes in w are %g (from the left) and %g (from the right): each lecture takes\n"
                   "  one of them, 000 the right one, 004 the left one. An SGD step moves w under 000 and leaves\n"
                   "  it where it is under 004; both are subgradient steps, and neither is a derivative.\n",
                   w0, xin, b0, g000, g004, g_engine, left, right);
        } else {
            cJSON *rg = cJSON_AddObjectToObject(doc, "relu_gradient_at_exact_zero");
            cJSON_AddNumberToObject(rg, "lecture_000", g000);
            cJSON_AddNumberToObject(rg, "lecture_004", g004);
            cJSON_AddNumberToObject(rg, "engine", g_engine);
            cJSON_AddNumberToObject(rg, "left_slope", left);
            cJSON_AddNumberToObject(rg, "right_slope", right);
        }
    }
    lesson_write_dot(&L, ctx, f);
    lesson_write_html(&L, ctx, f);
    if (doc) lesson_print_json(doc);
    ad_context_free(ctx);
    return lesson_status();
}
