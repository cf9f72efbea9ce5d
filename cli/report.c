/* report.c: the JUnit and TAP writers of ad_report.h, and the one UTF-8
 * decoder and XML character filter they (and every other command that
 * writes text for a machine to read) go through. */
#include <math.h>
#include <string.h>
#include "ad_report.h"

int ad_utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned b = s[0];
    int n;
    uint32_t c, min;
    if (b < 0x80) n = 1, c = b, min = 0;
    else if (b >= 0xC2 && b <= 0xDF) n = 2, c = b & 0x1F, min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF) n = 3, c = b & 0x0F, min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4) n = 4, c = b & 0x07, min = 0x10000;
    else return 0;   /* a continuation byte, C0 or C1 (every use overlong), F5-FF (past U+10FFFF) */
    for (int k = 1; k < n; k++) {
        /* stops at the first byte that is not a continuation, a NUL included:
         * a sequence cut short at the end of the string reads nothing past it */
        if ((s[k] & 0xC0) != 0x80) return 0;
        c = c << 6 | (s[k] & 0x3Fu);
    }
    /* E0 80..9F, F0 80..8F (overlong), ED A0..BF (surrogates), F4 90.. (past U+10FFFF) */
    if (c < min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) return 0;
    if (cp) *cp = c;
    return n;
}

bool ad_xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

uint32_t ad_text_next(const unsigned char *s, int *len)
{
    uint32_t c;
    int n = ad_utf8_decode(s, &c);
    *len = n ? n : 1;   /* a bad byte alone: the next one starts afresh */
    return n && ad_xml_char(c) ? c : AD_TEXT_BAD;
}

void ad_text_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n;
        if (ad_text_next(p, &n) == AD_TEXT_BAD && *p != '\n' && *p != '\t') memset(p, '?', (size_t)n);
        p += n;
    }
}

void ad_utf8_put(FILE *f, uint32_t c)
{
    if (c < 0x80) {
        fputc((int)c, f);
    } else if (c < 0x800) {
        fputc((int)(0xC0 | c >> 6), f);
        fputc((int)(0x80 | (c & 0x3F)), f);
    } else if (c < 0x10000) {
        fputc((int)(0xE0 | c >> 12), f);
        fputc((int)(0x80 | (c >> 6 & 0x3F)), f);
        fputc((int)(0x80 | (c & 0x3F)), f);
    } else {
        fputc((int)(0xF0 | c >> 18), f);
        fputc((int)(0x80 | (c >> 12 & 0x3F)), f);
        fputc((int)(0x80 | (c >> 6 & 0x3F)), f);
        fputc((int)(0x80 | (c & 0x3F)), f);
    }
}

/* ---- JUnit ---- */

/* s as XML text or attribute: escapes, and U+FFFD for what ad_text_next
 * finds bad (not UTF-8, or not an XML 1.0 Char: most C0 controls, U+FFFE,
 * U+FFFF). A reader normalises a newline in an attribute to a space, and a
 * CR anywhere to a newline: written as character references they survive. */
static void xml_text(FILE *f, const char *str, bool attribute)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        int n;
        uint32_t c = ad_text_next(s, &n);
        s += n;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;   /* so "]]>" cannot appear in text */
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs(attribute ? "&#10;" : "\n", f); break;
        case '\t': fputs(attribute ? "&#9;" : "\t", f); break;
        case '\r': fputs("&#13;", f); break;
        case AD_TEXT_BAD: ad_utf8_put(f, 0xFFFD); break;
        default: ad_utf8_put(f, c);
        }
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

/* One line of TAP text: no line break or other control character (a space
 * for each: a newline would end the line), no '#' (it starts a directive),
 * U+FFFD for what ad_text_next finds bad. */
static void tap_text(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        int n = 1;
        uint32_t c = *s < 0x20 || *s == 0x7F || *s == '#' ? ' ' : ad_text_next(s, &n);
        ad_utf8_put(f, c == AD_TEXT_BAD ? 0xFFFD : c);
        s += n;
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

/* A YAML double-quoted scalar: \" \\ \n \t escapes, \xHH for the other
 * C0 and C1 controls and DEL (YAML's printable set leaves them out), and
 * \uFFFD, visibly, for what ad_text_next finds bad (YAML excludes U+FFFE and
 * U+FFFF as XML does). */
void ad_tap_yaml_string(FILE *f, const char *key, const char *value)
{
    fprintf(f, "  %s: \"", key);
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    while (*s) {
        int n;
        uint32_t c = ad_text_next(s, &n);
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if (*s == '\n') fputs("\\n", f);
        else if (*s == '\t') fputs("\\t", f);
        else if (*s < 0x20 || (c >= 0x7F && c <= 0x9F)) fprintf(f, "\\x%02X", *s < 0x20 ? *s : (unsigned)c);
        else if (c == AD_TEXT_BAD) fputs("\\uFFFD", f);
        else ad_utf8_put(f, c);
        s += n;
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
