/* lesson_trace.h: the steps a lesson prints, recorded once. Each row of
 * the forward pass, of the forward-mode table and of the reverse-mode steps
 * goes through here: it is printed (unless the output is off) and, when
 * recording is on (--html), kept with the node it is about and the edges it
 * uses, so that the HTML page (lesson_html.h) shows the very lines the text
 * shows, in the same order, and cannot drift from them. */
#ifndef LESSON_TRACE_H
#define LESSON_TRACE_H

#include <stdbool.h>
#include <stdio.h>
#include "autodidact.h"

typedef enum { LESSON_FORWARD, LESSON_TANGENT, LESSON_REVERSE } lesson_step_kind;

/* An edge of the graph: consumer's input `slot` (the arrow input -> consumer). */
typedef struct lesson_edge {
    uint32_t consumer;
    int slot;
} lesson_edge;

/* One row of the text: the node it is about (UINT32_MAX: none) and the
 * edges it reads, in the section it belongs to. */
typedef struct lesson_step {
    int section;
    uint32_t node;
    lesson_edge *edges;
    int n_edges;
    char *text;          /* the row as printed, without its newline */
} lesson_step;

typedef struct lesson_section {
    lesson_step_kind kind;
    char *title;         /* "Forward pass", "Reverse mode, Version B" ... */
    char *header;        /* a column header row printed above the steps, or NULL */
    bool from_graph;     /* rows the text does not print, made from the graph (lesson_html_fill_steps) */
} lesson_section;

/* Recording is off until this is called (--html turns it on): a lesson
 * without --html keeps nothing. */
void lesson_trace_enable(void);
bool lesson_trace_enabled(void);

/* Start a section; header (may be NULL) is printed to out (NULL: not
 * printed) and kept. */
void lesson_trace_section(FILE *out, lesson_step_kind kind, const char *title, const char *header);

/* Mark the last section as made from the graph, not printed. */
void lesson_trace_from_graph(void);

/* Print text (one or more rows, each ending in '\n') to out (NULL: not
 * printed) and record each row as a step about `node` using edges[0..n). */
void lesson_trace_rows(FILE *out, uint32_t node, const lesson_edge *edges, int n_edges, const char *text);

/* The engine's tables (ad_explain_nodes, ad_explain_forward,
 * ad_explain_reverse) written through the trace: the engine prints them
 * into memory, and each row is matched with the node it is about (the
 * tables' own order: ids ascending, the nodes with an op or a name; the
 * reverse pass's order from the engine's backward hook). The text goes to
 * out byte for byte. AD_ERR_STATE if the rows do not match the nodes. */
ad_status lesson_trace_nodes(FILE *out, const ad_context *ctx, const ad_node *root);
ad_status lesson_trace_forward(FILE *out, const ad_context *ctx, const ad_node *root, const char *const *dir_names);
ad_status lesson_trace_reverse(FILE *out, ad_context *ctx, ad_node *root, ad_backward_variant variant);

/* What was recorded. */
const lesson_step *lesson_trace_steps(int *n);
const lesson_section *lesson_trace_sections(int *n);

/* Forget everything recorded (recording stays as it was). */
void lesson_trace_clear(void);

/* A string printf'd into memory of its own (free it); exits 1 when out of memory. */
char *lesson_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
