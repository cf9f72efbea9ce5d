/* ad_explain.h: print a scalar graph's computation the way the lectures lay
 * it out: the node table (forward pass), the forward-mode table with one
 * tangent column per direction, and the reverse-mode steps, each adjoint as
 * the sum over its consumers (Version A) or as "+=" increments pushed by
 * each node (Version B). Every number printed is read from the engine.
 * Nodes are named by ad_set_name (unnamed ones print as n<id>). Only
 * graphs of scalars (0-d or size-1 nodes) are explained. */
#ifndef AD_EXPLAIN_H
#define AD_EXPLAIN_H

#include <stdio.h>
#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The node's name (ad_set_name's, whatever its length), a constant's value,
 * or n<id>; and its expression, "y·a", "log x", "√b", "c + b" in the names
 * of its inputs. Written into buf whole or not at all: they return buf, or
 * NULL when the text and its NUL do not fit in len bytes, with buf "" and
 * ad_last_error() "explain_name: output exceeds <len - 1> characters (the
 * text has <k>)" (explain_expr: for the expression); NULL too, with a
 * message, for no buffer (buf NULL or len 0). The tables below print every
 * name and expression whole. */
const char *ad_explain_expr(const ad_node *n, char *buf, size_t len);
const char *ad_explain_name(const ad_node *n, char *buf, size_t len);
/* The same texts in memory of their own size, for any length: free() it.
 * NULL only when out of memory (with a message). */
char *ad_explain_expr_alloc(const ad_node *n);
char *ad_explain_name_alloc(const ad_node *n);

/* Node table: "step. name = expression = value", topological order. */
ad_status ad_explain_nodes(FILE *f, const ad_context *ctx, const ad_node *root);

/* Forward-mode table: each node's value and its k tangents; column d is
 * headed "∂·/∂<dir_names[d]>". Tangents must have been set (ad_forward_dirs
 * and ad_set_tangent before building the graph). */
ad_status ad_explain_forward(FILE *f, const ad_context *ctx, const ad_node *root, const char *const *dir_names);

/* Run the backward pass from root (zeroing grads first) and print its steps
 * in the lecture's notation, "∂f/∂b = ∂f/∂c·∂c/∂b + ∂f/∂f·∂f/∂b = ..." for
 * PULL (Version A) or "∂f/∂b += ∂f/∂c·∂c/∂b = ..." for PUSH (Version B). */
ad_status ad_explain_reverse(FILE *f, ad_context *ctx, ad_node *root, ad_backward_variant variant);

/* Tables whose headers and labels hold ∂, ·, Σ, θ₀ ...: pad by display
 * columns, one per UTF-8 code point, not by bytes as printf's %20s does.
 * ad_explain_pad prints s in |width| columns, right-aligned for width > 0,
 * left-aligned for width < 0 (printf's convention); a longer s is printed
 * whole. */
int ad_explain_columns(const char *s);
void ad_explain_pad(FILE *f, const char *s, int width);

/* The local partial derivative ∂consumer/∂(ad_node_input(consumer, slot)) of a scalar
 * node, computed by the op's own vjp with a unit cotangent. */
double ad_local_partial(const ad_node *consumer, int slot);

#ifdef __cplusplus
}
#endif
#endif
