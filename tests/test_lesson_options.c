/* test_lesson_options.c: every lesson run with every option its --help
 * lists, as a student would try them:
 *   --json      valid JSON, exit 0, every number finite (cJSON would print a
 *               NaN as null: no null anywhere but where a lesson means "none");
 *   --variant   A and B both run, the JSON says which ran, and the numbers
 *               agree (two algorithms, one gradient);
 *   --dot FILE  writes a Graphviz graph;
 *   --html FILE writes a page (and an unwritable FILE is an error naming it);
 *   --NAME V    an input: a different valid value changes the JSON, and the
 *               "inputs" object (where the lesson has one) reflects it;
 *               hostile values (±1e300) either fail with a message (exit 1 or
 *               2) or give clean JSON: never exit 0 with a NaN/Inf;
 * and no option is listed that the test cannot classify (an option that
 * does nothing would have to be one of these, and each is checked to act).
 * Then each slip a lesson names is pinned: present in its --json, the
 * slide's version disagreeing with the reference, the right one agreeing.
 * Program paths come from meson in the environment (NAME in upper case). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ad_test.h"
#include "ad_test_lesson.h"

static const char *const lessons[] = {"chain_rule", "cnn_backprop", "convolution", "cos_sin", "finite_differences",
                                      "forward_vs_reverse", "gates", "gpu_power_iteration", "jacobian_chain",
                                      "logistic_regression", "mlp", "newton", "pooling", "quiz", "sgd_variants",
                                      "softmax", "cheap_gradient", "four_ways"};
enum { N_LESSONS = sizeof lessons / sizeof lessons[0], OUT_MAX = 1 << 20 };

static char out[OUT_MAX];

/* Run a command, capture stdout (stderr to /dev/null), return the exit status (-1: killed by a signal). */
static int run(const char *cmd)
{
    char full[4096];
    if (strlen(cmd) > sizeof full - 20) fail_msg("command too long");
    snprintf(full, sizeof full, "%s 2>/dev/null", cmd);
    return ad_test_popen(full, out, sizeof out);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n) k = n - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
}

static const char *path_of(const char *name) { return ad_test_lesson_path(name); }

/* A new empty file named from `file` (a mkstemp template: XXXXXX at its end). */
static void temp_file(char *file)
{
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    close(fd);
}

/* A null or a non-finite number anywhere but under a key named "errors" (finite_differences' table,
 * where null means "x ± ε rounds back to x: no step"). */
static bool has_nonfinite(const cJSON *item, const char *key)
{
    if (key && !strcmp(key, "errors")) return false;
    if (cJSON_IsNull(item)) return true;
    if (cJSON_IsNumber(item) && !isfinite(item->valuedouble)) return true;
    for (const cJSON *c = item->child; c; c = c->next)
        if (has_nonfinite(c, c->string ? c->string : key)) return true;
    return false;
}

/* Numbers equal to a relative 1e-9, strings and structure equal; `skip` is ignored at the top. */
static bool same_json(const cJSON *a, const cJSON *b, const char *skip)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return fabs(a->valuedouble - b->valuedouble) <= 1e-9 * fmax(1.0, fabs(b->valuedouble));
    if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
    if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
    const cJSON *ca = a->child, *cb = b->child;
    for (; ca && cb; ca = ca->next, cb = cb->next) {
        /* the variant's name, and its steps (A pulls, B pushes: different steps, one result) */
        if (skip && ca->string && (!strcmp(ca->string, skip) || !strcmp(ca->string, "backward_steps"))) {
            if (!cb->string || strcmp(cb->string, ca->string)) return false;
            continue;
        }
        if ((ca->string || cb->string) && (!ca->string || !cb->string || strcmp(ca->string, cb->string))) return false;
        if (!same_json(ca, cb, NULL)) return false;
    }
    return !ca && !cb;
}

static cJSON *json_run(const char *prog, const char *args, int *status)
{
    char cmd[2048];
    if (strlen(prog) + strlen(args) > 1900) fail_msg("command too long");
    snprintf(cmd, sizeof cmd, "%s --json %s", prog, args);
    *status = run(cmd);
    return cJSON_Parse(out);
}

typedef struct option {
    char name[32];
    bool is_input;
    double def;
} option;

/* The options --help lists: "  --NAME ..." lines; inputs carry "(default V)". */
static int parse_help(const char *help, option *opt, int max)
{
    int n = 0;
    for (const char *line = help; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "  --", 4) != 0) continue;
        const char *p = line + 4;
        size_t k = 0;
        while ((isalnum((unsigned char)p[k]) || p[k] == '_' || p[k] == '-') && k + 1 < sizeof opt[n].name) k++;
        if (n == max) fail_msg("too many options in --help");
        memcpy(opt[n].name, p, k);
        opt[n].name[k] = '\0';
        const char *eol = strchr(line, '\n'), *d = strstr(line, "(default ");
        opt[n].is_input = d && (!eol || d < eol) && strncmp(opt[n].name, "variant", 8);
        opt[n].def = opt[n].is_input ? strtod(d + 9, NULL) : 0;
        n++;
    }
    return n;
}

static void check_clean(const char *prog, const char *args, const cJSON *doc, int status)
{
    if (status == 0) {
        if (!doc) fail_msg("%s --json %s: exit 0 but no valid JSON", prog, args);
        if (has_nonfinite(doc, NULL)) fail_msg("%s --json %s: exit 0 with a null/NaN/Inf in its JSON:\n%s", prog, args, out);
        if (cJSON_GetObjectItemCaseSensitive(doc, "failed_checks"))
            fail_msg("%s --json %s: exit 0 with failed checks", prog, args);
    } else if (status != 1 && status != 2) {
        fail_msg("%s --json %s: exit status %d (a crash?)", prog, args, status);
    }
}

static void test_every_option(void **state)
{
    (void)state;
    int steps_shown = 0;   /* lessons whose text shows the backward steps of the variant chosen */
    for (size_t l = 0; l < N_LESSONS; l++) {
        const char *prog = path_of(lessons[l]);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s --help", prog);
        assert_int_equal(run(cmd), 0);
        char help[8192];
        copy_str(help, sizeof help, out);
        option opt[16];
        int n = parse_help(help, opt, 16);
        int st;
        cJSON *base = json_run(prog, "", &st);
        if (st != 0 || !base) fail_msg("%s --json: exit %d", lessons[l], st);
        check_clean(prog, "", base, st);
        char base_text[OUT_MAX / 4];
        copy_str(base_text, sizeof base_text, out);
        for (int i = 0; i < n; i++) {
            const char *o = opt[i].name;
            /* --help, --version, --man: every command's, tested by cli_conventions.sh */
            if (!strcmp(o, "help") || !strcmp(o, "json") || !strcmp(o, "version") || !strcmp(o, "man")) continue;
            if (!strcmp(o, "ascii")) {   /* the same text, all of it ASCII (test_lesson_fidelity checks the spelling) */
                snprintf(cmd, sizeof cmd, "%s --ascii", prog);
                assert_int_equal(run(cmd), 0);
                for (const char *c = out; *c; c++)
                    if ((unsigned char)*c >= 0x80) fail_msg("%s --ascii prints a non-ASCII byte", lessons[l]);
                continue;
            }
            if (!strcmp(o, "variant")) {
                cJSON *a = json_run(prog, "--variant A", &st);
                assert_int_equal(st, 0);
                cJSON *b = json_run(prog, "--variant B", &st);
                assert_int_equal(st, 0);
                const cJSON *va = cJSON_GetObjectItemCaseSensitive(a, "variant"),
                            *vb = cJSON_GetObjectItemCaseSensitive(b, "variant");
                if (!cJSON_IsString(va) || strcmp(va->valuestring, "A") || !cJSON_IsString(vb) || strcmp(vb->valuestring, "B"))
                    fail_msg("%s: --variant A/B is not reported as the variant that ran", lessons[l]);
                if (!same_json(a, b, "variant")) fail_msg("%s: Version A and Version B give different results", lessons[l]);
                cJSON_Delete(a);
                cJSON_Delete(b);
                /* where the steps are printed, B's are "+=" increments and A's are not */
                snprintf(cmd, sizeof cmd, "%s --variant B", prog);
                assert_int_equal(run(cmd), 0);
                bool pushes = strstr(out, "+=") != NULL;
                snprintf(cmd, sizeof cmd, "%s --variant A", prog);
                assert_int_equal(run(cmd), 0);
                if (pushes && strstr(out, "+=")) fail_msg("%s --variant A prints Version B's += steps", lessons[l]);
                steps_shown += pushes;
                continue;
            }
            if (!strcmp(o, "dot")) {
                char file[] = "/tmp/lesson_dot_XXXXXX";
                temp_file(file);
                snprintf(cmd, sizeof cmd, "%s --json --dot %s", prog, file);
                assert_int_equal(run(cmd), 0);
                FILE *f = fopen(file, "r");
                char head[16] = "";
                if (!f || !fgets(head, sizeof head, f) || strncmp(head, "digraph", 7))
                    fail_msg("%s --dot: no graph written", lessons[l]);
                /* the grads drawn are the root's own pass's, though pooling runs
                 * avg-pool's pass on the same x after max-pool's: max-pool's output
                 * holds the upstream (1, 2, 3, 4), x the routed grads */
                static char graph[1 << 16];
                size_t got = fread(graph, 1, sizeof graph - 1, f);
                graph[got] = 0;
                if (!strcmp(lessons[l], "pooling") &&
                    (!strstr(graph, "grad (1,1,2,2) [1, 2, 3, 4]") || !strstr(graph, "grad (1,1,4,4) [0, 0, 0, 0, 0, ... 4]")))
                    fail_msg("pooling --dot: the grads drawn are not max-pool's pass's:\n%s", graph);
                fclose(f);
                unlink(file);
                continue;
            }
            if (!strcmp(o, "html")) {   /* a page written (tests/html_browser.py loads them in a browser); an unwritable path fails, naming it */
                char file[] = "/tmp/lesson_html_XXXXXX";
                temp_file(file);
                snprintf(cmd, sizeof cmd, "%s --json --html %s", prog, file);
                assert_int_equal(run(cmd), 0);
                FILE *f = fopen(file, "r");
                char head[32] = "";
                if (!f || !fgets(head, sizeof head, f) || strcmp(head, "<!DOCTYPE html>\n"))
                    fail_msg("%s --html: no page written", lessons[l]);
                if (f) fclose(f);
                /* the same page with the text as with --json: both record the same rows */
                char text_file[] = "/tmp/lesson_html_XXXXXX";
                temp_file(text_file);
                snprintf(cmd, sizeof cmd, "%s --html %s", prog, text_file);
                assert_int_equal(run(cmd), 0);
                snprintf(cmd, sizeof cmd, "cmp -s %s %s", file, text_file);
                if (run(cmd) != 0) fail_msg("%s: --html and --json --html write different pages", lessons[l]);
                unlink(file);
                unlink(text_file);
                snprintf(cmd, sizeof cmd, "(%s --html /nonexistent/dir/page.html 2>&1)", prog);   /* run() sends stderr away */
                assert_int_equal(run(cmd), 1);
                if (!strstr(out, "--html /nonexistent/dir/page.html: cannot write it"))
                    fail_msg("%s --html to an unwritable path: %s", lessons[l], out);
                continue;
            }
            if (!opt[i].is_input) fail_msg("%s: option --%s is neither an input nor a known option", lessons[l], o);
            /* a different valid value changes the output */
            double d = opt[i].def, tries[3];
            if (d == floor(d)) tries[0] = d + 1, tries[1] = d - 1, tries[2] = d + 2;
            else tries[0] = d * 1.1 + 0.1, tries[1] = d * 0.9 - 0.1, tries[2] = d / 2;
            bool changed = false;
            for (int t = 0; t < 3 && !changed; t++) {
                char args[1024];
                snprintf(args, sizeof args, "--%s %.17g", o, tries[t]);
                cJSON *doc = json_run(prog, args, &st);
                check_clean(prog, args, doc, st);
                if (st == 0) {
                    if (!strcmp(out, base_text)) fail_msg("%s %s: the output did not change", lessons[l], args);
                    const cJSON *in = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "inputs"), o);
                    if (in && !(fabs(in->valuedouble - tries[t]) <= 1e-12 * fabs(tries[t])))
                        fail_msg("%s %s: inputs.%s is %g", lessons[l], args, o, in->valuedouble);
                    changed = true;
                }
                cJSON_Delete(doc);
            }
            if (!changed) fail_msg("%s: no value tried for --%s was accepted", lessons[l], o);
            /* hostile values: a failure with a message, or clean JSON */
            const char *hostile[] = {"1e300", "-1e300", "1e-300"};
            for (int h = 0; h < 3; h++) {
                char args[1024];
                snprintf(args, sizeof args, "--%s %s", o, hostile[h]);
                cJSON *doc = json_run(prog, args, &st);
                check_clean(prog, args, doc, st);
                cJSON_Delete(doc);
            }
        }
        cJSON_Delete(base);
    }
    assert_true(steps_shown >= 5);   /* chain_rule, cos_sin, gates, forward_vs_reverse, logistic_regression */
}

/* The options a lesson does not use are refused, not ignored. */
static void test_unused_options_refused(void **state)
{
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --variant A", path_of("softmax"));
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s --dot /tmp/never_written.dot", path_of("sgd_variants"));
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s --dot /tmp/never_written.dot", path_of("jacobian_chain"));
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s --html /tmp/never_written.html", path_of("sgd_variants"));   /* --html comes with --dot */
    assert_int_equal(run(cmd), 2);
}

/* The failure cases the issue found: NaN/Inf is a failed check, never "agree", and a non-zero exit. */
static void test_nonfinite_fails(void **state)
{
    (void)state;
    const struct { const char *lesson, *args; } cases[] = {
        {"chain_rule", "--x 1e308 --y 1e308"}, {"cos_sin", "--x 1e200"},
        {"forward_vs_reverse", "--x1 1e200 --x2 1e200"}, {"logistic_regression", "--theta0 1000 --epochs 0"},
        {"finite_differences", "--x 1e200"}, {"sgd_variants", "--lr 0.5"}, {"gates", "--x 1e300 --y 1e300"},
        {"quiz", "--x 1000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s %s", path_of(cases[i].lesson), cases[i].args);
        int st = run(cmd);
        if (st == 0) fail_msg("%s %s: exit 0 with a non-finite value", cases[i].lesson, cases[i].args);
        if (strstr(out, "agree:")) fail_msg("%s %s: says agree", cases[i].lesson, cases[i].args);
        int sj;
        cJSON *doc = json_run(path_of(cases[i].lesson), cases[i].args, &sj);
        if (sj == 0) fail_msg("%s --json %s: exit 0", cases[i].lesson, cases[i].args);
        cJSON_Delete(doc);
    }
}

/* Each slip the lessons name, pinned: the slide's version is off, the right one agrees. */
static void test_slips(void **state)
{
    (void)state;
    const struct { const char *lesson, *args, *id; } slips[] = {
        {"chain_rule", "", "001-sqrt"},
        {"quiz", "", "004-quiz1-b"},
        {"quiz", "", "004-quiz1-y"},
        {"quiz", "", "004-quiz1-breakdown"},
        {"gates", "--z 2 --w 2", "004-max-tie"},
        {"softmax", "", "001-onehot"},
        {"convolution", "", "004-custom-image"},
        {"convolution", "", "004-blur-image"},
        {"convolution", "", "000-conv-definition"},
        {"convolution", "", "001-conv-depth"},
        {"mlp", "", "004-case2-dJdy"},
        {"mlp", "", "004-quiz2-shapes"},
        {"mlp", "", "001-dyL-dWl"},
        {"mlp", "", "000-dLdW-rows"},
        {"sgd_variants", "", "001-shuffled-sigma-k"},
    };
    int n = (int)(sizeof slips / sizeof slips[0]);
    assert_true(n >= 12);
    for (int i = 0; i < n; i++) {
        int st;
        cJSON *doc = json_run(path_of(slips[i].lesson), slips[i].args, &st);
        assert_int_equal(st, 0);
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "slips"), *s = NULL;
        for (const cJSON *c = arr ? arr->child : NULL; c; c = c->next) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
            if (cJSON_IsString(id) && !strcmp(id->valuestring, slips[i].id)) s = c;
        }
        if (!s) fail_msg("%s %s: slip %s is not in the JSON", slips[i].lesson, slips[i].args, slips[i].id);
        if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "slide_agrees")))
            fail_msg("slip %s: the slide's version agrees with the reference", slips[i].id);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "right_agrees")))
            fail_msg("slip %s: the corrected version does not agree with the reference", slips[i].id);
        /* the numbers themselves: slide differs from reference somewhere, right matches everywhere */
        const cJSON *sl = cJSON_GetObjectItemCaseSensitive(s, "slide"), *rt = cJSON_GetObjectItemCaseSensitive(s, "right"),
                    *rf = cJSON_GetObjectItemCaseSensitive(s, "reference");
        int k = cJSON_GetArraySize(rf), off = 0;
        assert_true(k > 0 && cJSON_GetArraySize(sl) == k && cJSON_GetArraySize(rt) == k);
        for (int j = 0; j < k; j++) {
            double a = cJSON_GetArrayItem(sl, j)->valuedouble, b = cJSON_GetArrayItem(rt, j)->valuedouble,
                   r = cJSON_GetArrayItem(rf, j)->valuedouble;
            assert_close(b, r, 1e-6 * fmax(1.0, fabs(r)));
            off += !(fabs(a - r) <= 1e-6 * fmax(1.0, fabs(r)));
        }
        assert_true(off > 0);
        cJSON_Delete(doc);
    }
    /* a slide that is right is not "corrected": with y* = 1 Case 2's dJ/dy is right, and no tie, no tie slip */
    int st;
    cJSON *doc = json_run(path_of("mlp"), "--ystar 1", &st);
    assert_int_equal(st, 0);
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "slips")->child; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(c, "id")->valuestring, "004-case2-dJdy"))
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "slide_agrees")));
    cJSON_Delete(doc);
    doc = json_run(path_of("gates"), "", &st);
    assert_int_equal(st, 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(doc, "slips"));
    cJSON_Delete(doc);
}

/* four_ways: the four ways agree on the lectures' functions (Quiz #1's [1208, 810]); the symbolic
 * derivative swells geometrically with depth while the graph grows linearly. */
static void test_four_ways(void **state)
{
    (void)state;
    int st;
    cJSON *doc = json_run(path_of("four_ways"), "--depth 12", &st);
    assert_int_equal(st, 0);
    const cJSON *quiz = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "functions"), 3);
    const char *ways[] = {"manual", "symbolic", "forward_mode", "reverse_mode"};
    for (int w = 0; w < 4; w++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(quiz, ways[w]);
        assert_close(cJSON_GetArrayItem(a, 0)->valuedouble, 1208.38121512661, 1e-9);
        assert_close(cJSON_GetArrayItem(a, 1)->valuedouble, 809.707479218564, 1e-9);
    }
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(quiz, "numerical");
    assert_close(cJSON_GetArrayItem(num, 0)->valuedouble, 1208.38121512661, 1e-5);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(quiz, "forward_passes")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(quiz, "reverse_passes")->valueint, 1);
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(doc, "swell");
    assert_int_equal(cJSON_GetArraySize(sw), 12);
    double t6 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sw, 5), "symbolic_tree_size")->valuedouble;
    double t12 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sw, 11), "symbolic_tree_size")->valuedouble;
    double g6 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sw, 5), "graph_nodes")->valuedouble;
    double g12 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sw, 11), "graph_nodes")->valuedouble;
    assert_true(g12 < 2.5 * g6);      /* the graph: linear */
    assert_true(t12 > 50 * t6);       /* the formula: geometric */
    cJSON_Delete(doc);
    /* the derivative written out: whole at depth 3; at depth 8, over 4095 characters, a line
     * saying it is not written out, never a prefix */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --depth 8", path_of("four_ways"));
    assert_int_equal(run(cmd), 0);
    assert_non_null(strstr(out, "(depth 3 written out: 64*(((1 - 2*x)*(1 - 4*x*(1 - x)) - 4*x*(1 - x)*(1 - 2*x))*"));
    snprintf(cmd, sizeof cmd, "%s --depth 8 --written 8", path_of("four_ways"));
    assert_int_equal(run(cmd), 0);
    assert_null(strstr(out, "(depth 8 written out"));
    assert_non_null(strstr(out, "\n        (depth 8 not written out: sym_print: output exceeds 4095 characters (written "
                                "out as a tree, the expression has 9.48e+03 subexpressions))\n"));
}

/* Every number in the JSON document, in a flat list. */
static void collect_numbers(const cJSON *item, double *v, int *n, int max)
{
    if (cJSON_IsNumber(item) && *n < max) v[(*n)++] = item->valuedouble;
    for (const cJSON *c = item->child; c; c = c->next) collect_numbers(c, v, n, max);
}

/* Every value a lesson's text prints (a number with 5 or more decimals: values and derivatives,
 * not counts) is in its --json, to the digits printed. */
static void test_json_carries_what_the_text_prints(void **state)
{
    (void)state;
    static double v[200000];
    static char text[OUT_MAX];
    for (size_t l = 0; l < N_LESSONS; l++) {
        if (!strcmp(lessons[l], "cheap_gradient")) continue;   /* timings differ run to run */
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s", path_of(lessons[l]));
        assert_int_equal(run(cmd), 0);
        copy_str(text, sizeof text, out);
        int st, n = 0;
        cJSON *doc = json_run(path_of(lessons[l]), "", &st);
        assert_int_equal(st, 0);
        collect_numbers(doc, v, &n, (int)(sizeof v / sizeof *v));
        int checked = 0;
        for (const char *p = text; *p; p++) {
            if (!(isdigit((unsigned char)*p) || (*p == '-' && isdigit((unsigned char)p[1])))) continue;
            if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '_' || p[-1] == '^')) {
                while (isdigit((unsigned char)p[1]) || p[1] == '.') p++;
                continue;
            }
            char *end;
            double x = strtod(p, &end);
            const char *dot = memchr(p, '.', (size_t)(end - p));
            const char *e = dot ? memchr(dot, 'e', (size_t)(end - dot)) : NULL;
            int decimals = dot ? (int)((e ? e : end) - dot - 1) : 0;
            if (decimals >= 5 && isfinite(x)) {
                double tol = 0.5 * pow(10, -decimals) * (e ? pow(10, atoi(e + 1)) : 1) * 1.01 + 1e-15;
                bool found = false;
                for (int i = 0; i < n && !found; i++) found = fabs(v[i] - x) <= tol || fabs(-v[i] - x) <= tol;
                if (!found) fail_msg("%s prints %.*s, which its --json does not carry", lessons[l], (int)(end - p), p);
                checked++;
            }
            p = end - 1;
        }
        cJSON_Delete(doc);
        (void)checked;
    }
}

/* lessons/README.md's reference table: each value, recomputed by its lesson. */
static const cJSON *at_path(const cJSON *doc, const char *path)
{
    const cJSON *cur = doc;
    char key[128];
    const char *p = path;
    while (cur && *p) {
        if (*p == '.') p++;
        if (*p == '[') {
            cur = cJSON_GetArrayItem(cur, atoi(p + 1));
            p = strchr(p, ']');
            if (!p) return NULL;
            p++;
            continue;
        }
        size_t k = strcspn(p, ".[");
        if (k >= sizeof key) return NULL;
        memcpy(key, p, k);
        key[k] = '\0';
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        p += k;
    }
    return cur;
}

static void test_catalog_reference_values(void **state)
{
    (void)state;
    const char *readme = getenv("LESSONS_README");
    if (!readme) fail_msg("LESSONS_README (lessons/README.md's path) is not set; run through meson test");
    FILE *f = fopen(readme, "r");
    assert_non_null(f);
    char line[1024];
    bool in_table = false;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "## Reference values", 19)) in_table = true;
        else if (!strncmp(line, "## ", 3)) in_table = false;
        if (!in_table || strncmp(line, "| ", 2) || !strncmp(line, "| lesson", 8) || !strncmp(line, "|---", 4)) continue;
        char *cell[4], *save, *tok = strtok_r(line, "|", &save);
        int n = 0;
        for (; tok && n < 4; tok = strtok_r(NULL, "|", &save)) {
            while (*tok == ' ') tok++;
            char *end = tok + strlen(tok);
            while (end > tok && (end[-1] == ' ' || end[-1] == '\n')) *--end = '\0';
            cell[n++] = tok;
        }
        if (n < 4) fail_msg("a reference row with %d cells", n);
        int st;
        cJSON *doc = json_run(path_of(cell[0]), cell[1], &st);
        if (st != 0 || !doc) fail_msg("%s --json %s: exit %d", cell[0], cell[1], st);
        const cJSON *v = at_path(doc, cell[2]);
        if (!cJSON_IsNumber(v)) fail_msg("%s %s: no number at %s", cell[0], cell[1], cell[2]);
        double want = strtod(cell[3], NULL);
        if (!(fabs(v->valuedouble - want) <= 1e-12 * fmax(1.0, fabs(want))))
            fail_msg("%s %s: %s is %.17g, the catalog says %s", cell[0], cell[1], cell[2], v->valuedouble, cell[3]);
        cJSON_Delete(doc);
        rows++;
    }
    fclose(f);
    assert_true(rows >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_unused_options_refused),
        cmocka_unit_test(test_nonfinite_fails),
        cmocka_unit_test(test_slips),
        cmocka_unit_test(test_four_ways),
        cmocka_unit_test(test_catalog_reference_values),
        cmocka_unit_test(test_json_carries_what_the_text_prints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
