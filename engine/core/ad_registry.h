/* ad_registry.h: the table of ops every tool iterates (gradcheck, the DOT
 * export, the autograder): the built-in ones (ops/, listed in
 * ops/ad_op_list.h; their enum and symbols are in ad_op_builtin.h, included
 * by ad_ops.h), then those registered at run time. The table itself is
 * ops/registry.c: the engine defines what an op is, ops/ fills the table. */
#ifndef AD_REGISTRY_H
#define AD_REGISTRY_H

#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Built-in ops and registered ones, in order. */
int ad_op_count(void);
const ad_op *ad_op_at(int i);
const ad_op *ad_op_find(const char *name);
/* Register an op at run time (a student's, a test's deliberately wrong one).
 * The op must outlive its use. Fails if the name is taken or the op is
 * malformed (no name, no forward). */
ad_status ad_op_register(const ad_op *op);
ad_status ad_op_unregister(const ad_op *op);

/* Where the engine and PyTorch differ on purpose (ops/conventions.c):
 * `gradcheck --list` prints them, tests/conformance.py checks each. */
typedef struct ad_convention {
    const char *name;   /* "tie-first" */
    const char *ops;    /* "max, min" */
    const char *text;   /* what the engine does, and what PyTorch does */
} ad_convention;
extern const ad_convention ad_conventions[];
extern const int ad_n_conventions;

#ifdef __cplusplus
}
#endif
#endif
