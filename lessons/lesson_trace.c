/* lesson_trace.c: the step list behind the text and the HTML page (see
 * lesson_trace.h). The engine's tables are printed into memory and cut into
 * rows rather than re-formatted here: a row of the page is then the row of
 * the text, byte for byte, whatever the engine's format becomes. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "lesson_trace.h"

static bool on;
static lesson_step *steps;
static int n_steps, cap_steps;
static lesson_section *sections;
static int n_sections, cap_sections;

static void *grow(void *p, int *cap, int need, size_t size)
{
    if (need <= *cap) return p;
    int c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * size);
    if (!q) {
        fprintf(stderr, "lesson_trace: out of memory\n");
        exit(1);
    }
    *cap = c;
    return q;
}

static char *dup_or_die(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (!d) {
        fprintf(stderr, "lesson_trace: out of memory\n");
        exit(1);
    }
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *lesson_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc(k >= 0 ? (size_t)k + 1 : 1);
    if (!s || k < 0) {
        fprintf(stderr, "lesson_strf: out of memory\n");
        exit(1);
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)k + 1, fmt, ap);
    va_end(ap);
    return s;
}

void lesson_trace_enable(void) { on = true; }
bool lesson_trace_enabled(void) { return on; }

void lesson_trace_section(FILE *out, lesson_step_kind kind, const char *title, const char *header)
{
    if (out && header) fprintf(out, "%s\n", header);
    if (!on) return;
    sections = grow(sections, &cap_sections, n_sections + 1, sizeof *sections);
    sections[n_sections++] = (lesson_section){kind, dup_or_die(title, strlen(title)),
                                              header ? dup_or_die(header, strlen(header)) : NULL, false};
}

void lesson_trace_rows(FILE *out, uint32_t node, const lesson_edge *edges, int n_edges, const char *text)
{
    if (out) fputs(text, out);
    if (!on) return;
    if (n_sections == 0) lesson_trace_section(NULL, LESSON_FORWARD, "Steps", NULL);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        steps = grow(steps, &cap_steps, n_steps + 1, sizeof *steps);
        lesson_step *s = &steps[n_steps++];
        *s = (lesson_step){n_sections - 1, node, NULL, n_edges, dup_or_die(p, len)};
        if (n_edges > 0) {
            s->edges = malloc((size_t)n_edges * sizeof *edges);
            if (!s->edges) exit(1);
            memcpy(s->edges, edges, (size_t)n_edges * sizeof *edges);
        }
        p += len + (nl != NULL);
    }
}

void lesson_trace_from_graph(void)
{
    if (n_sections > 0) sections[n_sections - 1].from_graph = true;
}

const lesson_step *lesson_trace_steps(int *n)
{
    *n = n_steps;
    return steps;
}

const lesson_section *lesson_trace_sections(int *n)
{
    *n = n_sections;
    return sections;
}

void lesson_trace_clear(void)
{
    for (int i = 0; i < n_steps; i++) free(steps[i].edges), free(steps[i].text);
    for (int i = 0; i < n_sections; i++) free(sections[i].title), free(sections[i].header);
    free(steps), free(sections);
    steps = NULL, sections = NULL;
    n_steps = cap_steps = n_sections = cap_sections = 0;
}

/* A table the engine printed into memory, handed out row by row. */
typedef struct rows {
    char *text;
    size_t len;
    char *at;      /* the next row */
} rows;

/* The next row (with its '\n') copied, or NULL when none is left. */
static char *next_row(rows *r)
{
    if (!r->at || !*r->at) return NULL;
    char *nl = strchr(r->at, '\n');
    size_t len = nl ? (size_t)(nl - r->at) + 1 : strlen(r->at);
    char *row = dup_or_die(r->at, len);
    r->at += len;
    return row;
}

static ad_status mismatch(rows *r, const char *table)
{
    free(r->text);
    r->text = r->at = NULL;
    return ad_fail(AD_ERR_STATE, "lesson_trace: the %s's rows do not match its nodes", table);
}

/* The end of a table: no row may be left over. */
static ad_status finish(rows *r, const char *table)
{
    char *extra = next_row(r);
    free(extra);
    if (extra) return mismatch(r, table);
    free(r->text);
    return AD_OK;
}

/* Every input slot of n as edges (at most `max`). */
static int input_edges(const ad_node *n, lesson_edge *e, int max)
{
    int k = ad_node_input_count(n);
    if (k > max) k = max;
    for (int s = 0; s < k; s++) e[s] = (lesson_edge){ad_node_id(n), s};
    return k;
}

enum { MAX_EDGES = 64 };

/* One row per node with an op or a name, ids ascending: the order of
 * ad_explain_nodes and ad_explain_forward. */
static ad_status node_rows(FILE *out, const ad_context *ctx, const ad_node *root, rows *r, const char *table)
{
    for (uint32_t id = 0, last = ad_node_id(root); id <= last; id++) {
        const ad_node *n = ad_node_by_id(ctx, id);
        if (!n || (!ad_node_op(n) && !ad_node_name(n))) continue;
        char *row = next_row(r);
        if (!row) return mismatch(r, table);
        lesson_edge e[MAX_EDGES];
        lesson_trace_rows(out, id, e, input_edges(n, e, MAX_EDGES), row);
        free(row);
    }
    return finish(r, table);
}

static ad_status into_memory(rows *r, FILE **f)
{
    *r = (rows){0};
    *f = open_memstream(&r->text, &r->len);
    return *f ? AD_OK : ad_fail(AD_ERR_NOMEM, "lesson_trace: open_memstream failed");
}

ad_status lesson_trace_nodes(FILE *out, const ad_context *ctx, const ad_node *root)
{
    rows r;
    FILE *f;
    if (into_memory(&r, &f) != AD_OK) return ad_last_status();
    ad_status st = ad_explain_nodes(f, ctx, root);
    fclose(f);
    r.at = r.text;
    if (st != AD_OK) return free(r.text), st;
    lesson_trace_section(NULL, LESSON_FORWARD, "Forward pass", NULL);
    return node_rows(out, ctx, root, &r, "node table");
}

ad_status lesson_trace_forward(FILE *out, const ad_context *ctx, const ad_node *root, const char *const *dir_names)
{
    rows r;
    FILE *f;
    if (into_memory(&r, &f) != AD_OK) return ad_last_status();
    ad_status st = ad_explain_forward(f, ctx, root, dir_names);
    fclose(f);
    r.at = r.text;
    if (st != AD_OK) return free(r.text), st;
    char *header = next_row(&r);   /* "step node value ∂·/∂x ...": the page's column header */
    if (!header) return mismatch(&r, "forward-mode table");
    header[strcspn(header, "\n")] = '\0';
    lesson_trace_section(out, LESSON_TANGENT, "Forward mode", header);
    free(header);
    return node_rows(out, ctx, root, &r, "forward-mode table");
}

/* The engine's backward pass, contribution by contribution (its hook). */
typedef struct contributions {
    ad_backward_step *s;
    int n, cap;
} contributions;

static void note(const ad_backward_step *st, void *user)
{
    contributions *c = user;
    c->s = grow(c->s, &c->cap, c->n + 1, sizeof *c->s);
    c->s[c->n++] = *st;
}

static int by_input_desc(const void *a, const void *b)
{
    uint32_t x = ad_node_id(((const ad_backward_step *)a)->input), y = ad_node_id(((const ad_backward_step *)b)->input);
    return (x < y) - (x > y);
}

ad_status lesson_trace_reverse(FILE *out, ad_context *ctx, ad_node *root, ad_backward_variant variant)
{
    /* The pass once with the hook, for the order; then the engine's table
     * (it zeroes the grads and runs the same pass again). */
    contributions c = {0};
    ad_zero_grad(ctx);
    ad_backward_opts o = {.variant = variant, .hook = note, .hook_user = &c};
    ad_status st = ad_backward_ex(ctx, root, &o);
    rows r = {0};
    FILE *f = NULL;
    if (st == AD_OK) st = into_memory(&r, &f);
    if (st == AD_OK) {
        st = ad_explain_reverse(f, ctx, root, variant);
        fclose(f);
        r.at = r.text;
    }
    if (st != AD_OK) return free(c.s), free(r.text), st;
    lesson_trace_section(NULL, LESSON_REVERSE, variant == AD_BACKWARD_PULL ? "Reverse mode, Version A" : "Reverse mode, Version B",
                         NULL);
    char *row = next_row(&r);   /* 0'. the seed */
    if (row) lesson_trace_rows(out, ad_node_id(root), NULL, 0, row);
    free(row);
    if (variant == AD_BACKWARD_PULL) {
        /* Version A: two rows per adjoint (its sum, then its numbers), ids descending */
        qsort(c.s, (size_t)c.n, sizeof *c.s, by_input_desc);
        for (int i = 0; i < c.n;) {
            lesson_edge e[MAX_EDGES];
            int k = 0, j = i;
            for (; j < c.n && ad_node_id(c.s[j].input) == ad_node_id(c.s[i].input); j++)
                if (k < MAX_EDGES) e[k++] = (lesson_edge){ad_node_id(c.s[j].consumer), c.s[j].slot};
            for (int line = 0; line < 2; line++) {
                if (!(row = next_row(&r))) return free(c.s), mismatch(&r, "reverse-mode table");
                lesson_trace_rows(out, ad_node_id(c.s[i].input), e, k, row);
                free(row);
            }
            i = j;
        }
    } else {
        for (int i = 0; i < c.n; i++) {   /* Version B: one row per increment, as the engine pushes it */
            if (!(row = next_row(&r))) return free(c.s), mismatch(&r, "reverse-mode table");
            lesson_edge e = {ad_node_id(c.s[i].consumer), c.s[i].slot};
            lesson_trace_rows(out, ad_node_id(c.s[i].input), &e, 1, row);
            free(row);
        }
    }
    free(c.s);
    return finish(&r, "reverse-mode table");
}
