/* ad_dot.h: the graph as a Graphviz DOT picture (engine/teach/dot.c). */
#ifndef AD_DOT_H
#define AD_DOT_H

#include <stdio.h>
#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write the graph of nodes reachable from root (all nodes if root NULL) in
 * Graphviz DOT: each node with its name, op, value, grad and tangent. */
ad_status ad_dot_write(const ad_context *ctx, const ad_node *root, FILE *f);
ad_status ad_dot_save(const ad_context *ctx, const ad_node *root, const char *path);

#ifdef __cplusplus
}
#endif
#endif
