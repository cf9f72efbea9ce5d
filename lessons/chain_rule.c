/* chain_rule: f(x, y) = y log x + √(y log x), forward and reverse mode,
 * as lecture 001 ("Forward mode auto-diff" / "Reverse mode auto-diff")
 * lays them out: ../shared/lectures/001_5b955eed8dfe07dd.txt.
 * Nodes: a = log x, b = y·a, c = √b, f = c + b. */
#include <math.h>
#include <stdio.h>
#include "lesson.h"

static ad_node *chain(ad_context *ctx, ad_node *const *in, void *user)
{
    (void)user;
    ad_node *a = ad_set_name(ad_log(ctx, in[0]), "a");
    ad_node *b = ad_set_name(ad_mul(ctx, in[1], a), "b");
    ad_node *c = ad_set_name(ad_sqrt(ctx, b), "c");
    return ad_set_name(ad_add(ctx, c, b), "f");
}

int main(int argc, char **argv)
{
    lesson L = {
        .program = "chain_rule",
                .source = "001_5b955eed8dfe07dd.txt: \"Chain Rule\", \"Forward mode auto-diff\", \"Reverse mode auto-diff (Backpropagation)\"",
                .code = "engine/core/apply.c (ad_apply_general: each op makes its value, then its tangent), engine/core/forward.c (forward mode), engine/core/backward.c (reverse mode: backward_push is Version B, backward_pull Version A), ops/elementwise.c (log, sqrt, mul, add: each op's vjp and jvp)",
        .title = "f(x, y) = y·log x + √(y·log x), forward and reverse mode [lecture 001]",
        .in = {{"x", 3, 1, INFINITY, "log x must be > 0 and y·log x >= 0 for the square root: x > 1"},
               {"y", 2, 0, INFINITY, "y·log x must be > 0 for the square root's derivative: y > 0"}},
        .n_in = 2,
        .has_variant = true,
        .has_dot = true,
    };
    lesson_parse(&L, argc, argv);
    const double x0 = L.in[0].value, y0 = L.in[1].value;

    ad_context *ctx = lesson_context(&L);
    if (ad_forward_dirs(ctx, 2) != AD_OK) lesson_die(&L, "forward mode");
    ad_node *x = ad_set_name(ad_scalar(ctx, x0), "x"), *y = ad_set_name(ad_scalar(ctx, y0), "y");
    /* Tangent directions: 0 is ∂/∂x, 1 is ∂/∂y (the lecture's step 0). */
    ad_set_tangent(x, 0, NULL, 0);
    ad_set_tangent(y, 1, NULL, 0);
    ad_node *leaves[2] = {x, y};
    ad_node *f = chain(ctx, leaves, NULL);
    if (!f) lesson_die(&L, "building f");

    const char *dirs[2] = {"x", "y"};
    /* The three tables print unless --json, and each row is recorded for --html. */
    if (!L.json) {
        printf("chain_rule — f(x, y) = y·log x + √(y·log x) at x = %g, y = %g   [lecture 001]\n\n", x0, y0);
        printf("The graph, one node per step (forward pass):\n");
    }
    lesson_show_nodes(&L, ctx, f);
    if (!L.json) printf("\nForward mode: both tangent columns, ∂/∂x and ∂/∂y, carried at once (k = 2):\n");
    lesson_show_forward(&L, ctx, f, dirs);
    if (!L.json)
        printf("\nReverse mode (backpropagation), Version %s — %s:\n", L.variant == AD_BACKWARD_PULL ? "A" : "B",
               L.variant == AD_BACKWARD_PULL ? "each adjoint is the sum over the node's consumers"
                                             : "each node pushes its increments to its inputs");
    lesson_explain_reverse(&L, ctx, f, L.variant);   /* under --json: the pass alone */
    double grads[2] = {ad_grad_scalar(x), ad_grad_scalar(y)};
    double fwd[2] = {ad_tangent_at(f, 0, 0), ad_tangent_at(f, 1, 0)};
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("\nResult:\n  f     = %.15g\n  ∂f/∂x = %.15g   (forward mode: %.15g)\n"
               "  ∂f/∂y = %.15g   (forward mode: %.15g)\n\n",
               ad_value_scalar(f), grads[0], fwd[0], grads[1], fwd[1]);
    } else {
        cJSON_AddStringToObject(doc, "lesson", L.program);
        cJSON *in = cJSON_AddObjectToObject(doc, "inputs");
        cJSON_AddNumberToObject(in, "x", x0);
        cJSON_AddNumberToObject(in, "y", y0);
        cJSON_AddNumberToObject(doc, "f", ad_value_scalar(f));
        cJSON_AddNumberToObject(doc, "df_dx", grads[0]);
        cJSON_AddNumberToObject(doc, "df_dy", grads[1]);
        cJSON *fm = cJSON_AddObjectToObject(doc, "forward_mode");
        cJSON_AddNumberToObject(fm, "df_dx", fwd[0]);
        cJSON_AddNumberToObject(fm, "df_dy", fwd[1]);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_json_backward_steps(&L, doc, "backward_steps", ctx, f, L.variant);
        lesson_json_nodes(doc, ctx, f);
    }
    lesson_fd_report(&L, chain, NULL, grads, "f", doc);

    {
        /* The slide writes ∂c/∂b = 1/√b (steps 3 and 2′); d√b/db = 1/(2√b).
         * Its closed forms, evaluated at this x, y, against the right ones. */
        double b = y0 * log(x0);
        double slide[2] = {y0 / x0 * (1 + 1 / sqrt(b)), log(x0) * (1 + 1 / sqrt(b))};
        double right[2] = {y0 / x0 * (1 + 1 / (2 * sqrt(b))), log(x0) * (1 + 1 / (2 * sqrt(b)))};
        double fd[2] = {lesson_central_difference(chain, NULL, (double[]){x0, y0}, 2, 0),
                        lesson_central_difference(chain, NULL, (double[]){x0, y0}, 2, 1)};
        if (!L.json) printf("\nWhere the lecture differs (by computation, (∂f/∂x, ∂f/∂y)):\n");
        lesson_slip(&L, doc, "001-sqrt", "001, Forward mode auto-diff steps 3-4 and Reverse mode step 2'",
                    "d√b/db is written 1/√b; it is 1/(2√b)", slide, right, fd, 2, "finite differences");
    }
    lesson_write_dot(&L, ctx, f);
    lesson_write_html(&L, ctx, f);
    if (doc) lesson_print_json(doc);
    ad_context_free(ctx);
    return lesson_status();
}
