/* lesson.c: the lessons' shared command line, FD check and JSON output. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ad_cli.h"
#include "lesson.h"
#include "lesson_trace.h"

static int failures;          /* checks failed so far (lesson_fail) */
static const char *source;    /* the lesson's lecture and sections, for the JSON document */
static const char *code;      /* where the engine does it (lesson.code), for the JSON document */

static void lesson_parse_args(lesson *L, int argc, char **argv);

void lesson_parse(lesson *L, int argc, char **argv)
{
    lesson_parse_args(L, argc, argv);
    if (L->html_path) lesson_trace_enable();   /* the rows the page steps through */
    if (L->ascii && !L->json) lesson_ascii_filter();
    source = L->source;
    code = L->code;
    if (L->source && !L->json) printf("[shared/lectures/%s]\n", L->source);
    if (L->code && !L->json) printf("[the code: %s; the reading guide: engine/README.md]\n", L->code);
    if ((L->source || L->code) && !L->json) putchar('\n');
}

static void lesson_parse_args(lesson *L, int argc, char **argv)
{
    /* The table: one option per input, then what every lesson has. */
    static char help[LESSON_MAX_INPUTS][512];
    ad_cli_option opt[LESSON_MAX_INPUTS + 5];
    int n = 0;
    for (int i = 0; i < L->n_in; i++, n++) {
        snprintf(help[i], sizeof help[i], "input %s (default %g)%s%s", L->in[i].name, L->in[i].value,
                 L->in[i].why ? ";\n" : "", L->in[i].why ? L->in[i].why : "");
        opt[n] = (ad_cli_option){L->in[i].name, "VALUE", help[i]};
    }
    /* --variant and --dot only where the lesson uses them (has_variant, has_dot) */
    const int o_json = n++, o_ascii = n++, o_variant = L->has_variant ? n++ : -10, o_dot = L->has_dot ? n++ : -10,
              o_html = L->has_dot ? n++ : -10;
    opt[o_json] = (ad_cli_option){"json", NULL, "print the results as JSON only"};
    opt[o_ascii] = (ad_cli_option){"ascii", NULL, "print the text in ASCII (theta0, d, ', *, sqrt) in place of the\n"
                                                  "lecture's notation (θ₀, ∂, ′, ·, √), for terminals without UTF-8"};
    if (L->has_variant) opt[o_variant] = (ad_cli_option){"variant", "A|B", LESSON_VARIANT_HELP};
    if (L->has_dot)
        opt[o_dot] = (ad_cli_option){"dot", "FILE", "write the computation graph with values and gradients for\n"
                                                    "Graphviz (render it: dot -Tsvg FILE > graph.svg)"};
    if (L->has_dot)
        opt[o_html] = (ad_cli_option){"html", "FILE", "write one self-contained HTML page that draws the graph and\n"
                                                      "steps through the forward and reverse passes (open it in a browser)"};
    /* the description: the lecture and sections reproduced, where the engine does it, then the lesson's own text */
    static char desc[2048];
    snprintf(desc, sizeof desc, "%s%s%s%s%s%s", L->source ? "Reproduces shared/lectures/" : "", L->source ? L->source : "",
             L->code ? "\n\nThe code: " : "", L->code ? L->code : "", (L->source || L->code) && L->usage_extra ? "\n\n" : "",
             L->usage_extra ? L->usage_extra : "");
    ad_cli cli = {.program = L->program, .summary = L->title, .description = desc[0] ? desc : NULL, .options = opt,
                  .n_options = n};
    ad_cli_start(&cli, argc, argv);
    const char *val;
    for (int k; (k = ad_cli_next(&cli, &val)) != AD_CLI_END;) {
        if (k == AD_CLI_ARG) ad_cli_usage_error(&cli, "unexpected argument '%s'", val);
        else if (k == o_json) L->json = true;
        else if (k == o_ascii) L->ascii = true;
        else if (k == o_dot) L->dot_path = val;
        else if (k == o_html) L->html_path = val;
        else if (k == o_variant) {
            if (!strcmp(val, "A") || !strcmp(val, "a")) L->variant = AD_BACKWARD_PULL;
            else if (!strcmp(val, "B") || !strcmp(val, "b")) L->variant = AD_BACKWARD_PUSH;
            else ad_cli_usage_error(&cli, "--variant takes A or B, not '%s'", val);
        } else {
            double v = ad_cli_double(&cli, val, -INFINITY, INFINITY);
            const lesson_input *in = &L->in[k];
            if (!(v > in->lo && v < in->hi))
                ad_cli_usage_error(&cli, "--%s %s is outside the domain (%g, %g)%s%s", in->name, val, in->lo, in->hi,
                                   in->why ? ": " : "", in->why ? in->why : "");
            L->in[k].value = v;
        }
    }
}

const char *lesson_symbol(const lesson *L, int i) { return L->in[i].sym ? L->in[i].sym : L->in[i].name; }

_Noreturn void lesson_usage_error(const char *program, const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    ad_cli_usage_error(&(ad_cli){.program = program}, "%s", msg);
}

double lesson_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double lesson_eval(lesson_fn f, void *user, const double *x, int n)
{
    ad_context *ctx = ad_context_new();
    if (!ctx) return NAN;
    ad_set_check_finite(ctx, true);   /* a NaN/Inf on the way is a failure, not a number */
    ad_node *leaves[LESSON_MAX_INPUTS];
    for (int i = 0; i < n; i++) leaves[i] = ad_scalar_const(ctx, x[i]);
    ad_node *y = f(ctx, leaves, user);
    double v = y ? ad_value_scalar(y) : NAN;
    ad_context_free(ctx);
    return v;
}

/* The centered difference D(h) = (f(x + h) − f(x − h)) / 2h along input i,
 * divided by the step actually taken (x ± h rounds to a float64 near it). */
static double centered(lesson_fn f, void *user, const double *x, int n, int i, double h)
{
    double xp[LESSON_MAX_INPUTS], xm[LESSON_MAX_INPUTS];
    memcpy(xp, x, (size_t)n * sizeof *x);
    memcpy(xm, x, (size_t)n * sizeof *x);
    xp[i] += h;
    xm[i] -= h;
    return (lesson_eval(f, user, xp, n) - lesson_eval(f, user, xm, n)) / (xp[i] - xm[i]);
}

/* D(h) = f′ + h²f‴/6 + O(h⁴): near a point where f bends fast (√ of a number
 * near 0, say) the h² term alone can exceed the check's 1e-6. D(h/2) has a
 * quarter of it, so (4·D(h/2) − D(h))/3 cancels it (Richardson
 * extrapolation), leaving O(h⁴). */
double lesson_central_difference(lesson_fn f, void *user, const double *x, int n, int i)
{
    double h = 1e-6 * fmax(1.0, fabs(x[i]));
    return (4 * centered(f, user, x, n, i, h / 2) - centered(f, user, x, n, i, h)) / 3;
}

/* One-sided differences at x along input i: left (f(x) − f(x − h))/h and
 * right (f(x + h) − f(x))/h, each divided by the step actually taken. At a
 * kink they are the two one-sided derivatives (to O(h)), which differ: the
 * function has no derivative there, and the engine's value is one of them
 * (or a subgradient between). */
static void one_sided(lesson_fn f, void *user, const double *x, int n, int i, double *left, double *right)
{
    double xp[LESSON_MAX_INPUTS], xm[LESSON_MAX_INPUTS], h = 1e-6 * fmax(1.0, fabs(x[i]));
    memcpy(xp, x, (size_t)n * sizeof *x);
    memcpy(xm, x, (size_t)n * sizeof *x);
    xp[i] += h;
    xm[i] -= h;
    double f0 = lesson_eval(f, user, x, n);
    *left = (f0 - lesson_eval(f, user, xm, n)) / (x[i] - xm[i]);
    *right = (lesson_eval(f, user, xp, n) - f0) / (xp[i] - x[i]);
}

static bool near(double a, double b) { return fabs(a - b) <= 1e-4 * fmax(1.0, fabs(b)); }   /* O(h) one-sided error */

double lesson_fd_report(const lesson *L, lesson_fn f, void *user, const double *grads, const char *fname,
                        cJSON *json)
{
    double x[LESSON_MAX_INPUTS], worst = 0;
    for (int i = 0; i < L->n_in; i++) x[i] = L->in[i].value;
    cJSON *fd = json ? cJSON_AddObjectToObject(json, "finite_difference") : NULL;
    cJSON *ones = NULL;
    if (!L->json) printf("Finite-difference check (centered differences D(h), D(h/2), h = 1e-6·max(1,|x|), each divided by the "
                         "step taken, extrapolated: (4·D(h/2) − D(h))/3, error O(h⁴)):\n");
    int kinks = 0;
    for (int i = 0; i < L->n_in; i++) {
        const char *sym = lesson_symbol(L, i);
        double num = lesson_central_difference(f, user, x, L->n_in, i);
        const char *why = isfinite(num) ? NULL : ad_last_error();
        double diff = fabs(num - grads[i]), rel = diff / fmax(1.0, fabs(grads[i]));
        bool kink = (L->kink_mask >> i) & 1u;
        kinks += kink;
        /* NaN-propagating maximum: a NaN on either side makes worst NaN. */
        if (!kink && !(rel <= worst)) worst = rel;
        if (!L->json && !kink)
            printf("  ∂%s/∂%s ≈ %.12f   engine %.12f   |diff| = %.1e\n", fname, sym, num, grads[i], diff);
        if (!isfinite(num) || !isfinite(grads[i]))
            lesson_fail(L, "∂%s/∂%s: %s is not finite%s%s", fname, sym,
                        isfinite(grads[i]) ? "the finite difference" : "the engine's gradient", why ? ": " : "",
                        why ? why : "");
        if (fd) cJSON_AddNumberToObject(fd, L->in[i].name, isfinite(num) ? num : 0);
        if (kink) {
            /* No derivative here: show the two one-sided slopes and which the engine takes. */
            double lo, hi;
            one_sided(f, user, x, L->n_in, i, &lo, &hi);
            const char *takes = near(grads[i], hi) && near(grads[i], lo) ? "both (the slopes meet)"
                                : near(grads[i], hi)                     ? "the right-sided derivative"
                                : near(grads[i], lo)                     ? "the left-sided derivative"
                                                                         : "a subgradient between them";
            if (!L->json)
                printf("  ∂%s/∂%s: no derivative, %s is at a kink: one-sided slopes %.10g (from the left), "
                       "%.10g (from the right); the engine takes %.10g, %s; the centered difference %.10g is "
                       "their mean\n",
                       fname, sym, sym, lo, hi, grads[i], takes, num);
            if (fd) {
                if (!ones) ones = cJSON_AddObjectToObject(fd, "one_sided");
                cJSON *o = cJSON_AddObjectToObject(ones, L->in[i].name);
                cJSON_AddNumberToObject(o, "left", isfinite(lo) ? lo : 0);
                cJSON_AddNumberToObject(o, "right", isfinite(hi) ? hi : 0);
                cJSON_AddNumberToObject(o, "engine", grads[i]);
                cJSON_AddStringToObject(o, "engine_takes", takes);
            }
        }
    }
    int smooth = L->n_in - kinks;
    if (fd) {
        cJSON_AddNumberToObject(fd, "max_rel_diff", isfinite(worst) ? worst : 1e308);
        /* "agree" only where there is a derivative to agree with */
        if (smooth > 0) cJSON_AddBoolToObject(fd, "agree", worst <= 1e-6);
        cJSON_AddNumberToObject(fd, "compared", smooth);
        if (kinks && L->kink_why) cJSON_AddStringToObject(fd, "kink", L->kink_why);
    }
    if (!(worst <= 1e-6)) {
        lesson_fail(L, "finite differences and the engine differ by %.1e (relative to max(1, |∂|))", worst);
    } else if (!L->json) {
        if (smooth == 0)
            printf("  nothing to agree on: at this point no input has a derivative, each is at the kink\n");
        else
            printf("  agree: largest difference %.1e (relative to max(1, |∂|))%s\n", worst,
                   kinks ? ", over the inputs away from the kink" : "");
    }
    if (kinks && L->kink_why && !L->json) printf("  At the kink: %s\n", L->kink_why);
    return worst;
}

ad_status lesson_backward_unit(ad_context *ctx, ad_node *y, int64_t i)
{
    ad_tensor yv = ad_value(y);
    ad_tensor *cot = ad_tensor_new((ad_dtype)yv.dtype, yv.ndim, yv.shape);
    if (!cot) return ad_last_status();
    ad_tensor_set(cot, i, 1.0);
    ad_backward_opts o = {.cotangent = cot};
    ad_zero_grad(ctx);
    ad_status st = ad_backward_ex(ctx, y, &o);
    ad_tensor_free(cot);
    return st;
}

static int nonfinite_in(const cJSON *item, char *path, size_t len, size_t at);

void lesson_print_json(cJSON *doc)
{
    char path[512] = "$";
    int bad = nonfinite_in(doc, path, sizeof path, 1);
    failures += bad;
    if (failures) cJSON_AddNumberToObject(doc, "failed_checks", failures);
    if (source && !cJSON_GetObjectItemCaseSensitive(doc, "lecture")) cJSON_AddStringToObject(doc, "lecture", source);
    if (code && !cJSON_GetObjectItemCaseSensitive(doc, "code")) cJSON_AddStringToObject(doc, "code", code);
    char *s = cJSON_Print(doc);
    if (s) puts(s);
    free(s);
    cJSON_Delete(doc);
}

_Noreturn void lesson_die(const lesson *L, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", L->program, what, ad_last_error());
    exit(1);
}

void lesson_fail(const lesson *L, const char *fmt, ...)
{
    failures++;
    /* With --json stdout holds the document alone: the failure goes to
     * stderr as "program: FAILED: why", the form every command's errors take. */
    FILE *out = L->json ? stderr : stdout;
    if (L->json) fprintf(out, "%s: FAILED: ", L->program);
    else fputs("  FAILED: ", out);
    va_list ap;
    va_start(ap, fmt);
    if (fmt) vfprintf(out, fmt, ap);   /* the test: GCC 12 with -fsanitize warns "null format string" without it */
    va_end(ap);
    fputc('\n', out);
}

bool lesson_check_close(const lesson *L, const char *what, double got, double want, double tol)
{
    double d = fabs(got - want);
    if (d <= tol * fmax(1.0, fabs(want))) return true;   /* false for NaN */
    lesson_fail(L, "%s: %.15g, expected %.15g (|diff| %.1e)", what, got, want, d);
    return false;
}

int lesson_status(void)
{
    lesson_pictures_done();   /* main returns this last */
    return failures ? 1 : 0;
}

ad_context *lesson_context(const lesson *L)
{
    ad_context *ctx = ad_context_new();
    if (!ctx) lesson_die(L, "context");
    ad_set_check_finite(ctx, true);
    return ctx;
}


void lesson_json_text(cJSON *o, const char *key, char *text)
{
    if (!text) {
        fprintf(stderr, "%s\n", ad_last_error());
        exit(1);
    }
    cJSON_AddStringToObject(o, key, text);
    free(text);
}

void lesson_json_nodes(cJSON *doc, const ad_context *ctx, const ad_node *root)
{
    cJSON *arr = cJSON_AddArrayToObject(doc, "nodes");
    int k = ad_forward_dir_count(ctx);
    for (uint32_t id = 0, last = ad_node_id(root); id <= last; id++) {
        const ad_node *n = ad_node_by_id(ctx, id);
        if (!n || ad_value(n).size != 1 || (!ad_node_op(n) && !ad_node_name(n))) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", id);
        lesson_json_text(o, "name", ad_explain_name_alloc(n));
        cJSON_AddStringToObject(o, "op", ad_node_op_name(n));
        lesson_json_text(o, "expr", ad_explain_expr_alloc(n));
        cJSON_AddNumberToObject(o, "value", ad_value_scalar(n));
        if (ad_grad(n).data) cJSON_AddNumberToObject(o, "grad", ad_grad_scalar(n));
        if (ad_node_op(n) && ad_node_input_count(n) > 0) {   /* ∂n/∂(each input): the factors the reverse-mode steps print */
            cJSON *lp = cJSON_AddArrayToObject(o, "local_partials");
            for (int sl = 0, n_in = ad_node_input_count(n); sl < n_in; sl++) cJSON_AddItemToArray(lp, cJSON_CreateNumber(ad_local_partial(n, sl)));
        }
        if (k > 0 && ad_has_tangent(n)) {
            cJSON *t = cJSON_AddArrayToObject(o, "tangent");
            for (int d = 0; d < k; d++) cJSON_AddItemToArray(t, cJSON_CreateNumber(ad_tangent_at(n, d, 0)));
        }
        cJSON_AddItemToArray(arr, o);
    }
}

void lesson_json_tensor(cJSON *doc, const char *key, const ad_node *n)
{
    cJSON *v = cJSON_AddArrayToObject(doc, key);
    int64_t size = ad_value(n).size;
    for (int64_t i = 0; i < size; i++) cJSON_AddItemToArray(v, cJSON_CreateNumber(ad_value_at(n, i)));
    if (!ad_grad(n).data) return;
    char gk[128];
    snprintf(gk, sizeof gk, "%s_grad", key);
    cJSON *g = cJSON_AddArrayToObject(doc, gk);
    for (int64_t i = 0; i < size; i++) cJSON_AddItemToArray(g, cJSON_CreateNumber(ad_grad_at(n, i)));
}

void lesson_json_array(cJSON *doc, const char *key, const double *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(doc, key);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

/* Every number in the document must be finite; path names where one is not. */
static int nonfinite_in(const cJSON *item, char *path, size_t len, size_t at)
{
    if (cJSON_IsNumber(item)) {
        if (isfinite(item->valuedouble)) return 0;
        fprintf(stderr, "FAILED: the JSON value at %s is %g (not finite)\n", path, item->valuedouble);
        return 1;
    }
    int bad = 0, i = 0;
    for (const cJSON *c = item->child; c; c = c->next, i++) {
        if (c->string) snprintf(path + at, len - at, ".%s", c->string);
        else snprintf(path + at, len - at, "[%d]", i);
        bad += nonfinite_in(c, path, len, strlen(path));
        path[at] = '\0';
    }
    return bad;
}

static bool all_close(const double *a, const double *b, int n)
{
    for (int i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= 1e-6 * fmax(1.0, fabs(b[i])))) return false;   /* NaN: not close */
    return true;
}

static void print_values(const char *label, const double *v, int n)
{
    printf("    %-10s", label);
    for (int i = 0; i < n; i++) printf(" %.10g", v[i]);
    printf("\n");
}

/* Long vectors (images): list only the entries where the slide is off. */
static void print_differing(const double *slide, const double *right, const double *ref, int n, const char *reference)
{
    int shown = 0, total = 0;
    for (int i = 0; i < n; i++) {
        if (fabs(slide[i] - ref[i]) <= 1e-6 * fmax(1.0, fabs(ref[i]))) continue;
        if (shown++ < 12) printf("    [%d] slide %.10g, right %.10g, %s %.10g\n", i, slide[i], right[i], reference, ref[i]);
        total++;
    }
    printf("    %d of %d entries differ between the slide and %s%s\n", total, n, reference, total > 12 ? " (12 shown)" : "");
}

bool lesson_slip(const lesson *L, cJSON *doc, const char *id, const char *lecture, const char *what,
                 const double *slide, const double *right, const double *ref, int n, const char *reference)
{
    bool slide_ok = all_close(slide, ref, n), right_ok = all_close(right, ref, n);
    if (!L->json) {
        printf("  Slip %s [%s]: %s\n", id, lecture, what);
        if (n <= 8) {
            print_values("slide:", slide, n);
            print_values("right:", right, n);
            printf("    %s:", reference);
            for (int i = 0; i < n; i++) printf(" %.10g", ref[i]);
            printf("\n");
        } else {
            print_differing(slide, right, ref, n, reference);
        }
        printf("    -> %s%s\n", right_ok ? "the right version agrees with " : "the right version DISAGREES with ",
               reference);
        printf("    -> the slide's version %s\n",
               slide_ok ? "agrees too at this input (the slip does not show here)" : "does not");
    }
    if (doc) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "slips");
        if (!arr) arr = cJSON_AddArrayToObject(doc, "slips");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "lecture", lecture);
        cJSON_AddStringToObject(o, "what", what);
        lesson_json_array(o, "slide", slide, n);
        lesson_json_array(o, "right", right, n);
        lesson_json_array(o, "reference", ref, n);
        cJSON_AddStringToObject(o, "reference_is", reference);
        cJSON_AddBoolToObject(o, "slide_agrees", slide_ok);
        cJSON_AddBoolToObject(o, "right_agrees", right_ok);
        cJSON_AddItemToArray(arr, o);
    }
    if (!right_ok) lesson_fail(L, "slip %s: the corrected version does not match %s", id, reference);
    return !slide_ok;
}

void lesson_slip_undefined(const lesson *L, cJSON *doc, const char *id, const char *lecture, const char *what,
                           const char *why, const double *right, const double *ref, int n, const char *reference)
{
    bool right_ok = all_close(right, ref, n);
    if (!L->json) {
        printf("  Slip %s [%s]: %s\n", id, lecture, what);
        printf("    %-10s undefined here: %s\n", "slide:", why);
        print_values("right:", right, n);
        printf("    %s:", reference);
        for (int i = 0; i < n; i++) printf(" %.10g", ref[i]);
        printf("\n    -> %s%s\n", right_ok ? "the right version agrees with " : "the right version DISAGREES with ",
               reference);
        printf("    -> the slide's route gives no number at this input\n");
    }
    if (doc) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "slips");
        if (!arr) arr = cJSON_AddArrayToObject(doc, "slips");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "lecture", lecture);
        cJSON_AddStringToObject(o, "what", what);
        cJSON_AddArrayToObject(o, "slide");
        cJSON_AddStringToObject(o, "slide_undefined", why);
        lesson_json_array(o, "right", right, n);
        lesson_json_array(o, "reference", ref, n);
        cJSON_AddStringToObject(o, "reference_is", reference);
        cJSON_AddBoolToObject(o, "slide_agrees", false);
        cJSON_AddBoolToObject(o, "right_agrees", right_ok);
        cJSON_AddItemToArray(arr, o);
    }
    if (!right_ok) lesson_fail(L, "slip %s: the corrected version does not match %s", id, reference);
}

/* The backward pass's steps, as ad_explain_reverse prints them: each contribution
 * ∂y/∂consumer · ∂consumer/∂input and the input's adjoint after it (the "now" of Version B). */
static void record_step(const ad_backward_step *st, void *user)
{
    cJSON *arr = user;
    cJSON *o = cJSON_CreateObject();
    lesson_json_text(o, "consumer", ad_explain_name_alloc(st->consumer));
    lesson_json_text(o, "input", ad_explain_name_alloc(st->input));
    cJSON_AddNumberToObject(o, "contribution", ad_grad_scalar(st->consumer) * ad_local_partial(st->consumer, st->slot));
    cJSON_AddNumberToObject(o, "adjoint_after", ad_grad_scalar(st->input));
    cJSON_AddItemToArray(arr, o);
}

void lesson_json_backward_steps(const lesson *L, cJSON *doc, const char *key, ad_context *ctx, ad_node *root,
                                ad_backward_variant variant)
{
    cJSON *arr = cJSON_AddArrayToObject(doc, key);
    ad_zero_grad(ctx);
    ad_backward_opts o = {.variant = variant, .hook = record_step, .hook_user = arr};
    if (ad_backward_ex(ctx, root, &o) != AD_OK) lesson_die(L, "backward");
}
