/* report.c: gradcheck results as text, JSON, JUnit XML and TAP 14. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_gradcheck.h"

static void record_name(const ad_gc_record *r, char *buf, size_t len)
{
    if (r->input >= 0)
        snprintf(buf, len, "%s [%s] input %d %s", r->op, r->case_label, r->input, ad_gc_check_name(r->check));
    else snprintf(buf, len, "%s [%s] %s", r->op, r->case_label, ad_gc_check_name(r->check));
}

/* The failure's details, one line. */
static void detail(const ad_gc_record *r, char *buf, size_t len)
{
    if (r->worst[0])
        snprintf(buf, len, "worst %s at x = %.9g: numerical %.9g, reverse %.9g, forward %.9g (abs err %.3g, rel err %.3g)%s%s",
                 r->worst, r->x_at_worst, r->numerical, r->reverse, r->forward, r->max_abs_err, r->max_rel_err,
                 r->message[0] ? "; " : "", r->message);
    else snprintf(buf, len, "%s (abs err %.3g)", r->message, r->max_abs_err);
}

static void write_text(FILE *f, const ad_gc_report *r)
{
    char name[256], d[600];
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        record_name(x, name, sizeof name);
        fprintf(f, "%s  %s  (%.3f s)\n", x->pass ? "PASS" : "FAIL", name, x->seconds);
        if (!x->pass) {
            detail(x, d, sizeof d);
            fprintf(f, "      %s\n", d);
        }
    }
    fprintf(f, "%d passed, %d failed\n", r->n - r->n_fail, r->n_fail);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);   /* JSON has no NaN */
}

static void write_json(FILE *f, const ad_gc_report *r)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "results");
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "op", x->op);
        cJSON_AddStringToObject(o, "case", x->case_label);
        if (x->input >= 0) cJSON_AddNumberToObject(o, "input", x->input);
        else cJSON_AddNullToObject(o, "input");
        cJSON_AddStringToObject(o, "check", ad_gc_check_name(x->check));
        cJSON_AddBoolToObject(o, "pass", x->pass);
        add_num(o, "max_abs_err", x->max_abs_err);
        add_num(o, "max_rel_err", x->max_rel_err);
        if (x->worst[0]) cJSON_AddStringToObject(o, "worst_element", x->worst);
        add_num(o, "x_at_worst", x->x_at_worst);
        add_num(o, "numerical", x->numerical);
        add_num(o, "reverse", x->reverse);
        add_num(o, "forward", x->forward);
        add_num(o, "seconds", x->seconds);
        if (x->message[0]) cJSON_AddStringToObject(o, "message", x->message);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(doc, "passed", r->n - r->n_fail);
    cJSON_AddNumberToObject(doc, "failed", r->n_fail);
    char *s = cJSON_Print(doc);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(doc);
}

static void xml_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', f);
            else fputc(*s, f);
        }
    }
}

static void write_junit(FILE *f, const ad_gc_report *r)
{
    double total = 0;
    for (int i = 0; i < r->n; i++) total += r->rec[i].seconds;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"gradcheck\" tests=\"%d\" failures=\"%d\" time=\"%.6f\">\n", r->n, r->n_fail, total);
    fprintf(f, "  <testsuite name=\"gradcheck\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.6f\">\n", r->n,
            r->n_fail, total);
    char name[256], d[600];
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        record_name(x, name, sizeof name);
        fputs("    <testcase classname=\"gradcheck.", f);
        xml_escaped(f, x->op);
        fputs("\" name=\"", f);
        xml_escaped(f, name);
        fprintf(f, "\" time=\"%.6f\"", x->seconds);
        if (x->pass) {
            fputs("/>\n", f);
            continue;
        }
        detail(x, d, sizeof d);
        fputs(">\n      <failure message=\"", f);
        xml_escaped(f, d);
        fputs("\" type=\"GradientMismatch\"/>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
}

/* TAP 14: a YAML block under each failure. */
static void write_tap(FILE *f, const ad_gc_report *r)
{
    char name[256];
    fprintf(f, "TAP version 14\n1..%d\n", r->n);
    for (int i = 0; i < r->n; i++) {
        const ad_gc_record *x = &r->rec[i];
        record_name(x, name, sizeof name);
        for (char *p = name; *p; p++)
            if (*p == '#') *p = ' ';   /* '#' starts a directive in TAP */
        fprintf(f, "%s %d - %s\n", x->pass ? "ok" : "not ok", i + 1, name);
        if (!x->pass) {
            fprintf(f, "  ---\n  check: %s\n", ad_gc_check_name(x->check));
            if (x->worst[0]) fprintf(f, "  worst_element: \"%s\"\n", x->worst);
            fprintf(f, "  x_at_worst: %.9g\n  numerical: %.9g\n  reverse: %.9g\n  forward: %.9g\n", x->x_at_worst,
                    x->numerical, x->reverse, x->forward);
            fprintf(f, "  max_abs_err: %.6g\n  max_rel_err: %.6g\n", x->max_abs_err, x->max_rel_err);
            if (x->message[0]) {
                fputs("  message: \"", f);
                for (const char *p = x->message; *p; p++) {
                    if (*p == '"' || *p == '\\') fputc('\\', f);
                    fputc(*p, f);
                }
                fputs("\"\n", f);
            }
            fputs("  ...\n", f);
        }
    }
}

ad_status ad_gc_write(FILE *f, const ad_gc_report *r, ad_gc_format fmt)
{
    if (!f || !r) return ad_fail(AD_ERR_ARG, "gc_write: NULL argument");
    switch (fmt) {
    case AD_GC_TEXT: write_text(f, r); break;
    case AD_GC_JSON: write_json(f, r); break;
    case AD_GC_JUNIT: write_junit(f, r); break;
    case AD_GC_TAP: write_tap(f, r); break;
    default: return ad_fail(AD_ERR_ARG, "gc_write: unknown format %d", (int)fmt);
    }
    return ferror(f) ? ad_fail(AD_ERR_IO, "gc_write: write error") : AD_OK;
}
