/* formula_hessian.h: the formula command's second derivatives (--hessian). */
#ifndef FORMULA_HESSIAN_H
#define FORMULA_HESSIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <cJSON.h>
#include "autodidact.h"

/* e's text into buf (size bytes), complete: false, with the error naming f,
 * ∂f/∂var (var) or ∂²f/∂var (var "x∂y"), when it does not fit or cannot be
 * written. */
bool formula_sym_text(const ad_sym_ctx *s, const ad_sym *e, const char *var, int order, char *buf, size_t size);

/* --hessian: ∇²f at x (nv variables named names), column j one
 * Hessian-vector product with v = e_j (ad_hvp), printed beside the 4-point
 * differences of the gradient and checked against them and for symmetry;
 * with `symbolic`, each ∂²f/∂x_i∂x_j as a formula too. Entries whose
 * variables pass through a kink (bit i of kink_mask) are shown, not
 * judged. doc: JSON instead of text. AD_ERR_ARG (the message says where)
 * on a mismatch. */
ad_status formula_hessian(const ad_expr *e, const char *const *names, const double *x, int nv, unsigned kink_mask,
                          bool symbolic, cJSON *doc);

#endif
