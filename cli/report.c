/* report.c: the JUnit and TAP writers of ad_report.h. */
#include <math.h>
#include <string.h>
#include "ad_report.h"

int ad_utf8_sequence(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    if (!n) return 0;
    for (int k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    /* no overlong forms, surrogates or code points past U+10FFFF */
    if (n == 3 && s[0] == 0xE0 && s[1] < 0xA0) return 0;
    if (n == 3 && s[0] == 0xED && s[1] >= 0xA0) return 0;
    if (n == 4 && s[0] == 0xF0 && s[1] < 0x90) return 0;
    if (n == 4 && s[0] == 0xF4 && s[1] >= 0x90) return 0;
    return n;
}

/* ---- JUnit ---- */

/* s as XML text or attribute: escapes, and U+FFFD for bytes that are not
 * UTF-8 or are control characters XML 1.0 forbids. In an attribute a
 * newline would be normalised to a space by any reader: write it as &#10;. */
static void xml_text(FILE *f, const char *str, bool attribute)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        int n = ad_utf8_sequence(s);
        if (n == 0) {
            fputs("\xEF\xBF\xBD", f);
            s++;
            continue;
        }
        if (n > 1) {
            fwrite(s, 1, (size_t)n, f);
            s += n;
            continue;
        }
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs(attribute ? "&#10;" : "\n", f); break;
        case '\t': fputs(attribute ? "&#9;" : "\t", f); break;
        default:
            if (*s < 0x20 || *s == 0x7F) fputs("\xEF\xBF\xBD", f);
            else fputc(*s, f);
        }
        s++;
    }
}

/* ` name="value"`, or nothing when value is NULL. */
static void xml_attr(FILE *f, const char *name, const char *value)
{
    if (!value) return;
    fprintf(f, " %s=\"", name);
    xml_text(f, value, true);
    fputc('"', f);
}

/* Seconds as the schema's SUREFIRE_TIME: digits, a point, digits. */
static double junit_seconds(double s) { return isfinite(s) && s > 0 ? s : 0; }

static const char *const outcome_element[] = {NULL, "failure", "error", "skipped"};

void ad_junit_write(FILE *f, const char *suite, const ad_junit_case *cases, int n)
{
    int failures = 0, errors = 0, skipped = 0;
    double total = 0;
    for (int i = 0; i < n; i++) {
        failures += cases[i].outcome == AD_JUNIT_FAILURE;
        errors += cases[i].outcome == AD_JUNIT_ERROR;
        skipped += cases[i].outcome == AD_JUNIT_SKIPPED;
        total += junit_seconds(cases[i].seconds);
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", f);
    xml_attr(f, "name", suite);
    fprintf(f, " tests=\"%d\" failures=\"%d\" errors=\"%d\" time=\"%.6f\">\n", n, failures, errors, total);
    fputs("  <testsuite", f);
    xml_attr(f, "name", suite ? suite : "");
    fprintf(f, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.6f\">\n", n, failures, errors,
            skipped, total);
    for (int i = 0; i < n; i++) {
        const ad_junit_case *c = &cases[i];
        fputs("    <testcase", f);
        xml_attr(f, "classname", c->classname);
        xml_attr(f, "name", c->name ? c->name : "");
        fprintf(f, " time=\"%.6f\"", junit_seconds(c->seconds));
        const char *el = c->outcome >= AD_JUNIT_PASS && c->outcome <= AD_JUNIT_SKIPPED ? outcome_element[c->outcome] : "error";
        if (!el && !c->output) {
            fputs("/>\n", f);
            continue;
        }
        fputs(">\n", f);
        if (el) {
            fprintf(f, "      <%s", el);
            xml_attr(f, "type", c->type);
            xml_attr(f, "message", c->message);
            if (c->details) {
                fputc('>', f);
                xml_text(f, c->details, false);
                fprintf(f, "</%s>\n", el);
            } else {
                fputs("/>\n", f);
            }
        }
        if (c->output) {
            fputs("      <system-out>", f);
            xml_text(f, c->output, false);
            fputs("</system-out>\n", f);
        }
        fputs("    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
}

/* ---- TAP 13 ---- */

void ad_tap_begin(FILE *f, int n) { fprintf(f, "TAP version 13\n1..%d\n", n); }

/* One line of TAP text: no newline (it would end the line), no '#' (it
 * starts a directive), valid UTF-8. */
static void tap_text(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        int n = ad_utf8_sequence(s);
        if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7F))) fputc(' ', f);
        else if (n == 1 && *s == '#') fputc(' ', f);
        else fwrite(s, 1, (size_t)n, f);
        s += n ? n : 1;
    }
}

void ad_tap_result(FILE *f, int number, bool ok, const char *name, const char *directive)
{
    fprintf(f, "%s %d - ", ok ? "ok" : "not ok", number);
    tap_text(f, name);
    if (directive) {
        fputs(" # ", f);
        tap_text(f, directive);
    }
    fputc('\n', f);
}

void ad_tap_yaml_begin(FILE *f) { fputs("  ---\n", f); }
void ad_tap_yaml_end(FILE *f) { fputs("  ...\n", f); }

/* A YAML double-quoted scalar: \" \\ and \n escapes, \xHH for other control
 * bytes, U+FFFD (\uFFFD) for bytes that are not UTF-8. */
void ad_tap_yaml_string(FILE *f, const char *key, const char *value)
{
    fprintf(f, "  %s: \"", key);
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    while (*s) {
        int n = ad_utf8_sequence(s);
        if (n == 0) fputs("\\uFFFD", f);
        else if (n > 1) fwrite(s, 1, (size_t)n, f);
        else if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if (*s == '\n') fputs("\\n", f);
        else if (*s == '\t') fputs("\\t", f);
        else if (*s < 0x20 || *s == 0x7F) fprintf(f, "\\x%02X", *s);
        else fputc(*s, f);
        s += n ? n : 1;
    }
    fputs("\"\n", f);
}

void ad_tap_yaml_number(FILE *f, const char *key, double value)
{
    if (isnan(value)) fprintf(f, "  %s: .nan\n", key);
    else if (isinf(value)) fprintf(f, "  %s: %s.inf\n", key, value < 0 ? "-" : "");
    else fprintf(f, "  %s: %.17g\n", key, value);
}

void ad_tap_comment(FILE *f, const char *text)
{
    fputs("# ", f);
    tap_text(f, text);
    fputc('\n', f);
}
