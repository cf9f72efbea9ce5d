/* autodidact.h: everything, for programs that use the engine. */
#ifndef AUTODIDACT_H
#define AUTODIDACT_H

#include "ad_version.h"
#include "ad_error.h"
#include "ad_tensor.h"
#include "ad_graph.h"
#include "ad_op.h"
#include "ad_ops.h"
#include "ad_nn.h"
#include "ad_explain.h"
#include "ad_dot.h"
#include "ad_expr.h"
#include "ad_symbolic.h"
#include "ad_data.h"
#include "ad_train.h"
#include "ad_parallel.h"
#include "ad_gpu.h"

#endif
