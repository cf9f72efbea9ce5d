/* ad_ops.h: the elementwise ops as calls. Each returns a new node, or NULL
 * with a message (ad_last_error) naming the op and the shapes. A NULL input
 * gives NULL and keeps the earlier message, so errors can be checked once
 * at the end of an expression. Binary ops broadcast numpy-style. */
#ifndef AD_OPS_H
#define AD_OPS_H

#include "ad_op.h"
#include "ad_op_builtin.h"   /* the built-in ops: enum ad_op_id, ad_op_add ... */

#ifdef __cplusplus
extern "C" {
#endif

ad_node *ad_add(ad_context *ctx, ad_node *a, ad_node *b);
ad_node *ad_sub(ad_context *ctx, ad_node *a, ad_node *b);
ad_node *ad_mul(ad_context *ctx, ad_node *a, ad_node *b);
ad_node *ad_div(ad_context *ctx, ad_node *a, ad_node *b);
/* max/min: at a tie the whole gradient goes to a (a valid subgradient;
 * PyTorch splits it: convention tie-first). A NaN in either input, in
 * either order, gives NaN, and both inputs then pass the gradient on. */
ad_node *ad_max(ad_context *ctx, ad_node *a, ad_node *b);
ad_node *ad_min(ad_context *ctx, ad_node *a, ad_node *b);

ad_node *ad_neg(ad_context *ctx, ad_node *x);
ad_node *ad_pow(ad_context *ctx, ad_node *x, double c);    /* x^c, c constant */
ad_node *ad_scale(ad_context *ctx, ad_node *x, double c);  /* c*x, c constant */
ad_node *ad_exp(ad_context *ctx, ad_node *x);
ad_node *ad_log(ad_context *ctx, ad_node *x);
ad_node *ad_sqrt(ad_context *ctx, ad_node *x);
ad_node *ad_sin(ad_context *ctx, ad_node *x);
ad_node *ad_cos(ad_context *ctx, ad_node *x);
ad_node *ad_tanh(ad_context *ctx, ad_node *x);
ad_node *ad_sigmoid(ad_context *ctx, ad_node *x);
ad_node *ad_relu(ad_context *ctx, ad_node *x);             /* relu'(0) = 0; relu(NaN) = NaN */
ad_node *ad_abs(ad_context *ctx, ad_node *x);              /* abs'(0) = 0 */

#ifdef __cplusplus
}
#endif
#endif
