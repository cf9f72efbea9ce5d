/* lesson_html.h: --html FILE, one self-contained page (inline SVG, CSS and
 * a little JavaScript; nothing fetched, nothing rendered by Graphviz) that
 * draws the graph layered by topological depth and steps through the rows
 * the trace recorded (lesson_trace.h): the forward pass, the forward-mode
 * table, the reverse pass. Every number comes from the engine's node data
 * or from the recorded rows, printed through cJSON as --json prints it. */
#ifndef LESSON_HTML_H
#define LESSON_HTML_H

#include "autodidact.h"

/* A graph of more nodes than this is drawn one box per depth (a layer),
 * with a note in the page saying so. */
enum { LESSON_HTML_MAX_NODES = 300 };

/* A node as the rows and the page name it (malloc'd): ad_explain's name
 * for a scalar (its ad_set_name string, a constant's value, n<id>); a
 * tensor's name or n<id>. */
char *lesson_html_label(const ad_node *n);

/* Where the lesson printed no rows of its own for a part (a tensor lesson
 * prints no node table), add the graph's own to the trace: the forward pass
 * node by node, and the reverse pass in `variant`'s order when root has a
 * gradient. Scalars show their values; tensors their shapes. */
void lesson_html_fill_steps(const ad_context *ctx, const ad_node *root, ad_backward_variant variant);

/* Write the page for the graph up to root with the trace's steps. On
 * failure returns the status with ad_last_error() naming path and why. */
ad_status lesson_html_write(const char *path, const char *title, const ad_context *ctx, const ad_node *root);

#endif
