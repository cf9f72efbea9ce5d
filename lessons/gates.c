/* gates: f = 2(xy + max(z, w)) [lecture 003, ../shared/lectures/003_*]:
 * the patterns in the backward flow. The add gate distributes its gradient
 * to both inputs unchanged, the max gate routes it to the larger input
 * only, the mul gate switches: each input gets the other's value times the
 * gradient. Every number comes from the engine's backward pass. */
#include <math.h>
#include <stdio.h>
#include "lesson.h"

/* q = x·y, m = max(z, w), s = q + m, f = 2·s */
static ad_node *gates(ad_context *ctx, ad_node *const *in, void *user)
{
    (void)user;
    ad_node *q = ad_set_name(ad_mul(ctx, in[0], in[1]), "q");
    ad_node *m = ad_set_name(ad_max(ctx, in[2], in[3]), "m");
    ad_node *s = ad_set_name(ad_add(ctx, q, m), "s");
    return ad_set_name(ad_scale(ctx, s, 2), "f");
}

int main(int argc, char **argv)
{
    lesson L = {
        .program = "gates",
        .title = "f = 2(xy + max(z, w)): add distributes, max routes, mul switches [lecture 003]",
        .in = {{"x", 3, -INFINITY, INFINITY, NULL}, {"y", -4, -INFINITY, INFINITY, NULL},
               {"z", 2, -INFINITY, INFINITY, NULL}, {"w", -1, -INFINITY, INFINITY, NULL}},
        .n_in = 4,
    };
    lesson_parse(&L, argc, argv);
    ad_context *ctx = ad_context_new();
    ad_node *in[4];
    for (int i = 0; i < 4; i++) in[i] = ad_set_name(ad_scalar(ctx, L.in[i].value), L.in[i].name);
    ad_node *f = gates(ctx, in, NULL);
    if (!f) lesson_die(&L, "building f");
    if (!L.json) {
        printf("gates — f = 2(xy + max(z, w)) at x = %g, y = %g, z = %g, w = %g   [lecture 003]\n\n", L.in[0].value,
               L.in[1].value, L.in[2].value, L.in[3].value);
        ad_explain_nodes(stdout, ctx, f);
        printf("\nBackward pass (Version B):\n");
        ad_explain_reverse(stdout, ctx, f, L.variant);
    } else {
        ad_backward_opts o = {.variant = L.variant};
        ad_backward_ex(ctx, f, &o);
    }
    ad_node *s = f->in[0], *q = s->in[0], *m = s->in[1];
    double g[4];
    for (int i = 0; i < 4; i++) g[i] = ad_grad_scalar(in[i]);
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("\nThe gates, read off the engine's gradients:\n");
        printf("  add gate s = q + m: distributor. ∂f/∂s = %g goes unchanged to both: ∂f/∂q = %g, ∂f/∂m = %g\n",
               ad_grad_scalar(s), ad_grad_scalar(q), ad_grad_scalar(m));
        printf("  max gate m = max(z, w): router. The larger input (%s = %g) gets ∂f/∂m = %g, the other gets 0:\n"
               "      ∂f/∂z = %g, ∂f/∂w = %g\n",
               L.in[2].value >= L.in[3].value ? "z" : "w", fmax(L.in[2].value, L.in[3].value), ad_grad_scalar(m), g[2],
               g[3]);
        printf("  mul gate q = x·y: switcher. Each input gets the other's value times ∂f/∂q = %g:\n"
               "      ∂f/∂x = y·%g = %g, ∂f/∂y = x·%g = %g\n\n",
               ad_grad_scalar(q), ad_grad_scalar(q), g[0], ad_grad_scalar(q), g[1]);
        printf("f = %g, gradient (∂f/∂x, ∂f/∂y, ∂f/∂z, ∂f/∂w) = (%g, %g, %g, %g)\n\n", ad_value_scalar(f), g[0], g[1],
               g[2], g[3]);
    } else {
        cJSON_AddStringToObject(doc, "lesson", "gates");
        cJSON_AddNumberToObject(doc, "f", ad_value_scalar(f));
        cJSON *gr = cJSON_AddArrayToObject(doc, "grad");
        for (int i = 0; i < 4; i++) cJSON_AddItemToArray(gr, cJSON_CreateNumber(g[i]));
    }
    if (L.in[2].value == L.in[3].value && !L.json)
        printf("Note: z = w is a tie, where max has no derivative; the engine sends the gradient to its first\n"
               "input (z), a valid subgradient, and finite differences see the average of the two sides.\n");
    lesson_fd_report(&L, gates, NULL, g, "f", doc);
    lesson_write_dot(&L, ctx, f);
    if (doc) lesson_print_json(doc);
    ad_context_free(ctx);
    return 0;
}
