/* ad_nn.h: the tensor ops for neural networks. Each returns a new node, or
 * NULL with a message naming the op and the shapes. float64 and float32. */
#ifndef AD_NN_H
#define AD_NN_H

#include "ad_op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a (M,K) · b (K,N) -> (M,N), through CBLAS; as torch.matmul also a 1-D a
 * (K) or b (K) (the unit dim dropped; two vectors give their dot product) and
 * batches: a (..., M,K) · b (..., K,N) -> (..., M,N), the batch dims
 * broadcast ((2,3,4)·(4,5) -> (2,3,5)). */
ad_node *ad_matmul(ad_context *ctx, ad_node *a, ad_node *b);
/* x (..., I), w (O,I), b (O) or NULL -> x·wᵀ + b (..., O): (N,I) -> (N,O),
 * a vector (I) -> (O), a batch (B,T,I) -> (B,T,O). */
ad_node *ad_linear(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b);
/* Sum / mean over one axis, counted as in NumPy (0..ndim-1, or -1 the last
 * down to -ndim the first), or over all (AD_ALL_AXES -> a scalar):
 * PyTorch's x.sum(-1) is ad_sum(ctx, x, -1, false), x.sum() is
 * ad_sum(ctx, x, AD_ALL_AXES, false). */
ad_node *ad_sum(ad_context *ctx, ad_node *x, int axis, bool keepdim);
ad_node *ad_mean(ad_context *ctx, ad_node *x, int axis, bool keepdim);
/* Same elements, new shape; one dimension may be -1, inferred from the
 * size as in NumPy/PyTorch. flatten: (N, ...) -> (N, rest). */
ad_node *ad_reshape(ad_context *ctx, ad_node *x, int ndim, const int64_t *shape);
ad_node *ad_flatten(ad_context *ctx, ad_node *x);
/* Permute the axes: output axis i is input axis perm[i] (negative from the
 * end, as torch.permute: (-1, 0) swaps a matrix's axes). */
ad_node *ad_transpose(ad_context *ctx, ad_node *x, const int *perm);
/* Stable softmax / log-softmax along an axis (negative from the end). */
ad_node *ad_softmax(ad_context *ctx, ad_node *x, int axis);
ad_node *ad_log_softmax(ad_context *ctx, ad_node *x, int axis);
/* Cross-entropy from logits (N,C) and targets (N) holding class indices
 * (a constant node); class_weights (C) or NULL; reduction AD_REDUCE_MEAN
 * (weighted mean over the targets not ignored, as PyTorch) or
 * AD_REDUCE_SUM; ignore_index -1 for none. -> a scalar. */
ad_node *ad_cross_entropy(ad_context *ctx, ad_node *logits, ad_node *targets, ad_node *class_weights, int reduction,
                          int64_t ignore_index);
/* x (N,C,H,W), w (K,C,R,S), b (K) or NULL -> (N,K,P,Q), P = (H + 2·pad - R)/stride + 1;
 * cross-correlation as in PyTorch; im2col + GEMM. */
ad_node *ad_conv2d(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, int stride, int padding);
ad_node *ad_conv2d_ex(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, const int stride[2], const int pad[2]);
/* relu(ad_conv2d(...)) as one op: the same values and gradients as the two
 * ops, in one pass over the output instead of three. */
ad_node *ad_conv2d_relu(ad_context *ctx, ad_node *x, ad_node *w, ad_node *b, int stride, int padding);
/* (N,C,H,W) -> (N,C,P,Q), P = (H - window)/stride + 1. Max-pool: at a tie
 * the first maximum in row-major window order takes the gradient. */
ad_node *ad_maxpool2d(ad_context *ctx, ad_node *x, int window, int stride);
ad_node *ad_avgpool2d(ad_context *ctx, ad_node *x, int window, int stride);
/* mean((pred - target)²) -> a scalar; pred and target broadcast numpy-style
 * (a (N,C) prediction against a (C) target), the mean over the broadcast. */
ad_node *ad_mse(ad_context *ctx, ad_node *pred, ad_node *target);

#ifdef __cplusplus
}
#endif
#endif
