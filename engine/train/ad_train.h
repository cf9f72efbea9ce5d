/* ad_train.h: training pieces: optimizers over a list of parameters (leaf
 * variables), and shuffled minibatches. A run with the same seed on the CPU
 * is reproducible bit for bit: every random draw comes from one seeded GSL
 * generator, and every reduction runs in a fixed order. */
#ifndef AD_TRAIN_H
#define AD_TRAIN_H

#include <gsl/gsl_rng.h>
#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ad_optimizer ad_optimizer;

/* SGD with momentum (PyTorch's form: v = μ·v + g, p -= lr·v; μ = 0 is plain SGD). */
ad_optimizer *ad_sgd_new(ad_node *const *params, int n, double lr, double momentum);
/* Adam (Kingma & Ba): m = β₁m + (1-β₁)g, v = β₂v + (1-β₂)g², p -= lr·m̂/(√v̂ + ε). */
ad_optimizer *ad_adam_new(ad_node *const *params, int n, double lr, double beta1, double beta2, double eps);
/* AdamW (Loshchilov & Hutter, as PyTorch's AdamW): Adam, with the weight
 * decay decoupled from the gradient: w ← w·(1 - lr·λ) before each step. */
ad_optimizer *ad_adamw_new(ad_node *const *params, int n, double lr, double beta1, double beta2, double eps,
                           double weight_decay);
/* Weight decay λ >= 0 (default 0): for SGD and Adam, the L2 term λ·w added
 * to each gradient (the gradient of λ/2·‖w‖²; PyTorch's weight_decay); for
 * AdamW, the decoupled decay. ad_optim_math.h has the formulas. */
ad_status ad_optimizer_set_weight_decay(ad_optimizer *o, double weight_decay);
/* One update from the parameters' grads. */
ad_status ad_optimizer_step(ad_optimizer *o);
/* Zero the parameters' grads (before the next backward). */
void ad_optimizer_zero_grad(ad_optimizer *o);
void ad_optimizer_set_lr(ad_optimizer *o, double lr);
void ad_optimizer_free(ad_optimizer *o);

/* A random permutation of 0..n-1 into idx (Fisher-Yates with rng). */
void ad_shuffle(int64_t *idx, int64_t n, gsl_rng *rng);
/* Rows idx[0..count) of src (along its first axis) into dst, whose first
 * axis has count rows and whose other axes match src's. */
ad_status ad_gather_rows(const ad_tensor *src, const int64_t *idx, int64_t count, ad_tensor *dst);

#ifdef __cplusplus
}
#endif
#endif
