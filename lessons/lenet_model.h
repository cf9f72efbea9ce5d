/* lenet_model.h: LeNet-5 in its modern form, shared by the lenet and
 * cheap_gradient lessons: conv 6@5×5 pad 2, ReLU, max-pool 2, conv 16@5×5,
 * ReLU, max-pool 2, FC 120, ReLU, FC 84, ReLU, FC 10; float32. */
#ifndef LENET_MODEL_H
#define LENET_MODEL_H

#include <gsl/gsl_rng.h>
#include "autodidact.h"

enum { N_PARAMS = 10 };
typedef struct lenet {
    ad_node *p[N_PARAMS];   /* conv1 w b, conv2 w b, fc1 w b, fc2 w b, fc3 w b */
} lenet;

/* The parameters, He-initialised from rng, as variables of ctx. */
bool lenet_init(lenet *m, ad_context *ctx, gsl_rng *rng);
/* x (B,1,28,28) -> logits (B,10) */
ad_node *lenet_forward(const lenet *m, ad_context *ctx, ad_node *x);

#endif
