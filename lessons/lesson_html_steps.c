/* lesson_html_steps.c: the rows of a part the lesson does not print itself
 * (lesson_html.h). A scalar lesson prints its node table and reverse steps
 * through the trace; a tensor lesson prints neither, so its page steps
 * through the graph's own forward and reverse order, each row naming the
 * node, its expression and its shape (a scalar: its value), read from the
 * engine. The order is the engine's: nodes are made in topological order,
 * and the backward pass visits them in reverse. */
#include <stdlib.h>
#include <string.h>
#include "lesson_html.h"
#include "lesson_trace.h"

enum { MAX_EDGES = 64 };

char *lesson_html_label(const ad_node *n)
{
    if (ad_value(n).size == 1) {
        char *s = ad_explain_name_alloc(n);
        if (!s) exit(1);
        return s;
    }
    return ad_node_name(n) ? lesson_strf("%s", ad_node_name(n)) : lesson_strf("n%u", ad_node_id(n));
}

static char *shape_of(const ad_node *n)
{
    ad_tensor v = ad_value(n);
    char sh[64];
    return lesson_strf("%s", ad_shape_str(&v, sh, sizeof sh));
}

/* Which nodes the rows are about: those up to root that root depends on,
 * but unnamed scalar constants (they show inside expressions): the nodes
 * the page draws (lesson_html.c). */
static bool *reached(const ad_context *ctx, const ad_node *root)
{
    uint32_t last = ad_node_id(root);
    bool *r = calloc((size_t)last + 1, sizeof *r);
    if (!r) exit(1);
    r[last] = true;
    for (uint32_t id = last + 1; id-- > 0;) {
        const ad_node *n = ad_node_by_id(ctx, id);
        if (!r[id] || !n) continue;
        for (int s = 0; s < ad_node_input_count(n); s++) r[ad_node_id(ad_node_input(n, s))] = true;
    }
    for (uint32_t id = 0; id <= last; id++) {
        const ad_node *n = ad_node_by_id(ctx, id);
        r[id] = r[id] && n && (ad_node_op(n) || ad_node_name(n) || ad_requires_grad(n) || ad_value(n).size > 1);
    }
    return r;
}

static void forward_rows(const ad_context *ctx, const ad_node *root, const bool *r)
{
    lesson_trace_section(NULL, LESSON_FORWARD, "Forward pass (the graph's order: the text prints no such rows)", NULL);
    lesson_trace_from_graph();
    int step = 0;
    for (uint32_t id = 0, last = ad_node_id(root); id <= last; id++) {
        if (!r[id]) continue;
        const ad_node *n = ad_node_by_id(ctx, id);
        char *name = lesson_html_label(n), *what, *row;
        if (ad_node_op(n)) {
            int k = ad_node_input_count(n);
            char *args = lesson_strf("%s", "");
            for (int s = 0; s < k; s++) {
                char *in = lesson_html_label(ad_node_input(n, s)), *more = lesson_strf("%s%s%s", args, s ? ", " : "", in);
                free(in), free(args);
                args = more;
            }
            what = lesson_strf(" = %s(%s)", ad_node_op_name(n), args);
            free(args);
        } else {
            what = lesson_strf("%s", ad_requires_grad(n) ? " (input)" : " (constant)");
        }
        if (ad_value(n).size == 1) {
            row = lesson_strf("  %2d.  %s%s = %.15g\n", ad_node_op(n) ? ++step : 0, name, what, ad_value_scalar(n));
        } else {
            char *sh = shape_of(n);
            row = lesson_strf("  %2d.  %s%s   shape %s\n", ad_node_op(n) ? ++step : 0, name, what, sh);
            free(sh);
        }
        lesson_edge e[MAX_EDGES];
        int k = ad_node_op(n) ? ad_node_input_count(n) : 0;
        if (k > MAX_EDGES) k = MAX_EDGES;
        for (int s = 0; s < k; s++) e[s] = (lesson_edge){id, s};
        lesson_trace_rows(NULL, id, e, k, row);
        free(row), free(name), free(what);
    }
}

/* "= 1.5" for a scalar's gradient, "(shape 2×3)" for a tensor's. */
static char *grad_text(const ad_node *n)
{
    if (ad_value(n).size == 1) return lesson_strf("= %.15g", ad_grad_scalar(n));
    char *sh = shape_of(n), *t = lesson_strf("(shape %s)", sh);
    free(sh);
    return t;
}

/* Version B: each node with a gradient, in reverse order, complete, pushes
 * into its inputs. Version A: each adjoint the sum over its consumers. */
static void reverse_rows(const ad_context *ctx, const ad_node *root, const bool *r, ad_backward_variant variant)
{
    bool pull = variant == AD_BACKWARD_PULL;
    lesson_trace_section(NULL, LESSON_REVERSE,
                         pull ? "Reverse mode, Version A (the graph's order: the text prints no such rows)"
                              : "Reverse mode, Version B (the graph's order: the text prints no such rows)",
                         NULL);
    lesson_trace_from_graph();
    char *rn = lesson_html_label(root);
    char *seed = ad_value(root).size == 1 ? lesson_strf("  0′.   ∂%s/∂%s = 1\n", rn, rn)
                                          : lesson_strf("  0′.   ∂L/∂%s = the cotangent the lesson seeds\n", rn);
    lesson_trace_rows(NULL, ad_node_id(root), NULL, 0, seed);
    free(seed);
    const char *of = ad_value(root).size == 1 ? rn : "L";
    int step = 0;
    for (uint32_t id = ad_node_id(root) + 1; id-- > 0;) {
        const ad_node *n = ad_node_by_id(ctx, id);
        if (!r[id] || !ad_grad(n).data) continue;
        lesson_edge e[MAX_EDGES];
        int k = 0;
        char *name = lesson_html_label(n), *g = grad_text(n), *row = NULL;
        if (pull && id != ad_node_id(root)) {   /* the consumers: nodes after n that read it */
            char *sum = lesson_strf("%s", "");
            for (uint32_t c = id + 1; c <= ad_node_id(root); c++) {
                const ad_node *cn = ad_node_by_id(ctx, c);
                if (!r[c] || !ad_grad(cn).data) continue;
                for (int s = 0; s < ad_node_input_count(cn); s++) {
                    if (ad_node_id(ad_node_input(cn, s)) != id) continue;
                    char *cl = lesson_html_label(cn), *more = lesson_strf("%s%s∂%s/∂%s·∂%s/∂%s", sum, k ? " + " : "", of, cl, cl, name);
                    free(cl), free(sum);
                    sum = more;
                    if (k < MAX_EDGES) e[k++] = (lesson_edge){c, s};
                }
            }
            row = lesson_strf("  %d′.   ∂%s/∂%s = %s %s\n", ++step, of, name, sum, g);
            free(sum);
        } else if (!pull && ad_node_op(n)) {
            for (int s = 0; s < ad_node_input_count(n) && k < MAX_EDGES; s++)
                if (ad_grad(ad_node_input(n, s)).data) e[k++] = (lesson_edge){id, s};
            if (k) row = lesson_strf("  %d′.   ∂%s/∂%s %s, complete; it pushes into its %d input%s\n", ++step, of, name, g,
                                     k, k == 1 ? "" : "s");
        } else if (!pull) {
            row = lesson_strf("        ∂%s/∂%s %s (an input: its adjoint is complete)\n", of, name, g);
        }
        if (row) lesson_trace_rows(NULL, id, e, k, row);
        free(row), free(name), free(g);
    }
    free(rn);
}

void lesson_html_fill_steps(const ad_context *ctx, const ad_node *root, ad_backward_variant variant)
{
    int n;
    const lesson_section *sec = lesson_trace_sections(&n);
    bool fwd = false, rev = false;
    for (int i = 0; i < n; i++) {
        fwd = fwd || sec[i].kind == LESSON_FORWARD;
        rev = rev || sec[i].kind == LESSON_REVERSE;
    }
    bool *r = reached(ctx, root);
    if (!fwd) forward_rows(ctx, root, r);
    if (!rev && ad_grad(root).data) reverse_rows(ctx, root, r, variant);
    free(r);
}
