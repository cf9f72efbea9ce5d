/* lesson_html.c: the --html page (lesson_html.h). The layout is done here
 * in C, so that the page reads with JavaScript off: the SVG, the table of
 * steps and the data are all written by this file; the script only moves
 * the highlight (reading each step's line from its row of the table). Every
 * text lands escaped for where it lands: HTML text and
 * attributes through put_html, the data block through put_script_json
 * (whose '<' becomes \u003c, so "</script>" in a name cannot end it). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lesson_html.h"
#include "lesson_html_assets.h"   /* lesson_html_css, lesson_html_js: made from html/page.css and html/page.js */
#include "lesson_trace.h"

/* MAX_BANDS: a collapsed graph's boxes at most (a chain of 1,000 nodes has
 * 1,000 layers: they are banded, consecutive layers per box). */
/* TOP: room above the first row for the arcs of edges that skip a layer. */
enum { BOX_W = 130, BOX_H = 46, GAP_X = 50, GAP_Y = 22, PAD = 20, TOP = 50, LABEL_COLS = 15, MAX_VALUES = 256,
       GROUPS_PER_ROW = 8, MAX_BANDS = 48 };

typedef struct hnode {
    const ad_node *n;
    uint32_t id;
    int depth, row, v;   /* v: the box that shows it (itself, or its band of layers when collapsed) */
} hnode;

typedef struct hedge {
    uint32_t from, to;
    int slot, v;
} hedge;

typedef struct page {
    const ad_context *ctx;
    const ad_node *root;
    hnode *nodes;
    int n_nodes;
    int *index;          /* node id -> its index in nodes, or -1 */
    hedge *edges;
    int n_edges;
    int *first_edge;     /* node index -> its first edge as a consumer (edges are made in that order) */
    int depth_max, rows_max;
    bool collapsed;
    int n_boxes, n_vedges;
    hedge *vedges;       /* the drawn arrows (box to box); an edge inside one band has none (v -1) */
} page;

/* Text for HTML, in element content or a quoted attribute alike. */
static void put_html(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* JSON inside <script>: '<', '>' and '&' only occur inside JSON strings,
 * where \u003c, \u003e and \u0026 mean the same characters; written so,
 * no "</script>" or "<!--" can appear in the block. */
static void put_script_json(FILE *f, const char *json)
{
    for (; *json; json++) {
        if (*json == '<') fputs("\\u003c", f);
        else if (*json == '>') fputs("\\u003e", f);
        else if (*json == '&') fputs("\\u0026", f);
        else fputc(*json, f);
    }
}

/* A label cut to `cols` code points ("…" added), for a box; the whole
 * name is in the box's tooltip and the table. */
static char *cut(const char *s, int cols)
{
    const char *p = s;
    for (int c = 0; *p && c < cols; c++)
        for (p++; ((unsigned char)*p & 0xC0) == 0x80; p++) {}
    return *p ? lesson_strf("%.*s…", (int)(p - s), s) : lesson_strf("%s", s);
}


static void *alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "lesson_html: out of memory\n");
        exit(1);
    }
    return p;
}

/* The nodes root depends on (but unnamed scalar constants), their edges, and each
 * one's depth: 0 for a leaf, else one more than its deepest input. */
static void build(page *pg)
{
    uint32_t last = ad_node_id(pg->root);
    bool *reach = alloc((size_t)last + 1, sizeof *reach);
    reach[last] = true;
    for (uint32_t id = last + 1; id-- > 0;) {
        const ad_node *n = ad_node_by_id(pg->ctx, id);
        if (reach[id] && n)
            for (int s = 0; s < ad_node_input_count(n); s++) reach[ad_node_id(ad_node_input(n, s))] = true;
    }
    pg->index = alloc((size_t)last + 1, sizeof *pg->index);
    pg->nodes = alloc((size_t)last + 1, sizeof *pg->nodes);
    pg->first_edge = alloc((size_t)last + 2, sizeof *pg->first_edge);
    int n_edges_max = 0;
    for (uint32_t id = 0; id <= last; id++) {
        const ad_node *n = ad_node_by_id(pg->ctx, id);
        pg->index[id] = -1;
        /* an unnamed scalar constant is not drawn: it shows inside expressions, as the tables do */
        if (!reach[id] || !n || (!ad_node_op(n) && !ad_node_name(n) && !ad_requires_grad(n) && ad_value(n).size == 1))
            continue;
        pg->index[id] = pg->n_nodes;
        pg->nodes[pg->n_nodes++] = (hnode){n, id, 0, 0, 0};
        n_edges_max += ad_node_input_count(n);
    }
    free(reach);
    pg->edges = alloc((size_t)n_edges_max, sizeof *pg->edges);
    int *rows = alloc((size_t)pg->n_nodes + 1, sizeof *rows);
    for (int i = 0; i < pg->n_nodes; i++) {
        hnode *h = &pg->nodes[i];
        pg->first_edge[i] = pg->n_edges;
        for (int s = 0; s < ad_node_input_count(h->n); s++) {
            int j = pg->index[ad_node_id(ad_node_input(h->n, s))];
            if (j < 0) continue;   /* an unnamed constant: not drawn */
            pg->edges[pg->n_edges++] = (hedge){pg->nodes[j].id, h->id, s, 0};
            if (pg->nodes[j].depth + 1 > h->depth) h->depth = pg->nodes[j].depth + 1;
        }
    }
    pg->first_edge[pg->n_nodes] = pg->n_edges;
    /* An input sits just before its nearest consumer (y beside a, not beside x, in y·log x): its
     * edge there skips no layer. Moving it leaves every other depth as it is (each consumer is deeper). */
    int *nearest = alloc((size_t)pg->n_nodes, sizeof *nearest);
    for (int i = 0; i < pg->n_nodes; i++) nearest[i] = -1;
    for (int k = 0; k < pg->n_edges; k++) {
        int from = pg->index[pg->edges[k].from], to_depth = pg->nodes[pg->index[pg->edges[k].to]].depth;
        if (nearest[from] < 0 || to_depth < nearest[from]) nearest[from] = to_depth;
    }
    for (int i = 0; i < pg->n_nodes; i++)
        if (pg->first_edge[i] == pg->first_edge[i + 1] && nearest[i] > 0) pg->nodes[i].depth = nearest[i] - 1;
    free(nearest);
    for (int i = 0; i < pg->n_nodes; i++) {
        hnode *h = &pg->nodes[i];
        h->row = rows[h->depth]++;
        if (h->depth > pg->depth_max) pg->depth_max = h->depth;
        if (rows[h->depth] > pg->rows_max) pg->rows_max = rows[h->depth];
    }
    free(rows);
    /* What is drawn: every node and edge, or one box per band of consecutive
     * layers and one arrow per pair of bands. */
    pg->collapsed = pg->n_nodes > LESSON_HTML_MAX_NODES;
    pg->vedges = alloc((size_t)pg->n_edges, sizeof *pg->vedges);
    int layers = pg->depth_max + 1;
    pg->n_boxes = !pg->collapsed ? pg->n_nodes : layers < MAX_BANDS ? layers : MAX_BANDS;
    for (int i = 0; i < pg->n_nodes; i++)
        pg->nodes[i].v = pg->collapsed ? (int)((int64_t)pg->nodes[i].depth * pg->n_boxes / layers) : i;
    for (int k = 0; k < pg->n_edges; k++) {
        hedge *e = &pg->edges[k];
        if (!pg->collapsed) {
            e->v = k;
            pg->vedges[pg->n_vedges++] = (hedge){e->from, e->to, e->slot, k};
            continue;
        }
        uint32_t a = (uint32_t)pg->nodes[pg->index[e->from]].v, b = (uint32_t)pg->nodes[pg->index[e->to]].v;
        e->v = -1;
        if (a == b) continue;
        int v = 0;
        while (v < pg->n_vedges && !(pg->vedges[v].from == a && pg->vedges[v].to == b)) v++;
        if (v == pg->n_vedges) pg->vedges[pg->n_vedges++] = (hedge){a, b, 0, v};
        e->v = v;
    }
}

/* A box's top-left corner: by depth and row; when collapsed, the bands
 * wrap in rows of GROUPS_PER_ROW. */
static void box_at(const page *pg, int v, int *x, int *y)
{
    if (pg->collapsed) {
        *x = PAD + (v % GROUPS_PER_ROW) * (BOX_W + GAP_X);
        *y = PAD + (v / GROUPS_PER_ROW) * (BOX_H + 2 * GAP_Y);
    } else {
        *x = PAD + pg->nodes[v].depth * (BOX_W + GAP_X);
        *y = TOP + pg->nodes[v].row * (BOX_H + GAP_Y);
    }
}

static int box_of_node(const page *pg, uint32_t id) { return pg->nodes[pg->index[id]].v; }

static void put_svg(FILE *f, const page *pg)
{
    int w, h;
    if (pg->collapsed) {
        int cols = pg->n_boxes < GROUPS_PER_ROW ? pg->n_boxes : GROUPS_PER_ROW;
        w = 2 * PAD + cols * (BOX_W + GAP_X) - GAP_X;
        h = 2 * PAD + ((pg->n_boxes + GROUPS_PER_ROW - 1) / GROUPS_PER_ROW) * (BOX_H + 2 * GAP_Y) - 2 * GAP_Y;
    } else {
        w = 2 * PAD + (pg->depth_max + 1) * (BOX_W + GAP_X) - GAP_X;
        h = TOP + PAD + pg->rows_max * (BOX_H + GAP_Y) - GAP_Y;
    }
    fprintf(f, "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
               "role=\"img\" aria-label=\"the computation graph, inputs on the left\">\n"
               "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" "
               "markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\"/></marker></defs>\n",
            w, h, w, h);
    for (int k = 0; k < pg->n_vedges; k++) {
        const hedge *e = &pg->vedges[k];
        int a = pg->collapsed ? (int)e->from : box_of_node(pg, e->from), b = pg->collapsed ? (int)e->to : box_of_node(pg, e->to);
        int x1, y1, x2, y2;
        box_at(pg, a, &x1, &y1);
        box_at(pg, b, &x2, &y2);
        x1 += BOX_W, y1 += BOX_H / 2, y2 += BOX_H / 2;
        /* an edge over a layer or more: an arc above the boxes between, not a line through them */
        int lift = !pg->collapsed && x2 - x1 > GAP_X ? TOP + 8 : 0;
        fprintf(f, "<path class=\"edge\" id=\"e%d\" marker-end=\"url(#arrow)\" d=\"M%d,%d C%d,%d %d,%d %d,%d\"/>\n", k, x1, y1,
                x1 + GAP_X, y1 - lift, x2 - GAP_X, y2 - lift, x2, y2);
    }
    for (int v = 0; v < pg->n_boxes; v++) {
        int x, y;
        box_at(pg, v, &x, &y);
        char *title, *sub;
        const ad_node *n = NULL;
        if (pg->collapsed) {
            int count = 0, lo = -1, hi = -1;
            for (int i = 0; i < pg->n_nodes; i++)
                if (pg->nodes[i].v == v) {
                    count++;
                    if (lo < 0 || pg->nodes[i].depth < lo) lo = pg->nodes[i].depth;
                    if (pg->nodes[i].depth > hi) hi = pg->nodes[i].depth;
                }
            title = lo == hi ? lesson_strf("layer %d", lo) : lesson_strf("layers %d–%d", lo, hi);
            sub = lesson_strf("%d node%s", count, count == 1 ? "" : "s");
        } else {
            n = pg->nodes[v].n;
            title = lesson_html_label(n);
            ad_tensor t = ad_value(n);
            char sh[64];
            sub = t.size == 1 ? lesson_strf("%s", ad_node_op_name(n))
                              : lesson_strf("%s %s", ad_node_op_name(n), ad_shape_str(&t, sh, sizeof sh));
        }
        char *shown = cut(title, LABEL_COLS);
        fprintf(f, "<g class=\"node%s\" id=\"v%d\" data-name=\"", n && !ad_node_op(n) ? " leaf" : "", v);
        put_html(f, title);
        fprintf(f, "\" tabindex=\"0\"><title>");
        put_html(f, title);
        fprintf(f, "</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\"/><text x=\"%d\" y=\"%d\" "
                   "class=\"name\">",
                x, y, BOX_W, BOX_H, x + BOX_W / 2, y + 19);
        put_html(f, shown);
        fprintf(f, "</text><text x=\"%d\" y=\"%d\" class=\"sub\">", x + BOX_W / 2, y + 37);
        put_html(f, sub);
        fputs("</text></g>\n", f);
        free(title), free(sub), free(shown);
    }
    fputs("</svg>\n", f);
}

/* A node's values (and grads, tangents) as --json writes them: cJSON
 * numbers from the engine's doubles. At most MAX_VALUES of a tensor. */
static void add_values(cJSON *o, const char *key, const ad_node *n, double (*at)(const ad_node *, int64_t))
{
    int64_t size = ad_value(n).size, k = size < MAX_VALUES ? size : MAX_VALUES;
    if (size == 1) {
        cJSON_AddNumberToObject(o, key, at(n, 0));
        return;
    }
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int64_t i = 0; i < k; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(at(n, i)));
}

static cJSON *node_json(const page *pg, const hnode *h)
{
    const ad_node *n = h->n;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", h->id);
    cJSON_AddNumberToObject(o, "v", h->v);
    char *name = lesson_html_label(n);
    cJSON_AddStringToObject(o, "name", name);
    free(name);
    if (pg->collapsed) return o;   /* a page of thousands of nodes: names only */
    cJSON_AddStringToObject(o, "op", ad_node_op_name(n));
    ad_tensor t = ad_value(n);
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < t.ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t.shape[d]));
    cJSON_AddNumberToObject(o, "size", (double)t.size);
    if (t.size == 1) {
        char *expr = ad_explain_expr_alloc(n);
        if (expr) cJSON_AddStringToObject(o, "expr", expr);
        free(expr);
    }
    add_values(o, "value", n, ad_value_at);
    if (ad_grad(n).data) add_values(o, "grad", n, ad_grad_at);
    int k = ad_forward_dir_count(pg->ctx);
    if (k > 0 && t.size == 1 && ad_has_tangent(n)) {
        cJSON *tg = cJSON_AddArrayToObject(o, "tangent");
        for (int d = 0; d < k; d++) cJSON_AddItemToArray(tg, cJSON_CreateNumber(ad_tangent_at(n, d, 0)));
    }
    return o;
}

static const char *kind_name(lesson_step_kind k)
{
    return k == LESSON_FORWARD ? "forward" : k == LESSON_TANGENT ? "tangent" : "reverse";
}

/* The sections in the page's order (forward pass, forward mode, reverse
 * mode; within a kind, as recorded). */
static int *section_order(const lesson_section *sec, int n)
{
    int *order = alloc((size_t)n, sizeof *order), k = 0;
    for (int kind = LESSON_FORWARD; kind <= LESSON_REVERSE; kind++)
        for (int i = 0; i < n; i++)
            if ((int)sec[i].kind == kind) order[k++] = i;
    return order;
}

/* The data block: nodes, edges, sections, steps. */
static char *data_json(const page *pg, const char *title)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "title", title);
    cJSON_AddBoolToObject(doc, "collapsed", pg->collapsed);
    cJSON *nodes = cJSON_AddArrayToObject(doc, "nodes"), *edges = cJSON_AddArrayToObject(doc, "edges");
    for (int i = 0; i < pg->n_nodes; i++) cJSON_AddItemToArray(nodes, node_json(pg, &pg->nodes[i]));
    for (int k = 0; k < pg->n_edges; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "from", pg->edges[k].from);
        cJSON_AddNumberToObject(e, "to", pg->edges[k].to);
        cJSON_AddNumberToObject(e, "slot", pg->edges[k].slot);
        cJSON_AddNumberToObject(e, "v", pg->edges[k].v);
        cJSON_AddItemToArray(edges, e);
    }
    int n_sec, n_steps;
    const lesson_section *sec = lesson_trace_sections(&n_sec);
    const lesson_step *st = lesson_trace_steps(&n_steps);
    int *order = section_order(sec, n_sec);
    cJSON *sections = cJSON_AddArrayToObject(doc, "sections"), *steps = cJSON_AddArrayToObject(doc, "steps");
    for (int j = 0; j < n_sec; j++) {
        const lesson_section *s = &sec[order[j]];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", kind_name(s->kind));
        cJSON_AddStringToObject(o, "title", s->title);
        if (s->header) cJSON_AddStringToObject(o, "header", s->header);
        cJSON_AddBoolToObject(o, "from_graph", s->from_graph);
        cJSON_AddItemToArray(sections, o);
        for (int i = 0; i < n_steps; i++) {
            if (st[i].section != order[j]) continue;
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "s", j);
            bool drawn = st[i].node <= ad_node_id(pg->root) && pg->index[st[i].node] >= 0;
            cJSON_AddNumberToObject(p, "n", drawn ? (double)st[i].node : -1);
            cJSON *e = cJSON_AddArrayToObject(p, "e");
            for (int k = 0; k < st[i].n_edges; k++) {
                uint32_t c = st[i].edges[k].consumer;
                if (c > ad_node_id(pg->root) || pg->index[c] < 0) continue;
                for (int q = pg->first_edge[pg->index[c]]; q < pg->first_edge[pg->index[c] + 1]; q++)
                    if (pg->edges[q].slot == st[i].edges[k].slot) cJSON_AddItemToArray(e, cJSON_CreateNumber(q));
            }
            /* (its text is the table's row, not repeated here: a page of thousands of steps stays half the size) */
            cJSON_AddItemToArray(steps, p);
        }
    }
    free(order);
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!s) exit(1);
    return s;
}

/* The table of every step: the page read without JavaScript. */
static void put_table(FILE *f, const page *pg)
{
    int n_sec, n_steps;
    const lesson_section *sec = lesson_trace_sections(&n_sec);
    const lesson_step *st = lesson_trace_steps(&n_steps);
    int *order = section_order(sec, n_sec), number = 0;
    /* one row group per part, headed by its title (and the table's column header row, if any) */
    fputs("<table id=\"steps\"><caption>Every step, in order</caption>\n"
          "<thead><tr><th scope=\"col\">step</th><th scope=\"col\">node</th>"
          "<th scope=\"col\">the line the text prints</th></tr></thead>\n", f);
    for (int j = 0; j < n_sec; j++) {
        const lesson_section *s = &sec[order[j]];
        fputs("<tbody><tr class=\"part\"><th colspan=\"3\" scope=\"rowgroup\">", f);
        put_html(f, s->title);
        fputs("</th></tr>\n", f);
        if (s->header) {
            fputs("<tr class=\"header\"><td></td><td></td><td>", f);
            put_html(f, s->header);
            fputs("</td></tr>\n", f);
        }
        for (int i = 0; i < n_steps; i++) {
            if (st[i].section != order[j]) continue;
            number++;
            fprintf(f, "<tr id=\"s%d\"><td>%d</td><td>", number, number);   /* (a click on a row: page.js) */
            if (st[i].node <= ad_node_id(pg->root) && pg->index[st[i].node] >= 0) {
                char *name = lesson_html_label(ad_node_by_id(pg->ctx, st[i].node));
                put_html(f, name);
                free(name);
            }
            fputs("</td><td>", f);
            put_html(f, st[i].text);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody>\n", f);
    }
    fputs("</table>\n", f);
    free(order);
}

static void put_page(FILE *f, const page *pg, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n<title>",
          f);
    put_html(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", lesson_html_css);
    put_html(f, title);
    fputs("</h1>\n", f);
    if (pg->collapsed)
        fprintf(f, "<p class=\"note\" id=\"collapsed\">This graph has %d nodes in %d layers, more than %d nodes: it is "
                   "drawn collapsed, each box a band of consecutive layers (nodes at the same topological depth), and "
                   "a step highlights the band its node is in. Node values are left out to keep the page small; the "
                   "table below names the node of every step.</p>\n",
                pg->n_nodes, pg->depth_max + 1, LESSON_HTML_MAX_NODES);
    fputs("<div id=\"controls\" hidden>\n"
          "<button id=\"prev\" type=\"button\" title=\"previous step (←)\">◀ previous</button>\n"
          "<button id=\"play\" type=\"button\" title=\"play / pause (space)\">▶ play</button>\n"
          "<button id=\"next\" type=\"button\" title=\"next step (→)\">next ▶</button>\n"
          "<input id=\"slider\" type=\"range\" min=\"1\" value=\"1\" aria-label=\"step\">\n"
          "<label>step <input id=\"jump\" type=\"number\" min=\"1\" value=\"1\"></label> "
          "<span id=\"count\"></span>\n</div>\n"
          "<div id=\"now\" aria-live=\"polite\"><div id=\"section\"></div><pre id=\"header\"></pre>"
          "<pre id=\"line\"></pre></div>\n<div id=\"picture\">\n<div id=\"scroll\">\n",
          f);
    put_svg(f, pg);   /* at its own size, in a box that scrolls: a wide graph is not shrunk to unreadable */
    fputs("</div>\n", f);
    fputs("<div id=\"info\" aria-live=\"polite\">Hover over or click a node for its values.</div>\n</div>\n", f);
    put_table(f, pg);
    fputs("<script type=\"application/json\" id=\"data\">", f);
    char *json = data_json(pg, title);
    put_script_json(f, json);
    free(json);
    fprintf(f, "</script>\n<script>\n%s</script>\n</body>\n</html>\n", lesson_html_js);
}

ad_status lesson_html_write(const char *path, const char *title, const ad_context *ctx, const ad_node *root)
{
    if (!path || !ctx || !root) return ad_fail(AD_ERR_ARG, "--html: no file, context or root");
    FILE *f = fopen(path, "w");
    if (!f) return ad_fail(AD_ERR_IO, "--html %s: cannot write it: %s", path, strerror(errno));
    page pg = {.ctx = ctx, .root = root};
    build(&pg);
    put_page(f, &pg, title);
    free(pg.nodes), free(pg.index), free(pg.edges), free(pg.first_edge), free(pg.vedges);
    bool bad = ferror(f);
    int saved = errno;
    if (fclose(f) != 0 || bad)
        return ad_fail(AD_ERR_IO, "--html %s: writing it failed: %s", path, strerror(bad ? saved : errno));
    return AD_OK;
}
