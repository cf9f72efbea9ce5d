/* lesson_pictures.c: a lesson's backward pass (lesson_backward) and the
 * pictures of its graph, --dot (Graphviz) and --html (the step-through page).
 * A picture shows its root's own gradients: a lesson may have zeroed them or
 * run other passes on the same context since, so the root's pass runs again
 * first, with the cotangent lesson_backward kept for it. */
#include <stdio.h>
#include <stdlib.h>
#include "lesson.h"
#include "lesson_html.h"
#include "lesson_trace.h"

/* With --dot or --html: the cotangent of each tensor backward pass
 * (lesson_backward), so that a picture's root can have its pass run again. */
enum { MAX_SEEDS = 8 };
static struct seed {
    const ad_context *ctx;
    uint32_t root;
    ad_tensor *cot;
} seeds[MAX_SEEDS];
static int n_seeds;

void lesson_backward(const lesson *L, ad_context *ctx, ad_node *y, const ad_tensor *cot)
{
    if (!y) lesson_die(L, "building the graph");
    ad_backward_opts o = {.variant = L->variant, .cotangent = cot};
    if (ad_backward_ex(ctx, y, &o) != AD_OK) lesson_die(L, "backward");
    if ((L->html_path || L->dot_path) && cot && n_seeds < MAX_SEEDS) {   /* (kept for root_pass_again) */
        ad_tensor *c = ad_tensor_new((ad_dtype)cot->dtype, cot->ndim, cot->shape);
        if (!c) lesson_die(L, L->html_path ? "--html" : "--dot");
        for (int64_t i = 0; i < cot->size; i++) ad_tensor_set(c, i, ad_tensor_get(cot, i));
        seeds[n_seeds++] = (struct seed){ctx, ad_node_id(y), c};
    }
}

/* Root's pass again, as the lesson ran it (a scalar: seed 1; a tensor: the
 * cotangent lesson_backward kept), so the picture shows root's grads even
 * where the lesson zeroed them or ran other passes since (mlp, pooling). A
 * tensor root never run backward keeps none. */
static void root_pass_again(const lesson *L, ad_context *ctx, ad_node *root, const char *option)
{
    const ad_tensor *cot = NULL;
    for (int i = 0; i < n_seeds; i++)
        if (seeds[i].ctx == ctx && seeds[i].root == ad_node_id(root)) cot = seeds[i].cot;
    if (ad_requires_grad(root) && (cot || ad_value(root).size == 1)) {
        ad_zero_grad(ctx);
        ad_backward_opts o = {.variant = L->variant, .cotangent = cot};
        if (ad_backward_ex(ctx, root, &o) != AD_OK) lesson_die(L, option);
    }
}

void lesson_write_dot(const lesson *L, ad_context *ctx, ad_node *root)
{
    if (!L->dot_path) return;
    root_pass_again(L, ctx, root, "--dot: the backward pass");
    if (ad_dot_save(ctx, root, L->dot_path) != AD_OK) lesson_die(L, "--dot");
    if (!L->json) printf("Graph written to %s (render: dot -Tsvg %s > graph.svg)\n", L->dot_path, L->dot_path);
}

void lesson_write_html(const lesson *L, ad_context *ctx, ad_node *root)
{
    if (!L->html_path) return;
    root_pass_again(L, ctx, root, "--html: the backward pass");
    lesson_html_fill_steps(ctx, root, L->variant);
    char *title = lesson_strf("%s — %s", L->program, L->title ? L->title : "");
    ad_status st = lesson_html_write(L->html_path, title, ctx, root);
    free(title);
    lesson_trace_clear();
    if (st != AD_OK) {
        fprintf(stderr, "%s: %s\n", L->program, ad_last_error());
        exit(1);
    }
    if (!L->json) printf("Page written to %s (open it in a browser)\n", L->html_path);
}

void lesson_pictures_done(void)
{
    for (int i = 0; i < n_seeds; i++) ad_tensor_free(seeds[i].cot);
    n_seeds = 0;
}
