/* report.c: gradcheck results as text, JSON, JUnit XML and TAP 13 (the
 * last two through cli/ad_report.h, the writers every command shares). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_gradcheck.h"
#include "ad_report.h"

static const char *dtype_name(const ad_gc_record *r) { return r->dtype == AD_FLOAT32 ? "float32" : "float64"; }

/* "conv2d [float32] [batch 2, ...] input 1 reverse-jacobian" */
static void record_name(const ad_gc_record *r, char *buf, size_t len)
{
    if (r->input >= 0)
        snprintf(buf, len, "%s [%s] [%s] input %d %s", r->op, dtype_name(r), r->case_label, r->input,
                 ad_gc_check_name(r->check));
    else snprintf(buf, len, "%s [%s] [%s] %s", r->op, dtype_name(r), r->case_label, ad_gc_check_name(r->check));
}

/* The value the check compared with the numerical one at the worst element. */
static double checked_value(const ad_gc_record *r)
{
    bool fwd = r->check == AD_GC_JACOBIAN_FWD || r->check == AD_GC_FAST_FWD || r->check == AD_GC_DEVICE_JVP ||
               r->check == AD_GC_VALUE;
    return fwd ? r->forward : r->reverse;
}

/* What the checked value was compared with: finite differences, or (a
 * float32 record) float64's value. */
static const char *reference_name(const ad_gc_record *r)
{
    return r->dtype == AD_FLOAT32 ? "float64" : "numerical";
}

/* The failure's details, one line. The errors printed beside the worst
 * element are that element's own; the largest over all elements (which may
 * be at other elements) follow, labelled as such. */
static void detail(const ad_gc_record *r, char *buf, size_t len)
{
    if (r->check == AD_GC_CRASH) {   /* no numbers: what was running, and how it ended */
        snprintf(buf, len, "%s", r->message);
        return;
    }
    double a = checked_value(r), abs_err = fabs(a - r->numerical);
    if (r->check == AD_GC_VALUE && r->worst[0]) {   /* a value, not a derivative: no x, no modes */
        snprintf(buf, len, "worst %s: float32 %.9g, float64 %.17g: error %.3g there; largest over all elements: abs %.3g, "
                 "rel %.3g%s%s",
                 r->worst, a, r->numerical, abs_err, r->max_abs_err, r->max_rel_err, r->message[0] ? "; " : "",
                 r->message);
        return;
    }
    if (r->check == AD_GC_HVP && r->worst[0]) {   /* second order: one value against the difference */
        snprintf(buf, len, "worst %s at x = %.9g: numerical %.9g, ad_hvp %.9g: error %.3g there; largest over all "
                 "elements: abs %.3g, rel %.3g%s%s",
                 r->worst, r->x_at_worst, r->numerical, r->reverse, abs_err, r->max_abs_err, r->max_rel_err,
                 r->message[0] ? "; " : "", r->message);
        return;
    }
    if (r->worst[0] && !isnan(abs_err))
        snprintf(buf, len,
                 "worst %s at x = %.9g: %s %.9g, reverse %.9g, forward %.9g: error %.3g (relative %.3g) there; "
                 "largest over all elements: abs %.3g, rel %.3g%s%s",
                 r->worst, r->x_at_worst, reference_name(r), r->numerical, r->reverse, r->forward, abs_err,
                 r->numerical != 0 ? abs_err / fabs(r->numerical) : abs_err, r->max_abs_err, r->max_rel_err,
                 r->message[0] ? "; " : "", r->message);
    else if (r->worst[0])
        snprintf(buf, len, "worst %s: %s %.9g, reverse %.9g, forward %.9g (largest abs err %.3g, rel %.3g)%s%s",
                 r->worst, reference_name(r), r->numerical, r->reverse, r->forward, r->max_abs_err, r->max_rel_err,
                 r->message[0] ? "; " : "", r->message);
    else snprintf(buf, len, "%s (abs err %.3g)", r->message, r->max_abs_err);
}

/* A record that passes because nothing could be checked ("not checked: why",
 * e.g. threads in a build without OpenMP): shown as skipped, with its why. */
static bool not_checked(const ad_gc_record *x) { return x->pass && strncmp(x->message, "not checked", 11) == 0; }

static void write_text(FILE *f, const ad_gc_report *r)
{
    char name[256], d[600];
    int skipped = 0;
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        record_name(x, name, sizeof name);
        ad_text_sanitize(name);   /* an op's name can hold any bytes */
        skipped += not_checked(x);
        fprintf(f, "%s  %s  (%.3f s)\n", not_checked(x) ? "SKIP" : x->pass ? "PASS" : "FAIL", name, x->seconds);
        if (!x->pass || not_checked(x)) {
            if (x->pass) snprintf(d, sizeof d, "%s", x->message);
            else detail(x, d, sizeof d);
            ad_text_sanitize(d);
            fprintf(f, "      %s\n", d);
        }
    }
    fprintf(f, "%d passed, %d failed", r->n - r->n_fail - skipped, r->n_fail);
    if (skipped) fprintf(f, ", %d not checked", skipped);
    fputc('\n', f);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);   /* JSON has no NaN */
}

/* s as a JSON string's text: cJSON escapes control characters but passes
 * bytes that are not UTF-8 (an op's name can hold any), which JSON forbids. */
static const char *json_text(char *buf, size_t len, const char *s)
{
    snprintf(buf, len, "%s", s);
    ad_text_sanitize(buf);
    return buf;
}

static void write_json(FILE *f, const ad_gc_report *r)
{
    char buf[256];
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "results");
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "op", json_text(buf, sizeof buf, x->op));
        cJSON_AddStringToObject(o, "case", json_text(buf, sizeof buf, x->case_label));
        cJSON_AddStringToObject(o, "dtype", dtype_name(x));
        if (x->input >= 0) cJSON_AddNumberToObject(o, "input", x->input);
        else cJSON_AddNullToObject(o, "input");
        cJSON_AddStringToObject(o, "check", ad_gc_check_name(x->check));
        cJSON_AddBoolToObject(o, "pass", x->pass);
        add_num(o, "max_abs_err", x->max_abs_err);
        add_num(o, "max_rel_err", x->max_rel_err);
        if (x->worst[0]) cJSON_AddStringToObject(o, "worst_element", json_text(buf, sizeof buf, x->worst));
        add_num(o, "x_at_worst", x->x_at_worst);
        add_num(o, "numerical", x->numerical);
        add_num(o, "reverse", x->reverse);
        add_num(o, "forward", x->forward);
        add_num(o, "seconds", x->seconds);
        if (x->message[0]) cJSON_AddStringToObject(o, "message", json_text(buf, sizeof buf, x->message));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(doc, "passed", r->n - r->n_fail);
    cJSON_AddNumberToObject(doc, "failed", r->n_fail);
    char *s = cJSON_Print(doc);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(doc);
}

/* One testcase per record; a check that could not run ("could not run: ...")
 * or crashed is an error, a wrong derivative a failure. */
static ad_status write_junit(FILE *f, const ad_gc_report *r)
{
    ad_junit_case *cases = calloc((size_t)(r->n ? r->n : 1), sizeof *cases);
    char (*names)[256] = calloc((size_t)(r->n ? r->n : 1), sizeof *names);
    char (*classes)[96] = calloc((size_t)(r->n ? r->n : 1), sizeof *classes);
    char (*details)[700] = calloc((size_t)(r->n ? r->n : 1), sizeof *details);
    if (!cases || !names || !classes || !details) {
        free(cases), free(names), free(classes), free(details);
        return ad_fail(AD_ERR_NOMEM, "gc_write: out of memory for %d JUnit test cases", r->n);
    }
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        record_name(x, names[i], sizeof names[i]);
        snprintf(classes[i], sizeof classes[i], "gradcheck.%s.%s", x->op, dtype_name(x));
        cases[i] = (ad_junit_case){.classname = classes[i], .name = names[i], .seconds = x->seconds};
        if (not_checked(x)) cases[i].outcome = AD_JUNIT_SKIPPED, cases[i].message = x->message;
        if (x->pass) continue;
        detail(x, details[i], sizeof details[i]);
        bool ran = strncmp(x->message, "could not run", 13) != 0, crashed = x->check == AD_GC_CRASH;
        cases[i].outcome = ran && !crashed ? AD_JUNIT_FAILURE : AD_JUNIT_ERROR;
        cases[i].type = crashed ? "Crash" : ran ? "GradientMismatch" : "CheckError";
        cases[i].message = details[i];
    }
    ad_junit_write(f, "gradcheck", cases, r->n);
    free(cases), free(names), free(classes), free(details);
    return AD_OK;
}

/* TAP 13: a YAML block under each failure, numbers as YAML numbers
 * (.nan where not computed). */
static void write_tap(FILE *f, const ad_gc_report *r)
{
    char name[256];
    ad_tap_begin(f, r->n);
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        record_name(x, name, sizeof name);
        char why[sizeof x->message + 8];
        snprintf(why, sizeof why, "SKIP %s", x->message);
        ad_tap_result(f, i + 1, x->pass, name, not_checked(x) ? why : NULL);
        if (x->pass) continue;
        ad_tap_yaml_begin(f);
        ad_tap_yaml_string(f, "check", ad_gc_check_name(x->check));
        ad_tap_yaml_string(f, "dtype", dtype_name(x));
        if (x->check == AD_GC_CRASH) {   /* no numbers: what was running, and how it ended */
            ad_tap_yaml_string(f, "message", x->message);
            ad_tap_yaml_end(f);
            continue;
        }
        if (x->worst[0]) ad_tap_yaml_string(f, "worst_element", x->worst);
        ad_tap_yaml_number(f, "x_at_worst", x->x_at_worst);
        ad_tap_yaml_number(f, "numerical", x->numerical);
        ad_tap_yaml_number(f, "reverse", x->reverse);
        ad_tap_yaml_number(f, "forward", x->forward);
        ad_tap_yaml_number(f, "error_at_worst", fabs(checked_value(x) - x->numerical));
        ad_tap_yaml_number(f, "max_abs_err", x->max_abs_err);
        ad_tap_yaml_number(f, "max_rel_err", x->max_rel_err);
        if (x->message[0]) ad_tap_yaml_string(f, "message", x->message);
        ad_tap_yaml_end(f);
    }
}

ad_status ad_gc_write(FILE *f, const ad_gc_report *r, ad_gc_format fmt)
{
    if (!f || !r) return ad_fail(AD_ERR_ARG, "gc_write: NULL argument");
    switch (fmt) {
    case AD_GC_TEXT: write_text(f, r); break;
    case AD_GC_JSON: write_json(f, r); break;
    case AD_GC_JUNIT: {
        ad_status st = write_junit(f, r);
        if (st != AD_OK) return st;
        break;
    }
    case AD_GC_TAP: write_tap(f, r); break;
    default: return ad_fail(AD_ERR_ARG, "gc_write: unknown format %d", (int)fmt);
    }
    return ferror(f) ? ad_fail(AD_ERR_IO, "gc_write: write error") : AD_OK;
}
