/* ad_report.h: test reports for CI, written one way for every command.
 *
 * JUnit XML valid against the Jenkins xUnit plugin's junit-10.xsd (vendored
 * in tests/, checked with xmllint in the suite): <testsuites> holding one
 * <testsuite> with tests, failures, errors and skipped counted here from the
 * cases, so the counts cannot disagree with the cases.
 *
 * TAP version 13 (what Debian's `prove` and meson read): a plan, one line
 * per test, and a YAML block of diagnostics under a test where wanted,
 * with NaN and infinities as YAML's .nan, .inf and -.inf.
 *
 * Text is made safe on the way out: XML escapes, bytes that are not UTF-8
 * or are control characters replaced (compiler output in a grader's report
 * can hold anything), '#' out of TAP descriptions (it starts a directive).
 *
 * Internal to the project's commands (static library ad_tools, not
 * installed). */
#ifndef AD_REPORT_H
#define AD_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- JUnit ---- */

typedef enum ad_junit_outcome {
    AD_JUNIT_PASS,
    AD_JUNIT_FAILURE,   /* the test ran and its check failed */
    AD_JUNIT_ERROR,     /* the test could not run (crash, timeout, bad setup) */
    AD_JUNIT_SKIPPED
} ad_junit_outcome;

typedef struct ad_junit_case {
    const char *classname;   /* "gradcheck.conv2d"; may be NULL */
    const char *name;        /* required */
    double seconds;          /* negative or NaN is written as 0 */
    ad_junit_outcome outcome;
    const char *type;        /* failure/error type, "GradientMismatch"; may be NULL */
    const char *message;     /* one line: the message attribute; may be NULL */
    const char *details;     /* longer text inside the element; may be NULL */
    const char *output;      /* <system-out>; may be NULL */
} ad_junit_case;

/* The whole document: <testsuites name=suite> with one <testsuite>. */
void ad_junit_write(FILE *f, const char *suite, const ad_junit_case *cases, int n);

/* ---- TAP 13 ---- */

/* "TAP version 13" and the plan "1..n". */
void ad_tap_begin(FILE *f, int n);
/* "ok 3 - name" / "not ok 3 - name"; directive (may be NULL): "SKIP why" or "TODO why". */
void ad_tap_result(FILE *f, int number, bool ok, const char *name, const char *directive);
/* A YAML diagnostics block under the last result. */
void ad_tap_yaml_begin(FILE *f);
void ad_tap_yaml_string(FILE *f, const char *key, const char *value);
void ad_tap_yaml_number(FILE *f, const char *key, double value);   /* .nan, .inf, -.inf for those */
void ad_tap_yaml_end(FILE *f);
/* "# text" */
void ad_tap_comment(FILE *f, const char *text);

/* ---- shared by both ---- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if s does not start one. */
int ad_utf8_sequence(const unsigned char *s);

#ifdef __cplusplus
}
#endif
#endif
