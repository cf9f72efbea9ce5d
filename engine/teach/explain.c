/* explain.c: the lecture-style tables (see ad_explain.h). Names and
 * expressions are printed whole however long (ad_set_name takes any string,
 * a node may have any number of consumers): the tables write them to the
 * FILE piece by piece or in memory sized from the text, never through a
 * fixed buffer that would cut them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_explain.h"
#include "ad_internal.h"
#include "ad_op.h"

/* A value as printed: -0 as 0 (they are equal; (1 - y*)·l with y* = 1 is
 * -0 in IEEE arithmetic, and a student should read no sign into it). */
static double shown(double v) { return v == 0 ? 0.0 : v; }

/* Room for the names made here rather than set by ad_set_name: a constant's
 * value ("%.6g": at most 13 characters) or "n<id>" (at most 11). */
typedef struct label {
    char own[32];
} label;

/* The name of node n (resolved from handle h: NULL when h is NULL or
 * dropped), as the tables print it: its ad_set_name string itself, or text
 * made in l. */
static const char *label_of(const ad_node *h, const ad_node *n, label *l)
{
    if (!n) return h ? "(dropped)" : "(null)";
    if (n->name) return n->name;
    if (!n->op && (n->flags & AD_NODE_LEAF) && !(n->flags & AD_NODE_REQUIRES_GRAD))
        snprintf(l->own, sizeof l->own, "%.6g", shown(ad_value_scalar(n)));   /* a constant prints as its value */
    else
        snprintf(l->own, sizeof l->own, "n%u", n->id);
    return l->own;
}

/* The name of a node by the engine's own pointer (an input, node_at's):
 * nothing to resolve. */
static const char *node_label(const ad_node *n, label *l) { return label_of(n, n, l); }

/* The name of the node behind a caller's handle (or a backward hook's). */
static const char *handle_label(const ad_node *h, label *l) { return label_of(h, node_resolve(h, "explain_name"), l); }

/* The formatters behind ad_explain_name and ad_explain_expr, with
 * snprintf's contract: the text's length is returned, and the text is
 * written (with its NUL) only as far as len bytes allow. */
typedef int (*text_format)(const ad_node *h, char *buf, size_t len);

static int name_format(const ad_node *h, char *buf, size_t len)
{
    label l;
    return snprintf(buf, len, "%s", handle_label(h, &l));
}

/* "y·a", "log x", "√b", "c + b": node n as the lectures write it, from its inputs' labels. */
static int expr_format(const ad_node *h, char *buf, size_t len)
{
    label la, lb;
    const ad_node *n = node_resolve(h, "explain_expr");
    if (!n || !n->op) return snprintf(buf, len, "%s", label_of(h, n, &la));
    const char *op = n->op->name;
    const char *a = n->n_in >= 1 ? node_label(n->in[0], &la) : "";
    const char *b = n->n_in >= 2 ? node_label(n->in[1], &lb) : "";
    /* as the lectures write it: the op's own infix symbol, or by the function it is (ad_op.h) */
    if (n->op->infix && n->n_in == 2) return snprintf(buf, len, "%s%s%s", a, n->op->infix, b);
    switch (n->op->math) {
    case AD_MATH_pow: {   /* x² as the lectures write a small power; x^0.5, x^-1, x^12 as typed */
        static const char *const sup[10] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
        double c = n->params->c;
        if (c >= 0 && c <= 9 && c == (int)c) return snprintf(buf, len, "%s%s", a, sup[(int)c]);
        return snprintf(buf, len, "%s^%g", a, c);
    }
    case AD_MATH_scale: return snprintf(buf, len, "%g·%s", n->params->c, a);
    case AD_MATH_neg: return snprintf(buf, len, "-%s", a);
    case AD_MATH_sqrt: return snprintf(buf, len, "√%s", a);
    default: break;   /* written as a function of its inputs */
    }
    if (n->n_in == 1 && strlen(a) <= 2) return snprintf(buf, len, "%s %s", op, a);
    if (n->n_in == 1) return snprintf(buf, len, "%s(%s)", op, a);
    return snprintf(buf, len, "%s(%s, %s)", op, a, b);
}

/* The text into the caller's buffer, whole or not at all (ad_explain.h). */
static const char *format_whole(text_format format, const ad_node *h, char *buf, size_t len, const char *who)
{
    if (!buf || !len) {
        ad_fail(AD_ERR_ARG, "%s: no buffer to write to", who);
        return NULL;
    }
    int k = format(h, buf, len);
    if (k >= 0 && (size_t)k < len) return buf;
    buf[0] = '\0';
    ad_fail(AD_ERR_ARG, "%s: output exceeds %zu characters (the text has %d)", who, len - 1, k);
    return NULL;
}

/* The text in memory of its own size (the caller frees it). */
static char *format_alloc(text_format format, const ad_node *h, const char *who)
{
    int k = format(h, NULL, 0);
    char *text = k >= 0 ? malloc((size_t)k + 1) : NULL;
    if (!text) {
        ad_fail(AD_ERR_NOMEM, "%s: out of memory for a text of %d characters", who, k);
        return NULL;
    }
    format(h, text, (size_t)k + 1);
    return text;
}

const char *ad_explain_name(const ad_node *h, char *buf, size_t len)
{
    return format_whole(name_format, h, buf, len, "explain_name");
}

const char *ad_explain_expr(const ad_node *h, char *buf, size_t len)
{
    return format_whole(expr_format, h, buf, len, "explain_expr");
}

char *ad_explain_name_alloc(const ad_node *h) { return format_alloc(name_format, h, "explain_name"); }

char *ad_explain_expr_alloc(const ad_node *h) { return format_alloc(expr_format, h, "explain_expr"); }

/* Columns counted in UTF-8 code points: the lectures' ∂, √ and subscripts
 * are several bytes each but one column. */
int ad_explain_columns(const char *s)
{
    int w = 0;
    for (const char *p = s; p && *p; p++) w += ((unsigned char)*p & 0xC0) != 0x80;
    return w;
}

/* n blanks (none for n <= 0): the padding of text already measured. */
static void blanks(FILE *f, int n)
{
    if (n > 0) fprintf(f, "%*s", n, "");
}

void ad_explain_pad(FILE *f, const char *s, int width)
{
    int pad = (width < 0 ? -width : width) - ad_explain_columns(s);
    if (width > 0) blanks(f, pad);
    fputs(s, f);
    if (width <= 0) blanks(f, pad);
}

/* The node behind handle h, a root of ctx whose graph is all scalars; NULL
 * with a message naming who if not. */
static ad_node *scalar_graph_root(const ad_context *ctx, const ad_node *h, const char *who)
{
    if (ad_check_context(ctx, who) != AD_OK) return NULL;
    ad_node *root = own_node(ctx, h);
    if (!root) {
        ad_not_own_node(ctx, h, AD_ERR_ARG, who, "the root");
        return NULL;
    }
    for (uint32_t id = 0; root && id <= root->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (n->value.size != 1) {
            char sh[64];
            ad_fail(AD_ERR_SHAPE, "%s: node #%u has shape %s; only scalar graphs are explained", who, id,
                    ad_shape_str(&n->value, sh, sizeof sh));
            return NULL;
        }
    }
    return root;
}

ad_status ad_explain_nodes(FILE *f, const ad_context *ctx, const ad_node *root_handle)
{
    const ad_node *root = scalar_graph_root(ctx, root_handle, "explain_nodes");
    if (!root) return ad_last_status();
    int step = 0;
    for (uint32_t id = 0; id <= root->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (!n->op && !n->name) continue;   /* unnamed constants show inside expressions */
        char *expr = n->op ? ad_explain_expr_alloc(n) : NULL;
        if (n->op && !expr) return ad_last_status();
        label l;
        fprintf(f, "  %2d.  ", n->op ? ++step : 0);
        ad_explain_pad(f, node_label(n, &l), -4);
        if (expr) {
            fputs(" = ", f);
            ad_explain_pad(f, expr, -12);
            free(expr);
        }
        fprintf(f, " = %.15g\n", shown(ad_value_scalar(n)));
    }
    return AD_OK;
}

ad_status ad_explain_forward(FILE *f, const ad_context *ctx, const ad_node *root_handle, const char *const *dir_names)
{
    const ad_node *root = scalar_graph_root(ctx, root_handle, "explain_forward");
    if (!root) return ad_last_status();
    int k = ctx->dirs;
    if (k <= 0) return ad_fail(AD_ERR_STATE, "explain_forward: forward mode is off (ad_forward_dirs)");
    fprintf(f, "  step  %-20s %20s", "node", "value");
    for (int d = 0; d < k; d++) {   /* "∂·/∂<direction>" right-aligned over "  %20.15g" */
        const char *dir = dir_names && dir_names[d] ? dir_names[d] : "?";
        fputs("  ", f);
        blanks(f, 20 - ad_explain_columns("∂·/∂") - ad_explain_columns(dir));
        fprintf(f, "∂·/∂%s", dir);
    }
    fputc('\n', f);
    int step = 0;
    for (uint32_t id = 0; id <= root->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (!n->op && !n->name) continue;
        char *expr = n->op ? ad_explain_expr_alloc(n) : NULL;
        if (n->op && !expr) return ad_last_status();
        label l;
        const char *name = node_label(n, &l);
        fprintf(f, "  %3d.  %s", n->op ? ++step : 0, name);   /* "name = expr" left-aligned in 20 columns */
        int cols = ad_explain_columns(name);
        if (expr) {
            fprintf(f, " = %s", expr);
            cols += 3 + ad_explain_columns(expr);
            free(expr);
        }
        blanks(f, 20 - cols);
        fprintf(f, " %20.15g", shown(ad_value_scalar(n)));
        for (int d = 0; d < k; d++) fprintf(f, "  %20.15g", shown(ad_tangent_at(n, d, 0)));
        fputc('\n', f);
    }
    return AD_OK;
}

double ad_local_partial(const ad_node *h, int slot)
{
    /* J^T·1 for a scalar op is its partial derivative. */
    const ad_node *c = node_resolve(h, "local_partial");
    if (!c) return NAN;
    if (!c->op || slot < 0 || slot >= c->n_in || c->value.size != 1 || c->value.device != AD_CPU ||
        c->in[slot]->value.size != 1) {
        ad_fail(AD_ERR_ARG, "local_partial: node #%u (%s) is not a recorded scalar op on the CPU with a scalar input %d",
                c->id, ad_node_op_name(c), slot);
        return NAN;
    }
    const ad_node *in = c->in[slot];
    if (in->value.dtype == AD_FLOAT32) {
        float one = 1.0f, g = 0.0f;
        c->op->cpu.vjp(c, slot, 1, &one, &g);
        return g;
    }
    double one = 1.0, g = 0.0;
    c->op->cpu.vjp(c, slot, 1, &one, &g);
    return g;
}

/* Version B: print each increment as the engine pushes it. */
typedef struct push_printer {
    FILE *f;
    const ad_node *root;
} push_printer;

static void print_push_step(const ad_backward_step *s, void *user)
{
    push_printer *pp = user;
    label lr, lc, li;
    const char *rn = node_label(pp->root, &lr), *cn = handle_label(s->consumer, &lc), *in = handle_label(s->input, &li);
    double up = ad_grad_scalar(s->consumer), local = ad_local_partial(s->consumer, s->slot);
    fprintf(pp->f, "        ∂%s/∂%s += ∂%s/∂%s · ∂%s/∂%s = %.15g × %.15g   (now %.15g)\n", rn, in, rn, cn, cn, in, shown(up),
            shown(local), shown(ad_grad_scalar(s->input)));
}

/* Version A's sum for the adjoint of n: over every consumer c of n in the
 * pass (each slot n fills), "∂r/∂c·∂c/∂n" terms, or with values the
 * numbers "∂r/∂c×∂c/∂n", joined by " + ". Written straight to f: a node may
 * have any number of consumers. */
static void print_pull_sum(FILE *f, const ad_context *ctx, const ad_node *root, const ad_node *n, bool values)
{
    label lr, ln, lc;
    const char *rn = node_label(root, &lr), *nn = node_label(n, &ln);
    bool first = true;
    for (uint32_t cid = n->id + 1; cid <= root->id; cid++) {
        const ad_node *c = node_at(ctx, cid);
        if (!c->op || c->mark != ctx->epoch) continue;
        for (int s = 0; s < c->n_in; s++) {
            if (c->in[s] != n) continue;
            fputs(first ? "" : " + ", f);
            first = false;
            if (values) {
                fprintf(f, "%.6g×%.6g", shown(ad_grad_scalar(c)), shown(ad_local_partial(c, s)));
            } else {
                const char *cn = node_label(c, &lc);
                fprintf(f, "∂%s/∂%s·∂%s/∂%s", rn, cn, cn, nn);
            }
        }
    }
}

ad_status ad_explain_reverse(FILE *f, ad_context *ctx, ad_node *root_handle, ad_backward_variant variant)
{
    ad_node *root = scalar_graph_root(ctx, root_handle, "explain_reverse");
    if (!root) return ad_last_status();
    ad_status st;
    ad_zero_grad(ctx);
    label lr;
    const char *rn = node_label(root, &lr);
    if (variant == AD_BACKWARD_PUSH) {
        fprintf(f, "  0'.   ∂%s/∂%s = 1\n", rn, rn);
        push_printer pp = {f, root};
        ad_backward_opts o = {.variant = AD_BACKWARD_PUSH, .hook = print_push_step, .hook_user = &pp};
        return ad_backward_ex(ctx, root, &o);
    }
    /* Version A: run the pass, then print each adjoint as the sum over its
     * consumers, in reverse topological order, with the engine's numbers. */
    ad_backward_opts o = {.variant = AD_BACKWARD_PULL};
    if ((st = ad_backward_ex(ctx, root, &o)) != AD_OK) return st;
    fprintf(f, "  0'.   ∂%s/∂%s = 1\n", rn, rn);
    int step = 0;
    bool leaves_started = false;
    for (uint32_t id = root->id; id-- > 0;) {
        ad_node *n = node_at(ctx, id);
        if (!(n->flags & AD_NODE_REQUIRES_GRAD) || n->mark != ctx->epoch) continue;
        bool leaf = n->flags & AD_NODE_LEAF;
        if (!leaf || !leaves_started) step++;
        leaves_started = leaves_started || leaf;
        label ln;
        fprintf(f, "  %d'.   ∂%s/∂%s = ", step, rn, node_label(n, &ln));
        print_pull_sum(f, ctx, root, n, false);
        fputs("\n        = ", f);
        print_pull_sum(f, ctx, root, n, true);
        fprintf(f, " = %.15g\n", shown(ad_grad_scalar(n)));
    }
    return AD_OK;
}
