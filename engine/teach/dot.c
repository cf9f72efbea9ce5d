/* dot.c: Graphviz DOT export. Each node is a record with its name, op,
 * value, grad and tangent (short tensors in full, long ones summarised);
 * edges run from inputs to the ops that use them, labelled with the slot
 * when an op has more than one input. */
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"
#include "ad_dot.h"
#include "ad_op.h"

enum { DOT_MAX_SHOWN = 6 };

/* Print a buffer in DOT-record-safe text: "3.5" or "[1, 2, 3]" or
 * "(2,3) [1, 2, ... 6]". */
static void put_values(FILE *f, const ad_node *n, const void *data, int64_t offset)
{
    if (n->value.device != AD_CPU) {
        fputs("(on GPU)", f);
        return;
    }
    ad_tensor t = n->value;
    t.data = (char *)data + (size_t)offset * ad_dtype_size((ad_dtype)t.dtype);
    if (t.size == 1) {
        fprintf(f, "%.6g", ad_tensor_get(&t, 0));
        return;
    }
    char sh[64];
    fprintf(f, "%s [", ad_shape_str(&t, sh, sizeof sh));
    for (int64_t i = 0; i < t.size; i++) {
        if (t.size > DOT_MAX_SHOWN && i == DOT_MAX_SHOWN - 1) {
            fprintf(f, ", ... %.4g", ad_tensor_get(&t, t.size - 1));
            break;
        }
        fprintf(f, i ? ", %.4g" : "%.4g", ad_tensor_get(&t, i));
    }
    fputc(']', f);
}

static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (strchr("{}|<>\"\\", *s)) fputc('\\', f);
        fputc(*s, f);
    }
}

static void put_node(FILE *f, const ad_context *ctx, const ad_node *n)
{
    /* rankdir=LR: the record's fields then stack top to bottom. */
    fprintf(f, "  n%u [shape=record, style=filled, fillcolor=\"%s\", label=\"", n->id,
            n->op ? "#e8f0fe" : ((n->flags & AD_NODE_REQUIRES_GRAD) ? "#fff4d6" : "#eeeeee"));
    if (n->name) {
        put_escaped(f, n->name);
        fputs(" = ", f);
    }
    put_escaped(f, ad_node_op_name(n));
    if (n->op && n->params && (n->op->flags & AD_OP_PARAMS) && (n->op->flags & AD_OP_ELEMENTWISE))
        fprintf(f, "(c=%g)", n->params->c);
    fputs("|value ", f);
    put_values(f, n, n->value.data, 0);
    if (n->grad) {
        fputs("|grad ", f);
        put_values(f, n, n->grad, 0);
    }
    for (int d = 0; n->tangent && d < ctx->dirs; d++) {
        if (ctx->dirs > 1) fprintf(f, "|tangent[%d] ", d);
        else fputs("|tangent ", f);
        put_values(f, n, n->tangent, (int64_t)d * n->value.size);
    }
    fputs("\"];\n", f);
}

ad_status ad_dot_write(const ad_context *ctx, const ad_node *root_handle, FILE *f)
{
    ad_status st = ad_check_context(ctx, "dot_write");
    if (st != AD_OK) return st;
    if (!f) return ad_fail(AD_ERR_ARG, "dot_write: FILE is NULL");
    const ad_node *root = root_handle ? own_node(ctx, root_handle) : NULL;
    if (root_handle && !root) return ad_not_own_node(ctx, root_handle, AD_ERR_STATE, "dot_write", "the root node");
    if (!root) materialize_all(ctx);   /* (own_node did it up to the root) */
    uint32_t n_ids = root ? root->id + 1 : ctx->n_nodes;
    /* Reachability from root, by the same reverse sweep backward uses. */
    unsigned char *keep = calloc(n_ids ? n_ids : 1, 1);
    if (!keep) return ad_fail(AD_ERR_NOMEM, "dot_write: out of memory");
    for (uint32_t id = n_ids; id-- > 0;) {
        const ad_node *n = node_at(ctx, id);
        if (root && id != root->id && !keep[id]) continue;
        keep[id] = 1;
        for (int s = 0; s < n->n_in; s++) keep[n->in[s]->id] = 1;
    }
    fputs("digraph autodidact {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n", f);
    for (uint32_t id = 0; id < n_ids; id++)
        if (keep[id]) put_node(f, ctx, node_at(ctx, id));
    for (uint32_t id = 0; id < n_ids; id++) {
        const ad_node *n = node_at(ctx, id);
        if (!keep[id]) continue;
        for (int s = 0; s < n->n_in; s++) {
            fprintf(f, "  n%u -> n%u", n->in[s]->id, n->id);
            if (n->n_in > 1) fprintf(f, " [label=\"%d\"]", s);
            fputs(";\n", f);
        }
    }
    fputs("}\n", f);
    free(keep);
    return ferror(f) ? ad_fail(AD_ERR_IO, "dot_write: write error") : AD_OK;
}

ad_status ad_dot_save(const ad_context *ctx, const ad_node *root, const char *path)
{
    if (!path) return ad_fail(AD_ERR_ARG, "dot_save: path is NULL");
    FILE *f = fopen(path, "w");
    if (!f) return ad_fail(AD_ERR_IO, "dot_save: cannot open %s for writing", path);
    ad_status st = ad_dot_write(ctx, root, f);
    if (fclose(f) != 0 && st == AD_OK) st = ad_fail(AD_ERR_IO, "dot_save: cannot write %s", path);
    return st;
}
