/* cos_sin: J = cos(sin(x²) + 3x²), the "Simple Example" of lecture 004's
 * Backpropagation section (../shared/lectures/004_586b0e2da8ef059d.txt):
 * t = x², u₁ = sin t, u₂ = 3t, u = u₁ + u₂, J = cos u, with the forward
 * column and the backward "+=" column. The lecture gives no x: default 2. */
#include <math.h>
#include <stdio.h>
#include "lesson.h"

static ad_node *cos_sin(ad_context *ctx, ad_node *const *in, void *user)
{
    (void)user;
    ad_node *t = ad_set_name(ad_pow(ctx, in[0], 2), "t");
    ad_node *u1 = ad_set_name(ad_sin(ctx, t), "u₁");
    ad_node *u2 = ad_set_name(ad_scale(ctx, t, 3), "u₂");
    ad_node *u = ad_set_name(ad_add(ctx, u1, u2), "u");
    return ad_set_name(ad_cos(ctx, u), "J");
}

int main(int argc, char **argv)
{
    lesson L = {
        .program = "cos_sin",
                .source = "004_586b0e2da8ef059d.txt: \"Backpropagation\", \"Simple Example\"",
                .code = "engine/core/backward.c (backward_push: the lecture's backward column, node by node), ops/elementwise.c (sin, cos, mul, add: their vjps)",
        .title = "J = cos(sin(x²) + 3x²), forward values and backward \"+=\" steps [lecture 004]",
        .in = {{"x", 2, -INFINITY, INFINITY, NULL}},
        .n_in = 1,
        .has_variant = true,
        .has_dot = true,
    };
    lesson_parse(&L, argc, argv);
    const double x0 = L.in[0].value;

    ad_context *ctx = lesson_context(&L);
    if (ad_forward_dirs(ctx, 1) != AD_OK) lesson_die(&L, "forward mode");
    ad_node *x = ad_set_name(ad_scalar(ctx, x0), "x");
    ad_set_tangent(x, 0, NULL, 0);
    ad_node *J = cos_sin(ctx, &x, NULL);
    if (!J) lesson_die(&L, "building J");

    const char *dirs[1] = {"x"};
    if (!L.json) {
        printf("cos_sin — J = cos(sin(x²) + 3x²) at x = %g   [lecture 004, Backpropagation]\n\n", x0);
        printf("Forward (each intermediate quantity, in the order computed):\n");
        lesson_show_nodes(&L, ctx, J);
        printf("\nForward mode, the same pass carrying ∂J/∂x along (one tangent column):\n");
        lesson_show_forward(&L, ctx, J, dirs);
        printf("\nBackward, Version %s — %s:\n", L.variant == AD_BACKWARD_PULL ? "A" : "B",
               L.variant == AD_BACKWARD_PULL ? "each adjoint pulled from its consumers"
                                             : "the lecture's \"+=\" column, each node adding into its inputs");
        lesson_explain_reverse(&L, ctx, J, L.variant);
    } else {   /* the same rows, unprinted: recorded for --html */
        lesson_show_nodes(&L, ctx, J);
        lesson_show_forward(&L, ctx, J, dirs);
        lesson_explain_reverse(&L, ctx, J, L.variant);
    }
    double grad = ad_grad_scalar(x), fwd = ad_tangent_at(J, 0, 0);
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("\nResult:\n  J     = %.15g\n  ∂J/∂x = %.15g   (forward mode: %.15g)\n\n", ad_value_scalar(J), grad, fwd);
    } else {
        cJSON_AddStringToObject(doc, "lesson", L.program);
        cJSON *in = cJSON_AddObjectToObject(doc, "inputs");
        cJSON_AddNumberToObject(in, "x", x0);
        cJSON_AddNumberToObject(doc, "J", ad_value_scalar(J));
        cJSON_AddNumberToObject(doc, "dJ_dx", grad);
        cJSON *fm = cJSON_AddObjectToObject(doc, "forward_mode");
        cJSON_AddNumberToObject(fm, "dJ_dx", fwd);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_json_backward_steps(&L, doc, "backward_steps", ctx, J, L.variant);
        lesson_json_nodes(doc, ctx, J);
    }
    lesson_fd_report(&L, cos_sin, NULL, &grad, "J", doc);
    if (!L.json)
        printf("\nBy hand, as the lecture's column reads: ∂J/∂x = −sin(u)·(cos t + 3)·2x = %.15g\n",
               -sin(ad_value_scalar(ad_node_input(J, 0))) * (cos(x0 * x0) + 3) * 2 * x0);
    lesson_write_dot(&L, ctx, J);
    lesson_write_html(&L, ctx, J);
    if (doc) lesson_print_json(doc);
    ad_context_free(ctx);
    return lesson_status();
}
