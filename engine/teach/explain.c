/* explain.c: the lecture-style tables (see ad_explain.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_explain.h"
#include "ad_internal.h"
#include "ad_op.h"

const char *ad_explain_name(const ad_node *h, char *buf, size_t len)
{
    const ad_node *n = node_resolve(h, "explain_name");
    if (!n) snprintf(buf, len, "%s", h ? "(dropped)" : "(null)");
    else if (n->name) snprintf(buf, len, "%s", n->name);
    else if (!n->op && (n->flags & AD_NODE_LEAF) && !(n->flags & AD_NODE_REQUIRES_GRAD))
        snprintf(buf, len, "%.6g", ad_value_scalar(n));   /* a constant prints as its value */
    else snprintf(buf, len, "n%u", n->id);
    return buf;
}

/* How each op reads in the lectures. */
static const char *infix_symbol(const char *op)
{
    if (!strcmp(op, "add")) return " + ";
    if (!strcmp(op, "sub")) return " - ";
    if (!strcmp(op, "mul")) return "·";
    if (!strcmp(op, "div")) return " / ";
    return NULL;
}

const char *ad_explain_expr(const ad_node *h, char *buf, size_t len)
{
    char a[64], b[64];
    const ad_node *n = node_resolve(h, "explain_expr");
    if (!n || !n->op) return ad_explain_name(h, buf, len);
    const char *op = n->op->name;
    if (n->n_in >= 1) ad_explain_name(n->in[0], a, sizeof a);
    if (n->n_in >= 2) ad_explain_name(n->in[1], b, sizeof b);
    const char *sym = infix_symbol(op);
    if (sym && n->n_in == 2) snprintf(buf, len, "%s%s%s", a, sym, b);
    else if (!strcmp(op, "pow")) snprintf(buf, len, "%s^%g", a, n->params->c);
    else if (!strcmp(op, "scale")) snprintf(buf, len, "%g·%s", n->params->c, a);
    else if (!strcmp(op, "neg")) snprintf(buf, len, "-%s", a);
    else if (!strcmp(op, "sqrt")) snprintf(buf, len, "√%s", a);
    else if (n->n_in == 1 && strlen(a) <= 2) snprintf(buf, len, "%s %s", op, a);
    else if (n->n_in == 1) snprintf(buf, len, "%s(%s)", op, a);
    else snprintf(buf, len, "%s(%s, %s)", op, a, b);
    return buf;
}

/* Columns counted in UTF-8 code points: the lectures' ∂, √ and subscripts
 * are several bytes each but one column. */
int ad_explain_columns(const char *s)
{
    int w = 0;
    for (const char *p = s; p && *p; p++) w += ((unsigned char)*p & 0xC0) != 0x80;
    return w;
}

void ad_explain_pad(FILE *f, const char *s, int width)
{
    int w = ad_explain_columns(s), pad = (width < 0 ? -width : width) - w;
    if (pad < 0) pad = 0;
    if (width > 0) fprintf(f, "%*s%s", pad, "", s);
    else fprintf(f, "%s%*s", s, pad, "");
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
    char name[64], expr[160];
    int step = 0;
    for (uint32_t id = 0; id <= root->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (!n->op && !n->name) continue;   /* unnamed constants show inside expressions */
        ad_explain_name(n, name, sizeof name);
        fprintf(f, "  %2d.  ", n->op ? ++step : 0);
        ad_explain_pad(f, name, -4);
        if (n->op) {
            fputs(" = ", f);
            ad_explain_pad(f, ad_explain_expr(n, expr, sizeof expr), -12);
        }
        fprintf(f, " = %.15g\n", ad_value_scalar(n));
    }
    return AD_OK;
}

ad_status ad_explain_forward(FILE *f, const ad_context *ctx, const ad_node *root_handle, const char *const *dir_names)
{
    const ad_node *root = scalar_graph_root(ctx, root_handle, "explain_forward");
    if (!root) return ad_last_status();
    int k = ctx->dirs;
    if (k <= 0) return ad_fail(AD_ERR_STATE, "explain_forward: forward mode is off (ad_forward_dirs)");
    char name[64], expr[160], head[64];
    fprintf(f, "  step  %-20s %20s", "node", "value");
    for (int d = 0; d < k; d++) {
        snprintf(head, sizeof head, "∂·/∂%s", dir_names && dir_names[d] ? dir_names[d] : "?");
        fputs("  ", f);
        ad_explain_pad(f, head, 20);   /* over "  %20.15g" */
    }
    fputc('\n', f);
    int step = 0;
    for (uint32_t id = 0; id <= root->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (!n->op && !n->name) continue;
        char label[200];
        ad_explain_name(n, name, sizeof name);
        if (n->op) snprintf(label, sizeof label, "%s = %s", name, ad_explain_expr(n, expr, sizeof expr));
        else snprintf(label, sizeof label, "%s", name);
        fprintf(f, "  %3d.  ", n->op ? ++step : 0);
        ad_explain_pad(f, label, -20);
        fprintf(f, " %20.15g", ad_value_scalar(n));
        for (int d = 0; d < k; d++) fprintf(f, "  %20.15g", ad_tangent_at(n, d, 0));
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
    char rn[64], cn[64], in[64];
    ad_explain_name(pp->root, rn, sizeof rn);
    ad_explain_name(s->consumer, cn, sizeof cn);
    ad_explain_name(s->input, in, sizeof in);
    double up = ad_grad_scalar(s->consumer), local = ad_local_partial(s->consumer, s->slot);
    fprintf(pp->f, "        ∂%s/∂%s += ∂%s/∂%s · ∂%s/∂%s = %.15g × %.15g   (now %.15g)\n", rn, in, rn, cn, cn, in, up,
            local, ad_grad_scalar(s->input));
}

ad_status ad_explain_reverse(FILE *f, ad_context *ctx, ad_node *root_handle, ad_backward_variant variant)
{
    ad_node *root = scalar_graph_root(ctx, root_handle, "explain_reverse");
    if (!root) return ad_last_status();
    ad_status st;
    ad_zero_grad(ctx);
    char rn[64];
    ad_explain_name(root, rn, sizeof rn);
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
        char nn[64], cn[64], terms[1024] = "", values[1024] = "";
        size_t tl = 0, vl = 0;
        ad_explain_name(n, nn, sizeof nn);
        for (uint32_t cid = id + 1; cid <= root->id; cid++) {
            const ad_node *c = node_at(ctx, cid);
            if (!c->op || c->mark != ctx->epoch) continue;
            for (int s = 0; s < c->n_in; s++) {
                if (c->in[s] != n) continue;
                ad_explain_name(c, cn, sizeof cn);
                tl += (size_t)snprintf(terms + tl, tl < sizeof terms ? sizeof terms - tl : 0, "%s∂%s/∂%s·∂%s/∂%s",
                                       tl ? " + " : "", rn, cn, cn, nn);
                vl += (size_t)snprintf(values + vl, vl < sizeof values ? sizeof values - vl : 0, "%s%.6g×%.6g",
                                       vl ? " + " : "", ad_grad_scalar(c), ad_local_partial(c, s));
            }
        }
        bool leaf = n->flags & AD_NODE_LEAF;
        if (!leaf || !leaves_started) step++;
        leaves_started = leaves_started || leaf;
        fprintf(f, "  %d'.   ∂%s/∂%s = %s\n        = %s = %.15g\n", step, rn, nn, terms, values, ad_grad_scalar(n));
    }
    return AD_OK;
}
