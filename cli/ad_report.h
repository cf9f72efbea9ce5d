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
 * Text is made safe on the way out (an op's name, a grader's compiler
 * output and a test's name can hold any bytes): every writer reads it
 * through ad_text_next, one strict UTF-8 decoder (RFC 3629) and one filter
 * (XML 1.0's Char production), and writes U+FFFD in place of each byte
 * that does not start a well-formed sequence and of each character XML 1.0
 * forbids (U+FFFE, U+FFFF, C0 controls): visible, and valid in both
 * formats. In YAML strings the replacement is the escape \uFFFD and control
 * characters are \xHH escapes; in TAP lines a control character is a space
 * and '#' too (it starts a directive); in XML, markup characters are escaped.
 *
 * Internal to the project's commands (static library ad_tools, not
 * installed). */
#ifndef AD_REPORT_H
#define AD_REPORT_H

#include <stdbool.h>
#include <stdint.h>
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

/* The length (1-4) of the well-formed UTF-8 sequence at s, its code point
 * into *cp (cp may be NULL); 0 where s does not start one: a continuation
 * byte, an overlong form (C0, C1, E0 80..9F, F0 80..8F), a surrogate
 * (ED A0..BF), a code point past U+10FFFF (F4 90.., F5..FF), a sequence cut
 * short (reads no byte past a NUL). The only UTF-8 decoder in the commands. */
int ad_utf8_decode(const unsigned char *s, uint32_t *cp);

/* Is c a character XML 1.0 allows (its Char production: #x9 | #xA | #xD |
 * [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF])? */
bool ad_xml_char(uint32_t c);

/* What ad_text_next returns for a bad character; no code point has it. */
#define AD_TEXT_BAD UINT32_C(0xFFFFFFFF)

/* The character of text at s (not at its NUL), *len its bytes: its code
 * point, or AD_TEXT_BAD when s does not start a well-formed sequence (then
 * *len is 1: the next byte starts afresh) or the character fails
 * ad_xml_char. */
uint32_t ad_text_next(const unsigned char *s, int *len);

/* In place, for text that goes out through a writer that does not check it
 * (cJSON, plain text): '?' for every byte of what ad_text_next finds bad,
 * newline and tab kept. The length stays, so it works in fixed buffers. */
void ad_text_sanitize(char *s);

/* Write code point c (at most U+10FFFF) as UTF-8. */
void ad_utf8_put(FILE *f, uint32_t c);

#ifdef __cplusplus
}
#endif
#endif
