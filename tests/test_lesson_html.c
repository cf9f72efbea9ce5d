/* test_lesson_html.c: the --html page's writer (lessons/lesson_html.c) and
 * the step list behind it (lessons/lesson_trace.c):
 *   - a row recorded is the row printed, byte for byte, with the node it
 *     is about and the edges it reads;
 *   - a node named "</script><b>x" (or with an attribute-breaking quote)
 *     lands escaped in HTML text, attributes and the data block;
 *   - a graph of more than LESSON_HTML_MAX_NODES nodes is drawn collapsed,
 *     with a note, and the page stays small;
 *   - an unwritable path is an error naming --html and the path.
 * `test_lesson_html --write FILE` writes the hostile page alone, for the
 * browser test (tests/html_browser.py) to load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_test.h"
#include "lesson_html.h"
#include "lesson_trace.h"

static const char *const HOSTILE_X = "</script><b>x";
static const char *const HOSTILE_Y = "\"><img src=x onerror=\"window.pwned=1\">";

/* f = c + b, b = y·a, a = log x, c = √b: lecture 001's graph, with the inputs named `xn` and `yn`. */
static ad_node *chain(ad_context *ctx, const char *xn, const char *yn, ad_node **x, ad_node **b)
{
    *x = ad_set_name(ad_scalar(ctx, 3), xn);
    ad_node *y = ad_set_name(ad_scalar(ctx, 2), yn);
    ad_node *a = ad_set_name(ad_log(ctx, *x), "a");
    *b = ad_set_name(ad_mul(ctx, y, a), "b");
    ad_node *c = ad_set_name(ad_sqrt(ctx, *b), "c");
    return ad_set_name(ad_add(ctx, c, *b), "f");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

/* The hostile page: every table recorded, the graph written. */
static ad_status write_hostile(const char *path)
{
    ad_context *ctx = ad_context_new();
    ad_node *x, *b;
    ad_node *f = chain(ctx, HOSTILE_X, HOSTILE_Y, &x, &b);
    lesson_trace_enable();
    ad_status st = lesson_trace_nodes(NULL, ctx, f);
    if (st == AD_OK) st = lesson_trace_reverse(NULL, ctx, f, AD_BACKWARD_PUSH);
    if (st == AD_OK) st = lesson_html_write(path, "a page of hostile names: </script><b>title", ctx, f);
    lesson_trace_clear();
    ad_context_free(ctx);
    return st;
}

static void test_hostile_names_escaped(void **state)
{
    (void)state;
    char path[] = "/tmp/test_lesson_html_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(write_hostile(path), AD_OK);
    char *page = slurp(path);
    /* the raw sequences nowhere: no element, no closed script */
    assert_null(strstr(page, "</script><b>"));
    assert_null(strstr(page, "<b>"));
    assert_null(strstr(page, "<img"));
    assert_null(strstr(page, "\"><img"));
    assert_int_equal(count(page, "</script>"), 2);   /* the data block's end and the script's: nothing else */
    /* and the names are there, escaped for each place */
    assert_non_null(strstr(page, "&lt;/script&gt;&lt;b&gt;x"));                       /* HTML text and attributes */
    assert_non_null(strstr(page, "&quot;&gt;&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;"));
    assert_non_null(strstr(page, "\\u003c/script\\u003e\\u003cb\\u003ex"));          /* the data block */
    assert_non_null(strstr(page, "∂f/∂&lt;/script&gt;&lt;b&gt;x += "));              /* the step table's row */
    free(page);
    unlink(path);
}

/* What the trace prints is what it records: the rows, in order, with their nodes and edges. */
static void test_rows_recorded_as_printed(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        ad_context *ctx = ad_context_new();
        ad_node *x, *b;
        ad_node *f = chain(ctx, "x", "y", &x, &b);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        assert_non_null(out);
        lesson_trace_enable();
        assert_int_equal(lesson_trace_nodes(out, ctx, f), AD_OK);
        assert_int_equal(lesson_trace_reverse(out, ctx, f, variant ? AD_BACKWARD_PUSH : AD_BACKWARD_PULL), AD_OK);
        fclose(out);
        int n;
        const lesson_step *st = lesson_trace_steps(&n);
        /* 6 node rows; A: the seed and two rows per adjoint (a, b, c, x, y); B: the seed and 6 increments */
        assert_int_equal(n, 6 + (variant ? 1 + 6 : 1 + 2 * 5));
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            size_t k = strlen(st[i].text);
            assert_memory_equal(text + at, st[i].text, k);
            assert_int_equal(text[at + k], '\n');
            at += k + 1;
        }
        assert_int_equal(at, len);
        /* B's "∂f/∂b += ∂f/∂c · ∂c/∂b" is about b and reads the edge b -> c (c's slot 0) */
        bool found = false;
        for (int i = 0; i < n; i++) {
            if (!strstr(st[i].text, variant ? "∂f/∂b += ∂f/∂c" : "∂f/∂b = ")) continue;
            found = true;
            assert_int_equal(st[i].node, ad_node_id(b));
            uint32_t c_id = ad_node_id(b) + 1, f_id = ad_node_id(f);
            if (variant) {
                assert_int_equal(st[i].n_edges, 1);
                assert_int_equal(st[i].edges[0].consumer, c_id);
                assert_int_equal(st[i].edges[0].slot, 0);
            } else {   /* A: b's sum over its consumers, c and f (f's slot 1) */
                assert_int_equal(st[i].n_edges, 2);
                bool c_seen = false, f_seen = false;
                for (int e = 0; e < 2; e++) {
                    c_seen = c_seen || (st[i].edges[e].consumer == c_id && st[i].edges[e].slot == 0);
                    f_seen = f_seen || (st[i].edges[e].consumer == f_id && st[i].edges[e].slot == 1);
                }
                assert_true(c_seen && f_seen);
            }
        }
        assert_true(found);
        lesson_trace_clear();
        free(text);
        ad_context_free(ctx);
    }
}

/* A chain of 600 sines: collapsed into at most 48 bands, with the note, in a small page. */
static void test_large_graph_collapsed(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *v = ad_set_name(ad_scalar(ctx, 0.5), "x");
    for (int i = 0; i < 600; i++) v = ad_sin(ctx, v);
    ad_backward(ctx, v);
    lesson_trace_enable();
    lesson_html_fill_steps(ctx, v, AD_BACKWARD_PUSH);
    int n;
    lesson_trace_steps(&n);
    assert_true(n >= 1200);   /* every node forward, every node's push back */
    char path[] = "/tmp/test_lesson_html_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(lesson_html_write(path, "a chain of 600 sines", ctx, v), AD_OK);
    lesson_trace_clear();
    char *page = slurp(path);
    assert_non_null(strstr(page, "id=\"collapsed\""));
    assert_non_null(strstr(page, "This graph has 601 nodes in 601 layers"));
    int boxes = count(page, "<g class=\"node");
    assert_true(boxes >= 2 && boxes <= 48);
    assert_true(strlen(page) < 600 * 1024);
    free(page);
    unlink(path);
    ad_context_free(ctx);
}

static void test_unwritable_path(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x, *b;
    ad_node *f = chain(ctx, "x", "y", &x, &b);
    assert_int_equal(lesson_html_write("/nonexistent/dir/page.html", "t", ctx, f), AD_ERR_IO);
    assert_non_null(strstr(ad_last_error(), "--html /nonexistent/dir/page.html: cannot write it"));
    ad_context_free(ctx);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write")) return write_hostile(argv[2]) == AD_OK ? 0 : 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_recorded_as_printed),
        cmocka_unit_test(test_hostile_names_escaped),
        cmocka_unit_test(test_large_graph_collapsed),
        cmocka_unit_test(test_unwritable_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
