/* ad_expr.h: formulas as graphs. A recursive-descent parser turns a formula
 * such as "y*log(x) + sqrt(y*log(x))" into a DAG in which equal
 * subexpressions are one node (so y·log x appears once, used twice, as the
 * lectures draw it), then builds it into an engine graph.
 *
 * Grammar (usual precedence, ^ binds tighter than unary minus and is
 * right-associative: -x^2 = -(x^2), 2^3^2 = 2^9):
 *   expr  = term {("+" | "-") term}
 *   term  = unary {("*" | "/") unary}
 *   unary = ("-" | "+") unary | power
 *   power = primary [("^" | "**") unary]         exponent: a constant, or any
 *                                                  expression: a^b is built as exp(b·log a)
 *                                                  (e^x as exp(x), 2^x as exp(log 2·x)) and
 *                                                  needs a > 0 at the point
 *   primary = number | name | name "(" args ")" | "(" expr ")"
 * Numbers: any C floating syntax (1, 2.5, 1e-3, 0x1p4). Names: variables,
 * the constants pi and e, and the functions exp log sqrt sin cos tanh
 * sigmoid relu abs neg (one argument), max min (two), pow(x, c). */
#ifndef AD_EXPR_H
#define AD_EXPR_H

#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ad_expr ad_expr;

/* Bounds that keep parsing safe on any input: nesting (parentheses, calls,
 * signs and exponents together) deeper than this is an error with its column,
 * not a stack overflow; so is a formula longer than AD_EXPR_MAX_LENGTH. */
enum { AD_EXPR_MAX_DEPTH = 1000, AD_EXPR_MAX_LENGTH = 1 << 30 };

/* Parse; NULL with a message such as "unexpected ')' at column 14" (and
 * *err_col set, 1-based) on a syntax error. */
ad_expr *ad_expr_parse(const char *formula, int *err_col);
void ad_expr_free(ad_expr *e);

/* The variables, in order of first appearance. */
int ad_expr_var_count(const ad_expr *e);
const char *ad_expr_var_name(const ad_expr *e, int i);
int ad_expr_var_index(const ad_expr *e, const char *name);   /* -1 if none */
/* Number of distinct nodes of the DAG (variables, constants, operations). */
int ad_expr_node_count(const ad_expr *e);

/* Build the graph in ctx from one leaf per variable (in order). Operation
 * nodes are named a, b, c... (skipping variable names) and the result f.
 * Checks each operation's domain at the point and fails (AD_ERR_DOMAIN)
 * with the subexpression: "log(x - 5): its argument is -2 (log needs > 0)";
 * with the context's check-finite mode on, an overflow fails naming the
 * subexpression too (AD_ERR_NONFINITE). Parsing folds constant
 * subexpressions after the same domain checks: "x + log(0)" is a parse error
 * at log(0), and so is a constant that is not finite. */
ad_node *ad_expr_build(const ad_expr *e, ad_context *ctx, ad_node *const *vars);

#ifdef __cplusplus
}
#endif
#endif
