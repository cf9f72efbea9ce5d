/* ad_symbolic.h: symbolic differentiation, the second of the four ways to a
 * gradient that lecture 003 lists (manual, symbolic, numerical, automatic).
 *
 * A scalar graph built with the engine (by hand or by ad_expr_build) is read
 * back as an expression in its leaves; ad_sym_diff applies the rules of
 * calculus to that expression and returns the derivative as an expression,
 * simplified as it is built (0·u = 0, 1·u = u, u + 0 = u, constants folded,
 * u·u = u^2, ...). Unlike reverse mode, the derivative is a formula: where
 * the function reuses a subexpression, the derivative's formula repeats it,
 * and its size as a tree grows with depth much faster than the graph's
 * ("expression swell"); ad_sym_tree_size measures that, ad_sym_dag_size
 * counts the distinct subexpressions (what a compiler could share).
 *
 * At kinks the rules take the engine's subgradients: relu′(0) = 0,
 * abs′(0) = 0, and max/min send the whole gradient to their first input at
 * a tie; these print as step(u) = 1{u > 0}, sign(u), ge(a, b) = 1{a >= b}
 * and le(a, b) = 1{a <= b}.
 *
 * Expressions live in an ad_sym_ctx (an arena with hash-consing: equal
 * subexpressions are one object) and are freed with it. */
#ifndef AD_SYMBOLIC_H
#define AD_SYMBOLIC_H

#include <stddef.h>
#include <stdint.h>
#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ad_sym ad_sym;
typedef struct ad_sym_ctx ad_sym_ctx;

ad_sym_ctx *ad_sym_ctx_new(void);
void ad_sym_ctx_free(ad_sym_ctx *s);

/* The expression of root in terms of the graph's variables (leaves that
 * require grad, named by ad_set_name or "x<id>"); constants become numbers.
 * NULL (with a message naming the op) for ops that are not scalar formulas. */
ad_sym *ad_sym_from_graph(ad_sym_ctx *s, const ad_context *ctx, const ad_node *root);

/* The variables, in order of first appearance; the index of a name, or -1. */
int ad_sym_var_count(const ad_sym_ctx *s);
const char *ad_sym_var_name(const ad_sym_ctx *s, int i);
int ad_sym_var_index(const ad_sym_ctx *s, const char *name);

/* ∂e/∂(variable var), simplified. NULL with a message on failure.
 * Differentiation, evaluation and printing use their own stacks, not the
 * call stack: an expression 10^6 deep is fine, in linear time. */
ad_sym *ad_sym_diff(ad_sym_ctx *s, const ad_sym *e, int var);

/* The value of e with variable i set to x[i] (n values). NaN outside the
 * domain (log of a negative...), as the math library gives. */
double ad_sym_eval(const ad_sym_ctx *s, const ad_sym *e, const double *x, int n);

/* e as text in the formula language ("2*x*cos(x^2)") that ad_expr_parse
 * reads back as the same function: the parser's precedence read backwards
 * ((x^y)^2 but x^y^2 = x^(y^2), -x^2 = -(x^2)), the fewest parentheses but
 * for a negative exponent's, x^(-2), and each number in as many digits as
 * it takes to read back as the same double (up to 17). Written complete or
 * not at all: returns the text's length (< len), or len when it does not
 * fit ("output exceeds len - 1 characters"), holds a constant that is not
 * finite, or a variable whose name the parser would not read back as it
 * ("x[0]", "pi"), with buf "" and the message in
 * ad_last_error(). The printer stops once buf is full, so a swollen
 * expression costs no more than len. */
size_t ad_sym_print(const ad_sym_ctx *s, const ad_sym *e, char *buf, size_t len);

/* Size written out as a tree (each repetition counted, saturating at
 * 1e300), and the number of distinct subexpressions. */
double ad_sym_tree_size(const ad_sym *e);
int64_t ad_sym_dag_size(const ad_sym_ctx *s, const ad_sym *e);

#ifdef __cplusplus
}
#endif
#endif
