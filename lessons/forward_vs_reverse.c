/* forward_vs_reverse: f(x₁, x₂) = x₁x₂ + sin x₁ [lecture 003,
 * ../shared/lectures/003_*]: forward mode needs one pass per input (a
 * tangent column each), reverse mode one pass for the whole gradient. The
 * lesson runs both as the engine does them and counts the passes, the op
 * evaluations and the values kept. */
#include <math.h>
#include <stdio.h>
#include "lesson.h"

/* w₁ = sin x₁, w₂ = x₁x₂, f = w₁ + w₂ */
static ad_node *fvr(ad_context *ctx, ad_node *const *in, void *user)
{
    (void)user;
    ad_node *w1 = ad_set_name(ad_sin(ctx, in[0]), "w₁");
    ad_node *w2 = ad_set_name(ad_mul(ctx, in[0], in[1]), "w₂");
    return ad_set_name(ad_add(ctx, w1, w2), "f");
}

int main(int argc, char **argv)
{
    lesson L = {
        .program = "forward_vs_reverse",
                .source = "003_2b494b62304cfecb.txt: \"Example: Forward mode AD\", \"Example: Reverse mode AD\", \"Forward mode vs Reverse Mode\"",
                .code = "engine/core/forward.c (k tangent directions at once), engine/core/backward.c (one reverse sweep for every input)",
        .title = "f(x₁, x₂) = x₁x₂ + sin x₁: forward mode (a pass per input) vs reverse mode (one pass) [lecture 003]",
        .in = {{"x1", 2, -INFINITY, INFINITY, NULL, "x₁"}, {"x2", 3, -INFINITY, INFINITY, NULL, "x₂"}},
        .n_in = 2,
        .has_variant = true,
        .has_dot = true,
    };
    lesson_parse(&L, argc, argv);
    const char *dir_name[2] = {"x₁", "x₂"};
    double fwd[2], f_value = 0;
    int ops_per_pass = 0;
    if (!L.json)
        printf("forward_vs_reverse — f(x₁, x₂) = x₁x₂ + sin x₁ at x₁ = %g, x₂ = %g   [lecture 003]\n\n",
               L.in[0].value, L.in[1].value);
    /* Forward mode: one pass per input, each carrying one tangent column. */
    for (int pass = 0; pass < 2; pass++) {
        ad_context *ctx = lesson_context(&L);
        if (ad_forward_dirs(ctx, 1) != AD_OK) lesson_die(&L, "forward mode");
        /* Forward mode needs no tape; the ops are recorded here only so that
         * the table can name each node's expression. */
        ad_node *in[2] = {ad_set_name(ad_scalar(ctx, L.in[0].value), "x₁"),
                          ad_set_name(ad_scalar(ctx, L.in[1].value), "x₂")};
        ad_set_tangent(in[pass], 0, NULL, 0);
        ad_node *f = fvr(ctx, in, NULL);
        if (!f) lesson_die(&L, "building f");
        fwd[pass] = ad_tangent_at(f, 0, 0);
        f_value = ad_value_scalar(f);
        ops_per_pass = (int)ad_context_node_count(ctx) - 2;
        /* each pass builds the same f, so its node ids are the reverse graph's: the page draws that one */
        if (!L.json)
            printf("Forward-mode pass %d: seed ∂x₁ = %d, ∂x₂ = %d; each op computes its value and its tangent\n",
                   pass + 1, pass == 0, pass == 1);
        lesson_show_forward(&L, ctx, f, &dir_name[pass]);
        if (!L.json) printf("\n");
        ad_context_free(ctx);
    }
    /* Reverse mode: one forward pass storing the values, one backward pass. */
    ad_context *ctx = lesson_context(&L);
    ad_node *in[2] = {ad_set_name(ad_scalar(ctx, L.in[0].value), "x₁"), ad_set_name(ad_scalar(ctx, L.in[1].value), "x₂")};
    ad_node *f = fvr(ctx, in, NULL);
    if (!f) lesson_die(&L, "building f");
    if (!L.json) {
        printf("Reverse mode: one forward pass keeps every node's value, then one backward pass (Version %s):\n",
               L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_explain_reverse(&L, ctx, f, L.variant);
    } else {
        lesson_explain_reverse(&L, ctx, f, L.variant);   /* unprinted: recorded for --html */
    }
    double rev[2] = {ad_grad_scalar(in[0]), ad_grad_scalar(in[1])};
    int nodes = (int)ad_context_node_count(ctx), vjps = 0;
    for (int id = 0; id < nodes; id++) vjps += ad_node_input_count(ad_node_by_id(ctx, (uint32_t)id));   /* one vjp per op input */
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    if (!L.json) {
        printf("\nResult: f = %.15g, ∂f/∂x₁ = %.15g, ∂f/∂x₂ = %.15g (forward mode: %.15g, %.15g)\n\n", f_value, rev[0],
               rev[1], fwd[0], fwd[1]);
        printf("The cost, counted:\n");
        printf("  forward mode: %d passes (one per input), %d op evaluations each with its tangent = %d jvps;\n"
               "                keeps only the current values and tangents\n", 2, ops_per_pass, 2 * ops_per_pass);
        printf("  reverse mode: 1 forward pass (%d ops) + 1 backward pass (%d vjps, one per op input);\n"
               "                keeps all %d node values for the backward pass\n", ops_per_pass,
               vjps, nodes);
        printf("  With n inputs and one output, forward mode takes n passes and reverse mode one: reverse mode\n"
               "  wins for a loss of many parameters; forward mode wins for few inputs and many outputs.\n\n");
    } else {
        cJSON_AddStringToObject(doc, "lesson", "forward_vs_reverse");
        cJSON_AddNumberToObject(doc, "f", f_value);
        cJSON_AddNumberToObject(doc, "df_dx1", rev[0]);
        cJSON_AddNumberToObject(doc, "df_dx2", rev[1]);
        cJSON_AddNumberToObject(doc, "forward_passes", 2);
        cJSON_AddNumberToObject(doc, "reverse_passes", 1);
        cJSON_AddNumberToObject(doc, "values_stored_reverse", nodes);
        cJSON_AddNumberToObject(doc, "forward_mode_df_dx1", fwd[0]);
        cJSON_AddNumberToObject(doc, "forward_mode_df_dx2", fwd[1]);
        cJSON_AddNumberToObject(doc, "ops_per_pass", ops_per_pass);
        cJSON_AddNumberToObject(doc, "jvps_forward_mode", 2 * ops_per_pass);
        cJSON_AddNumberToObject(doc, "vjps_reverse_mode", vjps);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        lesson_json_backward_steps(&L, doc, "backward_steps", ctx, f, L.variant);
        lesson_json_nodes(doc, ctx, f);
    }
    lesson_fd_report(&L, fvr, NULL, rev, "f", doc);
    lesson_write_dot(&L, ctx, f);
    lesson_write_html(&L, ctx, f);
    if (doc) lesson_print_json(doc);
    ad_context_free(ctx);
    return lesson_status();
}
