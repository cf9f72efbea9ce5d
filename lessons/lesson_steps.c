/* lesson_steps.c: the node and forward-mode tables (through the trace), and
 * the reverse-mode steps numbered as the lectures number
 * them (lecture 001, "Reverse mode auto-diff"; lecture 004, Versions A and B):
 *
 *   0′. ∂f/∂f = 1
 *   1′. ∂f/∂c = ...            one step per intermediate node, in reverse
 *   ...                        topological order
 *   4′. ∂f/∂x = ...            the inputs' adjoints: one last step, the
 *       ∂f/∂y = ...            first numbered, the others under it
 *
 * Version A prints each adjoint as the sum over its consumers (dy/dv =
 * Σᵢ dy/duᵢ · duᵢ/dv). Version B prints, under step k′, the node u_k whose
 * adjoint is complete when it is visited and the increments it pushes
 * ("Increment dy/dv_j by (dy/du_i)(du_i/dv_j)"). Both read every number from
 * the engine's own pass (its backward hook), so the step k′ of either
 * version names the same node: the lecture's table, whichever runs.
 * Every row goes through the trace (lesson_trace.h) with the node it is
 * about and the edges it reads: the HTML page shows these very rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson.h"
#include "lesson_trace.h"

enum { MAX_LEAVES = 64 };

/* The edges one row reads (Version A: every consumer of the adjoint's node). */
typedef struct edges {
    lesson_edge *e;
    int n, cap;
} edges;

/* One completed adjoint of Version A, or one pushing node of Version B. */
typedef struct steps {
    FILE *f;                           /* stdout, or NULL under --json (rows recorded, not printed) */
    const ad_node *root;
    const char *prime;
    int step;                          /* the last step number printed */
    uint32_t consumer;                 /* B: the node whose pushes are being printed (UINT32_MAX: none yet) */
    char *terms, *values;              /* A: the sum being built for the current input */
    size_t terms_len, values_len;
    FILE *terms_f, *values_f;
    edges used;                        /* A: the consumers of the sum being built */
    struct leaf {
        const ad_node *n;              /* one of the graph's inputs, its adjoint printed last */
        char *sum;                     /* A: its sum over consumers (NULL in B) */
        edges used;                    /* A: the consumers its sum reads */
    } leaf[MAX_LEAVES];
    int n_leaves;
} steps;

static char *name_of(const ad_node *n)
{
    char *s = ad_explain_name_alloc(n);
    if (!s) {
        fprintf(stderr, "%s\n", ad_last_error());
        exit(1);
    }
    return s;
}

static void add_edge(edges *u, const ad_backward_step *st)
{
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 4;
        u->e = realloc(u->e, (size_t)u->cap * sizeof *u->e);
        if (!u->e) exit(1);
    }
    u->e[u->n++] = (lesson_edge){ad_node_id(st->consumer), st->slot};
}

/* An input's adjoint, printed in the last step: A hands over its sum and the edges it read. */
static void note_leaf(steps *s, const ad_node *n, char *sum, edges *used)
{
    for (int i = 0; i < s->n_leaves; i++)
        if (ad_node_id(s->leaf[i].n) == ad_node_id(n)) {
            if (sum) free(s->leaf[i].sum), s->leaf[i].sum = sum;
            if (used) free(s->leaf[i].used.e), s->leaf[i].used = *used, *used = (edges){0};
            return;
        }
    if (s->n_leaves == MAX_LEAVES) {
        fprintf(stderr, "lesson_explain_reverse: more than %d inputs\n", MAX_LEAVES);
        exit(1);
    }
    s->leaf[s->n_leaves++] = (struct leaf){n, sum, used ? *used : (edges){0}};
    if (used) *used = (edges){0};
}

static void open_sums(steps *s)
{
    s->terms_f = open_memstream(&s->terms, &s->terms_len);
    s->values_f = open_memstream(&s->values, &s->values_len);
    if (!s->terms_f || !s->values_f) {
        perror("open_memstream");
        exit(1);
    }
}

/* Version A: each contribution is one term of the input's sum; `done` marks its last. */
static void pull_step(const ad_backward_step *st, void *user)
{
    steps *s = user;
    if (!s->terms_f) open_sums(s);
    char *r = name_of(s->root), *c = name_of(st->consumer), *v = name_of(st->input);
    bool first = ftell(s->terms_f) == 0;
    fprintf(s->terms_f, "%s∂%s/∂%s·∂%s/∂%s", first ? "" : " + ", r, c, c, v);
    fprintf(s->values_f, "%s%.6g×%.6g", first ? "" : " + ", ad_grad_scalar(st->consumer),
            ad_local_partial(st->consumer, st->slot));
    add_edge(&s->used, st);
    if (st->done) {
        fclose(s->terms_f), fclose(s->values_f);
        s->terms_f = s->values_f = NULL;
        if (ad_node_is_leaf(st->input)) {   /* printed with the other inputs, in the last step */
            char *sum = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&sum, &len);
            if (!m) exit(1);
            fprintf(m, " = %s\n        = %s", s->terms, s->values);
            fclose(m);
            note_leaf(s, st->input, sum, &s->used);
        } else {
            char *row = lesson_strf("  %d%s.   ∂%s/∂%s = %s\n        = %s = %.15g\n", ++s->step, s->prime, r, v,
                                    s->terms, s->values, ad_grad_scalar(st->input));
            lesson_trace_rows(s->f, ad_node_id(st->input), s->used.e, s->used.n, row);
            free(row);
            s->used.n = 0;
        }
        free(s->terms), free(s->values);
        s->terms = s->values = NULL;
    }
    free(r), free(c), free(v);
}

/* Version B: a new consumer starts a step: its adjoint is complete (every
 * node that uses it came later in the forward pass and has pushed). */
static void push_step(const ad_backward_step *st, void *user)
{
    steps *s = user;
    char *r = name_of(s->root), *c = name_of(st->consumer), *v = name_of(st->input);
    if (ad_node_id(st->consumer) != s->consumer) {
        if (s->consumer != UINT32_MAX) s->step++;
        s->consumer = ad_node_id(st->consumer);
        if (s->step > 0) {
            char *row = lesson_strf("  %d%s.   ∂%s/∂%s = %.15g, complete; it pushes:\n", s->step, s->prime, r, c,
                                    ad_grad_scalar(st->consumer));
            lesson_trace_rows(s->f, ad_node_id(st->consumer), NULL, 0, row);
            free(row);
        }
    }
    if (ad_node_is_leaf(st->input)) note_leaf(s, st->input, NULL, NULL);
    char *row = lesson_strf("        ∂%s/∂%s += ∂%s/∂%s · ∂%s/∂%s = %.15g × %.15g   (now %.15g)\n", r, v, r, c, c, v,
                            ad_grad_scalar(st->consumer), ad_local_partial(st->consumer, st->slot),
                            ad_grad_scalar(st->input));
    lesson_edge e = {ad_node_id(st->consumer), st->slot};
    lesson_trace_rows(s->f, ad_node_id(st->input), &e, 1, row);
    free(row), free(r), free(c), free(v);
}

/* The engine's node and forward-mode tables, through the trace. */
void lesson_show_nodes(const lesson *L, const ad_context *ctx, const ad_node *root)
{
    if (lesson_trace_nodes(L->json ? NULL : stdout, ctx, root) != AD_OK) lesson_die(L, "node table");
}

void lesson_show_forward(const lesson *L, const ad_context *ctx, const ad_node *root, const char *const *dir_names)
{
    if (lesson_trace_forward(L->json ? NULL : stdout, ctx, root, dir_names) != AD_OK) lesson_die(L, "forward-mode table");
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = ad_node_id(((const struct leaf *)a)->n), y = ad_node_id(((const struct leaf *)b)->n);
    return (x > y) - (x < y);
}

void lesson_explain_reverse(const lesson *L, ad_context *ctx, ad_node *root, ad_backward_variant variant)
{
    steps s = {.f = L->json ? NULL : stdout, .root = root, .prime = "′", .consumer = UINT32_MAX};
    char *r = name_of(root);
    lesson_trace_section(NULL, LESSON_REVERSE,
                         variant == AD_BACKWARD_PULL ? "Reverse mode, Version A" : "Reverse mode, Version B", NULL);
    char *seed = lesson_strf("  0%s.   ∂%s/∂%s = 1\n", s.prime, r, r);
    lesson_trace_rows(s.f, ad_node_id(root), NULL, 0, seed);
    free(seed);
    ad_zero_grad(ctx);
    ad_backward_opts o = {.variant = variant, .hook = variant == AD_BACKWARD_PULL ? pull_step : push_step,
                          .hook_user = &s};
    if (ad_backward_ex(ctx, root, &o) != AD_OK) lesson_die(L, "backward");
    /* The inputs' adjoints, complete once every node has pushed or pulled:
     * one step, in the order the inputs were made (x before z), as lecture
     * 001's 4′ lists ∂f/∂x and then ∂f/∂y. */
    qsort(s.leaf, (size_t)s.n_leaves, sizeof s.leaf[0], by_id);
    s.step++;
    for (int i = 0; i < s.n_leaves; i++) {
        char *v = name_of(s.leaf[i].n), *num = i == 0 ? lesson_strf("  %d%s.   ", s.step, s.prime) : NULL;
        char *row = lesson_strf("%s∂%s/∂%s%s = %.15g\n", num ? num : "        ", r, v, s.leaf[i].sum ? s.leaf[i].sum : "",
                                ad_grad_scalar(s.leaf[i].n));
        lesson_trace_rows(s.f, ad_node_id(s.leaf[i].n), s.leaf[i].used.e, s.leaf[i].used.n, row);
        free(row), free(num), free(v), free(s.leaf[i].sum), free(s.leaf[i].used.e);
    }
    free(s.used.e);
    free(r);
}
